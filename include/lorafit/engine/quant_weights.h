/* quant_weights.h - a GPT-2's frozen block matrices quantized, beside the
 * rest of its weights.
 *
 * quant_weights_build() copies the Gpt2Weights of src, quantizes the four
 * Linear weights of every block (c_attn, attn.c_proj, c_fc, mlp.c_proj) and
 * sets the layers' *_q pointers; the fp32 pointers of those four are set
 * to NULL, so the engine can only use the quantized forms. Embeddings, layer
 * norms and biases still point into src's memory: src must outlive the
 * result. The matrices are quantized in parallel, one a thread, so the
 * result does not depend on the thread count. */
#ifndef LORAFIT_QUANT_WEIGHTS_H
#define LORAFIT_QUANT_WEIGHTS_H

#include "lorafit/engine/quant.h"
#include "lorafit/engine/weights.h"
#include "lorafit/util/error.h"

typedef struct {
    Gpt2Weights w;             /* w.layers = layers */
    Gpt2LayerWeights *layers;  /* [n_layer] */
    QuantMatrix *mats;         /* [n_layer * 4]: c_attn, attn.c_proj, c_fc, mlp.c_proj */
    QuantDtype dtype;
} QuantWeights;

enum { QUANT_MATS_PER_LAYER = 4 };

/* The names (Hugging Face, within a block) and shapes of the four matrices
 * (multiples of n_embd: [in * C, out * C]). */
typedef struct {
    const char *name; /* "attn.c_attn.weight" */
    int in, out;
} QuantBlockMatrix;
extern const QuantBlockMatrix quant_block_matrices[QUANT_MATS_PER_LAYER];

/* The fp32 and quantized pointers of matrix i of a layer. */
const float **quant_layer_fp32(Gpt2LayerWeights *lw, int i);
const QuantMatrix **quant_layer_q(Gpt2LayerWeights *lw, int i);

/* when src already holds quantized forms they are kept (dtype must match). */
bool quant_weights_build(QuantWeights *qw, const Gpt2Weights *src, QuantDtype dtype, LfError *err);
void quant_weights_free(QuantWeights *qw);

/* Bytes of the four block matrices of every layer of w as w holds them:
 * quant_matrix_bytes() where quantized, 4 a weight where fp32. */
size_t quant_weights_block_bytes(const Gpt2Weights *w);

/* The error of W' against W, summed over matrices. */
typedef struct {
    double max_abs, sum_sq_err, sum_sq_ref;
    size_t n;
} QuantError;
void quant_error_add(QuantError *e, const float *w, const QuantMatrix *q);
double quant_error_rms(const QuantError *e);
double quant_error_rel_frobenius(const QuantError *e); /* ||W' - W||_F / ||W||_F */

#endif
