/* bf16.h - the bfloat16 number format: fp32's sign and 8 exponent bits with
 * 7 of its 23 fraction bits, stored as the top 16 bits of the fp32 pattern.
 *
 * fp32 to bf16 rounds to nearest, ties to even, as torch's .bfloat16()
 * (c10::round_to_nearest_even): add 0x7fff plus the lowest kept bit to the
 * pattern, keep its top half. So a carry runs into the exponent (1.99999 to
 * 2), values past the largest bf16 (0x1.fep127) by half a step or more
 * become infinity, subnormals round in place (bf16 keeps fp32's subnormal
 * range, with 7 bits), -0 stays -0, and every NaN becomes torch's 0x7fc0
 * (a quiet NaN, sign dropped). bf16 to fp32 is exact (zero low bits).
 *
 * A product of two bf16 values (8 significant bits each) has at most 16
 * and is exact in fp32: a bf16 GEMM summing in fp32 differs from an fp32
 * GEMM of the same rounded inputs only by the order of its sums. */
#ifndef LORAFIT_BF16_H
#define LORAFIT_BF16_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint16_t bf16_from_f32(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0; /* NaN */
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

static inline float bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* x rounded to the nearest bf16, as an fp32. */
static inline float bf16_round(float x) { return bf16_to_f32(bf16_from_f32(x)); }

/* out[i] = bf16_from_f32(in[i]), and back, over the OpenMP threads (each
 * value alone: the same bits whatever their count). */
void bf16_from_f32_array(uint16_t *out, const float *in, size_t n);
void bf16_to_f32_array(float *out, const uint16_t *in, size_t n);
/* out[i] = bf16_round(in[i]); out may be in. */
void bf16_round_array(float *out, const float *in, size_t n);

#endif
