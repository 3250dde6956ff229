/* kernels.c - GPT-2 layers over raw float arrays. See include/lorafit/engine/kernels.h. */
#include "lorafit/engine/kernels.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdbool.h>
#include <string.h>

#include "lorafit/util/rng.h"

/* Eight independent partial sums: lets the compiler use SIMD without
 * -ffast-math, and fixes the summation order (same bits on every run). */
static inline float lanes_total(const float acc[8]) {
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

static inline float dot(const float *a, const float *b, int n) {
    float acc[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += a[i + k] * b[i + k];
    float s = lanes_total(acc);
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

/* e^x for float, branch-free so that loops over it vectorize (libm's expf
 * and tanhf are scalar calls and made GELU cost a fifth of a step).
 * Cephes' expf: x = n ln2 + r with |r| <= ln2/2, e^r by a degree-7
 * polynomial, 2^n through the exponent bits. Max relative error ~2 ulp;
 * inputs are clamped to [-87.3, 88.3], where 2^n stays a normal float;
 * NaN stays NaN. */
static inline float exp_fast(float x) {
    /* two selects of the max/min form (a NaN passes both): written as one
     * nested select, gcc evaluated the polynomial on several paths */
    x = -87.3f > x ? -87.3f : x;
    x = x > 88.3f ? 88.3f : x;
    /* n = round(x / ln2): adding 1.5 * 2^23 rounds to an integer */
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    /* A NaN input must come out NaN (the trainer's guard looks for it) but
     * must not reach the int conversion below, which would be undefined:
     * the exponent becomes 0 and r carries the NaN through. */
    n = n == n ? n : 0.0f;
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline float max_of(const float *x, int n) {
    float m = x[0];
    for (int i = 1; i < n; i++)
        if (x[i] > m) m = x[i];
    return m;
}

/* The largest of x[0 .. n - 1] (-inf when n is 0; NaNs skipped): eight
 * lanes, so that it vectorizes. The maximum is exact whatever the order. */
static inline float max_in_lanes(const float *x, int n) {
    float lane[8];
    for (int k = 0; k < 8; k++) lane[k] = -INFINITY;
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) lane[k] = x[i + k] > lane[k] ? x[i + k] : lane[k];
    for (; i < n; i++) lane[0] = x[i] > lane[0] ? x[i] : lane[0];
    float m = lane[0];
    for (int k = 1; k < 8; k++) m = lane[k] > m ? lane[k] : m;
    return m;
}

static inline void axpy(float *y, float a, const float *x, int n) {
    for (int i = 0; i < n; i++) y[i] += a * x[i];
}

/* C [M, N] = alpha op(A) op(B) + beta C, row-major (lda/ldb/ldc as BLAS).
 * When OpenBLAS runs one thread and OpenMP several, each OpenMP thread
 * calls it on its own slice of C's rows (or columns, for a short wide C):
 * one pool of threads for everything, instead of two that spin while the
 * other works. Slices depend only on the thread count, so the bits do too. */
void gemm(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
          int ldb, float beta, float *C, int ldc) {
    const enum CBLAS_TRANSPOSE opa = ta ? CblasTrans : CblasNoTrans, opb = tb ? CblasTrans : CblasNoTrans;
    const int nt = omp_get_max_threads();
    if (nt < 2 || omp_in_parallel() || openblas_get_num_threads() != 1 ||
        (double)M * N * K < 1e6) {
        cblas_sgemm(CblasRowMajor, opa, opb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    const bool by_rows = M >= N;
    const int D = by_rows ? M : N;
#pragma omp parallel num_threads(nt)
    {
        int n = omp_get_num_threads(), t = omp_get_thread_num();
        int chunk = ((D + n - 1) / n + 15) / 16 * 16; /* whole micro-tiles */
        int lo = t * chunk, hi = lo + chunk < D ? lo + chunk : D;
        if (lo < hi && by_rows)
            cblas_sgemm(CblasRowMajor, opa, opb, hi - lo, N, K, alpha,
                        ta ? A + lo : A + (size_t)lo * lda, lda, B, ldb, beta,
                        C + (size_t)lo * ldc, ldc);
        else if (lo < hi)
            cblas_sgemm(CblasRowMajor, opa, opb, M, hi - lo, K, alpha, A, lda,
                        tb ? B + (size_t)lo * ldb : B + lo, ldb, beta, C + lo, ldc);
    }
}

void encoder_forward(float *out, const int32_t *ids, int n_ids, int pad_id, int len, const float *wte,
                     const float *wpe, int C) {
#pragma omp parallel for schedule(static)
    for (int t = 0; t < len; t++) {
        float *o = out + (size_t)t * C;
        const float *te = wte + (size_t)(t < n_ids ? ids[t] : pad_id) * C;
        const float *pe = wpe + (size_t)t * C;
        for (int i = 0; i < C; i++) o[i] = te[i] + pe[i];
    }
}

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                       const float *b, int N, int C) {
    const float eps = 1e-5f;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *o = out + (size_t)n * C;
        /* two passes in float, as torch accumulates LayerNorm in fp32 */
        float m = 0.0f;
        for (int i = 0; i < C; i++) m += x[i];
        m /= (float)C;
        float v = 0.0f;
        for (int i = 0; i < C; i++) {
            float d = x[i] - m;
            v += d * d;
        }
        v /= (float)C;
        float s = 1.0f / sqrtf(v + eps);
        for (int i = 0; i < C; i++) o[i] = (x[i] - m) * s * w[i] + b[i];
        if (mean) mean[n] = m;
        if (rstd) rstd[n] = s;
    }
}

void layernorm_backward(float *dinp, const float *dout, const float *inp, const float *w,
                        const float *mean, const float *rstd, int N, int C) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *dy = dout + (size_t)n * C;
        const float *x = inp + (size_t)n * C;
        float *dx = dinp + (size_t)n * C;
        float m = mean[n], s = rstd[n];
        /* dx = s * (g - mean(g) - xhat * mean(g * xhat)), g = dy * w */
        float gmean = 0.0f, gxmean = 0.0f;
        for (int i = 0; i < C; i++) {
            float xhat = (x[i] - m) * s;
            float g = dy[i] * w[i];
            gmean += g;
            gxmean += g * xhat;
        }
        gmean /= (float)C;
        gxmean /= (float)C;
        for (int i = 0; i < C; i++) {
            float xhat = (x[i] - m) * s;
            float g = dy[i] * w[i];
            dx[i] += s * (g - gmean - xhat * gxmean);
        }
    }
}

void matmul_forward(float *out, const float *inp, const float *w, const float *bias, int N, int IC,
                    int OC) {
    float beta = 0.0f;
    if (bias) {
#pragma omp parallel for schedule(static)
        for (int n = 0; n < N; n++) memcpy(out + (size_t)n * OC, bias, (size_t)OC * sizeof(float));
        beta = 1.0f;
    }
    gemm(false, false, N, OC, IC, 1.0f, inp, IC, w, OC, beta, out, OC);
}

void matmul_backward(float *dinp, const float *dout, const float *w, int N, int IC, int OC,
                     int accumulate) {
    gemm(false, true, N, IC, OC, 1.0f, dout, OC, w, OC, accumulate ? 1.0f : 0.0f, dinp, IC);
}

void lowrank_forward(float *out, int ldo, float *h, const float *x, int ldx, const float *A,
                     const float *B, float scale, int N, int in, int r, int out_dim) {
    gemm(false, false, N, r, in, 1.0f, x, ldx, A, r, 0.0f, h, r);
    gemm(false, false, N, out_dim, r, scale, h, r, B, out_dim, 1.0f, out, ldo);
}

void lowrank_backward(float *dA, float *dB, float *dx, int ldx, float *dh, const float *dout, int ldo,
                      const float *x, const float *h, const float *A, const float *B, float scale,
                      int N, int in, int r, int out_dim) {
    /* dB [r, out] = scale * h^T @ dout */
    gemm(true, false, r, out_dim, N, scale, h, r, dout, ldo, 0.0f, dB, out_dim);
    /* dh [N, r] = scale * dout @ B^T */
    gemm(false, true, N, r, out_dim, scale, dout, ldo, B, out_dim, 0.0f, dh, r);
    /* dA [in, r] = x^T @ dh */
    gemm(true, false, in, r, N, 1.0f, x, ldx, dh, r, 0.0f, dA, r);
    /* dx += dh @ A^T */
    if (dx) gemm(false, true, N, in, r, 1.0f, dh, r, A, r, 1.0f, dx, ldx);
}

void dropout_forward(float *out, const float *inp, uint64_t seed, float p, int N, int D) {
    const float keep_scale = 1.0f / (1.0f - p);
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        Rng r;
        rng_seed(&r, seed ^ ((uint64_t)n * 0x9e3779b97f4a7c15ULL));
        const float *x = inp + (size_t)n * D;
        float *o = out + (size_t)n * D;
        for (int i = 0; i < D; i++) o[i] = rng_float(&r) < p ? 0.0f : x[i] * keep_scale;
    }
}

