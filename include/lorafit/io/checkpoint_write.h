/* checkpoint_write.h - write GPT-2 weights as a Hugging Face checkpoint
 * directory (model.safetensors + config.json), the form checkpoint_open()
 * reads and scripts/download-gpt2.sh leaves. Used by `lorafit random-model`
 * and the tests, which need a model and cannot download one. */
#ifndef LORAFIT_CHECKPOINT_WRITE_H
#define LORAFIT_CHECKPOINT_WRITE_H

#include <stdbool.h>
#include <stdint.h>

#include "lorafit/engine/weights.h"
#include "lorafit/io/safetensors.h"
#include "lorafit/util/error.h"

struct cJSON;

/* Writes dir/model.safetensors (F32, Hugging Face names without the
 * "transformer." prefix, Conv1D layouts) and dir/config.json. dir is created
 * when missing; existing files are replaced only when `overwrite`. Each file
 * is written to a temporary name and renamed. */
bool checkpoint_write(const char *dir, const Gpt2Weights *w, bool overwrite, LfError *err);

/* A classification head to write beside the weights, under
 * GPT2ForSequenceClassification's name "score.weight" [n_classes, C], and
 * "score.bias" [n_classes] (which Hugging Face's score, a Linear without
 * bias, does not have: see merge.h). */
typedef struct {
    int n_classes;
    const float *weight, *bias;
} CheckpointHead;

/* Writes the weights (and head, when not NULL) as the safetensors file
 * `path`, atomically, in dtype ST_F32, ST_F16 or ST_BF16 (rounded to
 * nearest even, as torch converts). */
bool checkpoint_write_weights(const char *path, const Gpt2Weights *w, const CheckpointHead *head, StDtype dtype,
                              LfError *err);

/* config.json's object for cfg as checkpoint_write() writes it (a caller
 * may add fields before writing it with checkpoint_write_json); NULL when
 * out of memory. */
struct cJSON *checkpoint_config_json(const Gpt2Config *cfg);
/* Prints root (NULL: out of memory) to path, atomically. */
bool checkpoint_write_json(const char *path, struct cJSON *root, LfError *err);

/* The same, writing each block Linear weight that has a quantized form (a
 * layer's *_q) as io/quant_file.h's tensors, with its metadata; fingerprint
 * (the fp32 model's, 0 for none) is recorded for adapters. */
bool checkpoint_write_quantized(const char *dir, const Gpt2Weights *w, uint64_t fingerprint, bool overwrite,
                                LfError *err);

#endif
