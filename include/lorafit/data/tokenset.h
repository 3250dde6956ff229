/* tokenset.h - texts turned into token ids, and batches cut from them.
 *
 * Every text is encoded once, up front (tiktoken's gpt2 encoding, with
 * "<|endoftext|>" inside a text taken as ordinary text: a user's message is
 * data, never a control token). A text longer than the model's context is
 * cut to its first tokens, as the labs cut with encoded[:max_length]; the
 * set counts how many were cut.
 *
 * The language-model sets (lm_encode.h) use the same struct: labels is NULL,
 * prompt_length is set, and each text holds only its kept ids
 * (offset[i + 1] - offset[i] == length[i]). */
#ifndef LORAFIT_TOKENSET_H
#define LORAFIT_TOKENSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lorafit/util/error.h"
#include "lorafit/data/tokenizer.h"

typedef struct {
    size_t n;
    int32_t *tokens;   /* every text's ids, one after the other */
    size_t *offset;    /* [n + 1] where text i starts in tokens */
    int *full_length;  /* [n] ids before truncation */
    int *length;       /* [n] ids kept: min(full_length, max_length) */
    int *labels;       /* [n] class ids, or NULL */
    int *prompt_length; /* [n] LM task: the first prompt_length[i] tokens of text i are context only (not predicted); NULL for classification sets */
    int max_length;    /* the cut in force */
    int longest;       /* the longest full_length */
    size_t n_truncated;   /* texts longer than max_length */
    size_t n_invalid_utf8; /* texts holding bytes that are not UTF-8 (kept as byte tokens) */
} TokenSet;

/* Encodes texts[0..n) (NUL-terminated) and keeps labels (may be NULL).
 * An empty text, or one that encodes to no token, is an LF_ERR_INPUT error
 * naming its index + 1 as "text N". max_length > 0 is applied with
 * tokenset_truncate(). */
bool tokenset_encode(TokenSet *ts, Tokenizer *tok, const char *const *texts, const int *labels, size_t n,
                     int max_length, LfError *err);
void tokenset_free(TokenSet *ts);

/* Texts first .. first + n - 1 of ts as a set of their own: a view into
 * ts's arrays (never freed; valid while ts is), e.g. one rank's share. */
TokenSet tokenset_view(const TokenSet *ts, size_t first, size_t n);

/* Keeps at most max_length ids of every text (max_length >= 1). Not for
 * LM sets: lm_encode() has fitted them already, keeping their answers. */
void tokenset_truncate(TokenSet *ts, int max_length);

/* Order-sensitive 64-bit digest of the ids and labels (and of the prompt
 * lengths of an LM set): identifies the data a run was trained on. */
uint64_t tokenset_digest(const TokenSet *ts);

#endif
