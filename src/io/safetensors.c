/* safetensors.c - read safetensors files (mmapped); the dtype table and
 * conversions. The writer is safetensors_write.c.
 * See include/lorafit/io/safetensors.h.
 *
 * Reading trusts nothing in the file: every number in the header is checked
 * before it becomes a pointer, so a StTensor handed out always lies inside
 * the buffer and holds exactly numel * dtype-size bytes. */
#include "lorafit/io/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lorafit/util/utf8.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; this reader uses it in place"
#endif

/* The reference implementation refuses headers above 100 MB; so do we, so a
 * corrupt length cannot make us parse (or allocate for) gigabytes of JSON. */
#define ST_MAX_HEADER 100000000ull
/* Integers in the header arrive as JSON numbers (doubles in cJSON); above
 * 2^53 they are no longer exact, and no real file comes near that. */
#define ST_MAX_JSON_INT 9007199254740992.0

struct StFile {
    char *label;
    void *map; /* the mmapped file, or NULL for st_open_memory */
    size_t map_size;
    int fd;    /* kept open for st_peek; -1 for st_open_memory */
    const unsigned char *base; /* start of the data section */
    const char *header;        /* the raw JSON header, for fingerprints */
    size_t header_len;
    int n;
    StTensor *tensors;        /* header order */
    const StTensor **by_name; /* sorted by name, for st_find */
    int n_meta;
    char **meta_keys, **meta_values;
    char *strings; /* one block holding every name, key and value */
};

static const struct {
    const char *name;
    size_t size;
} dtypes[] = {
    [ST_F64] = {"F64", 8}, [ST_F32] = {"F32", 4}, [ST_F16] = {"F16", 2}, [ST_BF16] = {"BF16", 2},
    [ST_I64] = {"I64", 8}, [ST_I32] = {"I32", 4}, [ST_I16] = {"I16", 2}, [ST_I8] = {"I8", 1},
    [ST_U8] = {"U8", 1},   [ST_BOOL] = {"BOOL", 1},
};
enum { N_DTYPES = sizeof dtypes / sizeof dtypes[0] };

const char *st_dtype_name(StDtype d) { return (unsigned)d < N_DTYPES ? dtypes[d].name : "?"; }
size_t st_dtype_size(StDtype d) { return (unsigned)d < N_DTYPES ? dtypes[d].size : 0; }

static bool dtype_parse(const char *s, StDtype *d) {
    for (int i = 0; i < N_DTYPES; i++) {
        if (strcmp(s, dtypes[i].name) == 0) {
            *d = (StDtype)i;
            return true;
        }
    }
    return false;
}

/* "[768, 2304]" into buf (cut short if it does not fit, which only a
 * message would notice). */
const char *st_shape_str(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i <= ndim && len < cap; i++) {
        int w = i == ndim ? snprintf(buf + len, cap - len, "]")
                          : snprintf(buf + len, cap - len, "%s%" PRId64, i ? ", " : "[", shape[i]);
        if (w < 0) break;
        len += (size_t)w;
    }
    if (ndim == 0) snprintf(buf, cap, "[]");
    return buf;
}

/* ---- reading ---------------------------------------------------------- */

static uint64_t read_le64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static bool json_uint(const cJSON *item, uint64_t *out) {
    if (!cJSON_IsNumber(item)) return false;
    double d = item->valuedouble;
    if (!(d >= 0.0 && d <= ST_MAX_JSON_INT) || d != floor(d)) return false;
    *out = (uint64_t)d;
    return true;
}

typedef struct {
    uint64_t begin, end;
} Span;

