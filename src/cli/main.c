/* main.c - the `lorafit` executable: a table of subcommands, git style. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lorafit/cli/commands.h"
#include "lorafit/cli/runtime.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} Command;

static const Command commands[] = {
    {"train", cmd_train, "fine-tune GPT-2 with LoRA and a classification head on a CSV"},
    {"eval", cmd_eval, "report accuracy, per-class scores and the confusion matrix"},
    {"classify", cmd_classify, "label messages with a trained adapter"},
    {"generate", cmd_generate, "continue text with GPT-2 or a language-model adapter"},
    {"count-params", cmd_count_params, "print trainable / total parameters as the LoRA labs do"},
    {"tokenize", cmd_tokenize, "show GPT-2 token ids or pieces for a text"},
    {"split", cmd_split, "balance and split a labelled file into train/validation/test CSVs"},
    {"bench", cmd_bench, "time training and inference steps on a random gpt2-small"},
    {"random-model", cmd_random_model, "write a GPT-2 checkpoint with random weights (to try lorafit)"},
    {"merge", cmd_merge, "fold an adapter into its base model, as a Hugging Face GPT-2 directory"},
    {"convert-adapter", cmd_convert_adapter, "rewrite an adapter in PEFT's names or the labs'"},
    {"inspect", cmd_inspect, "per layer and target: the update's norm, its ratio to W, its singular values"},
    {"grid", cmd_grid, "train and evaluate every combination of ranks, alphas, learning rates and targets"},
    {"quantize", cmd_quantize, "write the model with its blocks' Linear weights in nf4 or int8"},
};
enum { N_COMMANDS = sizeof commands / sizeof commands[0] };

static const char *USAGE = "lorafit [--version] [--help] <command> [<args>]";

static void print_help(void) {
    printf("lorafit %s - LoRA fine-tuning of GPT-2 for text classification, on the CPU\n\n",
           LORAFIT_VERSION);
    printf("usage: %s\n\ncommands:\n", USAGE);
    for (int i = 0; i < N_COMMANDS; i++) printf("  %-13s %s\n", commands[i].name, commands[i].summary);
    printf("\nRun 'lorafit help <command>' or 'lorafit <command> --help' for a command's options.\n");
    printf("'lorafit --version --verbose' says what lorafit runs on: CPU, BLAS kernels, threads.\n");
}

static const Command *find_command(const char *name) {
    for (int i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    return NULL;
}

static int unknown_command(const char *name) {
    fprintf(stderr, "lorafit: unknown command '%s'\nusage: %s\n", name, USAGE);
    fprintf(stderr, "Run 'lorafit --help' for the list of commands.\n");
    return 2;
}

/* `lorafit --version --verbose`: what it runs on, for a bug report or a
 * slow run. */
static int print_version(bool verbose) {
    printf("lorafit %s\n", LORAFIT_VERSION);
    if (!verbose) return 0;
    RuntimeKernels k;
    runtime_kernels(&k);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    runtime_describe(stdout, &k, n > 0 ? (int)n : 1, " by default (every core; --threads N)");
    return 0;
}

int main(int argc, char **argv) {
    runtime_prepare(argv);
    if (argc < 2) {
        fprintf(stderr, "lorafit: no command given\nusage: %s\n", USAGE);
        fprintf(stderr, "Run 'lorafit --help' for the list of commands.\n");
        return 2;
    }
    const char *first = argv[1];
    if (strcmp(first, "--help") == 0 || strcmp(first, "-h") == 0) {
        print_help();
        return 0;
    }
    if (strcmp(first, "--version") == 0)
        return print_version(argc > 2 && (strcmp(argv[2], "--verbose") == 0 || strcmp(argv[2], "-v") == 0));
    if (strcmp(first, "help") == 0) {
        if (argc == 2) {
            print_help();
            return 0;
        }
        const Command *c = find_command(argv[2]);
        if (!c) return unknown_command(argv[2]);
        char *help_argv[] = {(char *)c->name, "--help", NULL};
        return c->run(2, help_argv);
    }
    if (first[0] == '-') {
        fprintf(stderr, "lorafit: unknown option '%s'\nusage: %s\n", first, USAGE);
        return 2;
    }
    const Command *c = find_command(first);
    if (!c) return unknown_command(first);
    return c->run(argc - 1, argv + 1);
}
