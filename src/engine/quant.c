/* quant.c - NF4 and int8 block quantization. See include/lorafit/engine/quant.h. */
#include "lorafit/engine/quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/engine/bf16.h"
#include "lorafit/engine/bf16_dnnl.h"

/* bitsandbytes' NF4 levels (get_4bit_type("nf4"), nf4_dequantization_lut). */
const float quant_nf4_levels[16] = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
    -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
    0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
    0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f,
};

/* dQuantizeNF4's decision-tree thresholds (midpoints of the levels), ascending. */
static const float nf4_thresholds[15] = {
    -0.8480964004993439f, -0.6106329262256622f, -0.4599952697753906f, -0.33967943489551544f,
    -0.23460740596055984f, -0.13791173323988914f, -0.045525018125772476f, 0.03979014977812767f,
    0.1202552504837513f, 0.2035212516784668f, 0.2920137718319893f, 0.3893125355243683f,
    0.5016634166240692f, 0.6427869200706482f, 0.8614784181118011f,
};

/* bitsandbytes' create_dynamic_map(signed=True, max_exponent_bits=7,
 * total_bits=8) as torch computes it, ascending (printed by
 * scripts/reference/quant_ref.py --c-table; the test compares it with the
 * fixture's copy). Entry 127 is 0. */
