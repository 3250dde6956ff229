/* merge.c - see include/lorafit/io/merge.h */
#include "lorafit/io/merge.h"

#include "lorafit/engine/quant_weights.h"
#include <cblas.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lorafit/engine/quant_weights.h"
#include "lorafit/io/checkpoint_write.h"
#include "lorafit/util/files.h"

/* Everything a merged directory may hold: all that replacing one removes.
 * From TOKENIZER_FILES on, what is copied from beside the base model. */
static const char *const MERGED_FILES[] = {
    CHECKPOINT_WEIGHTS_FILE, CHECKPOINT_CONFIG_FILE, "vocab.json", "merges.txt", "encoder.json", "vocab.bpe",
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json", NULL};
#define TOKENIZER_FILES 2

/* ---- folding ----------------------------------------------------------- */

/* The base weights with the adapted matrices replaced by owned copies. */
typedef struct {
    Gpt2Weights w;
    Gpt2LayerWeights *layers;
    float **copies; /* [n_layer * 4] by layer and stage; NULL = the base's own */
} Merged;

/* The Conv1D matrix (field of lw) that site adds into, its width, and the
 * first column of the site's block in it. */
static const float **site_matrix(Gpt2LayerWeights *lw, LinearSite site, int C, int *width, int *col) {
    *col = site == SITE_K ? C : site == SITE_V ? 2 * C : 0;
    switch (site) {
    case SITE_Q: case SITE_K: case SITE_V: case SITE_QKV: *width = 3 * C; return &lw->qkv_w;
    case SITE_ATTN_OUT: *width = C; return &lw->attn_proj_w;
    case SITE_FC: *width = 4 * C; return &lw->fc_w;
    case SITE_FC_PROJ: *width = C; return &lw->fc_proj_w;
    default: return NULL;
    }
}

static bool fold_adapters(Merged *mg, const Gpt2Model *m, LfError *err) {
    int C = mg->w.cfg.n_embd;
    for (int i = 0; i < m->n_adapters; i++) {
        const Gpt2Adapter *a = &m->adapters[i];
        int width, col;
        const float **field = site_matrix(&mg->layers[a->layer], a->site, C, &width, &col);
        BlockStage stage = linear_site_stage(a->site);
        if (!field || stage == STAGE_NONE) {
            lf_error_set(err, LF_ERR_INPUT, "adapter %d (block %d) sits where no block matrix is", i, a->layer);
            return false;
        }
        float **copy = &mg->copies[a->layer * 4 + stage];
        size_t n = (size_t)a->in * (size_t)width;
        if (!*copy) {
            if (!(*copy = malloc(n * sizeof **copy))) {
                lf_error_set(err, LF_ERR_IO, "out of memory merging block %d", a->layer);
                return false;
            }
            memcpy(*copy, *field, n * sizeof **copy);
            *field = *copy;
        }
        /* W[:, col:col+out] += scale * A @ B */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, a->in, a->out, a->rank, a->scale, m->lora_A[i],
                    a->rank, m->lora_B[i], a->out, 1.0f, *copy + col, width);
    }
    return true;
}

static void merged_free(Merged *mg) {
    for (int i = 0; mg->copies && i < mg->w.cfg.n_layer * 4; i++) free(mg->copies[i]);
    free(mg->copies);
    free(mg->layers);
}

/* A quantized base (a `lorafit quantize` file) is merged in fp32: each
 * quantized block matrix becomes an owned fp32 copy (in the slot
 * fold_adapters adds into), and the merged file holds no quantized form. */
static bool dequantize_base(Merged *mg, LfError *err) {
    int C = mg->w.cfg.n_embd;
    for (int l = 0; l < mg->w.cfg.n_layer; l++)
        for (int i = 0; i < QUANT_MATS_PER_LAYER; i++) {
            const QuantMatrix **q = quant_layer_q(&mg->layers[l], i);
            if (!*q) continue;
            const QuantBlockMatrix *bm = &quant_block_matrices[i];
            float **copy = &mg->copies[l * 4 + i]; /* quant_block_matrices follow BlockStage's order */
            if (!(*copy = malloc((size_t)bm->in * C * (size_t)bm->out * C * sizeof **copy))) {
                lf_error_set(err, LF_ERR_IO, "out of memory dequantizing block %d", l);
                return false;
            }
            quant_matrix_dequantize_rows(*q, 0, (*q)->rows, *copy);
            *quant_layer_fp32(&mg->layers[l], i) = *copy;
            *q = NULL;
        }
    return true;
}

