/* test_quant_file.c - quantized model files: written by
 * checkpoint_write_quantized, opened by checkpoint_open in place (the same
 * codes and scales as quantizing the fp32 model in memory, the fp32
 * model's fingerprint), and refused when damaged, naming the tensor: a
 * scale tensor missing, codes truncated, a wrong block count, a wrong
 * dtype, an unknown base_dtype. */
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "lorafit/engine/quant_weights.h"
#include "lorafit/engine/random_weights.h"
#include "lorafit/io/checkpoint.h"
#include "lorafit/io/checkpoint_write.h"
#include "lorafit/io/quant_file.h"
#include "lorafit/util/files.h"

static char tmp[4096];

/* Copies dir/model.safetensors to dir2 with tensor `victim` changed:
 * dropped (delta_bytes == 0 and !as_dtype), its element count changed by
 * delta (bytes of padding come from a zeroed buffer), or its dtype set; and
 * metadata base_dtype replaced when dtype_meta is set. */
static void write_damaged(const char *src_dir, const char *dir, const char *victim, int delta, bool drop,
                          int as_dtype, const char *dtype_meta) {
    char src[4200], path[4200], cfg[4200], cfg_out[4200];
    snprintf(src, sizeof src, "%s/model.safetensors", src_dir);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    mkdir(dir, 0777);
    LfError err = {0};
    StFile *st = st_open(src, &err);
    REQUIRE(st, "%s", err.msg);
    static unsigned char zeros[1 << 20];
    StWriter *w = st_writer_new();
    for (int i = 0; i < st_count(st); i++) {
        const StTensor *t = st_tensor(st, i);
        int64_t shape[8];
        memcpy(shape, t->shape, sizeof(int64_t) * (size_t)t->ndim);
        StDtype dt = t->dtype;
        const void *data = t->data;
        if (victim && strcmp(t->name, victim) == 0) {
            if (drop) continue;
            if (as_dtype >= 0) dt = (StDtype)as_dtype;
            if (delta) {
                shape[0] += delta;
                data = delta > 0 ? zeros : data; /* longer: read from zeros (large enough here) */
            }
        }
        REQUIRE(st_writer_add(w, t->name, dt, t->ndim, shape, data, &err), "%s", err.msg);
    }
    const char *keys[] = {"format", QUANT_FILE_DTYPE_KEY, QUANT_FILE_LAYOUT_KEY, QUANT_FILE_FINGERPRINT_KEY};
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
        const char *v = k == 1 && dtype_meta ? dtype_meta : st_metadata(st, keys[k]);
        if (v) REQUIRE(st_writer_metadata(w, keys[k], v, &err), "%s", err.msg);
    }
    REQUIRE(st_writer_save(w, path, &err), "%s", err.msg);
    st_writer_free(w);
    st_close(st);
    snprintf(cfg, sizeof cfg, "%s/config.json", src_dir);
    snprintf(cfg_out, sizeof cfg_out, "%s/config.json", dir);
    size_t n;
    char *text = fs_read_file(cfg, &n, &err);
    REQUIRE(text && fs_write_atomic(cfg_out, text, n, &err), "%s", err.msg);
    free(text);
}

static void expect_refused(const char *dir, const char *needle) {
    LfError err = {0};
    Gpt2Checkpoint *ck = checkpoint_open(dir, &err);
    CHECK(!ck && strstr(err.msg, needle), "%s: refused naming '%s'; got: %s", dir, needle, ck ? "(opened)" : err.msg);
    checkpoint_close(ck);
}

