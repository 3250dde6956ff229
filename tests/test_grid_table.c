/* test_grid_table.c - a grid run's result.json read back on resume
 * (grid_row_parse): the file `lorafit grid` wrote for r 4, alpha 16, lr
 * 0.01 on W_query,W_value (tests/fixtures/json/grid-result.json) is that
 * run's result, its trainable count the hand formula's (4 adapters of rank
 * 4, 4 * (32 + 32) each, and the head's 32 * 2 + 2); for another run, cut
 * short, edited into nonsense or without a wanted test accuracy it is "not
 * finished", and the row keeps its values. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lorafit/cli/grid_table.h"
#include "lorafit/util/files.h"

static const GridRow ROW = {
    .name = "r4_a16_lr0.01_W_query+W_value", .rank = 4, .alpha = 16, .lr = 0.01, .targets = "W_query,W_value"};

/* The fixture with the line holding `key` replaced by `line` (NULL: as it is). */
static char *edited(const char *text, const char *key, const char *line) {
    char *out = malloc(strlen(text) + (line ? strlen(line) : 0) + 1);
    const char *at = key ? strstr(text, key) : NULL;
    if (!out) abort();
    if (!at) return strcpy(out, text);
    const char *start = at, *end = strchr(at, '\n');
    while (start > text && start[-1] != '\n') start--;
    sprintf(out, "%.*s%s%s", (int)(start - text), text, line, end);
    return out;
}

static bool parse(const char *text, size_t len, bool want_test, GridRow *row) {
    *row = ROW;
    row->val_accuracy = row->test_accuracy = NAN;
    return grid_row_parse(text, len, row, want_test);
}

static void expect_unfinished(const char *text, const char *key, const char *line, bool want_test) {
    char *t = edited(text, key, line);
    GridRow row;
    CHECK(!parse(t, strlen(t), want_test, &row) && row.rank == 4 && isnan(row.val_accuracy),
          "with %s: not finished", line);
    free(t);
}

int main(void) {
    char path[4200];
    size_t len;
    char *text = fs_read_file(check_source_path(path, sizeof path, "tests/fixtures/json/grid-result.json"), &len, NULL);
    REQUIRE(text, "%s", path);
    GridRow row;
    CHECK(parse(text, len, true, &row) && row.trainable == 4 * 4 * (32 + 32) + 32 * 2 + 2 && row.total == 1638882 &&
              row.val_accuracy == 5 / 6.0 && row.test_accuracy == 5 / 6.0 && row.seconds > 0,
          "the fixture is r4_a16's result: trainable %ld, all %ld, val %g", row.trainable, row.total, row.val_accuracy);
    char *no_test = edited(text, "\"test_accuracy\"", "\t\"test_accuracy\":\tnull,");
    CHECK(parse(no_test, strlen(no_test), false, &row) && isnan(row.test_accuracy), "no test accuracy, none wanted");
    free(no_test);
    expect_unfinished(text, "\"test_accuracy\"", "\t\"test_accuracy\":\tnull,", true);
    expect_unfinished(text, "\"val_accuracy\"", "\t\"val_accuracy\":\tnull,", false);
    expect_unfinished(text, "\"name\"", "\t\"name\":\t\"r8_a16_lr0.01_W_query+W_value\",", false);
    expect_unfinished(text, "\"targets\"", "\t\"targets\":\t\"all\",", false);
    expect_unfinished(text, "\"r\"", "\t\"r\":\t8,", false);
    expect_unfinished(text, "\"lr\"", "\t\"lr\":\t\"0.01\",", false);
    expect_unfinished(text, "\"trainable_params\"", "\t\"trainable_params\":\t0,", false);
    expect_unfinished(text, "\"all_params\"", "\t\"all_params\":\t1000,", false);
    /* Counts no long holds (once cast regardless: undefined behaviour). */
    expect_unfinished(text, "\"all_params\"", "\t\"all_params\":\t1e300,", false);
    expect_unfinished(text, "\"all_params\"", "\t\"all_params\":\t9223372036854775808,", false);
    /* What fuzz_grid_result found: a fractional count, once cut to 0 trainable. */
    expect_unfinished(text, "\"trainable_params\"", "\t\"trainable_params\":\t0.9,", false);
    expect_unfinished(text, "\"trainable_params\"", "\t\"trainable_params\":\t1090.5,", false);
    expect_unfinished(text, "\"val_accuracy\"", "\t\"val_accuracy\":\t7,", false);
    expect_unfinished(text, "\"test_accuracy\"", "\t\"test_accuracy\":\t-0.5,", false);
    expect_unfinished(text, "\"seconds\"", "", false);
    for (size_t cut = 0; cut < len - 1; cut += 7)
        CHECK(!parse(text, cut, false, &row), "cut after %zu of %zu bytes: not finished", cut, len);
    free(text);
    return check_done();
}
