/* dataset.c - see include/lorafit/data/dataset.h */
#include "lorafit/data/dataset.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lorafit/util/utf8.h"

/* Column names lorafit recognises in a header, any case. A header is only
 * taken as one when it has a name from each list, so a headerless file whose
 * first message happens to be "text" is still read as data. */
static const char *const LABEL_NAMES[] = {"label", "labels", "class", "category",
                                          "type",  "target", "v1",    NULL};
static const char *const TEXT_NAMES[] = {"text", "message", "messages", "sms", "msg",
                                         "content", "body", "email", "v2", NULL};

/* A label seen while loading, before class ids are settled. */
typedef struct {
    char *name;
    size_t len;
} RawLabel;

/* The dataset under construction. Texts go into one arena by offset (the
 * arena moves as it grows); labels[] holds raw label indices until the
 * classes are settled at the end, unless the classes are fixed. */
typedef struct {
    Dataset *d;
    size_t *text_off;
    size_t cap;
    size_t arena_len, arena_cap;
    RawLabel *raw;
    int n_raw;
    int last_raw; /* labels come in runs; try the previous one first */
    size_t width; /* fields per row, from the first row */
    long width_line;
    char col_name[2][48]; /* header names of the label and text columns */
    const DatasetOptions *opt;
} Loader;

/* ---- small helpers ------------------------------------------------------ */

/* A column given as a whole number is an index. */
static bool parse_index(const char *s, long *out) {
    if (!*s) return false;
    long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return false;
        if (v > (LONG_MAX - 9) / 10) return false;
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return true;
}

static void trim(const char **s, size_t *len) {
    while (*len && (**s == ' ' || **s == '\t')) (*s)++, (*len)--;
    while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t')) (*len)--;
}

static bool is_blank(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n' && s[i] != '\f' &&
            s[i] != '\v')
            return false;
    return true;
}

static bool in_list(const char *s, size_t len, const char *const *names) {
    trim(&s, &len);
    for (int i = 0; names[i]; i++)
        if (strlen(names[i]) == len && strncasecmp(s, names[i], len) == 0) return true;
    return false;
}

static int find_known_column(const CsvReader *r, const char *const *names) {
    for (size_t i = 0; i < csv_field_count(r); i++)
        if (in_list(csv_field(r, i), csv_field_len(r, i), names)) return (int)i;
    return -1;
}

/* "Label, Text" for messages, cut to fit. */
static void header_list(const CsvReader *r, char *buf, size_t size) {
    buf[0] = '\0';
    size_t used = 0;
    for (size_t i = 0; i < csv_field_count(r) && used + 1 < size; i++) {
        int n = snprintf(buf + used, size - used, "%s'%.40s'", i ? ", " : "", csv_field(r, i));
        if (n < 0) break;
        used += (size_t)n;
    }
}

/* "column 1, 'Text'" (which = 0 label, 1 text). */
static void describe_column(const Loader *L, char *buf, size_t size, int which) {
    int col = which ? L->d->text_col : L->d->label_col;
    if (L->d->has_header)
        snprintf(buf, size, "column %d, '%s'", col, L->col_name[which]);
    else
        snprintf(buf, size, "column %d", col);
}

/* ---- columns and header ------------------------------------------------- */

static bool first_row_is_header(const CsvReader *r, const DatasetOptions *opt) {
    long ignored;
    if (opt->header != DATASET_HEADER_AUTO) return opt->header == DATASET_HEADER_YES;
    if ((opt->label_col && !parse_index(opt->label_col, &ignored)) ||
        (opt->text_col && !parse_index(opt->text_col, &ignored)))
        return true;
    return find_known_column(r, LABEL_NAMES) >= 0 && find_known_column(r, TEXT_NAMES) >= 0;
}

