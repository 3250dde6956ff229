/* batch.h - batches cut from a TokenSet for the engine, and batched
 * inference over a whole set. */
#ifndef LORAFIT_ENGINE_BATCH_H
#define LORAFIT_ENGINE_BATCH_H

#include <stdbool.h>

#include "lorafit/data/tokenset.h"
#include "lorafit/engine/gpt2.h"
#include "lorafit/util/error.h"

/* Lays out rows[0..B) of ts as a batch. With POOL_LAST_POSITION every row is
 * right-padded with TOK_EOT to pad_to (the labs' fixed length) and T =
 * pad_to; with POOL_LAST_TOKEN T is the longest row of the batch and the
 * tail is padded all the same (never read). tokens holds B * T ints,
 * lengths and labels B (labels untouched when ts has none). Returns T. */
int tokenset_fill_batch(const TokenSet *ts, const int *rows, int B, Gpt2Pool pool, int pad_to, int *tokens,
                        int *lengths, int *labels);

/* Runs model m (inference: no dropout) over every text of ts in batches of
 * at most m->max_B: probs gets [ts->n, n_classes] softmax probabilities,
 * and *mean_loss (when not NULL and ts has labels) the mean cross-entropy
 * over all texts. pad_to is the padded length for POOL_LAST_POSITION. The
 * model must have been built for ts's longest text (or pad_to). */
bool tokenset_predict(Gpt2Model *m, const TokenSet *ts, Gpt2Pool pool, int pad_to, float *probs,
                      double *mean_loss, LfError *err);

#endif
