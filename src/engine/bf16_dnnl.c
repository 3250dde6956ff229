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
 * they exist.
 *
 * The quantized formats' tiles (Bf16DnnlTiles) are weights that change at
 * every call: their primitives take them plain, by pointer, and are cached
 * per (rows, tile rows, direction) in the same way. */
#include "lorafit/engine/bf16_dnnl.h"

#include <dlfcn.h>
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/engine/bf16.h"
#include "lorafit/util/mem.h"

/* A tile object meets 3 kinds of product, and 2 tile heights when the
 * matrix's rows do not split evenly, at each of its row counts. */
enum { CACHED_ROWS = 4, TILE_CACHED = 12, ROWS_HINT = 1024 };

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
    X(cpu_isa2str) X(primitive_attr_create) X(primitive_attr_destroy) X(primitive_attr_set_post_ops)           \
    X(post_ops_create) X(post_ops_destroy) X(post_ops_append_sum)

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

/* A primitive for one product shape: `rows` rows (0: an unused slot) and,
 * for the tiles, the tile's rows k and which product (TileKind). */
typedef struct {
    int rows, k, kind;
    dnnl_primitive_t prim;
    dnnl_memory_t weights; /* its B: the Direction's weights or plain (NULL for tiles: given at each call) */
    unsigned long last_use;
} Primitive;

/* The slot of the primitive for (rows, k, kind) among cache[0 .. n-1]: the
 * one that has it (*hit true, its use counted), or the least recently used
 * (*hit false: the caller replaces it). */
static Primitive *cache_slot(Primitive *cache, int n, int rows, int k, int kind, unsigned long *uses, bool *hit) {
    Primitive *slot = &cache[0];
    for (int i = 0; i < n; i++) {
        Primitive *p = &cache[i];
        if (p->prim && p->rows == rows && p->k == k && p->kind == kind) {
            p->last_use = ++*uses;
            *hit = true;
            return p;
        }
        if (p->last_use < slot->last_use) slot = p;
    }
    *hit = false;
    return slot;
}

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

/* What every primitive needs: the library, a CPU engine and its stream. */
typedef struct {
    DnnlApi api;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnl_data_type_t dt; /* of the inputs and weights: bf16, or f32 for the tests */
} Ctx;

struct Bf16Dnnl {
    Ctx c;
    Direction fwd, bwd;
    unsigned long uses;
};

/* The products of a tile [k, OC] of W': forward x [N, k] @ tile into out
 * [N, OC] (=, or += with TILE_FORWARD_ADD), backward dy [N, OC] @ tile^T
 * into [N, k]. */
typedef enum { TILE_FORWARD, TILE_FORWARD_ADD, TILE_BACKWARD, TILE_KINDS } TileKind;

struct Bf16DnnlTiles {
    Ctx c;
    int OC;
    char impl[2][64]; /* oneDNN's kernels, forward and backward, at ROWS_HINT rows and the first tile's rows */
    Primitive cache[TILE_CACHED];
    unsigned long uses;
};

bool bf16_dnnl_built(void) { return true; }

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

static bool ctx_open(Ctx *c, dnnl_data_type_t dt, LfError *err) {
    c->dt = dt;
    const DnnlApi *api = &c->api;
    return api_open(&c->api, err) &&
           check(api, api->engine_create(&c->engine, dnnl_cpu, 0), "creating the CPU engine", err) &&
           check(api, api->stream_create(&c->stream, c->engine, dnnl_stream_default_flags), "creating a stream", err);
}

static void ctx_close(Ctx *c) {
    const DnnlApi *api = &c->api;
    if (api->lib) {
        if (c->stream) api->stream_destroy(c->stream);
        if (c->engine) api->engine_destroy(c->engine);
    }
    api_close(&c->api);
}

/* A row-major [rows, cols] matrix of dt, or its transpose's view when
 * transposed ([rows, cols] read from a [cols, rows] array). */
