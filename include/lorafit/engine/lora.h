/* lora.h - the LoRA injection pass over the module tree.
 *
 * lora_inject() does what the labs' replace_linear_with_lora() and PEFT's
 * get_peft_model() do: every Linear in the blocks whose name matches a
 * target becomes LinearWithLoRA (the frozen Linear plus a LoRALayer with
 * A [in, rank], B [rank, out]), and every other parameter is frozen. The
 * engine then asks lora_slots() where the adapters are.
 *
 * Targets match PEFT's way: a target matches a module whose full name equals
 * it or ends with "." + target. So "c_proj" matches attn.c_proj and
 * mlp.c_proj, "W_query" every block's query projection. A target that
 * matches nothing is an error naming it and the names that exist. */
#ifndef LORAFIT_LORA_H
#define LORAFIT_LORA_H

#include "lorafit/engine/modtree.h"

typedef enum {
    LORA_SCALE_RANK,  /* scale = alpha / rank (the labs' LoRALayer, PEFT) */
    LORA_SCALE_ALPHA, /* scale = alpha (the book's first LoRALayer) */
    LORA_SCALE_RSLORA, /* scale = alpha / sqrt(rank) (PEFT's use_rslora) */
} LoraScaling;

typedef enum {
    LORA_INIT_LABS, /* A [in, rank] ~ U(-1/sqrt(rank), 1/sqrt(rank)) (kaiming_uniform_, a=sqrt(5)) */
    LORA_INIT_PEFT, /* lora_A [rank, in] ~ U(-1/sqrt(in), 1/sqrt(in)) */
    LORA_INIT_NONE, /* every A zero, as B and the head: for weights loaded right after the build */
} LoraInit;

#define LORA_MAX_TARGETS 16

/* The ranges train accepts and an adapter config may hold: beyond them a
 * rank is an out-of-memory and an alpha turns every logit inf or NaN. */
#define LORA_RANK_MAX 65536
#define LORA_ALPHA_ABS_MAX 1e9

typedef struct {
    int rank;            /* default 8 */
    double alpha;        /* default 16 */
    LoraScaling scaling; /* default LORA_SCALE_RANK */
    LoraInit init;       /* default LORA_INIT_LABS */
    double dropout;      /* on the adapter's input, training only; default 0 */
    int n_targets;       /* 0 = every Linear in the blocks */
    char targets[LORA_MAX_TARGETS][48];
} LoraConfig;

/* The defaults above (rank 8, alpha 16, every Linear in the blocks). */
LoraConfig lora_config_default(void);

/* Parses "W_query,W_value" into lc->targets; an empty item or too many is an
 * LF_ERR_INPUT error. "all" means every Linear in the blocks. */
bool lora_config_set_targets(LoraConfig *lc, const char *list, LfError *err);

/* The tree naming the targets belong to: MODTREE_HF when they name HF
 * modules (c_attn, c_fc, c_proj, ...), else MODTREE_LABS. */
ModTreeStyle lora_targets_style(const LoraConfig *lc);

double lora_scale(const LoraConfig *lc);

/* Freezes the tree and wraps each targeted Linear. */
bool lora_inject(ModTree *t, const LoraConfig *lc, LfError *err);

/* One adapter in the injected tree. */
typedef struct {
    char name[96];     /* full name of the wrapped Linear: "trf_blocks.0.att.W_query" */
    int layer;         /* block index */
    LinearSite site;   /* where its output adds in: SITE_Q, SITE_QKV, SITE_FC ... */
    int in, out, rank;
    double alpha;
} LoraSlot;

/* The adapters in tree order (block 0 first, then within a block in module
 * order). Returns how many there are; writes at most `max` into out (out may
 * be NULL to just count). */
int lora_slots(const ModTree *t, LoraSlot *out, int max);

#endif
