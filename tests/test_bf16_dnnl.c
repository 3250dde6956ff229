/* test_bf16_dnnl.c - oneDNN's bf16 GEMMs against the reference backend,
 * where the CPU has AVX512-BF16 or AMX-BF16 (skipped, 77, elsewhere, saying
 * what is missing: bf16_usable()).
 *
 * The two multiply the same values (the inputs rounded by bf16.h, exact
 * products in fp32) and differ only in the order of the sums, so each
 * output of either lies within the fp32 summation bound of the exact sum
 * over the rounded inputs (bf16_expect.h): forward with a bias, backward
 * with and without accumulation, at 1, 8, 17 and 960 rows (of 960 the
 * first and last 8 checked), on gpt2-small's shapes and on odd ones; a
 * second run agrees bit for bit. Then a small
 * random GPT-2 over oneDNN and over the reference: three AdamW steps, the
 * losses within 1e-4 relative of each other (only the summation order
 * differs: errors of order 2^-24 * sqrt(K) per GEMM, far below that), and
 * each backend bitwise repeatable. Prints oneDNN's kernels and the GFLOP/s
 * of one 960 x 768 x 2304 product (not asserted).
 *
 * The same for nf4 and int8 matrices in bf16 tiles (quant_tiles.h):
 * quant_tiles_choose() must attach oneDNN's tile primitives here; their
 * GEMMs at 33 and 960 rows (forward) and 1, 8 and 960 (backward, with and
 * without accumulation) within the bound of the exact sums over the
 * rounded inputs and bf16(W'), bitwise repeatable; three training steps
 * of an nf4 model on oneDNN's tiles against the reference tiles within
 * 1e-4; the GFLOP/s of nf4's 960 x 768 x 2304 products. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "bf16_expect.h"
#include "check.h"
#include "engine_slots.h"
#include "lorafit/engine/bf16_dnnl.h"
#include "lorafit/engine/bf16_matmul.h"
#include "lorafit/engine/gpt2.h"
#include "lorafit/engine/optim.h"
#include "lorafit/engine/quant_fused.h"
#include "lorafit/engine/quant_matmul.h"
#include "lorafit/engine/quant_tiles.h"
#include "lorafit/engine/random_weights.h"
#include "lorafit/util/clock.h"
#include "lorafit/util/rng.h"

enum { MAX_ROWS = 960 };

/* A GEMM's operands up to MAX_ROWS rows: a random W [IC, OC] (wd: room for
 * W' as the test wants it), inputs, gradients, a bias, outputs. */
typedef struct {
    float *w, *wd, *x, *dy, *y, *y2, *dx, *d0, *dxa, *bias;
} Operands;

static void operands_make(Operands *o, int IC, int OC, uint64_t seed) {
    const size_t W = (size_t)IC * OC, X = (size_t)MAX_ROWS * IC, Y = (size_t)MAX_ROWS * OC;
    float **p[] = {&o->w, &o->wd, &o->x, &o->dy, &o->y, &o->y2, &o->dx, &o->d0, &o->dxa, &o->bias};
    const size_t n[] = {W, W, X, Y, Y, Y, X, X, X, (size_t)OC};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) REQUIRE((*p[i] = malloc(sizeof(float) * n[i])), "memory");
    Rng r;
    rng_seed(&r, seed);
    for (size_t i = 0; i < W; i++) o->w[i] = 0.1f * (rng_float(&r) - 0.5f);
    for (size_t i = 0; i < X; i++) o->x[i] = rng_float(&r) - 0.5f, o->d0[i] = rng_float(&r);
    for (size_t i = 0; i < Y; i++) o->dy[i] = rng_float(&r) - 0.5f;
    for (int i = 0; i < OC; i++) o->bias[i] = rng_float(&r);
}

static void operands_free(Operands *o) {
    free(o->w), free(o->wd), free(o->x), free(o->dy), free(o->y), free(o->y2), free(o->dx), free(o->d0), free(o->dxa);
    free(o->bias);
}

