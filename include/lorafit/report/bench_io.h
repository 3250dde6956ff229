/* bench_io.h - a GEMM list as text, so that another process can time it:
 * `lorafit bench` measures its ceiling with the CPU's best OpenBLAS kernels
 * in a child started with OPENBLAS_CORETYPE set (OpenBLAS picks its kernels
 * once, when it loads), when its own run uses worse ones.
 *
 * One GEMM a line, in cblas_sgemm's row-major terms, with the seconds all
 * COUNT calls took once timed:
 *     TA TB M N K COUNT [SECONDS]        e.g. "N T 960 2304 768 12 0.0183"
 * TA, TB are N or T; M, N, K in 1 .. 1048576; COUNT in 1 .. 2^30; every
 * operand at most 2^28 floats. Optionally first, from the process that
 * timed them: "kernels NAME", the OpenBLAS core it ran. */
#ifndef LORAFIT_BENCH_IO_H
#define LORAFIT_BENCH_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "lorafit/report/bench.h"
#include "lorafit/util/error.h"

/* Writes g's entries, with their seconds when `seconds`, after a
 * "kernels NAME" line when kernels is not NULL. False on a write error. */
bool bench_gemms_write(FILE *f, const BenchGemms *g, const char *kernels, bool seconds);

/* Reads such a list into g (entries in order, never merged; `what` empty;
 * seconds 0 when absent), the kernels line into kernels[cap] ("" when
 * absent). `name` is the input's name in messages ("name:3: ..."). */
bool bench_gemms_read(FILE *f, const char *name, BenchGemms *g, char *kernels, size_t cap, LfError *err);

#endif
