/* test_bf16.c - the bf16 format and the reference bf16 GEMMs.
 *
 * Rounding (bf16.h) against bit patterns worked out by hand: the kept half
 * is the top 16 bits; the dropped half decides (below 0x8000 down, above up,
 * exactly 0x8000 to the even kept half): ties both ways, a carry into the
 * exponent, the largest finite value and what rounds past it to infinity,
 * infinities, NaNs (all to torch's 0x7fc0, a signalling one included, which
 * plain rounding would turn into infinity), subnormals (rounded in place,
 * the largest carried into the smallest normal) and both zeros.
 *
 * The GEMMs (bf16_matmul.h's reference backend, forward and backward, with
 * and without accumulation, odd shapes, one row, zero rows): each output
 * against the exact sum in double of the products of the rounded inputs
 * (bf16(x) * W' with W' = bf16(W)), within the bound of fp32 summation,
 * (K + 2) * 2^-24 * (sum |products| + |bias or initial value|); then the same
 * outputs against the unrounded inputs' exact sums must differ beyond that
 * bound somewhere (the rounding of the activations did happen: checked
 * where K <= 400, as the rounding errors, about 2^-9 / sqrt(3) * sqrt(K) of
 * the terms' mean, fall below the bound, growing as K, from K ~ 700); a
 * second run agrees bit for bit; and a hand-made case: x = 1 + 2^-10 (not a
 * bf16: rounds to 1) times W = 1 gives exactly 1, and 1 + 2^-8 (a tie)
 * rounds to even, 1, in the backward. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "bf16_expect.h"
#include "check.h"
#include "lorafit/engine/bf16.h"
#include "lorafit/engine/bf16_matmul.h"
#include "lorafit/util/rng.h"

static float from_bits(uint32_t u) {
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static void check_rounding(void) {
    const struct {
        uint32_t in;
        uint16_t want;
        const char *what;
    } cases[] = {
        {0x3f800000, 0x3f80, "1.0 exactly"},
        {0x3f807fff, 0x3f80, "just below half a step: down"},
        {0x3f808001, 0x3f81, "just above half a step: up"},
        {0x3f808000, 0x3f80, "tie, kept half even: down"},
        {0x3f818000, 0x3f82, "tie, kept half odd: up to even"},
        {0xbf808000, 0xbf80, "negative tie: down in magnitude"},
        {0xbf818000, 0xbf82, "negative tie to even: up in magnitude"},
        {0x3fffffff, 0x4000, "1.9999999: carry into the exponent, 2.0"},
        {0x3fff8000, 0x4000, "tie at the top of a binade: carry to 2.0"},
        {0x7f7f0000, 0x7f7f, "the largest bf16 (0x1.fep127) stays"},
        {0x7f7f7fff, 0x7f7f, "below half a step past it: the largest bf16"},
        {0x7f7f8000, 0x7f80, "the tie past it (odd): infinity"},
        {0x7f7fffff, 0x7f80, "FLT_MAX: infinity"},
        {0xff7fffff, 0xff80, "-FLT_MAX: -infinity"},
        {0x7f800000, 0x7f80, "infinity"},
        {0xff800000, 0xff80, "-infinity"},
        {0x7fc00000, 0x7fc0, "quiet NaN"},
        {0xffc00001, 0x7fc0, "negative NaN with payload: torch's 0x7fc0"},
        {0x7f800001, 0x7fc0, "signalling NaN: NaN, not infinity"},
        {0x7fffffff, 0x7fc0, "NaN, all ones"},
        {0x00000000, 0x0000, "+0"},
        {0x80000000, 0x8000, "-0 keeps its sign"},
        {0x00000001, 0x0000, "the smallest subnormal: to +0"},
        {0x80000001, 0x8000, "its negative: to -0"},
        {0x00008000, 0x0000, "subnormal tie, even: down to 0"},
        {0x00018000, 0x0002, "subnormal tie, odd: up"},
        {0x00010000, 0x0001, "the smallest bf16 subnormal, 2^-133, exactly"},
        {0x007fffff, 0x0080, "the largest subnormal: carry into the smallest normal, 2^-126"},
        {0x00400000, 0x0040, "2^-127, a subnormal bf16 exactly"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint16_t got = bf16_from_f32(from_bits(cases[i].in));
        CHECK(got == cases[i].want, "bf16(0x%08x) = 0x%04x, want 0x%04x: %s", cases[i].in, got, cases[i].want,
              cases[i].what);
    }
    CHECK(bf16_to_f32(0x3f81) == 1.0078125f, "0x3f81 widens to 1 + 2^-7");
    CHECK(bf16_to_f32(0x0001) == ldexpf(1.0f, -133), "0x0001 widens to 2^-133");
    CHECK(signbit(bf16_to_f32(0x8000)) && bf16_to_f32(0x8000) == 0.0f, "0x8000 widens to -0");
    CHECK(isnan(bf16_round(NAN)) && isinf(bf16_round(from_bits(0x7f7fffff))), "bf16_round: NaN, overflow");
    /* the arrays agree with the scalar, and round trip */
    float in[5] = {1.0f, from_bits(0x3f818000), -3.0e38f, from_bits(0x007fffff), 1e-3f}, back[5], r[5];
    uint16_t h[5];
    bf16_from_f32_array(h, in, 5);
    bf16_to_f32_array(back, h, 5);
    bf16_round_array(r, in, 5);
    for (int i = 0; i < 5; i++)
        CHECK(h[i] == bf16_from_f32(in[i]) && back[i] == r[i] && r[i] == bf16_round(in[i]), "array %d", i);
}