/* Row t of a causal softmax over s [0..t] (in place), zero beyond t up to n
 * (the end of its query tile, which the tile's P V reads). */
static void causal_softmax_row(float *p, int t, int n) {
    const float maxv = max_in_lanes(p, t + 1);
    float acc[8] = {0};
    int i = 0;
    for (; i + 8 <= t + 1; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += p[i + k] = exp_fast(p[i + k] - maxv);
    float sum = lanes_total(acc);
    for (; i <= t; i++) sum += p[i] = exp_fast(p[i] - maxv);
    const float inv = 1.0f / sum;
    for (int t2 = 0; t2 <= t; t2++) p[t2] *= inv;
    if (n > t + 1) memset(p + t + 1, 0, (size_t)(n - t - 1) * sizeof(float));
}

/* One (sequence, head) of causal attention over packed rows: its columns
 * of the fused qkv, row t of q at q + t * ld (k and v C and 2C further
 * right), and its probabilities, row t at att + t * T; queries first ..
 * len - 1 (keys and values 0 .. len - 1). */
typedef struct {
    const float *q, *k, *v;
    int ld, C, hs, len, first, T;
    float scale; /* 1 / sqrt(hs) */
    bool one;    /* a single query, by dot products (AttnRows) */
} AttnHead;

static AttnHead attn_head(const float *qkv, const AttnRows *r, int b, int h, int T, int C, int NH) {
    const int hs = C / NH;
    const float *q = qkv + (size_t)r->off[b] * 3 * C + h * hs;
    const int first = r->first ? r->first[b] : 0;
    return (AttnHead){q, q + C, q + 2 * C, 3 * C, C, hs, r->len[b], first, T, 1.0f / sqrtf((float)hs),
                      r->first && first == r->len[b] - 1};
}

/* Causal attention computes only the triangle, in tiles of ATTN_TILE
 * queries from first on: tile [i0, i1) reads and writes keys 0 .. i1 - 1 in
 * S = scale Q K^T, P V, dP = dy V^T and dS K, so a row t of P or dS is
 * written up to i1 (zeros beyond t) and never read further right. dv = P^T
 * dy and dk = dS^T Q run per key tile on the same grid: keys [j0, j1) read
 * queries j0 .. len - 1 only, whose tiles end at j1 or later; the keys before
 * first (read by every query) are one more tile. At 250 tokens the six
 * products do 59% of the whole squares' FLOPs (72% with S and dP whole).
 * Splitting the columns moves the last bits (OpenBLAS rounds other column
 * blocks otherwise); test_attention checks against the formulas. 48: the
 * fewest instructions and time of 32, 48, 64, 80 and 96 at 200-300 tokens. */
enum { ATTN_TILE = 48 };

static int tile_end(int i0, int L) { return i0 + ATTN_TILE < L ? i0 + ATTN_TILE : L; }

/* Queries first .. len - 1, per query tile: S = scale Q K^T, P = causal
 * softmax(S), out = P V. out: row stride ldo. */
static void attention_head_queries(float *out, int ldo, float *att, const AttnHead *a) {
    const int L = a->len, f = a->first, ld = a->ld, T = a->T;
    for (int i0 = f; i0 < L; i0 += ATTN_TILE) {
        const int i1 = tile_end(i0, L);
        float *p = att + (size_t)i0 * T;
        gemm(false, true, i1 - i0, i1, a->hs, a->scale, a->q + (size_t)i0 * ld, ld, a->k, ld, 0.0f, p, T);
        for (int t = i0; t < i1; t++) causal_softmax_row(att + (size_t)t * T, t, i1);
        gemm(false, false, i1 - i0, a->hs, i1, 1.0f, p, T, a->v, ld, 0.0f, out + (size_t)(i0 - f) * ldo, ldo);
    }
}

/* Only the last query: one row, dot products. */
static void attention_head_last_query(float *out, float *att, const AttnHead *a) {
    const int t = a->len - 1;
    const float *q = a->q + (size_t)t * a->ld;
    float *p = att + (size_t)t * a->T;
    for (int t2 = 0; t2 <= t; t2++) p[t2] = dot(q, a->k + (size_t)t2 * a->ld, a->hs) * a->scale;
    causal_softmax_row(p, t, t + 1);
    memset(out, 0, (size_t)a->hs * sizeof(float));
    for (int t2 = 0; t2 <= t; t2++) axpy(out, p[t2], a->v + (size_t)t2 * a->ld, a->hs);
}

void attention_forward(float *out, float *att, const float *qkv, const AttnRows *r, int B, int T, int C,
                       int NH) {
    /* each (b, h) runs serially on one thread (its GEMMs too: gemm() calls
     * sgemm directly inside a parallel region), so the bits depend neither
     * on the thread count nor on which thread takes it; taken one at a time,
     * since a head's cost grows with its sequence's length squared (static
     * halves of 8 texts of 200 to 300 tokens could differ up to 2.25x) */
#pragma omp parallel for schedule(dynamic)
    for (int bh = 0; bh < B * NH; bh++) {
        const int b = bh / NH, h = bh % NH;
        const AttnHead a = attn_head(qkv, r, b, h, T, C, NH);
        float *att_bh = att + (size_t)bh * T * T;
        float *o = out + (size_t)r->out[b] * C + h * a.hs;
        if (a.one)
            attention_head_last_query(o, att_bh, &a);
        else if (a.first < a.len)
            attention_head_queries(o, C, att_bh, &a);
    }
}

/* The head's dq, dk and dv columns (at the same place in dqkv as q, k, v in
 * qkv), overwritten, from the output gradient of its last query alone
 * (dy); dp: scratch [T]. The head owns its columns of its rows: no other
 * (b, h) writes them. One query row: dot products and axpys. */
static void attention_head_backward_last(float *dq, float *dp, const float *dy, const float *att,
                                         const AttnHead *a) {
    const int ld = a->ld, hs = a->hs, t = a->len - 1;
    float *dk = dq + a->C, *dv = dq + 2 * a->C;
    for (int r = 0; r < a->len; r++)
        for (int k = 0; k < 3; k++) memset(dq + (size_t)r * ld + k * a->C, 0, (size_t)hs * sizeof(float));
    const float *p = att + (size_t)t * a->T;
    /* through out = p @ v */
    float pdp = 0.0f;
    for (int t2 = 0; t2 <= t; t2++) {
        dp[t2] = dot(dy, a->v + (size_t)t2 * ld, hs);
        pdp += p[t2] * dp[t2];
        axpy(dv + (size_t)t2 * ld, p[t2], dy, hs);
    }
    /* through the softmax, then the scaled q . k */
    for (int t2 = 0; t2 <= t; t2++) {
        float ds = p[t2] * (dp[t2] - pdp) * a->scale;
        axpy(dq + (size_t)t * ld, ds, a->k + (size_t)t2 * ld, hs);
        axpy(dk + (size_t)t2 * ld, ds, a->q + (size_t)t * ld, hs);
    }
}

/* dv [j0, j1) = P^T dy and dk [j0, j1) = dS^T Q over queries q0 .. len - 1. */
static void attention_head_backward_keys(float *dq, const float *ds, const float *dy, int ldy, const float *att,
                                         const AttnHead *a, int j0, int j1, int q0) {
    const int ld = a->ld, hs = a->hs, T = a->T, nq = a->len - q0;
    const float *dyq = dy + (size_t)(q0 - a->first) * ldy, *dsq = ds + (size_t)(q0 - a->first) * T;
    gemm(true, false, j1 - j0, hs, nq, 1.0f, att + (size_t)q0 * T + j0, T, dyq, ldy, 0.0f,
         dq + 2 * a->C + (size_t)j0 * ld, ld);
    gemm(true, false, j1 - j0, hs, nq, 1.0f, dsq + j0, T, a->q + (size_t)q0 * ld, ld, 0.0f,
         dq + a->C + (size_t)j0 * ld, ld);
}

/* The same from the output gradients of queries first .. len - 1 (query
 * t's at dy + (t - first) * ldy): per query tile dP = dy V^T, dS = scale P
 * (dP - rowsum(P dP)) (zero above the diagonal) and dq = dS K; then dv =
 * P^T dy and dk = dS^T Q per key tile. ds: scratch [len, T]. */
static void attention_head_backward_queries(float *dq, float *ds, const float *dy, int ldy, const float *att,
                                            const AttnHead *a) {
    const int L = a->len, f = a->first, ld = a->ld, hs = a->hs, T = a->T;
    for (int t = 0; t < f; t++) memset(dq + (size_t)t * ld, 0, (size_t)hs * sizeof(float));
    for (int i0 = f; i0 < L; i0 += ATTN_TILE) {
        const int i1 = tile_end(i0, L);
        float *dsi = ds + (size_t)(i0 - f) * T;
        gemm(false, true, i1 - i0, i1, hs, 1.0f, dy + (size_t)(i0 - f) * ldy, ldy, a->v, ld, 0.0f, dsi, T);
        for (int t = i0; t < i1; t++) {
            const float *p = att + (size_t)t * T;
            float *d = ds + (size_t)(t - f) * T;
            const float pdp = dot(p, d, t + 1);
            for (int t2 = 0; t2 <= t; t2++) d[t2] = p[t2] * (d[t2] - pdp) * a->scale;
            if (i1 > t + 1) memset(d + t + 1, 0, (size_t)(i1 - t - 1) * sizeof(float));
        }
        gemm(false, false, i1 - i0, hs, i1, 1.0f, dsi, T, a->k, ld, 0.0f, dq + (size_t)i0 * ld, ld);
    }
    if (f > 0) attention_head_backward_keys(dq, ds, dy, ldy, att, a, 0, f, f);
    for (int j0 = f; j0 < L; j0 += ATTN_TILE)
        attention_head_backward_keys(dq, ds, dy, ldy, att, a, j0, tile_end(j0, L), j0);
}

void attention_backward(float *dqkv, float *scratch, int slots, const float *dout, const float *qkv,
                        const float *att, const AttnRows *r, int B, int T, int C, int NH) {
    /* as in the forward, each (b, h) runs serially on one thread (scratch
     * slot: its thread's), so the bits do not depend on the thread count,
     * and heads are taken one at a time */
    const int nt = omp_get_max_threads() < slots ? omp_get_max_threads() : slots;
#pragma omp parallel for schedule(dynamic) num_threads(nt)
    for (int bh = 0; bh < B * NH; bh++) {
        const int b = bh / NH, h = bh % NH;
        const AttnHead a = attn_head(qkv, r, b, h, T, C, NH);
        float *dq = dqkv + (a.q - qkv);
        float *slot = scratch + (size_t)omp_get_thread_num() * T * T;
        const float *att_bh = att + (size_t)bh * T * T;
        const float *dy = dout + (size_t)r->out[b] * C + h * a.hs;
        if (a.one)
            attention_head_backward_last(dq, slot, dy, att_bh, &a);
        else if (a.first < a.len)
            attention_head_backward_queries(dq, slot, dy, C, att_bh, &a);
        else
            for (int t = 0; t < a.len; t++)
                for (int k = 0; k < 3; k++) memset(dq + (size_t)t * a.ld + k * C, 0, (size_t)a.hs * sizeof(float));
    }
}

#define GELU_SCALE 0.7978845608028654f /* sqrt(2 / pi) */

/* gelu(x) = 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3); with
 * 1 + tanh(u) = 2 sigmoid(2u) that is x * sigmoid(2u): one exp, no tanh. */
void gelu_forward(float *out, const float *inp, long n) {
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) {
        float x = inp[i];
        float u = GELU_SCALE * (x + 0.044715f * x * x * x);
        out[i] = x / (1.0f + exp_fast(-2.0f * u));
    }
}

