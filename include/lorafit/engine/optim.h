/* optim.h - AdamW over flat parameter arrays, and gradient-norm clipping.
 *
 * adamw_step() is torch.optim.AdamW's update (torch 1.13, single-tensor
 * path) applied elementwise:
 *   step += 1
 *   p *= 1 - lr * weight_decay            (decoupled decay, before the moments)
 *   m = beta1 * m + (1 - beta1) * g
 *   v = beta2 * v + (1 - beta2) * g * g
 *   p -= lr / (1 - beta1^step) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps)
 * The decay applies to every parameter handed over (the labs pass all
 * trainable parameters, LoRA and head, to one AdamW). */
#ifndef LORAFIT_OPTIM_H
#define LORAFIT_OPTIM_H

#include <stdbool.h>
#include <stddef.h>

#include "lorafit/util/error.h"

typedef struct {
    float lr, beta1, beta2, eps, weight_decay;
    int step;  /* updates done so far */
    size_t n;  /* parameters */
    float *m;  /* [n] first moment */
    float *v;  /* [n] second moment */
} AdamW;

/* torch's defaults besides lr: betas (0.9, 0.999), eps 1e-8. Moments start at 0. */
bool adamw_build(AdamW *opt, size_t n, float lr, float weight_decay, LfError *err);
void adamw_free(AdamW *opt);
/* One update of params [n] with grads [n] (n must equal opt->n). */
void adamw_step(AdamW *opt, float *params, const float *grads, size_t n);

/* torch.nn.utils.clip_grad_norm_ over one flat array: the total 2-norm;
 * when it exceeds max_norm the grads are scaled by max_norm / (norm + 1e-6).
 * Returns the norm before clipping. */
float grad_clip_norm(float *grads, size_t n, float max_norm);

#endif
