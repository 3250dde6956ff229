/* peft_import.c - see include/lorafit/io/peft_import.h */
#include "lorafit/io/peft_import.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/io/adapter.h"
#include "lorafit/io/safetensors.h"

#define PEFT_PREFIX "base_model.model."

static const char *json_str(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *skip(const char *s, const char *prefix) {
    size_t n = strlen(prefix);
    return strncmp(s, prefix, n) == 0 ? s + n : s;
}

/* ---- names ------------------------------------------------------------- */

bool peft_name_variant(const char *name, int k, char *buf, size_t cap) {
    const char *bare = skip(skip(name, PEFT_PREFIX), "transformer.");
    bool head = strncmp(bare, "score.", 6) == 0;
    if (!head) { /* prefix kept or not, "transformer." kept or not */
        if (k >= 4) return false;
        bool prefix = k < 2, transformer = k % 2 == 0;
        snprintf(buf, cap, "%s%s%s", prefix ? PEFT_PREFIX : "", transformer ? "transformer." : "", bare);
        return true;
    }
    /* the head: prefix or not, score or classifier, plain or under modules_to_save */
    if (k >= 8) return false;
    const char *leaf = bare + 6; /* "weight" / "bias" */
    snprintf(buf, cap, "%s%s.%s%s", k & 1 ? "" : PEFT_PREFIX, k & 2 ? "classifier" : "score",
             k & 4 ? "modules_to_save.default." : "", leaf);
    return true;
}

/* ---- the config -------------------------------------------------------- */

static const char *const GPT2_MODULES[] = {"c_attn", "c_proj", "c_fc", "attn.c_attn", "attn.c_proj",
                                           "mlp.c_fc", "mlp.c_proj", NULL};

static bool is_gpt2_module(const char *m) {
    for (int i = 0; GPT2_MODULES[i]; i++)
        if (!strcmp(m, GPT2_MODULES[i])) return true;
    return false;
}

static bool non_empty(const cJSON *v) { return v && !cJSON_IsNull(v) && !(cJSON_IsObject(v) && !v->child); }

/* What PEFT can express that lorafit cannot: the first one found, named. */
static bool refuse_unsupported(const cJSON *root, const char *path, LfError *err) {
    const char *type = json_str(root, "peft_type"), *bias = json_str(root, "bias"), *task = json_str(root, "task_type");
    const char *what = NULL;
    char buf[160];
    if (!type || strcmp(type, "LORA")) {
        snprintf(buf, sizeof buf, "PEFT type %s (only LORA adapters are supported)", type ? type : "(not a string)");
        what = buf;
    } else if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "use_dora"))) {
        what = "DoRA (use_dora)";
    } else if (non_empty(cJSON_GetObjectItemCaseSensitive(root, "rank_pattern")) ||
               non_empty(cJSON_GetObjectItemCaseSensitive(root, "alpha_pattern"))) {
        what = "per-module ranks or alphas (rank_pattern, alpha_pattern)";
    } else if (non_empty(cJSON_GetObjectItemCaseSensitive(root, "layers_to_transform"))) {
        what = "layers_to_transform";
    } else if (bias && strcmp(bias, "none")) {
        snprintf(buf, sizeof buf, "bias \"%s\" (trained biases; only \"none\")", bias);
        what = buf;
    } else if (task && strcmp(task, "SEQ_CLS") && strcmp(task, "CAUSAL_LM")) {
        snprintf(buf, sizeof buf, "task_type %s (only SEQ_CLS and CAUSAL_LM)", task);
        what = buf;
    }
    if (what) lf_error_set(err, LF_ERR_INPUT, "%s: a PEFT adapter with %s is not supported", path, what);
    return what == NULL;
}

static bool read_targets(const cJSON *root, AdapterConfig *ac, const char *path, LfError *err) {
    const cJSON *targets = cJSON_GetObjectItemCaseSensitive(root, "target_modules"), *t;
    if (cJSON_IsString(targets)) {
        lf_error_set(err, LF_ERR_INPUT, "%s: target_modules \"%s\" is a regular expression: not supported (list "
                     "GPT-2's modules: c_attn, c_proj, c_fc)", path, targets->valuestring);
        return false;
    }
    if (!cJSON_IsArray(targets) || cJSON_GetArraySize(targets) < 1 || cJSON_GetArraySize(targets) > LORA_MAX_TARGETS) {
        lf_error_set(err, LF_ERR_INPUT, "%s: missing or invalid \"target_modules\"", path);
        return false;
    }
    cJSON_ArrayForEach(t, targets) {
        if (!cJSON_IsString(t) || !is_gpt2_module(t->valuestring)) {
            lf_error_set(err, LF_ERR_INPUT, "%s: target module '%s' is not one of GPT-2's (c_attn, c_proj, c_fc): an "
                         "adapter for another base model is not supported", path,
                         cJSON_IsString(t) ? t->valuestring : "?");
            return false;
        }
        snprintf(ac->lora.targets[ac->lora.n_targets++], sizeof ac->lora.targets[0], "%s", t->valuestring);
    }
    return true;
}

/* ---- what the tensors tell -------------------------------------------- */

/* n_layer, n_embd and the head's rows from the tensor names and shapes; a
 * tensor that is neither a GPT-2 LoRA factor nor the head is refused. */
