/* bench_print.c - the report of `lorafit bench`: see include/lorafit/cli/bench_run.h */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/cli/bench_run.h"
#include "lorafit/cli/runtime.h"

/* ---------------------------------------------------------------------------
 * output */

/* 0 when the ceiling was not measured (--no-ceiling). */
static double of_ceiling(const BenchCase *c) { return c->ceiling_gflops > 0 ? c->gflops / c->ceiling_gflops : 0.0; }

void bench_read_loadavg(double la[3]) {
    la[0] = la[1] = la[2] = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (!f) return;
    if (fscanf(f, "%lf %lf %lf", &la[0], &la[1], &la[2]) != 3) la[0] = la[1] = la[2] = -1;
    fclose(f);
}

static void shape_label(const BenchCase *c, char *buf, size_t size) {
    const BenchWorkload *d = c->data;
    if (d->set.prompt_length)
        snprintf(buf, size, "%d x %.1f avg, LM, %s", d->B, (double)d->rows / d->n / d->B,
                 d->set.prompt_length[0] ? "answers counted" : "all counted");
    else if (d->pool == POOL_LAST_POSITION)
        snprintf(buf, size, "%d x %d, last-position", d->B, d->pad_to);
    else
        snprintf(buf, size, "%d x %.1f avg, last-token", d->B, (double)d->rows / d->n / d->B);
}


/* The dimension that runs over the batch's rows: M, or K for the
 * weight-gradient products (A transposed). */
static int row_dim(const BenchGemm *e) { return e->ta == 'T' ? e->K : e->M; }

static bool same_kind(const BenchGemm *x, const BenchGemm *e) {
    if (strcmp(x->what, e->what) || x->ta != e->ta || x->tb != e->tb || x->N != e->N) return false;
    return e->ta == 'T' ? x->M == e->M : x->K == e->K;
}

/* One line per kind of GEMM and fixed dimensions; the SMS cases vary the
 * row dimension with the batch, so it shows as the count-weighted mean. */
static void print_shapes(const BenchCase *c) {
    const BenchGemms *g = &c->gemms;
    double total = bench_total_flops(g);
    bool *done = calloc((size_t)g->n + 1, sizeof *done);
    if (!done) return;
    printf("\n%s: the GEMMs of %d step%s: FLOP share of the step, and sgemm alone at that shape\n", c->name,
           c->data->n, c->data->n > 1 ? "s" : "");
    printf("  %-20s %2s %7s %7s %7s %6s %7s %9s %8s\n", "what", "op", "M", "N", "K", "calls", "share",
           "ms/step", "GFLOP/s");
    for (int i = 0; i < g->n; i++) {
        if (done[i]) continue;
        const BenchGemm *e = &g->g[i];
        double f = 0, sec = 0, rows = 0;
        long calls = 0;
        for (int j = i; j < g->n; j++) {
            const BenchGemm *x = &g->g[j];
            if (done[j] || !same_kind(x, e)) continue;
            done[j] = true;
            f += 2.0 * x->M * x->N * (double)x->K * x->count;
            sec += x->seconds;
            rows += (double)row_dim(x) * x->count;
            calls += x->count;
        }
        double r = rows / (double)calls;
        printf("  %-20s %c%c %7.1f %7d %7.1f %6.1f %6.2f%% %9.3f %8.1f\n", e->what, e->ta, e->tb,
               e->ta == 'T' ? e->M : r, e->N, e->ta == 'T' ? r : e->K, (double)calls / c->data->n, 100.0 * f / total, 1e3 * sec / c->data->n,
               sec > 0 ? f / sec * 1e-9 : 0.0);
    }
    printf("  %-20s %43s %6.2f%%\n", "attention", "(causal half; not a GEMM, not in the ceiling)",
           100.0 * g->attn_flops / total);
    free(done);
}

bool bench_any_step_case(const bool *on) {
    for (int k = 0; k < N_CASES; k++)
        if (on[k]) return true;
    return false;
}

/* Which kernels the ceiling and the square sgemm came from. */
static void print_ceiling_kernels(const BenchSummary *s, const BenchOptions *o) {
    if (o->no_ceiling) return;
    const BenchCeiling *p = &s->ceiling;
    if (p->kernels)
        printf("ceiling kernels: OpenBLAS %s, the best set for this CPU, in a second process (this run: %s)\n",
               p->ran, s->kernels.core);
    else
        printf("ceiling kernels: OpenBLAS %s, this run's own (%s)\n", p->ran,
               s->kernels.best ? "at the best level for this CPU" : "no better set for this CPU");
}

/* What quant_tiles_name() says, in words. */
static const char *tiles_text(const char *name) {
    if (strcmp(name, "bf16") == 0) return "bf16 tiles on oneDNN";
    if (strcmp(name, "bf16-reference") == 0) return "bf16 tiles on the reference";
    return "fp32 tiles";
}

