/* safetensors_write.c - the safetensors writer (see include/lorafit/io/safetensors.h):
 * tensors are collected by reference, then the header and the data go out
 * in one pass through the atomic writer of util/files. The reader, which
 * shares nothing with it but the dtype table, is safetensors.c. */
#include "lorafit/io/safetensors.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/util/files.h"

typedef struct {
    char *name;
    StDtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const void *data;
    size_t nbytes;
    uint64_t begin; /* assigned by st_writer_save */
} WEntry;

struct StWriter {
    WEntry *t;
    int n, cap;
    char **meta; /* key, value, key, value, ... */
    int n_meta, cap_meta;
};

StWriter *st_writer_new(void) { return calloc(1, sizeof(StWriter)); }

void st_writer_free(StWriter *w) {
    if (!w) return;
    for (int i = 0; i < w->n; i++) free(w->t[i].name);
    for (int i = 0; i < 2 * w->n_meta; i++) free(w->meta[i]);
    free(w->t);
    free(w->meta);
    free(w);
}

static bool grow(void **arr, int *cap, int need, size_t elem) {
    if (need <= *cap) return true;
    int nc = *cap ? *cap * 2 : 16;
    while (nc < need) nc *= 2;
    void *p = realloc(*arr, (size_t)nc * elem);
    if (!p) return false;
    *arr = p;
    *cap = nc;
    return true;
}

bool st_writer_add(StWriter *w, const char *name, StDtype dtype, int ndim, const int64_t *shape,
                   const void *data, LfError *err) {
    if (st_dtype_size(dtype) == 0 || ndim < 0 || ndim > ST_MAX_DIMS || strcmp(name, "__metadata__") == 0) {
        lf_error_set(err, LF_ERR_RUNTIME, "safetensors writer: tensor '%s': bad dtype, rank or name", name);
        return false;
    }
    for (int i = 0; i < w->n; i++) {
        if (strcmp(w->t[i].name, name) == 0) {
            lf_error_set(err, LF_ERR_RUNTIME, "safetensors writer: tensor '%s' added twice", name);
            return false;
        }
    }
    size_t nbytes = st_dtype_size(dtype);
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || __builtin_mul_overflow(nbytes, (size_t)shape[i], &nbytes)) {
            lf_error_set(err, LF_ERR_RUNTIME, "safetensors writer: tensor '%s': bad shape", name);
            return false;
        }
    }
    if (!grow((void **)&w->t, &w->cap, w->n + 1, sizeof *w->t)) {
        lf_error_set(err, LF_ERR_IO, "safetensors writer: out of memory");
        return false;
    }
    WEntry *e = &w->t[w->n];
    memset(e, 0, sizeof *e);
    if (!(e->name = strdup(name))) {
        lf_error_set(err, LF_ERR_IO, "safetensors writer: out of memory");
        return false;
    }
    e->dtype = dtype;
    e->ndim = ndim;
    if (ndim) memcpy(e->shape, shape, (size_t)ndim * sizeof *shape);
    e->data = data;
    e->nbytes = nbytes;
    w->n++;
    return true;
}

bool st_writer_metadata(StWriter *w, const char *key, const char *value, LfError *err) {
    for (int i = 0; i < w->n_meta; i++) {
        if (strcmp(w->meta[2 * i], key) == 0) {
            char *v = strdup(value);
            if (!v) break;
            free(w->meta[2 * i + 1]);
            w->meta[2 * i + 1] = v;
            return true;
        }
    }
    char *k = NULL, *v = NULL;
    if (grow((void **)&w->meta, &w->cap_meta, 2 * (w->n_meta + 1), sizeof *w->meta) && (k = strdup(key)) &&
        (v = strdup(value))) {
        w->meta[2 * w->n_meta] = k;
        w->meta[2 * w->n_meta + 1] = v;
        w->n_meta++;
        return true;
    }
    free(k);
    lf_error_set(err, LF_ERR_IO, "safetensors writer: out of memory");
    return false;
}

/* A growable string for the header. */
typedef struct {
    char *s;
    size_t len, cap;
    bool oom;
} Buf;

static void buf_put(Buf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->len + n + 1) nc *= 2;
        char *p = realloc(b->s, nc);
        if (!p) {
            b->oom = true;
            return;
        }
        b->s = p;
        b->cap = nc;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void buf_printf(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(Buf *b, const char *fmt, ...) {
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) buf_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void buf_json_string(Buf *b, const char *s) {
    buf_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            buf_put(b, esc, 2);
        } else if (c < 0x20) {
            buf_printf(b, "\\u%04x", c);
        } else {
            buf_put(b, (const char *)&c, 1);
        }
    }
    buf_put(b, "\"", 1);
}

/* Data order: by element size, largest first (stable), as the reference
 * implementation does, so every tensor starts aligned to its element size
 * without gaps -- the reference reader rejects gaps between tensors. The
 * header lists tensors in the order they were added. */
static void assign_offsets(StWriter *w) {
    uint64_t off = 0;
    for (size_t size = 8; size >= 1; size /= 2) {
        for (int i = 0; i < w->n; i++) {
            if (st_dtype_size(w->t[i].dtype) != size) continue;
            w->t[i].begin = off;
            off += w->t[i].nbytes;
        }
    }
}

static bool build_header(const StWriter *w, Buf *b) {
    buf_put(b, "{", 1);
    if (w->n_meta) {
        buf_put(b, "\"__metadata__\":{", 16);
        for (int i = 0; i < w->n_meta; i++) {
            if (i) buf_put(b, ",", 1);
            buf_json_string(b, w->meta[2 * i]);
            buf_put(b, ":", 1);
            buf_json_string(b, w->meta[2 * i + 1]);
        }
        buf_put(b, "}", 1);
    }
    for (int i = 0; i < w->n; i++) {
        const WEntry *e = &w->t[i];
        if (i || w->n_meta) buf_put(b, ",", 1);
        buf_json_string(b, e->name);
        buf_printf(b, ":{\"dtype\":\"%s\",\"shape\":[", st_dtype_name(e->dtype));
        for (int d = 0; d < e->ndim; d++) buf_printf(b, "%s%" PRId64, d ? "," : "", e->shape[d]);
        buf_printf(b, "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", e->begin, e->begin + e->nbytes);
    }
    buf_put(b, "}", 1);
    /* Spaces up to a multiple of 8 so the data section starts 8-aligned. */
    while (!b->oom && b->len % 8) buf_put(b, " ", 1);
    return !b->oom;
}

static void write_body(FILE *f, const StWriter *w, const Buf *hdr) {
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)hdr->len >> (8 * i));
    fwrite(len8, 1, 8, f);
    fwrite(hdr->s, 1, hdr->len, f);
    for (size_t size = 8; size >= 1; size /= 2)
        for (int i = 0; i < w->n; i++)
            if (st_dtype_size(w->t[i].dtype) == size && w->t[i].nbytes) fwrite(w->t[i].data, 1, w->t[i].nbytes, f);
}

bool st_writer_save(StWriter *w, const char *path, LfError *err) {
    assign_offsets(w);
    Buf hdr = {0};
    if (!build_header(w, &hdr)) {
        free(hdr.s);
        lf_error_set(err, LF_ERR_IO, "%s: out of memory building the header", path);
        return false;
    }
    FsAtomic out;
    bool ok = fs_atomic_open(&out, path, err);
    if (ok) {
        write_body(out.f, w, &hdr); /* a failed write shows in ferror(), which the commit checks */
        ok = fs_atomic_commit(&out, err);
    }
    free(hdr.s);
    return ok;
}
