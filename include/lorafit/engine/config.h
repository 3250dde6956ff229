/* config.h - the shape of a GPT-2 model, as data.
 *
 * The four published sizes are presets; a checkpoint's config.json (or its
 * tensor shapes) can describe any other. */
#ifndef LORAFIT_CONFIG_H
#define LORAFIT_CONFIG_H

#include <stdbool.h>

#include "lorafit/util/error.h"

typedef struct {
    int n_layer;    /* transformer blocks */
    int n_embd;     /* width C */
    int n_head;     /* attention heads; n_embd % n_head == 0 */
    int vocab_size; /* 50257 for the published models */
    int n_ctx;      /* context length, positions in wpe */
    bool qkv_bias;  /* Q/K/V projections carry a bias (GPT-2 does) */
} Gpt2Config;

/* Fills *cfg from a preset name: gpt2-small, gpt2-medium, gpt2-large,
 * gpt2-xl, or the aliases gpt2, 124M, 355M, 774M, 1558M. An unknown name is
 * an LF_ERR_INPUT error listing the known ones. */
bool gpt2_config_preset(const char *name, Gpt2Config *cfg, LfError *err);

/* The canonical preset names, NULL-terminated. */
const char *const *gpt2_config_preset_names(void);

/* The preset whose n_layer and n_embd match, or NULL (used to take n_head
 * from a preset when a checkpoint comes without config.json). */
const char *gpt2_config_match_preset(int n_layer, int n_embd);

/* Checks that the numbers make a model: all positive, n_embd divisible by
 * n_head. The message names the offending field. */
bool gpt2_config_validate(const Gpt2Config *cfg, LfError *err);

#endif
