/* bf16_dnnl_none.c - bf16_dnnl.h without oneDNN (-DLORAFIT_DNNL=OFF, or no
 * oneDNN found): it says so, and no primitive can be made. */
#include "lorafit/engine/bf16_dnnl.h"

#include <string.h>

void bf16_dnnl_info(Bf16DnnlInfo *info) { memset(info, 0, sizeof *info); }

static Bf16Dnnl *absent(LfError *err) {
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
