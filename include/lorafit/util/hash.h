/* hash.h - 64-bit FNV-1a, the one hash behind every digest and fingerprint
 * lorafit stores or prints (adapter fingerprints, training-data digests,
 * tokenizer --bench digests) and behind the tokenizer's tables.
 *
 * The values are stored in files and compared across runs, so they must
 * never change: start from HASH_FNV_START and feed the same bytes in the
 * same order. The functions are inline because the tokenizer hashes every
 * word it meets with them. */
#ifndef LORAFIT_HASH_H
#define LORAFIT_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_FNV_START 0xcbf29ce484222325ULL
#define HASH_FNV_PRIME 0x100000001b3ULL

/* h carried on over n bytes. */
static inline uint64_t hash_fnv(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * HASH_FNV_PRIME;
    return h;
}

/* h carried on over v's 4 bytes, little-endian (the same on any host). */
static inline uint64_t hash_fnv_u32(uint64_t h, uint32_t v) {
    for (int i = 0; i < 4; i++) h = (h ^ ((v >> (8 * i)) & 0xff)) * HASH_FNV_PRIME;
    return h;
}

/* h carried on over v's 8 bytes, little-endian. */
static inline uint64_t hash_fnv_u64(uint64_t h, uint64_t v) {
    for (int i = 0; i < 8; i++) h = (h ^ ((v >> (8 * i)) & 0xff)) * HASH_FNV_PRIME;
    return h;
}

/* FNV-1a's step fed a whole 32-bit word instead of a byte: what the
 * training-data digest (tokenset_digest) has always used. */
static inline uint64_t hash_fnv_word(uint64_t h, uint32_t w) { return (h ^ w) * HASH_FNV_PRIME; }

#endif
