/* random_weights.c - random frozen GPT-2 weights. See include/lorafit/engine/random_weights.h. */
#include "lorafit/engine/random_weights.h"

#include <math.h>
#include <stdlib.h>

#include "lorafit/util/rng.h"

typedef struct {
    Gpt2Weights w; /* first: the pointer handed out is this struct's */
    float *memory;
} RandomWeights;

static float normal(Rng *r) {
    /* Box-Muller; 1 - u keeps the log's argument in (0, 1] */
    double u = 1.0 - rng_double(r), v = rng_double(r);
    return (float)(sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v));
}

static const float *fill(float **cursor, size_t n, Rng *r, float mean, float std) {
    float *p = *cursor;
    for (size_t i = 0; i < n; i++) p[i] = mean + std * normal(r);
    *cursor += n;
    return p;
}

Gpt2Weights *gpt2_weights_random(const Gpt2Config *cfg, uint64_t seed, LfError *err) {
    if (!gpt2_config_validate(cfg, err)) return NULL;
    const size_t C = (size_t)cfg->n_embd, V = (size_t)cfg->vocab_size, P = (size_t)cfg->n_ctx;
    const size_t per_layer = 4 * C + (C * 3 * C + 3 * C) + (C * C + C) + (C * 4 * C + 4 * C) +
                             (4 * C * C + C);
    const size_t total = V * C + P * C + (size_t)cfg->n_layer * per_layer + 2 * C;
    RandomWeights *rw = calloc(1, sizeof *rw);
    Gpt2LayerWeights *layers = calloc((size_t)cfg->n_layer, sizeof *layers);
    float *mem = malloc(total * sizeof(float));
    if (!rw || !layers || !mem) {
        free(rw);
        free(layers);
        free(mem);
        lf_error_set(err, LF_ERR_IO, "out of memory for random weights (%zu floats)", total);
        return NULL;
    }
    Rng r;
    rng_seed(&r, seed);
    float *cur = mem;
    rw->memory = mem;
    rw->w.cfg = *cfg;
    rw->w.layers = layers;
    rw->w.wte = fill(&cur, V * C, &r, 0.0f, 0.02f);
    rw->w.wpe = fill(&cur, P * C, &r, 0.0f, 0.01f);
    for (int l = 0; l < cfg->n_layer; l++) {
        Gpt2LayerWeights *lw = &layers[l];
        lw->ln1_w = fill(&cur, C, &r, 1.0f, 0.05f);
        lw->ln1_b = fill(&cur, C, &r, 0.0f, 0.02f);
        lw->qkv_w = fill(&cur, C * 3 * C, &r, 0.0f, 0.02f);
        lw->qkv_b = fill(&cur, 3 * C, &r, 0.0f, 0.02f);
        lw->attn_proj_w = fill(&cur, C * C, &r, 0.0f, 0.02f);
        lw->attn_proj_b = fill(&cur, C, &r, 0.0f, 0.02f);
        lw->ln2_w = fill(&cur, C, &r, 1.0f, 0.05f);
        lw->ln2_b = fill(&cur, C, &r, 0.0f, 0.02f);
        lw->fc_w = fill(&cur, C * 4 * C, &r, 0.0f, 0.02f);
        lw->fc_b = fill(&cur, 4 * C, &r, 0.0f, 0.02f);
        lw->fc_proj_w = fill(&cur, 4 * C * C, &r, 0.0f, 0.02f);
        lw->fc_proj_b = fill(&cur, C, &r, 0.0f, 0.02f);
    }
    rw->w.lnf_w = fill(&cur, C, &r, 1.0f, 0.05f);
    rw->w.lnf_b = fill(&cur, C, &r, 0.0f, 0.02f);
    return &rw->w;
}

void gpt2_weights_random_free(Gpt2Weights *w) {
    if (!w) return;
    RandomWeights *rw = (RandomWeights *)w;
    free(rw->memory);
    free(w->layers);
    free(rw);
}