/* Which column holds the labels (what = "label") or the texts. */
static int resolve_column(const CsvReader *r, bool header, const char *spec,
                          const char *const *known, int fallback, const char *what,
                          const char *option, LfError *err) {
    size_t width = csv_field_count(r);
    CsvPos at = csv_field_pos(r, 0);
    const char *name = csv_name(r);
    char names[512];
    header_list(r, names, sizeof names);
    long k;
    if (spec && parse_index(spec, &k)) {
        if ((size_t)k < width) return (int)k;
        lf_error_set(err, LF_ERR_INPUT,
                     "%s:%ld:%ld: %s %s is out of range: the file has %zu columns (0 to %zu)",
                     name, at.line, at.col, option, spec, width, width - 1);
        return -1;
    }
    if (spec) {
        if (!header) {
            lf_error_set(err, LF_ERR_INPUT,
                         "%s:%ld:%ld: %s '%s' names a column, but the file has no header; "
                         "give a 0-based index",
                         name, at.line, at.col, option, spec);
            return -1;
        }
        for (size_t i = 0; i < width; i++)
            if (strcmp(csv_field(r, i), spec) == 0) return (int)i;
        for (size_t i = 0; i < width; i++)
            if (strcasecmp(csv_field(r, i), spec) == 0) return (int)i;
        lf_error_set(err, LF_ERR_INPUT, "%s:%ld:%ld: no column named '%s' (the header has %s)",
                     name, at.line, at.col, spec, names);
        return -1;
    }
    if (header) {
        int i = find_known_column(r, known);
        if (i >= 0) return i;
        lf_error_set(err, LF_ERR_INPUT,
                     "%s:%ld:%ld: cannot tell which column holds the %ss (the header has %s); "
                     "name it with %s",
                     name, at.line, at.col, what, names, option);
        return -1;
    }
    if ((size_t)fallback < width) return fallback;
    CsvPos end = csv_row_end(r);
    lf_error_set(err, LF_ERR_INPUT,
                 "%s:%ld:%ld: expected at least 2 fields (label and text), found %zu", name,
                 end.line, end.col, width);
    return -1;
}

/* ---- labels ------------------------------------------------------------- */

static int fixed_class(const DatasetOptions *opt, const char *s, size_t len) {
    for (int i = 0; i < opt->n_classes; i++)
        if (strlen(opt->class_names[i]) == len && memcmp(opt->class_names[i], s, len) == 0)
            return i;
    char tmp[24];
    long id;
    if (len < sizeof tmp) {
        memcpy(tmp, s, len);
        tmp[len] = '\0';
        if (parse_index(tmp, &id) && id < opt->n_classes) return (int)id;
    }
    return -1;
}

static int intern_label(Loader *L, const char *s, size_t len) {
    if (L->last_raw >= 0 && L->raw[L->last_raw].len == len &&
        memcmp(L->raw[L->last_raw].name, s, len) == 0)
        return L->last_raw;
    for (int i = 0; i < L->n_raw; i++)
        if (L->raw[i].len == len && memcmp(L->raw[i].name, s, len) == 0) return L->last_raw = i;
    if (L->n_raw == DATASET_MAX_CLASSES) return -2;
    RawLabel *raw = realloc(L->raw, (size_t)(L->n_raw + 1) * sizeof *raw);
    if (!raw) return -1;
    L->raw = raw;
    char *name = malloc(len + 1);
    if (!name) return -1;
    memcpy(name, s, len);
    name[len] = '\0';
    L->raw[L->n_raw] = (RawLabel){name, len};
    return L->last_raw = L->n_raw++;
}

/* Byte order of the labels, for rule 3; the table is small (at most
 * DATASET_MAX_CLASSES), so an insertion sort will do. */
static void sort_raw(int *order, int n, const RawLabel *raw) {
    for (int i = 1; i < n; i++) {
        int v = order[i], j = i;
        for (; j > 0 && strcmp(raw[order[j - 1]].name, raw[v].name) > 0; j--)
            order[j] = order[j - 1];
        order[j] = v;
    }
}

static bool set_class_names(Dataset *d, int n, LfError *err) {
    d->class_names = calloc((size_t)n, sizeof *d->class_names);
    if (!d->class_names) {
        lf_error_set(err, LF_ERR_IO, "out of memory");
        return false;
    }
    d->n_classes = n;
    return true;
}

static bool set_class_name(Dataset *d, int id, const char *name, LfError *err) {
    d->class_names[id] = strdup(name);
    if (d->class_names[id]) return true;
    lf_error_set(err, LF_ERR_IO, "out of memory");
    return false;
}

/* Settles class ids from the raw labels (the three rules in dataset.h) and
 * rewrites labels[] from raw indices to class ids. */
