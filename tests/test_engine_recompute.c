/* test_engine_recompute.c - activation recomputation changes no bit.
 *
 * On a random 3-layer model (so that two blocks below the top one are
 * recomputed), adapters at every site of every block and dropout on, a
 * model with gpt2_set_recompute on and one without train side by side for
 * three AdamW steps, at 2 threads: every loss and every gradient must be
 * bitwise equal, step by step. Both pools of the classifier and the causal
 * LM (prompt-masked targets), over the fp32 base and over the same base in
 * nf4 (the quantized GEMMs), each with no block's MLP pre-activation kept,
 * with one kept (the recomputation of one block skips its fc product, the
 * other's does not) and with both. And the memory: the activations shrink by
 * exactly (n_layer - 1) copies of one block's intermediates, counted here
 * from the shapes (15 C + 4 floats a row: ln1, qkv, atty, res2, ln2, fch,
 * fch_gelu and the two layer norms' mean and rstd; B * NH * T^2 for the
 * attention probabilities), less 4 C a row for each kept block. */
#include <omp.h>
#include <string.h>

#include "check.h"
#include "engine_slots.h"
#include "lorafit/engine/gpt2.h"
#include "lorafit/engine/optim.h"
#include "lorafit/engine/quant_weights.h"
#include "lorafit/engine/random_weights.h"

enum { B = 3, T = 40, NL = 3, C = 64, NH = 4, RANK = 4, NSLOT = NL * 4, STEPS = 3 };
static const Gpt2Config cfg = {NL, C, NH, 97, 64, true};

static int make_slots(LoraSlot *s) { return engine_slots_every_site(s, NL, C, RANK, 8); }

/* keep_bytes for k kept blocks, and a little more (rounded down there). */
static size_t keep_bytes(int k) { return (size_t)k * B * T * 4 * C * sizeof(float) + 100; }

typedef struct {
    Gpt2Model m;
    AdamW opt;
} Run;

static void run_build(Run *r, const Gpt2Weights *w, int n_classes, bool recompute, int keep) {
    LoraSlot slots[NSLOT];
    int n = make_slots(slots);
    LoraConfig lc = lora_config_default();
    lc.dropout = 0.1;
    LfError err = {0};
    REQUIRE(gpt2_build(&r->m, w, slots, n, &lc, n_classes, B, T, 5, &err), "build: %s", err.msg);
    REQUIRE(gpt2_set_recompute(&r->m, recompute, keep_bytes(keep), &err), "recompute: %s", err.msg);
    REQUIRE(adamw_build(&r->opt, r->m.n_params, 1e-2f, 0.1f, &err), "adamw: %s", err.msg);
}

static void run_free(Run *r) {
    adamw_free(&r->opt);
    gpt2_free(&r->m);
}

/* Trains both runs STEPS steps on the same batch; true when every loss and
 * gradient agreed bit for bit. */
static bool train_side_by_side(const Gpt2Weights *w, int n_classes, Gpt2Pool pool, int keep, const char *what) {
    Run plain, re;
    run_build(&plain, w, n_classes, false, 0);
    run_build(&re, w, n_classes, true, keep);
    CHECK(re.m.keep_fch == keep, "%s: %d blocks keep fch, wanted %d", what, re.m.keep_fch, keep);
    int32_t tokens[B * T];
    int lengths[B] = {T, 23, 7}, labels[B] = {1, 0, 1}, prompts[B] = {10, 0, 3};
    for (int i = 0; i < B * T; i++) tokens[i] = (int32_t)((i * 41 + 3) % cfg.vocab_size);
    Gpt2Batch batch = {.tokens = tokens, .lengths = lengths, .labels = n_classes ? labels : NULL, .B = B, .T = T,
                       .prompt_lengths = n_classes ? NULL : prompts};
    bool same = true;
    for (int s = 0; s < STEPS; s++) {
        float lp = gpt2_forward(&plain.m, &batch, pool, true, NULL);
        float lr = gpt2_forward(&re.m, &batch, pool, true, NULL);
        gpt2_backward(&plain.m);
        gpt2_backward(&re.m);
        bool grads = memcmp(plain.m.grads, re.m.grads, plain.m.n_params * sizeof(float)) == 0;
        bool moved = false;
        for (size_t i = 0; i < plain.m.n_params; i++) moved = moved || plain.m.grads[i] != 0.0f;
        CHECK(lp == lr && grads && moved, "%s step %d: loss %.9g vs %.9g, gradients %s%s", what, s, lp, lr,
              grads ? "equal" : "differ", moved ? "" : " (all zero)");
        same = same && lp == lr && grads;
        adamw_step(&plain.opt, plain.m.params, plain.m.grads, plain.m.n_params);
        adamw_step(&re.opt, re.m.params, re.m.grads, re.m.n_params);
    }
    run_free(&plain);
    run_free(&re);
    return same;
}