/* Fills t from one header entry; begin/end come back for the overlap check. */
static bool parse_tensor(const StFile *f, const cJSON *entry, StTensor *t, Span *span, size_t data_size,
                         LfError *err) {
    const char *name = t->name;
    if (!cJSON_IsObject(entry)) {
        lf_error_set(err, LF_ERR_INPUT,
                     "%s: tensor '%s': expected an object with dtype, shape and data_offsets", f->label,
                     name);
        return false;
    }
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(entry, "shape");
    const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(entry, "data_offsets");
    if (!cJSON_IsString(dtype)) {
        lf_error_set(err, LF_ERR_INPUT, "%s: tensor '%s': missing string field 'dtype'", f->label, name);
        return false;
    }
    if (!dtype_parse(dtype->valuestring, &t->dtype)) {
        lf_error_set(err, LF_ERR_INPUT,
                     "%s: tensor '%s': unknown dtype '%s' (expected one of F64, F32, F16, BF16, I64, "
                     "I32, I16, I8, U8, BOOL)",
                     f->label, name, dtype->valuestring);
        return false;
    }
    if (!cJSON_IsArray(shape)) {
        lf_error_set(err, LF_ERR_INPUT, "%s: tensor '%s': missing array field 'shape'", f->label, name);
        return false;
    }
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > ST_MAX_DIMS) {
        lf_error_set(err, LF_ERR_INPUT, "%s: tensor '%s': shape has %d dimensions, at most %d supported",
                     f->label, name, ndim, ST_MAX_DIMS);
        return false;
    }
    t->ndim = ndim;
    int i = 0;
    const cJSON *dim;
    cJSON_ArrayForEach(dim, shape) {
        uint64_t v;
        if (!json_uint(dim, &v)) {
            lf_error_set(err, LF_ERR_INPUT, "%s: tensor '%s': shape[%d] is not an integer in [0, 2^53]",
                         f->label, name, i);
            return false;
        }
        t->shape[i++] = (int64_t)v;
    }
    uint64_t b, e;
    if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2) {
        lf_error_set(err, LF_ERR_INPUT, "%s: tensor '%s': data_offsets must be an array [begin, end]",
                     f->label, name);
        return false;
    }
    if (!json_uint(offsets->child, &b) || !json_uint(offsets->child->next, &e)) {
        lf_error_set(err, LF_ERR_INPUT,
                     "%s: tensor '%s': data_offsets must be two integers in [0, 2^53]", f->label, name);
        return false;
    }
    if (b > e) {
        lf_error_set(err, LF_ERR_INPUT,
                     "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] end before they begin",
                     f->label, name, b, e);
        return false;
    }
    char sbuf[256];
    uint64_t numel = 1, nbytes;
    for (i = 0; i < ndim; i++) {
        if (__builtin_mul_overflow(numel, (uint64_t)t->shape[i], &numel)) break;
    }
    if (i < ndim || numel > INT64_MAX || __builtin_mul_overflow(numel, dtypes[t->dtype].size, &nbytes)) {
        lf_error_set(err, LF_ERR_INPUT, "%s: tensor '%s': %s %s has more than 2^63 elements or bytes",
                     f->label, name, dtypes[t->dtype].name, st_shape_str(sbuf, sizeof sbuf, ndim, t->shape));
        return false;
    }
    if (nbytes != e - b) {
        lf_error_set(err, LF_ERR_INPUT,
                     "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] hold %" PRIu64
                     " bytes but %s %s needs %" PRIu64,
                     f->label, name, b, e, e - b, dtypes[t->dtype].name,
                     st_shape_str(sbuf, sizeof sbuf, ndim, t->shape), nbytes);
        return false;
    }
    if (e > data_size) {
        lf_error_set(err, LF_ERR_INPUT,
                     "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
                     "] reach past the end of the data section (%zu bytes)",
                     f->label, name, b, e, data_size);
        return false;
    }
    t->numel = (int64_t)numel;
    t->nbytes = (size_t)nbytes;
    t->data = f->base + b;
    t->file = f;
    span->begin = b;
    span->end = e;
    return true;
}

typedef struct {
    Span span;
    const char *name;
} SpanRef;

static int cmp_span(const void *a, const void *b) {
    const SpanRef *x = a, *y = b;
    if (x->span.begin != y->span.begin) return x->span.begin < y->span.begin ? -1 : 1;
    return x->span.end < y->span.end ? -1 : x->span.end > y->span.end;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp((*(const StTensor *const *)a)->name, (*(const StTensor *const *)b)->name);
}

/* Two tensors sharing bytes would let a write through one change the other
 * (and is how a crafted file aliases data); empty tensors share nothing. */
static bool check_overlaps(const StFile *f, const Span *spans, LfError *err) {
    SpanRef *refs = malloc((size_t)f->n * sizeof *refs + 1);
    if (!refs) {
        lf_error_set(err, LF_ERR_IO, "%s: out of memory", f->label);
        return false;
    }
    int m = 0;
    for (int i = 0; i < f->n; i++)
        if (spans[i].end > spans[i].begin) refs[m++] = (SpanRef){spans[i], f->tensors[i].name};
    qsort(refs, (size_t)m, sizeof *refs, cmp_span);
    for (int i = 1; i < m; i++) {
        /* Sorted by begin, the first clash is always between neighbours: an
         * earlier span reaching past refs[i].begin also covers refs[i-1].begin. */
        if (refs[i].span.begin < refs[i - 1].span.end) {
            lf_error_set(err, LF_ERR_INPUT,
                         "%s: tensors '%s' (data_offsets [%" PRIu64 ", %" PRIu64 "]) and '%s' (data_offsets [%" PRIu64
                         ", %" PRIu64 "]) overlap",
                         f->label, refs[i - 1].name, refs[i - 1].span.begin, refs[i - 1].span.end, refs[i].name,
                         refs[i].span.begin, refs[i].span.end);
            free(refs);
            return false;
        }
    }
    free(refs);
    return true;
}

