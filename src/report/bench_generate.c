/* bench_generate.c - see include/lorafit/report/bench_generate.h */
#include "lorafit/report/bench_generate.h"

#include <cjson/cJSON.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/engine/decode.h"
#include "lorafit/engine/sampler.h"
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

/* Greedy steps: pick from the logits, then run the picked token (so that
 * each new token costs one forward, its own), new_tokens times. */
static bool time_steps(Decoder *d, Sampler *s, int32_t *ids, float *logits, double *step, BenchGenerate *out,
                       LfError *err) {
    double t0 = clock_seconds(), total = 0;
    if (!decoder_prefill(d, 0, ids, out->prompt_tokens, logits, err)) return false;
    out->prefill_ms = 1e3 * (clock_seconds() - t0);
    int zero = 0;
    for (int i = 0; i < out->new_tokens; i++) {
        double t1 = clock_seconds();
        int32_t next = ids[out->prompt_tokens + i] = (int32_t)sampler_pick(s, logits, NULL, 0);
        if (!decoder_step(d, 1, &zero, &next, logits, err)) return false;
        step[i] = clock_seconds() - t1;
        total += step[i];
    }
    out->ms_per_token = 1e3 * total / out->new_tokens;
    out->ms_per_token_median = 1e3 * bench_median(step, out->new_tokens);
    return true;
}

bool bench_generate(const Gpt2Model *m, int prompt_tokens, int new_tokens, int reps, uint64_t seed,
                    BenchGenerate *out, LfError *err) {
    memset(out, 0, sizeof *out);
    out->prompt_tokens = prompt_tokens;
    out->new_tokens = new_tokens;
    const int V = m->cfg.vocab_size, T = prompt_tokens + new_tokens;
    SamplerConfig sc = sampler_config_default();
    Decoder d = {0};
    Sampler s = {0};
    int32_t *ids = malloc((size_t)T * sizeof *ids);
    float *logits = malloc((size_t)V * sizeof *logits);
    double *step = malloc((size_t)new_tokens * sizeof *step);
    bool ok = ids && logits && step;
    if (!ok) lf_error_set(err, LF_ERR_IO, "out of memory");
    ok = ok && decoder_init(&d, m, 1, T, err) && sampler_init(&s, &sc, V, err);
    Rng r;
    rng_seed(&r, seed);
    for (int i = 0; ok && i < prompt_tokens; i++) ids[i] = (int32_t)rng_below(&r, (uint64_t)V);
    ok = ok && time_steps(&d, &s, ids, logits, step, out, err) && time_weight_read(m->w, reps, out, err);
    out->ratio = out->read_ms > 0 ? out->ms_per_token / out->read_ms : 0;
    sampler_free(&s);
    decoder_free(&d);
    free(ids);
    free(logits);
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