void gelu_backward(float *dinp, const float *inp, const float *dout, long n) {
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) {
        float x = inp[i];
        float u = GELU_SCALE * (x + 0.044715f * x * x * x);
        float s = 1.0f / (1.0f + exp_fast(-2.0f * u)); /* (1 + tanh(u)) / 2 */
        float du = GELU_SCALE * (1.0f + 3.0f * 0.044715f * x * x);
        /* d/dx x s(2u) = s + x * 2 s (1 - s) * du */
        float g = s + 2.0f * x * s * (1.0f - s) * du;
        dinp[i] = g * dout[i];
    }
}

void residual_forward(float *out, const float *a, const float *b, long n) {
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) out[i] = a[i] + b[i];
}

double crossentropy_forward(float *probs, const float *logits, const int *labels, int B, int K) {
    double total = 0.0;
    for (int b = 0; b < B; b++) {
        const float *z = logits + (size_t)b * K;
        float *p = probs + (size_t)b * K;
        const float maxv = max_of(z, K);
        float sum = 0.0f;
        for (int k = 0; k < K; k++) {
            p[k] = expf(z[k] - maxv);
            sum += p[k];
        }
        for (int k = 0; k < K; k++) p[k] /= sum;
        /* -log_softmax(z)[y] = log(sum) - (z_y - max): no log of a tiny probability */
        if (labels) total += (double)(logf(sum) - (z[labels[b]] - maxv));
    }
    return labels ? total : 0.0;
}

