/* csv.c - see include/lorafit/data/csv.h
 *
 * A byte-at-a-time state machine over a buffered source (a FILE or a block
 * of memory). The current record's fields are appended to one growing
 * buffer, each NUL-terminated, with their start offsets and positions on the
 * side; the buffer is reused for every record, so it only grows to the
 * longest record. */
#include "lorafit/data/csv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { CSV_EOF = -1 };
enum { CSV_BUF_SIZE = 1 << 16 };

struct CsvReader {
    FILE *f;              /* NULL when reading memory */
    unsigned char *buf;   /* file: our buffer; memory: the caller's data */
    size_t pos, len, cap; /* unread bytes are buf[pos..len) */
    bool source_done;     /* nothing more to read into buf */
    int read_errno;       /* nonzero once a read failed */
    char *name;
    CsvFormat format;
    CsvPos at;            /* position of buf[pos] */
    int state;            /* 1 reading, 0 at the end, -1 failed */
    LfError error;        /* the failure, repeated on every later call */

    /* the current record */
    char *data;
    size_t data_len, data_cap;
    size_t *offs;
    CsvPos *fpos;
    size_t n_fields, fields_cap;
    CsvPos row_end;
};

/* ---- the byte source ---------------------------------------------------- */

/* Makes at least `want` unread bytes available unless the input ends first. */
static void fill(CsvReader *r, size_t want) {
    while (r->len - r->pos < want && !r->source_done) {
        if (r->pos > 0) {
            memmove(r->buf, r->buf + r->pos, r->len - r->pos);
            r->len -= r->pos;
            r->pos = 0;
        }
        size_t n = fread(r->buf + r->len, 1, r->cap - r->len, r->f);
        r->len += n;
        if (n == 0) {
            if (ferror(r->f)) r->read_errno = errno ? errno : EIO;
            r->source_done = true;
        }
    }
}

/* The byte k places ahead (k < 4), or CSV_EOF. A read error looks like the
 * end of the input here; csv_next_row() reports it. */
static int peek_at(CsvReader *r, size_t k) {
    if (r->len - r->pos <= k) fill(r, k + 1);
    return r->len - r->pos > k ? r->buf[r->pos + k] : CSV_EOF;
}

static int peek(CsvReader *r) { return peek_at(r, 0); }

static void skip(CsvReader *r) {
    if (r->buf[r->pos++] == '\n') {
        r->at.line++;
        r->at.col = 1;
    } else {
        r->at.col++;
    }
}

/* ---- opening ------------------------------------------------------------ */

static bool has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* The extension decides when it can; otherwise a TAB in the first line means
 * TSV (the UCI file has no extension; a CSV header seldom holds a TAB). */
static CsvFormat detect_format(CsvReader *r) {
    if (has_suffix(r->name, ".csv")) return CSV_FORMAT_CSV;
    if (has_suffix(r->name, ".tsv") || has_suffix(r->name, ".tab")) return CSV_FORMAT_TSV;
    fill(r, r->cap);
    for (size_t i = r->pos; i < r->len && r->buf[i] != '\n'; i++)
        if (r->buf[i] == '\t') return CSV_FORMAT_TSV;
    return CSV_FORMAT_CSV;
}

/* Reads the start of the input: skips a UTF-8 BOM, refuses UTF-16, picks
 * the format. */
static bool start(CsvReader *r, CsvFormat format, LfError *err) {
    r->at = (CsvPos){1, 1};
    r->state = 1;
    int b0 = peek_at(r, 0), b1 = peek_at(r, 1), b2 = peek_at(r, 2);
    if (r->read_errno) {
        errno = r->read_errno;
        lf_error_errno(err, LF_ERR_INPUT, "cannot read %s", r->name);
        return false;
    }
    if (b0 == 0xEF && b1 == 0xBB && b2 == 0xBF) {
        r->pos += 3;
    } else if ((b0 == 0xFF && b1 == 0xFE) || (b0 == 0xFE && b1 == 0xFF)) {
        lf_error_set(err, LF_ERR_INPUT,
                     "%s:1:1: the file is UTF-16 text; lorafit reads UTF-8 "
                     "(convert it with: iconv -f UTF-16 -t UTF-8)",
                     r->name);
        return false;
    }
    r->format = format == CSV_FORMAT_AUTO ? detect_format(r) : format;
    return true;
}

static CsvReader *reader_new(const char *name, LfError *err) {
    CsvReader *r = calloc(1, sizeof *r);
    if (r) r->name = strdup(name);
    if (!r || !r->name) {
        free(r);
        lf_error_set(err, LF_ERR_IO, "out of memory opening %s", name);
        return NULL;
    }
    return r;
}

