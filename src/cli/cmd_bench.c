/* cmd_bench.c - `lorafit bench`: times training and inference steps of the
 * engine on a gpt2-small-shaped model and sets them against the sgemm
 * ceiling measured on this machine at the same GEMM shapes.
 *
 * Every case is timed as whole repetitions after warm-up and reported as
 * the median; a repetition of a case with several batches (the SMS-length
 * cases) runs all of them, and ms/step is its time over the batches. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lorafit/cli/bench_ceiling.h"
#include "lorafit/cli/cli.h"
#include "lorafit/cli/commands.h"
#include "lorafit/cli/common_options.h"
#include "lorafit/util/clock.h"
#include "lorafit/cli/runtime.h"
#include "lorafit/cli/session.h"
#include "lorafit/data/tokenizer.h"
#include "lorafit/engine/classifier.h"
#include "lorafit/engine/optim.h"
#include "lorafit/engine/random_weights.h"
#include "lorafit/io/checkpoint.h"
#include "lorafit/report/bench.h"
#include "lorafit/report/bench_generate.h"
#include "lorafit/report/bench_workload.h"
#include "lorafit/util/rng.h"

static const char ABOUT[] =
    "Times the engine on a GPT-2 with LoRA rank 8 / alpha 16 on every Linear in the blocks\n"
    "(72 adapters for gpt2-small) and a 2-class head, random weights unless --model:\n"
    "  train-padded  forward + backward + AdamW, batch 8 padded to 120 tokens, the head\n"
    "                at the last position (the labs' setup)\n"
    "  train-last    the same with last-token pooling over 8 batches of real SMS lengths\n"
    "                (the first 64 messages of the labs' training split, or --data)\n"
    "  infer-padded  forward only, 8 x 120, last position\n"
    "  infer-last    forward only over the SMS-length batches\n"
    "  train-lm      a causal LM's training step (the same adapters, no head: the LM head\n"
    "                tied to wte) on 8 SQuAD-like prompts of 200-300 tokens, the last 10\n"
    "                next tokens of each counted (an answer and its <|endoftext|>)\n"
    "  train-lm-all  the same with every next token counted (plain text)\n"
    "For each: the median ms/step after warm-up, tokens/s, the GFLOP a step needs and the\n"
    "GFLOP/s achieved, the sgemm ceiling (the same GEMM shapes timed alone through the\n"
    "engine's gemm: single-threaded cblas_sgemm calls split over the same threads; GFLOP of\n"
    "those GEMMs over their time) and the fraction of it reached. Then a\n"
    "large square sgemm's GFLOP/s, the weights' memory and the peak RSS.\n"
    "The ceiling is the best the CPU reaches: when this run's OpenBLAS kernels are of a lower\n"
    "level than the best set correct on the CPU (a user's OPENBLAS_CORETYPE, say), the\n"
    "ceiling's GEMMs run in a second lorafit on the best set, so slow kernels show as a low\n"
    "fraction. The header says what the run is on: CPU, vector features, OpenBLAS's kernels.\n"
    "\n"
    "FLOPs counted (2*M*N*K per GEMM, what the step needs): forward QKV, c_proj, fc,\n"
    "fc_proj over all rows, the top block's Q, c_proj and MLP only at the pooled rows (its\n"
    "K and V at all), LoRA x@A and h@B, the head; backward only dX through the frozen\n"
    "Linears (no frozen dW), LoRA dB, dh, dA, dX and the head, down to the lowest adapter.\n"
    "Attention QK^T and PV (and 4 products backward) count the causal half (query t sees\n"
    "t+1 keys); they are in the achieved GFLOP/s, not in the ceiling's shapes.\n"
    "\n"
    "generate (not in the default set: only when --cases names it): greedy generation at batch 1\n"
    "with the KV cache, a 256-token continuation of 16 random tokens (32 with --quick): ms per\n"
    "new token, next to the time to read the weights a token needs once from memory (timed: a\n"
    "threaded streaming read of those arrays) and the ratio of the two.";

enum { CASE_TRAIN_PADDED, CASE_TRAIN_LAST, CASE_INFER_PADDED, CASE_INFER_LAST, CASE_TRAIN_LM, CASE_TRAIN_LM_ALL,
       N_CASES };
enum { CASE_GENERATE = N_CASES }; /* not a step: its own figures (report/bench_generate.h) */
static const char *const CASE_NAMES[] = {"train-padded", "train-last", "infer-padded", "infer-last",
                                         "train-lm",     "train-lm-all", "generate",  NULL};
