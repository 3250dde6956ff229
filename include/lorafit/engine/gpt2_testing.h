/* gpt2_testing.h - test support: what the engine tests read of the
 * engine's insides to hold it against an independent reference. No command
 * calls these; they are declared apart so that gpt2.h is the engine's whole
 * interface, and defined in gpt2.c because they run its private forward. */
#ifndef LORAFIT_GPT2_TESTING_H
#define LORAFIT_GPT2_TESTING_H

#include <stdint.h>

#include "lorafit/engine/gpt2.h"

/* The seed adapter i's dropout mask came from in the last training
 * forward: its mask is dropout_forward(ones, seed, dropout) (kernels.h), so
 * a reference can apply the very same masks. */
uint64_t gpt2_dropout_seed(const Gpt2Model *m, int adapter);

/* The language-model head (tied to wte) at every position, LoRA included:
 * checks every block's output against the reference, not just the pooled
 * rows. out [B, T, V]; positions >= lengths[b] are set to 0. Uses the
 * backward scratch: a following gpt2_backward needs a new forward. On a
 * causal LM (n_classes 0) the logits come from its own forward (targets,
 * final layer norm, the head's chunks), so a check of them checks that
 * path; on a classifier, from the blocks with a head computed here. */
void gpt2_lm_logits(Gpt2Model *m, const Gpt2Batch *b, float *out);

#endif
