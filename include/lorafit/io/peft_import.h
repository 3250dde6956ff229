/* peft_import.h - adapters saved by Python PEFT (save_pretrained) for GPT-2,
 * read as lorafit adapters.
 *
 * PEFT's adapter_config.json has no "format" field but a "peft_type"; it
 * carries r, lora_alpha, target_modules, task_type, use_rslora,
 * modules_to_save, but neither the base model's shape nor class names. What
 * lorafit needs is taken from the tensors: n_layer (the highest h.N) and
 * n_embd (a lora_A's input); the other base dimensions stay 0 (not
 * recorded, so adapter_check_base() does not compare them), the classes
 * are HF's defaults LABEL_0 .. LABEL_{n-1} with n the score's rows, pooling
 * is the last token (GPT2ForSequenceClassification's) and max_length 0 (the
 * model's context).
 *
 * Tensor names: PEFT's, with or without "base_model.model." and
 * "transformer."; lora_A.weight [r, in] and lora_B.weight [out, r] whatever
 * fan_in_fan_out says (it only tells PEFT how to merge into Conv1D); the
 * head as "score" or "classifier", saved plainly ("...score.weight") or
 * under modules_to_save ("...score.modules_to_save.default.weight"), with
 * or without a bias (GPT2ForSequenceClassification's score has none: zero).
 *
 * Refused, naming what: a peft_type other than LORA, DoRA (use_dora, or
 * lora_magnitude_vector tensors), rank_pattern / alpha_pattern,
 * layers_to_transform, bias other than "none", a task other than SEQ_CLS
 * or CAUSAL_LM, target modules or tensors that are not GPT-2's (another base
 * model), target_modules as a regular expression. */
#ifndef LORAFIT_PEFT_IMPORT_H
#define LORAFIT_PEFT_IMPORT_H

#include <stdbool.h>

#include "lorafit/io/adapter_config.h"
#include "lorafit/util/error.h"

struct cJSON;

/* Fills *ac (zeroed by the caller, lora defaults set) from PEFT's config
 * `root` (read from path) and the tensors of dir/adapter_model.safetensors. */
bool peft_import_config(const char *dir, const struct cJSON *root, AdapterConfig *ac, const char *path, LfError *err);

/* Where PEFT may keep tensor `name` (as lorafit names it with PEFT naming:
 * "base_model.model.transformer.h.0.attn.c_attn.lora_A.weight",
 * "base_model.model.score.weight"): writes the k-th spelling into buf and
 * returns true, or false when k is past the last. Spelling 0 is name. */
bool peft_name_variant(const char *name, int k, char *buf, size_t cap);

#endif
