/* optim.c - AdamW and gradient clipping. See include/lorafit/engine/optim.h. */
#include "lorafit/engine/optim.h"

#include <math.h>
#include <stdlib.h>

bool adamw_build(AdamW *opt, size_t n, float lr, float weight_decay, LfError *err) {
    opt->lr = lr;
    opt->beta1 = 0.9f;
    opt->beta2 = 0.999f;
    opt->eps = 1e-8f;
    opt->weight_decay = weight_decay;
    opt->step = 0;
    opt->n = n;
    /* m and v in one allocation */
    opt->m = calloc(2 * (n ? n : 1), sizeof(float));
    if (!opt->m) {
        lf_error_set(err, LF_ERR_IO, "out of memory for the optimizer state (%zu parameters)", n);
        opt->v = NULL;
        return false;
    }
    opt->v = opt->m + n;
    return true;
}

void adamw_free(AdamW *opt) {
    free(opt->m);
    opt->m = opt->v = NULL;
}

void adamw_step(AdamW *opt, float *params, const float *grads, size_t n) {
    opt->step++;
    /* The scalars as torch forms them: Python doubles, then used as float
     * scalars by the float kernels. */
    double b1 = opt->beta1, b2 = opt->beta2;
    double bc1 = 1.0 - pow(b1, opt->step);
    double bc2 = 1.0 - pow(b2, opt->step);
    const float decay = (float)(1.0 - (double)opt->lr * (double)opt->weight_decay);
    const float step_size = (float)((double)opt->lr / bc1);
    const float bc2_sqrt = (float)sqrt(bc2);
    const float one_m_b1 = (float)(1.0 - b1), one_m_b2 = (float)(1.0 - b2);
    const float beta1 = opt->beta1, beta2 = opt->beta2, eps = opt->eps;
    float *m = opt->m, *v = opt->v;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float g = grads[i];
        float p = params[i] * decay;
        m[i] = m[i] * beta1 + one_m_b1 * g;
        v[i] = v[i] * beta2 + one_m_b2 * g * g;
        float denom = sqrtf(v[i]) / bc2_sqrt + eps;
        params[i] = p - step_size * m[i] / denom;
    }
}

float grad_clip_norm(float *grads, size_t n, float max_norm) {
    /* in double: the sum of 10^6 squares loses little then; torch's fp32
     * norm differs from it only in the last bits */
    double ss = 0.0;
    for (size_t i = 0; i < n; i++) ss += (double)grads[i] * grads[i];
    float norm = (float)sqrt(ss);
    float coef = max_norm / (norm + 1e-6f);
    if (coef < 1.0f) {
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) grads[i] *= coef;
    }
    return norm;
}
