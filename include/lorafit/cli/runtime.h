/* runtime.h - what lorafit runs on: the two settings it makes before the
 * libraries read them, and the paragraph that says what it runs on.
 *
 * libgomp reads OMP_WAIT_POLICY, and OpenBLAS OPENBLAS_CORETYPE, once, when
 * they load, before main runs. So runtime_prepare() sets what it chooses
 * and runs lorafit again, once, for both:
 *   OMP_WAIT_POLICY=PASSIVE unless the user set a policy. The default keeps
 *     idle threads spinning; when other programs keep the cores busy, a
 *     spinning thread holds the core its partner needs, and `--threads 2`
 *     ran 20x slower than one thread here (a 4-layer model's epoch: 55 s
 *     against 2.2 s passive). Passive waiting cost under 2% when idle.
 *   OPENBLAS_CORETYPE=<the best kernel set> unless the user set one, when
 *     OpenBLAS picked an older set than the CPU runs (blas_kernels.h):
 *     Debian's OpenBLAS 0.3.21 picks SSE3 kernels on a recent Xeon.
 * It marks its own choice in LORAFIT_CORETYPE_SET (the value it gave
 * OPENBLAS_CORETYPE) and LORAFIT_CORETYPE_WAS (OpenBLAS's own pick), so the
 * new process can tell it from a value the user set. */
#ifndef LORAFIT_RUNTIME_H
#define LORAFIT_RUNTIME_H

#include <stdio.h>

#include "lorafit/util/cpu.h"

/* First thing in main. Returns only when nothing needs to change, or when
 * starting again failed (then the environment is as it was). */
void runtime_prepare(char **argv);

typedef enum {
    KERNELS_OPENBLAS, /* OPENBLAS_CORETYPE unset: OpenBLAS's own pick, kept */
    KERNELS_LORAFIT,  /* runtime_prepare() chose them */
    KERNELS_USER,     /* the user set OPENBLAS_CORETYPE */
} KernelsOrigin;

/* Who chose the kernel set, from OPENBLAS_CORETYPE (NULL when unset) and
 * LORAFIT_CORETYPE_SET (NULL when unset): lorafit when the two agree. */
KernelsOrigin runtime_kernels_origin(const char *coretype, const char *lorafit_set);

/* "openblas", "lorafit", "user": the origin in JSON. */
const char *runtime_kernels_origin_name(KernelsOrigin o);

typedef struct {
    CpuInfo cpu;
    const char *core, *config; /* what OpenBLAS runs: its corename and config */
    const char *best;          /* the best set correct on the CPU, or NULL */
    KernelsOrigin origin;
    const char *coretype;      /* OPENBLAS_CORETYPE, or NULL */
    const char *was;           /* KERNELS_LORAFIT: OpenBLAS's own pick before */
    const char *why_kept;      /* KERNELS_OPENBLAS: why lorafit kept it (NULL: it could not switch) */
} RuntimeKernels;

/* Reads the CPU, the library and the environment of this process. */
void runtime_kernels(RuntimeKernels *k);

/* The kernel set the CPU's best ceiling comes from when this run's set is
 * of a lower level (a user's choice, or a library that could not switch),
 * else NULL: what `bench` measures its ceiling with. */
const char *runtime_ceiling_kernels(const RuntimeKernels *k);

/* The paragraph, one "what: ..." line each: the CPU and its vector
 * features, OpenBLAS's kernels (who chose them, from what) and its config,
 * the threads (`threads`, with `threads_note` after it), oneDNN. */
void runtime_describe(FILE *f, const RuntimeKernels *k, int threads, const char *threads_note);

#endif
