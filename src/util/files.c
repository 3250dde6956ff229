/* files.c - see include/lorafit/util/files.h */
#include "lorafit/util/files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool fs_same_path(const char *a, const char *b) {
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* path into buf[4096] without its trailing slashes: "out/dir/" names out/dir,
 * and "out/dir/.tmp-XXXXXX" would be a temporary name inside it, not beside. */
static bool trim_slashes(const char *path, char *buf, LfError *err) {
    size_t n = strlen(path);
    if (n >= 4096) {
        lf_error_set(err, LF_ERR_INPUT, "path too long: %.64s...", path);
        return false;
    }
    memcpy(buf, path, n + 1);
    while (n > 1 && buf[n - 1] == '/') buf[--n] = '\0';
    return true;
}

bool fs_make_parents(const char *path, LfError *err) {
    char buf[4096];
    if (!trim_slashes(path, buf, err)) return false;
    char *last = strrchr(buf, '/');
    if (!last || last == buf) return true; /* a parent of "" or "/" always exists */
    *last = '\0';
    /* Walk down from the top, creating what is missing. */
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
                lf_error_errno(err, LF_ERR_IO, "cannot create the directory %s", buf);
                return false;
            }
            struct stat st;
            if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) {
                errno = ENOTDIR;
                lf_error_errno(err, LF_ERR_IO, "cannot create the directory %s", buf);
                return false;
            }
            *p = saved;
            if (saved == '\0') break;
        }
    }
    return true;
}

char *fs_read_stream(FILE *f, size_t *len) {
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        char *bigger = realloc(buf, 2 * cap + 1);
        if (!bigger) free(buf);
        buf = bigger;
        cap *= 2;
    }
    if (!buf) {
        errno = ENOMEM;
        return NULL;
    }
    if (ferror(f)) {
        free(buf);
        if (!errno) errno = EIO;
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

char *fs_read_file(const char *path, size_t *len, LfError *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        lf_error_errno(err, LF_ERR_INPUT, "cannot open %s", path);
        return NULL;
    }
    errno = 0;
    char *buf = fs_read_stream(f, len);
    if (!buf) {
        if (errno == ENOMEM) lf_error_set(err, LF_ERR_IO, "out of memory reading %s", path);
        else lf_error_errno(err, LF_ERR_INPUT, "cannot read %s", path);
    }
    fclose(f);
    return buf;
}

bool fs_make_temp_dir(const char *path, char *tmp, size_t size, LfError *err) {
    char dir[4096];
    if (!trim_slashes(path, dir, err) || !fs_make_parents(dir, err)) return false;
    if (snprintf(tmp, size, "%s.tmp-XXXXXX", dir) >= (int)size || !mkdtemp(tmp)) {
        lf_error_errno(err, LF_ERR_IO, "cannot create a temporary directory beside %s", path);
        return false;
    }
    /* mkdtemp makes it private (0700); what we write is an ordinary directory. */
    mode_t mask = umask(0);
    umask(mask);
    chmod(tmp, 0777 & ~mask);
    return true;
}

void fs_remove_dir(const char *dir, const char *const *files) {
    char path[4096];
    for (int i = 0; files[i]; i++)
        if (snprintf(path, sizeof path, "%s/%s", dir, files[i]) < (int)sizeof path) unlink(path);
    rmdir(dir);
}

bool fs_replace_dir(const char *tmp, const char *path_as_given, const char *const *files, LfError *err) {
    char path[4096];
    if (!trim_slashes(path_as_given, path, err)) {
        fs_remove_dir(tmp, files);
        return false;
    }
    struct stat st;
    bool had_dir = lstat(path, &st) == 0;
    char old[4096];
    /* The old directory steps aside, the new one takes its name, the old goes. */
    if (had_dir && (snprintf(old, sizeof old, "%s.old-XXXXXX", path) >= (int)sizeof old || !mkdtemp(old) ||
                    rename(path, old) != 0)) {
        lf_error_errno(err, LF_ERR_IO, "cannot move the old %s aside", path);
        fs_remove_dir(tmp, files);
        return false;
    }
    if (rename(tmp, path) != 0) {
        lf_error_errno(err, LF_ERR_IO, "cannot rename %s to %s", tmp, path);
        if (had_dir) rename(old, path);
        fs_remove_dir(tmp, files);
        return false;
    }
    if (had_dir) fs_remove_dir(old, files);
    return true;
}

