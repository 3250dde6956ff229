/* test_quant_fused.c - the fused small-row forward over nf4 and int8.
 *
 * For shapes whose rows start on block boundaries (the AVX2 path where the
 * CPU has it) and shapes that do not (the portable path throughout), and
 * for 1 to 37 rows (one group of 16 and several):
 *  - the AVX2 and portable paths agree bit for bit, and so do 1 and 2
 *    threads (each output is one sum in order, quant_fused.h);
 *  - against the reference dequantizer (quant_matrix_dequantize_rows, which
 *    test_quant.c holds to the numpy reference value for value) with the
 *    products summed in double: within the bound of fp32 recursive
 *    summation, (IC + 2) * 2^-24 * (sum_k |x W'| + |bias|) per output
 *    (IC products and sums rounded once each, and the bias added);
 *  - against the tiled path (dequantize, then sgemm): within twice that,
 *    both being within it of the exact sum;
 *  - and against an exact hand computation on a tiny matrix (weights whose
 *    dequantized values and sums are exact in fp32).
 * And qfused_dequantize_rows (the tiled path's tiles) gives the reference
 * dequantizer's values bit for bit, whole and over a range of rows. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "check.h"
#include "lorafit/engine/quant_fused.h"
#include "lorafit/engine/quant_matmul.h"
#include "lorafit/util/rng.h"

static void check_shape(QuantDtype dtype, int N, int IC, int OC) {
    const char *name = quant_dtype_name(dtype);
    const size_t nw = (size_t)IC * OC, ny = (size_t)N * OC;
    float *w = malloc(sizeof(float) * nw), *wd = malloc(sizeof(float) * nw), *x = malloc(sizeof(float) * N * IC);
    float *bias = malloc(sizeof(float) * OC), *y = malloc(sizeof(float) * ny), *yc = malloc(sizeof(float) * ny);
    float *y1 = malloc(sizeof(float) * ny), *yt = malloc(sizeof(float) * ny);
    REQUIRE(w && wd && x && bias && y && yc && y1 && yt, "memory");
    Rng r;
    rng_seed(&r, (uint64_t)(N * 1000003 + IC * 1009 + OC));
    for (size_t i = 0; i < nw; i++) w[i] = 0.05f * (rng_float(&r) - 0.5f);
    for (int i = 0; i < N * IC; i++) x[i] = 2.0f * rng_float(&r) - 1.0f;
    for (int i = 0; i < OC; i++) bias[i] = rng_float(&r) - 0.5f;
    QuantMatrix q;
    LfError err = {0};
    REQUIRE(quant_matrix_quantize(&q, dtype, w, IC, OC, &err), "%s", err.msg);
    quant_matrix_dequantize_rows(&q, 0, IC, wd);
    float *wf = malloc(sizeof(float) * nw);
    REQUIRE(wf, "memory");
    qfused_dequantize_rows(&q, 0, IC, wf, qfused_simd_usable(&q));
    CHECK(memcmp(wf, wd, sizeof(float) * nw) == 0, "%s %dx%d: dequantized rows equal the reference's", name, IC, OC);
    memset(wf, 0, sizeof(float) * nw);
    qfused_dequantize_rows(&q, IC / 3, IC - 1, wf, qfused_simd_usable(&q));
    CHECK(memcmp(wf, wd + (size_t)(IC / 3) * OC, sizeof(float) * (size_t)(IC - 1 - IC / 3) * OC) == 0,
          "%s %dx%d: rows %d .. %d equal the reference's", name, IC, OC, IC / 3, IC - 2);
    free(wf);

    omp_set_num_threads(2);
    qfused_forward(y, x, &q, bias, N, IC, OC, true);
    qfused_forward(yc, x, &q, bias, N, IC, OC, false);
    qmatmul_forward_tiled(yt, x, &q, bias, N, IC, OC);
    omp_set_num_threads(1);
    qfused_forward(y1, x, &q, bias, N, IC, OC, true);
    omp_set_num_threads(2);
    CHECK(memcmp(y, yc, sizeof(float) * ny) == 0, "%s %dx%dx%d: SIMD and portable paths agree bit for bit", name, N,
          IC, OC);
    CHECK(memcmp(y, y1, sizeof(float) * ny) == 0, "%s %dx%dx%d: 1 and 2 threads agree bit for bit", name, N, IC, OC);

    size_t over_ref = 0, over_tiled = 0;
    double worst = 0;
    for (int n = 0; n < N; n++)
        for (int j = 0; j < OC; j++) {
            double exact = bias[j], mag = fabs(bias[j]);
            for (int k = 0; k < IC; k++) {
                double p = (double)x[(size_t)n * IC + k] * wd[(size_t)k * OC + j];
                exact += p;
                mag += fabs(p);
            }
            const double bound = (IC + 2) * ldexp(1.0, -24) * mag;
            const size_t o = (size_t)n * OC + j;
            double d = fabs(y[o] - exact);
            worst = d / bound > worst ? d / bound : worst;
            over_ref += d > bound;
            over_tiled += fabs((double)y[o] - yt[o]) > 2 * bound;
        }
    CHECK(over_ref == 0, "%s %dx%dx%d: %zu outputs beyond the summation bound of the exact sum (worst %.3g of it)",
          name, N, IC, OC, over_ref, worst);
    CHECK(over_tiled == 0, "%s %dx%dx%d: %zu outputs beyond twice the bound from the tiled path", name, N, IC, OC,
          over_tiled);
    quant_matrix_free(&q);
    free(w), free(wd), free(x), free(bias), free(y), free(yc), free(y1), free(yt);
}

/* Two rows of one nf4 block each: every weight +-2 or 0, the absmax 2, which
 * nf4 represents exactly (levels +-1 and 0; both absmaxes equal, so the
 * double quantization keeps 2 as the offset). y = x W' + bias by hand, every
 * product and sum exact in fp32. */
