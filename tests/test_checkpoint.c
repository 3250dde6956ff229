/* test_checkpoint.c - opening GPT-2 checkpoints: the tiny fixtures that
 * scripts/make-safetensors-fixtures.py writes (2 layers, n_embd 8, 2 heads,
 * vocab 11, n_ctx 6; F32 with the attn.bias buffers, F32 with the
 * "transformer." prefix and lm_head.weight, F16, BF16), and broken variants
 * made here from them: no config.json, a missing tensor, a wrong shape, an
 * extra tensor, bad config.json files. Each failure asserts its message.
 * Then config.json texts parsed alone (io/model_config.h): Hugging Face's
 * gpt2 config (tests/fixtures/json, written by hand from the Hub's), and
 * hand-written good, odd and broken ones, each with its fields or message.
 * Then a model written here big enough for 2 MB pages, opened in place
 * (where the system allows) and copied.
 *
 * Values: element i of weight k (canonical order: wte, wpe, each block's 12
 * weights, ln_f) is ((k*131 + i*7) % 97 - 48) / 16 in every fixture, exact
 * in F16 and BF16, so all four must give identical floats. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "lorafit/io/checkpoint.h"
#include "lorafit/io/model_config.h"
#include "lorafit/util/files.h"

static char fixtures[4096], tmp[4096];

enum { L = 2, C = 8, NH = 2, V = 11, T = 6 };

static float formula(int k, long i) { return (float)(((k * 131L + i * 7) % 97) - 48) / 16.0f; }

static int check_values(const float *x, long n, int k, const char *what) {
    if (!x) {
        CHECK(0, "%s: NULL", what);
        return 1;
    }
    for (long i = 0; i < n; i++) {
        if (x[i] != formula(k, i)) {
            CHECK(0, "%s[%ld] = %g, want %g", what, i, x[i], formula(k, i));
            return 1;
        }
    }
    return 0;
}

/* Every weight of a model of nl layers, width c, vocab v and context t
 * against the formula; returns how many tensors differ. */
static int check_all_values(const Gpt2Weights *w, int nl, long c, long v, long t, const char *label) {
    int bad = check_values(w->wte, v * c, 0, "wte") + check_values(w->wpe, t * c, 1, "wpe");
    for (int l = 0; l < nl; l++) {
        const Gpt2LayerWeights *lw = &w->layers[l];
        const struct { const float *x; long n; } parts[12] = {
            {lw->ln1_w, c},         {lw->ln1_b, c},       {lw->qkv_w, c * 3 * c},   {lw->qkv_b, 3 * c},
            {lw->attn_proj_w, c * c}, {lw->attn_proj_b, c}, {lw->ln2_w, c},         {lw->ln2_b, c},
            {lw->fc_w, c * 4 * c},  {lw->fc_b, 4 * c},    {lw->fc_proj_w, 4 * c * c}, {lw->fc_proj_b, c},
        };
        for (int p = 0; p < 12; p++) {
            char what[160];
            snprintf(what, sizeof what, "%s h.%d part %d", label, l, p);
            bad += check_values(parts[p].x, parts[p].n, 2 + 12 * l + p, what);
        }
    }
    return bad + check_values(w->lnf_w, c, 2 + 12 * nl, "ln_f.weight") +
           check_values(w->lnf_b, c, 3 + 12 * nl, "ln_f.bias");
}

static void check_tiny_weights(const Gpt2Checkpoint *ck, const char *label) {
    const Gpt2Weights *w = checkpoint_weights(ck);
    const Gpt2Config *c = checkpoint_config(ck);
    CHECK(c->n_layer == L && c->n_embd == C && c->n_head == NH && c->vocab_size == V && c->n_ctx == T &&
              c->qkv_bias,
          "%s: config %d %d %d %d %d %d", label, c->n_layer, c->n_embd, c->n_head, c->vocab_size, c->n_ctx,
          c->qkv_bias);
    CHECK(memcmp(&w->cfg, c, sizeof *c) == 0, "%s: weights carry the config", label);
    int bad = check_all_values(w, L, C, V, T, label);
    CHECK(bad == 0, "%s: %d weights differ from the formula", label, bad);
}

