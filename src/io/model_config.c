/* model_config.c - see include/lorafit/io/model_config.h */
#include "lorafit/io/model_config.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/util/files.h"

static bool json_int(const cJSON *root, const char *key, int *out, const char *name, LfError *err) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!it) {
        lf_error_set(err, LF_ERR_INPUT, "%s: missing \"%s\"", name, key);
        return false;
    }
    double d = cJSON_IsNumber(it) ? it->valuedouble : NAN;
    if (!(d >= INT_MIN && d <= INT_MAX) || d != floor(d)) {
        lf_error_set(err, LF_ERR_INPUT, "%s: \"%s\" must be an integer", name, key);
        return false;
    }
    *out = (int)d;
    return true;
}

static bool config_from_json(const cJSON *root, const char *name, Gpt2Config *cfg, LfError *err) {
    if (!cJSON_IsObject(root)) {
        lf_error_set(err, LF_ERR_INPUT, "%s: not a JSON object", name);
        return false;
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    if (type && !(cJSON_IsString(type) && strcmp(type->valuestring, "gpt2") == 0)) {
        lf_error_set(err, LF_ERR_INPUT, "%s: model_type is %s, expected \"gpt2\"", name,
                     cJSON_IsString(type) ? type->valuestring : "not a string");
        return false;
    }
    const char *ctx_key = cJSON_GetObjectItemCaseSensitive(root, "n_positions") ? "n_positions" : "n_ctx";
    if (!json_int(root, "n_layer", &cfg->n_layer, name, err) || !json_int(root, "n_embd", &cfg->n_embd, name, err) ||
        !json_int(root, "n_head", &cfg->n_head, name, err) ||
        !json_int(root, "vocab_size", &cfg->vocab_size, name, err) || !json_int(root, ctx_key, &cfg->n_ctx, name, err))
        return false;
    /* Hugging Face writes n_inner: null for the usual 4 * n_embd. */
    const cJSON *inner = cJSON_GetObjectItemCaseSensitive(root, "n_inner");
    if (inner && !cJSON_IsNull(inner)) {
        int v;
        if (!json_int(root, "n_inner", &v, name, err)) return false;
        if ((long)v != 4L * cfg->n_embd) {
            lf_error_set(err, LF_ERR_INPUT, "%s: n_inner %d is not 4 * n_embd (%d); only that is supported", name, v,
                         cfg->n_embd);
            return false;
        }
    }
    const cJSON *qkv = cJSON_GetObjectItemCaseSensitive(root, "qkv_bias");
    cfg->qkv_bias = true;
    if (qkv) {
        if (!cJSON_IsBool(qkv)) {
            lf_error_set(err, LF_ERR_INPUT, "%s: \"qkv_bias\" must be true or false", name);
            return false;
        }
        cfg->qkv_bias = cJSON_IsTrue(qkv);
    }
    return true;
}

bool model_config_parse(const char *text, size_t len, const char *name, Gpt2Config *cfg, LfError *err) {
    /* The file was always parsed as a C string: it ends at its first NUL. */
    const char *nul = memchr(text, '\0', len);
    cJSON *root = cJSON_ParseWithLength(text, nul ? (size_t)(nul - text) : len);
    bool ok = config_from_json(root, name, cfg, err) && model_config_check(cfg, name, err);
    cJSON_Delete(root);
    return ok;
}

bool model_config_read(const char *path, Gpt2Config *cfg, LfError *err) {
    size_t len;
    char *text = fs_read_file(path, &len, err);
    if (!text) return false;
    bool ok = len <= MODEL_CONFIG_MAX_BYTES;
    if (!ok)
        lf_error_set(err, LF_ERR_INPUT, "%s: larger than %d bytes, not a model config", path, MODEL_CONFIG_MAX_BYTES);
    ok = ok && model_config_parse(text, len, path, cfg, err);
    free(text);
    return ok;
}

static bool check_limits(const Gpt2Config *cfg, const char *what, LfError *err) {
    const struct { const char *name; int v; } f[] = {
        {"n_layer", cfg->n_layer}, {"n_embd", cfg->n_embd}, {"vocab_size", cfg->vocab_size}, {"n_ctx", cfg->n_ctx}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        if (f[i].v > MODEL_CONFIG_MAX_DIM) {
            lf_error_set(err, LF_ERR_INPUT, "%s: %s %d is implausibly large (limit %d)", what, f[i].name, f[i].v,
                         MODEL_CONFIG_MAX_DIM);
            return false;
        }
    }
    return true;
}

bool model_config_check(const Gpt2Config *cfg, const char *what, LfError *err) {
    if (!check_limits(cfg, what, err)) return false;
    if (!gpt2_config_validate(cfg, err)) {
        lf_error_prefix(err, "%s", what);
        return false;
    }
    return true;
}
