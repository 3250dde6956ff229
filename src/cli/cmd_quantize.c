/* cmd_quantize.c - `lorafit quantize`: write a GPT-2 checkpoint whose block
 * Linear weights are held in nf4 or int8 (io/quant_file.h), which every
 * command then opens directly, and print how far the quantized weights are
 * from the fp32 ones. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/cli/cli.h"
#include "lorafit/cli/commands.h"
#include "lorafit/cli/common_options.h"
#include "lorafit/cli/session.h"
#include "lorafit/engine/quant_weights.h"
#include "lorafit/io/checkpoint.h"
#include "lorafit/io/checkpoint_write.h"
#include "lorafit/util/files.h"

typedef struct {
    const char *model, *out;
    QuantDtype dtype;
    int threads;
    bool force;
} Options;

static const CliOption OPTIONS[] = {
    CLI_HEADING("options:"),
    CLI_OPT_BASE_MODEL(Options, model),
    {.name = "--base-dtype", .type = CLI_CHOICE, CLI_AT(Options, dtype), .metavar = "D",
     .choices = (const char *const[]){"nf4", "int8", NULL}, .values = (const int[]){QUANT_NF4, QUANT_INT8},
     .flags = CLI_REQUIRED,
     .help = "nf4: bitsandbytes' 4-bit NormalFloat, blocks of 64, double-quantized absmaxes; int8: a scale per "
             "block of 32 (GGML's Q8_0 with an fp32 scale)"},
    CLI_OPT_OUT(Options, out, CLI_REQUIRED, "where to write model.safetensors, config.json and the tokenizer files"),
    {.name = "--force", .type = CLI_FLAG, CLI_AT(Options, force),
     .help = "replace an existing model.safetensors in --out"},
    CLI_OPT_THREADS(Options, threads, "threads"),
    {0}};

static const CliCommand COMMAND = {
    .name = "quantize",
    .usage = "lorafit quantize --model DIR --base-dtype nf4|int8 --out DIR [--force] [--threads N]",
    .synopsis = "lorafit quantize --model DIR --base-dtype nf4|int8 --out DIR",
    .about = "Writes the model with the Linear weights of its blocks quantized (embeddings, layer norms and\n"
             "biases stay fp32), as safetensors with the codes and scales and their layout in the metadata;\n"
             "train, eval, classify and generate open it directly. Prints each matrix's error against\n"
             "fp32 (max abs, RMS, relative Frobenius norm) and the whole model's.",
    .options = OPTIONS,
};

/* The tokenizer files beside the model, copied when present. */
static bool copy_tokenizer(const char *from, const char *to, LfError *err) {
    static const char *const names[] = {"vocab.json", "merges.txt", "encoder.json", "vocab.bpe",
                                        "tokenizer.json", "tokenizer_config.json"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char src[PATH_MAX], dst[PATH_MAX];
        snprintf(src, sizeof src, "%s/%s", from, names[i]);
        snprintf(dst, sizeof dst, "%s/%s", to, names[i]);
        FILE *f = fopen(src, "rb");
        if (!f) continue;
        size_t n = 0;
        char *data = fs_read_stream(f, &n);
        fclose(f);
        bool ok = data && fs_write_atomic(dst, data, n, err);
        if (!data) lf_error_set(err, LF_ERR_IO, "cannot read %s", src);
        free(data);
        if (!ok) return false;
    }
    return true;
}

static void print_error_row(const char *name, const QuantError *e) {
    printf("%-26s %12.4e %12.4e %12.4e\n", name, e->max_abs, quant_error_rms(e), quant_error_rel_frobenius(e));
}

/* Each matrix's error and the whole model's, on stdout. */
static void print_errors(const Gpt2Weights *fp32, const QuantWeights *qw) {
    QuantError all = {0};
    printf("%-26s %12s %12s %12s\n", "tensor", "max abs", "RMS", "rel Frob");
    for (int l = 0; l < fp32->cfg.n_layer; l++)
        for (int i = 0; i < QUANT_MATS_PER_LAYER; i++) {
            Gpt2LayerWeights src = fp32->layers[l], q = qw->layers[l];
            QuantError e = {0};
            quant_error_add(&e, *quant_layer_fp32(&src, i), *quant_layer_q(&q, i));
            char name[64];
            snprintf(name, sizeof name, "h.%d.%s", l, quant_block_matrices[i].name);
            print_error_row(name, &e);
            all.max_abs = e.max_abs > all.max_abs ? e.max_abs : all.max_abs;
            all.sum_sq_err += e.sum_sq_err;
            all.sum_sq_ref += e.sum_sq_ref;
            all.n += e.n;
        }
    print_error_row("all", &all);
}

int cmd_quantize(int argc, char **argv) {
    Options o = {0};
    CliParse p;
    int rc = cli_parse(&p, &COMMAND, argc, argv, &o);
    if (rc != CLI_RUN) return rc;
    session_set_threads(o.threads);
    LfError err = {0};
    QuantWeights qw = {0};
    Gpt2Checkpoint *ck = checkpoint_open(o.model, &err);
    bool ok = ck != NULL;
    if (ok && checkpoint_base_dtype(ck) != QUANT_F32) {
        lf_error_set(&err, LF_ERR_INPUT, "%s is already quantized (%s); quantize the fp32 model", checkpoint_file(ck),
                     quant_dtype_name(checkpoint_base_dtype(ck)));
        ok = false;
    }
    ok = ok && cli_check_out_not_model(o.out, checkpoint_dir(ck), &err) && quant_weights_build(&qw, checkpoint_weights(ck), o.dtype, &err) &&
         checkpoint_write_quantized(o.out, &qw.w, checkpoint_fingerprint(ck), o.force, &err) &&
         copy_tokenizer(checkpoint_dir(ck), o.out, &err);
    if (ok) {
        const Gpt2Config *c = checkpoint_config(ck);
        size_t fp32 = (size_t)c->n_layer * 12 * c->n_embd * c->n_embd * sizeof(float);
        print_errors(checkpoint_weights(ck), &qw);
        fprintf(stderr, "lorafit quantize: wrote %s/model.safetensors: the blocks' Linear weights in %s, %.1f MB "
                "(%.1f MB in fp32)\n", o.out, quant_dtype_name(o.dtype), quant_weights_block_bytes(&qw.w) / 1e6, fp32 / 1e6);
    } else {
        fprintf(stderr, "lorafit quantize: %s\n", err.msg);
    }
    quant_weights_free(&qw);
    checkpoint_close(ck);
    return ok ? 0 : lf_error_exit_code(&err);
}
