/* tokenizer_split.c - GPT-2's pre-tokenizer, the regex
 *
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *
 * written out by hand over code points. Alternatives are tried in order at
 * the start of each piece, as a backtracking regex engine would; only the
 * whitespace rule needs care (see split_space). No regex library: the pattern
 * is small, and doing it by hand makes every rule visible and fast.
 */
#include <utf8proc.h>

#include "lorafit/data/tokenizer.h"
#include "lorafit/util/utf8.h"

/* How the pattern sees a code point. The space U+0020 and the apostrophe are
 * also tested by value, because the pattern names them literally. */
typedef enum { CLS_END, CLS_LETTER, CLS_NUMBER, CLS_SPACE, CLS_OTHER } CharClass;

/* The Unicode White_Space property, which is what \s means in tiktoken's
 * regex engine (Rust's regex crate). It is not the same as C's isspace() or
 * Python's str.isspace(): U+001C..U+001F are not in it, U+0085 and U+00A0
 * are. The set has not changed since Unicode 6.3 dropped U+180E. */
static bool is_white_space(uint32_t c) {
    if (c <= 0x20) return c == 0x20 || (c >= 0x09 && c <= 0x0D);
    if (c < 0x85) return false;
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
           c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

static CharClass classify(uint32_t c) {
    if (is_white_space(c)) return CLS_SPACE;
    switch (utf8proc_category((utf8proc_int32_t)c)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
        return CLS_LETTER;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        return CLS_NUMBER;
    default:
        return CLS_OTHER;
    }
}

/* The class of the code point at s[pos] and its length in *n. An invalid
 * byte reads as the end of the text: the caller encodes the text after it
 * separately (see tokenizer.h). ASCII, most of any text, skips utf8proc. */
static CharClass class_at(const unsigned char *s, size_t len, size_t pos, size_t *n) {
    if (pos >= len) return CLS_END;
    unsigned char b = s[pos];
    if (b < 0x80) {
        *n = 1;
        if ((b | 0x20) >= 'a' && (b | 0x20) <= 'z') return CLS_LETTER;
        if (b >= '0' && b <= '9') return CLS_NUMBER;
        if (b == ' ' || (b >= 0x09 && b <= 0x0D)) return CLS_SPACE;
        return CLS_OTHER;
    }
    uint32_t c;
    *n = utf8_decode(s + pos, len - pos, &c);
    return *n ? classify(c) : CLS_END;
}

/* The end of the run of code points of class `cls` starting at pos. */
static size_t run_of(const unsigned char *s, size_t len, size_t pos, CharClass cls) {
    size_t n;
    while (class_at(s, len, pos, &n) == cls) pos += n;
    return pos;
}

/* 's 't 're 've 'm 'll 'd, case-sensitive as in the pattern: the length of
 * the contraction at s[pos] (which is an apostrophe), or 0. */
static size_t contraction_at(const unsigned char *s, size_t len, size_t pos) {
    size_t left = len - pos;
    if (left >= 2) {
        unsigned char a = s[pos + 1];
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    }
    if (left >= 3) {
        unsigned char a = s[pos + 1], b = s[pos + 2];
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    }
    return 0;
}

/* \s+(?!\S)|\s+ at pos. The greedy run backs off by one code point when a
 * non-space follows, so that the last space can start the next piece
 * (" word"). A single space before a non-space fails the lookahead and the
 * plain \s+ takes it. At the end of the text the whole run is taken. */
static size_t split_space(const unsigned char *s, size_t len, size_t pos) {
    size_t last = pos, end = pos, n;
    while (class_at(s, len, end, &n) == CLS_SPACE) {
        last = end;
        end += n;
    }
    bool at_end = class_at(s, len, end, &n) == CLS_END;
    if (at_end || last == pos) return end;
    return last;
}

size_t tok_split_next(const char *text, size_t len, size_t pos) {
    const unsigned char *s = (const unsigned char *)text;
    size_t n;
    CharClass cls = class_at(s, len, pos, &n);
    if (cls == CLS_END) return pos;
    if (s[pos] == '\'') {
        size_t k = contraction_at(s, len, pos);
        if (k) return pos + k;
    }
    if (s[pos] == ' ') {
        /* " ?\p{L}+" and friends: a space joins the run that follows it. */
        size_t m;
        CharClass next = class_at(s, len, pos + 1, &m);
        if (next == CLS_LETTER || next == CLS_NUMBER || next == CLS_OTHER)
            return run_of(s, len, pos + 1, next);
    }
    if (cls == CLS_SPACE) return split_space(s, len, pos);
    return run_of(s, len, pos + n, cls);
}
