/* bf16_dnnl.c - oneDNN's matmul for a frozen weight. See
 * include/lorafit/engine/bf16_dnnl.h.
 *
 * Primitives per row count: oneDNN 2.6's fast matmul kernels (brgemm, AMX
 * or AVX512-BF16) refuse runtime dimensions, so each weight keeps a few
 * primitives for the row counts it last met (a training run meets two or
 * three: B x T, the top block's rows, a last short batch). Creating one for
 * a new count costs a primitive descriptor; the kernels themselves come
 * from oneDNN's own primitive cache, which the blocks of equal shapes share.
 * The forward's weights are reordered once, into the layout its primitive
 * for ROWS_HINT rows wants; every row count then uses that layout, or the
 * plain weights when oneDNN takes no other for it. Nothing of this has run
 * on a CPU with bf16 kernels yet: the tests run it in fp32 where they lack
 * (bf16_dnnl_create_f32), and the oneDNN-vs-reference test in bf16 where
 * they exist. */
#include "lorafit/engine/bf16_dnnl.h"

#include <dlfcn.h>
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/engine/bf16.h"

enum { CACHED_ROWS = 4, ROWS_HINT = 1024 };

/* oneDNN is opened with dlopen when bf16 is asked for, not linked: loading
 * its 40 MB (and libstdc++, libOpenCL) costs every process about 7 ms at
 * start, classify's included. The library of the headers' major version. */
#define STRINGIFY(x) #x
#define SONAME(major) "libdnnl.so." STRINGIFY(major)
#define DNNL_FUNCTIONS(X)                                                                                      \
    X(engine_create) X(engine_destroy) X(stream_create) X(stream_destroy) X(stream_wait)                       \
    X(memory_desc_init_by_tag) X(memory_desc_equal) X(memory_desc_get_size) X(memory_create) X(memory_destroy) \
    X(memory_get_memory_desc) X(matmul_desc_init) X(primitive_desc_create) X(primitive_desc_destroy)           \
    X(primitive_desc_query) X(primitive_desc_query_md) X(primitive_create) X(primitive_destroy)                \
    X(primitive_execute) X(reorder_primitive_desc_create) X(status2str) X(version) X(get_effective_cpu_isa)    \
    X(cpu_isa2str)

/* The functions used, as the headers declare them (api.version is dnnl_version). */
typedef struct {
    void *lib;
#define API_FIELD(name) __typeof__(dnnl_##name) *name;
    DNNL_FUNCTIONS(API_FIELD)
#undef API_FIELD
} DnnlApi;

static void api_close(DnnlApi *a) {
    if (a->lib) dlclose(a->lib);
    memset(a, 0, sizeof *a);
}

