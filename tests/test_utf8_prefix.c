/* test_utf8_prefix.c - utf8_whole_prefix, what `generate` streams: a
 * character cut between two tokens is held back until it is whole;
 * anything no continuation could complete is passed on. */
#include <string.h>

#include "check.h"
#include "lorafit/util/utf8.h"

static size_t prefix(const char *s) { return utf8_whole_prefix(s, strlen(s)); }

int main(void) {
    CHECK(prefix("") == 0, "empty");
    CHECK(prefix("abc") == 3, "ASCII");
    CHECK(prefix("a\xc3\xa9") == 3, "a whole 2-byte character");
    CHECK(prefix("a\xc3") == 1, "a 2-byte lead alone is held back");
    CHECK(prefix("ab\xe2\x82") == 2, "2 of 3 bytes of the euro sign are held back");
    CHECK(prefix("ab\xe2\x82\xac") == 5, "the whole euro sign");
    CHECK(prefix("x\xf0\x9f\x98") == 1, "3 of 4 bytes of an emoji are held back");
    CHECK(prefix("x\xf0\x9f\x98\x80") == 5, "a whole emoji");
    CHECK(prefix("x\xf0") == 1, "a 4-byte lead alone is held back");
    CHECK(prefix("x\x80") == 2, "a stray continuation byte is passed on");
    CHECK(prefix("x\xff") == 2, "a byte that never starts a character is passed on");
    CHECK(prefix("x\xc0") == 2, "an overlong lead (C0) is passed on");
    CHECK(prefix("\x82\x82\x82") == 3, "continuations without a lead are passed on");
    return check_done();
}
