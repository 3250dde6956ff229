/* adapter_config.c - adapter_config.json. See include/lorafit/io/adapter_config.h. */
#include "lorafit/io/adapter_config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lorafit/io/peft_import.h"
#include "lorafit/util/files.h"

bool adapter_config_set_classes(AdapterConfig *ac, const char *const *names, int n, LfError *err) {
    char **copy = calloc((size_t)n, sizeof *copy);
    bool ok = copy != NULL;
    for (int i = 0; ok && i < n; i++) ok = (copy[i] = strdup(names[i])) != NULL;
    if (!ok) {
        for (int i = 0; copy && i < n; i++) free(copy[i]);
        free(copy);
        lf_error_set(err, LF_ERR_IO, "out of memory");
        return false;
    }
    for (int i = 0; ac->class_names && i < ac->n_classes; i++) free(ac->class_names[i]);
    free(ac->class_names);
    ac->class_names = copy;
    ac->n_classes = n;
    return true;
}

void adapter_config_free(AdapterConfig *ac) {
    if (!ac) return;
    for (int i = 0; ac->class_names && i < ac->n_classes; i++) free(ac->class_names[i]);
    free(ac->class_names);
    ac->class_names = NULL;
    ac->n_classes = 0;
}

/* ---- writing ----------------------------------------------------------- */

/* The base model's shape as "base_model" holds it, in the file's order. */
static const struct {
    const char *name;
    size_t field; /* an int of Gpt2Config */
} BASE_DIMS[] = {
    {"n_layer", offsetof(Gpt2Config, n_layer)},       {"n_embd", offsetof(Gpt2Config, n_embd)},
    {"n_head", offsetof(Gpt2Config, n_head)},         {"vocab_size", offsetof(Gpt2Config, vocab_size)},
    {"n_ctx", offsetof(Gpt2Config, n_ctx)},
};
enum { N_BASE_DIMS = sizeof BASE_DIMS / sizeof BASE_DIMS[0] };

static int *base_dim(Gpt2Config *c, int i) { return (int *)((char *)c + BASE_DIMS[i].field); }
static int base_dim_of(const Gpt2Config *c, int i) { return *(const int *)((const char *)c + BASE_DIMS[i].field); }

static const char *pool_name(Gpt2Pool p) { return p == POOL_LAST_POSITION ? "last-position" : "last-token"; }

static void add_hex(cJSON *o, const char *key, uint64_t x) {
    char hex[20];
    snprintf(hex, sizeof hex, "%016" PRIx64, x);
    cJSON_AddStringToObject(o, key, hex);
}