static bool merged_build(Merged *mg, const Gpt2Weights *base, const Gpt2Model *m, LfError *err) {
    memset(mg, 0, sizeof *mg);
    mg->w = *base;
    int L = base->cfg.n_layer;
    mg->layers = malloc((size_t)L * sizeof *mg->layers);
    mg->copies = calloc((size_t)L * 4, sizeof *mg->copies);
    if (!mg->layers || !mg->copies) {
        lf_error_set(err, LF_ERR_IO, "out of memory merging");
        return false;
    }
    memcpy(mg->layers, base->layers, (size_t)L * sizeof *mg->layers);
    mg->w.layers = mg->layers;
    return dequantize_base(mg, err) && fold_adapters(mg, m, err);
}

/* ---- the directory ----------------------------------------------------- */

static void join(char *out, size_t size, const char *dir, const char *file) {
    if (snprintf(out, size, "%s/%s", dir, file) < 0) out[0] = '\0';
}

static const char *pool_name(Gpt2Pool p) { return p == POOL_LAST_POSITION ? "last-position" : "last-token"; }

static cJSON *merged_config(const AdapterConfig *ac, const Gpt2Config *cfg) {
    cJSON *root = checkpoint_config_json(cfg);
    if (!root || ac->task == ADAPTER_TASK_CAUSAL_LM) return root;
    cJSON *arch = cJSON_CreateArray();
    cJSON_AddItemToArray(arch, cJSON_CreateString("GPT2ForSequenceClassification"));
    cJSON_ReplaceItemInObjectCaseSensitive(root, "architectures", arch);
    cJSON_AddNumberToObject(root, "num_labels", ac->n_classes);
    cJSON *id2label = cJSON_AddObjectToObject(root, "id2label"), *label2id = cJSON_AddObjectToObject(root, "label2id");
    for (int i = 0; i < ac->n_classes; i++) {
        char id[16];
        snprintf(id, sizeof id, "%d", i);
        cJSON_AddStringToObject(id2label, id, ac->class_names[i]);
        cJSON_AddNumberToObject(label2id, ac->class_names[i], i);
    }
    /* Hugging Face reads each text at its last token other than pad_token_id:
     * lorafit's last-token pooling. The labs' last-position pooling reads the
     * padding itself, which transformers cannot be told; then no pad id. */
    if (ac->pool == POOL_LAST_TOKEN) cJSON_AddNumberToObject(root, "pad_token_id", 50256);
    cJSON *lf = cJSON_AddObjectToObject(root, "lorafit");
    cJSON_AddStringToObject(lf, "pooling", pool_name(ac->pool));
    cJSON_AddNumberToObject(lf, "max_length", ac->max_length ? ac->max_length : cfg->n_ctx);
    cJSON_AddStringToObject(lf, "score_bias",
                            "score.bias is part of the head; transformers' GPT2ForSequenceClassification has no "
                            "bias, ignores it with a warning and so gives logits without it");
    return root;
}

static bool copy_file(const char *from, const char *to, LfError *err) {
    size_t len;
    char *data = fs_read_file(from, &len, err);
    bool ok = data && fs_write_atomic(to, data, len, err);
    free(data);
    return ok;
}

static bool write_merged_files(const char *tmp, const Gpt2Checkpoint *ck, const AdapterConfig *ac,
                               const Gpt2Model *m, StDtype dtype, LfError *err) {
    Merged mg;
    char path[4096], from[4096];
    join(path, sizeof path, tmp, CHECKPOINT_WEIGHTS_FILE);
    CheckpointHead head = {m->n_classes, m->head_w, m->head_b};
    bool ok = merged_build(&mg, checkpoint_weights(ck), m, err) &&
              checkpoint_write_weights(path, &mg.w, m->n_classes ? &head : NULL, dtype, err);
    merged_free(&mg);
    if (!ok) return false;
    join(path, sizeof path, tmp, CHECKPOINT_CONFIG_FILE);
    cJSON *config = merged_config(ac, checkpoint_config(ck));
    ok = checkpoint_write_json(path, config, err);
    cJSON_Delete(config);
    for (int i = TOKENIZER_FILES; ok && MERGED_FILES[i]; i++) {
        struct stat st;
        join(from, sizeof from, checkpoint_dir(ck), MERGED_FILES[i]);
        join(path, sizeof path, tmp, MERGED_FILES[i]);
        if (stat(from, &st) == 0) ok = copy_file(from, path, err);
    }
    return ok;
}