/* Opens the library (dlopen counts references: cheap when already open). */
static bool api_open(DnnlApi *a, LfError *err) {
    memset(a, 0, sizeof *a);
    /* never unloaded: the OpenMP threads its matmuls started (libgomp's,
     * loaded with it where lorafit runs on another runtime) outlive it */
    if (!(a->lib = dlopen(SONAME(DNNL_VERSION_MAJOR), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE))) {
        lf_error_set(err, LF_ERR_INPUT, "cannot load oneDNN: %s", dlerror());
        return false;
    }
    void *f;
#define API_LOAD(name)                                                                                         \
    if (!(f = dlsym(a->lib, "dnnl_" #name))) {                                                                 \
        lf_error_set(err, LF_ERR_INPUT, "%s lacks dnnl_" #name, SONAME(DNNL_VERSION_MAJOR));                   \
        api_close(a);                                                                                          \
        return false;                                                                                          \
    }                                                                                                          \
    memcpy(&a->name, &f, sizeof f);
    DNNL_FUNCTIONS(API_LOAD)
#undef API_LOAD
    return true;
}

typedef struct {
    int rows; /* 0: unused */
    dnnl_primitive_t prim;
    dnnl_memory_t weights; /* its B: the Direction's weights or plain */
    unsigned long last_use;
} Primitive;

/* One direction: x [N, K] @ B [K, M] with B the forward's W or the
 * backward's W^T. */
typedef struct {
    int K, M;
    dnnl_memory_desc_t weights_md; /* the layout the primitives take B in */
    dnnl_memory_t weights;         /* B in that layout */
    dnnl_memory_desc_t plain_md;   /* B where the caller keeps it */
    dnnl_memory_t plain;           /* for the row counts oneDNN takes only so */
    void *reordered;               /* its memory when a copy (else B is the caller's) */
    size_t reordered_bytes;
    char impl[64];                 /* oneDNN's kernel at ROWS_HINT rows */
    Primitive cache[CACHED_ROWS];
} Direction;

struct Bf16Dnnl {
    DnnlApi api;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnl_data_type_t dt; /* of the inputs and weights: bf16, or f32 for the tests */
    Direction fwd, bwd;
    unsigned long uses;
};

void bf16_dnnl_info(Bf16DnnlInfo *info) {
    memset(info, 0, sizeof *info);
    info->built = true;
    DnnlApi api;
    LfError err = {0};
    if (!api_open(&api, &err)) {
        snprintf(info->load_error, sizeof info->load_error, "%.255s", err.msg);
        return;
    }
    info->loaded = true;
    const dnnl_version_t *v = api.version();
    snprintf(info->version, sizeof info->version, "%d.%d.%d", v->major, v->minor, v->patch);
    const char *isa = api.cpu_isa2str(api.get_effective_cpu_isa()); /* "cpu_isa_avx2" */
    snprintf(info->isa, sizeof info->isa, "%s", strncmp(isa, "cpu_isa_", 8) == 0 ? isa + 8 : isa);
    api_close(&api);
}

static bool check(const DnnlApi *api, dnnl_status_t st, const char *what, LfError *err) {
    if (st == dnnl_success) return true;
    lf_error_set(err, st == dnnl_unimplemented ? LF_ERR_INPUT : LF_ERR_RUNTIME, "oneDNN: %s: %s", what,
                 api->status2str(st));
    return false;
}

/* A row-major [rows, cols] matrix of dt, or its transpose's view when
 * transposed ([rows, cols] read from a [cols, rows] array). */
static dnnl_memory_desc_t plain_md(const DnnlApi *api, int rows, int cols, dnnl_data_type_t dt, bool transposed) {
    dnnl_memory_desc_t md;
    dnnl_dims_t dims = {rows, cols};
    api->memory_desc_init_by_tag(&md, 2, dims, dt, transposed ? dnnl_ba : dnnl_ab);
    return md;
}

/* The primitive descriptor of x [rows, K] @ B (weights md w) -> f32 [rows, M]. */
static dnnl_status_t matmul_pd(const Bf16Dnnl *d, const Direction *dir, int rows, const dnnl_memory_desc_t *w,
                               dnnl_primitive_desc_t *pd) {
    const DnnlApi *api = &d->api;
    dnnl_memory_desc_t src = plain_md(api, rows, dir->K, d->dt, false), dst = plain_md(api, rows, dir->M, dnnl_f32, false);
    dnnl_matmul_desc_t desc;
    dnnl_status_t st = api->matmul_desc_init(&desc, &src, w, NULL, &dst);
    return st != dnnl_success ? st : api->primitive_desc_create(pd, &desc, NULL, d->engine, NULL);
}

static const char *impl_of(const DnnlApi *api, const_dnnl_primitive_desc_t pd) {
    const char *s = NULL;
    return api->primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &s) == dnnl_success && s ? s : "?";
}

/* oneDNN's naive loops ("ref:any"): slower than lorafit's own reference. */
static bool is_reference_impl(const char *impl) { return strncmp(impl, "ref", 3) == 0; }

/* Runs reorder src -> dst. */
static bool reorder(const Bf16Dnnl *d, dnnl_memory_t src, dnnl_memory_t dst, LfError *err) {
    const DnnlApi *api = &d->api;
    const dnnl_memory_desc_t *smd, *dmd;
    api->memory_get_memory_desc(src, &smd);
    api->memory_get_memory_desc(dst, &dmd);
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    bool ok = check(api, api->reorder_primitive_desc_create(&pd, smd, d->engine, dmd, d->engine, NULL),
                    "reordering the weights", err) &&
              check(api, api->primitive_create(&prim, pd), "reordering the weights", err);
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}};
    ok = ok && check(api, api->primitive_execute(prim, d->stream, 2, args), "reordering the weights", err) &&
         check(api, api->stream_wait(d->stream), "reordering the weights", err);
    if (prim) api->primitive_destroy(prim);
    if (pd) api->primitive_desc_destroy(pd);
    return ok;
}

/* Sets dir's weights for B (plain, as W or its transposed view). With
 * prefer_reorder, in the layout oneDNN's kernel for ROWS_HINT rows wants (a
 * reordered copy when that is not the plain one); else plain unless oneDNN
 * has only its reference loops for that. */
