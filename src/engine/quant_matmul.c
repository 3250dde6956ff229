/* quant_matmul.c - GEMMs over quantized weights, a tile at a time. See
 * include/lorafit/engine/quant_matmul.h. */
#include "lorafit/engine/quant_matmul.h"

#include <stdlib.h>

#include "lorafit/engine/bf16.h"
#include "lorafit/engine/bf16_matmul.h"
#include "lorafit/engine/kernels.h"
#include "lorafit/engine/quant_fused.h"
#include "lorafit/engine/quant_tiles.h"
#include "lorafit/util/mem.h"

/* At most 4 MB of fp32 a tile, and at most half the matrix, so the whole
 * fp32 matrix never exists at once. Smaller tiles cost more than their
 * dequantization: each is a GEMM with a short K (the forward re-reads and
 * re-writes the whole output once a tile) or a narrow N (the backward), and
 * OpenBLAS packs its panels again for each. At 960 rows, 1 MB tiles made
 * nf4's GEMMs 8-25% slower than fp32's, 4 MB tiles 2-9%. */
enum { TILE_FLOATS = 1 << 20 };

int qmatmul_tile_rows(int IC, int OC) {
    size_t floats = (size_t)IC * (size_t)(OC > 0 ? OC : 1);
    size_t tiles = (floats + TILE_FLOATS - 1) / TILE_FLOATS;
    if (tiles < 2) tiles = 2;
    int kt = (int)(((size_t)IC + tiles - 1) / tiles);
    kt = (kt + 15) / 16 * 16;
    return kt < IC ? kt : IC;
}

/* Over the threads in runs of 8 rows: each value alone, so the threads
 * change no bit. */
static void dequantize_tile(const QuantMatrix *w, int k0, int k1, float *tile, bool simd) {
    const int OC = w->cols;
#pragma omp parallel for schedule(static)
    for (int k = k0; k < k1; k += 8)
        qfused_dequantize_rows(w, k, k + 8 < k1 ? k + 8 : k1, tile + (size_t)(k - k0) * OC, simd);
}

/* The bf16 tile through 8 rows of fp32 a thread at a time (in L2), not a
 * whole fp32 tile. */
static void dequantize_tile_bf16(const QuantMatrix *w, int k0, int k1, uint16_t *tile, bool simd) {
    const int OC = w->cols;
#pragma omp parallel
    {
        float *rows = mem_alloc_or_abort((size_t)8 * OC * sizeof *rows, "dequantized rows");
#pragma omp for schedule(static)
        for (int k = k0; k < k1; k += 8) {
            const int e = k + 8 < k1 ? k + 8 : k1;
            qfused_dequantize_rows(w, k, e, rows, simd);
            uint16_t *dst = tile + (size_t)(k - k0) * OC;
            for (size_t i = 0; i < (size_t)(e - k) * OC; i++) dst[i] = bf16_from_f32(rows[i]);
        }
        free(rows);
    }
}

void qmatmul_decode_tile(const QuantMatrix *w, int k0, int k1, void *tile, bool bf16, bool simd) {
    if (bf16) dequantize_tile_bf16(w, k0, k1, tile, simd);
    else dequantize_tile(w, k0, k1, tile, simd);
}

void qmatmul_add_bias(float *out, const float *bias, int N, int OC) {
    if (!bias) return;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++)
        for (int j = 0; j < OC; j++) out[(size_t)n * OC + j] += bias[j];
}

void qmatmul_forward(float *out, const float *inp, const QuantMatrix *w, const float *bias, int N, int IC,
                     int OC) {
    if (w->dtype == QUANT_BF16) bf16_matmul_forward(out, inp, w, bias, N, IC, OC);
    else if (N <= QFUSED_FASTER_ROWS) qfused_forward(out, inp, w, bias, N, IC, OC, true);
    else if (w->dnnl_tiles) quant_tiles_dnnl_forward(out, inp, w, bias, N, IC, OC);
    else if (w->tiles == QUANT_BF16) bf16_reference_forward(out, inp, w, bias, N, IC, OC);
    else qmatmul_forward_tiled(out, inp, w, bias, N, IC, OC);
}

/* The tile of rows k0 .. k1 - 1 in fp32, rounded to bf16 values for bf16
 * tiles on the reference (the widening of qmatmul_decode_tile's bf16). */
static void tile_fp32(const QuantMatrix *w, int k0, int k1, float *tile, bool simd) {
    dequantize_tile(w, k0, k1, tile, simd);
    if (w->tiles == QUANT_BF16) bf16_round_array(tile, tile, (size_t)(k1 - k0) * w->cols);
}

void qmatmul_forward_tiled(float *out, const float *inp, const QuantMatrix *w, const float *bias, int N, int IC,
                           int OC) {
    const int kt = qmatmul_tile_rows(IC, OC);
    const bool simd = qfused_simd_usable(w);
    float *tile = mem_alloc_or_abort((size_t)kt * OC * sizeof *tile, "a dequantization tile");
    for (int k0 = 0; k0 < IC; k0 += kt) {
        int k1 = k0 + kt < IC ? k0 + kt : IC;
        tile_fp32(w, k0, k1, tile, simd);
        gemm(false, false, N, OC, k1 - k0, 1.0f, inp + k0, IC, tile, OC, k0 ? 1.0f : 0.0f, out, OC);
    }
    free(tile);
    qmatmul_add_bias(out, bias, N, OC);
}

void qmatmul_backward(float *dinp, const float *dout, const QuantMatrix *w, int N, int IC, int OC,
                      int accumulate) {
    if (w->dtype == QUANT_BF16) bf16_matmul_backward(dinp, dout, w, N, IC, OC, accumulate);
    else if (w->dnnl_tiles) quant_tiles_dnnl_backward(dinp, dout, w, N, IC, OC, accumulate);
    else if (w->tiles == QUANT_BF16) bf16_reference_backward(dinp, dout, w, N, IC, OC, accumulate);
    else qmatmul_backward_tiled(dinp, dout, w, N, IC, OC, accumulate);
}

void qmatmul_backward_tiled(float *dinp, const float *dout, const QuantMatrix *w, int N, int IC, int OC,
                            int accumulate) {
    const int kt = qmatmul_tile_rows(IC, OC);
    const bool simd = qfused_simd_usable(w);
    float *tile = mem_alloc_or_abort((size_t)kt * OC * sizeof *tile, "a dequantization tile");
    for (int k0 = 0; k0 < IC; k0 += kt) {
        int k1 = k0 + kt < IC ? k0 + kt : IC;
        tile_fp32(w, k0, k1, tile, simd);
        gemm(false, true, N, k1 - k0, OC, 1.0f, dout, OC, tile, OC, accumulate ? 1.0f : 0.0f, dinp + k0, IC);
    }
    free(tile);
}

void frozen_matmul_forward(float *out, const float *inp, const float *w, const QuantMatrix *wq,
                           const float *bias, int N, int IC, int OC) {
    if (wq) qmatmul_forward(out, inp, wq, bias, N, IC, OC);
    else matmul_forward(out, inp, w, bias, N, IC, OC);
}

void frozen_matmul_backward(float *dinp, const float *dout, const float *w, const QuantMatrix *wq, int N,
                            int IC, int OC, int accumulate) {
    if (wq) qmatmul_backward(dinp, dout, wq, N, IC, OC, accumulate);
    else matmul_backward(dinp, dout, w, N, IC, OC, accumulate);
}
