/* gpt2.c - GPT-2 forward/backward for LoRA fine-tuning. See include/lorafit/engine/gpt2.h
 * (and gpt2_testing.h for the two functions only tests call). One unit of
 * about 700 lines: forward and backward share the activations' layout (with
 * or without recomputation) and the rows' bookkeeping (packed rows, the top
 * block's rows). */
#include "lorafit/engine/gpt2.h"
#include "lorafit/engine/gpt2_testing.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/engine/kernels.h"
#include "lorafit/engine/quant_matmul.h"
#include "lorafit/util/mem.h"

/* ---------------------------------------------------------------------------
 * adapters: where each site reads its input and adds its output */

/* Column offset of the site's output inside the product it adds to (the
 * fused q | k | v for the separate Q, K, V). */
static int site_column(LinearSite s, int C) {
    return s == SITE_K ? C : s == SITE_V ? 2 * C : 0;
}

static bool site_dims(LinearSite s, int C, int *in, int *out) {
    switch (s) {
    case SITE_Q: case SITE_K: case SITE_V: case SITE_ATTN_OUT: *in = C; *out = C; return true;
    case SITE_QKV: *in = C; *out = 3 * C; return true;
    case SITE_FC: *in = C; *out = 4 * C; return true;
    case SITE_FC_PROJ: *in = 4 * C; *out = C; return true;
    default: return false;
    }
}

static const char *site_name(LinearSite s) {
    static const char *names[] = {"q", "k", "v", "qkv", "attn_out", "fc", "fc_proj", "head"};
    return s >= 0 && s <= SITE_HEAD ? names[s] : "none";
}

/* ---------------------------------------------------------------------------
 * lifecycle */

static size_t max_rows(const Gpt2Model *m) { return (size_t)m->max_B * m->max_T; }

static float *lora_h(const Gpt2Model *m, int i) {
    int R = 1;
    for (int j = 0; j < m->n_adapters; j++)
        if (m->adapters[j].rank > R) R = m->adapters[j].rank;
    return m->acts.lora_h + (size_t)i * max_rows(m) * R;
}

/* Lays out (when base != NULL) or just sizes the activations. */
static size_t layout_acts(Gpt2Model *m, float *base) {
    const size_t NL = (size_t)m->cfg.n_layer, C = (size_t)m->cfg.n_embd, NH = (size_t)m->cfg.n_head;
    const size_t NS = m->recompute ? 1 : NL; /* slices of the per-block intermediates */
    const size_t NF = NS + (size_t)m->keep_fch; /* fch's: and one a kept block */
    const size_t Nmax = max_rows(m), Bm = (size_t)m->max_B, Tm = (size_t)m->max_T;
    const size_t K = (size_t)m->n_classes;
    const size_t H = K ? Bm : Nmax; /* the head's rows: pooled, or LM targets */
    const size_t HL = K ? H : (size_t)lm_head_input_rows((int)H); /* lnf: the LM head reads whole panels */
    size_t R = 1, Imax = 1;
    for (int i = 0; i < m->n_adapters; i++) {
        if ((size_t)m->adapters[i].rank > R) R = (size_t)m->adapters[i].rank;
        if ((size_t)m->adapters[i].in > Imax) Imax = (size_t)m->adapters[i].in;
    }
    struct { float **ptr; size_t n; } parts[] = {
        {&m->acts.encoded, Nmax * C},
        {&m->acts.ln1, NS * Nmax * C},
        {&m->acts.ln1_mean, NS * Nmax},
        {&m->acts.ln1_rstd, NS * Nmax},
        {&m->acts.qkv, NS * Nmax * 3 * C},
        {&m->acts.att, NS * Bm * NH * Tm * Tm},
        {&m->acts.atty, NS * Nmax * C},
        {&m->acts.res2, NS * Nmax * C},
        {&m->acts.ln2, NS * Nmax * C},
        {&m->acts.ln2_mean, NS * Nmax},
        {&m->acts.ln2_rstd, NS * Nmax},
        {&m->acts.fch, NF * Nmax * 4 * C},
        {&m->acts.fch_gelu, NS * Nmax * 4 * C},
        {&m->acts.res3, NL * Nmax * C},
        {&m->acts.lora_h, (size_t)m->n_adapters * Nmax * R},
        {&m->acts.pooled, H * C},
        {&m->acts.lnf, HL * C},
        {&m->acts.lnf_mean, H},
        {&m->acts.lnf_rstd, H},
        {&m->acts.logits, Bm * K},
        {&m->acts.probs, Bm * K},
        {&m->acts.dlogits, Bm * K},
        {&m->acts.dlnf, H * C},
        {&m->acts.dpooled, H * C},
        {&m->acts.dres, Nmax * C},
        {&m->acts.dln, Nmax * C},
        {&m->acts.datty, Nmax * C},
        {&m->acts.dqkv, Nmax * 3 * C},
        {&m->acts.dfch, Nmax * 4 * C},
        {&m->acts.datt, (size_t)m->att_slots * Tm * Tm},
        {&m->acts.dh, Nmax * R},
        {&m->acts.drop, m->dropout > 0.0f ? Nmax * Imax : 0},
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (base) *parts[i].ptr = parts[i].n ? base + total : NULL;
        total += parts[i].n;
    }
    return total;
}

