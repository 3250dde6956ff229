/* quant_matmul.h - the frozen Linears' GEMMs over a quantized weight.
 *
 * W' (a QuantMatrix [IC, OC], Conv1D layout) is dequantized a tile of rows
 * at a time (at most 4 MB of fp32 and half the matrix) and each tile goes
 * through gemm(), so the products are threaded as the engine's others and
 * their bits depend only on the thread count. The dequantization of a tile
 * is split over the OpenMP threads by rows; each value is computed alone,
 * so it does not depend on them at all.
 *
 * With bf16 tiles (w->tiles, chosen when the weights are opened:
 * quant_tiles.h) the tiles are rounded to bf16 and the inputs too: on
 * oneDNN when w->dnnl_tiles is set, else on the reference arithmetic, which
 * is bf16_matmul.h's (the inputs rounded, then the tiled GEMMs below over
 * the rounded tiles). The fused few-row forward stays fp32 either way: it
 * is bound by decoding, not by the multiply.
 *
 * frozen_matmul_* are what the engine calls for a frozen block matrix: the
 * quantized path when the layer holds a quantized form (wq not NULL), else
 * kernels.h's matmul over the fp32 weight. */
#ifndef LORAFIT_QUANT_MATMUL_H
#define LORAFIT_QUANT_MATMUL_H

#include <stdbool.h>
#include <stddef.h>

#include "lorafit/engine/quant.h"

/* out [N, OC] = inp [N, IC] @ W' + bias [OC] (bias may be NULL): up to
 * QFUSED_FASTER_ROWS rows fused (quant_fused.h), more in tiles (fp32 or
 * bf16, as w->tiles says); a bf16 W' through bf16_matmul.h (bf16 inputs),
 * in both directions. */
void qmatmul_forward(float *out, const float *inp, const QuantMatrix *w, const float *bias, int N, int IC,
                     int OC);
/* The tiled forward alone, whatever N, through gemm() (the tiles rounded
 * to bf16 values when w->tiles is QUANT_BF16; the inputs as given). */
void qmatmul_forward_tiled(float *out, const float *inp, const QuantMatrix *w, const float *bias, int N, int IC,
                           int OC);
/* dinp [N, IC] (=, or += when accumulate) dout [N, OC] @ W'^T. */
void qmatmul_backward(float *dinp, const float *dout, const QuantMatrix *w, int N, int IC, int OC,
                      int accumulate);
/* The tiled backward alone, whatever the dtype, as the forward. */
void qmatmul_backward_tiled(float *dinp, const float *dout, const QuantMatrix *w, int N, int IC, int OC,
                            int accumulate);

/* Rows of W' a tile: the matrix cut into equal tiles (a multiple of 16
 * rows; the last may be shorter) of at most 4 MB of fp32 and half the
 * matrix, as few as those limits allow. */
int qmatmul_tile_rows(int IC, int OC);
/* tile [k1 - k0, OC] = W'[k0 .. k1 - 1, :] over the OpenMP threads (the
 * same bits whatever their count): fp32 (float), or, when bf16, each value
 * rounded to nearest even (uint16_t, bf16.h) without an fp32 tile. simd:
 * qfused_simd_usable(w). */
void qmatmul_decode_tile(const QuantMatrix *w, int k0, int k1, void *tile, bool bf16, bool simd);
/* out [N, OC] += bias [OC] (none when NULL), over the threads. */
void qmatmul_add_bias(float *out, const float *bias, int N, int OC);

void frozen_matmul_forward(float *out, const float *inp, const float *w, const QuantMatrix *wq,
                           const float *bias, int N, int IC, int OC);
void frozen_matmul_backward(float *dinp, const float *dout, const float *w, const QuantMatrix *wq, int N,
                            int IC, int OC, int accumulate);

#endif
