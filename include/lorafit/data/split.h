/* split.h - a labelled dataset cut into train, validation and test rows,
 * and those rows written out as CSV: what `lorafit split` does. */
#ifndef LORAFIT_SPLIT_H
#define LORAFIT_SPLIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lorafit/data/dataset.h"
#include "lorafit/util/error.h"

/* The labs' preparation (Raschka, LLMs from scratch, ch. 6), with our own
 * PRNG so the result is the same on every machine:
 *   1. balance (optional): with m = the size of the smallest class, every
 *      larger class keeps m of its rows: its row indices in file order are
 *      shuffled (rng_shuffle) and the first m are kept. Classes are visited
 *      in id order; the kept rows are then put back in file order.
 *   2. the kept rows (in file order) are shuffled with the same Rng;
 *   3. train = floor(n * train_frac), val = floor(n * val_frac), test = rest.
 * The Rng is seeded once with `seed` (rng_seed) before step 1. */
typedef struct {
    int *rows;   /* n_train + n_val + n_test row indices: train, then val, then test */
    size_t n_train, n_val, n_test;
} DatasetSplit;

bool dataset_split(const Dataset *d, bool balance, double train_frac, double val_frac,
                   uint64_t seed, DatasetSplit *out, LfError *err);
void dataset_split_free(DatasetSplit *s);

/* Writes rows[0..n) as CSV with a "Label,Text" header, LF line ends and
 * minimal RFC 4180 quoting (what pandas' to_csv writes). The label is the
 * class name, or the class id when `label_ids` (the labs' 0/1 files).
 * Returns false when the stream is in error. */
bool dataset_write_csv(const Dataset *d, const int *rows, size_t n, bool label_ids, FILE *f);

#endif