CsvReader *csv_open(const char *path, CsvFormat format, LfError *err) {
    CsvReader *r = reader_new(path, err);
    if (!r) return NULL;
    r->f = fopen(path, "rb");
    if (!r->f) {
        lf_error_errno(err, LF_ERR_INPUT, "cannot open %s", path);
        csv_close(r);
        return NULL;
    }
    r->cap = CSV_BUF_SIZE;
    r->buf = malloc(r->cap);
    if (!r->buf) {
        lf_error_set(err, LF_ERR_IO, "out of memory opening %s", path);
        csv_close(r);
        return NULL;
    }
    if (!start(r, format, err)) {
        csv_close(r);
        return NULL;
    }
    return r;
}

CsvReader *csv_open_memory(const void *data, size_t len, const char *name, CsvFormat format,
                           LfError *err) {
    CsvReader *r = reader_new(name, err);
    if (!r) return NULL;
    r->buf = (unsigned char *)data; /* never written: fill() has nothing to read */
    r->len = r->cap = len;
    r->source_done = true;
    if (!start(r, format, err)) {
        csv_close(r);
        return NULL;
    }
    return r;
}

void csv_close(CsvReader *r) {
    if (!r) return;
    if (r->f) {
        fclose(r->f);
        free(r->buf);
    }
    free(r->name);
    free(r->data);
    free(r->offs);
    free(r->fpos);
    free(r);
}

/* ---- failing ------------------------------------------------------------ */

/* Records a failure at `at`. A read error that happened meanwhile is the
 * real cause, so it wins over whatever the parser made of the cut input. */
