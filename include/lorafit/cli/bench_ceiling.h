/* bench_ceiling.h - where `lorafit bench` times its ceiling (the step's
 * GEMMs alone): in this process, or, when this run's OpenBLAS kernels are
 * of a lower level than the best set correct on the CPU, in a second
 * lorafit started with OPENBLAS_CORETYPE set to that set (OpenBLAS picks
 * its kernels once, when it loads), which times the GEMMs it is given
 * (`bench --time-gemms`, bench_io.h). So the ceiling is the best the CPU
 * reaches, and slow kernels show as a low fraction of it. */
#ifndef LORAFIT_BENCH_CEILING_H
#define LORAFIT_BENCH_CEILING_H

#include <stdbool.h>

#include "lorafit/cli/runtime.h"
#include "lorafit/report/bench.h"
#include "lorafit/util/error.h"

typedef struct {
    const char *kernels; /* OPENBLAS_CORETYPE of the second process, or NULL: this one */
    int threads, reps;
    char ran[32];        /* the kernels the ceiling ran on (the second process says) */
} BenchCeiling;

/* Here or elsewhere, for a run on k's kernels with `threads` threads;
 * every GEMM list is timed `reps` times (median). */
void bench_ceiling_init(BenchCeiling *c, const RuntimeKernels *k, int threads, int reps);

/* Times g's GEMMs as bench_sgemm_time() does, where c says: fills their
 * seconds and returns the sum, or a negative value with err set. */
double bench_ceiling_time(BenchCeiling *c, BenchGemms *g, LfError *err);

/* GFLOP/s of an n x n x n sgemm, there too. */
bool bench_ceiling_square(BenchCeiling *c, int n, double *gflops, LfError *err);

/* The second process's side (`bench --time-gemms`): reads the GEMMs from
 * stdin, times them `reps` times, writes them with their seconds to
 * stdout. Returns the exit code; errors go to stderr. */
int bench_ceiling_serve(int reps);

#endif
