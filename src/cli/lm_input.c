/* lm_input.c - see include/lorafit/cli/lm_input.h */
#include "lorafit/cli/lm_input.h"

#include <string.h>

#include "lorafit/data/lm_encode.h"

long lm_input_targets(const TokenSet *ts) {
    long n = 0;
    for (size_t i = 0; i < ts->n; i++) {
        /* position t predicts token t + 1, counted from the first completion token on */
        int first = ts->prompt_length[i] > 1 ? ts->prompt_length[i] : 1;
        n += ts->length[i] - first;
    }
    return n;
}

bool lm_input_read(const char *path, Tokenizer *tok, int max_length, int *mask_prompt, LmData **data, TokenSet *ts,
                   LfError *err) {
    if (!(*data = lm_data_load(path, err))) return false;
    if (*mask_prompt == LM_MASK_BY_KIND) *mask_prompt = lm_kind_masks_prompt((*data)->kind);
    LmEncodeOptions opt = {max_length, *mask_prompt != 0, LM_LONG_PROMPT_CUT_LEFT};
    if (lm_encode(ts, tok, *data, &opt, err)) return true;
    lm_data_free(*data);
    *data = NULL;
    return false;
}

const char *lm_input_unit(const LmData *d, size_t n) {
    if (d->kind == LM_KIND_TEXT) return n == 1 ? "window" : "windows";
    return n == 1 ? "example" : "examples";
}

static void describe(const char *what, const LmData *d, const TokenSet *ts, FILE *f) {
    fprintf(f, "%s %zu %s (%s, %ld target tokens)", what, ts->n, lm_input_unit(d, ts->n),
            lm_kind_name(d->kind), lm_input_targets(ts));
}

void lm_input_print_sets(const LmData *train, const TokenSet *train_ts, const LmData *val, const TokenSet *val_ts,
                         bool mask_prompt, FILE *f) {
    describe("lorafit train: training", train, train_ts, f);
    if (val) describe(", validation", val, val_ts, f);
    fprintf(f, "; %s", mask_prompt ? "prompts masked" : "every token counted");
}

bool lm_task_targets(LoraConfig *lc, LfError *err) {
    bool all = lc->n_targets == 1 && strcmp(lc->targets[0], "all") == 0;
    if ((lc->n_targets == 0 || all) && !lora_config_set_targets(lc, all ? "c_attn,c_fc,c_proj" : "c_attn,mlp.c_proj", err))
        return false;
    if (lora_targets_style(lc) == MODTREE_HF) return true;
    lf_error_set(err, LF_ERR_INPUT, "--task causal-lm adapts PEFT's modules: give --targets as c_attn, c_fc, "
                                    "attn.c_proj, mlp.c_proj or c_proj");
    return false;
}

void lm_input_notes(const LmData *d, const TokenSet *ts, const char *cmd) {
    if (d->n_unanswerable)
        fprintf(stderr, "lorafit %s: note: %s: %zu unanswerable question%s skipped\n", cmd, d->name, d->n_unanswerable,
                d->n_unanswerable == 1 ? "" : "s");
    if (ts->n_truncated) {
        const bool one = ts->n_truncated == 1;
        fprintf(stderr, "lorafit %s: note: %s: %zu prompt%s did not fit %d tokens with %s and %s cut from the left\n",
                cmd, d->name, ts->n_truncated, one ? "" : "s", ts->max_length, one ? "its answer" : "their answers",
                one ? "was" : "were");
    }
}
