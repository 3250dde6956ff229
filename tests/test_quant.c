/* test_quant.c - NF4 and int8 quantization against the numpy reference.
 *
 * Fixture: scripts/reference/quant_ref.py, written from the bitsandbytes
 * and GGML descriptions (cases: zeros, blocks of one repeated value,
 * magnitudes 1e-40 .. 1e35, a partial last block, more than 256 absmax
 * blocks, the NF4 levels and thresholds themselves). Required: the packed
 * codes and every scale bit for bit, dequantize(quantize(W)) equal value
 * for value, any row range dequantized equal to the whole. The tiled GEMMs
 * over a quantized W agree with one sgemm over the fully dequantized W
 * (1e-5, the order of the sums differs) and repeat to the bit. */
#include <string.h>

#include "check.h"
#include "engine_fixture.h"
#include "lorafit/engine/kernels.h"
#include "lorafit/engine/quant_matmul.h"
#include "lorafit/util/rng.h"

static const void *fx_bytes(const StFile *f, const char *name, StDtype dtype, size_t numel) {
    const StTensor *t = st_find(f, name);
    if (!t || t->dtype != dtype || (size_t)t->numel != numel) {
        fprintf(stderr, "fixture: tensor %s missing or of the wrong size\n", name);
        return NULL;
    }
    return t->data;
}

/* Bitwise equality of floats (so -0.0 and 0.0 differ, NaN equals itself). */
static size_t mismatches(const float *a, const float *b, size_t n, size_t *first) {
    size_t bad = 0;
    for (size_t i = n; i-- > 0;)
        if (memcmp(a + i, b + i, sizeof *a) != 0) bad++, *first = i;
    return bad;
}

/* Whether the fixture's tensor NAME.PART (dtype dt, numel elements) has
 * exactly the bytes of got. */
static bool fixture_equal(const StFile *f, const char *name, const char *part, StDtype dt, size_t numel,
                          const void *got) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", name, part);
    const void *want = fx_bytes(f, key, dt, numel);
    return want && memcmp(want, got, numel * st_dtype_size(dt)) == 0;
}

/* W' of q, whole and by pairs of rows (ranges that start on odd elements
 * and mid-block), against the fixture's NAME.PART. */
static void check_dequantized(const StFile *f, const char *name, const char *part, const QuantMatrix *q) {
    size_t n = (size_t)q->rows * q->cols, first = 0;
    float *deq = malloc(n * sizeof *deq), *part_rows = malloc(n * sizeof *part_rows);
    REQUIRE(deq && part_rows, "memory");
    char key[128];
    snprintf(key, sizeof key, "%s.%s", name, part);
    const float *want = fx_f32(f, key, n);
    quant_matrix_dequantize_rows(q, 0, q->rows, deq);
    size_t bad = want ? mismatches(deq, want, n, &first) : n;
    CHECK(bad == 0, "%s: %zu values differ, first [%zu] %.9g vs %.9g", key, bad, first, (double)deq[first],
          want ? (double)want[first] : 0.0);
    for (int r = 0; r < q->rows; r += 2)
        quant_matrix_dequantize_rows(q, r, r + 2 < q->rows ? r + 2 : q->rows, part_rows + (size_t)r * q->cols);
    CHECK(mismatches(part_rows, deq, n, &first) == 0, "%s by rows [%zu]", key, first);
    free(deq);
    free(part_rows);
}

static void check_case(const StFile *f, const char *name, int rows, int cols) {
    size_t n = (size_t)rows * cols;
    char key[128];
    snprintf(key, sizeof key, "%s.w", name);
    const float *w = fx_f32(f, key, n);
    REQUIRE(w != NULL, "%s", key);
    LfError err = {0};
    QuantMatrix q;
    REQUIRE(quant_matrix_quantize(&q, QUANT_NF4, w, rows, cols, &err), "%s nf4: %s", name, err.msg);
    size_t nb = quant_nf4_absmax_count(n), nb2 = quant_scale_count(QUANT_NF4, n);
    CHECK(fixture_equal(f, name, "nf4.codes", ST_U8, (n + 1) / 2, q.codes), "%s nf4 codes", name);
    CHECK(fixture_equal(f, name, "nf4.absmax_codes", ST_U8, nb, q.absmax_codes), "%s nf4 absmax codes", name);
    CHECK(fixture_equal(f, name, "nf4.absmax_scales", ST_F32, nb2, q.scales), "%s nf4 absmax scales", name);
    CHECK(fixture_equal(f, name, "nf4.absmax_offset", ST_F32, 1, &q.absmax_offset), "%s nf4 offset %g", name,
          (double)q.absmax_offset);
    check_dequantized(f, name, "nf4.deq", &q);
    CHECK(quant_matrix_bytes(&q) == (n + 1) / 2 + nb + 4 * nb2, "%s nf4 bytes", name);
    quant_matrix_free(&q);

    REQUIRE(quant_matrix_quantize(&q, QUANT_INT8, w, rows, cols, &err), "%s int8: %s", name, err.msg);
    CHECK(fixture_equal(f, name, "q8.codes", ST_I8, n, q.codes), "%s int8 codes", name);
    CHECK(fixture_equal(f, name, "q8.scales", ST_F32, quant_scale_count(QUANT_INT8, n), q.scales),
          "%s int8 scales", name);
    check_dequantized(f, name, "q8.deq", &q);
    quant_matrix_free(&q);
}

static double max_rel_diff(const float *a, const float *b, size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]) / (fabs((double)b[i]) > 1 ? fabs((double)b[i]) : 1);
        worst = d > worst ? d : worst;
    }
    return worst;
}