static void check_dtype(QuantDtype dtype) {
    Gpt2Config cfg = {.n_layer = 2, .n_embd = 48, .n_head = 2, .vocab_size = 300, .n_ctx = 32, .qkv_bias = true};
    LfError err = {0};
    char fp_dir[4200], q_dir[4200], bad[4200];
    snprintf(fp_dir, sizeof fp_dir, "%s/quant_file_fp32", tmp);
    snprintf(q_dir, sizeof q_dir, "%s/quant_file_%s", tmp, quant_dtype_name(dtype));
    Gpt2Weights *w = gpt2_weights_random(&cfg, 5, &err);
    REQUIRE(w && checkpoint_write(fp_dir, w, true, &err), "%s", err.msg);
    gpt2_weights_random_free(w);

    Gpt2Checkpoint *ck = checkpoint_open(fp_dir, &err);
    REQUIRE(ck, "%s", err.msg);
    QuantWeights qw;
    REQUIRE(quant_weights_build(&qw, checkpoint_weights(ck), dtype, &err), "%s", err.msg);
    REQUIRE(checkpoint_write_quantized(q_dir, &qw.w, checkpoint_fingerprint(ck), true, &err), "%s", err.msg);

    Gpt2Checkpoint *qk = checkpoint_open(q_dir, &err);
    REQUIRE(qk, "%s", err.msg);
    CHECK(checkpoint_base_dtype(qk) == dtype, "base dtype");
    CHECK(checkpoint_fingerprint(qk) == checkpoint_fingerprint(ck), "the fp32 model's fingerprint");
    const Gpt2Weights *qwf = checkpoint_weights(qk);
    size_t n48 = 48;
    for (int l = 0; l < cfg.n_layer; l++)
        for (int i = 0; i < QUANT_MATS_PER_LAYER; i++) {
            Gpt2LayerWeights a = qw.layers[l], b = qwf->layers[l];
            const QuantMatrix *qa = *quant_layer_q(&a, i), *qb = *quant_layer_q(&b, i);
            REQUIRE(qa && qb && !*quant_layer_fp32(&b, i), "layer %d matrix %d quantized, no fp32", l, i);
            size_t n = (size_t)qa->rows * qa->cols;
            CHECK(qb->rows == qa->rows && qb->cols == qa->cols && (size_t)qb->rows * qb->cols == n, "shape");
            CHECK(memcmp(qa->codes, qb->codes, quant_codes_bytes(dtype, n)) == 0, "codes %d.%d", l, i);
            CHECK(memcmp(qa->scales, qb->scales, quant_scale_count(dtype, n) * sizeof(float)) == 0, "scales");
            if (dtype == QUANT_NF4)
                CHECK(memcmp(qa->absmax_codes, qb->absmax_codes, quant_nf4_absmax_count(n)) == 0 &&
                          qa->absmax_offset == qb->absmax_offset,
                      "absmaxes %d.%d", l, i);
        }
    CHECK(qwf->layers[1].qkv_b && qwf->layers[1].ln2_w && qwf->wte, "the rest stays fp32");
    (void)n48;
    checkpoint_close(qk);
    quant_weights_free(&qw);
    checkpoint_close(ck);

    snprintf(bad, sizeof bad, "%s/quant_file_bad", tmp);
    const char *scales = dtype == QUANT_NF4 ? "h.0.attn.c_attn.weight.absmax_scales" : "h.0.attn.c_attn.weight.scales";
    write_damaged(q_dir, bad, scales, 0, true, -1, NULL);
    expect_refused(bad, scales);
    write_damaged(q_dir, bad, "h.1.mlp.c_fc.weight.codes", -1, false, -1, NULL);
    expect_refused(bad, "h.1.mlp.c_fc.weight.codes");
    const char *blocks = dtype == QUANT_NF4 ? "h.1.attn.c_proj.weight.absmax_codes" : "h.1.attn.c_proj.weight.scales";
    write_damaged(q_dir, bad, blocks, 1, false, -1, NULL);
    expect_refused(bad, blocks);
    write_damaged(q_dir, bad, "h.0.mlp.c_proj.weight.codes", 0, false, dtype == QUANT_NF4 ? ST_I8 : ST_U8, NULL);
    expect_refused(bad, "h.0.mlp.c_proj.weight.codes");
    write_damaged(q_dir, bad, NULL, 0, false, -1, "nf3");
    expect_refused(bad, "\"nf3\"");
    write_damaged(q_dir, bad, NULL, 0, false, -1, dtype == QUANT_NF4 ? "int8" : "nf4");
    expect_refused(bad, "h.0.attn.c_attn.weight.");
}

int main(void) {
    snprintf(tmp, sizeof tmp, "%s", check_env("LORAFIT_TMP", "/tmp"));
    check_dtype(QUANT_NF4);
    check_dtype(QUANT_INT8);
    return check_done();
}
