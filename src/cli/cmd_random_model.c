/* cmd_random_model.c - `lorafit random-model`: write a randomly initialised
 * GPT-2 checkpoint, to try the whole workflow without downloading weights,
 * and for tests and benchmarks. */
#include <stdio.h>
#include <string.h>

#include "lorafit/io/checkpoint_write.h"
#include "lorafit/cli/cli.h"
#include "lorafit/cli/commands.h"
#include "lorafit/cli/common_options.h"
#include "lorafit/data/tokenizer.h"
#include "lorafit/engine/config.h"
#include "lorafit/engine/random_weights.h"

typedef struct {
    const char *out, *preset;
    int n_layer, n_embd, n_head, n_ctx, vocab_size; /* 0 = the preset's */
    long seed;
    bool force;
} Options;

#define DIMENSION(name_, field, help_)                                                                   \
    {.name = (name_), .type = CLI_INT, CLI_AT(Options, field), .lo = 1, .hi = 1 << 20, .metavar = "N", \
     .help = (help_)}

static const CliOption OPTIONS[] = {
    CLI_HEADING("options:"),
    CLI_OPT_OUT(Options, out, CLI_REQUIRED, "where to write (created if missing)"),
    CLI_OPT_CONFIG(Options, preset),
    DIMENSION("--n-layer", n_layer, NULL),
    DIMENSION("--n-embd", n_embd, NULL),
    DIMENSION("--n-head", n_head, NULL),
    DIMENSION("--n-ctx", n_ctx, NULL),
    DIMENSION("--vocab-size", vocab_size,
              "override one dimension of the preset (vocab-size must stay at least 50257 for the GPT-2 "
              "tokenizer)"),
    CLI_OPT_SEED(Options, seed, 0, "1", "random seed"),
    {.name = "--force", .type = CLI_FLAG, CLI_AT(Options, force),
     .help = "replace an existing model.safetensors in DIR"},
    {0}};

static const CliCommand COMMAND = {
    .name = "random-model",
    .usage = "lorafit random-model --out DIR [--config PRESET] [--n-layer N] [--n-embd N] [--n-head N] "
             "[--n-ctx N] [--vocab-size N] [--seed N] [--force]",
    .synopsis = "lorafit random-model --out DIR [options]",
    .about = "Writes a GPT-2 checkpoint with random weights (model.safetensors + config.json, as\n"
             "Hugging Face publishes them) to DIR. It knows nothing, but every command runs on it:\n"
             "use it to try lorafit before downloading GPT-2 (scripts/download-gpt2.sh), in tests,\n"
             "and for benchmarks. Weights: normal(0, 0.02) matrices and embeddings, LayerNorm\n"
             "weights near 1, from --seed.",
    .options = OPTIONS,
};

int cmd_random_model(int argc, char **argv) {
    Options o = {0};
    CliParse p;
    int rc = cli_parse(&p, &COMMAND, argc, argv, &o);
    if (rc != CLI_RUN) return rc;
    LfError err = {0};
    Gpt2Config cfg;
    gpt2_config_preset(o.preset, &cfg, &err);
    const int given[5] = {o.n_layer, o.n_embd, o.n_head, o.n_ctx, o.vocab_size};
    int *fields[5] = {&cfg.n_layer, &cfg.n_embd, &cfg.n_head, &cfg.n_ctx, &cfg.vocab_size};
    for (int i = 0; i < 5; i++)
        if (given[i]) *fields[i] = given[i];
    if (!gpt2_config_validate(&cfg, &err)) return cli_error(&p, "%s", err.msg);
    /* every command opens the model with the GPT-2 tokenizer, which refuses fewer ids */
    if (cfg.vocab_size < TOK_GPT2_VOCAB_SIZE)
        return cli_error(&p, "--vocab-size %d is smaller than the GPT-2 tokenizer's %d ids", cfg.vocab_size,
                         TOK_GPT2_VOCAB_SIZE);

    Gpt2Weights *w = gpt2_weights_random(&cfg, (uint64_t)o.seed, &err);
    bool ok = w && checkpoint_write(o.out, w, o.force, &err);
    gpt2_weights_random_free(w);
    if (!ok) {
        fprintf(stderr, "lorafit random-model: %s\n", err.msg);
        return lf_error_exit_code(&err);
    }
    fprintf(stderr, "lorafit random-model: wrote %s/model.safetensors (%d layers, n_embd %d, %d heads)\n", o.out,
            cfg.n_layer, cfg.n_embd, cfg.n_head);
    return 0;
}
