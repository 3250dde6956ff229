/* cmd_grid.c - `lorafit grid`: trains and evaluates every combination of
 * the given ranks, alphas, learning rates and target lists on one split, in
 * this process over one opened base (train_main borrows it), one
 * subdirectory per run; finished runs are skipped, an interrupted one
 * resumes from its checkpoint. Prints the table and writes it as CSV and
 * JSON (grid_table.c). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lorafit/cli/cli.h"
#include "lorafit/cli/commands.h"
#include "lorafit/cli/common_options.h"
#include "lorafit/cli/grid_table.h"
#include "lorafit/cli/session.h"
#include "lorafit/cli/train_run.h"
#include "lorafit/engine/batch.h"
#include "lorafit/engine/lora.h"
#include "lorafit/engine/modtree.h"
#include "lorafit/io/checkpoint.h"
#include "lorafit/util/clock.h"
#include "lorafit/util/dist.h"
#include "lorafit/util/files.h"

typedef struct {
    const char *model, *train, *val, *test, *out, *vocab;
    CliStringList ranks, alphas, lrs, targets;
    int epochs, batch_size, max_length, threads, pool;
    long long seed;
    double dropout;
} Options;

static const CliOption OPTIONS[] = {
    CLI_HEADING("data and output:"),
    CLI_OPT_BASE_MODEL(Options, model),
    {.name = "--train", .type = CLI_STRING, CLI_AT(Options, train), .metavar = "FILE", .flags = CLI_REQUIRED,
     .help = "training data (a labelled CSV or TSV, read as train reads it)"},
    {.name = "--val", .type = CLI_STRING, CLI_AT(Options, val), .metavar = "FILE", .flags = CLI_REQUIRED,
     .help = "validation data, evaluated after every epoch (the table shows the last)"},
    {.name = "--test", .type = CLI_STRING, CLI_AT(Options, test), .metavar = "FILE",
     .help = "test data, evaluated once per run as `lorafit eval` does"},
    CLI_OPT_OUT(Options, out, CLI_REQUIRED,
                "the grid's directory: a subdirectory per run (adapter/, train.jsonl, result.json) and the "
                "table as grid.csv and grid.json"),
    CLI_OPT_VOCAB(Options, vocab),
    CLI_HEADING("the grid (each repeatable; every combination is run):"),
    {.name = "--rank", .type = CLI_STRING_LIST, CLI_AT(Options, ranks), .metavar = "N", .help = "LoRA ranks (default 8)"},
    {.name = "--alpha", .type = CLI_STRING_LIST, CLI_AT(Options, alphas), .metavar = "X",
     .help = "LoRA alphas (default 16)"},
    {.name = "--lr", .type = CLI_STRING_LIST, CLI_AT(Options, lrs), .metavar = "X",
     .help = "AdamW learning rates (default 5e-5)"},
    {.name = "--targets", .type = CLI_STRING_LIST, CLI_AT(Options, targets), .metavar = "LIST",
     .help = "target lists, each comma-separated as train's --targets (default: train's, every Linear)"},
    CLI_HEADING("the same for every run:"),
    {.name = "--epochs", .type = CLI_INT, CLI_AT(Options, epochs), .lo = 1, .hi = 1 << 20, .metavar = "N",
     .def = "1", .help = "passes over the data"},
    CLI_OPT_BATCH_SIZE(Options, batch_size, 0, "texts per step"),
    CLI_OPT_SEED(Options, seed, 0, "123", "seeds the adapters' init, the data order and dropout"),
    {.name = "--lora-dropout", .type = CLI_DOUBLE, CLI_AT(Options, dropout), .lo_f = 0, .hi_f = 0.999,
     .metavar = "P", .def = "0", .help = "dropout on the adapters' input while training"},
    {.name = "--pool", .type = CLI_CHOICE, CLI_AT(Options, pool), .metavar = "P",
     .choices = (const char *const[]){"last-token", "last-position", NULL}, .def = "last-token",
     .help = "as train's --pool"},
    {.name = "--max-length", .type = CLI_INT, CLI_AT(Options, max_length), .lo = 1, .hi = 1 << 20, .metavar = "N",
     .def_text = "train's", .help = "tokens kept per text"},
    CLI_OPT_THREADS(Options, threads, "threads"),
    {0}};

static const CliCommand COMMAND = {
    .name = "grid",
    .usage = "lorafit grid --model DIR --train FILE --val FILE [--test FILE] --out DIR [--rank N]... "
             "[--alpha X]... [--lr X]... [--targets LIST]... [options]",
    .synopsis = "lorafit grid --model DIR --train FILE --val FILE [--test FILE] --out DIR [--rank N]... [options]",
    .about = "Trains an adapter for every combination of the --rank, --alpha, --lr and --targets values\n"
             "(each option repeatable: --rank 4 --rank 8) on one split, evaluates it on the validation\n"
             "and test data, and prints the table: name, r, alpha, dropout, lr, targets, trainable\n"
             "params, all params, trainable %, validation and test accuracy, time. Each run goes to\n"
             "OUT/NAME (NAME from its values: r8_a16_lr5e-05_all), the table to OUT/grid.csv and\n"
             "OUT/grid.json. Resumable: a run whose result.json is complete is skipped; a run\n"
             "stopped with its checkpoint (Ctrl-C, SIGTERM) resumes from it, bitwise as if it had\n"
             "not stopped; a run that left no checkpoint starts again. The base model is opened once.",
    .options = OPTIONS,
};

/* ---- the grid's values -------------------------------------------------- */

