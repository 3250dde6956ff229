/* json_text.c - see include/lorafit/data/json_text.h */
#include "lorafit/data/json_text.h"

/* cJSON's whitespace: every byte up to and including the space. */
static bool is_space(char c) {
    return (unsigned char)c <= 32 && c != '\0';
}

size_t json_text_skip_space(const char *text, size_t len, size_t i) {
    while (i < len && is_space(text[i])) i++;
    return i;
}

void json_cursor_init(JsonCursor *c, const char *text, size_t len) {
    *c = (JsonCursor){text, len, 0, {1, 1}};
}

JsonPosition json_cursor_at(JsonCursor *c, size_t offset) {
    if (offset > c->len) offset = c->len;
    if (offset < c->offset) json_cursor_init(c, c->text, c->len);
    for (size_t i = c->offset; i < offset; i++) {
        unsigned char b = (unsigned char)c->text[i];
        if (b == '\n') {
            c->where.line++;
            c->where.column = 1;
        } else if ((b & 0xC0) != 0x80) {
            c->where.column++; /* a character starts here */
        }
    }
    c->offset = offset;
    return c->where;
}

cJSON *json_text_parse(const char *text, size_t len, size_t start, size_t *end, const char *name,
                       LfError *err) {
    const char *stop = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text + start, len - start, &stop, 0);
    if (!root) {
        /* cJSON's error pointer lives in a process-wide variable; it is only
         * read here, right after the parse that set it. */
        const char *at = cJSON_GetErrorPtr();
        size_t off = at && at >= text && at <= text + len ? (size_t)(at - text) : start;
        JsonCursor c;
        json_cursor_init(&c, text, len);
        JsonPosition p = json_cursor_at(&c, off);
        lf_error_set(err, LF_ERR_INPUT, "%s:%ld:%ld: malformed JSON%s", name, p.line, p.column,
                     off >= len ? " (the text ends inside a value)" : "");
        return NULL;
    }
    *end = stop ? (size_t)(stop - text) : len;
    return root;
}

static size_t skip_string(const char *t, size_t len, size_t i) {
    for (i++; i < len && t[i] != '"'; i++)
        if (t[i] == '\\') i++;
    return i < len ? i + 1 : len;
}

static size_t skip_value(const char *t, size_t len, size_t i) {
    if (i >= len) return len;
    if (t[i] == '"') return skip_string(t, len, i);
    if (t[i] != '{' && t[i] != '[') {
        while (i < len && !is_space(t[i]) && t[i] != ',' && t[i] != '}' && t[i] != ']') i++;
        return i;
    }
    size_t depth = 0;
    while (i < len) {
        char c = t[i];
        if (c == '"') {
            i = skip_string(t, len, i);
            continue;
        }
        i++;
        if (c == '{' || c == '[') depth++;
        else if ((c == '}' || c == ']') && --depth == 0) return i;
    }
    return len;
}

bool json_text_children(const char *text, size_t len, size_t at, size_t *offsets, size_t n) {
    for (size_t k = 0; k < n; k++) offsets[k] = at;
    if (at >= len || (text[at] != '{' && text[at] != '[')) return n == 0;
    bool object = text[at] == '{';
    size_t i = at + 1, k = 0;
    for (;;) {
        i = json_text_skip_space(text, len, i);
        if (i >= len || text[i] == '}' || text[i] == ']') break;
        if (object) {
            i = json_text_skip_space(text, len, skip_string(text, len, i));
            if (i >= len || text[i] != ':') break;
            i = json_text_skip_space(text, len, i + 1);
        }
        if (k == n) return false;
        offsets[k++] = i;
        i = json_text_skip_space(text, len, skip_value(text, len, i));
        if (i < len && text[i] == ',') i++;
        else break;
    }
    if (k != n) {
        for (k = 0; k < n; k++) offsets[k] = at;
        return false;
    }
    return true;
}
