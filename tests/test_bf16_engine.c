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
 * random gpt2-small and prints the figures (the README quotes them). */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "check.h"
#include "engine_slots.h"
#include "lorafit/engine/gpt2.h"
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

int main(void) {
    const char *preset = getenv("LORAFIT_BF16_ENGINE_CONFIG");
    Gpt2Config cfg;
    LfError err = {0};
    if (preset) REQUIRE(gpt2_config_preset(preset, &cfg, &err), "%s", err.msg);
    else cfg = (Gpt2Config){.n_layer = 3, .n_embd = 64, .n_head = 4, .vocab_size = 97, .n_ctx = 64, .qkv_bias = true};
    omp_set_num_threads(2);
    Gpt2Weights *w = gpt2_weights_random(&cfg, 9, &err);
    REQUIRE(w, "random weights: %s", err.msg);
    QuantWeights qw;
    REQUIRE(quant_weights_build(&qw, w, QUANT_BF16, &err), "bf16: %s", err.msg);
    for (int k = 0; k < cfg.n_layer * QUANT_MATS_PER_LAYER; k++)
        REQUIRE(qw.mats[k].dtype == QUANT_BF16 && !qw.mats[k].dnnl, "matrix %d: bf16 on the reference GEMMs", k);

    Run f, b, again, re;
    run_step(&f, w, false);
    run_step(&b, &qw.w, false);
    double max_dz, max_dg;
    const double rel_z = rms_diff(b.logits, f.logits, B * CLASSES, &max_dz) / rms(f.logits, B * CLASSES);
    const double rel_g = rms_diff(b.m.grads, f.m.grads, f.m.n_params, &max_dg) / rms(f.m.grads, f.m.n_params);
    const double bound = 0.004 * sqrt(4.0 * cfg.n_layer);
    printf("%s: class logits RMS %.4g, RMS diff / RMS %.4g (max |dz| %.3g); loss %.6f vs %.6f; LoRA and head "
           "gradients RMS diff / RMS %.4g; bounds %.4g and %.4g\n",
           preset ? preset : "3 x 64", rms(f.logits, B * CLASSES), rel_z, max_dz, b.loss, f.loss, rel_g, bound,
           2 * bound);
    CHECK(rel_z > 0, "bf16 changed nothing: the GEMMs did not run in bf16");
    CHECK(rel_z < bound, "class logits: relative RMS difference %.4g above %.4g", rel_z, bound);
    CHECK(fabs((double)b.loss - f.loss) <= 2 * max_dz * (1 + 1e-6) + 1e-6, "loss %.7f vs %.7f: more than 2 max|dz|",
          b.loss, f.loss);
    CHECK(rel_g < 2 * bound, "gradients: relative RMS difference %.4g above %.4g", rel_g, 2 * bound);

    run_step(&again, &qw.w, false);
    CHECK(same_bits(&b, &again), "a second step over bf16 is bitwise the first");
    run_step(&re, &qw.w, true);
    CHECK(same_bits(&b, &re), "recomputation changes no bit over bf16");

    gpt2_free(&f.m), gpt2_free(&b.m), gpt2_free(&again.m), gpt2_free(&re.m);
    quant_weights_free(&qw);
    gpt2_weights_random_free(w);
    return check_done();
}
