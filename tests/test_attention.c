/* test_attention.c - causal attention's forward and backward (kernels.h)
 * against the formulas, evaluated in double with plain loops.
 *
 * The engine runs attention's six GEMMs on the causal triangle in tiles of
 * 48 queries (from the first query asked for) and keys on the same grid,
 * the keys before the first query as one more tile; the PyTorch fixtures are
 * shorter than one tile, so this test takes sequences of 150, 70, 130 and 96
 * tokens (several tiles, a last tile short or whole), every query, queries
 * first .. len - 1 (the trimmed top block's: tiles off the 48 grid, many
 * keys before the first query, a single whole tile), the last two queries
 * (a GEMM of two rows) and a single last query (the dot-product path).
 * Outputs and dq, dk, dv within 2e-5 * max(1, |ref|).
 *
 * Forward: s_j = q_t . k_j / sqrt(hs) for j <= t, p = softmax(s), y_t =
 * sum_j p_j v_j. Backward from dy_t: dv_j = sum_t p_tj dy_t, dp_tj =
 * dy_t . v_j, ds_tj = p_tj (dp_tj - sum_j' p_tj' dp_tj'), dq_t = sum_j ds_tj
 * k_j / sqrt(hs), dk_j = sum_t ds_tj q_t / sqrt(hs). */
#include <math.h>
#include <string.h>

#include "check.h"
#include "lorafit/engine/kernels.h"
#include "lorafit/util/rng.h"

enum { B = 4, C = 16, NH = 2, HS = C / NH, T = 150 };

static const int LEN[B] = {150, 70, 130, 96};

/* The reference for one (sequence, head): y rows per query, dqkv columns. */
static void reference_head(double *y, double *dq, const float *qkv, const float *dy, int off, int len, int first,
                           int h) {
    const double scale = 1.0 / sqrt((double)HS);
    double p[T], dp[T];
    for (int t = first; t < len; t++) {
        const float *q = qkv + (size_t)(off + t) * 3 * C + h * HS;
        const float *g = dy + (size_t)(t - first) * C + h * HS;
        double maxv = -INFINITY, sum = 0, pdp = 0;
        for (int j = 0; j <= t; j++) {
            const float *k = qkv + (size_t)(off + j) * 3 * C + C + h * HS;
            double s = 0;
            for (int i = 0; i < HS; i++) s += (double)q[i] * k[i];
            p[j] = s * scale;
            maxv = fmax(maxv, p[j]);
        }
        for (int j = 0; j <= t; j++) sum += p[j] = exp(p[j] - maxv);
        for (int j = 0; j <= t; j++) {
            const float *v = qkv + (size_t)(off + j) * 3 * C + 2 * C + h * HS;
            p[j] /= sum;
            dp[j] = 0;
            for (int i = 0; i < HS; i++) {
                y[(size_t)(t - first) * C + h * HS + i] += p[j] * v[i];
                dp[j] += (double)g[i] * v[i];
                dq[(size_t)(off + j) * 3 * C + 2 * C + h * HS + i] += p[j] * g[i]; /* dv */
            }
            pdp += p[j] * dp[j];
        }
        for (int j = 0; j <= t; j++) {
            const double ds = p[j] * (dp[j] - pdp) * scale;
            const float *k = qkv + (size_t)(off + j) * 3 * C + C + h * HS;
            for (int i = 0; i < HS; i++) {
                dq[(size_t)(off + t) * 3 * C + h * HS + i] += ds * k[i];
                dq[(size_t)(off + j) * 3 * C + C + h * HS + i] += ds * q[i]; /* dk */
            }
        }
    }
}

static double worst_error(const float *got, const double *want, size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(got[i] - want[i]) / fmax(1.0, fabs(want[i]));
        if (e != e) return INFINITY; /* a NaN: an element never written */
        if (e > worst) worst = e;
    }
    return worst;
}

/* first == NULL: every query; else queries first[b] .. len - 1. */
static void check_case(const char *what, const float *qkv, const float *dy_all, const int *first) {
    int off[B + 1] = {0}, out[B];
    int rows = 0;
    for (int b = 0; b < B; b++) {
        off[b + 1] = off[b] + LEN[b];
        out[b] = rows;
        rows += LEN[b] - (first ? first[b] : 0);
    }
    const int N = off[B];
    float *y = calloc((size_t)rows * C, sizeof *y), *dqkv = malloc((size_t)N * 3 * C * sizeof *dqkv);
    float *att = malloc((size_t)B * NH * T * T * sizeof *att), *scratch = malloc((size_t)T * T * sizeof *scratch);
    double *want_y = calloc((size_t)rows * C, sizeof *want_y), *want_d = calloc((size_t)N * 3 * C, sizeof *want_d);
    REQUIRE(y && dqkv && att && scratch && want_y && want_d, "memory");
    /* NaNs: every element of dqkv must be written, and no stale scratch or
     * probability read (the buffers hold other sequences' in a training run) */
    memset(dqkv, 0xff, (size_t)N * 3 * C * sizeof *dqkv);
    memset(att, 0xff, (size_t)B * NH * T * T * sizeof *att);
    memset(scratch, 0xff, (size_t)T * T * sizeof *scratch);
    const AttnRows r = {off, LEN, first, out};
    attention_forward(y, att, qkv, &r, B, T, C, NH);
    attention_backward(dqkv, scratch, 1, dy_all, qkv, att, &r, B, T, C, NH);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            reference_head(want_y + (size_t)out[b] * C, want_d, qkv, dy_all + (size_t)out[b] * C, off[b], LEN[b],
                           first ? first[b] : 0, h);
    double ey = worst_error(y, want_y, (size_t)rows * C), ed = worst_error(dqkv, want_d, (size_t)N * 3 * C);
    CHECK(ey <= 2e-5, "%s: output off by %.3g", what, ey);
    CHECK(ed <= 2e-5, "%s: dq, dk, dv off by %.3g", what, ed);
    printf("%s: worst relative error: output %.2g, gradients %.2g\n", what, ey, ed);
    free(y);
    free(dqkv);
    free(att);
    free(scratch);
    free(want_y);
    free(want_d);
}

int main(void) {
    const int N = LEN[0] + LEN[1] + LEN[2] + LEN[3];
    float *qkv = malloc((size_t)N * 3 * C * sizeof *qkv), *dy = malloc((size_t)N * C * sizeof *dy);
    REQUIRE(qkv && dy, "memory");
    Rng rng;
    rng_seed(&rng, 7);
    /* magnitudes of about 2 give scores of a few units: softmaxes neither flat nor one-hot */
    for (int i = 0; i < N * 3 * C; i++) qkv[i] = 4.0f * rng_float(&rng) - 2.0f;
    for (int i = 0; i < N * C; i++) dy[i] = 2.0f * rng_float(&rng) - 1.0f;

    check_case("every query", qkv, dy, NULL);
    const int some[B] = {37, 69, 100, 48}; /* 69: the last query alone */
    check_case("queries first .. len - 1", qkv, dy, some);
    const int two[B] = {148, 68, 128, 94};
    check_case("last two queries", qkv, dy, two);
    const int last[B] = {149, 69, 129, 95};
    check_case("last query", qkv, dy, last);
    free(qkv);
    free(dy);
    return check_done();
}
