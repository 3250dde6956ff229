/* decode.c - incremental forward with a KV cache. See include/lorafit/engine/decode.h. */
#include "lorafit/engine/decode.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/engine/kernels.h"
#include "lorafit/engine/quant_matmul.h"

/* Rows per pass of a long prompt: enough for the GEMMs to run at speed,
 * little scratch. */
#define DECODE_CHUNK 128

static size_t cache_at(const Decoder *d, int l, int b, int t) {
    const size_t C = (size_t)d->m->cfg.n_embd;
    return (((size_t)l * d->max_B + (size_t)b) * (size_t)d->max_T + (size_t)t) * C;
}

static int max_rank(const Gpt2Model *m) {
    int r = 1;
    for (int i = 0; i < m->n_adapters; i++)
        if (m->adapters[i].rank > r) r = m->adapters[i].rank;
    return r;
}

bool decoder_init(Decoder *d, const Gpt2Model *m, int max_B, int max_T, LfError *err) {
    memset(d, 0, sizeof *d);
    const Gpt2Config *cfg = &m->cfg;
    if (max_B < 1 || max_T < 1 || max_T > cfg->n_ctx) {
        lf_error_set(err, LF_ERR_INPUT, "cannot decode %d sequences of %d positions with a context of %d", max_B,
                     max_T, cfg->n_ctx);
        return false;
    }
    d->m = m;
    d->max_B = max_B;
    d->max_T = max_T;
    d->max_rows = max_B > DECODE_CHUNK ? max_B : DECODE_CHUNK;
    const size_t R = (size_t)d->max_rows, C = (size_t)cfg->n_embd, NH = (size_t)cfg->n_head;
    const size_t cache = (size_t)cfg->n_layer * (size_t)max_B * (size_t)max_T * C;
    const size_t sizes[] = {cache, cache, R * C, R * C, R * 3 * C, R * C, R * C, R * 4 * C,
                            R * (size_t)max_rank(m), R * NH * (size_t)max_T};
    float **slots[] = {&d->k, &d->v, &d->x, &d->ln, &d->qkv, &d->atty, &d->out, &d->fch, &d->lora_h, &d->att};
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) total += sizes[i];
    d->memory = malloc(total * sizeof(float));
    d->len = calloc((size_t)max_B, sizeof *d->len);
    d->row_seq = malloc(R * sizeof *d->row_seq);
    d->row_pos = malloc(R * sizeof *d->row_pos);
    if (!d->memory || !d->len || !d->row_seq || !d->row_pos) {
        decoder_free(d);
        lf_error_set(err, LF_ERR_IO, "out of memory for a KV cache of %zu MB", 2 * cache * sizeof(float) >> 20);
        return false;
    }
    float *p = d->memory;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        *slots[i] = p;
        p += sizes[i];
    }
    return true;
}

void decoder_free(Decoder *d) {
    free(d->memory);
    free(d->len);
    free(d->row_seq);
    free(d->row_pos);
    memset(d, 0, sizeof *d);
}

/* y [M, N] (row stride ldy) = x [M, K] @ W + bias, where W is [K, N] with
 * row stride ldw, or with w_rows the [N, K] rows of W^T (the tied head).
 * The threads split the N outputs; each streams its part of W once, in
 * place: sgemv for one row (sgemm would pack a copy of the weights). */
static void linear(float *y, int ldy, const float *x, int M, int K, const float *W, int ldw, bool w_rows, int N,
                   const float *bias) {
#pragma omp parallel
    {
        int nt = omp_get_num_threads(), t = omp_get_thread_num();
        int chunk = ((N + nt - 1) / nt + 15) / 16 * 16;
        int lo = t * chunk, hi = lo + chunk < N ? lo + chunk : N;
        if (lo < hi) {
            const float *Ws = w_rows ? W + (size_t)lo * ldw : W + lo;
            if (M == 1)
                cblas_sgemv(CblasRowMajor, w_rows ? CblasNoTrans : CblasTrans, w_rows ? hi - lo : K,
                            w_rows ? K : hi - lo, 1.0f, Ws, ldw, x, 1, 0.0f, y + lo, 1);
            else
                cblas_sgemm(CblasRowMajor, CblasNoTrans, w_rows ? CblasTrans : CblasNoTrans, M, hi - lo, K, 1.0f,
                            x, K, Ws, ldw, 0.0f, y + lo, ldy);
            for (int r = 0; bias && r < M; r++)
                for (int j = lo; j < hi; j++) y[(size_t)r * ldy + j] += bias[j];
        }
    }
}

