/* bench_generate.c - see include/lorafit/report/bench_generate.h */
#include "lorafit/report/bench_generate.h"

#include <cjson/cJSON.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/engine/generation.h"
#include "lorafit/report/bench.h"
#include "lorafit/util/clock.h"
#include "lorafit/util/rng.h"

typedef struct {
    const float *p;
    size_t n;
} Span;

/* The arrays one new token reads (see the header); returns how many. */
static int token_weights(const Gpt2Weights *w, Span *out, int max) {
    const size_t C = (size_t)w->cfg.n_embd;
    int k = 0;
#define ADD(ptr, count) \
    if (k < max && (ptr)) out[k++] = (Span){(ptr), (count)} /* NULL: a quantized matrix */
    ADD(w->wte, (size_t)w->cfg.vocab_size * C);
    ADD(w->lnf_w, C);
    ADD(w->lnf_b, C);
    for (int l = 0; l < w->cfg.n_layer; l++) {
        const Gpt2LayerWeights *lw = &w->layers[l];
        ADD(lw->ln1_w, C);
        ADD(lw->ln1_b, C);
        ADD(lw->qkv_w, 3 * C * C);
        ADD(lw->qkv_b, 3 * C);
        ADD(lw->attn_proj_w, C * C);
        ADD(lw->attn_proj_b, C);
        ADD(lw->ln2_w, C);
        ADD(lw->ln2_b, C);
        ADD(lw->fc_w, 4 * C * C);
        ADD(lw->fc_b, 4 * C);
        ADD(lw->fc_proj_w, 4 * C * C);
        ADD(lw->fc_proj_b, C);
    }
#undef ADD
    return k;
}

/* One streaming pass over the spans, every thread summing its share of
 * each (eight sums, so that the loop vectorizes); the result keeps the
 * compiler from dropping the reads. */
static float read_pass(const Span *s, int n) {
    float total = 0.0f;
#pragma omp parallel reduction(+ : total)
    {
        const size_t nt = (size_t)omp_get_num_threads(), t = (size_t)omp_get_thread_num();
        float acc[8] = {0};
        for (int k = 0; k < n; k++) {
            size_t chunk = (s[k].n + nt - 1) / nt, lo = t * chunk, hi = lo + chunk < s[k].n ? lo + chunk : s[k].n;
            size_t i = lo;
            for (; i + 8 <= hi; i += 8)
                for (int j = 0; j < 8; j++) acc[j] += s[k].p[i + j];
            for (; i < hi; i++) acc[0] += s[k].p[i];
        }
        for (int j = 0; j < 8; j++) total += acc[j];
    }
    return total;
}

static bool time_weight_read(const Gpt2Weights *w, int reps, BenchGenerate *out, LfError *err) {
    int max = 3 + 12 * w->cfg.n_layer;
    Span *s = malloc((size_t)max * sizeof *s);
    double *t = malloc((size_t)reps * sizeof *t);
    if (!s || !t) {
        free(s);
        free(t);
        lf_error_set(err, LF_ERR_IO, "out of memory");
        return false;
    }
    int n = token_weights(w, s, max);
    double bytes = 0;
    for (int k = 0; k < n; k++) bytes += (double)s[k].n * sizeof(float);
    volatile float sink = read_pass(s, n);
    for (int r = 0; r < reps; r++) {
        double t0 = clock_seconds();
        sink += read_pass(s, n);
        t[r] = clock_seconds() - t0;
    }
    (void)sink;
    double sec = bench_median(t, reps);
    out->weight_mb = bytes / (1024.0 * 1024.0);
    out->read_ms = 1e3 * sec;
    out->bandwidth_gbs = bytes / sec / 1e9;
    free(s);
    free(t);
    return true;
}

/* generation_run's callback: each token's time since the one before (the
 * first token's: since the start). */
typedef struct {
    double last, *at;
    int n;
} StepClock;

