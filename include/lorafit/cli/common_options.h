/* common_options.h - the options several commands share, each declared
 * once: name, type, range, default and the core of its help. Each macro is
 * an entry of a command's table (cli.h) that stores at member `f` of the
 * command's options struct T; `flags` is 0 or CLI_REQUIRED / CLI_FIXED, and
 * `help` is the command's own wording where the option's role differs.
 *
 * The same option has the same bounds in every command:
 *   --threads N     1 .. 1024, default every core (0 in the struct)
 *   --seed N        0 .. 2^63-1
 *   --rank N        1 .. 65536, default 8
 *   --alpha X       -1e9 .. 1e9, default 16
 *   --batch-size N  1 .. 4096, default 8
 *   --config PRESET a known preset, default gpt2-small
 *   --out DIR       where a command writes
 */
#ifndef LORAFIT_CLI_COMMON_OPTIONS_H
#define LORAFIT_CLI_COMMON_OPTIONS_H

#include <stdint.h>

#include "lorafit/cli/cli.h"
#include "lorafit/engine/lora.h"
#include "lorafit/engine/quant.h"

#define CLI_OPT_THREADS(T, f, help_)                                                                          \
    {.name = "--threads", .type = CLI_INT, CLI_AT(T, f), .lo = 1, .hi = 1024, .metavar = "N",                 \
     .def_text = "every core", .help = (help_)}

#define CLI_OPT_SEED(T, f, flags_, def_, help_)                                                               \
    {.name = "--seed", .type = CLI_INT, CLI_AT(T, f), .lo = 0, .hi = INT64_MAX, .metavar = "N", .def = (def_), \
     .flags = (flags_), .help = (help_)}

#define CLI_OPT_RANK(T, f, flags_, help_)                                                                     \
    {.name = "--rank", .type = CLI_INT, CLI_AT(T, f), .lo = 1, .hi = LORA_RANK_MAX, .metavar = "N", .def = "8", \
     .flags = (flags_), .help = (help_)}

#define CLI_OPT_ALPHA(T, f, flags_, help_)                                                                    \
    {.name = "--alpha", .type = CLI_DOUBLE, CLI_AT(T, f), .lo_f = -LORA_ALPHA_ABS_MAX, .hi_f = LORA_ALPHA_ABS_MAX, .metavar = "X", \
     .def = "16", .flags = (flags_), .help = (help_)}

/* Stored into the LoraConfig at member f. */
#define CLI_OPT_TARGETS(T, f, flags_, help_)                                                                  \
    {.name = "--targets", .type = CLI_CUSTOM, CLI_AT(T, f), .metavar = "LIST", .parse = cli_parse_targets,   \
     .same = cli_same_targets, .flags = (flags_), .help = (help_)}

#define CLI_OPT_BATCH_SIZE(T, f, flags_, help_)                                                               \
    {.name = "--batch-size", .type = CLI_INT, CLI_AT(T, f), .lo = 1, .hi = 4096, .metavar = "N", .def = "8",  \
     .flags = (flags_), .help = (help_)}

#define CLI_OPT_CONFIG(T, f)                                                                                  \
    {.name = "--config", .type = CLI_CUSTOM, CLI_AT(T, f), .metavar = "PRESET", .parse = cli_parse_preset,   \
     .def = "gpt2-small",                                                                                     \
     .help = "the model's shape: gpt2-small, gpt2-medium, gpt2-large, gpt2-xl, or 124M, 355M, 774M, 1558M"}

/* The base GPT-2 of train, eval and classify. */
#define CLI_OPT_BASE_MODEL(T, f)                                                                              \
    {.name = "--model", .type = CLI_STRING, CLI_AT(T, f), .metavar = "DIR", .flags = CLI_REQUIRED,            \
     .help = "the base GPT-2 (a directory with model.safetensors, or the file)"}

/* The tokenizer of a command that has a base model. */
#define CLI_OPT_VOCAB(T, f)                                                                                   \
    {.name = "--vocab", .type = CLI_STRING, CLI_AT(T, f), .metavar = "DIR",                                   \
     .def_text = "next to the model, else lorafit's copy", .help = "the tokenizer files"}

#define CLI_OPT_OUT(T, f, flags_, help_)                                                                      \
    {.name = "--out", .type = CLI_STRING, CLI_AT(T, f), .metavar = "DIR", .flags = (flags_), .help = (help_)}

/* How the base's block Linear weights are held (engine/quant.h), into a
 * QuantDtype; then --precision, issue 13's name for it (fp32 / bf16). */
#define CLI_OPT_BASE_DTYPE(T, f, flags_)                                                                      \
    {.name = "--base-dtype", .type = CLI_CHOICE, CLI_AT(T, f), .metavar = "D",                                \
     .choices = (const char *const[]){"fp32", "bf16", "int8", "nf4", NULL},                                   \
     .values = (const int[]){QUANT_F32, QUANT_BF16, QUANT_INT8, QUANT_NF4}, .def = "fp32", .flags = (flags_), \
     .help = "how the base's block Linear weights are held: fp32; bf16 (their GEMMs in bf16 with fp32 sums, "  \
             "through oneDNN: CPUs with AVX512-BF16 or AMX); int8 (a scale per block of 32); nf4 "            \
             "(bitsandbytes' 4-bit NormalFloat, blocks of 64); int8 and nf4 are dequantized a tile at a time " \
             "into fp32, or into bf16 on CPUs with AVX512-BF16 or AMX (not yet run on one); a model "          \
             "`lorafit quantize` wrote is used as it is"},                                                     \
        CLI_ALIAS("--precision", "--base-dtype")

/* --recompute / --no-recompute into an int: 1 on, 0 off, left alone (-1: by
 * the base's dtype, gpt2_set_recompute) when neither is given. */
#define CLI_OPT_RECOMPUTE(T, f)                                                                               \
    {.name = "--recompute", .type = CLI_SET, CLI_AT(T, f), .value = 1},                                       \
    {.name = "--no-recompute", .type = CLI_SET, CLI_AT(T, f), .value = 0,                                     \
     .def_text = "on for bf16, int8 and nf4, off for fp32",                                                   \
     .help = "keep only each block's input (and up to 96 MiB of MLP pre-activations) for the backward "   \
             "pass and run the block's forward again there: the same results bit for bit in far less memory " \
             "(gpt2-small in nf4 at 8 x 120: 298 MiB, not 691), for about 28% more time"}

/* --config: a known preset name, stored as given. */
bool cli_parse_preset(const char *as, const char *value, void *field, LfError *err);
/* --targets: into a LoraConfig. */
bool cli_parse_targets(const char *as, const char *value, void *field, LfError *err);
bool cli_same_targets(const void *a, const void *b);

#endif
