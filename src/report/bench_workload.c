/* bench_workload.c - see include/lorafit/report/bench_workload.h */
#include "lorafit/report/bench_workload.h"

#include <stdlib.h>
#include <string.h>

#include "lorafit/data/dataset.h"
#include "lorafit/data/tokenizer.h"
#include "lorafit/engine/batch.h"

/* Token lengths of the first 64 messages of the labs' training split
 * (`lorafit split SMSSpamCollection --balance`, train.csv in file order),
 * 1,977 tokens: 8 batches of 246 rows on average, longest 66. */
static const int SMS_LENGTHS[64] = {
    53, 36, 40, 37, 13, 28, 52, 11, 40, 38, 34, 36, 44, 11, 48, 8,  40, 32, 66, 29, 36, 45,
    20, 43, 54, 7,  16, 48, 25, 35, 7,  9,  7,  2,  25, 41, 8,  57, 11, 53, 9,  24, 39, 20,
    31, 37, 45, 9,  47, 51, 18, 17, 38, 41, 37, 41, 11, 51, 25, 10, 6,  18, 47, 60};
enum { SMS_TEXTS = 64 };

static int sms_batches(int B) { return SMS_TEXTS / B > 0 ? SMS_TEXTS / B : 1; }

/* Room for n texts of the given lengths (ids uninitialised), batches of B. */
static bool workload_alloc(BenchWorkload *w, int n_batches, int B, const int *lengths, Gpt2Pool pool, int pad_to,
                           LfError *err) {
    memset(w, 0, sizeof *w);
    size_t n = (size_t)n_batches * B;
    TokenSet *ts = &w->set;
    ts->n = n;
    ts->offset = malloc((n + 1) * sizeof *ts->offset);
    ts->length = malloc((n + 1) * sizeof *ts->length);
    ts->full_length = malloc((n + 1) * sizeof *ts->full_length);
    ts->labels = malloc((n + 1) * sizeof *ts->labels);
    bool ok = ts->offset && ts->length && ts->full_length && ts->labels;
    for (size_t i = 0; ok && i < n; i++) {
        ts->offset[i] = (size_t)w->rows;
        ts->length[i] = ts->full_length[i] = lengths[i];
        if (lengths[i] > ts->longest) ts->longest = lengths[i];
        w->rows += lengths[i];
    }
    if (ok) {
        ts->offset[n] = (size_t)w->rows;
        ts->max_length = ts->longest;
        ok = (ts->tokens = malloc(((size_t)w->rows + 1) * sizeof *ts->tokens)) != NULL;
    }
    if (!ok) {
        bench_workload_free(w);
        lf_error_set(err, LF_ERR_IO, "out of memory for the benchmark's batches");
        return false;
    }
    w->n = n_batches;
    w->B = B;
    w->pool = pool;
    w->pad_to = pad_to;
    return true;
}

/* Random ids and labels for batch i, drawn as for a [B, T] array padded to
 * its longest text (the padding's draws are dropped), then B labels. */
static void fill_random(BenchWorkload *w, int i, int vocab, Rng *r) {
    TokenSet *ts = &w->set;
    const size_t first = (size_t)i * w->B;
    int T = 1;
    for (int k = 0; k < w->B; k++)
        if (ts->length[first + k] > T) T = ts->length[first + k];
    for (int k = 0; k < w->B; k++)
        for (int t = 0; t < T; t++) {
            int id = (int)rng_below(r, (uint64_t)vocab);
            if (t < ts->length[first + k]) ts->tokens[ts->offset[first + k] + t] = id;
        }
    for (int k = 0; k < w->B; k++) ts->labels[first + k] = (int)rng_below(r, 2);
}

/* --batch is at most 4096, and the SMS cases hold at most 64 texts or one batch */
enum { MAX_TEXTS = 4096 };

bool bench_workload_padded(BenchWorkload *w, int B, int T, int vocab, Rng *r, LfError *err) {
    int lengths[MAX_TEXTS];
    for (int k = 0; k < B; k++) lengths[k] = T;
    if (!workload_alloc(w, 1, B, lengths, POOL_LAST_POSITION, T, err)) return false;
    fill_random(w, 0, vocab, r);
    return true;
}

bool bench_workload_sms(BenchWorkload *w, int B, int max_T, int vocab, Rng *r, LfError *err) {
    int n = sms_batches(B), lengths[MAX_TEXTS];
    for (int k = 0; k < n * B; k++) {
        int L = SMS_LENGTHS[k % SMS_TEXTS];
        lengths[k] = L < max_T ? L : max_T;
    }
    if (!workload_alloc(w, n, B, lengths, POOL_LAST_TOKEN, 0, err)) return false;
    for (int i = 0; i < n; i++) fill_random(w, i, vocab, r);
    return true;
}

bool bench_workload_lm(BenchWorkload *w, int B, int max_T, int answer, int vocab, Rng *r, LfError *err) {
    int lengths[MAX_TEXTS];
    for (int k = 0; k < B; k++) {
        int L = 200 + (int)rng_below(r, 101);
        lengths[k] = L < max_T ? L : max_T;
    }
    if (!workload_alloc(w, 1, B, lengths, POOL_LAST_TOKEN, 0, err)) return false;
    fill_random(w, 0, vocab, r);
    TokenSet *ts = &w->set;
    free(ts->labels);
    ts->labels = NULL;
    ts->prompt_length = malloc((size_t)B * sizeof *ts->prompt_length);
    if (!ts->prompt_length) {
        bench_workload_free(w);
        lf_error_set(err, LF_ERR_IO, "out of memory for the benchmark's batches");
        return false;
    }
    for (int k = 0; k < B; k++) {
        int P = answer > 0 ? lengths[k] - answer : 0;
        ts->prompt_length[k] = P > 0 ? P : 0;
    }
    return true;
}

bool bench_workload_file(BenchWorkload *w, const char *path, const char *model_dir, int B, int n_ctx,
                         LfError *err) {
    memset(w, 0, sizeof *w);
    DatasetOptions dopt = {0};
    Dataset *d = dataset_load(path, &dopt, err);
    if (!d) return false;
    Tokenizer *tok = tok_load_default(NULL, model_dir, err);
    size_t want = (size_t)sms_batches(B) * B;
    int n = (int)((d->n < want ? d->n : want) / (size_t)B);
    bool ok = tok != NULL;
    if (ok && n < 1) {
        lf_error_set(err, LF_ERR_INPUT, "%s: %zu texts, fewer than one batch of %d", path, d->n, B);
        ok = false;
    }
    ok = ok && tokenset_encode(&w->set, tok, d->texts, d->labels, (size_t)n * B, n_ctx, err);
    if (ok) {
        w->n = n;
        w->B = B;
        w->pool = POOL_LAST_TOKEN;
        for (size_t i = 0; i < w->set.n; i++) {
            if (w->set.labels[i] > 1) w->set.labels[i] = 1;
            w->rows += w->set.length[i];
        }
    }
    tok_free(tok);
    dataset_free(d);
    return ok;
}

Gpt2Batch bench_workload_batch(const BenchWorkload *w, int i) {
    return batch_range(&w->set, (size_t)i * w->B, w->B, w->pool, w->pad_to);
}

int bench_workload_longest(const BenchWorkload *w) {
    int T = 0;
    for (int i = 0; i < w->n; i++) {
        int Ti = bench_workload_batch(w, i).T;
        if (Ti > T) T = Ti;
    }
    return T;
}

void bench_workload_free(BenchWorkload *w) {
    tokenset_free(&w->set);
    memset(w, 0, sizeof *w);
}
