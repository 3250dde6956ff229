/* cmd_count_params.c - `lorafit count-params`: the labs' parameter tables,
 * computed from the same module tree and injection pass training uses. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/io/checkpoint.h"
#include "lorafit/cli/cli.h"
#include "lorafit/cli/commands.h"
#include "lorafit/cli/common_options.h"
#include "lorafit/engine/config.h"
#include "lorafit/engine/lora.h"
#include "lorafit/engine/modtree.h"

typedef struct {
    const char *preset;
    const char *model; /* a checkpoint to take the shape from, or NULL */
    LoraConfig lora;
    int num_classes;
    int style; /* -1 = from the targets */
    bool show_structure, tensors, json;
} Options;

static const CliOption OPTIONS[] = {
    CLI_HEADING("options:"),
    CLI_OPT_CONFIG(Options, preset),
    {.name = "--model", .type = CLI_STRING, CLI_AT(Options, model), .metavar = "DIR",
     .help = "take the shape from a checkpoint (its config.json, or its tensors) instead of a preset"},
    CLI_OPT_RANK(Options, lora.rank, 0, "LoRA rank"),
    CLI_OPT_ALPHA(Options, lora.alpha, 0, "LoRA alpha; does not change the counts"),
    CLI_OPT_TARGETS(Options, lora, 0,
                    "comma-separated Linear names, matched as PEFT does (a module matches when its full name "
                    "is the target or ends in '.target').\n"
                    "labs: W_query, W_key, W_value, out_proj, ff.layers.0, ff.layers.2\n"
                    "peft: c_attn, c_fc, attn.c_proj, mlp.c_proj, c_proj (both)\n"
                    "'all' = every Linear in the blocks. Default: all (labs), c_attn (peft, PEFT's default "
                    "for GPT-2). Naming HF modules (c_attn, c_fc, c_proj) selects --style peft."),
    {.name = "--num-classes", .type = CLI_INT, CLI_AT(Options, num_classes), .lo = 2, .hi = 1 << 20,
     .metavar = "N", .def = "2", .help = "classes of the classification head, labs style"},
    {.name = "--style", .type = CLI_CHOICE, CLI_AT(Options, style), .metavar = "S",
     .choices = (const char *const[]){"labs", "peft", NULL}, .values = (const int[]){MODTREE_LABS, MODTREE_HF},
     .def_text = "labs", .help = "labs or peft"},
    {.name = "--show-structure", .type = CLI_FLAG, CLI_AT(Options, show_structure),
     .help = "print one block's module tree before and after injection"},
    {.name = "--tensors", .type = CLI_FLAG, CLI_AT(Options, tensors),
     .help = "also print how many parameter tensors get gradients / are frozen"},
    {.name = "--json", .type = CLI_FLAG, CLI_AT(Options, json), .help = "print the same facts as one JSON object"},
    {0}};

static const CliCommand COMMAND = {
    .name = "count-params",
    .usage = "lorafit count-params [--config PRESET | --model DIR] [--rank N] [--alpha X] [--targets LIST] "
             "[--num-classes N] [--style labs|peft] [--show-structure] [--tensors] [--json]",
    .synopsis = "lorafit count-params [options]",
    .about = "Prints trainable and total parameters of GPT-2 with LoRA adapters, exactly as the\n"
             "LoRA labs print them. Needs no weights: the counts come from the model's module tree\n"
             "after the same injection pass that training uses.\n"
             "\n"
             "With --style labs (the default) the model is the labs' GPTModel (separate W_query,\n"
             "W_key, W_value with bias, out_head not tied to the token embedding) and two lines are\n"
             "printed: with the language-model out_head, and after out_head has been replaced by the\n"
             "classification head Linear(n_embd, num_classes) with bias:\n"
             "  trainable params: 1,327,104 || all params: 164,364,288 || trainable%: 0.81%\n"
             "  trainable params: 1,328,642 || all params: 125,768,450 || trainable%: 1.06%\n"
             "\n"
             "With --style peft the model is Hugging Face's GPT2LMHeadModel (fused c_attn Conv1D,\n"
             "lm_head tied to wte and counted once) and one line is printed as PEFT's\n"
             "print_trainable_parameters() prints it (percent with 4 decimals).",
    .options = OPTIONS,
};

