/* bf16.c - see include/lorafit/engine/bf16.h */
#include "lorafit/engine/bf16.h"

/* Below this many values a parallel region costs more than it saves. */
enum { PARALLEL_MIN = 1 << 15 };

void bf16_from_f32_array(uint16_t *out, const float *in, size_t n) {
    const long long m = (long long)n;
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN)
    for (long long i = 0; i < m; i++) out[i] = bf16_from_f32(in[i]);
}

void bf16_to_f32_array(float *out, const uint16_t *in, size_t n) {
    const long long m = (long long)n;
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN)
    for (long long i = 0; i < m; i++) out[i] = bf16_to_f32(in[i]);
}

void bf16_round_array(float *out, const float *in, size_t n) {
    const long long m = (long long)n;
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN)
    for (long long i = 0; i < m; i++) out[i] = bf16_round(in[i]);
}
