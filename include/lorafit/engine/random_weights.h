/* random_weights.h - frozen GPT-2 weights drawn at random: what
 * `random-model` writes, what `bench` runs on without a checkpoint, and
 * what the engine tests build over. Not a trained model: its outputs mean
 * nothing, only its shapes and its determinism do. */
#ifndef LORAFIT_RANDOM_WEIGHTS_H
#define LORAFIT_RANDOM_WEIGHTS_H

#include <stdint.h>

#include "lorafit/engine/config.h"
#include "lorafit/engine/weights.h"
#include "lorafit/util/error.h"

/* Weights of shape *cfg: normal(0, 0.02) for matrices and embeddings, small
 * normal biases, layernorm weights near 1 and biases near 0, all from
 * `seed`. One allocation; free with gpt2_weights_random_free(). */
Gpt2Weights *gpt2_weights_random(const Gpt2Config *cfg, uint64_t seed, LfError *err);
void gpt2_weights_random_free(Gpt2Weights *w);

#endif
