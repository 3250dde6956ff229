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
#include "lorafit/engine/config.h"
#include "lorafit/engine/lora.h"
#include "lorafit/engine/modtree.h"

static const char USAGE[] =
    "lorafit count-params [--config PRESET | --model DIR] [--rank N] [--alpha X] [--targets LIST] "
    "[--num-classes N] [--style labs|peft] [--show-structure] [--tensors] [--json]";

static const char HELP[] =
    "usage: lorafit count-params [options]\n"
    "\n"
    "Prints trainable and total parameters of GPT-2 with LoRA adapters, exactly as the\n"
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
    "print_trainable_parameters() prints it (percent with 4 decimals).\n"
    "\n"
    "options:\n"
    "  --config PRESET    gpt2-small (default), gpt2-medium, gpt2-large, gpt2-xl\n"
    "                     (or 124M, 355M, 774M, 1558M)\n"
    "  --model DIR        take the shape from a checkpoint (its config.json, or its\n"
    "                     tensors) instead of a preset\n"
    "  --rank N           LoRA rank, 1 or more (default 8)\n"
    "  --alpha X          LoRA alpha (default 16; does not change the counts)\n"
    "  --targets LIST     comma-separated Linear names, matched as PEFT does (a module\n"
    "                     matches when its full name is the target or ends in '.target').\n"
    "                     labs: W_query, W_key, W_value, out_proj, ff.layers.0, ff.layers.2\n"
    "                     peft: c_attn, c_fc, attn.c_proj, mlp.c_proj, c_proj (both)\n"
    "                     'all' = every Linear in the blocks. Default: all (labs),\n"
    "                     c_attn (peft, PEFT's default for GPT-2). Naming HF modules\n"
    "                     (c_attn, c_fc, c_proj) selects --style peft.\n"
    "  --num-classes N    classes of the classification head (labs style; default 2)\n"
    "  --style S          labs (default) or peft\n"
    "  --show-structure   print one block's module tree before and after injection\n"
    "  --tensors          also print how many parameter tensors get gradients / are frozen\n"
    "  --json             print the same facts as one JSON object\n"
    "  -h, --help         this help\n";

typedef struct {
    const char *preset;
    const char *model; /* a checkpoint to take the shape from, or NULL */
    LoraConfig lora;
    int num_classes;
    bool num_classes_given;
    bool preset_given;
    int style; /* -1 = from the targets */
    bool show_structure, tensors, json;
} Options;

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
    static const char *const styles[] = {"labs", "peft", NULL};
    CliArgs a;
    cli_init(&a, "count-params", USAGE, argc, argv);
    const char *arg, *v;
    int kind;
    LfError err;
    while ((kind = cli_next(&a, &arg)) != CLI_END) {
        if (kind == CLI_POSITIONAL) return cli_error(&a, "unexpected argument '%s'", arg);
        if (cli_is(&a, "--help") || cli_is(&a, "-h")) {
            fputs(HELP, stdout);
            return 0;
        } else if (cli_is(&a, "--config")) {
            Gpt2Config probe;
            if (!cli_value(&a, &v)) return 2;
            if (!gpt2_config_preset(v, &probe, &err)) return cli_error(&a, "%s", err.msg);
            o->preset = v;
            o->preset_given = true;
        } else if (cli_is(&a, "--model")) {
            if (!cli_value(&a, &o->model)) return 2;
        } else if (cli_is(&a, "--rank")) {
            if (!cli_int(&a, 1, 1 << 20, &o->lora.rank)) return 2;
        } else if (cli_is(&a, "--alpha")) {
            if (!cli_double(&a, -1e9, 1e9, &o->lora.alpha)) return 2;
        } else if (cli_is(&a, "--targets")) {
            if (!cli_value(&a, &v)) return 2;
            if (!lora_config_set_targets(&o->lora, v, &err)) return cli_error(&a, "%s", err.msg);
        } else if (cli_is(&a, "--num-classes")) {
            if (!cli_int(&a, 2, 1 << 20, &o->num_classes)) return 2;
            o->num_classes_given = true;
        } else if (cli_is(&a, "--style")) {
            if (!cli_choice(&a, styles, &o->style)) return 2;
        } else if (cli_is(&a, "--show-structure")) {
            if (!cli_set_flag(&a, &o->show_structure)) return 2;
        } else if (cli_is(&a, "--tensors")) {
            if (!cli_set_flag(&a, &o->tensors)) return 2;
        } else if (cli_is(&a, "--json")) {
            if (!cli_set_flag(&a, &o->json)) return 2;
        } else {
            return cli_unknown(&a);
        }
    }
    if (o->model && o->preset_given) return cli_error(&a, "give --config or --model, not both");
    ModTreeStyle from_targets = lora_targets_style(&o->lora);
    if (o->style == MODTREE_LABS && from_targets == MODTREE_HF)
        return cli_error(&a, "--targets names Hugging Face modules (c_attn, c_fc, c_proj); "
                             "they exist with --style peft, not --style labs");
    if (o->style < 0) o->style = (int)from_targets;
    if (o->style == MODTREE_HF && o->num_classes_given)
        return cli_error(&a, "--num-classes applies to --style labs; PEFT's print counts the "
                             "language model as loaded");
    return -1; /* go on */
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
    Options o = {"gpt2-small", NULL, lora_config_default(), 2, false, false, -1, false, false, false};
    int rc = parse_options(argc, argv, &o);
    if (rc >= 0) return rc;

    LfError err = {0};
    Gpt2Config cfg;
    ModTree plain = {0}, tree = {0};
    ModTreeStyle style = (ModTreeStyle)o.style;
    if (!load_shape(&o, &cfg, &err) || !modtree_build(&tree, &cfg, style, &err) ||
        (o.show_structure && !modtree_build(&plain, &cfg, style, &err)) || !lora_inject(&tree, &o.lora, &err)) {
        fprintf(stderr, "lorafit count-params: %s\n", err.msg);
        if (err.kind == LF_ERR_INPUT) fprintf(stderr, "usage: %s\n", USAGE);
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
