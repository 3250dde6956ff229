/* batch.c - see include/lorafit/engine/batch.h */
#include "lorafit/engine/batch.h"

#include <math.h>
#include <string.h>

/* The batch's T: the padded length, or the longest of its texts. */
static int batch_length(const int *lengths, int B, Gpt2Pool pool, int pad_to) {
    if (pool == POOL_LAST_POSITION) return pad_to;
    int T = 1;
    for (int b = 0; b < B; b++)
        if (lengths[b] > T) T = lengths[b];
    return T;
}

Gpt2Batch batch_select(const TokenSet *ts, const int *rows, int B, Gpt2Pool pool, int pad_to, size_t *start,
                       int *lengths, int *labels, int *prompt_lengths) {
    for (int b = 0; b < B; b++) {
        size_t r = (size_t)rows[b];
        start[b] = ts->offset[r];
        lengths[b] = ts->length[r];
        if (ts->labels) labels[b] = ts->labels[r];
        if (ts->prompt_length) prompt_lengths[b] = ts->prompt_length[r];
    }
    return (Gpt2Batch){ts->tokens, lengths, ts->labels ? labels : NULL, B, batch_length(lengths, B, pool, pad_to),
                       start, TOK_EOT, ts->prompt_length ? prompt_lengths : NULL, 0};
}

Gpt2Batch batch_range(const TokenSet *ts, size_t first, int B, Gpt2Pool pool, int pad_to) {
    const int *lengths = ts->length + first;
    return (Gpt2Batch){ts->tokens, lengths, ts->labels ? ts->labels + first : NULL, B,
                       batch_length(lengths, B, pool, pad_to), ts->offset + first, TOK_EOT,
                       ts->prompt_length ? ts->prompt_length + first : NULL, 0};
}

/* How many texts from `first` make the next batch of at most m->max_B, and
 * an error when they do not fit the model. */
static int next_batch(const Gpt2Model *m, const TokenSet *ts, size_t first, Gpt2Pool pool, int pad_to,
                      Gpt2Batch *batch, LfError *err) {
    int B = ts->n - first < (size_t)m->max_B ? (int)(ts->n - first) : m->max_B;
    *batch = batch_range(ts, first, B, pool, pad_to);
    if (batch->T > m->max_T) {
        lf_error_set(err, LF_ERR_RUNTIME, "texts %zu..%zu need %d tokens, the model was built for %d",
                     first + 1, first + (size_t)B, batch->T, m->max_T);
        return 0;
    }
    return B;
}

bool batch_predict(Gpt2Model *m, const TokenSet *ts, Gpt2Pool pool, int pad_to, float *probs, double *mean_loss,
                   LfError *err) {
    const int K = m->n_classes;
    double loss = 0;
    if (K == 0) {
        lf_error_set(err, LF_ERR_RUNTIME, "a language model has no classes to predict");
        return false;
    }
    for (size_t first = 0; first < ts->n; first += (size_t)m->max_B) {
        Gpt2Batch batch;
        int B = next_batch(m, ts, first, pool, pad_to, &batch, err);
        if (!B) return false;
        gpt2_forward(m, &batch, pool, false, NULL);
        memcpy(probs + first * (size_t)K, m->acts.probs, (size_t)B * K * sizeof *probs);
        for (int b = 0; batch.labels && b < B; b++) loss += m->seq_loss[b];
    }
    if (mean_loss) *mean_loss = ts->n ? loss / (double)ts->n : 0.0;
    return true;
}

bool batch_lm_evaluate(Gpt2Model *m, const TokenSet *ts, LmEval *out, LfError *err) {
    *out = (LmEval){0};
    if (m->n_classes != 0) {
        lf_error_set(err, LF_ERR_RUNTIME, "a classifier has no next-token loss");
        return false;
    }
    for (size_t first = 0; first < ts->n; first += (size_t)m->max_B) {
        Gpt2Batch batch;
        int B = next_batch(m, ts, first, POOL_LAST_TOKEN, 0, &batch, err);
        if (!B) return false;
        if (isnan(gpt2_forward(m, &batch, POOL_LAST_TOKEN, false, NULL))) {
            lf_error_set(err, LF_ERR_RUNTIME, "texts %zu..%zu: a prompt length outside the text", first + 1,
                         first + (size_t)B);
            return false;
        }
        out->loss_sum += m->lm.loss_sum;
        out->targets += m->lm.n;
        out->hits += m->lm.hits;
    }
    return true;
}

long batch_count_correct(const float *probs, const int *labels, size_t n, int C) {
    long correct = 0;
    for (size_t i = 0; i < n; i++) {
        const float *p = probs + i * (size_t)C;
        int best = 0; /* the first of equal maxima, as the labs' argmax */
        for (int c = 1; c < C; c++)
            if (p[c] > p[best]) best = c;
        correct += best == labels[i];
    }
    return correct;
}
