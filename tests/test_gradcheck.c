/* test_gradcheck.c - the engine's gradients against central finite
 * differences of an independent double-precision forward.
 *
 * The forward here is a straightforward re-statement of GPT-2 + LoRA + the
 * classification head in double (naive loops, one sequence at a time, no
 * packing, no BLAS); its loss must match the engine's within 1e-5, and for
 * a sample of elements of every trainable tensor kind (LoRA A and B at every
 * site, head weight and bias) the engine's float gradient must match
 * (L(p + h) - L(p - h)) / 2h within max(1e-4 |fd|, 1e-6). Covered: the labs'
 * sites (Q, K, V, out_proj, fc, fc_proj) and PEFT's fused c_attn, both
 * poolings, and LoRA dropout (the double forward applies the engine's masks).
 * The causal LM too (n_classes 0): the mean next-token cross-entropy over
 * the counted targets (prompts masked) through the head tied to wte. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "engine_fixture.h"
#include "lorafit/engine/gpt2_testing.h"
#include "lorafit/engine/kernels.h"

#define MAX_AD 32
#define MAXT 16

typedef struct {
    const Gpt2Model *m;
    const Gpt2Batch *b;
    Gpt2Pool pool;
    const float *mask[MAX_AD]; /* [N, in] packed like the engine's rows, or NULL */
    bool lm;                   /* a causal LM: every block at every row, the tied head */
} Ref;

static void ln(double *out, const double *x, const float *w, const float *b, int C) {
    double mean = 0, var = 0;
    for (int i = 0; i < C; i++) mean += x[i];
    mean /= C;
    for (int i = 0; i < C; i++) var += (x[i] - mean) * (x[i] - mean);
    var /= C;
    double s = 1.0 / sqrt(var + 1e-5);
    for (int i = 0; i < C; i++) out[i] = (x[i] - mean) * s * w[i] + b[i];
}

/* out [L, OC] = x [L, IC] @ W [IC, OC] + bias */
static void lin(double *out, const double *x, const float *W, const float *bias, int L, int IC, int OC) {
    for (int t = 0; t < L; t++)
        for (int o = 0; o < OC; o++) {
            double s = bias[o];
            for (int i = 0; i < IC; i++) s += x[t * IC + i] * W[(size_t)i * OC + o];
            out[t * OC + o] = s;
        }
}

/* The row of adapter i's mask for position t of sequence s (starting at
 * packed row row0). The engine's top block computes stages 1-3 only at its
 * top rows: a classifier's last position of each sequence (row s of B), an
 * LM's target positions (row top_out[s] + t - top_first[s]); other
 * positions there do not reach the loss, so any mask row serves them. */
static size_t mask_row(const Ref *r, int i, int stage, int s, int row0, int t) {
    const Gpt2Model *m = r->m;
    if (m->adapters[i].layer != m->cfg.n_layer - 1 || stage < 1) return (size_t)(row0 + t);
    if (!r->lm) return (size_t)s;
    if (t >= m->top_first[s] && t < m->top_len[s]) return (size_t)(m->top_out[s] + t - m->top_first[s]);
    return (size_t)(row0 + t);
}

/* Adds the adapters of layer l at `stage` (0 qkv, 1 attn_out, 2 fc, 3 fc_proj). */
static void lora_add(const Ref *r, const double *p, int l, int stage, double *out, int ldo,
                     const double *x, int L, int row0, int seq) {
    const Gpt2Model *m = r->m;
    const int C = m->cfg.n_embd;
    for (int i = 0; i < m->n_adapters; i++) {
        const Gpt2Adapter *a = &m->adapters[i];
        int st = a->site <= SITE_QKV ? 0 : a->site == SITE_ATTN_OUT ? 1 : a->site == SITE_FC ? 2 : 3;
        if (a->layer != l || st != stage) continue;
        const double *A = p + (m->lora_A[i] - m->params), *B = p + (m->lora_B[i] - m->params);
        int col = a->site == SITE_K ? C : a->site == SITE_V ? 2 * C : 0;
        for (int t = 0; t < L; t++) {
            double u[64] = {0};
            for (int k = 0; k < a->rank; k++)
                for (int j = 0; j < a->in; j++) {
                    double xv = x[t * a->in + j];
                    if (r->mask[i]) xv *= r->mask[i][mask_row(r, i, stage, seq, row0, t) * a->in + j];
                    u[k] += xv * A[(size_t)j * a->rank + k];
                }
            for (int o = 0; o < a->out; o++) {
                double s = 0;
                for (int k = 0; k < a->rank; k++) s += u[k] * B[(size_t)k * a->out + o];
                out[t * ldo + col + o] += a->scale * s;
            }
        }
    }
}

