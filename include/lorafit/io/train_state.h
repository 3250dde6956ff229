/* train_state.h - training_state.safetensors: where a run stands, saved
 * beside its adapter so that `train --resume` continues it exactly.
 *
 * Tensors: "adamw.m" and "adamw.v" [n_params] (AdamW's moments, in the
 * optimizer's parameter order), "history.loss" and "history.accuracy"
 * [n_points] (the per-step curve, for the plot and log after a resume).
 * Metadata (strings): "epoch", "batch", "step", "adamw_step" (decimal),
 * "rng" (the dropout stream's four 64-bit words, 64 hex digits) and
 * "complete" ("true" or "false"). */
#ifndef LORAFIT_TRAIN_STATE_H
#define LORAFIT_TRAIN_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "lorafit/engine/optim.h"
#include "lorafit/util/error.h"

#define ADAPTER_STATE_FILE "training_state.safetensors"

typedef struct {
    int epoch;           /* the epoch in progress, 0-based */
    long batch;          /* batches of that epoch already done */
    long step;           /* optimizer steps done in all */
    bool complete;       /* training finished */
    uint64_t rng[4];     /* the engine's dropout stream */
    const AdamW *opt;    /* moments and step (saving) */
    /* the loss history, for the plot and the log after a resume */
    long n_points;
    const float *point_loss, *point_acc; /* [n_points] per step (saving) */
} TrainState;

/* Writes dir/training_state.safetensors. */
bool train_state_save(const char *dir, const TrainState *state, LfError *err);

/* Reads dir/training_state.safetensors: fills *state (its history arrays
 * are allocated: free() point_loss and point_acc) and opt's moments and
 * step. opt must have been built for the same parameters; a tensor of
 * another size, a missing one or bad metadata is an error naming the file. */
bool train_state_load(const char *dir, TrainState *state, AdamW *opt, LfError *err);

#endif
