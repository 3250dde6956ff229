/* test_merge_fixture.c - against PyTorch (scripts/reference/
 * make_merge_fixture.py, tests/fixtures/merge): the fixture's adapters, in
 * the labs' names and in PEFT's, give the reference's logits through
 * lorafit's engine (the adapter beside the frozen weights), and the merged
 * model lorafit writes gives them too, run with no adapter at all: within
 * 1e-5. The reference computed its logits with the adapters unmerged. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lorafit/engine/classifier.h"
#include "lorafit/io/adapter.h"
#include "lorafit/io/merge.h"

#define B_ 2
#define T_ 7
#define N_CLASSES 3

typedef struct {
    int32_t tokens[B_ * T_];
    int lengths[B_];
} Inputs;

static float run(Gpt2Model *m, const Inputs *in, float *logits) {
    Gpt2Batch b = {.tokens = in->tokens, .lengths = in->lengths, .B = B_, .T = T_};
    return gpt2_forward(m, &b, POOL_LAST_TOKEN, false, logits);
}

static double max_diff(const float *a, const float *b, int n) {
    double d = 0;
    for (int i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - (double)b[i]));
    return d;
}

static void check_case(const char *fixtures, const char *tmp, const char *name, const Inputs *in,
                       const float *want, Gpt2Checkpoint *ck) {
    LfError err = {0};
    char adapter[4096], out[4096];
    snprintf(adapter, sizeof adapter, "%s/%s", fixtures, name);
    snprintf(out, sizeof out, "%s/merge-fixture-%s", tmp, name);
    AdapterConfig ac;
    Classifier net, plain;
    REQUIRE(adapter_load_config(adapter, &ac, &err), "%s: %s", adapter, err.msg);
    REQUIRE(classifier_build(&net, checkpoint_weights(ck), ac.naming, &ac.lora, ac.n_classes, B_, T_, 0, &err) &&
                adapter_load_weights(adapter, &ac, &net.model, net.slots, &err),
            "%s: %s", adapter, err.msg);
    float got[B_ * N_CLASSES];
    run(&net.model, in, got);
    double d = max_diff(got, want, B_ * N_CLASSES);
    CHECK(d <= 1e-5, "%s: the adapter's logits differ from PyTorch's by %g", name, d);

    CHECK(merge_write(out, ck, &ac, &net.model, ST_F32, true, &err), "merge %s: %s", name, err.msg);
    Gpt2Checkpoint *mk = checkpoint_open(out, &err);
    REQUIRE(mk != NULL, "%s: %s", out, err.msg);
    AdapterConfig mc;
    REQUIRE(merged_load_config(mk, &mc, &err) &&
                classifier_build(&plain, checkpoint_weights(mk), mc.naming, NULL, mc.n_classes, B_, T_, 0, &err) &&
                merged_load_head(mk, &plain.model, &err),
            "%s: %s", out, err.msg);
    run(&plain.model, in, got);
    double dm = max_diff(got, want, B_ * N_CLASSES);
    CHECK(dm <= 1e-5, "%s: the merged model's logits differ from PyTorch's by %g", name, dm);
    printf("%-5s adapter %.3g, merged %.3g (max |lorafit - PyTorch|)\n", name, d, dm);
    classifier_free(&plain);
    adapter_config_free(&mc);
    checkpoint_close(mk);
    classifier_free(&net);
    adapter_config_free(&ac);
}

int main(void) {
    const char *tmp = check_env("LORAFIT_TMP", "/tmp");
    char fixtures[4096], path[4200];
    check_source_path(fixtures, sizeof fixtures, "tests/fixtures/merge");
    LfError err = {0};
    snprintf(path, sizeof path, "%s/expected.safetensors", fixtures);
    StFile *f = st_open(path, &err);
    REQUIRE(f != NULL, "%s: %s", path, err.msg);
    Inputs in;
    float labs[B_ * N_CLASSES], peft[B_ * N_CLASSES];
    const int64_t s_logits[2] = {B_, N_CLASSES};
    const StTensor *tok = st_find(f, "tokens"), *len = st_find(f, "lengths");
    REQUIRE(tok && tok->dtype == ST_I32 && tok->numel == B_ * T_ && len && len->dtype == ST_I32 &&
                len->numel == B_ && st_load_f32(f, "logits_labs", 2, s_logits, labs, &err) &&
                st_load_f32(f, "logits_peft", 2, s_logits, peft, &err),
            "%s: tokens, lengths and logits: %s", path, err.msg);
    memcpy(in.tokens, tok->data, sizeof in.tokens);
    int32_t lengths[B_];
    memcpy(lengths, len->data, sizeof lengths);
    for (int b = 0; b < B_; b++) in.lengths[b] = lengths[b];
    st_close(f);

    snprintf(path, sizeof path, "%s/base", fixtures);
    Gpt2Checkpoint *ck = checkpoint_open(path, &err);
    REQUIRE(ck != NULL, "%s: %s", path, err.msg);
    check_case(fixtures, tmp, "labs", &in, labs, ck);
    check_case(fixtures, tmp, "peft", &in, peft, ck);
    checkpoint_close(ck);
    return check_done();
}
