/* train_run.h - what `lorafit train` holds for one run (cmd_train.c), and
 * how it reads its data (train_data.c): the classifier's labelled files or
 * the language model's records, encoded into token sets. Internal to the
 * train command. */
#ifndef LORAFIT_CLI_TRAIN_RUN_H
#define LORAFIT_CLI_TRAIN_RUN_H

#include <stdbool.h>
#include <stdio.h>

#include "lorafit/cli/cli.h"
#include "lorafit/cli/session.h"
#include "lorafit/data/dataset.h"
#include "lorafit/data/lm_data.h"
#include "lorafit/data/tokenset.h"
#include "lorafit/engine/optim.h"
#include "lorafit/engine/trainer.h"
#include "lorafit/io/adapter.h"
#include "lorafit/report/report.h"

typedef struct {
    const char *model, *train, *val, *out, *resume, *vocab, *log_path, *plot_path;
    AdapterConfig ac;  /* LoRA, pooling, max length and training settings */
    int threads, log_every, save_every;
    int recompute; /* 1 on, 0 off, -1 by the base's dtype (gpt2_set_recompute) */
    bool force;
    DatasetOptions dopt;
    CliParse cli; /* which options were given */
} TrainOptions;

/* Everything one run holds; freed by run_free(). */
typedef struct {
    TrainOptions *o;
    Session s;
    Dataset *train_data, *val_data; /* classification */
    LmData *lm_train, *lm_val;      /* causal-lm */
    TokenSet train, val;
    AdamW opt;
    bool opt_built;
    Trainer tr;
    bool tr_built;
    TrainHistory history;
    FILE *log;
    Progress progress;
    double t_start;
    long last_checkpoint_step; /* -1 = none yet */
} TrainRun;

/* The classifier's data: reads the files and fixes the classes (the
 * checkpoint's on resume, else the training file's or --labels). */
bool train_load_classes(TrainRun *r, LfError *err);

/* Encodes the classifier's texts and settles --max-length (see train --help). */
bool train_encode_classes(TrainRun *r, LfError *err);

/* The language model's records, encoded at --max-length (the model's
 * context unless given), training and validation with the same prompt mask. */
bool train_load_lm(TrainRun *r, LfError *err);

#endif
