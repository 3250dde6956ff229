/* bench_workload.h - the batches `lorafit bench` times the engine on: the
 * labs' padded batch of random ids, batches of real SMS lengths (a built-in
 * table) of random ids, or the first texts of a labelled file.
 *
 * Each is a TokenSet in batch order (batch i holds texts i*B .. i*B+B-1),
 * cut into batches by batch.h as training and eval cut theirs: the bench
 * times the same way into the engine that they take.
 *
 * Why report/: this is the benchmark's input, used by `bench` alone. It
 * builds on data/ (datasets, the tokenizer) and engine/ (batches), and
 * report/ already holds what bench measures with (bench.h): the lowest
 * layer that may use both, without putting benchmark fixtures into the
 * engine. */
#ifndef LORAFIT_BENCH_WORKLOAD_H
#define LORAFIT_BENCH_WORKLOAD_H

#include <stdbool.h>

#include "lorafit/data/tokenset.h"
#include "lorafit/engine/gpt2.h"
#include "lorafit/util/error.h"
#include "lorafit/util/rng.h"

typedef struct {
    TokenSet set;  /* the texts, in batch order, every one labelled 0 or 1 (an LM's: with prompt lengths) */
    int n, B;      /* batches, texts per batch */
    Gpt2Pool pool; /* how the bench's cases read them */
    int pad_to;    /* the padded length, with POOL_LAST_POSITION */
    long rows;     /* packed rows over all batches */
} BenchWorkload;

/* The labs' setup: one batch of B texts of T random ids below vocab (no
 * padding: every text is T long), read at the last position. */
bool bench_workload_padded(BenchWorkload *w, int B, int T, int vocab, Rng *r, LfError *err);

/* 64 / B batches of B texts with the token lengths of the first 64 messages
 * of the labs' training split (cut at max_T), random ids, last-token. */
bool bench_workload_sms(BenchWorkload *w, int B, int max_T, int vocab, Rng *r, LfError *err);

/* A causal LM's batch, shaped like SQuAD prompts: B texts of 200..300
 * random ids (cut at max_T), each with prompt_length = length - answer, so
 * the last `answer` positions' next tokens count (an answer and its
 * <|endoftext|>); answer 0 counts every next token. Unlabelled, last-token. */
bool bench_workload_lm(BenchWorkload *w, int B, int max_T, int answer, int vocab, Rng *r, LfError *err);

/* The same number of batches from the first texts of a labelled CSV/TSV,
 * encoded with GPT-2's tokenizer (from model_dir, or lorafit's copy) and cut
 * at n_ctx; classes above 1 count as 1 (the bench's head has 2). */
bool bench_workload_file(BenchWorkload *w, const char *path, const char *model_dir, int B, int n_ctx,
                         LfError *err);

/* Batch i (with labels, or an LM's prompt lengths). */
Gpt2Batch bench_workload_batch(const BenchWorkload *w, int i);

/* The longest batch's T: what the engine must be built for. */
int bench_workload_longest(const BenchWorkload *w);

void bench_workload_free(BenchWorkload *w);

#endif
