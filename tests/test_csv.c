/* test_csv.c - the CSV/TSV reader on small hand-written inputs.
 * Expected fields are written out by hand (and agree with Python's csv
 * module, which reads these inputs the same way). */
#include <string.h>

#include "check.h"
#include "lorafit/data/csv.h"

/* Reads all records of `data` and joins them as "a|b;c|d;" for comparison;
 * returns csv_next_row()'s last status. */
static int read_joined(const char *data, size_t len, const char *name, CsvFormat fmt, char *out,
                       size_t size, LfError *err) {
    out[0] = '\0';
    CsvReader *r = csv_open_memory(data, len, name, fmt, err);
    if (!r) return -2;
    int st;
    while ((st = csv_next_row(r, err)) > 0) {
        for (size_t i = 0; i < csv_field_count(r); i++) {
            strncat(out, i ? "|" : "", size - strlen(out) - 1);
            strncat(out, csv_field(r, i), size - strlen(out) - 1);
        }
        strncat(out, ";", size - strlen(out) - 1);
    }
    csv_close(r);
    return st;
}

static void expect_rows(const char *data, const char *name, CsvFormat fmt, const char *want) {
    char got[1024];
    LfError err = {0};
    int st = read_joined(data, strlen(data), name, fmt, got, sizeof got, &err);
    CHECK(st == 0, "%s: status %d (%s)", name, st, err.msg);
    CHECK_STR_EQ(got, want);
}

static void expect_error(const char *data, size_t len, const char *name, CsvFormat fmt,
                         const char *want) {
    char got[1024];
    LfError err = {0};
    int st = read_joined(data, len, name, fmt, got, sizeof got, &err);
    CHECK(st < 0, "%s: expected an error, got status %d", name, st);
    CHECK_STR_EQ(err.msg, want);
    CHECK(err.kind == LF_ERR_INPUT, "%s: error kind %d", name, err.kind);
}

static void test_rfc4180(void) {
    expect_rows("a,b\r\n1,2\r\n", "x.csv", CSV_FORMAT_AUTO, "a|b;1|2;");
    expect_rows("a,b\n1,2", "x.csv", CSV_FORMAT_AUTO, "a|b;1|2;"); /* no final line break */
    expect_rows("a,\"b,c\"\n", "x.csv", CSV_FORMAT_AUTO, "a|b,c;");
    expect_rows("a,\"say \"\"hi\"\"\"\n", "x.csv", CSV_FORMAT_AUTO, "a|say \"hi\";");
    expect_rows("a,\"two\nlines\"\nb,c\n", "x.csv", CSV_FORMAT_AUTO, "a|two\nlines;b|c;");
    expect_rows("a,\"crlf\r\ninside\"\r\n", "x.csv", CSV_FORMAT_AUTO, "a|crlf\r\ninside;");
    expect_rows("a,,\n,\n", "x.csv", CSV_FORMAT_AUTO, "a||;|;");
    expect_rows("\"\",x\n", "x.csv", CSV_FORMAT_AUTO, "|x;");
    /* A quote inside an unquoted field is a plain byte (Python's csv agrees). */
    expect_rows("a,5\" screen\n", "x.csv", CSV_FORMAT_AUTO, "a|5\" screen;");
    /* Empty lines hold no record. */
    expect_rows("\na,b\n\r\n\nc,d\n\n", "x.csv", CSV_FORMAT_AUTO, "a|b;c|d;");
    /* A UTF-8 BOM is skipped; later ones are data. */
    expect_rows("\xEF\xBB\xBFLabel,Text\n\xEF\xBB\xBFx,y\n", "x.csv", CSV_FORMAT_AUTO,
                "Label|Text;\xEF\xBB\xBFx|y;");
    /* A lone CR is data, not a line end. */
    expect_rows("a,b\rc\n", "x.csv", CSV_FORMAT_AUTO, "a|b\rc;");
}

