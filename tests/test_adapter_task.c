/* test_adapter_task.c - the adapter's task in adapter_config.json: a
 * language-model adapter is saved with task_type "CAUSAL_LM" and no head
 * tensors (labs' and PEFT's naming) and reads back as one; a classifier
 * keeps what it wrote before the field (no task_type with the labs'
 * names, "SEQ_CLS" with PEFT's), and a file without the field is a
 * classifier; adapter_check_task refuses the other task, naming both.
 *
 * It also writes tests/fixtures/generate/lm-adapter (the language-model
 * adapter cli_generate.sh uses) when LORAFIT_WRITE_LM_FIXTURE names a
 * directory, and checks that the committed copy is what the writer writes
 * today. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lorafit/engine/classifier.h"
#include "lorafit/engine/random_weights.h"
#include "lorafit/io/adapter.h"
#include "lorafit/io/safetensors.h"
#include "lorafit/util/files.h"

/* The base of the fixture: what `lorafit random-model --n-layer 2
 * --n-embd 32 --n-head 2 --n-ctx 64 --seed 7` writes. */
static const Gpt2Config BASE = {.n_layer = 2, .n_embd = 32, .n_head = 2, .vocab_size = 50257, .n_ctx = 64,
                                .qkv_bias = true};

static char *read_text(const char *dir, const char *file) {
    char path[8600];
    if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path) return NULL;
    size_t n;
    LfError err = {0};
    return fs_read_file(path, &n, &err);
}

/* An adapter over w: PEFT targets c_attn and mlp.c_proj or the labs' W_query
 * and W_value, rank 4, alpha 8, B nonzero (U(+-0.5) from seed 5). */
static bool save_adapter(const char *dir, const Gpt2Weights *w, bool peft, AdapterTask task, LfError *err) {
    AdapterConfig ac = {0};
    ac.base = w->cfg;
    ac.lora = lora_config_default();
    ac.lora.rank = 4;
    ac.lora.alpha = 8;
    if (!lora_config_set_targets(&ac.lora, peft ? "c_attn,mlp.c_proj" : "W_query,W_value", err)) return false;
    ac.naming = peft ? MODTREE_HF : MODTREE_LABS;
    ac.task = task;
    ac.max_length = w->cfg.n_ctx;
    const char *names[] = {"ham", "spam"};
    if (task == ADAPTER_TASK_CLASSIFY && !adapter_config_set_classes(&ac, names, 2, err)) return false;
    Classifier c;
    bool ok = classifier_build(&c, w, ac.naming, &ac.lora, 2, 1, 1, 0, err);
    Rng r;
    rng_seed(&r, 5);
    for (int i = 0; ok && i < c.model.n_adapters; i++)
        for (int k = 0; k < c.model.adapters[i].rank * c.model.adapters[i].out; k++)
            c.model.lora_B[i][k] = rng_float(&r) - 0.5f;
    ok = ok && adapter_save(dir, &ac, &c.model, c.slots, NULL, true, err);
    classifier_free(&c);
    adapter_config_free(&ac);
    return ok;
}

static int count_tensors(const char *dir) {
    char path[8600];
    if (snprintf(path, sizeof path, "%s/%s", dir, ADAPTER_WEIGHTS_FILE) >= (int)sizeof path) return -1;
    LfError err = {0};
    StFile *f = st_open(path, &err);
    int n = f ? st_count(f) : -1;
    st_close(f);
    return n;
}