/* Copies every name, metadata key and value into one block so the cJSON
 * tree can go once the header is checked. */
static bool copy_strings(StFile *f, const cJSON *root, const cJSON *meta, LfError *err) {
    size_t total = 1;
    const cJSON *it;
    cJSON_ArrayForEach(it, root) if (it != meta) total += strlen(it->string) + 1;
    cJSON_ArrayForEach(it, meta) total += strlen(it->string) + strlen(it->valuestring) + 2;
    f->strings = malloc(total);
    f->tensors = calloc((size_t)f->n + 1, sizeof *f->tensors);
    f->by_name = calloc((size_t)f->n + 1, sizeof *f->by_name);
    f->meta_keys = calloc((size_t)f->n_meta + 1, sizeof *f->meta_keys);
    f->meta_values = calloc((size_t)f->n_meta + 1, sizeof *f->meta_values);
    if (!f->strings || !f->tensors || !f->by_name || !f->meta_keys || !f->meta_values) {
        lf_error_set(err, LF_ERR_IO, "%s: out of memory reading the header", f->label);
        return false;
    }
    char *p = f->strings;
    int i = 0;
#define ST_PUT(dst, s)                 \
    do {                               \
        size_t len_ = strlen(s) + 1;   \
        memcpy(p, (s), len_);          \
        (dst) = p;                     \
        p += len_;                     \
    } while (0)
    cJSON_ArrayForEach(it, root) if (it != meta) ST_PUT(f->tensors[i++].name, it->string);
    i = 0;
    cJSON_ArrayForEach(it, meta) {
        ST_PUT(f->meta_keys[i], it->string);
        ST_PUT(f->meta_values[i], it->valuestring);
        i++;
    }
#undef ST_PUT
    return true;
}

static bool parse_metadata(StFile *f, const cJSON *meta, LfError *err) {
    if (!meta) return true;
    if (!cJSON_IsObject(meta)) {
        lf_error_set(err, LF_ERR_INPUT, "%s: __metadata__ is not an object of strings", f->label);
        return false;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, meta) {
        if (!cJSON_IsString(it)) {
            lf_error_set(err, LF_ERR_INPUT, "%s: __metadata__ value '%s' is not a string", f->label,
                         it->string);
            return false;
        }
        f->n_meta++;
    }
    return true;
}

static bool parse_header(StFile *f, const unsigned char *buf, size_t size, LfError *err) {
    if (size < 8) {
        lf_error_set(err, LF_ERR_INPUT,
                     "%s: file is %zu bytes, too short for a safetensors header (needs at least 8)",
                     f->label, size);
        return false;
    }
    uint64_t hlen = read_le64(buf);
    if (hlen > size - 8) {
        lf_error_set(err, LF_ERR_INPUT,
                     "%s: header length %" PRIu64 " exceeds the %zu bytes that follow it (truncated or not "
                     "a safetensors file)",
                     f->label, hlen, size - 8);
        return false;
    }
    if (hlen > ST_MAX_HEADER) {
        lf_error_set(err, LF_ERR_INPUT, "%s: header length %" PRIu64 " is above the %llu-byte limit",
                     f->label, hlen, ST_MAX_HEADER);
        return false;
    }
    const char *hdr = (const char *)buf + 8;
    f->header = hdr;
    f->header_len = (size_t)hlen;
    f->base = buf + 8 + hlen;
    size_t data_size = size - 8 - (size_t)hlen;
    /* JSON text cannot hold a raw NUL; cJSON would stop at it silently. */
    if (memchr(hdr, '\0', (size_t)hlen) || !utf8_valid(hdr, (size_t)hlen)) {
        lf_error_set(err, LF_ERR_INPUT, "%s: header is not valid UTF-8 text", f->label);
        return false;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(hdr, (size_t)hlen, &end, 0);
    if (!root) {
        size_t at = end && end >= hdr && end <= hdr + hlen ? (size_t)(end - hdr) : 0;
        lf_error_set(err, LF_ERR_INPUT, "%s: header is not valid JSON (error near byte %zu of %" PRIu64 ")",
                     f->label, at, hlen);
        return false;
    }
    /* After the object only padding may follow (writers pad with spaces). */
    for (const char *p = end; p < hdr + hlen; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            lf_error_set(err, LF_ERR_INPUT,
                         "%s: header has trailing bytes after the JSON object (at byte %zu of %" PRIu64 ")",
                         f->label, (size_t)(p - hdr), hlen);
            cJSON_Delete(root);
            return false;
        }
    }
    if (!cJSON_IsObject(root)) {
        lf_error_set(err, LF_ERR_INPUT, "%s: header is not a JSON object", f->label);
        cJSON_Delete(root);
        return false;
    }
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "__metadata__");
    bool ok = parse_metadata(f, meta, err);
    const cJSON *it;
    if (ok) cJSON_ArrayForEach(it, root) if (it != meta) f->n++;
    Span *spans = NULL;
    if (ok) ok = copy_strings(f, root, meta, err);
    if (ok && !(spans = malloc((size_t)f->n * sizeof *spans + 1))) {
        lf_error_set(err, LF_ERR_IO, "%s: out of memory reading the header", f->label);
        ok = false;
    }
    int i = 0;
    if (ok) {
        cJSON_ArrayForEach(it, root) {
            if (it == meta) continue;
            if (!parse_tensor(f, it, &f->tensors[i], &spans[i], data_size, err)) {
                ok = false;
                break;
            }
            f->by_name[i] = &f->tensors[i];
            i++;
        }
    }
    cJSON_Delete(root);
    if (ok) ok = check_overlaps(f, spans, err);
    free(spans);
    if (!ok) return false;
    qsort(f->by_name, (size_t)f->n, sizeof *f->by_name, cmp_name);
    for (i = 1; i < f->n; i++) {
        if (strcmp(f->by_name[i - 1]->name, f->by_name[i]->name) == 0) {
            lf_error_set(err, LF_ERR_INPUT, "%s: tensor '%s' appears twice in the header", f->label,
                         f->by_name[i]->name);
            return false;
        }
    }
    return true;
}

