/* test_engine_determinism.c - same seed, same bits; and what B = 0 means.
 *
 * On random weights (gpt2_weights_random, a small shape): two models built
 * with the same seed give bitwise-identical initial parameters, and after
 * three training steps (dropout on, AdamW) bitwise-identical parameters at
 * the same thread count (1 and 2 threads, each run twice). A different seed gives
 * different A. (Across thread counts the bits may differ: GEMMs split C by
 * the thread count.) The init follows its documented bounds: labs A within
 * 1/sqrt(rank), PEFT A within 1/sqrt(in), head within 1/sqrt(C), B zero.
 * Also: a batch that does not fit is refused with NaN, not overrun. */
#include <omp.h>
#include <string.h>

#include "check.h"
#include "engine_slots.h"
#include "lorafit/engine/gpt2.h"
#include "lorafit/engine/optim.h"
#include "lorafit/engine/random_weights.h"

/* big enough that the GEMMs split over threads (>= 1e6 multiply-adds) */
enum { B = 3, T = 48, NSLOT = 8, C = 64 };
static const Gpt2Config cfg = {2, C, 4, 101, 64, true};

static int make_slots(LoraSlot *s) { return engine_slots_every_site(s, 2, C, 4, 8); }

/* Builds, trains 3 steps, returns the parameters (malloc'd). */
static float *train(const Gpt2Weights *w, uint64_t seed, int threads, LoraInit init, float **init_out,
                    size_t *n_out) {
    LoraSlot slots[NSLOT];
    int n = make_slots(slots);
    LoraConfig lc = lora_config_default();
    lc.init = init;
    lc.dropout = 0.1;
    Gpt2Model m;
    LfError err = {0};
    if (!gpt2_build(&m, w, slots, n, &lc, 2, B, T, seed, &err)) {
        CHECK(0, "build: %s", err.msg);
        return NULL;
    }
    if (init_out) {
        *init_out = malloc(m.n_params * sizeof(float));
        memcpy(*init_out, m.params, m.n_params * sizeof(float));
    }
    int tokens[B * T], lengths[B] = {48, 30, 9}, labels[B] = {0, 1, 1};
    for (int i = 0; i < B * T; i++) tokens[i] = (i * 37 + 11) % cfg.vocab_size;
    Gpt2Batch batch = {.tokens = tokens, .lengths = lengths, .labels = labels, .B = B, .T = T};
    AdamW opt;
    adamw_build(&opt, m.n_params, 1e-2f, 0.1f, &err);
    omp_set_num_threads(threads);
    for (int s = 0; s < 3; s++) {
        gpt2_forward(&m, &batch, s == 1 ? POOL_LAST_POSITION : POOL_LAST_TOKEN, true, NULL);
        gpt2_backward(&m);
        grad_clip_norm(m.grads, m.n_params, 1.0f);
        adamw_step(&opt, m.params, m.grads, m.n_params);
    }
    omp_set_num_threads(2);
    float *p = malloc(m.n_params * sizeof(float));
    memcpy(p, m.params, m.n_params * sizeof(float));
    *n_out = m.n_params;
    adamw_free(&opt);
    gpt2_free(&m);
    return p;
}

