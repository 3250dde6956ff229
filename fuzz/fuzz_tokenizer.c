/* fuzz_tokenizer.c - libFuzzer target for the GPT-2 tokenizer.
 *
 * The first input byte picks the special-token policy, the rest is the text,
 * any bytes at all. Checked for every input: no crash or sanitizer report;
 * a rejected special token is reported exactly when the text contains one;
 * every id is in the vocabulary; encoding twice (the second time through
 * the word cache) gives the same ids; decode(encode(x)) == x.
 *
 *   CC=clang cmake -S . -B build-fuzz -DLORAFIT_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
 *   cmake --build build-fuzz --target fuzz_tokenizer
 *   mkdir -p /tmp/fuzz-tok && ./build-fuzz/fuzz/fuzz_tokenizer -max_total_time=600 /tmp/fuzz-tok
 *
 * The vocabulary comes from data/gpt2 in the source tree, or from the
 * directory in $LORAFIT_VOCAB_DIR. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_vocab.h"
#include "lorafit/data/tokenizer.h"

/* libFuzzer calls the target with no context pointer, so the tokenizer,
 * loaded once, has to live in a static. */
static Tokenizer *tok;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    tok = fuzz_load_vocab("fuzz_tokenizer");
    return 0;
}

static bool contains_special(const char *s, size_t n) {
    const size_t k = sizeof TOK_EOT_TEXT - 1;
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(s + i, TOK_EOT_TEXT, k) == 0) return true;
    return false;
}

#define REQUIRE(cond)                                                             \
    do {                                                                          \
        if (!(cond)) {                                                            \
            fprintf(stderr, "fuzz_tokenizer: %s failed (line %d)\n", #cond, __LINE__); \
            abort();                                                              \
        }                                                                         \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    TokSpecial special = (TokSpecial)(data[0] % 3);
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    bool has_special = contains_special(text, len);

    TokIds ids = {0}, again = {0};
    TokEncodeInfo info;
    LfError err = {0};
    bool ok = tok_encode(tok, text, len, special, &ids, &info, &err);
    REQUIRE(ok == !(special == TOK_SPECIAL_REJECT && has_special));
    if (!ok) {
        REQUIRE(err.kind == LF_ERR_INPUT);
        tok_ids_free(&ids);
        return 0;
    }
    REQUIRE(info.n_invalid <= len && (info.n_invalid == 0 || info.first_invalid < len));
    for (size_t i = 0; i < ids.n; i++) {
        REQUIRE(ids.ids[i] >= 0 && ids.ids[i] < TOK_GPT2_VOCAB_SIZE);
        REQUIRE(ids.ids[i] != TOK_EOT || special == TOK_SPECIAL_ALLOW);
    }
    REQUIRE(tok_encode(tok, text, len, special, &again, NULL, &err));
    REQUIRE(again.n == ids.n && (ids.n == 0 || memcmp(again.ids, ids.ids, ids.n * sizeof *ids.ids) == 0));

    size_t back_len;
    char *back = tok_decode(tok, ids.ids, ids.n, &back_len, &err);
    REQUIRE(back != NULL);
    REQUIRE(back_len == len && (len == 0 || memcmp(back, text, len) == 0));
    free(back);
    tok_ids_free(&ids);
    tok_ids_free(&again);
    return 0;
}
