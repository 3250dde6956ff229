/* bf16_dnnl_none.c - bf16_dnnl.h without oneDNN (-DLORAFIT_DNNL=OFF, or no
 * oneDNN found): it says so, and no primitive can be made. */
#include "lorafit/engine/bf16_dnnl.h"

#include <string.h>

void bf16_dnnl_info(Bf16DnnlInfo *info) { memset(info, 0, sizeof *info); }

bool bf16_dnnl_built(void) { return false; }

static void *absent(LfError *err) {
    lf_error_set(err, LF_ERR_INPUT, "this lorafit was built without oneDNN");
    return NULL;
}

Bf16Dnnl *bf16_dnnl_create(const QuantMatrix *w, LfError *err) {
    (void)w;
    return absent(err);
}

Bf16Dnnl *bf16_dnnl_create_f32(const float *w, int IC, int OC, LfError *err) {
    (void)w, (void)IC, (void)OC;
    return absent(err);
}

/* Unreachable: there is no Bf16Dnnl to pass. */
void bf16_dnnl_forward(Bf16Dnnl *d, float *out, const float *inp, const float *bias, int N) {
    (void)d, (void)out, (void)inp, (void)bias, (void)N;
}

void bf16_dnnl_backward(Bf16Dnnl *d, float *dinp, const float *dout, int N, bool accumulate) {
    (void)d, (void)dinp, (void)dout, (void)N, (void)accumulate;
}

const char *bf16_dnnl_impl(const Bf16Dnnl *d, bool backward) {
    (void)d, (void)backward;
    return "";
}

size_t bf16_dnnl_bytes(const Bf16Dnnl *d) {
    (void)d;
    return 0;
}

void bf16_dnnl_free(Bf16Dnnl *d) { (void)d; }

Bf16DnnlTiles *bf16_dnnl_tiles_create(int kt, int OC, LfError *err) {
    (void)kt, (void)OC;
    return absent(err);
}

Bf16DnnlTiles *bf16_dnnl_tiles_create_f32(int kt, int OC, LfError *err) {
    (void)kt, (void)OC;
    return absent(err);
}

/* Unreachable as the above: there is no Bf16DnnlTiles to pass. */
bool bf16_dnnl_tiles_bf16(const Bf16DnnlTiles *t) {
    (void)t;
    return false;
}

void bf16_dnnl_tile_forward(Bf16DnnlTiles *t, float *out, const void *x, const void *tile, int N, int k,
                            bool accumulate) {
    (void)t, (void)out, (void)x, (void)tile, (void)N, (void)k, (void)accumulate;
}

void bf16_dnnl_tile_backward(Bf16DnnlTiles *t, float *dx, const void *dy, const void *tile, int N, int k) {
    (void)t, (void)dx, (void)dy, (void)tile, (void)N, (void)k;
}

const char *bf16_dnnl_tiles_impl(const Bf16DnnlTiles *t, bool backward) {
    (void)t, (void)backward;
    return "";
}

void bf16_dnnl_tiles_free(Bf16DnnlTiles *t) { (void)t; }
