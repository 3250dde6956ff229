/* weights.h - the frozen GPT-2 weights, as the engine reads them.
 *
 * Layouts follow Hugging Face's checkpoint so that an F32 checkpoint is used
 * in place from the mmapped file: the projections are GPT-2 Conv1D weights,
 * stored [in, out], so y = x @ W + b with x of shape [N, in].
 * Pointers may point into an mmapped file or into memory the owner
 * allocated; the struct itself owns nothing (see checkpoint.h / gpt2.h for
 * who frees what). */
#ifndef LORAFIT_WEIGHTS_H
#define LORAFIT_WEIGHTS_H

#include "lorafit/engine/config.h"
#include "lorafit/engine/quant.h"

typedef struct {
    const float *ln1_w, *ln1_b;           /* [C] */
    const float *qkv_w, *qkv_b;           /* [C, 3C], [3C]: columns q | k | v (c_attn) */
    const float *attn_proj_w, *attn_proj_b; /* [C, C], [C] (attn.c_proj) */
    const float *ln2_w, *ln2_b;           /* [C] */
    const float *fc_w, *fc_b;             /* [C, 4C], [4C] (mlp.c_fc) */
    const float *fc_proj_w, *fc_proj_b;   /* [4C, C], [C] (mlp.c_proj) */
    /* The four matrices' quantized forms (--base-dtype int8 / nf4), or NULL:
     * when one is set the engine multiplies by it (quant_matmul.h) and the
     * fp32 pointer beside it may be NULL. */
    const QuantMatrix *qkv_q, *attn_proj_q, *fc_q, *fc_proj_q;
} Gpt2LayerWeights;

typedef struct {
    Gpt2Config cfg;
    const float *wte;         /* [V, C]; also the tied language-model head */
    const float *wpe;         /* [n_ctx, C] */
    Gpt2LayerWeights *layers; /* [n_layer] */
    const float *lnf_w, *lnf_b; /* [C] */
} Gpt2Weights;

#endif