static uint64_t expected_fingerprint(void) {
    char path[4200];
    snprintf(path, sizeof path, "%s/tiny.fingerprint", fixtures);
    FILE *fp = fopen(path, "r");
    unsigned long long v = 0;
    if (!fp || fscanf(fp, "%llx", &v) != 1) CHECK(0, "cannot read %s", path);
    if (fp) fclose(fp);
    return v;
}

static void test_fixtures(void) {
    const char *dirs[] = {"tiny", "tiny-prefix", "tiny-f16", "tiny-bf16"};
    /* Converted floats, each tensor rounded up to 16: wte 88->96, wpe 48,
     * per block 6 x [8]->16, [24]->32, [32]->32, 192+64+256+256; ln_f 2 x 16:
     * 96 + 48 + 2 * 928 + 32 = 2032 floats. */
    const size_t owned[] = {0, 0, 2032 * 4, 2032 * 4};
    uint64_t want_fp = expected_fingerprint();
    for (int i = 0; i < 4; i++) {
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/%s", fixtures, dirs[i]);
        LfError err = {0};
        Gpt2Checkpoint *ck = checkpoint_open(dir, &err);
        CHECK(ck != NULL, "%s: %s", dirs[i], err.msg);
        if (!ck) continue;
        check_tiny_weights(ck, dirs[i]);
        CHECK(checkpoint_has_config(ck), "%s: config.json read", dirs[i]);
        CHECK(checkpoint_owned_bytes(ck) == owned[i], "%s: %zu bytes converted, want %zu", dirs[i],
              checkpoint_owned_bytes(ck), owned[i]);
        CHECK_STR_EQ(checkpoint_dir(ck), dir);
        uint64_t fp = checkpoint_fingerprint(ck);
        CHECK(fp == want_fp, "%s: fingerprint %016llx, Python computed %016llx", dirs[i], (unsigned long long)fp,
              (unsigned long long)want_fp);
        checkpoint_close(ck);
    }
    /* A trailing slash names the same directory. */
    char slashed[4300];
    snprintf(slashed, sizeof slashed, "%s/tiny//", fixtures);
    LfError e0 = {0};
    Gpt2Checkpoint *cs = checkpoint_open(slashed, &e0);
    CHECK(cs != NULL, "open %s: %s", slashed, e0.msg);
    if (cs) {
        char want_file[4300];
        snprintf(want_file, sizeof want_file, "%s/tiny/model.safetensors", fixtures);
        CHECK_STR_EQ(checkpoint_file(cs), want_file);
        checkpoint_close(cs);
    }
    /* The file itself: the directory is where it lies. */
    char file[4200], dir[4200];
    snprintf(dir, sizeof dir, "%s/tiny", fixtures);
    snprintf(file, sizeof file, "%s/tiny/model.safetensors", fixtures);
    LfError err = {0};
    Gpt2Checkpoint *ck = checkpoint_open(file, &err);
    CHECK(ck != NULL, "open by file: %s", err.msg);
    if (ck) {
        CHECK_STR_EQ(checkpoint_dir(ck), dir);
        CHECK_STR_EQ(checkpoint_file(ck), file);
        CHECK(checkpoint_has_config(ck), "config.json beside the file");
        checkpoint_close(ck);
    }
}

/* ---- variants --------------------------------------------------------- */

typedef struct {
    const char *drop;       /* tensor left out */
    const char *reshape;    /* tensor given shape {r0, r1} (same element count) */
    int64_t r0, r1;
    const char *rename_from, *rename_to;
    const char *extra;      /* an extra F32 [2] tensor */
    const char *config;     /* config.json text, or NULL for none */
} Variant;

