/* test_tokenizer.c - the tokenizer against tiktoken's golden ids.
 *
 * tests/fixtures/tokenizer/gpt2_cases.tsv comes from the npm tiktoken package
 * (scripts/tokenizer-ref/make-fixture.mjs): every case in each special-token
 * mode, with the ids tiktoken returned. Here each must come out id for id,
 * and decode back to the same bytes. Then the parts tiktoken cannot judge:
 * loading the Hugging Face file names, load errors, decode errors. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "lorafit/util/files.h"
#include "lorafit/data/tokenizer.h"

static const char *const MODE_NAMES[] = {"reject", "allow", "text"};

static bool write_all(const char *path, const char *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return false;
    bool ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

enum { PATH_CAP = 4096 };

/* "a/b" into out[PATH_CAP]. */
static void join_path(char *out, const char *a, const char *b) {
    int n = snprintf(out, PATH_CAP, "%s/%s", a, b);
    CHECK(n > 0 && n < PATH_CAP, "path too long: %s/%s", a, b);
}

static bool copy_file(const char *from, const char *to) {
    size_t len;
    char *data = fs_read_file(from, &len, NULL);
    bool ok = data && write_all(to, data, len);
    free(data);
    return ok;
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Hex text into a new buffer; *len its length. */
static char *unhex(const char *hex, size_t *len) {
    size_t n = strlen(hex) / 2;
    char *out = malloc(n + 1);
    for (size_t i = 0; i < n; i++) out[i] = (char)(hex_value(hex[2 * i]) * 16 + hex_value(hex[2 * i + 1]));
    out[n] = '\0';
    *len = n;
    return out;
}

/* Space-separated ids into *ids (reset first). */
static void parse_ids(const char *s, TokIds *ids) {
    ids->n = 0;
    char *end;
    for (long v = strtol(s, &end, 10); end != s; v = strtol(s, &end, 10)) {
        int32_t id = (int32_t)v;
        if (ids->n == ids->cap) {
            ids->cap = ids->cap ? 2 * ids->cap : 64;
            ids->ids = realloc(ids->ids, ids->cap * sizeof *ids->ids);
        }
        ids->ids[ids->n++] = id;
        s = end;
    }
}

/* Reports where two id sequences part, with the tokens on either side. */
static void report_mismatch(const Tokenizer *t, const char *name, const char *mode, const TokIds *got,
                            const TokIds *want) {
    size_t i = 0;
    while (i < got->n && i < want->n && got->ids[i] == want->ids[i]) i++;
    fprintf(stderr, "FAIL case %s (%s): %zu ids, tiktoken has %zu; first difference at index %zu:", name,
            mode, got->n, want->n, i);
    for (int side = 0; side < 2; side++) {
        const TokIds *v = side ? want : got;
        fprintf(stderr, "\n  %s:", side ? "want" : "got ");
        for (size_t k = i > 2 ? i - 2 : 0; k < v->n && k < i + 4; k++) {
            size_t n;
            const char *b = tok_token_bytes(t, v->ids[k], &n);
            fprintf(stderr, " %d\"%.*s\"", v->ids[k], b ? (int)n : 0, b ? b : "");
        }
    }
    fputc('\n', stderr);
}

/* One fixture record: case NAME MODE N_INVALID FIRST_INVALID HEX IDS|error. */
static void check_case(Tokenizer *t, char **f) {
    const char *name = f[1];
    int mode = -1;
    for (int m = 0; m < 3; m++)
        if (strcmp(f[2], MODE_NAMES[m]) == 0) mode = m;
    CHECK(mode >= 0, "case %s: unknown mode %s", name, f[2]);
    if (mode < 0) return;
    size_t len;
    char *text = unhex(f[5], &len);
    bool want_error = strcmp(f[6], "error") == 0;
    TokIds got = {0}, want = {0};
    if (!want_error) parse_ids(f[6], &want);
    /* Twice: the second time the cache answers for the repeated words. */
    for (int pass = 0; pass < 2; pass++) {
        got.n = 0;
        TokEncodeInfo info;
        LfError err = {0};
        bool ok = tok_encode(t, text, len, (TokSpecial)mode, &got, &info, &err);
        if (want_error) {
            CHECK(!ok && err.kind == LF_ERR_INPUT && strstr(err.msg, "<|endoftext|>"),
                  "case %s (%s): want a special-token error, got ok=%d \"%s\"", name, f[2], ok, err.msg);
            continue;
        }
        CHECK(ok, "case %s (%s): %s", name, f[2], err.msg);
        bool same = got.n == want.n && (got.n == 0 || memcmp(got.ids, want.ids, got.n * sizeof *got.ids) == 0);
        if (!same) report_mismatch(t, name, f[2], &got, &want);
        CHECK(same, "case %s (%s, pass %d): ids differ from tiktoken's", name, f[2], pass + 1);
        CHECK(info.n_invalid == strtoul(f[3], NULL, 10) && info.first_invalid == strtoul(f[4], NULL, 10),
              "case %s (%s): %zu invalid bytes from offset %zu, want %s from %s", name, f[2], info.n_invalid,
              info.first_invalid, f[3], f[4]);
        size_t back_len;
        char *back = tok_decode(t, got.ids, got.n, &back_len, &err);
        CHECK(back && back_len == len && memcmp(back, text, len) == 0, "case %s (%s): decode(encode(x)) != x",
              name, f[2]);
        free(back);
    }
    tok_ids_free(&got);
    tok_ids_free(&want);
    free(text);
}

/* byte VALUE ID: the single-byte token, which pins the byte <-> unicode table. */
static void check_byte(Tokenizer *t, char **f) {
    int b = atoi(f[1]);
    int32_t id = (int32_t)atol(f[2]);
    size_t n;
    const char *bytes = tok_token_bytes(t, id, &n);
    CHECK(bytes && n == 1 && (unsigned char)bytes[0] == b, "byte 0x%02x: token %d is not that byte", b, id);
}

static int run_fixture(Tokenizer *t, const char *path) {
    char *data = fs_read_file(path, &(size_t){0}, NULL);
    CHECK(data != NULL, "cannot read %s", path);
    if (!data) return 0;
    int n_cases = 0;
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#') continue;
        char *f[8] = {0};
        int nf = 0;
        for (char *p = line; nf < 8; nf++) {
            f[nf] = p;
            p = strchr(p, '\t');
            if (!p) {
                nf++;
                break;
            }
            *p++ = '\0';
        }
        if (strcmp(f[0], "case") == 0 && nf == 7) {
            check_case(t, f);
            n_cases++;
        } else if (strcmp(f[0], "byte") == 0 && nf == 3) {
            check_byte(t, f);
        } else {
            CHECK(0, "%s: malformed record starting \"%.40s\"", path, f[0]);
        }
    }
    free(data);
    return n_cases;
}