enum { LM_ANSWER_TOKENS = 10 }; /* train-lm's counted next tokens per text */

typedef struct {
    int threads, repeat, warmup, batch, pad_to;
    long seed;
    const char *config, *model, *data;
    bool cases[N_CASES + 1]; /* + CASE_GENERATE */
    bool shapes, json, quick, no_ceiling, time_gemms;
} Options;

typedef struct {
    const char *name;
    bool training;
    const BenchWorkload *data; /* its pool is the case's */
    Gpt2Model *model;          /* the classifier, or the causal LM */
    AdamW *opt;
    /* results, per step (one batch) */
    double ms, ms_min, ms_max, tokens_per_s, gflop, gflop_gemm, gflops, ceiling_gflops, ceiling_ms;
    double *samples_ms;
    BenchGemms gemms; /* all batches of one repetition */
} Case;

/* ---------------------------------------------------------------------------
 * options */

/* --cases LIST: a comma-separated subset of CASE_NAMES. */
static bool parse_cases(const char *as, const char *v, void *field, LfError *err) {
    bool *cases = field;
    memset(cases, 0, (N_CASES + 1) * sizeof *cases);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", v);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int k = 0;
        while (CASE_NAMES[k] && strcmp(CASE_NAMES[k], tok)) k++;
        if (!CASE_NAMES[k]) {
            lf_error_set(err, LF_ERR_INPUT,
                         "unknown case '%s' (train-padded, train-last, infer-padded, infer-last, train-lm, "
                         "train-lm-all, generate)",
                         tok);
            return false;
        }
        cases[k] = true;
    }
    for (int k = 0; k <= N_CASES; k++)
        if (cases[k]) return true;
    lf_error_set(err, LF_ERR_INPUT, "%s names no case", as);
    return false;
}

static const CliOption OPTIONS[] = {
    CLI_HEADING("options:"),
    CLI_OPT_THREADS(Options, threads,
                    "threads; OpenBLAS runs single-threaded under lorafit's own split of each GEMM"),
    CLI_OPT_SEED(Options, seed, 0, "123", "seeds the random weights, tokens, labels and adapters"),
    {.name = "--repeat", .type = CLI_INT, CLI_AT(Options, repeat), .lo = 1, .hi = 1000, .metavar = "N", .def = "5",
     .help = "timed repetitions per case; the median is reported"},
    {.name = "--warmup", .type = CLI_INT, CLI_AT(Options, warmup), .lo = 0, .hi = 1000, .metavar = "N", .def = "2",
     .help = "untimed repetitions before them"},
    CLI_OPT_CONFIG(Options, config),
    {.name = "--model", .type = CLI_STRING, CLI_AT(Options, model), .metavar = "DIR",
     .help = "a real checkpoint instead of random weights"},
    {.name = "--data", .type = CLI_STRING, CLI_AT(Options, data), .metavar = "FILE",
     .help = "a labelled CSV/TSV: the SMS-length cases use its first 64 texts, encoded with GPT-2's tokenizer, "
             "in consecutive batches"},
    CLI_OPT_BATCH_SIZE(Options, batch, 0, "sequences per batch"),
    CLI_ALIAS("--batch", "--batch-size"),
    {.name = "--pad-to", .type = CLI_INT, CLI_AT(Options, pad_to), .lo = 1, .hi = 1 << 16, .metavar = "T",
     .def = "120", .help = "padded length of the -padded cases"},
    {.name = "--cases", .type = CLI_CUSTOM, CLI_AT(Options, cases), .metavar = "LIST", .parse = parse_cases,
     .def_text = "all", .help = "comma-separated subset of the cases above"},
    {.name = "--no-ceiling", .type = CLI_FLAG, CLI_AT(Options, no_ceiling),
     .help = "skip the sgemm measurements (to profile the steps alone)"},
    {.name = "--shapes", .type = CLI_FLAG, CLI_AT(Options, shapes),
     .help = "also print every GEMM shape's count, share and sgemm GFLOP/s"},
    {.name = "--json", .type = CLI_FLAG, CLI_AT(Options, json), .help = "print the figures as one JSON object"},
    {.name = "--quick", .type = CLI_FLAG, CLI_AT(Options, quick),
     .help = "a tiny model and shape (2 layers, width 64, 4 x 16), 1 repetition: checks the command runs, "
             "measures nothing useful"},
    {.name = "--time-gemms", .type = CLI_FLAG, CLI_AT(Options, time_gemms),
     .help = "only time the GEMMs listed on standard input, one 'TA TB M N K COUNT' a line, as the ceiling "
             "does (--repeat passes on --threads), and print them with their seconds after a line 'kernels "
             "NAME': what bench runs in a second process for a ceiling on other kernels"},
    {0}};

