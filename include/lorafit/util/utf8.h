/* utf8.h - UTF-8 as the Unicode standard defines it: no overlong forms, no
 * surrogates (U+D800..U+DFFF), nothing above U+10FFFF. The one decoder and
 * validity check for the CSV reader, the safetensors header, the tokenizer
 * and `tokenize`. */
#ifndef LORAFIT_UTF8_H
#define LORAFIT_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes the code point at s (len bytes available) into *cp and returns
 * its length in bytes, 1 to 4; 0 when s does not start with a valid one. */
size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp);

/* Whether all len bytes of s are valid UTF-8. */
bool utf8_valid(const void *s, size_t len);

/* How many of the len bytes of s to pass on while more may follow: all but
 * a trailing lead byte and its continuation bytes that do not yet make its
 * whole character (a stream of text cut between two tokens). Bytes that no
 * continuation could make valid are not held back. */
size_t utf8_whole_prefix(const void *s, size_t len);

#endif