/* ---- the atomic writer ------------------------------------------------- */

static bool check_file_path(const char *path, LfError *err) {
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return true;
    lf_error_set(err, LF_ERR_INPUT, "%s is a directory; give a file name", path);
    return false;
}

bool fs_atomic_open(FsAtomic *a, const char *path, LfError *err) {
    if (!check_file_path(path, err)) return false;
    size_t size = strlen(path) + 48;
    *a = (FsAtomic){strdup(path), malloc(size), NULL};
    if (!a->path || !a->tmp) {
        fs_atomic_abort(a);
        lf_error_set(err, LF_ERR_IO, "%s: out of memory", path);
        return false;
    }
    int fd = -1;
    for (int k = 0; k < 100 && fd < 0; k++) {
        snprintf(a->tmp, size, "%s.tmp.%ld.%d", path, (long)getpid(), k);
        fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd >= 0 && !(a->f = fdopen(fd, "w"))) {
        int saved = errno;
        close(fd);
        unlink(a->tmp);
        errno = saved;
    }
    if (!a->f) {
        lf_error_errno(err, LF_ERR_IO, "cannot create a temporary file beside %s", path);
        free(a->tmp), a->tmp = NULL; /* nothing of ours to remove */
        fs_atomic_abort(a);
        return false;
    }
    return true;
}

bool fs_check_writable(const char *path, LfError *err) {
    FsAtomic a;
    if (!fs_atomic_open(&a, path, err)) return false;
    fs_atomic_abort(&a);
    return true;
}

bool fs_atomic_finish(FsAtomic *a, LfError *err) {
    if (!a->f) return true;
    bool ok = fflush(a->f) == 0 && !ferror(a->f) && fsync(fileno(a->f)) == 0;
    int saved = errno;
    if (fclose(a->f) != 0 && ok) ok = false, saved = errno;
    a->f = NULL;
    if (!ok) {
        errno = saved;
        lf_error_errno(err, LF_ERR_IO, "cannot write %s", a->tmp);
    }
    return ok;
}

/* The rename makes the new file appear whole or not at all; syncing the
 * directory makes the rename itself survive a crash. */
static void sync_parent_dir(const char *path) {
    char *dir = strdup(path);
    if (!dir) return;
    char *slash = strrchr(dir, '/');
    const char *d = slash ? (slash == dir ? "/" : (*slash = '\0', dir)) : ".";
    int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

bool fs_atomic_commit(FsAtomic *a, LfError *err) {
    bool ok = fs_atomic_finish(a, err);
    if (ok && rename(a->tmp, a->path) != 0) {
        lf_error_errno(err, LF_ERR_IO, "cannot rename %s to %s", a->tmp, a->path);
        ok = false;
    }
    if (ok) {
        sync_parent_dir(a->path);
        free(a->tmp), a->tmp = NULL; /* renamed: nothing left to remove */
    }
    fs_atomic_abort(a);
    return ok;
}

void fs_atomic_abort(FsAtomic *a) {
    if (a->f) fclose(a->f);
    if (a->tmp) unlink(a->tmp);
    free(a->tmp);
    free(a->path);
    *a = (FsAtomic){0};
}

bool fs_write_atomic(const char *path, const void *data, size_t n, LfError *err) {
    FsAtomic a;
    if (!fs_atomic_open(&a, path, err)) return false;
    if (n) fwrite(data, 1, n, a.f); /* an error shows in ferror(), which commit checks */
    return fs_atomic_commit(&a, err);
}

bool fs_write_text(const char *path, const char *text, LfError *err) {
    FsAtomic a;
    if (!fs_atomic_open(&a, path, err)) return false;
    fputs(text, a.f);
    fputc('\n', a.f);
    return fs_atomic_commit(&a, err);
}
