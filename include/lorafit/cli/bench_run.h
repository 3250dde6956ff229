/* bench_run.h - what `lorafit bench` measures, shared by the command
 * (cmd_bench.c: options, set-up, timing) and its report (bench_print.c:
 * the text table and the JSON). Internal to the bench command. */
#ifndef LORAFIT_CLI_BENCH_RUN_H
#define LORAFIT_CLI_BENCH_RUN_H

#include <stdbool.h>

#include "lorafit/cli/bench_ceiling.h"
#include "lorafit/cli/runtime.h"
#include "lorafit/engine/gpt2.h"
#include "lorafit/engine/optim.h"
#include "lorafit/engine/quant.h"
#include "lorafit/report/bench.h"
#include "lorafit/report/bench_generate.h"
#include "lorafit/report/bench_workload.h"

enum { CASE_TRAIN_PADDED, CASE_TRAIN_LAST, CASE_INFER_PADDED, CASE_INFER_LAST, CASE_TRAIN_LM, CASE_TRAIN_LM_ALL,
       N_CASES };
enum { CASE_GENERATE = N_CASES }; /* not a step: its own figures (report/bench_generate.h) */

typedef struct {
    int threads, repeat, warmup, batch, pad_to;
    long seed;
    const char *config, *model, *data;
    bool cases[N_CASES + 1]; /* + CASE_GENERATE */
    bool shapes, json, quick, no_ceiling, time_gemms;
    QuantDtype base_dtype;
    int recompute; /* 1 on, 0 off, -1 by the base's dtype, as train */
} BenchOptions;

typedef struct {
    const char *name;
    bool training;
    const BenchWorkload *data; /* its pool is the case's */
    Gpt2Model *model;          /* the classifier, or the causal LM */
    AdamW *opt;
    /* results, per step (one batch) */
    double ms, ms_min, ms_max, tokens_per_s, gflop, gflop_gemm, gflops, ceiling_gflops, ceiling_ms;
    double *samples_ms;
    BenchGemms gemms; /* all batches of one repetition */
} BenchCase;

/* What the whole run saw, beside the cases. */
typedef struct {
    const char *model_desc;
    int n_layer, n_embd, n_head, n_ctx, vocab_size, n_adapters, rank, threads;
    double load_start[3], load_end[3];
    QuantDtype base_dtype;  /* how the block matrices were held */
    bool recompute;         /* the models' gpt2_set_recompute */
    double block_weights_mb; /* the four block matrices' bytes in base_dtype */
    const char *quant_tiles; /* int8, nf4: their GEMMs' tiles, quant_tiles_name(); else NULL */
    double weights_mb, rss_before_mb, rss_weights_mb, peak_rss_mb, peak_train_padded_mb;
    bool weights_mapped;   /* a checkpoint, not random weights */
    bool weights_in_place; /* its block weights used from the mapping, not copied */
    double square_gflops;
    int square_n;
    BenchGenerate gen; /* with CASE_GENERATE */
    RuntimeKernels kernels;
    BenchCeiling ceiling;
} BenchSummary;

/* /proc/loadavg's three figures, or -1 each when it cannot be read. */
void bench_read_loadavg(double la[3]);

/* Whether any step case (not generate) is on. */
bool bench_any_step_case(const bool *on);

/* The report: a table on stdout, or one JSON object (--json). */
void bench_print_text(const BenchSummary *s, BenchCase *cases, const bool *on, const BenchOptions *o);
void bench_print_json(const BenchSummary *s, BenchCase *cases, const bool *on, const BenchOptions *o);

#endif
