/* model_config.h - a model directory's config.json (Hugging Face's GPT-2
 * config) read into a Gpt2Config, checked so that nothing sized from it can
 * overflow.
 *
 * Read: n_layer, n_embd, n_head, vocab_size, n_positions or else n_ctx
 * (integers, each required); n_inner, when present and not null, must be
 * 4 * n_embd (the only MLP width the engine has); model_type, when present,
 * must be "gpt2"; qkv_bias (lorafit's, for models without Q/K/V biases)
 * defaults to true. Every other key is ignored. What is read is then checked
 * as model_config_check does. Every message starts with the file's name. */
#ifndef LORAFIT_IO_MODEL_CONFIG_H
#define LORAFIT_IO_MODEL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "lorafit/engine/config.h"
#include "lorafit/util/error.h"

/* Far above any GPT-2 and low enough that no product of two of them (the
 * largest tensor is [4C, C] or [V, C]) can overflow 64 bits. */
#define MODEL_CONFIG_MAX_DIM (1 << 24)
/* A config.json larger than this is not one. */
#define MODEL_CONFIG_MAX_BYTES (16 << 20)

/* Parses text[0, len) (the bytes of `name`; parsing stops at a NUL) into
 * *cfg and checks it. False with an LF_ERR_INPUT error otherwise. */
bool model_config_parse(const char *text, size_t len, const char *name, Gpt2Config *cfg, LfError *err);

/* Reads the file at path and parses it as above; a missing or unreadable
 * file, or one over MODEL_CONFIG_MAX_BYTES, is an LF_ERR_INPUT error too
 * (out of memory: LF_ERR_IO). */
bool model_config_read(const char *path, Gpt2Config *cfg, LfError *err);

/* Checks a shape however it was found (config.json or the tensors): every
 * size positive, none above MODEL_CONFIG_MAX_DIM, n_embd divisible by
 * n_head. The message starts with `what`. */
bool model_config_check(const Gpt2Config *cfg, const char *what, LfError *err);

#endif
