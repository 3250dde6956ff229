/* adapter.c - adapters on disk. See include/lorafit/io/adapter.h. */
#include "lorafit/io/adapter.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lorafit/util/files.h"
#include "lorafit/io/safetensors.h"

#define NAME_MAX_LEN 192

/* ---- names ------------------------------------------------------------- */

static void tensor_name(char *buf, const AdapterConfig *ac, const LoraSlot *slot, char which) {
    if (ac->naming == MODTREE_HF)
        snprintf(buf, NAME_MAX_LEN, "base_model.model.%s.lora_%c.weight", slot->name, which);
    else
        snprintf(buf, NAME_MAX_LEN, "%s.lora.%c", slot->name, which);
}

static const char *head_name(const AdapterConfig *ac, bool bias) {
    if (ac->naming == MODTREE_HF) return bias ? "base_model.model.score.bias" : "base_model.model.score.weight";
    return bias ? "out_head.bias" : "out_head.weight";
}

static const char *pool_name(Gpt2Pool p) { return p == POOL_LAST_POSITION ? "last-position" : "last-token"; }

/* ---- config ------------------------------------------------------------ */

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
    cJSON_AddNumberToObject(base, "n_layer", ac->base.n_layer);
    cJSON_AddNumberToObject(base, "n_embd", ac->base.n_embd);
    cJSON_AddNumberToObject(base, "n_head", ac->base.n_head);
    cJSON_AddNumberToObject(base, "vocab_size", ac->base.vocab_size);
    cJSON_AddNumberToObject(base, "n_ctx", ac->base.n_ctx);
    add_hex(base, "fingerprint", ac->base_fingerprint);

    cJSON_AddStringToObject(root, "naming", ac->naming == MODTREE_HF ? "peft" : "labs");
    cJSON_AddNumberToObject(root, "r", ac->lora.rank);
    cJSON_AddNumberToObject(root, "lora_alpha", ac->lora.alpha);
    cJSON_AddStringToObject(root, "scaling", ac->lora.scaling == LORA_SCALE_ALPHA ? "alpha" : "rank");
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

    /* PEFT's own fields, so that PEFT recognises a PEFT-named adapter. */
    if (ac->naming == MODTREE_HF) {
        cJSON_AddStringToObject(root, "peft_type", "LORA");
        cJSON_AddStringToObject(root, "task_type", "SEQ_CLS");
        cJSON_AddBoolToObject(root, "fan_in_fan_out", true); /* GPT-2's Conv1D stores [in, out] */
        cJSON_AddStringToObject(root, "bias", "none");
        cJSON *mts = cJSON_AddArrayToObject(root, "modules_to_save");
        cJSON_AddItemToArray(mts, cJSON_CreateString("score"));
        cJSON_AddBoolToObject(root, "inference_mode", true);
    }
    return root;
}

/* ---- small file helpers ------------------------------------------------ */

static bool write_text_file(const char *path, const char *text, LfError *err) {
    FILE *f = fopen(path, "w");
    if (!f) {
        lf_error_errno(err, LF_ERR_IO, "cannot create %s", path);
        return false;
    }
    bool ok = fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    ok = (fflush(f) == 0) && ok && fsync(fileno(f)) == 0;
    if (fclose(f) != 0) ok = false;
    if (!ok) lf_error_errno(err, LF_ERR_IO, "cannot write %s", path);
    return ok;
}

static void join(char *out, size_t size, const char *dir, const char *file) {
    if (snprintf(out, size, "%s/%s", dir, file) < 0) out[0] = '\0';
}

