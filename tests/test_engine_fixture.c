/* test_engine_fixture.c - the engine against the PyTorch reference.
 *
 * Fixtures: scripts/reference/make_engine_fixtures.py (tiny GPT-2, two LoRA
 * setups: the labs' separate Q/K/V + out_proj + ff targets with rank
 * scaling, and PEFT's fused c_attn + c_proj + c_fc with alpha-only scaling
 * and gradient clipping). For both pooling modes: logits and loss within
 * 1e-5 * max(1, |ref|); every LoRA and head gradient within 1e-4 relative
 * (1e-6 absolute floor), at the start (B = 0) and at a point with random
 * nonzero B; parameters after 3 AdamW steps (weight decay 0.1) within
 * 1e-5 * max(1, |ref|). Also: with B = 0 the logits equal the base model's
 * exactly, and the tied LM head matches the reference at every position. */
#include <string.h>

#include "check.h"
#include "engine_fixture.h"
#include "lorafit/engine/gpt2_testing.h"
#include "lorafit/engine/optim.h"

#define MAX_SLOTS 32

static char dir[4096];
static FxErr err_logits, err_loss, err_grad, err_param, err_lm;

static void check_tensor(const float *got, const float *want, size_t n, const char *what, double tol,
                         FxErr *acc) {
    int bad = 0;
    for (size_t i = 0; i < n && bad < 3; i++) {
        if (!check_close(got[i], want[i], tol)) {
            bad++;
            CHECK(0, "%s[%zu]: got %.8g want %.8g", what, i, got[i], want[i]);
        }
    }
    if (!bad) CHECK(1, "%s", what);
    fx_err_add(acc, got, want, n);
}

/* Gradient rule: |got - want| <= max(1e-4 |want|, 1e-6). */
static void check_grad(const float *got, const float *want, size_t n, const char *what) {
    int bad = 0;
    for (size_t i = 0; i < n && bad < 3; i++) {
        double tol = fmax(1e-4 * fabs(want[i]), 1e-6);
        if (!(fabs((double)got[i] - want[i]) <= tol)) {
            bad++;
            CHECK(0, "%s[%zu]: got %.8g want %.8g", what, i, got[i], want[i]);
        }
    }
    if (!bad) CHECK(1, "%s", what);
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (d > err_grad.abs) err_grad.abs = d;
        /* relative error reported where it means something (above the floor's scale) */
        if (fabs(want[i]) > 1e-3 && d / fabs(want[i]) > err_grad.rel) err_grad.rel = d / fabs(want[i]);
    }
}

/* Sets A and the head from the fixture's init, B to zero (or to p1's B). */
static bool load_point(Gpt2Model *m, const StFile *f, const LoraSlot *slots, bool p1) {
    char n[256];
    for (int i = 0; i < m->n_adapters; i++) {
        const Gpt2Adapter *a = &m->adapters[i];
        snprintf(n, sizeof n, "init.%s.A", slots[i].name);
        const float *A = fx_f32(f, n, (size_t)a->in * a->rank);
        if (!A) return false;
        memcpy(m->lora_A[i], A, (size_t)a->in * a->rank * sizeof(float));
        if (p1) {
            snprintf(n, sizeof n, "p1.%s.B", slots[i].name);
            const float *B = fx_f32(f, n, (size_t)a->rank * a->out);
            if (!B) return false;
            memcpy(m->lora_B[i], B, (size_t)a->rank * a->out * sizeof(float));
        } else {
            memset(m->lora_B[i], 0, (size_t)a->rank * a->out * sizeof(float));
        }
    }
    const int C = m->cfg.n_embd;
    const float *hw = fx_f32(f, "init.head.weight", (size_t)2 * C), *hb = fx_f32(f, "init.head.bias", 2);
    if (!hw || !hb) return false;
    memcpy(m->head_w, hw, (size_t)2 * C * sizeof(float));
    memcpy(m->head_b, hb, 2 * sizeof(float));
    return true;
}