static bool direction_init(Bf16Dnnl *d, Direction *dir, int K, int M, const void *b, bool transposed,
                           bool prefer_reorder, LfError *err) {
    const DnnlApi *api = &d->api;
    dir->K = K;
    dir->M = M;
    const dnnl_memory_desc_t plain = plain_md(api, K, M, d->dt, transposed);
    dnnl_memory_desc_t any;
    dnnl_dims_t dims = {K, M};
    api->memory_desc_init_by_tag(&any, 2, dims, d->dt, dnnl_format_tag_any);
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t st = matmul_pd(d, dir, ROWS_HINT, prefer_reorder ? &any : &plain, &pd);
    if (!prefer_reorder && (st != dnnl_success || is_reference_impl(impl_of(api, pd)))) {
        if (pd) api->primitive_desc_destroy(pd);
        pd = NULL;
        st = matmul_pd(d, dir, ROWS_HINT, &any, &pd);
    }
    if (!check(api, st, d->dt == dnnl_bf16 ? "no bf16 x bf16 -> fp32 matmul on this CPU" : "no matmul", err))
        return false;
    snprintf(dir->impl, sizeof dir->impl, "%s", impl_of(api, pd));
    dir->weights_md = *api->primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    api->primitive_desc_destroy(pd);
    if (d->dt == dnnl_bf16 && is_reference_impl(dir->impl)) {
        lf_error_set(err, LF_ERR_INPUT, "oneDNN has only its reference kernel (%s) for a bf16 matmul here",
                     dir->impl);
        return false;
    }
    dir->plain_md = plain;
    if (!check(api, api->memory_create(&dir->plain, &plain, d->engine, (void *)(uintptr_t)b), "the weights", err))
        return false;
    if (api->memory_desc_equal(&plain, &dir->weights_md)) {
        dir->weights = dir->plain;
        return true;
    }
    dir->reordered_bytes = api->memory_desc_get_size(&dir->weights_md);
    dir->reordered = aligned_alloc(64, (dir->reordered_bytes + 63) / 64 * 64);
    if (!dir->reordered) {
        lf_error_set(err, LF_ERR_IO, "out of memory for %zu bytes of reordered weights", dir->reordered_bytes);
        return false;
    }
    return check(api, api->memory_create(&dir->weights, &dir->weights_md, d->engine, dir->reordered), "the weights",
                 err) &&
           reorder(d, dir->plain, dir->weights, err);
}

static Bf16Dnnl *create(dnnl_data_type_t dt, const void *w, int IC, int OC, LfError *err) {
    Bf16Dnnl *d = calloc(1, sizeof *d);
    if (!d) {
        lf_error_set(err, LF_ERR_IO, "out of memory");
        return NULL;
    }
    d->dt = dt;
    const DnnlApi *api = &d->api;
    bool ok = api_open(&d->api, err) && check(api, api->engine_create(&d->engine, dnnl_cpu, 0), "creating the CPU engine", err) &&
              check(api, api->stream_create(&d->stream, d->engine, dnnl_stream_default_flags), "creating a stream",
                    err) &&
              direction_init(d, &d->fwd, IC, OC, w, false, true, err) &&
              direction_init(d, &d->bwd, OC, IC, w, true, false, err);
    if (!ok) {
        lf_error_prefix(err, "a %d x %d weight", IC, OC);
        bf16_dnnl_free(d);
        return NULL;
    }
    return d;
}

Bf16Dnnl *bf16_dnnl_create(const QuantMatrix *w, LfError *err) {
    return create(dnnl_bf16, w->codes, w->rows, w->cols, err);
}

Bf16Dnnl *bf16_dnnl_create_f32(const float *w, int IC, int OC, LfError *err) {
    return create(dnnl_f32, w, IC, OC, err);
}

/* The primitive for `rows` rows: cached, or made (replacing the least
 * recently used) over the reordered weights, or the plain ones when oneDNN
 * takes only those for this count. A failure of both is a oneDNN that
 * accepted ROWS_HINT rows and not these: nothing a user can fix, so it
 * stops the process. */
static const Primitive *primitive_for(Bf16Dnnl *d, Direction *dir, int rows) {
    const DnnlApi *api = &d->api;
    Primitive *slot = &dir->cache[0];
    for (int i = 0; i < CACHED_ROWS; i++) {
        Primitive *p = &dir->cache[i];
        if (p->rows == rows) {
            p->last_use = ++d->uses;
            return p;
        }
        if (p->last_use < slot->last_use) slot = p;
    }
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    dnnl_memory_t weights = dir->weights;
    dnnl_status_t st = matmul_pd(d, dir, rows, &dir->weights_md, &pd);
    if (st != dnnl_success && dir->weights != dir->plain) {
        weights = dir->plain;
        st = matmul_pd(d, dir, rows, &dir->plain_md, &pd);
    }
    if (st == dnnl_success) st = api->primitive_create(&prim, pd);
    if (pd) api->primitive_desc_destroy(pd);
    if (st != dnnl_success) {
        fprintf(stderr, "lorafit: oneDNN: no matmul for %d x %d @ %d x %d: %s\n", rows, dir->K, dir->K, dir->M,
                api->status2str(st));
        abort();
    }
    if (slot->prim) api->primitive_destroy(slot->prim);
    *slot = (Primitive){rows, prim, weights, ++d->uses};
    return slot;
}

