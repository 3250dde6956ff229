/* trainer.c - see include/lorafit/engine/trainer.h */
#include "lorafit/engine/trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/engine/batch.h"
#include "lorafit/util/rng.h"

/* The sums a step exchanges after the gradients (trainer.h). */
enum { SUM_LOSS, SUM_HITS, SUM_TOKENS, SUM_STOP, TRAINER_SUMS };

bool trainer_init(Trainer *t, Gpt2Model *m, AdamW *opt, const TokenSet *data, Gpt2Pool pool, int pad_to,
                  int batch_size, bool drop_last, double grad_clip, uint64_t seed, LfError *err) {
    *t = (Trainer){.model = m, .opt = opt, .data = data, .pool = pool, .pad_to = pad_to,
                   .batch_size = batch_size, .drop_last = drop_last, .grad_clip = grad_clip, .seed = seed,
                   .order_epoch = -1};
    if (m->n_classes == 0 && pool != POOL_LAST_TOKEN) {
        lf_error_set(err, LF_ERR_INPUT, "a causal LM trains on packed texts: last-token pooling, not padding");
        return false;
    }
    size_t B = (size_t)batch_size;
    t->order = malloc((data->n + 1) * sizeof *t->order);
    t->start = malloc(B * sizeof *t->start);
    t->lengths = malloc(B * sizeof *t->lengths);
    t->labels = malloc(B * sizeof *t->labels);
    t->prompt_lengths = malloc(B * sizeof *t->prompt_lengths);
    t->logits = malloc((B * (size_t)m->n_classes + 1) * sizeof *t->logits);
    if (!t->order || !t->start || !t->lengths || !t->labels || !t->prompt_lengths || !t->logits) {
        trainer_free(t);
        lf_error_set(err, LF_ERR_IO, "out of memory");
        return false;
    }
    return true;
}

void trainer_free(Trainer *t) {
    free(t->order);
    free(t->start);
    free(t->lengths);
    free(t->labels);
    free(t->prompt_lengths);
    free(t->logits);
    free(t->exchange);
    memset(t, 0, sizeof *t);
}

bool trainer_share(Trainer *t, const Dist *d, LfError *err) {
    t->dist = d;
    if (dist_size(d) == 1) return true;
    free(t->exchange);
    t->exchange = malloc((t->model->n_params + TRAINER_SUMS) * sizeof *t->exchange);
    if (!t->exchange) {
        lf_error_set(err, LF_ERR_IO, "out of memory for the ranks' exchange (%zu parameters)", t->model->n_params);
        return false;
    }
    return true;
}

/* Cut k of trainer_slice(): the first i with N * cost(rows before i) >= k * total. */
static long slice_cut(const int *cost, long n, int k, int N, long long total) {
    long long before = 0;
    long i = 0;
    while (i < n && before * N < (long long)k * total) {
        before += cost ? cost[i] : 1;
        i++;
    }
    return i;
}

void trainer_slice(const int *cost, long n, int r, int N, long *first, long *end) {
    long long total = 0;
    for (long i = 0; i < n; i++) total += cost ? cost[i] : 1;
    *first = slice_cut(cost, n, r, N, total);
    *end = slice_cut(cost, n, r + 1, N, total);
}

static int ranks(const Trainer *t) { return t->dist ? dist_size(t->dist) : 1; }

static bool stop_asked(const Trainer *t) { return t->stop_flag && *t->stop_flag; }

long trainer_batches_per_epoch(const Trainer *t) {
    long n = (long)t->data->n, B = t->batch_size;
    return t->drop_last ? n / B : (n + B - 1) / B;
}

/* The permutation of epoch e depends on (seed, e) only. */
const int *trainer_order(Trainer *t) {
    if (t->order_epoch == t->epoch) return t->order;
    Rng r;
    rng_seed(&r, t->seed ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(t->epoch + 1)));
    for (size_t i = 0; i < t->data->n; i++) t->order[i] = (int)i;
    rng_shuffle(&r, t->order, t->data->n);
    t->order_epoch = t->epoch;
    return t->order;
}