/* A frozen block Linear over R rows: its quantized form when the layer
 * holds one, else linear() over the fp32 weight. */
static void block_linear(float *y, const float *x, int R, int K, const float *W, const QuantMatrix *Wq, int N,
                         const float *bias) {
    if (Wq) qmatmul_forward(y, x, Wq, bias, R, K, N);
    else linear(y, N, x, R, K, W, N, false, N, bias);
}

/* The adapters of block l at `stage`, added to out (row stride ldo). */
static void adapters_add(const Decoder *d, int l, BlockStage stage, const float *x, float *out, int ldo, int rows) {
    const Gpt2Model *m = d->m;
    const int C = m->cfg.n_embd;
    for (int i = 0; i < m->n_adapters; i++) {
        const Gpt2Adapter *a = &m->adapters[i];
        if (a->layer != l || linear_site_stage(a->site) != stage) continue;
        int col = a->site == SITE_K ? C : a->site == SITE_V ? 2 * C : 0;
        lowrank_forward(out + col, ldo, d->lora_h, x, a->in, m->lora_A[i], m->lora_B[i], a->scale, rows, a->in,
                        a->rank, a->out);
    }
}

/* Causal attention of each row (sequence row_seq, position row_pos) over
 * its sequence's cached keys and values 0 .. row_pos, the row's own
 * included (stored before this runs). */
static void attention_cached(Decoder *d, int l, int R) {
    const int C = d->m->cfg.n_embd, NH = d->m->cfg.n_head, hs = C / NH;
    const float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for schedule(static)
    for (int rh = 0; rh < R * NH; rh++) {
        const int r = rh / NH, h = rh % NH, P = d->row_pos[r] + 1;
        const float *q = d->qkv + (size_t)r * 3 * C + h * hs;
        const float *K = d->k + cache_at(d, l, d->row_seq[r], 0) + h * hs;
        const float *V = d->v + cache_at(d, l, d->row_seq[r], 0) + h * hs;
        float *att = d->att + (size_t)rh * d->max_T, *y = d->atty + (size_t)r * C + h * hs;
        float mx = -INFINITY, sum = 0.0f;
        for (int t = 0; t < P; t++) {
            float s = 0.0f;
            for (int i = 0; i < hs; i++) s += q[i] * K[(size_t)t * C + i];
            att[t] = s * scale;
            if (att[t] > mx) mx = att[t];
        }
        for (int t = 0; t < P; t++) sum += att[t] = expf(att[t] - mx);
        for (int i = 0; i < hs; i++) y[i] = 0.0f;
        for (int t = 0; t < P; t++) {
            const float p = att[t] / sum, *v = V + (size_t)t * C;
            for (int i = 0; i < hs; i++) y[i] += p * v[i];
        }
    }
}

/* One transformer block over the R rows in d->x (updated in place). */
static void block_cached(Decoder *d, int l, int R) {
    const Gpt2LayerWeights *lw = &d->m->w->layers[l];
    const int C = d->m->cfg.n_embd;
    layernorm_forward(d->ln, NULL, NULL, d->x, lw->ln1_w, lw->ln1_b, R, C);
    block_linear(d->qkv, d->ln, R, C, lw->qkv_w, lw->qkv_q, 3 * C, lw->qkv_b);
    adapters_add(d, l, STAGE_QKV, d->ln, d->qkv, 3 * C, R);
    for (int r = 0; r < R; r++) {
        const float *row = d->qkv + (size_t)r * 3 * C;
        size_t at = cache_at(d, l, d->row_seq[r], d->row_pos[r]);
        memcpy(d->k + at, row + C, (size_t)C * sizeof(float));
        memcpy(d->v + at, row + 2 * C, (size_t)C * sizeof(float));
    }
    attention_cached(d, l, R);
    block_linear(d->out, d->atty, R, C, lw->attn_proj_w, lw->attn_proj_q, C, lw->attn_proj_b);
    adapters_add(d, l, STAGE_ATTN_OUT, d->atty, d->out, C, R);
    residual_forward(d->x, d->x, d->out, (long)R * C);

    layernorm_forward(d->ln, NULL, NULL, d->x, lw->ln2_w, lw->ln2_b, R, C);
    block_linear(d->fch, d->ln, R, C, lw->fc_w, lw->fc_q, 4 * C, lw->fc_b);
    adapters_add(d, l, STAGE_FC, d->ln, d->fch, 4 * C, R);
    gelu_forward(d->fch, d->fch, (long)R * 4 * C);
    block_linear(d->out, d->fch, R, 4 * C, lw->fc_proj_w, lw->fc_proj_q, C, lw->fc_proj_b);
    adapters_add(d, l, STAGE_FC_PROJ, d->fch, d->out, C, R);
    residual_forward(d->x, d->x, d->out, (long)R * C);
}

