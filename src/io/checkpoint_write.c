/* checkpoint_write.c - see include/lorafit/io/checkpoint_write.h */
#include "lorafit/io/checkpoint_write.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lorafit/io/quant_file.h"
#include "lorafit/io/safetensors.h"
#include "lorafit/util/files.h"

/* What one file's tensors are written as, and the converted copies the
 * writer reads from until it has saved (it keeps only pointers). */
typedef struct {
    StWriter *w;
    StDtype dtype;
    void **copies;
    int n_copies, cap;
} Out;

/* float32 to IEEE half / bfloat16, rounding to nearest even (as torch's
 * .half() and .bfloat16() do); NaN stays NaN, overflow becomes infinity. */
static uint16_t f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40);
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1)) >> 16);
}

static uint16_t f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return sign | 0x7e00;        /* NaN */
    if (ax >= 0x477ff000u) return sign | 0x7c00;       /* rounds to >= 65536: infinity */
    if (ax < 0x38800000u) {                            /* below 2^-14: subnormal or zero */
        if (ax < 0x33000000u) return sign;             /* below half the smallest subnormal */
        uint32_t mant = (ax & 0x7fffffu) | 0x800000u;
        int shift = 126 - (int)(ax >> 23);             /* 14 .. 24 */
        uint32_t half = mant >> shift, rest = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rest > mid || (rest == mid && (half & 1))) half++;
        return sign | (uint16_t)half;
    }
    uint32_t r = ax - 0x38000000u; /* rebias the exponent from 127 to 15 */
    r += 0xfffu + ((r >> 13) & 1);
    return sign | (uint16_t)(r >> 13);
}

static bool add(Out *o, const char *name, const float *data, int64_t d0, int64_t d1, LfError *err) {
    int64_t shape[2] = {d0, d1};
    int ndim = d1 ? 2 : 1;
    if (o->dtype == ST_F32) return st_writer_add(o->w, name, ST_F32, ndim, shape, data, err);
    size_t n = (size_t)d0 * (size_t)(d1 ? d1 : 1);
    if (o->n_copies == o->cap) {
        int cap = o->cap ? 2 * o->cap : 64;
        void **grown = realloc(o->copies, (size_t)cap * sizeof *grown);
        if (!grown) goto oom;
        o->copies = grown, o->cap = cap;
    }
    uint16_t *h = malloc(n * sizeof *h);
    if (!h) goto oom;
    o->copies[o->n_copies++] = h;
    for (size_t i = 0; i < n; i++) h[i] = o->dtype == ST_F16 ? f32_to_f16(data[i]) : f32_to_bf16(data[i]);
    return st_writer_add(o->w, name, o->dtype, ndim, shape, h, err);
oom:
    lf_error_set(err, LF_ERR_IO, "out of memory converting %s to %s", name, st_dtype_name(o->dtype));
    return false;
}

/* A block's Linear weight: its quantized form when it has one. */
static bool add_matrix(Out *o, const char *name, const float *data, const QuantMatrix *q, int64_t d0, int64_t d1,
                       LfError *err) {
    return q ? quant_file_add(o->w, name, q, err) : add(o, name, data, d0, d1, err);
}

static bool add_layer(Out *w, int l, const Gpt2LayerWeights *lw, int64_t C, LfError *err) {
    char name[64];
#define ADD(suffix, ptr, d0, d1) \
    (snprintf(name, sizeof name, "h.%d.%s", l, suffix), add(w, name, ptr, d0, d1, err))
#define ADD_MATRIX(suffix, ptr, q, d0, d1) \
    (snprintf(name, sizeof name, "h.%d.%s", l, suffix), add_matrix(w, name, ptr, q, d0, d1, err))
    bool ok = ADD("ln_1.weight", lw->ln1_w, C, 0) && ADD("ln_1.bias", lw->ln1_b, C, 0) &&
              ADD_MATRIX("attn.c_attn.weight", lw->qkv_w, lw->qkv_q, C, 3 * C) &&
              (!lw->qkv_b || ADD("attn.c_attn.bias", lw->qkv_b, 3 * C, 0)) &&
              ADD_MATRIX("attn.c_proj.weight", lw->attn_proj_w, lw->attn_proj_q, C, C) &&
              ADD("attn.c_proj.bias", lw->attn_proj_b, C, 0) && ADD("ln_2.weight", lw->ln2_w, C, 0) &&
              ADD("ln_2.bias", lw->ln2_b, C, 0) && ADD_MATRIX("mlp.c_fc.weight", lw->fc_w, lw->fc_q, C, 4 * C) &&
              ADD("mlp.c_fc.bias", lw->fc_b, 4 * C, 0) &&
              ADD_MATRIX("mlp.c_proj.weight", lw->fc_proj_w, lw->fc_proj_q, 4 * C, C) &&
              ADD("mlp.c_proj.bias", lw->fc_proj_b, C, 0);
#undef ADD
#undef ADD_MATRIX
    return ok;
}

