/* cmd_split.c - `lorafit split`: the labs' data preparation (Raschka, LLMs
 * from scratch, ch. 6). Balance the classes, shuffle with our own seeded
 * PRNG, and write train.csv / validation.csv / test.csv that train and eval
 * read. The algorithm is dataset_split() in split.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lorafit/cli/cli.h"
#include "lorafit/cli/commands.h"
#include "lorafit/cli/common_options.h"
#include "lorafit/cli/data_options.h"
#include "lorafit/data/split.h"
#include "lorafit/util/files.h"

static const char *const PART_NAMES[3] = {"train.csv", "validation.csv", "test.csv"};

typedef struct {
    const char *input, *out_dir;
    bool balance, label_ids, force;
    double train, val;
    long seed;
    DatasetOptions data;
} SplitArgs;

static const CliOption OPTIONS[] = {
    CLI_HEADING("options:"),
    {.name = "INPUT", .type = CLI_STRING, CLI_AT(SplitArgs, input),
     .help = "the labelled file: the UCI SMSSpamCollection, a CSV ..."},
    CLI_OPT_OUT(SplitArgs, out_dir, 0, "where to write the three files (created if missing); files already there need --force"),
    CLI_ALIAS("--out-dir", "--out"),
    {.name = "--force", .type = CLI_FLAG, CLI_AT(SplitArgs, force), .help = "replace train.csv, validation.csv and test.csv in --out"},
    {.name = "--balance", .type = CLI_FLAG, CLI_AT(SplitArgs, balance),
     .help = "keep as many rows of every class as the smallest has"},
    {.name = "--train", .type = CLI_DOUBLE, CLI_AT(SplitArgs, train), .lo_f = 0, .hi_f = 1, .metavar = "F",
     .def = "0.7", .help = "fraction of rows for training"},
    {.name = "--val", .type = CLI_DOUBLE, CLI_AT(SplitArgs, val), .lo_f = 0, .hi_f = 1, .metavar = "F",
     .def = "0.1", .help = "fraction of rows for validation; test gets the rest"},
    CLI_OPT_SEED(SplitArgs, seed, 0, "123", "PRNG seed: the same seed gives the same files"),
    {.name = "--label-ids", .type = CLI_FLAG, CLI_AT(SplitArgs, label_ids),
     .help = "write class ids (0, 1) as the labs' CSVs do, not class names"},
    CLI_INCLUDE(DATASET_OPTIONS, SplitArgs, data),
    {0}};

static const CliCommand COMMAND = {
    .name = "split",
    .usage = "lorafit split INPUT --out DIR [--force] [--balance] [--train 0.7] [--val 0.1] [--seed 123] [--label-ids] "
             DATASET_CLI_USAGE,
    .about = "Balance and split a labelled CSV/TSV file into train.csv, validation.csv\n"
             "and test.csv (header Label,Text), as the LoRA spam-classification labs do.",
    .options = OPTIONS,
    .epilogue = "Sizes: train = floor(n * F_train), validation = floor(n * F_val), test = the rest.",
};

static int parse_args(SplitArgs *s, int argc, char **argv) {
    CliParse p;
    int rc = cli_parse(&p, &COMMAND, argc, argv, s);
    if (rc != CLI_RUN) return rc;
    if (!s->input) return cli_error(&p, "no input file given");
    if (!s->out_dir || !*s->out_dir) return cli_error(&p, "--out is required");
    if (s->train + s->val > 1.0)
        return cli_error(&p, "--train %g and --val %g add up to more than 1", s->train, s->val);
    return CLI_RUN;
}

/* Makes the output directory; *created says whether it is new (and so
 * removed again on failure). */