static bool is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool exists(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Removes the files an adapter directory holds, then the directory. */
static void remove_adapter_dir(const char *dir) {
    const char *files[] = {ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, ADAPTER_STATE_FILE};
    char path[4096];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        join(path, sizeof path, dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

/* ---- saving ------------------------------------------------------------ */

/* Collects the tensors. PEFT's layouts are the transposes of ours, so those
 * are copied into `scratch` (one allocation the caller frees after saving). */
static bool add_weights(StWriter *w, const AdapterConfig *ac, const Gpt2Model *m, const LoraSlot *slots,
                        float **scratch, LfError *err) {
    bool peft = ac->naming == MODTREE_HF;
    size_t total = 0;
    for (int i = 0; peft && i < m->n_adapters; i++)
        total += (size_t)m->adapters[i].rank * (size_t)(m->adapters[i].in + m->adapters[i].out);
    *scratch = total ? malloc(total * sizeof(float)) : NULL;
    if (total && !*scratch) {
        lf_error_set(err, LF_ERR_IO, "out of memory saving the adapter");
        return false;
    }
    float *t = *scratch;
    char name[NAME_MAX_LEN];
    for (int i = 0; i < m->n_adapters; i++) {
        const Gpt2Adapter *a = &m->adapters[i];
        const float *A = m->lora_A[i], *B = m->lora_B[i];
        int64_t shape_a[2] = {a->in, a->rank}, shape_b[2] = {a->rank, a->out};
        if (peft) { /* lora_A.weight [rank, in] = A^T; lora_B.weight [out, rank] = B^T */
            float *At = t, *Bt = t + (size_t)a->rank * a->in;
            for (int r = 0; r < a->rank; r++)
                for (int k = 0; k < a->in; k++) At[(size_t)r * a->in + k] = A[(size_t)k * a->rank + r];
            for (int o = 0; o < a->out; o++)
                for (int r = 0; r < a->rank; r++) Bt[(size_t)o * a->rank + r] = B[(size_t)r * a->out + o];
            A = At;
            B = Bt;
            shape_a[0] = a->rank, shape_a[1] = a->in;
            shape_b[0] = a->out, shape_b[1] = a->rank;
            t += (size_t)a->rank * (size_t)(a->in + a->out);
        }
        tensor_name(name, ac, &slots[i], 'A');
        if (!st_writer_add(w, name, ST_F32, 2, shape_a, A, err)) return false;
        tensor_name(name, ac, &slots[i], 'B');
        if (!st_writer_add(w, name, ST_F32, 2, shape_b, B, err)) return false;
    }
    int64_t shape_hw[2] = {m->n_classes, m->cfg.n_embd}, shape_hb[1] = {m->n_classes};
    return st_writer_add(w, head_name(ac, false), ST_F32, 2, shape_hw, m->head_w, err) &&
           st_writer_add(w, head_name(ac, true), ST_F32, 1, shape_hb, m->head_b, err);
}

static bool save_weights(const char *path, const AdapterConfig *ac, const Gpt2Model *m, const LoraSlot *slots,
                         LfError *err) {
    StWriter *w = st_writer_new();
    float *scratch = NULL;
    bool ok = w && add_weights(w, ac, m, slots, &scratch, err) &&
              st_writer_metadata(w, "format", "pt", err) && st_writer_save(w, path, err);
    if (!w) lf_error_set(err, LF_ERR_IO, "out of memory saving the adapter");
    st_writer_free(w);
    free(scratch);
    return ok;
}

static bool save_state(const char *path, const TrainState *s, LfError *err) {
    StWriter *w = st_writer_new();
    if (!w) {
        lf_error_set(err, LF_ERR_IO, "out of memory saving the training state");
        return false;
    }
    char buf[4][64];
    int64_t n_params[1] = {(int64_t)s->opt->n}, n_points[1] = {s->n_points};
    snprintf(buf[0], sizeof buf[0], "%d", s->epoch);
    snprintf(buf[1], sizeof buf[1], "%ld", s->batch);
    snprintf(buf[2], sizeof buf[2], "%ld", s->step);
    char rng[80];
    snprintf(rng, sizeof rng, "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64, s->rng[0], s->rng[1],
             s->rng[2], s->rng[3]);
    snprintf(buf[3], sizeof buf[3], "%d", s->opt->step);
    bool ok = st_writer_add(w, "adamw.m", ST_F32, 1, n_params, s->opt->m, err) &&
              st_writer_add(w, "adamw.v", ST_F32, 1, n_params, s->opt->v, err) &&
              st_writer_add(w, "history.loss", ST_F32, 1, n_points, s->point_loss, err) &&
              st_writer_add(w, "history.accuracy", ST_F32, 1, n_points, s->point_acc, err) &&
              st_writer_metadata(w, "epoch", buf[0], err) && st_writer_metadata(w, "batch", buf[1], err) &&
              st_writer_metadata(w, "step", buf[2], err) && st_writer_metadata(w, "adamw_step", buf[3], err) &&
              st_writer_metadata(w, "rng", rng, err) &&
              st_writer_metadata(w, "complete", s->complete ? "true" : "false", err) &&
              st_writer_save(w, path, err);
    st_writer_free(w);
    return ok;
}

/* Fills the fresh directory tmp with the adapter's files. */
static bool write_adapter_files(const char *tmp, const AdapterConfig *ac, const Gpt2Model *m,
                                const LoraSlot *slots, const TrainState *state, LfError *err) {
    char path[4096];
    cJSON *json = config_to_json(ac, slots, m->n_adapters);
    char *text = json ? cJSON_Print(json) : NULL;
    cJSON_Delete(json);
    if (!text) {
        lf_error_set(err, LF_ERR_IO, "out of memory writing the adapter config");
        return false;
    }
    join(path, sizeof path, tmp, ADAPTER_CONFIG_FILE);
    bool ok = write_text_file(path, text, err);
    free(text);
    join(path, sizeof path, tmp, ADAPTER_WEIGHTS_FILE);
    ok = ok && save_weights(path, ac, m, slots, err);
    join(path, sizeof path, tmp, ADAPTER_STATE_FILE);
    ok = ok && (!state || save_state(path, state, err));
    return ok;
}

bool adapter_save(const char *dir, const AdapterConfig *ac, const Gpt2Model *m, const LoraSlot *slots,
                  const TrainState *state, bool overwrite, LfError *err) {
    char config_path[4096];
    join(config_path, sizeof config_path, dir, ADAPTER_CONFIG_FILE);
    bool had_dir = exists(dir);
    if (had_dir && !overwrite) {
        lf_error_set(err, LF_ERR_INPUT, "%s already exists; pass --force to replace it", dir);
        return false;
    }
    /* Never replace a directory that is not an adapter: --out $HOME by mistake must not delete it. */
    if (had_dir && (!is_dir(dir) || !exists(config_path))) {
        lf_error_set(err, LF_ERR_INPUT, "%s exists and is not an adapter directory; choose another --out", dir);
        return false;
    }

    char tmp[4096], old[4096];
    if (!fs_make_parents(dir, err)) {
        lf_error_prefix(err, "cannot save the adapter to %s", dir);
        return false;
    }
    if (snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", dir) >= (int)sizeof tmp || !mkdtemp(tmp)) {
        lf_error_errno(err, LF_ERR_IO, "cannot create a temporary directory beside %s", dir);
        return false;
    }
    /* mkdtemp makes it private (0700); an adapter is an ordinary directory. */
    mode_t mask = umask(0);
    umask(mask);
    chmod(tmp, 0777 & ~mask);
    if (!write_adapter_files(tmp, ac, m, slots, state, err)) {
        lf_error_prefix(err, "saving the adapter to %s", dir);
        remove_adapter_dir(tmp);
        return false;
    }
    /* Swap: the old adapter steps aside, the new one takes its name, the old goes. */
    if (had_dir) {
        if (snprintf(old, sizeof old, "%s.old-XXXXXX", dir) >= (int)sizeof old || !mkdtemp(old) ||
            rename(dir, old) != 0) {
            lf_error_errno(err, LF_ERR_IO, "cannot move the old adapter %s aside", dir);
            remove_adapter_dir(tmp);
            return false;
        }
    }
    if (rename(tmp, dir) != 0) {
        lf_error_errno(err, LF_ERR_IO, "cannot rename %s to %s", tmp, dir);
        if (had_dir) rename(old, dir);
        remove_adapter_dir(tmp);
        return false;
    }
    if (had_dir) remove_adapter_dir(old);
    return true;
}

bool adapter_check_writable(const char *dir, LfError *err) {
    char tmp[4096];
    if (!fs_make_parents(dir, err)) {
        lf_error_prefix(err, "cannot save the adapter to %s", dir);
        return false;
    }
    if (snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", dir) >= (int)sizeof tmp || !mkdtemp(tmp)) {
        lf_error_errno(err, LF_ERR_IO, "cannot save the adapter to %s: cannot create a directory beside it", dir);
        return false;
    }
    rmdir(tmp);
    return true;
}

/* ---- loading ----------------------------------------------------------- */

static bool json_int(const cJSON *o, const char *key, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble)) return false;
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
    const cJSON *base = cJSON_GetObjectItemCaseSensitive(root, "base_model");
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(root, "training");
    const char *naming = json_string(root, "naming"), *scaling = json_string(root, "scaling");
    const char *init = json_string(root, "lora_init"), *pool = json_string(root, "pooling");
    ac->base.qkv_bias = true;
    if (!cJSON_IsObject(base)) missing = "base_model";
    else if (!json_int(base, "n_layer", &ac->base.n_layer)) missing = "base_model.n_layer";
    else if (!json_int(base, "n_embd", &ac->base.n_embd)) missing = "base_model.n_embd";
    else if (!json_int(base, "n_head", &ac->base.n_head)) missing = "base_model.n_head";
    else if (!json_int(base, "vocab_size", &ac->base.vocab_size)) missing = "base_model.vocab_size";
    else if (!json_int(base, "n_ctx", &ac->base.n_ctx)) missing = "base_model.n_ctx";
    else if (!json_hex(base, "fingerprint", &ac->base_fingerprint)) missing = "base_model.fingerprint";
    else if (!naming || (strcmp(naming, "labs") && strcmp(naming, "peft"))) missing = "naming (labs or peft)";
    else if (!json_int(root, "r", &ac->lora.rank) || ac->lora.rank < 1) missing = "r (a rank of 1 or more)";
    else if (!json_double(root, "lora_alpha", &ac->lora.alpha)) missing = "lora_alpha";
    else if (!scaling || (strcmp(scaling, "rank") && strcmp(scaling, "alpha"))) missing = "scaling (rank or alpha)";
    else if (!init || (strcmp(init, "labs") && strcmp(init, "peft"))) missing = "lora_init (labs or peft)";
    else if (!json_double(root, "lora_dropout", &ac->lora.dropout)) missing = "lora_dropout";
    else if (!pool || (strcmp(pool, "last-token") && strcmp(pool, "last-position")))
        missing = "pooling (last-token or last-position)";
    else if (!json_int(root, "max_length", &ac->max_length) || ac->max_length < 1) missing = "max_length";
    else if (!cJSON_IsObject(tr)) missing = "training";
    if (missing) {
        lf_error_set(err, LF_ERR_INPUT, "%s: missing or invalid \"%s\"", path, missing);
        return false;
    }
    ac->naming = strcmp(naming, "peft") == 0 ? MODTREE_HF : MODTREE_LABS;
    ac->lora.scaling = strcmp(scaling, "alpha") == 0 ? LORA_SCALE_ALPHA : LORA_SCALE_RANK;
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

bool adapter_load_config(const char *dir, AdapterConfig *ac, LfError *err) {
    memset(ac, 0, sizeof *ac);
    ac->lora = lora_config_default();
    char path[4096];
    join(path, sizeof path, dir, ADAPTER_CONFIG_FILE);
    if (!is_dir(dir)) {
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
    if (!format || strcmp(format, "lorafit-adapter") != 0) {
        lf_error_set(err, LF_ERR_INPUT, "%s: not a lorafit adapter config (\"format\" is not \"lorafit-adapter\")",
                     path);
        ok = false;
    }
    ok = ok && config_from_json(root, ac, path, err) && targets_from_json(root, ac, path, err) &&
         classes_from_json(root, ac, path, err);
    cJSON_Delete(root);
    if (!ok) adapter_config_free(ac);
    return ok;
}

/* Copies tensor `name` of shape [d0, d1] (d1 = 0 for 1-D) into dst,
 * transposing when asked (PEFT's layouts). */
static bool load_tensor(const StFile *f, const char *name, int64_t d0, int64_t d1, bool transpose, float *dst,
                        LfError *err) {
    const StTensor *t = st_find(f, name);
    if (!t) {
        lf_error_set(err, LF_ERR_INPUT, "%s: tensor '%s' is missing", st_path(f), name);
        return false;
    }
    bool shape_ok = d1 ? (t->ndim == 2 && t->shape[0] == d0 && t->shape[1] == d1) : (t->ndim == 1 && t->shape[0] == d0);
    if (!shape_ok) {
        char got[96] = "";
        for (int i = 0; i < t->ndim; i++) {
            size_t len = strlen(got);
            snprintf(got + len, sizeof got - len, "%s%" PRId64, i ? ", " : "", t->shape[i]);
        }
        if (d1)
            lf_error_set(err, LF_ERR_INPUT, "%s: tensor '%s' has shape [%s], expected [%" PRId64 ", %" PRId64 "]",
                         st_path(f), name, got, d0, d1);
        else
            lf_error_set(err, LF_ERR_INPUT, "%s: tensor '%s' has shape [%s], expected [%" PRId64 "]", st_path(f),
                         name, got, d0);
        return false;
    }
    size_t n = (size_t)d0 * (size_t)(d1 ? d1 : 1);
    if (!transpose) return st_read_f32(t, dst, n, err);
    float *tmp = malloc(n * sizeof *tmp);
    if (!tmp || !st_read_f32(t, tmp, n, err)) {
        if (!tmp) lf_error_set(err, LF_ERR_IO, "out of memory");
        free(tmp);
        return false;
    }
    for (int64_t i = 0; i < d0; i++)
        for (int64_t j = 0; j < d1; j++) dst[(size_t)j * (size_t)d0 + (size_t)i] = tmp[(size_t)i * (size_t)d1 + (size_t)j];
    free(tmp);
    return true;
}

bool adapter_load_weights(const char *dir, const AdapterConfig *ac, Gpt2Model *m, const LoraSlot *slots,
                          LfError *err) {
    char path[4096], name[NAME_MAX_LEN];
    join(path, sizeof path, dir, ADAPTER_WEIGHTS_FILE);
    StFile *f = st_open(path, err);
    if (!f) return false;
    bool peft = ac->naming == MODTREE_HF, ok = true;
    for (int i = 0; ok && i < m->n_adapters; i++) {
        const Gpt2Adapter *a = &m->adapters[i];
        tensor_name(name, ac, &slots[i], 'A');
        ok = peft ? load_tensor(f, name, a->rank, a->in, true, m->lora_A[i], err)
                  : load_tensor(f, name, a->in, a->rank, false, m->lora_A[i], err);
        tensor_name(name, ac, &slots[i], 'B');
        ok = ok && (peft ? load_tensor(f, name, a->out, a->rank, true, m->lora_B[i], err)
                         : load_tensor(f, name, a->rank, a->out, false, m->lora_B[i], err));
    }
    ok = ok && load_tensor(f, head_name(ac, false), m->n_classes, m->cfg.n_embd, false, m->head_w, err) &&
         load_tensor(f, head_name(ac, true), m->n_classes, 0, false, m->head_b, err);
    int expected = 2 * m->n_adapters + 2;
    if (ok && st_count(f) != expected) {
        lf_error_set(err, LF_ERR_INPUT, "%s: holds %d tensors, expected %d (2 per adapter and the head)", path,
                     st_count(f), expected);
        ok = false;
    }
    st_close(f);
    return ok;
}

static bool metadata_long(const StFile *f, const char *key, long *out, LfError *err) {
    const char *s = st_metadata(f, key);
    char *end;
    if (s) {
        errno = 0;
        *out = strtol(s, &end, 10);
        if (*s && *end == '\0' && errno == 0) return true;
    }
    lf_error_set(err, LF_ERR_INPUT, "%s: metadata \"%s\" is missing or not a number", st_path(f), key);
    return false;
}

bool adapter_load_state(const char *dir, TrainState *state, AdamW *opt, LfError *err) {
    char path[4096];
    join(path, sizeof path, dir, ADAPTER_STATE_FILE);
    memset(state, 0, sizeof *state);
    StFile *f = st_open(path, err);
    if (!f) return false;
    long epoch, adamw_step;
    bool ok = metadata_long(f, "epoch", &epoch, err) && metadata_long(f, "batch", &state->batch, err) &&
              metadata_long(f, "step", &state->step, err) && metadata_long(f, "adamw_step", &adamw_step, err);
    const char *rng = st_metadata(f, "rng"), *complete = st_metadata(f, "complete");
    if (ok && (!rng || strlen(rng) != 64 || !complete)) {
        lf_error_set(err, LF_ERR_INPUT, "%s: metadata \"rng\" or \"complete\" is missing", path);
        ok = false;
    }
    for (int i = 0; ok && i < 4; i++) {
        char part[17];
        memcpy(part, rng + 16 * i, 16);
        part[16] = '\0';
        state->rng[i] = strtoull(part, NULL, 16);
    }
    if (ok) {
        state->epoch = (int)epoch;
        state->complete = strcmp(complete, "true") == 0;
        opt->step = (int)adamw_step;
    }
    ok = ok && load_tensor(f, "adamw.m", (int64_t)opt->n, 0, false, opt->m, err) &&
         load_tensor(f, "adamw.v", (int64_t)opt->n, 0, false, opt->v, err);
    const StTensor *hl = ok ? st_find(f, "history.loss") : NULL;
    const StTensor *ha = ok ? st_find(f, "history.accuracy") : NULL;
    if (ok && (!hl || !ha || hl->numel != ha->numel)) {
        lf_error_set(err, LF_ERR_INPUT, "%s: the loss history is missing or inconsistent", path);
        ok = false;
    }
    if (ok) {
        state->n_points = (long)hl->numel;
        float *loss = malloc((size_t)(hl->numel + 1) * sizeof(float));
        float *acc = malloc((size_t)(hl->numel + 1) * sizeof(float));
        ok = loss && acc && st_read_f32(hl, loss, (size_t)hl->numel, err) &&
             st_read_f32(ha, acc, (size_t)ha->numel, err);
        if (!loss || !acc) lf_error_set(err, LF_ERR_IO, "out of memory");
        state->point_loss = loss;
        state->point_acc = acc;
        if (!ok) {
            free(loss);
            free(acc);
            state->point_loss = state->point_acc = NULL;
        }
    }
    st_close(f);
    return ok;
}

bool adapter_check_base(const AdapterConfig *ac, const Gpt2Config *base, uint64_t fingerprint, LfError *err) {
    const struct { const char *name; int want, got; } dims[] = {
        {"n_layer", ac->base.n_layer, base->n_layer},          {"n_embd", ac->base.n_embd, base->n_embd},
        {"n_head", ac->base.n_head, base->n_head},             {"vocab_size", ac->base.vocab_size, base->vocab_size},
        {"n_ctx", ac->base.n_ctx, base->n_ctx},
    };
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
        if (dims[i].want != dims[i].got) {
            lf_error_set(err, LF_ERR_INPUT,
                         "the adapter was trained on a base model with %s = %d, but this model has %s = %d",
                         dims[i].name, dims[i].want, dims[i].name, dims[i].got);
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