/* What quant_file.h says a quantized file carries; nothing for fp32. */
static bool add_quant_metadata(StWriter *sw, const Gpt2Weights *w, uint64_t fingerprint, LfError *err) {
    const QuantMatrix *q = w->cfg.n_layer ? w->layers[0].qkv_q : NULL;
    if (!q) return true;
    char fp[32];
    snprintf(fp, sizeof fp, "%016" PRIx64, fingerprint);
    return st_writer_metadata(sw, QUANT_FILE_DTYPE_KEY, quant_dtype_name(q->dtype), err) &&
           st_writer_metadata(sw, QUANT_FILE_LAYOUT_KEY, quant_file_layout(q->dtype), err) &&
           (!fingerprint || st_writer_metadata(sw, QUANT_FILE_FINGERPRINT_KEY, fp, err));
}

cJSON *checkpoint_config_json(const Gpt2Config *cfg) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    cJSON_AddStringToObject(root, "model_type", "gpt2");
    cJSON *arch = cJSON_AddArrayToObject(root, "architectures");
    cJSON_AddItemToArray(arch, cJSON_CreateString("GPT2LMHeadModel"));
    cJSON_AddNumberToObject(root, "n_layer", cfg->n_layer);
    cJSON_AddNumberToObject(root, "n_embd", cfg->n_embd);
    cJSON_AddNumberToObject(root, "n_head", cfg->n_head);
    cJSON_AddNumberToObject(root, "vocab_size", cfg->vocab_size);
    cJSON_AddNumberToObject(root, "n_positions", cfg->n_ctx);
    cJSON_AddNumberToObject(root, "n_ctx", cfg->n_ctx);
    cJSON_AddNumberToObject(root, "layer_norm_epsilon", 1e-5);
    cJSON_AddStringToObject(root, "activation_function", "gelu_new");
    if (!cfg->qkv_bias) cJSON_AddBoolToObject(root, "qkv_bias", false);
    return root;
}

bool checkpoint_write_json(const char *path, cJSON *root, LfError *err) {
    char *text = root ? cJSON_Print(root) : NULL;
    bool ok = text && fs_write_text(path, text, err);
    if (!text) lf_error_set(err, LF_ERR_IO, "cannot write %s: out of memory", path);
    free(text);
    return ok;
}

static bool write_config(const char *dir, const Gpt2Config *cfg, LfError *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    cJSON *root = checkpoint_config_json(cfg);
    bool ok = checkpoint_write_json(path, root, err);
    cJSON_Delete(root);
    return ok;
}

static bool write_weights(const char *path, const Gpt2Weights *w, const CheckpointHead *head, StDtype dtype,
                          uint64_t fingerprint, LfError *err) {
    const Gpt2Config *cfg = &w->cfg;
    Out o = {.w = st_writer_new(), .dtype = dtype};
    int64_t C = cfg->n_embd;
    bool ok = o.w && add(&o, "wte.weight", w->wte, cfg->vocab_size, C, err) &&
              add(&o, "wpe.weight", w->wpe, cfg->n_ctx, C, err);
    for (int l = 0; ok && l < cfg->n_layer; l++) ok = add_layer(&o, l, &w->layers[l], C, err);
    ok = ok && add(&o, "ln_f.weight", w->lnf_w, C, 0, err) && add(&o, "ln_f.bias", w->lnf_b, C, 0, err);
    if (ok && head)
        ok = add(&o, "score.weight", head->weight, head->n_classes, C, err) &&
             add(&o, "score.bias", head->bias, head->n_classes, 0, err);
    ok = ok && st_writer_metadata(o.w, "format", "pt", err) && add_quant_metadata(o.w, w, fingerprint, err) &&
         st_writer_save(o.w, path, err);
    if (!o.w) lf_error_set(err, LF_ERR_IO, "out of memory");
    st_writer_free(o.w);
    for (int i = 0; i < o.n_copies; i++) free(o.copies[i]);
    free(o.copies);
    return ok;
}

bool checkpoint_write_weights(const char *path, const Gpt2Weights *w, const CheckpointHead *head, StDtype dtype,
                              LfError *err) {
    return write_weights(path, w, head, dtype, 0, err);
}

bool checkpoint_write(const char *dir, const Gpt2Weights *w, bool overwrite, LfError *err) {
    return checkpoint_write_quantized(dir, w, 0, overwrite, err);
}

bool checkpoint_write_quantized(const char *dir, const Gpt2Weights *w, uint64_t fingerprint, bool overwrite,
                                LfError *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    struct stat st;
    if (!overwrite && stat(path, &st) == 0) {
        lf_error_set(err, LF_ERR_INPUT, "%s already exists; pass --force to replace it", path);
        return false;
    }
    if (!fs_make_parents(dir, err)) return false;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        lf_error_errno(err, LF_ERR_IO, "cannot create %s", dir);
        return false;
    }
    return write_weights(path, w, NULL, ST_F32, fingerprint, err) && write_config(dir, &w->cfg, err);
}
