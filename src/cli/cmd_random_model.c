/* cmd_random_model.c - `lorafit random-model`: write a randomly initialised
 * GPT-2 checkpoint, to try the whole workflow without downloading weights,
 * and for tests and benchmarks. */
#include <stdio.h>
#include <string.h>

#include "lorafit/io/checkpoint_write.h"
#include "lorafit/cli/cli.h"
#include "lorafit/cli/commands.h"
#include "lorafit/engine/config.h"
#include "lorafit/engine/random_weights.h"

static const char USAGE[] =
    "lorafit random-model --out DIR [--config PRESET] [--n-layer N] [--n-embd N] [--n-head N] "
    "[--n-ctx N] [--vocab-size N] [--seed N] [--force]";

static const char HELP[] =
    "usage: lorafit random-model --out DIR [options]\n"
    "\n"
    "Writes a GPT-2 checkpoint with random weights (model.safetensors + config.json, as\n"
    "Hugging Face publishes them) to DIR. It knows nothing, but every command runs on it:\n"
    "use it to try lorafit before downloading GPT-2 (scripts/download-gpt2.sh), in tests,\n"
    "and for benchmarks. Weights: normal(0, 0.02) matrices and embeddings, LayerNorm\n"
    "weights near 1, from --seed.\n"
    "\n"
    "options:\n"
    "  --out DIR          where to write (created if missing)\n"
    "  --config PRESET    the shape: gpt2-small (default), gpt2-medium, gpt2-large, gpt2-xl\n"
    "  --n-layer N, --n-embd N, --n-head N, --n-ctx N, --vocab-size N\n"
    "                     override one dimension of the preset (vocab-size must stay at\n"
    "                     least 50257 for the GPT-2 tokenizer)\n"
    "  --seed N           random seed (default 1)\n"
    "  --force            replace an existing model.safetensors in DIR\n"
    "  -h, --help         this help\n";

int cmd_random_model(int argc, char **argv) {
    CliArgs a;
    cli_init(&a, "random-model", USAGE, argc, argv);
    const char *arg, *out = NULL, *preset = "gpt2-small";
    int kind, dims[5] = {0, 0, 0, 0, 0};
    long seed = 1;
    bool force = false;
    LfError err = {0};
    static const char *const dim_names[] = {"--n-layer", "--n-embd", "--n-head", "--n-ctx", "--vocab-size"};
    while ((kind = cli_next(&a, &arg)) != CLI_END) {
        if (kind == CLI_POSITIONAL) return cli_error(&a, "unexpected argument '%s'", arg);
        int dim = -1;
        for (int i = 0; i < 5; i++)
            if (cli_is(&a, dim_names[i])) dim = i;
        if (dim >= 0) {
            if (!cli_int(&a, 1, 1 << 20, &dims[dim])) return 2;
        } else if (cli_is(&a, "--help") || cli_is(&a, "-h")) {
            fputs(HELP, stdout);
            return 0;
        } else if (cli_is(&a, "--out")) {
            if (!cli_value(&a, &out)) return 2;
        } else if (cli_is(&a, "--config")) {
            Gpt2Config probe;
            if (!cli_value(&a, &preset)) return 2;
            if (!gpt2_config_preset(preset, &probe, &err)) return cli_error(&a, "%s", err.msg);
        } else if (cli_is(&a, "--seed")) {
            if (!cli_long(&a, 0, 1L << 62, &seed)) return 2;
        } else if (cli_is(&a, "--force")) {
            if (!cli_set_flag(&a, &force)) return 2;
        } else {
            return cli_unknown(&a);
        }
    }
    if (!out) return cli_error(&a, "--out is required");
    Gpt2Config cfg;
    gpt2_config_preset(preset, &cfg, &err);
    int *fields[5] = {&cfg.n_layer, &cfg.n_embd, &cfg.n_head, &cfg.n_ctx, &cfg.vocab_size};
    for (int i = 0; i < 5; i++)
        if (dims[i]) *fields[i] = dims[i];
    if (!gpt2_config_validate(&cfg, &err)) return cli_error(&a, "%s", err.msg);

    Gpt2Weights *w = gpt2_weights_random(&cfg, (uint64_t)seed, &err);
    bool ok = w && checkpoint_write(out, w, force, &err);
    gpt2_weights_random_free(w);
    if (!ok) {
        fprintf(stderr, "lorafit random-model: %s\n", err.msg);
        return lf_error_exit_code(&err);
    }
    fprintf(stderr, "lorafit random-model: wrote %s/model.safetensors (%d layers, n_embd %d, %d heads)\n", out,
            cfg.n_layer, cfg.n_embd, cfg.n_head);
    return 0;
}
