/* tokenset.c - see include/lorafit/tokenset.h */
#include "lorafit/tokenset.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void tokenset_free(TokenSet *ts) {
    if (!ts) return;
    free(ts->tokens);
    free(ts->offset);
    free(ts->full_length);
    free(ts->length);
    free(ts->labels);
    memset(ts, 0, sizeof *ts);
}

static bool alloc_arrays(TokenSet *ts, size_t n, bool with_labels, LfError *err) {
    ts->offset = calloc(n + 1, sizeof *ts->offset);
    ts->full_length = calloc(n + 1, sizeof *ts->full_length);
    ts->length = calloc(n + 1, sizeof *ts->length);
    ts->labels = with_labels ? calloc(n + 1, sizeof *ts->labels) : NULL;
    if (!ts->offset || !ts->full_length || !ts->length || (with_labels && !ts->labels)) {
        lf_error_set(err, LF_ERR_IO, "out of memory encoding %zu texts", n);
        return false;
    }
    return true;
}

bool tokenset_encode(TokenSet *ts, Tokenizer *tok, const char *const *texts, const int *labels, size_t n,
                     int max_length, LfError *err) {
    memset(ts, 0, sizeof *ts);
    ts->n = n;
    if (!alloc_arrays(ts, n, labels != NULL, err)) {
        tokenset_free(ts);
        return false;
    }
    TokIds ids = {0};
    for (size_t i = 0; i < n; i++) {
        TokEncodeInfo info = {0};
        ts->offset[i] = ids.n;
        if (!tok_encode(tok, texts[i], strlen(texts[i]), TOK_SPECIAL_AS_TEXT, &ids, &info, err)) {
            lf_error_prefix(err, "text %zu", i + 1);
            tok_ids_free(&ids);
            tokenset_free(ts);
            return false;
        }
        size_t len = ids.n - ts->offset[i];
        if (len == 0) {
            lf_error_set(err, LF_ERR_INPUT, "text %zu is empty: there is nothing to classify", i + 1);
            tok_ids_free(&ids);
            tokenset_free(ts);
            return false;
        }
        ts->full_length[i] = len > (size_t)INT32_MAX ? INT32_MAX : (int)len;
        if (ts->full_length[i] > ts->longest) ts->longest = ts->full_length[i];
        if (info.n_invalid) ts->n_invalid_utf8++;
        if (labels) ts->labels[i] = labels[i];
    }
    ts->offset[n] = ids.n;
    ts->tokens = ids.ids; /* the set owns the array from here */
    tokenset_truncate(ts, max_length > 0 ? max_length : ts->longest > 0 ? ts->longest : 1);
    return true;
}

void tokenset_truncate(TokenSet *ts, int max_length) {
    ts->max_length = max_length;
    ts->n_truncated = 0;
    for (size_t i = 0; i < ts->n; i++) {
        ts->length[i] = ts->full_length[i] < max_length ? ts->full_length[i] : max_length;
        if (ts->full_length[i] > max_length) ts->n_truncated++;
    }
}

uint64_t tokenset_digest(const TokenSet *ts) {
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a, fed 32-bit words */
    for (size_t i = 0; i < ts->n; i++) {
        uint32_t words[2] = {(uint32_t)ts->length[i], ts->labels ? (uint32_t)ts->labels[i] : 0u};
        for (int w = 0; w < 2; w++) h = (h ^ words[w]) * 0x100000001b3ULL;
        for (int k = 0; k < ts->length[i]; k++) h = (h ^ (uint32_t)ts->tokens[ts->offset[i] + (size_t)k]) * 0x100000001b3ULL;
    }
    return h;
}

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
