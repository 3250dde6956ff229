/* adapter_convert.c - see include/lorafit/io/adapter_convert.h */
#include "lorafit/io/adapter_convert.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/engine/classifier.h"
#include "lorafit/io/adapter.h"

/* The first column an adapter at `site` adds into in its block's matrix. */
static int site_column(LinearSite site, int C) { return site == SITE_K ? C : site == SITE_V ? 2 * C : 0; }

/* The target naming's site that holds column `col` of `stage`. */
static LinearSite target_site(ModTreeStyle to, BlockStage stage, int col, int C) {
    switch (stage) {
    case STAGE_QKV: return to == MODTREE_HF ? SITE_QKV : col < C ? SITE_Q : col < 2 * C ? SITE_K : SITE_V;
    case STAGE_ATTN_OUT: return SITE_ATTN_OUT;
    case STAGE_FC: return SITE_FC;
    case STAGE_FC_PROJ: return SITE_FC_PROJ;
    default: return SITE_NONE;
    }
}

static const char *site_target_name(ModTreeStyle to, LinearSite s) {
    static const char *const labs[] = {"W_query", "W_key", "W_value", NULL, "out_proj", "ff.layers.0", "ff.layers.2"};
    static const char *const peft[] = {NULL, NULL, NULL, "c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"};
    return s < 0 || s > SITE_FC_PROJ ? NULL : (to == MODTREE_HF ? peft : labs)[s];
}

#define N_SITES (SITE_FC_PROJ + 1)

/* One rank-one component: column i of source adapter `src`, going to
 * target site `site` of its block. */
typedef struct {
    int src, i;
    LinearSite site;
} Component;

typedef struct {
    const Gpt2Model *m;
    ModTreeStyle to;
    Component *comps;
    int n_comps;
    int *per_target; /* [n_layer * N_SITES] components per target adapter */
    bool used[N_SITES];
    int rank;        /* the most components any target adapter gets */
} Plan;

static bool all_zero(const float *x, size_t n, size_t stride) {
    for (size_t k = 0; k < n; k++)
        if (x[k * stride] != 0.0f) return false;
    return true;
}

/* Which target adapter component i of source adapter s goes to; SITE_NONE
 * (with the error set) when its columns span two. */
static LinearSite place_component(const Plan *p, int s, int i, const LoraSlot *slot, LfError *err) {
    const Gpt2Adapter *a = &p->m->adapters[s];
    int C = p->m->cfg.n_embd, col0 = site_column(a->site, C);
    const float *b = p->m->lora_B[s] + (size_t)i * a->out;
    LinearSite site = SITE_NONE;
    for (int o = 0; o < a->out; o++) {
        if (b[o] == 0.0f) continue;
        LinearSite t = target_site(p->to, linear_site_stage(a->site), col0 + o, C);
        if (site != SITE_NONE && t != site) {
            lf_error_set(err, LF_ERR_INPUT,
                         "%s: component %d of lora_B reaches both the %s and the %s columns of c_attn: the adapter is "
                         "not block structured and cannot be split into the labs' W_query, W_key, W_value",
                         slot->name, i, site_target_name(MODTREE_LABS, site), site_target_name(MODTREE_LABS, t));
            return SITE_NONE;
        }
        site = t;
    }
    return site;
}

static bool plan_components(Plan *p, const LoraSlot *slots, LfError *err) {
    const Gpt2Model *m = p->m;
    size_t total = 0;
    for (int s = 0; s < m->n_adapters; s++) total += (size_t)m->adapters[s].rank;
    p->comps = calloc(total + 1, sizeof *p->comps);
    p->per_target = calloc((size_t)m->cfg.n_layer * N_SITES, sizeof *p->per_target);
    if (!p->comps || !p->per_target) {
        lf_error_set(err, LF_ERR_IO, "out of memory");
        return false;
    }
    for (int s = 0; s < m->n_adapters; s++) {
        const Gpt2Adapter *a = &m->adapters[s];
        for (int i = 0; i < a->rank; i++) {
            if (all_zero(m->lora_A[s] + i, (size_t)a->in, (size_t)a->rank) ||
                all_zero(m->lora_B[s] + (size_t)i * a->out, (size_t)a->out, 1))
                continue; /* adds nothing */
            LinearSite site = place_component(p, s, i, &slots[s], err);
            if (site == SITE_NONE) return false;
            p->comps[p->n_comps++] = (Component){s, i, site};
            int *n = &p->per_target[a->layer * N_SITES + site];
            if (++*n > p->rank) p->rank = *n;
            p->used[site] = true;
        }
    }
    if (p->rank == 0) p->rank = 1; /* an adapter that adds nothing stays one */
    return true;
}

/* The converted adapter's settings: its naming, targets, rank, and an alpha
 * that keeps the scale. */