enum { PREFAULT_ACTS_MAX_BYTES = 64 << 20 };

/* (Re)allocates the activations for the current layout. */
static bool alloc_acts(Gpt2Model *m, LfError *err) {
    free(m->acts_memory);
    m->n_acts = layout_acts(m, NULL);
    /* The buffers are sized for max_B x max_T rows, and a batch of real
     * lengths uses only some of them: untouched pages cost no memory, so
     * training's (hundreds of MB) fault in as used. A short run's few MB
     * (classify: one message) are mapped at once, in 2 MB pages where the
     * kernel allows: 20 ms less than a fault per page on this project's VMs. */
    size_t acts_bytes = m->n_acts * sizeof(float);
    bool small = acts_bytes <= PREFAULT_ACTS_MAX_BYTES;
    m->acts_memory = small ? mem_alloc_huge(acts_bytes) : malloc(acts_bytes);
    if (!m->acts_memory) {
        lf_error_set(err, LF_ERR_IO, "out of memory for the activations (%d x %d tokens)", m->max_B, m->max_T);
        return false;
    }
    if (small) mem_prefault(m->acts_memory, acts_bytes);
    layout_acts(m, m->acts_memory);
    return true;
}

bool gpt2_set_recompute(Gpt2Model *m, bool on, size_t keep_bytes, LfError *err) {
    m->trained_forward = false; /* a forward's activations do not survive the new layout */
    const size_t fch_bytes = max_rows(m) * 4 * (size_t)m->cfg.n_embd * sizeof(float);
    size_t keep = on && fch_bytes ? keep_bytes / fch_bytes : 0;
    if (keep > (size_t)m->cfg.n_layer - 1) keep = (size_t)m->cfg.n_layer - 1;
    if (m->recompute == on && (size_t)m->keep_fch == keep) return true;
    m->recompute = on;
    m->keep_fch = (int)keep;
    return alloc_acts(m, err);
}

