/* runtime.h - what lorafit runs on: the two settings it makes before the
 * libraries read them, and the paragraph that says what it runs on.
 *
 * libgomp reads GOMP_SPINCOUNT and OMP_WAIT_POLICY, and OpenBLAS
 * OPENBLAS_CORETYPE, once, when they load, before main runs. So
 * runtime_prepare() sets what it chooses and runs lorafit again, once, for
 * both:
 *   GOMP_SPINCOUNT=RUNTIME_SPINCOUNT unless the user set it or a policy:
 *     an idle thread spins that many times (well under a millisecond),
 *     then sleeps. Sleeping at once (OMP_WAIT_POLICY=passive, lorafit's
 *     earlier choice) paid a wake-up per parallel region: a step of
 *     gpt2-small 8-10% slower on an idle machine, a tiny model's epoch
 *     nearly twice as long. libgomp's own default spins about 30 times as
 *     long: when other programs keep the cores busy, a spinning thread holds
 *     the core its partner needs (`--threads 2` once ran 20x slower than one
 *     thread here, a 4-layer model's epoch: 55 s against 2.2 s). With two
 *     busy loops beside it the short spin cost 0 to 4% against passive.
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

/* The spin count lorafit sets (see above). */
#define RUNTIME_SPINCOUNT "10000"

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

/* How OpenMP's idle threads wait, from OMP_WAIT_POLICY and GOMP_SPINCOUNT,
 * in a few words, written into buf; returns buf. */
const char *runtime_wait_policy(char *buf, size_t size);

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