int main(void) {
    LfError err = {0};
    Gpt2Weights *w = gpt2_weights_random(&cfg, 9, &err);
    REQUIRE(w, "random weights: %s", err.msg);
    QuantWeights qw;
    REQUIRE(quant_weights_build(&qw, w, QUANT_NF4, &err), "nf4: %s", err.msg);
    omp_set_num_threads(2);
    const Gpt2Weights *bases[] = {w, &qw.w};
    const char *names[] = {"fp32", "nf4"};
    for (int k = 0; k < 2; k++)
        for (int keep = 0; keep < NL; keep++) {
            char what[96];
            snprintf(what, sizeof what, "%s classifier, last token, %d kept", names[k], keep);
            train_side_by_side(bases[k], 2, POOL_LAST_TOKEN, keep, what);
            snprintf(what, sizeof what, "%s classifier, last position, %d kept", names[k], keep);
            train_side_by_side(bases[k], 2, POOL_LAST_POSITION, keep, what);
            snprintf(what, sizeof what, "%s causal LM, %d kept", names[k], keep);
            train_side_by_side(bases[k], 0, POOL_LAST_TOKEN, keep, what);
        }

    /* the memory saved, from the shapes */
    Run plain, re;
    run_build(&plain, w, 2, false, 0);
    run_build(&re, w, 2, true, 0);
    const size_t per_block = (size_t)B * T * (15 * C + 4) + (size_t)B * NH * T * T, fch = (size_t)B * T * 4 * C;
    CHECK(plain.m.n_acts - re.m.n_acts == (NL - 1) * per_block, "activations %zu -> %zu floats, expected %zu less",
          plain.m.n_acts, re.m.n_acts, (size_t)(NL - 1) * per_block);
    /* kept blocks cost their fch; more bytes than blocks below the top keep them all */
    REQUIRE(gpt2_set_recompute(&re.m, true, keep_bytes(1), &err), "%s", err.msg);
    CHECK(plain.m.n_acts - re.m.n_acts == (NL - 1) * per_block - fch, "one kept: %zu floats", re.m.n_acts);
    REQUIRE(gpt2_set_recompute(&re.m, true, keep_bytes(NL + 5), &err), "%s", err.msg);
    CHECK(re.m.keep_fch == NL - 1 && plain.m.n_acts - re.m.n_acts == (NL - 1) * (per_block - fch),
          "all kept: %d blocks, %zu floats", re.m.keep_fch, re.m.n_acts);
    /* switching back restores the layout */
    REQUIRE(gpt2_set_recompute(&re.m, false, keep_bytes(1), &err), "%s", err.msg);
    CHECK(re.m.n_acts == plain.m.n_acts, "off again: %zu floats", re.m.n_acts);
    run_free(&plain);
    run_free(&re);
    quant_weights_free(&qw);
    gpt2_weights_random_free(w);
    return check_done();
}
