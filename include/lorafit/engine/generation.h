/* generation.h - the decode loop of `generate` and `eval --task qa`:
 * prompts continued token by token through the KV-cache decoder (decode.h),
 * each next token picked by its sequence's sampler (sampler.h), up to max_B
 * sequences side by side.
 *
 * What a token means to the caller (its text, a stop string, printing it as
 * it comes) stays the caller's: a callback sees every generated token of
 * every sequence, in order. After each token a sequence ends at the first of
 *   GEN_STOP_ID       a stop id (e.g. <|endoftext|>), kept in the sequence;
 *   GEN_STOP_CALLER   the callback said GEN_END;
 *   GEN_STOP_LENGTH   max_new tokens generated;
 *   GEN_STOP_CONTEXT  the sequence fills the decoder's max_T positions.
 *
 * Each sequence's sampler is seeded again when the sequence starts, so its
 * tokens do not depend on the sequences decoded beside it (the batch size).
 * The sampler sees the sequence's whole history (prompt and generated) for
 * the repetition penalty. Only the GPT-2 tokenizer's ids are picked: a model
 * with a padded vocabulary (50304 rows) has logits past them that no text
 * stands for. */
#ifndef LORAFIT_GENERATION_H
#define LORAFIT_GENERATION_H

#include <stdbool.h>
#include <stdint.h>

#include "lorafit/data/tokenizer.h"
#include "lorafit/engine/decode.h"
#include "lorafit/engine/sampler.h"
#include "lorafit/util/error.h"

/* In this order so that a name table can follow it. */
typedef enum { GEN_RUNNING, GEN_STOP_ID, GEN_STOP_CALLER, GEN_STOP_LENGTH, GEN_STOP_CONTEXT } GenStop;

typedef struct {
    TokIds ids;      /* the prompt (at least one id), then every generated token */
    size_t n_prompt; /* set by the caller with the prompt */
    GenStop stop;
} GenSequence;

typedef enum { GEN_NEXT, GEN_END, GEN_FAIL } GenVerdict;

/* Called once per generated token `id` of seqs[i] (i indexes the run's
 * seqs), after id is appended to s->ids. s->stop already says GEN_STOP_ID,
 * _LENGTH or _CONTEXT when the token ends the sequence that way; GEN_END
 * ends it as GEN_STOP_CALLER instead (a stop id stays GEN_STOP_ID).
 * GEN_FAIL stops the run: the callback has set err. */
typedef GenVerdict (*GenOnToken)(void *user, int i, GenSequence *s, int32_t id, LfError *err);

typedef struct {
    int max_new;             /* tokens to generate at most per sequence (>= 1) */
    const int32_t *stop_ids; /* [n_stop_ids] */
    int n_stop_ids;
    GenOnToken on_token;     /* may be NULL */
    void *user;
} GenRequest;

typedef struct {
    Decoder dec;
    Sampler *samplers; /* [max_B], one per slot */
    int max_B, V;
    float *logits;     /* [max_B, V] */
    int *active;       /* [max_B] slots still decoding */
    int32_t *next;     /* [max_B] their newest tokens */
} Generation;

/* The decoder for up to max_B sequences of max_T positions over m, and
 * max_B samplers configured by sc (checked first: its message names the
 * setting). */
bool generation_init(Generation *g, const Gpt2Model *m, int max_B, int max_T, const SamplerConfig *sc,
                     LfError *err);
void generation_free(Generation *g);

/* Continues seqs[0..n) (n <= max_B, each prompt of n_prompt ids shorter
 * than max_T) side by side until every one has ended; sets their stop. */
bool generation_run(Generation *g, GenSequence *seqs, int n, const GenRequest *r, LfError *err);

#endif
