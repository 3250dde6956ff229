/* test_grad_split.c - what data parallelism over ranks rests on (trainer.h,
 * util/dist.h), without MPI: a batch cut into slices, each slice's gradient
 * formed against the whole batch's count (Gpt2Batch.grad_count), adds up to
 * the gradient of the whole batch's mean, for a classifier (count: texts)
 * and a causal LM (count: the target tokens, by the rule of gpt2.h: text i
 * predicts its tokens from max(prompt length, 1) on); and trainer_slice()
 * cuts batches as trainer.h says (hand-made tables). The whole-batch
 * gradient comes from the unchanged one-process path; only the summation
 * order differs, so the two agree to float rounding (1e-6 of the norm). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lorafit/engine/batch.h"
#include "lorafit/engine/gpt2.h"
#include "lorafit/engine/random_weights.h"
#include "lorafit/engine/trainer.h"

enum { N = 7, MAX_T = 9 };

/* 7 texts of 4..9 tokens, labels 0/1, prompts of 0..3 tokens. */
static void make_set(TokenSet *ts, int32_t *tokens, size_t *offset, int *len, int *labels, int *prompts) {
    size_t o = 0;
    for (int i = 0; i < N; i++) {
        offset[i] = o;
        len[i] = 4 + (i * 5) % 6;
        for (int t = 0; t < len[i]; t++) tokens[o++] = 20 + (13 * i + 7 * t) % 150;
        labels[i] = (i * 3) % 2;
        prompts[i] = i % 4;
    }
    offset[N] = o;
    *ts = (TokenSet){.n = N, .tokens = tokens, .offset = offset, .full_length = len, .length = len,
                     .labels = labels, .max_length = MAX_T, .longest = MAX_T};
}

/* Every trainable parameter set to a fixed pattern: B non-zero, so the A
 * matrices get gradients too. */
static void set_params(Gpt2Model *m) {
    for (size_t i = 0; i < m->n_params; i++) m->params[i] = 0.05f * sinf(0.37f * (float)i + 1.0f);
}

/* The gradient of the mean over rows[0..n) (grad_count 0) into whole, and
 * the sum of the slices' gradients against the whole count into parts. */
static void grads_both_ways(Gpt2Model *m, const TokenSet *ts, const int *rows, int n, int count, const int *cuts,
                            int n_cuts, float *whole, float *parts) {
    size_t start[N];
    int lengths[N], labels[N], prompts[N];
    Gpt2Batch b = batch_select(ts, rows, n, POOL_LAST_TOKEN, 0, start, lengths, labels, prompts);
    float loss = gpt2_forward(m, &b, POOL_LAST_TOKEN, true, NULL);
    REQUIRE(isfinite(loss), "whole batch: loss %g", loss);
    gpt2_backward(m);
    memcpy(whole, m->grads, m->n_params * sizeof *whole);
    memset(parts, 0, m->n_params * sizeof *parts);
    for (int c = 0; c + 1 < n_cuts; c++) {
        Gpt2Batch s = batch_select(ts, rows + cuts[c], cuts[c + 1] - cuts[c], POOL_LAST_TOKEN, 0, start, lengths,
                                   labels, prompts);
        s.grad_count = count;
        REQUIRE(isfinite(gpt2_forward(m, &s, POOL_LAST_TOKEN, true, NULL)), "slice %d", c);
        gpt2_backward(m);
        for (size_t i = 0; i < m->n_params; i++) parts[i] += m->grads[i];
    }
}

static void check_same_gradient(const float *whole, const float *parts, size_t n, const char *what) {
    double dd = 0, ww = 0;
    for (size_t i = 0; i < n; i++) {
        dd += ((double)whole[i] - parts[i]) * ((double)whole[i] - parts[i]);
        ww += (double)whole[i] * whole[i];
    }
    CHECK(ww > 0 && sqrt(dd) <= 1e-6 * sqrt(ww), "%s: |whole - sum of slices| %g, |whole| %g", what, sqrt(dd),
          sqrt(ww));
}

