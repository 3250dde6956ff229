/* bpe.c - GPT-2's byte-pair merging, the word cache, encode and decode
 * (see include/lorafit/data/tokenizer.h; loading is tokenizer.c).
 *
 * The parts being merged lie side by side in the piece, so the bytes of a
 * candidate merge are a slice of the piece itself, and its rank is the id
 * of that slice in the vocab table (tokenizer_internal.h). */
#include "lorafit/data/tokenizer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

bool bpe_cache_alloc(PieceCache *c) {
    c->slots = calloc(CACHE_SLOTS, sizeof *c->slots);
    c->keys = malloc(CACHE_KEY_ARENA);
    c->ids = malloc(CACHE_ID_ARENA * sizeof *c->ids);
    return c->slots && c->keys && c->ids;
}

/* ---- encoding ----------------------------------------------------------------- */

static bool ids_push(TokIds *out, const int32_t *ids, size_t n, LfError *err) {
    if (out->n + n > out->cap) {
        size_t cap = out->cap ? out->cap : 256;
        while (cap < out->n + n) cap *= 2;
        int32_t *bigger = realloc(out->ids, cap * sizeof *bigger);
        if (!bigger) {
            lf_error_set(err, LF_ERR_IO, "out of memory for %zu token ids", cap);
            return false;
        }
        out->ids = bigger;
        out->cap = cap;
    }
    memcpy(out->ids + out->n, ids, n * sizeof *ids);
    out->n += n;
    return true;
}

void tok_ids_free(TokIds *ids) {
    free(ids->ids);
    ids->ids = NULL;
    ids->n = ids->cap = 0;
}

static bool grow_scratch(Tokenizer *t, size_t n, LfError *err) {
    if (n <= t->scratch_cap) return true;
    if (n > INT32_MAX) { /* positions are int32_t, and heap keys keep 32 bits of them */
        lf_error_set(err, LF_ERR_INPUT, "a single word of %zu bytes is more than the tokenizer takes (2 GiB)", n);
        return false;
    }
    size_t cap = tok_pow2_at_least(n);
    Sym *syms = realloc(t->syms, cap * sizeof *syms);
    if (syms) t->syms = syms;
    uint64_t *heap = realloc(t->heap, 2 * cap * sizeof *heap); /* n - 1 pairs + one per merge */
    if (heap) t->heap = heap;
    if (!syms || !heap) {
        lf_error_set(err, LF_ERR_IO, "out of memory for a %zu-byte word", n);
        return false;
    }
    t->scratch_cap = cap;
    return true;
}

/* A binary min-heap of candidate merges keyed rank << 32 | left position,
 * so the lowest rank comes out first and, among equal ranks, the leftmost:
 * the order tiktoken's rescanning loop picks them in. */
static void heap_push(uint64_t *heap, size_t *n, uint64_t key) {
    size_t i = (*n)++;
    while (i > 0 && heap[(i - 1) / 2] > key) {
        heap[i] = heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    heap[i] = key;
}

static uint64_t heap_pop(uint64_t *heap, size_t *n) {
    uint64_t top = heap[0], last = heap[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && heap[c + 1] < heap[c]) c++;
        if (heap[c] >= last) break;
        heap[i] = heap[c];
        i = c;
    }
    if (*n) heap[i] = last;
    return top;
}

/* Where the symbol at position i ends: its bytes are piece[i, sym_end). */
static size_t sym_end(const Sym *syms, size_t n, int32_t i) {
    return syms[i].next >= 0 ? (size_t)syms[i].next : n;
}

/* Queues the merge of the symbol at `left` with the next one, if their
 * concatenation is a token: its id is the merge's rank (see the top of the
 * file). The hash carries left's FNV state on over right's bytes only. */
static void push_candidate(const Tokenizer *t, const char *piece, size_t n, size_t *n_heap, int32_t left) {
    const Sym *syms = t->syms;
    int32_t right = syms[left].next;
    if (right < 0) return;
    size_t end = sym_end(syms, n, right);
    uint64_t h = tok_hash_mix(hash_fnv(syms[left].fnv, piece + right, end - (size_t)right));
    int32_t rank = tok_vocab_find(t, piece + left, end - (size_t)left, h);
    if (rank >= 0) heap_push(t->heap, n_heap, (uint64_t)rank << 32 | (uint32_t)left);
}

