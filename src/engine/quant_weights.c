/* quant_weights.c - see include/lorafit/engine/quant_weights.h */
#include "lorafit/engine/quant_weights.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const QuantBlockMatrix quant_block_matrices[QUANT_MATS_PER_LAYER] = {
    {"attn.c_attn.weight", 1, 3},
    {"attn.c_proj.weight", 1, 1},
    {"mlp.c_fc.weight", 1, 4},
    {"mlp.c_proj.weight", 4, 1},
};

const float **quant_layer_fp32(Gpt2LayerWeights *lw, int i) {
    const float **p[QUANT_MATS_PER_LAYER] = {&lw->qkv_w, &lw->attn_proj_w, &lw->fc_w, &lw->fc_proj_w};
    return p[i];
}

const QuantMatrix **quant_layer_q(Gpt2LayerWeights *lw, int i) {
    const QuantMatrix **p[QUANT_MATS_PER_LAYER] = {&lw->qkv_q, &lw->attn_proj_q, &lw->fc_q, &lw->fc_proj_q};
    return p[i];
}

bool quant_weights_build(QuantWeights *qw, const Gpt2Weights *src, QuantDtype dtype, LfError *err) {
    memset(qw, 0, sizeof *qw);
    const int L = src->cfg.n_layer, C = src->cfg.n_embd, n = L * QUANT_MATS_PER_LAYER;
    qw->dtype = dtype;
    qw->w = *src;
    qw->layers = malloc((size_t)L * sizeof *qw->layers);
    qw->mats = calloc((size_t)n, sizeof *qw->mats);
    if (!qw->layers || !qw->mats) {
        quant_weights_free(qw);
        lf_error_set(err, LF_ERR_IO, "out of memory quantizing the base model");
        return false;
    }
    memcpy(qw->layers, src->layers, (size_t)L * sizeof *qw->layers);
    qw->w.layers = qw->layers;
    int failed = -1;
    LfError first = {0};
#pragma omp parallel for schedule(dynamic)
    for (int k = 0; k < n; k++) {
        Gpt2LayerWeights *lw = &qw->layers[k / QUANT_MATS_PER_LAYER];
        const int i = k % QUANT_MATS_PER_LAYER;
        const QuantBlockMatrix *m = &quant_block_matrices[i];
        if (*quant_layer_q(lw, i)) continue; /* already quantized (a quantized file) */
        LfError e = {0};
        if (!quant_matrix_quantize(&qw->mats[k], dtype, *quant_layer_fp32(lw, i), m->in * C, m->out * C, &e)) {
#pragma omp critical(quant_weights_error)
            if (failed < 0 || k < failed) {
                failed = k;
                first = e;
                lf_error_prefix(&first, "h.%d.%s", k / QUANT_MATS_PER_LAYER, m->name);
            }
            continue;
        }
        *quant_layer_q(lw, i) = &qw->mats[k];
        *quant_layer_fp32(lw, i) = NULL;
    }
    if (failed >= 0) {
        if (err) *err = first;
        quant_weights_free(qw);
        return false;
    }
    return true;
}

void quant_weights_free(QuantWeights *qw) {
    for (int k = 0; qw->mats && k < qw->w.cfg.n_layer * QUANT_MATS_PER_LAYER; k++) quant_matrix_free(&qw->mats[k]);
    free(qw->mats);
    free(qw->layers);
    memset(qw, 0, sizeof *qw);
}

size_t quant_weights_block_bytes(const Gpt2Weights *w) {
    const size_t C = (size_t)w->cfg.n_embd;
    size_t bytes = 0;
    for (int l = 0; l < w->cfg.n_layer; l++)
        for (int i = 0; i < QUANT_MATS_PER_LAYER; i++) {
            const QuantMatrix *q = *quant_layer_q(&w->layers[l], i);
            bytes += q ? quant_matrix_bytes(q)
                       : sizeof(float) * (size_t)quant_block_matrices[i].in * quant_block_matrices[i].out * C * C;
        }
    return bytes;
}

void quant_error_add(QuantError *e, const float *w, const QuantMatrix *q) {
    enum { ROWS = 16 };
    float *tile = malloc((size_t)ROWS * q->cols * sizeof *tile);
    if (!tile) return;
    for (int r0 = 0; r0 < q->rows; r0 += ROWS) {
        int r1 = r0 + ROWS < q->rows ? r0 + ROWS : q->rows;
        quant_matrix_dequantize_rows(q, r0, r1, tile);
        const float *ref = w + (size_t)r0 * q->cols;
        for (size_t i = 0; i < (size_t)(r1 - r0) * q->cols; i++) {
            double d = fabs((double)tile[i] - ref[i]);
            e->max_abs = d > e->max_abs ? d : e->max_abs;
            e->sum_sq_err += d * d;
            e->sum_sq_ref += (double)ref[i] * ref[i];
        }
    }
    e->n += (size_t)q->rows * q->cols;
    free(tile);
}

double quant_error_rms(const QuantError *e) { return e->n ? sqrt(e->sum_sq_err / (double)e->n) : 0.0; }

double quant_error_rel_frobenius(const QuantError *e) {
    return e->sum_sq_ref > 0 ? sqrt(e->sum_sq_err / e->sum_sq_ref) : 0.0;
}
