/* gpt2.h - the GPT-2 engine: LoRA fine-tuning of a frozen GPT-2 with a
 * classification head, or as a causal language model, forward and
 * backward on the CPU.
 *
 * The base weights (Gpt2Weights, Hugging Face layout) are frozen and never
 * get a gradient; what trains is every LoRA adapter's A and B and the
 * classification head. Those live in ONE allocation (`params`), their
 * gradients in one parallel allocation (`grads`), so the optimizer runs over
 * two flat arrays. Activations live in one allocation sized for max_B x
 * max_T at build time and are reused by every step.
 *
 * Adapter layout (whatever the init style): A [in, rank], B [rank, out],
 * y += scale * (x @ A) @ B, as the labs' LoRALayer stores them. PEFT's
 * lora_A.weight is A transposed and lora_B.weight is B transposed; a
 * checkpoint writer in PEFT naming transposes.
 * Head layout: torch nn.Linear, head_w [n_classes, C], head_b [n_classes],
 * logits = h @ head_w^T + head_b.
 *
 * Causal LM (n_classes == 0): no classification head; the LM head is tied
 * to the frozen wte (lm_head.h) and nothing but the adapters trains. The
 * loss is the mean next-token cross-entropy over the batch's counted
 * targets (Gpt2Batch.prompt_lengths), as torch's cross_entropy with
 * ignore_index=-100 over Hugging Face's shifted labels; every block runs at
 * every row, the head only at the target rows.
 *
 * Rows are packed: sequence b contributes L_b rows, L_b = lengths[b] for
 * POOL_LAST_TOKEN (padding is never computed: causality makes it irrelevant
 * to the real positions anyway) and L_b = T for POOL_LAST_POSITION (the
 * labs' padding tokens are real inputs, attended causally).
 *
 * Cost: the frozen layers get no weight gradients (only dX = dY W^T), LoRA
 * is two thin GEMMs, the top block runs only at the pooled rows, and the
 * backward stops below the lowest adapter.
 *
 * Threads: everything runs on OpenMP's threads (OMP_NUM_THREADS) when
 * OpenBLAS is set to one thread (OPENBLAS_NUM_THREADS=1 or
 * openblas_set_num_threads(1)): each thread then calls sgemm on its own
 * slice of the output. That is the fast setting on 2 cores; with OpenBLAS
 * threaded too, the two pools spin while the other works. (How long idle
 * threads spin is set at start-up: include/lorafit/cli/runtime.h.)
 *
 * Determinism: same seed, same thread count, same bits. The non-GEMM
 * kernels compute each row serially (their bits do not depend on the
 * thread count at all); GEMM slices depend only on the thread count.
 */
#ifndef LORAFIT_GPT2_H
#define LORAFIT_GPT2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lorafit/engine/config.h"
#include "lorafit/util/error.h"
#include "lorafit/engine/lm_head.h"
#include "lorafit/engine/lora.h"
#include "lorafit/util/rng.h"
#include "lorafit/engine/weights.h"

typedef enum {
    POOL_LAST_TOKEN,    /* each sequence read at lengths[b] - 1 */
    POOL_LAST_POSITION, /* every sequence read at T - 1 (the labs: right-padded with 50256) */
} Gpt2Pool;

/* One batch of B sequences of token ids (< vocab_size), in either layout:
 *  - dense (start NULL): tokens is a [B, T] array, row b sequence b, its
 *    padding included (positions >= lengths[b] are read only with
 *    POOL_LAST_POSITION);
 *  - packed (start given): sequence b is tokens[start[b] ..] and holds only
 *    its lengths[b] real ids, as a TokenSet keeps them (batch.h cuts such
 *    batches without copying an id); POOL_LAST_POSITION runs the positions
 *    lengths[b] .. T - 1 on pad_id, as if the ids had been padded with it.
 * T bounds the lengths, and is every sequence's length with
 * POOL_LAST_POSITION. */
typedef struct {
    const int32_t *tokens;
    const int *lengths;  /* [B] real lengths, 1..T (NULL = all T) */
    const int *labels;   /* [B] class ids in [0, n_classes), or NULL for inference */
    int B, T;
    const size_t *start; /* [B] where each sequence starts in tokens, or NULL (dense) */
    int pad_id;          /* packed with POOL_LAST_POSITION: the padding id */
    /* LM only (ignored by a classifier). Position t of sequence b
     * (t < lengths[b] - 1) predicts its token t + 1, and counts as a target
     * when t + 1 >= prompt_lengths[b]: a prompt's tokens are context only.
     * [B] with 0 <= prompt_lengths[b] < lengths[b]; NULL: every next token
     * counts (plain text). */
    const int *prompt_lengths;
    /* Training: the gradient is of the loss summed over this batch and
     * divided by grad_count, the count of the whole batch that ranks share
     * (its texts, or an LM's counted targets; dist.h); 0: this batch's own
     * count, the gradient of its mean loss. */
    int grad_count;
} Gpt2Batch;

