/* fsutil.c - see include/lorafit/util/files.h */
#include "lorafit/util/files.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

bool fs_make_parents(const char *path, LfError *err) {
    char buf[4096];
    size_t n = strlen(path);
    if (n >= sizeof buf) {
        lf_error_set(err, LF_ERR_INPUT, "path too long: %.64s...", path);
        return false;
    }
    memcpy(buf, path, n + 1);
    while (n > 0 && buf[n - 1] == '/') buf[--n] = '\0'; /* "out/dir/" names out/dir */
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
