/* test_generation.c - the decode loop (engine/generation.h) on a small
 * random GPT-2 with LoRA (nonzero B): greedy tokens equal those of an
 * independent loop without the KV cache (the full forward over the whole
 * sequence, argmax, the repetition penalty applied here by hand over the
 * prompt and what came after it); every way a sequence ends, with the
 * header's order when two apply at once; the callback sees each token once
 * and in order; a failing callback stops the run with its error; sampling
 * does not depend on the sequences decoded beside. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lorafit/engine/classifier.h"
#include "lorafit/engine/generation.h"
#include "lorafit/engine/gpt2_testing.h"
#include "lorafit/engine/random_weights.h"

enum { V = 96, CTX = 48, NEW = 10, N_SEQ = 2 };

static const int32_t PROMPT0[] = {5, 17, 2}, PROMPT1[] = {40, 41, 3, 9, 77, 12, 60};
static const int32_t *const PROMPTS[N_SEQ] = {PROMPT0, PROMPT1};
static const int PROMPT_LEN[N_SEQ] = {3, 7};

/* Greedy continuation by the full forward, no cache: out[0..new_tokens). */
static void reference(Gpt2Model *m, int j, int new_tokens, float penalty, int32_t *out) {
    int32_t seq[CTX];
    int n = PROMPT_LEN[j];
    memcpy(seq, PROMPTS[j], (size_t)n * sizeof *seq);
    float *all = malloc((size_t)CTX * V * sizeof *all);
    for (int t = 0; t < new_tokens; t++) {
        Gpt2Batch b = {.tokens = seq, .lengths = NULL, .labels = NULL, .B = 1, .T = n};
        gpt2_lm_logits(m, &b, all);
        float *x = all + (size_t)(n - 1) * V;
        bool seen[V] = {false};
        for (int i = 0; i < n; i++) seen[seq[i]] = true;
        for (int v = 0; v < V; v++)
            if (seen[v]) x[v] = x[v] > 0 ? x[v] / penalty : x[v] * penalty;
        int best = 0;
        for (int v = 1; v < V; v++)
            if (x[v] > x[best]) best = v;
        out[t] = seq[n++] = best;
    }
    free(all);
}

/* What the callback saw, and what it is told to do. */
typedef struct {
    int32_t seen[N_SEQ][CTX];
    int n_seen[N_SEQ];
    bool ids_agree; /* each token was the last of its sequence's ids */
    int end_at[N_SEQ];  /* GEN_END at this many tokens (0: never) */
    int fail_at[N_SEQ]; /* GEN_FAIL at this many tokens (0: never) */
} Watch;

static GenVerdict watch(void *user, int i, GenSequence *s, int32_t id, LfError *err) {
    Watch *w = user;
    w->ids_agree &= s->ids.n > s->n_prompt && s->ids.ids[s->ids.n - 1] == id;
    int k = ++w->n_seen[i];
    if (k <= CTX) w->seen[i][k - 1] = id;
    if (k == w->fail_at[i]) {
        lf_error_set(err, LF_ERR_IO, "the callback failed at token %d", k);
        return GEN_FAIL;
    }
    return k == w->end_at[i] ? GEN_END : GEN_NEXT;
}

/* Runs the n sequences whose prompts are PROMPTS[first..first+n) in slots
 * 0..n-1; seqs must be freed with free_seqs. */
static bool run(Generation *g, GenSequence *seqs, int first, int n, const GenRequest *r, LfError *err) {
    for (int b = 0; b < n; b++) {
        int j = first + b;
        seqs[b] = (GenSequence){0};
        seqs[b].ids.ids = malloc((size_t)PROMPT_LEN[j] * sizeof(int32_t));
        memcpy(seqs[b].ids.ids, PROMPTS[j], (size_t)PROMPT_LEN[j] * sizeof(int32_t));
        seqs[b].ids.n = seqs[b].ids.cap = seqs[b].n_prompt = (size_t)PROMPT_LEN[j];
    }
    return generation_run(g, seqs, n, r, err);
}

static void free_seqs(GenSequence *seqs, int n) {
    for (int b = 0; b < n; b++) tok_ids_free(&seqs[b].ids);
}

static int generated(const GenSequence *s) { return (int)(s->ids.n - s->n_prompt); }

static bool same_tokens(const GenSequence *s, const int32_t *want, int n) {
    return generated(s) == n && memcmp(s->ids.ids + s->n_prompt, want, (size_t)n * sizeof *want) == 0;
}