static const char *tiny_config =
    "{\"model_type\": \"gpt2\", \"n_layer\": 2, \"n_embd\": 8, \"n_head\": 2, \"vocab_size\": 11, "
    "\"n_positions\": 6, \"n_ctx\": 6, \"n_inner\": null}";

/* Writes tmp/<name>/model.safetensors from the tiny fixture with the change
 * applied; returns the directory. */
static const char *make_variant(const char *name, const Variant *v, char *dir, size_t cap) {
    char src[4200], path[4400];
    snprintf(src, sizeof src, "%s/tiny/model.safetensors", fixtures);
    snprintf(dir, cap, "%s/%s", tmp, name);
    mkdir(dir, 0755);
    LfError err = {0};
    StFile *f = st_open(src, &err);
    CHECK(f != NULL, "%s", err.msg);
    if (!f) return dir;
    StWriter *w = st_writer_new();
    static const float two[2] = {1, 2};
    for (int i = 0; i < st_count(f); i++) {
        const StTensor *t = st_tensor(f, i);
        if (v->drop && strcmp(t->name, v->drop) == 0) continue;
        const char *tn = v->rename_from && strcmp(t->name, v->rename_from) == 0 ? v->rename_to : t->name;
        int64_t shape[2] = {v->r0, v->r1};
        bool re = v->reshape && strcmp(t->name, v->reshape) == 0;
        CHECK(st_writer_add(w, tn, t->dtype, re ? 2 : t->ndim, re ? shape : t->shape, t->data, &err), "%s", err.msg);
    }
    int64_t n2 = 2;
    if (v->extra) st_writer_add(w, v->extra, ST_F32, 1, &n2, two, &err);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    CHECK(st_writer_save(w, path, &err), "%s", err.msg);
    st_writer_free(w);
    st_close(f);
    snprintf(path, sizeof path, "%s/config.json", dir);
    remove(path);
    if (v->config) {
        FILE *fp = fopen(path, "w");
        fputs(v->config, fp);
        fclose(fp);
    }
    return dir;
}

/* Opening must fail with exactly "<dir>/<file>: <want>" (file
 * "model.safetensors" or "config.json"), or when want starts with '*',
 * a message containing the rest. */
static void expect_fail(const char *name, const Variant *v, const char *file, const char *want, int line) {
    char dir[4200], full[8400];
    make_variant(name, v, dir, sizeof dir);
    LfError err = {0};
    Gpt2Checkpoint *ck = checkpoint_open(dir, &err);
    if (ck) {
        CHECK(0, "line %d: %s opened", line, name);
        checkpoint_close(ck);
        return;
    }
    CHECK(err.kind == LF_ERR_INPUT, "line %d: kind %d", line, err.kind);
    if (want[0] == '*') {
        CHECK(strstr(err.msg, want + 1) != NULL, "line %d: \"%s\" does not contain \"%s\"", line, err.msg, want + 1);
    } else {
        snprintf(full, sizeof full, "%s/%s: %s", dir, file, want);
        CHECK(strcmp(err.msg, full) == 0, "line %d:\n  got:  \"%s\"\n  want: \"%s\"", line, err.msg, full);
    }
}
#define FAIL(name, file, want, ...) \
    do { Variant v_ = {__VA_ARGS__}; expect_fail(name, &v_, file, want, __LINE__); } while (0)

