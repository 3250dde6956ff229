/* quant_tiles.c - see include/lorafit/engine/quant_tiles.h */
#include "lorafit/engine/quant_tiles.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/engine/bf16.h"
#include "lorafit/engine/bf16_dnnl.h"
#include "lorafit/engine/bf16_matmul.h"
#include "lorafit/engine/quant_fused.h"
#include "lorafit/engine/quant_matmul.h"
#include "lorafit/engine/quant_weights.h"
#include "lorafit/util/mem.h"

static bool has_tiles(const QuantMatrix *q) { return q->dtype == QUANT_INT8 || q->dtype == QUANT_NF4; }

static void tiles_detach(QuantMatrix *mats, int n) {
    for (int k = 0; k < n; k++) {
        bf16_dnnl_tiles_free(mats[k].dnnl_tiles);
        mats[k].dnnl_tiles = NULL;
        mats[k].tiles = QUANT_F32;
    }
}

bool quant_tiles_choose(QuantMatrix *mats, int n, bool reference, LfError *why) {
    if (!reference && !bf16_usable(why)) return false;
    for (int k = 0; k < n; k++) {
        QuantMatrix *q = &mats[k];
        if (!has_tiles(q)) continue;
        q->tiles = QUANT_BF16;
        if (reference) continue;
        if (!(q->dnnl_tiles = bf16_dnnl_tiles_create(qmatmul_tile_rows(q->rows, q->cols), q->cols, why))) {
            lf_error_prefix(why, "h.%d.%s", k / QUANT_MATS_PER_LAYER,
                            quant_block_matrices[k % QUANT_MATS_PER_LAYER].name);
            tiles_detach(mats, k + 1);
            return false;
        }
    }
    return true;
}

const char *quant_tiles_name(const Gpt2Weights *w) {
    for (int l = 0; l < w->cfg.n_layer; l++)
        for (int i = 0; i < QUANT_MATS_PER_LAYER; i++) {
            const QuantMatrix *q = *quant_layer_q(&w->layers[l], i);
            if (q && has_tiles(q))
                return q->tiles != QUANT_BF16 ? "fp32" : q->dnnl_tiles ? "bf16" : "bf16-reference";
        }
    return NULL;
}

/* inp [N, IC] as one dense [N, k] panel per tile of kt rows (the panel of
 * the tile at row k0 at element N * k0), bf16 or fp32. */
static void *panels_of(const float *inp, int N, int IC, int kt, bool bf16) {
    void *p = mem_alloc_or_abort((size_t)N * IC * (bf16 ? sizeof(uint16_t) : sizeof(float)), "the inputs");
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++)
        for (int k0 = 0; k0 < IC; k0 += kt) {
            const int k = k0 + kt < IC ? kt : IC - k0;
            const float *src = inp + (size_t)n * IC + k0;
            const size_t at = (size_t)N * k0 + (size_t)n * k;
            if (!bf16) {
                memcpy((float *)p + at, src, (size_t)k * sizeof *src);
                continue;
            }
            uint16_t *dst = (uint16_t *)p + at;
            for (int j = 0; j < k; j++) dst[j] = bf16_from_f32(src[j]);
        }
    return p;
}

void quant_tiles_dnnl_forward(float *out, const float *inp, const QuantMatrix *w, const float *bias, int N, int IC,
                              int OC) {
    if (N <= 0) return;
    Bf16DnnlTiles *t = w->dnnl_tiles;
    const bool bf16 = bf16_dnnl_tiles_bf16(t), simd = qfused_simd_usable(w);
    const size_t size = bf16 ? sizeof(uint16_t) : sizeof(float);
    const int kt = qmatmul_tile_rows(IC, OC);
    char *x = panels_of(inp, N, IC, kt, bf16);
    void *tile = mem_alloc_or_abort((size_t)kt * OC * size, "a dequantization tile");
    for (int k0 = 0; k0 < IC; k0 += kt) {
        const int k = k0 + kt < IC ? kt : IC - k0;
        qmatmul_decode_tile(w, k0, k0 + k, tile, bf16, simd);
        bf16_dnnl_tile_forward(t, out, x + (size_t)N * k0 * size, tile, N, k, k0 > 0);
    }
    free(tile);
    free(x);
    qmatmul_add_bias(out, bias, N, OC);
}

void quant_tiles_dnnl_backward(float *dinp, const float *dout, const QuantMatrix *w, int N, int IC, int OC,
                               int accumulate) {
    if (N <= 0) return;
    Bf16DnnlTiles *t = w->dnnl_tiles;
    const bool bf16 = bf16_dnnl_tiles_bf16(t), simd = qfused_simd_usable(w);
    const int kt = qmatmul_tile_rows(IC, OC);
    uint16_t *dy16 = NULL;
    if (bf16) {
        dy16 = mem_alloc_or_abort((size_t)N * OC * sizeof *dy16, "the gradients");
        bf16_from_f32_array(dy16, dout, (size_t)N * OC);
    }
    float *dx = mem_alloc_or_abort((size_t)N * kt * sizeof *dx, "a tile's gradients");
    void *tile = mem_alloc_or_abort((size_t)kt * OC * (bf16 ? sizeof(uint16_t) : sizeof(float)), "a dequantization tile");
    for (int k0 = 0; k0 < IC; k0 += kt) {
        const int k = k0 + kt < IC ? kt : IC - k0;
        qmatmul_decode_tile(w, k0, k0 + k, tile, bf16, simd);
        bf16_dnnl_tile_backward(t, dx, bf16 ? (const void *)dy16 : dout, tile, N, k);
#pragma omp parallel for schedule(static)
        for (int n = 0; n < N; n++) {
            float *d = dinp + (size_t)n * IC + k0;
            const float *s = dx + (size_t)n * k;
            if (accumulate)
                for (int j = 0; j < k; j++) d[j] += s[j];
            else
                memcpy(d, s, (size_t)k * sizeof *d);
        }
    }
    free(tile);
    free(dx);
    free(dy16);
}
