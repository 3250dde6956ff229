/* quant_file.h - quantized block matrices in a safetensors model file.
 *
 * `lorafit quantize` writes model.safetensors with the four Linear weights
 * of every block (h.N.attn.c_attn.weight, attn.c_proj, mlp.c_fc,
 * mlp.c_proj) replaced by their quantized forms, and the metadata
 *   "lorafit.base_dtype": "nf4" or "int8",
 *   "lorafit.quant_layout": QUANT_FILE_LAYOUT_NF4 / _INT8 below, in words,
 *   "lorafit.fingerprint": the fp32 model's fingerprint (16 hex digits),
 *     so that adapters trained on either are recognized as the same base.
 * For a weight NAME of shape [in, out] (n = in * out, flattened row-major):
 *   nf4:  NAME.codes U8 [(n + 1) / 2], NAME.absmax_codes U8 [ceil(n / 64)],
 *         NAME.absmax_scales F32 [ceil(n / 16384)], NAME.absmax_offset F32 [1];
 *   int8: NAME.codes I8 [n], NAME.scales F32 [ceil(n / 32)].
 * (engine/quant.h says what the codes mean.) Everything else in the file is
 * as in an fp32 checkpoint. The reader uses the tensors in place from the
 * mapping, and refuses a missing tensor, a wrong dtype or a wrong element
 * count, naming the tensor. */
#ifndef LORAFIT_QUANT_FILE_H
#define LORAFIT_QUANT_FILE_H

#include <stdbool.h>
#include <stdint.h>

#include "lorafit/engine/quant.h"
#include "lorafit/io/safetensors.h"
#include "lorafit/util/error.h"

#define QUANT_FILE_DTYPE_KEY "lorafit.base_dtype"
#define QUANT_FILE_LAYOUT_KEY "lorafit.quant_layout"
#define QUANT_FILE_FINGERPRINT_KEY "lorafit.fingerprint"

/* The file's base dtype: QUANT_F32 when it has no such metadata. False (an
 * error naming the file) for a value other than nf4 / int8. */
bool quant_file_dtype(const StFile *st, QuantDtype *out, LfError *err);

/* The layout sentence stored under QUANT_FILE_LAYOUT_KEY. */
const char *quant_file_layout(QuantDtype d);

/* Adds q's tensors under NAME.<part> (names copied; q's arrays must stay
 * valid until the writer saves). */
bool quant_file_add(StWriter *sw, const char *name, const QuantMatrix *q, LfError *err);

/* Points q at the tensors of weight `name` (the file's spelling, prefix
 * included) of shape [rows, cols] in dtype d. */
bool quant_file_read(const StFile *st, const char *name, QuantDtype d, int rows, int cols, QuantMatrix *q,
                     LfError *err);

/* Whether `suffix` (what follows a weight's name, ".codes") names one of
 * the tensors of a dtype-d matrix. */
bool quant_file_is_part(QuantDtype d, const char *suffix);

#endif