static int argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* Forward and backward over the B texts rows[0..B) (none on a rank whose
 * slice is empty): the gradient of their loss sum / grad_count (0: their
 * mean) in m->grads, unless the loss is not finite. Fills r's hits and
 * tokens; returns the forward's mean loss and puts its sum in *loss_sum. */
static float forward_backward(Trainer *t, const int *rows, int B, int grad_count, StepResult *r,
                              double *loss_sum) {
    Gpt2Model *m = t->model;
    const bool lm = m->n_classes == 0;
    r->correct = 0;
    r->tokens = 0;
    *loss_sum = 0;
    if (B == 0) {
        memset(m->grads, 0, m->n_params * sizeof *m->grads);
        if (m->dropout > 0.0f) rng_next(&m->rng); /* the draw every other rank's forward makes */
        return 0.0f;
    }
    Gpt2Batch batch = batch_select(t->data, rows, B, t->pool, t->pad_to, t->start, t->lengths, t->labels,
                                   t->prompt_lengths);
    batch.grad_count = grad_count;
    float loss = gpt2_forward(m, &batch, t->pool, true, lm ? NULL : t->logits);
    if (t->nan_at_step == t->step + 1) loss = NAN;
    if (!isfinite(loss)) return loss;
    gpt2_backward(m);
    *loss_sum = m->loss_sum;
    r->correct = lm ? (int)m->lm.hits : 0;
    for (int b = 0; b < B; b++) {
        if (!lm) r->correct += argmax(t->logits + (size_t)b * m->n_classes, m->n_classes) == t->labels[b];
        r->tokens += t->pool == POOL_LAST_POSITION ? batch.T : t->lengths[b];
    }
    return loss;
}

/* Counted targets of an LM's texts rows[0..B), as the engine counts them
 * (gpt2.h): text i predicts its tokens from max(prompt length, 1) on. */
static int lm_targets(const TokenSet *ts, const int *rows, int B) {
    int n = 0;
    for (int b = 0; b < B; b++) {
        int L = ts->length[rows[b]], P = ts->prompt_length ? ts->prompt_length[rows[b]] : 0;
        n += L - 1 - (P > 0 ? P - 1 : 0);
    }
    return n;
}

/* This rank's slice of the batch rows[0..B), then one allreduce of the
 * gradients and the step's sums: r holds the whole batch's figures and
 * m->grads its mean gradient. Returns the mean loss (NaN when any rank's
 * was not finite). */
static double shared_step(Trainer *t, const int *rows, int B, StepResult *r, LfError *err, bool *ok) {
    Gpt2Model *m = t->model;
    const bool lm = m->n_classes == 0;
    int count = lm ? lm_targets(t->data, rows, B) : B;
    long lo, hi;
    /* the texts' tokens as their cost (t->lengths is free until the slice's batch) */
    for (int b = 0; b < B; b++) t->lengths[b] = t->pool == POOL_LAST_POSITION ? 1 : t->data->length[rows[b]];
    trainer_slice(t->lengths, B, dist_rank(t->dist), dist_size(t->dist), &lo, &hi);
    double loss_sum;
    float loss = forward_backward(t, rows + lo, (int)(hi - lo), count, r, &loss_sum);
    float *x = t->exchange, *sums = x + m->n_params;
    memcpy(x, m->grads, m->n_params * sizeof *x);
    sums[SUM_LOSS] = isfinite(loss) ? (float)loss_sum : loss;
    sums[SUM_HITS] = (float)r->correct;
    sums[SUM_TOKENS] = (float)r->tokens;
    sums[SUM_STOP] = stop_asked(t);
    if (!(*ok = dist_allreduce_sum(t->dist, x, m->n_params + TRAINER_SUMS, err))) return NAN;
    memcpy(m->grads, x, m->n_params * sizeof *x);
    r->B = count;
    r->correct = (int)sums[SUM_HITS];
    r->tokens = (long)sums[SUM_TOKENS];
    r->stop_votes = (int)sums[SUM_STOP];
    return count ? (double)(float)((double)sums[SUM_LOSS] / count) : isfinite(sums[SUM_LOSS]) ? 0.0 : NAN;
}

