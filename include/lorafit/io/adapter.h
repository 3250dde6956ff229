/* adapter.h - a trained adapter on disk, and the training state that lets a
 * run resume.
 *
 * ADAPTER_DIR/
 *   adapter_config.json        what the adapter needs to be used again: rank,
 *                              alpha, scaling, targets, naming, pooling, max
 *                              length, class names, the base model's shape and
 *                              fingerprint, and how it was trained
 *   adapter_model.safetensors  every LoRA A and B, and the classification head
 *   training_state.safetensors AdamW's moments and where training stood (only
 *                              written by `train`; `--resume` reads it)
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
 * sibling temporary directory that is renamed into place. */
#ifndef LORAFIT_ADAPTER_H
#define LORAFIT_ADAPTER_H

#include <stdbool.h>
#include <stdint.h>

#include "lorafit/engine/config.h"
#include "lorafit/util/error.h"
#include "lorafit/engine/gpt2.h"
#include "lorafit/engine/lora.h"
#include "lorafit/engine/modtree.h"
#include "lorafit/engine/optim.h"

#define ADAPTER_CONFIG_FILE "adapter_config.json"
#define ADAPTER_WEIGHTS_FILE "adapter_model.safetensors"
#define ADAPTER_STATE_FILE "training_state.safetensors"

/* How the adapter was trained: kept so that --resume continues the same run. */
typedef struct {
    double lr, weight_decay, grad_clip; /* grad_clip 0 = off */
    int batch_size, epochs;
    uint64_t seed;
    bool drop_last;
    uint64_t train_digest; /* of the training texts and labels, to refuse other data on resume */
    long train_rows;
} AdapterTraining;

typedef struct {
    Gpt2Config base;           /* the base model's shape */
    uint64_t base_fingerprint; /* checkpoint_fingerprint() of the base; 0 = not recorded */
    LoraConfig lora;           /* rank, alpha, scaling, init, dropout, targets as given */
    ModTreeStyle naming;       /* labs' or PEFT's tensor names */
    Gpt2Pool pool;
    int max_length;            /* tokens kept per text; the padded length for last-position */
    int n_classes;
    char **class_names;        /* [n_classes]; owned */
    AdapterTraining training;
} AdapterConfig;

/* Where a run stands, saved beside the adapter for --resume. */
typedef struct {
    int epoch;           /* the epoch in progress, 0-based */
    long batch;          /* batches of that epoch already done */
    long step;           /* optimizer steps done in all */
    bool complete;       /* training finished */
    uint64_t rng[4];     /* the engine's dropout stream */
    const AdamW *opt;    /* moments and step (saving) */
    /* the loss history, for the plot and the log after a resume */
    long n_points;
    const float *point_loss, *point_acc; /* [n_points] per step (saving) */
} TrainState;

/* Copies class names (n of them) into ac, replacing any. */
bool adapter_config_set_classes(AdapterConfig *ac, const char *const *names, int n, LfError *err);
void adapter_config_free(AdapterConfig *ac);

/* Writes the adapter of model m (its adapters in the order of `slots`, which
 * name them) to dir. state may be NULL (no training_state file). An existing
 * dir is replaced only when `overwrite`; otherwise it is an LF_ERR_INPUT
 * error saying to pass --force. */
bool adapter_save(const char *dir, const AdapterConfig *ac, const Gpt2Model *m, const LoraSlot *slots,
                  const TrainState *state, bool overwrite, LfError *err);

/* Checks, before any work, that an adapter can be written to dir: its
 * parent directories exist or can be made, and a temporary directory can
 * be created beside it (and is removed again). */
bool adapter_check_writable(const char *dir, LfError *err);

/* Reads adapter_config.json. */
bool adapter_load_config(const char *dir, AdapterConfig *ac, LfError *err);

/* Reads adapter_model.safetensors into m's parameters. Every tensor must be
 * there with its shape; a missing, misshapen or unexpected one is an error
 * naming it. */
bool adapter_load_weights(const char *dir, const AdapterConfig *ac, Gpt2Model *m, const LoraSlot *slots,
                          LfError *err);

/* Reads training_state.safetensors: fills *state (its history arrays are
 * allocated: free() point_loss and point_acc) and opt's moments and step.
 * opt must have been built for m's parameters. */
bool adapter_load_state(const char *dir, TrainState *state, AdamW *opt, LfError *err);

/* Whether `shape` of a base model agrees with the adapter's, and whether its
 * fingerprint does (when both are known). The error says which differs. */
bool adapter_check_base(const AdapterConfig *ac, const Gpt2Config *base, uint64_t fingerprint,
                        LfError *err);

#endif
