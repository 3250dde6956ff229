/* strbuf.h - a growable byte string, always NUL-terminated once anything
 * was appended (bytes is NULL before). It may hold NULs and invalid UTF-8
 * (generated text: a token can hold part of a character). Zero-initialise
 * it; release with strbuf_free(). */
#ifndef LORAFIT_STRBUF_H
#define LORAFIT_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char *bytes;
    size_t len, cap;
} StrBuf;

/* Appends n bytes; false when out of memory (b unchanged). */
bool strbuf_append(StrBuf *b, const void *bytes, size_t n);
/* Cuts b to its first len bytes (len <= b->len). */
void strbuf_truncate(StrBuf *b, size_t len);
void strbuf_free(StrBuf *b);

#endif
