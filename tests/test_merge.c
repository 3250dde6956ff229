/* test_merge.c - a merged model computes what its base plus the adapter
 * computes: the classifier's logits (labs and PEFT namings) and the
 * language model's logits at every position agree within 1e-5, from the
 * merged directory read back as a plain checkpoint. The expected logits come
 * from the engine running the adapter beside the frozen weights
 * (x @ W + scale * (x @ A) @ B), which shares no code with the fold. Also:
 * the F16 / BF16 files hold the F32 values rounded to their precision, the
 * config.json says what the merged model is, and an existing directory that
 * is not a model is never replaced. And a merged classifier's config.json
 * parsed alone (merged_parse_config): one lorafit merge wrote
 * (tests/fixtures/json), and hand-written ones, each with its classes,
 * pooling and max length, or its message. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "lorafit/engine/classifier.h"
#include "lorafit/engine/gpt2_testing.h"
#include "lorafit/engine/random_weights.h"
#include "lorafit/io/checkpoint_write.h"
#include "lorafit/io/merge.h"
#include "lorafit/util/files.h"

#define B_ 2
#define T_ 7
#define N_CLASSES 3

static const int32_t TOKENS[B_ * T_] = {5, 17, 3, 60, 2, 9, 41, 33, 1, 0, 12, 50, 8, 7};
static const int LENGTHS[B_] = {7, 5};

static Gpt2Batch batch(void) { return (Gpt2Batch){.tokens = TOKENS, .lengths = LENGTHS, .B = B_, .T = T_}; }

/* Every trainable value nonzero and of a size that moves the logits. */
static void fill_params(Gpt2Model *m) {
    for (size_t i = 0; i < m->n_params; i++) m->params[i] = 0.05f * sinf(0.7f * (float)i + 0.3f);
}

static void make_config(AdapterConfig *ac, const Gpt2Config *base, const LoraConfig *lc, ModTreeStyle naming,
                        int n_classes) {
    memset(ac, 0, sizeof *ac);
    ac->base = *base;
    ac->lora = *lc;
    ac->naming = naming;
    ac->pool = POOL_LAST_TOKEN;
    ac->max_length = T_;
    ac->task = n_classes ? ADAPTER_TASK_CLASSIFY : ADAPTER_TASK_CAUSAL_LM;
    const char *names[N_CLASSES] = {"ham", "spam", "eggs"};
    if (n_classes) adapter_config_set_classes(ac, names, n_classes, NULL);
}

static double max_diff(const float *a, const float *b, size_t n) {
    double d = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - (double)b[i]));
    return d;
}

/* The logits the model gives for the test batch: classes, or the LM's at every position. */
static void logits(Gpt2Model *m, float *out) {
    Gpt2Batch b = batch();
    if (m->n_classes) gpt2_forward(m, &b, POOL_LAST_TOKEN, false, out);
    else gpt2_lm_logits(m, &b, out);
}

static void check_config(const char *dir, int n_classes) {
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    size_t len;
    char *text = fs_read_file(path, &len, NULL);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    const cJSON *arch = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "architectures"), 0);
    const char *want = n_classes ? "GPT2ForSequenceClassification" : "GPT2LMHeadModel";
    CHECK(cJSON_IsString(arch) && !strcmp(arch->valuestring, want), "%s: architectures [%s]", path, want);
    if (n_classes) {
        const cJSON *labels = cJSON_GetObjectItem(root, "id2label");
        CHECK(cJSON_GetObjectItem(root, "num_labels") && cJSON_GetObjectItem(root, "num_labels")->valueint == 3 &&
                  cJSON_IsString(cJSON_GetObjectItem(labels, "2")) &&
                  !strcmp(cJSON_GetObjectItem(labels, "2")->valuestring, "eggs"),
              "%s: num_labels 3, id2label[2] eggs", path);
    }
    cJSON_Delete(root);
    free(text);
}

