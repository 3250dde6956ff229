/* checkpoint_write.h - write GPT-2 weights as a Hugging Face checkpoint
 * directory (model.safetensors + config.json), the form checkpoint_open()
 * reads and scripts/download-gpt2.sh leaves. Used by `lorafit random-model`
 * and the tests, which need a model and cannot download one. */
#ifndef LORAFIT_CHECKPOINT_WRITE_H
#define LORAFIT_CHECKPOINT_WRITE_H

#include <stdbool.h>
#include <stdint.h>

#include "lorafit/util/error.h"
#include "lorafit/engine/weights.h"

/* Writes dir/model.safetensors (F32, Hugging Face names without the
 * "transformer." prefix, Conv1D layouts) and dir/config.json. dir is created
 * when missing; existing files are replaced only when `overwrite`. Each file
 * is written to a temporary name and renamed. */
bool checkpoint_write(const char *dir, const Gpt2Weights *w, bool overwrite, LfError *err);

/* The same, writing each block Linear weight that has a quantized form (a
 * layer's *_q) as io/quant_file.h's tensors, with its metadata; fingerprint
 * (the fp32 model's, 0 for none) is recorded for adapters. */
bool checkpoint_write_quantized(const char *dir, const Gpt2Weights *w, uint64_t fingerprint, bool overwrite,
                                LfError *err);

#endif