/* Byte-pair merging of one piece. A popped candidate is stale if its left
 * symbol has been merged away or its pair changed since it was pushed.
 * Symbols only grow, and a pair's bytes are the piece's bytes from `left`
 * to the right symbol's end, so the pair still makes token `rank` exactly
 * when that span still has rank's length: a check on lengths, no lookup. */
static bool bpe(Tokenizer *t, const char *piece, size_t n, TokIds *out, LfError *err) {
    if (!grow_scratch(t, n, err)) return false;
    Sym *syms = t->syms;
    for (size_t i = 0; i < n; i++)
        syms[i] = (Sym){t->byte_token[(unsigned char)piece[i]], (int32_t)i - 1,
                        i + 1 < n ? (int32_t)i + 1 : -1, hash_fnv(HASH_FNV_START, piece + i, 1)};
    size_t n_heap = 0;
    for (size_t i = 0; i + 1 < n; i++) push_candidate(t, piece, n, &n_heap, (int32_t)i);
    while (n_heap) {
        uint64_t key = heap_pop(t->heap, &n_heap);
        int32_t rank = (int32_t)(key >> 32), left = (int32_t)(key & 0xffffffffu);
        int32_t right = syms[left].next;
        if (syms[left].id < 0 || right < 0) continue;
        size_t end = sym_end(syms, n, right);
        if (end - (size_t)left != tok_token_len(t, rank)) continue;
        syms[left].id = rank;
        syms[left].fnv = hash_fnv(syms[left].fnv, piece + right, end - (size_t)right);
        syms[right].id = -1;
        syms[left].next = syms[right].next;
        if (syms[left].next >= 0) syms[syms[left].next].prev = left;
        if (syms[left].prev >= 0) push_candidate(t, piece, n, &n_heap, syms[left].prev);
        push_candidate(t, piece, n, &n_heap, left);
    }
    for (int32_t i = 0; i >= 0; i = syms[i].next)
        if (!ids_push(out, &syms[i].id, 1, err)) return false;
    return true;
}

static CacheSlot *cache_find(PieceCache *c, const char *s, size_t n, uint64_t h) {
    for (size_t i = h & (CACHE_SLOTS - 1);; i = (i + 1) & (CACHE_SLOTS - 1)) {
        CacheSlot *slot = &c->slots[i];
        if (slot->key_len == 0) return slot;
        if (slot->hash == h && slot->key_len == n && memcmp(c->keys + slot->key_off, s, n) == 0) return slot;
    }
}

static void cache_clear(PieceCache *c) {
    memset(c->slots, 0, CACHE_SLOTS * sizeof *c->slots);
    c->n_entries = c->keys_used = c->ids_used = 0;
}

static void cache_put(PieceCache *c, const char *s, size_t n, uint64_t h, const int32_t *ids, size_t n_ids) {
    if (c->n_entries >= CACHE_MAX_ENTRIES || c->keys_used + n > CACHE_KEY_ARENA ||
        c->ids_used + n_ids > CACHE_ID_ARENA)
        cache_clear(c);
    CacheSlot *slot = cache_find(c, s, n, h);
    memcpy(c->keys + c->keys_used, s, n);
    memcpy(c->ids + c->ids_used, ids, n_ids * sizeof *ids);
    *slot = (CacheSlot){h, (uint32_t)c->keys_used, (uint32_t)c->ids_used, (uint16_t)n, (uint16_t)n_ids};
    c->keys_used += n;
    c->ids_used += n_ids;
    c->n_entries++;
}

