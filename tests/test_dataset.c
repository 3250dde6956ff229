/* test_dataset.c - columns, labels and errors of dataset_load() on the
 * fixtures in tests/fixtures/csv. Expected rows are written by hand from
 * what the fixtures were made of (labs_train.csv was written by pandas'
 * to_csv(index=None) from a DataFrame with those rows; Python's csv module
 * reads both fixtures to the same rows). */
#include <string.h>

#include "check.h"
#include "lorafit/data/dataset.h"
#include "lorafit/data/split.h"

static char fixture_dir[4096];

static const char *fixture(const char *name) {
    static char path[4200];
    snprintf(path, sizeof path, "%s/%s", fixture_dir, name);
    return path;
}

static Dataset *load_mem(const char *data, const DatasetOptions *opt, LfError *err) {
    return dataset_load_memory(data, strlen(data), "m.csv", opt, err);
}

/* d holds exactly the n rows texts[i] with class id labels[i]. */
static void check_rows(const Dataset *d, const char *const *texts, const int *labels, size_t n) {
    CHECK(d->n == n, "rows %zu, want %zu", d->n, n);
    for (size_t i = 0; i < n && i < d->n; i++) {
        CHECK_STR_EQ(d->texts[i], texts[i]);
        CHECK(d->labels[i] == labels[i], "row %zu label %d", i, d->labels[i]);
    }
}

static void test_labs_csv(void) {
    LfError err = {0};
    Dataset *d = dataset_load(fixture("labs_train.csv"), NULL, &err);
    REQUIRE(d != NULL, "labs_train.csv: %s", err.msg);
    static const char *const texts[] = {
        "Ok lar... Joking wif u oni...",
        "WINNER!! Call \"09061701461\", claim code KL341. Valid 12 hours only.",
        "Line one\nline two, with a comma",
        "Free entry \xC2\xA3\x31.50/wk \xF0\x9F\x8E\x89", /* \x31 is the 1 of 1.50 */
        "\"Quoted\" at the start",
    };
    static const int labels[] = {0, 1, 0, 1, 0};
    check_rows(d, texts, labels, 5);
    CHECK(d->has_header && d->label_col == 0 && d->text_col == 1, "header Label,Text");
    CHECK(d->format == CSV_FORMAT_CSV, "format");
    /* 0/1 labels: the number is the class id, the names are "0" and "1". */
    CHECK(d->n_classes == 2, "classes %d", d->n_classes);
    if (d->n_classes == 2) {
        CHECK_STR_EQ(d->class_names[0], "0");
        CHECK_STR_EQ(d->class_names[1], "1");
    }
    /* Row 2's text spans lines 4 and 5. */
    CHECK(d->lines[2] == 4 && d->lines[3] == 6 && d->lines[4] == 7, "row lines %ld %ld %ld",
          d->lines[2], d->lines[3], d->lines[4]);
    CHECK(d->n_invalid_utf8 == 0, "all UTF-8");
    dataset_free(d);

    /* With the classes fixed as ham,spam, 0/1 are read as class ids. */
    static const char *const hs[] = {"ham", "spam"};
    DatasetOptions opt = {.class_names = hs, .n_classes = 2};
    d = dataset_load(fixture("labs_train.csv"), &opt, &err);
    CHECK(d && d->labels[1] == 1 && d->labels[2] == 0, "0/1 as ids of ham,spam: %s", err.msg);
    if (d) CHECK_STR_EQ(d->class_names[1], "spam");
    dataset_free(d);
}