static int first_index(const int32_t *x, int n, int32_t v) {
    for (int i = 0; i < n; i++)
        if (x[i] == v) return i;
    return -1;
}

static void check_greedy(Gpt2Model *m, int32_t want[N_SEQ][NEW]) {
    LfError err = {0};
    Generation g;
    SamplerConfig sc = sampler_config_default();
    REQUIRE(generation_init(&g, m, N_SEQ, CTX, &sc, &err), "generation_init: %s", err.msg);
    GenSequence s[N_SEQ];
    Watch w = {.ids_agree = true};
    GenRequest r = {.max_new = NEW, .on_token = watch, .user = &w};

    /* side by side, to max_new */
    CHECK(run(&g, s, 0, N_SEQ, &r, &err), "run: %s", err.msg);
    for (int j = 0; j < N_SEQ; j++) {
        CHECK(same_tokens(&s[j], want[j], NEW), "sequence %d: not the reference's %d tokens", j, NEW);
        CHECK(s[j].stop == GEN_STOP_LENGTH, "sequence %d: stop %d, want GEN_STOP_LENGTH", j, s[j].stop);
        CHECK(w.n_seen[j] == NEW && memcmp(w.seen[j], want[j], sizeof want[j]) == 0,
              "sequence %d: the callback saw %d tokens, not the %d generated in order", j, w.n_seen[j], NEW);
    }
    CHECK(w.ids_agree, "the callback's token was not the last of its sequence's ids");
    free_seqs(s, N_SEQ);

    /* a stop id: the sequence ends at its first occurrence, the id kept;
     * when it is also the max_new-th token, GEN_STOP_ID wins */
    int32_t stop = want[0][4];
    int k0 = first_index(want[0], NEW, stop), k1 = first_index(want[1], NEW, stop);
    GenRequest rs = {.max_new = NEW, .stop_ids = &stop, .n_stop_ids = 1};
    CHECK(run(&g, s, 0, N_SEQ, &rs, &err), "run with a stop id: %s", err.msg);
    CHECK(s[0].stop == GEN_STOP_ID && same_tokens(&s[0], want[0], k0 + 1),
          "stop id %d: sequence 0 ended with %d tokens (stop %d), want %d and GEN_STOP_ID", stop, generated(&s[0]),
          s[0].stop, k0 + 1);
    CHECK(k1 < 0 ? s[1].stop == GEN_STOP_LENGTH && same_tokens(&s[1], want[1], NEW)
                 : s[1].stop == GEN_STOP_ID && same_tokens(&s[1], want[1], k1 + 1),
          "stop id %d: sequence 1 ended with %d tokens (stop %d)", stop, generated(&s[1]), s[1].stop);
    free_seqs(s, N_SEQ);
    rs.max_new = k0 + 1;
    CHECK(run(&g, s, 0, 1, &rs, &err) && s[0].stop == GEN_STOP_ID && generated(&s[0]) == k0 + 1,
          "a stop id as the last allowed token: stop %d, want GEN_STOP_ID", s[0].stop);
    free_seqs(s, 1);

    /* the callback ends sequence 1 at its 3rd token, sequence 0 at its
     * max_new-th (GEN_STOP_CALLER wins over GEN_STOP_LENGTH) */
    memset(&w, 0, sizeof w);
    w.ids_agree = true;
    w.end_at[0] = NEW, w.end_at[1] = 3;
    CHECK(run(&g, s, 0, N_SEQ, &r, &err), "run: %s", err.msg);
    CHECK(s[1].stop == GEN_STOP_CALLER && same_tokens(&s[1], want[1], 3) && w.n_seen[1] == 3,
          "GEN_END at 3: %d tokens, stop %d, %d calls", generated(&s[1]), s[1].stop, w.n_seen[1]);
    CHECK(s[0].stop == GEN_STOP_CALLER && same_tokens(&s[0], want[0], NEW),
          "GEN_END at max_new: %d tokens, stop %d", generated(&s[0]), s[0].stop);
    free_seqs(s, N_SEQ);

    /* a failing callback stops the run with its message */
    memset(&w, 0, sizeof w);
    w.fail_at[1] = 2;
    CHECK(!run(&g, s, 0, N_SEQ, &r, &err) && strcmp(err.msg, "the callback failed at token 2") == 0,
          "GEN_FAIL: the run went on, or said '%s'", err.msg);
    free_seqs(s, N_SEQ);
    CHECK(!generation_run(&g, s, N_SEQ + 1, &r, &err), "more sequences than slots were accepted");
    generation_free(&g);

    /* the decoder's room: 11 positions end the 7-token prompt after 4 new
     * tokens and the 3-token one after 8, before max_new (10) */
    REQUIRE(generation_init(&g, m, N_SEQ, 11, &sc, &err), "generation_init: %s", err.msg);
    GenRequest plain = {.max_new = NEW};
    CHECK(run(&g, s, 0, N_SEQ, &plain, &err), "run: %s", err.msg);
    CHECK(s[0].stop == GEN_STOP_CONTEXT && same_tokens(&s[0], want[0], 8), "room 11, prompt 3: %d tokens, stop %d",
          generated(&s[0]), s[0].stop);
    CHECK(s[1].stop == GEN_STOP_CONTEXT && same_tokens(&s[1], want[1], 4), "room 11, prompt 7: %d tokens, stop %d",
          generated(&s[1]), s[1].stop);
    free_seqs(s, N_SEQ);
    generation_free(&g);
}

