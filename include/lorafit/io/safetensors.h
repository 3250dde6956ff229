/* safetensors.h - read (mmapped) and write safetensors files.
 *
 * Format: 8-byte little-endian header length N, N bytes of JSON
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *  "__metadata__": {"k": "v"}}, then the data; offsets are relative to the
 * end of the header. st_open() validates everything before returning: the
 * header is JSON of that form, every dtype known, every shape's byte size
 * equal to its offsets' span, every span inside the file, no two spans
 * overlapping. A failure names the file and the tensor and what was
 * expected, and is an LF_ERR_INPUT error.
 *
 * One header, two units: safetensors.c reads (and holds the dtype table),
 * safetensors_write.c writes; they share only the dtype functions. */
#ifndef LORAFIT_SAFETENSORS_H
#define LORAFIT_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lorafit/util/error.h"

#define ST_MAX_DIMS 8

typedef enum { ST_F64, ST_F32, ST_F16, ST_BF16, ST_I64, ST_I32, ST_I16, ST_I8, ST_U8, ST_BOOL } StDtype;

typedef struct {
    const char *name;
    StDtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    int64_t numel;
    const void *data; /* into the mapping; valid until st_close() */
    size_t nbytes;
    const struct StFile *file; /* the file it is in */
} StTensor;

typedef struct StFile StFile;

/* Maps and validates the file. NULL on failure. */
StFile *st_open(const char *path, LfError *err);
/* Parses and validates an in-memory file (the fuzz target's entry point;
 * also used by st_open). The buffer must outlive the StFile. */
StFile *st_open_memory(const void *buf, size_t size, const char *label, LfError *err);
void st_close(StFile *f);

int st_count(const StFile *f);
const StTensor *st_tensor(const StFile *f, int i); /* in header order */
const StTensor *st_find(const StFile *f, const char *name);
/* A "__metadata__" string value, or NULL. */
const char *st_metadata(const StFile *f, const char *key);
const char *st_path(const StFile *f);
/* The raw JSON header (not NUL-terminated) and its length in *len. */
const char *st_header(const StFile *f, size_t *len);
/* Copies n bytes at p (anywhere, usually a tensor's data) into dst; bytes of
 * the file's mapping are read with pread() so that no page of the mapping is
 * faulted in -- cheaper for a few bytes from many places (fingerprints). */
void st_peek(const StFile *f, const void *p, void *dst, size_t n);

/* Forgets the bytes [p, p + n) of the mapping: this process's page-table
 * entries for them and, where no other process maps them, the page cache's
 * copies, so that the next touch reads them again (into 2 MB folios when
 * the range has MADV_HUGEPAGE). The file itself is not changed. False when
 * p is not in the mapping or the kernel refused. */
bool st_forget_pages(const StFile *f, const void *p, size_t n);

const char *st_dtype_name(StDtype d); /* "F32"; "?" for no dtype */
size_t st_dtype_size(StDtype d);      /* bytes an element; 0 for no dtype */

/* "[768, 2304]" into buf (cut short if it does not fit), for messages. */
const char *st_shape_str(char *buf, size_t cap, int ndim, const int64_t *shape);

/* Copies t into dst as float32, converting F16/BF16/F64. Fails (naming the
 * tensor) for integer dtypes or when n != t->numel. */
bool st_read_f32(const StTensor *t, float *dst, size_t n, LfError *err);

/* Whether t (of f) has exactly this shape; if not, an LF_ERR_INPUT error
 * "<file>: tensor '<name>' has shape [..], expected [..]". */
bool st_check_shape(const StFile *f, const StTensor *t, int ndim, const int64_t *shape, LfError *err);

/* Finds tensor `name`, checks its shape and copies it into dst as float32.
 * A missing tensor is an LF_ERR_INPUT error naming it and the file. */
bool st_load_f32(const StFile *f, const char *name, int ndim, const int64_t *shape, float *dst, LfError *err);

/* Exact conversions of one IEEE half / bfloat16 value (bits as stored). */
float st_f16_to_f32(uint16_t h);
float st_bf16_to_f32(uint16_t h);

/* The tensor's data as float32 in place, when it is F32 and 4-byte aligned;
 * else NULL (the caller then converts with st_read_f32). */
const float *st_f32_view(const StTensor *t);

/* Writing: collect tensors, then save atomically (a temporary file in the
 * same directory, fsync, rename). Data pointers must stay valid until
 * st_writer_save() returns. Tensors are written in the order added, in the
 * header; their data goes in the order added within each element size,
 * largest size first (as the reference implementation does), so every
 * tensor is aligned to its element size with no gaps. The header is padded
 * with spaces to a multiple of 8 bytes. On failure no file is left behind. */
typedef struct StWriter StWriter;
StWriter *st_writer_new(void);
bool st_writer_add(StWriter *w, const char *name, StDtype dtype, int ndim, const int64_t *shape,
                   const void *data, LfError *err);
bool st_writer_metadata(StWriter *w, const char *key, const char *value, LfError *err);
bool st_writer_save(StWriter *w, const char *path, LfError *err);
void st_writer_free(StWriter *w);

#endif
