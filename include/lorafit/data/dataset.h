/* dataset.h - a labelled text file read into memory: what train, eval and
 * split consume (the split itself is split.h).
 *
 * dataset_load() reads a CSV or TSV file (see csv.h), finds the label and
 * text columns, maps every label to a class id and keeps, per row, the text
 * and the id. Only those two fields are kept, so memory grows with the
 * texts, not with the file.
 *
 * Header. With DATASET_HEADER_AUTO the first row is a header when it names
 * both a label column and a text column that lorafit knows (any case):
 *   labels: label, labels, class, category, type, target, v1
 *   texts:  text, message, messages, sms, msg, content, body, email, v2
 * or when --label-col/--text-col name a column. Otherwise the file has no
 * header and its columns are 0 (label) and 1 (text), as in the UCI file.
 *
 * Columns. A column is given by its header name (exact, else any case) or
 * by a 0-based index (as pandas numbers the columns of a headerless file).
 *
 * Class ids, when the classes are not fixed (stable: they depend only on
 * the set of labels in the file, not on the order of its rows):
 *   1. every label is "ham" or "spam": ham = 0, spam = 1 (the labs' map),
 *      and both classes exist even when the file holds only one of them;
 *   2. every label is a whole number 0..1023: the number is the class id
 *      and the classes are 0..max, named "0", "1", ... (the labs' CSVs);
 *   3. otherwise: the distinct labels in byte order (strcmp).
 * Labels are compared after trimming spaces and tabs around them.
 *
 * Fixed classes (DatasetOptions.class_names, e.g. from an adapter or from
 * --labels ham,spam): a label is a class name, or a class id written as a
 * number ("1"), so the labs' 0/1 files evaluate against a ham/spam adapter.
 * Any other label is an error.
 *
 * Rows: every row has as many fields as the first row; extra fields that
 * are empty are allowed (spam.csv's trailing ",,,"). An empty text (nothing
 * but whitespace) or label is an error. Texts are kept byte for byte; a row
 * whose label or text is not valid UTF-8 is kept and counted as a warning.
 * Errors read "file:line:column: what was expected".
 */
#ifndef LORAFIT_DATASET_H
#define LORAFIT_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lorafit/data/csv.h"
#include "lorafit/util/error.h"

/* More distinct labels than this is taken to be the wrong column. */
#define DATASET_MAX_CLASSES 1024
/* How many line numbers of invalid-UTF-8 rows a Dataset remembers. */
#define DATASET_MAX_WARN_LINES 5

typedef enum {
    DATASET_HEADER_AUTO = 0,
    DATASET_HEADER_YES,
    DATASET_HEADER_NO,
} DatasetHeader;

/* Zero-initialised options mean: detect everything. */
typedef struct {
    CsvFormat format;
    DatasetHeader header;
    const char *label_col; /* a header name or a 0-based index; NULL: find it */
    const char *text_col;
    const char *const *class_names; /* fixed classes in id order, or NULL */
    int n_classes;
    char **owned_class_names;       /* set by --labels (cli/data_options.c); see dataset_options_free() */
} DatasetOptions;

typedef struct {
    size_t n;            /* rows */
    const char **texts;  /* texts[i]: NUL-terminated, bytes as in the file */
    int *labels;         /* labels[i]: class id in [0, n_classes) */
    long *lines;         /* line where row i starts, for messages */
    int n_classes;
    char **class_names;  /* class_names[id], NUL-terminated */

    size_t n_invalid_utf8;                     /* rows with invalid UTF-8 */
    long invalid_utf8_lines[DATASET_MAX_WARN_LINES]; /* the first of them */

    CsvFormat format;    /* as read */
    bool has_header;
    int label_col, text_col; /* 0-based, as resolved */
    char *arena_;        /* private: the texts' storage */
} Dataset;

Dataset *dataset_load(const char *path, const DatasetOptions *opt, LfError *err);
/* The same from memory; `name` stands for the path in messages. */
Dataset *dataset_load_memory(const void *data, size_t len, const char *name,
                             const DatasetOptions *opt, LfError *err);
void dataset_free(Dataset *d);

/* counts[id] = rows of class id; counts has n_classes entries. */
void dataset_class_counts(const Dataset *d, size_t *counts);

/* Prints the invalid-UTF-8 warning, if any, as the commands do:
 * "lorafit CMD: warning: FILE: 2 rows are not valid UTF-8 (lines 4, 9); the bytes are kept as
 * they are". At most DATASET_MAX_WARN_LINES line numbers, then "...". */
void dataset_print_warnings(const Dataset *d, const char *cmd, const char *path, FILE *f);

/* "ham,spam" -> {"ham", "spam", NULL} in one allocation: free() it once.
 * Empty or repeated names are an error. */
char **dataset_parse_class_list(const char *list, int *n, LfError *err);

/* Frees what --labels allocated (cli/data_options.c). */
void dataset_options_free(DatasetOptions *opt);

#endif
