/* cmd_convert_adapter.c - `lorafit convert-adapter`: an adapter rewritten in
 * the labs' names or PEFT's (io/adapter_convert.h). */
#include <stdio.h>
#include <string.h>

#include "lorafit/cli/cli.h"
#include "lorafit/cli/commands.h"
#include "lorafit/io/adapter_convert.h"

typedef struct {
    int to;
    const char *in, *out;
    bool force;
} Options;

/* IN OUT: the first argument is the adapter read, the second the one written. */
static bool take_dir(const char *as, const char *arg, void *field, LfError *err) {
    (void)as;
    Options *o = field;
    if (!o->in) o->in = arg;
    else if (!o->out) o->out = arg;
    else {
        lf_error_set(err, LF_ERR_INPUT, "unexpected argument '%s' (give IN and OUT only)", arg);
        return false;
    }
    return true;
}

static const CliOption OPTIONS[] = {
    CLI_HEADING("options:"),
    {.name = "--to", .type = CLI_CHOICE, CLI_AT(Options, to), .metavar = "NAMES", .flags = CLI_REQUIRED,
     .choices = (const char *const[]){"peft", "labs", NULL}, .values = (const int[]){MODTREE_HF, MODTREE_LABS},
     .help = "peft: PEFT's names and layouts (c_attn, lora_A.weight [r, in], score); labs: the labs' "
             "(W_query, lora.A [in, r], out_head)"},
    {.name = "--force", .type = CLI_FLAG, CLI_AT(Options, force), .help = "replace an existing adapter in OUT"},
    {.name = "IN OUT", .type = CLI_CUSTOM, .at = 0, .size = sizeof(Options), .parse = take_dir,
     .help = "the adapter to read, and where to write the converted one"},
    {0}};

static const CliCommand COMMAND = {
    .name = "convert-adapter",
    .usage = "lorafit convert-adapter --to peft|labs [--force] IN OUT",
    .synopsis = "lorafit convert-adapter --to peft|labs IN OUT",
    .about = "Rewrites an adapter in the other naming, with the same update on every Linear. The labs'\n"
             "W_query, W_key, W_value adapters become one c_attn adapter of rank 3r, block structured\n"
             "(and back, when it is block structured); what changes beyond names and layouts is said\n"
             "on standard error.",
    .options = OPTIONS,
};

int cmd_convert_adapter(int argc, char **argv) {
    Options o = {0};
    CliParse p;
    int rc = cli_parse(&p, &COMMAND, argc, argv, &o);
    if (rc != CLI_RUN) return rc;
    if (!o.in || !o.out) return cli_error(&p, "give the adapter to read and the directory to write (IN OUT)");
    LfError err = {0};
    char note[512];
    if (!adapter_convert(o.in, o.out, (ModTreeStyle)o.to, o.force, note, sizeof note, &err)) {
        fprintf(stderr, "lorafit convert-adapter: %s\n", err.msg);
        return lf_error_exit_code(&err);
    }
    if (note[0]) fprintf(stderr, "lorafit convert-adapter: %s\n", note);
    fprintf(stderr, "lorafit convert-adapter: wrote %s (%s names)\n", o.out, o.to == MODTREE_HF ? "PEFT's" : "the labs'");
    return 0;
}