/* One adapter as the engine runs it: a LoraSlot plus its effective scale. */
typedef struct {
    LinearSite site; /* SITE_Q/K/V/QKV, SITE_ATTN_OUT, SITE_FC, SITE_FC_PROJ */
    int layer;
    int in, out, rank;
    float scale;     /* alpha / rank, or alpha (LORA_SCALE_ALPHA) */
} Gpt2Adapter;

/* Activations of one forward, pointers into one allocation (see gpt2.c for
 * the sizes; with recomputation the per-block arrays but res3 hold one block,
 * see gpt2_set_recompute). N = packed rows of the batch (<= max_B * max_T). In a
 * classification forward the top block computes only what the head reads:
 * its qkv covers all N rows, but its atty, res2, ln2, fch, fch_gelu and
 * res3 hold B rows (row b = sequence b's pooled position). */
typedef struct {
    float *encoded;              /* [N, C] token + position embeddings */
    float *ln1, *ln1_mean, *ln1_rstd; /* [L, N, C], [L, N], [L, N] */
    float *qkv;                  /* [L, N, 3C] */
    float *att;                  /* [L, B, NH, T, T] softmax probabilities (row t uses t2 <= t) */
    float *atty;                 /* [L, N, C] attention output, before c_proj */
    float *res2;                 /* [L, N, C] residual after attention */
    float *ln2, *ln2_mean, *ln2_rstd; /* [L, N, C], [L, N], [L, N] */
    float *fch, *fch_gelu;       /* [L, N, 4C] */
    float *res3;                 /* [L, N, C] residual after the MLP = the block's output */
    float *lora_h;               /* per adapter [N, rank]: x @ A (after dropout) */
    /* head rows H: B pooled rows (classifier) or up to N target rows (LM) */
    float *pooled;               /* [H, C] final residual at the head's rows */
    float *lnf, *lnf_mean, *lnf_rstd; /* [H, C], [H], [H] */
    float *logits, *probs;       /* [B, n_classes] (classifier only) */
    /* backward scratch (gpt2_testing.h's gpt2_lm_logits borrows dres) */
    float *dlogits;              /* [B, n_classes] (classifier only) */
    float *dlnf, *dpooled;       /* [H, C]; an LM's dlnf is written by its training forward */
    float *dres;                 /* [N, C] gradient of the residual stream */
    float *dln;                  /* [N, C] */
    float *datty;                /* [N, C] */
    float *dqkv;                 /* [N, 3C] */
    float *dfch;                 /* [N, 4C] */
    float *datt;                 /* [att_slots, T, T] attention backward's, one per thread */
    float *dh;                   /* [N, max_rank] */
    float *drop;                 /* [N, max_in] dropped adapter input, only when dropout > 0 */
} Gpt2Acts;

typedef struct Gpt2Model {
    Gpt2Config cfg;
    const Gpt2Weights *w; /* frozen, not owned */
    int n_classes;        /* 0: a causal language model (lm below) */
    int max_B, max_T;
    int att_slots;               /* threads the attention backward may use (those at build) */
    LmHead lm;            /* LM only: the tied head, its targets and the last forward's totals */

    /* adapters */
    int n_adapters;
    Gpt2Adapter *adapters; /* [n_adapters] in slot order */
    float dropout;         /* PEFT's lora_dropout on the adapter input, training only */
    LoraInit init;
    int low_layer;         /* the lowest adapter's block (n_layer: none) ... */
    BlockStage low_stage;  /* ... and its stage there */

    /* trainable parameters: one allocation, named pointers into it */
    size_t n_params;
    float *params;
    float **lora_A, **lora_B; /* [n_adapters] -> A [in, rank], B [rank, out] */
    float *head_w, *head_b;   /* [n_classes, C], [n_classes] */
    /* their gradients: one parallel allocation, same offsets */
    float *grads;
    float **grad_A, **grad_B;
    float *grad_head_w, *grad_head_b;

    /* activations, one allocation */
    bool recompute;       /* gpt2_set_recompute: one shared slice of block intermediates */
    int keep_fch;         /* with it: the blocks below the top one whose fch is kept (the highest) */
    float *acts_memory;
    size_t n_acts;
    Gpt2Acts acts;

    /* what the last forward saw, for backward */
    int B, T, N;         /* batch shape and packed rows */
    int *seq_len;        /* [max_B] L_b */
    int *seq_off;        /* [max_B + 1] first packed row of each sequence */
    /* the top block's queries (the head reads nothing else): per sequence
     * its positions top_first .. top_len - 1, their rows from top_out on;
     * top_rows in all (a classifier's last positions, an LM's targets) */
    int *top_first, *top_len, *top_out;
    int top_rows;
    int *labels;         /* [max_B] */
    double *seq_loss;    /* [max_B] an inference forward's cross-entropy per sequence */
    bool have_labels, trained_forward;
    int grad_count;      /* what the training forward's gradient divides the loss sum by */
    double loss_sum;     /* a labelled forward's cross-entropy summed over its texts (an LM's targets) */
    uint64_t dropout_seed; /* the last training forward's dropout stream */
    Rng rng;             /* dropout masks; seeded from the build seed */
} Gpt2Model;

