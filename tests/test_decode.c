/* test_decode.c - the KV-cache decoder against the engine's full forward:
 * at every generated step, the decoder's logits for the newest position
 * equal gpt2_lm_logits over the whole sequence so far (tied head, LoRA
 * included, nonzero B so that the adapters change the result), for one
 * sequence and for a batch of prompts of different lengths decoded side by
 * side; with the labs' per-projection adapters (q, k, v, out, fc, fc_proj)
 * and PEFT's fused c_attn. Prompts longer than a decoder chunk run in
 * pieces, and must give the same logits. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lorafit/engine/classifier.h"
#include "lorafit/engine/decode.h"
#include "lorafit/engine/gpt2_testing.h"
#include "lorafit/engine/random_weights.h"

enum { V = 96, CTX = 160, MAX_B = 3 };

static double worst;

/* logits [V] of the last of the n tokens ids, by the full forward */
static void full_logits(Gpt2Model *m, const int32_t *ids, int n, float *out) {
    float *all = malloc((size_t)n * V * sizeof *all);
    Gpt2Batch b = {.tokens = ids, .lengths = NULL, .labels = NULL, .B = 1, .T = n};
    gpt2_lm_logits(m, &b, all);
    memcpy(out, all + (size_t)(n - 1) * V, V * sizeof *out);
    free(all);
}

static int argmax(const float *x) {
    int best = 0;
    for (int i = 1; i < V; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

static void compare(const float *got, const float *want, const char *what, int step) {
    double d = 0;
    for (int i = 0; i < V; i++) {
        double e = fabs((double)got[i] - want[i]) / (fabs(want[i]) > 1 ? fabs(want[i]) : 1);
        if (e > d) d = e;
    }
    if (d > worst) worst = d;
    CHECK(d < 1e-4, "%s step %d: cached logits differ from the full forward by %.3g", what, step, d);
}

/* Greedy decoding of MAX_B prompts side by side for `steps` tokens; each
 * step's logits checked against the full forward of that sequence. */
static void check_batch(Gpt2Model *m, const char *what, const int *prompt_len, int steps) {
    Decoder d;
    LfError err = {0};
    REQUIRE(decoder_init(&d, m, MAX_B, CTX, &err), "decoder_init: %s", err.msg);
    int32_t seq[MAX_B][CTX];
    int len[MAX_B], slots[MAX_B];
    float *logits = malloc((size_t)MAX_B * V * sizeof *logits), want[V];
    for (int b = 0; b < MAX_B; b++) {
        for (int t = 0; t < prompt_len[b]; t++) seq[b][t] = (int32_t)((7 * t + 13 * b + 1) % V);
        len[b] = prompt_len[b];
        CHECK(decoder_prefill(&d, b, seq[b], len[b], logits + (size_t)b * V, &err), "prefill: %s", err.msg);
        slots[b] = b;
    }
    for (int step = 0; step < steps; step++) {
        int32_t next[MAX_B];
        for (int b = 0; b < MAX_B; b++) {
            full_logits(m, seq[b], len[b], want);
            compare(logits + (size_t)b * V, want, what, step);
            next[b] = seq[b][len[b]++] = (int32_t)argmax(want);
        }
        CHECK(decoder_step(&d, MAX_B, slots, next, logits, &err), "step: %s", err.msg);
    }
    /* one sequence of the batch alone: steps need not list every slot */
    int one = 1;
    full_logits(m, seq[1], len[1], want);
    int32_t t = (int32_t)argmax(want);
    seq[1][len[1]++] = t;
    CHECK(decoder_step(&d, 1, &one, &t, logits, &err), "step: %s", err.msg);
    full_logits(m, seq[1], len[1], want);
    compare(logits, want, what, steps);
    /* a full cache refuses another token */
    Decoder small;
    REQUIRE(decoder_init(&small, m, 1, 4, &err), "decoder_init: %s", err.msg);
    int zero = 0;
    CHECK(decoder_prefill(&small, 0, seq[0], 4, logits, &err), "prefill 4 of 4: %s", err.msg);
    CHECK(!decoder_step(&small, 1, &zero, &t, logits, &err), "a step past the cache was accepted");
    CHECK(!decoder_prefill(&small, 0, seq[0], 5, logits, &err), "a prompt past the cache was accepted");
    decoder_free(&small);
    decoder_free(&d);
    free(logits);
}

static void fill_b(Gpt2Model *m) {
    Rng r;
    rng_seed(&r, 99);
    for (int i = 0; i < m->n_adapters; i++) {
        const Gpt2Adapter *a = &m->adapters[i];
        for (int k = 0; k < a->rank * a->out; k++) m->lora_B[i][k] = 0.2f * (2 * rng_float(&r) - 1);
    }
}

static void run(const Gpt2Weights *w, ModTreeStyle naming, const char *targets, const char *what) {
    LoraConfig lc = lora_config_default();
    lc.rank = 4;
    LfError err = {0};
    if (targets) REQUIRE(lora_config_set_targets(&lc, targets, &err), "%s", err.msg);
    Classifier c;
    REQUIRE(classifier_build(&c, w, naming, &lc, 2, 1, CTX, 5, &err), "classifier_build: %s", err.msg);
    REQUIRE(c.model.n_adapters > 0, "%s: no adapters", what);
    fill_b(&c.model);
    /* prompts of 1, 5 and 140 tokens (140 > one decoder chunk of 128) */
    const int prompts[MAX_B] = {1, 5, 140};
    check_batch(&c.model, what, prompts, 12);
    classifier_free(&c);
}

int main(void) {
    Gpt2Config cfg = {.n_layer = 2, .n_embd = 32, .n_head = 4, .vocab_size = V, .n_ctx = CTX, .qkv_bias = true};
    LfError err = {0};
    Gpt2Weights *w = gpt2_weights_random(&cfg, 3, &err);
    REQUIRE(w != NULL, "random weights: %s", err.msg);
    for (int threads = 1; threads <= 2; threads++) {
        omp_set_num_threads(threads);
        run(w, MODTREE_LABS, NULL, "labs, every Linear");
        run(w, MODTREE_HF, "c_attn,c_proj", "peft, c_attn and c_proj");
    }
    printf("worst relative difference, cached vs full: %.3g\n", worst);
    gpt2_weights_random_free(w);
    return check_done();
}
