/* bench.c - FLOP accounting, sgemm ceiling and timing for `lorafit bench`.
 * See include/lorafit/report/bench.h. */
#include "lorafit/report/bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "lorafit/engine/kernels.h"
#include "lorafit/util/clock.h"
#include "lorafit/util/rng.h"

/* ---------------------------------------------------------------------------
 * the GEMM list */

bool bench_gemms_push(BenchGemms *g, const BenchGemm *e) {
    if (g->n == g->cap) {
        int cap = g->cap ? 2 * g->cap : 64;
        BenchGemm *p = realloc(g->g, (size_t)cap * sizeof *p);
        if (!p) return false;
        g->g = p;
        g->cap = cap;
    }
    g->g[g->n++] = *e;
    return true;
}

static bool add(BenchGemms *g, const char *what, char ta, char tb, int M, int N, int K, long count) {
    if (M <= 0 || N <= 0 || K <= 0 || count <= 0) return true;
    for (int i = 0; i < g->n; i++) {
        BenchGemm *e = &g->g[i];
        if (e->ta == ta && e->tb == tb && e->M == M && e->N == N && e->K == K && !strcmp(e->what, what)) {
            e->count += count;
            return true;
        }
    }
    BenchGemm e = {.ta = ta, .tb = tb, .M = M, .N = N, .K = K, .count = count};
    snprintf(e.what, sizeof e.what, "%s", what);
    return bench_gemms_push(g, &e);
}

/* Rows an adapter needs: all packed rows below the top block; in the
 * top block K and V still need every row (the head's queries attend to
 * them), everything else only the head's rows. */
static int adapter_rows(const Gpt2Adapter *a, int top_layer, int N, int head_rows) {
    if (a->layer != top_layer) return N;
    return a->site == SITE_K || a->site == SITE_V || a->site == SITE_QKV ? N : head_rows;
}

/* Attention FLOPs of one block: per sequence and head, the queries it
 * needs (its last `queries` positions, all when 0) times 2 * (keys 0..t) *
 * hd per product; `products` is 2 forward (QK^T, PV) or 4 backward (dP,
 * dV, dQ, dK). */
static double attention_flops(const int *rows, int B, int NH, int hd, int queries, int products) {
    double f = 0;
    for (int b = 0; b < B; b++) {
        double L = rows[b], q = queries > 0 && queries < rows[b] ? queries : L;
        double keys = q * L - q * (q - 1) / 2; /* sum over the last q queries of t + 1 */
        f += (double)NH * products * 2.0 * keys * hd;
    }
    return f;
}

/* What a step's head reads: the classifier's pooled rows or an LM's target
 * rows; the top block computes its queries, attention output and MLP only
 * there (an LM's targets: about head_rows / B last positions a sequence). */
typedef struct {
    int top;       /* the top block */
    int head_rows; /* B pooled rows, or the LM's targets */
    int head_out;  /* n_classes, or the vocabulary */
} HeadShape;

static int top_queries(const HeadShape *hs, int B) { return hs->head_rows / B > 0 ? hs->head_rows / B : 1; }

static bool forward_gemms(const Gpt2Model *m, const int *rows, int B, int N, const HeadShape *hs, BenchGemms *g) {
    const int C = m->cfg.n_embd, NL = m->cfg.n_layer, NH = m->cfg.n_head, top = hs->top;
    bool ok = true;
    for (int l = 0; l < NL; l++) {
        int R = l == top ? hs->head_rows : N;
        if (l == top) {
            ok &= add(g, "fwd kv (top)", 'N', 'N', N, 2 * C, C, 1);
            ok &= add(g, "fwd q (top)", 'N', 'N', R, C, C, 1);
        } else {
            ok &= add(g, "fwd qkv", 'N', 'N', N, 3 * C, C, 1);
        }
        bool t = l == top;
        ok &= add(g, t ? "fwd c_proj (top)" : "fwd c_proj", 'N', 'N', R, C, C, 1);
        ok &= add(g, t ? "fwd fc (top)" : "fwd fc", 'N', 'N', R, 4 * C, C, 1);
        ok &= add(g, t ? "fwd fc_proj (top)" : "fwd fc_proj", 'N', 'N', R, C, 4 * C, 1);
        g->attn_flops += attention_flops(rows, B, NH, C / NH, l == top ? top_queries(hs, B) : 0, 2);
    }
    for (int i = 0; i < m->n_adapters; i++) {
        const Gpt2Adapter *a = &m->adapters[i];
        int r = adapter_rows(a, top, N, hs->head_rows);
        bool pooled = a->layer == top && r == hs->head_rows;
        ok &= add(g, pooled ? "lora x@A (top)" : "lora x@A", 'N', 'N', r, a->rank, a->in, 1);
        ok &= add(g, pooled ? "lora h@B (top)" : "lora h@B", 'N', 'N', r, a->out, a->rank, 1);
    }
    ok &= add(g, "head", 'N', 'T', hs->head_rows, hs->head_out, C, 1);
    return ok;
}