typedef struct {
    int ranks[CLI_LIST_MAX], n_ranks;
    double alphas[CLI_LIST_MAX], lrs[CLI_LIST_MAX];
    int n_alphas, n_lrs;
    const char *targets[CLI_LIST_MAX]; /* "" = train's default */
    int n_targets;
} GridAxes;

/* Each value of list as a number in [lo, hi] (a whole one when whole), or the default. */
static bool axis_numbers(const CliParse *p, const char *name, const CliStringList *list, const char *def, double lo,
                         double hi, bool whole, double *out, int *n) {
    *n = list->n ? list->n : 1;
    for (int i = 0; i < *n; i++) {
        const char *text = list->n ? list->v[i] : def;
        char *end;
        double v = strtod(text, &end);
        if (end == text || *end || !isfinite(v) || v < lo || v > hi || (whole && v != floor(v))) {
            cli_error(p, "%s %s: want %s in [%g, %g]", name, text, whole ? "a whole number" : "a number", lo, hi);
            return false;
        }
        out[i] = v;
    }
    return true;
}

/* A value given twice would be one run trained once and reported twice
 * ("finished before, skipped"): refused, naming both spellings (1e-3, 0.001). */
static bool axis_distinct(const CliParse *p, const char *name, const CliStringList *list, const double *v, int n) {
    for (int i = 1; i < n; i++)
        for (int j = 0; j < i; j++)
            if (v[i] == v[j]) {
                if (!strcmp(list->v[i], list->v[j])) cli_error(p, "%s %s: given twice", name, list->v[i]);
                else cli_error(p, "%s %s: the same value as %s %s", name, list->v[i], name, list->v[j]);
                return false;
            }
    return true;
}

