/* test_bf16_engine.c - a random GPT-2 with its block Linears in bf16 (the
 * reference GEMMs: every CPU) against the same model in fp32.
 *
 * The tolerance, derived: each GEMM rounds both its inputs to bf16, a
 * relative error of at most 2^-9 each, about 2^-9 / sqrt(3) RMS (uniform
 * within half a step); an output sum_k x_k w_k then moves by about
 * sqrt(2) * 2^-9 / sqrt(3) = 1.6e-3 of its own size (terms of random sign).
 * The 4 * n_layer GEMMs of the forward add such errors, independent, on
 * the residual stream: in quadrature, 1.6e-3 * sqrt(4 * n_layer). Allowing
 * 2.5 times that (layer norms and GELU may amplify; as for int8 and nf4 in
 * test_quant_logits.c), the class logits' RMS difference relative to the
 * fp32 logits' RMS must stay below 0.004 * sqrt(4 * n_layer) (0.014 at 3
 * layers, 0.028 at 12). The backward rounds the gradients flowing down too:
 * twice that for the LoRA gradients (relative L2 norm). The loss, a log-sum-
 * exp minus a logit, moves by at most 2 max |dz| (mean over the batch: the
 * same bound), which is asserted as such.
 *
 * Also: bitwise repeatable (a second forward and backward, same threads),
 * and recomputation bitwise equal to none (the same kernels in the same
 * order). LORAFIT_BF16_ENGINE_CONFIG=gpt2-small runs the comparison on a
 * random gpt2-small and prints the figures (the README quotes them).
 *
 * The same checks, same tolerance, for the same model in nf4 with bf16
 * tiles (quant_tiles.h, the reference arithmetic) against nf4 with fp32
 * tiles: the weights W' are nf4's in both, and the bf16 tiles round W' and
 * the activations as the bf16 base rounds W and them (the few-row fused
 * forward, fp32 in both, rounds nothing: the error can only be smaller). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "engine_slots.h"
#include "lorafit/engine/gpt2.h"
#include "lorafit/engine/quant_tiles.h"
#include "lorafit/engine/quant_weights.h"
#include "lorafit/engine/random_weights.h"
#include "lorafit/util/rng.h"

enum { B = 4, T = 32, CLASSES = 8, RANK = 4 };

typedef struct {
    Gpt2Model m;
    float logits[B * CLASSES];
    float loss;
} Run;

/* Builds over w with adapters everywhere, its LoRA A and B and the head
 * set from one seed (B nonzero, so that every gradient flows), then one
 * training forward and backward. */
static void run_step(Run *r, const Gpt2Weights *w, bool recompute) {
    const int NL = w->cfg.n_layer, C = w->cfg.n_embd;
    LoraSlot *slots = malloc(sizeof(LoraSlot) * (size_t)NL * 4);
    REQUIRE(slots, "memory");
    int n = engine_slots_every_site(slots, NL, C, RANK, 8);
    LoraConfig lc = lora_config_default();
    LfError err = {0};
    REQUIRE(gpt2_build(&r->m, w, slots, n, &lc, CLASSES, B, T, 5, &err), "build: %s", err.msg);
    REQUIRE(gpt2_set_recompute(&r->m, recompute, GPT2_RECOMPUTE_KEEP_BYTES, &err), "recompute: %s", err.msg);
    free(slots);
    Rng rng;
    rng_seed(&rng, 3);
    for (size_t i = 0; i < r->m.n_params; i++) r->m.params[i] = 0.1f * (rng_float(&rng) - 0.5f);
    int32_t tokens[B * T];
    int lengths[B] = {T, 23, 7, 30}, labels[B] = {1, 0, 5, 7};
    for (int i = 0; i < B * T; i++) tokens[i] = (int32_t)((i * 41 + 3) % w->cfg.vocab_size);
    Gpt2Batch batch = {.tokens = tokens, .lengths = lengths, .labels = labels, .B = B, .T = T};
    r->loss = gpt2_forward(&r->m, &batch, POOL_LAST_TOKEN, true, r->logits);
    gpt2_backward(&r->m);
}

static double rms(const float *a, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * a[i];
    return sqrt(s / (double)n);
}

static double rms_diff(const float *a, const float *b, size_t n, double *max_abs) {
    double s = 0;
    *max_abs = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        s += d * d;
        *max_abs = d > *max_abs ? d : *max_abs;
    }
    return sqrt(s / (double)n);
}