static const CliCommand COMMAND = {
    .name = "bench",
    .usage = "lorafit bench [--threads N] [--seed N] [--repeat N] [--warmup N] [--config PRESET | --model DIR] "
             "[--data FILE.csv] [--batch-size N] [--pad-to T] [--cases LIST] [--shapes] [--no-ceiling] [--json] "
             "[--quick] [--time-gemms]",
    .synopsis = "lorafit bench [options]",
    .about = ABOUT,
    .options = OPTIONS,
    .epilogue = "OpenMP's threads spin between parallel regions unless OMP_WAIT_POLICY=passive is set\n"
                "in the environment (libgomp reads it at start-up); the policy in force is printed.",
};

static int parse_options(int argc, char **argv, Options *o) {
    CliParse p;
    int rc = cli_parse(&p, &COMMAND, argc, argv, o);
    if (rc != CLI_RUN) return rc;
    bool config = cli_given(&p, "--config");
    if (o->model && config) return cli_error(&p, "give --config or --model, not both");
    if (o->quick && (o->model || config))
        return cli_error(&p, "--quick uses its own tiny model: no --model or --config");
    if (o->quick) {
        if (!cli_given(&p, "--repeat")) o->repeat = 1;
        if (!cli_given(&p, "--warmup")) o->warmup = 1;
        if (!cli_given(&p, "--batch-size")) o->batch = 4;
        if (!cli_given(&p, "--pad-to")) o->pad_to = 16;
    }
    return CLI_RUN;
}

/* ---------------------------------------------------------------------------
 * timing */

/* One step on batch i: forward, and for training backward and AdamW.
 * Returns the loss (NaN when the engine refused the batch). */
static float run_step(Gpt2Model *m, AdamW *opt, const Case *c, int i) {
    Gpt2Batch b = bench_workload_batch(c->data, i);
    if (!c->training) b.labels = NULL;
    float loss = gpt2_forward(m, &b, c->data->pool, c->training, NULL);
    if (c->training) {
        gpt2_backward(m);
        adamw_step(opt, m->params, m->grads, m->n_params);
    }
    return loss;
}

static bool time_case(Case *c, const Options *o, LfError *err) {
    Gpt2Model *m = c->model;
    AdamW *opt = c->opt;
    const BenchWorkload *d = c->data;
    c->samples_ms = calloc((size_t)o->repeat, sizeof *c->samples_ms);
    if (!c->samples_ms) {
        lf_error_set(err, LF_ERR_IO, "out of memory");
        return false;
    }
    for (int rep = -o->warmup; rep < o->repeat; rep++) {
        double t0 = clock_seconds();
        for (int i = 0; i < d->n; i++) {
            float loss = run_step(m, opt, c, i);
            if (loss != loss) {
                lf_error_set(err, LF_ERR_RUNTIME, "%s: batch %d gave a NaN loss", c->name, i);
                return false;
            }
        }
        if (rep >= 0) c->samples_ms[rep] = 1e3 * (clock_seconds() - t0) / d->n;
    }
    double *s = malloc((size_t)o->repeat * sizeof *s);
    if (!s) {
        lf_error_set(err, LF_ERR_IO, "out of memory");
        return false;
    }
    memcpy(s, c->samples_ms, (size_t)o->repeat * sizeof *s);
    c->ms = bench_median(s, o->repeat);
    c->ms_min = s[0];
    c->ms_max = s[o->repeat - 1];
    free(s);
    c->tokens_per_s = (double)d->rows / d->n / (c->ms * 1e-3);
    return true;
}

