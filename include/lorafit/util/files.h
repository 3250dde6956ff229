/* fsutil.h - small file-system helpers the writers share. */
#ifndef LORAFIT_FSUTIL_H
#define LORAFIT_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "lorafit/util/error.h"

/* Creates every missing directory above `path` (not `path` itself), as
 * `mkdir -p "$(dirname path)"` would, so that writers can create `path`
 * with their own temporary-file-and-rename dance. */
bool fs_make_parents(const char *path, LfError *err);

/* Reads the rest of f into a new NUL-terminated buffer (free() it); *len
 * gets the number of bytes, which may include NULs. NULL on a read error or
 * out of memory (errno tells which). */
char *fs_read_stream(FILE *f, size_t *len);

/* Reads the whole file at path the same way. A file that cannot be opened
 * or read is an LF_ERR_INPUT error naming it; out of memory, LF_ERR_IO. */
char *fs_read_file(const char *path, size_t *len, LfError *err);

#endif
