/* trainer.c - see include/lorafit/engine/trainer.h */
#include "lorafit/engine/trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/engine/batch.h"
#include "lorafit/util/rng.h"

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
    memset(t, 0, sizeof *t);
}

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

bool trainer_step(Trainer *t, StepResult *r, LfError *err) {
    const int *order = trainer_order(t);
    Gpt2Model *m = t->model;
    long first = t->batch * t->batch_size;
    int B = (long)t->data->n - first < t->batch_size ? (int)((long)t->data->n - first) : t->batch_size;
    Gpt2Batch batch = batch_select(t->data, order + first, B, t->pool, t->pad_to, t->start, t->lengths,
                                   t->labels, t->prompt_lengths);
    const bool lm = m->n_classes == 0;
    float loss = gpt2_forward(m, &batch, t->pool, true, lm ? NULL : t->logits);
    if (!isfinite(loss)) {
        lf_error_set(err, LF_ERR_RUNTIME, "the loss became %s at epoch %d, batch %ld (step %ld)",
                     isnan(loss) ? "NaN" : "infinite", t->epoch + 1, t->batch, t->step + 1);
        return false;
    }
    gpt2_backward(m);
    if (t->grad_clip > 0) grad_clip_norm(m->grads, m->n_params, (float)t->grad_clip);
    adamw_step(t->opt, m->params, m->grads, m->n_params);

    r->loss = loss;
    r->B = lm ? m->lm.n : B;
    r->correct = lm ? (int)m->lm.hits : 0;
    r->tokens = 0;
    for (int b = 0; b < B; b++) {
        if (!lm) r->correct += argmax(t->logits + (size_t)b * m->n_classes, m->n_classes) == t->labels[b];
        r->tokens += t->pool == POOL_LAST_POSITION ? batch.T : t->lengths[b];
    }
    t->step++;
    if (++t->batch == trainer_batches_per_epoch(t)) {
        t->batch = 0;
        t->epoch++;
    }
    return true;
}

bool trainer_evaluate(Trainer *t, const TokenSet *set, double *loss, double *accuracy, LfError *err) {
    int C = t->model->n_classes;
    if (C == 0) {
        LmEval e;
        bool ok = batch_lm_evaluate(t->model, set, &e, err);
        *loss = e.targets ? e.loss_sum / (double)e.targets : 0;
        *accuracy = e.targets ? (double)e.hits / (double)e.targets : 0;
        return ok;
    }
    float *probs = malloc((set->n + 1) * (size_t)C * sizeof *probs);
    if (!probs) {
        lf_error_set(err, LF_ERR_IO, "out of memory");
        return false;
    }
    bool ok = batch_predict(t->model, set, t->pool, t->pad_to, probs, loss, err);
    long correct = 0;
    for (size_t i = 0; ok && i < set->n; i++) correct += argmax(probs + i * (size_t)C, C) == set->labels[i];
    *accuracy = set->n ? (double)correct / (double)set->n : 0;
    free(probs);
    return ok;
}