static void check_shape(int IC, int OC) {
    enum { CHECKED = 8 };
    const int rows[] = {1, 8, 17, MAX_ROWS};
    Operands o;
    operands_make(&o, IC, OC, (uint64_t)(IC * 131 + OC));
    float *w = o.w, *wd = o.wd, *x = o.x, *dy = o.dy, *y = o.y, *y2 = o.y2, *dx = o.dx, *d0 = o.d0, *dxa = o.dxa;
    const float *bias = o.bias;
    QuantMatrix q;
    LfError err = {0};
    REQUIRE(quant_matrix_quantize(&q, QUANT_BF16, w, IC, OC, &err), "%s", err.msg);
    quant_matrix_dequantize_rows(&q, 0, IC, wd);
    q.dnnl = bf16_dnnl_create(&q, &err);
    REQUIRE(q.dnnl, "%dx%d: %s", IC, OC, err.msg);
    printf("%d x %d: oneDNN kernels: forward %s, backward %s; reordered %zu bytes\n", IC, OC,
           bf16_dnnl_impl(q.dnnl, false), bf16_dnnl_impl(q.dnnl, true), bf16_dnnl_bytes(q.dnnl));
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const int N = rows[i];
        /* rows checked: all of a few, the first and last CHECKED of many (the exact sums are slow) */
        const int first = N <= 2 * CHECKED ? N : CHECKED, last = N - first;
        const int from[2] = {0, N - last}, count[2] = {first, last};
        bf16_matmul_forward(y, x, &q, bias, N, IC, OC);
        bf16_matmul_backward(dx, dy, &q, N, IC, OC, 0);
        memcpy(dxa, d0, sizeof(float) * N * IC);
        bf16_matmul_backward(dxa, dy, &q, N, IC, OC, 1);
        size_t beyond[3] = {0};
        for (int p = 0; p < 2 && count[p] > 0; p++) {
            const size_t r0 = (size_t)from[p];
            Expect fwd = {x + r0 * IC, wd, bias, true, false, count[p], IC, OC, OC};
            Expect bwd = {dy + r0 * OC, wd, NULL, false, true, count[p], OC, IC, OC};
            Expect acc = {dy + r0 * OC, wd, d0 + r0 * IC, false, true, count[p], OC, IC, OC};
            beyond[0] += count_beyond(&fwd, y + r0 * OC, true);
            beyond[1] += count_beyond(&bwd, dx + r0 * IC, true);
            beyond[2] += count_beyond(&acc, dxa + r0 * IC, true);
        }
        CHECK(beyond[0] == 0, "%dx%dx%d forward: %zu outputs beyond the bound", N, IC, OC, beyond[0]);
        CHECK(beyond[1] == 0, "%dx%dx%d backward: %zu outputs beyond the bound", N, IC, OC, beyond[1]);
        CHECK(beyond[2] == 0, "%dx%dx%d backward +=: %zu outputs beyond the bound", N, IC, OC, beyond[2]);
        bf16_matmul_forward(y2, x, &q, bias, N, IC, OC);
        CHECK(memcmp(y, y2, sizeof(float) * N * OC) == 0, "%dx%dx%d forward: bitwise repeatable", N, IC, OC);
    }
    if (IC == 768 && OC == 2304) {
        const int reps = 10;
        double t0 = clock_seconds();
        for (int i = 0; i < reps; i++) bf16_matmul_forward(y, x, &q, NULL, MAX_ROWS, IC, OC);
        double t1 = clock_seconds();
        for (int i = 0; i < reps; i++) bf16_matmul_backward(dx, dy, &q, MAX_ROWS, IC, OC, 0);
        double t2 = clock_seconds(), flop = 2.0 * MAX_ROWS * IC * OC * reps;
        printf("960 x 768 x 2304 at %d threads: forward %.0f GFLOP/s, backward %.0f GFLOP/s\n", omp_get_max_threads(),
               flop / (t1 - t0) * 1e-9, flop / (t2 - t1) * 1e-9);
    }
    quant_matrix_free(&q);
    operands_free(&o);
}