static cJSON *config_to_json(const AdapterConfig *ac, const LoraSlot *slots, int n_slots) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "format", "lorafit-adapter");
    cJSON_AddNumberToObject(root, "format_version", 1);
    cJSON *base = cJSON_AddObjectToObject(root, "base_model");
    for (int i = 0; i < N_BASE_DIMS; i++) cJSON_AddNumberToObject(base, BASE_DIMS[i].name, base_dim_of(&ac->base, i));
    add_hex(base, "fingerprint", ac->base_fingerprint);
    /* only when quantized: fp32 adapters stay byte-identical to older ones */
    if (ac->base_dtype != QUANT_F32) cJSON_AddStringToObject(base, "base_dtype", quant_dtype_name(ac->base_dtype));

    cJSON_AddStringToObject(root, "naming", ac->naming == MODTREE_HF ? "peft" : "labs");
    cJSON_AddNumberToObject(root, "r", ac->lora.rank);
    cJSON_AddNumberToObject(root, "lora_alpha", ac->lora.alpha);
    cJSON_AddStringToObject(root, "scaling", ac->lora.scaling == LORA_SCALE_ALPHA    ? "alpha"
                                             : ac->lora.scaling == LORA_SCALE_RSLORA ? "rslora"
                                                                                     : "rank");
    cJSON_AddStringToObject(root, "lora_init", ac->lora.init == LORA_INIT_PEFT ? "peft" : "labs");
    cJSON_AddNumberToObject(root, "lora_dropout", ac->lora.dropout);
    cJSON *targets = cJSON_AddArrayToObject(root, "target_modules");
    for (int i = 0; i < ac->lora.n_targets; i++) cJSON_AddItemToArray(targets, cJSON_CreateString(ac->lora.targets[i]));
    cJSON *adapted = cJSON_AddArrayToObject(root, "adapted_modules");
    for (int i = 0; i < n_slots; i++) cJSON_AddItemToArray(adapted, cJSON_CreateString(slots[i].name));

    cJSON_AddStringToObject(root, "pooling", pool_name(ac->pool));
    cJSON_AddNumberToObject(root, "max_length", ac->max_length);
    cJSON_AddNumberToObject(root, "pad_token_id", 50256);
    cJSON *classes = cJSON_AddArrayToObject(root, "class_names");
    for (int i = 0; i < ac->n_classes; i++) cJSON_AddItemToArray(classes, cJSON_CreateString(ac->class_names[i]));

    cJSON *tr = cJSON_AddObjectToObject(root, "training");
    cJSON_AddNumberToObject(tr, "lr", ac->training.lr);
    cJSON_AddNumberToObject(tr, "weight_decay", ac->training.weight_decay);
    cJSON_AddNumberToObject(tr, "grad_clip", ac->training.grad_clip);
    cJSON_AddNumberToObject(tr, "batch_size", ac->training.batch_size);
    cJSON_AddNumberToObject(tr, "epochs", ac->training.epochs);
    add_hex(tr, "seed", ac->training.seed);
    cJSON_AddBoolToObject(tr, "drop_last", ac->training.drop_last);
    add_hex(tr, "train_digest", ac->training.train_digest);
    cJSON_AddNumberToObject(tr, "train_rows", (double)ac->training.train_rows);
    if (ac->task == ADAPTER_TASK_CAUSAL_LM) cJSON_AddBoolToObject(tr, "mask_prompt", ac->training.mask_prompt == 1);
    if (ac->training.ranks > 1) cJSON_AddNumberToObject(tr, "ranks", ac->training.ranks);

    /* PEFT's own fields, so that PEFT recognises a PEFT-named adapter. A
     * labs-named classifier has no task_type (its files predate the field). */
    bool lm = ac->task == ADAPTER_TASK_CAUSAL_LM;
    if (ac->naming == MODTREE_HF) {
        cJSON_AddStringToObject(root, "peft_type", "LORA");
        cJSON_AddStringToObject(root, "task_type", lm ? "CAUSAL_LM" : "SEQ_CLS");
        cJSON_AddBoolToObject(root, "fan_in_fan_out", true); /* GPT-2's Conv1D stores [in, out] */
        cJSON_AddStringToObject(root, "bias", "none");
        if (lm) {
            cJSON_AddNullToObject(root, "modules_to_save"); /* the LM head is the frozen wte */
        } else {
            cJSON *mts = cJSON_AddArrayToObject(root, "modules_to_save");
            cJSON_AddItemToArray(mts, cJSON_CreateString("score"));
        }
        cJSON_AddBoolToObject(root, "inference_mode", true);
        if (ac->lora.scaling == LORA_SCALE_RSLORA) cJSON_AddBoolToObject(root, "use_rslora", true);
    } else if (lm) {
        cJSON_AddStringToObject(root, "task_type", "CAUSAL_LM");
    }
    return root;
}

bool adapter_config_save(const char *dir, const AdapterConfig *ac, const LoraSlot *slots, int n_slots,
                         LfError *err) {
    cJSON *json = config_to_json(ac, slots, n_slots);
    char *text = json ? cJSON_Print(json) : NULL;
    cJSON_Delete(json);
    if (!text) {
        lf_error_set(err, LF_ERR_IO, "out of memory writing the adapter config");
        return false;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, ADAPTER_CONFIG_FILE);
    bool ok = fs_write_text(path, text, err);
    free(text);
    return ok;
}