StFile *st_open_memory(const void *buf, size_t size, const char *label, LfError *err) {
    StFile *f = calloc(1, sizeof *f);
    if (f) {
        f->fd = -1;
        f->label = strdup(label ? label : "<memory>");
    }
    if (!f || !f->label) {
        free(f);
        lf_error_set(err, LF_ERR_IO, "%s: out of memory", label ? label : "<memory>");
        return NULL;
    }
    if (!parse_header(f, buf, size, err)) {
        st_close(f);
        return NULL;
    }
    return f;
}

StFile *st_open(const char *path, LfError *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        lf_error_errno(err, LF_ERR_INPUT, "cannot open %s", path);
        return NULL;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        lf_error_errno(err, LF_ERR_INPUT, "cannot stat %s", path);
        close(fd);
        return NULL;
    }
    if (!S_ISREG(sb.st_mode)) {
        lf_error_set(err, LF_ERR_INPUT, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    size_t size = (size_t)sb.st_size;
    void *map = NULL;
    if (size >= 8) {
        /* Private and read-only: weights are shared with the page cache and a
         * stray write through a view faults instead of changing the file. */
        map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            lf_error_errno(err, LF_ERR_IO, "cannot map %s", path);
            close(fd);
            return NULL;
        }
    }
    static const unsigned char empty[1];
    StFile *f = st_open_memory(map ? map : empty, size, path, err);
    if (!f) {
        if (map) munmap(map, size);
        close(fd);
        return NULL;
    }
    f->map = map;
    f->map_size = size;
    f->fd = fd;
    return f;
}

void st_close(StFile *f) {
    if (!f) return;
    if (f->map) munmap(f->map, f->map_size);
    if (f->fd >= 0) close(f->fd);
    free(f->label);
    free(f->tensors);
    free(f->by_name);
    free(f->meta_keys);
    free(f->meta_values);
    free(f->strings);
    free(f);
}

int st_count(const StFile *f) { return f->n; }

const StTensor *st_tensor(const StFile *f, int i) { return i >= 0 && i < f->n ? &f->tensors[i] : NULL; }

const StTensor *st_find(const StFile *f, const char *name) {
    StTensor key = {.name = name};
    const StTensor *kp = &key;
    const StTensor **hit = bsearch(&kp, f->by_name, (size_t)f->n, sizeof *f->by_name, cmp_name);
    return hit ? *hit : NULL;
}

const char *st_metadata(const StFile *f, const char *key) {
    for (int i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta_keys[i], key) == 0) return f->meta_values[i];
    return NULL;
}

const char *st_path(const StFile *f) { return f->label; }

const char *st_header(const StFile *f, size_t *len) {
    if (len) *len = f->header_len;
    return f->header;
}

/* The first touch of each page of a mapping costs a page fault, which on
 * some VMs costs ~100 us; a few bytes from many places are cheaper to read
 * with pread(), which leaves the mapping alone. */