static void check_gemm(int N, int IC, int OC) {
    const size_t nw = (size_t)IC * OC;
    float *w = malloc(sizeof(float) * nw), *wd = malloc(sizeof(float) * nw);
    float *x = malloc(sizeof(float) * ((size_t)N * IC + 1)), *dy = malloc(sizeof(float) * ((size_t)N * OC + 1));
    float *bias = malloc(sizeof(float) * OC), *y = malloc(sizeof(float) * ((size_t)N * OC + 1));
    float *y1 = malloc(sizeof(float) * ((size_t)N * OC + 1)), *dx = malloc(sizeof(float) * ((size_t)N * IC + 1));
    float *d0 = malloc(sizeof(float) * ((size_t)N * IC + 1)), *dxa = malloc(sizeof(float) * ((size_t)N * IC + 1));
    REQUIRE(w && wd && x && dy && bias && y && y1 && dx && d0 && dxa, "memory");
    Rng r;
    rng_seed(&r, (uint64_t)(N * 7919 + IC * 31 + OC));
    for (size_t i = 0; i < nw; i++) w[i] = 0.1f * (rng_float(&r) - 0.5f);
    for (int i = 0; i < N * IC; i++) x[i] = 2.0f * rng_float(&r) - 1.0f;
    for (int i = 0; i < N * OC; i++) dy[i] = rng_float(&r) - 0.5f;
    for (int i = 0; i < N * IC; i++) d0[i] = dxa[i] = rng_float(&r) - 0.5f;
    for (int i = 0; i < OC; i++) bias[i] = rng_float(&r) - 0.5f;
    QuantMatrix q;
    LfError err = {0};
    REQUIRE(quant_matrix_quantize(&q, QUANT_BF16, w, IC, OC, &err), "%s", err.msg);
    quant_matrix_dequantize_rows(&q, 0, IC, wd);
    bool widened = true;
    for (size_t i = 0; i < nw; i++) widened = widened && wd[i] == bf16_round(w[i]);
    CHECK(widened, "%dx%d: W' is bf16(W) exactly", IC, OC);

    omp_set_num_threads(2);
    bf16_reference_forward(y, x, &q, bias, N, IC, OC);
    bf16_reference_backward(dx, dy, &q, N, IC, OC, 0);
    bf16_reference_backward(dxa, dy, &q, N, IC, OC, 1);
    bf16_reference_forward(y1, x, &q, bias, N, IC, OC);
    CHECK(N == 0 || memcmp(y, y1, sizeof(float) * N * OC) == 0, "%dx%dx%d: a second run agrees bit for bit", N,
          IC, OC);

    Expect fwd = {x, wd, bias, true, false, N, IC, OC, OC};
    size_t beyond = count_beyond(&fwd, y, true);
    CHECK(beyond == 0, "forward %dx%dx%d: %zu outputs beyond the fp32 summation bound", N, IC, OC, beyond);
    if (N * OC >= 64 && IC <= 400)
        CHECK(count_beyond(&fwd, y, false) > 0, "forward %dx%dx%d: the inputs were not rounded to bf16", N, IC, OC);
    Expect bwd = {dy, wd, NULL, false, true, N, OC, IC, OC};
    beyond = count_beyond(&bwd, dx, true);
    CHECK(beyond == 0, "backward %dx%dx%d: %zu outputs beyond the bound", N, IC, OC, beyond);
    if (N * IC >= 64 && OC <= 400)
        CHECK(count_beyond(&bwd, dx, false) > 0, "backward %dx%dx%d: the gradients were not rounded to bf16", N, IC,
              OC);
    bwd.init = d0;
    beyond = count_beyond(&bwd, dxa, true);
    CHECK(beyond == 0, "backward += %dx%dx%d: %zu outputs beyond the bound", N, IC, OC, beyond);

    /* the dispatch: a bf16 matrix without oneDNN runs the reference, bit for bit */
    bf16_matmul_forward(y1, x, &q, bias, N, IC, OC);
    CHECK(N == 0 || memcmp(y, y1, sizeof(float) * N * OC) == 0, "%dx%dx%d: bf16_matmul_forward is the reference",
          N, IC, OC);
    quant_matrix_free(&q);
    free(w), free(wd), free(x), free(dy), free(bias), free(y), free(y1), free(dx), free(d0), free(dxa);
}