/* Compares the model's params (or grads) with "<prefix>.<adapter>.A" etc. */
static void check_all(const Gpt2Model *m, const StFile *f, const LoraSlot *slots, const char *prefix,
                      bool grads) {
    char n[256];
    const int C = m->cfg.n_embd;
    for (int i = 0; i < m->n_adapters; i++) {
        const Gpt2Adapter *a = &m->adapters[i];
        size_t nA = (size_t)a->in * a->rank, nB = (size_t)a->rank * a->out;
        snprintf(n, sizeof n, "%s.%s.A", prefix, slots[i].name);
        const float *A = fx_f32(f, n, nA);
        CHECK(A != NULL, "fixture tensor %s", n);
        if (A) grads ? check_grad(m->grad_A[i], A, nA, n) : check_tensor(m->lora_A[i], A, nA, n, 1e-5, &err_param);
        snprintf(n, sizeof n, "%s.%s.B", prefix, slots[i].name);
        const float *B = fx_f32(f, n, nB);
        CHECK(B != NULL, "fixture tensor %s", n);
        if (B) grads ? check_grad(m->grad_B[i], B, nB, n) : check_tensor(m->lora_B[i], B, nB, n, 1e-5, &err_param);
    }
    snprintf(n, sizeof n, "%s.head.weight", prefix);
    const float *hw = fx_f32(f, n, (size_t)2 * C);
    snprintf(n, sizeof n, "%s.head.bias", prefix);
    const float *hb = fx_f32(f, n, 2);
    CHECK(hw && hb, "fixture head tensors %s", prefix);
    if (!hw || !hb) return;
    if (grads) {
        check_grad(m->grad_head_w, hw, (size_t)2 * C, "grad head.weight");
        check_grad(m->grad_head_b, hb, 2, "grad head.bias");
    } else {
        check_tensor(m->head_w, hw, (size_t)2 * C, "head.weight", 1e-5, &err_param);
        check_tensor(m->head_b, hb, 2, "head.bias", 1e-5, &err_param);
    }
}