/* 1327104 -> "1,327,104" */
static void format_thousands(int64_t x, char *buf, size_t size) {
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%" PRId64, x < 0 ? -x : x);
    size_t o = 0;
    if (x < 0 && o + 1 < size) buf[o++] = '-';
    for (int i = 0; i < n && o + 1 < size; i++) {
        if (i > 0 && (n - i) % 3 == 0 && o + 1 < size) buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
}

static double percent(ParamCount pc) { return pc.total ? 100.0 * (double)pc.trainable / (double)pc.total : 0; }

static void print_count_line(ParamCount pc, ModTreeStyle style) {
    char tr[32], all[32];
    format_thousands(pc.trainable, tr, sizeof tr);
    format_thousands(pc.total, all, sizeof all);
    if (style == MODTREE_HF)
        printf("trainable params: %s || all params: %s || trainable%%: %.4f\n", tr, all, percent(pc));
    else
        printf("trainable params: %s || all params: %s || trainable%%: %.2f%%\n", tr, all, percent(pc));
}

static void print_tensor_line(ParamCount pc, const char *when) {
    printf("parameter tensors %s: %d with gradients, %d frozen\n", when, pc.tensors_trainable,
           pc.tensors_frozen);
}

static int parse_options(int argc, char **argv, Options *o) {
    CliParse p;
    int rc = cli_parse(&p, &COMMAND, argc, argv, o);
    if (rc != CLI_RUN) return rc;
    if (o->model && cli_given(&p, "--config")) return cli_error(&p, "give --config or --model, not both");
    ModTreeStyle from_targets = lora_targets_style(&o->lora);
    if (o->style == MODTREE_LABS && from_targets == MODTREE_HF)
        return cli_error(&p, "--targets names Hugging Face modules (c_attn, c_fc, c_proj); "
                             "they exist with --style peft, not --style labs");
    if (o->style < 0) o->style = (int)from_targets;
    if (o->style == MODTREE_HF && cli_given(&p, "--num-classes"))
        return cli_error(&p, "--num-classes applies to --style labs; PEFT's print counts the "
                             "language model as loaded");
    return CLI_RUN;
}

static cJSON *count_json(ParamCount pc) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "trainable", (double)pc.trainable);
    cJSON_AddNumberToObject(o, "all", (double)pc.total);
    cJSON_AddNumberToObject(o, "trainable_percent", percent(pc));
    cJSON_AddNumberToObject(o, "tensors_with_gradients", pc.tensors_trainable);
    cJSON_AddNumberToObject(o, "tensors_frozen", pc.tensors_frozen);
    return o;
}

static void print_json(const Options *o, const ModTree *t, ParamCount lm, const ParamCount *cls) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "style", o->style == MODTREE_HF ? "peft" : "labs");
    cJSON_AddStringToObject(root, o->model ? "model" : "config", o->preset);
    cJSON_AddNumberToObject(root, "n_layer", t->cfg.n_layer);
    cJSON_AddNumberToObject(root, "n_embd", t->cfg.n_embd);
    cJSON_AddNumberToObject(root, "rank", o->lora.rank);
    cJSON_AddNumberToObject(root, "alpha", o->lora.alpha);
    cJSON *targets = cJSON_AddArrayToObject(root, "adapters");
    int n = lora_slots(t, NULL, 0);
    LoraSlot *slots = calloc((size_t)n + 1, sizeof *slots);
    if (slots) {
        lora_slots(t, slots, n);
        for (int i = 0; i < n; i++) cJSON_AddItemToArray(targets, cJSON_CreateString(slots[i].name));
        free(slots);
    }
    cJSON_AddItemToObject(root, "with_lm_head", count_json(lm));
    if (cls) {
        cJSON *c = count_json(*cls);
        cJSON_AddNumberToObject(c, "num_classes", o->num_classes);
        cJSON_AddItemToObject(root, "with_classification_head", c);
    }
    char *text = cJSON_Print(root);
    if (text) puts(text);
    free(text);
    cJSON_Delete(root);
}

/* The shape: a checkpoint's when --model is given, else the preset's. */
static bool load_shape(Options *o, Gpt2Config *cfg, LfError *err) {
    if (!o->model) return gpt2_config_preset(o->preset, cfg, err);
    if (!checkpoint_read_config(o->model, cfg, err)) return false;
    o->preset = o->model;
    return true;
}

int cmd_count_params(int argc, char **argv) {
    Options o = {.style = -1};
    int rc = parse_options(argc, argv, &o);
    if (rc != CLI_RUN) return rc;

    LfError err = {0};
    Gpt2Config cfg;
    ModTree plain = {0}, tree = {0};
    ModTreeStyle style = (ModTreeStyle)o.style;
    if (!load_shape(&o, &cfg, &err) || !modtree_build(&tree, &cfg, style, &err) ||
        (o.show_structure && !modtree_build(&plain, &cfg, style, &err)) || !lora_inject(&tree, &o.lora, &err)) {
        fprintf(stderr, "lorafit count-params: %s\n", err.msg);
        if (err.kind == LF_ERR_INPUT) fprintf(stderr, "usage: %s\n", COMMAND.usage);
        modtree_free(&plain);
        modtree_free(&tree);
        return lf_error_exit_code(&err);
    }

    if (o.show_structure && !o.json) {
        printf("Block 0 before LoRA:\n");
        modtree_print(modtree_block(&plain, 0), stdout);
        printf("\nBlock 0 after LoRA:\n");
        modtree_print(modtree_block(&tree, 0), stdout);
        printf("\n");
    }

    ParamCount lm = modtree_count(&tree), cls = {0};
    bool with_head = style == MODTREE_LABS;
    if (with_head) {
        if (!modtree_replace_head(&tree, o.num_classes, &err)) {
            fprintf(stderr, "lorafit count-params: %s\n", err.msg);
            modtree_free(&plain);
            modtree_free(&tree);
            return lf_error_exit_code(&err);
        }
        cls = modtree_count(&tree);
    }

    if (o.json) {
        print_json(&o, &tree, lm, with_head ? &cls : NULL);
    } else {
        print_count_line(lm, style);
        if (with_head) print_count_line(cls, style);
        if (o.tensors) {
            print_tensor_line(lm, with_head ? "before the head swap" : "");
            if (with_head) print_tensor_line(cls, "after the head swap");
        }
    }
    modtree_free(&plain);
    modtree_free(&tree);
    return 0;
}