/* The repetition penalty sees the prompt and the tokens generated so far. */
static void check_penalty(Gpt2Model *m) {
    int32_t want[NEW];
    reference(m, 1, NEW, 3.0f, want);
    LfError err = {0};
    Generation g;
    SamplerConfig sc = sampler_config_default();
    sc.repetition_penalty = 3.0;
    REQUIRE(generation_init(&g, m, 1, CTX, &sc, &err), "generation_init: %s", err.msg);
    GenSequence s[1];
    GenRequest r = {.max_new = NEW};
    CHECK(run(&g, s, 1, 1, &r, &err) && same_tokens(&s[0], want, NEW),
          "repetition penalty 3: not the reference's tokens");
    free_seqs(s, 1);
    generation_free(&g);
}

/* Sampling: a sequence draws the same tokens alone or beside another. */
static void check_sampling(Gpt2Model *m) {
    LfError err = {0};
    Generation g;
    SamplerConfig sc = sampler_config_default();
    sc.temperature = 1.5, sc.seed = 11;
    REQUIRE(generation_init(&g, m, N_SEQ, CTX, &sc, &err), "generation_init: %s", err.msg);
    GenSequence both[N_SEQ], alone[1];
    GenRequest r = {.max_new = NEW};
    CHECK(run(&g, both, 0, N_SEQ, &r, &err), "run: %s", err.msg);
    for (int j = 0; j < N_SEQ; j++) {
        CHECK(run(&g, alone, j, 1, &r, &err), "run: %s", err.msg);
        CHECK(same_tokens(&alone[0], both[j].ids.ids + both[j].n_prompt, NEW),
              "sampled sequence %d: other tokens alone than beside another", j);
        free_seqs(alone, 1);
    }
    free_seqs(both, N_SEQ);
    generation_free(&g);
}

int main(void) {
    Gpt2Config cfg = {.n_layer = 2, .n_embd = 32, .n_head = 4, .vocab_size = V, .n_ctx = CTX, .qkv_bias = true};
    LfError err = {0};
    Gpt2Weights *w = gpt2_weights_random(&cfg, 4, &err);
    REQUIRE(w != NULL, "random weights: %s", err.msg);
    LoraConfig lc = lora_config_default();
    lc.rank = 4;
    REQUIRE(lora_config_set_targets(&lc, "c_attn,c_proj", &err), "%s", err.msg);
    Classifier c;
    REQUIRE(classifier_build(&c, w, MODTREE_HF, &lc, 0, 1, CTX, 5, &err), "classifier_build: %s", err.msg);
    Rng r;
    rng_seed(&r, 99);
    for (int i = 0; i < c.model.n_adapters; i++) {
        const Gpt2Adapter *a = &c.model.adapters[i];
        for (int k = 0; k < a->rank * a->out; k++) c.model.lora_B[i][k] = 0.2f * (2 * rng_float(&r) - 1);
    }
    int32_t want[N_SEQ][NEW];
    for (int j = 0; j < N_SEQ; j++) reference(&c.model, j, NEW, 1.0f, want[j]);
    check_greedy(&c.model, want);
    check_penalty(&c.model);
    check_sampling(&c.model);
    classifier_free(&c);
    gpt2_weights_random_free(w);
    return check_done();
}
