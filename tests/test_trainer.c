/* test_trainer.c - the training loop's guards and bookkeeping: a loss that
 * turns NaN stops training at that step without touching the parameters
 * (the classifier's and the causal LM's);
 * batches per epoch follow drop_last; epochs see permutations of the data. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lorafit/engine/gpt2.h"
#include "lorafit/engine/optim.h"
#include "lorafit/engine/random_weights.h"
#include "lorafit/engine/trainer.h"

#define N_TEXTS 12
#define POISON 77 /* a token id whose embedding row holds NaN */

/* 12 texts of 3..6 tokens; only text 9 contains POISON. */
static void make_set(TokenSet *ts, int *tokens, size_t *offset, int *len, int *full, int *labels) {
    memset(ts, 0, sizeof *ts);
    size_t o = 0;
    for (int i = 0; i < N_TEXTS; i++) {
        offset[i] = o;
        len[i] = full[i] = 3 + i % 4;
        for (int t = 0; t < len[i]; t++) tokens[o++] = 100 + 7 * i + t;
        labels[i] = i % 2;
    }
    offset[N_TEXTS] = o;
    tokens[offset[9] + 1] = POISON;
    ts->n = N_TEXTS;
    ts->tokens = tokens;
    ts->offset = offset;
    ts->length = len;
    ts->full_length = full;
    ts->labels = labels;
    ts->max_length = 6;
    ts->longest = 6;
}

int main(void) {
    Gpt2Config cfg = {2, 16, 2, 200, 16, true};
    LfError err = {0};
    Gpt2Weights *w = gpt2_weights_random(&cfg, 5, &err);
    REQUIRE(w != NULL, "random weights: %s", err.msg);
    for (int c = 0; c < cfg.n_embd; c++) ((float *)w->wte)[(size_t)POISON * cfg.n_embd + c] = NAN;

    LoraConfig lc = lora_config_default();
    LoraSlot slots[2] = {{"trf_blocks.0.att.W_query", 0, SITE_Q, 16, 16, 8, 16.0},
                         {"trf_blocks.1.ff.layers.0", 1, SITE_FC, 16, 64, 8, 16.0}};
    Gpt2Model m;
    REQUIRE(gpt2_build(&m, w, slots, 2, &lc, 2, 1, 6, 42, &err), "build: %s", err.msg);
    AdamW opt;
    REQUIRE(adamw_build(&opt, m.n_params, 1e-3f, 0.1f, &err), "adamw: %s", err.msg);

    int tokens[N_TEXTS * 6], len[N_TEXTS], full[N_TEXTS], labels[N_TEXTS];
    size_t offset[N_TEXTS + 1];
    TokenSet ts;
    make_set(&ts, tokens, offset, len, full, labels);

    Trainer tr;
    REQUIRE(trainer_init(&tr, &m, &opt, &ts, POOL_LAST_TOKEN, 6, 1, true, 0, 123, &err), "trainer: %s", err.msg);
    CHECK(trainer_batches_per_epoch(&tr) == N_TEXTS, "batches per epoch with batch 1");

    /* Train until the poisoned text comes up: it must fail exactly there. */
    float *before = malloc(m.n_params * sizeof *before);
    REQUIRE(before != NULL, "malloc");
    StepResult sr;
    bool failed = false;
    long ok_steps = 0;
    for (int s = 0; s < N_TEXTS && !failed; s++) {
        memcpy(before, m.params, m.n_params * sizeof *before);
        if (trainer_step(&tr, &sr, &err)) {
            ok_steps++;
            CHECK(isfinite(sr.loss) && sr.B == 1, "step %d", s);
        } else {
            failed = true;
        }
    }
    REQUIRE(failed, "a NaN embedding row must stop training"); /* else tr.order[ok_steps] is past the end */
    CHECK(tr.order[ok_steps] == 9, "it stops at the poisoned text (row %d)", tr.order[ok_steps]);
    CHECK(err.kind == LF_ERR_RUNTIME && strstr(err.msg, "NaN"), "message: %s", err.msg);
    char want[64];
    snprintf(want, sizeof want, "(step %ld)", ok_steps + 1);
    CHECK(strstr(err.msg, want) != NULL, "message names the step: %s", err.msg);
    CHECK(memcmp(before, m.params, m.n_params * sizeof *before) == 0, "parameters untouched by the failed step");
    CHECK(tr.step == ok_steps, "step count stays at the last good step");
    trainer_free(&tr);

    /* Every epoch is a permutation of all rows, and epochs differ. */
    REQUIRE(trainer_init(&tr, &m, &opt, &ts, POOL_LAST_TOKEN, 6, 5, true, 0, 123, &err), "trainer 2: %s", err.msg);
    CHECK(trainer_batches_per_epoch(&tr) == 2, "12 rows / 5 with drop_last = 2");
    tr.drop_last = false;
    CHECK(trainer_batches_per_epoch(&tr) == 3, "12 rows / 5 keeping the last = 3");
    int first[N_TEXTS];
    for (int e = 0; e < 2; e++) {
        tr.epoch = e;
        const int *order = trainer_order(&tr);
        int seen[N_TEXTS] = {0};
        for (int i = 0; i < N_TEXTS; i++) seen[order[i]]++;
        int all_once = 1;
        for (int i = 0; i < N_TEXTS; i++) all_once &= seen[i] == 1;
        CHECK(all_once, "epoch %d visits every row once", e);
        if (e == 0) memcpy(first, order, sizeof first);
        else CHECK(memcmp(first, order, sizeof first) != 0, "epochs 1 and 2 have different orders");
    }
    trainer_free(&tr);

    /* The causal LM (n_classes 0, every token counted): the same guard. Its
     * head is tied to wte, so the NaN row is in every softmax's sum: the
     * first step fails, whatever text it draws. */
    Gpt2Model lm;
    AdamW lm_opt;
    REQUIRE(gpt2_build(&lm, w, slots, 2, &lc, 0, 1, 6, 42, &err), "LM build: %s", err.msg);
    REQUIRE(adamw_build(&lm_opt, lm.n_params, 1e-3f, 0.1f, &err), "adamw: %s", err.msg);
    int prompt_length[N_TEXTS] = {0};
    ts.labels = NULL;
    ts.prompt_length = prompt_length;
    REQUIRE(trainer_init(&tr, &lm, &lm_opt, &ts, POOL_LAST_TOKEN, 6, 1, true, 0, 123, &err), "LM trainer: %s",
            err.msg);
    float *lm_before = malloc(lm.n_params * sizeof *lm_before);
    REQUIRE(lm_before != NULL, "malloc");
    memcpy(lm_before, lm.params, lm.n_params * sizeof *lm_before);
    CHECK(!trainer_step(&tr, &sr, &err), "a NaN in the tied head must stop the LM's first step");
    CHECK(err.kind == LF_ERR_RUNTIME && strstr(err.msg, "NaN") && strstr(err.msg, "(step 1)"), "LM message: %s",
          err.msg);
    CHECK(memcmp(lm_before, lm.params, lm.n_params * sizeof *lm_before) == 0, "LM parameters untouched");
    CHECK(tr.step == 0, "the LM's step count stays at 0");
    trainer_free(&tr);
    free(lm_before);
    adamw_free(&lm_opt);
    gpt2_free(&lm);

    free(before);
    adamw_free(&opt);
    gpt2_free(&m);
    gpt2_weights_random_free(w);
    return check_done();
}
