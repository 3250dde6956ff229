/* modtree.c - the GPT-2 module tree in the labs' and in Hugging Face's naming.
 * See include/lorafit/engine/modtree.h. */
#include "lorafit/engine/modtree.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

BlockStage linear_site_stage(LinearSite s) {
    switch (s) {
    case SITE_Q: case SITE_K: case SITE_V: case SITE_QKV: return STAGE_QKV;
    case SITE_ATTN_OUT: return STAGE_ATTN_OUT;
    case SITE_FC: return STAGE_FC;
    case SITE_FC_PROJ: return STAGE_FC_PROJ;
    default: return STAGE_NONE;
    }
}

/* ---- building nodes ---------------------------------------------------- */

static Module *node_new(Module *parent, const char *name, const char *type, ModuleKind kind) {
    Module *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    snprintf(m->name, sizeof m->name, "%s", name);
    snprintf(m->type, sizeof m->type, "%s", type);
    m->kind = kind;
    m->layer = parent ? parent->layer : -1;
    m->site = SITE_NONE;
    m->trainable = true; /* as PyTorch creates parameters: requires_grad=True */
    m->parent = parent;
    if (parent) {
        Module **grown = realloc(parent->children, (size_t)(parent->n_children + 1) * sizeof *grown);
        if (!grown) {
            free(m);
            return NULL;
        }
        parent->children = grown;
        parent->children[parent->n_children++] = m;
    }
    return m;
}

static void node_extra(Module *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void node_extra(Module *m, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->extra, sizeof m->extra, fmt, ap);
    va_end(ap);
}

static void node_free(Module *m) {
    if (!m) return;
    for (int i = 0; i < m->n_children; i++) node_free(m->children[i]);
    free(m->children);
    free(m);
}

/* The builders below return NULL only when malloc fails; the caller checks
 * the root once, and a failed child leaves a NULL that add_* tolerate by
 * checking `ok`. Keeping an `ok` flag avoids a check after every line. */
typedef struct {
    ModTreeStyle style;
    bool ok;
} Builder;

static Module *add(Builder *b, Module *parent, const char *name, const char *type, ModuleKind kind) {
    if (!b->ok) return NULL;
    Module *m = node_new(parent, name, type, kind);
    if (!m) b->ok = false;
    return m;
}

/* A Linear or a Conv1D: in -> out features at `site`. */
static Module *add_projection(Builder *b, Module *parent, const char *name, const char *type, ModuleKind kind,
                              int in, int out, bool bias, LinearSite site) {
    Module *m = add(b, parent, name, type, kind);
    if (m) {
        m->in_features = in;
        m->out_features = out;
        m->bias = bias;
        m->site = site;
    }
    return m;
}

static Module *add_linear(Builder *b, Module *parent, const char *name, int in, int out, bool bias,
                          LinearSite site) {
    Module *m = add_projection(b, parent, name, "Linear", MOD_LINEAR, in, out, bias, site);
    if (m) node_extra(m, "in_features=%d, out_features=%d, bias=%s", in, out, bias ? "True" : "False");
    return m;
}

/* transformers' Conv1D: a Linear with its weight stored [in, out]. */
static Module *add_conv1d(Builder *b, Module *parent, const char *name, int in, int out,
                          LinearSite site) {
    Module *m = add_projection(b, parent, name, "Conv1D", MOD_CONV1D, in, out, true, site);
    if (m) node_extra(m, "nf=%d, nx=%d", out, in);
    return m;
}

static Module *add_embedding(Builder *b, Module *parent, const char *name, int num, int dim) {
    Module *m = add(b, parent, name, "Embedding", MOD_EMBEDDING);
    if (!m) return NULL;
    m->num_embeddings = num;
    m->dim = dim;
    node_extra(m, "%d, %d", num, dim);
    return m;
}

/* The labs' LayerNorm is their own class (scale, shift; prints no extra);
 * Hugging Face uses nn.LayerNorm. Both have 2 * dim parameters. */
static Module *add_layernorm(Builder *b, Module *parent, const char *name, int dim) {
    Module *m = add(b, parent, name, "LayerNorm", MOD_LAYERNORM);
    if (!m) return NULL;
    m->dim = dim;
    if (b->style == MODTREE_HF) node_extra(m, "(%d,), eps=1e-05, elementwise_affine=True", dim);
    return m;
}