/* Runs the R rows laid out in row_seq / row_pos with tokens ids, caching
 * their keys and values; logits [n_out, V] of the rows out_rows[0..n_out)
 * (out_rows NULL: rows 0 .. n_out - 1). */
static void forward_rows(Decoder *d, int R, const int32_t *ids, const int *out_rows, int n_out, float *logits) {
    const Gpt2Weights *w = d->m->w;
    const int C = d->m->cfg.n_embd, V = d->m->cfg.vocab_size;
    for (int r = 0; r < R; r++) {
        float *x = d->x + (size_t)r * C;
        const float *te = w->wte + (size_t)ids[r] * C, *pe = w->wpe + (size_t)d->row_pos[r] * C;
        for (int i = 0; i < C; i++) x[i] = te[i] + pe[i];
    }
    for (int l = 0; l < d->m->cfg.n_layer; l++) block_cached(d, l, R);
    if (n_out == 0) return;
    for (int i = 0; i < n_out; i++)
        memcpy(d->out + (size_t)i * C, d->x + (size_t)(out_rows ? out_rows[i] : i) * C, (size_t)C * sizeof(float));
    layernorm_forward(d->ln, NULL, NULL, d->out, w->lnf_w, w->lnf_b, n_out, C);
    linear(logits, V, d->ln, n_out, C, w->wte, C, true, V, NULL);
}

static bool check_ids(const Decoder *d, const int32_t *ids, int n, LfError *err) {
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= d->m->cfg.vocab_size) {
            lf_error_set(err, LF_ERR_INPUT, "token id %d is outside the vocabulary of %d", (int)ids[i],
                         d->m->cfg.vocab_size);
            return false;
        }
    return true;
}

bool decoder_prefill(Decoder *d, int b, const int32_t *ids, int n, float *logits, LfError *err) {
    if (b < 0 || b >= d->max_B || n < 1 || n > d->max_T) {
        lf_error_set(err, LF_ERR_INPUT, "a prompt of %d tokens does not fit the decoder's %d positions", n, d->max_T);
        return false;
    }
    if (!check_ids(d, ids, n, err)) return false;
    d->len[b] = 0;
    /* chunks of max_rows: each attends to the cache the previous ones left */
    for (int at = 0; at < n; at += d->max_rows) {
        int R = n - at < d->max_rows ? n - at : d->max_rows, last = R - 1;
        for (int r = 0; r < R; r++) d->row_seq[r] = b, d->row_pos[r] = at + r;
        /* only the prompt's last row needs logits */
        forward_rows(d, R, ids + at, &last, at + R == n ? 1 : 0, logits);
        d->len[b] = at + R;
    }
    return true;
}

bool decoder_step(Decoder *d, int n, const int *seqs, const int32_t *ids, float *logits, LfError *err) {
    if (n < 1 || n > d->max_B) {
        lf_error_set(err, LF_ERR_INPUT, "a step of %d sequences (at most %d)", n, d->max_B);
        return false;
    }
    if (!check_ids(d, ids, n, err)) return false;
    for (int i = 0; i < n; i++) {
        int b = seqs[i];
        if (b < 0 || b >= d->max_B || d->len[b] >= d->max_T) {
            lf_error_set(err, LF_ERR_INPUT, "sequence %d has no room for another token (%d positions)", b, d->max_T);
            return false;
        }
        d->row_seq[i] = b;
        d->row_pos[i] = d->len[b];
    }
    forward_rows(d, n, ids, NULL, n, logits);
    for (int i = 0; i < n; i++) d->len[seqs[i]]++;
    return true;
}
