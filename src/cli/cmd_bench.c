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

#include "lorafit/cli/bench_run.h"
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
#include "lorafit/engine/quant_tiles.h"
#include "lorafit/engine/quant_weights.h"
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


static const char *const CASE_NAMES[] = {"train-padded", "train-last", "infer-padded", "infer-last",
                                         "train-lm",     "train-lm-all", "generate",  NULL};
enum { LM_ANSWER_TOKENS = 10 }; /* train-lm's counted next tokens per text */

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
    CLI_OPT_THREADS(BenchOptions, threads,
                    "threads; OpenBLAS runs single-threaded under lorafit's own split of each GEMM"),
    CLI_OPT_SEED(BenchOptions, seed, 0, "123", "seeds the random weights, tokens, labels and adapters"),
    {.name = "--repeat", .type = CLI_INT, CLI_AT(BenchOptions, repeat), .lo = 1, .hi = 1000, .metavar = "N", .def = "5",
     .help = "timed repetitions per case; the median is reported"},
    {.name = "--warmup", .type = CLI_INT, CLI_AT(BenchOptions, warmup), .lo = 0, .hi = 1000, .metavar = "N", .def = "2",
     .help = "untimed repetitions before them"},
    CLI_OPT_CONFIG(BenchOptions, config),
    {.name = "--model", .type = CLI_STRING, CLI_AT(BenchOptions, model), .metavar = "DIR",
     .help = "a real checkpoint instead of random weights"},
    {.name = "--data", .type = CLI_STRING, CLI_AT(BenchOptions, data), .metavar = "FILE",
     .help = "a labelled CSV/TSV: the SMS-length cases use its first 64 texts, encoded with GPT-2's tokenizer, "
             "in consecutive batches"},
    CLI_OPT_BASE_DTYPE(BenchOptions, base_dtype, 0),
    CLI_OPT_RECOMPUTE(BenchOptions, recompute),
    CLI_OPT_BATCH_SIZE(BenchOptions, batch, 0, "sequences per batch"),
    CLI_ALIAS("--batch", "--batch-size"),
    {.name = "--pad-to", .type = CLI_INT, CLI_AT(BenchOptions, pad_to), .lo = 1, .hi = 1 << 16, .metavar = "T",
     .def = "120", .help = "padded length of the -padded cases"},
    {.name = "--cases", .type = CLI_CUSTOM, CLI_AT(BenchOptions, cases), .metavar = "LIST", .parse = parse_cases,
     .def_text = "all", .help = "comma-separated subset of the cases above"},
    {.name = "--no-ceiling", .type = CLI_FLAG, CLI_AT(BenchOptions, no_ceiling),
     .help = "skip the sgemm measurements (to profile the steps alone)"},
    {.name = "--shapes", .type = CLI_FLAG, CLI_AT(BenchOptions, shapes),
     .help = "also print every GEMM shape's count, share and sgemm GFLOP/s"},
    {.name = "--json", .type = CLI_FLAG, CLI_AT(BenchOptions, json), .help = "print the figures as one JSON object"},
    {.name = "--quick", .type = CLI_FLAG, CLI_AT(BenchOptions, quick),
     .help = "a tiny model and shape (2 layers, width 64, 4 x 16), 1 repetition: checks the command runs, "
             "measures nothing useful"},
    {.name = "--time-gemms", .type = CLI_FLAG, CLI_AT(BenchOptions, time_gemms),
     .help = "only time the GEMMs listed on standard input, one 'TA TB M N K COUNT' a line, as the ceiling "
             "does (--repeat passes on --threads), and print them with their seconds after a line 'kernels "
             "NAME': what bench runs in a second process for a ceiling on other kernels"},
    {0}};

static const CliCommand COMMAND = {
    .name = "bench",
    .usage = "lorafit bench [--threads N] [--seed N] [--repeat N] [--warmup N] [--config PRESET | --model DIR] "
             "[--data FILE.csv] [--base-dtype D] [--[no-]recompute] [--batch-size N] [--pad-to T] [--cases LIST] [--shapes] [--no-ceiling] [--json] "
             "[--quick] [--time-gemms]",
    .synopsis = "lorafit bench [options]",
    .about = ABOUT,
    .options = OPTIONS,
    .epilogue = "Between parallel regions OpenMP's threads spin briefly, then sleep: lorafit sets\n"
                "GOMP_SPINCOUNT=" RUNTIME_SPINCOUNT " unless OMP_WAIT_POLICY or GOMP_SPINCOUNT is set in the environment\n"
                "(libgomp reads them at start-up); the setting in force is printed.",
};

