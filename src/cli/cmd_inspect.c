/* cmd_inspect.c - `lorafit inspect`: what an adapter changed, per layer and
 * target (report/inspect.h). */
#include <stdio.h>
#include <string.h>

#include "lorafit/cli/cli.h"
#include "lorafit/cli/commands.h"
#include "lorafit/cli/session.h"
#include "lorafit/io/adapter.h"
#include "lorafit/io/checkpoint.h"
#include "lorafit/report/inspect.h"
#include "lorafit/report/norm_log.h"

typedef struct {
    const char *adapter, *model, *svg, *log;
    bool json;
} Options;

static const CliOption OPTIONS[] = {
    CLI_HEADING("options:"),
    {.name = "--adapter", .type = CLI_STRING, CLI_AT(Options, adapter), .metavar = "DIR",
     .help = "the adapter to inspect (lorafit's or PEFT's)"},
    {.name = "--log", .type = CLI_STRING, CLI_AT(Options, log), .metavar = "FILE",
     .help = "instead of an adapter, the log of `train --track-norms N --log FILE`: a table of ||dW||_F per layer "
             "and target at up to 8 of the recorded steps; --svg draws one heatmap panel per target (not their "
             "sum), layers down and steps across, one colour scale for all"},
    {.name = "--model", .type = CLI_STRING, CLI_AT(Options, model), .metavar = "DIR",
     .help = "its base model: adds ||W||_F, the ratio, and the histograms of the SVG"},
    {.name = "--svg", .type = CLI_STRING, CLI_AT(Options, svg), .metavar = "FILE",
     .help = "draw the heatmap (layer x target) and, with --model, the histogram of W against dW entries"},
    {.name = "--json", .type = CLI_FLAG, CLI_AT(Options, json), .help = "print the figures as one JSON object"},
    {0}};

static const CliCommand COMMAND = {
    .name = "inspect",
    .usage = "lorafit inspect --adapter DIR [--model DIR] [--svg FILE] [--json] | --log FILE [--svg FILE]",
    .synopsis = "lorafit inspect --adapter DIR [options]\n"
                "       lorafit inspect --log FILE [--svg FILE]",
    .about = "Prints, for every adapter (layer and target), ||dW||_F of its update dW = scale * A @ B,\n"
             "||W||_F of the base matrix and their ratio (with --model), and the singular values of dW\n"
             "with the share of the largest (top1: 100% means the update is of rank one).\n"
             "With --log, the same norm over training, as `train --track-norms` recorded it.",
    .options = OPTIONS,
};

static bool inspect(const Options *o, LfError *err) {
    AdapterConfig ac = {0};
    Classifier net = {0};
    Gpt2Weights shape;
    AdapterInspection ins = {0};
    Gpt2Checkpoint *ck = o->model ? checkpoint_open(o->model, err) : NULL;
    const Gpt2Weights *base = ck ? checkpoint_weights(ck) : NULL;
    bool ok = (!o->model || ck) && adapter_open_alone(o->adapter, base, &ac, &shape, &net, err) &&
              (!ck || adapter_check_base(&ac, checkpoint_config(ck), checkpoint_fingerprint(ck), err)) &&
              inspect_adapter(&net.model, net.slots, base, &ins, err);
    if (ok && o->json) ok = inspect_print_json(stdout, &ins, err);
    else if (ok) inspect_print_table(stdout, &ins, 8);
    if (ok && o->svg) ok = inspect_write_svg(&ins, o->svg, o->adapter, err);
    inspect_free(&ins);
    classifier_free(&net);
    adapter_config_free(&ac);
    checkpoint_close(ck);
    return ok;
}

/* The norms over training that train --track-norms wrote into its log. */
static bool inspect_log(const Options *o, LfError *err) {
    NormLog g;
    if (!norm_log_read(o->log, &g, err)) return false;
    norm_log_print_table(stdout, &g, 8);
    bool ok = !o->svg || norm_log_write_svg(&g, o->svg, o->log, err);
    norm_log_free(&g);
    return ok;
}

int cmd_inspect(int argc, char **argv) {
    Options o = {0};
    CliParse p;
    int rc = cli_parse(&p, &COMMAND, argc, argv, &o);
    if (rc != CLI_RUN) return rc;
    if (!o.adapter == !o.log) return cli_error(&p, "give --adapter DIR or --log FILE (one of them)");
    if (o.log && (o.model || o.json)) return cli_error(&p, "--model and --json are for --adapter, not --log");
    session_set_threads(0); /* OpenBLAS's own threads would spin beside the one that works */
    LfError err = {0};
    if (!(o.log ? inspect_log(&o, &err) : inspect(&o, &err))) {
        fprintf(stderr, "lorafit inspect: %s\n", err.msg);
        return lf_error_exit_code(&err);
    }
    return 0;
}
