/* utf8.c - see include/lorafit/util/utf8.h */
#include "lorafit/util/utf8.h"

size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp) {
    if (len == 0) return 0;
    unsigned char b = s[0];
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    size_t n;
    uint32_t c, min;
    if (b >= 0xC2 && b <= 0xDF) n = 2, c = b & 0x1F, min = 0x80;
    else if (b >= 0xE0 && b <= 0xEF) n = 3, c = b & 0x0F, min = 0x800;
    else if (b >= 0xF0 && b <= 0xF4) n = 4, c = b & 0x07, min = 0x10000;
    else return 0; /* a continuation byte, an overlong lead (C0, C1) or F5..FF */
    if (len < n) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    *cp = c;
    return n;
}

bool utf8_valid(const void *s, size_t len) {
    const unsigned char *p = s;
    while (len > 0) {
        if (*p < 0x80) { /* ASCII, most of any text, needs no decoding */
            p++, len--;
            continue;
        }
        uint32_t cp;
        size_t n = utf8_decode(p, len, &cp);
        if (n == 0) return false;
        p += n, len -= n;
    }
    return true;
}

size_t utf8_whole_prefix(const void *s, size_t len) {
    const unsigned char *p = s;
    /* the last byte that is not a continuation, within a character's reach */
    for (size_t back = 1; back <= 3 && back <= len; back++) {
        unsigned char b = p[len - back];
        if ((b & 0xC0) == 0x80) continue;
        size_t need = b >= 0xC2 && b <= 0xDF ? 2 : b >= 0xE0 && b <= 0xEF ? 3 : b >= 0xF0 && b <= 0xF4 ? 4 : 1;
        return need > back ? len - back : len;
    }
    return len;
}