void bench_print_text(const BenchSummary *s, BenchCase *cases, const bool *on, const BenchOptions *o) {
    printf("lorafit bench: %s, %d layers x %d wide, %d LoRA adapters rank %d alpha 16, 2-class head\n",
           s->model_desc, s->n_layer, s->n_embd, s->n_adapters, s->rank);
    printf("seed %ld, median of %d after %d warm-up\n", o->seed, o->repeat, o->warmup);
    printf("base: block matrices in %s (%.2f MB), ", quant_dtype_name(s->base_dtype), s->block_weights_mb);
    if (s->quant_tiles) printf("their GEMMs in %s, ", tiles_text(s->quant_tiles));
    printf("activation recomputation %s\n", s->recompute ? "on" : "off");
    printf("load average %.2f %.2f %.2f at start, %.2f %.2f %.2f at end\n", s->load_start[0], s->load_start[1],
           s->load_start[2], s->load_end[0], s->load_end[1], s->load_end[2]);
    runtime_describe(stdout, &s->kernels, s->threads, NULL);
    printf("\n");
    if (on[CASE_GENERATE]) bench_generate_print(&s->gen);
    if (!bench_any_step_case(on)) return;
    printf("%-13s %-27s %9s %9s %10s %8s %8s %8s %10s\n", "case", "batch", "ms/step", "tokens/s", "GFLOP/step",
           "GFLOP/s", "ceiling", "of ceil.", "ceiling ms");
    for (int k = 0; k < N_CASES; k++) {
        if (!on[k]) continue;
        const BenchCase *c = &cases[k];
        char shape[64];
        shape_label(c, shape, sizeof shape);
        printf("%-13s %-27s %9.1f %9.0f %10.2f %8.1f %8.1f %7.1f%% %10.1f\n", c->name, shape, c->ms,
               c->tokens_per_s, c->gflop, c->gflops, c->ceiling_gflops, 100.0 * of_ceiling(c),
               c->ceiling_ms);
    }
    printf("\nms/step: median (min .. max):");
    for (int k = 0; k < N_CASES; k++)
        if (on[k]) printf(" %s %.1f (%.1f .. %.1f);", cases[k].name, cases[k].ms, cases[k].ms_min, cases[k].ms_max);
    printf("\nceiling = the GFLOP of the step's GEMMs over the time the same GEMMs take alone (same shapes\n"
           "and counts, same split over the same threads); ceiling ms = the step's FLOPs at that rate.\n");
    print_ceiling_kernels(s, o);
    printf("sgemm %d x %d x %d: %.1f GFLOP/s\n", s->square_n, s->square_n, s->square_n, s->square_gflops);
    printf("memory: weights %.1f MB (%s), RSS %.1f MB before them, %.1f MB with them; peak RSS %.1f MB",
           s->weights_mb,
           !s->weights_mapped     ? "random, allocated"
           : s->weights_in_place ? "checkpoint, block weights used in place from the page cache"
                                 : "checkpoint, block weights copied",
           s->rss_before_mb,
           s->rss_weights_mb, s->peak_rss_mb);
    if (s->peak_train_padded_mb > 0)
        printf(" (%.1f MB after train-padded: %.1f MB above the weights)", s->peak_train_padded_mb,
               s->peak_train_padded_mb - s->rss_weights_mb);
    printf("\n");
    if (o->shapes)
        for (int k = 0; k < N_CASES; k++)
            if (on[k]) print_shapes(&cases[k]);
}