/* ---- reading ----------------------------------------------------------- */

static bool json_int(const cJSON *o, const char *key, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || fabs(v->valuedouble) > INT_MAX) return false;
    *out = (int)v->valuedouble;
    return true;
}

static bool json_double(const cJSON *o, const char *key, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v)) return false;
    *out = v->valuedouble;
    return true;
}

static const char *json_string(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool json_hex(const cJSON *o, const char *key, uint64_t *out) {
    const char *s = json_string(o, key);
    char *end;
    if (!s || !*s) return false;
    errno = 0;
    *out = strtoull(s, &end, 16);
    return *end == '\0' && errno == 0;
}

/* Reads the required fields; the first missing one is named in the error. */
static bool config_from_json(const cJSON *root, AdapterConfig *ac, const char *path, LfError *err) {
    const char *missing = NULL;
    char dim[64];
    const cJSON *base = cJSON_GetObjectItemCaseSensitive(root, "base_model");
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(root, "training");
    const char *naming = json_string(root, "naming"), *scaling = json_string(root, "scaling");
    const char *init = json_string(root, "lora_init"), *pool = json_string(root, "pooling");
    ac->base.qkv_bias = true;
    if (!cJSON_IsObject(base)) missing = "base_model";
    for (int i = 0; !missing && i < N_BASE_DIMS; i++) {
        snprintf(dim, sizeof dim, "base_model.%s", BASE_DIMS[i].name);
        if (!json_int(base, BASE_DIMS[i].name, base_dim(&ac->base, i))) missing = dim;
    }
    if (!missing && !json_hex(base, "fingerprint", &ac->base_fingerprint)) missing = "base_model.fingerprint";
    const char *dtype = missing ? NULL : json_string(base, "base_dtype");
    ac->base_dtype = QUANT_F32;
    if (dtype && !quant_dtype_parse(dtype, &ac->base_dtype)) missing = "base_model.base_dtype (fp32, bf16, int8 or nf4)";
    if (!missing && (!naming || (strcmp(naming, "labs") && strcmp(naming, "peft")))) missing = "naming (labs or peft)";
    if (!missing && (!json_int(root, "r", &ac->lora.rank) || ac->lora.rank < 1)) missing = "r (a rank of 1 or more)";
    if (!missing && !json_double(root, "lora_alpha", &ac->lora.alpha)) missing = "lora_alpha";
    if (!missing && (!scaling || (strcmp(scaling, "rank") && strcmp(scaling, "alpha") && strcmp(scaling, "rslora"))))
        missing = "scaling (rank, alpha or rslora)";
    if (!missing && (!init || (strcmp(init, "labs") && strcmp(init, "peft")))) missing = "lora_init (labs or peft)";
    if (!missing && !json_double(root, "lora_dropout", &ac->lora.dropout)) missing = "lora_dropout";
    if (!missing && (!pool || (strcmp(pool, "last-token") && strcmp(pool, "last-position"))))
        missing = "pooling (last-token or last-position)";
    /* max_length 0: the model's context (an adapter converted from Python PEFT's) */
    if (!missing && (!json_int(root, "max_length", &ac->max_length) || ac->max_length < 0)) missing = "max_length";
    if (!missing && !cJSON_IsObject(tr)) missing = "training";
    if (missing) {
        lf_error_set(err, LF_ERR_INPUT, "%s: missing or invalid \"%s\"", path, missing);
        return false;
    }
    ac->naming = strcmp(naming, "peft") == 0 ? MODTREE_HF : MODTREE_LABS;
    ac->lora.scaling = !strcmp(scaling, "alpha") ? LORA_SCALE_ALPHA : !strcmp(scaling, "rslora") ? LORA_SCALE_RSLORA
                                                                                             : LORA_SCALE_RANK;
    ac->lora.init = strcmp(init, "peft") == 0 ? LORA_INIT_PEFT : LORA_INIT_LABS;
    ac->pool = strcmp(pool, "last-position") == 0 ? POOL_LAST_POSITION : POOL_LAST_TOKEN;
    /* Training facts are informative except for --resume, which checks them. */
    json_double(tr, "lr", &ac->training.lr);
    json_double(tr, "weight_decay", &ac->training.weight_decay);
    json_double(tr, "grad_clip", &ac->training.grad_clip);
    json_int(tr, "batch_size", &ac->training.batch_size);
    json_int(tr, "epochs", &ac->training.epochs);
    json_hex(tr, "seed", &ac->training.seed);
    const cJSON *drop_last = cJSON_GetObjectItemCaseSensitive(tr, "drop_last");
    ac->training.drop_last = cJSON_IsTrue(drop_last);
    json_hex(tr, "train_digest", &ac->training.train_digest);
    double rows = 0;
    json_double(tr, "train_rows", &rows);
    ac->training.train_rows = (long)rows;
    ac->training.mask_prompt = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(tr, "mask_prompt"));
    /* absent: one process (ranks is written only when there were several) */
    if (!json_int(tr, "ranks", &ac->training.ranks) || ac->training.ranks < 1) ac->training.ranks = 1;
    return true;
}