static bool backward_gemms(const Gpt2Model *m, const int *rows, int B, int N, const HeadShape *hs, BenchGemms *g) {
    const int C = m->cfg.n_embd, NL = m->cfg.n_layer, NH = m->cfg.n_head, top = hs->top;
    bool ok = true;
    if (m->n_classes) ok &= add(g, "head dW", 'T', 'N', m->n_classes, C, B, 1); /* an LM's head is frozen */
    if (m->n_adapters == 0) return ok;
    ok &= add(g, "head dX", 'N', 'N', hs->head_rows, C, hs->head_out, 1);

    /* frozen Linears: dX only, and only where something below still trains */
    for (int l = NL - 1; l >= m->low_layer; l--) {
        int R = l == top ? hs->head_rows : N;
        bool t = l == top;
        if (gpt2_grad_below(m, l, STAGE_FC_PROJ))
            ok &= add(g, t ? "bwd dX fc_proj (top)" : "bwd dX fc_proj", 'N', 'T', R, 4 * C, C, 1);
        if (gpt2_grad_below(m, l, STAGE_FC)) ok &= add(g, t ? "bwd dX fc (top)" : "bwd dX fc", 'N', 'T', R, C, 4 * C, 1);
        if (gpt2_grad_below(m, l, STAGE_ATTN_OUT)) {
            ok &= add(g, t ? "bwd dX c_proj (top)" : "bwd dX c_proj", 'N', 'T', R, C, C, 1);
            g->attn_flops += attention_flops(rows, B, NH, C / NH, l == top ? top_queries(hs, B) : 0, 4);
        }
        if (gpt2_grad_below(m, l, STAGE_QKV)) {
            if (l == top) {
                ok &= add(g, "bwd dX kv (top)", 'N', 'T', N, C, 2 * C, 1);
                ok &= add(g, "bwd dX q (top)", 'N', 'T', R, C, C, 1);
            } else {
                ok &= add(g, "bwd dX qkv", 'N', 'T', N, C, 3 * C, 1);
            }
        }
    }
    for (int i = 0; i < m->n_adapters; i++) {
        const Gpt2Adapter *a = &m->adapters[i];
        int r = adapter_rows(a, top, N, hs->head_rows);
        bool lowest = !gpt2_grad_below(m, a->layer, linear_site_stage(a->site));
        bool p = a->layer == top && r == hs->head_rows;
        ok &= add(g, p ? "lora dB (top)" : "lora dB", 'T', 'N', a->rank, a->out, r, 1);
        ok &= add(g, p ? "lora dh (top)" : "lora dh", 'N', 'T', r, a->rank, a->out, 1);
        ok &= add(g, p ? "lora dA (top)" : "lora dA", 'T', 'N', a->in, a->rank, r, 1);
        if (!lowest) ok &= add(g, p ? "lora dX (top)" : "lora dX", 'N', 'T', r, a->in, a->rank, 1);
    }
    return ok;
}

static bool step_gemms(const Gpt2Model *m, const int *rows, int B, const HeadShape *hs, bool backward,
                       BenchGemms *out) {
    memset(out, 0, sizeof *out);
    int N = 0;
    for (int b = 0; b < B; b++) N += rows[b];
    bool ok = forward_gemms(m, rows, B, N, hs, out) && (!backward || backward_gemms(m, rows, B, N, hs, out));
    if (!ok) bench_gemms_free(out);
    return ok;
}

bool bench_step_gemms(const Gpt2Model *m, const int *rows, int B, bool backward, BenchGemms *out) {
    const HeadShape hs = {m->cfg.n_layer - 1, B, m->n_classes};
    return step_gemms(m, rows, B, &hs, backward, out);
}

