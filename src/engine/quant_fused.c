/* quant_fused.c - dequantize-and-multiply in one pass for few rows. See
 * include/lorafit/engine/quant_fused.h. */
#include "lorafit/engine/quant_fused.h"

#include <stdint.h>
#include <stdlib.h>

#include "lorafit/util/cpu.h"
#include "lorafit/util/mem.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define QFUSED_X86 1
#endif

enum { COLS = QFUSED_COLS, ROWS = QFUSED_MAX_ROWS };

/* One thread's share: rows n0 .. n0 + nn - 1, columns j0 .. j0 + nj - 1. */
typedef struct {
    const QuantMatrix *w;
    const float *xt; /* x transposed, [IC, N] */
    int N, IC, OC, n0, nn, j0, nj;
} Slice;

/* Portable: any alignment, through the reference dequantizer. The tail of
 * a short slice stays 0, so the inner loop keeps its fixed length. */
static void slice_c(const Slice *s, float acc[ROWS][COLS]) {
    float wk[COLS] = {0};
    for (int k = 0; k < s->IC; k++) {
        const size_t e = (size_t)k * s->OC + s->j0;
        quant_matrix_dequantize_range(s->w, e, e + s->nj, wk);
        const float *x = s->xt + (size_t)k * s->N + s->n0;
        for (int n = 0; n < s->nn; n++)
            for (int j = 0; j < COLS; j++) {
                const float p = x[n] * wk[j]; /* its own statement: clang contracts a * b + c within one */
                acc[n][j] += p;
            }
    }
}

#ifdef QFUSED_X86
/* Codes 0..15 (one per 32-bit lane) to their levels times the block's absmax. */
__attribute__((target("avx2"))) static inline __m256 nf4_lookup(__m256i idx, __m256 lo, __m256 hi) {
    __m256 high = _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28)); /* bit 3 to the sign */
    return _mm256_blendv_ps(_mm256_permutevar8x32_ps(lo, idx), _mm256_permutevar8x32_ps(hi, idx), high);
}

/* W'[e .. e + 63], one whole nf4 block (e a multiple of 64), into v. The
 * absmax in two statements and each level times it: nf4_dequantize's values. */
__attribute__((target("avx2"))) static inline void nf4_decode64(const QuantMatrix *w, size_t e, __m256 v[8]) {
    const size_t b = e / QUANT_NF4_BLOCK;
    float absmax = quant_dynamic_map[w->absmax_codes[b]] * w->scales[b / QUANT_NF4_ABSMAX_BLOCK];
    absmax += w->absmax_offset;
    const __m256 s = _mm256_set1_ps(absmax);
    const __m256 lo = _mm256_mul_ps(_mm256_loadu_ps(quant_nf4_levels), s);
    const __m256 hi = _mm256_mul_ps(_mm256_loadu_ps(quant_nf4_levels + 8), s);
    const __m128i low4 = _mm_set1_epi8(15);
    for (int i = 0; i < 2; i++) {
        /* 16 bytes, 32 codes: the high nibble first */
        __m128i bytes = _mm_loadu_si128((const __m128i *)(w->codes + e / 2 + 16 * (size_t)i));
        __m128i hn = _mm_and_si128(_mm_srli_epi16(bytes, 4), low4), ln = _mm_and_si128(bytes, low4);
        __m128i in_order[2] = {_mm_unpacklo_epi8(hn, ln), _mm_unpackhi_epi8(hn, ln)};
        for (int h = 0; h < 2; h++) {
            v[4 * i + 2 * h] = nf4_lookup(_mm256_cvtepu8_epi32(in_order[h]), lo, hi);
            v[4 * i + 2 * h + 1] = nf4_lookup(_mm256_cvtepu8_epi32(_mm_srli_si128(in_order[h], 8)), lo, hi);
        }
    }
}

/* W'[e .. e + 63], two int8 blocks (e a multiple of 32), into v. */
__attribute__((target("avx2"))) static inline void int8_decode64(const QuantMatrix *w, size_t e, __m256 v[8]) {
    const int8_t *codes = (const int8_t *)w->codes + e;
    for (int g = 0; g < 8; g++) {
        __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(codes + 8 * g)));
        v[g] = _mm256_mul_ps(_mm256_cvtepi32_ps(q), _mm256_set1_ps(w->scales[e / QUANT_INT8_BLOCK + g / 4]));
    }
}

/* A whole slice (nj == COLS) whose rows start on a block boundary. KB
 * rows of W' at a time are decoded into an L1 buffer; then each x row
 * keeps its 64 sums in registers over those KB steps of k (one load, one
 * multiply, one add a vector: no store-to-load chain through memory). */
