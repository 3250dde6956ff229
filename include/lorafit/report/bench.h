/* bench.h - what `lorafit bench` measures with: the matrix products a
 * training or inference step needs (for an honest FLOP count and for the
 * sgemm ceiling at the same shapes), wall-clock timing and memory figures.
 *
 * FLOP accounting. A step is described as the list of GEMMs it needs,
 * each 2*M*N*K FLOPs, derived from the model's shape alone (not from what
 * the engine happens to run, so a wasteful engine does not look faster):
 *   forward, every block but the top: QKV [N, C] x [C, 3C], c_proj, fc,
 *     fc_proj over all N packed rows;
 *   forward, top block with a pooled head: K and V over all N rows, Q,
 *     c_proj, fc and fc_proj only at the B pooled rows;
 *   LoRA: x @ A and h @ B per adapter over the rows its site runs on;
 *   head: [B, C] x [C, n_classes] (an LM: [targets, C] x [C, V], every
 *     block at every row);
 *   backward: only dX = dY W^T through the frozen Linears (no frozen dW),
 *     from the top block down to the lowest adapter, and nothing below the
 *     lowest adapter's stage; per adapter dB = h^T dY, dh = dY B^T,
 *     dA = x^T dh and dX += dh A^T (not at the lowest stage); head dW, dX.
 * Attention (QK^T and P V, and their 4 backward products) is not a GEMM in
 * the engine; its FLOPs are counted separately over the causal half only
 * (query t meets keys 0..t: 2*(t+1)*hd per product) and are included in
 * the step's total. */
#ifndef LORAFIT_BENCH_H
#define LORAFIT_BENCH_H

#include <stdbool.h>
#include <stddef.h>

#include "lorafit/engine/gpt2.h"

/* One GEMM shape and how often a step runs it, in cblas_sgemm's terms
 * (row-major; ta / tb are 'N' or 'T'). */
typedef struct {
    char what[24];   /* "fwd fc", "bwd dX qkv", "lora dA" ... */
    char ta, tb;
    int M, N, K;
    long count;
    double seconds;  /* filled by bench_sgemm_time(): all `count` calls */
} BenchGemm;

typedef struct {
    BenchGemm *g;
    int n, cap;
    double attn_flops; /* attention products, causal half, not in g */
} BenchGemms;

/* The GEMMs of one step of model m (its shape, adapters, head) over B
 * sequences of rows[b] packed rows each (T for last-position padding, the
 * real length for last-token pooling), with the head reading one row per
 * sequence; with `backward` the backward pass too. Identical shapes of the
 * same kind are merged (count > 1). False when out of memory. */
bool bench_step_gemms(const Gpt2Model *m, const int *rows, int B, bool backward, BenchGemms *out);
/* The same for a causal LM (n_classes 0): every block over all rows but
 * the top one, which computes its queries, attention output and MLP at the
 * counted targets only (K and V at all rows), the tied head [targets, C] x
 * [C, V] there and, backward, its dX (dlogits @ wte; wte is frozen). */
bool bench_lm_step_gemms(const Gpt2Model *m, const int *rows, int B, int targets, bool backward, BenchGemms *out);
void bench_gemms_free(BenchGemms *g);

double bench_gemm_flops(const BenchGemms *g);          /* GEMMs only */
double bench_total_flops(const BenchGemms *g);         /* GEMMs + attention */

/* Appends e as an entry of its own (no merging). False when out of memory. */
bool bench_gemms_push(BenchGemms *g, const BenchGemm *e);

/* Adds b's entries into a (merging equal ones); attention FLOPs add too. */
bool bench_gemms_add(BenchGemms *a, const BenchGemms *b);

/* Runs every GEMM of g `count` times with cblas_sgemm on random data, after
 * one untimed pass, `reps` times; each entry's `seconds` gets its median
 * over the passes. Returns the sum of the medians (the ceiling's time for
 * the GEMM part of a step), or a negative value when out of memory. */
double bench_sgemm_time(BenchGemms *g, int reps);

double bench_median(double *x, int n);    /* sorts x */
long bench_peak_rss_kb(void);             /* getrusage ru_maxrss */
long bench_current_rss_kb(void);          /* /proc/self/statm, or -1 */

#endif