static void check_slices(void) {
    /* by tokens (16 in all): 2 ranks cut where 8 precede; 3 ranks where 16/3 and 32/3 do */
    const int costs[2][8] = {{5, 1, 1, 1, 1, 1, 1, 5}, {9, 1, 1, 1, 1, 1, 1, 1}};
    const struct {
        int c, N;
        long want[4];
    } weighted[] = {{0, 2, {0, 4, 8}}, {1, 2, {0, 1, 8}}, {0, 3, {0, 2, 7, 8}}, {1, 3, {0, 1, 3, 8}}};
    for (size_t k = 0; k < sizeof weighted / sizeof weighted[0]; k++)
        for (int r = 0; r < weighted[k].N; r++) {
            long lo, hi;
            trainer_slice(costs[weighted[k].c], 8, r, weighted[k].N, &lo, &hi);
            CHECK(lo == weighted[k].want[r] && hi == weighted[k].want[r + 1], "costs %d over %d ranks, rank %d: [%ld, %ld)",
                  weighted[k].c, weighted[k].N, r, lo, hi);
        }
    /* batch 8 over 3 ranks: 3, 3, 2; batch 2 over 3: 1, 1, 0; batch 8 over 2: 4, 4 */
    const struct {
        long n;
        int N;
        long want[4];
    } cases[] = {{8, 3, {0, 3, 6, 8}}, {2, 3, {0, 1, 2, 2}}, {8, 2, {0, 4, 8}}, {7, 1, {0, 7}}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (int r = 0; r < cases[k].N; r++) {
            long lo, hi;
            trainer_slice(NULL, cases[k].n, r, cases[k].N, &lo, &hi);
            CHECK(lo == cases[k].want[r] && hi == cases[k].want[r + 1], "batch %ld over %d ranks, rank %d: [%ld, %ld)",
                  cases[k].n, cases[k].N, r, lo, hi);
        }
}

int main(void) {
    check_slices();
    Gpt2Config cfg = {2, 16, 2, 200, 16, true};
    LfError err = {0};
    Gpt2Weights *w = gpt2_weights_random(&cfg, 3, &err);
    REQUIRE(w != NULL, "random weights: %s", err.msg);
    LoraConfig lc = lora_config_default();
    LoraSlot slots[2] = {{"h.0.attn.c_attn", 0, SITE_QKV, 16, 48, 4, 8.0}, {"h.1.mlp.c_fc", 1, SITE_FC, 16, 64, 4, 8.0}};

    int32_t tokens[N * MAX_T];
    size_t offset[N + 1];
    int len[N], labels[N], prompts[N];
    TokenSet ts;
    make_set(&ts, tokens, offset, len, labels, prompts);
    const int rows[N] = {5, 0, 3, 6, 1, 4, 2}; /* out of order, as an epoch's permutation */
    const int cuts[] = {0, 3, 6, 7};           /* 7 texts over 3 ranks: 3, 3, 1 */

    Gpt2Model m;
    REQUIRE(gpt2_build(&m, w, slots, 2, &lc, 2, N, MAX_T, 9, &err), "classifier: %s", err.msg);
    set_params(&m);
    float *whole = malloc(m.n_params * sizeof *whole), *parts = malloc(m.n_params * sizeof *parts);
    REQUIRE(whole && parts, "malloc");
    grads_both_ways(&m, &ts, rows, N, N, cuts, 4, whole, parts);
    check_same_gradient(whole, parts, m.n_params, "classifier, 7 texts in slices of 3, 3, 1");
    gpt2_free(&m);
    free(whole);
    free(parts);

    /* The LM: the count is the whole batch's targets, by gpt2.h's rule. */
    ts.labels = NULL;
    ts.prompt_length = prompts;
    int targets = 0;
    for (int i = 0; i < N; i++) targets += len[i] - 1 - (prompts[i] > 0 ? prompts[i] - 1 : 0);
    REQUIRE(gpt2_build(&m, w, slots, 2, &lc, 0, N, MAX_T, 9, &err), "LM: %s", err.msg);
    set_params(&m);
    whole = malloc(m.n_params * sizeof *whole), parts = malloc(m.n_params * sizeof *parts);
    REQUIRE(whole && parts, "malloc");
    grads_both_ways(&m, &ts, rows, N, targets, cuts, 4, whole, parts);
    size_t start[N];
    int lengths[N], lab[N], pl[N];
    Gpt2Batch b = batch_select(&ts, rows, N, POOL_LAST_TOKEN, 0, start, lengths, lab, pl);
    gpt2_forward(&m, &b, POOL_LAST_TOKEN, false, NULL);
    CHECK(m.lm.n == targets, "the engine counts %d targets, the rule %d", m.lm.n, targets);
    check_same_gradient(whole, parts, m.n_params, "LM, 7 texts in slices of 3, 3, 1");
    gpt2_free(&m);
    free(whole);
    free(parts);
    gpt2_weights_random_free(w);
    return check_done();
}