static int fail(CsvReader *r, LfError *err, LfErrorKind kind, CsvPos at, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int fail(CsvReader *r, LfError *err, LfErrorKind kind, CsvPos at, const char *fmt, ...) {
    if (r->read_errno) {
        errno = r->read_errno;
        lf_error_errno(&r->error, LF_ERR_INPUT, "cannot read %s", r->name);
    } else {
        char what[LF_ERROR_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        lf_error_set(&r->error, kind, "%s:%ld:%ld: %s", r->name, at.line, at.col, what);
    }
    r->state = -1;
    if (err) *err = r->error;
    return -1;
}

static int fail_nul(CsvReader *r, LfError *err) {
    return fail(r, err, LF_ERR_INPUT, r->at,
                "NUL byte; this looks like a binary file, not %s text",
                r->format == CSV_FORMAT_TSV ? "TSV" : "CSV");
}

static int fail_oom(CsvReader *r, LfError *err) {
    return fail(r, err, LF_ERR_IO, r->at, "out of memory");
}

/* ---- building the record ------------------------------------------------ */

static bool begin_field(CsvReader *r) {
    if (r->n_fields == r->fields_cap) {
        size_t cap = r->fields_cap ? 2 * r->fields_cap : 16;
        size_t *offs = realloc(r->offs, cap * sizeof *offs);
        if (offs) r->offs = offs;
        CsvPos *fpos = realloc(r->fpos, cap * sizeof *fpos);
        if (fpos) r->fpos = fpos;
        if (!offs || !fpos) return false;
        r->fields_cap = cap;
    }
    r->offs[r->n_fields] = r->data_len;
    r->fpos[r->n_fields] = r->at;
    r->n_fields++;
    return true;
}

static bool push(CsvReader *r, int c) {
    if (r->data_len == r->data_cap) {
        size_t cap = r->data_cap ? 2 * r->data_cap : 256;
        char *data = realloc(r->data, cap);
        if (!data) return false;
        r->data = data;
        r->data_cap = cap;
    }
    r->data[r->data_len++] = (char)c;
    return true;
}

static size_t current_field_len(const CsvReader *r) {
    return r->data_len - r->offs[r->n_fields - 1];
}

/* Appends the next input byte to the current field. */
static int take_into_field(CsvReader *r, LfError *err, bool quoted) {
    if (current_field_len(r) >= CSV_MAX_FIELD)
        return fail(r, err, LF_ERR_INPUT, r->fpos[r->n_fields - 1],
                    quoted ? "quoted field longer than %u MiB; is this quote left open?"
                           : "field longer than %u MiB",
                    CSV_MAX_FIELD >> 20);
    if (!push(r, r->buf[r->pos])) return fail_oom(r, err);
    skip(r);
    return 1;
}

static bool end_field(CsvReader *r) { return push(r, '\0'); }

/* Consumes a line break (LF or CRLF) if one is next; returns whether it did. */
static bool take_line_break(CsvReader *r) {
    int c = peek(r);
    if (c == '\n') {
        skip(r);
        return true;
    }
    if (c == '\r' && peek_at(r, 1) == '\n') {
        skip(r);
        skip(r);
        return true;
    }
    return false;
}

static bool at_line_break(CsvReader *r) {
    int c = peek(r);
    return c == '\n' || (c == '\r' && peek_at(r, 1) == '\n');
}

/* ---- the two formats ---------------------------------------------------- */

/* A quoted CSV field, from its opening quote to just after its closing one. */
static int read_quoted(CsvReader *r, LfError *err) {
    CsvPos open = r->at;
    skip(r); /* the opening quote */
    for (;;) {
        int c = peek(r);
        if (c == CSV_EOF)
            return fail(r, err, LF_ERR_INPUT, open,
                        "unterminated quote: the quoted field that starts here is never closed");
        if (c == 0) return fail_nul(r, err);
        if (c == '"') {
            if (peek_at(r, 1) != '"') {
                skip(r);
                return 1;
            }
            skip(r); /* a doubled quote stands for one */
        }
        if (take_into_field(r, err, true) < 0) return -1;
    }
}

/* What may follow a closing quote: a comma, a line break, the end. */
static int after_quoted(CsvReader *r, LfError *err, CsvPos open) {
    int c = peek(r);
    if (c == ',' || c == CSV_EOF || at_line_break(r)) return 1;
    return fail(r, err, LF_ERR_INPUT, r->at,
                "expected ',' or the end of the line after the quoted field that starts at "
                "line %ld, column %ld; to put a '\"' inside a quoted field, double it",
                open.line, open.col);
}

/* One record of fields separated by `sep`: ',' (CSV, where a field may be
 * quoted) or '\t' (TSV, where a quote is an ordinary character). */
static int read_record(CsvReader *r, int sep, LfError *err) {
    for (;;) {
        if (!begin_field(r)) return fail_oom(r, err);
        if (sep == ',' && peek(r) == '"') {
            CsvPos open = r->at;
            if (read_quoted(r, err) < 0 || after_quoted(r, err, open) < 0) return -1;
        }
        for (;;) {
            int c = peek(r);
            if (c == CSV_EOF || c == sep || at_line_break(r)) break;
            if (c == 0) return fail_nul(r, err);
            if (take_into_field(r, err, false) < 0) return -1;
        }
        if (!end_field(r)) return fail_oom(r, err);
        if (peek(r) != sep) return 1;
        skip(r);
    }
}

int csv_next_row(CsvReader *r, LfError *err) {
    if (r->state <= 0) {
        if (r->state < 0 && err) *err = r->error;
        return r->state;
    }
    r->n_fields = 0;
    r->data_len = 0;
    while (take_line_break(r)) {
    } /* empty lines hold no record */
    if (peek(r) == CSV_EOF) {
        if (r->read_errno) return fail(r, err, LF_ERR_INPUT, r->at, "read error");
        r->state = 0;
        return 0;
    }
    int st = read_record(r, r->format == CSV_FORMAT_TSV ? '\t' : ',', err);
    if (st < 0) return -1;
    if (r->read_errno) return fail(r, err, LF_ERR_INPUT, r->at, "read error");
    r->row_end = r->at;
    take_line_break(r);
    return 1;
}

/* ---- the current record ------------------------------------------------- */

size_t csv_field_count(const CsvReader *r) { return r->n_fields; }

const char *csv_field(const CsvReader *r, size_t i) { return r->data + r->offs[i]; }

size_t csv_field_len(const CsvReader *r, size_t i) {
    size_t end = i + 1 < r->n_fields ? r->offs[i + 1] : r->data_len;
    return end - r->offs[i] - 1; /* less the NUL */
}

CsvPos csv_field_pos(const CsvReader *r, size_t i) { return r->fpos[i]; }

CsvPos csv_row_end(const CsvReader *r) { return r->row_end; }

CsvPos csv_position(const CsvReader *r) { return r->at; }

CsvFormat csv_format(const CsvReader *r) { return r->format; }

const char *csv_name(const CsvReader *r) { return r->name; }

const char *csv_format_name(CsvFormat format) {
    switch (format) {
    case CSV_FORMAT_CSV: return "csv";
    case CSV_FORMAT_TSV: return "tsv";
    default: return "auto";
    }
}

/* ---- writing ------------------------------------------------------------ */

bool csv_write_field(FILE *f, const char *s, size_t len) {
    bool quote = false;
    for (size_t i = 0; i < len && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
    if (!quote) {
        fwrite(s, 1, len, f);
        return !ferror(f);
    }
    putc('"', f);
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"') putc('"', f);
        putc(s[i], f);
    }
    putc('"', f);
    return !ferror(f);
}
