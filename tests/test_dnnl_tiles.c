/* test_dnnl_tiles.c - the quantized formats' oneDNN tile path in fp32, on
 * any x86 CPU: bf16_dnnl_tiles_create_f32() makes the same primitives as
 * the bf16 tiles (which need AVX512-BF16 or AMX: test_bf16_dnnl.c runs
 * those), over fp32 operands, which oneDNN runs everywhere.
 *
 * The tile products themselves, at row counts 1, 5, 17, 64, 300, 2, 3 and
 * again 5, 1, 17 (more primitives than the cache keeps: evictions and
 * re-creations), over tiles of 48 and 27 rows: the forward into a fresh
 * output and accumulated onto it (the sum post-op), the backward through
 * the tile's transposed view; each output within the fp32 summation bound
 * of the exact sum in double (bf16_expect.h). A second tile of the same
 * shape through the same primitive gives its own products (the weights are
 * taken by pointer at each call, not kept).
 *
 * Then the engine's loop (quant_tiles.h: the inputs as one panel per tile,
 * each tile decoded, the backward's columns copied or added into dinp) with
 * an fp32 twin attached to nf4 and int8 matrices, through qmatmul_forward
 * and qmatmul_backward: within the bound of the exact sums over the
 * reference dequantization, at shapes of two and three tiles, a shorter
 * last one. Skipped (77) when lorafit was built without oneDNN or its
 * library does not load. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bf16_expect.h"
#include "check.h"
#include "lorafit/engine/bf16_dnnl.h"
#include "lorafit/engine/quant_matmul.h"
#include "lorafit/util/rng.h"

enum { OC = 200, K1 = 48, K2 = 27, MAX_ROWS = 300, ENDS = 6 };

static float *randoms(Rng *r, size_t n, float shift) {
    float *a = malloc(n * sizeof *a);
    REQUIRE(a, "memory");
    for (size_t i = 0; i < n; i++) a[i] = rng_float(r) - shift;
    return a;
}

static void check_products(void) {
    Rng r;
    rng_seed(&r, 23);
    float *t1 = randoms(&r, K1 * OC, 0.5f), *t1b = randoms(&r, K1 * OC, 0.5f), *t2 = randoms(&r, K2 * OC, 0.5f);
    float *x = randoms(&r, MAX_ROWS * K1, 0.5f), *dy = randoms(&r, MAX_ROWS * OC, 0.5f);
    float *y = malloc(sizeof(float) * MAX_ROWS * OC), *y0 = malloc(sizeof(float) * MAX_ROWS * OC);
    float *dx = malloc(sizeof(float) * MAX_ROWS * K1);
    REQUIRE(y && y0 && dx, "memory");
    LfError err = {0};
    Bf16DnnlTiles *t = bf16_dnnl_tiles_create_f32(K1, OC, &err);
    REQUIRE(t, "create: %s", err.msg);
    CHECK(!bf16_dnnl_tiles_bf16(t), "the twin is fp32");
    printf("tile kernels: forward %s, backward %s\n", bf16_dnnl_tiles_impl(t, false), bf16_dnnl_tiles_impl(t, true));
    CHECK(*bf16_dnnl_tiles_impl(t, false) && *bf16_dnnl_tiles_impl(t, true), "kernel names");
    const int rows[] = {1, 5, 17, 64, 300, 2, 3, 5, 1, 17};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const int N = rows[i];
        const float *tiles[2] = {t1, t1b};
        for (int v = 0; v < 2; v++) {
            bf16_dnnl_tile_forward(t, y, x, tiles[v], N, K1, false);
            Expect e = {x, tiles[v], NULL, false, false, N, K1, OC, OC};
            size_t beyond = count_beyond_ends(e, y, false, ENDS);
            CHECK(beyond == 0, "forward, %d rows, tile %d: %zu outputs beyond the bound", N, v, beyond);
        }
        memcpy(y0, y, sizeof(float) * N * OC);
        bf16_dnnl_tile_forward(t, y, x, t2, N, K2, true); /* x's first N * 27 values as a dense [N, 27] panel */
        Expect acc = {x, t2, y0, false, false, N, K2, OC, OC};
        size_t beyond = count_beyond_ends(acc, y, false, ENDS);
        CHECK(beyond == 0, "forward +=, %d rows: %zu outputs beyond the bound", N, beyond);
        const int ks[2] = {K1, K2};
        const float *kt[2] = {t1, t2};
        for (int v = 0; v < 2; v++) {
            bf16_dnnl_tile_backward(t, dx, dy, kt[v], N, ks[v]);
            Expect b = {dy, kt[v], NULL, false, true, N, OC, ks[v], OC};
            beyond = count_beyond_ends(b, dx, false, ENDS);
            CHECK(beyond == 0, "backward, %d rows, %d-row tile: %zu outputs beyond the bound", N, ks[v], beyond);
        }
    }
    y[0] = 42.0f;
    bf16_dnnl_tile_forward(t, y, x, t1, 0, K1, true);
    bf16_dnnl_tile_backward(t, y, dy, t1, 0, K1);
    CHECK(y[0] == 42.0f, "zero rows leave the output alone");
    bf16_dnnl_tiles_free(t);
    free(t1), free(t1b), free(t2), free(x), free(dy), free(y), free(y0), free(dx);
}

