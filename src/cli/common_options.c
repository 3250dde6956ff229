/* common_options.c - see include/lorafit/cli/common_options.h */
#include "lorafit/cli/common_options.h"

#include <string.h>

#include "lorafit/engine/config.h"
#include "lorafit/engine/lora.h"

bool cli_parse_preset(const char *as, const char *value, void *field, LfError *err) {
    (void)as;
    Gpt2Config probe;
    if (!gpt2_config_preset(value, &probe, err)) return false;
    memcpy(field, &value, sizeof value);
    return true;
}

bool cli_parse_targets(const char *as, const char *value, void *field, LfError *err) {
    (void)as;
    return lora_config_set_targets(field, value, err);
}

bool cli_same_targets(const void *a, const void *b) {
    const LoraConfig *x = a, *y = b;
    if (x->n_targets != y->n_targets) return false;
    for (int i = 0; i < x->n_targets; i++)
        if (strcmp(x->targets[i], y->targets[i]) != 0) return false;
    return true;
}
