/* lm_encode.h - language-model records (lm_data.h) into a TokenSet.
 *
 * Prompt and completion. Each record becomes one sequence:
 *   prompt tokens, completion tokens, <|endoftext|> (TOK_EOT, 50256)
 * The ids are those of tiktoken's encode_ordinary(prompt + completion)
 * ("<|endoftext|>" written in the data is text), which is chapter 7's
 * tokenizer.encode(full_text), followed by TOK_EOT; the prompt's tokens are
 * the first ones when they equal encode(prompt) alone, which they do unless
 * the completion continues the prompt's last piece (a prompt that ends in a
 * space or in the middle of a word: "Q: " + "Paris"); then the sequence is
 * encode(prompt) followed by encode(completion), so the boundary always
 * falls between two tokens. SQuAD's and Alpaca's prompts end in ':' and
 * '\n', where the two agree. TOK_EOT is always a target, so the model
 * learns to stop.
 *
 * prompt_length[i] is the number of prompt tokens with mask_prompt (the
 * loss counts the completion and TOK_EOT), 0 without it (every next token
 * counts, as in chapter 7). labels is NULL.
 *
 * A record whose prompt and completion are both empty is an error (its
 * <|endoftext|> would have nothing before it to be predicted from).
 *
 * Longer than max_length. The completion and TOK_EOT must fit with at
 * least one prompt token before them (the first completion token is
 * predicted from it): otherwise it is an LF_ERR_INPUT error naming the
 * record, "FILE:LINE: record N: its answer is ... longer than --max-length
 * allows". When the answer fits but the whole does not, the prompt is cut
 * from the left (LM_LONG_PROMPT_CUT_LEFT, the default: what is next to the
 * answer - SQuAD's question, Alpaca's instruction header - is kept) and the
 * record counts in n_truncated, or it is an error (LM_LONG_PROMPT_ERROR).
 * full_length[i] is the length before the cut; only kept ids are stored.
 *
 * Plain text (LM_KIND_TEXT). The documents' tokens are joined into one
 * stream with TOK_EOT between documents, and the stream is cut into
 * non-overlapping windows of max_length tokens, the last one shorter (and
 * dropped when it has a single token: nothing to predict). Windows have no
 * prompt (prompt_length 0); text i of the set is window i, not record i. */
#ifndef LORAFIT_LM_ENCODE_H
#define LORAFIT_LM_ENCODE_H

#include <stdbool.h>

#include "lorafit/data/lm_data.h"
#include "lorafit/data/tokenizer.h"
#include "lorafit/data/tokenset.h"
#include "lorafit/util/error.h"

typedef enum {
    LM_LONG_PROMPT_CUT_LEFT = 0,
    LM_LONG_PROMPT_ERROR,
} LmLongPrompt;

typedef struct {
    int max_length;           /* tokens per sequence, >= 2 (the model's context at most) */
    bool mask_prompt;         /* lm_kind_masks_prompt(kind) unless the user says otherwise */
    LmLongPrompt long_prompt; /* what to do with a prompt that does not fit */
} LmEncodeOptions;

/* Encodes every record of d into ts (see above). For prompt/completion
 * kinds text i of ts is record i, so d->records[i] holds its id and gold
 * answers. */
bool lm_encode(TokenSet *ts, Tokenizer *tok, const LmData *d, const LmEncodeOptions *opt, LfError *err);

/* A prompt for generation, cut the same way: its last max_tokens ids (>= 1)
 * replace the contents of *out; *cut tells whether any were dropped. */
bool lm_encode_prompt(Tokenizer *tok, const char *prompt, int max_tokens, TokIds *out, bool *cut, LfError *err);

#endif