static bool targets_from_json(const cJSON *root, AdapterConfig *ac, const char *path, LfError *err) {
    const cJSON *targets = cJSON_GetObjectItemCaseSensitive(root, "target_modules");
    if (!cJSON_IsArray(targets) || cJSON_GetArraySize(targets) > LORA_MAX_TARGETS) {
        lf_error_set(err, LF_ERR_INPUT, "%s: missing or invalid \"target_modules\"", path);
        return false;
    }
    ac->lora.n_targets = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, targets) {
        if (!cJSON_IsString(t) || strlen(t->valuestring) >= sizeof ac->lora.targets[0]) {
            lf_error_set(err, LF_ERR_INPUT, "%s: \"target_modules\" holds a bad name", path);
            return false;
        }
        snprintf(ac->lora.targets[ac->lora.n_targets++], sizeof ac->lora.targets[0], "%s", t->valuestring);
    }
    return true;
}

static bool classes_from_json(const cJSON *root, AdapterConfig *ac, const char *path, LfError *err) {
    const char *task = json_string(root, "task_type");
    ac->task = task && strcmp(task, "CAUSAL_LM") == 0 ? ADAPTER_TASK_CAUSAL_LM : ADAPTER_TASK_CLASSIFY;
    if (ac->task == ADAPTER_TASK_CAUSAL_LM) return true; /* no head, no classes */
    const cJSON *classes = cJSON_GetObjectItemCaseSensitive(root, "class_names");
    int n = cJSON_IsArray(classes) ? cJSON_GetArraySize(classes) : 0;
    if (n < 2) {
        lf_error_set(err, LF_ERR_INPUT, "%s: \"class_names\" must list at least 2 classes", path);
        return false;
    }
    const char **names = calloc((size_t)n, sizeof *names);
    if (!names) {
        lf_error_set(err, LF_ERR_IO, "out of memory");
        return false;
    }
    int i = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, classes) names[i++] = cJSON_IsString(c) ? c->valuestring : NULL;
    bool ok = true;
    for (i = 0; i < n && ok; i++) ok = names[i] != NULL;
    if (!ok) lf_error_set(err, LF_ERR_INPUT, "%s: \"class_names\" holds something that is not a string", path);
    ok = ok && adapter_config_set_classes(ac, names, n, err);
    free(names);
    return ok;
}

/* What train can have written (its --rank, --alpha and --lora-dropout
 * ranges): a hand-edited alpha of 1e39 would make every logit inf or NaN
 * without a word, an r of 1e9 an "out of memory". */
