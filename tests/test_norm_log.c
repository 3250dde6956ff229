/* test_norm_log.c - train --track-norms and the reader of its records.
 *
 * End to end: `lorafit train --track-norms 4` on a tiny random model
 * writes a record at steps 4, 8 and the last (9); the last one's norms
 * equal ||scale A B||_F of the adapter written at the end, computed here
 * the plain way (the product formed, then the square root of the sum of its
 * squared entries). The reader: hand-written logs, good and damaged, each
 * damage named by file:line. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lorafit/io/adapter.h"
#include "lorafit/report/norm_log.h"
#include "lorafit/util/files.h"

/* ||scale A B||_F with the product formed. */
static double explicit_norm(const float *A, const float *B, int in, int r, int out, double scale) {
    double sum = 0;
    for (int i = 0; i < in; i++)
        for (int o = 0; o < out; o++) {
            double v = 0;
            for (int k = 0; k < r; k++) v += (double)A[(size_t)i * r + k] * B[(size_t)k * out + o];
            sum += (v * scale) * (v * scale);
        }
    return sqrt(sum);
}

static int run(const char *cmd) {
    int rc = system(cmd);
    if (rc != 0) fprintf(stderr, "failed (%d): %s\n", rc, cmd);
    return rc;
}

static void end_to_end(const char *tmp) {
    const char *bin = check_env("LORAFIT_BIN", "./build/lorafit");
    char cmd[30000], csv[4200], log[4200], adapter[4200];
    snprintf(csv, sizeof csv, "%s/tiny.csv", tmp);
    snprintf(log, sizeof log, "%s/train.jsonl", tmp);
    snprintf(adapter, sizeof adapter, "%s/adapter", tmp);
    FILE *f = fopen(csv, "w");
    REQUIRE(f != NULL, "cannot write %s", csv);
    fputs("Label,Text\nham,Are we still on for lunch?\nspam,WINNER! Claim your prize now\nham,See you at six\n"
          "spam,Free entry to win a holiday\nham,I will bring the book\nspam,URGENT: a cash reward waiting\n",
          f);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "'%s' random-model --force --out '%s/model' --n-layer 2 --n-embd 32 --n-head 2 --n-ctx 64 --seed 3 >/dev/null && "
             "'%s' train --model '%s/model' --train '%s' --out '%s' --force --batch-size 2 --epochs 3 --lr 0.01 "
             "--targets W_query,W_value,ff.layers.0 --threads 1 --log-every 0 --log '%s' --track-norms 4 "
             ">/dev/null 2>&1",
             bin, tmp, bin, tmp, csv, adapter, log);
    REQUIRE(run(cmd) == 0, "train --track-norms");

    NormLog g;
    LfError err = {0};
    REQUIRE(norm_log_read(log, &g, &err), "%s", err.msg);
    CHECK(g.n_steps == 3 && g.steps[0] == 4 && g.steps[1] == 8 && g.steps[2] == 9,
          "records at steps 4, 8, 9 (got %d records)", g.n_steps);
    CHECK(g.n_layer == 2 && g.n_targets == 3 && !strcmp(g.targets[0], "att.W_query") &&
              !strcmp(g.targets[2], "ff.layers.0"),
          "2 layers, targets att.W_query, att.W_value, ff.layers.0");
    CHECK(g.epochs[0] == 2 && g.epochs[2] == 3, "epochs 2 and 3 (3 batches per epoch)");

    AdapterConfig ac;
    Classifier net;
    Gpt2Weights shape;
    REQUIRE(adapter_open_alone(adapter, NULL, &ac, &shape, &net, &err), "%s", err.msg);
    int matched = 0, bad = 0;
    for (int k = 0; k < net.model.n_adapters; k++) {
        const Gpt2Adapter *a = &net.model.adapters[k];
        double want = explicit_norm(net.model.lora_A[k], net.model.lora_B[k], a->in, a->rank, a->out, a->scale);
        for (int t = 0; t < g.n_targets; t++)
            if (strstr(net.slots[k].name, g.targets[t])) {
                double got = norm_log_at(&g, g.n_steps - 1, t, a->layer);
                matched++;
                if (!(fabs(got - want) <= 1e-12 * want) || want <= 0) {
                    bad++;
                    fprintf(stderr, "%s: logged %.17g, the product's norm %.17g\n", net.slots[k].name, got, want);
                }
            }
    }
    CHECK(matched == 6 && bad == 0, "the last record equals ||scale A B||_F of the saved adapter (%d of %d differ)",
          bad, matched);
    /* the norms grow from a zero B: the record at step 4 is below the last */
    CHECK(norm_log_at(&g, 0, 0, 0) > 0 && norm_log_at(&g, 0, 0, 0) < norm_log_at(&g, 2, 0, 0), "norms grow");
    classifier_free(&net);
    adapter_config_free(&ac);
    norm_log_free(&g);
}