/* GFLOP/s of w's forward and backward at 960 rows (x, dy, y, dx that big). */
static void print_speed(const char *what, const QuantMatrix *w, const float *x, const float *dy, float *y, float *dx) {
    enum { ROWS = 960, REPS = 10 };
    const int IC = w->rows, OC = w->cols;
    double t0 = clock_seconds();
    for (int i = 0; i < REPS; i++) qmatmul_forward(y, x, w, NULL, ROWS, IC, OC);
    double t1 = clock_seconds();
    for (int i = 0; i < REPS; i++) qmatmul_backward(dx, dy, w, ROWS, IC, OC, 0);
    double t2 = clock_seconds(), flop = 2.0 * ROWS * IC * OC * REPS;
    printf("%s %d x %d x %d at %d threads: forward %.0f GFLOP/s, backward %.0f GFLOP/s\n", what, ROWS, IC, OC,
           omp_get_max_threads(), flop / (t1 - t0) * 1e-9, flop / (t2 - t1) * 1e-9);
}

/* An int8 or nf4 matrix in bf16 tiles on oneDNN against the exact sums. */
static void check_tiles(QuantDtype dtype, int IC, int OC) {
    enum { ENDS = 8 };
    const char *name = quant_dtype_name(dtype);
    Operands o;
    operands_make(&o, IC, OC, (uint64_t)(IC * 17 + OC));
    float *w = o.w, *wr = o.wd, *x = o.x, *dy = o.dy, *y = o.y, *y2 = o.y2, *dx = o.dx, *d0 = o.d0;
    const float *bias = o.bias;
    QuantMatrix q;
    LfError err = {0};
    REQUIRE(quant_matrix_quantize(&q, dtype, w, IC, OC, &err), "%s", err.msg);
    quant_matrix_dequantize_rows(&q, 0, IC, wr);
    bf16_round_array(wr, wr, (size_t)IC * OC);
    REQUIRE(quant_tiles_choose(&q, 1, false, &err) && q.tiles == QUANT_BF16 && q.dnnl_tiles, "%s %dx%d: %s", name,
            IC, OC, err.msg);
    printf("%s %d x %d tiles: oneDNN kernels: forward %s, backward %s\n", name, IC, OC,
           bf16_dnnl_tiles_impl(q.dnnl_tiles, false), bf16_dnnl_tiles_impl(q.dnnl_tiles, true));
    const int rows[] = {1, 8, 33, MAX_ROWS};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const int N = rows[i];
        if (N > QFUSED_FASTER_ROWS) {
            qmatmul_forward(y, x, &q, bias, N, IC, OC);
            Expect f = {x, wr, bias, true, false, N, IC, OC, OC};
            size_t beyond = count_beyond_ends(f, y, true, ENDS);
            CHECK(beyond == 0, "%s %dx%dx%d forward: %zu outputs beyond the bound", name, N, IC, OC, beyond);
            qmatmul_forward(y2, x, &q, bias, N, IC, OC);
            CHECK(memcmp(y, y2, sizeof(float) * N * OC) == 0, "%s %dx%dx%d forward: bitwise repeatable", name, N, IC,
                  OC);
        }
        for (int acc = 0; acc < 2; acc++) {
            memcpy(dx, d0, sizeof(float) * N * IC);
            qmatmul_backward(dx, dy, &q, N, IC, OC, acc);
            Expect b = {dy, wr, acc ? d0 : NULL, false, true, N, OC, IC, OC};
            size_t beyond = count_beyond_ends(b, dx, true, ENDS);
            CHECK(beyond == 0, "%s %dx%dx%d backward (accumulate %d): %zu outputs beyond the bound", name, N, IC, OC,
                  acc, beyond);
        }
    }
    if (IC == 768 && OC == 2304) print_speed(name, &q, x, dy, y, dx);
    quant_matrix_free(&q);
    operands_free(&o);
}

enum { NL = 2, C = 64, BATCH = 4, T = 24, STEPS = 3 };