/* Sequence s's summed next-token cross-entropy over its counted targets
 * (position t predicts token t + 1 when t + 1 >= its prompt length), the
 * logits through the head tied to wte; x [L, C] is the last block's output.
 * Adds the targets to *count. */
static double lm_loss(const Ref *r, const double *x, int s, int L, int *count) {
    const Gpt2Weights *w = r->m->w;
    const int C = r->m->cfg.n_embd, V = r->m->cfg.vocab_size;
    const Gpt2Batch *b = r->b;
    int P = b->prompt_lengths ? b->prompt_lengths[s] : 0;
    double total = 0, hf[64], z[256];
    for (int t = 0; t + 1 < L; t++) {
        if (t + 1 < P) continue;
        ln(hf, x + t * C, w->lnf_w, w->lnf_b, C);
        double mx = -1e300, sum = 0;
        for (int v = 0; v < V; v++) {
            z[v] = 0;
            for (int c = 0; c < C; c++) z[v] += (double)w->wte[(size_t)v * C + c] * hf[c];
            if (z[v] > mx) mx = z[v];
        }
        for (int v = 0; v < V; v++) sum += exp(z[v] - mx);
        total += log(sum) - (z[b->tokens[s * b->T + t + 1]] - mx);
        ++*count;
    }
    return total;
}

/* Mean cross-entropy of the batch at parameters p (the engine's flat layout). */
static double ref_loss(const Ref *r, const double *p) {
    const Gpt2Model *m = r->m;
    const Gpt2Weights *w = m->w;
    const int C = m->cfg.n_embd, NH = m->cfg.n_head, hs = C / NH, K = m->n_classes;
    const Gpt2Batch *b = r->b;
    static double x[MAXT * 64], h[MAXT * 64], qkv[MAXT * 192], att[MAXT * 64], tmp[MAXT * 256],
        g[MAXT * 256];
    double total = 0;
    int row0 = 0, count = 0;
    for (int s = 0; s < b->B; s++) {
        int L = r->pool == POOL_LAST_TOKEN ? b->lengths[s] : b->T;
        for (int t = 0; t < L; t++)
            for (int c = 0; c < C; c++)
                x[t * C + c] = (double)w->wte[(size_t)b->tokens[s * b->T + t] * C + c] + w->wpe[t * C + c];
        for (int l = 0; l < m->cfg.n_layer; l++) {
            const Gpt2LayerWeights *lw = &w->layers[l];
            for (int t = 0; t < L; t++) ln(h + t * C, x + t * C, lw->ln1_w, lw->ln1_b, C);
            lin(qkv, h, lw->qkv_w, lw->qkv_b, L, C, 3 * C);
            lora_add(r, p, l, 0, qkv, 3 * C, h, L, row0, s);
            for (int hd = 0; hd < NH; hd++)
                for (int t = 0; t < L; t++) {
                    double sc[MAXT], mx = -1e300, sum = 0;
                    for (int u = 0; u <= t; u++) {
                        double d = 0;
                        for (int i = 0; i < hs; i++)
                            d += qkv[t * 3 * C + hd * hs + i] * qkv[u * 3 * C + C + hd * hs + i];
                        sc[u] = d / sqrt((double)hs);
                        if (sc[u] > mx) mx = sc[u];
                    }
                    for (int u = 0; u <= t; u++) sum += (sc[u] = exp(sc[u] - mx));
                    for (int i = 0; i < hs; i++) {
                        double o = 0;
                        for (int u = 0; u <= t; u++) o += sc[u] / sum * qkv[u * 3 * C + 2 * C + hd * hs + i];
                        att[t * C + hd * hs + i] = o;
                    }
                }
            lin(tmp, att, lw->attn_proj_w, lw->attn_proj_b, L, C, C);
            lora_add(r, p, l, 1, tmp, C, att, L, row0, s);
            for (int i = 0; i < L * C; i++) x[i] += tmp[i];
            for (int t = 0; t < L; t++) ln(h + t * C, x + t * C, lw->ln2_w, lw->ln2_b, C);
            lin(tmp, h, lw->fc_w, lw->fc_b, L, C, 4 * C);
            lora_add(r, p, l, 2, tmp, 4 * C, h, L, row0, s);
            for (int i = 0; i < L * 4 * C; i++) {
                double v = tmp[i];
                g[i] = 0.5 * v * (1.0 + tanh(sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)));
            }
            lin(tmp, g, lw->fc_proj_w, lw->fc_proj_b, L, 4 * C, C);
            lora_add(r, p, l, 3, tmp, C, g, L, row0, s);
            for (int i = 0; i < L * C; i++) x[i] += tmp[i];
        }
        if (r->lm) {
            total += lm_loss(r, x, s, L, &count);
            row0 += L;
            continue;
        }
        double hf[64], z[8], mx = -1e300, sum = 0;
        ln(hf, x + (L - 1) * C, w->lnf_w, w->lnf_b, C);
        const double *hw = p + (m->head_w - m->params), *hb = p + (m->head_b - m->params);
        for (int k = 0; k < K; k++) {
            z[k] = hb[k];
            for (int c = 0; c < C; c++) z[k] += hw[k * C + c] * hf[c];
            if (z[k] > mx) mx = z[k];
        }
        for (int k = 0; k < K; k++) sum += exp(z[k] - mx);
        total += log(sum) - (z[b->labels[s]] - mx);
        row0 += L;
    }
    return r->lm ? (count ? total / count : 0) : total / b->B;
}

