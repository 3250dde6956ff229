/* sampler.c - the next token from logits. See include/lorafit/engine/sampler.h. */
#include "lorafit/engine/sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

SamplerConfig sampler_config_default(void) {
    return (SamplerConfig){.temperature = 0.0, .top_k = 0, .top_p = 1.0, .repetition_penalty = 1.0, .seed = 0};
}

bool sampler_config_validate(const SamplerConfig *c, LfError *err) {
    const char *bad = !(c->temperature >= 0.0 && isfinite(c->temperature)) ? "--temperature must be 0 or more"
                      : c->top_k < 0                                       ? "--top-k must be 0 (off) or more"
                      : !(c->top_p > 0.0 && c->top_p <= 1.0)               ? "--top-p must be in (0, 1]"
                      : !(c->repetition_penalty > 0.0 && isfinite(c->repetition_penalty))
                          ? "--repetition-penalty must be more than 0"
                          : NULL;
    if (bad) lf_error_set(err, LF_ERR_INPUT, "%s", bad);
    return bad == NULL;
}

bool sampler_init(Sampler *s, const SamplerConfig *cfg, int V, LfError *err) {
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    s->V = V;
    s->probs = malloc((size_t)V * sizeof *s->probs);
    s->order = malloc((size_t)V * sizeof *s->order);
    s->seen = calloc((size_t)V, 1);
    if (!s->probs || !s->order || !s->seen) {
        sampler_free(s);
        lf_error_set(err, LF_ERR_IO, "out of memory");
        return false;
    }
    sampler_reset(s);
    return true;
}

void sampler_free(Sampler *s) {
    free(s->probs);
    free(s->order);
    free(s->seen);
    memset(s, 0, sizeof *s);
}

void sampler_reset(Sampler *s) { rng_seed(&s->rng, s->cfg.seed); }

void sampler_penalize(Sampler *s, float *logits, const int32_t *history, int n) {
    const float p = (float)s->cfg.repetition_penalty;
    if (p == 1.0f) return;
    for (int i = 0; i < n; i++) {
        int32_t t = history[i];
        if (t < 0 || t >= s->V || s->seen[t]) continue;
        s->seen[t] = 1;
        logits[t] = logits[t] > 0.0f ? logits[t] / p : logits[t] * p;
    }
    for (int i = 0; i < n; i++)
        if (history[i] >= 0 && history[i] < s->V) s->seen[history[i]] = 0;
}

static int argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

static int by_falling_value(const void *a, const void *b) {
    const SamplerEntry *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? 1 : -1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Fills s->order with the tokens by falling logit (ties by id). */
static void sort_by_logit(Sampler *s, const float *logits) {
    for (int i = 0; i < s->V; i++) s->order[i] = (SamplerEntry){logits[i], i};
    qsort(s->order, (size_t)s->V, sizeof *s->order, by_falling_value);
}

/* s->probs = the distribution to draw from, in double. */
static void build_distribution(Sampler *s, float *logits, const int32_t *history, int n) {
    const int V = s->V;
    const SamplerConfig *c = &s->cfg;
    sampler_penalize(s, logits, history, n);
    bool sorted = c->top_k > 0 || c->top_p < 1.0;
    if (sorted) sort_by_logit(s, logits);
    /* top-k: everything below the k-th largest logit is cut */
    float floor_logit = -INFINITY;
    if (sorted && c->top_k > 0 && c->top_k < V) floor_logit = s->order[c->top_k - 1].v;
    const double mx = logits[argmax(logits, V)];
    double sum = 0.0;
    for (int i = 0; i < V; i++) {
        double p = logits[i] >= floor_logit ? exp(((double)logits[i] - mx) / c->temperature) : 0.0;
        s->probs[i] = p;
        sum += p;
    }
    for (int i = 0; i < V; i++) s->probs[i] /= sum;
    if (sorted && c->top_p < 1.0) {
        /* keep while the mass before a token is below p; the first always */
        double before = 0.0;
        int i = 0;
        for (; i < V && (i == 0 || before < c->top_p); i++) before += s->probs[s->order[i].id];
        for (; i < V; i++) s->probs[s->order[i].id] = 0.0;
        for (int j = 0; j < V; j++) s->probs[j] /= before;
    }
}

void sampler_distribution(Sampler *s, float *logits, const int32_t *history, int n, float *probs) {
    build_distribution(s, logits, history, n);
    for (int i = 0; i < s->V; i++) probs[i] = (float)s->probs[i];
}

int sampler_pick(Sampler *s, float *logits, const int32_t *history, int n) {
    if (s->cfg.temperature == 0.0) {
        sampler_penalize(s, logits, history, n);
        return argmax(logits, s->V);
    }
    build_distribution(s, logits, history, n);
    /* inverse CDF in id order; the last token with mass takes any rounding */
    double u = rng_double(&s->rng), acc = 0.0;
    int last = 0;
    for (int i = 0; i < s->V; i++) {
        if (s->probs[i] == 0.0) continue;
        last = i;
        acc += s->probs[i];
        if (u < acc) return i;
    }
    return last;
}
