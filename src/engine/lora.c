/* lora.c - the LoRA injection pass. See include/lorafit/engine/lora.h. */
#include "lorafit/engine/lora.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

LoraConfig lora_config_default(void) {
    LoraConfig lc;
    memset(&lc, 0, sizeof lc);
    lc.rank = 8;
    lc.alpha = 16.0;
    lc.scaling = LORA_SCALE_RANK;
    lc.init = LORA_INIT_LABS;
    lc.dropout = 0.0;
    return lc;
}

bool lora_config_set_targets(LoraConfig *lc, const char *list, LfError *err) {
    int n = 0;
    const char *p = list;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && (*p == ' ')) p++, len--;
        while (len && p[len - 1] == ' ') len--;
        if (len == 0) {
            lf_error_set(err, LF_ERR_INPUT, "empty name in the target list '%s'", list);
            return false;
        }
        if (n == LORA_MAX_TARGETS || len >= sizeof lc->targets[0]) {
            lf_error_set(err, LF_ERR_INPUT, "target list '%s': at most %d names of at most %zu characters",
                         list, LORA_MAX_TARGETS, sizeof lc->targets[0] - 1);
            return false;
        }
        memcpy(lc->targets[n], p, len);
        lc->targets[n][len] = '\0';
        n++;
        if (!end) break;
        p = end + 1;
    }
    lc->n_targets = n;
    return true;
}

/* The last dotted component of a name: "attn.c_proj" -> "c_proj". */
static const char *last_component(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot ? dot + 1 : name;
}

ModTreeStyle lora_targets_style(const LoraConfig *lc) {
    for (int i = 0; i < lc->n_targets; i++) {
        const char *leaf = last_component(lc->targets[i]);
        if (!strcmp(leaf, "c_attn") || !strcmp(leaf, "c_proj") || !strcmp(leaf, "c_fc"))
            return MODTREE_HF;
    }
    return MODTREE_LABS;
}

double lora_scale(const LoraConfig *lc) {
    return lc->scaling == LORA_SCALE_RANK     ? lc->alpha / lc->rank
           : lc->scaling == LORA_SCALE_RSLORA ? lc->alpha / sqrt(lc->rank)
                                              : lc->alpha;
}

/* PEFT's rule: the full name equals the target or ends with "." + target. */
static bool target_matches(const char *full_name, const char *target) {
    if (strcmp(target, "all") == 0) return true;
    size_t n = strlen(full_name), k = strlen(target);
    if (n == k) return strcmp(full_name, target) == 0;
    return n > k && full_name[n - k - 1] == '.' && strcmp(full_name + n - k, target) == 0;
}

/* The Linears of the blocks, in tree order: what a target may name. */
typedef struct {
    Module **items;
    bool *chosen;
    int n, cap;
    bool out_of_memory;
} Candidates;

static void collect_candidate(Module *m, void *ctx) {
    Candidates *c = ctx;
    bool is_linear = m->kind == MOD_LINEAR || m->kind == MOD_CONV1D;
    if (!is_linear || m->layer < 0 || m->site == SITE_NONE || m->site == SITE_HEAD) return;
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 64;
        Module **items = realloc(c->items, (size_t)cap * sizeof *items);
        if (!items) {
            c->out_of_memory = true;
            return;
        }
        c->items = items;
        c->cap = cap;
    }
    c->items[c->n++] = m;
}

static void candidates_free(Candidates *c) {
    free(c->items);
    free(c->chosen);
}

static const char *target_names_hint(ModTreeStyle style) {
    return style == MODTREE_HF
               ? "c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj, c_fc, c_proj (both projections), all"
               : "W_query, W_key, W_value, out_proj, ff.layers.0, ff.layers.2, all";
}

/* Puts a wrapper of class `type` where `linear` was and makes `linear` its
 * first child under the name `inner_name`. NULL when out of memory. */
static Module *wrap(Module *linear, const char *type, const char *inner_name, const LoraConfig *lc) {
    Module *wrapper = modtree_new_module(NULL, linear->name, type, MOD_LORA_LINEAR, NULL);
    if (!wrapper) return NULL;
    wrapper->layer = linear->layer;
    wrapper->site = linear->site;
    wrapper->in_features = linear->in_features;
    wrapper->out_features = linear->out_features;
    wrapper->rank = lc->rank;
    wrapper->alpha = lc->alpha;
    modtree_swap(linear, wrapper);
    snprintf(linear->name, sizeof linear->name, "%s", inner_name);
    return modtree_adopt(wrapper, linear) ? wrapper : NULL;
}

/* The labs' LinearWithLoRA(linear, LoRALayer). */
static bool wrap_labs(Module *linear, const LoraConfig *lc) {
    Module *wrapper = wrap(linear, "LinearWithLoRA", "linear", lc);
    Module *lora = wrapper ? modtree_new_module(wrapper, "lora", "LoRALayer", MOD_LORA, NULL) : NULL;
    if (!lora) return false;
    lora->in_features = linear->in_features;
    lora->out_features = linear->out_features;
    lora->rank = lc->rank;
    lora->alpha = lc->alpha;
    return true;
}

/* A ModuleDict holding one Linear under "default", as PEFT keeps lora_A/B. */
static bool add_peft_linear(Module *wrapper, const char *dict_name, int in, int out) {
    Module *dict = modtree_new_module(wrapper, dict_name, "ModuleDict", MOD_CONTAINER, NULL);
    if (!dict) return false;
    char extra[80];
    snprintf(extra, sizeof extra, "in_features=%d, out_features=%d, bias=False", in, out);
    Module *lin = modtree_new_module(dict, "default", "Linear", MOD_LINEAR, extra);
    if (!lin) return false;
    lin->in_features = in;
    lin->out_features = out;
    return true;
}