bool gpt2_build(Gpt2Model *m, const Gpt2Weights *w, const LoraSlot *slots, int n_slots,
                const LoraConfig *lc, int n_classes, int max_B, int max_T, uint64_t seed,
                LfError *err) {
    memset(m, 0, sizeof *m);
    const Gpt2Config *cfg = &w->cfg;
    if (!gpt2_config_validate(cfg, err)) return false;
    const int C = cfg->n_embd;
    if (n_classes < 0 || max_B < 1 || max_T < 1 || max_T > cfg->n_ctx || n_slots < 0) {
        lf_error_set(err, LF_ERR_INPUT,
                     "model: bad shape (classes %d, batch %d, length %d; the context is %d)",
                     n_classes, max_B, max_T, cfg->n_ctx);
        return false;
    }
    if (lc && (lc->dropout < 0.0 || lc->dropout >= 1.0)) {
        lf_error_set(err, LF_ERR_INPUT, "LoRA dropout must be in [0, 1), got %g", lc->dropout);
        return false;
    }
    m->cfg = *cfg;
    m->w = w;
    m->n_classes = n_classes;
    m->max_B = max_B;
    m->max_T = max_T;
    m->att_slots = omp_get_max_threads();
    m->dropout = lc ? (float)lc->dropout : 0.0f;
    m->init = lc ? lc->init : LORA_INIT_LABS;

    m->n_adapters = n_slots;
    m->adapters = calloc(n_slots ? (size_t)n_slots : 1, sizeof *m->adapters);
    m->lora_A = calloc(n_slots ? (size_t)n_slots * 4 : 1, sizeof(float *));
    m->seq_len = calloc((size_t)max_B, sizeof(int));
    m->seq_off = calloc((size_t)max_B + 1, sizeof(int));
    m->top_first = calloc((size_t)max_B * 3, sizeof(int));
    m->labels = calloc((size_t)max_B, sizeof(int));
    m->seq_loss = calloc((size_t)max_B, sizeof(double));
    if (!m->adapters || !m->lora_A || !m->seq_len || !m->seq_off || !m->top_first || !m->labels || !m->seq_loss) goto oom;
    if (n_classes == 0 && !lm_head_build(&m->lm, max_B * max_T, cfg->vocab_size, C, err)) {
        gpt2_free(m);
        return false;
    }
    m->top_len = m->top_first + max_B;
    m->top_out = m->top_first + 2 * max_B;
    m->lora_B = m->lora_A + n_slots;
    m->grad_A = m->lora_A + 2 * n_slots;
    m->grad_B = m->lora_A + 3 * n_slots;

    size_t n_params = 0;
    for (int i = 0; i < n_slots; i++) {
        const LoraSlot *s = &slots[i];
        int in, out;
        if (!site_dims(s->site, C, &in, &out) || s->layer < 0 || s->layer >= cfg->n_layer ||
            s->in != in || s->out != out || s->rank < 1) {
            lf_error_set(err, LF_ERR_INPUT,
                         "LoRA adapter %d ('%s'): layer %d site %s %dx%d rank %d does not fit the "
                         "model (%d layers, width %d)",
                         i, s->name, s->layer, site_name(s->site), s->in, s->out, s->rank,
                         cfg->n_layer, C);
            gpt2_free(m);
            return false;
        }
        Gpt2Adapter *a = &m->adapters[i];
        a->site = s->site;
        a->layer = s->layer;
        a->in = in;
        a->out = out;
        a->rank = s->rank;
        LoraScaling scaling = lc ? lc->scaling : LORA_SCALE_RANK;
        a->scale = (float)(scaling == LORA_SCALE_RANK     ? s->alpha / s->rank
                           : scaling == LORA_SCALE_RSLORA ? s->alpha / sqrt(s->rank)
                                                          : s->alpha);
        n_params += (size_t)in * s->rank + (size_t)s->rank * out;
    }
    n_params += (size_t)n_classes * C + (size_t)n_classes;
    m->low_layer = cfg->n_layer;
    m->low_stage = STAGE_NONE;
    for (int i = 0; i < n_slots; i++) {
        int l = m->adapters[i].layer;
        BlockStage st = linear_site_stage(m->adapters[i].site);
        if (l < m->low_layer || (l == m->low_layer && st < m->low_stage)) {
            m->low_layer = l;
            m->low_stage = st;
        }
    }
    m->n_params = n_params;
    m->params = calloc(n_params ? n_params : 1, sizeof(float));
    m->grads = calloc(n_params ? n_params : 1, sizeof(float));
    if (!m->params || !m->grads) goto oom;
    mem_prefault(m->params, n_params * sizeof(float)); /* written next, by the init or a load */

    /* named pointers, same offsets in both arrays */
    size_t off = 0;
    for (int i = 0; i < n_slots; i++) {
        const Gpt2Adapter *a = &m->adapters[i];
        m->lora_A[i] = m->params + off;
        m->grad_A[i] = m->grads + off;
        off += (size_t)a->in * a->rank;
        m->lora_B[i] = m->params + off;
        m->grad_B[i] = m->grads + off;
        off += (size_t)a->rank * a->out;
    }
    m->head_w = m->params + off;
    m->grad_head_w = m->grads + off;
    off += (size_t)n_classes * C;
    m->head_b = m->params + off;
    m->grad_head_b = m->grads + off;

    /* init: A uniform, B zero (so the first forward is the base model's), then the head;
     * nothing to draw when a load replaces them all (2 to 5 ms of classify's start) */
    Rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < n_slots && m->init != LORA_INIT_NONE; i++) {
        const Gpt2Adapter *a = &m->adapters[i];
        float bound = 1.0f / sqrtf((float)(m->init == LORA_INIT_PEFT ? a->in : a->rank));
        for (size_t k = 0; k < (size_t)a->in * a->rank; k++)
            m->lora_A[i][k] = (2.0f * rng_float(&r) - 1.0f) * bound;
    }
    float hb = 1.0f / sqrtf((float)C);
    for (size_t k = 0; m->init != LORA_INIT_NONE && k < (size_t)n_classes * C; k++)
        m->head_w[k] = (2.0f * rng_float(&r) - 1.0f) * hb;
    for (int k = 0; m->init != LORA_INIT_NONE && k < n_classes; k++)
        m->head_b[k] = (2.0f * rng_float(&r) - 1.0f) * hb;
    /* dropout masks come from their own stream: turning dropout on leaves the init alone */
    rng_seed(&m->rng, seed ^ 0xd1b54a32d192ed03ULL);

    if (!alloc_acts(m, err)) {
        gpt2_free(m);
        return false;
    }
    return true;

oom:
    lf_error_set(err, LF_ERR_IO, "out of memory building the model (%d x %d tokens)", max_B, max_T);
    gpt2_free(m);
    return false;
}

void gpt2_free(Gpt2Model *m) {
    free(m->adapters);
    free(m->lora_A);
    free(m->params);
    free(m->grads);
    free(m->acts_memory);
    free(m->seq_len);
    free(m->seq_off);
    free(m->top_first);
    free(m->labels);
    free(m->seq_loss);
    lm_head_free(&m->lm);
    memset(m, 0, sizeof *m);
}

static void gpt2_zero_grad(Gpt2Model *m) { memset(m->grads, 0, m->n_params * sizeof(float)); }

/* ---------------------------------------------------------------------------
 * forward */

static uint64_t adapter_seed(const Gpt2Model *m, int i) {
    return m->dropout_seed + (uint64_t)(i + 1) * 0xbf58476d1ce4e5b9ULL;
}

uint64_t gpt2_dropout_seed(const Gpt2Model *m, int adapter) { return adapter_seed(m, adapter); }