int main(void) {
    LfError err = {0};
    Gpt2Weights *w = gpt2_weights_random(&cfg, 3, &err);
    CHECK(w != NULL, "random weights: %s", err.msg);
    if (!w) return check_done();
    size_t n1, n2, n3;
    float *i1, *i2, *i3;
    for (int threads = 1; threads <= 2; threads++) {
        size_t na, nb;
        float *ia, *ib;
        float *pa = train(w, 42, threads, LORA_INIT_LABS, &ia, &na);
        float *pb = train(w, 42, threads, LORA_INIT_LABS, &ib, &nb);
        CHECK(pa && pb && na == nb, "two runs");
        if (pa && pb && na == nb) {
            CHECK(memcmp(ia, ib, na * sizeof(float)) == 0, "same seed: same init");
            CHECK(memcmp(pa, pb, na * sizeof(float)) == 0,
                  "same seed, %d threads: same parameters after 3 steps", threads);
        }
        free(pa), free(pb), free(ia), free(ib);
    }
    float *p1 = train(w, 42, 2, LORA_INIT_LABS, &i1, &n1);
    float *p2 = train(w, 42, 2, LORA_INIT_LABS, &i2, &n2);
    float *p3 = train(w, 43, 2, LORA_INIT_LABS, &i3, &n3);
    REQUIRE(p1 && p2 && p3 && n1 == n2 && n2 == n3, "three runs");
    CHECK(memcmp(i1, i3, n1 * sizeof(float)) != 0, "another seed: another init");
    bool changed = false;
    for (size_t i = 0; i < n1; i++) changed = changed || p1[i] != i1[i];
    CHECK(changed, "training moved the parameters");

    /* init bounds, from the layout: per adapter A [in, 4], B [4, out], then head [2, C], [2] */
    LoraSlot slots[NSLOT];
    int ns = make_slots(slots);
    float *ip;
    size_t np;
    free(train(w, 7, 2, LORA_INIT_PEFT, &ip, &np));
    for (int pass = 0; pass < 2; pass++) {
        const float *init = pass ? ip : i1;
        size_t off = 0;
        bool ok = true, zero = true;
        for (int i = 0; i < ns; i++) {
            double bound = pass ? 1.0 / sqrt((double)slots[i].in) : 1.0 / sqrt(4.0);
            double maxa = 0;
            for (int k = 0; k < slots[i].in * 4; k++) maxa = fmax(maxa, fabs(init[off + k]));
            ok = ok && maxa <= bound && maxa > 0.8 * bound;
            off += (size_t)slots[i].in * 4;
            for (int k = 0; k < 4 * slots[i].out; k++) zero = zero && init[off + k] == 0.0f;
            off += (size_t)4 * slots[i].out;
        }
        double maxh = 0;
        for (int k = 0; k < 2 * C + 2; k++) maxh = fmax(maxh, fabs(init[off + k]));
        CHECK(ok, "%s init: A within (0.8, 1] x its bound", pass ? "peft" : "labs");
        CHECK(zero, "B starts at zero");
        CHECK(maxh <= 1.0 / sqrt((double)C) && maxh > 0.5 / sqrt((double)C), "head init bound: max %g", maxh);
        CHECK(off + 2 * C + 2 == n1, "parameter count %zu vs %zu", off + 2 * C + 2, n1);
    }

    /* a batch larger than the build is refused */
    Gpt2Model m;
    LoraConfig lc = lora_config_default();
    CHECK(gpt2_build(&m, w, slots, ns, &lc, 2, B, T, 1, &err), "build: %s", err.msg);
    int tokens[(B + 1) * (T + 1)];
    memset(tokens, 0, sizeof tokens);
    /* inference: no labels, loss 0, the same logits as with labels */
    {
        int lens[B] = {5, 40, 1}, labs[B] = {1, 1, 0};
        for (int i = 0; i < B * T; i++) tokens[i] = (i * 13 + 5) % cfg.vocab_size;
        Gpt2Batch with = {.tokens = tokens, .lengths = lens, .labels = labs, .B = B, .T = T};
        Gpt2Batch without = {.tokens = tokens, .lengths = lens, .labels = NULL, .B = B, .T = T};
        float l1[B * 2], l2[B * 2];
        float loss = gpt2_forward(&m, &with, POOL_LAST_TOKEN, false, l1);
        float none = gpt2_forward(&m, &without, POOL_LAST_TOKEN, false, l2);
        CHECK(loss > 0.0f && none == 0.0f && memcmp(l1, l2, sizeof l1) == 0,
              "inference forward: loss %g / %g", loss, none);
        memset(tokens, 0, sizeof tokens);
    }
    Gpt2Batch big = {.tokens = tokens, .lengths = NULL, .labels = NULL, .B = B + 1, .T = T};
    CHECK(isnan(gpt2_forward(&m, &big, POOL_LAST_TOKEN, false, NULL)), "B > max_B refused");
    Gpt2Batch longer = {.tokens = tokens, .lengths = NULL, .labels = NULL, .B = B, .T = T + 1};
    CHECK(isnan(gpt2_forward(&m, &longer, POOL_LAST_TOKEN, false, NULL)), "T > max_T refused");
    int badlen[B] = {3, 0, 2};
    Gpt2Batch zero_len = {.tokens = tokens, .lengths = badlen, .labels = NULL, .B = B, .T = T};
    CHECK(isnan(gpt2_forward(&m, &zero_len, POOL_LAST_TOKEN, false, NULL)), "length 0 refused");
    /* a bad slot is an error naming it */
    slots[1].out = 33;
    Gpt2Model bad;
    CHECK(!gpt2_build(&bad, w, slots, ns, &lc, 2, B, T, 1, &err) && strstr(err.msg, "attn_out"),
          "bad slot message: %s", err.msg);
    gpt2_free(&m);
    free(p1), free(p2), free(p3), free(i1), free(i2), free(i3), free(ip);
    gpt2_weights_random_free(w);
    return check_done();
}