/* PEFT's lora.Linear(base_layer, lora_dropout, lora_A, lora_B, ...). */
static bool wrap_peft(Module *base, const LoraConfig *lc) {
    Module *wrapper = wrap(base, "lora.Linear", "base_layer", lc);
    if (!wrapper) return false;

    Module *drop = modtree_new_module(wrapper, "lora_dropout", "ModuleDict", MOD_CONTAINER, NULL);
    if (!drop) return false;
    char extra[80];
    snprintf(extra, sizeof extra, "p=%g, inplace=False", lc->dropout);
    if (!(lc->dropout > 0 ? modtree_new_module(drop, "default", "Dropout", MOD_DROPOUT, extra)
                          : modtree_new_module(drop, "default", "Identity", MOD_IDENTITY, NULL)))
        return false;
    if (!add_peft_linear(wrapper, "lora_A", base->in_features, lc->rank)) return false;
    if (!add_peft_linear(wrapper, "lora_B", lc->rank, base->out_features)) return false;
    return modtree_new_module(wrapper, "lora_embedding_A", "ParameterDict", MOD_CONTAINER, NULL) &&
           modtree_new_module(wrapper, "lora_embedding_B", "ParameterDict", MOD_CONTAINER, NULL) &&
           modtree_new_module(wrapper, "lora_magnitude_vector", "ModuleDict", MOD_CONTAINER, NULL);
}

static bool select_targets(const ModTree *t, const LoraConfig *eff, Candidates *cands, LfError *err);
static bool wrap_chosen(ModTree *t, const LoraConfig *eff, const Candidates *cands, LfError *err);

bool lora_inject(ModTree *t, const LoraConfig *lc, LfError *err) {
    if (lc->rank < 1) {
        lf_error_set(err, LF_ERR_INPUT, "LoRA rank must be at least 1, got %d", lc->rank);
        return false;
    }
    if (!isfinite(lc->alpha)) {
        lf_error_set(err, LF_ERR_INPUT, "LoRA alpha must be a finite number");
        return false;
    }
    if (lc->dropout < 0 || lc->dropout >= 1) {
        lf_error_set(err, LF_ERR_INPUT, "LoRA dropout must be in [0, 1), got %g", lc->dropout);
        return false;
    }

    /* No targets: the labs wrap every Linear of the blocks; PEFT's default
     * for GPT-2 is the fused attention projection alone. */
    LoraConfig eff = *lc;
    if (eff.n_targets == 0) {
        eff.n_targets = 1;
        snprintf(eff.targets[0], sizeof eff.targets[0], "%s", t->style == MODTREE_HF ? "c_attn" : "all");
    }

    Candidates cands = {0};
    modtree_walk(t->root, collect_candidate, &cands);
    cands.chosen = calloc((size_t)cands.n + 1, sizeof *cands.chosen);
    if (cands.out_of_memory || !cands.chosen) {
        candidates_free(&cands);
        lf_error_set(err, LF_ERR_IO, "out of memory injecting LoRA layers");
        return false;
    }
    bool ok = select_targets(t, &eff, &cands, err) && wrap_chosen(t, &eff, &cands, err);
    candidates_free(&cands);
    return ok;
}

/* Marks the candidates some target names; a target naming none is an error. */
static bool select_targets(const ModTree *t, const LoraConfig *eff, Candidates *cands, LfError *err) {
    char name[128];
    for (int k = 0; k < eff->n_targets; k++) {
        int hits = 0;
        for (int i = 0; i < cands->n; i++) {
            modtree_path(cands->items[i], name, sizeof name);
            if (target_matches(name, eff->targets[k])) {
                cands->chosen[i] = true;
                hits++;
            }
        }
        if (hits == 0) {
            lf_error_set(err, LF_ERR_INPUT,
                         "unknown target '%s': it names no Linear in the blocks of the %s model "
                         "(targets here: %s)",
                         eff->targets[k], t->style == MODTREE_HF ? "Hugging Face" : "labs'",
                         target_names_hint(t->style));
            return false;
        }
    }
    return true;
}

static bool wrap_chosen(ModTree *t, const LoraConfig *eff, const Candidates *cands, LfError *err) {
    modtree_freeze_all(t);
    for (int i = 0; i < cands->n; i++) {
        if (!cands->chosen[i]) continue;
        bool ok = t->style == MODTREE_HF ? wrap_peft(cands->items[i], eff) : wrap_labs(cands->items[i], eff);
        if (!ok) {
            lf_error_set(err, LF_ERR_IO, "out of memory injecting LoRA layers");
            return false;
        }
    }
    return true;
}

typedef struct {
    LoraSlot *out;
    int max, n;
} SlotCtx;

static void collect_slot(Module *m, void *ctx) {
    SlotCtx *s = ctx;
    if (m->kind != MOD_LORA_LINEAR) return;
    if (s->out && s->n < s->max) {
        LoraSlot *slot = &s->out[s->n];
        *slot = (LoraSlot){.layer = m->layer, .site = m->site, .in = m->in_features, .out = m->out_features,
                           .rank = m->rank, .alpha = m->alpha};
        modtree_path(m, slot->name, sizeof slot->name);
    }
    s->n++;
}

int lora_slots(const ModTree *t, LoraSlot *out, int max) {
    SlotCtx ctx = {out, max, 0};
    modtree_walk(t->root, collect_slot, &ctx);
    return ctx.n;
}