const float quant_dynamic_map[256] = {
    -0x1.fc6666p-1f, -0x1.f53332p-1f, -0x1.ee0000p-1f, -0x1.e6ccccp-1f,
    -0x1.df9998p-1f, -0x1.d86666p-1f, -0x1.d13334p-1f, -0x1.ca0000p-1f,
    -0x1.c2ccccp-1f, -0x1.bb9998p-1f, -0x1.b46666p-1f, -0x1.ad3332p-1f,
    -0x1.a60000p-1f, -0x1.9eccccp-1f, -0x1.979998p-1f, -0x1.906666p-1f,
    -0x1.893334p-1f, -0x1.820000p-1f, -0x1.7acccep-1f, -0x1.73999ap-1f,
    -0x1.6c6668p-1f, -0x1.653334p-1f, -0x1.5e0000p-1f, -0x1.56cccep-1f,
    -0x1.4f999ap-1f, -0x1.486666p-1f, -0x1.413334p-1f, -0x1.3a0000p-1f,
    -0x1.32ccccp-1f, -0x1.2b999ap-1f, -0x1.246668p-1f, -0x1.1d3334p-1f,
    -0x1.160000p-1f, -0x1.0eccccp-1f, -0x1.07999ap-1f, -0x1.006666p-1f,
    -0x1.f26668p-2f, -0x1.e40000p-2f, -0x1.d59998p-2f, -0x1.c73334p-2f,
    -0x1.b8ccccp-2f, -0x1.aa6664p-2f, -0x1.9c0000p-2f, -0x1.8d9998p-2f,
    -0x1.7f3334p-2f, -0x1.70ccccp-2f, -0x1.626664p-2f, -0x1.540000p-2f,
    -0x1.459998p-2f, -0x1.373334p-2f, -0x1.28ccccp-2f, -0x1.1a6668p-2f,
    -0x1.0c0000p-2f, -0x1.fb3334p-3f, -0x1.de6668p-3f, -0x1.c1999ap-3f,
    -0x1.a4ccccp-3f, -0x1.880000p-3f, -0x1.6b3332p-3f, -0x1.4e6666p-3f,
    -0x1.31999ap-3f, -0x1.14ccccp-3f, -0x1.f00000p-4f, -0x1.b66668p-4f,
    -0x1.93d70ap-4f, -0x1.8851eap-4f, -0x1.7ccccep-4f, -0x1.7147aep-4f,
    -0x1.65c290p-4f, -0x1.5a3d70p-4f, -0x1.4eb850p-4f, -0x1.433334p-4f,
    -0x1.37ae14p-4f, -0x1.2c28f6p-4f, -0x1.20a3d6p-4f, -0x1.151ebap-4f,
    -0x1.09999ap-4f, -0x1.fc28f4p-5f, -0x1.e51ebap-5f, -0x1.ce147ap-5f,
    -0x1.b70a3ep-5f, -0x1.a00000p-5f, -0x1.88f5c2p-5f, -0x1.71eb86p-5f,
    -0x1.5ae146p-5f, -0x1.43d70ap-5f, -0x1.2ccccep-5f, -0x1.15c28ep-5f,
    -0x1.fd70a4p-6f, -0x1.cf5c26p-6f, -0x1.a147aep-6f, -0x1.733334p-6f,
    -0x1.451eb8p-6f, -0x1.170a3ep-6f, -0x1.d1eb86p-7f, -0x1.75c290p-7f,
    -0x1.3e76c8p-7f, -0x1.2c0830p-7f, -0x1.19999ap-7f, -0x1.072b02p-7f,
    -0x1.e978d4p-8f, -0x1.c49ba6p-8f, -0x1.9fbe76p-8f, -0x1.7ae148p-8f,
    -0x1.56041ap-8f, -0x1.3126e8p-8f, -0x1.0c49bap-8f, -0x1.ced914p-9f,
    -0x1.851eb8p-9f, -0x1.3b645ap-9f, -0x1.e353f8p-10f, -0x1.4fdf3ap-10f,
    -0x1.eecbfep-11f, -0x1.b3d07cp-11f, -0x1.78d500p-11f, -0x1.3dd982p-11f,
    -0x1.02de02p-11f, -0x1.8fc506p-12f, -0x1.19ce0ap-12f, -0x1.47ae16p-13f,
    -0x1.743e96p-14f, -0x1.15df66p-14f, -0x1.6f0068p-15f, -0x1.64840cp-16f,
    -0x1.040bfep-17f, -0x1.b43528p-19f, -0x1.27476ep-21f, 0.0f,
    0x1.27476ep-21f, 0x1.b43528p-19f, 0x1.040bfep-17f, 0x1.64840cp-16f,
    0x1.6f0068p-15f, 0x1.15df66p-14f, 0x1.743e96p-14f, 0x1.47ae16p-13f,
    0x1.19ce0ap-12f, 0x1.8fc506p-12f, 0x1.02de02p-11f, 0x1.3dd982p-11f,
    0x1.78d500p-11f, 0x1.b3d07cp-11f, 0x1.eecbfep-11f, 0x1.4fdf3ap-10f,
    0x1.e353f8p-10f, 0x1.3b645ap-9f, 0x1.851eb8p-9f, 0x1.ced914p-9f,
    0x1.0c49bap-8f, 0x1.3126e8p-8f, 0x1.56041ap-8f, 0x1.7ae148p-8f,
    0x1.9fbe76p-8f, 0x1.c49ba6p-8f, 0x1.e978d4p-8f, 0x1.072b02p-7f,
    0x1.19999ap-7f, 0x1.2c0830p-7f, 0x1.3e76c8p-7f, 0x1.75c290p-7f,
    0x1.d1eb86p-7f, 0x1.170a3ep-6f, 0x1.451eb8p-6f, 0x1.733334p-6f,
    0x1.a147aep-6f, 0x1.cf5c26p-6f, 0x1.fd70a4p-6f, 0x1.15c28ep-5f,
    0x1.2ccccep-5f, 0x1.43d70ap-5f, 0x1.5ae146p-5f, 0x1.71eb86p-5f,
    0x1.88f5c2p-5f, 0x1.a00000p-5f, 0x1.b70a3ep-5f, 0x1.ce147ap-5f,
    0x1.e51ebap-5f, 0x1.fc28f4p-5f, 0x1.09999ap-4f, 0x1.151ebap-4f,
    0x1.20a3d6p-4f, 0x1.2c28f6p-4f, 0x1.37ae14p-4f, 0x1.433334p-4f,
    0x1.4eb850p-4f, 0x1.5a3d70p-4f, 0x1.65c290p-4f, 0x1.7147aep-4f,
    0x1.7ccccep-4f, 0x1.8851eap-4f, 0x1.93d70ap-4f, 0x1.b66668p-4f,
    0x1.f00000p-4f, 0x1.14ccccp-3f, 0x1.31999ap-3f, 0x1.4e6666p-3f,
    0x1.6b3332p-3f, 0x1.880000p-3f, 0x1.a4ccccp-3f, 0x1.c1999ap-3f,
    0x1.de6668p-3f, 0x1.fb3334p-3f, 0x1.0c0000p-2f, 0x1.1a6668p-2f,
    0x1.28ccccp-2f, 0x1.373334p-2f, 0x1.459998p-2f, 0x1.540000p-2f,
    0x1.626664p-2f, 0x1.70ccccp-2f, 0x1.7f3334p-2f, 0x1.8d9998p-2f,
    0x1.9c0000p-2f, 0x1.aa6664p-2f, 0x1.b8ccccp-2f, 0x1.c73334p-2f,
    0x1.d59998p-2f, 0x1.e40000p-2f, 0x1.f26668p-2f, 0x1.006666p-1f,
    0x1.07999ap-1f, 0x1.0eccccp-1f, 0x1.160000p-1f, 0x1.1d3334p-1f,
    0x1.246668p-1f, 0x1.2b999ap-1f, 0x1.32ccccp-1f, 0x1.3a0000p-1f,
    0x1.413334p-1f, 0x1.486666p-1f, 0x1.4f999ap-1f, 0x1.56cccep-1f,
    0x1.5e0000p-1f, 0x1.653334p-1f, 0x1.6c6668p-1f, 0x1.73999ap-1f,
    0x1.7acccep-1f, 0x1.820000p-1f, 0x1.893334p-1f, 0x1.906666p-1f,
    0x1.979998p-1f, 0x1.9eccccp-1f, 0x1.a60000p-1f, 0x1.ad3332p-1f,
    0x1.b46666p-1f, 0x1.bb9998p-1f, 0x1.c2ccccp-1f, 0x1.ca0000p-1f,
    0x1.d13334p-1f, 0x1.d86666p-1f, 0x1.df9998p-1f, 0x1.e6ccccp-1f,
    0x1.ee0000p-1f, 0x1.f53332p-1f, 0x1.fc6666p-1f, 0x1.000000p+0f,
};

