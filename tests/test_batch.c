/* test_batch.c - batches cut from a TokenSet reach the engine packed (no
 * padded copy of the ids) and compute exactly what a dense [B, T] batch
 * padded with TOK_EOT computes, the layout the engine fixtures hold against
 * PyTorch: the same logits and loss, bit for bit, for both poolings and for
 * rows taken out of order. batch_predict's probabilities and mean loss
 * match a softmax and cross-entropy computed here in long double from those
 * logits, in one batch or several. */
#include <string.h>

#include "check.h"
#include "lorafit/engine/batch.h"
#include "lorafit/engine/random_weights.h"

#define N_TEXTS 5
#define MAX_LEN 9

static const int LENGTHS[N_TEXTS] = {3, 9, 1, 6, 4};

/* Five labelled texts of the lengths above, ids one after the other. */
static void make_set(TokenSet *ts, int32_t *ids, size_t *offset, int *len, int *labels) {
    memset(ts, 0, sizeof *ts);
    size_t o = 0;
    for (int i = 0; i < N_TEXTS; i++) {
        offset[i] = o;
        len[i] = LENGTHS[i];
        for (int t = 0; t < len[i]; t++) ids[o++] = (int32_t)((1000 + 977 * i + 31 * t) % TOK_GPT2_VOCAB_SIZE);
        labels[i] = i % 2;
    }
    offset[N_TEXTS] = o;
    *ts = (TokenSet){.n = N_TEXTS, .tokens = ids, .offset = offset, .full_length = len, .length = len,
                     .labels = labels, .max_length = MAX_LEN, .longest = MAX_LEN};
}

/* rows[0..B) of ts as a dense [B, T] array padded with TOK_EOT. */
static Gpt2Batch dense(const TokenSet *ts, const int *rows, int B, int T, int32_t *tokens, int *lengths,
                       int *labels) {
    for (int b = 0; b < B; b++) {
        int r = rows[b];
        for (int t = 0; t < T; t++) tokens[b * T + t] = t < ts->length[r] ? ts->tokens[ts->offset[r] + t] : TOK_EOT;
        lengths[b] = ts->length[r];
        labels[b] = ts->labels[r];
    }
    return (Gpt2Batch){.tokens = tokens, .lengths = lengths, .labels = labels, .B = B, .T = T};
}

/* Logits and loss of a training forward (the float cross-entropy). */
static float forward(Gpt2Model *m, const Gpt2Batch *b, Gpt2Pool pool, float *logits) {
    return gpt2_forward(m, b, pool, true, logits);
}

