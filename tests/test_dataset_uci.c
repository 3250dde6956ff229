/* test_dataset_uci.c - the UCI SMS Spam Collection (data/sms_spam/), read
 * line by line as TSV, and the labs' balanced split of it. Expected counts
 * are the published ones (5,574 messages: 4,827 ham, 747 spam) and the
 * issue's split sizes (747 + 747 = 1,494 -> 1,045 / 149 / 300).
 * Skips when a checkout lacks the file. */
#include <string.h>

#include "check.h"
#include "lorafit/data/dataset.h"
#include "lorafit/data/split.h"

int main(void) {
    char path[4096];
    check_sms_path(path, sizeof path);

    LfError err = {0};
    Dataset *d = dataset_load(path, NULL, &err);
    REQUIRE(d != NULL, "load: %s", err.msg);
    CHECK(d->n == 5574, "rows %zu, want 5574", d->n);
    CHECK(d->format == CSV_FORMAT_TSV && !d->has_header, "TSV without header");
    REQUIRE(d->n_classes == 2, "classes %d", d->n_classes);
    CHECK_STR_EQ(d->class_names[0], "ham");
    CHECK_STR_EQ(d->class_names[1], "spam");
    size_t counts[2];
    dataset_class_counts(d, counts);
    CHECK(counts[0] == 4827 && counts[1] == 747, "ham %zu spam %zu", counts[0], counts[1]);
    CHECK(d->n_invalid_utf8 == 0, "invalid UTF-8 rows: %zu", d->n_invalid_utf8);

    /* One row per line: a '"' opening a message (line 283) is text, and
     * the next line is still its own row. */
    bool one_per_line = true;
    for (size_t i = 0; i < d->n; i++) one_per_line = one_per_line && d->lines[i] == (long)i + 1;
    CHECK(one_per_line, "row i is line i + 1");
    CHECK_STR_EQ(d->texts[0], "Go until jurong point, crazy.. Available only in bugis n great "
                              "world la e buffet... Cine there got amore wat...");
    CHECK(strncmp(d->texts[282], "\"Wen u miss someone,", 20) == 0, "line 283: %.30s", d->texts[282]);
    CHECK_STR_EQ(d->texts[5573], "Rofl. Its true to its name");

    DatasetSplit s, again;
    CHECK(dataset_split(d, true, 0.7, 0.1, 123, &s, &err), "split: %s", err.msg);
    CHECK(s.n_train == 1045 && s.n_val == 149 && s.n_test == 300, "sizes %zu / %zu / %zu",
          s.n_train, s.n_val, s.n_test);
    size_t total = s.n_train + s.n_val + s.n_test, spam = 0;
    for (size_t i = 0; i < total; i++) spam += d->labels[s.rows[i]] == 1;
    CHECK(total == 1494 && spam == 747, "balanced: %zu rows, %zu spam", total, spam);
    CHECK(dataset_split(d, true, 0.7, 0.1, 123, &again, &err), "split again");
    CHECK(memcmp(s.rows, again.rows, total * sizeof *s.rows) == 0, "same seed, same order");
    dataset_split_free(&again);
    CHECK(dataset_split(d, true, 0.7, 0.1, 124, &again, &err), "split, seed 124");
    CHECK(memcmp(s.rows, again.rows, total * sizeof *s.rows) != 0, "another seed, another order");
    dataset_split_free(&again);
    dataset_split_free(&s);

    CHECK(dataset_split(d, false, 0.7, 0.1, 123, &s, &err), "unbalanced split");
    CHECK(s.n_train == 3901 && s.n_val == 557 && s.n_test == 1116, "unbalanced sizes %zu / %zu / %zu",
          s.n_train, s.n_val, s.n_test);
    dataset_split_free(&s);
    dataset_free(d);
    return check_done();
}
