/* split.c - see include/lorafit/data/split.h */
#include "lorafit/data/split.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/data/csv.h"
#include "lorafit/util/rng.h"

/* Step 1 of dataset_split: keep m rows of every class, in file order. The
 * rows are grouped by class with a stable counting sort, so each class's
 * rows are in file order when they are shuffled. */
static size_t balance_rows(const Dataset *d, Rng *rng, int *rows, LfError *err) {
    size_t n_classes = (size_t)d->n_classes;
    size_t *start = calloc(n_classes + 1, sizeof *start); /* class c: grouped[start[c]..start[c+1]) */
    size_t *next = calloc(n_classes, sizeof *next);
    int *grouped = malloc(d->n * sizeof *grouped);
    bool *keep = calloc(d->n, sizeof *keep);
    size_t kept = 0;
    if (!start || !next || !grouped || !keep) {
        lf_error_set(err, LF_ERR_IO, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < d->n; i++) start[d->labels[i] + 1]++;
    size_t m = 0;
    int nonempty = 0;
    for (size_t c = 0; c < n_classes; c++) {
        size_t count = start[c + 1];
        if (count > 0) m = nonempty++ ? (count < m ? count : m) : count;
        start[c + 1] += start[c];
        next[c] = start[c];
    }
    if (nonempty < 2) {
        lf_error_set(err, LF_ERR_INPUT, "cannot balance: the rows are all of one class");
        goto done;
    }
    for (size_t i = 0; i < d->n; i++) grouped[next[d->labels[i]]++] = (int)i;
    for (size_t c = 0; c < n_classes; c++) {
        int *members = grouped + start[c];
        size_t count = start[c + 1] - start[c];
        if (count > m) rng_shuffle(rng, members, count);
        for (size_t i = 0; i < count && i < m; i++) keep[members[i]] = true;
    }
    for (size_t i = 0; i < d->n; i++)
        if (keep[i]) rows[kept++] = (int)i;
done:
    free(start);
    free(next);
    free(grouped);
    free(keep);
    return kept;
}

bool dataset_split(const Dataset *d, bool balance, double train_frac, double val_frac,
                   uint64_t seed, DatasetSplit *out, LfError *err) {
    memset(out, 0, sizeof *out);
    if (!(train_frac >= 0 && val_frac >= 0 && train_frac + val_frac <= 1)) {
        lf_error_set(err, LF_ERR_INPUT,
                     "the train and validation fractions (%g + %g) must be between 0 and 1 "
                     "and add up to at most 1",
                     train_frac, val_frac);
        return false;
    }
    if (d->n > INT_MAX) {
        lf_error_set(err, LF_ERR_INPUT, "too many rows to split (%zu)", d->n);
        return false;
    }
    int *rows = malloc(d->n * sizeof *rows);
    if (!rows) {
        lf_error_set(err, LF_ERR_IO, "out of memory");
        return false;
    }
    Rng rng;
    rng_seed(&rng, seed);
    size_t n = d->n;
    if (balance) {
        n = balance_rows(d, &rng, rows, err);
        if (n == 0) {
            free(rows);
            return false;
        }
    } else {
        for (size_t i = 0; i < n; i++) rows[i] = (int)i;
    }
    rng_shuffle(&rng, rows, n);
    /* As the labs compute it: int(len(df) * frac) on doubles. */
    out->rows = rows;
    out->n_train = (size_t)floor((double)n * train_frac);
    out->n_val = (size_t)floor((double)n * val_frac);
    if (out->n_train + out->n_val > n) out->n_val = n - out->n_train;
    out->n_test = n - out->n_train - out->n_val;
    return true;
}

void dataset_split_free(DatasetSplit *s) {
    free(s->rows);
    memset(s, 0, sizeof *s);
}

bool dataset_write_csv(const Dataset *d, const int *rows, size_t n, bool label_ids, FILE *f) {
    fputs("Label,Text\n", f);
    for (size_t i = 0; i < n; i++) {
        int id = d->labels[rows[i]];
        if (label_ids) {
            fprintf(f, "%d", id);
        } else {
            const char *name = d->class_names[id];
            csv_write_field(f, name, strlen(name));
        }
        putc(',', f);
        const char *text = d->texts[rows[i]];
        csv_write_field(f, text, strlen(text));
        putc('\n', f);
    }
    return !ferror(f);
}
