/* sampler.h - the next token from a row of logits: greedy, or sampled with
 * temperature, top-k and top-p (nucleus), after a repetition penalty; as
 * Hugging Face's generate() orders them (penalty, temperature, top-k,
 * top-p), so that its documentation describes ours.
 *
 *  - repetition penalty (CTRL, Keskar et al. 2019; HF's
 *    RepetitionPenaltyLogitsProcessor): for every distinct token already in
 *    the prompt or the output, a positive logit is divided by the penalty
 *    and a negative one multiplied by it. Applies to greedy too.
 *  - temperature 0 is greedy: the first of the largest logits (torch.argmax).
 *  - top-k keeps the tokens whose logit is at least the k-th largest (ties
 *    at the cut are all kept, as HF's TopKLogitsWarper does).
 *  - top-p keeps, in order of falling probability, every token while the
 *    probability before it is below p (HF's TopPLogitsWarper: the smallest
 *    set whose mass reaches p; the most likely token always stays).
 * Sampling draws one uniform double per token from the sampler's own Rng
 * (util/rng.h), seeded from the seed: the same seed gives the same tokens on
 * every machine. */
#ifndef LORAFIT_SAMPLER_H
#define LORAFIT_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

#include "lorafit/util/error.h"
#include "lorafit/util/rng.h"

typedef struct {
    double temperature;        /* 0 = greedy (the default) */
    int top_k;                 /* 0 = off */
    double top_p;              /* in (0, 1]; 1 = off */
    double repetition_penalty; /* > 0; 1 = off */
    uint64_t seed;
} SamplerConfig;

/* Greedy, no penalty, seed 0. */
SamplerConfig sampler_config_default(void);

/* Checks the ranges above; the message names the setting. */
bool sampler_config_validate(const SamplerConfig *c, LfError *err);

/* A token and its logit, for sorting. */
typedef struct {
    float v;
    int id;
} SamplerEntry;

typedef struct {
    SamplerConfig cfg;
    int V;
    Rng rng;
    double *probs;        /* [V] */
    SamplerEntry *order;  /* [V] tokens by falling logit (top-k, top-p) */
    unsigned char *seen;  /* [V] penalised already */
} Sampler;

/* A sampler over a vocabulary of V tokens, its Rng seeded from cfg->seed. */
bool sampler_init(Sampler *s, const SamplerConfig *cfg, int V, LfError *err);
void sampler_free(Sampler *s);
/* Seeds the Rng again: a new sequence draws as if it were the first. */
void sampler_reset(Sampler *s);

/* Applies the repetition penalty to logits [V] for the n tokens of history
 * (each distinct token once). */
void sampler_penalize(Sampler *s, float *logits, const int32_t *history, int n);

/* The distribution a sampled token is drawn from: probs [V] after the
 * penalty, temperature, top-k and top-p, the cut tokens 0, summing to 1.
 * logits are modified (penalised). Not for temperature 0. */
void sampler_distribution(Sampler *s, float *logits, const int32_t *history, int n, float *probs);

/* The next token (logits are modified). */
int sampler_pick(Sampler *s, float *logits, const int32_t *history, int n);

#endif