static bool dropout_on(const Gpt2Model *m) { return m->trained_forward && m->dropout > 0.0f; }

/* Adds every adapter of block l at sites of `stage` into out (row stride
 * ldo), over `rows` rows of x. */
static void adapters_forward(Gpt2Model *m, int l, BlockStage stage, const float *x, float *out, int ldo,
                             int rows) {
    const int C = m->cfg.n_embd;
    for (int i = 0; i < m->n_adapters; i++) {
        const Gpt2Adapter *a = &m->adapters[i];
        if (a->layer != l || linear_site_stage(a->site) != stage) continue;
        const float *xa = x;
        if (dropout_on(m)) {
            dropout_forward(m->acts.drop, x, adapter_seed(m, i), m->dropout, rows, a->in);
            xa = m->acts.drop;
        }
        lowrank_forward(out + site_column(a->site, C), ldo, lora_h(m, i), xa, a->in, m->lora_A[i],
                        m->lora_B[i], a->scale, rows, a->in, a->rank, a->out);
    }
}

/* Attention's rows: every block's, or the trimmed top block's. */
static AttnRows attn_rows(const Gpt2Model *m, bool top) {
    if (top) return (AttnRows){m->seq_off, m->top_len, m->top_first, m->top_out};
    return (AttnRows){m->seq_off, m->seq_len, NULL, m->seq_off};
}

/* Lays out the packed rows: L_b rows for sequence b (all T when `whole`).
 * False when the batch does not fit the build. */
static bool layout_rows(Gpt2Model *m, const Gpt2Batch *b, bool whole) {
    if (b->B < 1 || b->B > m->max_B || b->T < 1 || b->T > m->max_T) return false;
    if (b->start && (!b->lengths || (whole && (b->pad_id < 0 || b->pad_id >= m->cfg.vocab_size)))) return false;
    m->B = b->B;
    m->T = b->T;
    m->seq_off[0] = 0;
    for (int i = 0; i < b->B; i++) {
        int L = b->lengths ? b->lengths[i] : b->T;
        if (L < 1 || L > b->T) return false;
        m->seq_len[i] = whole ? b->T : L;
        m->seq_off[i + 1] = m->seq_off[i] + m->seq_len[i];
    }
    m->N = m->seq_off[b->B];
    return true;
}

/* The top block's rows: one per sequence, its last (a classifier's head). */
static void top_rows_last(Gpt2Model *m) {
    for (int i = 0; i < m->B; i++) {
        m->top_first[i] = m->seq_len[i] - 1;
        m->top_len[i] = m->seq_len[i];
        m->top_out[i] = i;
    }
    m->top_rows = m->B;
}

/* Block l's intermediates: its own slice of each, or with recomputation
 * the one slice every block shares; its input and output are kept for
 * every block either way. */
typedef struct {
    const float *x; /* the embeddings or the block below's res3 */
    float *ln1, *ln1_mean, *ln1_rstd, *qkv, *att, *atty, *res2, *ln2, *ln2_mean, *ln2_rstd, *fch, *fch_gelu;
    float *res3;
} BlockActs;

/* Whether block l's fch survives from the forward to the backward under
 * recomputation (gpt2_set_recompute's keep_bytes). */
static bool fch_kept(const Gpt2Model *m, int l) {
    const int top = m->cfg.n_layer - 1;
    return m->recompute && l < top && l >= top - m->keep_fch;
}

static BlockActs block_acts(const Gpt2Model *m, int l) {
    const Gpt2Acts *a = &m->acts;
    const size_t Nmax = max_rows(m), NC = Nmax * (size_t)m->cfg.n_embd, s = m->recompute ? 0 : (size_t)l;
    /* a kept fch: slot 1 + its place among the kept blocks */
    const size_t sf = fch_kept(m, l) ? (size_t)(l - (m->cfg.n_layer - 1 - m->keep_fch)) + 1 : s;
    const size_t attl = (size_t)m->max_B * m->cfg.n_head * m->max_T * m->max_T;
    return (BlockActs){
        .x = l == 0 ? a->encoded : a->res3 + (size_t)(l - 1) * NC,
        .ln1 = a->ln1 + s * NC, .ln1_mean = a->ln1_mean + s * Nmax, .ln1_rstd = a->ln1_rstd + s * Nmax,
        .qkv = a->qkv + s * NC * 3, .att = a->att + s * attl, .atty = a->atty + s * NC,
        .res2 = a->res2 + s * NC, .ln2 = a->ln2 + s * NC, .ln2_mean = a->ln2_mean + s * Nmax,
        .ln2_rstd = a->ln2_rstd + s * Nmax, .fch = a->fch + sf * NC * 4, .fch_gelu = a->fch_gelu + s * NC * 4,
        .res3 = a->res3 + (size_t)l * NC,
    };
}

