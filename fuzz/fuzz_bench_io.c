/* fuzz_bench_io.c - libFuzzer target for the GEMM list `bench --time-gemms`
 * reads (bench_io.h): any input is read or refused with a message; what is
 * read is in range, and written and read again gives the same list. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/report/bench_io.h"

static void same_or_abort(const BenchGemms *a, const BenchGemms *b) {
    if (a->n != b->n) abort();
    for (int i = 0; i < a->n; i++) {
        const BenchGemm *x = &a->g[i], *y = &b->g[i];
        if (x->ta != y->ta || x->tb != y->tb || x->M != y->M || x->N != y->N || x->K != y->K || x->count != y->count)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    FILE *f = fmemopen((void *)data, size, "r");
    if (!f) return 0;
    BenchGemms g;
    char kernels[32];
    LfError err = {0};
    bool ok = bench_gemms_read(f, "fuzz", &g, kernels, sizeof kernels, &err);
    fclose(f);
    if (!ok) {
        if (!err.msg[0]) abort(); /* every refusal says why */
        return 0;
    }
    for (int i = 0; i < g.n; i++) {
        const BenchGemm *e = &g.g[i];
        if (e->M < 1 || e->N < 1 || e->K < 1 || e->count < 1 || !(e->seconds >= 0)) abort();
        if ((double)e->M * e->N > (double)(1 << 28)) abort();
    }
    char *text = NULL;
    size_t len = 0;
    FILE *w = open_memstream(&text, &len);
    if (!w || !bench_gemms_write(w, &g, kernels[0] ? kernels : NULL, true)) abort();
    fclose(w);
    FILE *r = fmemopen(text, len, "r");
    BenchGemms back;
    if (!r || !bench_gemms_read(r, "again", &back, kernels, sizeof kernels, &err)) abort();
    fclose(r);
    same_or_abort(&g, &back);
    bench_gemms_free(&back);
    bench_gemms_free(&g);
    free(text);
    return 0;
}
