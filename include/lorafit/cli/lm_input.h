/* lm_input.h - what train and eval do alike for the language-model task: a
 * data file's records (data/lm_data.h) encoded into an LM TokenSet
 * (data/lm_encode.h) with the prompt mask in force, what the user is told
 * about it, and the LoRA targets of the task.
 *
 * The mask is the kind's default (lm_kind_masks_prompt) unless the user
 * chose: LM_MASK_BY_KIND stands for "not chosen". A prompt longer than
 * max_length allows is cut from the left (the question and what follows it
 * are kept) and counted; an answer that does not fit is the data layer's
 * error, naming the record. */
#ifndef LORAFIT_CLI_LM_INPUT_H
#define LORAFIT_CLI_LM_INPUT_H

#include <stdbool.h>
#include <stdio.h>

#include "lorafit/data/lm_data.h"
#include "lorafit/data/tokenizer.h"
#include "lorafit/data/tokenset.h"
#include "lorafit/engine/lora.h"
#include "lorafit/util/error.h"

enum { LM_MASK_BY_KIND = -1 };

/* Reads path into *data and encodes it into ts at max_length. *mask_prompt
 * is 0, 1 or LM_MASK_BY_KIND, which is replaced by the kind's default. On
 * failure *data is NULL and ts empty. */
bool lm_input_read(const char *path, Tokenizer *tok, int max_length, int *mask_prompt, LmData **data, TokenSet *ts,
                   LfError *err);

/* What n of d's encoded records are called: "windows" (text is cut into
 * context-sized windows) or "examples", singular when n is 1. */
const char *lm_input_unit(const LmData *d, size_t n);

/* Next tokens the loss counts in ts. */
long lm_input_targets(const TokenSet *ts);

/* "lorafit train: training 256 examples (squad, 512 target tokens),
 * validation 64 examples (...); prompts masked" (val may be NULL). */
void lm_input_print_sets(const LmData *train, const TokenSet *train_ts, const LmData *val, const TokenSet *val_ts,
                         bool mask_prompt, FILE *f);

/* The language model's LoRA targets, in PEFT's names (its adapters are
 * PEFT's, task_type CAUSAL_LM): none given means c_attn and mlp.c_proj, as
 * the SQuAD project adapts; "all" every Linear (c_attn, c_fc, c_proj); the
 * labs' names are an LF_ERR_INPUT error. */
bool lm_task_targets(LoraConfig *lc, LfError *err);

/* Notes on stderr, "lorafit CMD: note: ...", for skipped questions and cut prompts. */
void lm_input_notes(const LmData *d, const TokenSet *ts, const char *cmd);

#endif
