/* test_adapter_roundtrip.c - an adapter and its training state saved and
 * loaded again hold every value they held, with the labs' and PEFT's tensor
 * names; the files have the layout adapter.h promises; a damaged file is
 * refused with a message naming it.
 *
 * Expected values come from formulas (param_value, moment_value), never
 * from what the program wrote. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "lorafit/engine/gpt2.h"
#include "lorafit/engine/optim.h"
#include "lorafit/engine/random_weights.h"
#include "lorafit/io/adapter.h"
#include "lorafit/io/safetensors.h"

#define N_CLASSES 3

/* Distinct, exactly representable values: i / 1024 - 2 for parameter i. */
static float param_value(size_t i) { return (float)i / 1024.0f - 2.0f; }
static float moment_value(size_t i, int which) { return which ? (float)i / 4096.0f : -(float)i / 512.0f; }

/* Two adapters of a 2-block, C = 16 model, named in the given style. */
static void make_slots(LoraSlot slots[2], bool peft) {
    LoraSlot a = {"trf_blocks.0.att.W_query", 0, SITE_Q, 16, 16, 4, 8.0};
    LoraSlot b = {"trf_blocks.1.ff.layers.0", 1, SITE_FC, 16, 64, 4, 8.0};
    if (peft) {
        a = (LoraSlot){"transformer.h.0.attn.c_attn", 0, SITE_QKV, 16, 48, 4, 8.0};
        b = (LoraSlot){"transformer.h.1.mlp.c_fc", 1, SITE_FC, 16, 64, 4, 8.0};
    }
    slots[0] = a;
    slots[1] = b;
}

static void make_config(AdapterConfig *ac, const Gpt2Config *base, bool peft) {
    memset(ac, 0, sizeof *ac);
    ac->base = *base;
    ac->base_fingerprint = 0x0123456789abcdefULL;
    ac->lora = lora_config_default();
    ac->lora.rank = 4;
    ac->lora.alpha = 8.0;
    ac->lora.scaling = peft ? LORA_SCALE_ALPHA : LORA_SCALE_RANK;
    ac->lora.init = peft ? LORA_INIT_PEFT : LORA_INIT_LABS;
    ac->lora.dropout = 0.125;
    ac->lora.n_targets = 2;
    snprintf(ac->lora.targets[0], sizeof ac->lora.targets[0], "%s", peft ? "c_attn" : "W_query");
    snprintf(ac->lora.targets[1], sizeof ac->lora.targets[1], "%s", peft ? "c_fc" : "ff.layers.0");
    ac->naming = peft ? MODTREE_HF : MODTREE_LABS;
    ac->pool = peft ? POOL_LAST_POSITION : POOL_LAST_TOKEN;
    ac->max_length = 12;
    ac->training = (AdapterTraining){5e-4, 0.01, 1.5, 4, 3, 0xfedcba9876543210ULL, true, 0x1122334455667788ULL, 747, 0, 1};
}

static bool same_config(const AdapterConfig *a, const AdapterConfig *b) {
    const Gpt2Config *x = &a->base, *y = &b->base;
    const AdapterTraining *s = &a->training, *t = &b->training;
    bool same = x->n_layer == y->n_layer && x->n_embd == y->n_embd && x->n_head == y->n_head &&
                x->vocab_size == y->vocab_size && x->n_ctx == y->n_ctx && x->qkv_bias == y->qkv_bias &&
                a->base_fingerprint == b->base_fingerprint &&
                a->lora.rank == b->lora.rank && a->lora.alpha == b->lora.alpha &&
                a->lora.scaling == b->lora.scaling && a->lora.init == b->lora.init &&
                a->lora.dropout == b->lora.dropout && a->lora.n_targets == b->lora.n_targets &&
                a->naming == b->naming && a->pool == b->pool && a->max_length == b->max_length &&
                a->n_classes == b->n_classes && s->lr == t->lr && s->weight_decay == t->weight_decay &&
                s->grad_clip == t->grad_clip && s->batch_size == t->batch_size && s->epochs == t->epochs &&
                s->seed == t->seed && s->drop_last == t->drop_last && s->train_digest == t->train_digest &&
                s->train_rows == t->train_rows;
    for (int i = 0; same && i < a->lora.n_targets; i++) same = strcmp(a->lora.targets[i], b->lora.targets[i]) == 0;
    for (int i = 0; same && i < a->n_classes; i++) same = strcmp(a->class_names[i], b->class_names[i]) == 0;
    return same;
}

static void join(char *out, size_t size, const char *dir, const char *file) {
    if (snprintf(out, size, "%s/%s", dir, file) >= (int)size) out[0] = '\0';
}

/* Cuts the file at path to half its length. */
static void truncate_half(const char *path) {
    struct stat st;
    if (stat(path, &st) == 0) CHECK(truncate(path, st.st_size / 2) == 0, "truncate %s", path);
}