bool trainer_step(Trainer *t, StepResult *r, LfError *err) {
    const int *order = trainer_order(t);
    Gpt2Model *m = t->model;
    long first = t->batch * t->batch_size;
    int B = (long)t->data->n - first < t->batch_size ? (int)((long)t->data->n - first) : t->batch_size;
    bool ok = true;
    double loss_sum;
    *r = (StepResult){0};
    if (ranks(t) > 1) {
        r->loss = shared_step(t, order + first, B, r, err, &ok);
        if (!ok) return false;
    } else {
        r->loss = forward_backward(t, order + first, B, 0, r, &loss_sum);
        r->B = m->n_classes == 0 ? m->lm.n : B;
    }
    if (!isfinite(r->loss)) {
        lf_error_set(err, LF_ERR_RUNTIME, "the loss became %s at epoch %d, batch %ld (step %ld)",
                     isnan(r->loss) ? "NaN" : "infinite", t->epoch + 1, t->batch, t->step + 1);
        return false;
    }
    if (t->grad_clip > 0) grad_clip_norm(m->grads, m->n_params, (float)t->grad_clip);
    adamw_step(t->opt, m->params, m->grads, m->n_params);
    t->step++;
    if (++t->batch == trainer_batches_per_epoch(t)) {
        t->batch = 0;
        t->epoch++;
    }
    if (ranks(t) == 1) r->stop_votes = stop_asked(t);
    return true;
}

/* sums [n] over the ranks (nothing alone), in double; false on every rank when one failed. */
static bool gather_sums(const Dist *d, double *sums, int n, bool ok, LfError *err) {
    if (!d || dist_size(d) == 1) return ok;
    if (!dist_agree(d, ok, err)) return false;
    return dist_allreduce_sum_f64(d, sums, (size_t)n, err);
}

bool trainer_lm_evaluate_shared(Gpt2Model *m, const TokenSet *whole, const Dist *d, LmEval *out, LfError *err) {
    long lo = 0, hi = (long)whole->n;
    if (d && dist_size(d) > 1) trainer_slice(whole->length, (long)whole->n, dist_rank(d), dist_size(d), &lo, &hi);
    const TokenSet part = tokenset_view(whole, (size_t)lo, (size_t)(hi - lo));
    LmEval e = {0};
    bool ok = hi == lo || batch_lm_evaluate(m, &part, &e, err);
    double sums[3] = {e.loss_sum, (double)e.targets, (double)e.hits};
    if (!gather_sums(d, sums, 3, ok, err)) return false;
    *out = (LmEval){sums[0], (long)sums[1], (long)sums[2]};
    return true;
}

bool trainer_evaluate(Trainer *t, const TokenSet *whole, double *loss, double *accuracy, LfError *err) {
    int C = t->model->n_classes;
    if (C == 0) {
        LmEval e;
        if (!trainer_lm_evaluate_shared(t->model, whole, t->dist, &e, err)) return false;
        *loss = e.targets ? e.loss_sum / (double)e.targets : 0;
        *accuracy = e.targets ? (double)e.hits / (double)e.targets : 0;
        return true;
    }
    long lo = 0, hi = (long)whole->n;
    if (ranks(t) > 1)
        trainer_slice(t->pool == POOL_LAST_POSITION ? NULL : whole->length, (long)whole->n, dist_rank(t->dist),
                      dist_size(t->dist), &lo, &hi);
    const TokenSet part = tokenset_view(whole, (size_t)lo, (size_t)(hi - lo)), *set = &part;
    float *probs = malloc((set->n + 1) * (size_t)C * sizeof *probs);
    bool ok = probs != NULL;
    if (!ok) lf_error_set(err, LF_ERR_IO, "out of memory");
    ok = ok && batch_predict(t->model, set, t->pool, t->pad_to, probs, loss, err);
    long correct = ok ? batch_count_correct(probs, set->labels, set->n, C) : 0;
    free(probs);
    if (ranks(t) > 1) {
        double sums[2] = {ok ? *loss * (double)set->n : 0.0, (double)correct};
        if (!(ok = gather_sums(t->dist, sums, 2, ok, err))) return false;
        *loss = whole->n ? sums[0] / (double)whole->n : 0;
        correct = (long)sums[1];
    }
    *accuracy = whole->n ? (double)correct / (double)whole->n : 0;
    return ok;
}