static Module *add_dropout(Builder *b, Module *parent, const char *name, double p) {
    Module *m = add(b, parent, name, "Dropout", MOD_DROPOUT);
    if (!m) return NULL;
    m->dropout_p = p;
    node_extra(m, "p=%.1f, inplace=False", p);
    return m;
}

/* ---- the two trees ----------------------------------------------------- */

/* Block `layer` of either tree, named by its index as nn.Sequential and
 * nn.ModuleList name their children. */
static Module *add_block(Builder *b, Module *parent, int layer, const char *type) {
    char name[16];
    snprintf(name, sizeof name, "%d", layer);
    Module *block = add(b, parent, name, type, MOD_CONTAINER);
    if (block) block->layer = layer;
    return block;
}

/* The labs' TransformerBlock (drop_rate 0.0 as in their fine-tuning config). */
static void build_labs_block(Builder *b, Module *blocks, int layer, const Gpt2Config *cfg) {
    int C = cfg->n_embd;
    Module *block = add_block(b, blocks, layer, "TransformerBlock");
    if (!block) return;
    Module *att = add(b, block, "att", "MultiHeadAttention", MOD_CONTAINER);
    add_linear(b, att, "W_query", C, C, cfg->qkv_bias, SITE_Q);
    add_linear(b, att, "W_key", C, C, cfg->qkv_bias, SITE_K);
    add_linear(b, att, "W_value", C, C, cfg->qkv_bias, SITE_V);
    add_linear(b, att, "out_proj", C, C, true, SITE_ATTN_OUT);
    add_dropout(b, att, "dropout", 0.0);
    Module *ff = add(b, block, "ff", "FeedForward", MOD_CONTAINER);
    Module *layers = add(b, ff, "layers", "Sequential", MOD_CONTAINER);
    add_linear(b, layers, "0", C, 4 * C, true, SITE_FC);
    add(b, layers, "1", "GELU", MOD_ACTIVATION);
    add_linear(b, layers, "2", 4 * C, C, true, SITE_FC_PROJ);
    add_layernorm(b, block, "norm1", C);
    add_layernorm(b, block, "norm2", C);
    add_dropout(b, block, "drop_shortcut", 0.0);
}

/* Hugging Face's GPT2Block (dropout 0.1 as in the published config). */
static void build_hf_block(Builder *b, Module *h, int layer, const Gpt2Config *cfg) {
    int C = cfg->n_embd;
    Module *block = add_block(b, h, layer, "GPT2Block");
    if (!block) return;
    add_layernorm(b, block, "ln_1", C);
    Module *attn = add(b, block, "attn", "GPT2Attention", MOD_CONTAINER);
    add_conv1d(b, attn, "c_attn", C, 3 * C, SITE_QKV);
    add_conv1d(b, attn, "c_proj", C, C, SITE_ATTN_OUT);
    add_dropout(b, attn, "attn_dropout", 0.1);
    add_dropout(b, attn, "resid_dropout", 0.1);
    add_layernorm(b, block, "ln_2", C);
    Module *mlp = add(b, block, "mlp", "GPT2MLP", MOD_CONTAINER);
    add_conv1d(b, mlp, "c_fc", C, 4 * C, SITE_FC);
    add_conv1d(b, mlp, "c_proj", 4 * C, C, SITE_FC_PROJ);
    add(b, mlp, "act", "NewGELUActivation", MOD_ACTIVATION);
    add_dropout(b, mlp, "dropout", 0.1);
}

/* What the two trees call the parts around their blocks. */
typedef struct {
    const char *root_type;
    const char *body, *body_type; /* HF's transformer (GPT2Model) holds the stack; NULL: the root does */
    const char *tok_emb, *pos_emb, *drop, *blocks, *blocks_type, *final_norm, *head;
    double drop_p;
    bool tied_head; /* HF's lm_head.weight is transformer.wte.weight */
    void (*build_block)(Builder *b, Module *blocks, int layer, const Gpt2Config *cfg);
} TreeNames;

