/* fuzz_grid_result.c - libFuzzer target for a grid run's result.json, read
 * back when `lorafit grid` resumes (grid_row_parse in cli/grid_table.h). A
 * user can edit or cut it short: any text is a finished run's result or
 * "not finished", never a crash.
 *
 * Checked for every input, read for a test split or not: no crash or
 * sanitizer report; a result read keeps the row's own values and has
 * 0 < trainable <= total, a validation accuracy, and a test accuracy when
 * one was wanted, each in [0, 1]. The row is the one tests/fixtures/json/grid-result.json
 * was written for (the seed).
 *
 *   CC=clang cmake -S . -B build-fuzz -DLORAFIT_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
 *   cmake --build build-fuzz --target fuzz_grid_result
 *   mkdir -p /tmp/fuzz-gr /tmp/fuzz-gr-seed && cp tests/fixtures/json/grid-result.json /tmp/fuzz-gr-seed/
 *   ./build-fuzz/fuzz/fuzz_grid_result -max_total_time=600 -max_len=4096 /tmp/fuzz-gr /tmp/fuzz-gr-seed */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/cli/grid_table.h"

static const GridRow ROW = {
    .name = "r4_a16_lr0.01_W_query+W_value", .rank = 4, .alpha = 16, .lr = 0.01, .targets = "W_query,W_value"};

static bool in_unit(double v) { return v >= 0 && v <= 1; }

static void check(const uint8_t *data, size_t size, bool want_test) {
    GridRow row = ROW;
    row.val_accuracy = row.test_accuracy = NAN;
    if (!grid_row_parse((const char *)data, size, &row, want_test)) return;
    if (strcmp(row.name, ROW.name) || strcmp(row.targets, ROW.targets) || row.rank != ROW.rank ||
        row.alpha != ROW.alpha || row.lr != ROW.lr)
        abort();
    if (row.trainable < 1 || row.total < row.trainable || !in_unit(row.val_accuracy) ||
        (want_test && isnan(row.test_accuracy)) || (!isnan(row.test_accuracy) && !in_unit(row.test_accuracy)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    check(data, size, false);
    check(data, size, true);
    return 0;
}
