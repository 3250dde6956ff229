/* adapter.c - an adapter's directory and its weights. See include/lorafit/io/adapter.h. */
#include "lorafit/io/adapter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lorafit/io/peft_import.h"
#include "lorafit/io/safetensors.h"
#include "lorafit/util/files.h"

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

/* ---- the directory ----------------------------------------------------- */

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

/* What an adapter directory may hold: all that replacing one removes. */
static const char *const ADAPTER_FILES[] = {ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, ADAPTER_STATE_FILE, NULL};

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
    if (ac->task == ADAPTER_TASK_CAUSAL_LM) return true; /* the LM head is the frozen wte */
    int64_t shape_hw[2] = {m->n_classes, m->cfg.n_embd}, shape_hb[1] = {m->n_classes};
    return st_writer_add(w, head_name(ac, false), ST_F32, 2, shape_hw, m->head_w, err) &&
           st_writer_add(w, head_name(ac, true), ST_F32, 1, shape_hb, m->head_b, err);
}

static bool save_weights(const char *dir, const AdapterConfig *ac, const Gpt2Model *m, const LoraSlot *slots,
                         LfError *err) {
    char path[4096];
    join(path, sizeof path, dir, ADAPTER_WEIGHTS_FILE);
    StWriter *w = st_writer_new();
    float *scratch = NULL;
    bool ok = w && add_weights(w, ac, m, slots, &scratch, err) &&
              st_writer_metadata(w, "format", "pt", err) && st_writer_save(w, path, err);
    if (!w) lf_error_set(err, LF_ERR_IO, "out of memory saving the adapter");
    st_writer_free(w);
    free(scratch);
    return ok;
}

/* Fills the fresh directory tmp with the adapter's files. */
static bool write_adapter_files(const char *tmp, const AdapterConfig *ac, const Gpt2Model *m,
                                const LoraSlot *slots, const TrainState *state, LfError *err) {
    return adapter_config_save(tmp, ac, slots, m->n_adapters, err) && save_weights(tmp, ac, m, slots, err) &&
           (!state || train_state_save(tmp, state, err));
}

/* Never replace a directory that is not an adapter: --out $HOME by mistake must not delete it. */
static bool check_replaceable(const char *dir, LfError *err) {
    char config_path[4096];
    join(config_path, sizeof config_path, dir, ADAPTER_CONFIG_FILE);
    if (is_dir(dir) && exists(config_path)) return true;
    lf_error_set(err, LF_ERR_INPUT, "%s exists and is not an adapter directory; choose another --out", dir);
    return false;
}

bool adapter_save(const char *dir, const AdapterConfig *ac, const Gpt2Model *m, const LoraSlot *slots,
                  const TrainState *state, bool overwrite, LfError *err) {
    bool had_dir = exists(dir);
    if (had_dir && !overwrite) {
        lf_error_set(err, LF_ERR_INPUT, "%s already exists; pass --force to replace it", dir);
        return false;
    }
    if (had_dir && !check_replaceable(dir, err)) return false;

    char tmp[4096];
    if (!fs_make_temp_dir(dir, tmp, sizeof tmp, err)) {
        lf_error_prefix(err, "cannot save the adapter to %s", dir);
        return false;
    }
    if (!write_adapter_files(tmp, ac, m, slots, state, err)) {
        lf_error_prefix(err, "saving the adapter to %s", dir);
        fs_remove_dir(tmp, ADAPTER_FILES);
        return false;
    }
    return fs_replace_dir(tmp, dir, ADAPTER_FILES, err);
}

bool adapter_check_writable(const char *dir, LfError *err) {
    /* said before training, not after it */
    if (exists(dir) && !check_replaceable(dir, err)) return false;
    char tmp[4096];
    if (!fs_make_temp_dir(dir, tmp, sizeof tmp, err)) {
        lf_error_prefix(err, "cannot save the adapter to %s", dir);
        return false;
    }
    rmdir(tmp);
    return true;
}

/* ---- loading ----------------------------------------------------------- */

/* The name f holds `name` under: a file from Python PEFT may spell it in
 * several ways (peft_import.h); a missing one keeps lorafit's spelling, for
 * the error. */
static const char *held_name(const StFile *f, const AdapterConfig *ac, const char *name, char *buf, size_t cap) {
    for (int k = 0; ac->from_peft && peft_name_variant(name, k, buf, cap); k++)
        if (st_find(f, buf)) return buf;
    return name;
}

