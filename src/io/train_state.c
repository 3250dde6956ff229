/* train_state.c - training_state.safetensors. See include/lorafit/io/train_state.h. */
#include "lorafit/io/train_state.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/io/safetensors.h"

bool train_state_save(const char *dir, const TrainState *s, LfError *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, ADAPTER_STATE_FILE);
    StWriter *w = st_writer_new();
    if (!w) {
        lf_error_set(err, LF_ERR_IO, "out of memory saving the training state");
        return false;
    }
    char buf[4][64];
    int64_t n_params[1] = {(int64_t)s->opt->n}, n_points[1] = {s->n_points};
    snprintf(buf[0], sizeof buf[0], "%d", s->epoch);
    snprintf(buf[1], sizeof buf[1], "%ld", s->batch);
    snprintf(buf[2], sizeof buf[2], "%ld", s->step);
    char rng[80];
    snprintf(rng, sizeof rng, "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64, s->rng[0], s->rng[1],
             s->rng[2], s->rng[3]);
    snprintf(buf[3], sizeof buf[3], "%d", s->opt->step);
    bool ok = st_writer_add(w, "adamw.m", ST_F32, 1, n_params, s->opt->m, err) &&
              st_writer_add(w, "adamw.v", ST_F32, 1, n_params, s->opt->v, err) &&
              st_writer_add(w, "history.loss", ST_F32, 1, n_points, s->point_loss, err) &&
              st_writer_add(w, "history.accuracy", ST_F32, 1, n_points, s->point_acc, err) &&
              st_writer_metadata(w, "epoch", buf[0], err) && st_writer_metadata(w, "batch", buf[1], err) &&
              st_writer_metadata(w, "step", buf[2], err) && st_writer_metadata(w, "adamw_step", buf[3], err) &&
              st_writer_metadata(w, "rng", rng, err) &&
              st_writer_metadata(w, "complete", s->complete ? "true" : "false", err) &&
              st_writer_save(w, path, err);
    st_writer_free(w);
    return ok;
}

static bool metadata_long(const StFile *f, const char *key, long *out, LfError *err) {
    const char *s = st_metadata(f, key);
    char *end;
    if (s) {
        errno = 0;
        *out = strtol(s, &end, 10);
        if (*s && *end == '\0' && errno == 0) return true;
    }
    lf_error_set(err, LF_ERR_INPUT, "%s: metadata \"%s\" is missing or not a number", st_path(f), key);
    return false;
}

bool train_state_load(const char *dir, TrainState *state, AdamW *opt, LfError *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, ADAPTER_STATE_FILE);
    memset(state, 0, sizeof *state);
    StFile *f = st_open(path, err);
    if (!f) return false;
    long epoch, adamw_step;
    bool ok = metadata_long(f, "epoch", &epoch, err) && metadata_long(f, "batch", &state->batch, err) &&
              metadata_long(f, "step", &state->step, err) && metadata_long(f, "adamw_step", &adamw_step, err);
    const char *rng = st_metadata(f, "rng"), *complete = st_metadata(f, "complete");
    if (ok && (!rng || strlen(rng) != 64 || !complete)) {
        lf_error_set(err, LF_ERR_INPUT, "%s: metadata \"rng\" or \"complete\" is missing", path);
        ok = false;
    }
    for (int i = 0; ok && i < 4; i++) {
        char part[17];
        memcpy(part, rng + 16 * i, 16);
        part[16] = '\0';
        state->rng[i] = strtoull(part, NULL, 16);
    }
    if (ok) {
        state->epoch = (int)epoch;
        state->complete = strcmp(complete, "true") == 0;
        opt->step = (int)adamw_step;
    }
    const int64_t n_params[1] = {(int64_t)opt->n};
    ok = ok && st_load_f32(f, "adamw.m", 1, n_params, opt->m, err) &&
         st_load_f32(f, "adamw.v", 1, n_params, opt->v, err);
    const StTensor *hl = ok ? st_find(f, "history.loss") : NULL;
    const StTensor *ha = ok ? st_find(f, "history.accuracy") : NULL;
    if (ok && (!hl || !ha || hl->numel != ha->numel)) {
        lf_error_set(err, LF_ERR_INPUT, "%s: the loss history is missing or inconsistent", path);
        ok = false;
    }
    if (ok) {
        state->n_points = (long)hl->numel;
        float *loss = malloc((size_t)(hl->numel + 1) * sizeof(float));
        float *acc = malloc((size_t)(hl->numel + 1) * sizeof(float));
        ok = loss && acc && st_read_f32(hl, loss, (size_t)hl->numel, err) &&
             st_read_f32(ha, acc, (size_t)ha->numel, err);
        if (!loss || !acc) lf_error_set(err, LF_ERR_IO, "out of memory");
        state->point_loss = loss;
        state->point_acc = acc;
        if (!ok) {
            free(loss);
            free(acc);
            state->point_loss = state->point_acc = NULL;
        }
    }
    st_close(f);
    return ok;
}