enum { DYNAMIC_ZERO = 127 };

const char *quant_dtype_name(QuantDtype d) {
    return d == QUANT_NF4 ? "nf4" : d == QUANT_INT8 ? "int8" : d == QUANT_BF16 ? "bf16" : "fp32";
}

bool quant_dtype_parse(const char *s, QuantDtype *out) {
    static const QuantDtype all[] = {QUANT_F32, QUANT_INT8, QUANT_NF4, QUANT_BF16};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(s, quant_dtype_name(all[i])) == 0) {
            *out = all[i];
            return true;
        }
    return false;
}

static size_t blocks_of(size_t n, size_t block) { return (n + block - 1) / block; }

size_t quant_codes_bytes(QuantDtype d, size_t n) {
    return d == QUANT_NF4    ? (n + 1) / 2
           : d == QUANT_INT8 ? n
           : d == QUANT_BF16 ? n * sizeof(uint16_t)
                             : n * sizeof(float);
}

size_t quant_nf4_absmax_count(size_t n) { return blocks_of(n, QUANT_NF4_BLOCK); }

size_t quant_scale_count(QuantDtype d, size_t n) {
    if (d == QUANT_NF4) return blocks_of(quant_nf4_absmax_count(n), QUANT_NF4_ABSMAX_BLOCK);
    return d == QUANT_INT8 ? blocks_of(n, QUANT_INT8_BLOCK) : 0;
}

size_t quant_matrix_bytes(const QuantMatrix *q) {
    size_t n = (size_t)q->rows * q->cols;
    size_t bytes = quant_codes_bytes(q->dtype, n) + quant_scale_count(q->dtype, n) * sizeof(float);
    return q->dtype == QUANT_NF4 ? bytes + quant_nf4_absmax_count(n) : bytes;
}

