/* lm_head.h - the causal language model's head: next-token logits tied to
 * the frozen token embedding (logits = lnf @ wte^T, no bias, no gradient
 * for wte), its mean cross-entropy over the target rows that count, and the
 * gradient of that mean with respect to the final layer norm's output.
 *
 * Memory: the logits of all rows at once would be rows x vocab floats (400
 * MB for 2,000 rows of GPT-2); the head runs a chunk of rows at a time
 * (logits, loss, dlogits in place, then d(lnf) = dlogits @ wte), so only
 * chunk x vocab floats ever exist (97 MB for GPT-2). The gradient is formed
 * in the forward pass, while the chunk's logits are at hand: the backward
 * then starts from d(lnf) without recomputing them.
 *
 * Speed: each chunk's two GEMMs stream all of wte (154 MB for GPT-2, more
 * than any cache) and OpenBLAS packs it anew for each: 34 times a step for
 * 2,124 rows in chunks of 128. Chunks of 480 rows (ten of the panels
 * below) read wte a quarter as often, and the head of a 2,124-row GPT-2
 * batch took 13% less CPU time. The softmax's division is applied to the
 * rows of d(lnf) after the GEMM, not to the chunk's logits
 * (crossentropy_rows' row scales): a pass over the logits fewer. And
 * d(lnf) = dlogits @ wte is split over the threads by the vocabulary, the
 * inner dimension: each thread reads its own slice of dlogits and of wte
 * (split by d(lnf)'s columns, each would pack all of dlogits).
 *
 * Determinism: each chunk's GEMMs and each row's loss depend only on the
 * thread count (kernels.h; the threads' parts of d(lnf) are summed in
 * thread order); the per-row losses are summed serially. */
#ifndef LORAFIT_LM_HEAD_H
#define LORAFIT_LM_HEAD_H

#include <stdbool.h>
#include <stdint.h>

#include "lorafit/util/error.h"

/* The logits' GEMM runs over whole panels of LM_HEAD_ROW_PANEL rows, the
 * last one padded with zero rows: OpenBLAS's x86 kernels round a ragged
 * last panel of rows (fewer than their 16 or 24) otherwise than a whole
 * one, so without the padding a row's logits would depend on how many rows
 * shared its call (chunking, or ranks each holding a share of the texts). */
enum { LM_HEAD_CHUNK_ROWS = 480, LM_HEAD_ROW_PANEL = 48 };

typedef struct {
    int V, C, chunk;     /* vocabulary, width, rows per chunk */
    int max_rows;        /* target rows a batch may have */
    int *rows;           /* [max_rows] the packed row each target is read at */
    int32_t *targets;    /* [max_rows] the token it must predict */
    int n;               /* targets of the last forward */
    float *logits;       /* [chunk, V] one chunk's logits, then its dlogits (chunk: whole panels) */
    double *row_loss;    /* [chunk] */
    int *row_hit;        /* [chunk] */
    float *row_scale;    /* [chunk] the softmax's 1 / sum (times 1 / grad_count) per row */
    int slots;           /* threads the build made room for */
    float *partial;      /* [slots - 1, chunk, C] the other threads' parts of d(lnf) */
    /* the last forward's totals */
    double loss_sum;     /* sum of the per-target cross-entropies */
    long hits;           /* targets that were the argmax of their logits */
    /* test support (gpt2_testing.h's gpt2_lm_logits): when set, called with
     * each chunk's logits [rows, V] (targets first .. first + rows - 1)
     * before the loss overwrites them */
    void (*peek)(void *ctx, int first, int rows, const float *logits);
    void *peek_ctx;
} LmHead;

/* Room for max_rows targets over a vocabulary of V and width C. */
bool lm_head_build(LmHead *h, int max_rows, int V, int C, LfError *err);
void lm_head_free(LmHead *h);

/* The rows of lnf the head reads for n targets: n rounded up to a whole
 * panel (LM_HEAD_ROW_PANEL). */
int lm_head_input_rows(int n);

/* Runs the head over h->n target rows whose final-layer-norm outputs are
 * lnf [h->n, C] (row i predicts h->targets[i]), with wte [V, C]; lnf must
 * have room for lm_head_input_rows(h->n) rows, the rows past h->n are
 * zeroed and read. Sets
 * h->loss_sum and h->hits; when dlnf is not NULL writes dlnf [h->n, C] =
 * the gradient of loss_sum / grad_count with respect to lnf. Returns the
 * mean loss over the targets (0 without any). */
double lm_head_forward(LmHead *h, float *lnf, const float *wte, float *dlnf, int grad_count);

#endif
