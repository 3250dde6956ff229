/* test_adapter_convert.c - convert-adapter keeps the update of every
 * Linear: a labs adapter (every Linear, rank 3) converted to PEFT's names
 * and back gives, for each Linear, the same delta W = scale * A @ B (within
 * 1e-7, computed here in double from the loaded tensors) and the same
 * logits; the PEFT form is one c_attn adapter of rank 9, block structured;
 * a PEFT c_attn adapter that is not block structured is refused, naming it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lorafit/engine/classifier.h"
#include "lorafit/engine/random_weights.h"
#include "lorafit/io/adapter.h"
#include "lorafit/io/adapter_convert.h"

#define N_CLASSES 2
#define B_ 2
#define T_ 6

static const int32_t TOKENS[B_ * T_] = {3, 14, 15, 9, 26, 5, 35, 8, 9, 7, 9, 3};
static const int LENGTHS[B_] = {6, 4};

typedef struct {
    AdapterConfig ac;
    Classifier net;
} Loaded;

static void load(Loaded *l, const Gpt2Weights *w, const char *dir) {
    LfError err = {0};
    REQUIRE(adapter_load_config(dir, &l->ac, &err) &&
                classifier_build(&l->net, w, l->ac.naming, &l->ac.lora, N_CLASSES, B_, T_, 0, &err) &&
                adapter_load_weights(dir, &l->ac, &l->net.model, l->net.slots, &err),
            "load %s: %s", dir, err.msg);
}

static void unload(Loaded *l) {
    classifier_free(&l->net);
    adapter_config_free(&l->ac);
}

/* delta W of block `layer`'s QKV / attention out / fc / fc-proj matrix, all
 * its adapters summed at their columns, in double: [in, width]. */
static double *delta(const Gpt2Model *m, int layer, BlockStage stage, int *in_out, int *width_out) {
    int C = m->cfg.n_embd;
    int in = stage == STAGE_FC_PROJ ? 4 * C : C;
    int width = stage == STAGE_QKV ? 3 * C : stage == STAGE_FC ? 4 * C : C;
    double *d = calloc((size_t)in * width, sizeof *d);
    for (int k = 0; k < m->n_adapters; k++) {
        const Gpt2Adapter *a = &m->adapters[k];
        if (a->layer != layer || linear_site_stage(a->site) != stage) continue;
        int col = a->site == SITE_K ? C : a->site == SITE_V ? 2 * C : 0;
        for (int x = 0; x < a->in; x++)
            for (int o = 0; o < a->out; o++) {
                double s = 0;
                for (int r = 0; r < a->rank; r++)
                    s += (double)m->lora_A[k][(size_t)x * a->rank + r] * m->lora_B[k][(size_t)r * a->out + o];
                d[(size_t)x * width + col + o] += a->scale * s;
            }
    }
    *in_out = in;
    *width_out = width;
    return d;
}

static double max_delta_diff(const Gpt2Model *a, const Gpt2Model *b) {
    double worst = 0;
    for (int l = 0; l < a->cfg.n_layer; l++)
        for (int s = STAGE_QKV; s <= STAGE_FC_PROJ; s++) {
            int in, width;
            double *da = delta(a, l, (BlockStage)s, &in, &width), *db = delta(b, l, (BlockStage)s, &in, &width);
            for (size_t i = 0; i < (size_t)in * width; i++) worst = fmax(worst, fabs(da[i] - db[i]));
            free(da);
            free(db);
        }
    return worst;
}

static void logits(Gpt2Model *m, float *out) {
    Gpt2Batch b = {.tokens = TOKENS, .lengths = LENGTHS, .B = B_, .T = T_};
    gpt2_forward(m, &b, POOL_LAST_TOKEN, false, out);
}

static void save_random(const Gpt2Weights *w, const char *dir, const char *targets, int rank) {
    LfError err = {0};
    AdapterConfig ac = {0};
    ac.base = w->cfg;
    ac.lora = lora_config_default();
    ac.lora.rank = rank;
    ac.lora.alpha = 5;
    lora_config_set_targets(&ac.lora, targets, &err);
    ac.naming = lora_targets_style(&ac.lora);
    ac.pool = POOL_LAST_TOKEN;
    ac.max_length = T_;
    const char *names[N_CLASSES] = {"ham", "spam"};
    adapter_config_set_classes(&ac, names, N_CLASSES, &err);
    Classifier net;
    REQUIRE(classifier_build(&net, w, ac.naming, &ac.lora, N_CLASSES, 1, 1, 0, &err), "build: %s", err.msg);
    for (size_t i = 0; i < net.model.n_params; i++) net.model.params[i] = 0.1f * cosf(1.3f * (float)i + 0.2f);
    CHECK(adapter_save(dir, &ac, &net.model, net.slots, NULL, true, &err), "save %s: %s", dir, err.msg);
    classifier_free(&net);
    adapter_config_free(&ac);
}

