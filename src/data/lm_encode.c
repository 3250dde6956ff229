/* lm_encode.c - see include/lorafit/data/lm_encode.h */
#include "lorafit/data/lm_encode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The set's arrays for at most n texts. */
static bool lm_alloc(TokenSet *ts, size_t n, LfError *err) {
    ts->offset = calloc(n + 1, sizeof *ts->offset);
    ts->full_length = calloc(n + 1, sizeof *ts->full_length);
    ts->length = calloc(n + 1, sizeof *ts->length);
    ts->prompt_length = calloc(n + 1, sizeof *ts->prompt_length);
    if (!ts->offset || !ts->full_length || !ts->length || !ts->prompt_length) {
        lf_error_set(err, LF_ERR_IO, "out of memory encoding %zu texts", n);
        return false;
    }
    return true;
}

static bool push_id(TokIds *ids, int32_t id, LfError *err) {
    if (ids->n == ids->cap) {
        size_t cap = ids->cap ? 2 * ids->cap : 1024;
        int32_t *grown = realloc(ids->ids, cap * sizeof *grown);
        if (!grown) {
            lf_error_set(err, LF_ERR_IO, "out of memory encoding");
            return false;
        }
        ids->ids = grown;
        ids->cap = cap;
    }
    ids->ids[ids->n++] = id;
    return true;
}

static bool encode_text(Tokenizer *tok, const char *s, size_t len, TokIds *out, size_t *n_invalid, LfError *err) {
    TokEncodeInfo info = {0};
    if (!tok_encode(tok, s, len, TOK_SPECIAL_AS_TEXT, out, &info, err)) return false;
    *n_invalid += info.n_invalid;
    return true;
}

/* Scratch space reused from record to record. */
typedef struct {
    TokIds prompt, completion;
    char *joined;
    size_t joined_cap;
} Scratch;

/* Appends record r's sequence (without TOK_EOT) to ids; *n_prompt gets the
 * number of prompt tokens in it. */
static bool encode_record(Tokenizer *tok, const LmRecord *r, Scratch *s, TokIds *ids, int *n_prompt,
                          size_t *n_invalid, LfError *err) {
    size_t pl = strlen(r->prompt), cl = strlen(r->completion), start = ids->n, invalid = 0;
    if (pl + cl + 1 > s->joined_cap) {
        char *grown = realloc(s->joined, pl + cl + 1);
        if (!grown) {
            lf_error_set(err, LF_ERR_IO, "out of memory encoding");
            return false;
        }
        s->joined = grown;
        s->joined_cap = pl + cl + 1;
    }
    memcpy(s->joined, r->prompt, pl);
    memcpy(s->joined + pl, r->completion, cl);
    s->prompt.n = 0;
    if (!encode_text(tok, r->prompt, pl, &s->prompt, &invalid, err) ||
        !encode_text(tok, s->joined, pl + cl, ids, n_invalid, err))
        return false;
    bool prefix = s->prompt.n == 0 ||
                  (ids->n - start >= s->prompt.n &&
                   memcmp(ids->ids + start, s->prompt.ids, s->prompt.n * sizeof *s->prompt.ids) == 0);
    if (!prefix) { /* the completion merged into the prompt's last piece: encode them apart */
        ids->n = start;
        s->completion.n = 0;
        if (!encode_text(tok, r->completion, cl, &s->completion, &invalid, err)) return false;
        for (size_t k = 0; k < s->prompt.n; k++)
            if (!push_id(ids, s->prompt.ids[k], err)) return false;
        for (size_t k = 0; k < s->completion.n; k++)
            if (!push_id(ids, s->completion.ids[k], err)) return false;
    }
    *n_prompt = (int)s->prompt.n;
    return true;
}

/* Fits the sequence ids[start..) of record i (n_prompt prompt tokens) into
 * max_length; sets the set's entry i. */
static bool fit_record(TokenSet *ts, const LmData *d, size_t i, TokIds *ids, size_t start, int n_prompt,
                       const LmEncodeOptions *opt, LfError *err) {
    int full = (int)(ids->n - start), answer = full - n_prompt, max = opt->max_length;
    int keep_prompt = n_prompt;
    char where[600];
    if (full < 2) { /* <|endoftext|> alone: nothing predicts it */
        lf_error_set(err, LF_ERR_INPUT, "%s: record %zu: its prompt and completion are both empty",
                     lm_data_where(d, i, where, sizeof where), i + 1);
        return false;
    }
    if (full > max) {
        lm_data_where(d, i, where, sizeof where);
        if (answer + (n_prompt > 0) > max) {
            lf_error_set(err, LF_ERR_INPUT,
                         "%s: record %zu: its answer is %d tokens with <|endoftext|>, longer than --max-length %d "
                         "allows%s",
                         where, i + 1, answer, max, n_prompt > 0 ? " after at least one prompt token" : "");
            return false;
        }
        if (opt->long_prompt == LM_LONG_PROMPT_ERROR) {
            lf_error_set(err, LF_ERR_INPUT,
                         "%s: record %zu: its prompt (%d tokens) and answer (%d) do not fit in --max-length %d",
                         where, i + 1, n_prompt, answer, max);
            return false;
        }
        keep_prompt = max - answer;
        int drop = n_prompt - keep_prompt;
        memmove(ids->ids + start, ids->ids + start + drop, (size_t)(full - drop) * sizeof *ids->ids);
        ids->n -= (size_t)drop;
        ts->n_truncated++;
    }
    ts->offset[i] = start;
    ts->full_length[i] = full;
    ts->length[i] = keep_prompt + answer;
    ts->prompt_length[i] = opt->mask_prompt ? keep_prompt : 0;
    if (full > ts->longest) ts->longest = full;
    return true;
}

