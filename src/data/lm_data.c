/* lm_data.c - see include/lorafit/data/lm_data.h. Recognising the file,
 * lists and lines of records, plain text; SQuAD is lm_squad.c. */
#include "lorafit/data/lm_data.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lm_data_internal.h"
#include "lorafit/util/files.h"

/* ---- shared with lm_squad.c -------------------------------------------- */

static void record_free(LmRecord *r) {
    free(r->prompt);
    free(r->completion);
    free(r->id);
    for (int i = 0; i < r->n_answers; i++) free(r->answers[i]);
    free(r->answers);
}

bool lm_data_push(LmData *d, LmRecord *r, LfError *err) {
    if (d->n == d->cap_) {
        size_t cap = d->cap_ ? 2 * d->cap_ : 64;
        LmRecord *grown = realloc(d->records, cap * sizeof *grown);
        if (!grown) {
            record_free(r);
            lf_error_set(err, LF_ERR_IO, "out of memory reading %s", d->name);
            return false;
        }
        d->records = grown;
        d->cap_ = cap;
    }
    d->records[d->n++] = *r;
    return true;
}

char *lm_printf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!s) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static bool is_ascii_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

const char *lm_trim(const char *s, int *len) {
    while (is_ascii_space(*s)) s++;
    size_t n = strlen(s);
    while (n > 0 && is_ascii_space(s[n - 1])) n--;
    *len = n > (size_t)(1 << 30) ? 1 << 30 : (int)n;
    return s;
}

size_t lm_child_offset(const LmSource *src, size_t parent_at, const cJSON *parent, const cJSON *child) {
    size_t n = (size_t)cJSON_GetArraySize(parent), k = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, parent) {
        if (c == child) break;
        k++;
    }
    size_t *off = malloc((n ? n : 1) * sizeof *off);
    if (!off) return parent_at;
    json_text_children(src->text, src->len, parent_at, off, n);
    size_t at = k < n ? off[k] : parent_at;
    free(off);
    return at;
}

const char *lm_source_where(LmSource *src, size_t offset, char *buf, size_t size) {
    JsonPosition p = json_cursor_at(&src->cursor, offset);
    snprintf(buf, size, "%s:%ld:%ld", src->name, p.line, p.column);
    return buf;
}

/* ---- records from JSON objects ----------------------------------------- */

static LmKind kind_of(const cJSON *o) {
    if (cJSON_HasObjectItem(o, "instruction") && cJSON_HasObjectItem(o, "output")) return LM_KIND_ALPACA;
    if (cJSON_HasObjectItem(o, "prompt") && cJSON_HasObjectItem(o, "completion")) return LM_KIND_PROMPT_COMPLETION;
    if (cJSON_HasObjectItem(o, "text")) return LM_KIND_TEXT;
    return 0;
}

/* o[key] as a string; a missing optional field is "". */
static const char *field(const cJSON *o, const char *key, bool required, const char *where, size_t index,
                         LmKind kind, LfError *err) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsString(item)) return item->valuestring;
    if (!item && !required) return "";
    if (item)
        lf_error_set(err, LF_ERR_INPUT, "%s: record %zu: \"%s\" is not a string", where, index, key);
    else
        lf_error_set(err, LF_ERR_INPUT, "%s: record %zu has no \"%s\" (the file holds %s records, as its first record shows)",
                     where, index, key, lm_kind_name(kind));
    return NULL;
}

/* Record `index` (1-based) from the JSON value o found at `where`. */
static bool add_object(LmData *d, const cJSON *o, const char *where, long line, long column, size_t index,
                       LfError *err) {
    if (!cJSON_IsObject(o)) {
        lf_error_set(err, LF_ERR_INPUT, "%s: record %zu is not a JSON object", where, index);
        return false;
    }
    if (!d->kind && !(d->kind = kind_of(o))) {
        lf_error_set(err, LF_ERR_INPUT,
                     "%s: record %zu has none of the fields lorafit reads: \"instruction\" and \"output\" "
                     "(Alpaca), \"prompt\" and \"completion\", or \"text\"",
                     where, index);
        return false;
    }
    LmRecord r = {.line = line, .column = column};
    const char *a, *b, *c;
    switch (d->kind) {
    case LM_KIND_ALPACA:
        if (!(a = field(o, "instruction", true, where, index, d->kind, err)) ||
            !(b = field(o, "input", false, where, index, d->kind, err)) ||
            !(c = field(o, "output", true, where, index, d->kind, err)))
            return false;
        r.prompt = lm_printf(LM_ALPACA_PREAMBLE "\n\n### Instruction:\n%s%s%s\n\n### Response:\n", a,
                             b[0] ? "\n\n### Input:\n" : "", b);
        r.completion = strdup(c);
        break;
    case LM_KIND_PROMPT_COMPLETION:
        if (!(a = field(o, "prompt", true, where, index, d->kind, err)) ||
            !(b = field(o, "completion", true, where, index, d->kind, err)))
            return false;
        r.prompt = strdup(a);
        r.completion = strdup(b);
        break;
    default:
        if (!(a = field(o, "text", true, where, index, d->kind, err))) return false;
        r.prompt = strdup("");
        r.completion = strdup(a);
        break;
    }
    if (!r.prompt || !r.completion) {
        record_free(&r);
        lf_error_set(err, LF_ERR_IO, "out of memory reading %s", d->name);
        return false;
    }
    return lm_data_push(d, &r, err);
}

