/* tokenset.c - see include/lorafit/data/tokenset.h */
#include "lorafit/data/tokenset.h"

#include <stdlib.h>
#include <string.h>

#include "lorafit/util/hash.h"

void tokenset_free(TokenSet *ts) {
    if (!ts) return;
    free(ts->tokens);
    free(ts->offset);
    free(ts->full_length);
    free(ts->length);
    free(ts->labels);
    free(ts->prompt_length);
    memset(ts, 0, sizeof *ts);
}

TokenSet tokenset_view(const TokenSet *ts, size_t first, size_t n) {
    TokenSet v = *ts;
    v.n = n;
    v.offset += first;
    v.full_length += first;
    v.length += first;
    if (v.labels) v.labels += first;
    if (v.prompt_length) v.prompt_length += first;
    return v;
}

static bool alloc_arrays(TokenSet *ts, size_t n, bool with_labels, LfError *err) {
    ts->offset = calloc(n + 1, sizeof *ts->offset);
    ts->full_length = calloc(n + 1, sizeof *ts->full_length);
    ts->length = calloc(n + 1, sizeof *ts->length);
    ts->labels = with_labels ? calloc(n + 1, sizeof *ts->labels) : NULL;
    if (!ts->offset || !ts->full_length || !ts->length || (with_labels && !ts->labels)) {
        lf_error_set(err, LF_ERR_IO, "out of memory encoding %zu texts", n);
        return false;
    }
    return true;
}

bool tokenset_encode(TokenSet *ts, Tokenizer *tok, const char *const *texts, const int *labels, size_t n,
                     int max_length, LfError *err) {
    memset(ts, 0, sizeof *ts);
    ts->n = n;
    if (!alloc_arrays(ts, n, labels != NULL, err)) {
        tokenset_free(ts);
        return false;
    }
    TokIds ids = {0};
    for (size_t i = 0; i < n; i++) {
        TokEncodeInfo info = {0};
        ts->offset[i] = ids.n;
        if (!tok_encode(tok, texts[i], strlen(texts[i]), TOK_SPECIAL_AS_TEXT, &ids, &info, err)) {
            lf_error_prefix(err, "text %zu", i + 1);
            tok_ids_free(&ids);
            tokenset_free(ts);
            return false;
        }
        size_t len = ids.n - ts->offset[i];
        if (len == 0) {
            lf_error_set(err, LF_ERR_INPUT, "text %zu is empty: there is nothing to classify", i + 1);
            tok_ids_free(&ids);
            tokenset_free(ts);
            return false;
        }
        ts->full_length[i] = len > (size_t)INT32_MAX ? INT32_MAX : (int)len;
        if (ts->full_length[i] > ts->longest) ts->longest = ts->full_length[i];
        if (info.n_invalid) ts->n_invalid_utf8++;
        if (labels) ts->labels[i] = labels[i];
    }
    ts->offset[n] = ids.n;
    ts->tokens = ids.ids; /* the set owns the array from here */
    tokenset_truncate(ts, max_length > 0 ? max_length : ts->longest > 0 ? ts->longest : 1);
    return true;
}

void tokenset_truncate(TokenSet *ts, int max_length) {
    ts->max_length = max_length;
    ts->n_truncated = 0;
    for (size_t i = 0; i < ts->n; i++) {
        ts->length[i] = ts->full_length[i] < max_length ? ts->full_length[i] : max_length;
        if (ts->full_length[i] > max_length) ts->n_truncated++;
    }
}

uint64_t tokenset_digest(const TokenSet *ts) {
    uint64_t h = HASH_FNV_START;
    for (size_t i = 0; i < ts->n; i++) {
        h = hash_fnv_word(h, (uint32_t)ts->length[i]);
        h = hash_fnv_word(h, ts->labels ? (uint32_t)ts->labels[i] : 0u);
        if (ts->prompt_length) h = hash_fnv_word(h, (uint32_t)ts->prompt_length[i]);
        for (int k = 0; k < ts->length[i]; k++) h = hash_fnv_word(h, (uint32_t)ts->tokens[ts->offset[i] + (size_t)k]);
    }
    return h;
}
