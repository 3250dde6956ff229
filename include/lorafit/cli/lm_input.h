/* lm_input.h - a language-model data file as train and eval read it: the
 * records (data/lm_data.h) encoded into an LM TokenSet (data/lm_encode.h)
 * with the prompt mask in force, and what the user is told about it.
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
#include "lorafit/util/error.h"

enum { LM_MASK_BY_KIND = -1 };

/* Reads path into *data and encodes it into ts at max_length. *mask_prompt
 * is 0, 1 or LM_MASK_BY_KIND, which is replaced by the kind's default. On
 * failure *data is NULL and ts empty. */
bool lm_input_read(const char *path, Tokenizer *tok, int max_length, int *mask_prompt, LmData **data, TokenSet *ts,
                   LfError *err);

/* Next tokens the loss counts in ts. */
long lm_input_targets(const TokenSet *ts);

/* "40 examples (squad, 312 target tokens)" */
void lm_input_describe(const LmData *d, const TokenSet *ts, FILE *f);

/* Notes on stderr, "lorafit CMD: note: ...", for skipped questions and cut prompts. */
void lm_input_notes(const LmData *d, const TokenSet *ts, const char *cmd);

#endif