static bool same_bits(const Run *a, const Run *b) {
    return a->loss == b->loss && memcmp(a->logits, b->logits, sizeof a->logits) == 0 &&
           memcmp(a->m.grads, b->m.grads, a->m.n_params * sizeof(float)) == 0;
}

/* test (bf16 arithmetic) against ref (fp32) over the same model: within
 * the tolerance above, bitwise repeatable, recomputation changing no bit. */
static void compare(const Gpt2Weights *ref, const Gpt2Weights *test, const char *what) {
    const int NL = ref->cfg.n_layer;
    Run f, b, again, re;
    run_step(&f, ref, false);
    run_step(&b, test, false);
    double max_dz, max_dg;
    const double rel_z = rms_diff(b.logits, f.logits, B * CLASSES, &max_dz) / rms(f.logits, B * CLASSES);
    const double rel_g = rms_diff(b.m.grads, f.m.grads, f.m.n_params, &max_dg) / rms(f.m.grads, f.m.n_params);
    const double bound = 0.004 * sqrt(4.0 * NL);
    printf("%s: class logits RMS %.4g, RMS diff / RMS %.4g (max |dz| %.3g); loss %.6f vs %.6f; LoRA and head "
           "gradients RMS diff / RMS %.4g; bounds %.4g and %.4g\n",
           what, rms(f.logits, B * CLASSES), rel_z, max_dz, b.loss, f.loss, rel_g, bound, 2 * bound);
    CHECK(rel_z > 0, "%s: bf16 changed nothing: the GEMMs did not run in bf16", what);
    CHECK(rel_z < bound, "%s: class logits: relative RMS difference %.4g above %.4g", what, rel_z, bound);
    CHECK(fabs((double)b.loss - f.loss) <= 2 * max_dz * (1 + 1e-6) + 1e-6, "%s: loss %.7f vs %.7f: more than 2 max|dz|",
          what, b.loss, f.loss);
    CHECK(rel_g < 2 * bound, "%s: gradients: relative RMS difference %.4g above %.4g", what, rel_g, 2 * bound);

    run_step(&again, test, false);
    CHECK(same_bits(&b, &again), "%s: a second step is bitwise the first", what);
    run_step(&re, test, true);
    CHECK(same_bits(&b, &re), "%s: recomputation changes no bit", what);
    gpt2_free(&f.m), gpt2_free(&b.m), gpt2_free(&again.m), gpt2_free(&re.m);
}

int main(void) {
    const char *preset = getenv("LORAFIT_BF16_ENGINE_CONFIG");
    Gpt2Config cfg;
    LfError err = {0};
    if (preset) REQUIRE(gpt2_config_preset(preset, &cfg, &err), "%s", err.msg);
    else cfg = (Gpt2Config){.n_layer = 3, .n_embd = 64, .n_head = 4, .vocab_size = 97, .n_ctx = 64, .qkv_bias = true};
    omp_set_num_threads(2);
    const int n = cfg.n_layer * QUANT_MATS_PER_LAYER;
    Gpt2Weights *w = gpt2_weights_random(&cfg, 9, &err);
    REQUIRE(w, "random weights: %s", err.msg);
    QuantWeights qw, nf4, nf4b;
    REQUIRE(quant_weights_build(&qw, w, QUANT_BF16, &err), "bf16: %s", err.msg);
    for (int k = 0; k < n; k++)
        REQUIRE(qw.mats[k].dtype == QUANT_BF16 && !qw.mats[k].dnnl, "matrix %d: bf16 on the reference GEMMs", k);
    REQUIRE(quant_weights_build(&nf4, w, QUANT_NF4, &err) && quant_weights_build(&nf4b, w, QUANT_NF4, &err), "nf4: %s",
            err.msg);
    REQUIRE(quant_tiles_choose(nf4b.mats, n, true, &err), "nf4 bf16 tiles: %s", err.msg);
    REQUIRE(strcmp(quant_tiles_name(&nf4.w), "fp32") == 0 && strcmp(quant_tiles_name(&nf4b.w), "bf16-reference") == 0,
            "tiles %s, %s", quant_tiles_name(&nf4.w), quant_tiles_name(&nf4b.w));

    char what[64];
    snprintf(what, sizeof what, "%s bf16 vs fp32", preset ? preset : "3 x 64");
    compare(w, &qw.w, what);
    snprintf(what, sizeof what, "%s nf4 bf16 tiles vs fp32 tiles", preset ? preset : "3 x 64");
    compare(&nf4.w, &nf4b.w, what);

    quant_weights_free(&qw);
    quant_weights_free(&nf4);
    quant_weights_free(&nf4b);
    gpt2_weights_random_free(w);
    return check_done();
}
