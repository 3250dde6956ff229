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
#include "lorafit/cli/data_options.h"
#include "lorafit/data/split.h"
#include "lorafit/util/files.h"

static const char *USAGE = "lorafit split INPUT --out-dir DIR [--balance] [--train 0.7] "
                           "[--val 0.1] [--seed 123] [--label-ids] " DATASET_CLI_USAGE;

static const char *HELP =
    "Balance and split a labelled CSV/TSV file into train.csv, validation.csv\n"
    "and test.csv (header Label,Text), as the LoRA spam-classification labs do.\n"
    "\n"
    "  INPUT              the labelled file: the UCI SMSSpamCollection, a CSV ...\n"
    "  --out-dir DIR      where to write the three files (created if missing)\n"
    "  --balance          keep as many rows of every class as the smallest has\n"
    "  --train F          fraction of rows for training (default 0.7)\n"
    "  --val F            fraction of rows for validation (default 0.1); test gets the rest\n"
    "  --seed N           PRNG seed (default 123): the same seed gives the same files\n"
    "  --label-ids        write class ids (0, 1) as the labs' CSVs do, not class names\n" DATASET_CLI_HELP
    "\n"
    "Sizes: train = floor(n * F_train), validation = floor(n * F_val), test = the rest.\n";

static const char *const PART_NAMES[3] = {"train.csv", "validation.csv", "test.csv"};

typedef struct {
    const char *input, *out_dir;
    bool balance, label_ids;
    double train, val;
    long seed;
    DatasetOptions data;
} SplitArgs;

/* Returns 0 to go on, or the exit code. */
static int parse_args(SplitArgs *s, int argc, char **argv) {
    CliArgs a;
    cli_init(&a, "split", USAGE, argc, argv);
    const char *arg;
    int kind;
    while ((kind = cli_next(&a, &arg)) != CLI_END) {
        if (kind == CLI_POSITIONAL) {
            if (s->input) return cli_error(&a, "unexpected argument '%s'", arg);
            s->input = arg;
            continue;
        }
        int shared = dataset_cli_option(&a, &s->data);
        if (shared < 0) return 2;
        if (shared > 0) continue;
        if (cli_is(&a, "--help")) {
            printf("usage: %s\n\n%s", USAGE, HELP);
            return -1;
        } else if (cli_is(&a, "--out-dir")) {
            if (!cli_value(&a, &s->out_dir)) return 2;
        } else if (cli_is(&a, "--balance")) {
            if (!cli_set_flag(&a, &s->balance)) return 2;
        } else if (cli_is(&a, "--label-ids")) {
            if (!cli_set_flag(&a, &s->label_ids)) return 2;
        } else if (cli_is(&a, "--train")) {
            if (!cli_double(&a, 0, 1, &s->train)) return 2;
        } else if (cli_is(&a, "--val")) {
            if (!cli_double(&a, 0, 1, &s->val)) return 2;
        } else if (cli_is(&a, "--seed")) {
            if (!cli_long(&a, 0, 0x7fffffffffffffffL, &s->seed)) return 2;
        } else {
            return cli_unknown(&a);
        }
    }
    if (!s->input) return cli_error(&a, "no input file given");
    if (!s->out_dir || !*s->out_dir) return cli_error(&a, "--out-dir is required");
    if (s->train + s->val > 1.0)
        return cli_error(&a, "--train %g and --val %g add up to more than 1", s->train, s->val);
    return 0;
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
    SplitArgs s = {.train = 0.7, .val = 0.1, .seed = 123};
    int rc = parse_args(&s, argc, argv);
    if (rc != 0) {
        dataset_options_free(&s.data);
        return rc < 0 ? 0 : rc;
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
