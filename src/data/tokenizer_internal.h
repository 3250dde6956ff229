/* tokenizer_internal.h - INTERNAL to src/data/tokenizer.c (loading) and
 * src/data/bpe.c (merging, the word cache, encode and decode): the
 * Tokenizer's layout and the vocabulary lookup both need. Nothing else
 * includes it; the public interface is include/lorafit/data/tokenizer.h.
 *
 * Two hash tables (open addressing, power-of-two sizes, linear probing):
 *   vocab  token bytes -> id, for the whole-piece lookup, for merging and
 *          while loading (built by tokenizer.c);
 *   cache  piece bytes -> ids, for words seen before (bpe.c). */
#ifndef LORAFIT_TOKENIZER_INTERNAL_H
#define LORAFIT_TOKENIZER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lorafit/data/tokenizer.h"
#include "lorafit/util/hash.h"

/* The cache is emptied when it fills up: simpler than LRU, and a text
 * that repeats itself refills it at once. Only short pieces go in: long
 * ones are rare and would crowd out the rest. */
enum { CACHE_SLOTS = 1 << 16, CACHE_MAX_ENTRIES = CACHE_SLOTS / 2, CACHE_MAX_PIECE = 64 };
enum { CACHE_KEY_ARENA = CACHE_MAX_ENTRIES * 16, CACHE_ID_ARENA = CACHE_MAX_ENTRIES * 4 };

typedef struct {
    uint64_t hash;
    uint32_t key_off, ids_off;
    uint16_t key_len, n_ids; /* key_len == 0: empty slot */
} CacheSlot;

typedef struct {
    CacheSlot *slots;
    char *keys;
    int32_t *ids;
    size_t n_entries, keys_used, ids_used;
} PieceCache;

/* One symbol of a piece being merged: a doubly linked list over positions.
 * A symbol at position i covers the piece's bytes from i up to its next
 * symbol (or the end), so a symbol's bytes need no lookup of its id. */
typedef struct {
    int32_t id; /* -1 once merged into the symbol on its left */
    int32_t prev, next;
    uint64_t fnv; /* FNV-1a state of its bytes, unmixed: see tok_hash_bytes */
} Sym;

struct Tokenizer {
    int n_vocab;
    char *bytes;       /* every token's bytes, back to back */
    uint32_t *offset;  /* token id -> start in bytes; offset[n_vocab] is the end */
    int32_t byte_token[256];

    uint64_t *vocab_slots; /* hash >> 32 << 32 | (id + 1); 0 = empty */
    size_t vocab_mask;

    PieceCache cache;

    /* Scratch for merging one piece, grown as needed. */
    Sym *syms;
    uint64_t *heap;
    size_t scratch_cap;
};

/* ---- hashing -------------------------------------------------------------- */

static inline uint64_t tok_hash_mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

/* FNV-1a, whose low bits are poor on their own, then a final mix since
 * the tables index by the low bits. The state before the mix can be carried
 * on over more bytes, which is how merging hashes a concatenation without
 * going over its left part again. */
static inline uint64_t tok_hash_bytes(const char *s, size_t n) {
    return tok_hash_mix(hash_fnv(HASH_FNV_START, s, n));
}

static inline size_t tok_pow2_at_least(size_t n) {
    size_t p = 16;
    while (p < n) p <<= 1;
    return p;
}

static inline size_t tok_token_len(const Tokenizer *t, int32_t id) { return t->offset[id + 1] - t->offset[id]; }

/* ---- vocab: bytes -> id --------------------------------------------------- */

/* Each slot keeps the top half of its token's hash beside the id, so a
 * probe rarely has to look at the token's bytes elsewhere in memory. */
static inline int32_t tok_vocab_find(const Tokenizer *t, const char *s, size_t n, uint64_t h) {
    uint64_t tag = h >> 32 << 32;
    for (size_t i = h & t->vocab_mask;; i = (i + 1) & t->vocab_mask) {
        uint64_t v = t->vocab_slots[i];
        if (v == 0) return -1;
        if ((v & ~0xffffffffULL) != tag) continue;
        int32_t id = (int32_t)(v & 0xffffffffu) - 1;
        if (tok_token_len(t, id) == n && memcmp(t->bytes + t->offset[id], s, n) == 0) return id;
    }
}

static inline int32_t tok_vocab_get(const Tokenizer *t, const char *s, size_t n) {
    return tok_vocab_find(t, s, n, tok_hash_bytes(s, n));
}

/* Allocates the word cache (bpe.c); false when out of memory. */
bool bpe_cache_alloc(PieceCache *c);

#endif