static bool make_out_dir(const char *dir, bool *created, LfError *err) {
    *created = false;
    if (!fs_make_parents(dir, err)) return false;
    if (mkdir(dir, 0777) == 0) {
        *created = true;
        return true;
    }
    struct stat st;
    if (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return true;
    if (errno == EEXIST) errno = ENOTDIR;
    lf_error_errno(err, LF_ERR_IO, "cannot create the output directory %s", dir);
    return false;
}

/* All three parts are written to temporary files first and renamed only
 * when all are complete, so a failure leaves nothing behind. */
static bool write_parts(const SplitArgs *s, const Dataset *d, const DatasetSplit *sp,
                        LfError *err) {
    bool created;
    if (!make_out_dir(s->out_dir, &created, err)) return false;
    const size_t counts[3] = {sp->n_train, sp->n_val, sp->n_test};
    FsAtomic part[3] = {{0}};
    bool ok = true;
    size_t start = 0;
    for (int p = 0; p < 3 && ok; p++) {
        char path[4096];
        if (snprintf(path, sizeof path, "%s/%s", s->out_dir, PART_NAMES[p]) >= (int)sizeof path) {
            lf_error_set(err, LF_ERR_INPUT, "output directory name too long: %s", s->out_dir);
            ok = false;
            break;
        }
        if (fs_same_path(path, s->input)) {
            lf_error_set(err, LF_ERR_INPUT, "%s is the input: the split would replace it; choose another --out", path);
            ok = false;
            break;
        }
        if (!s->force && access(path, F_OK) == 0) {
            lf_error_set(err, LF_ERR_INPUT, "%s already exists; pass --force to replace it", path);
            ok = false;
            break;
        }
        ok = fs_atomic_open(&part[p], path, err);
        if (ok && !dataset_write_csv(d, sp->rows + start, counts[p], s->label_ids, part[p].f)) {
            lf_error_errno(err, LF_ERR_IO, "cannot write %s", path);
            ok = false;
        }
        ok = ok && fs_atomic_finish(&part[p], err);
        start += counts[p];
    }
    for (int p = 0; p < 3 && ok; p++) ok = fs_atomic_commit(&part[p], err);
    for (int p = 0; p < 3; p++) fs_atomic_abort(&part[p]);
    if (!ok && created) rmdir(s->out_dir);
    return ok;
}

static void print_counts(const Dataset *d, const int *rows, size_t n) {
    size_t *counts = calloc((size_t)d->n_classes, sizeof *counts);
    if (!counts) return;
    for (size_t i = 0; i < n; i++) counts[d->labels[rows ? rows[i] : (int)i]]++;
    for (int c = 0; c < d->n_classes; c++)
        printf("%s%s %zu", c ? ", " : "", d->class_names[c], counts[c]);
    free(counts);
}

static void print_report(const SplitArgs *s, const Dataset *d, const DatasetSplit *sp) {
    printf("read %s: %zu rows (%s, %s): ", s->input, d->n, csv_format_name(d->format),
           d->has_header ? "header" : "no header");
    print_counts(d, NULL, d->n);
    size_t total = sp->n_train + sp->n_val + sp->n_test;
    if (s->balance) {
        printf("\nbalanced: %zu rows: ", total);
        print_counts(d, sp->rows, total);
    }
    const size_t counts[3] = {sp->n_train, sp->n_val, sp->n_test};
    size_t start = 0;
    for (int p = 0; p < 3; p++) {
        printf("\nwrote %s/%s: %zu rows: ", s->out_dir, PART_NAMES[p], counts[p]);
        print_counts(d, sp->rows + start, counts[p]);
        start += counts[p];
    }
    printf("\n");
}

int cmd_split(int argc, char **argv) {
    SplitArgs s = {0};
    int rc = parse_args(&s, argc, argv);
    if (rc != CLI_RUN) {
        dataset_options_free(&s.data);
        return rc;
    }
    LfError err = {0};
    DatasetSplit sp = {0};
    Dataset *d = dataset_load(s.input, &s.data, &err);
    if (d) dataset_print_warnings(d, "split", s.input, stderr);
    bool ok = d != NULL;
    if (ok && !dataset_split(d, s.balance, s.train, s.val, (uint64_t)s.seed, &sp, &err)) {
        lf_error_prefix(&err, "%s", s.input);
        ok = false;
    }
    ok = ok && write_parts(&s, d, &sp, &err);
    if (ok) print_report(&s, d, &sp);
    else fprintf(stderr, "lorafit split: %s\n", err.msg);
    dataset_split_free(&sp);
    dataset_free(d);
    dataset_options_free(&s.data);
    return ok ? 0 : lf_error_exit_code(&err);
}