static void encode_str(Tokenizer *t, const char *s, TokIds *out) {
    out->n = 0;
    LfError err = {0};
    CHECK(tok_encode(t, s, strlen(s), TOK_SPECIAL_REJECT, out, NULL, &err), "encode \"%s\": %s", s, err.msg);
}

/* The Hugging Face spelling of the same files gives the same tokenizer. */
static void check_hf_names(Tokenizer *t, const char *src_dir, const char *tmp) {
    char dir[PATH_CAP], from[PATH_CAP], vocab[PATH_CAP], merges[PATH_CAP];
    join_path(dir, tmp, "tok-hf");
    mkdir(dir, 0755);
    join_path(vocab, dir, "vocab.json");
    join_path(merges, dir, "merges.txt");
    join_path(from, src_dir, "encoder.json");
    CHECK(copy_file(from, vocab), "cannot copy %s to %s", from, vocab);
    join_path(from, src_dir, "vocab.bpe");
    CHECK(copy_file(from, merges), "cannot copy %s to %s", from, merges);
    LfError err = {0};
    Tokenizer *hf = tok_load_dir(dir, &err);
    CHECK(hf != NULL, "Hugging Face names: %s", err.msg);
    if (!hf) return;
    const char *s = "Hugging Face's vocab.json + merges.txt, 123 \u00e9\u65e5";
    TokIds a = {0}, b = {0};
    encode_str(t, s, &a);
    encode_str(hf, s, &b);
    CHECK(a.n == b.n && a.n > 0 && memcmp(a.ids, b.ids, a.n * sizeof *a.ids) == 0,
          "vocab.json + merges.txt encode differently from encoder.json + vocab.bpe");
    tok_ids_free(&a);
    tok_ids_free(&b);
    tok_free(hf);
    remove(vocab);
    remove(merges);
    rmdir(dir);
}

