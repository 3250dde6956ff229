/* quant.h - the frozen base's weights held in 4 or 8 bits: bitsandbytes'
 * NF4 with double-quantized scales, and GGML Q8_0-style int8.
 *
 * A QuantMatrix stands for an fp32 matrix W [rows, cols] (row-major, the
 * engine's Conv1D layout [in, out]), flattened: element e = r * cols + c.
 * Blocks run over the flattened elements, so a block may straddle rows and
 * the last one may be partial.
 *
 * NF4 (bitsandbytes quantize_4bit, quant_type "nf4", blocksize 64,
 * compress_statistics): per block of 64 an absmax; each weight x = w *
 * (1 / absmax) takes the code of dQuantizeNF4's decision tree (code = the
 * number of the 15 midpoints t with x > t); two codes a byte, element 2i in
 * the HIGH nibble of byte i and 2i + 1 in the low one (as kQuantizeBlockwise
 * packs). The absmaxes are double-quantized: offset = their mean, and
 * (absmax - offset) in blocks of 256 coded over bitsandbytes' signed dynamic
 * 8-bit map (create_dynamic_map(signed=True)) with an fp32 absmax2 a block.
 * W'[e] = NF4[code] * (map[acode] * absmax2 + offset), every step in fp32.
 *
 * int8 (GGML quantize_row_q8_0_ref, blocks of 32): d = amax / 127,
 * q = roundf(w * (1 / d)), W'[e] = q * d.
 *
 * Where this departs from bitsandbytes and GGML (also in
 * scripts/reference/quant_ref.py, which the tests hold this to, value for
 * value):
 *  - an all-zero NF4 block gets code 7 (level 0.0), not the NaN that
 *    bitsandbytes' 0 * (1/0) gives; a reciprocal that overflows (subnormal
 *    absmax) is replaced by a division;
 *  - the absmax mean is a sequential double sum rounded to fp32 (torch's
 *    fp32 mean sums in another order, so the last bit may differ);
 *  - the dynamic-map code is the nearest entry, ties to the lower code
 *    (bitsandbytes' binary search with midpoints agrees but for exact
 *    midpoints); a block of equal absmaxes gets absmax2 0 and the code of 0;
 *  - int8's d is kept in fp32 (Q8_0 stores fp16): 36 bytes a block instead
 *    of 34, but no overflow past 65504 * 127 nor lost digits below 6e-5.
 *
 * bf16 (engine/bf16.h): each weight rounded to nearest even, as torch's
 * .bfloat16(); codes hold the rows * cols values (uint16_t, 2 bytes each),
 * no scales; W' is their exact widening. Its GEMMs are bf16 ones, the
 * activations rounded too (bf16_matmul.h), not fp32 GEMMs of W'. */
#ifndef LORAFIT_QUANT_H
#define LORAFIT_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lorafit/util/error.h"

typedef enum { QUANT_F32 = 0, QUANT_INT8, QUANT_NF4, QUANT_BF16 } QuantDtype;

struct Bf16Dnnl;
struct Bf16DnnlTiles;

enum { QUANT_NF4_BLOCK = 64, QUANT_NF4_ABSMAX_BLOCK = 256, QUANT_INT8_BLOCK = 32 };

typedef struct {
    QuantDtype dtype;       /* QUANT_INT8, QUANT_NF4 or QUANT_BF16 */
    int rows, cols;
    const uint8_t *codes;   /* nf4: quant_codes_bytes() packed nibbles; int8: rows * cols int8;
                               bf16: rows * cols uint16_t, 2-byte aligned */
    const float *scales;    /* int8: d a block of 32; nf4: absmax2 a block of 256 absmaxes */
    const uint8_t *absmax_codes; /* nf4: one a block of 64 */
    float absmax_offset;    /* nf4 */
    void *owned;            /* the arrays' allocation when quant_matrix_quantize made them */
    struct Bf16Dnnl *dnnl;  /* bf16: oneDNN's primitives for W' (bf16_dnnl.h), freed with q; NULL:
                               the reference GEMMs */
    QuantDtype tiles;       /* int8, nf4: what the tiled GEMMs decode W' into: QUANT_F32 (0, the
                               default) or QUANT_BF16, the activations rounded too (quant_tiles.h) */
    struct Bf16DnnlTiles *dnnl_tiles; /* int8, nf4: oneDNN's products of those tiles (bf16_dnnl.h),
                                         freed with q; NULL: gemm() */
} QuantMatrix;

/* "fp32", "int8", "nf4", "bf16". */
const char *quant_dtype_name(QuantDtype d);
/* Parses those names; false for anything else. */
bool quant_dtype_parse(const char *s, QuantDtype *out);

/* Sizes of the arrays for n = rows * cols weights. */
size_t quant_codes_bytes(QuantDtype d, size_t n);
size_t quant_scale_count(QuantDtype d, size_t n);  /* entries of scales */
size_t quant_nf4_absmax_count(size_t n);            /* entries of absmax_codes */

/* The 16 NF4 levels and the 256 entries of the dynamic map. */
extern const float quant_nf4_levels[16];
extern const float quant_dynamic_map[256];

/* Quantizes w [rows, cols] into q (arrays allocated in one block, freed by
 * quant_matrix_free, with q->dnnl). Fails, naming nothing but the element, on a weight
 * that is not finite: callers prefix the tensor's name. */
bool quant_matrix_quantize(QuantMatrix *q, QuantDtype dtype, const float *w, int rows, int cols,
                           LfError *err);
void quant_matrix_free(QuantMatrix *q);

/* out [(r1 - r0), cols] = W'[r0 .. r1 - 1, :] (serial; callers thread over
 * row ranges). */
void quant_matrix_dequantize_rows(const QuantMatrix *q, int r0, int r1, float *out);
/* out [e1 - e0] = W'[e0 .. e1 - 1] over the flattened elements (serial): any
 * range, a part of a row too, the same values as whole rows give. */
void quant_matrix_dequantize_range(const QuantMatrix *q, size_t e0, size_t e1, float *out);

/* Bytes the quantized form takes (codes and scales). */
size_t quant_matrix_bytes(const QuantMatrix *q);

#endif
