/* rng.h - a small seeded PRNG of our own, so that shuffles, splits and
 * LoRA initialisations are the same on every machine and libc.
 * xoshiro256** (Blackman & Vigna), seeded through splitmix64. */
#ifndef LORAFIT_RNG_H
#define LORAFIT_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t s[4];
} Rng;

void rng_seed(Rng *r, uint64_t seed);
uint64_t rng_next(Rng *r);
/* Uniform in [0, 1) with 24 random bits (exactly representable as float). */
float rng_float(Rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double rng_double(Rng *r);
/* Uniform integer in [0, n), without modulo bias. n > 0. */
uint64_t rng_below(Rng *r, uint64_t n);
/* Fisher-Yates shuffle of idx[0..n). */
void rng_shuffle(Rng *r, int *idx, size_t n);

#endif
