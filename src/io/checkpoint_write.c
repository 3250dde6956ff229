/* checkpoint_write.c - see include/lorafit/io/checkpoint_write.h */
#include "lorafit/io/checkpoint_write.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lorafit/util/files.h"
#include "lorafit/io/quant_file.h"
#include "lorafit/io/safetensors.h"

static bool add(StWriter *w, const char *name, const float *data, int64_t d0, int64_t d1, LfError *err) {
    int64_t shape[2] = {d0, d1};
    return st_writer_add(w, name, ST_F32, d1 ? 2 : 1, shape, data, err);
}

/* A block's Linear weight: its quantized form when it has one. */
static bool add_matrix(StWriter *w, const char *name, const float *data, const QuantMatrix *q, int64_t d0,
                       int64_t d1, LfError *err) {
    return q ? quant_file_add(w, name, q, err) : add(w, name, data, d0, d1, err);
}

static bool add_layer(StWriter *w, int l, const Gpt2LayerWeights *lw, int64_t C, LfError *err) {
    char name[64];
#define ADD(suffix, ptr, d0, d1) \
    (snprintf(name, sizeof name, "h.%d.%s", l, suffix), add(w, name, ptr, d0, d1, err))
#define ADD_MATRIX(suffix, ptr, q, d0, d1) \
    (snprintf(name, sizeof name, "h.%d.%s", l, suffix), add_matrix(w, name, ptr, q, d0, d1, err))
    bool ok = ADD("ln_1.weight", lw->ln1_w, C, 0) && ADD("ln_1.bias", lw->ln1_b, C, 0) &&
              ADD_MATRIX("attn.c_attn.weight", lw->qkv_w, lw->qkv_q, C, 3 * C) &&
              (!lw->qkv_b || ADD("attn.c_attn.bias", lw->qkv_b, 3 * C, 0)) &&
              ADD_MATRIX("attn.c_proj.weight", lw->attn_proj_w, lw->attn_proj_q, C, C) && ADD("attn.c_proj.bias", lw->attn_proj_b, C, 0) &&
              ADD("ln_2.weight", lw->ln2_w, C, 0) && ADD("ln_2.bias", lw->ln2_b, C, 0) &&
              ADD_MATRIX("mlp.c_fc.weight", lw->fc_w, lw->fc_q, C, 4 * C) && ADD("mlp.c_fc.bias", lw->fc_b, 4 * C, 0) &&
              ADD_MATRIX("mlp.c_proj.weight", lw->fc_proj_w, lw->fc_proj_q, 4 * C, C) && ADD("mlp.c_proj.bias", lw->fc_proj_b, C, 0);
#undef ADD
#undef ADD_MATRIX
    return ok;
}

static bool write_config(const char *dir, const Gpt2Config *cfg, LfError *err) {
    cJSON *root = cJSON_CreateObject();
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
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    bool ok = text && fs_write_text(path, text, err);
    if (!text) lf_error_set(err, LF_ERR_IO, "cannot write %s: out of memory", path);
    free(text);
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

bool checkpoint_write(const char *dir, const Gpt2Weights *w, bool overwrite, LfError *err) {
    return checkpoint_write_quantized(dir, w, 0, overwrite, err);
}

bool checkpoint_write_quantized(const char *dir, const Gpt2Weights *w, uint64_t fingerprint, bool overwrite,
                                LfError *err) {
    const Gpt2Config *cfg = &w->cfg;
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
    StWriter *sw = st_writer_new();
    int64_t C = cfg->n_embd;
    bool ok = sw && add(sw, "wte.weight", w->wte, cfg->vocab_size, C, err) &&
              add(sw, "wpe.weight", w->wpe, cfg->n_ctx, C, err);
    for (int l = 0; ok && l < cfg->n_layer; l++) ok = add_layer(sw, l, &w->layers[l], C, err);
    ok = ok && add(sw, "ln_f.weight", w->lnf_w, C, 0, err) && add(sw, "ln_f.bias", w->lnf_b, C, 0, err) &&
         st_writer_metadata(sw, "format", "pt", err) && add_quant_metadata(sw, w, fingerprint, err) &&
         st_writer_save(sw, path, err);
    if (!sw) lf_error_set(err, LF_ERR_IO, "out of memory");
    st_writer_free(sw);
    return ok && write_config(dir, cfg, err);
}