static double max_rel;

/* Checks `count` elements of the tensor at params offset [off, off + n). */
static void check_tensor(const Ref *r, double *p, const float *grad, size_t off, size_t n,
                         const char *what, Rng *rng) {
    int bad = 0;
    for (int k = 0; k < 6; k++) {
        size_t i = off + (size_t)rng_below(rng, n);
        double save = p[i], step = 1e-5 * fmax(1.0, fabs(save));
        p[i] = save + step;
        double lp = ref_loss(r, p);
        p[i] = save - step;
        double lm = ref_loss(r, p);
        p[i] = save;
        double fd = (lp - lm) / (2 * step), got = grad[i];
        double d = fabs(got - fd);
        if (fabs(fd) > 1e-3 && d / fabs(fd) > max_rel) max_rel = d / fabs(fd);
        if (!(d <= fmax(1e-4 * fabs(fd), 1e-6)) && bad++ < 2)
            CHECK(0, "%s[%zu]: engine %.8g, finite difference %.8g", what, i - off, got, fd);
    }
    if (!bad) CHECK(1, "%s", what);
}

static const LinearSite labs_sites[] = {SITE_Q, SITE_K, SITE_V, SITE_ATTN_OUT, SITE_FC, SITE_FC_PROJ};
static const LinearSite peft_sites[] = {SITE_QKV, SITE_ATTN_OUT, SITE_FC, SITE_FC_PROJ};

