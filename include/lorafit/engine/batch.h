/* batch.h - batches cut from a TokenSet for the engine, and prediction over
 * a whole set: what training, its validation, eval and classify all run.
 *
 * A batch points into the set's contiguous ids (Gpt2Batch's packed layout):
 * no id is copied or padded on the way to the engine. With
 * POOL_LAST_POSITION the engine runs every text to the padded length on
 * TOK_EOT, the labs' padding token, exactly as if it had been padded. */
#ifndef LORAFIT_ENGINE_BATCH_H
#define LORAFIT_ENGINE_BATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "lorafit/data/tokenset.h"
#include "lorafit/engine/gpt2.h"
#include "lorafit/util/error.h"

/* The batch of texts rows[0..B) of ts, in that order. start, lengths,
 * labels and prompt_lengths are the caller's [B] arrays, filled here
 * (labels and prompt_lengths left alone when ts has none; the batch then
 * has none either: an LM set carries prompt lengths, a classification set
 * labels). T is pad_to with POOL_LAST_POSITION (the labs' fixed length),
 * else the longest text. */
Gpt2Batch batch_select(const TokenSet *ts, const int *rows, int B, Gpt2Pool pool, int pad_to, size_t *start,
                       int *lengths, int *labels, int *prompt_lengths);

/* The batch of texts first .. first + B - 1 of ts: views into the set
 * (labels and prompt lengths included), nothing filled at all. T as with
 * batch_select. */
Gpt2Batch batch_range(const TokenSet *ts, size_t first, int B, Gpt2Pool pool, int pad_to);

/* Runs model m (inference: no dropout) over every text of ts in batches of
 * at most m->max_B: probs gets [ts->n, n_classes] softmax probabilities
 * (the forward's own, gpt2.h), and *mean_loss (when not NULL and ts has
 * labels) the mean cross-entropy over all texts, summed in double in text
 * order. pad_to is the padded length for POOL_LAST_POSITION. The model must
 * have been built for ts's longest text (or pad_to). */
bool batch_predict(Gpt2Model *m, const TokenSet *ts, Gpt2Pool pool, int pad_to, float *probs, double *mean_loss,
                   LfError *err);

/* A causal LM's figures over a whole set. */
typedef struct {
    double loss_sum; /* next-token cross-entropy summed over the counted targets, in text order */
    long targets;    /* how many targets counted (ts->prompt_length masks prompts) */
    long hits;       /* of them, predicted by the argmax */
} LmEval;

/* Runs the causal LM m (n_classes 0, inference: no dropout) over every
 * text of ts in batches of at most m->max_B, packed (POOL_LAST_TOKEN).
 * loss_sum / targets is the mean loss per target token (its exp the
 * perplexity), hits / targets the next-token accuracy. The model must have
 * been built for ts's longest text. */
bool batch_lm_evaluate(Gpt2Model *m, const TokenSet *ts, LmEval *out, LfError *err);

/* How many of the n rows of probs [n, C] have their largest value (the
 * first, on a tie) at the row's label. */
long batch_count_correct(const float *probs, const int *labels, size_t n, int C);

#endif