int main(void) {
    Gpt2Config cfg = {2, 16, 2, TOK_GPT2_VOCAB_SIZE, 16, true};
    LfError err = {0};
    Gpt2Weights *w = gpt2_weights_random(&cfg, 11, &err);
    CHECK(w != NULL, "random weights: %s", err.msg);
    if (!w) return check_done();
    LoraConfig lc = lora_config_default();
    LoraSlot slots[2] = {{"trf_blocks.0.att.W_value", 0, SITE_V, 16, 16, 4, 8.0},
                         {"trf_blocks.1.ff.layers.2", 1, SITE_FC_PROJ, 64, 16, 4, 8.0}};
    Gpt2Model m;
    if (!gpt2_build(&m, w, slots, 2, &lc, 2, N_TEXTS, 12, 7, &err)) {
        CHECK(0, "build: %s", err.msg);
        gpt2_weights_random_free(w);
        return check_done();
    }
    for (int i = 0; i < 2; i++) /* a nonzero B, so that the adapters count */
        for (int k = 0; k < m.adapters[i].rank * m.adapters[i].out; k++) m.lora_B[i][k] = 0.01f * (float)(k % 7 - 3);

    int32_t ids[N_TEXTS * MAX_LEN];
    size_t offset[N_TEXTS + 1];
    int len[N_TEXTS], labels[N_TEXTS];
    TokenSet ts;
    make_set(&ts, ids, offset, len, labels);

    const Gpt2Pool pools[2] = {POOL_LAST_TOKEN, POOL_LAST_POSITION};
    const char *names[2] = {"last-token", "last-position"};
    const int pad_to = 12;
    const int in_order[N_TEXTS] = {0, 1, 2, 3, 4}, shuffled[N_TEXTS] = {3, 0, 4, 2, 1};
    for (int p = 0; p < 2; p++) {
        int32_t dtok[N_TEXTS * 12];
        int dlen[N_TEXTS], dlab[N_TEXTS];
        float want[N_TEXTS * 2], got[N_TEXTS * 2];

        /* batch_range: views into the set */
        Gpt2Batch packed = batch_range(&ts, 0, N_TEXTS, pools[p], pad_to);
        CHECK(packed.tokens == ts.tokens && packed.start == ts.offset && packed.lengths == ts.length,
              "%s: batch_range copies nothing", names[p]);
        CHECK(packed.T == (p ? pad_to : MAX_LEN), "%s: T %d", names[p], packed.T);
        Gpt2Batch d = dense(&ts, in_order, N_TEXTS, packed.T, dtok, dlen, dlab);
        float lw = forward(&m, &d, pools[p], want), lg = forward(&m, &packed, pools[p], got);
        CHECK(lw == lg && memcmp(want, got, sizeof want) == 0, "%s: packed = dense (loss %.9g vs %.9g)",
              names[p], lg, lw);

        /* batch_select: rows out of order */
        size_t start[N_TEXTS];
        int slen[N_TEXTS], slab[N_TEXTS];
        Gpt2Batch sel = batch_select(&ts, shuffled, N_TEXTS, pools[p], pad_to, start, slen, slab, NULL);
        d = dense(&ts, shuffled, N_TEXTS, sel.T, dtok, dlen, dlab);
        lw = forward(&m, &d, pools[p], want);
        lg = forward(&m, &sel, pools[p], got);
        CHECK(lw == lg && memcmp(want, got, sizeof want) == 0 && memcmp(slab, dlab, sizeof slab) == 0,
              "%s: selected rows = dense", names[p]);

        /* batch_predict against a softmax of the dense logits, in batches of 5 and of 2 */
        d = dense(&ts, in_order, N_TEXTS, packed.T, dtok, dlen, dlab);
        gpt2_forward(&m, &d, pools[p], false, want);
        long double loss = 0;
        float probs[N_TEXTS * 2];
        double mean;
        CHECK(batch_predict(&m, &ts, pools[p], pad_to, probs, &mean, &err), "predict: %s", err.msg);
        int bad = 0;
        for (int b = 0; b < N_TEXTS; b++) {
            long double z0 = want[2 * b], z1 = want[2 * b + 1], mx = z0 > z1 ? z0 : z1;
            long double s = expl(z0 - mx) + expl(z1 - mx);
            for (int k = 0; k < 2; k++) bad += fabsl(probs[2 * b + k] - expl(want[2 * b + k] - mx) / s) > 1e-7L;
            loss += logl(s) - (want[2 * b + labels[b]] - mx);
        }
        CHECK(bad == 0, "%s: %d probabilities off the softmax", names[p], bad);
        CHECK(fabsl(mean - loss / N_TEXTS) < 1e-12L, "%s: mean loss %.15g vs %.15Lg", names[p], mean,
              loss / N_TEXTS);
        Gpt2Model small;
        float probs2[N_TEXTS * 2];
        double mean2 = 0;
        CHECK(gpt2_build(&small, w, slots, 2, &lc, 2, 2, 12, 7, &err), "build 2: %s", err.msg);
        memcpy(small.params, m.params, m.n_params * sizeof(float));
        CHECK(batch_predict(&small, &ts, pools[p], pad_to, probs2, &mean2, &err), "predict 2: %s", err.msg);
        /* the same up to sgemm's rounding, which may differ with the batch's row count */
        double worst = 0;
        for (int k = 0; k < N_TEXTS * 2; k++) worst = fmax(worst, fabs((double)probs[k] - probs2[k]));
        CHECK(worst < 1e-6 && fabs(mean - mean2) < 1e-6, "%s: batches of 2 predict what one batch of 5 does "
              "(probabilities %.3g apart, loss %.17g vs %.17g)", names[p], worst, mean2, mean);
        gpt2_free(&small);
    }

    /* a packed batch needs its lengths, and a padding id the model knows */
    Gpt2Batch no_len = batch_range(&ts, 0, 2, POOL_LAST_TOKEN, 0);
    no_len.lengths = NULL;
    CHECK(isnan(gpt2_forward(&m, &no_len, POOL_LAST_TOKEN, false, NULL)), "packed without lengths refused");
    Gpt2Batch bad_pad = batch_range(&ts, 0, 2, POOL_LAST_POSITION, pad_to);
    bad_pad.pad_id = TOK_GPT2_VOCAB_SIZE;
    CHECK(isnan(gpt2_forward(&m, &bad_pad, POOL_LAST_POSITION, false, NULL)), "padding id out of range refused");

    gpt2_free(&m);
    gpt2_weights_random_free(w);
    return check_done();
}
