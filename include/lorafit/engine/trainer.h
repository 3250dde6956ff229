/* trainer.h - the training loop's mechanics: which rows make the next
 * batch, one optimizer step on it, and evaluation over a whole set.
 * Printing, logging, checkpoints and signals are the command's business
 * (cmd_train.c); the trainer only computes.
 *
 * The model may be a classifier (data labelled) or a causal LM
 * (n_classes 0, data with prompt lengths or none, POOL_LAST_TOKEN): the
 * loop is the same, only what a step and an evaluation report differs.
 *
 * Data order: epoch e visits the rows in a permutation drawn from a PRNG
 * seeded with (seed, e) alone, so the order of any epoch can be rebuilt on
 * resume without replaying earlier ones. With drop_last (the labs' default)
 * an incomplete final batch is skipped. */
#ifndef LORAFIT_TRAINER_H
#define LORAFIT_TRAINER_H

#include <stdbool.h>
#include <stdint.h>

#include "lorafit/util/error.h"
#include "lorafit/engine/gpt2.h"
#include "lorafit/engine/optim.h"
#include "lorafit/data/tokenset.h"

typedef struct {
    Gpt2Model *model;      /* not owned */
    AdamW *opt;            /* not owned */
    const TokenSet *data;  /* the training set, not owned */
    Gpt2Pool pool;
    int pad_to;            /* padded length for POOL_LAST_POSITION */
    int batch_size;
    bool drop_last;
    double grad_clip;      /* 0 = off */
    uint64_t seed;

    /* where training stands */
    int epoch;             /* 0-based epoch in progress */
    long batch;            /* batches of it done */
    long step;             /* optimizer steps done in all */

    /* scratch, sized at init */
    int *order;            /* [n] this epoch's permutation */
    int order_epoch;       /* which epoch `order` is for (-1: none) */
    size_t *start;         /* one batch: where its texts start in data->tokens ... */
    int *lengths, *labels; /* ... their lengths and labels ... */
    int *prompt_lengths;   /* ... and prompt lengths (LM) */
    float *logits;
} Trainer;

typedef struct {
    double loss;           /* the batch's mean loss (an LM's: per counted target) */
    int correct, B;        /* classifier: texts right of B texts; LM: targets predicted by
                            * the argmax of B counted targets (a token accuracy) */
    long tokens;           /* positions the model ran over */
} StepResult;

/* A causal LM needs POOL_LAST_TOKEN (else an LF_ERR_INPUT error). */
bool trainer_init(Trainer *t, Gpt2Model *m, AdamW *opt, const TokenSet *data, Gpt2Pool pool, int pad_to,
                  int batch_size, bool drop_last, double grad_clip, uint64_t seed, LfError *err);
void trainer_free(Trainer *t);

/* The order in which the epoch in progress (t->epoch) visits the rows. */
const int *trainer_order(Trainer *t);

/* Batches in one epoch. */
long trainer_batches_per_epoch(const Trainer *t);

/* Forward, backward and an AdamW update on the next batch; advances
 * batch/epoch/step. A loss that is not finite is an LF_ERR_RUNTIME error and
 * leaves the parameters as they were before the step. */
bool trainer_step(Trainer *t, StepResult *r, LfError *err);

/* Mean loss and accuracy of the model over every text of `set` (no
 * dropout), in batches of the model's max_B. For a causal LM: the mean
 * loss per counted target token (exp(loss) is the perplexity) and the
 * next-token accuracy (batch_lm_evaluate in batch.h has the sums). */
bool trainer_evaluate(Trainer *t, const TokenSet *set, double *loss, double *accuracy, LfError *err);

#endif