bool bench_lm_step_gemms(const Gpt2Model *m, const int *rows, int B, int targets, bool backward, BenchGemms *out) {
    const HeadShape hs = {m->cfg.n_layer - 1, targets, m->cfg.vocab_size};
    return step_gemms(m, rows, B, &hs, backward, out);
}

void bench_gemms_free(BenchGemms *g) {
    free(g->g);
    memset(g, 0, sizeof *g);
}

bool bench_gemms_add(BenchGemms *a, const BenchGemms *b) {
    for (int i = 0; i < b->n; i++) {
        const BenchGemm *e = &b->g[i];
        if (!add(a, e->what, e->ta, e->tb, e->M, e->N, e->K, e->count)) return false;
    }
    a->attn_flops += b->attn_flops;
    return true;
}

double bench_gemm_flops(const BenchGemms *g) {
    double f = 0;
    for (int i = 0; i < g->n; i++) f += 2.0 * g->g[i].M * g->g[i].N * (double)g->g[i].K * g->g[i].count;
    return f;
}

double bench_total_flops(const BenchGemms *g) { return bench_gemm_flops(g) + g->attn_flops; }

/* ---------------------------------------------------------------------------
 * the sgemm ceiling */

static void fill_random(float *x, size_t n, uint64_t seed) {
    Rng r;
    rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) x[i] = rng_float(&r) - 0.5f;
}

/* One GEMM of e's shape with the leading dimensions a row-major caller
 * would pass for dense operands, through the engine's own gemm(): the same
 * split over threads, so the ceiling is what that scheme can reach. */
static void run_gemm(const BenchGemm *e, const float *A, const float *B, float *Cm) {
    int lda = e->ta == 'N' ? e->K : e->M, ldb = e->tb == 'N' ? e->N : e->K;
    gemm(e->ta != 'N', e->tb != 'N', e->M, e->N, e->K, 1.0f, A, lda, B, ldb, 0.0f, Cm, e->N);
}

double bench_sgemm_time(BenchGemms *g, int reps) {
    size_t na = 1, nb = 1, nc = 1;
    for (int i = 0; i < g->n; i++) {
        const BenchGemm *e = &g->g[i];
        if ((size_t)e->M * e->K > na) na = (size_t)e->M * e->K;
        if ((size_t)e->K * e->N > nb) nb = (size_t)e->K * e->N;
        if ((size_t)e->M * e->N > nc) nc = (size_t)e->M * e->N;
    }
    if (reps < 1) reps = 1;
    float *A = malloc(na * sizeof *A), *B = malloc(nb * sizeof *B), *Cm = malloc(nc * sizeof *Cm);
    double *t = malloc((size_t)(g->n ? g->n : 1) * reps * sizeof *t);
    if (!A || !B || !Cm || !t) {
        free(A), free(B), free(Cm), free(t);
        return -1.0;
    }
    fill_random(A, na, 1);
    fill_random(B, nb, 2);
    memset(Cm, 0, nc * sizeof *Cm);
    /* pass 0 warms the caches and OpenBLAS's thread pool; it is not kept */
    for (int rep = 0; rep <= reps; rep++) {
        for (int i = 0; i < g->n; i++) {
            double t0 = clock_seconds();
            for (long c = 0; c < g->g[i].count; c++) run_gemm(&g->g[i], A, B, Cm);
            if (rep > 0) t[(size_t)i * reps + rep - 1] = clock_seconds() - t0;
        }
    }
    double total = 0;
    for (int i = 0; i < g->n; i++) {
        g->g[i].seconds = bench_median(t + (size_t)i * reps, reps);
        total += g->g[i].seconds;
    }
    free(A), free(B), free(Cm), free(t);
    return total;
}

/* ---------------------------------------------------------------------------
 * time and memory */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bench_median(double *x, int n) {
    if (n <= 0) return 0.0;
    qsort(x, (size_t)n, sizeof *x, cmp_double);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

long bench_peak_rss_kb(void) {
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

long bench_current_rss_kb(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long size, resident;
    if (!f) return -1;
    int got = fscanf(f, "%ld %ld", &size, &resident);
    fclose(f);
    return got == 2 ? resident * (sysconf(_SC_PAGESIZE) / 1024) : -1;
}