void bench_print_json(const BenchSummary *s, BenchCase *cases, const bool *on, const BenchOptions *o) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "model", s->model_desc);
    cJSON_AddNumberToObject(root, "n_layer", s->n_layer);
    cJSON_AddNumberToObject(root, "n_embd", s->n_embd);
    cJSON_AddNumberToObject(root, "n_head", s->n_head);
    cJSON_AddNumberToObject(root, "n_ctx", s->n_ctx);
    cJSON_AddNumberToObject(root, "vocab_size", s->vocab_size);
    cJSON_AddNumberToObject(root, "adapters", s->n_adapters);
    cJSON_AddNumberToObject(root, "rank", s->rank);
    cJSON_AddNumberToObject(root, "threads", s->threads);
    cJSON_AddStringToObject(root, "base_dtype", quant_dtype_name(s->base_dtype));
    cJSON_AddNumberToObject(root, "block_weights_mb", s->block_weights_mb);
    if (s->quant_tiles) cJSON_AddStringToObject(root, "quant_tiles", s->quant_tiles);
    cJSON_AddBoolToObject(root, "recompute", s->recompute);
    char features[512];
    cJSON_AddStringToObject(root, "cpu", s->kernels.cpu.model_name);
    cJSON_AddStringToObject(root, "cpu_features", cpu_features_text(&s->kernels.cpu, features, sizeof features));
    cJSON_AddStringToObject(root, "openblas_core", s->kernels.core);
    cJSON_AddStringToObject(root, "openblas_config", s->kernels.config);
    cJSON_AddStringToObject(root, "kernels_chosen_by", runtime_kernels_origin_name(s->kernels.origin));
    if (s->kernels.best) cJSON_AddStringToObject(root, "kernels_best", s->kernels.best);
    if (!o->no_ceiling) cJSON_AddStringToObject(root, "ceiling_kernels", s->ceiling.ran);
    char wait[160];
    cJSON_AddStringToObject(root, "omp_wait_policy", runtime_wait_policy(wait, sizeof wait));
    cJSON_AddNumberToObject(root, "seed", (double)o->seed);
    cJSON_AddNumberToObject(root, "repeat", o->repeat);
    cJSON_AddNumberToObject(root, "warmup", o->warmup);
    cJSON_AddItemToObject(root, "load_start", cJSON_CreateDoubleArray(s->load_start, 3));
    cJSON_AddItemToObject(root, "load_end", cJSON_CreateDoubleArray(s->load_end, 3));
    cJSON *arr = cJSON_AddArrayToObject(root, "cases");
    for (int k = 0; k < N_CASES; k++) {
        if (!on[k]) continue;
        const BenchCase *c = &cases[k];
        const BenchWorkload *d = c->data;
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "name", c->name);
        cJSON_AddStringToObject(j, "pool", d->pool == POOL_LAST_POSITION ? "last-position" : "last-token");
        cJSON_AddBoolToObject(j, "training", c->training);
        cJSON_AddNumberToObject(j, "batch", d->B);
        cJSON *bs = cJSON_AddArrayToObject(j, "batches");
        for (int i = 0; i < d->n; i++) {
            const Gpt2Batch b = bench_workload_batch(d, i);
            cJSON *bj = cJSON_CreateObject();
            cJSON_AddNumberToObject(bj, "T", b.T);
            cJSON_AddItemToObject(bj, "lengths", cJSON_CreateIntArray(b.lengths, d->B));
            if (b.prompt_lengths)
                cJSON_AddItemToObject(bj, "prompt_lengths", cJSON_CreateIntArray(b.prompt_lengths, d->B));
            cJSON_AddItemToArray(bs, bj);
        }
        cJSON_AddNumberToObject(j, "ms_per_step", c->ms);
        cJSON_AddNumberToObject(j, "ms_min", c->ms_min);
        cJSON_AddNumberToObject(j, "ms_max", c->ms_max);
        cJSON_AddItemToObject(j, "samples_ms", cJSON_CreateDoubleArray(c->samples_ms, o->repeat));
        cJSON_AddNumberToObject(j, "tokens_per_step", (double)d->rows / d->n);
        cJSON_AddNumberToObject(j, "tokens_per_s", c->tokens_per_s);
        cJSON_AddNumberToObject(j, "gflop_per_step", c->gflop);
        cJSON_AddNumberToObject(j, "gflop_gemm_per_step", c->gflop_gemm);
        cJSON_AddNumberToObject(j, "gflops", c->gflops);
        cJSON_AddNumberToObject(j, "ceiling_gflops", c->ceiling_gflops);
        cJSON_AddNumberToObject(j, "fraction_of_ceiling", of_ceiling(c));
        cJSON_AddNumberToObject(j, "ceiling_ms", c->ceiling_ms);
        cJSON_AddItemToArray(arr, j);
    }
    cJSON_AddNumberToObject(root, "sgemm_square_n", s->square_n);
    cJSON_AddNumberToObject(root, "sgemm_square_gflops", s->square_gflops);
    cJSON_AddNumberToObject(root, "weights_mb", s->weights_mb);
    cJSON_AddBoolToObject(root, "weights_mmapped", s->weights_mapped);
    cJSON_AddBoolToObject(root, "weights_in_place", s->weights_in_place);
    cJSON_AddNumberToObject(root, "rss_before_weights_mb", s->rss_before_mb);
    cJSON_AddNumberToObject(root, "rss_with_weights_mb", s->rss_weights_mb);
    cJSON_AddNumberToObject(root, "peak_rss_mb", s->peak_rss_mb);
    cJSON_AddNumberToObject(root, "peak_rss_after_train_padded_mb", s->peak_train_padded_mb);
    if (on[CASE_GENERATE]) cJSON_AddItemToObject(root, "generate", bench_generate_json(&s->gen));
    char *text = cJSON_Print(root);
    if (text) puts(text);
    free(text);
    cJSON_Delete(root);
}

/* ---------------------------------------------------------------------------
 * the command */
