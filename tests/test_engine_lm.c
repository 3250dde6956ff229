/* test_engine_lm.c - the engine as a causal language model against the
 * PyTorch reference (scripts/reference/make_lm_fixtures.py): the tiny GPT-2
 * with its LM head tied to wte, LoRA only, in PEFT's setup (the Hugging
 * Face-style model, c_attn and mlp.c_proj) and the labs' (every Linear).
 *
 * One batch of 4 sequences of different lengths and prompt lengths: the
 * masked loss (HF's shifted labels, ignore_index=-100, mean over counted
 * tokens) within 1e-5 * max(1, |ref|), every LoRA gradient within
 * max(1e-4 |ref|, 1e-6), at B = 0 and at a random B, with and without the
 * prompt masked; the LM logits at every position through the LM's own
 * forward within 1e-5; parameters after 3 AdamW steps within 1e-5. The same
 * through batch.h's packed batches (prompt lengths from a TokenSet, rows
 * out of order), over more targets than one chunk of the head, and through
 * the trainer (a step's counted targets, an evaluation's loss per token and
 * token accuracy, both against the reference's logits). */
#include <string.h>

#include "check.h"
#include "engine_fixture.h"
#include "lorafit/engine/batch.h"
#include "lorafit/engine/gpt2_testing.h"
#include "lorafit/engine/optim.h"
#include "lorafit/engine/trainer.h"

#define MAX_SLOTS 32
enum { B = 4, T = 10, COPIES = 36 }; /* COPIES x the batch's 15 targets > one head chunk */

static FxErr err_loss, err_logits, err_param;
static double grad_abs, grad_rel;

static void check_tensor(const float *got, const float *want, size_t n, const char *what, FxErr *acc) {
    int bad = 0;
    for (size_t i = 0; i < n; i++)
        if (!check_close(got[i], want[i], 1e-5) && bad++ < 3) CHECK(0, "%s[%zu]: got %.8g want %.8g", what, i, got[i], want[i]);
    if (!bad) CHECK(1, "%s", what);
    fx_err_add(acc, got, want, n);
}

static void check_grad(const float *got, const float *want, size_t n, const char *what) {
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (!(d <= fmax(1e-4 * fabs(want[i]), 1e-6)) && bad++ < 3)
            CHECK(0, "%s[%zu]: got %.8g want %.8g", what, i, got[i], want[i]);
        if (d > grad_abs) grad_abs = d;
        if (fabs(want[i]) > 1e-3 && d / fabs(want[i]) > grad_rel) grad_rel = d / fabs(want[i]);
    }
    if (!bad) CHECK(1, "%s", what);
}

typedef struct {
    const StFile *f;
    LoraSlot slots[MAX_SLOTS];
    int n_slots;
    const char *name;
} Fixture;

/* A from init, B zero (p1: p1's B). */
static void load_point(Gpt2Model *m, const Fixture *fx, bool p1) {
    char n[256];
    for (int i = 0; i < m->n_adapters; i++) {
        const Gpt2Adapter *a = &m->adapters[i];
        snprintf(n, sizeof n, "init.%s.A", fx->slots[i].name);
        const float *A = fx_f32(fx->f, n, (size_t)a->in * a->rank);
        snprintf(n, sizeof n, "p1.%s.B", fx->slots[i].name);
        const float *Bv = fx_f32(fx->f, n, (size_t)a->rank * a->out);
        REQUIRE(A && Bv, "%s: tensors of %s", fx->name, fx->slots[i].name);
        memcpy(m->lora_A[i], A, (size_t)a->in * a->rank * sizeof(float));
        if (p1)
            memcpy(m->lora_B[i], Bv, (size_t)a->rank * a->out * sizeof(float));
        else
            memset(m->lora_B[i], 0, (size_t)a->rank * a->out * sizeof(float));
    }
}

