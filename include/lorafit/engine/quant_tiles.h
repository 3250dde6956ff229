/* quant_tiles.h - the precision of the int8 and nf4 GEMMs' tiles, and those
 * GEMMs over oneDNN's bf16 matmul.
 *
 * The tiled GEMMs of an int8 or nf4 W' [IC, OC] (quant_matmul.h) decode it
 * a tile of rows at a time. In fp32 tiles (QuantMatrix.tiles QUANT_F32, the
 * default) each tile goes through the engine's gemm(). In bf16 tiles
 * (QUANT_BF16) the decoded values are rounded to nearest even, as the
 * inputs are, and the products summed in fp32:
 *   forward   out [N, OC]  = bf16(inp) @ bf16(W') + bias
 *   backward  dinp [N, IC] = (or += when accumulate) bf16(dout) @ bf16(W')^T
 * as QLoRA computes in bf16, and as a bf16 base does with W' = bf16(W)
 * (bf16_matmul.h): the same two backends, which multiply the same values
 * and differ only in the order of their sums.
 *  - oneDNN (w->dnnl_tiles): the inputs rounded once a GEMM, the forward's
 *    laid out as one dense [N, k] panel per tile; each tile decoded
 *    straight to bf16 (qmatmul_decode_tile) and multiplied by a primitive
 *    that takes it by pointer (bf16_dnnl.h); the forward sums the tiles'
 *    products into out with oneDNN's sum post-op, the backward writes each
 *    into a dense [N, k] buffer copied (or added) into dinp's columns.
 *  - the reference: bf16_matmul.h's, i.e. the inputs rounded, then
 *    quant_matmul.h's tiled GEMM over the rounded tiles: the same tiles and
 *    the same gemm() calls as a QUANT_BF16 matrix holding bf16(W'), so the
 *    same bits.
 * The fused forward of a few rows (quant_fused.h) stays fp32 in both.
 *
 * The choice is made once, when the weights are opened (cli/session.c):
 * bf16 tiles on oneDNN when bf16_usable() and oneDNN accepts the tile
 * primitives of every matrix; fp32 tiles otherwise, as before this module
 * (on a CPU without AVX512-BF16 or AMX-BF16 nothing changes); bf16 tiles on
 * the reference on request (a testing aid: LORAFIT_BF16_BACKEND=reference). */
#ifndef LORAFIT_QUANT_TILES_H
#define LORAFIT_QUANT_TILES_H

#include <stdbool.h>

#include "lorafit/engine/quant.h"
#include "lorafit/engine/weights.h"
#include "lorafit/util/error.h"

/* Sets the tiles of the int8 and nf4 matrices among mats[0 .. n - 1] (a
 * model's, in quant_weights.h's order, which names them in messages; other
 * dtypes are left alone). With reference, bf16 on the reference; else bf16
 * on oneDNN where it can, and true; where not, fp32, and false with why
 * saying why (bf16_usable()'s message, or what oneDNN refused). */
bool quant_tiles_choose(QuantMatrix *mats, int n, bool reference, LfError *why);

/* "fp32", "bf16" (on oneDNN) or "bf16-reference": the tiles of w's int8 or
 * nf4 block matrices; NULL when it holds none. */
const char *quant_tiles_name(const Gpt2Weights *w);

/* The GEMMs through w->dnnl_tiles (which must be set), bf16 or, for the
 * tests' fp32 twin (bf16_dnnl_tiles_create_f32), fp32 operands. */
void quant_tiles_dnnl_forward(float *out, const float *inp, const QuantMatrix *w, const float *bias, int N, int IC,
                              int OC);
void quant_tiles_dnnl_backward(float *dinp, const float *dout, const QuantMatrix *w, int N, int IC, int OC,
                               int accumulate);

#endif