static dnnl_memory_desc_t plain_md(const DnnlApi *api, int rows, int cols, dnnl_data_type_t dt, bool transposed) {
    dnnl_memory_desc_t md;
    dnnl_dims_t dims = {rows, cols};
    api->memory_desc_init_by_tag(&md, 2, dims, dt, transposed ? dnnl_ba : dnnl_ab);
    return md;
}

/* The primitive descriptor of x [rows, K] @ B (weights md w) -> f32 [rows,
 * M]; with add, the product is added to what the output holds (a sum
 * post-op). */
static dnnl_status_t matmul_pd(const Ctx *c, int rows, int K, int M, const dnnl_memory_desc_t *w, bool add,
                               dnnl_primitive_desc_t *pd) {
    const DnnlApi *api = &c->api;
    dnnl_memory_desc_t src = plain_md(api, rows, K, c->dt, false), dst = plain_md(api, rows, M, dnnl_f32, false);
    dnnl_matmul_desc_t desc;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    dnnl_status_t st = api->matmul_desc_init(&desc, &src, w, NULL, &dst);
    if (add && st == dnnl_success) st = api->primitive_attr_create(&attr);
    if (add && st == dnnl_success) st = api->post_ops_create(&ops);
    if (add && st == dnnl_success) st = api->post_ops_append_sum(ops, 1.0f);
    if (add && st == dnnl_success) st = api->primitive_attr_set_post_ops(attr, ops);
    if (st == dnnl_success) st = api->primitive_desc_create(pd, &desc, attr, c->engine, NULL);
    if (ops) api->post_ops_destroy(ops);
    if (attr) api->primitive_attr_destroy(attr);
    return st;
}

static const char *impl_of(const DnnlApi *api, const_dnnl_primitive_desc_t pd) {
    const char *s = NULL;
    return api->primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &s) == dnnl_success && s ? s : "?";
}

/* oneDNN's naive loops ("ref:any"): slower than lorafit's own reference. */
static bool is_reference_impl(const char *impl) { return strncmp(impl, "ref", 3) == 0; }

/* Makes the primitive of pd (consumed) into *prim. */
static dnnl_status_t primitive_make(const Ctx *c, dnnl_status_t st, dnnl_primitive_desc_t pd, dnnl_primitive_t *prim) {
    if (st == dnnl_success) st = c->api.primitive_create(prim, pd);
    if (pd) c->api.primitive_desc_destroy(pd);
    return st;
}

/* A failure no user can fix (oneDNN accepted ROWS_HINT rows, not these):
 * it stops the process. */
static void require_success(const Ctx *c, dnnl_status_t st, const char *what, int rows, int K, int M) {
    if (st == dnnl_success) return;
    fprintf(stderr, "lorafit: oneDNN: %s %d x %d @ %d x %d: %s\n", what, rows, K, K, M, c->api.status2str(st));
    abort();
}

/* Runs prim: dst [rows, M] (f32) from src [rows, K] (c->dt) and the
 * weights, the memory `weights` or, when it is NULL, a new one over w_ptr
 * laid out as w_md. */
static dnnl_status_t execute(const Ctx *c, dnnl_primitive_t prim, int rows, int K, int M, const void *src,
                             dnnl_memory_t weights, const dnnl_memory_desc_t *w_md, const void *w_ptr, float *dst) {
    const DnnlApi *api = &c->api;
    const dnnl_memory_desc_t smd = plain_md(api, rows, K, c->dt, false), dmd = plain_md(api, rows, M, dnnl_f32, false);
    dnnl_memory_t sm = NULL, wm = NULL, dm = NULL;
    dnnl_status_t st = api->memory_create(&sm, &smd, c->engine, (void *)(uintptr_t)src);
    if (st == dnnl_success) st = api->memory_create(&dm, &dmd, c->engine, dst);
    if (st == dnnl_success && !weights) st = api->memory_create(&wm, w_md, c->engine, (void *)(uintptr_t)w_ptr);
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, sm}, {DNNL_ARG_WEIGHTS, weights ? weights : wm}, {DNNL_ARG_DST, dm}};
    if (st == dnnl_success) st = api->primitive_execute(prim, c->stream, 3, args);
    if (st == dnnl_success) st = api->stream_wait(c->stream);
    if (sm) api->memory_destroy(sm);
    if (wm) api->memory_destroy(wm);
    if (dm) api->memory_destroy(dm);
    return st;
}

