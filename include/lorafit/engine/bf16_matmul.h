/* bf16_matmul.h - the frozen Linears' GEMMs over a bf16 weight (a
 * QUANT_BF16 QuantMatrix [IC, OC]): bf16 inputs, fp32 sums.
 *
 *   forward   out [N, OC]  = bf16(inp) @ W' + bias
 *   backward  dinp [N, IC] = (or += when accumulate) bf16(dout) @ W'^T
 *
 * bf16(x) is x rounded to nearest even (bf16.h). Two backends multiply the
 * same values, whose products are exact in fp32, and differ only in the
 * order of the fp32 sums:
 *  - oneDNN (w->dnnl set by bf16_weights_use_dnnl): its AMX / AVX512-BF16
 *    kernels (bf16_dnnl.h);
 *  - the reference, on every CPU: the input rounded into an fp32 buffer,
 *    then quant_matmul.h's tiled GEMM over the exactly widened W'. Bitwise
 *    repeatable at the same thread count, as the engine's other GEMMs.
 *
 * Which runs is chosen once, when the weights are opened: oneDNN when this
 * build has it and the CPU has AVX512-BF16 or AMX-BF16 (bf16_usable), else
 * --base-dtype bf16 is refused. The reference is for the tests (and the
 * LORAFIT_BF16_BACKEND=reference testing aid of the command line). */
#ifndef LORAFIT_BF16_MATMUL_H
#define LORAFIT_BF16_MATMUL_H

#include <stdbool.h>
#include <stddef.h>

#include "lorafit/engine/quant.h"
#include "lorafit/engine/quant_weights.h"
#include "lorafit/util/error.h"

/* Through w->dnnl when set, else the reference. */
void bf16_matmul_forward(float *out, const float *inp, const QuantMatrix *w, const float *bias, int N, int IC,
                         int OC);
void bf16_matmul_backward(float *dinp, const float *dout, const QuantMatrix *w, int N, int IC, int OC,
                          int accumulate);

/* The reference alone, whatever w->dnnl. */
void bf16_reference_forward(float *out, const float *inp, const QuantMatrix *w, const float *bias, int N, int IC,
                            int OC);
void bf16_reference_backward(float *dinp, const float *dout, const QuantMatrix *w, int N, int IC, int OC,
                             int accumulate);

/* Whether the bf16 GEMMs can run fast here: oneDNN built in and a CPU with
 * AVX512-BF16 or AMX-BF16 (util/cpu.h). When not, err (LF_ERR_INPUT) says
 * what is missing, naming the CPU and its vector features. Loads oneDNN
 * only on a CPU with those. */
bool bf16_usable(LfError *err);

/* Gives every bf16 matrix of qw oneDNN's primitives (its forward weights
 * reordered once). False with err set when bf16_usable() is false or oneDNN
 * refuses a matrix (naming it); then none is attached. */
bool bf16_weights_use_dnnl(QuantWeights *qw, LfError *err);

/* One line on the bf16 GEMMs for `--version --verbose` and bench: oneDNN's
 * version and ISA, and whether bf16 is usable on this CPU, or why not. */
void bf16_describe(char *buf, size_t size);

#endif
