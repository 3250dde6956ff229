/* test_peft_import.c - adapters in the layout Python PEFT saves for
 * GPT2ForSequenceClassification (tests/fixtures/peft, written by
 * scripts/reference/make_peft_fixture.py, not by lorafit) load and give
 * PyTorch's logits within 1e-5: PEFT's keys with and without the
 * "base_model.model." and "transformer." prefixes, the head plain or under
 * modules_to_save, no head bias, use_rslora (scale alpha / sqrt(r)). Merged
 * and converted, they keep those logits; DoRA and another base's targets
 * are refused, naming what. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lorafit/engine/classifier.h"
#include "lorafit/io/adapter.h"
#include "lorafit/io/adapter_convert.h"
#include "lorafit/io/merge.h"

#define B_ 2
#define T_ 7
#define N_CLASSES 3

static int32_t tokens[B_ * T_];
static int lengths[B_];
static float want[B_ * N_CLASSES];

static double logits_diff(Gpt2Model *m) {
    Gpt2Batch b = {.tokens = tokens, .lengths = lengths, .B = B_, .T = T_};
    float got[B_ * N_CLASSES];
    gpt2_forward(m, &b, POOL_LAST_TOKEN, false, got);
    double d = 0;
    for (int i = 0; i < B_ * N_CLASSES; i++) d = fmax(d, fabs((double)got[i] - want[i]));
    return d;
}

/* Loads the adapter in dir over ck and returns how far its logits are from PyTorch's (INFINITY: not loaded). */
static double adapter_diff(Gpt2Checkpoint *ck, const char *dir, const char *merged_out) {
    LfError err = {0};
    AdapterConfig ac;
    Classifier net;
    if (!adapter_load_config(dir, &ac, &err)) {
        CHECK(false, "%s: %s", dir, err.msg);
        return INFINITY;
    }
    bool ok = adapter_check_base(&ac, checkpoint_config(ck), checkpoint_fingerprint(ck), &err) &&
              classifier_build(&net, checkpoint_weights(ck), ac.naming, &ac.lora, ac.n_classes, B_, T_, 0, &err) &&
              adapter_load_weights(dir, &ac, &net.model, net.slots, &err);
    CHECK(ok, "%s: %s", dir, err.msg);
    double d = ok ? logits_diff(&net.model) : INFINITY;
    if (ok && merged_out) {
        CHECK(!strcmp(ac.class_names[2], "LABEL_2") && ac.max_length == 0 && ac.lora.scaling == LORA_SCALE_RSLORA,
              "%s: HF's default labels, the model's context, rslora", dir);
        Classifier plain;
        Gpt2Checkpoint *mk = NULL;
        AdapterConfig mc = {0};
        bool merged = merge_write(merged_out, ck, &ac, &net.model, ST_F32, true, &err) &&
                      (mk = checkpoint_open(merged_out, &err)) && merged_load_config(mk, &mc, &err) &&
                      classifier_build(&plain, checkpoint_weights(mk), MODTREE_HF, NULL, N_CLASSES, B_, T_, 0, &err) &&
                      merged_load_head(mk, &plain.model, &err);
        CHECK(merged, "merge %s: %s", dir, err.msg);
        if (merged) {
            double dm = logits_diff(&plain.model);
            CHECK(dm <= 1e-5, "%s merged: logits %g from PyTorch's", dir, dm);
            classifier_free(&plain);
        }
        adapter_config_free(&mc);
        checkpoint_close(mk);
    }
    if (ok) classifier_free(&net);
    adapter_config_free(&ac);
    return d;
}

static void expect_refused(const char *dir, const char *what) {
    LfError err = {0};
    AdapterConfig ac;
    CHECK(!adapter_load_config(dir, &ac, &err) && strstr(err.msg, what), "%s refused for '%s': %s", dir, what, err.msg);
}

int main(void) {
    const char *tmp = check_env("LORAFIT_TMP", "/tmp");
    char fx[4096], path[4200], out[4200], note[512];
    check_source_path(fx, sizeof fx, "tests/fixtures/peft");
    LfError err = {0};
    snprintf(path, sizeof path, "%s/expected.safetensors", fx);
    StFile *f = st_open(path, &err);
    REQUIRE(f != NULL, "%s: %s", path, err.msg);
    const StTensor *tok = st_find(f, "tokens"), *len = st_find(f, "lengths");
    const int64_t shape[2] = {B_, N_CLASSES};
    REQUIRE(tok && tok->numel == B_ * T_ && len && len->numel == B_ && st_load_f32(f, "logits", 2, shape, want, &err),
            "%s: %s", path, err.msg);
    memcpy(tokens, tok->data, sizeof tokens);
    int32_t l32[B_];
    memcpy(l32, len->data, sizeof l32);
    for (int b = 0; b < B_; b++) lengths[b] = l32[b];
    st_close(f);
    check_source_path(path, sizeof path, "tests/fixtures/merge/base");
    Gpt2Checkpoint *ck = checkpoint_open(path, &err);
    REQUIRE(ck != NULL, "%s: %s", path, err.msg);

    const char *cases[] = {"seq_cls", "bare"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", fx, cases[i]);
        snprintf(out, sizeof out, "%s/peft-merged-%s", tmp, cases[i]);
        double d = adapter_diff(ck, path, out);
        CHECK(d <= 1e-5, "%s: logits %g from PyTorch's", cases[i], d);
        printf("%-8s max |lorafit - PyTorch| = %.3g\n", cases[i], d);
    }

    /* converted to lorafit's PEFT-named file: the same logits; to the labs': refused (c_attn mixes q, k, v) */
    snprintf(path, sizeof path, "%s/seq_cls", fx);
    snprintf(out, sizeof out, "%s/peft-converted", tmp);
    CHECK(adapter_convert(path, out, MODTREE_HF, true, note, sizeof note, &err), "convert: %s", err.msg);
    double dc = adapter_diff(ck, out, NULL);
    CHECK(dc <= 1e-5, "converted: logits %g from PyTorch's", dc);
    snprintf(out, sizeof out, "%s/peft-to-labs", tmp);
    CHECK(!adapter_convert(path, out, MODTREE_LABS, true, note, sizeof note, &err) &&
              strstr(err.msg, "not block structured"),
          "to labs: %s", err.msg);

    snprintf(path, sizeof path, "%s/dora", fx);
    expect_refused(path, "DoRA (use_dora) is not supported");
    snprintf(path, sizeof path, "%s/other_base", fx);
    expect_refused(path, "target module 'q_proj' is not one of GPT-2's");
    checkpoint_close(ck);
    return check_done();
}