/* Block l's forward over the laid-out rows (`top`: trimmed, see
 * forward_blocks). Without `to_output` it is the backward's recomputation
 * and stops at what the backward reads: the MLP's output projection and
 * residual are skipped, only that stage's adapters run (for their x @ A;
 * their output lands in dfch, free scratch at that point). The same calls
 * on the same input as the first time: the same bits. */
static void block_forward(Gpt2Model *m, int l, bool top, bool to_output) {
    const Gpt2LayerWeights *lw = &m->w->layers[l];
    const int C = m->cfg.n_embd, NH = m->cfg.n_head, N = m->N;
    const int R = top ? m->top_rows : N; /* rows after the attention */
    const BlockActs k = block_acts(m, l);

    layernorm_forward(k.ln1, k.ln1_mean, k.ln1_rstd, k.x, lw->ln1_w, lw->ln1_b, N, C);
    /* one sgemm for the fused q | k | v; adapters add into its column slices */
    frozen_matmul_forward(k.qkv, k.ln1, lw->qkv_w, lw->qkv_q, lw->qkv_b, N, C, 3 * C);
    adapters_forward(m, l, STAGE_QKV, k.ln1, k.qkv, 3 * C, N);
    const AttnRows rows = attn_rows(m, top);
    attention_forward(k.atty, k.att, k.qkv, &rows, m->B, m->T, C, NH);
    /* res2 first holds c_proj's output, then the residual sum */
    frozen_matmul_forward(k.res2, k.atty, lw->attn_proj_w, lw->attn_proj_q, lw->attn_proj_b, R, C, C);
    adapters_forward(m, l, STAGE_ATTN_OUT, k.atty, k.res2, C, R);
    if (top) {
        for (int i = 0; i < m->B; i++) {
            float *r2 = k.res2 + (size_t)m->top_out[i] * C;
            residual_forward(r2, k.x + (size_t)(m->seq_off[i] + m->top_first[i]) * C, r2,
                             (long)(m->top_len[i] - m->top_first[i]) * C);
        }
    } else {
        residual_forward(k.res2, k.x, k.res2, (long)N * C);
    }

    layernorm_forward(k.ln2, k.ln2_mean, k.ln2_rstd, k.res2, lw->ln2_w, lw->ln2_b, R, C);
    /* a kept fch holds the first pass's values, adapters included (their
     * x @ A too is kept, per adapter; dropout's masks come from seeds) */
    if (to_output || !fch_kept(m, l)) {
        frozen_matmul_forward(k.fch, k.ln2, lw->fc_w, lw->fc_q, lw->fc_b, R, C, 4 * C);
        adapters_forward(m, l, STAGE_FC, k.ln2, k.fch, 4 * C, R);
    }
    gelu_forward(k.fch_gelu, k.fch, (long)R * 4 * C);
    if (!to_output) {
        adapters_forward(m, l, STAGE_FC_PROJ, k.fch_gelu, m->acts.dfch, C, R);
        return;
    }
    frozen_matmul_forward(k.res3, k.fch_gelu, lw->fc_proj_w, lw->fc_proj_q, lw->fc_proj_b, R, 4 * C, C);
    adapters_forward(m, l, STAGE_FC_PROJ, k.fch_gelu, k.res3, C, R);
    residual_forward(k.res3, k.res2, k.res3, (long)R * C);
}

/* Embeddings and every block; the stream ends in res3 of the last block.
 * With trim_top the last block computes only what the head reads (m->top_*):
 * keys and values at every row, but the attention output and MLP only at
 * the top rows, so its res2 ... res3 hold top_rows rows. For a pooled head
 * that is 10 of the block's 12 C^2 per token. */
static void forward_blocks(Gpt2Model *m, const Gpt2Batch *b, bool trim_top) {
    const Gpt2Weights *w = m->w;
    const int C = m->cfg.n_embd, NL = m->cfg.n_layer;

    for (int i = 0; i < m->B; i++) {
        /* dense rows hold their padding; packed ones only their real ids */
        const int32_t *ids = b->tokens + (b->start ? b->start[i] : (size_t)i * b->T);
        int n_ids = b->start ? b->lengths[i] : b->T;
        encoder_forward(m->acts.encoded + (size_t)m->seq_off[i] * C, ids, n_ids, b->pad_id, m->seq_len[i], w->wte,
                        w->wpe, C);
    }
    for (int l = 0; l < NL; l++) block_forward(m, l, trim_top && l == NL - 1, true);
}

/* Lists the batch's counted targets in m->lm: the packed row that
 * predicts each, and the token it must predict. False when a prompt length
 * is outside 0 .. L_b - 1. */
static bool lm_collect_targets(Gpt2Model *m, const Gpt2Batch *b, bool every_row) {
    LmHead *h = &m->lm;
    h->n = 0;
    for (int i = 0; i < m->B; i++) {
        const int32_t *ids = b->tokens + (b->start ? b->start[i] : (size_t)i * b->T);
        const int L = m->seq_len[i], P = b->prompt_lengths ? b->prompt_lengths[i] : 0;
        if (P < 0 || P >= L) return false;
        /* every_row (gpt2_lm_logits): the last row too, its "target" a dummy */
        const int first = P > 0 && !every_row ? P - 1 : 0, end = L - 1 + every_row;
        m->top_first[i] = first < end ? first : end;
        m->top_len[i] = end;
        m->top_out[i] = h->n;
        for (int t = first; t < end; t++) {
            h->rows[h->n] = m->seq_off[i] + t;
            h->targets[h->n++] = ids[t + 1 < L ? t + 1 : t];
        }
    }
    m->top_rows = h->n;
    return true;
}

