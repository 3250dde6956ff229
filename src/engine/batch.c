/* batch.c - see include/lorafit/engine/batch.h */
#include "lorafit/engine/batch.h"

#include <math.h>
#include <stdlib.h>

int tokenset_fill_batch(const TokenSet *ts, const int *rows, int B, Gpt2Pool pool, int pad_to, int *tokens,
                        int *lengths, int *labels) {
    int T = pad_to;
    if (pool == POOL_LAST_TOKEN) {
        T = 1;
        for (int b = 0; b < B; b++)
            if (ts->length[rows[b]] > T) T = ts->length[rows[b]];
    }
    for (int b = 0; b < B; b++) {
        size_t r = (size_t)rows[b];
        int len = ts->length[r];
        const int32_t *src = ts->tokens + ts->offset[r];
        for (int t = 0; t < T; t++) tokens[(size_t)b * T + t] = t < len ? src[t] : TOK_EOT;
        lengths[b] = len;
        if (labels && ts->labels) labels[b] = ts->labels[r];
    }
    return T;
}

/* Softmax of one row of logits into probs; returns -log p[label] (or 0). */
static double softmax_row(const float *logits, int C, int label, float *probs) {
    float max = logits[0];
    for (int c = 1; c < C; c++)
        if (logits[c] > max) max = logits[c];
    double sum = 0;
    for (int c = 0; c < C; c++) sum += exp((double)logits[c] - max);
    for (int c = 0; c < C; c++) probs[c] = (float)(exp((double)logits[c] - max) / sum);
    return label >= 0 ? -((double)logits[label] - max - log(sum)) : 0.0;
}

bool tokenset_predict(Gpt2Model *m, const TokenSet *ts, Gpt2Pool pool, int pad_to, float *probs,
                      double *mean_loss, LfError *err) {
    int C = m->n_classes, maxB = m->max_B, T_cap = pool == POOL_LAST_POSITION ? pad_to : ts->max_length;
    int *rows = malloc((size_t)maxB * sizeof *rows), *lengths = malloc((size_t)maxB * sizeof *lengths);
    int *tokens = malloc((size_t)maxB * (size_t)T_cap * sizeof *tokens);
    float *logits = malloc((size_t)maxB * (size_t)C * sizeof *logits);
    if (!rows || !lengths || !tokens || !logits) {
        free(rows), free(lengths), free(tokens), free(logits);
        lf_error_set(err, LF_ERR_IO, "out of memory");
        return false;
    }
    double loss = 0;
    for (size_t start = 0; start < ts->n; start += (size_t)maxB) {
        int B = ts->n - start < (size_t)maxB ? (int)(ts->n - start) : maxB;
        for (int b = 0; b < B; b++) rows[b] = (int)(start + (size_t)b);
        int T = tokenset_fill_batch(ts, rows, B, pool, pad_to, tokens, lengths, NULL);
        Gpt2Batch batch = {tokens, lengths, NULL, B, T};
        gpt2_forward(m, &batch, pool, false, logits);
        for (int b = 0; b < B; b++) {
            int label = ts->labels ? ts->labels[rows[b]] : -1;
            loss += softmax_row(logits + (size_t)b * C, C, label, probs + (start + (size_t)b) * (size_t)C);
        }
    }
    if (mean_loss) *mean_loss = ts->n ? loss / (double)ts->n : 0.0;
    free(rows), free(lengths), free(tokens), free(logits);
    return true;
}
