/* bf16_dnnl.h - a frozen weight's GEMMs through oneDNN's matmul: bf16
 * inputs, fp32 sums and outputs (its AMX or AVX512-BF16 kernels).
 *
 * The only module that includes dnnl.h. Built when CMake finds oneDNN's
 * headers (LORAFIT_DNNL=AUTO|ON|OFF); otherwise bf16_dnnl_none.c stands
 * in: it says so in bf16_dnnl_info() and bf16_dnnl_create() fails. The
 * library (libdnnl.so.<major>) is opened with dlopen when a primitive or
 * the info is asked for, so that processes that never use it do not pay
 * for loading it.
 *
 * Per weight W [IC, OC] (the engine's Conv1D layout, row-major):
 *   forward   out [N, OC]  = bf16(inp) [N, IC] @ W
 *   backward  dinp [N, IC] = bf16(dout) [N, OC] @ W^T   (or += when accumulate)
 * one matmul primitive each per row count N, the last few counts kept (a
 * run meets two or three; oneDNN 2.6's fast kernels refuse a runtime N:
 * see bf16_dnnl.c). The forward's weights are
 * reordered once, at creation, into the layout its kernel wants (one copy
 * of W, 2 bytes a weight). The backward reads W where it is, as W^T through
 * strides (no second copy), unless oneDNN has only its reference kernel for
 * that, in which case it gets its own reordered copy too. The activations
 * are rounded to bf16 by bf16.h (nearest even, as the reference backend),
 * so the two backends multiply the same values; only the order of the fp32
 * sums differs. The bias is added after the product, as the reference does.
 *
 * oneDNN as Debian builds it runs on OpenMP (libgomp, as lorafit): it splits
 * each matmul over omp_get_max_threads(), i.e. lorafit's --threads.
 *
 * For the tests, bf16_dnnl_create_f32() builds the same primitives over an
 * fp32 weight with fp32 activations: oneDNN runs those on every x86 CPU, so
 * the plumbing (runtime rows, the transposed view, reorders, accumulate) is
 * tested where the bf16 kernels cannot run. */
#ifndef LORAFIT_BF16_DNNL_H
#define LORAFIT_BF16_DNNL_H

#include <stdbool.h>

#include "lorafit/engine/quant.h"
#include "lorafit/util/error.h"

typedef struct Bf16Dnnl Bf16Dnnl;

typedef struct {
    bool built;       /* lorafit was built with oneDNN's headers */
    bool loaded;      /* and its library opens (dlopen, at first use: not linked) */
    char load_error[256];
    char version[32]; /* "2.6.3" */
    char isa[64];     /* the ISA its kernels use on this CPU: "avx2", "avx512_core_amx" */
} Bf16DnnlInfo;

void bf16_dnnl_info(Bf16DnnlInfo *info);
/* Its `built`, without loading the library. */
bool bf16_dnnl_built(void);

/* The primitives for w (a QUANT_BF16 matrix [IC, OC], whose codes must
 * outlive the result). NULL with err set (LF_ERR_INPUT: oneDNN absent, or it
 * has no bf16 kernel for this CPU, naming its status) on failure. */
Bf16Dnnl *bf16_dnnl_create(const QuantMatrix *w, LfError *err);
/* The same primitives in fp32 over w [IC, OC] (kept by pointer), for the tests. */
Bf16Dnnl *bf16_dnnl_create_f32(const float *w, int IC, int OC, LfError *err);

/* out [N, OC] = inp @ W + bias (bias may be NULL). */
void bf16_dnnl_forward(Bf16Dnnl *d, float *out, const float *inp, const float *bias, int N);
/* dinp [N, IC] = (or += when accumulate) dout [N, OC] @ W^T. */
void bf16_dnnl_backward(Bf16Dnnl *d, float *dinp, const float *dout, int N, bool accumulate);

/* oneDNN's name of the kernel each direction uses ("brg:avx512_core_amx"). */
const char *bf16_dnnl_impl(const Bf16Dnnl *d, bool backward);
/* Bytes of the reordered weight copies it holds. */
size_t bf16_dnnl_bytes(const Bf16Dnnl *d);

void bf16_dnnl_free(Bf16Dnnl *d);

/* The quantized formats' bf16 tiles (quant_tiles.h): products over a tile
 * [k, OC] of W' that the caller decodes anew before each call, so the
 * primitives take it plain, by pointer (no reorder), and keep nothing of
 * it; one primitive per (rows, k, product), the last few kept as above.
 * Every operand is dense: the inputs x [N, k] and dy [N, OC], and the tile,
 * in bf16 (uint16_t, bf16.h's bits), or in fp32 for an object made by
 * bf16_dnnl_tiles_create_f32 (the tests' twin: oneDNN runs those
 * everywhere); the outputs fp32. */
typedef struct Bf16DnnlTiles Bf16DnnlTiles;

/* The primitives for tiles of at most kt rows of OC columns. NULL with err
 * set (LF_ERR_INPUT when oneDNN is absent, refuses, or has only its
 * reference loops for them at kt rows) on failure. */
Bf16DnnlTiles *bf16_dnnl_tiles_create(int kt, int OC, LfError *err);
Bf16DnnlTiles *bf16_dnnl_tiles_create_f32(int kt, int OC, LfError *err);
/* Whether its operands are bf16 (else fp32). */
bool bf16_dnnl_tiles_bf16(const Bf16DnnlTiles *t);

/* out [N, OC] = (or += when accumulate, oneDNN's sum post-op) x [N, k] @ tile [k, OC]. */
void bf16_dnnl_tile_forward(Bf16DnnlTiles *t, float *out, const void *x, const void *tile, int N, int k,
                            bool accumulate);
/* dx [N, k] = dy [N, OC] @ tile^T (the tile read through transposed strides). */
void bf16_dnnl_tile_backward(Bf16DnnlTiles *t, float *dx, const void *dy, const void *tile, int N, int k);

/* oneDNN's kernel for each direction at 1024 rows and kt. */
const char *bf16_dnnl_tiles_impl(const Bf16DnnlTiles *t, bool backward);
void bf16_dnnl_tiles_free(Bf16DnnlTiles *t);

#endif
