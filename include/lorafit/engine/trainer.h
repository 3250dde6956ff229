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
 * an incomplete final batch is skipped.
 *
 * Ranks (dist.h; trainer_share()): every rank holds the same data and the
 * same parameters, and each batch of batch_size texts is cut in N
 * contiguous slices of about equal tokens (trainer_slice(): a step's time
 * grows with its tokens, and the ranks wait for the slowest; texts padded
 * to one length, or all of one length, go ceil(B/N) to a rank, the last
 * ranks fewer, maybe none). Each rank forms the gradient of its slice's
 * loss sum divided by the whole batch's count (its texts, or an LM's counted
 * targets, which every rank can count), and one dist_allreduce_sum() over a
 * buffer of every gradient and the step's sums (loss, hits, tokens, stop
 * votes) hands every rank the batch's mean gradient: they all clip and step
 * AdamW alike and stay bitwise equal. A loss that is not finite on one rank
 * makes the sum NaN on all, so every rank refuses the same step. With
 * --lora-dropout, a rank draws its masks over its own rows, so N ranks do
 * not draw the masks of one process (each is repeatable). */
#ifndef LORAFIT_TRAINER_H
#define LORAFIT_TRAINER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "lorafit/util/dist.h"
#include "lorafit/util/error.h"
#include "lorafit/engine/batch.h"
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
    const Dist *dist;      /* the ranks sharing each batch, not owned (NULL: alone; trainer_share) */
    /* the caller's flag (a signal handler's), or NULL: nonzero asks to stop
     * after the step in progress; read once the step's gradients are formed */
    const volatile sig_atomic_t *stop_flag;
    long nan_at_step;      /* test only (tests/cli_mpi.sh): this process's loss is NaN at that step (0: never) */

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
    float *exchange;       /* [n_params + TRAINER_SUMS] one step's allreduce (ranks > 1) */
} Trainer;

typedef struct {
    double loss;           /* the batch's mean loss (an LM's: per counted target) */
    int correct, B;        /* classifier: texts right of B texts; LM: targets predicted by
                            * the argmax of B counted targets (a token accuracy) */
    long tokens;           /* positions the model ran over */
    int stop_votes;        /* ranks whose stop_flag was set (alone: 0 or 1) */
} StepResult;

/* A causal LM needs POOL_LAST_TOKEN (else an LF_ERR_INPUT error). */
bool trainer_init(Trainer *t, Gpt2Model *m, AdamW *opt, const TokenSet *data, Gpt2Pool pool, int pad_to,
                  int batch_size, bool drop_last, double grad_clip, uint64_t seed, LfError *err);
void trainer_free(Trainer *t);

/* Shares every step (and evaluation) with the ranks of d (see above);
 * nothing changes with one rank. */
bool trainer_share(Trainer *t, const Dist *d, LfError *err);

/* The rows [*first, *end) of a batch (or set) of n rows costing cost[i]
 * each (NULL: 1 each) that rank r of N takes: cut k (k = 1 .. N - 1) is
 * the first row i whose preceding rows cost at least k/N of the total, so
 * with equal costs rank r takes rows r*ceil(n/N) ... The same on every rank. */
void trainer_slice(const int *cost, long n, int r, int N, long *first, long *end);

/* The order in which the epoch in progress (t->epoch) visits the rows. */
const int *trainer_order(Trainer *t);

/* Batches in one epoch. */
long trainer_batches_per_epoch(const Trainer *t);

/* Forward, backward and an AdamW update on the next batch; advances
 * batch/epoch/step. A loss that is not finite is an LF_ERR_RUNTIME error and
 * leaves the parameters as they were before the step. */
bool trainer_step(Trainer *t, StepResult *r, LfError *err);

/* Mean loss and accuracy of the model over every text of `set` (no
 * dropout), in batches of the model's max_B (ranks: each its slice of the
 * set, the sums gathered). For a causal LM: the mean
 * loss per counted target token (exp(loss) is the perplexity) and the
 * next-token accuracy (batch_lm_evaluate in batch.h has the sums). */
bool trainer_evaluate(Trainer *t, const TokenSet *set, double *loss, double *accuracy, LfError *err);

/* A causal LM's figures over `whole` shared by the ranks of d (NULL or one
 * rank: alone): each rank evaluates its slice (trainer_slice, by tokens)
 * and the sums are added in double, the same on every rank. False on every
 * rank when one failed. trainer_evaluate's and eval's. */
bool trainer_lm_evaluate_shared(Gpt2Model *m, const TokenSet *whole, const Dist *d, LmEval *out, LfError *err);

#endif