static void run_case(const Gpt2Weights *w, const char *name) {
    char path[4200];
    snprintf(path, sizeof path, "%s/case_%s.safetensors", dir, name);
    LfError err = {0};
    StFile *f = st_open(path, &err);
    CHECK(f != NULL, "%s", err.msg);
    if (!f) return;
    LoraConfig lc = lora_config_default();
    lc.rank = fx_meta_int(f, "rank");
    lc.alpha = atof(st_metadata(f, "alpha"));
    lc.scaling = strcmp(st_metadata(f, "scaling"), "alpha") == 0 ? LORA_SCALE_ALPHA : LORA_SCALE_RANK;
    const float lr = (float)atof(st_metadata(f, "lr")), wd = (float)atof(st_metadata(f, "weight_decay"));
    const float clip = (float)atof(st_metadata(f, "clip"));
    LoraSlot slots[MAX_SLOTS];
    int n_slots = fx_slots(f, slots, MAX_SLOTS, lc.alpha);
    CHECK(n_slots > 0, "%s: adapters metadata", name);
    const int B = 4, T = 10, C = w->cfg.n_embd, V = w->cfg.vocab_size;
    const int32_t *tokens = fx_i32(f, "tokens", (size_t)B * T), *lengths = fx_i32(f, "lengths", B);
    const int32_t *labels = fx_i32(f, "labels", B);
    CHECK(tokens && lengths && labels, "%s: batch tensors", name);
    if (n_slots <= 0 || !tokens || !lengths || !labels) {
        st_close(f);
        return;
    }
    Gpt2Batch batch = {.tokens = tokens, .lengths = lengths, .labels = labels, .B = B, .T = T};

    Gpt2Model m, base;
    bool ok = gpt2_build(&m, w, slots, n_slots, &lc, 2, B, T, 42, &err);
    CHECK(ok, "gpt2_build: %s", err.msg);
    ok = ok && gpt2_build(&base, w, NULL, 0, &lc, 2, B, T, 42, &err);
    CHECK(ok, "gpt2_build (base): %s", err.msg);
    if (!ok) {
        st_close(f);
        return;
    }
    const char *pools[] = {"last_token", "last_position"};
    char n[256];
    for (int p = 0; p < 2; p++) {
        Gpt2Pool pool = p == 0 ? POOL_LAST_TOKEN : POOL_LAST_POSITION;
        for (int point = 0; point < 2; point++) {
            CHECK(load_point(&m, f, slots, point == 1), "%s: load point %d", name, point);
            float logits[8];
            float loss = gpt2_forward(&m, &batch, pool, true, logits);
            gpt2_backward(&m);
            snprintf(n, sizeof n, "%s.p%d.logits", pools[p], point);
            const float *want = fx_f32(f, n, (size_t)B * 2);
            if (want) check_tensor(logits, want, (size_t)B * 2, n, 1e-5, &err_logits);
            snprintf(n, sizeof n, "%s.p%d.loss", pools[p], point);
            const float *wl = fx_f32(f, n, 1);
            if (wl) check_tensor(&loss, wl, 1, n, 1e-5, &err_loss);
            snprintf(n, sizeof n, "%s.p%d.grad", pools[p], point);
            check_all(&m, f, slots, n, true);

            if (point == 0) {
                /* B = 0: LoRA changes nothing, bit for bit (same head) */
                memcpy(base.head_w, m.head_w, (size_t)2 * C * sizeof(float));
                memcpy(base.head_b, m.head_b, 2 * sizeof(float));
                float base_logits[8];
                gpt2_forward(&base, &batch, pool, false, base_logits);
                bool same = true;
                for (int i = 0; i < B * 2; i++) same = same && base_logits[i] == logits[i];
                CHECK(same, "%s %s: B = 0 logits differ from the base model's", name, pools[p]);
            }
        }

        /* 3 AdamW steps from the start */
        CHECK(load_point(&m, f, slots, false), "%s: load start", name);
        AdamW opt;
        REQUIRE(adamw_build(&opt, m.n_params, lr, wd, &err), "adamw_build: %s", err.msg);
        for (int step = 0; step < 3; step++) {
            gpt2_forward(&m, &batch, pool, true, NULL);
            gpt2_backward(&m);
            if (clip > 0) grad_clip_norm(m.grads, m.n_params, clip);
            adamw_step(&opt, m.params, m.grads, m.n_params);
        }
        adamw_free(&opt);
        snprintf(n, sizeof n, "%s.adamw3", pools[p]);
        check_all(&m, f, slots, n, false);
    }

    /* the tied LM head at point 1, every position */
    const float *lm = st_find(f, "lm_logits") ? fx_f32(f, "lm_logits", (size_t)B * T * V) : NULL;
    if (lm) {
        CHECK(load_point(&m, f, slots, true), "%s: load point 1", name);
        float *out = malloc((size_t)B * T * V * sizeof(float));
        Gpt2Batch full = {.tokens = tokens, .lengths = NULL, .labels = NULL, .B = B, .T = T};
        gpt2_lm_logits(&m, &full, out);
        check_tensor(out, lm, (size_t)B * T * V, "lm_logits", 1e-5, &err_lm);
        /* with real lengths (packed rows, padding never computed): the
         * padding rows are zero and the real ones still the reference's */
        float *out2 = malloc((size_t)B * T * V * sizeof(float));
        gpt2_lm_logits(&m, &batch, out2);
        int bad = 0;
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                for (int v = 0; v < V; v++) {
                    size_t i = ((size_t)b * T + t) * V + v;
                    bad += t < lengths[b] ? !check_close(out2[i], lm[i], 1e-5) : out2[i] != 0.0f;
                }
        CHECK(bad == 0, "lm_logits over real lengths: %d values off", bad);
        free(out);
        free(out2);
    }
    gpt2_free(&m);
    gpt2_free(&base);
    st_close(f);
}

int main(void) {
    const char *source_dir = check_env("LORAFIT_SOURCE_DIR", ".");
    snprintf(dir, sizeof dir, "%s/tests/fixtures/engine", source_dir);
    Gpt2Weights w;
    Gpt2LayerWeights layers[8];
    StFile *f = fx_open_tiny(source_dir, &w, layers, 8);
    CHECK(f != NULL, "the tiny model fixture");
    if (!f) return check_done();
    run_case(&w, "labs");
    run_case(&w, "peft");
    st_close(f);
    printf("max error: logits abs %.3g rel %.3g; loss abs %.3g; grads abs %.3g rel (|ref| > 1e-3) %.3g; "
           "params after 3 steps abs %.3g rel %.3g; lm logits abs %.3g rel %.3g\n",
           err_logits.abs, err_logits.rel, err_loss.abs, err_grad.abs, err_grad.rel, err_param.abs,
           err_param.rel, err_lm.abs, err_lm.rel);
    return check_done();
}
