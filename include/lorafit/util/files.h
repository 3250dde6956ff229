/* files.h - the file-system helpers every layer shares, and the one way
 * lorafit writes a file.
 *
 * Every file lorafit writes (adapters, training state, checkpoints,
 * safetensors, split CSVs, SVG plots) goes through the atomic writer below:
 * the bytes go to a new temporary file beside the final name, are flushed
 * and synced, and the temporary file is then renamed over the final name,
 * so a reader sees the old file or the whole new one, never a part. */
#ifndef LORAFIT_FILES_H
#define LORAFIT_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "lorafit/util/error.h"

/* Whether a and b both exist and are the same file or directory (the same
 * device and inode, whatever the spelling: "m", "./m/", a symlink to m). */
bool fs_same_path(const char *a, const char *b);

/* Creates every missing directory above `path` (not `path` itself), as
 * `mkdir -p "$(dirname path)"` would. */
bool fs_make_parents(const char *path, LfError *err);

/* Creates a new empty directory "<path>.tmp-XXXXXX" beside path (making
 * path's parents first) with the ordinary mode (0777 less the umask); its
 * name goes to tmp[size]. For writers that replace a whole directory.
 * Here and in fs_replace_dir, "out/" names the directory out, as "out". */
bool fs_make_temp_dir(const char *path, char *tmp, size_t size, LfError *err);

/* Puts the complete directory tmp (made by fs_make_temp_dir, then filled)
 * in the place of path: an existing path steps aside under a temporary
 * name, tmp takes its name, and the old one is removed. Removing deletes
 * only the files named in `files` (NULL-terminated), then the directory if
 * that emptied it, so nothing we did not write is ever deleted. On failure
 * the old directory is back in place and tmp is removed the same way. */
bool fs_replace_dir(const char *tmp, const char *path, const char *const *files, LfError *err);

/* Removes the files named in `files` (NULL-terminated) from dir, then dir
 * if that emptied it. */
void fs_remove_dir(const char *dir, const char *const *files);

/* Reads the rest of f into a new NUL-terminated buffer (free() it); *len
 * gets the number of bytes, which may include NULs. NULL on a read error or
 * out of memory (errno tells which). */
char *fs_read_stream(FILE *f, size_t *len);

/* Reads the whole file at path the same way. A file that cannot be opened
 * or read is an LF_ERR_INPUT error naming it; out of memory, LF_ERR_IO. */
char *fs_read_file(const char *path, size_t *len, LfError *err);

/* A file being written under a temporary name beside its final one. */
typedef struct {
    char *path; /* the final name (a copy) */
    char *tmp;  /* "<path>.tmp.<pid>.<k>", created by us */
    FILE *f;    /* write the contents here; NULL once finished */
} FsAtomic;

/* Creates the temporary file (mode 0666 less the umask, as for any file we
 * write). A path that is a directory is an LF_ERR_INPUT error "PATH is a
 * directory". On failure *a needs no clean-up. */
bool fs_atomic_open(FsAtomic *a, const char *path, LfError *err);

/* Whether fs_atomic_open(path) succeeds now, with its error if not (the
 * temporary file is removed again). For commands that write a file only
 * after their work, to say so before it. */
bool fs_check_writable(const char *path, LfError *err);

/* Flushes, syncs and closes the temporary file: its contents are then on
 * disk under the temporary name. A write error met at any time since
 * fs_atomic_open is reported here ("cannot write <the temporary file>"). For writers that
 * rename several files only once all are complete; fs_atomic_commit calls
 * it otherwise. On failure the temporary file stays until fs_atomic_abort. */
bool fs_atomic_finish(FsAtomic *a, LfError *err);

/* Finishes (when not yet done) and renames the temporary file to the final
 * name, then syncs the directory so the rename survives a crash. Frees *a
 * in every case; on failure the temporary file is removed. */
bool fs_atomic_commit(FsAtomic *a, LfError *err);

/* Gives up: closes and removes the temporary file, frees *a. Safe on a
 * zeroed FsAtomic and after a commit. */
void fs_atomic_abort(FsAtomic *a);

/* The whole file at once: n bytes of data. */
bool fs_write_atomic(const char *path, const void *data, size_t n, LfError *err);

/* A text file: text and a final newline (JSON printers end without one). */
bool fs_write_text(const char *path, const char *text, LfError *err);

#endif
