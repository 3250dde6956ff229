/* engine_slots.h - adapters at every site of every block, for the engine
 * tests that build a Gpt2Model directly (tests only). */
#ifndef LORAFIT_TEST_ENGINE_SLOTS_H
#define LORAFIT_TEST_ENGINE_SLOTS_H

#include <string.h>

#include "lorafit/engine/lora.h"

/* Fills s [n_layer * 4] with a slot at c_attn (fused QKV), attn.c_proj,
 * c_fc and mlp.c_proj of every block, in the engine's order, each of the
 * given rank and alpha, for width C. Returns the count. */
static inline int engine_slots_every_site(LoraSlot *s, int n_layer, int C, int rank, double alpha) {
    const LinearSite sites[] = {SITE_QKV, SITE_ATTN_OUT, SITE_FC, SITE_FC_PROJ};
    int n = 0;
    for (int l = 0; l < n_layer; l++)
        for (int k = 0; k < 4; k++) {
            memset(&s[n], 0, sizeof s[n]);
            s[n].layer = l;
            s[n].site = sites[k];
            s[n].in = sites[k] == SITE_FC_PROJ ? 4 * C : C;
            s[n].out = sites[k] == SITE_QKV ? 3 * C : sites[k] == SITE_FC ? 4 * C : C;
            s[n].rank = rank;
            s[n].alpha = alpha;
            n++;
        }
    return n;
}

#endif