/* Runs reorder src -> dst. */
static bool reorder(const Ctx *c, dnnl_memory_t src, dnnl_memory_t dst, LfError *err) {
    const DnnlApi *api = &c->api;
    const dnnl_memory_desc_t *smd, *dmd;
    api->memory_get_memory_desc(src, &smd);
    api->memory_get_memory_desc(dst, &dmd);
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    bool ok = check(api, api->reorder_primitive_desc_create(&pd, smd, c->engine, dmd, c->engine, NULL),
                    "reordering the weights", err) &&
              check(api, api->primitive_create(&prim, pd), "reordering the weights", err);
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}};
    ok = ok && check(api, api->primitive_execute(prim, c->stream, 2, args), "reordering the weights", err) &&
         check(api, api->stream_wait(c->stream), "reordering the weights", err);
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
    const Ctx *c = &d->c;
    const DnnlApi *api = &c->api;
    dir->K = K;
    dir->M = M;
    const dnnl_memory_desc_t plain = plain_md(api, K, M, c->dt, transposed);
    dnnl_memory_desc_t any;
    dnnl_dims_t dims = {K, M};
    api->memory_desc_init_by_tag(&any, 2, dims, c->dt, dnnl_format_tag_any);
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t st = matmul_pd(c, ROWS_HINT, K, M, prefer_reorder ? &any : &plain, false, &pd);
    if (!prefer_reorder && (st != dnnl_success || is_reference_impl(impl_of(api, pd)))) {
        if (pd) api->primitive_desc_destroy(pd);
        pd = NULL;
        st = matmul_pd(c, ROWS_HINT, K, M, &any, false, &pd);
    }
    if (!check(api, st, c->dt == dnnl_bf16 ? "no bf16 x bf16 -> fp32 matmul on this CPU" : "no matmul", err))
        return false;
    snprintf(dir->impl, sizeof dir->impl, "%s", impl_of(api, pd));
    dir->weights_md = *api->primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    api->primitive_desc_destroy(pd);
    if (c->dt == dnnl_bf16 && is_reference_impl(dir->impl)) {
        lf_error_set(err, LF_ERR_INPUT, "oneDNN has only its reference kernel (%s) for a bf16 matmul here",
                     dir->impl);
        return false;
    }
    dir->plain_md = plain;
    if (!check(api, api->memory_create(&dir->plain, &plain, c->engine, (void *)(uintptr_t)b), "the weights", err))
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
    return check(api, api->memory_create(&dir->weights, &dir->weights_md, c->engine, dir->reordered), "the weights",
                 err) &&
           reorder(c, dir->plain, dir->weights, err);
}