static void test_tsv(void) {
    /* No quoting in TSV: the UCI file has lines with a lone '"'. */
    expect_rows("ham\tsay \"hi\nspam\tfree, now\n", "data.tsv", CSV_FORMAT_AUTO,
                "ham|say \"hi;spam|free, now;");
    expect_rows("ham\ta\r\nspam\tb\r\n", "data.tsv", CSV_FORMAT_AUTO, "ham|a;spam|b;");
    expect_rows("a\t\tb\n", "x.tab", CSV_FORMAT_AUTO, "a||b;");
}

static void test_detection(void) {
    LfError err = {0};
    const char *tabbed = "ham\tGo until jurong point, crazy..\n";
    CsvReader *r = csv_open_memory(tabbed, strlen(tabbed), "SMSSpamCollection", CSV_FORMAT_AUTO, &err);
    CHECK(r && csv_format(r) == CSV_FORMAT_TSV, "a TAB in the first line means TSV");
    csv_close(r);
    const char *commas = "Label,Text\nham,a\tb\n";
    r = csv_open_memory(commas, strlen(commas), "data.txt", CSV_FORMAT_AUTO, &err);
    CHECK(r && csv_format(r) == CSV_FORMAT_CSV, "no TAB in the first line means CSV");
    csv_close(r);
    /* The extension wins over the content, and --format over both. */
    r = csv_open_memory(tabbed, strlen(tabbed), "DATA.CSV", CSV_FORMAT_AUTO, &err);
    CHECK(r && csv_format(r) == CSV_FORMAT_CSV, ".CSV is CSV in any case");
    csv_close(r);
    r = csv_open_memory(commas, strlen(commas), "x.csv", CSV_FORMAT_TSV, &err);
    CHECK(r && csv_format(r) == CSV_FORMAT_TSV, "an explicit format wins");
    csv_close(r);
}

static void test_positions(void) {
    LfError err = {0};
    const char *data = "\xEF\xBB\xBF" "ab,\"c\nd\",e\nx,y";
    CsvReader *r = csv_open_memory(data, strlen(data), "p.csv", CSV_FORMAT_AUTO, &err);
    CHECK(r != NULL, "open: %s", err.msg);
    if (!r) return;
    CHECK(csv_next_row(r, &err) == 1, "first record");
    CsvPos p0 = csv_field_pos(r, 0), p1 = csv_field_pos(r, 1), p2 = csv_field_pos(r, 2);
    CHECK(p0.line == 1 && p0.col == 1, "field 0 at %ld:%ld", p0.line, p0.col);
    CHECK(p1.line == 1 && p1.col == 4, "field 1 at %ld:%ld", p1.line, p1.col);
    CHECK(p2.line == 2 && p2.col == 4, "field 2 at %ld:%ld", p2.line, p2.col);
    CHECK(csv_field_len(r, 1) == 3, "quoted field length %zu", csv_field_len(r, 1));
    CsvPos end = csv_row_end(r);
    CHECK(end.line == 2 && end.col == 5, "record ends at %ld:%ld", end.line, end.col);
    CHECK(csv_next_row(r, &err) == 1, "second record");
    p1 = csv_field_pos(r, 1);
    CHECK(p1.line == 3 && p1.col == 3, "field 1 at %ld:%ld", p1.line, p1.col);
    CHECK(csv_next_row(r, &err) == 0, "end");
    CHECK(csv_next_row(r, &err) == 0, "end again");
    csv_close(r);
}