/* text must be refused with a message holding want. */
static void refused(const char *text, const char *want) {
    NormLog g;
    LfError err = {0};
    bool ok = norm_log_parse(text, strlen(text), "t.jsonl", &g, &err);
    CHECK(!ok && strstr(err.msg, want) && err.kind == LF_ERR_INPUT, "refused with \"%s\", got: %s", want,
          ok ? "accepted" : err.msg);
    if (ok) norm_log_free(&g);
}

static void reader(void) {
    const char *good = "{\"step\": 1, \"epoch\": 1, \"loss\": 0.5}\n"
                       "{\"record\": \"norms\", \"step\": 2, \"epoch\": 1, \"norms\": {\"a\": [1, null], \"b\": [2, 3]}}\n"
                       "\n"
                       "{\"record\": \"norms\", \"step\": 4, \"epoch\": 1, \"norms\": {\"a\": [5, 6], \"c\": [null, 7]}}\n"
                       "{\"record\": \"norms\", \"step\": 3, \"epoch\": 1, \"norms\": {\"a\": [8, 9]}}\n"
                       "{\"record\": \"other\"}";
    NormLog g;
    LfError err = {0};
    REQUIRE(norm_log_parse(good, strlen(good), "t.jsonl", &g, &err), "%s", err.msg);
    /* step 3 after step 4: a resumed run went over step 4 again, which drops it */
    CHECK(g.n_steps == 2 && g.steps[0] == 2 && g.steps[1] == 3, "steps 2, 3 (got %d records)", g.n_steps);
    CHECK(g.n_layer == 2 && g.n_targets == 3, "2 layers, 3 targets (got %d, %d)", g.n_layer, g.n_targets);
    CHECK(norm_log_at(&g, 0, 0, 0) == 1 && isnan(norm_log_at(&g, 0, 0, 1)) && norm_log_at(&g, 0, 1, 1) == 3 &&
              norm_log_at(&g, 1, 0, 1) == 9 && isnan(norm_log_at(&g, 1, 1, 0)),
          "values where they were written, NaN elsewhere");
    norm_log_free(&g);

    refused("{\"step\": 1}\n", "t.jsonl holds no norms records");
    refused("{\"step\": 1}\n{\"record\": \"norms\", \"step\": 2, \"norms\": {\"a\": [1]}}\n{\"step\": 3, \"lo",
            "t.jsonl:3: not a JSON object");
    refused("\n[1, 2]\n", "t.jsonl:2: not a JSON object");
    refused("{\"record\": \"norms\", \"step\": -1, \"norms\": {\"a\": [1]}}", "t.jsonl:1: a norms record needs");
    refused("{\"record\": \"norms\", \"step\": 1.5, \"norms\": {\"a\": [1]}}", "t.jsonl:1:");
    refused("{\"record\": \"norms\", \"step\": 1, \"norms\": {}}", "t.jsonl:1:");
    refused("{\"record\": \"norms\", \"step\": 1, \"norms\": {\"a\": [1, 2]}}\n"
            "{\"record\": \"norms\", \"step\": 2, \"norms\": {\"a\": [1]}}",
            "t.jsonl:2: the norms of target \"a\" has another number of layers");
    refused("{\"record\": \"norms\", \"step\": 1, \"norms\": {\"a\": [1, -2]}}", "holds a value that is not a norm");
    refused("{\"record\": \"norms\", \"step\": 1, \"norms\": {\"a\": [1, \"x\"]}}", "holds a value that is not a norm");
    refused("{\"record\": \"norms\", \"step\": 1, \"norms\": {\"a\": 1}}", "\"a\" is not an array");
    refused("{\"record\": \"norms\", \"step\": 1, \"norms\": {\"a\": []}}", "has no layers");
    refused("{\"record\": \"norms\", \"step\": 1, \"norms\": {\"1\": [1], \"2\": [1], \"3\": [1], \"4\": [1], \"5\": [1], "
            "\"6\": [1], \"7\": [1], \"8\": [1], \"9\": [1]}}",
            "\"9\" is one target too many");
}

int main(void) {
    char tmp[4096];
    check_tmp_dir(tmp, sizeof tmp, "test_norm_log");
    reader();
    end_to_end(tmp);
    return check_done();
}
