/* classifier.h - GPT-2 as a LoRA classifier, built in one call from a LoRA
 * config: the module tree with its adapters injected and its head replaced
 * (which names every adapter, as the adapter files name them), and the
 * engine built over the frozen weights with one adapter per slot.
 *
 * train, eval, classify and bench all build their model through it; an
 * adapter's weights are loaded into c->model afterwards (io/adapter.h). */
#ifndef LORAFIT_CLASSIFIER_H
#define LORAFIT_CLASSIFIER_H

#include <stdbool.h>
#include <stdint.h>

#include "lorafit/engine/gpt2.h"
#include "lorafit/engine/lora.h"
#include "lorafit/engine/modtree.h"
#include "lorafit/engine/weights.h"
#include "lorafit/util/error.h"

typedef struct {
    ModTree tree;     /* in `naming`, LoRA injected, the head replaced */
    LoraSlot *slots;  /* [n_slots] the adapters, named, in the engine's order */
    int n_slots;
    Gpt2Model model;  /* over the frozen weights; valid once `built` */
    bool built;
} Classifier;

/* Builds the tree in `naming`, injects LoRA per lc, swaps in a head of
 * n_classes, and builds the engine over w for batches of max_B sequences
 * of at most max_T tokens, its adapters and head initialised from `seed`
 * (gpt2_build). n_classes == 0 builds the causal LM instead: the tree keeps
 * its LM head tied to wte, and the engine has none to train (gpt2.h). lc
 * NULL builds no adapters (a merged model: only its head). On
 * failure c holds nothing: classifier_free is still safe. */
bool classifier_build(Classifier *c, const Gpt2Weights *w, ModTreeStyle naming, const LoraConfig *lc,
                      int n_classes, int max_B, int max_T, uint64_t seed, LfError *err);
void classifier_free(Classifier *c);

#endif
