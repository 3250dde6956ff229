/* fsutil.h - small file-system helpers the writers share. */
#ifndef LORAFIT_FSUTIL_H
#define LORAFIT_FSUTIL_H

#include <stdbool.h>

#include "lorafit/error.h"

/* Creates every missing directory above `path` (not `path` itself), as
 * `mkdir -p "$(dirname path)"` would, so that writers can create `path`
 * with their own temporary-file-and-rename dance. */
bool fs_make_parents(const char *path, LfError *err);

#endif
