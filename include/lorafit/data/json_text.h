/* json_text.h - JSON parsed by cJSON, with the positions cJSON does not keep.
 *
 * cJSON parses and validates; its tree has no positions. The language-model
 * readers need them in messages ("squad.json:1:48213: question 3 of ..."),
 * so this module adds two things on top of a text cJSON has accepted:
 *
 * - the byte offset where each child of an array or object starts, found by
 *   a small scanner that walks the same text (children come in the order
 *   cJSON lists them, duplicates included); and
 * - offsets turned into line and column, 1-based, the column counted in
 *   characters (UTF-8 lead bytes), as editors and Python's json count.
 *
 * Malformed JSON is an LF_ERR_INPUT error "NAME:LINE:COLUMN: malformed JSON"
 * at cJSON's error position. Text after the value (other than whitespace)
 * is left to the caller: json_text_parse reports where the value ended. */
#ifndef LORAFIT_JSON_TEXT_H
#define LORAFIT_JSON_TEXT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "lorafit/util/error.h"

/* A line and column, both from 1. */
typedef struct {
    long line, column;
} JsonPosition;

/* Turns offsets into positions walking forward only: ask for
 * non-decreasing offsets and the whole file is scanned once. An offset
 * before the last one asked restarts from the top. */
typedef struct {
    const char *text;
    size_t len;
    size_t offset;      /* the last offset asked for */
    JsonPosition where; /* its position */
} JsonCursor;

void json_cursor_init(JsonCursor *c, const char *text, size_t len);
JsonPosition json_cursor_at(JsonCursor *c, size_t offset);

/* Parses the one JSON value starting at text[start] (after whitespace);
 * *end gets the offset just past it. `name` is the file name for messages.
 * Positions in messages are those in `text` from its start. */
cJSON *json_text_parse(const char *text, size_t len, size_t start, size_t *end, const char *name,
                       LfError *err);

/* The offset of the first byte that is not JSON whitespace at or after i. */
size_t json_text_skip_space(const char *text, size_t len, size_t i);

/* Where each of the n children of the array or object that starts at
 * text[at] starts (for an object: its member's value), into offsets[0..n).
 * False when the text there does not have n children (it is not the text
 * cJSON parsed); offsets are then all `at`, still usable in messages. */
bool json_text_children(const char *text, size_t len, size_t at, size_t *offsets, size_t n);

#endif