/* The model's params (or grads) against "<prefix>.<adapter>.A/.B". */
static void check_all(const Gpt2Model *m, const Fixture *fx, const char *prefix, bool grads) {
    char n[256];
    for (int i = 0; i < m->n_adapters; i++) {
        const Gpt2Adapter *a = &m->adapters[i];
        for (int k = 0; k < 2; k++) {
            size_t cnt = k ? (size_t)a->rank * a->out : (size_t)a->in * a->rank;
            snprintf(n, sizeof n, "%s.%s.%c", prefix, fx->slots[i].name, k ? 'B' : 'A');
            const float *want = fx_f32(fx->f, n, cnt);
            CHECK(want != NULL, "%s: tensor %s", fx->name, n);
            if (!want) continue;
            if (grads)
                check_grad(k ? m->grad_B[i] : m->grad_A[i], want, cnt, n);
            else
                check_tensor(k ? m->lora_B[i] : m->lora_A[i], want, cnt, n, &err_param);
        }
    }
}

static void check_loss(float got, const Fixture *fx, const char *name, const char *what) {
    const float *want = fx_f32(fx->f, name, 1);
    REQUIRE(want != NULL, "%s: tensor %s", fx->name, name);
    char label[160];
    snprintf(label, sizeof label, "%s %s: %s", fx->name, what, name);
    check_tensor(&got, want, 1, label, &err_loss);
}

/* The dense batch of the fixture: one forward + backward, loss and grads. */
static void check_dense(Gpt2Model *m, const Fixture *fx, const Gpt2Batch *batch) {
    const char *points[] = {"p0", "p1", "nomask.p1"};
    for (int p = 0; p < 3; p++) {
        load_point(m, fx, p > 0);
        Gpt2Batch b = *batch;
        if (p == 2) b.prompt_lengths = NULL;
        float loss = gpt2_forward(m, &b, POOL_LAST_TOKEN, true, NULL);
        gpt2_backward(m);
        char n[64];
        snprintf(n, sizeof n, "%s.loss", points[p]);
        check_loss(loss, fx, n, "dense");
        snprintf(n, sizeof n, "%s.grad", points[p]);
        check_all(m, fx, n, true);
    }
}

/* Targets that count in the fixture's batch, and how many of them the
 * reference's own p1 logits predict by their argmax. */
static int reference_hits(const Fixture *fx, const int32_t *tokens, const int32_t *lengths,
                          const int32_t *prompts, int V, int *targets) {
    const float *lg = fx_f32(fx->f, "p1.logits", (size_t)B * T * V);
    REQUIRE(lg != NULL, "p1.logits");
    int hits = 0;
    *targets = 0;
    for (int b = 0; b < B; b++)
        for (int t = prompts[b] > 0 ? prompts[b] - 1 : 0; t + 1 < lengths[b]; t++) {
            const float *z = lg + ((size_t)b * T + t) * V;
            int best = 0;
            for (int v = 1; v < V; v++)
                if (z[v] > z[best]) best = v;
            hits += best == tokens[b * T + t + 1];
            ++*targets;
        }
    return hits;
}

/* COPIES copies of the fixture's sequences, packed as a TokenSet holds them. */
typedef struct {
    TokenSet ts;
    int32_t tokens[COPIES * B * T];
    size_t offset[COPIES * B + 1];
    int length[COPIES * B], full[COPIES * B], prompt[COPIES * B];
} PackedSet;

static void pack(PackedSet *s, const int32_t *tokens, const int32_t *lengths, const int32_t *prompts, int copies) {
    memset(&s->ts, 0, sizeof s->ts);
    size_t o = 0;
    for (int i = 0; i < copies * B; i++) {
        int b = i % B;
        s->offset[i] = o;
        s->length[i] = s->full[i] = lengths[b];
        s->prompt[i] = prompts[b];
        for (int t = 0; t < lengths[b]; t++) s->tokens[o++] = tokens[b * T + t];
    }
    s->offset[copies * B] = o;
    s->ts = (TokenSet){.n = (size_t)copies * B, .tokens = s->tokens, .offset = s->offset, .full_length = s->full,
                       .length = s->length, .prompt_length = s->prompt, .max_length = T, .longest = T};
}