static void test_spam_csv(void) {
    LfError err = {0};
    Dataset *d = dataset_load(fixture("spam_v1v2.csv"), NULL, &err);
    REQUIRE(d != NULL, "spam_v1v2.csv: %s", err.msg);
    static const char *const texts[] = {
        "Go until jurong point, crazy..",
        "FreeMsg Txt: CALL to No: 86888",
        "caf\xE9 at 5?", /* Latin-1, as in the spam.csv copies: kept, warned */
        "He said \"no\"\r\nthen left",
    };
    static const int labels[] = {0, 1, 0, 0};
    check_rows(d, texts, labels, 4);
    CHECK(d->n_classes == 2, "classes %d", d->n_classes);
    if (d->n_classes == 2) {
        CHECK_STR_EQ(d->class_names[0], "ham");
        CHECK_STR_EQ(d->class_names[1], "spam");
    }
    CHECK(d->n_invalid_utf8 == 1 && d->invalid_utf8_lines[0] == 4, "one invalid UTF-8 row, line 4");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f) {
        dataset_print_warnings(d, "train", "spam.csv", f);
        fclose(f);
        CHECK_STR_EQ(buf, "lorafit train: warning: spam.csv: 1 row is not valid UTF-8 (line 4); "
                          "the bytes are kept as they are\n");
        free(buf);
    }
    dataset_free(d);

    /* Seven bad rows: five line numbers, then "...". */
    d = load_mem("ham,\xff\nham,\xff\nham,ok\nham,\xc3\nham,\xff\nham,\xff\nham,\xff\nspam,\xff\n",
                 NULL, &err);
    CHECK(d && d->n_invalid_utf8 == 7, "seven invalid rows: %s", err.msg);
    f = d ? open_memstream(&buf, &len) : NULL;
    if (f) {
        dataset_print_warnings(d, "eval", "m.csv", f);
        fclose(f);
        CHECK_STR_EQ(buf, "lorafit eval: warning: m.csv: 7 rows are not valid UTF-8 (lines 1, 2, "
                          "4, 5, 6, ...); the bytes are kept as they are\n");
        free(buf);
    }
    dataset_free(d);
}

static void test_headers_and_columns(void) {
    LfError err = {0};
    /* Known names in any case, in any column order. */
    Dataset *d = load_mem("id,MESSAGE,Category\n7,hello,b\n8,bye,a\n", NULL, &err);
    CHECK(d && d->has_header && d->label_col == 2 && d->text_col == 1, "category/message: %s", err.msg);
    /* Other labels: byte order, so a=0, b=1 whatever the row order. */
    if (d) CHECK(d->labels[0] == 1 && d->labels[1] == 0, "sorted labels");
    if (d) CHECK_STR_EQ(d->class_names[0], "a");
    dataset_free(d);

    d = load_mem("label,sms\nham,x\n", NULL, &err);
    CHECK(d && d->has_header && d->text_col == 1, "label/sms: %s", err.msg);
    dataset_free(d);

    /* Headerless: columns 0 and 1, the first row is data. */
    d = load_mem("spam,win now\nham,hi\n", NULL, &err);
    CHECK(d && !d->has_header && d->n == 2 && d->labels[0] == 1, "headerless: %s", err.msg);
    dataset_free(d);

    /* Columns by name and by 0-based index. */
    DatasetOptions opt = {.label_col = "kind", .text_col = "words"};
    d = load_mem("words,kind\nhello,x\nbye,y\n", &opt, &err);
    CHECK(d && d->label_col == 1 && d->text_col == 0 && d->n == 2, "by name: %s", err.msg);
    dataset_free(d);
    opt = (DatasetOptions){.label_col = "2", .text_col = "0"};
    d = load_mem("hello,9,x\nbye,9,y\n", &opt, &err);
    CHECK(d && !d->has_header && d->label_col == 2 && d->n == 2, "by index: %s", err.msg);
    if (d) CHECK_STR_EQ(d->texts[1], "bye");
    dataset_free(d);

    opt = (DatasetOptions){.label_col = "nope"};
    d = load_mem("Label,Text\nham,x\n", &opt, &err);
    CHECK(!d, "unknown column name");
    CHECK_STR_EQ(err.msg, "m.csv:1:1: no column named 'nope' (the header has 'Label', 'Text')");
    opt = (DatasetOptions){.text_col = "5"};
    d = load_mem("Label,Text\nham,x\n", &opt, &err);
    CHECK(!d, "index out of range");
    CHECK_STR_EQ(err.msg, "m.csv:1:1: --text-col 5 is out of range: the file has 2 columns (0 to 1)");
    d = load_mem("Label,Words\nham,x\n", &(DatasetOptions){.header = DATASET_HEADER_YES}, &err);
    CHECK(!d, "no text column");
    CHECK_STR_EQ(err.msg, "m.csv:1:1: cannot tell which column holds the texts (the header has "
                          "'Label', 'Words'); name it with --text-col");
}

