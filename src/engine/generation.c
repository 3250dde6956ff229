/* generation.c - the decode loop. See include/lorafit/engine/generation.h. */
#include "lorafit/engine/generation.h"

#include <stdlib.h>
#include <string.h>

bool generation_init(Generation *g, const Gpt2Model *m, int max_B, int max_T, const SamplerConfig *sc,
                     LfError *err) {
    memset(g, 0, sizeof *g);
    if (!sampler_config_validate(sc, err) || !decoder_init(&g->dec, m, max_B, max_T, err)) return false;
    g->max_B = max_B;
    g->V = m->cfg.vocab_size;
    g->samplers = calloc((size_t)max_B, sizeof *g->samplers);
    g->logits = malloc((size_t)max_B * g->V * sizeof *g->logits);
    g->active = malloc((size_t)max_B * sizeof *g->active);
    g->next = malloc((size_t)max_B * sizeof *g->next);
    if (!g->samplers || !g->logits || !g->active || !g->next) {
        lf_error_set(err, LF_ERR_IO, "out of memory");
        return false;
    }
    /* the logits rows stay V long; the samplers read their first n_ids */
    int n_ids = g->V < TOK_GPT2_VOCAB_SIZE ? g->V : TOK_GPT2_VOCAB_SIZE;
    for (int b = 0; b < max_B; b++)
        if (!sampler_init(&g->samplers[b], sc, n_ids, err)) return false;
    return true;
}

void generation_free(Generation *g) {
    for (int b = 0; g->samplers && b < g->max_B; b++) sampler_free(&g->samplers[b]);
    free(g->samplers);
    free(g->logits);
    free(g->active);
    free(g->next);
    decoder_free(&g->dec);
    memset(g, 0, sizeof *g);
}

static bool ids_push(TokIds *ids, int32_t id) {
    if (ids->n == ids->cap) {
        size_t cap = 2 * ids->cap + 16;
        int32_t *grown = realloc(ids->ids, cap * sizeof *grown);
        if (!grown) return false;
        ids->ids = grown;
        ids->cap = cap;
    }
    ids->ids[ids->n++] = id;
    return true;
}

static bool is_stop_id(const GenRequest *r, int32_t id) {
    for (int i = 0; i < r->n_stop_ids; i++)
        if (r->stop_ids[i] == id) return true;
    return false;
}

/* Appends id to s and decides whether it ends s (see the header's order). */
static bool take_token(const Generation *g, const GenRequest *r, GenSequence *s, int i, int32_t id, LfError *err) {
    if (!ids_push(&s->ids, id)) {
        lf_error_set(err, LF_ERR_IO, "out of memory");
        return false;
    }
    s->stop = is_stop_id(r, id)                                ? GEN_STOP_ID
              : s->ids.n - s->n_prompt >= (size_t)r->max_new   ? GEN_STOP_LENGTH
              : s->ids.n >= (size_t)g->dec.max_T               ? GEN_STOP_CONTEXT
                                                               : GEN_RUNNING;
    GenVerdict v = r->on_token ? r->on_token(r->user, i, s, id, err) : GEN_NEXT;
    if (v == GEN_FAIL) return false;
    if (v == GEN_END && s->stop != GEN_STOP_ID) s->stop = GEN_STOP_CALLER;
    return true;
}

bool generation_run(Generation *g, GenSequence *seqs, int n, const GenRequest *r, LfError *err) {
    if (n < 1 || n > g->max_B) {
        lf_error_set(err, LF_ERR_INPUT, "%d sequences for a generation of at most %d", n, g->max_B);
        return false;
    }
    int n_active = 0;
    for (int b = 0; b < n; b++) {
        GenSequence *s = &seqs[b];
        s->stop = GEN_RUNNING;
        sampler_reset(&g->samplers[b]);
        if (!decoder_prefill(&g->dec, b, s->ids.ids, (int)s->n_prompt, g->logits + (size_t)b * g->V, err))
            return false;
        g->active[n_active++] = b;
    }
    /* logits row i belongs to slot active[i]: prefill wrote row b for slot
     * b, and each step writes its rows in the order of the slots it ran */
    while (n_active > 0) {
        int kept = 0;
        for (int i = 0; i < n_active; i++) {
            int b = g->active[i];
            GenSequence *s = &seqs[b];
            int32_t id = sampler_pick(&g->samplers[b], g->logits + (size_t)i * g->V, s->ids.ids, (int)s->ids.n);
            if (!take_token(g, r, s, b, id, err)) return false;
            if (s->stop == GEN_RUNNING) g->active[kept] = b, g->next[kept++] = id;
        }
        n_active = kept;
        if (n_active && !decoder_step(&g->dec, n_active, g->active, g->next, g->logits, err)) return false;
    }
    return true;
}