bool merge_write(const char *out_dir, const Gpt2Checkpoint *ck, const AdapterConfig *ac, const Gpt2Model *m,
                 StDtype dtype, bool overwrite, LfError *err) {
    struct stat st;
    char weights[4096];
    join(weights, sizeof weights, out_dir, CHECKPOINT_WEIGHTS_FILE);
    if (stat(out_dir, &st) == 0) {
        if (!overwrite) {
            lf_error_set(err, LF_ERR_INPUT, "%s already exists; pass --force to replace it", out_dir);
            return false;
        }
        if (!S_ISDIR(st.st_mode) || stat(weights, &st) != 0) { /* never replace what is not a model */
            lf_error_set(err, LF_ERR_INPUT, "%s exists and is not a model directory; choose another --out", out_dir);
            return false;
        }
    }
    char tmp[4096];
    if (!fs_make_temp_dir(out_dir, tmp, sizeof tmp, err)) {
        lf_error_prefix(err, "cannot write the merged model to %s", out_dir);
        return false;
    }
    if (!write_merged_files(tmp, ck, ac, m, dtype, err)) {
        lf_error_prefix(err, "writing the merged model to %s", out_dir);
        fs_remove_dir(tmp, MERGED_FILES);
        return false;
    }
    return fs_replace_dir(tmp, out_dir, MERGED_FILES, err);
}

/* ---- reading a merged classifier --------------------------------------- */

bool merged_has_head(const Gpt2Checkpoint *ck) {
    LfError err = {0};
    StFile *f = st_open(checkpoint_file(ck), &err);
    bool has = f && st_find(f, "score.weight") != NULL;
    st_close(f);
    return has;
}

static const char *json_str(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool read_classes(const cJSON *root, AdapterConfig *ac, const char *path, LfError *err) {
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(root, "num_labels");
    const cJSON *id2label = cJSON_GetObjectItemCaseSensitive(root, "id2label");
    if (!cJSON_IsNumber(n) || n->valueint < 2 || n->valueint > 4096) {
        lf_error_set(err, LF_ERR_INPUT, "%s: no \"num_labels\" of at least 2: not a merged classifier", path);
        return false;
    }
    int k = n->valueint;
    const char **names = calloc((size_t)k, sizeof *names);
    char (*fallback)[16] = calloc((size_t)k, sizeof *fallback);
    bool ok = names && fallback;
    for (int i = 0; ok && i < k; i++) {
        snprintf(fallback[i], sizeof fallback[i], "%d", i);
        const char *label = json_str(id2label, fallback[i]);
        names[i] = label ? label : fallback[i];
    }
    ok = ok && adapter_config_set_classes(ac, names, k, err);
    if (!names || !fallback) lf_error_set(err, LF_ERR_IO, "out of memory");
    free(names);
    free(fallback);
    return ok;
}

bool merged_parse_config(const char *text, size_t len, const char *name, const Gpt2Config *base, AdapterConfig *ac,
                         LfError *err) {
    memset(ac, 0, sizeof *ac);
    cJSON *root = cJSON_ParseWithLength(text, len);
    const cJSON *lf = cJSON_GetObjectItemCaseSensitive(root, "lorafit");
    const cJSON *max_length = cJSON_GetObjectItemCaseSensitive(lf, "max_length");
    const char *pool = json_str(lf, "pooling");
    ac->base = *base;
    ac->lora = lora_config_default();
    ac->naming = MODTREE_HF;
    ac->task = ADAPTER_TASK_CLASSIFY;
    ac->pool = pool && !strcmp(pool, "last-position") ? POOL_LAST_POSITION : POOL_LAST_TOKEN;
    ac->max_length = cJSON_IsNumber(max_length) && max_length->valueint >= 1 && max_length->valueint <= ac->base.n_ctx
                         ? max_length->valueint
                         : ac->base.n_ctx;
    bool ok = root != NULL;
    if (!ok) lf_error_set(err, LF_ERR_INPUT, "%s: not valid JSON", name);
    ok = ok && read_classes(root, ac, name, err);
    cJSON_Delete(root);
    return ok;
}

bool merged_load_config(const Gpt2Checkpoint *ck, AdapterConfig *ac, LfError *err) {
    memset(ac, 0, sizeof *ac);
    if (!merged_has_head(ck)) {
        lf_error_set(err, LF_ERR_INPUT,
                     "%s has no classification head (score.weight): pass --adapter, or make one with lorafit merge",
                     checkpoint_file(ck));
        return false;
    }
    char path[4096];
    join(path, sizeof path, checkpoint_dir(ck), CHECKPOINT_CONFIG_FILE);
    size_t len;
    char *text = fs_read_file(path, &len, err);
    if (!text) return false;
    bool ok = merged_parse_config(text, len, path, checkpoint_config(ck), ac, err);
    free(text);
    return ok;
}

bool merged_load_head(const Gpt2Checkpoint *ck, Gpt2Model *m, LfError *err) {
    StFile *f = st_open(checkpoint_file(ck), err);
    if (!f) return false;
    const int64_t shape_w[2] = {m->n_classes, m->cfg.n_embd}, shape_b[1] = {m->n_classes};
    bool ok = st_load_f32(f, "score.weight", 2, shape_w, m->head_w, err) &&
              st_load_f32(f, "score.bias", 1, shape_b, m->head_b, err);
    st_close(f);
    return ok;
}
