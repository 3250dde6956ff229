/* test_tokenizer_sms.c - every message of the SMS Spam Collection, id for
 * id as tiktoken encodes it.
 *
 * The data set is data/sms_spam/SMSSpamCollection; its ids are not kept,
 * which would be a second copy of it: tests/fixtures/tokenizer/sms_digests.tsv
 * holds, per message, the id count and FNV-1a digests of tiktoken's ids and
 * of the message text (made by scripts/tokenizer-ref/make-fixture.mjs).
 * Skips when a checkout lacks the data file. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lorafit/util/files.h"
#include "lorafit/data/tokenizer.h"

enum { PATH_CAP = 4096 };

/* 64-bit FNV-1a, the digest make-fixture.mjs writes. */
static uint64_t fnv1a(const void *data, size_t n) {
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

/* Ids are hashed as uint32 little-endian, whatever the machine. */
static uint64_t fnv1a_ids(const TokIds *ids) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < ids->n; i++)
        for (int k = 0; k < 4; k++) h = (h ^ (((uint32_t)ids->ids[i] >> (8 * k)) & 0xff)) * 0x100000001b3ULL;
    return h;
}

/* Encodes text and compares with a digest record; true if it matched. */
static bool check_one(Tokenizer *t, const char *what, const char *text, size_t len, size_t want_n,
                      uint64_t want_ids, uint64_t want_text, TokIds *ids) {
    if (fnv1a(text, len) != want_text) {
        CHECK(0, "%s: the text differs from the one the fixture was made from (a different SMSSpamCollection?)",
              what);
        return false;
    }
    ids->n = 0;
    LfError err = {0};
    bool ok = tok_encode(t, text, len, TOK_SPECIAL_REJECT, ids, NULL, &err);
    CHECK(ok, "%s: %s", what, err.msg);
    bool same = ok && ids->n == want_n && fnv1a_ids(ids) == want_ids;
    CHECK(same, "%s: %zu ids, tiktoken has %zu; digests %016" PRIx64 " vs %016" PRIx64 " (text \"%.60s\")", what,
          ids->n, want_n, fnv1a_ids(ids), want_ids, text);
    size_t back_len;
    char *back = tok_decode(t, ids->ids, ids->n, &back_len, &err);
    CHECK(back && back_len == len && memcmp(back, text, len) == 0, "%s: decode(encode(x)) != x", what);
    free(back);
    return same;
}

int main(void) {
    char sms_path[PATH_CAP], digest_path[PATH_CAP], vocab_dir[PATH_CAP];
    check_sms_path(sms_path, sizeof sms_path);
    check_source_path(digest_path, sizeof digest_path, "tests/fixtures/tokenizer/sms_digests.tsv");
    check_source_path(vocab_dir, sizeof vocab_dir, "data/gpt2");

    size_t sms_len;
    char *sms = fs_read_file(sms_path, &sms_len, NULL);
    REQUIRE(sms != NULL, "cannot read %s", sms_path);
    char *digests = fs_read_file(digest_path, &(size_t){0}, NULL);
    REQUIRE(digests != NULL, "cannot read %s", digest_path);
    LfError err = {0};
    Tokenizer *t = tok_load_dir(vocab_dir, &err);
    REQUIRE(t != NULL, "%s", err.msg);

    /* The messages, in place: line i's text runs from after its first tab to its newline. */
    size_t n_lines = 0, cap = 8192;
    char **msg = malloc(cap * sizeof *msg);
    size_t *msg_len = malloc(cap * sizeof *msg_len);
    for (char *line = sms; line < sms + sms_len && n_lines < cap; n_lines++) {
        char *eol = memchr(line, '\n', (size_t)(sms + sms_len - line));
        if (!eol) eol = sms + sms_len;
        char *tab = memchr(line, '\t', (size_t)(eol - line));
        msg[n_lines] = tab ? tab + 1 : line;
        msg_len[n_lines] = (size_t)(eol - msg[n_lines]);
        line = eol + 1;
    }

    TokIds ids = {0};
    size_t n_checked = 0, n_matched = 0;
    for (char *rec = strtok(digests, "\n"); rec; rec = strtok(NULL, "\n")) {
        char kind[16];
        size_t a, n;
        uint64_t want_ids, want_text;
        if (rec[0] == '#') continue;
        if (sscanf(rec, "%15s %zu %zu %" SCNx64 " %" SCNx64, kind, &a, &n, &want_ids, &want_text) != 5) {
            CHECK(0, "%s: malformed record \"%.60s\"", digest_path, rec);
            continue;
        }
        if (strcmp(kind, "sms") == 0) {
            CHECK(a >= 1 && a <= n_lines, "%s: line %zu is past the end of %s", digest_path, a, sms_path);
            if (a < 1 || a > n_lines) continue;
            char what[64];
            snprintf(what, sizeof what, "SMSSpamCollection:%zu", a);
            n_matched += check_one(t, what, msg[a - 1], msg_len[a - 1], n, want_ids, want_text, &ids);
            n_checked++;
        } else if (strcmp(kind, "joined") == 0) {
            /* All messages joined with "\n": one long text through the same path. */
            CHECK(a == n_lines, "%zu messages in the fixture, %zu in %s", a, n_lines, sms_path);
            size_t total = 0;
            for (size_t i = 0; i < n_lines; i++) total += msg_len[i] + 1;
            char *joined = malloc(total + 1), *p = joined;
            for (size_t i = 0; i < n_lines; i++) {
                memcpy(p, msg[i], msg_len[i]);
                p += msg_len[i];
                if (i + 1 < n_lines) *p++ = '\n';
            }
            check_one(t, "all messages joined", joined, (size_t)(p - joined), n, want_ids, want_text, &ids);
            free(joined);
        } else {
            CHECK(0, "%s: unknown record kind %s", digest_path, kind);
        }
    }
    printf("%zu of %zu SMS messages match tiktoken id for id\n", n_matched, n_checked);
    CHECK(n_checked == n_lines && n_checked > 5000, "checked %zu messages of %zu", n_checked, n_lines);

    tok_ids_free(&ids);
    free(msg);
    free(msg_len);
    free(digests);
    free(sms);
    tok_free(t);
    return check_done();
}