static void merge_case(const Gpt2Weights *w, Gpt2Checkpoint *ck, const char *tmp, const char *targets,
                       int n_classes) {
    LfError err = {0};
    LoraConfig lc = lora_config_default();
    lc.rank = 4;
    lc.alpha = 6;
    CHECK(lora_config_set_targets(&lc, targets, &err), "targets %s", targets);
    ModTreeStyle naming = lora_targets_style(&lc);
    Classifier net, plain;
    REQUIRE(classifier_build(&net, w, naming, &lc, n_classes, B_, T_, 1, &err), "build %s: %s", targets, err.msg);
    fill_params(&net.model);
    size_t n = n_classes ? (size_t)B_ * n_classes : (size_t)B_ * T_ * w->cfg.vocab_size;
    float *want = calloc(n, sizeof *want), *got = calloc(n, sizeof *got);
    logits(&net.model, want);

    AdapterConfig ac;
    make_config(&ac, &w->cfg, &lc, naming, n_classes);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/merged-%s-%d", tmp, targets, n_classes);
    CHECK(merge_write(dir, ck, &ac, &net.model, ST_F32, true, &err), "merge %s: %s", targets, err.msg);
    check_config(dir, n_classes);

    Gpt2Checkpoint *mk = checkpoint_open(dir, &err);
    REQUIRE(mk != NULL, "open merged %s: %s", dir, err.msg);
    AdapterConfig back = {0};
    if (n_classes) {
        CHECK(merged_load_config(mk, &back, &err) && back.n_classes == n_classes &&
                  !strcmp(back.class_names[1], "spam") && back.max_length == T_,
              "%s: the merged config reads back: %s", dir, err.msg);
    } else {
        CHECK(!merged_has_head(mk) && !merged_load_config(mk, &back, &err) && strstr(err.msg, "no classification head"),
              "%s: an LM merge has no head: %s", dir, err.msg);
    }
    REQUIRE(classifier_build(&plain, checkpoint_weights(mk), MODTREE_HF, NULL, n_classes, B_, T_, 2, &err),
            "build merged: %s", err.msg);
    CHECK(plain.n_slots == 0, "the merged model runs without adapters");
    if (n_classes) CHECK(merged_load_head(mk, &plain.model, &err), "head: %s", err.msg);
    logits(&plain.model, got);
    double d = max_diff(got, want, n);
    CHECK(d <= 1e-5, "%s (%s): merged logits differ from base + adapter by %g", targets,
          n_classes ? "classifier" : "LM", d);
    printf("%-28s %-10s max |merged - adapter| = %.3g\n", targets, n_classes ? "classifier" : "LM", d);

    /* the same model in F16 and BF16: every value the F32 one rounded */
    const float rel[2] = {1.0f / 2048, 1.0f / 256};
    const StDtype types[2] = {ST_F16, ST_BF16};
    for (int k = 0; k < 2 && n_classes; k++) {
        char half[4200];
        snprintf(half, sizeof half, "%s-%s", dir, st_dtype_name(types[k]));
        CHECK(merge_write(half, ck, &ac, &net.model, types[k], true, &err), "merge %s: %s", half, err.msg);
        Gpt2Checkpoint *hk = checkpoint_open(half, &err);
        CHECK(hk != NULL, "open %s: %s", half, err.msg);
        if (!hk) continue;
        const float *a = checkpoint_weights(mk)->layers[1].qkv_w, *h = checkpoint_weights(hk)->layers[1].qkv_w;
        size_t bad = 0, m = (size_t)w->cfg.n_embd * 3 * w->cfg.n_embd;
        for (size_t i = 0; i < m; i++) bad += fabsf(a[i] - h[i]) > rel[k] * fabsf(a[i]) + 1e-7f;
        CHECK(bad == 0, "%s: %zu of %zu values not the F32 ones rounded", half, bad, m);
        checkpoint_close(hk);
    }

    classifier_free(&plain);
    checkpoint_close(mk);
    adapter_config_free(&back);
    adapter_config_free(&ac);
    classifier_free(&net);
    free(want);
    free(got);
}

/* The classes, pooling and max length merged_parse_config reads from text
 * over a base with n_ctx 32; want_msg NULL for success. */
static void parse_case(const char *text, size_t len, const char *want_msg, const char *want_classes, Gpt2Pool pool,
                       int max_length, int line) {
    const Gpt2Config base = {2, 32, 4, 64, 32, true};
    AdapterConfig ac;
    LfError err = {0};
    bool ok = merged_parse_config(text, len, "m.json", &base, &ac, &err);
    char classes[256] = "";
    for (int i = 0; ok && i < ac.n_classes; i++)
        snprintf(classes + strlen(classes), sizeof classes - strlen(classes), "%s%s", i ? "," : "", ac.class_names[i]);
    if (want_msg) {
        CHECK(!ok && err.kind == LF_ERR_INPUT && !strcmp(err.msg, want_msg), "line %d: got %s, want %s", line,
              ok ? "success" : err.msg, want_msg);
    } else {
        CHECK(ok && !strcmp(classes, want_classes) && ac.pool == pool && ac.max_length == max_length &&
                  ac.task == ADAPTER_TASK_CLASSIFY && ac.base.n_ctx == 32,
              "line %d: %s; got classes %s, pool %d, max_length %d", line, ok ? "read" : err.msg, classes, ac.pool,
              ac.max_length);
    }
    adapter_config_free(&ac);
}
#define PARSE_OK(text, classes, pool, max_length) \
    parse_case(text, strlen(text), NULL, classes, pool, max_length, __LINE__)
