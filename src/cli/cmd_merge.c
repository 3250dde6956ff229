/* cmd_merge.c - `lorafit merge`: fold an adapter into its base model and
 * write the result as a Hugging Face GPT-2 directory (io/merge.h). */
#include <stdio.h>
#include <string.h>

#include "lorafit/cli/cli.h"
#include "lorafit/cli/commands.h"
#include "lorafit/cli/common_options.h"
#include "lorafit/engine/classifier.h"
#include "lorafit/io/adapter.h"
#include "lorafit/io/merge.h"
#include "lorafit/util/clock.h"

typedef struct {
    const char *model, *adapter, *out;
    int dtype;
    bool force;
} Options;

static const CliOption OPTIONS[] = {
    CLI_HEADING("options:"),
    CLI_OPT_BASE_MODEL(Options, model),
    {.name = "--adapter", .type = CLI_STRING, CLI_AT(Options, adapter), .metavar = "DIR", .flags = CLI_REQUIRED,
     .help = "the adapter to fold in (lorafit's, labs' or PEFT's names)"},
    CLI_OPT_OUT(Options, out, CLI_REQUIRED, "the merged model's directory (model.safetensors, config.json, tokenizer)"),
    {.name = "--dtype", .type = CLI_CHOICE, CLI_AT(Options, dtype), .metavar = "T",
     .choices = (const char *const[]){"f32", "f16", "bf16", NULL}, .values = (const int[]){ST_F32, ST_F16, ST_BF16},
     .def = "f32", .help = "the merged weights' type"},
    {.name = "--force", .type = CLI_FLAG, CLI_AT(Options, force), .help = "replace an existing merged model in DIR"},
    {0}};

static const CliCommand COMMAND = {
    .name = "merge",
    .usage = "lorafit merge --model DIR --adapter DIR --out DIR [--dtype f32|f16|bf16] [--force]",
    .synopsis = "lorafit merge --model DIR --adapter DIR --out DIR [options]",
    .about = "Writes the base model with the adapter folded in (W + scale * A @ B for every adapted\n"
             "matrix) as a Hugging Face GPT-2 directory. A classifier's head is written as\n"
             "score.weight and score.bias and config.json names GPT2ForSequenceClassification;\n"
             "`lorafit eval` and `classify` then take the merged model without --adapter.\n"
             "A language-model adapter gives a plain GPT2LMHeadModel.",
    .options = OPTIONS,
};

static bool merge(const Options *o, LfError *err) {
    AdapterConfig ac = {0};
    Classifier net = {0};
    Gpt2Checkpoint *ck = checkpoint_open(o->model, err);
    bool ok = ck && cli_check_out_not_model(o->out, checkpoint_dir(ck), err) &&
              adapter_load_config(o->adapter, &ac, err) &&
              adapter_check_base(&ac, checkpoint_config(ck), checkpoint_fingerprint(ck), err) &&
              classifier_build(&net, checkpoint_weights(ck), ac.naming, &ac.lora,
                               ac.task == ADAPTER_TASK_CAUSAL_LM ? 0 : ac.n_classes, 1, 1, 0, err) &&
              adapter_load_weights(o->adapter, &ac, &net.model, net.slots, err) &&
              merge_write(o->out, ck, &ac, &net.model, (StDtype)o->dtype, o->force, err);
    if (ok && checkpoint_base_dtype(ck) != QUANT_F32)
        fprintf(stderr, "lorafit merge: note: %s holds its blocks in %s; they were dequantized and the merged "
                        "model is written from those values\n",
                checkpoint_file(ck), quant_dtype_name(checkpoint_base_dtype(ck)));
    if (ok)
        fprintf(stderr, "lorafit merge: wrote %s (%d adapters folded in, %s%s)\n", o->out, net.n_slots,
                st_dtype_name((StDtype)o->dtype),
                ac.task == ADAPTER_TASK_CAUSAL_LM ? ", GPT2LMHeadModel" : ", GPT2ForSequenceClassification");
    classifier_free(&net);
    adapter_config_free(&ac);
    checkpoint_close(ck);
    return ok;
}

int cmd_merge(int argc, char **argv) {
    Options o = {0};
    CliParse p;
    int rc = cli_parse(&p, &COMMAND, argc, argv, &o);
    if (rc != CLI_RUN) return rc;
    LfError err = {0};
    if (!merge(&o, &err)) {
        fprintf(stderr, "lorafit merge: %s\n", err.msg);
        return lf_error_exit_code(&err);
    }
    return 0;
}