static GenVerdict clock_token(void *user, int i, GenSequence *s, int32_t id, LfError *err) {
    (void)i, (void)s, (void)id, (void)err;
    StepClock *c = user;
    double now = clock_seconds();
    c->at[c->n++] = now - c->last;
    c->last = now;
    return GEN_NEXT;
}

/* Greedy generation through the decode loop of `generate`, one token more
 * than timed: the first token's time is the prompt's pass (and a pick),
 * each next one a step of the token before it (its own forward, so each
 * new token costs one) and a pick. step [new_tokens + 1]. */
static bool time_steps(Generation *g, GenSequence *s, double *step, BenchGenerate *out, LfError *err) {
    StepClock c = {.last = clock_seconds(), .at = step};
    GenRequest r = {.max_new = out->new_tokens + 1, .on_token = clock_token, .user = &c};
    if (!generation_run(g, s, 1, &r, err)) return false;
    double total = 0;
    for (int i = 1; i <= out->new_tokens; i++) total += step[i];
    out->prefill_ms = 1e3 * step[0];
    out->ms_per_token = 1e3 * total / out->new_tokens;
    out->ms_per_token_median = 1e3 * bench_median(step + 1, out->new_tokens);
    return true;
}

bool bench_generate(const Gpt2Model *m, int prompt_tokens, int new_tokens, int reps, uint64_t seed,
                    BenchGenerate *out, LfError *err) {
    memset(out, 0, sizeof *out);
    out->prompt_tokens = prompt_tokens;
    out->new_tokens = new_tokens;
    const int V = m->cfg.vocab_size, T = prompt_tokens + new_tokens + 1; /* + the untimed last token */
    SamplerConfig sc = sampler_config_default();
    Generation g = {0};
    GenSequence s = {.ids = {malloc((size_t)T * sizeof(int32_t)), (size_t)prompt_tokens, (size_t)T},
                     .n_prompt = (size_t)prompt_tokens};
    double *step = malloc((size_t)(new_tokens + 1) * sizeof *step);
    bool ok = s.ids.ids && step;
    if (!ok) lf_error_set(err, LF_ERR_IO, "out of memory");
    ok = ok && generation_init(&g, m, 1, T, &sc, err);
    Rng r;
    rng_seed(&r, seed);
    for (int i = 0; ok && i < prompt_tokens; i++) s.ids.ids[i] = (int32_t)rng_below(&r, (uint64_t)V);
    ok = ok && time_steps(&g, &s, step, out, err) && time_weight_read(m->w, reps, out, err);
    out->ratio = out->read_ms > 0 ? out->ms_per_token / out->read_ms : 0;
    generation_free(&g);
    free(s.ids.ids);
    free(step);
    return ok;
}

void bench_generate_print(const BenchGenerate *g) {
    printf("generate, batch 1, greedy, KV cache: %d new tokens after %d: %.2f ms/token (median step %.2f ms), "
           "prompt %.1f ms\n",
           g->new_tokens, g->prompt_tokens, g->ms_per_token, g->ms_per_token_median, g->prefill_ms);
    printf("weights a token reads: %.1f MB, read once in %.2f ms (%.1f GB/s measured): ms/token = %.2f x that\n\n",
           g->weight_mb, g->read_ms, g->bandwidth_gbs, g->ratio);
}

cJSON *bench_generate_json(const BenchGenerate *g) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "prompt_tokens", g->prompt_tokens);
    cJSON_AddNumberToObject(j, "new_tokens", g->new_tokens);
    cJSON_AddNumberToObject(j, "prefill_ms", g->prefill_ms);
    cJSON_AddNumberToObject(j, "ms_per_token", g->ms_per_token);
    cJSON_AddNumberToObject(j, "ms_per_token_median", g->ms_per_token_median);
    cJSON_AddNumberToObject(j, "weight_mb", g->weight_mb);
    cJSON_AddNumberToObject(j, "weight_read_ms", g->read_ms);
    cJSON_AddNumberToObject(j, "bandwidth_gbs", g->bandwidth_gbs);
    cJSON_AddNumberToObject(j, "ratio_to_weight_read", g->ratio);
    return j;
}
