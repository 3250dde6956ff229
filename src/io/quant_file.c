/* quant_file.c - see include/lorafit/io/quant_file.h */
#include "lorafit/io/quant_file.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    const char *suffix;
    StDtype dtype;
} Part;

static const Part nf4_parts[] = {
    {".codes", ST_U8}, {".absmax_codes", ST_U8}, {".absmax_scales", ST_F32}, {".absmax_offset", ST_F32}};
static const Part int8_parts[] = {{".codes", ST_I8}, {".scales", ST_F32}};

static const Part *parts_of(QuantDtype d, int *n) {
    *n = d == QUANT_NF4 ? 4 : d == QUANT_INT8 ? 2 : 0;
    return d == QUANT_NF4 ? nf4_parts : int8_parts;
}

/* Element counts of the parts, in the order of the tables above. */
static void part_sizes(QuantDtype d, size_t n, size_t *sizes) {
    sizes[0] = quant_codes_bytes(d, n);
    if (d == QUANT_NF4) {
        sizes[1] = quant_nf4_absmax_count(n);
        sizes[2] = quant_scale_count(d, n);
        sizes[3] = 1;
    } else {
        sizes[1] = quant_scale_count(d, n);
    }
}

bool quant_file_dtype(const StFile *st, QuantDtype *out, LfError *err) {
    const char *v = st_metadata(st, QUANT_FILE_DTYPE_KEY);
    *out = QUANT_F32;
    if (!v) return true;
    if (quant_dtype_parse(v, out) && (*out == QUANT_NF4 || *out == QUANT_INT8)) return true;
    lf_error_set(err, LF_ERR_INPUT, "%s: metadata %s is \"%s\", expected \"nf4\" or \"int8\"", st_path(st),
                 QUANT_FILE_DTYPE_KEY, v);
    return false;
}

const char *quant_file_layout(QuantDtype d) {
    if (d == QUANT_NF4)
        return "nf4 (bitsandbytes NormalFloat4, double quantization): each Linear weight W [in, out] of a block, "
               "flattened row-major into n values, is stored as W.codes U8 [(n+1)/2] (two 4-bit codes a byte, "
               "element 2i in the high nibble), W.absmax_codes U8 [ceil(n/64)] (the absmax of each block of 64, "
               "centred on W.absmax_offset F32 [1] and coded over bitsandbytes' signed dynamic 8-bit map) and "
               "W.absmax_scales F32 [ceil(n/16384)] (one a block of 256 absmaxes); "
               "w = NF4[code] * (map[absmax_code] * absmax_scale + absmax_offset)";
    return "int8 (GGML Q8_0 with an fp32 scale): each Linear weight W [in, out] of a block, flattened row-major "
           "into n values, is stored as W.codes I8 [n] and W.scales F32 [ceil(n/32)] (one a block of 32); "
           "w = code * scale";
}

bool quant_file_add(StWriter *sw, const char *name, const QuantMatrix *q, LfError *err) {
    int np;
    const Part *parts = parts_of(q->dtype, &np);
    size_t sizes[4];
    part_sizes(q->dtype, (size_t)q->rows * q->cols, sizes);
    const void *data[4] = {q->codes, q->dtype == QUANT_NF4 ? (const void *)q->absmax_codes : q->scales, q->scales,
                           &q->absmax_offset};
    for (int i = 0; i < np; i++) {
        char full[256];
        snprintf(full, sizeof full, "%s%s", name, parts[i].suffix);
        int64_t shape[1] = {(int64_t)sizes[i]};
        if (!st_writer_add(sw, full, parts[i].dtype, 1, shape, data[i], err)) return false;
    }
    return true;
}

bool quant_file_read(const StFile *st, const char *name, QuantDtype d, int rows, int cols, QuantMatrix *q,
                     LfError *err) {
    memset(q, 0, sizeof *q);
    int np;
    const Part *parts = parts_of(d, &np);
    size_t sizes[4];
    part_sizes(d, (size_t)rows * cols, sizes);
    const void *data[4] = {0};
    for (int i = 0; i < np; i++) {
        char full[256];
        snprintf(full, sizeof full, "%s%s", name, parts[i].suffix);
        const StTensor *t = st_find(st, full);
        if (!t) {
            lf_error_set(err, LF_ERR_INPUT, "%s: tensor '%s' is missing (a %s model keeps %s as its parts)",
                         st_path(st), full, quant_dtype_name(d), name);
            return false;
        }
        if (t->dtype != parts[i].dtype || t->ndim != 1 || (size_t)t->numel != sizes[i]) {
            char s[128];
            lf_error_set(err, LF_ERR_INPUT,
                         "%s: tensor '%s' is %s %s, expected %s [%zu] for a [%d, %d] weight in %s blocks of %d",
                         st_path(st), full, st_dtype_name(t->dtype), st_shape_str(s, sizeof s, t->ndim, t->shape),
                         st_dtype_name(parts[i].dtype), sizes[i], rows, cols, quant_dtype_name(d),
                         d == QUANT_NF4 ? QUANT_NF4_BLOCK : QUANT_INT8_BLOCK);
            return false;
        }
        data[i] = parts[i].dtype == ST_F32 ? (const void *)st_f32_view(t) : t->data;
        if (!data[i]) {
            lf_error_set(err, LF_ERR_INPUT, "%s: tensor '%s' is not 4-byte aligned in the file", st_path(st), full);
            return false;
        }
    }
    q->dtype = d;
    q->rows = rows;
    q->cols = cols;
    q->codes = data[0];
    if (d == QUANT_NF4) {
        q->absmax_codes = data[1];
        q->scales = data[2];
        st_peek(st, data[3], &q->absmax_offset, sizeof q->absmax_offset);
    } else {
        q->scales = data[1];
    }
    return true;
}

bool quant_file_is_part(QuantDtype d, const char *suffix) {
    int np;
    const Part *parts = parts_of(d, &np);
    for (int i = 0; i < np; i++)
        if (strcmp(suffix, parts[i].suffix) == 0) return true;
    return false;
}