#define PARSE_FAIL(text, msg) parse_case(text, strlen(text), msg, NULL, POOL_LAST_TOKEN, 0, __LINE__)

static void test_parse_config(void) {
    char path[4200];
    size_t len;
    snprintf(path, sizeof path, "%s/tests/fixtures/json/merged-classifier-config.json",
             check_env("LORAFIT_SOURCE_DIR", "."));
    char *text = fs_read_file(path, &len, NULL);
    REQUIRE(text, "%s", path);
    parse_case(text, len, NULL, "ham,spam,eggs", POOL_LAST_TOKEN, 7, __LINE__);
    free(text);
    PARSE_OK("{\"num_labels\": 2}", "0,1", POOL_LAST_TOKEN, 32); /* no lorafit block: the context */
    PARSE_OK("{\"num_labels\": 3, \"id2label\": {\"1\": \"b\"}, \"lorafit\": {\"pooling\": \"last-position\"}}",
             "0,b,2", POOL_LAST_POSITION, 32);
    PARSE_OK("{\"num_labels\": 2, \"lorafit\": {\"pooling\": \"other\", \"max_length\": 33}}", "0,1", POOL_LAST_TOKEN,
             32);
    PARSE_OK("{\"num_labels\": 2, \"lorafit\": {\"max_length\": 0}}", "0,1", POOL_LAST_TOKEN, 32);
    PARSE_OK("{\"num_labels\": 2, \"lorafit\": {\"max_length\": 32}}", "0,1", POOL_LAST_TOKEN, 32);
    PARSE_OK("{\"num_labels\": 2, \"lorafit\": {\"max_length\": 1}} and more", "0,1", POOL_LAST_TOKEN, 1);
    const char *not_merged = "m.json: no \"num_labels\" of at least 2: not a merged classifier";
    PARSE_FAIL("{\"num_labels\": 1}", not_merged);
    PARSE_FAIL("{\"num_labels\": 4097}", not_merged);
    PARSE_FAIL("{\"num_labels\": \"2\"}", not_merged);
    PARSE_FAIL("{\"id2label\": {\"0\": \"a\", \"1\": \"b\"}}", not_merged);
    PARSE_FAIL("{\"num_labels\": 2", "m.json: not valid JSON");
    PARSE_FAIL("", "m.json: not valid JSON");
}

int main(void) {
    const char *tmp = check_env("LORAFIT_TMP", "/tmp");
    Gpt2Config cfg = {2, 32, 2, 96, 16, true};
    LfError err = {0};
    Gpt2Weights *w = gpt2_weights_random(&cfg, 11, &err);
    REQUIRE(w != NULL, "random weights: %s", err.msg);
    char base[4096];
    snprintf(base, sizeof base, "%s/merge-base", tmp);
    REQUIRE(checkpoint_write(base, w, true, &err), "write base: %s", err.msg);
    Gpt2Checkpoint *ck = checkpoint_open(base, &err);
    REQUIRE(ck != NULL, "open base: %s", err.msg);
    const Gpt2Weights *bw = checkpoint_weights(ck);

    merge_case(bw, ck, tmp, "all", N_CLASSES);                  /* the labs: Q, K, V into c_attn's blocks */
    merge_case(bw, ck, tmp, "W_key,ff.layers.2", N_CLASSES);    /* one column block, and the MLP's projection */
    merge_case(bw, ck, tmp, "c_attn,c_proj,c_fc", N_CLASSES);   /* PEFT's names */
    merge_case(bw, ck, tmp, "all", 0);                          /* a language model */
    merge_case(bw, ck, tmp, "c_attn,c_fc", 0);

    /* A directory that is no model is not replaced, even with overwrite. */
    char other[4096];
    snprintf(other, sizeof other, "%s/merge-not-a-model", tmp);
    mkdir(other, 0777);
    Classifier net;
    LoraConfig lc = lora_config_default();
    AdapterConfig ac;
    make_config(&ac, &cfg, &lc, MODTREE_LABS, N_CLASSES);
    REQUIRE(classifier_build(&net, bw, MODTREE_LABS, &lc, N_CLASSES, 1, 1, 1, &err), "build: %s", err.msg);
    CHECK(!merge_write(other, ck, &ac, &net.model, ST_F32, true, &err) && strstr(err.msg, "not a model directory"),
          "a directory that is no model is kept: %s", err.msg);
    classifier_free(&net);
    adapter_config_free(&ac);
    checkpoint_close(ck);
    gpt2_weights_random_free(w);
    test_parse_config();
    return check_done();
}