/* A load error names the file and, for merges, the line. */
static void check_load_errors(const char *src_dir, const char *tmp) {
    LfError err = {0};
    CHECK(tok_load_dir("/nonexistent-vocab-dir", &err) == NULL && strstr(err.msg, "/nonexistent-vocab-dir") &&
              err.kind == LF_ERR_INPUT,
          "missing dir: \"%s\"", err.msg);
    CHECK(tok_load_default("/nonexistent-vocab-dir", NULL, &err) == NULL && strstr(err.msg, "/nonexistent-vocab-dir"),
          "--vocab must not fall back: \"%s\"", err.msg);

    char enc_path[PATH_CAP], bpe_path[PATH_CAP], bad[PATH_CAP];
    join_path(enc_path, src_dir, "encoder.json");
    join_path(bpe_path, src_dir, "vocab.bpe");
    join_path(bad, tmp, "tok-bad.json");
    CHECK(write_all(bad, "{\"a\": 0,", 8), "cannot write %s", bad);
    CHECK(tok_load(bad, bpe_path, &err) == NULL && strstr(err.msg, "tok-bad.json"), "bad JSON: \"%s\"", err.msg);
    CHECK(write_all(bad, "{\"a\": 0}", 8), "cannot write %s", bad);
    CHECK(tok_load(bad, bpe_path, &err) == NULL && strstr(err.msg, "50257"), "short vocab: \"%s\"", err.msg);
    remove(bad);

    /* Without --vocab, files next to the model come first: a broken pair there
     * is an error, not skipped for the good one in the source tree. */
    char model_dir[PATH_CAP], model_vocab[PATH_CAP], model_merges[PATH_CAP];
    join_path(model_dir, tmp, "tok-model");
    mkdir(model_dir, 0755);
    join_path(model_vocab, model_dir, "encoder.json");
    join_path(model_merges, model_dir, "vocab.bpe");
    CHECK(write_all(model_vocab, "{}", 2) && copy_file(bpe_path, model_merges), "cannot set up %s", model_dir);
    CHECK(tok_load_default(NULL, model_dir, &err) == NULL && strstr(err.msg, "tok-model/encoder.json"),
          "the vocabulary next to the model was not the one tried: \"%s\"", err.msg);
    Tokenizer *fallback = tok_load_default(NULL, "/nonexistent-model-dir", &err);
    CHECK(fallback != NULL, "a model dir without files falls back to the data dir: %s", err.msg);
    tok_free(fallback);
    remove(model_vocab);
    remove(model_merges);
    rmdir(model_dir);

    /* Swap merge lines 2 and 3 (file lines 3 and 4): ranks no longer match ids. */
    size_t len;
    char *merges = fs_read_file(bpe_path, &len, NULL);
    REQUIRE(merges != NULL, "cannot read %s", bpe_path);
    char *l2 = strchr(merges, '\n') + 1, *l3 = strchr(l2, '\n') + 1, *l4 = strchr(l3, '\n') + 1;
    char *l5 = strchr(l4, '\n') + 1;
    size_t n3 = (size_t)(l4 - l3), n4 = (size_t)(l5 - l4);
    char *swapped = malloc(len);
    memcpy(swapped, merges, (size_t)(l3 - merges));
    memcpy(swapped + (l3 - merges), l4, n4);
    memcpy(swapped + (l3 - merges) + n4, l3, n3);
    memcpy(swapped + (l5 - merges), l5, len - (size_t)(l5 - merges));
    join_path(bad, tmp, "tok-swapped.bpe");
    CHECK(write_all(bad, swapped, len), "cannot write %s", bad);
    CHECK(tok_load(enc_path, bad, &err) == NULL && strstr(err.msg, "tok-swapped.bpe:3:"),
          "swapped merges: \"%s\"", err.msg);
    remove(bad);
    free(swapped);
    free(merges);
}