static void test_errors(void) {
    expect_error("a,b\nc,\"open\nmore\n", 17, "q.csv", CSV_FORMAT_AUTO,
                 "q.csv:2:3: unterminated quote: the quoted field that starts here is never closed");
    expect_error("a,\"b\"c\n", 7, "q.csv", CSV_FORMAT_AUTO,
                 "q.csv:1:6: expected ',' or the end of the line after the quoted field that "
                 "starts at line 1, column 3; to put a '\"' inside a quoted field, double it");
    expect_error("a,b\nc,d\0e\n", 10, "n.csv", CSV_FORMAT_AUTO,
                 "n.csv:2:4: NUL byte; this looks like a binary file, not CSV text");
    expect_error("a\tb\n\0", 5, "n.tsv", CSV_FORMAT_AUTO,
                 "n.tsv:2:1: NUL byte; this looks like a binary file, not TSV text");
    LfError err = {0};
    CsvReader *r = csv_open_memory("\xFF\xFE" "a\0", 4, "u.csv", CSV_FORMAT_AUTO, &err);
    CHECK(r == NULL, "UTF-16 is refused");
    CHECK_STR_EQ(err.msg, "u.csv:1:1: the file is UTF-16 text; lorafit reads UTF-8 "
                          "(convert it with: iconv -f UTF-16 -t UTF-8)");
    /* After an error the reader keeps failing the same way. */
    r = csv_open_memory("\"x", 2, "q.csv", CSV_FORMAT_AUTO, &err);
    CHECK(r && csv_next_row(r, &err) < 0 && csv_next_row(r, &err) < 0, "sticky error");
    CHECK_STR_EQ(err.msg, "q.csv:1:1: unterminated quote: the quoted field that starts here is never closed");
    csv_close(r);
}

static void test_files(void) {
    char path[4096];
    const char *src = check_env("LORAFIT_SOURCE_DIR", ".");
    LfError err = {0};
    snprintf(path, sizeof path, "%s/tests/fixtures/csv/no-such-file.csv", src);
    CsvReader *r = csv_open(path, CSV_FORMAT_AUTO, &err);
    char want[4200];
    snprintf(want, sizeof want, "cannot open %s: No such file or directory", path);
    CHECK(r == NULL, "a missing file fails");
    CHECK_STR_EQ(err.msg, want);
    CHECK(err.kind == LF_ERR_INPUT, "a missing file is bad input");

    snprintf(path, sizeof path, "%s/tests/fixtures/csv", src);
    r = csv_open(path, CSV_FORMAT_AUTO, &err);
    snprintf(want, sizeof want, "cannot read %s: Is a directory", path);
    CHECK(r == NULL, "a directory fails");
    CHECK_STR_EQ(err.msg, want);

    /* The pandas-written fixture, read through a FILE: 6 records. */
    snprintf(path, sizeof path, "%s/tests/fixtures/csv/labs_train.csv", src);
    r = csv_open(path, CSV_FORMAT_AUTO, &err);
    CHECK(r != NULL, "open labs_train.csv: %s", err.msg);
    if (!r) return;
    int records = 0;
    while (csv_next_row(r, &err) > 0) {
        records++;
        if (records == 4) CHECK_STR_EQ(csv_field(r, 1), "Line one\nline two, with a comma");
    }
    CHECK(records == 6, "labs_train.csv: %d records", records);
    csv_close(r);
}

/* Records longer than the reader's 64 KiB buffer cross refills. */
static void test_long_record(void) {
    size_t n = 200000;
    char *data = malloc(n + 16);
    if (!data) return;
    memcpy(data, "x,\"", 3);
    memset(data + 3, 'a', n);
    memcpy(data + 3 + n, "\"\n", 3);
    LfError err = {0};
    CsvReader *r = csv_open_memory(data, n + 5, "long.csv", CSV_FORMAT_AUTO, &err);
    CHECK(r && csv_next_row(r, &err) == 1 && csv_field_len(r, 1) == n, "a 200,000-byte field");
    csv_close(r);
    free(data);
}

static void test_write(void) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return;
    csv_write_field(f, "plain text", 10);
    putc('|', f);
    csv_write_field(f, "a,b", 3);
    putc('|', f);
    csv_write_field(f, "say \"hi\"", 8);
    putc('|', f);
    csv_write_field(f, "two\nlines", 9);
    fclose(f);
    CHECK_STR_EQ(buf, "plain text|\"a,b\"|\"say \"\"hi\"\"\"|\"two\nlines\"");
    free(buf);
}

int main(void) {
    test_rfc4180();
    test_tsv();
    test_detection();
    test_positions();
    test_errors();
    test_files();
    test_long_record();
    test_write();
    return check_done();
}
