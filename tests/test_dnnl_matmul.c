/* test_dnnl_matmul.c - the oneDNN module's plumbing, in fp32, on any x86
 * CPU: bf16_dnnl_create_f32() builds the same primitives as the bf16 path
 * (a primitive per row count, cached and evicted; the forward's weights in
 * the layout oneDNN asks for; the backward over W's transposed view;
 * accumulation through a temporary), which oneDNN runs everywhere, where its
 * bf16 kernels need AVX512-BF16 or AMX (test_bf16_dnnl.c runs those).
 *
 * For row counts 1, 5, 17, 64, 300, 2, 3 and again 5, 1 and 17 (more than
 * the 4 cached: evictions and re-creations), forward with a bias and
 * backward with and without accumulation, each output against the exact
 * sum in double within the fp32 summation bound (bf16_expect.h); zero rows
 * leave the output alone; a second run agrees bit for bit. Skipped (77)
 * when lorafit was built without oneDNN or its library does not load. */
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "bf16_expect.h"
#include "check.h"
#include "lorafit/engine/bf16_dnnl.h"
#include "lorafit/util/rng.h"

enum { IC = 96, OC = 200, MAX_ROWS = 300 };

int main(void) {
    skip_without_dnnl();
    omp_set_num_threads(2);
    static float w[IC * OC], x[MAX_ROWS * IC], dy[MAX_ROWS * OC], bias[OC], y[MAX_ROWS * OC], y2[MAX_ROWS * OC];
    static float dx[MAX_ROWS * IC], d0[MAX_ROWS * IC], dxa[MAX_ROWS * IC];
    Rng r;
    rng_seed(&r, 17);
    for (int i = 0; i < IC * OC; i++) w[i] = rng_float(&r) - 0.5f;
    for (int i = 0; i < MAX_ROWS * IC; i++) x[i] = rng_float(&r) - 0.5f, d0[i] = rng_float(&r);
    for (int i = 0; i < MAX_ROWS * OC; i++) dy[i] = rng_float(&r) - 0.5f;
    for (int i = 0; i < OC; i++) bias[i] = rng_float(&r);
    LfError err = {0};
    Bf16Dnnl *d = bf16_dnnl_create_f32(w, IC, OC, &err);
    REQUIRE(d, "create: %s", err.msg);
    printf("kernels: forward %s, backward %s; reordered copies %zu bytes\n", bf16_dnnl_impl(d, false),
           bf16_dnnl_impl(d, true), bf16_dnnl_bytes(d));
    CHECK(*bf16_dnnl_impl(d, false) && *bf16_dnnl_impl(d, true), "kernel names");

    const int rows[] = {1, 5, 17, 64, 300, 2, 3, 5, 1, 17};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const int N = rows[i];
        bf16_dnnl_forward(d, y, x, bias, N);
        Expect fwd = {x, w, bias, true, false, N, IC, OC, OC};
        size_t beyond = count_beyond(&fwd, y, false);
        CHECK(beyond == 0, "forward, %d rows: %zu outputs beyond the bound", N, beyond);
        bf16_dnnl_forward(d, y2, x, bias, N);
        CHECK(memcmp(y, y2, sizeof(float) * N * OC) == 0, "forward, %d rows: a second run agrees bit for bit", N);

        bf16_dnnl_backward(d, dx, dy, N, false);
        Expect bwd = {dy, w, NULL, false, true, N, OC, IC, OC};
        beyond = count_beyond(&bwd, dx, false);
        CHECK(beyond == 0, "backward, %d rows: %zu outputs beyond the bound", N, beyond);
        memcpy(dxa, d0, sizeof(float) * N * IC);
        bf16_dnnl_backward(d, dxa, dy, N, true);
        bwd.init = d0;
        beyond = count_beyond(&bwd, dxa, false);
        CHECK(beyond == 0, "backward +=, %d rows: %zu outputs beyond the bound", N, beyond);
    }
    y[0] = 42.0f;
    bf16_dnnl_forward(d, y, x, bias, 0);
    bf16_dnnl_backward(d, y, dy, 0, true);
    CHECK(y[0] == 42.0f, "zero rows leave the output alone");
    bf16_dnnl_free(d);
    return check_done();
}
