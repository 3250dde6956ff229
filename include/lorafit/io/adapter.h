/* adapter.h - a trained adapter's directory, and its weights.
 *
 * ADAPTER_DIR/
 *   adapter_config.json        see adapter_config.h
 *   adapter_model.safetensors  every LoRA A and B, and the classification head
 *                              (none for a CAUSAL_LM adapter: its head is wte)
 *   training_state.safetensors see train_state.h (only written by `train`;
 *                              `--resume` reads it)
 *
 * Tensor names. With the labs' naming (targets W_query, ff.layers.0, ...) the
 * names are the labs' state_dict keys: "trf_blocks.0.att.W_query.lora.A"
 * [in, rank], "...lora.B" [rank, out], "out_head.weight" [classes, C],
 * "out_head.bias" [classes]. With PEFT's naming (targets c_attn, c_fc,
 * c_proj) they are the keys PEFT saves for GPT2ForSequenceClassification:
 * "base_model.model.transformer.h.0.attn.c_attn.lora_A.weight" [rank, in],
 * "...lora_B.weight" [out, rank], and the head as a modules_to_save module,
 * "base_model.model.score.weight" [classes, C] and "...score.bias".
 *
 * The directory is written whole or not at all: everything goes into a
 * sibling temporary directory that is renamed into place.
 *
 * This header includes the other two, so that a command that saves or
 * opens an adapter needs only it. */
#ifndef LORAFIT_ADAPTER_H
#define LORAFIT_ADAPTER_H

#include <stdbool.h>

#include "lorafit/engine/classifier.h"
#include "lorafit/engine/gpt2.h"
#include "lorafit/engine/lora.h"
#include "lorafit/io/adapter_config.h"
#include "lorafit/io/train_state.h"
#include "lorafit/util/error.h"

#define ADAPTER_WEIGHTS_FILE "adapter_model.safetensors"

/* Writes the adapter of model m (its adapters in the order of `slots`, which
 * name them) to dir. state may be NULL (no training_state file). An existing
 * dir is replaced only when `overwrite`; otherwise it is an LF_ERR_INPUT
 * error saying to pass --force. A directory that is not an adapter is never
 * replaced. */
bool adapter_save(const char *dir, const AdapterConfig *ac, const Gpt2Model *m, const LoraSlot *slots,
                  const TrainState *state, bool overwrite, LfError *err);

/* Checks, before any work, that an adapter can be written to dir: its
 * parent directories exist or can be made, a temporary directory can be
 * created beside it (and is removed again), and what already is at dir is an
 * adapter directory (adapter_save never replaces anything else). */
bool adapter_check_writable(const char *dir, LfError *err);

/* Reads adapter_model.safetensors into m's parameters. Every tensor must be
 * there with its shape; a missing, misshapen or unexpected one is an error
 * naming it. */
bool adapter_load_weights(const char *dir, const AdapterConfig *ac, Gpt2Model *m, const LoraSlot *slots,
                          LfError *err);

/* Opens the adapter in dir on its own: its config into *ac, and its
 * weights into net, built (for one token) over `base` when given, else over
 * *shape, which gets the adapter's recorded base shape (the engine reads no
 * weight to build; dimensions not recorded become 1). For commands that
 * read an adapter's tensors without running it (convert-adapter, inspect). */
bool adapter_open_alone(const char *dir, const Gpt2Weights *base, AdapterConfig *ac, Gpt2Weights *shape,
                        Classifier *net, LfError *err);

#endif