static bool shape_from_tensors(const StFile *f, AdapterConfig *ac, int *n_classes, LfError *err) {
    *n_classes = 0;
    for (int i = 0; i < st_count(f); i++) {
        const StTensor *t = st_tensor(f, i);
        const char *bare = skip(skip(t->name, PEFT_PREFIX), "transformer."), *rest;
        int layer = -1, used = 0;
        char module[32] = "", factor = 0;
        if (sscanf(bare, "h.%d.%31[a-zA-Z_.]%n", &layer, module, &used) >= 2 && layer >= 0 && layer < 4096) {
            rest = strstr(module, ".lora_");
            if (rest && (rest[6] == 'A' || rest[6] == 'B') && !strcmp(rest + 7, ".weight") && t->ndim == 2) {
                factor = rest[6];
                module[rest - module] = '\0';
            }
        }
        if (factor && bare[used] == '\0' && is_gpt2_module(module)) {
            if (layer + 1 > ac->base.n_layer) ac->base.n_layer = layer + 1;
            bool proj_in = !strcmp(module, "mlp.c_proj"); /* its input is 4C wide */
            if (factor == 'A' && !proj_in) ac->base.n_embd = (int)t->shape[1];
            if (factor == 'B' && proj_in) ac->base.n_embd = (int)t->shape[0];
            continue;
        }
        char name[256];
        for (int k = 0; peft_name_variant(PEFT_PREFIX "score.weight", k, name, sizeof name); k++)
            if (!strcmp(t->name, name) && t->ndim == 2) *n_classes = (int)t->shape[0];
        bool head = strstr(t->name, "score.") || strstr(t->name, "classifier.");
        if (head) continue;
        lf_error_set(err, LF_ERR_INPUT, "%s: tensor '%s' is not a LoRA factor of GPT-2's c_attn, c_proj or c_fc%s",
                     st_path(f), t->name, strstr(t->name, "lora_magnitude_vector") ? " (DoRA: not supported)" : "");
        return false;
    }
    if (ac->base.n_layer < 1 || ac->base.n_embd < 1) {
        lf_error_set(err, LF_ERR_INPUT, "%s: no GPT-2 LoRA factor (h.N.attn.c_attn.lora_A.weight, ...)", st_path(f));
        return false;
    }
    return true;
}

static bool set_default_classes(AdapterConfig *ac, int n, LfError *err) {
    char (*labels)[24] = calloc((size_t)n, sizeof *labels);
    const char **names = calloc((size_t)n, sizeof *names);
    bool ok = labels && names;
    for (int i = 0; ok && i < n; i++) snprintf(labels[i], sizeof labels[i], "LABEL_%d", i), names[i] = labels[i];
    if (!ok) lf_error_set(err, LF_ERR_IO, "out of memory");
    ok = ok && adapter_config_set_classes(ac, names, n, err);
    free(labels);
    free(names);
    return ok;
}

bool peft_import_config(const char *dir, const cJSON *root, AdapterConfig *ac, const char *path, LfError *err) {
    if (!refuse_unsupported(root, path, err) || !read_targets(root, ac, path, err)) return false;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(root, "r"), *alpha = cJSON_GetObjectItemCaseSensitive(root, "lora_alpha");
    const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(root, "lora_dropout");
    bool r_ok = cJSON_IsNumber(r) && r->valueint >= 1 && r->valuedouble == floor(r->valuedouble); /* not 2.5 as 2 */
    if (!r_ok || !cJSON_IsNumber(alpha)) {
        lf_error_set(err, LF_ERR_INPUT, "%s: missing or invalid \"%s\"", path, r_ok ? "lora_alpha" : "r");
        return false;
    }
    const char *task = json_str(root, "task_type");
    ac->lora.rank = r->valueint;
    ac->lora.alpha = alpha->valuedouble;
    ac->lora.scaling = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "use_rslora")) ? LORA_SCALE_RSLORA : LORA_SCALE_RANK;
    ac->lora.init = LORA_INIT_PEFT;
    ac->lora.dropout = cJSON_IsNumber(dropout) ? dropout->valuedouble : 0;
    ac->naming = MODTREE_HF;
    ac->pool = POOL_LAST_TOKEN;
    ac->max_length = 0; /* the model's context */
    ac->task = task && !strcmp(task, "CAUSAL_LM") ? ADAPTER_TASK_CAUSAL_LM : ADAPTER_TASK_CLASSIFY;
    ac->base.qkv_bias = true;
    ac->from_peft = true;

    char weights[4096];
    if (snprintf(weights, sizeof weights, "%s/%s", dir, ADAPTER_WEIGHTS_FILE) >= (int)sizeof weights) weights[0] = '\0';
    StFile *f = st_open(weights, err);
    if (!f) return false;
    int n_classes;
    bool ok = shape_from_tensors(f, ac, &n_classes, err);
    st_close(f);
    if (ok && ac->task == ADAPTER_TASK_CLASSIFY && n_classes < 2) {
        lf_error_set(err, LF_ERR_INPUT, "%s: a SEQ_CLS adapter without its head (score.weight of 2 or more classes, "
                     "saved through modules_to_save)", weights);
        ok = false;
    }
    return ok && (ac->task == ADAPTER_TASK_CAUSAL_LM || set_default_classes(ac, n_classes, err));
}
