/* session.h - what train, eval and classify share: the base model and its
 * tokenizer, the module tree with its LoRA adapters, and the engine built
 * over them; plus batched inference over a TokenSet.
 *
 * Lifecycle: session_open_base() (model + tokenizer), then the caller reads
 * and encodes its data (it needs the tokenizer, and the engine is sized by
 * the longest text), then session_build_model(), then, for a trained
 * adapter, adapter_load_weights() with s->slots. session_close() releases
 * whatever was opened. */
#ifndef LORAFIT_SESSION_H
#define LORAFIT_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "lorafit/io/checkpoint.h"
#include "lorafit/cli/cli.h"
#include "lorafit/util/error.h"
#include "lorafit/engine/gpt2.h"
#include "lorafit/engine/lora.h"
#include "lorafit/engine/modtree.h"
#include "lorafit/data/tokenizer.h"
#include "lorafit/data/tokenset.h"

typedef struct {
    Gpt2Checkpoint *ck;
    Tokenizer *tok;
    ModTree tree;
    LoraSlot *slots; /* [n_slots] the adapters, named, in the engine's order */
    int n_slots;
    Gpt2Model model;
    bool model_built;
} Session;

/* Opens the checkpoint (a directory or a .safetensors file) and the
 * tokenizer (vocab_dir, or next to the model, or lorafit's own copy). */
bool session_open_base(Session *s, const char *model, const char *vocab_dir, LfError *err);

/* Builds the module tree in `naming`, injects LoRA per lc, swaps in a head
 * of n_classes, and builds the engine for batches of max_B x max_T. */
bool session_build_model(Session *s, ModTreeStyle naming, const LoraConfig *lc, int n_classes, int max_B,
                         int max_T, uint64_t seed, LfError *err);

void session_close(Session *s);

/* The options of the commands that use a trained adapter (eval, classify). */
typedef struct {
    const char *model, *adapter, *vocab;
    int batch_size; /* texts per forward pass; 8 unless given */
    int threads;    /* 0 = every core */
} AdapterOptions;

/* Their entries, in the order of the help: --model and --adapter
 * (required), --batch-size, --threads, --vocab. Include them with
 * CLI_INCLUDE(ADAPTER_OPTIONS, Options, m). */
extern const CliOption ADAPTER_OPTIONS[];

/* Threads for this process: n, or every core when n is 0. OpenBLAS itself
 * stays single-threaded (the engine parallelises around it). */
void session_set_threads(int n);

#endif