/* The LM's forward: every block at every row but the top one, which
 * computes the target rows only (its row i: target i); the final layer norm
 * and the tied head at those rows. */
static float lm_forward(Gpt2Model *m, const Gpt2Batch *b, bool training) {
    const int C = m->cfg.n_embd, n = m->lm.n;
    Gpt2Acts *a = &m->acts;
    forward_blocks(m, b, true);
    const float *top = a->res3 + (size_t)(m->cfg.n_layer - 1) * max_rows(m) * C;
    memcpy(a->pooled, top, (size_t)n * C * sizeof(float));
    layernorm_forward(a->lnf, a->lnf_mean, a->lnf_rstd, a->pooled, m->w->lnf_w, m->w->lnf_b, n, C);
    m->grad_count = b->grad_count ? b->grad_count : n;
    float loss = (float)lm_head_forward(&m->lm, a->lnf, m->w->wte, training ? a->dlnf : NULL, m->grad_count);
    m->loss_sum = m->lm.loss_sum;
    return loss;
}

float gpt2_forward(Gpt2Model *m, const Gpt2Batch *b, Gpt2Pool pool, bool training, float *logits) {
    const int C = m->cfg.n_embd, K = m->n_classes;
    Gpt2Acts *a = &m->acts;
    m->trained_forward = false;
    if (!layout_rows(m, b, pool == POOL_LAST_POSITION)) return NAN;
    if (K == 0 && (pool != POOL_LAST_TOKEN || !lm_collect_targets(m, b, false))) return NAN;
    m->trained_forward = training;
    if (training && m->dropout > 0.0f) m->dropout_seed = rng_next(&m->rng);
    if (K == 0) {
        m->have_labels = true; /* the targets come from the tokens */
        return lm_forward(m, b, training);
    }
    m->have_labels = b->labels != NULL;
    if (b->labels) memcpy(m->labels, b->labels, (size_t)b->B * sizeof(int));

    top_rows_last(m);
    forward_blocks(m, b, true);

    /* the head reads one row per sequence (its last real token or the last
     * position): the top block computed exactly those, row b for sequence b */
    const float *top = a->res3 + (size_t)(m->cfg.n_layer - 1) * max_rows(m) * C;
    memcpy(a->pooled, top, (size_t)m->B * C * sizeof(float));
    layernorm_forward(a->lnf, a->lnf_mean, a->lnf_rstd, a->pooled, m->w->lnf_w, m->w->lnf_b, m->B, C);
    for (int i = 0; i < m->B; i++) memcpy(a->logits + (size_t)i * K, m->head_b, (size_t)K * sizeof(float));
    gemm(false, true, m->B, K, C, 1.0f, a->lnf, C, m->head_w, C, 1.0f, a->logits, K);
    float loss = 0.0f;
    if (training) {
        m->loss_sum = crossentropy_forward(a->probs, a->logits, b->labels, m->B, K);
        m->grad_count = b->grad_count ? b->grad_count : m->B;
        loss = b->labels ? (float)(m->loss_sum / m->B) : 0.0f;
    } else {
        softmax_forward(a->probs, m->seq_loss, a->logits, b->labels, m->B, K);
        double sum = 0.0;
        for (int i = 0; b->labels && i < m->B; i++) sum += m->seq_loss[i];
        m->loss_sum = sum;
        loss = (float)(sum / m->B);
    }
    if (logits) memcpy(logits, a->logits, (size_t)m->B * K * sizeof(float));
    return loss;
}

/* ---------------------------------------------------------------------------
 * backward */

/* Gradients of the adapters of block l at `stage`, given dout (row stride
 * ldo) over `rows` rows; adds their input gradient to dx [rows, in] unless
 * dx is NULL. */