static const TreeNames LABS_NAMES = {"GPTModel", NULL, NULL, "tok_emb", "pos_emb", "drop_emb", "trf_blocks",
                                     "Sequential", "final_norm", "out_head", 0.0, false, build_labs_block};
static const TreeNames HF_NAMES = {"GPT2LMHeadModel", "transformer", "GPT2Model", "wte", "wpe", "drop", "h",
                                   "ModuleList", "ln_f", "lm_head", 0.1, true, build_hf_block};

static Module *build_tree(Builder *b, const TreeNames *n, const Gpt2Config *cfg) {
    Module *root = add(b, NULL, "", n->root_type, MOD_CONTAINER);
    Module *body = n->body ? add(b, root, n->body, n->body_type, MOD_CONTAINER) : root;
    add_embedding(b, body, n->tok_emb, cfg->vocab_size, cfg->n_embd);
    add_embedding(b, body, n->pos_emb, cfg->n_ctx, cfg->n_embd);
    add_dropout(b, body, n->drop, n->drop_p);
    Module *blocks = add(b, body, n->blocks, n->blocks_type, MOD_CONTAINER);
    for (int l = 0; l < cfg->n_layer; l++) n->build_block(b, blocks, l, cfg);
    add_layernorm(b, body, n->final_norm, cfg->n_embd);
    Module *head = add_linear(b, root, n->head, cfg->n_embd, cfg->vocab_size, false, SITE_HEAD);
    if (head) head->tied = n->tied_head;
    return root;
}

bool modtree_build(ModTree *t, const Gpt2Config *cfg, ModTreeStyle style, LfError *err) {
    memset(t, 0, sizeof *t);
    if (!gpt2_config_validate(cfg, err)) return false;
    Builder b = {style, true};
    Module *root = build_tree(&b, style == MODTREE_HF ? &HF_NAMES : &LABS_NAMES, cfg);
    if (!b.ok) {
        node_free(root);
        lf_error_set(err, LF_ERR_IO, "out of memory building the module tree");
        return false;
    }
    t->root = root;
    t->style = style;
    t->cfg = *cfg;
    return true;
}

void modtree_free(ModTree *t) {
    if (!t) return;
    node_free(t->root);
    t->root = NULL;
}

/* ---- walking ----------------------------------------------------------- */

void modtree_walk(Module *m, ModuleVisitor visit, void *ctx) {
    if (!m) return;
    visit(m, ctx);
    for (int i = 0; i < m->n_children; i++) modtree_walk(m->children[i], visit, ctx);
}

static void freeze(Module *m, void *ctx) {
    (void)ctx;
    m->trainable = false;
}

void modtree_freeze_all(ModTree *t) { modtree_walk(t->root, freeze, NULL); }

static Module *child(const Module *m, const char *name) {
    for (int i = 0; m && i < m->n_children; i++)
        if (strcmp(m->children[i]->name, name) == 0) return m->children[i];
    return NULL;
}

Module *modtree_block(const ModTree *t, int layer) {
    if (layer < 0 || layer >= t->cfg.n_layer) return NULL;
    const Module *blocks = t->style == MODTREE_HF ? child(child(t->root, "transformer"), "h")
                                                  : child(t->root, "trf_blocks");
    return blocks && layer < blocks->n_children ? blocks->children[layer] : NULL;
}

void modtree_path(const Module *m, char *buf, size_t size) {
    /* Collect the chain up to (not including) the unnamed root, then join. */
    const Module *chain[32];
    int n = 0;
    for (const Module *p = m; p && p->parent && n < 32; p = p->parent) chain[n++] = p;
    size_t used = 0;
    buf[0] = '\0';
    for (int i = n - 1; i >= 0 && used < size; i--) {
        int w = snprintf(buf + used, size - used, "%s%s", i == n - 1 ? "" : ".", chain[i]->name);
        if (w < 0) break;
        used += (size_t)w;
    }
}

/* ---- replacing the head ----------------------------------------------- */

