/* quant_matmul.h - the frozen Linears' GEMMs over a quantized weight.
 *
 * W' (a QuantMatrix [IC, OC], Conv1D layout) is dequantized a tile of rows
 * at a time (at most 4 MB of fp32 and half the matrix) and each tile goes
 * through gemm(), so the products are threaded as the engine's others and
 * their bits depend only on the thread count. The dequantization of a tile
 * is split over the OpenMP threads by rows; each value is computed alone,
 * so it does not depend on them at all.
 *
 * frozen_matmul_* are what the engine calls for a frozen block matrix: the
 * quantized path when the layer holds a quantized form (wq not NULL), else
 * kernels.h's matmul over the fp32 weight. */
#ifndef LORAFIT_QUANT_MATMUL_H
#define LORAFIT_QUANT_MATMUL_H

#include "lorafit/engine/quant.h"

/* out [N, OC] = inp [N, IC] @ W' + bias [OC] (bias may be NULL): up to
 * QFUSED_FASTER_ROWS rows fused (quant_fused.h), more in tiles; a bf16 W'
 * through bf16_matmul.h (bf16 inputs), in both directions. */
void qmatmul_forward(float *out, const float *inp, const QuantMatrix *w, const float *bias, int N, int IC,
                     int OC);
/* The tiled forward alone, whatever N. */
void qmatmul_forward_tiled(float *out, const float *inp, const QuantMatrix *w, const float *bias, int N, int IC,
                           int OC);
/* dinp [N, IC] (=, or += when accumulate) dout [N, OC] @ W'^T. */
void qmatmul_backward(float *dinp, const float *dout, const QuantMatrix *w, int N, int IC, int OC,
                      int accumulate);
/* The tiled backward alone, whatever the dtype. */
void qmatmul_backward_tiled(float *dinp, const float *dout, const QuantMatrix *w, int N, int IC, int OC,
                            int accumulate);

void frozen_matmul_forward(float *out, const float *inp, const float *w, const QuantMatrix *wq,
                           const float *bias, int N, int IC, int OC);
void frozen_matmul_backward(float *dinp, const float *dout, const float *w, const QuantMatrix *wq, int N,
                            int IC, int OC, int accumulate);

#endif