/* Copies tensor `name` of shape [d0, d1] (d1 = 0 for 1-D) into dst,
 * transposing when asked (PEFT's layouts are the transposes of ours). */
static bool load_tensor(const StFile *f, const char *name, int64_t d0, int64_t d1, bool transpose, float *dst,
                        LfError *err) {
    const int64_t shape[2] = {d0, d1};
    if (!transpose) return st_load_f32(f, name, d1 ? 2 : 1, shape, dst, err);
    size_t n = (size_t)d0 * (size_t)d1;
    float *tmp = malloc(n * sizeof *tmp);
    if (!tmp) {
        lf_error_set(err, LF_ERR_IO, "out of memory");
        return false;
    }
    bool ok = st_load_f32(f, name, 2, shape, tmp, err);
    for (int64_t i = 0; ok && i < d0; i++)
        for (int64_t j = 0; j < d1; j++) dst[(size_t)j * (size_t)d0 + (size_t)i] = tmp[(size_t)i * (size_t)d1 + (size_t)j];
    free(tmp);
    return ok;
}

bool adapter_load_weights(const char *dir, const AdapterConfig *ac, Gpt2Model *m, const LoraSlot *slots,
                          LfError *err) {
    char path[4096], name[NAME_MAX_LEN];
    join(path, sizeof path, dir, ADAPTER_WEIGHTS_FILE);
    StFile *f = st_open(path, err);
    if (!f) return false;
    bool peft = ac->naming == MODTREE_HF, ok = true;
    char held[NAME_MAX_LEN];
    for (int i = 0; ok && i < m->n_adapters; i++) {
        const Gpt2Adapter *a = &m->adapters[i];
        tensor_name(name, ac, &slots[i], 'A');
        const char *n = held_name(f, ac, name, held, sizeof held);
        ok = peft ? load_tensor(f, n, a->rank, a->in, true, m->lora_A[i], err)
                  : load_tensor(f, n, a->in, a->rank, false, m->lora_A[i], err);
        tensor_name(name, ac, &slots[i], 'B');
        n = held_name(f, ac, name, held, sizeof held);
        ok = ok && (peft ? load_tensor(f, n, a->out, a->rank, true, m->lora_B[i], err)
                         : load_tensor(f, n, a->rank, a->out, false, m->lora_B[i], err));
    }
    bool head = ac->task != ADAPTER_TASK_CAUSAL_LM; /* an LM adapter's head is the frozen wte */
    const char *bias = head ? held_name(f, ac, head_name(ac, true), name, sizeof name) : NULL;
    /* GPT2ForSequenceClassification's score has no bias: PEFT's files have none to load */
    bool no_bias = head && ac->from_peft && !st_find(f, bias);
    if (no_bias) memset(m->head_b, 0, (size_t)m->n_classes * sizeof *m->head_b);
    ok = ok && (!head || (load_tensor(f, held_name(f, ac, head_name(ac, false), held, sizeof held), m->n_classes,
                                      m->cfg.n_embd, false, m->head_w, err) &&
                          (no_bias || load_tensor(f, bias, m->n_classes, 0, false, m->head_b, err))));
    int expected = 2 * m->n_adapters + (head ? 2 : 0) - no_bias;
    if (ok && st_count(f) != expected) {
        lf_error_set(err, LF_ERR_INPUT, "%s: holds %d tensors, expected %d (2 per adapter%s)", path, st_count(f),
                     expected, head ? " and the head" : "");
        ok = false;
    }
    st_close(f);
    return ok;
}

bool adapter_open_alone(const char *dir, const Gpt2Weights *base, AdapterConfig *ac, Gpt2Weights *shape,
                        Classifier *net, LfError *err) {
    memset(net, 0, sizeof *net);
    if (!adapter_load_config(dir, ac, err)) return false;
    memset(shape, 0, sizeof *shape);
    shape->cfg = ac->base;
    if (!shape->cfg.n_head) shape->cfg.n_head = 1;
    if (!shape->cfg.vocab_size) shape->cfg.vocab_size = 1;
    if (!shape->cfg.n_ctx) shape->cfg.n_ctx = 1;
    int n_classes = ac->task == ADAPTER_TASK_CAUSAL_LM ? 0 : ac->n_classes;
    /* the shapes first: another base's is said as such, not as a misshapen tensor */
    if (base && !adapter_check_base(ac, &base->cfg, 0, err)) return false;
    return classifier_build(net, base ? base : shape, ac->naming, &ac->lora, n_classes, 1, 1, 0, err) &&
           adapter_load_weights(dir, ac, &net->model, net->slots, err);
}