static int parse_axes(const CliParse *p, const Options *o, GridAxes *g) {
    double ranks[CLI_LIST_MAX];
    if (!axis_numbers(p, "--rank", &o->ranks, "8", 1, LORA_RANK_MAX, true, ranks, &g->n_ranks) ||
        !axis_numbers(p, "--alpha", &o->alphas, "16", -LORA_ALPHA_ABS_MAX, LORA_ALPHA_ABS_MAX, false, g->alphas, &g->n_alphas) ||
        !axis_numbers(p, "--lr", &o->lrs, "5e-5", 0, 10, false, g->lrs, &g->n_lrs) ||
        !axis_distinct(p, "--rank", &o->ranks, ranks, g->n_ranks) ||
        !axis_distinct(p, "--alpha", &o->alphas, g->alphas, g->n_alphas) ||
        !axis_distinct(p, "--lr", &o->lrs, g->lrs, g->n_lrs))
        return 2;
    for (int i = 0; i < g->n_ranks; i++) g->ranks[i] = (int)ranks[i];
    g->n_targets = o->targets.n ? o->targets.n : 1;
    for (int i = 0; i < g->n_targets; i++) {
        g->targets[i] = o->targets.n ? o->targets.v[i] : "";
        LoraConfig lc = lora_config_default();
        LfError err = {0};
        if (g->targets[i][0] && !lora_config_set_targets(&lc, g->targets[i], &err))
            return cli_error(p, "--targets %s: %s", g->targets[i], err.msg);
        for (int j = 0; j < i; j++)
            if (!strcmp(g->targets[i], g->targets[j]))
                return cli_error(p, "--targets %s: given twice", g->targets[i]);
    }
    return CLI_RUN;
}

/* ---- one run ------------------------------------------------------------ */

