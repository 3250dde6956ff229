/* modtree.h - the model's module tree, named as PyTorch names it.
 *
 * The same tree serves count-params, the LoRA injection pass (lora.h) and
 * the engine, which asks the injected tree where its adapters sit. Two
 * namings exist:
 *   MODTREE_LABS  the labs' GPTModel: tok_emb, pos_emb, trf_blocks.N.att.W_query
 *                 / W_key / W_value / out_proj, ff.layers.0 / ff.layers.2,
 *                 norm1, norm2, final_norm, out_head (its own weight).
 *   MODTREE_HF    Hugging Face GPT2LMHeadModel: transformer.wte, wpe,
 *                 h.N.attn.c_attn (fused QKV Conv1D), attn.c_proj, mlp.c_fc,
 *                 mlp.c_proj, ln_1, ln_2, ln_f, lm_head (tied to wte).
 */
#ifndef LORAFIT_MODTREE_H
#define LORAFIT_MODTREE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "lorafit/engine/config.h"
#include "lorafit/util/error.h"

typedef enum { MODTREE_LABS, MODTREE_HF } ModTreeStyle;

/* Where a Linear computes in the engine. Q/K/V are column slices of the
 * fused QKV product; SITE_QKV is all of it (HF c_attn). */
typedef enum {
    SITE_NONE = -1,
    SITE_Q,
    SITE_K,
    SITE_V,
    SITE_QKV,
    SITE_ATTN_OUT,
    SITE_FC,
    SITE_FC_PROJ,
    SITE_HEAD, /* out_head / lm_head / the classification head */
} LinearSite;

/* The stages of a block, bottom to top, each a frozen Linear the adapters
 * of its sites add into. The engine's forward runs them in this order; its
 * backward walks them down and stops below the lowest adapter. */
typedef enum {
    STAGE_NONE = -1, /* not in a block: the head */
    STAGE_QKV,       /* the QKV projection (SITE_Q, SITE_K, SITE_V, SITE_QKV) */
    STAGE_ATTN_OUT,  /* attention's output projection (SITE_ATTN_OUT) */
    STAGE_FC,        /* the MLP's expansion (SITE_FC) */
    STAGE_FC_PROJ,   /* the MLP's projection back (SITE_FC_PROJ) */
} BlockStage;

BlockStage linear_site_stage(LinearSite s);

typedef enum {
    MOD_CONTAINER,  /* GPTModel, TransformerBlock, Sequential, ModuleDict ... */
    MOD_EMBEDDING,
    MOD_LINEAR,     /* nn.Linear: weight [out, in] */
    MOD_CONV1D,     /* transformers' Conv1D: weight [in, out] */
    MOD_LAYERNORM,
    MOD_DROPOUT,
    MOD_ACTIVATION, /* GELU and friends: no parameters */
    MOD_IDENTITY,
    MOD_LORA_LINEAR, /* the wrapper: LinearWithLoRA (labs) or lora.Linear (PEFT) */
    MOD_LORA,        /* the labs' LoRALayer: parameters A [in, rank], B [rank, out] */
} ModuleKind;

typedef struct Module Module;
struct Module {
    char name[32];     /* attribute name in the parent: "W_query", "0" */
    char type[48];     /* class name as PyTorch prints it: "Linear", "LinearWithLoRA" */
    char extra[80];    /* what extra_repr() gives: "in_features=768, out_features=768, bias=True" */
    ModuleKind kind;
    int in_features, out_features; /* Linear, Conv1D, LoRA */
    bool bias;                     /* Linear, Conv1D */
    int num_embeddings, dim;       /* Embedding: [num_embeddings, dim]; LayerNorm: dim */
    double dropout_p;              /* Dropout */
    int layer;                     /* block index for modules inside a block, else -1 */
    LinearSite site;               /* for Linear / Conv1D and the LoRA wrapper */
    int rank;                      /* MOD_LORA_LINEAR, MOD_LORA */
    double alpha;                  /* MOD_LORA_LINEAR, MOD_LORA */
    bool trainable;                /* its own parameters get gradients */
    bool tied;                     /* its weight is another module's (HF lm_head): counted once */
    Module *parent;
    Module **children;
    int n_children;
};

typedef struct {
    Module *root;
    ModTreeStyle style;
    Gpt2Config cfg;
} ModTree;

typedef struct {
    int64_t trainable, total;             /* parameters */
    int tensors_trainable, tensors_frozen; /* parameter tensors */
} ParamCount;

/* Builds the untouched pretrained model: every parameter trainable, as
 * PyTorch creates it. */
bool modtree_build(ModTree *t, const Gpt2Config *cfg, ModTreeStyle style, LfError *err);
void modtree_free(ModTree *t);

/* Marks every parameter of the tree frozen (requires_grad = False). */
void modtree_freeze_all(ModTree *t);

/* Replaces out_head / lm_head by a trainable Linear(n_embd, num_classes)
 * with bias: the classification head. */
bool modtree_replace_head(ModTree *t, int num_classes, LfError *err);

ParamCount modtree_count(const ModTree *t);

/* The module's full dotted name ("trf_blocks.0.att.W_query") into buf. */
void modtree_path(const Module *m, char *buf, size_t size);

/* Depth-first visit in registration order (the order PyTorch prints). */
typedef void (*ModuleVisitor)(Module *m, void *ctx);
void modtree_walk(Module *m, ModuleVisitor visit, void *ctx);

/* The block at index `layer` (trf_blocks.N / transformer.h.N), or NULL. */
Module *modtree_block(const ModTree *t, int layer);

/* Prints `m` and its children as print(module) does in PyTorch. */
void modtree_print(const Module *m, FILE *out);

/* Growing the tree: only the injection pass (lora.c) should need these.
 * A new module with a NULL parent is an orphan until adopted; `extra` may be
 * NULL. modtree_swap() puts `replacement` where `old` was in old's parent
 * and leaves `old` an orphan. All return NULL / false when out of memory. */
Module *modtree_new_module(Module *parent, const char *name, const char *type, ModuleKind kind,
                           const char *extra);
bool modtree_adopt(Module *parent, Module *orphan);
void modtree_swap(Module *old, Module *replacement);

#endif