static void check_by_hand(void) {
    enum { IC = 2, OC = 64 };
    float w[IC * OC], want[OC], y[OC], x[IC] = {0.5f, -2.0f}, bias[OC];
    for (int j = 0; j < OC; j++) {
        w[j] = j % 3 == 0 ? 2.0f : j % 3 == 1 ? -2.0f : 0.0f;
        w[OC + j] = j % 2 ? 2.0f : -2.0f;
        bias[j] = (float)j;
        want[j] = 0.5f * w[j] - 2.0f * w[OC + j] + (float)j; /* all exact in fp32 */
    }
    QuantMatrix q;
    LfError err = {0};
    REQUIRE(quant_matrix_quantize(&q, QUANT_NF4, w, IC, OC, &err), "%s", err.msg);
    float wd[IC * OC];
    quant_matrix_dequantize_rows(&q, 0, IC, wd);
    REQUIRE(memcmp(wd, w, sizeof w) == 0, "nf4 represents +-2 and 0 exactly with absmax 2");
    for (int simd = 0; simd < 2; simd++) {
        qfused_forward(y, x, &q, bias, 1, IC, OC, simd);
        CHECK(memcmp(y, want, sizeof y) == 0, "nf4 by hand (%s): y[0..2] = %g %g %g, want %g %g %g",
              simd ? "SIMD" : "portable", y[0], y[1], y[2], want[0], want[1], want[2]);
    }
    quant_matrix_free(&q);
}

int main(void) {
    const QuantDtype dtypes[] = {QUANT_NF4, QUANT_INT8};
    for (int d = 0; d < 2; d++) {
        check_shape(dtypes[d], 1, 768, 2304);  /* gpt2-small's c_attn, one token */
        check_shape(dtypes[d], 7, 300, 256);   /* blocks aligned to the rows */
        check_shape(dtypes[d], 16, 64, 192);   /* one full group */
        check_shape(dtypes[d], 37, 96, 128);   /* three groups, the last partial */
        check_shape(dtypes[d], 5, 77, 200);    /* rows straddle blocks: the portable path */
        check_shape(dtypes[d], 3, 33, 96);     /* int8 aligned, nf4 not; a short last slice */
    }
    check_by_hand();
    return check_done();
}