static void test_label_rules(void) {
    LfError err = {0};
    /* Only spam rows: ham/spam still gives ham = 0, spam = 1. */
    Dataset *d = load_mem("Label,Text\nspam,a\nspam,b\n", NULL, &err);
    CHECK(d && d->n_classes == 2 && d->labels[0] == 1, "spam only: %s", err.msg);
    dataset_free(d);
    /* Whole numbers: the number is the id. */
    d = load_mem("Label,Text\n2,a\n0,b\n", NULL, &err);
    CHECK(d && d->n_classes == 3 && d->labels[0] == 2 && d->labels[1] == 0, "numbers: %s", err.msg);
    dataset_free(d);
    /* Three names: byte order, c b a -> 2 1 0; "B" sorts before "a". */
    d = load_mem("Label,Text\nc,x\nb,y\na,z\nB,w\n", NULL, &err);
    CHECK(d && d->n_classes == 4 && d->labels[0] == 3 && d->labels[1] == 2 && d->labels[2] == 1 &&
              d->labels[3] == 0,
          "byte order: %s", err.msg);
    if (d && d->n_classes == 4) CHECK_STR_EQ(d->class_names[0], "B");
    dataset_free(d);
    /* Labels are trimmed. */
    d = load_mem("Label,Text\n ham ,a\nspam\t,b\n", NULL, &err);
    CHECK(d && d->n_classes == 2 && d->labels[0] == 0 && d->labels[1] == 1, "trimmed: %s", err.msg);
    dataset_free(d);
    /* Fixed order overrides the rules. */
    static const char *const sh[] = {"spam", "ham"};
    d = load_mem("Label,Text\nham,a\nspam,b\n", &(DatasetOptions){.class_names = sh, .n_classes = 2}, &err);
    CHECK(d && d->labels[0] == 1 && d->labels[1] == 0, "fixed spam,ham: %s", err.msg);
    dataset_free(d);

    int n = 0;
    char **names = dataset_parse_class_list(" ham , spam", &n, &err);
    CHECK(names && n == 2 && !names[2], "parse list");
    if (names) CHECK_STR_EQ(names[1], "spam");
    free(names);
    names = dataset_parse_class_list("ham,,spam", &n, &err);
    CHECK(!names, "an empty name");
    CHECK_STR_EQ(err.msg, "an empty class name in 'ham,,spam'");
    names = dataset_parse_class_list("ham, ham", &n, &err);
    CHECK(!names, "a repeated name");
    CHECK_STR_EQ(err.msg, "a repeated class name in 'ham, ham'");
    names = dataset_parse_class_list("a, ,b", &n, &err);
    CHECK(!names, "a blank name");
    names = dataset_parse_class_list("solo", &n, &err);
    CHECK(names && n == 1 && strcmp(names[0], "solo") == 0 && !names[1], "one name");
    free(names);
}

/* One malformed fixture per error of the issue, with the exact message. */
static void expect_fixture_error(const char *name, const DatasetOptions *opt, const char *what) {
    LfError err = {0};
    Dataset *d = dataset_load(fixture(name), opt, &err);
    char want[4400];
    snprintf(want, sizeof want, "%s%s", fixture(name), what);
    CHECK(d == NULL, "%s loads", name);
    CHECK_STR_EQ(err.msg, want);
    CHECK(err.kind == LF_ERR_INPUT, "%s: kind %d (exit %d)", name, err.kind, lf_error_exit_code(&err));
    dataset_free(d);
}

