/* lm_data_internal.h - what lm_data.c and the SQuAD reader (lm_squad.c)
 * share; not part of the data layer's interface. */
#ifndef LORAFIT_LM_DATA_INTERNAL_H
#define LORAFIT_LM_DATA_INTERNAL_H

#include <cjson/cJSON.h>

#include "lorafit/data/json_text.h"
#include "lorafit/data/lm_data.h"

/* The text being read, and where its positions come from. */
typedef struct {
    const char *text;
    size_t len;
    const char *name;
    JsonCursor cursor; /* offsets -> line:column, forward */
} LmSource;

/* Appends *r (the data takes its strings; on failure they are freed). */
bool lm_data_push(LmData *d, LmRecord *r, LfError *err);

/* A new string from printf-style arguments; NULL when out of memory. */
char *lm_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The part of s without ASCII whitespace around it: *len bytes from the
 * returned pointer. */
const char *lm_trim(const char *s, int *len);

/* Where `child`, a child of `parent` (which starts at text offset
 * parent_at), starts; parent_at when it cannot be told. */
size_t lm_child_offset(const LmSource *src, size_t parent_at, const cJSON *parent, const cJSON *child);

/* "FILE:LINE:COLUMN" of a text offset, into buf. */
const char *lm_source_where(LmSource *src, size_t offset, char *buf, size_t size);

/* Reads a SQuAD document: root, parsed from src at offset `at`, is an
 * object with "data". */
bool lm_squad_read(LmData *d, LmSource *src, const cJSON *root, size_t at, LfError *err);

#endif