enum { KB = 16 };
__attribute__((target("avx2"))) static void slice_avx2(const Slice *s, float acc[ROWS][COLS]) {
    __m256 wb[KB][8];
    for (int k0 = 0; k0 < s->IC; k0 += KB) {
        const int kb = s->IC - k0 < KB ? s->IC - k0 : KB;
        for (int kk = 0; kk < kb; kk++) {
            const size_t e = (size_t)(k0 + kk) * s->OC + s->j0;
            if (s->w->dtype == QUANT_NF4) nf4_decode64(s->w, e, wb[kk]);
            else int8_decode64(s->w, e, wb[kk]);
        }
        for (int n = 0; n < s->nn; n++) {
            __m256 a[8];
            for (int g = 0; g < 8; g++) a[g] = _mm256_loadu_ps(acc[n] + 8 * g);
            const float *x = s->xt + (size_t)k0 * s->N + s->n0 + n;
            for (int kk = 0; kk < kb; kk++) {
                const __m256 xn = _mm256_set1_ps(x[(size_t)kk * s->N]);
                for (int g = 0; g < 8; g++) a[g] = _mm256_add_ps(a[g], _mm256_mul_ps(xn, wb[kk][g]));
            }
            for (int g = 0; g < 8; g++) _mm256_storeu_ps(acc[n] + 8 * g, a[g]);
        }
    }
}
#endif

/* Whether W' has AVX2 decoders (nf4, int8) and every slice of a row starts on
 * one of its blocks. */
static bool blocks_aligned(const QuantMatrix *w) {
    if (w->dtype != QUANT_NF4 && w->dtype != QUANT_INT8) return false; /* bf16: no decoder here */
    return w->cols % (w->dtype == QUANT_NF4 ? QUANT_NF4_BLOCK : QUANT_INT8_BLOCK) == 0;
}

/* Whether the AVX2 decoders may run on w here. */
static bool simd_usable(const QuantMatrix *w, bool allow_simd) {
#if defined(__AVX2__)
    return allow_simd && blocks_aligned(w); /* built for AVX2 (-march=native): the binary needs it anyway */
#elif defined(QFUSED_X86)
    CpuInfo cpu;
    cpu_detect(&cpu); /* cpuid costs microseconds under a hypervisor: only when the build did not settle it */
    return allow_simd && cpu.avx2 && cpu.os_ymm && blocks_aligned(w);
#else
    (void)w;
    (void)allow_simd;
    return false;
#endif
}

bool qfused_simd_usable(const QuantMatrix *w) { return simd_usable(w, true); }

#ifdef QFUSED_X86
__attribute__((target("avx2"))) static void rows_avx2(const QuantMatrix *w, int r0, int r1, float *out) {
    __m256 v[8];
    const size_t e1 = (size_t)r1 * w->cols;
    for (size_t e = (size_t)r0 * w->cols; e < e1; e += 64, out += 64) {
        if (w->dtype == QUANT_NF4) nf4_decode64(w, e, v);
        else int8_decode64(w, e, v);
        for (int g = 0; g < 8; g++) _mm256_storeu_ps(out + 8 * g, v[g]);
    }
}
#endif

void qfused_dequantize_rows(const QuantMatrix *w, int r0, int r1, float *out, bool simd) {
#ifdef QFUSED_X86
    /* whole rows of 64-multiples: every 64 a block (nf4) or two (int8) */
    if (simd && w->cols % 64 == 0) {
        rows_avx2(w, r0, r1, out);
        return;
    }
#else
    (void)simd;
#endif
    quant_matrix_dequantize_rows(w, r0, r1, out);
}

void qfused_forward(float *out, const float *inp, const QuantMatrix *w, const float *bias, int N, int IC, int OC,
                    bool allow_simd) {
    if (N <= 0) return; /* an LM batch without targets leaves its top block no rows */
    float *xt = mem_alloc_or_abort((size_t)IC * N * sizeof *xt, "a transposed input");
    for (int n = 0; n < N; n++)
        for (int k = 0; k < IC; k++) xt[(size_t)k * N + n] = inp[(size_t)n * IC + k];
    const bool simd = simd_usable(w, allow_simd);
    const int n_slices = (OC + COLS - 1) / COLS, n_groups = (N + ROWS - 1) / ROWS;
#pragma omp parallel for schedule(static)
    for (int t = 0; t < n_slices * n_groups; t++) {
        Slice s = {w, xt, N, IC, OC, t % n_groups * ROWS, 0, t / n_groups * COLS, 0};
        s.nn = N - s.n0 < ROWS ? N - s.n0 : ROWS;
        s.nj = OC - s.j0 < COLS ? OC - s.j0 : COLS;
        float acc[ROWS][COLS] = {{0}};
#ifdef QFUSED_X86
        if (simd && s.nj == COLS) slice_avx2(&s, acc);
        else slice_c(&s, acc);
#else
        slice_c(&s, acc);
#endif
        for (int n = 0; n < s.nn; n++)
            for (int j = 0; j < s.nj; j++)
                out[(size_t)(s.n0 + n) * OC + s.j0 + j] = acc[n][j] + (bias ? bias[s.j0 + j] : 0.0f);
    }
    free(xt);
}
