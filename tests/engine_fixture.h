/* engine_fixture.h - reading the engine fixtures that
 * scripts/reference/make_engine_fixtures.py writes (tests only).
 *
 * The tiny model is used in place from the mapped safetensors file (HF
 * names, Conv1D layout), without the checkpoint loader, so the engine tests
 * depend on nothing but the reader. */
#ifndef LORAFIT_TEST_ENGINE_FIXTURE_H
#define LORAFIT_TEST_ENGINE_FIXTURE_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/engine/gpt2.h"
#include "lorafit/io/safetensors.h"

/* A float tensor of the fixture, or NULL (with a message) when missing,
 * of the wrong size or not F32. */
static inline const float *fx_f32(const StFile *f, const char *name, size_t numel) {
    const StTensor *t = st_find(f, name);
    if (!t || t->dtype != ST_F32 || (size_t)t->numel != numel) {
        fprintf(stderr, "fixture %s: tensor %s missing or not F32[%zu]\n", st_path(f), name, numel);
        return NULL;
    }
    const float *p = st_f32_view(t);
    if (!p) fprintf(stderr, "fixture %s: tensor %s not aligned\n", st_path(f), name);
    return p;
}

static inline const int32_t *fx_i32(const StFile *f, const char *name, size_t numel) {
    const StTensor *t = st_find(f, name);
    if (!t || t->dtype != ST_I32 || (size_t)t->numel != numel) {
        fprintf(stderr, "fixture %s: tensor %s missing or not I32[%zu]\n", st_path(f), name, numel);
        return NULL;
    }
    return (const int32_t *)t->data;
}

static inline int fx_meta_int(const StFile *f, const char *key) {
    const char *v = st_metadata(f, key);
    return v ? atoi(v) : -1;
}

/* Points w's fields at the tensors of an HF-layout GPT-2 file (config from
 * the metadata). layers must hold n_layer entries. False when a tensor is
 * missing. */
static inline bool fx_weights(const StFile *f, Gpt2Weights *w, Gpt2LayerWeights *layers, int max_layers) {
    Gpt2Config c = {fx_meta_int(f, "n_layer"), fx_meta_int(f, "n_embd"), fx_meta_int(f, "n_head"),
                    fx_meta_int(f, "vocab_size"), fx_meta_int(f, "n_ctx"), true};
    if (c.n_layer < 1 || c.n_layer > max_layers) return false;
    const size_t C = (size_t)c.n_embd;
    w->cfg = c;
    w->layers = layers;
    bool ok = (w->wte = fx_f32(f, "wte.weight", (size_t)c.vocab_size * C)) &&
              (w->wpe = fx_f32(f, "wpe.weight", (size_t)c.n_ctx * C)) &&
              (w->lnf_w = fx_f32(f, "ln_f.weight", C)) && (w->lnf_b = fx_f32(f, "ln_f.bias", C));
    for (int l = 0; ok && l < c.n_layer; l++) {
        Gpt2LayerWeights *lw = &layers[l];
        memset(lw, 0, sizeof *lw); /* no quantized forms */
        char n[128];
#define FX(field, suffix, count) \
    (snprintf(n, sizeof n, "h.%d.%s", l, suffix), (lw->field = fx_f32(f, n, count)) != NULL)
        ok = FX(ln1_w, "ln_1.weight", C) && FX(ln1_b, "ln_1.bias", C) &&
             FX(qkv_w, "attn.c_attn.weight", C * 3 * C) && FX(qkv_b, "attn.c_attn.bias", 3 * C) &&
             FX(attn_proj_w, "attn.c_proj.weight", C * C) && FX(attn_proj_b, "attn.c_proj.bias", C) &&
             FX(ln2_w, "ln_2.weight", C) && FX(ln2_b, "ln_2.bias", C) &&
             FX(fc_w, "mlp.c_fc.weight", C * 4 * C) && FX(fc_b, "mlp.c_fc.bias", 4 * C) &&
             FX(fc_proj_w, "mlp.c_proj.weight", 4 * C * C) && FX(fc_proj_b, "mlp.c_proj.bias", C);
#undef FX
    }
    return ok;
}

/* Opens the tiny model, tests/fixtures/engine/tiny.safetensors below
 * source_dir, and points w at its tensors (layers holds max_layers).
 * NULL, with the reason on stderr, when either fails; st_close() it. */
static inline StFile *fx_open_tiny(const char *source_dir, Gpt2Weights *w, Gpt2LayerWeights *layers,
                                   int max_layers) {
    char path[4200];
    snprintf(path, sizeof path, "%s/tests/fixtures/engine/tiny.safetensors", source_dir);
    LfError err = {0};
    StFile *f = st_open(path, &err);
    if (!f) {
        fprintf(stderr, "%s\n", err.msg);
        return NULL;
    }
    if (!fx_weights(f, w, layers, max_layers)) {
        fprintf(stderr, "%s: not the tiny model's tensors\n", path);
        st_close(f);
        return NULL;
    }
    return f;
}

static inline LinearSite fx_site(const char *s) {
    static const char *names[] = {"q", "k", "v", "qkv", "attn_out", "fc", "fc_proj"};
    for (int i = 0; i < 7; i++)
        if (strcmp(s, names[i]) == 0) return (LinearSite)i;
    return SITE_NONE;
}

/* The "adapters" metadata ([[name, layer, site, in, out, rank], ...]) as
 * slots with the given alpha. Returns how many, or -1. */
static inline int fx_slots(const StFile *f, LoraSlot *slots, int max, double alpha) {
    const char *js = st_metadata(f, "adapters");
    cJSON *root = js ? cJSON_Parse(js) : NULL;
    int n = root ? cJSON_GetArraySize(root) : -1;
    if (n > max) n = -1;
    for (int i = 0; i < n; i++) {
        cJSON *e = cJSON_GetArrayItem(root, i);
        LoraSlot *s = &slots[i];
        memset(s, 0, sizeof *s);
        snprintf(s->name, sizeof s->name, "%s", cJSON_GetArrayItem(e, 0)->valuestring);
        s->layer = cJSON_GetArrayItem(e, 1)->valueint;
        s->site = fx_site(cJSON_GetArrayItem(e, 2)->valuestring);
        s->in = cJSON_GetArrayItem(e, 3)->valueint;
        s->out = cJSON_GetArrayItem(e, 4)->valueint;
        s->rank = cJSON_GetArrayItem(e, 5)->valueint;
        s->alpha = alpha;
    }
    cJSON_Delete(root);
    return n;
}

/* Worst error of got against want: max |d| and max |d| / max(1, |want|). */
typedef struct {
    double abs, rel;
} FxErr;

static inline void fx_err_add(FxErr *e, const float *got, const float *want, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        double s = fabs(want[i]) > 1.0 ? fabs(want[i]) : 1.0;
        if (d > e->abs) e->abs = d;
        if (d / s > e->rel) e->rel = d / s;
    }
}

#endif