static void test_variants(void) {
    FAIL("noconfig", "model.safetensors",
         "no config.json beside it, and no GPT-2 preset has n_layer 2 and n_embd 8 (with vocab_size 11 and n_ctx 6, "
         "read from wte/wpe); add a config.json that gives n_head",
         .config = NULL);
    FAIL("missing", "model.safetensors", "tensor 'h.1.mlp.c_fc.bias' is missing", .drop = "h.1.mlp.c_fc.bias",
         .config = tiny_config);
    FAIL("noconfig-missing-wpe", "model.safetensors", "tensor 'wpe.weight' is missing (is this a GPT-2 checkpoint?)",
         .drop = "wpe.weight");
    FAIL("badshape", "model.safetensors", "tensor 'h.0.attn.c_proj.weight' has shape [4, 16], expected [8, 8]",
         .reshape = "h.0.attn.c_proj.weight", .r0 = 4, .r1 = 16, .config = tiny_config);
    FAIL("extra", "model.safetensors", "unexpected tensor 'score.weight': not part of a GPT-2 model with n_layer 2",
         .extra = "score.weight", .config = tiny_config);
    FAIL("both-prefixes", "model.safetensors",
         "tensor 'ln_f.bias' appears both with and without the 'transformer.' prefix",
         .extra = "transformer.ln_f.bias", .config = tiny_config);
    FAIL("lm-head", "model.safetensors", "tensor 'lm_head.weight' has shape [2], expected [11, 8] (tied to wte)",
         .extra = "lm_head.weight", .config = tiny_config);
    /* A config that disagrees with the tensors. */
    FAIL("cfg-3-layers", "model.safetensors", "tensor 'h.2.ln_1.weight' is missing",
         .config = "{\"n_layer\": 3, \"n_embd\": 8, \"n_head\": 2, \"vocab_size\": 11, \"n_ctx\": 6}");
    FAIL("cfg-1-layer", "model.safetensors", "* with n_layer 1",
         .config = "{\"n_layer\": 1, \"n_embd\": 8, \"n_head\": 2, \"vocab_size\": 11, \"n_ctx\": 6}");
    FAIL("cfg-1-layer", "model.safetensors", "*: unexpected tensor 'h.1.",
         .config = "{\"n_layer\": 1, \"n_embd\": 8, \"n_head\": 2, \"vocab_size\": 11, \"n_ctx\": 6}");
    FAIL("cfg-ctx", "model.safetensors", "tensor 'wpe.weight' has shape [6, 8], expected [1024, 8]",
         .config = "{\"n_layer\": 2, \"n_embd\": 8, \"n_head\": 2, \"vocab_size\": 11, \"n_positions\": 1024, "
                   "\"n_ctx\": 6}");
    FAIL("cfg-no-qkv-bias", "model.safetensors", "*.attn.c_attn.bias': not part of a GPT-2 model with n_layer 2 and "
                                                  "no Q/K/V bias",
         .config = "{\"n_layer\": 2, \"n_embd\": 8, \"n_head\": 2, \"vocab_size\": 11, \"n_ctx\": 6, "
                   "\"qkv_bias\": false}");
    /* Broken config.json files. */
    FAIL("cfg-no-head", "config.json", "missing \"n_head\"",
         .config = "{\"n_layer\": 2, \"n_embd\": 8, \"vocab_size\": 11, \"n_ctx\": 6}");
    FAIL("cfg-heads", "config.json", "model config: n_embd (8) is not divisible by n_head (3)",
         .config = "{\"n_layer\": 2, \"n_embd\": 8, \"n_head\": 3, \"vocab_size\": 11, \"n_ctx\": 6}");
    FAIL("cfg-float", "config.json", "\"n_layer\" must be an integer",
         .config = "{\"n_layer\": 2.5, \"n_embd\": 8, \"n_head\": 2, \"vocab_size\": 11, \"n_ctx\": 6}");
    FAIL("cfg-type", "config.json", "model_type is llama, expected \"gpt2\"",
         .config = "{\"model_type\": \"llama\", \"n_layer\": 2}");
    FAIL("cfg-inner", "config.json", "n_inner 16 is not 4 * n_embd (8); only that is supported",
         .config = "{\"n_layer\": 2, \"n_embd\": 8, \"n_head\": 2, \"vocab_size\": 11, \"n_ctx\": 6, \"n_inner\": 16}");
    FAIL("cfg-big", "config.json", "vocab_size 100000000 is implausibly large (limit 16777216)",
         .config = "{\"n_layer\": 2, \"n_embd\": 8, \"n_head\": 2, \"vocab_size\": 100000000, \"n_ctx\": 6}");
    FAIL("cfg-json", "config.json", "not a JSON object", .config = "{\"n_layer\": ");

    /* Without Q/K/V biases in the file and qkv_bias false: qkv_b is NULL. */
    Variant nb = {.config = "{\"n_layer\": 2, \"n_embd\": 8, \"n_head\": 2, \"vocab_size\": 11, \"n_ctx\": 6, "
                            "\"qkv_bias\": false}"};
    char dir[4200], src[4200], path[4400];
    make_variant("no-qkv-bias", &nb, dir, sizeof dir);
    snprintf(src, sizeof src, "%s/tiny/model.safetensors", fixtures);
    LfError err = {0};
    StFile *f = st_open(src, &err);
    StWriter *w = st_writer_new();
    for (int i = 0; f && i < st_count(f); i++) {
        const StTensor *t = st_tensor(f, i);
        if (!strstr(t->name, "c_attn.bias")) st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data, &err);
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    CHECK(st_writer_save(w, path, &err), "%s", err.msg);
    st_writer_free(w);
    st_close(f);
    Gpt2Checkpoint *ck = checkpoint_open(dir, &err);
    CHECK(ck != NULL, "no-qkv-bias: %s", err.msg);
    if (ck) {
        CHECK(!checkpoint_config(ck)->qkv_bias, "qkv_bias false");
        CHECK(checkpoint_weights(ck)->layers[0].qkv_b == NULL && checkpoint_weights(ck)->layers[1].qkv_b == NULL,
              "qkv_b NULL");
        CHECK(checkpoint_weights(ck)->layers[1].qkv_w != NULL, "qkv_w set");
        CHECK(checkpoint_fingerprint(ck) != expected_fingerprint(), "fingerprint sees qkv_bias");
        checkpoint_close(ck);
    }

    /* One value changed at a sampled position (wte[0]) changes the
     * fingerprint; so does a different n_head. */
    make_variant("changed", &(Variant){.config = tiny_config}, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    f = st_open(src, &err);
    w = st_writer_new();
    float wte[V * C];
    for (int i = 0; f && i < st_count(f); i++) {
        const StTensor *t = st_tensor(f, i);
        const void *data = t->data;
        if (strcmp(t->name, "wte.weight") == 0) {
            memcpy(wte, t->data, sizeof wte);
            wte[0] += 1.0f;
            data = wte;
        }
        st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, data, &err);
    }
    CHECK(st_writer_save(w, path, &err), "%s", err.msg);
    st_writer_free(w);
    st_close(f);
    ck = checkpoint_open(dir, &err);
    CHECK(ck && checkpoint_fingerprint(ck) != expected_fingerprint(), "changed wte[0]: %s", err.msg);
    checkpoint_close(ck);
    make_variant("heads", &(Variant){.config = "{\"n_layer\": 2, \"n_embd\": 8, \"n_head\": 4, \"vocab_size\": 11, "
                                               "\"n_ctx\": 6}"},
                 dir, sizeof dir);
    ck = checkpoint_open(dir, &err);
    CHECK(ck && checkpoint_fingerprint(ck) != expected_fingerprint(), "n_head 4: %s", err.msg);
    checkpoint_close(ck);
}

