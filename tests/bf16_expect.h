/* bf16_expect.h - a GEMM's outputs against exact sums, and the skip of the
 * tests that need oneDNN, for the bf16 tests (tests only). */
#ifndef LORAFIT_TEST_BF16_EXPECT_H
#define LORAFIT_TEST_BF16_EXPECT_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "check.h"
#include "lorafit/engine/bf16.h"
#include "lorafit/engine/bf16_dnnl.h"

/* A GEMM y [N, M] = a [N, K] @ B (+ init), B = W' [IC, OC] (forward, K = IC)
 * or its transpose (backward, K = OC). */
typedef struct {
    const float *a;    /* [N, K] as given to the GEMM */
    const float *wd;   /* W' [IC, OC] */
    const float *init; /* NULL, the bias [M], or the values accumulated onto [N, M] */
    bool init_is_bias, transposed;
    int N, K, M, OC;
} Expect;

/* How many outputs of y lie beyond the bound of fp32 summation, (K + 2) *
 * 2^-24 * (sum |products| + |init|), from the exact sum (in double) over
 * bf16(a) when round_a, else over a itself. */
static inline size_t count_beyond(const Expect *e, const float *y, bool round_a) {
    size_t beyond = 0;
    for (int n = 0; n < e->N; n++)
        for (int m = 0; m < e->M; m++) {
            double exact = e->init ? e->init[e->init_is_bias ? (size_t)m : (size_t)n * e->M + m] : 0.0;
            double mag = fabs(exact);
            for (int k = 0; k < e->K; k++) {
                float a = e->a[(size_t)n * e->K + k];
                double b = e->transposed ? e->wd[(size_t)m * e->OC + k] : e->wd[(size_t)k * e->OC + m];
                double p = (double)(round_a ? bf16_round(a) : a) * b;
                exact += p;
                mag += fabs(p);
            }
            beyond += fabs(y[(size_t)n * e->M + m] - exact) > (e->K + 2) * ldexp(1.0, -24) * mag;
        }
    return beyond;
}

/* count_beyond over the first and last `ends` rows of y only (every row
 * when there are few): the exact sums are slow. */
static inline size_t count_beyond_ends(Expect e, const float *y, bool round_a, int ends) {
    const int N = e.N, first = N <= 2 * ends ? N : ends;
    e.N = first;
    size_t beyond = count_beyond(&e, y, round_a);
    if (first == N) return beyond;
    const size_t skip = (size_t)(N - ends);
    e.a += skip * e.K;
    if (e.init && !e.init_is_bias) e.init += skip * e.M;
    e.N = ends;
    return beyond + count_beyond(&e, y + skip * e.M, round_a);
}

/* Skips (77) when lorafit was built without oneDNN or its library does
 * not load; else prints its version and ISA. */
static inline void skip_without_dnnl(void) {
    Bf16DnnlInfo info;
    bf16_dnnl_info(&info);
    if (!info.built) check_skip("lorafit was built without oneDNN (cmake -DLORAFIT_DNNL=ON, libdnnl-dev)");
    if (!info.loaded) check_skip(info.load_error);
    printf("oneDNN %s, kernels for %s\n", info.version, info.isa);
}

#endif