/* The PEFT file holds lora_A as [rank, in] = A^T and lora_B as [out, rank] =
 * B^T (adapter.h); the labs file holds A [in, rank] and B [rank, out]. */
static void check_layout(const char *dir, const Gpt2Model *m, bool peft) {
    char path[4096];
    join(path, sizeof path, dir, ADAPTER_WEIGHTS_FILE);
    LfError err = {0};
    StFile *f = st_open(path, &err);
    CHECK(f != NULL, "open %s: %s", path, err.msg);
    if (!f) return;
    const Gpt2Adapter *a = &m->adapters[0];
    const char *an = peft ? "base_model.model.transformer.h.0.attn.c_attn.lora_A.weight"
                          : "trf_blocks.0.att.W_query.lora.A";
    const char *bn = peft ? "base_model.model.transformer.h.0.attn.c_attn.lora_B.weight"
                          : "trf_blocks.0.att.W_query.lora.B";
    const StTensor *ta = st_find(f, an), *tb = st_find(f, bn);
    CHECK(ta && ta->ndim == 2 && ta->shape[0] == (peft ? a->rank : a->in), "%s shape", an);
    CHECK(tb && tb->ndim == 2 && tb->shape[0] == (peft ? a->out : a->rank), "%s shape", bn);
    const float *A = ta ? st_f32_view(ta) : NULL, *B = tb ? st_f32_view(tb) : NULL;
    size_t off_a = (size_t)(m->lora_A[0] - m->params), off_b = (size_t)(m->lora_B[0] - m->params);
    bool ok = A && B;
    for (int k = 0; ok && k < a->in; k++)
        for (int r = 0; ok && r < a->rank; r++)
            ok = A[peft ? (size_t)r * a->in + k : (size_t)k * a->rank + r] == param_value(off_a + (size_t)k * a->rank + r);
    for (int r = 0; ok && r < a->rank; r++)
        for (int o = 0; ok && o < a->out; o++)
            ok = B[peft ? (size_t)o * a->rank + r : (size_t)r * a->out + o] == param_value(off_b + (size_t)r * a->out + o);
    CHECK(ok, "%s: A and B as the header promises", peft ? "peft" : "labs");
    const char *head = peft ? "base_model.model.score.weight" : "out_head.weight";
    const char *bias = peft ? "base_model.model.score.bias" : "out_head.bias";
    CHECK(st_find(f, head) && st_find(f, bias) && st_count(f) == 2 * m->n_adapters + 2, "head tensors and count");
    st_close(f);
}