/* The GEMM list of one repetition (all batches) and its FLOPs per step. */
static bool count_case(Case *c, LfError *err) {
    const BenchWorkload *d = c->data;
    memset(&c->gemms, 0, sizeof c->gemms);
    for (int i = 0; i < d->n; i++) {
        const Gpt2Batch b = bench_workload_batch(d, i);
        int rows[4096], targets = 0;
        for (int k = 0; k < d->B; k++) {
            rows[k] = d->pool == POOL_LAST_POSITION ? b.T : b.lengths[k];
            if (b.prompt_lengths) targets += b.lengths[k] - (b.prompt_lengths[k] > 1 ? b.prompt_lengths[k] : 1);
        }
        BenchGemms one;
        bool ok = c->model->n_classes ? bench_step_gemms(c->model, rows, d->B, c->training, &one)
                                      : bench_lm_step_gemms(c->model, rows, d->B, targets, c->training, &one);
        if (!ok || !bench_gemms_add(&c->gemms, &one)) {
            bench_gemms_free(&one);
            lf_error_set(err, LF_ERR_IO, "out of memory");
            return false;
        }
        bench_gemms_free(&one);
    }
    c->gflop = bench_total_flops(&c->gemms) * 1e-9 / d->n;
    c->gflop_gemm = bench_gemm_flops(&c->gemms) * 1e-9 / d->n;
    c->gflops = c->gflop / (c->ms * 1e-3);
    return true;
}

/* The ceiling: the same GEMMs alone, here or in a second process. */
static bool ceiling_case(Case *c, BenchCeiling *p, LfError *err) {
    double s = bench_ceiling_time(p, &c->gemms, err);
    if (s < 0) return false;
    c->ceiling_gflops = s > 0 ? bench_gemm_flops(&c->gemms) * 1e-9 / s : 0.0;
    c->ceiling_ms = c->ceiling_gflops > 0 ? 1e3 * (c->gflop / c->ceiling_gflops) : 0.0;
    return true;
}

/* ---------------------------------------------------------------------------
 * output */

/* 0 when the ceiling was not measured (--no-ceiling). */
static double of_ceiling(const Case *c) { return c->ceiling_gflops > 0 ? c->gflops / c->ceiling_gflops : 0.0; }

static void read_loadavg(double la[3]) {
    la[0] = la[1] = la[2] = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (!f) return;
    if (fscanf(f, "%lf %lf %lf", &la[0], &la[1], &la[2]) != 3) la[0] = la[1] = la[2] = -1;
    fclose(f);
}

static const char *wait_policy(void) {
    const char *p = getenv("OMP_WAIT_POLICY");
    return p && *p ? p : "unset (libgomp spins)";
}

static void shape_label(const Case *c, char *buf, size_t size) {
    const BenchWorkload *d = c->data;
    if (d->set.prompt_length)
        snprintf(buf, size, "%d x %.1f avg, LM, %s", d->B, (double)d->rows / d->n / d->B,
                 d->set.prompt_length[0] ? "answers counted" : "all counted");
    else if (d->pool == POOL_LAST_POSITION)
        snprintf(buf, size, "%d x %d, last-position", d->B, d->pad_to);
    else
        snprintf(buf, size, "%d x %.1f avg, last-token", d->B, (double)d->rows / d->n / d->B);
}

typedef struct {
    const char *model_desc;
    int n_layer, n_embd, n_head, n_ctx, vocab_size, n_adapters, rank, threads;
    double load_start[3], load_end[3];
    double weights_mb, rss_before_mb, rss_weights_mb, peak_rss_mb, peak_train_padded_mb;
    bool weights_mapped;   /* a checkpoint, not random weights */
    bool weights_in_place; /* its block weights used from the mapping, not copied */
    double square_gflops;
    int square_n;
    BenchGenerate gen; /* with CASE_GENERATE */
    RuntimeKernels kernels;
    BenchCeiling ceiling;
} Summary;

/* The dimension that runs over the batch's rows: M, or K for the
 * weight-gradient products (A transposed). */
static int row_dim(const BenchGemm *e) { return e->ta == 'T' ? e->K : e->M; }

static bool same_kind(const BenchGemm *x, const BenchGemm *e) {
    if (strcmp(x->what, e->what) || x->ta != e->ta || x->tb != e->tb || x->N != e->N) return false;
    return e->ta == 'T' ? x->M == e->M : x->K == e->K;
}

/* One line per kind of GEMM and fixed dimensions; the SMS cases vary the
 * row dimension with the batch, so it shows as the count-weighted mean. */