static bool settle_classes(Loader *L, LfError *err) {
    Dataset *d = L->d;
    int map[DATASET_MAX_CLASSES];
    bool all_ham_spam = true, all_numbers = true;
    long max_number = 0;
    for (int i = 0; i < L->n_raw; i++) {
        const char *s = L->raw[i].name;
        long v;
        if (strcmp(s, "ham") != 0 && strcmp(s, "spam") != 0) all_ham_spam = false;
        if (!parse_index(s, &v) || v >= DATASET_MAX_CLASSES) all_numbers = false;
        else if (v > max_number) max_number = v;
    }
    if (all_ham_spam) {
        if (!set_class_names(d, 2, err) || !set_class_name(d, 0, "ham", err) ||
            !set_class_name(d, 1, "spam", err))
            return false;
        for (int i = 0; i < L->n_raw; i++) map[i] = strcmp(L->raw[i].name, "spam") == 0;
    } else if (all_numbers) {
        if (!set_class_names(d, (int)max_number + 1, err)) return false;
        for (int id = 0; id <= max_number; id++) {
            char name[16];
            snprintf(name, sizeof name, "%d", id);
            if (!set_class_name(d, id, name, err)) return false;
        }
        for (int i = 0; i < L->n_raw; i++) {
            long v = 0;
            parse_index(L->raw[i].name, &v);
            map[i] = (int)v;
        }
    } else {
        int order[DATASET_MAX_CLASSES];
        for (int i = 0; i < L->n_raw; i++) order[i] = i;
        sort_raw(order, L->n_raw, L->raw);
        if (!set_class_names(d, L->n_raw, err)) return false;
        for (int id = 0; id < L->n_raw; id++) {
            if (!set_class_name(d, id, L->raw[order[id]].name, err)) return false;
            map[order[id]] = id;
        }
    }
    for (size_t i = 0; i < d->n; i++) d->labels[i] = map[d->labels[i]];
    return true;
}

static bool fixed_classes(Dataset *d, const DatasetOptions *opt, LfError *err) {
    if (!set_class_names(d, opt->n_classes, err)) return false;
    for (int i = 0; i < opt->n_classes; i++)
        if (!set_class_name(d, i, opt->class_names[i], err)) return false;
    return true;
}

/* ---- rows --------------------------------------------------------------- */

static bool grow_rows(Loader *L, LfError *err) {
    Dataset *d = L->d;
    if (d->n < L->cap) return true;
    size_t cap = L->cap ? 2 * L->cap : 1024;
    size_t *off = realloc(L->text_off, cap * sizeof *off);
    if (off) L->text_off = off;
    int *labels = realloc(d->labels, cap * sizeof *labels);
    if (labels) d->labels = labels;
    long *lines = realloc(d->lines, cap * sizeof *lines);
    if (lines) d->lines = lines;
    if (!off || !labels || !lines) {
        lf_error_set(err, LF_ERR_IO, "out of memory after %zu rows", d->n);
        return false;
    }
    L->cap = cap;
    return true;
}

static bool keep_text(Loader *L, const char *s, size_t len, LfError *err) {
    if (L->arena_len + len + 1 > L->arena_cap) {
        size_t cap = L->arena_cap ? L->arena_cap : 1 << 16;
        while (cap < L->arena_len + len + 1) cap *= 2;
        char *arena = realloc(L->d->arena_, cap);
        if (!arena) {
            lf_error_set(err, LF_ERR_IO, "out of memory after %zu rows", L->d->n);
            return false;
        }
        L->d->arena_ = arena;
        L->arena_cap = cap;
    }
    L->text_off[L->d->n] = L->arena_len;
    memcpy(L->d->arena_ + L->arena_len, s, len);
    L->d->arena_[L->arena_len + len] = '\0';
    L->arena_len += len + 1;
    return true;
}

static bool check_width(const Loader *L, const CsvReader *r, LfError *err) {
    size_t n = csv_field_count(r);
    while (n > L->width && csv_field_len(r, n - 1) == 0) n--; /* trailing ",,," */
    if (n == L->width) return true;
    CsvPos at = n > L->width ? csv_field_pos(r, L->width) : csv_row_end(r);
    lf_error_set(err, LF_ERR_INPUT,
                 "%s:%ld:%ld: wrong number of fields: expected %zu (as in line %ld), found %zu",
                 csv_name(r), at.line, at.col, L->width, L->width_line, n);
    return false;
}

static int label_id(Loader *L, const CsvReader *r, const char *s, size_t len, LfError *err) {
    const DatasetOptions *opt = L->opt;
    CsvPos at = csv_field_pos(r, (size_t)L->d->label_col);
    if (opt->class_names) {
        int id = fixed_class(opt, s, len);
        if (id >= 0) return id;
        char expected[512] = "";
        for (int i = 0; i < opt->n_classes; i++) {
            size_t used = strlen(expected);
            snprintf(expected + used, sizeof expected - used, "%s%s", i ? ", " : "",
                     opt->class_names[i]);
        }
        lf_error_set(err, LF_ERR_INPUT,
                     "%s:%ld:%ld: unknown label '%.*s'; expected one of %s (or a class id 0 to %d)",
                     csv_name(r), at.line, at.col, (int)(len > 60 ? 60 : len), s, expected,
                     opt->n_classes - 1);
        return -1;
    }
    int raw = intern_label(L, s, len);
    if (raw == -2)
        lf_error_set(err, LF_ERR_INPUT,
                     "%s:%ld:%ld: more than %d different labels; is the label column right?",
                     csv_name(r), at.line, at.col, DATASET_MAX_CLASSES);
    else if (raw < 0)
        lf_error_set(err, LF_ERR_IO, "out of memory");
    return raw;
}

