/* train_checkpoint.c - where `lorafit train` stands, on disk and across
 * ranks: saving and restoring checkpoints, and the checks that every rank
 * runs the same thing. See include/lorafit/cli/train_run.h */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/cli/train_run.h"
#include "lorafit/io/train_state.h"

/* Checks that a resumed run sees the same data, then restores its state. */
bool train_restore(TrainRun *r, LfError *err) {
    TrainOptions *o = r->o;
    AdapterConfig *ac = &o->ac;
    if (ac->training.train_digest != tokenset_digest(&r->train)) {
        if (ac->training.train_rows != (long)r->train.n)
            lf_error_set(err, LF_ERR_INPUT,
                         "%s is not the data the checkpoint in %s was trained on (%ld rows then, %zu now)", o->train,
                         o->resume, ac->training.train_rows, r->train.n);
        else
            lf_error_set(err, LF_ERR_INPUT,
                         "%s is not the data the checkpoint in %s was trained on (%zu rows then and now, but other "
                         "texts or labels)", o->train, o->resume, r->train.n);
        return false;
    }
    TrainState st;
    if (!adapter_load_weights(o->resume, ac, &r->s.net.model, r->s.net.slots, err) ||
        !train_state_load(o->resume, &st, &r->opt, err))
        return false;
    long per_epoch = trainer_batches_per_epoch(&r->tr);
    bool ok = st.n_points == st.step;
    for (long i = 0; ok && i < st.n_points; i++)
        ok = history_push_train(&r->history, i + 1, (int)(i / per_epoch) + 1, st.point_loss[i], st.point_acc[i]);
    free((void *)st.point_loss);
    free((void *)st.point_acc);
    if (!ok) {
        lf_error_set(err, LF_ERR_INPUT, "%s: the training state is inconsistent (history of %ld steps, step %ld)",
                     o->resume, st.n_points, st.step);
        return false;
    }
    memcpy(r->s.net.model.rng.s, st.rng, sizeof st.rng);
    r->tr.epoch = st.epoch;
    r->tr.batch = st.batch;
    r->tr.step = st.step;
    r->last_checkpoint_step = st.step;
    return true;
}

static bool save_checkpoint(TrainRun *r, bool complete, LfError *err) {
    size_t n = r->history.n_train;
    float *loss = malloc((n + 1) * sizeof *loss), *acc = malloc((n + 1) * sizeof *acc);
    if (!loss || !acc) {
        free(loss);
        free(acc);
        lf_error_set(err, LF_ERR_IO, "out of memory saving the checkpoint");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        loss[i] = (float)r->history.train[i].loss;
        acc[i] = (float)r->history.train[i].accuracy;
    }
    TrainState st = {r->tr.epoch, r->tr.batch, r->tr.step, complete, {0}, &r->opt, (long)n, loss, acc};
    memcpy(st.rng, r->s.net.model.rng.s, sizeof st.rng);
    /* The run owns --out once it started: later saves replace its own checkpoint. */
    bool overwrite = r->o->force || r->o->resume || r->last_checkpoint_step >= 0;
    bool ok = adapter_save(r->o->out, &r->o->ac, &r->s.net.model, r->s.net.slots, &st, overwrite, err);
    if (ok) r->last_checkpoint_step = r->tr.step;
    free(loss);
    free(acc);
    return ok;
}

/* Rank 0 writes; every rank learns whether it could, and that the ranks'
 * parameters are still the same bits (the allreduce handed each the same
 * sums). */
bool train_save(TrainRun *r, bool complete, LfError *err) {
    bool ok = dist_is_root(r->d) ? save_checkpoint(r, complete, err) : true;
    if (!dist_agree(r->d, ok, err)) return false;
    if (!dist_is_root(r->d)) r->last_checkpoint_step = r->tr.step;
    if (dist_same_bits(r->d, r->s.net.model.params, r->s.net.model.n_params * sizeof(float))) return true;
    lf_error_set(err, LF_ERR_RUNTIME, "the ranks' parameters differ after step %ld: the MPI library's allreduce "
                 "handed them different sums", r->tr.step);
    return false;
}

/* The settings every rank must share, as text (no padding bytes to differ). */
static void settings_text(const AdapterConfig *ac, char *text, size_t size) {
    const AdapterTraining *t = &ac->training;
    int n = snprintf(text, size, "%.17g %.17g %.17g %d %d %" PRIx64 " %d %d %d %d %d %d %.17g %d %d %.17g",
                     t->lr, t->weight_decay, t->grad_clip, t->batch_size, t->epochs, t->seed, t->drop_last,
                     t->mask_prompt, ac->task, ac->pool, ac->max_length, ac->lora.rank, ac->lora.alpha,
                     ac->lora.scaling, ac->lora.init, ac->lora.dropout);
    for (int i = 0; i < ac->lora.n_targets && n > 0 && (size_t)n < size; i++)
        n += snprintf(text + n, size - (size_t)n, " %s", ac->lora.targets[i]);
}

/* Every rank runs the same settings on the same data and model, and built
 * the same parameters (and, on --resume, restored the same optimizer state). */
bool train_ranks_agree(const TrainRun *r, LfError *err) {
    const AdapterConfig *ac = &r->o->ac;
    const Gpt2Model *m = &r->s.net.model;
    char settings[1024] = "";
    settings_text(ac, settings, sizeof settings);
    const struct {
        const char *what;
        const void *bits;
        size_t size;
    } shared[] = {
        {"the training settings (every rank must run the same command)", settings, sizeof settings},
        {r->o->train, &ac->training.train_digest, sizeof ac->training.train_digest},
        {r->o->model, &ac->base_fingerprint, sizeof ac->base_fingerprint},
        {"the parameters", m->params, m->n_params * sizeof(float)},
        {"the optimizer state", r->opt.m, 2 * r->opt.n * sizeof(float)},
    };
    for (size_t i = 0; i < sizeof shared / sizeof shared[0]; i++)
        if (!dist_same_bits(r->d, shared[i].bits, shared[i].size)) {
            lf_error_set(err, LF_ERR_INPUT, "not the same on every rank: %s", shared[i].what);
            return false;
        }
    return true;
}