static void test_paths(void) {
    LfError err = {0};
    char dir[4200], want[8600];
    snprintf(dir, sizeof dir, "%s/no-such-model", tmp);
    CHECK(checkpoint_open(dir, &err) == NULL, "missing dir");
    snprintf(want, sizeof want, "cannot open model %s: No such file or directory", dir);
    CHECK_STR_EQ(err.msg, want);
    CHECK(err.kind == LF_ERR_INPUT, "kind");
    snprintf(dir, sizeof dir, "%s/empty-model", tmp);
    mkdir(dir, 0755);
    CHECK(checkpoint_open(dir, &err) == NULL, "empty dir");
    snprintf(want, sizeof want, "%s: no model.safetensors in this directory (scripts/download-gpt2.sh fetches one)",
             dir);
    CHECK_STR_EQ(err.msg, want);
    char bin[4400];
    snprintf(bin, sizeof bin, "%s/pytorch_model.bin", dir);
    FILE *fp = fopen(bin, "w");
    if (fp) fclose(fp);
    CHECK(checkpoint_open(dir, &err) == NULL, "bin only");
    snprintf(want, sizeof want,
             "%s: has pytorch_model.bin but no model.safetensors; only safetensors is read "
             "(scripts/download-gpt2.sh fetches it)",
             dir);
    CHECK_STR_EQ(err.msg, want);
    remove(bin);
    /* A bad safetensors file: the reader's message comes through. */
    char file[4400];
    snprintf(file, sizeof file, "%s/model.safetensors", dir);
    fp = fopen(file, "w");
    if (fp) fclose(fp);
    CHECK(checkpoint_open(dir, &err) == NULL, "empty file");
    snprintf(want, sizeof want, "%s: file is 0 bytes, too short for a safetensors header (needs at least 8)", file);
    CHECK_STR_EQ(err.msg, want);
    remove(file);
}