static bool target_config(const Plan *p, const AdapterConfig *from, AdapterConfig *to, LfError *err) {
    *to = *from;
    to->class_names = NULL;
    if (!adapter_config_set_classes(to, (const char *const *)from->class_names, from->n_classes, err)) return false;
    to->naming = p->to;
    to->lora.rank = p->rank;
    if (from->lora.scaling == LORA_SCALE_RANK) to->lora.alpha = from->lora.alpha * p->rank / from->lora.rank;
    if (from->lora.scaling == LORA_SCALE_RSLORA) to->lora.alpha = from->lora.alpha * sqrt((double)p->rank / from->lora.rank);
    to->lora.n_targets = 0;
    for (int s = 0; s < N_SITES; s++) {
        if (!p->used[s]) continue;
        snprintf(to->lora.targets[to->lora.n_targets++], sizeof to->lora.targets[0], "%s", site_target_name(p->to, s));
    }
    if (to->lora.n_targets == 0) /* nothing to carry over: keep one adapter, all zero */
        snprintf(to->lora.targets[to->lora.n_targets++], sizeof to->lora.targets[0], "%s",
                 site_target_name(p->to, p->to == MODTREE_HF ? SITE_QKV : SITE_Q));
    return true;
}

/* Copies every component into the target model, the k-th one of a target
 * adapter into its column / row k. */
static void fill_target(const Plan *p, Gpt2Model *t) {
    const Gpt2Model *m = p->m;
    int C = m->cfg.n_embd;
    int *next = calloc((size_t)m->cfg.n_layer * N_SITES, sizeof *next);
    if (!next) return;
    memset(t->params, 0, t->n_params * sizeof *t->params);
    for (int c = 0; c < p->n_comps; c++) {
        const Component *k = &p->comps[c];
        const Gpt2Adapter *a = &m->adapters[k->src];
        int j = 0;
        while (j < t->n_adapters && !(t->adapters[j].layer == a->layer && t->adapters[j].site == k->site)) j++;
        if (j == t->n_adapters) continue; /* cannot happen: the targets name every used site */
        const Gpt2Adapter *ta = &t->adapters[j];
        int r = next[a->layer * N_SITES + k->site]++;
        for (int x = 0; x < a->in; x++) t->lora_A[j][(size_t)x * ta->rank + r] = m->lora_A[k->src][(size_t)x * a->rank + k->i];
        int shift = site_column(a->site, C) - site_column(ta->site, C);
        /* the source columns the target holds (place_component found the others zero) */
        int lo = shift < 0 ? -shift : 0, hi = ta->out - shift < a->out ? ta->out - shift : a->out;
        for (int o = lo; o < hi; o++)
            t->lora_B[j][(size_t)r * ta->out + shift + o] = m->lora_B[k->src][(size_t)k->i * a->out + o];
    }
    if (m->n_classes) {
        memcpy(t->head_w, m->head_w, (size_t)m->n_classes * m->cfg.n_embd * sizeof *t->head_w);
        memcpy(t->head_b, m->head_b, (size_t)m->n_classes * sizeof *t->head_b);
    }
    free(next);
}

static void describe(const AdapterConfig *from, const AdapterConfig *to, const Plan *p, char *note, size_t cap) {
    note[0] = '\0';
    if (to->lora.rank == from->lora.rank) return;
    bool fused = p->to == MODTREE_HF && p->used[SITE_QKV];
    snprintf(note, cap,
             "%s; every adapter has rank %d (was %d; adapters with fewer components padded with zeros) and alpha %g "
             "(was %g), so every scale and update is unchanged",
             fused ? "the labs' W_query, W_key, W_value adapters of each block became one c_attn adapter, block "
                     "structured (lora_A the three stacked, lora_B block-diagonal)"
                   : p->to == MODTREE_LABS ? "each c_attn adapter was split into W_query, W_key, W_value"
                                           : "the adapters were renamed",
             to->lora.rank, from->lora.rank, to->lora.alpha, from->lora.alpha);
}

bool adapter_convert(const char *in_dir, const char *out_dir, ModTreeStyle to, bool overwrite, char *note,
                     size_t cap, LfError *err) {
    AdapterConfig from = {0}, conv = {0};
    Classifier src = {0}, dst = {0};
    Plan p = {.to = to};
    note[0] = '\0';
    Gpt2Weights shape;
    int n_classes = 0;
    bool ok = adapter_open_alone(in_dir, NULL, &from, &shape, &src, err);
    if (ok) n_classes = src.model.n_classes;
    p.m = &src.model;
    ok = ok && plan_components(&p, src.slots, err) && target_config(&p, &from, &conv, err) &&
         classifier_build(&dst, &shape, conv.naming, &conv.lora, n_classes, 1, 1, 0, err);
    if (ok) {
        fill_target(&p, &dst.model);
        ok = adapter_save(out_dir, &conv, &dst.model, dst.slots, NULL, overwrite, err);
    }
    if (ok) describe(&from, &conv, &p, note, cap);
    if (!ok) lf_error_prefix(err, "converting %s", in_dir);
    free(p.comps);
    free(p.per_target);
    classifier_free(&src);
    classifier_free(&dst);
    adapter_config_free(&from);
    adapter_config_free(&conv);
    return ok;
}
