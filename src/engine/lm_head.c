/* lm_head.c - see include/lorafit/engine/lm_head.h */
#include "lorafit/engine/lm_head.h"

#include <stdlib.h>
#include <string.h>

#include "lorafit/engine/kernels.h"

bool lm_head_build(LmHead *h, int max_rows, int V, int C, LfError *err) {
    memset(h, 0, sizeof *h);
    h->V = V;
    h->C = C;
    h->max_rows = max_rows;
    h->chunk = max_rows < LM_HEAD_CHUNK_ROWS ? max_rows : LM_HEAD_CHUNK_ROWS;
    h->rows = malloc((size_t)max_rows * sizeof *h->rows);
    h->targets = malloc((size_t)max_rows * sizeof *h->targets);
    h->logits = malloc((size_t)h->chunk * V * sizeof *h->logits);
    h->row_loss = malloc((size_t)h->chunk * sizeof *h->row_loss);
    h->row_hit = malloc((size_t)h->chunk * sizeof *h->row_hit);
    h->row_scale = malloc((size_t)h->chunk * sizeof *h->row_scale);
    if (!h->rows || !h->targets || !h->logits || !h->row_loss || !h->row_hit || !h->row_scale) {
        lm_head_free(h);
        lf_error_set(err, LF_ERR_IO, "out of memory for the language-model head (%d rows)", max_rows);
        return false;
    }
    return true;
}

void lm_head_free(LmHead *h) {
    free(h->rows);
    free(h->targets);
    free(h->logits);
    free(h->row_loss);
    free(h->row_hit);
    free(h->row_scale);
    memset(h, 0, sizeof *h);
}

double lm_head_forward(LmHead *h, const float *lnf, const float *wte, float *dlnf, int grad_count) {
    const int V = h->V, C = h->C;
    const float dscale = dlnf && grad_count > 0 ? 1.0f / (float)grad_count : 0.0f;
    h->loss_sum = 0;
    h->hits = 0;
    for (int r0 = 0; r0 < h->n; r0 += h->chunk) {
        const int rows = h->n - r0 < h->chunk ? h->n - r0 : h->chunk;
        gemm(false, true, rows, V, C, 1.0f, lnf + (size_t)r0 * C, C, wte, C, 0.0f, h->logits, V);
        if (h->peek) h->peek(h->peek_ctx, r0, rows, h->logits);
        crossentropy_rows(h->logits, h->row_loss, h->row_hit, dscale > 0.0f ? h->row_scale : NULL, h->targets + r0,
                          rows, V, dscale);
        for (int i = 0; i < rows; i++) {
            h->loss_sum += h->row_loss[i];
            h->hits += h->row_hit[i];
        }
        if (dscale > 0.0f) {
            float *d = dlnf + (size_t)r0 * C;
            gemm(false, false, rows, C, V, 1.0f, h->logits, V, wte, C, 0.0f, d, C);
            scale_rows(d, h->row_scale, rows, C);
        }
    }
    return h->n ? h->loss_sum / h->n : 0.0;
}
