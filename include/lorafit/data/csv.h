/* csv.h - a streaming reader for the CSV and TSV files users really have.
 *
 * Two formats:
 *
 *   CSV  RFC 4180: fields separated by ',', records ended by LF or CRLF, a
 *        field may be quoted with '"' and then holds ',', '"' (doubled) and
 *        line breaks. Leniencies that real files need: a '"' inside an
 *        unquoted field is an ordinary byte (as Python's csv module does),
 *        the last record need not end with a line break.
 *   TSV  one record per line, fields separated by TAB, no quoting at all: a
 *        '"' is an ordinary byte. This is how the UCI SMSSpamCollection file
 *        is meant to be read (5,574 records, where pandas' default quoting
 *        sees 5,572). A CR before the LF is dropped.
 *
 * Both: a UTF-8 byte-order mark at the start is skipped, an empty line is
 * skipped (it still counts for line numbers), a NUL byte is an error (a
 * binary file, or UTF-16), and bytes are passed on as they are (checking
 * UTF-8 is the caller's business).
 *
 * The reader holds one record at a time, so memory does not grow with the
 * file. Positions are 1-based; a column counts bytes from the start of the
 * line (the byte-order mark not included), as `gcc -fdiagnostics-column-unit=byte`.
 *
 *   CsvReader *r = csv_open("train.csv", CSV_FORMAT_AUTO, &err);
 *   int st;
 *   while ((st = csv_next_row(r, &err)) > 0)
 *       for (size_t i = 0; i < csv_field_count(r); i++) use(csv_field(r, i));
 *   csv_close(r);
 *   if (st < 0) fail(err.msg);  // "train.csv:12:7: unterminated quote ..."
 */
#ifndef LORAFIT_CSV_H
#define LORAFIT_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "lorafit/util/error.h"

typedef enum {
    CSV_FORMAT_AUTO = 0, /* by extension (.csv; .tsv/.tab), else by content */
    CSV_FORMAT_CSV,
    CSV_FORMAT_TSV,
} CsvFormat;

/* A field longer than this is an error: it is almost always a quote left
 * open, and the limit keeps such a file from being read whole into memory. */
#define CSV_MAX_FIELD (16u << 20)

typedef struct {
    long line, col;
} CsvPos;

typedef struct CsvReader CsvReader;

/* Opens a file. With CSV_FORMAT_AUTO the name decides (".csv" is CSV,
 * ".tsv" and ".tab" are TSV, any case); any other name is TSV when its first
 * line holds a TAB and CSV otherwise. A missing or unreadable file is an
 * LF_ERR_INPUT error. */
CsvReader *csv_open(const char *path, CsvFormat format, LfError *err);

/* Reads from memory (tests, the fuzzer). `name` is used in messages and for
 * CSV_FORMAT_AUTO as a path would be. The data must outlive the reader. */
CsvReader *csv_open_memory(const void *data, size_t len, const char *name, CsvFormat format,
                           LfError *err);

/* Reads the next record: 1 when there is one, 0 at the end of the input,
 * -1 on an error ("name:line:col: what was expected"). After 0 or -1 it
 * keeps returning the same. */
int csv_next_row(CsvReader *r, LfError *err);

/* The current record's fields. A field is NUL-terminated (the input has no
 * NUL bytes, so csv_field_len() == strlen()) and valid until the next
 * csv_next_row(). */
size_t csv_field_count(const CsvReader *r);
const char *csv_field(const CsvReader *r, size_t i);
size_t csv_field_len(const CsvReader *r, size_t i);
/* Where field i starts (its opening quote, for a quoted field). */
CsvPos csv_field_pos(const CsvReader *r, size_t i);
/* Where the current record ends: the position of its line break, or of
 * the end of the input. A missing field is reported here. */
CsvPos csv_row_end(const CsvReader *r);
/* The reader's position: after csv_next_row() returned 0, the end of the
 * input. */
CsvPos csv_position(const CsvReader *r);

CsvFormat csv_format(const CsvReader *r);
const char *csv_name(const CsvReader *r);
/* "csv" or "tsv". */
const char *csv_format_name(CsvFormat format);

void csv_close(CsvReader *r);

/* Writes one field for a CSV file, quoted when it holds ',', '"', CR or LF
 * (the minimal quoting of RFC 4180, Python's csv and pandas' to_csv).
 * Returns false when the stream is in error. */
bool csv_write_field(FILE *f, const char *s, size_t len);

#endif
