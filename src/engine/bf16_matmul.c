/* bf16_matmul.c - bf16 GEMMs: the backend choice and the reference. See
 * include/lorafit/engine/bf16_matmul.h. */
#include "lorafit/engine/bf16_matmul.h"

#include <stdio.h>
#include <stdlib.h>

#include "lorafit/engine/bf16.h"
#include "lorafit/engine/bf16_dnnl.h"
#include "lorafit/engine/quant_matmul.h"
#include "lorafit/util/cpu.h"
#include "lorafit/util/mem.h"

/* x [n] rounded to bf16 values, in a buffer of the caller's to free. */
static float *rounded_copy(const float *x, size_t n) {
    float *r = mem_alloc_or_abort(n * sizeof *r, "bf16-rounded inputs");
    bf16_round_array(r, x, n);
    return r;
}

void bf16_reference_forward(float *out, const float *inp, const QuantMatrix *w, const float *bias, int N, int IC,
                            int OC) {
    if (N <= 0) return;
    float *x = rounded_copy(inp, (size_t)N * IC);
    qmatmul_forward_tiled(out, x, w, bias, N, IC, OC);
    free(x);
}

void bf16_reference_backward(float *dinp, const float *dout, const QuantMatrix *w, int N, int IC, int OC,
                             int accumulate) {
    if (N <= 0) return;
    float *dy = rounded_copy(dout, (size_t)N * OC);
    qmatmul_backward_tiled(dinp, dy, w, N, IC, OC, accumulate);
    free(dy);
}

void bf16_matmul_forward(float *out, const float *inp, const QuantMatrix *w, const float *bias, int N, int IC,
                         int OC) {
    if (w->dnnl) bf16_dnnl_forward(w->dnnl, out, inp, bias, N);
    else bf16_reference_forward(out, inp, w, bias, N, IC, OC);
}

void bf16_matmul_backward(float *dinp, const float *dout, const QuantMatrix *w, int N, int IC, int OC,
                          int accumulate) {
    if (w->dnnl) bf16_dnnl_backward(w->dnnl, dinp, dout, N, accumulate != 0);
    else bf16_reference_backward(dinp, dout, w, N, IC, OC, accumulate);
}

/* The CPU's bf16 instructions oneDNN can use, or NULL. */
static const char *cpu_bf16_kind(const CpuInfo *c) {
    return cpu_can_amx_bf16(c) ? "AMX-BF16" : cpu_can_avx512_bf16(c) ? "AVX512-BF16" : NULL;
}

bool bf16_usable(LfError *err) {
    CpuInfo cpu;
    cpu_detect(&cpu);
    Bf16DnnlInfo info = {.built = bf16_dnnl_built()};
    /* loading oneDNN costs every process about 7 ms (nf4's classify asks
     * too, for its tiles): only where its bf16 kernels can run */
    if (cpu_bf16_kind(&cpu)) bf16_dnnl_info(&info);
    if (info.built && info.loaded && cpu_bf16_kind(&cpu)) return true;
    char features[512];
    cpu_features_text(&cpu, features, sizeof features);
    const char *name = cpu.model_name[0] ? cpu.model_name : "unknown";
    if (!cpu_bf16_kind(&cpu))
        lf_error_set(err, LF_ERR_INPUT,
                     "--base-dtype bf16 needs a CPU with AVX512-BF16 or AMX-BF16 (oneDNN's bf16 kernels)%s: this "
                     "CPU, %s, has %s; use fp32 (the default) here",
                     info.built ? "" : " and a lorafit built with oneDNN (libdnnl-dev; this one was built without it)",
                     name, features);
    else if (!info.built)
        lf_error_set(err, LF_ERR_INPUT,
                     "--base-dtype bf16 runs on oneDNN, and this lorafit was built without it: install libdnnl-dev "
                     "and build again (cmake -DLORAFIT_DNNL=ON); this CPU, %s, has %s",
                     name, features);
    else
        lf_error_set(err, LF_ERR_INPUT, "--base-dtype bf16 runs on oneDNN: %s (install libdnnl-dev)",
                     info.load_error);
    return false;
}

static void detach_all(QuantWeights *qw, int n) {
    for (int k = 0; k < n; k++) {
        bf16_dnnl_free(qw->mats[k].dnnl);
        qw->mats[k].dnnl = NULL;
    }
}

bool bf16_weights_use_dnnl(QuantWeights *qw, LfError *err) {
    if (!bf16_usable(err)) return false;
    const int n = qw->w.cfg.n_layer * QUANT_MATS_PER_LAYER;
    for (int k = 0; k < n; k++) {
        QuantMatrix *q = &qw->mats[k];
        if (q->dtype != QUANT_BF16) continue;
        if (!(q->dnnl = bf16_dnnl_create(q, err))) {
            lf_error_prefix(err, "h.%d.%s", k / QUANT_MATS_PER_LAYER,
                            quant_block_matrices[k % QUANT_MATS_PER_LAYER].name);
            detach_all(qw, k);
            return false;
        }
    }
    return true;
}

void bf16_describe(char *buf, size_t size) {
    Bf16DnnlInfo info;
    bf16_dnnl_info(&info);
    CpuInfo cpu;
    cpu_detect(&cpu);
    const char *kind = cpu_bf16_kind(&cpu);
    if (!info.built)
        snprintf(buf, size, "not built in; --base-dtype bf16 unusable: no oneDNN%s",
                 kind ? "" : ", and this CPU has no AVX512-BF16 nor AMX-BF16");
    else if (!info.loaded)
        snprintf(buf, size, "built in, but %s; --base-dtype bf16 unusable", info.load_error);
    else if (kind)
        snprintf(buf, size, "%s, kernels for %s; --base-dtype bf16 runs on its %s kernels", info.version, info.isa,
                 kind);
    else
        snprintf(buf, size, "%s, kernels for %s; --base-dtype bf16 unusable: this CPU has no AVX512-BF16 nor AMX-BF16",
                 info.version, info.isa);
}
