/* decode.h - incremental forward of a built Gpt2Model with a KV cache, for
 * generation: a prompt is run once (all its rows through the GEMMs), then
 * each new token costs one token's forward.
 *
 * The decoder reads the model's frozen weights (m->w) and its adapters
 * (m->adapters, m->lora_A, m->lora_B and their scale), applied unmerged and
 * without dropout; nothing of the model's own activations or its head is
 * used, so any build works (classification head or none). The language-
 * model head is tied to the token embedding: logits = ln_f(x) @ wte^T.
 *
 * Up to max_B sequences are decoded side by side, each with its own length;
 * sequence b keeps its keys and values in the cache until it is prefilled
 * again. One step runs every listed sequence's new token as one row of the
 * same products, so the weights are read once per step whatever the batch.
 *
 * Speed: a step at batch 1 is bound by reading the weights (matrix-vector
 * products). Every projection splits its output columns (the head: its
 * vocabulary rows) over the OpenMP threads, each streaming its slice of
 * the weight once, in place (no copy, no packing: sgemv for one row).
 * OpenBLAS must run one thread (session_set_threads). */
#ifndef LORAFIT_DECODE_H
#define LORAFIT_DECODE_H

#include <stdbool.h>
#include <stdint.h>

#include "lorafit/engine/gpt2.h"
#include "lorafit/util/error.h"

typedef struct {
    const Gpt2Model *m;
    int max_B, max_T; /* sequences, and positions each (<= n_ctx) */
    int max_rows;     /* rows per pass; a longer prompt runs in chunks */
    int *len;         /* [max_B] positions held in the cache */
    float *k, *v;     /* [n_layer, max_B, max_T, C] */
    /* scratch for one pass of max_rows rows */
    float *x, *ln, *qkv, *atty, *out, *fch, *lora_h, *att;
    int *row_seq, *row_pos;
    float *memory;
} Decoder;

/* Sizes the cache for max_B sequences of up to max_T positions. */
bool decoder_init(Decoder *d, const Gpt2Model *m, int max_B, int max_T, LfError *err);
void decoder_free(Decoder *d);

/* Starts sequence b over with the n prompt tokens ids (1 <= n <= max_T),
 * and writes the logits [vocab_size] of its last position. */
bool decoder_prefill(Decoder *d, int b, const int32_t *ids, int n, float *logits, LfError *err);

/* Appends token ids[i] to sequence seqs[i] for i < n (distinct sequences,
 * each holding fewer than max_T positions) and writes the logits
 * [n, vocab_size] of those new positions. */
bool decoder_step(Decoder *d, int n, const int *seqs, const int32_t *ids, float *logits, LfError *err);

#endif