/* Builds the model over frozen weights `w` (kept by pointer: it must outlive
 * the model). One adapter per slot (lora_slots() of the injected tree);
 * n_slots may be 0 (head only). Each A is initialised per lc->init from a
 * PRNG seeded with `seed` (labs: U(+-1/sqrt(rank)); PEFT: U(+-1/sqrt(in))),
 * every B is zero, and the head is torch.nn.Linear's default init
 * (U(+-1/sqrt(C)) for weight and bias) from the same stream, in that order;
 * with LORA_INIT_NONE all of them stay zero (a load replaces them).
 * Scale per adapter from lc->scaling and the slot's alpha and rank;
 * dropout from lc->dropout. The activations are sized for max_B sequences
 * of max_T tokens (max_T <= n_ctx). n_classes == 0 builds a causal LM:
 * no head parameters (the A init draws are the same), the LM head tied to
 * w->wte. */
bool gpt2_build(Gpt2Model *m, const Gpt2Weights *w, const LoraSlot *slots, int n_slots,
                const LoraConfig *lc, int n_classes, int max_B, int max_T, uint64_t seed,
                LfError *err);
void gpt2_free(Gpt2Model *m);

/* Forward over a batch (B <= max_B, T <= max_T). Writes the classification
 * logits [B, n_classes] to `logits` when it is not NULL (they are also in
 * m->acts.logits) and their softmax to m->acts.probs. Returns the mean
 * cross-entropy over the batch when b->labels != NULL, else 0; NaN (nothing
 * computed) when the batch does not fit the build or a length is outside
 * 1..T. `training` turns on LoRA dropout and allows a following
 * gpt2_backward(); its softmax is float, as torch's fp32 cross_entropy that
 * the gradient follows. Without `training` the probabilities are for
 * reading: computed in double and rounded once (softmax_forward in
 * kernels.h), with each sequence's loss in m->seq_loss when labelled.
 *
 * A causal LM (n_classes == 0) takes packed or dense rows with
 * POOL_LAST_TOKEN (NaN for POOL_LAST_POSITION or a prompt length outside
 * 0..lengths[b] - 1; padding is never computed: it would not change the
 * real positions, and padded targets do not count) and returns the mean
 * next-token cross-entropy over the counted targets of the whole batch (0
 * when none counts); m->lm.n, m->lm.loss_sum and m->lm.hits hold the
 * count, the sum and the argmax hits, for a loss per token over many
 * batches. `logits` is not written (the [N, V] logits never exist).
 * `training` also forms the head's gradient for gpt2_backward. */
float gpt2_forward(Gpt2Model *m, const Gpt2Batch *b, Gpt2Pool pool, bool training, float *logits);

/* After a training forward with labels (a classifier) or of an LM: sets
 * m->grads to the gradient of the mean cross-entropy (overwrites; no
 * accumulation across calls). */
void gpt2_backward(Gpt2Model *m);

/* Activation recomputation (gradient checkpointing), off after gpt2_build.
 * On, the forward keeps only each block's output (its res3, the next
 * block's input): every block writes its other intermediates into one
 * shared slice, and the backward runs each block's forward again from its
 * input just before going back through it, one block at a time. The same
 * kernels in the same order: losses and gradients are bit for bit those
 * without it. It costs a second forward of every block below the top one
 * (without the MLP's output projection, which the backward does not read)
 * and saves (n_layer - 1) / n_layer of the per-block activations: at
 * gpt2-small's 8 x 120, about 580 of 630 MB.
 * keep_bytes buys part of the cost back: the MLP's pre-activation (fch,
 * [N, 4C]) of the highest blocks below the top one, as many as fit in
 * keep_bytes at max_B x max_T rows, is kept from the forward, so their
 * recomputation skips the fc product (half of what it multiplies) and its
 * adapters. Each byte kept saves about the same work whichever activation
 * it holds (a column of a product per row), and fch's dependents are all
 * cheap to recompute. GPT2_RECOMPUTE_KEEP_BYTES is the default.
 * Re-lays out (reallocates) the activations: call it between steps, not
 * between a forward and its backward. False (err set) when the memory
 * cannot be had. */
bool gpt2_set_recompute(Gpt2Model *m, bool on, size_t keep_bytes, LfError *err);

/* 96 MiB: gpt2-small at 8 x 120 keeps 8 of its 11 blocks below the top
 * (11.25 MiB each), its nf4 training run peaking near 300 MiB, well inside
 * the 350 MB that QLoRA-style training of it should take (issue 14). */
#define GPT2_RECOMPUTE_KEEP_BYTES ((size_t)96 << 20)

/* Whether the backward carries the gradient below stage s of block `layer`:
 * whether an adapter sits lower (in a lower block, or lower in this one).
 * Below the lowest adapter nothing trains, and the backward stops there. */
bool gpt2_grad_below(const Gpt2Model *m, int layer, BlockStage s);

#endif
