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
#include "lorafit/util/dist.h"

/* What a finished run tells a caller that runs train in this process (lorafit grid). */
typedef struct {
    long trainable, total;          /* parameters, as count-params counts them (the module tree's) */
    double val_loss, val_accuracy;  /* the last validation; NaN without --val */
    long steps;
    double train_seconds;           /* in the training loop */
} TrainOutcome;

typedef struct {
    const char *model, *train, *val, *out, *resume, *vocab, *log_path, *plot_path;
    AdapterConfig ac;  /* LoRA, pooling, max length and training settings */
    int threads, log_every, save_every;
    int track_norms; /* 0 = off */
    int recompute; /* 1 on, 0 off, -1 by the base's dtype (gpt2_set_recompute) */
    bool force;
    DatasetOptions dopt;
    CliParse cli; /* which options were given */
    const Session *base;   /* borrowed base (train_main), or NULL */
    TrainOutcome *outcome; /* filled after a run that succeeded, or NULL */
} TrainOptions;

/* Everything one run holds; freed by run_free(). */
typedef struct {
    TrainOptions *o;
    const Dist *d;    /* the ranks sharing each batch: rank 0 alone prints and writes */
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
    long last_norms_step;      /* of the last norms record; -1 = none yet */
} TrainRun;

/* `lorafit train` with these arguments (argv[0] "train"), run in this
 * process: prints what the command prints and returns its exit code. base:
 * an open session (session_open_base, its weights in fp32) whose checkpoint
 * and tokenizer the run borrows instead of opening --model (which must still
 * be given, and name it); or NULL. outcome: filled when it returns 0, or
 * NULL. cmd_train is train_main(argc, argv, NULL, NULL). */
int train_main(int argc, char **argv, const Session *base, TrainOutcome *outcome);

/* The classifier's data: reads the files and fixes the classes (the
 * checkpoint's on resume, else the training file's or --labels). */
bool train_load_classes(TrainRun *r, LfError *err);

/* Encodes the classifier's texts and settles --max-length (see train --help). */
bool train_encode_classes(TrainRun *r, LfError *err);

/* The language model's records, encoded at --max-length (the model's
 * context unless given), training and validation with the same prompt mask. */
bool train_load_lm(TrainRun *r, LfError *err);

/* On --resume: checks that the run sees the checkpoint's data, then
 * restores its weights, optimizer state, history and position. */
bool train_restore(TrainRun *r, LfError *err);

/* Saves a checkpoint (complete: the finished adapter) to --out: rank 0
 * writes, and every rank learns whether it could and checks that the
 * ranks' parameters are still the same bits. A collective (util/dist.h). */
bool train_save(TrainRun *r, bool complete, LfError *err);

/* After set-up, a collective: every rank runs the same settings on the
 * same data and model and holds the same parameters and optimizer state. */
bool train_ranks_agree(const TrainRun *r, LfError *err);

#endif
