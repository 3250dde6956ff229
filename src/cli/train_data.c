/* train_data.c - the data of `lorafit train`: see include/lorafit/cli/train_run.h */
#include "lorafit/cli/train_run.h"

#include "lorafit/cli/lm_input.h"
#include "lorafit/engine/gpt2.h"
#include "lorafit/io/checkpoint.h"

/* Reads the data and fixes the classes: the checkpoint's on resume, else
 * the training file's (or --labels); validation is read against them. */
bool train_load_classes(TrainRun *r, LfError *err) {
    TrainOptions *o = r->o;
    AdapterConfig *ac = &o->ac;
    if (o->resume) {
        o->dopt.class_names = (const char *const *)ac->class_names;
        o->dopt.n_classes = ac->n_classes;
    }
    if (!(r->train_data = dataset_load(o->train, &o->dopt, err))) return false;
    dataset_print_warnings(r->train_data, "train", o->train, stderr);
    if (!o->resume &&
        !adapter_config_set_classes(ac, (const char *const *)r->train_data->class_names, r->train_data->n_classes, err))
        return false;
    if (ac->n_classes < 2) {
        lf_error_set(err, LF_ERR_INPUT, "%s: only one class (%s); a classifier needs at least two", o->train,
                     ac->class_names[0]);
        return false;
    }
    if (o->val) {
        DatasetOptions vopt = o->dopt;
        vopt.class_names = (const char *const *)ac->class_names;
        vopt.n_classes = ac->n_classes;
        if (!(r->val_data = dataset_load(o->val, &vopt, err))) return false;
        dataset_print_warnings(r->val_data, "train", o->val, stderr);
    }
    return true;
}

static bool check_max_length(int max_length, int n_ctx, LfError *err) {
    if (max_length <= n_ctx) return true;
    lf_error_set(err, LF_ERR_INPUT, "--max-length %d is longer than the model's context (%d tokens)", max_length,
                 n_ctx);
    return false;
}

/* The language model's data: records encoded at --max-length (the model's
 * context unless given), training and validation with the same prompt mask. */
bool train_load_lm(TrainRun *r, LfError *err) {
    TrainOptions *o = r->o;
    AdapterConfig *ac = &o->ac;
    int n_ctx = checkpoint_config(r->s.ck)->n_ctx;
    if (!o->resume && !cli_given(&o->cli, "--max-length")) ac->max_length = n_ctx;
    if (!check_max_length(ac->max_length, n_ctx, err) ||
        !lm_input_read(o->train, r->s.tok, ac->max_length, &ac->training.mask_prompt, &r->lm_train, &r->train, err))
        return false;
    if (r->lm_train->kind == LM_KIND_TEXT && cli_given(&o->cli, "--mask-prompt")) {
        /* plain text has no prompt: the mask would count every token while the run said "prompts masked" */
        lf_error_set(err, LF_ERR_INPUT, "%s is plain text: it has no prompt for --mask-prompt to mask", o->train);
        return false;
    }
    lm_input_notes(r->lm_train, &r->train, "train");
    if (!o->val) return true;
    int mask = ac->training.mask_prompt;
    if (!lm_input_read(o->val, r->s.tok, ac->max_length, &mask, &r->lm_val, &r->val, err)) return false;
    lm_input_notes(r->lm_val, &r->val, "train");
    return true;
}

/* Encodes the texts and settles max_length as the labs do: for
 * last-position the longest training text (the padded length), else the
 * model's context; by default never more than the context (longer texts
 * are cut and counted), and an explicit --max-length beyond it is an error. */
bool train_encode_classes(TrainRun *r, LfError *err) {
    TrainOptions *o = r->o;
    AdapterConfig *ac = &o->ac;
    int n_ctx = checkpoint_config(r->s.ck)->n_ctx;
    if (!tokenset_encode(&r->train, r->s.tok, r->train_data->texts, r->train_data->labels, r->train_data->n, n_ctx,
                         err)) {
        lf_error_prefix(err, "%s", o->train);
        return false;
    }
    if (!o->resume && !cli_given(&o->cli, "--max-length"))
        ac->max_length = ac->pool == POOL_LAST_POSITION && r->train.longest < n_ctx ? r->train.longest : n_ctx;
    if (!check_max_length(ac->max_length, n_ctx, err)) return false;
    tokenset_truncate(&r->train, ac->max_length);
    if (r->val_data && !tokenset_encode(&r->val, r->s.tok, r->val_data->texts, r->val_data->labels, r->val_data->n,
                                        ac->max_length, err)) {
        lf_error_prefix(err, "%s", o->val);
        return false;
    }
    return true;
}
