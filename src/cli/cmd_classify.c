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
             "With '-' the messages are read from standard input, one per line.\n"
             "With several --adapter, a line per adapter for each message, prefixed by its\n"
             "directory (\"out/a1: spam (confidence: 0.98)\"); with --json a \"results\" array.",
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

/* One adapter's answers: its config (moved out of the session) and probs [n, n_classes]. */
typedef struct {
    const char *dir; /* NULL: the merged classifier */
    AdapterConfig ac;
    float *probs;
} Run;

static int best_class(const AdapterConfig *ac, const float *probs) {
    int best = 0;
    for (int c = 1; c < ac->n_classes; c++)
        if (probs[c] > probs[best]) best = c;
    return best;
}

/* label, confidence and probabilities of one answer, into obj */
static void add_result(cJSON *obj, const AdapterConfig *ac, const float *probs) {
    int best = best_class(ac, probs);
    cJSON_AddStringToObject(obj, "label", ac->class_names[best]);
    cJSON_AddNumberToObject(obj, "confidence", round6(probs[best]));
    cJSON *p = cJSON_AddObjectToObject(obj, "probabilities");
    for (int c = 0; c < ac->n_classes; c++) cJSON_AddNumberToObject(p, ac->class_names[c], round6(probs[c]));
}

/* Message i: with one adapter as always; with several, a line per adapter
 * prefixed by its directory, or one JSON object with a "results" array. */
static void print_message(const Options *o, const Run *runs, int n_runs, size_t i) {
    if (!o->json) {
        for (int r = 0; r < n_runs; r++) {
            const float *probs = runs[r].probs + i * (size_t)runs[r].ac.n_classes;
            int best = best_class(&runs[r].ac, probs);
            if (n_runs > 1) printf("%s: ", runs[r].dir);
            printf("%s (confidence: %.2f)\n", runs[r].ac.class_names[best], probs[best]);
        }
        return;
    }
    cJSON *obj = cJSON_CreateObject();
    cJSON_AddStringToObject(obj, "text", o->messages[i]);
    if (n_runs == 1) add_result(obj, &runs[0].ac, runs[0].probs + i * (size_t)runs[0].ac.n_classes);
    cJSON *results = n_runs > 1 ? cJSON_AddArrayToObject(obj, "results") : NULL;
    for (int r = 0; results && r < n_runs; r++) {
        cJSON *one = cJSON_CreateObject();
        cJSON_AddStringToObject(one, "adapter", runs[r].dir);
        add_result(one, &runs[r].ac, runs[r].probs + i * (size_t)runs[r].ac.n_classes);
        cJSON_AddItemToArray(results, one);
    }
    char *line = cJSON_PrintUnformatted(obj);
    if (line) puts(line);
    free(line);
    cJSON_Delete(obj);
}

/* Classifies every message with the adapter run->dir over the opened base;
 * the texts are encoded again only when its max_length differs from the last. */
static bool classify_with(Session *s, Options *o, TokenSet *ts, int *encoded_for, Run *run, LfError *err) {
    if (!session_use_adapter(s, run->dir, err)) return false;
    bool encode = *encoded_for != s->ac.max_length;
    if (encode) {
        tokenset_free(ts);
        memset(ts, 0, sizeof *ts);
        if (!tokenset_encode(ts, s->tok, (const char *const *)o->messages, NULL, o->n, s->ac.max_length, err))
            return false;
        *encoded_for = s->ac.max_length;
    }
    run->probs = malloc(ts->n * (size_t)s->ac.n_classes * sizeof *run->probs);
    if (!run->probs) {
        lf_error_set(err, LF_ERR_IO, "out of memory");
        return false;
    }
    if (!session_classify(s, ts, run->probs, NULL, err)) return false;
    if (encode && ts->n_truncated)
        fprintf(stderr, "lorafit classify: note: %zu message(s) longer than %d tokens were cut\n", ts->n_truncated,
                s->ac.max_length);
    run->ac = s->ac; /* kept for printing; the session loads the next one afresh */
    memset(&s->ac, 0, sizeof s->ac);
    return true;
}

static int run(Options *o, LfError *err) {
    Session s;
    TokenSet ts = {0};
    int n_runs = o->m.adapters.n ? o->m.adapters.n : 1, encoded_for = -1;
    Run runs[CLI_LIST_MAX] = {{0}};
    bool ok = false;
    if (o->from_stdin && !cli_read_stdin_lines(&o->stdin_text, &o->messages, &o->n, "message", err))
        return lf_error_exit_code(err);
    if (!session_open_classifier_base(&s, &o->m, err)) goto done;
    for (int r = 0; r < n_runs; r++) {
        runs[r].dir = o->m.adapters.n ? o->m.adapters.v[r] : NULL;
        if (!classify_with(&s, o, &ts, &encoded_for, &runs[r], err)) goto done;
    }
    for (size_t i = 0; i < ts.n; i++) print_message(o, runs, n_runs, i);
    ok = true;
done:
    for (int r = 0; r < n_runs; r++) {
        free(runs[r].probs);
        adapter_config_free(&runs[r].ac);
    }
    tokenset_free(&ts);
    session_close(&s);
    return ok ? 0 : lf_error_exit_code(err);
}

int cmd_classify(int argc, char **argv) {
    Options o = {.m.command = "classify"};
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