void softmax_forward(float *probs, double *loss, const float *logits, const int *labels, int B, int K) {
    for (int b = 0; b < B; b++) {
        const float *z = logits + (size_t)b * K;
        float *p = probs + (size_t)b * K;
        const float max = max_of(z, K);
        double sum = 0;
        for (int k = 0; k < K; k++) sum += exp((double)z[k] - max);
        for (int k = 0; k < K; k++) p[k] = (float)(exp((double)z[k] - max) / sum);
        if (labels) loss[b] = -((double)z[labels[b]] - max - log(sum));
    }
}

void crossentropy_backward(float *dlogits, const float *probs, const int *labels, int B, int K, int count) {
    for (int b = 0; b < B; b++)
        for (int k = 0; k < K; k++)
            dlogits[(size_t)b * K + k] = (probs[(size_t)b * K + k] - (k == labels[b] ? 1.0f : 0.0f)) / count;
}

/* The first index of x's largest value: the maximum in eight lanes
 * (vectorizes), then a scan for its first occurrence. */
static int argmax_first(const float *x, int n, float *maxv) {
    float lane[8];
    for (int k = 0; k < 8; k++) lane[k] = x[0];
    int v = 0;
    for (; v + 8 <= n; v += 8)
        for (int k = 0; k < 8; k++) lane[k] = x[v + k] > lane[k] ? x[v + k] : lane[k];
    float m = lane[0];
    for (int k = 1; k < 8; k++) m = lane[k] > m ? lane[k] : m;
    for (; v < n; v++) m = x[v] > m ? x[v] : m;
    int best = 0;
    while (best < n - 1 && !(x[best] == m)) best++;
    *maxv = m;
    return best;
}

