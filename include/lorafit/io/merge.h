/* merge.h - an adapter folded into its base model, written as a Hugging
 * Face GPT-2 directory; and such a merged classifier read back.
 *
 * Folding. Every adapter adds W += scale * A @ B into the Conv1D weight
 * [in, out] it sits on (the engine's layout: A [in, rank], B [rank, out],
 * whatever the file's naming; PEFT's lora_A.weight / lora_B.weight are their
 * transposes, so this is PEFT's W += (B_peft @ A_peft)^T * scale). The labs'
 * W_query / W_key / W_value add into their column block of the fused c_attn
 * (columns 0, C, 2C). scale is the one the adapter recorded (alpha / rank,
 * or alpha). Only the matrices an adapter touches are copied; the rest is
 * written from the base's own memory.
 *
 * The directory: model.safetensors (Hugging Face names without the
 * "transformer." prefix, Conv1D layouts, F32, F16 or BF16), config.json, and
 * the tokenizer files found beside the base model. A classifier's head goes
 * in as "score.weight" [n_classes, C] and "score.bias" [n_classes];
 * config.json then says GPT2ForSequenceClassification with num_labels,
 * id2label / label2id from the class names and, under "lorafit", the pooling,
 * the max length and that score has a bias. Hugging Face's score is a Linear
 * without bias: transformers loads the file, warns that score.bias is unused
 * and leaves it out, so its logits lack the bias (the class with the larger
 * bias is favoured less); lorafit uses it. A causal-LM adapter gives a plain
 * GPT2LMHeadModel. The directory is written whole or not at all. */
#ifndef LORAFIT_MERGE_H
#define LORAFIT_MERGE_H

#include <stdbool.h>
#include <stddef.h>

#include "lorafit/engine/gpt2.h"
#include "lorafit/io/adapter_config.h"
#include "lorafit/io/checkpoint.h"
#include "lorafit/io/safetensors.h"
#include "lorafit/util/error.h"

/* Writes base ck + the adapter loaded in m (built over ck's weights, its
 * config ac) to out_dir in dtype (ST_F32, ST_F16, ST_BF16). An existing
 * out_dir is replaced only when `overwrite`, and only if it holds a
 * model.safetensors. */
bool merge_write(const char *out_dir, const Gpt2Checkpoint *ck, const AdapterConfig *ac, const Gpt2Model *m,
                 StDtype dtype, bool overwrite, LfError *err);

/* Whether ck holds a merged classifier (a score.weight tensor). */
bool merged_has_head(const Gpt2Checkpoint *ck);

/* The adapter config a merged classifier stands for: its classes, pooling
 * and max length from config.json, no adapters. An error names the model
 * when it has no head, or its config.json lacks num_labels. */
bool merged_load_config(const Gpt2Checkpoint *ck, AdapterConfig *ac, LfError *err);

/* The same from the text of that config.json (len bytes, from the file
 * `name`, for messages) over the base shape it was read with: the parse
 * merged_load_config makes once it has found the head. */
bool merged_parse_config(const char *text, size_t len, const char *name, const Gpt2Config *base, AdapterConfig *ac,
                         LfError *err);

/* Copies the merged head (score.weight, score.bias) into m->head_w, head_b. */
bool merged_load_head(const Gpt2Checkpoint *ck, Gpt2Model *m, LfError *err);

#endif
