/* tokenizer.h - GPT-2's byte-level BPE, id for id identical to tiktoken's
 * "gpt2" encoding.
 *
 * What this module promises:
 *
 * - tok_encode() returns exactly the ids tiktoken's gpt2 encoding returns
 *   for any valid UTF-8 text (checked against the npm `tiktoken` package by
 *   tests/test_tokenizer*.c). Text is split with the GPT-2 pattern
 *     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *   implemented by hand over code points (src/data/tokenizer_split.c): \s is the
 *   Unicode White_Space property, \p{L} / \p{N} are utf8proc's general
 *   categories (Unicode 15 with utf8proc 2.8). Each piece is merged the way
 *   tiktoken merges: the adjacent pair whose concatenation has the lowest
 *   rank goes first, leftmost on ties, and rank == token id for GPT-2.
 *
 * - Invalid UTF-8 is never dropped or replaced. A byte that does not belong
 *   to a well-formed UTF-8 sequence becomes the token for that single byte,
 *   and splits the text the way a special token does: the valid text on
 *   either side is encoded as if it stood alone. tok_encode() reports how
 *   many such bytes it met and where the first one was, so the caller can
 *   warn. decode(encode(x)) == x for every byte string x.
 *
 * - "<|endoftext|>" (TOK_EOT) is handled as tiktoken handles it, by the
 *   TokSpecial policy: rejected (tiktoken's encode() default), turned into
 *   TOK_EOT (allowed_special), or encoded as ordinary text (encode_ordinary).
 *
 * - Encoding is O(n log n) in the length of a piece (a heap of candidate
 *   merges, not the quadratic rescan) and linear in the number of pieces;
 *   pieces seen before come from a cache.
 *
 * A Tokenizer is read-only after loading except for that cache and some
 * scratch space, so tok_encode() must not be called on the same Tokenizer
 * from two threads at once; load one per thread instead. tok_decode() and
 * the lookups are safe to share.
 */
#ifndef LORAFIT_TOKENIZER_H
#define LORAFIT_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lorafit/util/error.h"

/* GPT-2's vocabulary: 50,000 merges on top of 256 bytes, plus <|endoftext|>. */
#define TOK_GPT2_VOCAB_SIZE 50257
#define TOK_EOT 50256
#define TOK_EOT_TEXT "<|endoftext|>"

typedef struct Tokenizer Tokenizer;

/* What tok_encode() does with "<|endoftext|>" in the text. */
typedef enum {
    TOK_SPECIAL_REJECT,  /* an LF_ERR_INPUT error naming the byte offset (tiktoken's default) */
    TOK_SPECIAL_ALLOW,   /* becomes TOK_EOT; the text around it is encoded separately */
    TOK_SPECIAL_AS_TEXT, /* ordinary text: "<|", "endoftext", "|>" (encode_ordinary) */
} TokSpecial;

/* A growable array of ids; tok_encode() appends to it. Zero-initialise it,
 * reuse it across calls (set n = 0 to empty it), release with tok_ids_free(). */
typedef struct {
    int32_t *ids;
    size_t n, cap;
} TokIds;

/* What tok_encode() noticed about its input, for the caller to warn about. */
typedef struct {
    size_t n_invalid;     /* bytes that were not part of valid UTF-8 */
    size_t first_invalid; /* byte offset of the first of them (when n_invalid > 0) */
} TokEncodeInfo;

/* Loads a vocabulary from its two files: encoder.json + vocab.bpe (OpenAI's
 * names) or vocab.json + merges.txt (Hugging Face's); the contents are the
 * same. The merges must follow GPT-2's convention that the token made by
 * merge line i has id 256 + i (that is what makes ids usable as ranks). */
Tokenizer *tok_load(const char *vocab_json_path, const char *merges_path, LfError *err);

/* Loads from a directory holding either pair of files (OpenAI's first). */
Tokenizer *tok_load_dir(const char *dir, LfError *err);

/* Loads from the first directory that has the files: `dir` if not NULL
 * (given with --vocab: no fallback), else `model_dir` if not NULL (files next
 * to the model), else the installed data dir, else data/gpt2 in the source
 * tree. The error lists every place tried. */
Tokenizer *tok_load_default(const char *dir, const char *model_dir, LfError *err);

void tok_free(Tokenizer *t);

/* Encodes text[0..len) and appends the ids to *out. `info` may be NULL.
 * Fails only on a rejected special token (LF_ERR_INPUT) or out of memory
 * (LF_ERR_IO); on failure *out holds what was appended so far. */
bool tok_encode(Tokenizer *t, const char *text, size_t len, TokSpecial special, TokIds *out,
                TokEncodeInfo *info, LfError *err);

/* Decodes ids into a new NUL-terminated buffer (free() it); *len_out gets
 * its length without the NUL, since the bytes may contain NULs or be
 * invalid UTF-8 (a token can hold part of a character). An id outside the
 * vocabulary is an LF_ERR_INPUT error naming its position. */
char *tok_decode(const Tokenizer *t, const int32_t *ids, size_t n, size_t *len_out, LfError *err);

/* The bytes of one token (not NUL-terminated), or NULL for an unknown id. */
const char *tok_token_bytes(const Tokenizer *t, int32_t id, size_t *len);

/* Number of ids, TOK_EOT included. */
int tok_vocab_size(const Tokenizer *t);

/* The pre-tokenizer alone, for tests and tools: the piece starting at byte
 * `pos` of text[0..len) ends at the returned offset. An invalid UTF-8 byte
 * reads as the end of the text, so the result is pos itself when the byte at
 * pos is invalid (and when pos == len). */
size_t tok_split_next(const char *text, size_t len, size_t pos);

void tok_ids_free(TokIds *ids);

#endif