/* One pre-tokenizer piece: a whole token, a cached word, or merged. */
static bool encode_piece(Tokenizer *t, const char *s, size_t n, TokIds *out, LfError *err) {
    uint64_t h = tok_hash_bytes(s, n);
    int32_t id = tok_vocab_find(t, s, n, h);
    if (id >= 0) return ids_push(out, &id, 1, err);
    if (n > CACHE_MAX_PIECE) return bpe(t, s, n, out, err);
    CacheSlot *slot = cache_find(&t->cache, s, n, h);
    if (slot->key_len) return ids_push(out, t->cache.ids + slot->ids_off, slot->n_ids, err);
    size_t start = out->n;
    if (!bpe(t, s, n, out, err)) return false;
    cache_put(&t->cache, s, n, h, out->ids + start, out->n - start);
    return true;
}

/* Text with no special token in it. An invalid byte ends the run of text
 * the pre-tokenizer sees; it becomes its own byte token and the text after
 * it starts afresh. */
static bool encode_text(Tokenizer *t, const char *text, size_t start, size_t end, TokIds *out,
                        TokEncodeInfo *info, LfError *err) {
    size_t pos = start;
    while (pos < end) {
        size_t next = tok_split_next(text, end, pos);
        if (next == pos) {
            if (info->n_invalid++ == 0) info->first_invalid = pos;
            if (!ids_push(out, &t->byte_token[(unsigned char)text[pos]], 1, err)) return false;
            next = pos + 1;
        } else if (!encode_piece(t, text + pos, next - pos, out, err)) {
            return false;
        }
        pos = next;
    }
    return true;
}

/* memmem() is a GNU extension; memchr for the "<" does the same job. */
static const char *find_special(const char *text, size_t start, size_t end) {
    const size_t n = sizeof TOK_EOT_TEXT - 1;
    for (const char *p = text + start; (size_t)(text + end - p) >= n; p++) {
        p = memchr(p, TOK_EOT_TEXT[0], (size_t)(text + end - p) - n + 1);
        if (!p) return NULL;
        if (memcmp(p, TOK_EOT_TEXT, n) == 0) return p;
    }
    return NULL;
}

bool tok_encode(Tokenizer *t, const char *text, size_t len, TokSpecial special, TokIds *out,
                TokEncodeInfo *info, LfError *err) {
    TokEncodeInfo scratch_info;
    if (!info) info = &scratch_info;
    *info = (TokEncodeInfo){0, 0};
    if (special == TOK_SPECIAL_AS_TEXT) return encode_text(t, text, 0, len, out, info, err);
    const char *found = find_special(text, 0, len);
    if (found && special == TOK_SPECIAL_REJECT) {
        lf_error_set(err, LF_ERR_INPUT,
                     "the text contains the special token %s at byte %zu, which is not allowed here",
                     TOK_EOT_TEXT, (size_t)(found - text));
        return false;
    }
    size_t pos = 0;
    while (found) {
        size_t at = (size_t)(found - text);
        int32_t eot = TOK_EOT;
        if (!encode_text(t, text, pos, at, out, info, err) || !ids_push(out, &eot, 1, err)) return false;
        pos = at + sizeof TOK_EOT_TEXT - 1;
        found = find_special(text, pos, len);
    }
    return encode_text(t, text, pos, len, out, info, err);
}

/* ---- decoding and lookups ------------------------------------------------------- */

char *tok_decode(const Tokenizer *t, const int32_t *ids, size_t n, size_t *len_out, LfError *err) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->n_vocab) {
            lf_error_set(err, LF_ERR_INPUT, "token id %ld at position %zu is not in the vocabulary (0..%d)",
                         (long)ids[i], i, t->n_vocab - 1);
            return NULL;
        }
        total += tok_token_len(t, ids[i]);
    }
    char *text = malloc(total + 1);
    if (!text) {
        lf_error_set(err, LF_ERR_IO, "out of memory decoding %zu tokens", n);
        return NULL;
    }
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(text + used, t->bytes + t->offset[ids[i]], tok_token_len(t, ids[i]));
        used += tok_token_len(t, ids[i]);
    }
    text[used] = '\0';
    if (len_out) *len_out = used;
    return text;
}

const char *tok_token_bytes(const Tokenizer *t, int32_t id, size_t *len) {
    if (id < 0 || id >= t->n_vocab) return NULL;
    *len = tok_token_len(t, id);
    return t->bytes + t->offset[id];
}

int tok_vocab_size(const Tokenizer *t) { return t->n_vocab; }