static int parse_options(int argc, char **argv, BenchOptions *o) {
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
static float run_step(Gpt2Model *m, AdamW *opt, const BenchCase *c, int i) {
    Gpt2Batch b = bench_workload_batch(c->data, i);
    if (!c->training) b.labels = NULL;
    float loss = gpt2_forward(m, &b, c->data->pool, c->training, NULL);
    if (c->training) {
        gpt2_backward(m);
        adamw_step(opt, m->params, m->grads, m->n_params);
    }
    return loss;
}

static bool time_case(BenchCase *c, const BenchOptions *o, LfError *err) {
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
static bool count_case(BenchCase *c, LfError *err) {
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
static bool ceiling_case(BenchCase *c, BenchCeiling *p, LfError *err) {
    double s = bench_ceiling_time(p, &c->gemms, err);
    if (s < 0) return false;
    c->ceiling_gflops = s > 0 ? bench_gemm_flops(&c->gemms) * 1e-9 / s : 0.0;
    c->ceiling_ms = c->ceiling_gflops > 0 ? 1e3 * (c->gflop / c->ceiling_gflops) : 0.0;
    return true;
}

typedef struct {
    Gpt2Checkpoint *ck;
    Gpt2Weights *random;
    const Gpt2Weights *w;
    QuantWeights qw; /* --base-dtype bf16 / int8 / nf4: w points at qw.w */
    Classifier net, lm; /* lm: built only for the LM cases */
    AdamW opt, lm_opt;
    bool opt_built, lm_opt_built;
    BenchWorkload padded, sms, lm_answer, lm_all;
    BenchCase cases[N_CASES];
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
    quant_weights_free(&b->qw);
    gpt2_weights_random_free(b->random);
    checkpoint_close(b->ck);
}

static double mb(double kb) { return kb / 1024.0; }

/* Weights: the checkpoint (checkpoint.h says where they live), or random
 * ones of the preset's (or the tiny --quick) shape. */
static bool load_weights(Bench *b, const BenchOptions *o, BenchSummary *s, LfError *err) {
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

/* --base-dtype: the block matrices quantized (bf16 on oneDNN) as train does (a file
 * `lorafit quantize` wrote keeps its own), and their size either way. */
static bool hold_base(Bench *b, const BenchOptions *o, BenchSummary *s, LfError *err) {
    QuantDtype held = b->ck ? checkpoint_base_dtype(b->ck) : QUANT_F32;
    if (!session_base_dtype(held, o->base_dtype, b->ck ? checkpoint_file(b->ck) : "", &s->base_dtype, err))
        return false;
    if (held == QUANT_F32 && s->base_dtype != QUANT_F32) {
        if (!session_quantize_base(&b->qw, b->w, s->base_dtype, NULL, "bench", err)) return false;
        b->w = &b->qw.w;
    } else if (held != QUANT_F32 &&
               !session_quant_tiles(checkpoint_quant_matrices(b->ck), b->w->cfg.n_layer * QUANT_MATS_PER_LAYER, "bench", err)) {
        return false;
    }
    s->quant_tiles = quant_tiles_name(b->w);
    s->block_weights_mb = (double)quant_weights_block_bytes(b->w) / (1024.0 * 1024.0);
    s->recompute = session_recompute(o->recompute, s->base_dtype);
    return true;
}

/* The causal LM (same adapters, n_classes 0) and its SQuAD-like batch:
 * the same texts twice, 10 answer tokens counted or every one. */
static bool setup_lm(Bench *b, const BenchOptions *o, const BenchSummary *s, Rng *r, LfError *err) {
    const Gpt2Config *cfg = &b->w->cfg;
    Rng again = *r;
    if (!bench_workload_lm(&b->lm_answer, o->batch, cfg->n_ctx, LM_ANSWER_TOKENS, cfg->vocab_size, r, err) ||
        !bench_workload_lm(&b->lm_all, o->batch, cfg->n_ctx, 0, cfg->vocab_size, &again, err))
        return false;
    LoraConfig lc = lora_config_default();
    if (!classifier_build(&b->lm, b->w, MODTREE_LABS, &lc, 0, o->batch, bench_workload_longest(&b->lm_answer),
                          (uint64_t)o->seed, err) ||
        !gpt2_set_recompute(&b->lm.model, s->recompute, GPT2_RECOMPUTE_KEEP_BYTES, err) ||
        !adamw_build(&b->lm_opt, b->lm.model.n_params, 5e-5f, 0.1f, err))
        return false;
    b->lm_opt_built = true;
    BenchCase *c = b->cases;
    c[CASE_TRAIN_LM] = (BenchCase){.name = CASE_NAMES[4], .training = true, .data = &b->lm_answer,
                                .model = &b->lm.model, .opt = &b->lm_opt};
    c[CASE_TRAIN_LM_ALL] = (BenchCase){.name = CASE_NAMES[5], .training = true, .data = &b->lm_all,
                                    .model = &b->lm.model, .opt = &b->lm_opt};
    return true;
}

static bool setup(Bench *b, const BenchOptions *o, BenchSummary *s, LfError *err) {
    s->rss_before_mb = mb((double)bench_current_rss_kb());
    if (!load_weights(b, o, s, err) || !hold_base(b, o, s, err)) return false;
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
        !gpt2_set_recompute(&b->net.model, s->recompute, GPT2_RECOMPUTE_KEEP_BYTES, err) ||
        !adamw_build(&b->opt, b->net.model.n_params, 5e-5f, 0.1f, err))
        return false;
    b->opt_built = true;
    s->n_adapters = b->net.n_slots;

    BenchCase *c = b->cases;
    Gpt2Model *net = &b->net.model;
    c[CASE_TRAIN_PADDED] = (BenchCase){.name = CASE_NAMES[0], .training = true, .data = &b->padded, .model = net, .opt = &b->opt};
    c[CASE_TRAIN_LAST] = (BenchCase){.name = CASE_NAMES[1], .training = true, .data = &b->sms, .model = net, .opt = &b->opt};
    c[CASE_INFER_PADDED] = (BenchCase){.name = CASE_NAMES[2], .training = false, .data = &b->padded, .model = net, .opt = &b->opt};
    c[CASE_INFER_LAST] = (BenchCase){.name = CASE_NAMES[3], .training = false, .data = &b->sms, .model = net, .opt = &b->opt};
    return !(o->cases[CASE_TRAIN_LM] || o->cases[CASE_TRAIN_LM_ALL]) || setup_lm(b, o, s, &r, err);
}

/* Each case's ceiling is measured right after the case, so that both see
 * the same machine (it may be shared). Every case runs on the same model
 * and buffers, so the steps' peak RSS is the one before the first
 * ceiling allocates its scratch matrices. */
static bool run_all(Bench *b, const BenchOptions *o, BenchSummary *s, LfError *err) {
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
    if (o->no_ceiling || !bench_any_step_case(o->cases)) return true;
    s->square_n = o->quick ? 256 : 2048;
    return bench_ceiling_square(p, s->square_n, &s->square_gflops, err);
}

int cmd_bench(int argc, char **argv) {
    BenchOptions o = {.cases = {true, true, true, true, true, true, false}, .recompute = -1};
    int rc = parse_options(argc, argv, &o);
    if (rc != CLI_RUN) return rc;
    if (o.threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        o.threads = n > 0 ? (int)n : 1;
    }
    session_set_threads(o.threads);
    if (o.time_gemms) return bench_ceiling_serve(o.repeat);

    BenchSummary s = {0};
    s.threads = o.threads;
    runtime_kernels(&s.kernels);
    bench_read_loadavg(s.load_start);
    Bench b;
    memset(&b, 0, sizeof b);
    LfError err = {0};
    bool ok = setup(&b, &o, &s, &err) && run_all(&b, &o, &s, &err);
    if (!ok) {
        fprintf(stderr, "lorafit bench: %s\n", err.msg);
        bench_free(&b);
        return lf_error_exit_code(&err);
    }
    bench_read_loadavg(s.load_end);
    if (o.json)
        bench_print_json(&s, b.cases, o.cases, &o);
    else
        bench_print_text(&s, b.cases, o.cases, &o);
    bench_free(&b);
    return 0;
}
