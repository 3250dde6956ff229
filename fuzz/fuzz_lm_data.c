/* fuzz_lm_data.c - libFuzzer target for the language-model readers
 * (lm_data.h: SQuAD, Alpaca, prompt/completion, text; json_text.h), their
 * encoding (lm_encode.h) and SQuAD's normalisation (squad_eval.h).
 *
 * The first input byte picks what to exercise; the rest is the file:
 *   bits 0-1  the file name's extension: .json, .jsonl, .txt, none
 *   bit 2     also encode the records (max_length from bits 3-7: 2..33,
 *             mask_prompt and the long-prompt policy from bit 3 and bit 4)
 *   0xFF      SQuAD scoring instead: the rest, split at its first NUL, is a
 *             prediction and a gold answer
 * Checked for every input: no crash or sanitizer report; a failure says why
 * and is an input error; records are complete (SQuAD's have an id and gold
 * answers); encoded sequences fit max_length, end in <|endoftext|> and keep
 * prompt_length < length; normalising twice changes nothing; a text's exact
 * match with itself is 1 and F1s are within [0, 1].
 *
 *   CC=clang cmake -S . -B build-fuzz -DLORAFIT_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
 *   cmake --build build-fuzz --target fuzz_lm_data
 *   mkdir -p /tmp/fuzz-lm && ./build-fuzz/fuzz/fuzz_lm_data -max_total_time=600 /tmp/fuzz-lm tests/fixtures/lm
 *
 * The vocabulary comes from data/gpt2 in the source tree, or from the
 * directory in $LORAFIT_VOCAB_DIR. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/data/lm_data.h"
#include "lorafit/data/lm_encode.h"
#include "lorafit/data/squad_eval.h"
#include "fuzz_vocab.h"

#define REQUIRE(cond)                                                             \
    do {                                                                          \
        if (!(cond)) {                                                            \
            fprintf(stderr, "fuzz_lm_data: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                              \
        }                                                                         \
    } while (0)

/* libFuzzer calls the target with no context pointer, so the tokenizer,
 * loaded once, has to live in a static. */
static Tokenizer *tok;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    tok = fuzz_load_vocab("fuzz_lm_data");
    return 0;
}

static void check_encoded(const TokenSet *ts, const LmData *d, int max_length) {
    REQUIRE(ts->n > 0 && ts->labels == NULL && ts->prompt_length);
    REQUIRE(d->kind == LM_KIND_TEXT || ts->n == d->n);
    for (size_t i = 0; i < ts->n; i++) {
        int len = ts->length[i];
        REQUIRE(len >= 2 && len <= max_length && len <= ts->full_length[i]);
        REQUIRE(ts->offset[i + 1] - ts->offset[i] == (size_t)len);
        REQUIRE(ts->prompt_length[i] >= 0 && ts->prompt_length[i] < len);
        if (d->kind != LM_KIND_TEXT) REQUIRE(ts->tokens[ts->offset[i] + (size_t)len - 1] == TOK_EOT);
        for (int k = 0; k < len; k++) REQUIRE(ts->tokens[ts->offset[i] + (size_t)k] < TOK_GPT2_VOCAB_SIZE);
    }
}

static void read_file(const uint8_t *data, size_t size, uint8_t mode) {
    static const char *const names[] = {"fuzz.json", "fuzz.jsonl", "fuzz.txt", "fuzz"};
    char *text = malloc(size + 1); /* NUL-terminated, as fs_read_file gives it */
    REQUIRE(text);
    memcpy(text, data, size);
    text[size] = '\0';
    LfError err = {0};
    LmData *d = lm_data_load_memory(text, size, names[mode & 3], &err);
    if (!d) {
        REQUIRE(err.msg[0] && err.kind == LF_ERR_INPUT);
        free(text);
        return;
    }
    REQUIRE(d->n > 0);
    for (size_t i = 0; i < d->n; i++) {
        const LmRecord *r = &d->records[i];
        REQUIRE(r->prompt && r->completion && r->line >= 1 && r->column >= 0);
        if (d->kind == LM_KIND_SQUAD) REQUIRE(r->id && r->n_answers >= 1 && r->answers[0]);
        else REQUIRE(!r->id && !r->answers);
    }
    if (mode & 4) {
        int max_length = 2 + (mode >> 3);
        LmEncodeOptions opt = {max_length, (mode & 8) != 0, (mode & 16) ? LM_LONG_PROMPT_ERROR : LM_LONG_PROMPT_CUT_LEFT};
        TokenSet ts;
        if (lm_encode(&ts, tok, d, &opt, &err)) {
            check_encoded(&ts, d, max_length);
            tokenset_free(&ts);
        } else {
            REQUIRE(err.msg[0] && err.kind == LF_ERR_INPUT);
        }
    }
    lm_data_free(d);
    free(text);
}

static void score(const uint8_t *data, size_t size) {
    char *text = malloc(size + 2);
    REQUIRE(text);
    memcpy(text, data, size);
    text[size] = text[size + 1] = '\0';
    const char *pred = text, *gold = text + strlen(text) + (strlen(text) < size ? 1 : 0);
    char *once = squad_normalize(pred), *twice = once ? squad_normalize(once) : NULL;
    REQUIRE(once && twice && strcmp(once, twice) == 0);
    const char *golds[] = {gold, pred};
    REQUIRE(squad_exact_match(pred, golds + 1, 1) == 1);
    REQUIRE(squad_f1(pred, golds + 1, 1) == (once[0] ? 1 : 0));
    double f1 = squad_f1(pred, golds, 1), em = squad_exact_match(pred, golds, 1);
    REQUIRE(f1 >= 0 && f1 <= 1 && (em == 0 || em == 1));
    free(once);
    free(twice);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    uint8_t mode = data[0];
    if (mode == 0xFF) score(data + 1, size - 1);
    else read_file(data + 1, size - 1, mode);
    return 0;
}