bool st_forget_pages(const StFile *f, const void *p, size_t n) {
    const unsigned char *q = p, *map = f->map;
    if (f->fd < 0 || !map || q < map || n > f->map_size || (size_t)(q - map) > f->map_size - n) return false;
    size_t page = (size_t)sysconf(_SC_PAGESIZE), off = (size_t)(q - map) / page * page;
    size_t len = ((size_t)(q - map) + n - off + page - 1) / page * page;
    if (off + len > f->map_size) len = f->map_size - off; /* the last page may be partial */
    /* Our own mapping first: the kernel keeps cached pages anyone maps. */
    if (madvise((void *)(map + off), len, MADV_DONTNEED) != 0) return false;
    return posix_fadvise(f->fd, (off_t)off, (off_t)len, POSIX_FADV_DONTNEED) == 0;
}

void st_peek(const StFile *f, const void *p, void *dst, size_t n) {
    const unsigned char *q = p, *map = f->map;
    if (f->fd >= 0 && map && q >= map && n <= f->map_size && (size_t)(q - map) <= f->map_size - n) {
        size_t done = 0;
        while (done < n) {
            ssize_t k = pread(f->fd, (char *)dst + done, n - done, (off_t)(q - map) + (off_t)done);
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) break;
            done += (size_t)k;
        }
        if (done == n) return;
    }
    memcpy(dst, p, n);
}

/* ---- conversion ------------------------------------------------------- */

static uint16_t load_u16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }

static float bits_to_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* IEEE half to single is exact: every half value is a float. Subnormal
 * halves become normal floats; NaN payloads carry over. */
float st_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    if (exp == 0x1f) return bits_to_f32(sign | 0x7f800000u | man << 13);
    if (exp == 0) {
        if (man == 0) return bits_to_f32(sign);
        int e = 1;
        while (!(man & 0x400)) {
            man <<= 1;
            e--;
        }
        return bits_to_f32(sign | (uint32_t)(e + 112) << 23 | (man & 0x3ff) << 13);
    }
    return bits_to_f32(sign | (exp + 112) << 23 | man << 13);
}

/* bfloat16 is the top half of a float32. */
float st_bf16_to_f32(uint16_t h) { return bits_to_f32((uint32_t)h << 16); }

bool st_read_f32(const StTensor *t, float *dst, size_t n, LfError *err) {
    if (n != (size_t)t->numel) {
        lf_error_set(err, LF_ERR_INPUT, "tensor '%s' has %" PRId64 " elements, expected %zu", t->name,
                     t->numel, n);
        return false;
    }
    const unsigned char *src = t->data;
    switch (t->dtype) {
    case ST_F32: /* read, not faulted in through the mapping: see st_peek */
        if (n) st_peek(t->file, src, dst, n * 4);
        return true;
    case ST_F16:
        for (size_t i = 0; i < n; i++) dst[i] = st_f16_to_f32(load_u16(src + 2 * i));
        return true;
    case ST_BF16:
        for (size_t i = 0; i < n; i++) dst[i] = st_bf16_to_f32(load_u16(src + 2 * i));
        return true;
    case ST_F64:
        for (size_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, src + 8 * i, sizeof d);
            dst[i] = (float)d;
        }
        return true;
    default:
        lf_error_set(err, LF_ERR_INPUT, "tensor '%s' has dtype %s, expected a float type (F32, F16, BF16, F64)",
                     t->name, st_dtype_name(t->dtype));
        return false;
    }
}

bool st_check_shape(const StFile *f, const StTensor *t, int ndim, const int64_t *shape, LfError *err) {
    bool same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (!same) {
        char got[160], want[160];
        lf_error_set(err, LF_ERR_INPUT, "%s: tensor '%s' has shape %s, expected %s", f->label, t->name,
                     st_shape_str(got, sizeof got, t->ndim, t->shape), st_shape_str(want, sizeof want, ndim, shape));
    }
    return same;
}

bool st_load_f32(const StFile *f, const char *name, int ndim, const int64_t *shape, float *dst, LfError *err) {
    const StTensor *t = st_find(f, name);
    if (!t) {
        lf_error_set(err, LF_ERR_INPUT, "%s: tensor '%s' is missing", f->label, name);
        return false;
    }
    return st_check_shape(f, t, ndim, shape, err) && st_read_f32(t, dst, (size_t)t->numel, err);
}

const float *st_f32_view(const StTensor *t) {
    if (t->dtype != ST_F32 || (uintptr_t)t->data % _Alignof(float) != 0) return NULL;
    return t->data;
}
