/* checkpoint.h - open a Hugging Face GPT-2 checkpoint as Gpt2Weights.
 *
 * A model is a directory holding model.safetensors (and usually
 * config.json), as scripts/download-gpt2.sh leaves it, or the path of a
 * .safetensors file (config.json is then looked for beside it).
 *
 * Shape: from config.json when present (n_layer, n_embd, n_head,
 * vocab_size, n_positions or else n_ctx; an optional "qkv_bias": false for
 * models without Q/K/V biases; io/model_config.h reads and checks it),
 * otherwise inferred from the tensors (n_layer from the highest h.N,
 * vocab_size and n_embd from wte, n_ctx from wpe) with n_head taken from
 * the preset of that n_layer and n_embd.
 *
 * Tensors: Hugging Face names, with or without the "transformer." prefix.
 * Every weight must be there with exactly its expected shape, in F32, F16,
 * BF16 or F64. The causal-mask buffers h.N.attn.bias and h.N.attn.masked_bias
 * are ignored; lm_head.weight (tied to wte) has its shape checked and is
 * otherwise ignored; a merged classifier's head, score.weight [n, n_embd]
 * and score.bias [n], is left to merge.h. Any other tensor is an error naming it: a file with
 * tensors we do not know is probably not the model we think it is.
 *
 * Memory: wte and wpe in F32 are used in place from the read-only mapping
 * (read a few rows at a time). The other F32 tensors are used in place too
 * when the page cache holds them in 2 MB folios, so that the mapping costs
 * one fault per 2 MB; if it holds them in small folios and the system can
 * give large ones, their cached pages are dropped and read again into 2 MB
 * folios (a re-read once; later opens find them). Otherwise they are read,
 * over all OpenMP threads, into one allocation the checkpoint owns, in huge
 * pages where the kernel allows, as F16/BF16/F64 tensors are converted
 * (io/placement.h decides and copies).
 * Every pointer in the weights stays valid until checkpoint_close(). */
#ifndef LORAFIT_CHECKPOINT_H
#define LORAFIT_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "lorafit/engine/config.h"
#include "lorafit/engine/quant.h"
#include "lorafit/util/error.h"
#include "lorafit/io/safetensors.h"
#include "lorafit/engine/weights.h"

#define CHECKPOINT_WEIGHTS_FILE "model.safetensors"
#define CHECKPOINT_CONFIG_FILE "config.json"

typedef struct Gpt2Checkpoint Gpt2Checkpoint;

/* Opens and validates the model. NULL on failure (LF_ERR_INPUT for a bad or
 * missing model, LF_ERR_IO when memory runs out). */
Gpt2Checkpoint *checkpoint_open(const char *model_dir_or_file, LfError *err);

typedef enum {
    CHECKPOINT_LOAD_AUTO, /* in place when cheap, else copied (see Memory above) */
    CHECKPOINT_LOAD_COPY, /* always copied: for tests of that path */
} CheckpointLoad;
Gpt2Checkpoint *checkpoint_open_as(const char *model_dir_or_file, CheckpointLoad how, LfError *err);
void checkpoint_close(Gpt2Checkpoint *ck);

/* The model's shape, with every check checkpoint_open() makes, but without
 * loading a weight: for callers that need only the shape (count-params). */
bool checkpoint_read_config(const char *model_dir_or_file, Gpt2Config *cfg, LfError *err);

const Gpt2Weights *checkpoint_weights(const Gpt2Checkpoint *ck);
const Gpt2Config *checkpoint_config(const Gpt2Checkpoint *ck);
/* The directory the model lives in (where vocab.json and merges.txt are
 * looked for), and the weights file. */
const char *checkpoint_dir(const Gpt2Checkpoint *ck);
const char *checkpoint_file(const Gpt2Checkpoint *ck);
/* Whether config.json was read (else the shape was inferred). */
bool checkpoint_has_config(const Gpt2Checkpoint *ck);
/* Bytes converted into owned memory (0 for an all-F32 checkpoint). */
size_t checkpoint_owned_bytes(const Gpt2Checkpoint *ck);
/* Whether the F32 block weights are used in place from the mapping. */
bool checkpoint_in_place(const Gpt2Checkpoint *ck);
/* How the file holds the blocks' Linear weights: QUANT_F32, or QUANT_NF4 /
 * QUANT_INT8 for a file `lorafit quantize` wrote (io/quant_file.h), whose
 * quantized matrices the weights' layers point at (their fp32 pointers are
 * NULL) and whose fingerprint is the fp32 model's, recorded in the file. */
QuantDtype checkpoint_base_dtype(const Gpt2Checkpoint *ck);
/* Those quantized matrices, [n_layer * 4] in quant_weights.h's order (NULL
 * for an fp32 file), to attach their GEMMs' backends to (quant_tiles.h);
 * freed with the checkpoint. */
QuantMatrix *checkpoint_quant_matrices(Gpt2Checkpoint *ck);
/* After the block matrices were quantized elsewhere: gives their fp32 pages
 * back (the weights' pointers to them become NULL), keeping the
 * fingerprint, which samples them. */
void checkpoint_release_block_matrices(Gpt2Checkpoint *ck);

/* A cheap identity of the base weights, stored with an adapter so it
 * refuses a different base. Hashes (FNV-1a, 64-bit) the config and, for
 * every weight in a fixed order, its element count and its first 8 and last 8
 * values (all of them when there are at most 16), as float32 bits. So it
 * does not depend on tensor names, order, prefix, metadata or on F32 versus
 * an F16/BF16 file holding the same values; it does not see a change in the
 * middle of a tensor (it tells models apart, it is no checksum). Never 0 (0 means "not recorded" in adapters). */
uint64_t checkpoint_fingerprint(const Gpt2Checkpoint *ck);

#endif