static void check_engine(QuantDtype dtype, int IC, int oc) {
    enum { N_BIG = 100 };
    Rng r;
    rng_seed(&r, (uint64_t)(IC + oc));
    float *w = randoms(&r, (size_t)IC * oc, 0.5f), *x = randoms(&r, (size_t)N_BIG * IC, 0.5f);
    float *dy = randoms(&r, (size_t)N_BIG * oc, 0.5f), *bias = randoms(&r, (size_t)oc, 0.5f);
    float *d0 = randoms(&r, (size_t)N_BIG * IC, 0.0f), *wd = malloc(sizeof(float) * IC * oc);
    float *y = malloc(sizeof(float) * N_BIG * oc), *dx = malloc(sizeof(float) * N_BIG * IC);
    REQUIRE(wd && y && dx, "memory");
    LfError err = {0};
    QuantMatrix q;
    REQUIRE(quant_matrix_quantize(&q, dtype, w, IC, oc, &err), "%s", err.msg);
    quant_matrix_dequantize_rows(&q, 0, IC, wd);
    q.dnnl_tiles = bf16_dnnl_tiles_create_f32(qmatmul_tile_rows(IC, oc), oc, &err);
    REQUIRE(q.dnnl_tiles, "%s", err.msg);
    const char *name = quant_dtype_name(dtype);
    const int rows[] = {1, 5, 40, N_BIG};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const int N = rows[i];
        qmatmul_forward(y, x, &q, bias, N, IC, oc);
        Expect f = {x, wd, bias, true, false, N, IC, oc, oc};
        size_t beyond = count_beyond_ends(f, y, false, ENDS);
        CHECK(beyond == 0, "%s %dx%dx%d forward: %zu outputs beyond the bound", name, N, IC, oc, beyond);
        for (int acc = 0; acc < 2; acc++) {
            memcpy(dx, d0, sizeof(float) * N * IC);
            qmatmul_backward(dx, dy, &q, N, IC, oc, acc);
            Expect b = {dy, wd, acc ? d0 : NULL, false, true, N, oc, IC, oc};
            beyond = count_beyond_ends(b, dx, false, ENDS);
            CHECK(beyond == 0, "%s %dx%dx%d backward (accumulate %d): %zu outputs beyond the bound", name, N, IC, oc,
                  acc, beyond);
        }
    }
    quant_matrix_free(&q);
    free(w), free(x), free(dy), free(bias), free(d0), free(wd), free(y), free(dx);
}

int main(void) {
    skip_without_dnnl();
    omp_set_num_threads(2);
    check_products();
    check_engine(QUANT_NF4, 200, 64);   /* tiles of 112 and 88 rows */
    check_engine(QUANT_INT8, 75, 130);  /* 48 and 27 */
    check_engine(QUANT_NF4, 3000, 768); /* 1008, 1008 and 984 */
    return check_done();
}