/* ---- a model big enough for 2 MB pages ------------------------------------ */

/* 2 layers of width 512: 25 MB of block weights, the fc weights 4 MB each.
 * Opened both ways: in place if the page cache can give 2 MB folios, and
 * copied in 2 MB pieces over the threads. Both must give the file's values. */
enum { BIG_L = 2, BIG_C = 512, BIG_V = 11, BIG_T = 6 };

static bool write_big_model(const char *dir, float **store) {
    static const struct { const char *part; int64_t m0, m1; } parts[12] = {
        {"ln_1.weight", 1, 0}, {"ln_1.bias", 1, 0},   {"attn.c_attn.weight", 1, 3}, {"attn.c_attn.bias", 3, 0},
        {"attn.c_proj.weight", 1, 1}, {"attn.c_proj.bias", 1, 0}, {"ln_2.weight", 1, 0}, {"ln_2.bias", 1, 0},
        {"mlp.c_fc.weight", 1, 4}, {"mlp.c_fc.bias", 4, 0}, {"mlp.c_proj.weight", 4, 1}, {"mlp.c_proj.bias", 1, 0},
    };
    StWriter *w = st_writer_new();
    LfError err = {0};
    bool ok = w != NULL;
    int k = 0;
    char name[64];
    for (int t = 0; ok && t < 2 + 12 * BIG_L + 2; t++, k++) {
        int64_t shape[2];
        int ndim;
        if (t == 0 || t == 1) {
            snprintf(name, sizeof name, "%s", t == 0 ? "wte.weight" : "wpe.weight");
            shape[0] = t == 0 ? BIG_V : BIG_T, shape[1] = BIG_C, ndim = 2;
        } else if (t < 2 + 12 * BIG_L) {
            int l = (t - 2) / 12, p = (t - 2) % 12;
            snprintf(name, sizeof name, "h.%d.%s", l, parts[p].part);
            shape[0] = parts[p].m0 * BIG_C, shape[1] = parts[p].m1 * BIG_C, ndim = parts[p].m1 ? 2 : 1;
        } else {
            snprintf(name, sizeof name, "%s", t == 2 + 12 * BIG_L ? "ln_f.weight" : "ln_f.bias");
            shape[0] = BIG_C, ndim = 1;
        }
        long n = (long)shape[0] * (ndim == 2 ? shape[1] : 1);
        store[k] = malloc((size_t)n * sizeof(float));
        if (!store[k]) return false;
        for (long i = 0; i < n; i++) store[k][i] = formula(k, i);
        ok = st_writer_add(w, name, ST_F32, ndim, shape, store[k], &err);
    }
    char path[4400];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    ok = ok && st_writer_save(w, path, &err);
    CHECK(ok, "writing %s: %s", path, err.msg);
    st_writer_free(w);
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *fp = fopen(path, "w");
    if (!fp) return false;
    fprintf(fp, "{\"n_layer\": %d, \"n_embd\": %d, \"n_head\": 8, \"vocab_size\": %d, \"n_positions\": %d}\n",
            BIG_L, BIG_C, BIG_V, BIG_T);
    return fclose(fp) == 0 && ok;
}