/* out [rows, M] = x [rows, K] @ B, x converted to the primitive's type. */
static void run(Bf16Dnnl *d, Direction *dir, float *out, const float *x, int rows) {
    const DnnlApi *api = &d->api;
    if (rows <= 0) return;
    void *src = (void *)(uintptr_t)x, *converted = NULL;
    if (d->dt == dnnl_bf16) {
        converted = malloc((size_t)rows * dir->K * sizeof(uint16_t));
        if (!converted) {
            fprintf(stderr, "lorafit: out of memory for %d x %d bf16 inputs\n", rows, dir->K);
            abort();
        }
        bf16_from_f32_array(converted, x, (size_t)rows * dir->K);
        src = converted;
    }
    const Primitive *p = primitive_for(d, dir, rows);
    const dnnl_memory_desc_t smd = plain_md(api, rows, dir->K, d->dt, false), dmd = plain_md(api, rows, dir->M, dnnl_f32, false);
    dnnl_memory_t sm = NULL, dm = NULL;
    dnnl_status_t st = api->memory_create(&sm, &smd, d->engine, src);
    if (st == dnnl_success) st = api->memory_create(&dm, &dmd, d->engine, out);
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, sm}, {DNNL_ARG_WEIGHTS, p->weights}, {DNNL_ARG_DST, dm}};
    if (st == dnnl_success) st = api->primitive_execute(p->prim, d->stream, 3, args);
    if (st == dnnl_success) st = api->stream_wait(d->stream);
    if (sm) api->memory_destroy(sm);
    if (dm) api->memory_destroy(dm);
    free(converted);
    if (st != dnnl_success) {
        fprintf(stderr, "lorafit: oneDNN: a %d x %d @ %d x %d matmul failed: %s\n", rows, dir->K, dir->K, dir->M,
                api->status2str(st));
        abort();
    }
}

void bf16_dnnl_forward(Bf16Dnnl *d, float *out, const float *inp, const float *bias, int N) {
    run(d, &d->fwd, out, inp, N);
    if (!bias) return;
    const int OC = d->fwd.M;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++)
        for (int j = 0; j < OC; j++) out[(size_t)n * OC + j] += bias[j];
}

void bf16_dnnl_backward(Bf16Dnnl *d, float *dinp, const float *dout, int N, bool accumulate) {
    if (!accumulate) {
        run(d, &d->bwd, dinp, dout, N);
        return;
    }
    const size_t n = (size_t)N * d->bwd.M;
    float *t = malloc(n * sizeof *t);
    if (!t && n) {
        fprintf(stderr, "lorafit: out of memory for a %d x %d gradient\n", N, d->bwd.M);
        abort();
    }
    run(d, &d->bwd, t, dout, N);
    const long long m = (long long)n;
#pragma omp parallel for schedule(static)
    for (long long i = 0; i < m; i++) dinp[i] += t[i];
    free(t);
}

const char *bf16_dnnl_impl(const Bf16Dnnl *d, bool backward) { return backward ? d->bwd.impl : d->fwd.impl; }

size_t bf16_dnnl_bytes(const Bf16Dnnl *d) { return d ? d->fwd.reordered_bytes + d->bwd.reordered_bytes : 0; }

static void direction_free(const DnnlApi *api, Direction *dir) {
    for (int i = 0; i < CACHED_ROWS; i++)
        if (dir->cache[i].prim) api->primitive_destroy(dir->cache[i].prim);
    if (dir->weights && dir->weights != dir->plain) api->memory_destroy(dir->weights);
    if (dir->plain) api->memory_destroy(dir->plain);
    free(dir->reordered);
}

void bf16_dnnl_free(Bf16Dnnl *d) {
    if (!d) return;
    const DnnlApi *api = &d->api;
    if (api->lib) {
        direction_free(api, &d->fwd);
        direction_free(api, &d->bwd);
        if (d->stream) api->stream_destroy(d->stream);
        if (d->engine) api->engine_destroy(d->engine);
    }
    api_close(&d->api);
    free(d);
}