static float absmax_of(const float *w, size_t n) {
    float m = 0.0f;
    for (size_t i = 0; i < n; i++) m = fabsf(w[i]) > m ? fabsf(w[i]) : m;
    return m;
}

/* w * (1 / scale) as bitsandbytes and GGML normalize, or w / scale when the
 * reciprocal overflows (a subnormal scale). */
static float normalized(float w, float scale) {
    float inv = 1.0f / scale;
    return isinf(inv) ? w / scale : w * inv;
}

static uint8_t nf4_code(float x) {
    uint8_t c = 0;
    for (int i = 0; i < 15; i++) c += x > nf4_thresholds[i];
    return c;
}

/* The nearest entry of the dynamic map (ascending), ties to the lower code. */
static uint8_t dynamic_code(float x) {
    int lo = 0, hi = 255; /* first index with map >= x, or 255 */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (quant_dynamic_map[mid] >= x) hi = mid;
        else lo = mid + 1;
    }
    if (lo > 0 && fabs((double)x - quant_dynamic_map[lo - 1]) <= fabs((double)quant_dynamic_map[lo] - x))
        return (uint8_t)(lo - 1);
    return (uint8_t)lo;
}

static void nf4_quantize(QuantMatrix *q, uint8_t *codes, uint8_t *acodes, float *ascales, float *absmax,
                         const float *w, size_t n) {
    size_t nb = quant_nf4_absmax_count(n);
    memset(codes, 0, quant_codes_bytes(QUANT_NF4, n));
    for (size_t b = 0; b < nb; b++) {
        size_t e0 = b * QUANT_NF4_BLOCK, e1 = e0 + QUANT_NF4_BLOCK < n ? e0 + QUANT_NF4_BLOCK : n;
        float a = absmax_of(w + e0, e1 - e0);
        absmax[b] = a;
        for (size_t e = e0; e < e1; e++) {
            uint8_t c = a == 0.0f ? 7 : nf4_code(normalized(w[e], a));
            codes[e / 2] |= (uint8_t)(e % 2 ? c : c << 4);
        }
    }
    double sum = 0.0;
    for (size_t b = 0; b < nb; b++) sum += absmax[b];
    float offset = (float)(sum / (double)nb);
    for (size_t b = 0; b < nb; b++) absmax[b] -= offset;
    for (size_t b2 = 0; b2 * QUANT_NF4_ABSMAX_BLOCK < nb; b2++) {
        size_t b0 = b2 * QUANT_NF4_ABSMAX_BLOCK;
        size_t b1 = b0 + QUANT_NF4_ABSMAX_BLOCK < nb ? b0 + QUANT_NF4_ABSMAX_BLOCK : nb;
        float a2 = absmax_of(absmax + b0, b1 - b0);
        ascales[b2] = a2;
        for (size_t b = b0; b < b1; b++)
            acodes[b] = a2 == 0.0f ? DYNAMIC_ZERO : dynamic_code(normalized(absmax[b], a2));
    }
    q->absmax_offset = offset;
}

static void int8_quantize(int8_t *codes, float *scales, const float *w, size_t n) {
    for (size_t b = 0; b * QUANT_INT8_BLOCK < n; b++) {
        size_t e0 = b * QUANT_INT8_BLOCK, e1 = e0 + QUANT_INT8_BLOCK < n ? e0 + QUANT_INT8_BLOCK : n;
        float d = absmax_of(w + e0, e1 - e0) / 127.0f;
        scales[b] = d;
        for (size_t e = e0; e < e1; e++) codes[e] = d == 0.0f ? 0 : (int8_t)roundf(normalized(w[e], d));
    }
}