static void test_big_model(void) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/big", tmp);
    mkdir(dir, 0755);
    float *store[2 + 12 * BIG_L + 2] = {0};
    if (!write_big_model(dir, store)) {
        CHECK(0, "cannot write the model in %s", dir);
    } else {
        const CheckpointLoad hows[] = {CHECKPOINT_LOAD_AUTO, CHECKPOINT_LOAD_COPY, CHECKPOINT_LOAD_AUTO};
        for (int i = 0; i < 3; i++) {
            LfError err = {0};
            Gpt2Checkpoint *ck = checkpoint_open_as(dir, hows[i], &err);
            CHECK(ck != NULL, "open %s: %s", dir, err.msg);
            if (!ck) continue;
            char label[64];
            snprintf(label, sizeof label, "big, %s", checkpoint_in_place(ck) ? "in place" : "copied");
            printf("open %d (%s): %s\n", i, hows[i] == CHECKPOINT_LOAD_COPY ? "copy" : "auto", label);
            if (hows[i] == CHECKPOINT_LOAD_COPY) CHECK(!checkpoint_in_place(ck), "LOAD_COPY copies");
            int bad = check_all_values(checkpoint_weights(ck), BIG_L, BIG_C, BIG_V, BIG_T, label);
            CHECK(bad == 0, "%s: %d weights differ from the file", label, bad);
            checkpoint_close(ck);
        }
    }
    for (size_t k = 0; k < sizeof store / sizeof *store; k++) free(store[k]);
}

/* ---- config.json alone ------------------------------------------------- */

#define SHAPE "\"n_layer\": 2, \"n_embd\": 8, \"n_head\": 2, \"vocab_size\": 11"

static void parse_case(const char *text, size_t len, const char *want_msg, Gpt2Config want, int line) {
    Gpt2Config cfg = {0};
    LfError err = {0};
    bool ok = model_config_parse(text, len, "cfg.json", &cfg, &err);
    if (want_msg) {
        CHECK(!ok && err.kind == LF_ERR_INPUT && !strcmp(err.msg, want_msg), "line %d: got %s, want %s", line,
              ok ? "success" : err.msg, want_msg);
        return;
    }
    CHECK(ok && cfg.n_layer == want.n_layer && cfg.n_embd == want.n_embd && cfg.n_head == want.n_head &&
              cfg.vocab_size == want.vocab_size && cfg.n_ctx == want.n_ctx && cfg.qkv_bias == want.qkv_bias,
          "line %d: %s; got %d %d %d %d %d %d", line, ok ? "read" : err.msg, cfg.n_layer, cfg.n_embd, cfg.n_head,
          cfg.vocab_size, cfg.n_ctx, cfg.qkv_bias);
}
#define PARSE_OK(text, ...) parse_case(text, strlen(text), NULL, (Gpt2Config){__VA_ARGS__}, __LINE__)
#define PARSE_FAIL(text, msg) parse_case(text, strlen(text), msg, (Gpt2Config){0}, __LINE__)

