/* lm_head.c - see include/lorafit/engine/lm_head.h */
#include "lorafit/engine/lm_head.h"

#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/engine/kernels.h"

bool lm_head_build(LmHead *h, int max_rows, int V, int C, LfError *err) {
    memset(h, 0, sizeof *h);
    h->V = V;
    h->C = C;
    h->max_rows = max_rows;
    h->chunk = lm_head_input_rows(max_rows < LM_HEAD_CHUNK_ROWS ? max_rows : LM_HEAD_CHUNK_ROWS);
    h->rows = malloc((size_t)max_rows * sizeof *h->rows);
    h->targets = malloc((size_t)max_rows * sizeof *h->targets);
    h->logits = malloc((size_t)h->chunk * V * sizeof *h->logits);
    h->row_loss = malloc((size_t)h->chunk * sizeof *h->row_loss);
    h->row_hit = malloc((size_t)h->chunk * sizeof *h->row_hit);
    h->row_scale = malloc((size_t)h->chunk * sizeof *h->row_scale);
    h->slots = omp_get_max_threads();
    h->partial = malloc((size_t)(h->slots > 1 ? h->slots - 1 : 1) * h->chunk * C * sizeof *h->partial);
    if (!h->rows || !h->targets || !h->logits || !h->row_loss || !h->row_hit || !h->row_scale || !h->partial) {
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
    free(h->partial);
    memset(h, 0, sizeof *h);
}

/* d [rows, C] = the chunk's dlogits @ wte, each row times its scale. With
 * several threads each takes a slice of the vocabulary (the inner
 * dimension) and reads only its slice of dlogits and of wte: split by d's
 * columns, every thread would pack all of dlogits. The partial products
 * are summed in thread order, so the bits depend on the thread count
 * only. */
static void head_input_grad(LmHead *h, float *d, int rows, const float *wte) {
    const int V = h->V, C = h->C;
    const int nt = omp_get_max_threads() < h->slots ? omp_get_max_threads() : h->slots;
    if (nt < 2 || omp_in_parallel() || openblas_get_num_threads() != 1) {
        gemm(false, false, rows, C, V, 1.0f, h->logits, V, wte, C, 0.0f, d, C);
        scale_rows(d, h->row_scale, rows, C);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        const int n = omp_get_num_threads(), t = omp_get_thread_num();
        const int slice = ((V + n - 1) / n + 15) / 16 * 16;
        const int lo = t * slice < V ? t * slice : V, hi = lo + slice < V ? lo + slice : V;
        float *out = t == 0 ? d : h->partial + (size_t)(t - 1) * rows * C;
        if (lo < hi)
            gemm(false, false, rows, C, hi - lo, 1.0f, h->logits + lo, V, wte + (size_t)lo * C, C, 0.0f, out, C);
        else
            memset(out, 0, (size_t)rows * C * sizeof *out);
#pragma omp barrier
#pragma omp for schedule(static)
        for (int r = 0; r < rows; r++) {
            float *dr = d + (size_t)r * C;
            for (int k = 1; k < n; k++) {
                const float *p = h->partial + ((size_t)(k - 1) * rows + r) * C;
                for (int i = 0; i < C; i++) dr[i] += p[i];
            }
            for (int i = 0; i < C; i++) dr[i] *= h->row_scale[r];
        }
    }
}

int lm_head_input_rows(int n) { return (n + LM_HEAD_ROW_PANEL - 1) / LM_HEAD_ROW_PANEL * LM_HEAD_ROW_PANEL; }

double lm_head_forward(LmHead *h, float *lnf, const float *wte, float *dlnf, int grad_count) {
    const int V = h->V, C = h->C;
    const float dscale = dlnf && grad_count > 0 ? 1.0f / (float)grad_count : 0.0f;
    h->loss_sum = 0;
    h->hits = 0;
    memset(lnf + (size_t)h->n * C, 0, (size_t)(lm_head_input_rows(h->n) - h->n) * C * sizeof *lnf);
    for (int r0 = 0; r0 < h->n; r0 += h->chunk) {
        const int rows = h->n - r0 < h->chunk ? h->n - r0 : h->chunk;
        /* whole panels: the chunk is a multiple of one, the last one padded */
        gemm(false, true, lm_head_input_rows(rows), V, C, 1.0f, lnf + (size_t)r0 * C, C, wte, C, 0.0f, h->logits, V);
        if (h->peek) h->peek(h->peek_ctx, r0, rows, h->logits);
        crossentropy_rows(h->logits, h->row_loss, h->row_hit, dscale > 0.0f ? h->row_scale : NULL, h->targets + r0,
                          rows, V, dscale);
        for (int i = 0; i < rows; i++) {
            h->loss_sum += h->row_loss[i];
            h->hits += h->row_hit[i];
        }
        if (dscale > 0.0f) head_input_grad(h, dlnf + (size_t)r0 * C, rows, wte);
    }
    return h->n ? h->loss_sum / h->n : 0.0;
}
