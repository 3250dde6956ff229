/* config.c - GPT-2 presets. See include/lorafit/engine/config.h. */
#include "lorafit/engine/config.h"

#include <stddef.h>
#include <string.h>

typedef struct {
    const char *name;
    const char *alias; /* the size OpenAI's release used as a name */
    Gpt2Config cfg;
} Preset;

/* Published shapes: Radford et al. 2019, Table 2, with the released vocab
 * (50257) and context (1024). */
static const Preset presets[] = {
    {"gpt2-small", "124M", {12, 768, 12, 50257, 1024, true}},
    {"gpt2-medium", "355M", {24, 1024, 16, 50257, 1024, true}},
    {"gpt2-large", "774M", {36, 1280, 20, 50257, 1024, true}},
    {"gpt2-xl", "1558M", {48, 1600, 25, 50257, 1024, true}},
};
enum { N_PRESETS = sizeof presets / sizeof presets[0] };

static const char *const preset_names[] = {"gpt2-small", "gpt2-medium", "gpt2-large", "gpt2-xl", NULL};

const char *const *gpt2_config_preset_names(void) { return preset_names; }

bool gpt2_config_preset(const char *name, Gpt2Config *cfg, LfError *err) {
    if (strcmp(name, "gpt2") == 0) name = "gpt2-small";
    for (int i = 0; i < N_PRESETS; i++) {
        if (strcmp(name, presets[i].name) == 0 || strcmp(name, presets[i].alias) == 0) {
            *cfg = presets[i].cfg;
            return true;
        }
    }
    lf_error_set(err, LF_ERR_INPUT,
                 "unknown model preset '%s' (known: gpt2-small, gpt2-medium, gpt2-large, gpt2-xl; "
                 "or 124M, 355M, 774M, 1558M)",
                 name);
    return false;
}

const char *gpt2_config_match_preset(int n_layer, int n_embd) {
    for (int i = 0; i < N_PRESETS; i++)
        if (presets[i].cfg.n_layer == n_layer && presets[i].cfg.n_embd == n_embd) return presets[i].name;
    return NULL;
}

bool gpt2_config_validate(const Gpt2Config *cfg, LfError *err) {
    const struct { const char *name; int value; } fields[] = {
        {"n_layer", cfg->n_layer}, {"n_embd", cfg->n_embd},       {"n_head", cfg->n_head},
        {"vocab_size", cfg->vocab_size}, {"n_ctx", cfg->n_ctx},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (fields[i].value <= 0) {
            lf_error_set(err, LF_ERR_INPUT, "model config: %s must be positive, got %d", fields[i].name,
                         fields[i].value);
            return false;
        }
    }
    if (cfg->n_embd % cfg->n_head != 0) {
        lf_error_set(err, LF_ERR_INPUT, "model config: n_embd (%d) is not divisible by n_head (%d)",
                     cfg->n_embd, cfg->n_head);
        return false;
    }
    return true;
}
