/* fuzz_csv.c - libFuzzer target for the CSV/TSV reader and the dataset loader.
 *
 * The first input byte picks what to exercise; the rest is the file:
 *   0  CSV records, each written back with csv_write_field() and read again:
 *      the fields must come back byte for byte (the writer and reader agree);
 *   1  TSV records;
 *   2  dataset_load_memory() with everything detected, then a balanced split;
 *   3  dataset_load_memory() with fixed classes ham,spam.
 * Build and run: see README ("Fuzzing the CSV reader"). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/data/csv.h"
#include "lorafit/data/dataset.h"
#include "lorafit/data/split.h"

/* Writes the current record as one CSV line into a memory stream. */
static void write_record(const CsvReader *r, FILE *f) {
    size_t n = csv_field_count(r);
    if (n == 1 && csv_field_len(r, 0) == 0) {
        fputs("\"\"\n", f); /* an empty line would be skipped */
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (i) putc(',', f);
        csv_write_field(f, csv_field(r, i), csv_field_len(r, i));
    }
    putc('\n', f);
}

static void round_trip(const uint8_t *data, size_t size) {
    CsvReader *r = csv_open_memory(data, size, "fuzz.csv", CSV_FORMAT_CSV, NULL);
    if (!r) return;
    char *out = NULL;
    size_t out_len = 0;
    FILE *f = open_memstream(&out, &out_len);
    if (!f) abort();
    /* A BOM first, so that a first field starting with BOM or UTF-16 bytes
     * (data when not at the very start of the input) stays data. */
    fputs("\xEF\xBB\xBF", f);
    size_t records = 0;
    while (csv_next_row(r, NULL) > 0) {
        write_record(r, f);
        records++;
    }
    fclose(f);
    csv_close(r);

    /* Read both again side by side: the same fields, the same count. */
    CsvReader *a = csv_open_memory(data, size, "fuzz.csv", CSV_FORMAT_CSV, NULL);
    CsvReader *b = csv_open_memory(out, out_len, "out.csv", CSV_FORMAT_CSV, NULL);
    if (!a || !b) abort();
    for (size_t k = 0; k < records; k++) {
        if (csv_next_row(a, NULL) != 1 || csv_next_row(b, NULL) != 1) abort();
        if (csv_field_count(a) != csv_field_count(b)) abort();
        for (size_t i = 0; i < csv_field_count(a); i++)
            if (csv_field_len(a, i) != csv_field_len(b, i) ||
                memcmp(csv_field(a, i), csv_field(b, i), csv_field_len(a, i)) != 0)
                abort();
    }
    if (csv_next_row(b, NULL) != 0) abort();
    csv_close(a);
    csv_close(b);
    free(out);
}

static void read_all(const uint8_t *data, size_t size, CsvFormat format) {
    CsvReader *r = csv_open_memory(data, size, "fuzz.tsv", format, NULL);
    if (!r) return;
    while (csv_next_row(r, NULL) > 0)
        for (size_t i = 0; i < csv_field_count(r); i++)
            if (strlen(csv_field(r, i)) != csv_field_len(r, i)) abort();
    csv_close(r);
}

static void load(const uint8_t *data, size_t size, bool fixed) {
    static const char *const names[] = {"ham", "spam"};
    DatasetOptions opt = {0};
    if (fixed) {
        opt.class_names = names;
        opt.n_classes = 2;
    }
    LfError err = {0};
    Dataset *d = dataset_load_memory(data, size, "fuzz.csv", &opt, &err);
    if (!d) {
        if (!err.msg[0]) abort(); /* every failure says why */
        return;
    }
    for (size_t i = 0; i < d->n; i++)
        if (d->labels[i] < 0 || d->labels[i] >= d->n_classes || !d->texts[i][0]) abort();
    DatasetSplit s;
    if (dataset_split(d, true, 0.7, 0.1, 123, &s, &err)) {
        if (s.n_train + s.n_val + s.n_test > d->n) abort();
        dataset_split_free(&s);
    }
    dataset_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    uint8_t mode = data[0] & 3;
    data++, size--;
    switch (mode) {
    case 0: round_trip(data, size); break;
    case 1: read_all(data, size, CSV_FORMAT_TSV); break;
    case 2: load(data, size, false); break;
    default: load(data, size, true); break;
    }
    return 0;
}