static void run_case(const Gpt2Weights *w, const char *dir, const char *name) {
    char path[4300];
    snprintf(path, sizeof path, "%s/lm_%s.safetensors", dir, name);
    LfError err = {0};
    StFile *f = st_open(path, &err);
    REQUIRE(f != NULL, "%s", err.msg);
    Fixture fx = {.f = f, .name = name};
    LoraConfig lc = lora_config_default();
    lc.rank = fx_meta_int(f, "rank");
    lc.alpha = atof(st_metadata(f, "alpha"));
    lc.scaling = LORA_SCALE_RANK;
    fx.n_slots = fx_slots(f, fx.slots, MAX_SLOTS, lc.alpha);
    REQUIRE(fx.n_slots > 0, "%s: adapters metadata", name);
    const int V = w->cfg.vocab_size;
    const int32_t *tokens = fx_i32(f, "tokens", B * T), *lengths = fx_i32(f, "lengths", B),
                  *prompts = fx_i32(f, "prompt_lengths", B);
    REQUIRE(tokens && lengths && prompts, "%s: batch tensors", name);
    Gpt2Batch dense = {.tokens = tokens, .lengths = lengths, .B = B, .T = T, .prompt_lengths = prompts};

    Gpt2Model m, base;
    REQUIRE(gpt2_build(&m, w, fx.slots, fx.n_slots, &lc, 0, COPIES * B, T, 42, &err), "build: %s", err.msg);
    REQUIRE(gpt2_build(&base, w, NULL, 0, &lc, 0, B, T, 42, &err), "build base: %s", err.msg);
    size_t adapter_params = 0;
    for (int i = 0; i < m.n_adapters; i++)
        adapter_params += (size_t)m.adapters[i].rank * (m.adapters[i].in + m.adapters[i].out);
    CHECK(m.n_params == adapter_params, "%s: no head parameters, only the adapters'", name);
    check_dense(&m, &fx, &dense);

    /* B = 0: the adapters change nothing, bit for bit */
    load_point(&m, &fx, false);
    float l0 = gpt2_forward(&m, &dense, POOL_LAST_TOKEN, false, NULL);
    CHECK(l0 == gpt2_forward(&base, &dense, POOL_LAST_TOKEN, false, NULL), "%s: B = 0 is the base model", name);

    /* the logits at every position, through the LM's own forward */
    load_point(&m, &fx, true);
    float *lm = malloc((size_t)B * T * V * sizeof *lm);
    REQUIRE(lm != NULL, "malloc");
    Gpt2Batch every = {.tokens = tokens, .B = B, .T = T};
    gpt2_lm_logits(&m, &every, lm);
    const float *want = fx_f32(f, "p1.logits", (size_t)B * T * V);
    REQUIRE(want != NULL, "p1.logits");
    check_tensor(lm, want, (size_t)B * T * V, "p1.logits", &err_logits);
    free(lm);

    /* packed, out of order, and over more targets than one chunk of the head */
    PackedSet *ps = malloc(sizeof *ps);
    REQUIRE(ps != NULL, "malloc");
    pack(ps, tokens, lengths, prompts, COPIES);
    int rows[COPIES * B], lens[COPIES * B], labels[COPIES * B], pl[COPIES * B];
    size_t start[COPIES * B];
    for (int i = 0; i < COPIES * B; i++) rows[i] = COPIES * B - 1 - i;
    Gpt2Batch sel = batch_select(&ps->ts, rows, COPIES * B, POOL_LAST_TOKEN, 0, start, lens, labels, pl);
    CHECK(sel.prompt_lengths == pl && pl[0] == prompts[(COPIES * B - 1) % B], "batch_select carries prompt lengths");
    float loss = gpt2_forward(&m, &sel, POOL_LAST_TOKEN, true, NULL);
    gpt2_backward(&m);
    CHECK(m.lm.n == COPIES * 15 && m.lm.n > LM_HEAD_CHUNK_ROWS, "%s: %d targets over %d chunks", name, m.lm.n,
          (m.lm.n + LM_HEAD_CHUNK_ROWS - 1) / LM_HEAD_CHUNK_ROWS);
    check_loss(loss, &fx, "p1.loss", "packed x12, reversed");
    check_all(&m, &fx, "p1.grad", true);
    Gpt2Batch range = batch_range(&ps->ts, 0, B, POOL_LAST_TOKEN, 0);
    CHECK(range.prompt_lengths == ps->prompt, "batch_range carries prompt lengths");
    check_loss(gpt2_forward(&m, &range, POOL_LAST_TOKEN, false, NULL), &fx, "p1.loss", "batch_range");

    /* what the engine refuses */
    int bad_prompt[B] = {4, 7, 2, 1};
    Gpt2Batch bad = dense;
    bad.prompt_lengths = bad_prompt;
    CHECK(isnan(gpt2_forward(&m, &bad, POOL_LAST_TOKEN, true, NULL)), "a prompt as long as its text is refused");
    CHECK(isnan(gpt2_forward(&m, &dense, POOL_LAST_POSITION, true, NULL)), "an LM takes no padded positions");

    /* the trainer: evaluation per token, and one step's counted targets */
    AdamW opt;
    REQUIRE(adamw_build(&opt, m.n_params, 5e-3f, 0.1f, &err), "adamw: %s", err.msg);
    pack(ps, tokens, lengths, prompts, 1);
    Trainer tr;
    CHECK(!trainer_init(&tr, &m, &opt, &ps->ts, POOL_LAST_POSITION, T, B, true, 0, 7, &err) &&
              err.kind == LF_ERR_INPUT,
          "an LM's trainer refuses padded batches");
    REQUIRE(trainer_init(&tr, &m, &opt, &ps->ts, POOL_LAST_TOKEN, 0, B, true, 0, 7, &err), "trainer: %s", err.msg);
    double eloss, eacc;
    CHECK(trainer_evaluate(&tr, &ps->ts, &eloss, &eacc, &err), "evaluate: %s", err.msg);
    int n_targets, hits = reference_hits(&fx, tokens, lengths, prompts, V, &n_targets);
    check_loss((float)eloss, &fx, "p1.loss", "trainer_evaluate");
    CHECK(fabs(eacc - (double)hits / n_targets) < 1e-12, "%s: token accuracy %.4f, the reference's argmax %d/%d", name,
          eacc, hits, n_targets);
    StepResult sr;
    CHECK(trainer_step(&tr, &sr, &err), "step: %s", err.msg);
    CHECK(sr.B == n_targets && n_targets == 15 && sr.correct == hits, "%s: step counted %d targets (%d hit)", name,
          sr.B, sr.correct);
    check_loss((float)sr.loss, &fx, "p1.loss", "trainer_step");
    trainer_free(&tr);
    adamw_free(&opt);

    /* 3 AdamW steps from p1 */
    load_point(&m, &fx, true);
    REQUIRE(adamw_build(&opt, m.n_params, (float)atof(st_metadata(f, "lr")),
                        (float)atof(st_metadata(f, "weight_decay")), &err),
            "adamw: %s", err.msg);
    for (int s = 0; s < 3; s++) {
        gpt2_forward(&m, &dense, POOL_LAST_TOKEN, true, NULL);
        gpt2_backward(&m);
        adamw_step(&opt, m.params, m.grads, m.n_params);
    }
    adamw_free(&opt);
    check_all(&m, &fx, "adamw3", false);

    free(ps);
    gpt2_free(&m);
    gpt2_free(&base);
    st_close(f);
}

int main(void) {
    const char *source_dir = check_env("LORAFIT_SOURCE_DIR", ".");
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/tests/fixtures/engine", source_dir);
    Gpt2Weights w;
    Gpt2LayerWeights layers[8];
    StFile *f = fx_open_tiny(source_dir, &w, layers, 8);
    REQUIRE(f != NULL, "the tiny model fixture");
    run_case(&w, dir, "peft");
    run_case(&w, dir, "labs");
    st_close(f);
    printf("max error: loss abs %.3g; logits abs %.3g rel %.3g; grads abs %.3g rel (|ref| > 1e-3) %.3g; params "
           "after 3 steps abs %.3g rel %.3g\n",
           err_loss.abs, err_logits.abs, err_logits.rel, grad_abs, grad_rel, err_param.abs, err_param.rel);
    return check_done();
}