static void check_one(const Gpt2Weights *w, const char *tmp, bool peft, AdapterTask task) {
    char dir[8600];
    snprintf(dir, sizeof dir, "%s/%s-%s", tmp, peft ? "peft" : "labs", task == ADAPTER_TASK_CAUSAL_LM ? "lm" : "cls");
    LfError err = {0};
    REQUIRE(save_adapter(dir, w, peft, task, &err), "save %s: %s", dir, err.msg);
    char *text = read_text(dir, ADAPTER_CONFIG_FILE);
    REQUIRE(text != NULL, "%s: no config", dir);
    bool lm = task == ADAPTER_TASK_CAUSAL_LM;
    const char *want = lm ? "\"task_type\":\t\"CAUSAL_LM\"" : peft ? "\"task_type\":\t\"SEQ_CLS\"" : NULL;
    if (want) CHECK(strstr(text, want) != NULL, "%s: the config lacks %s", dir, want);
    else CHECK(strstr(text, "task_type") == NULL, "%s: a labs classifier's config gained task_type", dir);
    CHECK(!lm || !peft || strstr(text, "\"modules_to_save\":\tnull"), "%s: an LM adapter saves no modules", dir);
    free(text);
    /* 2 adapters per block (c_attn and mlp.c_proj, or W_query and W_value) */
    int adapters = 2 * w->cfg.n_layer;
    CHECK(count_tensors(dir) == 2 * adapters + (lm ? 0 : 2), "%s: %d tensors", dir, count_tensors(dir));
    AdapterConfig ac;
    REQUIRE(adapter_load_config(dir, &ac, &err), "load %s: %s", dir, err.msg);
    CHECK(ac.task == task, "%s: task read back as %d", dir, ac.task);
    CHECK(ac.n_classes == (lm ? 0 : 2), "%s: %d classes", dir, ac.n_classes);
    AdapterTask other = lm ? ADAPTER_TASK_CLASSIFY : ADAPTER_TASK_CAUSAL_LM;
    CHECK(adapter_check_task(&ac, task, dir, &err), "%s: its own task refused", dir);
    CHECK(!adapter_check_task(&ac, other, dir, &err) && err.kind == LF_ERR_INPUT && strstr(err.msg, dir) &&
              strstr(err.msg, "CAUSAL_LM"),
          "%s: the other task: %s", dir, err.msg);
    Classifier c;
    REQUIRE(classifier_build(&c, w, ac.naming, &ac.lora, 2, 1, 1, 0, &err), "%s", err.msg);
    CHECK(adapter_load_weights(dir, &ac, &c.model, c.slots, &err), "%s: weights: %s", dir, err.msg);
    CHECK(c.model.lora_B[0][0] != 0.0f, "%s: B read back as zero", dir);
    classifier_free(&c);
    adapter_config_free(&ac);
}

int main(void) {
    const char *tmp = check_env("LORAFIT_TMP", "/tmp");
    char base[4200];
    snprintf(base, sizeof base, "%s/adapter_task.%d", tmp, (int)getpid());
    LfError err = {0};
    Gpt2Weights *w = gpt2_weights_random(&BASE, 7, &err);
    REQUIRE(w != NULL, "%s", err.msg);
    for (int peft = 0; peft <= 1; peft++) {
        check_one(w, base, peft, ADAPTER_TASK_CAUSAL_LM);
        check_one(w, base, peft, ADAPTER_TASK_CLASSIFY);
    }

    /* the committed LM adapter is what the writer writes (fingerprint 0:
     * not recorded, so that no model file is needed to make it) */
    const char *fixture_out = getenv("LORAFIT_WRITE_LM_FIXTURE");
    char mine[8600], committed[8600];
    snprintf(mine, sizeof mine, "%s/fixture", base);
    snprintf(committed, sizeof committed, "%s/tests/fixtures/generate/lm-adapter",
             check_env("LORAFIT_SOURCE_DIR", "."));
    REQUIRE(save_adapter(fixture_out ? fixture_out : mine, w, true, ADAPTER_TASK_CAUSAL_LM, &err), "%s", err.msg);
    char *a = read_text(fixture_out ? fixture_out : mine, ADAPTER_CONFIG_FILE);
    char *b = read_text(committed, ADAPTER_CONFIG_FILE);
    CHECK(a && b && strcmp(a, b) == 0, "%s/%s differs from what the writer writes today", committed,
          ADAPTER_CONFIG_FILE);
    free(a);
    free(b);
    gpt2_weights_random_free(w);
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", base);
    return check_done();
}
