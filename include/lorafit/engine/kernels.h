/* kernels.h - the GPT-2 layers as pairs of free functions over raw float
 * arrays, in the manner of llm.c: `<layer>_forward` / `<layer>_backward`.
 *
 * Shapes are in the comments; N is a count of rows (packed tokens), C the
 * width. Matrices are row-major. Weights follow Hugging Face's Conv1D layout
 * W [in, out] so y = x @ W + b. Backward functions only compute what LoRA
 * fine-tuning needs: gradients to the inputs of frozen layers, never to
 * their weights.
 *
 * Attention runs over packed sequences: sequence b owns rows
 * off[b] .. off[b] + len[b] - 1 and attends causally within them.
 *
 * Non-GEMM kernels split independent rows over OpenMP threads (static
 * schedule) and compute each row serially: the bits do not depend on the
 * thread count. Every matrix product, here and in gpt2.c, goes through
 * gemm() below: cblas_sgemm split by output slices over the OpenMP threads
 * when OpenBLAS itself runs one thread (see gpt2.h); inside a parallel
 * region (attention's per-head products) it calls sgemm directly. */
#ifndef LORAFIT_KERNELS_H
#define LORAFIT_KERNELS_H

#include <stdbool.h>
#include <stdint.h>

/* C [M, N] = alpha op(A) op(B) + beta C (row-major, leading dimensions as
 * BLAS; op transposes when ta / tb): cblas_sgemm, split by output slices
 * over the OpenMP threads when OpenBLAS runs one thread, and a direct call
 * for small products or inside a parallel region. Every GEMM of the engine
 * goes through it, and `lorafit bench` times its ceiling with it. */
void gemm(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
          int ldb, float beta, float *C, int ldc);

/* One sequence of len positions, of which the first n_ids are given:
 * out[t, :] = wte[id, :] + wpe[t, :] with id = ids[t] for t < n_ids and
 * pad_id beyond (padding without a padded copy of the ids).
 * out [len, C], wte [V, C], wpe [n_ctx, C]. */
void encoder_forward(float *out, const int32_t *ids, int n_ids, int pad_id, int len, const float *wte,
                     const float *wpe, int C);

/* out = (inp - mean) * rstd * w + b per row, eps 1e-5, biased variance (as
 * torch.nn.LayerNorm). out, inp [N, C]; mean, rstd [N] (may be NULL when no
 * backward follows); w, b [C]. */
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                       const float *b, int N, int C);
/* dinp += d(layernorm)/d(inp) applied to dout; no dw/db (frozen).
 * dinp, dout, inp [N, C]; w [C]; mean, rstd [N] from the forward. */
void layernorm_backward(float *dinp, const float *dout, const float *inp, const float *w,
                        const float *mean, const float *rstd, int N, int C);

/* out [N, OC] = inp [N, IC] @ w [IC, OC] + bias [OC] (bias may be NULL). */
void matmul_forward(float *out, const float *inp, const float *w, const float *bias, int N, int IC,
                    int OC);
/* dinp [N, IC] (=, or += when accumulate) dout [N, OC] @ w[IC, OC]^T.
 * The frozen weight gets no gradient. */
void matmul_backward(float *dinp, const float *dout, const float *w, int N, int IC, int OC,
                     int accumulate);

/* A low-rank update (LoRA's on one Linear), as two thin GEMMs (A @ B is
 * never formed):
 * h [N, r] = x [N, in] @ A [in, r]; out [N, out] (row stride ldo) += scale * h @ B [r, out].
 * x has row stride ldx. */
void lowrank_forward(float *out, int ldo, float *h, const float *x, int ldx, const float *A,
                     const float *B, float scale, int N, int in, int r, int out_dim);
/* Given dout [N, out] (row stride ldo):
 * dB [r, out] = scale * h^T @ dout; dh [N, r] = scale * dout @ B^T;
 * dA [in, r] = x^T @ dh; dx [N, in] (row stride ldx) += dh @ A^T unless dx is NULL.
 * dA and dB are overwritten. */
void lowrank_backward(float *dA, float *dB, float *dx, int ldx, float *dh, const float *dout, int ldo,
                      const float *x, const float *h, const float *A, const float *B, float scale,
                      int N, int in, int r, int out_dim);