/* A JSON list of records, parsed into `list` from offset `at`. */
static bool read_list(LmData *d, LmSource *src, const cJSON *list, size_t at, LfError *err) {
    size_t n = (size_t)cJSON_GetArraySize(list), k = 0;
    size_t *off = malloc((n ? n : 1) * sizeof *off);
    if (!off) {
        lf_error_set(err, LF_ERR_IO, "out of memory reading %s", src->name);
        return false;
    }
    json_text_children(src->text, src->len, at, off, n);
    bool ok = true;
    const cJSON *o;
    cJSON_ArrayForEach(o, list) {
        char where[512];
        JsonPosition p = json_cursor_at(&src->cursor, off[k]);
        snprintf(where, sizeof where, "%s:%ld:%ld", src->name, p.line, p.column);
        if (!(ok = add_object(d, o, where, p.line, p.column, k + 1, err))) break;
        k++;
    }
    free(off);
    return ok;
}

/* One JSON object per line, from offset `start`. */
static bool read_lines(LmData *d, LmSource *src, size_t start, LfError *err) {
    const char *t = src->text;
    long line = json_cursor_at(&src->cursor, start).line;
    size_t index = 0;
    for (size_t i = start; i < src->len; line++) {
        const char *nl = memchr(t + i, '\n', src->len - i);
        size_t end = nl ? (size_t)(nl - t) : src->len, stop;
        size_t first = json_text_skip_space(t, end, i);
        if (first < end) {
            cJSON *o = json_text_parse(t, end, first, &stop, src->name, err);
            if (!o) return false;
            char where[512];
            snprintf(where, sizeof where, "%s:%ld", src->name, line);
            bool ok = true;
            if (json_text_skip_space(t, end, stop) < end) {
                JsonPosition p = json_cursor_at(&src->cursor, json_text_skip_space(t, end, stop));
                lf_error_set(err, LF_ERR_INPUT, "%s:%ld:%ld: more text after the JSON object (one object per line)",
                             src->name, p.line, p.column);
                ok = false;
            }
            ok = ok && add_object(d, o, where, line, 0, ++index, err);
            cJSON_Delete(o);
            if (!ok) return false;
        }
        i = end + 1;
    }
    return true;
}

/* A JSON document: SQuAD, a list of records, or JSON lines. */
static bool read_json(LmData *d, LmSource *src, size_t start, LfError *err) {
    size_t end, at = json_text_skip_space(src->text, src->len, start);
    cJSON *root = json_text_parse(src->text, src->len, at, &end, src->name, err);
    if (!root) return false;
    bool ok;
    size_t after = json_text_skip_space(src->text, src->len, end);
    if (cJSON_IsObject(root) && after < src->len && src->text[after] == '{') {
        ok = read_lines(d, src, start, err); /* JSON lines */
    } else if (after < src->len) {
        char where[512];
        lf_error_set(err, LF_ERR_INPUT, "%s: more text after the JSON value",
                     lm_source_where(src, after, where, sizeof where));
        ok = false;
    } else if (cJSON_IsObject(root) && cJSON_HasObjectItem(root, "data")) {
        ok = lm_squad_read(d, src, root, at, err);
    } else if (cJSON_IsObject(root)) { /* a single record */
        char where[512];
        JsonPosition p = json_cursor_at(&src->cursor, at);
        ok = add_object(d, root, lm_source_where(src, at, where, sizeof where), p.line, p.column, 1, err);
    } else if (cJSON_IsArray(root)) {
        ok = read_list(d, src, root, at, err);
    } else {
        char where[512];
        lf_error_set(err, LF_ERR_INPUT, "%s: expected a SQuAD object {\"data\": [...]} or a list of records",
                     lm_source_where(src, at, where, sizeof where));
        ok = false;
    }
    cJSON_Delete(root);
    return ok;
}

/* ---- the file ---------------------------------------------------------- */

static bool has_extension(const char *name, const char *ext) {
    const char *slash = strrchr(name, '/'), *dot = strrchr(name, '.');
    return dot && (!slash || dot > slash) && strcmp(dot, ext) == 0;
}