static void roundtrip(const Gpt2Weights *w, const char *tmp, bool peft) {
    const char *style = peft ? "peft" : "labs";
    LfError err = {0};
    LoraSlot slots[2];
    make_slots(slots, peft);
    LoraConfig lc = lora_config_default();
    /* `back` is built as classify and generate build theirs: no initial
     * values, since the load must replace every parameter */
    LoraConfig lc_loaded = lc;
    lc_loaded.init = LORA_INIT_NONE;
    Gpt2Model m, back;
    if (!gpt2_build(&m, w, slots, 2, &lc, N_CLASSES, 1, 8, 1, &err) ||
        !gpt2_build(&back, w, slots, 2, &lc_loaded, N_CLASSES, 1, 8, 2, &err)) {
        CHECK(false, "%s: build: %s", style, err.msg);
        return;
    }
    size_t nonzero = 0;
    for (size_t i = 0; i < back.n_params; i++) nonzero += back.params[i] != 0.0f;
    CHECK(nonzero == 0, "%s: LORA_INIT_NONE left %zu of %zu parameters nonzero", style, nonzero, back.n_params);
    for (size_t i = 0; i < m.n_params; i++) m.params[i] = param_value(i);

    AdamW opt, opt_back;
    bool have_opt = adamw_build(&opt, m.n_params, 1e-3f, 0.0f, &err) &&
                    adamw_build(&opt_back, back.n_params, 1e-3f, 0.0f, &err);
    CHECK(have_opt, "adamw: %s", err.msg);
    if (!have_opt) return;
    for (size_t i = 0; i < opt.n; i++) opt.m[i] = moment_value(i, 0), opt.v[i] = moment_value(i, 1);
    opt.step = 17;
    float loss[4] = {0.75f, 0.5f, 0.25f, 0.125f}, acc[4] = {0.5f, 0.625f, 0.75f, 1.0f};
    TrainState st = {2, 5, 41, false, {1, 2, 0x8000000000000000ULL, 0xdeadbeefcafef00dULL}, &opt, 4, loss, acc};

    AdapterConfig ac, ac_back;
    make_config(&ac, &w->cfg, peft);
    const char *names[N_CLASSES] = {"ham", "spam", "a \"quoted\", name"};
    CHECK(adapter_config_set_classes(&ac, names, N_CLASSES, &err), "classes");

    char dir[4096], path[4096];
    snprintf(dir, sizeof dir, "%s/adapter-%s", tmp, style);
    CHECK(adapter_save(dir, &ac, &m, slots, &st, true, &err), "%s: save: %s", style, err.msg);

    /* Loaded into a fresh model and optimizer: every value and field equal. */
    CHECK(adapter_load_config(dir, &ac_back, &err), "%s: load config: %s", style, err.msg);
    CHECK(same_config(&ac, &ac_back), "%s: the config round-trips", style);
    CHECK(adapter_check_base(&ac_back, &w->cfg, ac.base_fingerprint, &err), "%s: base check: %s", style, err.msg);
    CHECK(adapter_load_weights(dir, &ac_back, &back, slots, &err), "%s: load weights: %s", style, err.msg);
    size_t diff = 0;
    for (size_t i = 0; i < back.n_params; i++) diff += back.params[i] != param_value(i);
    CHECK(back.n_params == m.n_params && diff == 0, "%s: %zu of %zu parameters differ", style, diff, back.n_params);

    TrainState got;
    CHECK(train_state_load(dir, &got, &opt_back, &err), "%s: load state: %s", style, err.msg);
    diff = 0;
    for (size_t i = 0; i < opt_back.n; i++)
        diff += opt_back.m[i] != moment_value(i, 0) || opt_back.v[i] != moment_value(i, 1);
    CHECK(diff == 0 && opt_back.step == 17, "%s: moments (%zu differ) and step %d", style, diff, opt_back.step);
    CHECK(got.epoch == 2 && got.batch == 5 && got.step == 41 && !got.complete, "%s: where training stood", style);
    CHECK(memcmp(got.rng, st.rng, sizeof st.rng) == 0, "%s: rng", style);
    CHECK(got.n_points == 4 && got.point_loss && memcmp(got.point_loss, loss, sizeof loss) == 0 &&
              memcmp(got.point_acc, acc, sizeof acc) == 0,
          "%s: history", style);
    free((void *)got.point_loss);
    free((void *)got.point_acc);
    check_layout(dir, &m, peft);

    /* Replacing: refused without overwrite, and never over a non-adapter. */
    CHECK(!adapter_save(dir, &ac, &m, slots, &st, false, &err) && strstr(err.msg, "--force"),
          "%s: an existing adapter is kept without --force: %s", style, err.msg);
    char other[4096];
    snprintf(other, sizeof other, "%s/not-an-adapter-%s", tmp, style);
    mkdir(other, 0777);
    CHECK(!adapter_save(other, &ac, &m, slots, NULL, true, &err) && strstr(err.msg, "not an adapter directory"),
          "%s: a directory that is no adapter is not replaced: %s", style, err.msg);
    rmdir(other);

    /* A shape that does not fit is refused, naming the tensor. */
    LoraSlot wide[2];
    make_slots(wide, peft);
    wide[0].rank = wide[1].rank = 2;
    Gpt2Model narrow;
    if (gpt2_build(&narrow, w, wide, 2, &lc, N_CLASSES, 1, 8, 3, &err)) {
        CHECK(!adapter_load_weights(dir, &ac_back, &narrow, wide, &err) && strstr(err.msg, "has shape"),
              "%s: another rank is refused: %s", style, err.msg);
        gpt2_free(&narrow);
    }

    /* Damaged files are refused, with their names in the message. */
    join(path, sizeof path, dir, ADAPTER_WEIGHTS_FILE);
    truncate_half(path);
    CHECK(!adapter_load_weights(dir, &ac_back, &back, slots, &err) && strstr(err.msg, path),
          "%s: a truncated weights file: %s", style, err.msg);
    join(path, sizeof path, dir, ADAPTER_STATE_FILE);
    truncate_half(path);
    CHECK(!train_state_load(dir, &got, &opt_back, &err) && strstr(err.msg, path),
          "%s: a truncated training state: %s", style, err.msg);
    join(path, sizeof path, dir, ADAPTER_CONFIG_FILE);
    FILE *f = fopen(path, "w");
    if (f) fputs("{\"format\": \"lorafit-adapter\", \"base_model\": {}}\n", f), fclose(f);
    AdapterConfig bad;
    CHECK(!adapter_load_config(dir, &bad, &err) && strstr(err.msg, path) && strstr(err.msg, "base_model.n_layer"),
          "%s: a config without the base shape: %s", style, err.msg);

    adapter_config_free(&ac);
    adapter_config_free(&ac_back);
    adamw_free(&opt);
    adamw_free(&opt_back);
    gpt2_free(&m);
    gpt2_free(&back);
}

int main(void) {
    const char *tmp = check_env("LORAFIT_TMP", "/tmp");
    Gpt2Config cfg = {2, 16, 2, 64, 16, true};
    LfError err = {0};
    Gpt2Weights *w = gpt2_weights_random(&cfg, 7, &err);
    CHECK(w != NULL, "random weights: %s", err.msg);
    if (!w) return check_done();
    roundtrip(w, tmp, false);
    roundtrip(w, tmp, true);
    gpt2_weights_random_free(w);
    return check_done();
}
