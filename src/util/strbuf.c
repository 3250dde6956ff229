/* strbuf.c - see include/lorafit/util/strbuf.h */
#include "lorafit/util/strbuf.h"

#include <stdlib.h>
#include <string.h>

bool strbuf_append(StrBuf *b, const void *bytes, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = 2 * (b->len + n + 1) + 64;
        char *grown = realloc(b->bytes, cap);
        if (!grown) return false;
        b->bytes = grown;
        b->cap = cap;
    }
    memcpy(b->bytes + b->len, bytes, n);
    b->len += n;
    b->bytes[b->len] = '\0';
    return true;
}

void strbuf_truncate(StrBuf *b, size_t len) {
    if (!b->bytes || len > b->len) return;
    b->len = len;
    b->bytes[len] = '\0';
}

void strbuf_free(StrBuf *b) {
    free(b->bytes);
    memset(b, 0, sizeof *b);
}