static bool encode_records(TokenSet *ts, Tokenizer *tok, const LmData *d, const LmEncodeOptions *opt,
                           TokIds *ids, LfError *err) {
    Scratch s = {0};
    bool ok = true;
    for (size_t i = 0; ok && i < d->n; i++) {
        size_t start = ids->n, invalid = 0;
        int n_prompt = 0;
        ok = encode_record(tok, &d->records[i], &s, ids, &n_prompt, &invalid, err) &&
             push_id(ids, TOK_EOT, err) && fit_record(ts, d, i, ids, start, n_prompt, opt, err);
        if (invalid) ts->n_invalid_utf8++;
    }
    ts->n = d->n;
    tok_ids_free(&s.prompt);
    tok_ids_free(&s.completion);
    free(s.joined);
    return ok;
}

/* The documents' stream cut into windows. */
static bool encode_windows(TokenSet *ts, Tokenizer *tok, const LmData *d, int max, TokIds *ids, LfError *err) {
    for (size_t i = 0; i < d->n; i++) {
        const char *text = d->records[i].completion;
        size_t invalid = 0, before = ids->n;
        if (before > 0 && !push_id(ids, TOK_EOT, err)) return false;
        if (!encode_text(tok, text, strlen(text), ids, &invalid, err)) return false;
        if (ids->n == before + (before > 0)) ids->n = before; /* an empty document adds nothing */
        if (invalid) ts->n_invalid_utf8++;
    }
    size_t n = 0;
    for (size_t at = 0; at < ids->n; at += (size_t)max) {
        size_t len = ids->n - at < (size_t)max ? ids->n - at : (size_t)max;
        if (len < 2) break;
        ts->offset[n] = at;
        ts->full_length[n] = ts->length[n] = (int)len;
        if ((int)len > ts->longest) ts->longest = (int)len;
        n++;
    }
    ts->n = n;
    ids->n = n ? ts->offset[n - 1] + (size_t)ts->length[n - 1] : 0;
    return true;
}

/* How many windows the documents can make at most: one per max tokens, and
 * a token is at least one byte or an EOT between documents. */
static size_t max_windows(const LmData *d, int max) {
    size_t tokens = 0;
    for (size_t i = 0; i < d->n; i++) tokens += strlen(d->records[i].completion) + 1;
    return tokens / (size_t)max + 1;
}

bool lm_encode(TokenSet *ts, Tokenizer *tok, const LmData *d, const LmEncodeOptions *opt, LfError *err) {
    memset(ts, 0, sizeof *ts);
    if (opt->max_length < 2) {
        lf_error_set(err, LF_ERR_INPUT, "--max-length %d is too small for a language model: it needs 2 tokens or more",
                     opt->max_length);
        return false;
    }
    bool text = d->kind == LM_KIND_TEXT;
    size_t cap = text ? max_windows(d, opt->max_length) : d->n;
    TokIds ids = {0};
    bool ok = lm_alloc(ts, cap, err) &&
              (text ? encode_windows(ts, tok, d, opt->max_length, &ids, err)
                    : encode_records(ts, tok, d, opt, &ids, err));
    if (ok && ts->n == 0) {
        lf_error_set(err, LF_ERR_INPUT, "%s: the text makes no window of 2 tokens or more", d->name);
        ok = false;
    }
    if (!ok) {
        tok_ids_free(&ids);
        tokenset_free(ts);
        return false;
    }
    ts->offset[ts->n] = ids.n;
    ts->tokens = ids.ids; /* the set owns the array from here */
    ts->max_length = opt->max_length;
    return true;
}

bool lm_encode_prompt(Tokenizer *tok, const char *prompt, int max_tokens, TokIds *out, bool *cut, LfError *err) {
    out->n = 0;
    *cut = false;
    if (max_tokens < 1) {
        lf_error_set(err, LF_ERR_INPUT, "no room for the prompt: the context is full");
        return false;
    }
    size_t invalid = 0;
    if (!encode_text(tok, prompt, strlen(prompt), out, &invalid, err)) return false;
    if (out->n > (size_t)max_tokens) {
        size_t drop = out->n - (size_t)max_tokens;
        memmove(out->ids, out->ids + drop, (size_t)max_tokens * sizeof *out->ids);
        out->n = (size_t)max_tokens;
        *cut = true;
    }
    return true;
}
