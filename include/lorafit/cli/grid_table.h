/* grid_table.h - the results of `lorafit grid` (cmd_grid.c): one row per
 * run, kept in the run's directory as result.json (its presence, complete,
 * marks the run finished), printed as a table and written as grid.csv and
 * grid.json. Internal to the grid command. */
#ifndef LORAFIT_CLI_GRID_TABLE_H
#define LORAFIT_CLI_GRID_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "lorafit/util/error.h"

typedef struct {
    char name[160];    /* r8_a16_lr5e-05_all: the run's subdirectory */
    int rank;
    double alpha, dropout, lr;
    char targets[256]; /* as given to train's --targets; "" = its default */
    long trainable, total;
    double val_accuracy, test_accuracy; /* NaN: not measured (no --test) */
    double seconds;       /* the run: training, evaluation and files */
    double train_seconds; /* in the training loop */
    bool skipped;         /* finished before: read from result.json */
} GridRow;

/* Writes the row as path (result.json), atomically. */
bool grid_row_write(const char *path, const GridRow *row, LfError *err);

/* Reads a result.json written for this row's values into row: false when
 * it is absent, unreadable, incomplete (without a test accuracy when
 * want_test) or for other values: the run is not finished then. */
bool grid_row_read(const char *path, GridRow *row, bool want_test);

/* The same from the text of a result.json (len bytes): no text, however
 * broken or cut short, does more than make it false. A result read has
 * whole parameter counts 1 <= trainable <= total and accuracies in [0, 1]
 * (the test one may be NaN when not wanted). */
bool grid_row_parse(const char *text, size_t len, GridRow *row, bool want_test);

/* The table on f, one line per row. */
void grid_table_print(FILE *f, const GridRow *rows, int n);

/* dir/grid.csv and dir/grid.json, each written atomically. */
bool grid_table_write(const char *dir, const GridRow *rows, int n, LfError *err);

#endif