static Bf16Dnnl *create(dnnl_data_type_t dt, const void *w, int IC, int OC, LfError *err) {
    Bf16Dnnl *d = calloc(1, sizeof *d);
    if (!d) {
        lf_error_set(err, LF_ERR_IO, "out of memory");
        return NULL;
    }
    bool ok = ctx_open(&d->c, dt, err) && direction_init(d, &d->fwd, IC, OC, w, false, true, err) &&
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
 * takes only those for this count. */
static const Primitive *primitive_for(Bf16Dnnl *d, Direction *dir, int rows) {
    const Ctx *c = &d->c;
    bool hit;
    Primitive *slot = cache_slot(dir->cache, CACHED_ROWS, rows, 0, 0, &d->uses, &hit);
    if (hit) return slot;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    dnnl_memory_t weights = dir->weights;
    dnnl_status_t st = matmul_pd(c, rows, dir->K, dir->M, &dir->weights_md, false, &pd);
    if (st != dnnl_success && dir->weights != dir->plain) {
        weights = dir->plain;
        st = matmul_pd(c, rows, dir->K, dir->M, &dir->plain_md, false, &pd);
    }
    require_success(c, primitive_make(c, st, pd, &prim), "no matmul for", rows, dir->K, dir->M);
    if (slot->prim) c->api.primitive_destroy(slot->prim);
    *slot = (Primitive){rows, 0, 0, prim, weights, ++d->uses};
    return slot;
}

/* x [n] in bf16, in a buffer of the caller's to free. */
static uint16_t *bf16_copy(const float *x, size_t n) {
    uint16_t *b = mem_alloc_or_abort(n * sizeof *b, "bf16 inputs");
    bf16_from_f32_array(b, x, n);
    return b;
}

/* out [rows, M] = x [rows, K] @ B, x converted to the primitive's type. */
static void run(Bf16Dnnl *d, Direction *dir, float *out, const float *x, int rows) {
    if (rows <= 0) return;
    uint16_t *converted = d->c.dt == dnnl_bf16 ? bf16_copy(x, (size_t)rows * dir->K) : NULL;
    const void *src = converted ? (const void *)converted : x;
    const Primitive *p = primitive_for(d, dir, rows);
    dnnl_status_t st = execute(&d->c, p->prim, rows, dir->K, dir->M, src, p->weights, NULL, NULL, out);
    free(converted);
    require_success(&d->c, st, "a matmul failed:", rows, dir->K, dir->M);
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
    float *t = mem_alloc_or_abort(n * sizeof *t, "an input gradient");
    run(d, &d->bwd, t, dout, N);
    const long long m = (long long)n;
#pragma omp parallel for schedule(static)
    for (long long i = 0; i < m; i++) dinp[i] += t[i];
    free(t);
}

const char *bf16_dnnl_impl(const Bf16Dnnl *d, bool backward) { return backward ? d->bwd.impl : d->fwd.impl; }

size_t bf16_dnnl_bytes(const Bf16Dnnl *d) { return d ? d->fwd.reordered_bytes + d->bwd.reordered_bytes : 0; }

static void cache_free(const DnnlApi *api, Primitive *cache, int n) {
    for (int i = 0; api->lib && i < n; i++)
        if (cache[i].prim) api->primitive_destroy(cache[i].prim);
}

static void direction_free(const DnnlApi *api, Direction *dir) {
    cache_free(api, dir->cache, CACHED_ROWS);
    if (dir->weights && dir->weights != dir->plain) api->memory_destroy(dir->weights);
    if (dir->plain) api->memory_destroy(dir->plain);
    free(dir->reordered);
}

void bf16_dnnl_free(Bf16Dnnl *d) {
    if (!d) return;
    if (d->c.api.lib) {
        direction_free(&d->c.api, &d->fwd);
        direction_free(&d->c.api, &d->bwd);
    }
    ctx_close(&d->c);
    free(d);
}

/* ---- tiles ---------------------------------------------------------- */

/* The weights' layout of a tile product: the tile [k, OC] as it is
 * (forward), or as its transpose [OC, k] through strides (backward). */
static dnnl_memory_desc_t tile_weights_md(const Bf16DnnlTiles *t, TileKind kind, int k) {
    return kind == TILE_BACKWARD ? plain_md(&t->c.api, t->OC, k, t->c.dt, true)
                                 : plain_md(&t->c.api, k, t->OC, t->c.dt, false);
}

static dnnl_status_t tile_pd(const Bf16DnnlTiles *t, TileKind kind, int rows, int k, dnnl_primitive_desc_t *pd) {
    const dnnl_memory_desc_t w = tile_weights_md(t, kind, k);
    const bool bwd = kind == TILE_BACKWARD;
    return matmul_pd(&t->c, rows, bwd ? t->OC : k, bwd ? k : t->OC, &w, kind == TILE_FORWARD_ADD, pd);
}

static Bf16DnnlTiles *tiles_create(dnnl_data_type_t dt, int kt, int OC, LfError *err) {
    Bf16DnnlTiles *t = calloc(1, sizeof *t);
    if (!t) {
        lf_error_set(err, LF_ERR_IO, "out of memory");
        return NULL;
    }
    t->OC = OC;
    bool ok = ctx_open(&t->c, dt, err);
    for (int kind = 0; ok && kind < TILE_KINDS; kind++) {
        dnnl_primitive_desc_t pd = NULL;
        ok = check(&t->c.api, tile_pd(t, (TileKind)kind, ROWS_HINT, kt, &pd),
                   dt == dnnl_bf16 ? "no bf16 x bf16 -> fp32 matmul on this CPU" : "no matmul", err);
        if (!ok) break;
        char *impl = t->impl[kind == TILE_BACKWARD];
        snprintf(impl, sizeof t->impl[0], "%s", impl_of(&t->c.api, pd));
        t->c.api.primitive_desc_destroy(pd);
        if (dt == dnnl_bf16 && is_reference_impl(impl)) {
            lf_error_set(err, LF_ERR_INPUT, "oneDNN has only its reference kernel (%s) for a bf16 matmul here", impl);
            ok = false;
        }
    }
    if (!ok) {
        lf_error_prefix(err, "%d x %d tiles", kt, OC);
        bf16_dnnl_tiles_free(t);
        return NULL;
    }
    return t;
}

Bf16DnnlTiles *bf16_dnnl_tiles_create(int kt, int OC, LfError *err) { return tiles_create(dnnl_bf16, kt, OC, err); }

Bf16DnnlTiles *bf16_dnnl_tiles_create_f32(int kt, int OC, LfError *err) {
    return tiles_create(dnnl_f32, kt, OC, err);
}

bool bf16_dnnl_tiles_bf16(const Bf16DnnlTiles *t) { return t->c.dt == dnnl_bf16; }

/* Runs the tile product `kind` of `rows` rows over a tile of k rows. */
static void tile_run(Bf16DnnlTiles *t, TileKind kind, int rows, int k, float *dst, const void *src, const void *tile) {
    if (rows <= 0 || k <= 0) return;
    const Ctx *c = &t->c;
    const bool bwd = kind == TILE_BACKWARD;
    const int K = bwd ? t->OC : k, M = bwd ? k : t->OC;
    bool hit;
    Primitive *slot = cache_slot(t->cache, TILE_CACHED, rows, k, kind, &t->uses, &hit);
    if (!hit) {
        dnnl_primitive_desc_t pd = NULL;
        dnnl_primitive_t prim = NULL;
        dnnl_status_t st = tile_pd(t, kind, rows, k, &pd);
        require_success(c, primitive_make(c, st, pd, &prim), "no matmul for", rows, K, M);
        if (slot->prim) c->api.primitive_destroy(slot->prim);
        *slot = (Primitive){rows, k, kind, prim, NULL, ++t->uses};
    }
    const dnnl_memory_desc_t w = tile_weights_md(t, kind, k);
    require_success(c, execute(c, slot->prim, rows, K, M, src, NULL, &w, tile, dst), "a matmul failed:", rows, K, M);
}

void bf16_dnnl_tile_forward(Bf16DnnlTiles *t, float *out, const void *x, const void *tile, int N, int k,
                            bool accumulate) {
    tile_run(t, accumulate ? TILE_FORWARD_ADD : TILE_FORWARD, N, k, out, x, tile);
}

void bf16_dnnl_tile_backward(Bf16DnnlTiles *t, float *dx, const void *dy, const void *tile, int N, int k) {
    tile_run(t, TILE_BACKWARD, N, k, dx, dy, tile);
}

const char *bf16_dnnl_tiles_impl(const Bf16DnnlTiles *t, bool backward) { return t->impl[backward]; }

void bf16_dnnl_tiles_free(Bf16DnnlTiles *t) {
    if (!t) return;
    cache_free(&t->c.api, t->cache, TILE_CACHED);
    ctx_close(&t->c);
    free(t);
}