static void adapters_backward(Gpt2Model *m, int l, BlockStage stage, const float *x, const float *dout,
                              int ldo, float *dx, int rows) {
    const int C = m->cfg.n_embd;
    for (int i = 0; i < m->n_adapters; i++) {
        const Gpt2Adapter *a = &m->adapters[i];
        if (a->layer != l || linear_site_stage(a->site) != stage) continue;
        const float *d = dout + site_column(a->site, C);
        if (!dropout_on(m)) {
            lowrank_backward(m->grad_A[i], m->grad_B[i], dx, a->in, m->acts.dh, d, ldo, x, lora_h(m, i),
                             m->lora_A[i], m->lora_B[i], a->scale, rows, a->in, a->rank, a->out);
            continue;
        }
        /* the same mask again from the same seed, instead of keeping it */
        float *drop = m->acts.drop;
        dropout_forward(drop, x, adapter_seed(m, i), m->dropout, rows, a->in);
        lowrank_backward(m->grad_A[i], m->grad_B[i], NULL, a->in, m->acts.dh, d, ldo, drop,
                         lora_h(m, i), m->lora_A[i], m->lora_B[i], a->scale, rows, a->in, a->rank, a->out);
        if (dx) {
            /* d(dropped)/dx is the mask / (1 - p): dropout applied to the gradient */
            matmul_backward(drop, m->acts.dh, m->lora_A[i], rows, a->in, a->rank, 0);
            dropout_forward(drop, drop, adapter_seed(m, i), m->dropout, rows, a->in);
            residual_forward(dx, dx, drop, (long)rows * a->in);
        }
    }
}

/* Backward through block l, stage by stage from the top, as far down as an
 * adapter trains (gpt2_grad_below). dy holds d(res3) over the block's output
 * rows (N, or B for the pooled top block). Returns false when it stopped
 * inside the block; else dres [N, C] holds d(block input). For the top block
 * dy is dpooled and ends as d(res2) at the pooled rows. */
static bool block_backward(Gpt2Model *m, int l, bool top, float *dy) {
    const Gpt2LayerWeights *lw = &m->w->layers[l];
    const int C = m->cfg.n_embd, NH = m->cfg.n_head, N = m->N;
    const int R = top ? m->top_rows : N;
    Gpt2Acts *a = &m->acts;
    /* the top block ran last: the shared slice still holds it */
    if (m->recompute && !top) block_forward(m, l, false, false);
    const BlockActs k = block_acts(m, l);
    const float *x = k.x, *ln1 = k.ln1, *qkv = k.qkv, *atty = k.atty, *res2 = k.res2, *ln2 = k.ln2;
    const float *fch = k.fch, *fch_gelu = k.fch_gelu;

    /* MLP: res3 = res2 + fc_proj(gelu(fc(ln2(res2)))) */
    bool below = gpt2_grad_below(m, l, STAGE_FC_PROJ);
    if (below) frozen_matmul_backward(a->dfch, dy, lw->fc_proj_w, lw->fc_proj_q, R, 4 * C, C, 0);
    adapters_backward(m, l, STAGE_FC_PROJ, fch_gelu, dy, C, below ? a->dfch : NULL, R);
    if (!below) return false;
    gelu_backward(a->dfch, fch, a->dfch, (long)R * 4 * C);
    below = gpt2_grad_below(m, l, STAGE_FC);
    if (below) frozen_matmul_backward(a->dln, a->dfch, lw->fc_w, lw->fc_q, R, C, 4 * C, 0);
    adapters_backward(m, l, STAGE_FC, ln2, a->dfch, 4 * C, below ? a->dln : NULL, R);
    if (!below) return false;
    layernorm_backward(dy, a->dln, res2, lw->ln2_w, k.ln2_mean, k.ln2_rstd, R, C);

    /* dy = d(res2); attention: res2 = x + c_proj(attn(qkv(ln1(x)))) */
    below = gpt2_grad_below(m, l, STAGE_ATTN_OUT);
    if (below) frozen_matmul_backward(a->datty, dy, lw->attn_proj_w, lw->attn_proj_q, R, C, C, 0);
    adapters_backward(m, l, STAGE_ATTN_OUT, atty, dy, C, below ? a->datty : NULL, R);
    if (!below) return false;
    const AttnRows rows = attn_rows(m, top);
    attention_backward(a->dqkv, a->datt, m->att_slots, a->datty, qkv, k.att, &rows, m->B, m->T, C, NH);
    for (int i = 0; top && i < m->B; i++) /* rows after the last query: no gradient */
        memset(a->dqkv + (size_t)(m->seq_off[i] + m->top_len[i]) * 3 * C, 0,
               (size_t)(m->seq_len[i] - m->top_len[i]) * 3 * C * sizeof(float));
    below = gpt2_grad_below(m, l, STAGE_QKV);
    if (below) frozen_matmul_backward(a->dln, a->dqkv, lw->qkv_w, lw->qkv_q, N, C, 3 * C, 0);
    adapters_backward(m, l, STAGE_QKV, ln1, a->dqkv, 3 * C, below ? a->dln : NULL, N);
    if (!below) return false;
    if (top) {
        /* the residual path reaches x only at the top rows */
        memset(a->dres, 0, (size_t)N * C * sizeof(float));
        for (int i = 0; i < m->B; i++)
            memcpy(a->dres + (size_t)(m->seq_off[i] + m->top_first[i]) * C, dy + (size_t)m->top_out[i] * C,
                   (size_t)(m->top_len[i] - m->top_first[i]) * C * sizeof(float));
    }
    layernorm_backward(a->dres, a->dln, x, lw->ln1_w, k.ln1_mean, k.ln1_rstd, N, C);
    return true;
}