/* sum of e^(x - maxv): float in eight lanes over blocks of 256 (vectorizes),
 * the blocks added in double (no float error growing with the vocabulary).
 * With keep, x is overwritten with the exponentials (the gradient's, so
 * they are evaluated once). */
static double sum_exp(float *x, int n, float maxv, bool keep) {
    double sum = 0;
    int v = 0;
    for (; v + 256 <= n; v += 256) {
        float acc[8] = {0};
        for (int i = v; i < v + 256; i += 8)
            for (int k = 0; k < 8; k++) {
                const float e = exp_fast(x[i + k] - maxv);
                acc[k] += e;
                if (keep) x[i + k] = e;
            }
        sum += (double)(((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])));
    }
    for (; v < n; v++) {
        const float e = exp_fast(x[v] - maxv);
        sum += e;
        if (keep) x[v] = e;
    }
    return sum;
}

void crossentropy_rows(float *z, double *loss, int *hit, float *scale, const int32_t *targets, int N, int V,
                       float dscale) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        float *x = z + (size_t)n * V;
        const int y = targets[n];
        float maxv;
        hit[n] = argmax_first(x, V, &maxv) == y;
        const float zy = x[y];
        const double sum = sum_exp(x, V, maxv, dscale > 0.0f);
        loss[n] = log(sum) - ((double)zy - maxv);
        if (dscale > 0.0f) {
            /* p_y - 1 = (e_y - sum) / sum: the difference in double, as
             * precise as dscale * p_y - dscale was */
            x[y] = (float)((double)x[y] - sum);
            scale[n] = (float)(dscale / sum);
        }
    }
}

void scale_rows(float *x, const float *s, int N, int C) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++)
        for (int i = 0; i < C; i++) x[(size_t)n * C + i] *= s[n];
}
