/* bench_generate.h - what `lorafit bench --cases generate` measures: greedy
 * generation at batch 1 through generate's decode loop (engine/generation.h:
 * the KV-cache decoder and the greedy sampler), set against the time it
 * takes this machine to read the weights a new token needs once from memory.
 *
 * The weights a token reads: every block's matrices and vectors and the
 * whole token embedding (the tied head), the final layernorm; of wpe only
 * one row, so it is left out. Reading them is timed as a multi-threaded
 * streaming sum over those very arrays (the model's own memory, as large
 * as it is: for gpt2-small ~500 MB, far beyond the caches), the median of
 * a few passes after one untimed pass; their bytes over that time is the
 * memory bandwidth reported. */
#ifndef LORAFIT_BENCH_GENERATE_H
#define LORAFIT_BENCH_GENERATE_H

#include <stdbool.h>

#include "lorafit/engine/gpt2.h"
#include "lorafit/util/error.h"

typedef struct {
    int prompt_tokens, new_tokens;
    double prefill_ms;            /* the prompt's pass */
    double ms_per_token;          /* the new tokens' steps (forward + greedy pick), mean */
    double ms_per_token_median;   /* median of the single steps */
    double weight_mb;             /* the bytes a token reads, MB */
    double read_ms;               /* reading them once (median) */
    double bandwidth_gbs;         /* weight bytes / read time, GB/s (1e9 B) */
    double ratio;                 /* ms_per_token / read_ms */
} BenchGenerate;

/* Times greedy generation of new_tokens after a prompt of prompt_tokens
 * random ids (from seed) with model m (its adapters included), and the
 * weight read (reps passes). */
bool bench_generate(const Gpt2Model *m, int prompt_tokens, int new_tokens, int reps, uint64_t seed,
                    BenchGenerate *out, LfError *err);

/* The figures as lines of text (stdout), and as a JSON object (owned by
 * the caller). */
void bench_generate_print(const BenchGenerate *g);
struct cJSON *bench_generate_json(const BenchGenerate *g);

#endif