/* "r8_a16_lr5e-05_W_query+W_value": the run's values, safe as a file name. */
static void run_name(const GridRow *row, char *buf, size_t cap) {
    snprintf(buf, cap, "r%d_a%g_lr%g_%s", row->rank, row->alpha, row->lr, row->targets[0] ? row->targets : "all");
    for (char *c = buf; *c; c++)
        if (*c == ',') *c = '+';
        else if (!(*c == '.' || *c == '-' || *c == '+' || *c == '_' || (*c >= '0' && *c <= '9') ||
                   (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')))
            *c = '_';
}

static bool exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* Trains the run in dir: resumes its checkpoint when there is one. Returns train's exit code. */
static int train_run(const Options *o, const Session *base, const GridRow *row, const char *dir, bool resume,
                     TrainOutcome *outcome) {
    char adapter[4400], log[4400], rank[32], alpha[40], lr[40], epochs[32], batch[32], seed[32], dropout[40],
        max_length[32], threads[32];
    snprintf(adapter, sizeof adapter, "%s/adapter", dir);
    snprintf(log, sizeof log, "%s/train.jsonl", dir);
    snprintf(rank, sizeof rank, "%d", row->rank);
    snprintf(alpha, sizeof alpha, "%.17g", row->alpha);
    snprintf(lr, sizeof lr, "%.17g", row->lr);
    snprintf(epochs, sizeof epochs, "%d", o->epochs);
    snprintf(batch, sizeof batch, "%d", o->batch_size);
    snprintf(seed, sizeof seed, "%lld", o->seed);
    snprintf(dropout, sizeof dropout, "%.17g", o->dropout);
    snprintf(max_length, sizeof max_length, "%d", o->max_length);
    snprintf(threads, sizeof threads, "%d", o->threads);
    const char *argv[48] = {"train", "--model", o->model, "--train", o->train, "--val", o->val, resume ? "--resume" : "--out",
                            adapter, "--log", log, "--log-every", "0", "--rank", rank, "--alpha", alpha, "--lr", lr,
                            "--epochs", epochs, "--batch-size", batch, "--seed", seed, "--lora-dropout", dropout,
                            "--pool", o->pool ? "last-position" : "last-token"};
    int argc = 29;
    if (row->targets[0]) argv[argc++] = "--targets", argv[argc++] = row->targets;
    if (o->max_length) argv[argc++] = "--max-length", argv[argc++] = max_length;
    if (o->threads) argv[argc++] = "--threads", argv[argc++] = threads;
    if (o->vocab) argv[argc++] = "--vocab", argv[argc++] = o->vocab;
    argv[argc] = NULL;
    return train_main(argc, (char **)argv, base, outcome);
}

/* The accuracy on the labelled file `data` of the adapter in dir/adapter,
 * as eval computes it; *forward gets the seconds spent classifying. */
static bool accuracy_on(const char *data, Session *s, const char *adapter, double *acc, double *forward,
                        LfError *err) {
    if (!session_use_adapter(s, adapter, err)) return false;
    DatasetOptions dopt = {0};
    dopt.class_names = (const char *const *)s->ac.class_names;
    dopt.n_classes = s->ac.n_classes;
    Dataset *d = dataset_load(data, &dopt, err);
    TokenSet ts = {0};
    float *probs = NULL;
    bool ok = d && tokenset_encode(&ts, s->tok, d->texts, d->labels, d->n, s->ac.max_length, err);
    if (ok && !(probs = malloc((ts.n ? ts.n : 1) * (size_t)s->ac.n_classes * sizeof *probs))) {
        lf_error_set(err, LF_ERR_IO, "out of memory");
        ok = false;
    }
    double t0 = clock_seconds();
    if (ok) ok = session_classify(s, &ts, probs, NULL, err);
    *forward = clock_seconds() - t0;
    if (ok) {
        *acc = ts.n ? (double)batch_count_correct(probs, ts.labels, ts.n, s->ac.n_classes) / (double)ts.n : 0;
    } else if (d) {
        lf_error_prefix(err, "%s", data);
    }
    free(probs);
    tokenset_free(&ts);
    dataset_free(d);
    return ok;
}

/* Runs one combination into row (named, its values set): skipped when its
 * result is complete. Returns 0 or the exit code. */
static int grid_run(const Options *o, Session *base, GridRow *row, double *overhead, LfError *err) {
    char dir[4200], adapter[4300], result[4300];
    snprintf(dir, sizeof dir, "%s/%s", o->out, row->name);
    snprintf(adapter, sizeof adapter, "%s/adapter", dir);
    snprintf(result, sizeof result, "%s/result.json", dir);
    if (grid_row_read(result, row, o->test != NULL)) {
        fprintf(stderr, "lorafit grid: %s: finished before, skipped\n", row->name);
        row->skipped = true;
        return 0;
    }
    char config[4400];
    snprintf(config, sizeof config, "%s/adapter_config.json", adapter);
    bool resume = exists(config);
    fprintf(stderr, "lorafit grid: %s: %s\n", row->name, resume ? "resuming its checkpoint" : "training");
    double t0 = clock_seconds(), forward = 0;
    TrainOutcome out;
    int rc = train_run(o, base, row, dir, resume, &out);
    if (rc) return rc;
    row->trainable = out.trainable;
    row->total = out.total;
    row->val_accuracy = out.val_accuracy;
    row->test_accuracy = NAN;
    double val_forward = 0;
    /* A checkpoint that had finished every epoch resumes without a validation pass: one here. */
    if ((isnan(row->val_accuracy) && !accuracy_on(o->val, base, adapter, &row->val_accuracy, &val_forward, err)) ||
        (o->test && !accuracy_on(o->test, base, adapter, &row->test_accuracy, &forward, err)))
        return lf_error_exit_code(err);
    forward += val_forward;
    row->seconds = clock_seconds() - t0;
    row->train_seconds = out.train_seconds;
    *overhead = row->seconds - out.train_seconds - forward;
    return grid_row_write(result, row, err) ? 0 : lf_error_exit_code(err);
}

/* Every target list names Linears of this model: asked now, before the
 * first run trains, rather than when its own run comes. */
static bool check_targets(const GridAxes *g, const Gpt2Config *cfg, LfError *err) {
    for (int i = 0; i < g->n_targets; i++) {
        if (!g->targets[i][0]) continue;
        LoraConfig lc = lora_config_default();
        ModTree tree;
        bool ok = lora_config_set_targets(&lc, g->targets[i], err) &&
                  modtree_build(&tree, cfg, lora_targets_style(&lc), err);
        if (ok) {
            ok = lora_inject(&tree, &lc, err);
            modtree_free(&tree);
        }
        if (!ok) {
            lf_error_prefix(err, "--targets %s", g->targets[i]);
            return false;
        }
    }
    return true;
}

static int run(const Options *o, const GridAxes *g, LfError *err) {
    int n = g->n_ranks * g->n_alphas * g->n_lrs * g->n_targets, rc = 0, trained = 0;
    GridRow *rows = calloc((size_t)n, sizeof *rows);
    Session base;
    if (!rows) {
        lf_error_set(err, LF_ERR_IO, "out of memory");
        return 1;
    }
    double overhead = 0, most = 0;
    if (!session_open_base(&base, "grid", o->model, o->vocab, err)) {
        free(rows);
        return lf_error_exit_code(err);
    }
    if (!check_targets(g, checkpoint_config(base.ck), err)) {
        session_close(&base);
        free(rows);
        return lf_error_exit_code(err);
    }
    base.batch_size = o->batch_size;
    int k = 0;
    for (int r = 0; r < g->n_ranks; r++)
        for (int a = 0; a < g->n_alphas; a++)
            for (int l = 0; l < g->n_lrs; l++)
                for (int t = 0; t < g->n_targets; t++, k++) {
                    GridRow *row = &rows[k];
                    *row = (GridRow){.rank = g->ranks[r], .alpha = g->alphas[a], .lr = g->lrs[l], .dropout = o->dropout};
                    snprintf(row->targets, sizeof row->targets, "%s", g->targets[t]);
                    run_name(row, row->name, sizeof row->name);
                }
    for (k = 0; k < n && rc == 0; k++) {
        double oh = 0;
        rc = grid_run(o, &base, &rows[k], &oh, err);
        if (rc == 0 && !rows[k].skipped) trained++, overhead += oh, most = fmax(most, oh);
        if (rc == 130)
            fprintf(stderr, "lorafit grid: stopped during %s; the same command resumes it\n", rows[k].name);
        else if (rc && !err->msg[0]) lf_error_set(err, LF_ERR_INPUT, "run %s failed", rows[k].name);
    }
    if (rc == 0) {
        grid_table_print(stdout, rows, n);
        if (trained)
            fprintf(stderr, "lorafit grid: %d runs trained, %d skipped; overhead (all but the training loop and the "
                            "test forward) %.3f s per run on average, %.3f s at most\n",
                    trained, n - trained, overhead / trained, most);
        if (!grid_table_write(o->out, rows, n, err)) rc = lf_error_exit_code(err);
    }
    session_close(&base);
    free(rows);
    return rc;
}

/* A grid's runs share one process's base; under mpirun each rank would run
 * the whole grid into the same files. */
static int refuse_ranks(void) {
    Dist d;
    int rc = session_join_ranks(&d, "grid");
    if (rc) return rc;
    if (dist_size(&d) > 1) {
        fprintf(stderr, "lorafit grid: runs in one process: start it without mpirun (or start several grids, "
                        "each with its own lists and --out)\n");
        rc = 2;
    }
    dist_finalize(&d);
    return rc;
}

int cmd_grid(int argc, char **argv) {
    Options o = {0};
    CliParse p;
    int rc = cli_parse(&p, &COMMAND, argc, argv, &o);
    if (rc != CLI_RUN) return rc;
    if ((rc = refuse_ranks())) return rc;
    GridAxes g;
    if ((rc = parse_axes(&p, &o, &g)) != CLI_RUN) return rc;
    session_set_threads(o.threads);
    LfError err = {0};
    rc = run(&o, &g, &err);
    if (rc && rc != 130 && err.msg[0]) fprintf(stderr, "lorafit grid: %s\n", err.msg);
    return rc;
}