static void test_config_parse(void) {
    char path[4200];
    size_t len;
    char *gpt2 = fs_read_file(check_source_path(path, sizeof path, "tests/fixtures/json/gpt2-config.json"), &len, NULL);
    REQUIRE(gpt2, "%s", path);
    parse_case(gpt2, len, NULL, (Gpt2Config){12, 768, 12, 50257, 1024, true}, __LINE__);
    free(gpt2);
    PARSE_OK("{" SHAPE ", \"n_positions\": 6, \"n_inner\": null}", 2, 8, 2, 11, 6, true);
    PARSE_OK("{" SHAPE ", \"n_ctx\": 7, \"n_inner\": 32, \"model_type\": \"gpt2\"}", 2, 8, 2, 11, 7, true);
    PARSE_OK("{" SHAPE ", \"n_positions\": 5, \"n_ctx\": 7, \"qkv_bias\": false}", 2, 8, 2, 11, 5, false);
    /* As ever, nothing after the object is read, nor after a NUL. */
    PARSE_OK("{" SHAPE ", \"n_ctx\": 6} trailing words", 2, 8, 2, 11, 6, true);
    const char nul_after[] = "{" SHAPE ", \"n_ctx\": 6}\0{", nul_inside[] = "{" SHAPE ", \0 \"n_ctx\": 6}";
    parse_case(nul_after, sizeof nul_after - 1, NULL, (Gpt2Config){2, 8, 2, 11, 6, true}, __LINE__);
    parse_case(nul_inside, sizeof nul_inside - 1, "cfg.json: not a JSON object", (Gpt2Config){0}, __LINE__);
    const char *whole = "{" SHAPE ", \"n_ctx\": 6}"; /* read only as far as len */
    parse_case(whole, strlen(whole) - 1, "cfg.json: not a JSON object", (Gpt2Config){0}, __LINE__);

    PARSE_FAIL("{\"model_type\": \"llama\", " SHAPE ", \"n_ctx\": 6}",
               "cfg.json: model_type is llama, expected \"gpt2\"");
    PARSE_FAIL("{\"model_type\": 2, " SHAPE ", \"n_ctx\": 6}",
               "cfg.json: model_type is not a string, expected \"gpt2\"");
    PARSE_FAIL("{\"n_layer\": 2, \"n_embd\": 8, \"vocab_size\": 11, \"n_ctx\": 6}", "cfg.json: missing \"n_head\"");
    PARSE_FAIL("{" SHAPE "}", "cfg.json: missing \"n_ctx\"");
    PARSE_FAIL("{\"n_layer\": 2, \"n_embd\": 8, \"n_head\": 3, \"vocab_size\": 11, \"n_ctx\": 6}",
               "cfg.json: model config: n_embd (8) is not divisible by n_head (3)");
    PARSE_FAIL("{\"n_layer\": -1, \"n_embd\": 8, \"n_head\": 2, \"vocab_size\": 11, \"n_ctx\": 6}",
               "cfg.json: model config: n_layer must be positive, got -1");
    PARSE_FAIL("{\"n_layer\": 2, \"n_embd\": 8, \"n_head\": 0, \"vocab_size\": 11, \"n_ctx\": 6}",
               "cfg.json: model config: n_head must be positive, got 0");
    PARSE_FAIL("{\"n_layer\": 2, \"n_embd\": 16777218, \"n_head\": 2, \"vocab_size\": 11, \"n_ctx\": 6}",
               "cfg.json: n_embd 16777218 is implausibly large (limit 16777216)");
    PARSE_FAIL("{" SHAPE ", \"n_ctx\": 1e10}", "cfg.json: \"n_ctx\" must be an integer");
    PARSE_FAIL("{" SHAPE ", \"n_ctx\": \"6\"}", "cfg.json: \"n_ctx\" must be an integer");
    PARSE_FAIL("{" SHAPE ", \"n_ctx\": 6, \"n_inner\": 16}",
               "cfg.json: n_inner 16 is not 4 * n_embd (8); only that is supported");
    PARSE_FAIL("{" SHAPE ", \"n_ctx\": 6, \"qkv_bias\": 0}", "cfg.json: \"qkv_bias\" must be true or false");
    PARSE_FAIL("{\"n_layer\": 2, \"n_embd\"", "cfg.json: not a JSON object");
    PARSE_FAIL("[2, 8, 2, 11, 6]", "cfg.json: not a JSON object");
    PARSE_FAIL("", "cfg.json: not a JSON object");
}

int main(void) {
    check_source_path(fixtures, sizeof fixtures, "tests/fixtures/safetensors");
    check_tmp_dir(tmp, sizeof tmp, "checkpoint");
    test_fixtures();
    test_variants();
    test_paths();
    test_config_parse();
    test_big_model();
    return check_done();
}