/* Three AdamW steps over w; the losses into loss[]. */
static void train(const Gpt2Weights *w, float loss[STEPS]) {
    LoraSlot slots[NL * 4];
    int n = engine_slots_every_site(slots, NL, C, 4, 8);
    LoraConfig lc = lora_config_default();
    LfError err = {0};
    Gpt2Model m;
    AdamW opt;
    REQUIRE(gpt2_build(&m, w, slots, n, &lc, 2, BATCH, T, 5, &err), "build: %s", err.msg);
    REQUIRE(adamw_build(&opt, m.n_params, 1e-2f, 0.1f, &err), "adamw: %s", err.msg);
    int32_t tokens[BATCH * T];
    int lengths[BATCH] = {T, 11, 5, 20}, labels[BATCH] = {1, 0, 1, 1};
    for (int i = 0; i < BATCH * T; i++) tokens[i] = (int32_t)((i * 37 + 5) % w->cfg.vocab_size);
    Gpt2Batch batch = {.tokens = tokens, .lengths = lengths, .labels = labels, .B = BATCH, .T = T};
    for (int s = 0; s < STEPS; s++) {
        loss[s] = gpt2_forward(&m, &batch, POOL_LAST_TOKEN, true, NULL);
        gpt2_backward(&m);
        adamw_step(&opt, m.params, m.grads, m.n_params);
    }
    adamw_free(&opt);
    gpt2_free(&m);
}

static void check_training(void) {
    const Gpt2Config cfg = {NL, C, 4, 101, 64, true};
    LfError err = {0};
    Gpt2Weights *w = gpt2_weights_random(&cfg, 4, &err);
    REQUIRE(w, "%s", err.msg);
    QuantWeights ref, dn;
    REQUIRE(quant_weights_build(&ref, w, QUANT_BF16, &err) && quant_weights_build(&dn, w, QUANT_BF16, &err), "%s",
            err.msg);
    REQUIRE(bf16_weights_use_dnnl(&dn, &err), "%s", err.msg);
    float lr[STEPS], ld[STEPS], ld2[STEPS];
    train(&ref.w, lr);
    train(&dn.w, ld);
    train(&dn.w, ld2);
    for (int s = 0; s < STEPS; s++) {
        CHECK(fabsf(ld[s] - lr[s]) <= 1e-4f * fabsf(lr[s]), "step %d: loss %.7f on oneDNN, %.7f on the reference",
              s, ld[s], lr[s]);
        CHECK(ld[s] == ld2[s], "step %d: oneDNN bitwise repeatable (%.9g vs %.9g)", s, ld[s], ld2[s]);
    }
    quant_weights_free(&ref);
    quant_weights_free(&dn);

    /* nf4 in bf16 tiles: oneDNN's against the reference's */
    const int n = NL * QUANT_MATS_PER_LAYER;
    REQUIRE(quant_weights_build(&ref, w, QUANT_NF4, &err) && quant_weights_build(&dn, w, QUANT_NF4, &err), "%s",
            err.msg);
    REQUIRE(quant_tiles_choose(ref.mats, n, true, &err) && quant_tiles_choose(dn.mats, n, false, &err), "%s",
            err.msg);
    CHECK(strcmp(quant_tiles_name(&dn.w), "bf16") == 0 && strcmp(quant_tiles_name(&ref.w), "bf16-reference") == 0,
          "tiles: %s and %s", quant_tiles_name(&dn.w), quant_tiles_name(&ref.w));
    train(&ref.w, lr);
    train(&dn.w, ld);
    train(&dn.w, ld2);
    for (int s = 0; s < STEPS; s++) {
        CHECK(fabsf(ld[s] - lr[s]) <= 1e-4f * fabsf(lr[s]), "nf4 step %d: loss %.7f on oneDNN's tiles, %.7f on the "
              "reference's", s, ld[s], lr[s]);
        CHECK(ld[s] == ld2[s], "nf4 step %d: oneDNN's tiles bitwise repeatable (%.9g vs %.9g)", s, ld[s], ld2[s]);
    }
    quant_weights_free(&ref);
    quant_weights_free(&dn);
    gpt2_weights_random_free(w);
}

int main(void) {
    LfError err = {0};
    if (!bf16_usable(&err)) check_skip(err.msg);
    omp_set_num_threads(2);
    check_shape(768, 2304); /* gpt2-small's c_attn */
    check_shape(3072, 768); /* its mlp.c_proj */
    check_shape(37, 53);
    check_tiles(QUANT_NF4, 768, 2304); /* gpt2-small's c_attn: two tiles */
    check_tiles(QUANT_INT8, 3072, 768); /* its mlp.c_proj: three */
    check_tiles(QUANT_NF4, 75, 130);    /* odd: tiles of 48 and 27 rows */
    check_training();
    return check_done();
}