static bool read_text(LmData *d, LmSource *src, size_t start, LfError *err) {
    d->kind = LM_KIND_TEXT;
    if (json_text_skip_space(src->text, src->len, start) == src->len) return true; /* no record */
    /* The text is kept as a C string: a NUL would silently end it there. */
    const char *nul = memchr(src->text + start, '\0', src->len - start);
    if (nul) {
        JsonPosition at = json_cursor_at(&src->cursor, (size_t)(nul - src->text));
        lf_error_set(err, LF_ERR_INPUT, "%s:%ld:%ld: NUL byte; this looks like a binary file, not text", src->name,
                     at.line, at.column);
        return false;
    }
    LmRecord r = {.prompt = strdup(""), .completion = malloc(src->len - start + 1), .line = 1};
    if (!r.prompt || !r.completion) {
        record_free(&r);
        lf_error_set(err, LF_ERR_IO, "out of memory reading %s", src->name);
        return false;
    }
    memcpy(r.completion, src->text + start, src->len - start);
    r.completion[src->len - start] = '\0';
    return lm_data_push(d, &r, err);
}

LmData *lm_data_load_memory(const char *text, size_t len, const char *name, LfError *err) {
    LmData *d = calloc(1, sizeof *d);
    if (!d || !(d->name = strdup(name))) {
        free(d);
        lf_error_set(err, LF_ERR_IO, "out of memory reading %s", name);
        return NULL;
    }
    LmSource src = {text, len, name, {0}};
    json_cursor_init(&src.cursor, text, len);
    size_t start = len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0; /* a UTF-8 BOM */
    size_t first = json_text_skip_space(text, len, start);
    bool looks_json = first < len && (text[first] == '{' || text[first] == '[');
    bool ok;
    if (has_extension(name, ".txt")) ok = read_text(d, &src, start, err);
    else if (has_extension(name, ".jsonl")) ok = read_lines(d, &src, start, err);
    else if (first >= len) ok = true; /* blank: "the file is empty" below, not a JSON syntax error */
    else if (looks_json || has_extension(name, ".json")) ok = read_json(d, &src, start, err);
    else ok = read_text(d, &src, start, err);
    if (ok && d->n == 0) {
        if (d->n_unanswerable)
            lf_error_set(err, LF_ERR_INPUT, "%s: all %zu questions are unanswerable (SQuAD v2.0 is_impossible): "
                         "nothing to learn from or score", name, d->n_unanswerable);
        else
            lf_error_set(err, LF_ERR_INPUT, "%s: no records: the file is empty", name);
        ok = false;
    }
    if (!ok) {
        lm_data_free(d);
        return NULL;
    }
    return d;
}

LmData *lm_data_load(const char *path, LfError *err) {
    size_t len;
    char *text = fs_read_file(path, &len, err);
    if (!text) return NULL;
    LmData *d = lm_data_load_memory(text, len, path, err);
    free(text);
    return d;
}

void lm_data_free(LmData *d) {
    if (!d) return;
    for (size_t i = 0; i < d->n; i++) record_free(&d->records[i]);
    free(d->records);
    free(d->name);
    free(d);
}

typedef struct {
    const char *id;
    size_t i;
} IdAt;

static int by_id_then_place(const void *a, const void *b) {
    const IdAt *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

bool lm_data_check_unique_ids(const LmData *d, LfError *err) {
    IdAt *ids = malloc((d->n ? d->n : 1) * sizeof *ids);
    if (!ids) {
        lf_error_set(err, LF_ERR_IO, "out of memory checking the ids of %s", d->name);
        return false;
    }
    size_t n = 0;
    for (size_t i = 0; i < d->n; i++)
        if (d->records[i].id) ids[n++] = (IdAt){d->records[i].id, i};
    qsort(ids, n, sizeof *ids, by_id_then_place);
    bool ok = true;
    for (size_t k = 1; ok && k < n; k++) {
        if (strcmp(ids[k - 1].id, ids[k].id) != 0) continue;
        char first[256], second[256];
        lf_error_set(err, LF_ERR_INPUT, "%s: question id \"%s\" was already used at %s",
                     lm_data_where(d, ids[k].i, second, sizeof second), ids[k].id,
                     lm_data_where(d, ids[k - 1].i, first, sizeof first));
        ok = false;
    }
    free(ids);
    return ok;
}

const char *lm_kind_name(LmKind kind) {
    switch (kind) {
    case LM_KIND_SQUAD: return "squad";
    case LM_KIND_ALPACA: return "alpaca";
    case LM_KIND_PROMPT_COMPLETION: return "prompt-completion";
    case LM_KIND_TEXT: return "text";
    }
    return "unknown";
}

bool lm_kind_masks_prompt(LmKind kind) {
    return kind == LM_KIND_SQUAD || kind == LM_KIND_PROMPT_COMPLETION;
}

const char *lm_data_where(const LmData *d, size_t i, char *buf, size_t size) {
    const LmRecord *r = &d->records[i];
    if (r->column > 0) snprintf(buf, size, "%s:%ld:%ld", d->name, r->line, r->column);
    else snprintf(buf, size, "%s:%ld", d->name, r->line);
    return buf;
}