int main(void) {
    const char *tmp = check_env("LORAFIT_TMP", "/tmp");
    Gpt2Config cfg = {2, 16, 2, 64, 16, true};
    LfError err = {0};
    Gpt2Weights *w = gpt2_weights_random(&cfg, 3, &err);
    REQUIRE(w != NULL, "weights: %s", err.msg);
    char labs[4096], peft[4096], back[4096], mixed[4096], refused[4096], note[512];
    snprintf(labs, sizeof labs, "%s/convert-labs", tmp);
    snprintf(peft, sizeof peft, "%s/convert-peft", tmp);
    snprintf(back, sizeof back, "%s/convert-back", tmp);
    snprintf(mixed, sizeof mixed, "%s/convert-mixed", tmp);
    snprintf(refused, sizeof refused, "%s/convert-refused", tmp);
    save_random(w, labs, "all", 3);

    CHECK(adapter_convert(labs, peft, MODTREE_HF, true, note, sizeof note, &err), "to peft: %s", err.msg);
    CHECK(strstr(note, "one c_attn adapter") && strstr(note, "rank 9") && strstr(note, "block structured"),
          "the note says what changed: %s", note);
    CHECK(adapter_convert(peft, back, MODTREE_LABS, true, note, sizeof note, &err), "to labs: %s", err.msg);
    CHECK(strstr(note, "split") && strstr(note, "rank 3"), "the note says the split: %s", note);

    Loaded a, p, b;
    load(&a, w, labs);
    load(&p, w, peft);
    load(&b, w, back);
    CHECK(p.ac.naming == MODTREE_HF && p.ac.lora.rank == 9 && p.ac.lora.alpha == 15 && p.net.n_slots == 8,
          "peft: 4 adapters a block of rank 9, alpha 15 (got %d slots, rank %d, alpha %g)", p.net.n_slots,
          p.ac.lora.rank, p.ac.lora.alpha);
    CHECK(b.ac.naming == MODTREE_LABS && b.ac.lora.rank == 3 && b.ac.lora.alpha == 5 && b.net.n_slots == 12,
          "back: the labs' 6 adapters a block of rank 3, alpha 5");
    double d1 = max_delta_diff(&a.net.model, &p.net.model), d2 = max_delta_diff(&a.net.model, &b.net.model);
    CHECK(d1 <= 1e-7 && d2 <= 1e-7, "delta W: labs vs peft %g, labs vs round trip %g", d1, d2);
    /* the c_attn adapter is block structured: lora_B's row r reaches q only for r < 3 */
    const Gpt2Adapter *qkv = &p.net.model.adapters[0];
    size_t off_block = 0;
    for (int r = 0; r < qkv->rank; r++)
        for (int o = 0; o < qkv->out; o++)
            off_block += o / cfg.n_embd != r / 3 && p.net.model.lora_B[0][(size_t)r * qkv->out + o] != 0.0f;
    CHECK(qkv->site == SITE_QKV && off_block == 0, "c_attn's lora_B is block-diagonal (%zu values off)", off_block);

    float la[B_ * N_CLASSES], lp[B_ * N_CLASSES], lb[B_ * N_CLASSES];
    logits(&a.net.model, la);
    logits(&p.net.model, lp);
    logits(&b.net.model, lb);
    double dl = 0;
    for (int i = 0; i < B_ * N_CLASSES; i++) dl = fmax(dl, fmax(fabs(la[i] - lp[i]), fabs(la[i] - lb[i])));
    CHECK(dl <= 1e-6 && memcmp(la, lb, sizeof la) == 0, "logits: %g apart; the round trip's bit-identical", dl);
    unload(&a);
    unload(&p);
    unload(&b);

    /* A c_attn adapter of PEFT's that mixes q, k and v cannot become the labs'. */
    save_random(w, mixed, "c_attn", 2);
    CHECK(!adapter_convert(mixed, refused, MODTREE_LABS, true, note, sizeof note, &err) &&
              strstr(err.msg, "transformer.h.0.attn.c_attn") && strstr(err.msg, "not block structured"),
          "refused: %s", err.msg);
    /* ... and the same adapter to PEFT's names again is a copy with nothing to say */
    CHECK(adapter_convert(mixed, refused, MODTREE_HF, true, note, sizeof note, &err) && note[0] == '\0',
          "peft to peft: %s / %s", err.msg, note);
    gpt2_weights_random_free(w);
    return check_done();
}
