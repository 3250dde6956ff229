/* cmd_classify.c - `lorafit classify`: label messages with a trained adapter. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/cli/cli.h"
#include "lorafit/cli/commands.h"
#include "lorafit/cli/session.h"
#include "lorafit/data/tokenset.h"

typedef struct {
    AdapterOptions m;
    bool json, from_stdin;
    char **messages; /* owned array of pointers: into argv, or lines read from stdin */
    size_t n, cap;
    char *stdin_text; /* owned when reading stdin */
} Options;

static bool push_message(Options *o, char *text) {
    if (o->n == o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 16;
        char **grown = realloc(o->messages, cap * sizeof *grown);
        if (!grown) return false;
        o->messages = grown;
        o->cap = cap;
    }
    o->messages[o->n++] = text;
    return true;
}

/* MESSAGE...: each argument is a message; '-' reads them from stdin. */
static bool take_message(const char *as, const char *arg, void *field, LfError *err) {
    (void)as;
    Options *o = field;
    if (strcmp(arg, "-") == 0) o->from_stdin = true;
    else if (!push_message(o, (char *)arg)) {
        lf_error_set(err, LF_ERR_IO, "out of memory");
        return false;
    }
    return true;
}

static const CliOption OPTIONS[] = {
    CLI_HEADING("options:"),
    CLI_INCLUDE(ADAPTER_OPTIONS, Options, m),
    {.name = "--json", .type = CLI_FLAG, CLI_AT(Options, json),
     .help = "one JSON object per line: text, label, confidence, probabilities"},
    {.name = "MESSAGE", .type = CLI_CUSTOM, .at = 0, .size = sizeof(Options), .parse = take_message},
    {0}};

static const CliCommand COMMAND = {
    .name = "classify",
    .usage = "lorafit classify --model DIR --adapter DIR [--json] [--threads N] [--vocab DIR] MESSAGE... | -",
    .synopsis = "lorafit classify --model DIR --adapter DIR [options] MESSAGE...\n"
                "       lorafit classify --model DIR --adapter DIR [options] -   < messages.txt",
    .about = "Prints the class of each message and the model's probability for it, one line per\n"
             "message in the order given:\n"
             "  spam (confidence: 0.98)\n"
             "With '-' the messages are read from standard input, one per line.",
    .options = OPTIONS,
};

static int parse_options(int argc, char **argv, Options *o) {
    CliParse p;
    int rc = cli_parse(&p, &COMMAND, argc, argv, o);
    if (rc != CLI_RUN) return rc;
    if (o->from_stdin && o->n)
        return cli_error(&p, "give messages as arguments or '-' for standard input, not both");
    if (!o->from_stdin && !o->n)
        return cli_error(&p, "no message given (pass messages, or '-' to read standard input)");
    return CLI_RUN;
}

/* Six decimals are plenty for a probability, and print without float noise. */
static double round6(double x) { return round(x * 1e6) / 1e6; }

static void print_result(const Options *o, const AdapterConfig *ac, const char *text, const float *probs) {
    int best = 0;
    for (int c = 1; c < ac->n_classes; c++)
        if (probs[c] > probs[best]) best = c;
    if (!o->json) {
        printf("%s (confidence: %.2f)\n", ac->class_names[best], probs[best]);
        return;
    }
    cJSON *obj = cJSON_CreateObject();
    cJSON_AddStringToObject(obj, "text", text);
    cJSON_AddStringToObject(obj, "label", ac->class_names[best]);
    cJSON_AddNumberToObject(obj, "confidence", round6(probs[best]));
    cJSON *p = cJSON_AddObjectToObject(obj, "probabilities");
    for (int c = 0; c < ac->n_classes; c++) cJSON_AddNumberToObject(p, ac->class_names[c], round6(probs[c]));
    char *line = cJSON_PrintUnformatted(obj);
    if (line) puts(line);
    free(line);
    cJSON_Delete(obj);
}

static int run(Options *o, LfError *err) {
    Session s;
    TokenSet ts = {0};
    float *probs = NULL;
    bool ok = false;
    if (o->from_stdin && !cli_read_stdin_lines(&o->stdin_text, &o->messages, &o->n, "message", err))
        return lf_error_exit_code(err);
    if (!session_open_adapter(&s, &o->m, err) ||
        !tokenset_encode(&ts, s.tok, (const char *const *)o->messages, NULL, o->n, s.ac.max_length, err))
        goto done;
    probs = malloc(ts.n * (size_t)s.ac.n_classes * sizeof *probs);
    if (!probs) {
        lf_error_set(err, LF_ERR_IO, "out of memory");
        goto done;
    }
    if (!session_classify(&s, &ts, probs, NULL, err)) goto done;
    if (ts.n_truncated)
        fprintf(stderr, "lorafit classify: note: %zu message(s) longer than %d tokens were cut\n", ts.n_truncated,
                s.ac.max_length);
    for (size_t i = 0; i < ts.n; i++) print_result(o, &s.ac, o->messages[i], probs + i * (size_t)s.ac.n_classes);
    ok = true;
done:
    free(probs);
    tokenset_free(&ts);
    session_close(&s);
    return ok ? 0 : lf_error_exit_code(err);
}

int cmd_classify(int argc, char **argv) {
    Options o = {0};
    int rc = parse_options(argc, argv, &o);
    if (rc == CLI_RUN) {
        session_set_threads(o.m.threads);
        LfError err = {0};
        rc = run(&o, &err);
        if (rc) fprintf(stderr, "lorafit classify: %s\n", err.msg);
    }
    free(o.messages);
    free(o.stdin_text);
    return rc;
}