/* Pieces of the pre-tokenizer, worked out by hand from the regex. */
static void check_split(void) {
    static const struct {
        const char *text;
        const char *pieces; /* separated by '|' */
    } cases[] = {
        {"Hello  world", "Hello| | world"},
        {"a \t b", "a| \t| b"},
        {"x   ", "x|   "},
        {"it's 'S I'M", "it|'s| '|S| I|'|M"},
        {"\n\nx", "\n|\n|x"},
        {"1 23!!  ?", "1| 23|!!| | ?"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *s = cases[c].text;
        char joined[128] = "";
        size_t len = strlen(s);
        for (size_t pos = 0; pos < len;) {
            size_t next = tok_split_next(s, len, pos);
            if (next <= pos) break;
            if (pos) strcat(joined, "|");
            strncat(joined, s + pos, next - pos);
            pos = next;
        }
        CHECK(strcmp(joined, cases[c].pieces) == 0,
              "split \"%s\": got \"%s\"", s, joined);
    }
}

static void check_decode_errors(Tokenizer *t) {
    LfError err = {0};
    int32_t ids[] = {15496, 50257, 995};
    CHECK(tok_decode(t, ids, 3, NULL, &err) == NULL && strstr(err.msg, "50257") && strstr(err.msg, "position 1"),
          "decode of an unknown id: \"%s\"", err.msg);
    int32_t eot[] = {TOK_EOT};
    size_t len;
    char *s = tok_decode(t, eot, 1, &len, &err);
    CHECK(s && strcmp(s, TOK_EOT_TEXT) == 0, "decode(TOK_EOT)");
    free(s);
    TokIds out = {0};
    CHECK(!tok_encode(t, "ab<|endoftext|>", 15, TOK_SPECIAL_REJECT, &out, NULL, &err) && strstr(err.msg, "byte 2"),
          "reject names the offset: \"%s\"", err.msg);
    tok_ids_free(&out);
}

int main(void) {
    const char *src = check_env("LORAFIT_SOURCE_DIR", ".");
    const char *tmp = check_env("LORAFIT_TMP", "/tmp");
    char vocab_dir[PATH_CAP], fixture[PATH_CAP];
    join_path(vocab_dir, src, "data/gpt2");
    join_path(fixture, src, "tests/fixtures/tokenizer/gpt2_cases.tsv");

    LfError err = {0};
    Tokenizer *t = tok_load_dir(vocab_dir, &err);
    CHECK(t != NULL, "load %s: %s", vocab_dir, err.msg);
    if (!t) return check_done();
    CHECK(tok_vocab_size(t) == TOK_GPT2_VOCAB_SIZE, "vocab size %d", tok_vocab_size(t));

    int n_cases = run_fixture(t, fixture);
    CHECK(n_cases >= 200, "only %d fixture cases", n_cases);
    printf("%d fixture cases\n", n_cases);

    check_split();
    check_decode_errors(t);
    check_hf_names(t, vocab_dir, tmp);
    check_load_errors(vocab_dir, tmp);

    Tokenizer *d = tok_load_default(NULL, NULL, &err);
    CHECK(d != NULL, "default vocabulary: %s", err.msg);
    tok_free(d);
    tok_free(t);
    return check_done();
}