static void print_shapes(const Case *c) {
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

static bool any_step_case(const bool *on) {
    for (int k = 0; k < N_CASES; k++)
        if (on[k]) return true;
    return false;
}

/* Which kernels the ceiling and the square sgemm came from. */
static void print_ceiling_kernels(const Summary *s, const Options *o) {
    if (o->no_ceiling) return;
    const BenchCeiling *p = &s->ceiling;
    if (p->kernels)
        printf("ceiling kernels: OpenBLAS %s, the best set for this CPU, in a second process (this run: %s)\n",
               p->ran, s->kernels.core);
    else
        printf("ceiling kernels: OpenBLAS %s, this run's own (%s)\n", p->ran,
               s->kernels.best ? "at the best level for this CPU" : "no better set for this CPU");
}

static void print_text(const Summary *s, Case *cases, const bool *on, const Options *o) {
    printf("lorafit bench: %s, %d layers x %d wide, %d LoRA adapters rank %d alpha 16, 2-class head\n",
           s->model_desc, s->n_layer, s->n_embd, s->n_adapters, s->rank);
    printf("threads %d, OMP_WAIT_POLICY %s, seed %ld, median of %d after %d warm-up\n", s->threads,
           wait_policy(), o->seed, o->repeat, o->warmup);
    printf("load average %.2f %.2f %.2f at start, %.2f %.2f %.2f at end\n", s->load_start[0], s->load_start[1],
           s->load_start[2], s->load_end[0], s->load_end[1], s->load_end[2]);
    runtime_describe(stdout, &s->kernels, s->threads, NULL);
    printf("\n");
    if (on[CASE_GENERATE]) bench_generate_print(&s->gen);
    if (!any_step_case(on)) return;
    printf("%-13s %-27s %9s %9s %10s %8s %8s %8s %10s\n", "case", "batch", "ms/step", "tokens/s", "GFLOP/step",
           "GFLOP/s", "ceiling", "of ceil.", "ceiling ms");
    for (int k = 0; k < N_CASES; k++) {
        if (!on[k]) continue;
        const Case *c = &cases[k];
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

static void print_json(const Summary *s, Case *cases, const bool *on, const Options *o) {
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
    char features[512];
    cJSON_AddStringToObject(root, "cpu", s->kernels.cpu.model_name);
    cJSON_AddStringToObject(root, "cpu_features", cpu_features_text(&s->kernels.cpu, features, sizeof features));
    cJSON_AddStringToObject(root, "openblas_core", s->kernels.core);
    cJSON_AddStringToObject(root, "openblas_config", s->kernels.config);
    cJSON_AddStringToObject(root, "kernels_chosen_by", runtime_kernels_origin_name(s->kernels.origin));
    if (s->kernels.best) cJSON_AddStringToObject(root, "kernels_best", s->kernels.best);
    if (!o->no_ceiling) cJSON_AddStringToObject(root, "ceiling_kernels", s->ceiling.ran);
    cJSON_AddStringToObject(root, "omp_wait_policy", wait_policy());
    cJSON_AddNumberToObject(root, "seed", (double)o->seed);
    cJSON_AddNumberToObject(root, "repeat", o->repeat);
    cJSON_AddNumberToObject(root, "warmup", o->warmup);
    cJSON_AddItemToObject(root, "load_start", cJSON_CreateDoubleArray(s->load_start, 3));
    cJSON_AddItemToObject(root, "load_end", cJSON_CreateDoubleArray(s->load_end, 3));
    cJSON *arr = cJSON_AddArrayToObject(root, "cases");
    for (int k = 0; k < N_CASES; k++) {
        if (!on[k]) continue;
        const Case *c = &cases[k];
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

typedef struct {
    Gpt2Checkpoint *ck;
    Gpt2Weights *random;
    const Gpt2Weights *w;
    Classifier net, lm; /* lm: built only for the LM cases */
    AdamW opt, lm_opt;
    bool opt_built, lm_opt_built;
    BenchWorkload padded, sms, lm_answer, lm_all;
    Case cases[N_CASES];
} Bench;

static void bench_free(Bench *b) {
    for (int k = 0; k < N_CASES; k++) {
        bench_gemms_free(&b->cases[k].gemms);
        free(b->cases[k].samples_ms);
    }
    bench_workload_free(&b->padded);
    bench_workload_free(&b->sms);
    bench_workload_free(&b->lm_answer);
    bench_workload_free(&b->lm_all);
    if (b->opt_built) adamw_free(&b->opt);
    if (b->lm_opt_built) adamw_free(&b->lm_opt);
    classifier_free(&b->net);
    classifier_free(&b->lm);
    gpt2_weights_random_free(b->random);
    checkpoint_close(b->ck);
}

static double mb(double kb) { return kb / 1024.0; }

/* Weights: the checkpoint (checkpoint.h says where they live), or random
 * ones of the preset's (or the tiny --quick) shape. */
static bool load_weights(Bench *b, const Options *o, Summary *s, LfError *err) {
    if (o->model) {
        b->ck = checkpoint_open(o->model, err);
        if (!b->ck) return false;
        b->w = checkpoint_weights(b->ck);
        struct stat st;
        s->weights_mb = stat(checkpoint_file(b->ck), &st) == 0 ? (double)st.st_size / (1024.0 * 1024.0) : 0;
        s->weights_mapped = true;
        s->weights_in_place = checkpoint_in_place(b->ck);
        s->model_desc = o->model;
        return true;
    }
    Gpt2Config cfg;
    if (o->quick)
        cfg = (Gpt2Config){2, 64, 4, TOK_GPT2_VOCAB_SIZE, 128, true};
    else if (!gpt2_config_preset(o->config, &cfg, err))
        return false;
    b->random = gpt2_weights_random(&cfg, (uint64_t)o->seed, err);
    if (!b->random) return false;
    b->w = b->random;
    const size_t C = (size_t)cfg.n_embd;
    size_t floats = (size_t)cfg.vocab_size * C + (size_t)cfg.n_ctx * C + 2 * C +
                    (size_t)cfg.n_layer * (4 * C + 12 * C * C + 9 * C);
    s->weights_mb = (double)floats * 4 / (1024.0 * 1024.0);
    s->model_desc = o->quick ? "tiny (--quick), random weights" : o->config;
    return true;
}

/* The causal LM (same adapters, n_classes 0) and its SQuAD-like batch:
 * the same texts twice, 10 answer tokens counted or every one. */
static bool setup_lm(Bench *b, const Options *o, Rng *r, LfError *err) {
    const Gpt2Config *cfg = &b->w->cfg;
    Rng again = *r;
    if (!bench_workload_lm(&b->lm_answer, o->batch, cfg->n_ctx, LM_ANSWER_TOKENS, cfg->vocab_size, r, err) ||
        !bench_workload_lm(&b->lm_all, o->batch, cfg->n_ctx, 0, cfg->vocab_size, &again, err))
        return false;
    LoraConfig lc = lora_config_default();
    if (!classifier_build(&b->lm, b->w, MODTREE_LABS, &lc, 0, o->batch, bench_workload_longest(&b->lm_answer),
                          (uint64_t)o->seed, err) ||
        !adamw_build(&b->lm_opt, b->lm.model.n_params, 5e-5f, 0.1f, err))
        return false;
    b->lm_opt_built = true;
    Case *c = b->cases;
    c[CASE_TRAIN_LM] = (Case){.name = CASE_NAMES[4], .training = true, .data = &b->lm_answer,
                                .model = &b->lm.model, .opt = &b->lm_opt};
    c[CASE_TRAIN_LM_ALL] = (Case){.name = CASE_NAMES[5], .training = true, .data = &b->lm_all,
                                    .model = &b->lm.model, .opt = &b->lm_opt};
    return true;
}

static bool setup(Bench *b, const Options *o, Summary *s, LfError *err) {
    s->rss_before_mb = mb((double)bench_current_rss_kb());
    if (!load_weights(b, o, s, err)) return false;
    s->rss_weights_mb = mb((double)bench_current_rss_kb());
    const Gpt2Config *cfg = &b->w->cfg;
    s->n_layer = cfg->n_layer;
    s->n_embd = cfg->n_embd;
    s->n_head = cfg->n_head;
    s->n_ctx = cfg->n_ctx;
    s->vocab_size = cfg->vocab_size;

    Rng r;
    rng_seed(&r, (uint64_t)o->seed ^ 0x6a09e667f3bcc909ULL);
    if (o->pad_to > cfg->n_ctx) {
        lf_error_set(err, LF_ERR_INPUT, "--pad-to %d exceeds the model's context of %d", o->pad_to, cfg->n_ctx);
        return false;
    }
    if (!bench_workload_padded(&b->padded, o->batch, o->pad_to, cfg->vocab_size, &r, err)) return false;
    bool sms_ok = o->data ? bench_workload_file(&b->sms, o->data, b->ck ? checkpoint_dir(b->ck) : NULL, o->batch,
                                                cfg->n_ctx, err)
                          : bench_workload_sms(&b->sms, o->batch, cfg->n_ctx, cfg->vocab_size, &r, err);
    if (!sms_ok) return false;

    LoraConfig lc = lora_config_default();
    s->rank = lc.rank;
    int longest = bench_workload_longest(&b->sms), max_T = o->pad_to > longest ? o->pad_to : longest;
    if (!classifier_build(&b->net, b->w, MODTREE_LABS, &lc, 2, o->batch, max_T, (uint64_t)o->seed, err) ||
        !adamw_build(&b->opt, b->net.model.n_params, 5e-5f, 0.1f, err))
        return false;
    b->opt_built = true;
    s->n_adapters = b->net.n_slots;

    Case *c = b->cases;
    Gpt2Model *net = &b->net.model;
    c[CASE_TRAIN_PADDED] = (Case){.name = CASE_NAMES[0], .training = true, .data = &b->padded, .model = net, .opt = &b->opt};
    c[CASE_TRAIN_LAST] = (Case){.name = CASE_NAMES[1], .training = true, .data = &b->sms, .model = net, .opt = &b->opt};
    c[CASE_INFER_PADDED] = (Case){.name = CASE_NAMES[2], .training = false, .data = &b->padded, .model = net, .opt = &b->opt};
    c[CASE_INFER_LAST] = (Case){.name = CASE_NAMES[3], .training = false, .data = &b->sms, .model = net, .opt = &b->opt};
    return !(o->cases[CASE_TRAIN_LM] || o->cases[CASE_TRAIN_LM_ALL]) || setup_lm(b, o, &r, err);
}

/* Each case's ceiling is measured right after the case, so that both see
 * the same machine (it may be shared). Every case runs on the same model
 * and buffers, so the steps' peak RSS is the one before the first
 * ceiling allocates its scratch matrices. */
static bool run_all(Bench *b, const Options *o, Summary *s, LfError *err) {
    BenchCeiling *p = &s->ceiling;
    bench_ceiling_init(p, &s->kernels, o->threads, o->repeat < 3 ? o->repeat : 3);
    for (int k = 0; k < N_CASES; k++) {
        if (!o->cases[k]) continue;
        if (!time_case(&b->cases[k], o, err) || !count_case(&b->cases[k], err))
            return false;
        if (k == CASE_TRAIN_PADDED) s->peak_train_padded_mb = mb((double)bench_peak_rss_kb());
        if (s->peak_rss_mb == 0) s->peak_rss_mb = mb((double)bench_peak_rss_kb());
        if (!o->no_ceiling && !ceiling_case(&b->cases[k], p, err)) return false;
    }
    if (o->cases[CASE_GENERATE] && !bench_generate(&b->net.model, 16, o->quick ? 32 : 256, p->reps, (uint64_t)o->seed,
                                                   &s->gen, err))
        return false;
    if (o->no_ceiling || !any_step_case(o->cases)) return true;
    s->square_n = o->quick ? 256 : 2048;
    return bench_ceiling_square(p, s->square_n, &s->square_gflops, err);
}

int cmd_bench(int argc, char **argv) {
    Options o = {.cases = {true, true, true, true, true, true, false}};
    int rc = parse_options(argc, argv, &o);
    if (rc != CLI_RUN) return rc;
    if (o.threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        o.threads = n > 0 ? (int)n : 1;
    }
    session_set_threads(o.threads);
    if (o.time_gemms) return bench_ceiling_serve(o.repeat);

    Summary s = {0};
    s.threads = o.threads;
    runtime_kernels(&s.kernels);
    read_loadavg(s.load_start);
    Bench b;
    memset(&b, 0, sizeof b);
    LfError err = {0};
    bool ok = setup(&b, &o, &s, &err) && run_all(&b, &o, &s, &err);
    if (!ok) {
        fprintf(stderr, "lorafit bench: %s\n", err.msg);
        bench_free(&b);
        return lf_error_exit_code(&err);
    }
    read_loadavg(s.load_end);
    if (o.json)
        print_json(&s, b.cases, o.cases, &o);
    else
        print_text(&s, b.cases, o.cases, &o);
    bench_free(&b);
    return 0;
}