static void test_errors(void) {
    static const char *const hs[] = {"ham", "spam"};
    DatasetOptions fixed = {.class_names = hs, .n_classes = 2};
    expect_fixture_error("err_unterminated_quote.csv", NULL,
                         ":3:6: unterminated quote: the quoted field that starts here is never closed");
    expect_fixture_error("err_after_quote.csv", NULL,
                         ":2:9: expected ',' or the end of the line after the quoted field that "
                         "starts at line 2, column 5; to put a '\"' inside a quoted field, double it");
    expect_fixture_error("err_too_many_fields.csv", NULL,
                         ":3:10: wrong number of fields: expected 2 (as in line 1), found 3");
    expect_fixture_error("err_too_few_fields.csv", NULL,
                         ":3:5: wrong number of fields: expected 2 (as in line 1), found 1");
    expect_fixture_error("err_empty_text.csv", NULL, ":3:6: empty text (column 1, 'Text')");
    expect_fixture_error("err_unknown_label.csv", &fixed,
                         ":4:1: unknown label 'eggs'; expected one of ham, spam (or a class id 0 to 1)");
    expect_fixture_error("err_empty.csv", NULL, ":1:1: no rows: the file is empty");
    expect_fixture_error("err_header_only.csv", NULL, ":2:1: no data rows after the header");
    expect_fixture_error("err_binary.csv", NULL,
                         ":2:7: NUL byte; this looks like a binary file, not CSV text");

    LfError err = {0};
    char want[4400];
    snprintf(want, sizeof want, "cannot open %s: No such file or directory", fixture("no-such-file.csv"));
    CHECK(!dataset_load(fixture("no-such-file.csv"), NULL, &err), "a missing file");
    CHECK_STR_EQ(err.msg, want);
    CHECK(err.kind == LF_ERR_INPUT, "a missing file is bad input");
}

static void test_split(void) {
    LfError err = {0};
    /* 8 ham, 3 spam: balance keeps 3 + 3; 6 * 0.7 = 4.2 -> 4, 6 * 0.1 -> 0, test 2. */
    const char *data = "ham,h0\nham,h1\nspam,s0\nham,h2\nham,h3\nham,h4\nspam,s1\nham,h5\n"
                       "ham,h6\nspam,s2\nham,h7\n";
    Dataset *d = load_mem(data, NULL, &err);
    REQUIRE(d && d->n == 11, "load: %s", err.msg);
    DatasetSplit a, b;
    REQUIRE(dataset_split(d, true, 0.7, 0.1, 123, &a, &err), "split: %s", err.msg);
    CHECK(a.n_train == 4 && a.n_val == 0 && a.n_test == 2, "sizes %zu %zu %zu", a.n_train, a.n_val, a.n_test);
    int spam = 0, seen[11] = {0};
    for (size_t i = 0; i < 6; i++) {
        spam += d->labels[a.rows[i]] == 1;
        seen[a.rows[i]]++;
    }
    CHECK(spam == 3, "3 spam kept, got %d", spam);
    for (int i = 0; i < 11; i++) CHECK(seen[i] <= 1, "row %d taken %d times", i, seen[i]);
    CHECK(seen[2] && seen[6] && seen[9], "every spam row kept");
    REQUIRE(dataset_split(d, true, 0.7, 0.1, 123, &b, &err), "split again");
    CHECK(memcmp(a.rows, b.rows, 6 * sizeof *a.rows) == 0, "same seed, same rows");
    dataset_split_free(&b);
    /* Unbalanced: all 11 rows, a permutation. */
    CHECK(dataset_split(d, false, 0.5, 0.5, 7, &b, &err), "split unbalanced");
    CHECK(b.n_train == 5 && b.n_val == 5 && b.n_test == 1, "sizes %zu %zu %zu", b.n_train, b.n_val, b.n_test);
    dataset_split_free(&b);
    CHECK(!dataset_split(d, false, 0.8, 0.3, 7, &b, &err), "fractions over 1");
    dataset_split_free(&a);

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int rows[] = {2, 0};
    if (f) {
        dataset_write_csv(d, rows, 2, false, f);
        dataset_write_csv(d, rows, 2, true, f);
        fclose(f);
        CHECK_STR_EQ(buf, "Label,Text\nspam,s0\nham,h0\nLabel,Text\n1,s0\n0,h0\n");
        free(buf);
    }
    dataset_free(d);

    d = load_mem("Label,Text\nham,a\nham,b\n", NULL, &err);
    CHECK(d && !dataset_split(d, true, 0.7, 0.1, 1, &a, &err), "one class cannot balance");
    CHECK_STR_EQ(err.msg, "cannot balance: the rows are all of one class");
    dataset_free(d);
}

int main(void) {
    check_source_path(fixture_dir, sizeof fixture_dir, "tests/fixtures/csv");
    test_labs_csv();
    test_spam_csv();
    test_headers_and_columns();
    test_label_rules();
    test_errors();
    test_split();
    return check_done();
}