/* The LM's backward from d(lnf) (its forward formed it): through the final
 * layer norm at the target rows, then down the blocks (the top one's rows
 * are the targets). */
static void lm_backward(Gpt2Model *m) {
    const int C = m->cfg.n_embd, n = m->lm.n;
    Gpt2Acts *a = &m->acts;
    if (m->n_adapters == 0 || n == 0) return;
    memset(a->dpooled, 0, (size_t)n * C * sizeof(float));
    layernorm_backward(a->dpooled, a->dlnf, a->pooled, m->w->lnf_w, a->lnf_mean, a->lnf_rstd, n, C);
    for (int l = m->cfg.n_layer - 1; l >= 0; l--) {
        bool top = l == m->cfg.n_layer - 1;
        if (!block_backward(m, l, top, top ? a->dpooled : a->dres)) break;
    }
}

void gpt2_backward(Gpt2Model *m) {
    const int C = m->cfg.n_embd, K = m->n_classes, B = m->B, NL = m->cfg.n_layer;
    Gpt2Acts *a = &m->acts;
    if (!m->trained_forward || !m->have_labels) return;
    gpt2_zero_grad(m);
    if (K == 0) {
        lm_backward(m);
        return;
    }

    /* head: logits = lnf @ head_w^T + head_b */
    crossentropy_backward(a->dlogits, a->probs, m->labels, B, K, m->grad_count);
    gemm(true, false, K, C, B, 1.0f, a->dlogits, K, a->lnf, C, 0.0f, m->grad_head_w, C);
    for (int k = 0; k < K; k++) {
        float s = 0.0f;
        for (int i = 0; i < B; i++) s += a->dlogits[(size_t)i * K + k];
        m->grad_head_b[k] = s;
    }
    if (m->n_adapters == 0) return; /* nothing below the head trains */
    gemm(false, false, B, C, K, 1.0f, a->dlogits, K, m->head_w, C, 0.0f, a->dlnf, C);
    memset(a->dpooled, 0, (size_t)B * C * sizeof(float));
    layernorm_backward(a->dpooled, a->dlnf, a->pooled, m->w->lnf_w, a->lnf_mean, a->lnf_rstd, B, C);

    /* down to the lowest adapter: below it nothing trains */
    for (int l = NL - 1; l >= 0; l--) {
        /* only the top block is pooled: its gradient arrives as B rows */
        bool top = l == NL - 1;
        if (!block_backward(m, l, top, top ? a->dpooled : a->dres)) break;
    }
}

bool gpt2_grad_below(const Gpt2Model *m, int layer, BlockStage s) {
    return m->low_layer < layer || (m->low_layer == layer && m->low_stage < s);
}

/* ---------------------------------------------------------------------------
 * language-model head (test support, gpt2_testing.h) */

/* An LM's logits come through its own forward: every row a target, each
 * chunk's logits copied out on the way (packed rows: target i is row i). */
typedef struct {
    const Gpt2Model *m;
    float *out;
} LogitsOut;

static void copy_chunk(void *ctx, int first, int rows, const float *logits) {
    const LogitsOut *o = ctx;
    const Gpt2Model *m = o->m;
    const int V = m->cfg.vocab_size;
    for (int r = first; r < first + rows; r++) {
        int b = 0;
        while (m->seq_off[b + 1] <= r) b++;
        memcpy(o->out + ((size_t)b * m->T + (r - m->seq_off[b])) * V, logits + (size_t)(r - first) * V,
               (size_t)V * sizeof(float));
    }
}

void gpt2_lm_logits(Gpt2Model *m, const Gpt2Batch *b, float *out) {
    const int C = m->cfg.n_embd, V = m->cfg.vocab_size;
    m->trained_forward = false;
    if (!layout_rows(m, b, false)) return;
    if (m->n_classes == 0) {
        Gpt2Batch every = *b;
        every.prompt_lengths = NULL;
        if (!lm_collect_targets(m, &every, true)) return;
        memset(out, 0, (size_t)m->B * m->T * V * sizeof(float));
        LogitsOut o = {m, out};
        m->lm.peek = copy_chunk;
        m->lm.peek_ctx = &o;
        lm_forward(m, &every, false);
        m->lm.peek = NULL;
        return;
    }
    forward_blocks(m, b, false);
    const float *top = m->acts.res3 + (size_t)(m->cfg.n_layer - 1) * max_rows(m) * C;
    float *lnf = m->acts.dres; /* backward scratch, free here */
    layernorm_forward(lnf, NULL, NULL, top, m->w->lnf_w, m->w->lnf_b, m->N, C);
    for (int i = 0; i < m->B; i++) {
        float *o = out + (size_t)i * m->T * V;
        int L = m->seq_len[i];
        gemm(false, true, L, V, C, 1.0f, lnf + (size_t)m->seq_off[i] * C, C, m->w->wte, C, 0.0f, o, V);
        memset(o + (size_t)L * V, 0, (size_t)(m->T - L) * V * sizeof(float));
    }
}