/* IC 300 over OC 2048: tiles of 128 rows, the last partial. */
static void check_matmul(QuantDtype dtype) {
    enum { N = 7, IC = 300, OC = 2048 };
    float *w = malloc(sizeof(float) * IC * OC), *wd = malloc(sizeof(float) * IC * OC);
    float *x = malloc(sizeof(float) * N * IC), *dy = malloc(sizeof(float) * N * OC);
    float *bias = malloc(sizeof(float) * OC), *y = malloc(sizeof(float) * N * OC),
          *y2 = malloc(sizeof(float) * N * OC), *want = malloc(sizeof(float) * N * OC);
    float *dx = malloc(sizeof(float) * N * IC), *dx2 = malloc(sizeof(float) * N * IC),
          *dxw = malloc(sizeof(float) * N * IC);
    REQUIRE(w && wd && x && dy && bias && y && y2 && want && dx && dx2 && dxw, "memory");
    Rng r;
    rng_seed(&r, 7);
    for (int i = 0; i < IC * OC; i++) w[i] = 0.04f * (rng_float(&r) - 0.5f);
    for (int i = 0; i < N * IC; i++) x[i] = 2.0f * rng_float(&r) - 1.0f;
    for (int i = 0; i < N * OC; i++) dy[i] = 2.0f * rng_float(&r) - 1.0f;
    for (int i = 0; i < OC; i++) bias[i] = 2.0f * rng_float(&r) - 1.0f;
    QuantMatrix q;
    LfError err = {0};
    REQUIRE(quant_matrix_quantize(&q, dtype, w, IC, OC, &err), "%s", err.msg);
    quant_matrix_dequantize_rows(&q, 0, IC, wd);
    matmul_forward(want, x, wd, bias, N, IC, OC);
    qmatmul_forward(y, x, &q, bias, N, IC, OC);
    frozen_matmul_forward(y2, x, NULL, &q, bias, N, IC, OC);
    double d = max_rel_diff(y, want, (size_t)N * OC);
    CHECK(d < 1e-5, "%s forward: max rel diff %g", quant_dtype_name(dtype), d);
    CHECK(memcmp(y, y2, sizeof(float) * N * OC) == 0, "%s forward repeats", quant_dtype_name(dtype));
    matmul_backward(dxw, dy, wd, N, IC, OC, 0);
    for (int i = 0; i < N * IC; i++) dx[i] = dx2[i] = 1.0f;
    qmatmul_backward(dx, dy, &q, N, IC, OC, 0);
    frozen_matmul_backward(dx2, dy, NULL, &q, N, IC, OC, 1);
    d = max_rel_diff(dx, dxw, (size_t)N * IC);
    CHECK(d < 1e-5, "%s backward: max rel diff %g", quant_dtype_name(dtype), d);
    for (int i = 0; i < N * IC; i++) dx2[i] -= 1.0f;
    d = max_rel_diff(dx2, dx, (size_t)N * IC);
    CHECK(d < 1e-5, "%s backward accumulates: %g", quant_dtype_name(dtype), d);
    quant_matrix_free(&q);
    free(w), free(wd), free(x), free(dy), free(bias), free(y), free(y2), free(want), free(dx), free(dx2), free(dxw);
}

int main(void) {
    char path[4200];
    snprintf(path, sizeof path, "%s/tests/fixtures/quant/quant.safetensors",
             check_env("LORAFIT_SOURCE_DIR", "."));
    LfError err = {0};
    StFile *f = st_open(path, &err);
    REQUIRE(f != NULL, "%s", err.msg);
    const float *map = fx_f32(f, "dynamic_map", 256);
    size_t first = 0;
    CHECK(map && mismatches(map, quant_dynamic_map, 256, &first) == 0, "dynamic map [%zu]", first);
    CHECK(quant_dynamic_map[127] == 0.0f && quant_dynamic_map[255] == 1.0f, "map entries 127 and 255");

    const char *cases = st_metadata(f, "cases");
    REQUIRE(cases != NULL, "fixture metadata 'cases'");
    char list[512];
    snprintf(list, sizeof list, "%s", cases);
    int ncases = 0;
    for (char *name = strtok(list, ","); name; name = strtok(NULL, ","), ncases++) {
        char key[128];
        snprintf(key, sizeof key, "%s.shape", name);
        const char *shape = st_metadata(f, key);
        int rows = 0, cols = 0;
        REQUIRE(shape && sscanf(shape, "%d,%d", &rows, &cols) == 2, "%s", key);
        check_case(f, name, rows, cols);
    }
    CHECK(ncases == 5, "five cases, got %d", ncases);

    /* by formula: a weight equal to its block's absmax codes 15 and comes back exact */
    float w[70] = {0};
    w[3] = 2.5f;
    w[66] = -0.75f;
    QuantMatrix q;
    REQUIRE(quant_matrix_quantize(&q, QUANT_NF4, w, 7, 10, &err), "%s", err.msg);
    CHECK(q.codes[1] == (7 << 4 | 15), "element 3 in the low nibble of byte 1: 0x%02x", q.codes[1]);
    CHECK(q.codes[33] == (0 << 4 | 7), "element 66 in the high nibble of byte 33: 0x%02x", q.codes[33]);
    quant_matrix_free(&q);
    w[5] = NAN;
    CHECK(!quant_matrix_quantize(&q, QUANT_INT8, w, 7, 10, &err) && strstr(err.msg, "[0, 5]"),
          "NaN refused: %s", err.msg);
    st_close(f);
    check_matmul(QUANT_NF4);
    check_matmul(QUANT_INT8);
    return check_done();
}
