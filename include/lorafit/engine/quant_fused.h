/* quant_fused.h - the quantized Linear's forward for a few rows, the
 * dequantization fused into the product.
 *
 * At a handful of tokens (classify of one message, the decoder's steps)
 * the tiled path (quant_matmul.h) spends its time moving each dequantized
 * tile through memory for an sgemm that has almost nothing to do. Here
 * each thread takes a slice of QFUSED_COLS output columns and QFUSED_MAX_ROWS
 * rows; for k = 0, 1, ... it dequantizes row k of W' over its slice (into
 * registers) and adds x[:, k] times it into accumulators that stay in L1.
 *
 * Values: W' exactly as quant_matrix_dequantize_rows gives it; each output
 * is sum_k (x[n, k] * W'[k, j]) summed over k in order in fp32 (a multiply
 * then an add, no fused multiply-add), then + bias. So the bits depend on
 * neither the thread count nor the path: the AVX2 one (x86-64 with AVX2 at
 * run time, util/cpu.h; nf4 needs OC a multiple of 64, int8 of 32) and the
 * portable C one agree bit for bit. Against the tiled path (another order
 * of the sums) they differ by rounding: at most about (IC + 2) * 2^-24 *
 * sum_k |x W'| + |bias| per output for either. */
#ifndef LORAFIT_QUANT_FUSED_H
#define LORAFIT_QUANT_FUSED_H

#include <stdbool.h>

#include "lorafit/engine/quant.h"

/* The accumulators' block: QFUSED_MAX_ROWS rows by QFUSED_COLS columns.
 * Up to QFUSED_FASTER_ROWS rows the fused forward beats the tiled one
 * (gpt2-small's c_fc, 768 x 3072, at one thread on Zen 3: nf4 0.94 ms
 * against 2.06 at 8 rows, 4.1 against 4.9 at 32, even at 40; int8 alike). */
enum { QFUSED_MAX_ROWS = 16, QFUSED_COLS = 64, QFUSED_FASTER_ROWS = 32 };

/* out [N, OC] = inp [N, IC] @ W' + bias [OC] (bias may be NULL), for any N
 * (rows in groups of QFUSED_MAX_ROWS). allow_simd false forces the portable
 * path (the tests compare the two). */
void qfused_forward(float *out, const float *inp, const QuantMatrix *w, const float *bias, int N, int IC, int OC,
                    bool allow_simd);

/* Whether the AVX2 decoders may run on w on this CPU (in a build not made
 * for AVX2 it asks cpuid, which costs microseconds under a hypervisor: ask
 * once, not per call). */
bool qfused_simd_usable(const QuantMatrix *w);

/* out [(r1 - r0), cols] = W'[r0 .. r1 - 1, :], quant_matrix_dequantize_rows'
 * values bit for bit, through the AVX2 decoders when cols is a multiple of
 * 64 and simd (which must be qfused_simd_usable(w); the tiled GEMMs' tiles:
 * on Zen 3, one thread, 768 x 3072, nf4 2.9 and int8 7.7 times faster than
 * the reference loop), else through it. */
void qfused_dequantize_rows(const QuantMatrix *w, int r0, int r1, float *out, bool simd);

#endif
