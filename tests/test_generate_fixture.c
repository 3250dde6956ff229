/* test_generate_fixture.c - greedy generation equal, token for token, to
 * the PyTorch reference's (scripts/reference/make_generate_fixture.py): 64
 * new tokens for two prompts, through the decode loop of `generate`
 * (generation.h: the KV-cache decoder and the greedy sampler), PEFT-style
 * LoRA on c_attn and mlp.c_proj with nonzero B; the prompts decoded one at
 * a time and side by side. Without the adapters the
 * tokens differ (so the test sees them). */
#include <string.h>

#include "check.h"
#include "engine_fixture.h"
#include "lorafit/engine/generation.h"

enum { N_PROMPTS = 2, NEW = 64, MAX_SLOTS = 8 };

/* Greedy continuation of the n prompts decoded side by side through the
 * decode loop (generation.h); out[j] gets NEW tokens. */
static void generate(const Gpt2Model *m, const int32_t *const *prompts, const int *len, int n,
                     int32_t out[][NEW]) {
    Generation g;
    LfError err = {0};
    SamplerConfig sc = sampler_config_default();
    REQUIRE(generation_init(&g, m, n, m->cfg.n_ctx, &sc, &err), "%s", err.msg);
    GenSequence seqs[N_PROMPTS];
    memset(seqs, 0, sizeof seqs);
    for (int j = 0; j < n; j++) {
        seqs[j].ids = (TokIds){malloc((size_t)len[j] * sizeof(int32_t)), (size_t)len[j], (size_t)len[j]};
        memcpy(seqs[j].ids.ids, prompts[j], (size_t)len[j] * sizeof(int32_t));
        seqs[j].n_prompt = (size_t)len[j];
    }
    GenRequest r = {.max_new = NEW};
    CHECK(generation_run(&g, seqs, n, &r, &err), "generation_run: %s", err.msg);
    for (int j = 0; j < n; j++) {
        CHECK(seqs[j].stop == GEN_STOP_LENGTH && seqs[j].ids.n == (size_t)len[j] + NEW, "prompt %d: %zu tokens", j,
              seqs[j].ids.n - (size_t)len[j]);
        memcpy(out[j], seqs[j].ids.ids + len[j], NEW * sizeof(int32_t));
        tok_ids_free(&seqs[j].ids);
    }
    generation_free(&g);
}

static int first_difference(const int32_t *got, const int32_t *want) {
    for (int t = 0; t < NEW; t++)
        if (got[t] != want[t]) return t;
    return -1;
}

int main(void) {
    const char *source_dir = check_env("LORAFIT_SOURCE_DIR", ".");
    char path[4200];
    snprintf(path, sizeof path, "%s/tests/fixtures/engine/generate.safetensors", source_dir);
    LfError err = {0};
    StFile *f = st_open(path, &err);
    REQUIRE(f != NULL, "%s", err.msg);
    Gpt2Weights w;
    Gpt2LayerWeights layers[4];
    REQUIRE(fx_weights(f, &w, layers, 4), "%s: not a model", path);
    LoraSlot slots[MAX_SLOTS];
    LoraConfig lc = lora_config_default();
    lc.rank = fx_meta_int(f, "rank");
    lc.alpha = atof(st_metadata(f, "alpha"));
    int n_slots = fx_slots(f, slots, MAX_SLOTS, lc.alpha);
    REQUIRE(n_slots == 4, "4 adapters in the fixture, found %d", n_slots);
    Gpt2Model m;
    REQUIRE(gpt2_build(&m, &w, slots, n_slots, &lc, 2, 1, 1, 0, &err), "gpt2_build: %s", err.msg);
    for (int i = 0; i < n_slots; i++) {
        char name[64];
        const Gpt2Adapter *a = &m.adapters[i];
        size_t na = (size_t)a->in * a->rank, nb = (size_t)a->rank * a->out;
        snprintf(name, sizeof name, "lora.%d.A", i);
        const float *A = fx_f32(f, name, na);
        snprintf(name, sizeof name, "lora.%d.B", i);
        const float *B = fx_f32(f, name, nb);
        REQUIRE(A && B, "adapter %d in the fixture", i);
        memcpy(m.lora_A[i], A, na * sizeof *A);
        memcpy(m.lora_B[i], B, nb * sizeof *B);
    }
    const int32_t *prompts[N_PROMPTS], *want[N_PROMPTS];
    int len[N_PROMPTS];
    for (int j = 0; j < N_PROMPTS; j++) {
        char name[32];
        snprintf(name, sizeof name, "prompt%d", j);
        const StTensor *t = st_find(f, name);
        REQUIRE(t != NULL, "%s in the fixture", name);
        len[j] = (int)t->numel;
        prompts[j] = fx_i32(f, name, (size_t)len[j]);
        snprintf(name, sizeof name, "generated%d", j);
        want[j] = fx_i32(f, name, NEW);
        REQUIRE(prompts[j] && want[j], "prompt and tokens %d in the fixture", j);
    }

    int32_t got[N_PROMPTS][NEW];
    for (int j = 0; j < N_PROMPTS; j++) { /* one at a time */
        generate(&m, &prompts[j], &len[j], 1, &got[j]);
        int t = first_difference(got[j], want[j]);
        CHECK(t < 0, "prompt %d alone: token %d is %d, the reference's %d", j, t, t < 0 ? 0 : got[j][t],
              t < 0 ? 0 : want[j][t]);
    }
    generate(&m, prompts, len, N_PROMPTS, got); /* side by side */
    for (int j = 0; j < N_PROMPTS; j++) {
        int t = first_difference(got[j], want[j]);
        CHECK(t < 0, "prompt %d in a batch: token %d is %d, the reference's %d", j, t, t < 0 ? 0 : got[j][t],
              t < 0 ? 0 : want[j][t]);
    }
    for (int i = 0; i < n_slots; i++)
        memset(m.lora_B[i], 0, (size_t)m.adapters[i].rank * m.adapters[i].out * sizeof(float));
    generate(&m, prompts, len, N_PROMPTS, got);
    CHECK(first_difference(got[0], want[0]) >= 0 || first_difference(got[1], want[1]) >= 0,
          "the tokens do not depend on the adapters: the fixture tests nothing of them");
    gpt2_free(&m);
    st_close(f);
    return check_done();
}