static void check_by_hand(void) {
    float w[2 * 3] = {1, 0, -2, 0.5f, 1, 0}, x[2] = {1.0f + ldexpf(1.0f, -10), 3.0f}, y[3];
    QuantMatrix q;
    LfError err = {0};
    REQUIRE(quant_matrix_quantize(&q, QUANT_BF16, w, 2, 3, &err), "%s", err.msg);
    bf16_reference_forward(y, x, &q, NULL, 1, 2, 3);
    /* x rounds to (1, 3): y = (1 + 1.5, 3, -2) exactly */
    CHECK(y[0] == 2.5f && y[1] == 3.0f && y[2] == -2.0f, "by hand: y = %.9g %.9g %.9g, want 2.5 3 -2", y[0], y[1],
          y[2]);
    float dy[3] = {1.0f + ldexpf(1.0f, -8), 0, 1}, dx[2];
    bf16_reference_backward(dx, dy, &q, 1, 2, 3, 0);
    /* dy rounds to (1, 0, 1) (a tie, to even): dx = (1 - 2, 0.5) */
    CHECK(dx[0] == -1.0f && dx[1] == 0.5f, "by hand backward: dx = %.9g %.9g, want -1 0.5", dx[0], dx[1]);
    quant_matrix_free(&q);
    float bad[2] = {1, NAN};
    CHECK(!quant_matrix_quantize(&q, QUANT_BF16, bad, 1, 2, &err) && strstr(err.msg, "[0, 1]"),
          "a NaN weight is refused naming it: %s", err.msg);
}

int main(void) {
    check_rounding();
    check_gemm(1, 768, 2304);  /* one token, gpt2-small's c_attn: 7 tiles of W's rows */
    check_gemm(7, 37, 53);     /* odd everything */
    check_gemm(65, 300, 129);  /* more rows than nf4's fused path takes */
    check_gemm(33, 1031, 600); /* 3 tiles, the last one partial */
    check_gemm(0, 16, 16);     /* no rows */
    check_by_hand();
    QuantDtype d;
    CHECK(quant_dtype_parse("bf16", &d) && d == QUANT_BF16 && strcmp(quant_dtype_name(QUANT_BF16), "bf16") == 0,
          "the name bf16");
    CHECK(quant_codes_bytes(QUANT_BF16, 10) == 20 && quant_scale_count(QUANT_BF16, 10) == 0, "2 bytes a weight");
    return check_done();
}