bool quant_matrix_quantize(QuantMatrix *q, QuantDtype dtype, const float *w, int rows, int cols,
                           LfError *err) {
    memset(q, 0, sizeof *q);
    size_t n = (size_t)rows * cols;
    for (size_t e = 0; e < n; e++)
        if (!isfinite(w[e])) {
            lf_error_set(err, LF_ERR_INPUT, "weight [%zu, %zu] is %g: only finite weights can be quantized",
                         e / (size_t)cols, e % (size_t)cols, (double)w[e]);
            return false;
        }
    size_t ncodes = quant_codes_bytes(dtype, n), nscales = quant_scale_count(dtype, n);
    size_t nabs = dtype == QUANT_NF4 ? quant_nf4_absmax_count(n) : 0;
    /* scales first (float alignment), then codes; nf4 needs the absmaxes as scratch */
    size_t floats = nscales + nabs;
    char *mem = malloc(floats * sizeof(float) + ncodes + nabs + 1);
    if (!mem) {
        lf_error_set(err, LF_ERR_IO, "out of memory quantizing a %d x %d matrix", rows, cols);
        return false;
    }
    float *scales = (float *)mem;
    uint8_t *codes = (uint8_t *)(mem + floats * sizeof(float));
    q->dtype = dtype;
    q->rows = rows;
    q->cols = cols;
    q->codes = codes;
    q->scales = scales;
    q->owned = mem;
    if (dtype == QUANT_NF4) {
        uint8_t *acodes = codes + ncodes;
        q->absmax_codes = acodes;
        nf4_quantize(q, codes, acodes, scales, scales + nscales, w, n);
    } else if (dtype == QUANT_BF16) {
        bf16_from_f32_array((uint16_t *)(void *)codes, w, n); /* malloc's alignment, no scales before */
    } else {
        int8_quantize((int8_t *)codes, scales, w, n);
    }
    return true;
}

void quant_matrix_free(QuantMatrix *q) {
    bf16_dnnl_free(q->dnnl);
    bf16_dnnl_tiles_free(q->dnnl_tiles);
    free(q->owned);
    memset(q, 0, sizeof *q);
}

static void nf4_dequantize(const QuantMatrix *q, size_t e0, size_t e1, float *out) {
    for (size_t e = e0; e < e1;) {
        size_t b = e / QUANT_NF4_BLOCK, end = (b + 1) * QUANT_NF4_BLOCK < e1 ? (b + 1) * QUANT_NF4_BLOCK : e1;
        /* two statements: no fused multiply-add, as the fp32 reference rounds twice */
        float absmax = quant_dynamic_map[q->absmax_codes[b]] * q->scales[b / QUANT_NF4_ABSMAX_BLOCK];
        absmax += q->absmax_offset;
        float lut[16];
        for (int c = 0; c < 16; c++) lut[c] = quant_nf4_levels[c] * absmax;
        if (e % 2) *out++ = lut[q->codes[e++ / 2] & 15];
        for (; e + 1 < end; e += 2) {
            uint8_t byte = q->codes[e / 2];
            *out++ = lut[byte >> 4];
            *out++ = lut[byte & 15];
        }
        if (e < end) *out++ = lut[q->codes[e++ / 2] >> 4];
    }
}

static void int8_dequantize(const QuantMatrix *q, size_t e0, size_t e1, float *out) {
    const int8_t *codes = (const int8_t *)q->codes;
    for (size_t e = e0; e < e1; e++) *out++ = (float)codes[e] * q->scales[e / QUANT_INT8_BLOCK];
}

static void bf16_widen(const QuantMatrix *q, size_t e0, size_t e1, float *out) {
    const uint16_t *codes = (const uint16_t *)(const void *)q->codes;
    for (size_t e = e0; e < e1; e++) *out++ = bf16_to_f32(codes[e]);
}

void quant_matrix_dequantize_range(const QuantMatrix *q, size_t e0, size_t e1, float *out) {
    if (q->dtype == QUANT_NF4) nf4_dequantize(q, e0, e1, out);
    else if (q->dtype == QUANT_BF16) bf16_widen(q, e0, e1, out);
    else int8_dequantize(q, e0, e1, out);
}

void quant_matrix_dequantize_rows(const QuantMatrix *q, int r0, int r1, float *out) {
    quant_matrix_dequantize_range(q, (size_t)r0 * q->cols, (size_t)r1 * q->cols, out);
}