static bool add_row(Loader *L, const CsvReader *r, LfError *err) {
    Dataset *d = L->d;
    if (!check_width(L, r, err) || !grow_rows(L, err)) return false;
    size_t lc = (size_t)d->label_col, tc = (size_t)d->text_col;
    const char *label = csv_field(r, lc), *text = csv_field(r, tc);
    size_t label_len = csv_field_len(r, lc), text_len = csv_field_len(r, tc);
    char where[128];
    trim(&label, &label_len);
    if (label_len == 0) {
        CsvPos at = csv_field_pos(r, lc);
        describe_column(L, where, sizeof where, 0);
        lf_error_set(err, LF_ERR_INPUT, "%s:%ld:%ld: empty label (%s)", csv_name(r), at.line,
                     at.col, where);
        return false;
    }
    if (is_blank(text, text_len)) {
        CsvPos at = csv_field_pos(r, tc);
        describe_column(L, where, sizeof where, 1);
        lf_error_set(err, LF_ERR_INPUT, "%s:%ld:%ld: empty text (%s)", csv_name(r), at.line,
                     at.col, where);
        return false;
    }
    int id = label_id(L, r, label, label_len, err);
    if (id < 0 || !keep_text(L, text, text_len, err)) return false;
    if (!utf8_valid(text, text_len) || !utf8_valid(label, label_len)) {
        if (d->n_invalid_utf8 < DATASET_MAX_WARN_LINES)
            d->invalid_utf8_lines[d->n_invalid_utf8] = csv_field_pos(r, 0).line;
        d->n_invalid_utf8++;
    }
    d->labels[d->n] = id;
    d->lines[d->n] = csv_field_pos(r, 0).line;
    d->n++;
    return true;
}

/* ---- loading ------------------------------------------------------------ */

/* Reads the first row: header or not, which columns. */
static bool read_layout(Loader *L, CsvReader *r, LfError *err) {
    Dataset *d = L->d;
    const DatasetOptions *opt = L->opt;
    int st = csv_next_row(r, err);
    if (st < 0) return false;
    if (st == 0) {
        CsvPos at = csv_position(r);
        lf_error_set(err, LF_ERR_INPUT, "%s:%ld:%ld: no rows: the file is empty", csv_name(r),
                     at.line, at.col);
        return false;
    }
    d->format = csv_format(r);
    d->has_header = first_row_is_header(r, opt);
    L->width = csv_field_count(r);
    L->width_line = csv_field_pos(r, 0).line;
    d->label_col = resolve_column(r, d->has_header, opt->label_col, LABEL_NAMES, 0, "label",
                                  "--label-col", err);
    if (d->label_col < 0) return false;
    d->text_col = resolve_column(r, d->has_header, opt->text_col, TEXT_NAMES, 1, "text",
                                 "--text-col", err);
    if (d->text_col < 0) return false;
    if (d->label_col == d->text_col) {
        CsvPos at = csv_field_pos(r, 0);
        lf_error_set(err, LF_ERR_INPUT,
                     "%s:%ld:%ld: the label and the text would both come from column %d; "
                     "set --label-col and --text-col",
                     csv_name(r), at.line, at.col, d->label_col);
        return false;
    }
    snprintf(L->col_name[0], sizeof L->col_name[0], "%.40s", csv_field(r, (size_t)d->label_col));
    snprintf(L->col_name[1], sizeof L->col_name[1], "%.40s", csv_field(r, (size_t)d->text_col));
    return d->has_header || add_row(L, r, err);
}

static bool finish(Loader *L, CsvReader *r, LfError *err) {
    Dataset *d = L->d;
    if (d->n == 0) {
        CsvPos at = csv_position(r);
        lf_error_set(err, LF_ERR_INPUT, "%s:%ld:%ld: no data rows after the header",
                     csv_name(r), at.line, at.col);
        return false;
    }
    d->texts = malloc(d->n * sizeof *d->texts);
    if (!d->texts) {
        lf_error_set(err, LF_ERR_IO, "out of memory");
        return false;
    }
    for (size_t i = 0; i < d->n; i++) d->texts[i] = d->arena_ + L->text_off[i];
    return L->opt->class_names ? fixed_classes(d, L->opt, err) : settle_classes(L, err);
}

