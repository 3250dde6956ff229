/* test_quant_tiles.c - int8 and nf4 GEMMs in bf16 tiles on the reference
 * arithmetic (every CPU): out = bf16(x) @ bf16(W'), fp32 sums.
 *
 * For each dtype and shape (rows IC not a multiple of the tile: a shorter
 * last tile; one with three tiles; OC a multiple of 64, where the AVX2
 * decoders run, and not), forward with a bias at 33 and 100 rows, backward
 * with and without accumulation at 1, 5 and 100 rows:
 *  - bitwise equal to the bf16 base's reference GEMMs (bf16_matmul.h) over
 *    a QUANT_BF16 matrix built from bf16(dequantize(W')) (same tiles, same
 *    gemm() calls, same values);
 *  - and, independently, within the fp32 summation bound (bf16_expect.h)
 *    of the exact sum in double over the rounded inputs and the rounded
 *    reference dequantization (quant_matrix_dequantize_rows);
 *  - and not the fp32 tiles' result (the rounding happens).
 * A forward of 32 rows or fewer is the fused fp32 one, bit for bit. The
 * bf16 tile decoder (qmatmul_decode_tile, the one oneDNN's path uses) gives
 * bf16_from_f32 of the reference dequantization, with and without AVX2. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "bf16_expect.h"
#include "check.h"
#include "lorafit/engine/bf16_matmul.h"
#include "lorafit/engine/quant_fused.h"
#include "lorafit/engine/quant_matmul.h"
#include "lorafit/engine/quant_tiles.h"
#include "lorafit/util/rng.h"

enum { MAX_ROWS = 100, CHECKED = 6 };

static float *randoms(Rng *r, size_t n, float scale, float shift) {
    float *a = malloc(n * sizeof *a);
    REQUIRE(a, "memory");
    for (size_t i = 0; i < n; i++) a[i] = scale * (rng_float(r) - shift);
    return a;
}

static void check_decoder(const QuantMatrix *q, const float *wd) {
    const int k0 = 16, k1 = q->rows < 40 ? q->rows : 40, OC = q->cols;
    uint16_t *tile = malloc(sizeof *tile * (size_t)(k1 - k0) * OC);
    REQUIRE(tile, "memory");
    for (int simd = 0; simd < 2; simd++) {
        qmatmul_decode_tile(q, k0, k1, tile, true, simd && qfused_simd_usable(q));
        size_t wrong = 0;
        for (size_t i = 0; i < (size_t)(k1 - k0) * OC; i++) wrong += tile[i] != bf16_from_f32(wd[(size_t)k0 * OC + i]);
        CHECK(wrong == 0, "%s %dx%d: %zu bf16 tile values wrong (simd %d)", quant_dtype_name(q->dtype), q->rows, OC,
              wrong, simd);
    }
    free(tile);
}

static void check_shape(QuantDtype dtype, int IC, int OC) {
    Rng r;
    rng_seed(&r, (uint64_t)(IC * 7 + OC + dtype));
    float *w = randoms(&r, (size_t)IC * OC, 0.2f, 0.5f), *x = randoms(&r, (size_t)MAX_ROWS * IC, 1.0f, 0.5f);
    float *dy = randoms(&r, (size_t)MAX_ROWS * OC, 1.0f, 0.5f), *bias = randoms(&r, (size_t)OC, 1.0f, 0.5f);
    float *d0 = randoms(&r, (size_t)MAX_ROWS * IC, 1.0f, 0.0f), *wd = malloc(sizeof(float) * IC * OC);
    float *y[3], *dx[3];
    for (int i = 0; i < 3; i++) {
        y[i] = malloc(sizeof(float) * MAX_ROWS * OC);
        dx[i] = malloc(sizeof(float) * MAX_ROWS * IC);
        REQUIRE(y[i] && dx[i], "memory");
    }
    REQUIRE(wd, "memory");
    LfError err = {0};
    QuantMatrix q, qb;
    REQUIRE(quant_matrix_quantize(&q, dtype, w, IC, OC, &err), "%s", err.msg);
    quant_matrix_dequantize_rows(&q, 0, IC, wd);
    check_decoder(&q, wd);
    REQUIRE(quant_matrix_quantize(&qb, QUANT_BF16, wd, IC, OC, &err), "%s", err.msg); /* bf16(W') */
    float *wr = malloc(sizeof(float) * IC * OC);
    REQUIRE(wr, "memory");
    bf16_round_array(wr, wd, (size_t)IC * OC);
    REQUIRE(quant_tiles_choose(&q, 1, true, &err) && q.tiles == QUANT_BF16 && !q.dnnl_tiles, "reference tiles");
    const char *name = quant_dtype_name(dtype);

    const int fwd_rows[] = {33, MAX_ROWS};
    for (size_t i = 0; i < sizeof fwd_rows / sizeof fwd_rows[0]; i++) {
        const int N = fwd_rows[i];
        qmatmul_forward(y[0], x, &q, bias, N, IC, OC);
        bf16_matmul_forward(y[1], x, &qb, bias, N, IC, OC);
        CHECK(memcmp(y[0], y[1], sizeof(float) * N * OC) == 0, "%s %dx%dx%d forward: not the bf16 base's bits",
              name, N, IC, OC);
        Expect e = {x, wr, bias, true, false, N, IC, OC, OC};
        size_t beyond = count_beyond_ends(e, y[0], true, CHECKED);
        CHECK(beyond == 0, "%s %dx%dx%d forward: %zu outputs beyond the bound", name, N, IC, OC, beyond);
        q.tiles = QUANT_F32;
        qmatmul_forward(y[2], x, &q, bias, N, IC, OC);
        q.tiles = QUANT_BF16;
        CHECK(memcmp(y[0], y[2], sizeof(float) * N * OC) != 0, "%s %dx%dx%d forward: fp32 tiles' bits", name, N, IC,
              OC);
    }
    /* the fused few-row forward stays fp32 */
    qmatmul_forward(y[0], x, &q, bias, 5, IC, OC);
    qfused_forward(y[1], x, &q, bias, 5, IC, OC, true);
    CHECK(memcmp(y[0], y[1], sizeof(float) * 5 * OC) == 0, "%s 5 rows: not the fused fp32 forward", name);

    const int bwd_rows[] = {1, 5, MAX_ROWS};
    for (size_t i = 0; i < sizeof bwd_rows / sizeof bwd_rows[0]; i++) {
        const int N = bwd_rows[i];
        for (int acc = 0; acc < 2; acc++) {
            for (int k = 0; k < 3; k++) memcpy(dx[k], d0, sizeof(float) * N * IC);
            qmatmul_backward(dx[0], dy, &q, N, IC, OC, acc);
            bf16_matmul_backward(dx[1], dy, &qb, N, IC, OC, acc);
            CHECK(memcmp(dx[0], dx[1], sizeof(float) * N * IC) == 0,
                  "%s %dx%dx%d backward (accumulate %d): not the bf16 base's bits", name, N, IC, OC, acc);
            Expect e = {dy, wr, acc ? d0 : NULL, false, true, N, OC, IC, OC};
            size_t beyond = count_beyond_ends(e, dx[0], true, CHECKED);
            CHECK(beyond == 0, "%s %dx%dx%d backward (accumulate %d): %zu outputs beyond the bound", name, N, IC, OC,
                  acc, beyond);
            q.tiles = QUANT_F32;
            qmatmul_backward(dx[2], dy, &q, N, IC, OC, acc);
            q.tiles = QUANT_BF16;
            CHECK(memcmp(dx[0], dx[2], sizeof(float) * N * IC) != 0, "%s %dx%dx%d backward: fp32 tiles' bits", name,
                  N, IC, OC);
        }
    }
    quant_matrix_free(&q);
    quant_matrix_free(&qb);
    for (int i = 0; i < 3; i++) free(y[i]), free(dx[i]);
    free(w), free(x), free(dy), free(bias), free(d0), free(wd), free(wr);
}

int main(void) {
    omp_set_num_threads(2);
    const QuantDtype dtypes[] = {QUANT_NF4, QUANT_INT8};
    /* the tiles the shapes below are chosen for (quant_matmul.h: equal tiles, 16-row multiples, at most
     * 2^20 floats and half the matrix) */
    CHECK(qmatmul_tile_rows(200, 64) == 112 && qmatmul_tile_rows(75, 130) == 48 &&
              qmatmul_tile_rows(3000, 768) == 1008,
          "tile rows %d, %d, %d", qmatmul_tile_rows(200, 64), qmatmul_tile_rows(75, 130), qmatmul_tile_rows(3000, 768));
    for (int d = 0; d < 2; d++) {
        check_shape(dtypes[d], 200, 64);  /* two tiles, 112 and 88 rows; the AVX2 decoders */
        check_shape(dtypes[d], 75, 130);   /* tiles of 48 and 27 rows; the portable decoder */
        check_shape(dtypes[d], 3000, 768); /* three tiles, 1008, 1008 and 984 rows */
    }
    return check_done();
}