static bool check_lora_numbers(const AdapterConfig *ac, const char *path, LfError *err) {
    if (ac->lora.rank > LORA_RANK_MAX) {
        lf_error_set(err, LF_ERR_INPUT, "%s: \"r\" must be between 1 and %d, got %d", path, LORA_RANK_MAX,
                     ac->lora.rank);
        return false;
    }
    if (!(fabs(ac->lora.alpha) <= LORA_ALPHA_ABS_MAX)) {
        lf_error_set(err, LF_ERR_INPUT, "%s: \"lora_alpha\" must be between -1e9 and 1e9, got %g", path,
                     ac->lora.alpha); /* the text of LORA_ALPHA_ABS_MAX */
        return false;
    }
    if (!(ac->lora.dropout >= 0 && ac->lora.dropout < 1)) {
        lf_error_set(err, LF_ERR_INPUT, "%s: \"lora_dropout\" must be at least 0 and below 1, got %g", path,
                     ac->lora.dropout);
        return false;
    }
    return true;
}

bool adapter_load_config(const char *dir, AdapterConfig *ac, LfError *err) {
    memset(ac, 0, sizeof *ac);
    ac->lora = lora_config_default();
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, ADAPTER_CONFIG_FILE);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        lf_error_set(err, LF_ERR_INPUT, "%s: no such adapter directory", dir);
        return false;
    }
    size_t len;
    char *text = fs_read_file(path, &len, err);
    if (!text) return false;
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(root)) {
        lf_error_set(err, LF_ERR_INPUT, "%s: not a JSON object", path);
        cJSON_Delete(root);
        return false;
    }
    const char *format = json_string(root, "format");
    bool ok = true;
    if (!format && cJSON_GetObjectItemCaseSensitive(root, "peft_type")) { /* written by Python PEFT */
        ok = peft_import_config(dir, root, ac, path, err) && check_lora_numbers(ac, path, err);
        cJSON_Delete(root);
        if (!ok) adapter_config_free(ac);
        return ok;
    }
    if (!format || strcmp(format, "lorafit-adapter") != 0) {
        lf_error_set(err, LF_ERR_INPUT, "%s: not a lorafit adapter config (\"format\" is not \"lorafit-adapter\")",
                     path);
        ok = false;
    }
    ok = ok && config_from_json(root, ac, path, err) && targets_from_json(root, ac, path, err) &&
         classes_from_json(root, ac, path, err) && check_lora_numbers(ac, path, err);
    cJSON_Delete(root);
    if (!ok) adapter_config_free(ac);
    return ok;
}

const char *adapter_task_name(AdapterTask t) {
    return t == ADAPTER_TASK_CAUSAL_LM ? "causal language modelling (task_type CAUSAL_LM)" : "classification";
}

bool adapter_check_task(const AdapterConfig *ac, AdapterTask want, const char *dir, LfError *err) {
    if (ac->task == want) return true;
    lf_error_set(err, LF_ERR_INPUT, "%s is an adapter for %s, not for %s", dir, adapter_task_name(ac->task),
                 adapter_task_name(want));
    return false;
}

bool adapter_check_base(const AdapterConfig *ac, const Gpt2Config *base, uint64_t fingerprint, LfError *err) {
    for (int i = 0; i < N_BASE_DIMS; i++) {
        int want = base_dim_of(&ac->base, i), got = base_dim_of(base, i);
        if (want && want != got) { /* 0: not recorded (an adapter from Python PEFT) */
            lf_error_set(err, LF_ERR_INPUT,
                         "the adapter was trained on a base model with %s = %d, but this model has %s = %d",
                         BASE_DIMS[i].name, want, BASE_DIMS[i].name, got);
            return false;
        }
    }
    if (ac->base_fingerprint && fingerprint && ac->base_fingerprint != fingerprint) {
        lf_error_set(err, LF_ERR_INPUT,
                     "the adapter was trained on different base weights (fingerprint %016" PRIx64
                     ", this model's is %016" PRIx64 "): same shape, other values",
                     ac->base_fingerprint, fingerprint);
        return false;
    }
    return true;
}
