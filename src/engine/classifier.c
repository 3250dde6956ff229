/* classifier.c - see include/lorafit/engine/classifier.h */
#include "lorafit/engine/classifier.h"

#include <stdlib.h>
#include <string.h>

bool classifier_build(Classifier *c, const Gpt2Weights *w, ModTreeStyle naming, const LoraConfig *lc,
                      int n_classes, int max_B, int max_T, uint64_t seed, LfError *err) {
    memset(c, 0, sizeof *c);
    if (max_T > w->cfg.n_ctx) {
        lf_error_set(err, LF_ERR_INPUT, "%d tokens do not fit the model's context of %d", max_T, w->cfg.n_ctx);
        return false;
    }
    LoraConfig none = lora_config_default(); /* no adapters: gpt2_build still reads its settings */
    bool ok = modtree_build(&c->tree, &w->cfg, naming, err) &&
              (lc ? lora_inject(&c->tree, lc, err) : (modtree_freeze_all(&c->tree), true)) &&
              (n_classes == 0 || modtree_replace_head(&c->tree, n_classes, err));
    if (ok) {
        c->n_slots = lora_slots(&c->tree, NULL, 0);
        c->slots = calloc((size_t)c->n_slots + 1, sizeof *c->slots);
        if (!c->slots) lf_error_set(err, LF_ERR_IO, "out of memory");
        ok = c->slots != NULL;
    }
    if (ok) {
        lora_slots(&c->tree, c->slots, c->n_slots);
        ok = c->built = gpt2_build(&c->model, w, c->slots, c->n_slots, lc ? lc : &none, n_classes, max_B, max_T, seed, err);
    }
    if (!ok) classifier_free(c);
    return ok;
}

void classifier_free(Classifier *c) {
    if (c->built) gpt2_free(&c->model);
    free(c->slots);
    modtree_free(&c->tree);
    memset(c, 0, sizeof *c);
}