bool modtree_replace_head(ModTree *t, int num_classes, LfError *err) {
    if (num_classes < 2) {
        lf_error_set(err, LF_ERR_INPUT, "a classification head needs at least 2 classes, got %d",
                     num_classes);
        return false;
    }
    for (int i = 0; i < t->root->n_children; i++) {
        Module *m = t->root->children[i];
        if (m->site != SITE_HEAD) continue;
        /* Hugging Face calls the sequence-classification head "score". */
        snprintf(m->name, sizeof m->name, "%s", t->style == MODTREE_HF ? "score" : "out_head");
        m->out_features = num_classes;
        m->bias = true;
        m->tied = false;
        m->trainable = true;
        node_extra(m, "in_features=%d, out_features=%d, bias=True", m->in_features, num_classes);
        return true;
    }
    lf_error_set(err, LF_ERR_RUNTIME, "the module tree has no output head to replace");
    return false;
}

/* ---- counting ---------------------------------------------------------- */

/* The parameter tensors a module owns itself (not its children's): how many
 * and their total size, as named_parameters() would list them. */
static void own_parameters(const Module *m, int *tensors, int64_t *count) {
    int64_t in = m->in_features, out = m->out_features;
    *tensors = 0;
    *count = 0;
    switch (m->kind) {
    case MOD_EMBEDDING:
        *tensors = 1;
        *count = (int64_t)m->num_embeddings * m->dim;
        break;
    case MOD_LINEAR:
    case MOD_CONV1D:
        if (m->tied) break; /* the same tensor as the embedding: PyTorch lists it once */
        *tensors = m->bias ? 2 : 1;
        *count = in * out + (m->bias ? out : 0);
        break;
    case MOD_LAYERNORM:
        *tensors = 2;
        *count = 2 * (int64_t)m->dim;
        break;
    case MOD_LORA:
        *tensors = 2;
        *count = (int64_t)m->rank * (in + out);
        break;
    default:
        break;
    }
}

typedef struct {
    ParamCount pc;
} CountCtx;

static void count_visit(Module *m, void *ctx) {
    ParamCount *pc = &((CountCtx *)ctx)->pc;
    int tensors;
    int64_t count;
    own_parameters(m, &tensors, &count);
    pc->total += count;
    if (m->trainable) {
        pc->trainable += count;
        pc->tensors_trainable += tensors;
    } else {
        pc->tensors_frozen += tensors;
    }
}

ParamCount modtree_count(const ModTree *t) {
    CountCtx ctx = {{0, 0, 0, 0}};
    modtree_walk(t->root, count_visit, &ctx);
    return ctx.pc;
}

/* ---- printing like PyTorch's Module.__repr__ ---------------------------- */

static void print_indent(FILE *out, int depth) {
    for (int i = 0; i < depth; i++) fputs("  ", out);
}

static void print_module(const Module *m, FILE *out, int depth) {
    fprintf(out, "%s(", m->type);
    if (m->n_children == 0) {
        fprintf(out, "%s)", m->extra);
        return;
    }
    fputc('\n', out);
    if (m->extra[0]) {
        print_indent(out, depth + 1);
        fprintf(out, "%s\n", m->extra);
    }
    for (int i = 0; i < m->n_children; i++) {
        print_indent(out, depth + 1);
        fprintf(out, "(%s): ", m->children[i]->name);
        print_module(m->children[i], out, depth + 1);
        fputc('\n', out);
    }
    print_indent(out, depth);
    fputc(')', out);
}

void modtree_print(const Module *m, FILE *out) {
    print_module(m, out, 0);
    fputc('\n', out);
}

/* ---- growing the tree (the injection pass) ---------------------------- */

Module *modtree_new_module(Module *parent, const char *name, const char *type, ModuleKind kind,
                           const char *extra) {
    Module *m = node_new(parent, name, type, kind);
    if (m && extra) snprintf(m->extra, sizeof m->extra, "%s", extra);
    return m;
}

bool modtree_adopt(Module *parent, Module *orphan) {
    Module **grown = realloc(parent->children, (size_t)(parent->n_children + 1) * sizeof *grown);
    if (!grown) return false;
    parent->children = grown;
    parent->children[parent->n_children++] = orphan;
    orphan->parent = parent;
    return true;
}

void modtree_swap(Module *old, Module *replacement) {
    Module *parent = old->parent;
    for (int i = 0; parent && i < parent->n_children; i++)
        if (parent->children[i] == old) parent->children[i] = replacement;
    replacement->parent = parent;
    old->parent = NULL;
}