/* Inverted dropout with a mask drawn from seed: out = inp * keep / (1 - p).
 * Row n's mask comes from its own stream (seed, n), so the bits do not
 * depend on the thread count. inp, out [N, D] (may alias); p in [0, 1). */
void dropout_forward(float *out, const float *inp, uint64_t seed, float p, int N, int D);

/* Which rows causal attention reads and writes, per sequence b: keys and
 * values at packed rows off[b] .. off[b] + len[b] - 1 of qkv, queries at
 * its positions first[b] .. len[b] - 1 (every position when first is NULL),
 * their outputs at rows out[b], out[b] + 1, ... A single query given by
 * first = len - 1 (a pooled head's) is computed with dot products; more
 * queries (or every one) with GEMMs per sequence and head, all six per
 * tile of 48 queries or keys on the causal triangle only. */
typedef struct {
    const int *off, *len, *first, *out;
} AttnRows;

/* Causal multi-head attention over packed sequences.
 * qkv [N, 3C] (q | k | v, heads contiguous within each), att [B, NH, T, T]:
 * softmax probabilities, row t for each query t (filled for t2 <= t and,
 * on the GEMM path, zeros from t + 1 to the end of t's tile of 48 queries,
 * which is all the backward reads); out [rows, C]. */
void attention_forward(float *out, float *att, const float *qkv, const AttnRows *r, int B, int T, int C,
                       int NH);
/* dqkv = gradient through attention from dout (the forward's output rows),
 * overwritten at rows off[b] .. off[b] + len[b] - 1 (the caller owns any
 * other). scratch [slots, T, T]: at most `slots` threads run it. */
void attention_backward(float *dqkv, float *scratch, int slots, const float *dout, const float *qkv,
                        const float *att, const AttnRows *r, int B, int T, int C, int NH);

/* GELU, tanh approximation (torch's approximate='tanh'). out, inp [n]. */
void gelu_forward(float *out, const float *inp, long n);
/* dinp [n] = gelu'(inp) * dout; dinp may alias dout. */
void gelu_backward(float *dinp, const float *inp, const float *dout, long n);

/* out [n] = a + b. */
void residual_forward(float *out, const float *a, const float *b, long n);

/* Softmax cross-entropy over class logits, as torch.nn.functional.cross_entropy.
 * probs, logits [B, K]; labels [B]. Returns the loss summed over the batch in
 * double (torch's mean is (float)(sum / B)). */
double crossentropy_forward(float *probs, const float *logits, const int *labels, int B, int K);
/* The class probabilities a person reads, where no gradient follows: the
 * softmax in double, each probability rounded once to float, and (when
 * labels is not NULL) loss[b] = -log softmax(logits[b])[labels[b]] in
 * double, which eval sums over a whole set and prints to 17 digits. */
void softmax_forward(float *probs, double *loss, const float *logits, const int *labels, int B, int K);
/* dlogits [B, K] = (probs - onehot(labels)) / count: the gradient of the
 * loss summed over the batch and divided by count (B for the batch's mean;
 * the whole batch's size when ranks share it, dist.h). */
void crossentropy_backward(float *dlogits, const float *probs, const int *labels, int B, int K, int count);

/* Next-token cross-entropy over a vocabulary, row by row (the LM head's
 * loss, one chunk of rows at a time): loss[n] = -log softmax(z[n])[targets[n]]
 * (the exponentials in float as torch's fp32 log_softmax, their sum and the
 * log in double) and hit[n] = whether targets[n] is the first argmax of
 * z[n]. With dscale > 0 the logits are overwritten with their gradient
 * dscale * (softmax(z[n]) - onehot(targets[n])) short of one factor per row:
 * z[n] becomes e^(z[n] - max) with its sum subtracted at the target, and
 * scale[n] = dscale / that sum (the caller applies it after its GEMM: a pass
 * over N x V floats fewer). Without dscale, z is left alone and scale
 * unused (may be NULL). z [N, V], loss [N], hit [N], scale [N]. */
void crossentropy_rows(float *z, double *loss, int *hit, float *scale, const int32_t *targets, int N, int V,
                       float dscale);

/* x[n] [C] *= s[n] for each of the N rows. */
void scale_rows(float *x, const float *s, int N, int C);

#endif