static void run(const Gpt2Weights *w, bool peft, bool lm, Gpt2Pool pool, double dropout, const char *label) {
    const int C = w->cfg.n_embd, L = w->cfg.n_layer;
    const LinearSite *sites = peft ? peft_sites : labs_sites;
    int ns = peft ? 4 : 6, n = 0;
    LoraSlot slots[MAX_AD];
    for (int l = 0; l < L; l++)
        for (int s = 0; s < ns; s++) {
            LoraSlot *sl = &slots[n++];
            memset(sl, 0, sizeof *sl);
            snprintf(sl->name, sizeof sl->name, "layer%d.site%d", l, (int)sites[s]);
            sl->layer = l;
            sl->site = sites[s];
            sl->in = sites[s] == SITE_FC_PROJ ? 4 * C : C;
            sl->out = sites[s] == SITE_QKV ? 3 * C : sites[s] == SITE_FC ? 4 * C : C;
            sl->rank = 3;
            sl->alpha = 6.0;
        }
    LoraConfig lc;
    memset(&lc, 0, sizeof lc);
    lc.rank = 3;
    lc.alpha = 6.0;
    lc.scaling = LORA_SCALE_RANK;
    lc.init = peft ? LORA_INIT_PEFT : LORA_INIT_LABS;
    lc.dropout = dropout;

    enum { B = 3, T = 8 };
    int tokens[B * T], lengths[B] = {8, 5, 1}, labels[B] = {1, 0, 1}, prompts[B] = {3, 0, 0};
    Rng rng;
    rng_seed(&rng, 5);
    for (int i = 0; i < B * T; i++) tokens[i] = (int)rng_below(&rng, (uint64_t)w->cfg.vocab_size);
    Gpt2Batch batch = {.tokens = tokens, .lengths = lengths, .labels = labels, .B = B, .T = T,
                       .prompt_lengths = lm ? prompts : NULL};

    Gpt2Model m;
    LfError err = {0};
    CHECK(gpt2_build(&m, w, slots, n, &lc, lm ? 0 : 2, B, T, 77, &err), "build: %s", err.msg);
    /* a point where every gradient is nonzero: random B */
    for (int i = 0; i < m.n_adapters; i++)
        for (int k = 0; k < m.adapters[i].rank * m.adapters[i].out; k++)
            m.lora_B[i][k] = 0.2f * (2.0f * rng_float(&rng) - 1.0f);
    float loss = gpt2_forward(&m, &batch, pool, true, NULL);
    gpt2_backward(&m);

    Ref r = {&m, &batch, pool, {0}, lm};
    float *masks = NULL;
    if (dropout > 0) {
        /* the engine's masks, through the same kernel from the same seeds */
        size_t total = 0;
        for (int i = 0; i < m.n_adapters; i++) total += (size_t)m.N * m.adapters[i].in;
        masks = malloc(total * sizeof(float));
        size_t off = 0;
        for (int i = 0; i < m.n_adapters; i++) {
            /* the top block's stages after the attention run over B rows */
            bool top = !lm && m.adapters[i].layer == L - 1 && m.adapters[i].site > SITE_QKV;
            int rows = top ? m.B : m.N;
            size_t cnt = (size_t)rows * m.adapters[i].in;
            for (size_t k = 0; k < cnt; k++) masks[off + k] = 1.0f;
            dropout_forward(masks + off, masks + off, gpt2_dropout_seed(&m, i), (float)dropout, rows,
                            m.adapters[i].in);
            r.mask[i] = masks + off;
            off += cnt;
        }
    }
    double *p = malloc(m.n_params * sizeof(double));
    for (size_t i = 0; i < m.n_params; i++) p[i] = m.params[i];
    double ref = ref_loss(&r, p);
    CHECK(check_close(loss, ref, 1e-5), "%s: engine loss %.8g, double forward %.8g", label, loss, ref);

    char what[160];
    for (int i = 0; i < m.n_adapters; i++) {
        const Gpt2Adapter *a = &m.adapters[i];
        snprintf(what, sizeof what, "%s: dA %s", label, slots[i].name);
        check_tensor(&r, p, m.grads, (size_t)(m.lora_A[i] - m.params), (size_t)a->in * a->rank, what, &rng);
        snprintf(what, sizeof what, "%s: dB %s", label, slots[i].name);
        check_tensor(&r, p, m.grads, (size_t)(m.lora_B[i] - m.params), (size_t)a->rank * a->out, what, &rng);
    }
    if (lm) {
        free(p);
        free(masks);
        gpt2_free(&m);
        return;
    }
    snprintf(what, sizeof what, "%s: d head.weight", label);
    check_tensor(&r, p, m.grads, (size_t)(m.head_w - m.params), (size_t)2 * C, what, &rng);
    snprintf(what, sizeof what, "%s: d head.bias", label);
    check_tensor(&r, p, m.grads, (size_t)(m.head_b - m.params), 2, what, &rng);
    free(p);
    free(masks);
    gpt2_free(&m);
}

int main(void) {
    Gpt2Weights w;
    Gpt2LayerWeights layers[8];
    StFile *f = fx_open_tiny(check_env("LORAFIT_SOURCE_DIR", "."), &w, layers, 8);
    CHECK(f != NULL, "the tiny model fixture");
    if (!f) return check_done();
    if (w.cfg.n_embd > 64 || w.cfg.n_ctx > MAXT || w.cfg.vocab_size > 256)
        check_skip("fixture model larger than this test's buffers");
    run(&w, false, false, POOL_LAST_TOKEN, 0.0, "labs last-token");
    run(&w, false, false, POOL_LAST_POSITION, 0.0, "labs last-position");
    run(&w, true, false, POOL_LAST_TOKEN, 0.0, "peft last-token");
    run(&w, true, false, POOL_LAST_POSITION, 0.0, "peft last-position");
    run(&w, false, false, POOL_LAST_TOKEN, 0.25, "labs last-token dropout 0.25");
    run(&w, true, false, POOL_LAST_POSITION, 0.25, "peft last-position dropout 0.25");
    run(&w, false, true, POOL_LAST_TOKEN, 0.0, "labs causal LM");
    run(&w, true, true, POOL_LAST_TOKEN, 0.0, "peft causal LM");
    run(&w, true, true, POOL_LAST_TOKEN, 0.25, "peft causal LM dropout 0.25");
    st_close(f);
    printf("max relative error (|fd| > 1e-3): %.3g\n", max_rel);
    return check_done();
}