static Dataset *load(CsvReader *r, const DatasetOptions *opt, LfError *err) {
    static const DatasetOptions defaults = {0};
    if (!r) return NULL;
    Loader L = {.opt = opt ? opt : &defaults, .last_raw = -1};
    L.d = calloc(1, sizeof *L.d);
    bool ok = L.d != NULL;
    if (!ok) lf_error_set(err, LF_ERR_IO, "out of memory");
    ok = ok && read_layout(&L, r, err);
    int st = 1;
    while (ok && (st = csv_next_row(r, err)) > 0) ok = add_row(&L, r, err);
    ok = ok && st == 0 && finish(&L, r, err);
    free(L.text_off);
    for (int i = 0; i < L.n_raw; i++) free(L.raw[i].name);
    free(L.raw);
    csv_close(r);
    if (!ok) {
        dataset_free(L.d);
        return NULL;
    }
    return L.d;
}

Dataset *dataset_load(const char *path, const DatasetOptions *opt, LfError *err) {
    return load(csv_open(path, opt ? opt->format : CSV_FORMAT_AUTO, err), opt, err);
}

Dataset *dataset_load_memory(const void *data, size_t len, const char *name,
                             const DatasetOptions *opt, LfError *err) {
    return load(csv_open_memory(data, len, name, opt ? opt->format : CSV_FORMAT_AUTO, err), opt,
                err);
}

void dataset_free(Dataset *d) {
    if (!d) return;
    free(d->texts);
    free(d->labels);
    free(d->lines);
    if (d->class_names)
        for (int i = 0; i < d->n_classes; i++) free(d->class_names[i]);
    free(d->class_names);
    free(d->arena_);
    free(d);
}

void dataset_class_counts(const Dataset *d, size_t *counts) {
    for (int c = 0; c < d->n_classes; c++) counts[c] = 0;
    for (size_t i = 0; i < d->n; i++) counts[d->labels[i]]++;
}

void dataset_print_warnings(const Dataset *d, const char *cmd, const char *path, FILE *f) {
    size_t n = d->n_invalid_utf8;
    if (n == 0) return;
    size_t shown = n < DATASET_MAX_WARN_LINES ? n : DATASET_MAX_WARN_LINES;
    fprintf(f, "lorafit %s: warning: %s: %zu %s not valid UTF-8 (%s", cmd, path, n,
            n == 1 ? "row is" : "rows are", shown == 1 ? "line" : "lines");
    for (size_t i = 0; i < shown; i++) fprintf(f, "%s %ld", i ? "," : "", d->invalid_utf8_lines[i]);
    fprintf(f, "%s); the bytes are kept as they are\n", n > shown ? ", ..." : "");
}

/* ---- options ------------------------------------------------------------ */

char **dataset_parse_class_list(const char *list, int *n, LfError *err) {
    size_t len = strlen(list);
    int count = 1;
    for (const char *p = list; *p; p++) count += *p == ',';
    /* The pointers, then a copy of the list cut at the commas. */
    char **names = malloc((size_t)(count + 1) * sizeof *names + len + 1);
    if (!names) {
        lf_error_set(err, LF_ERR_IO, "out of memory");
        return NULL;
    }
    char *s = (char *)(names + count + 1);
    memcpy(s, list, len + 1);
    for (int i = 0; i < count; i++) {
        char *end = s + strcspn(s, ",");
        char *next = *end ? end + 1 : end;
        while (*s == ' ' || *s == '\t') s++;
        while (end > s && (end[-1] == ' ' || end[-1] == '\t')) end--;
        *end = '\0';
        bool repeated = false;
        for (int j = 0; j < i; j++) repeated = repeated || strcmp(names[j], s) == 0;
        if (!*s || repeated) {
            lf_error_set(err, LF_ERR_INPUT, "%s class name in '%s'",
                         repeated ? "a repeated" : "an empty", list);
            free(names);
            return NULL;
        }
        names[i] = s;
        s = next;
    }
    names[count] = NULL;
    *n = count;
    return names;
}

void dataset_options_free(DatasetOptions *opt) {
    free(opt->owned_class_names);
    opt->owned_class_names = NULL;
    opt->class_names = NULL;
    opt->n_classes = 0;
}
