/* cmd_eval.c - `lorafit eval`: accuracy, per-class precision / recall / F1
 * and the confusion matrix of a trained adapter on a labelled file. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/cli/cli.h"
#include "lorafit/cli/commands.h"
#include "lorafit/cli/data_options.h"
#include "lorafit/cli/session.h"
#include "lorafit/data/tokenset.h"

typedef struct {
    AdapterOptions m;
    const char *data;
    bool json;
    DatasetOptions dopt;
} Options;

static const CliOption OPTIONS[] = {
    CLI_HEADING("options:"),
    CLI_INCLUDE(ADAPTER_OPTIONS, Options, m),
    {.name = "--data", .type = CLI_STRING, CLI_AT(Options, data), .metavar = "FILE", .flags = CLI_REQUIRED,
     .help = "a labelled CSV or TSV file"},
    {.name = "--json", .type = CLI_FLAG, CLI_AT(Options, json), .help = "print the results as one JSON object"},
    CLI_INCLUDE(DATASET_OPTIONS, Options, dopt),
    {0}};

static const CliCommand COMMAND = {
    .name = "eval",
    .usage = "lorafit eval --model DIR --adapter DIR --data FILE [--json] [--batch-size N] [--threads N] "
             "[--vocab DIR] " DATASET_CLI_USAGE,
    .synopsis = "lorafit eval --model DIR --adapter DIR --data FILE [options]",
    .about = "Classifies every row of FILE with the adapter and prints the accuracy as the labs\n"
             "print it (\"Test accuracy: 97.99%\"), per-class precision, recall and F1, and the\n"
             "confusion matrix. Labels are read against the adapter's classes: a class name, or a\n"
             "class id written as a number (the labs' 0/1 files).",
    .options = OPTIONS,
};

static int parse_options(int argc, char **argv, Options *o) {
    CliParse p;
    int rc = cli_parse(&p, &COMMAND, argc, argv, o);
    if (rc == CLI_RUN && cli_given(&p, "--labels"))
        return cli_error(&p, "--labels cannot be used with eval: the classes are the adapter's");
    return rc;
}

typedef struct {
    int C;
    long n, correct;
    long *confusion; /* [C, C]: row = true class, column = predicted */
} Scores;

static void score_row(Scores *s, int truth, const float *probs) {
    int pred = 0;
    for (int c = 1; c < s->C; c++)
        if (probs[c] > probs[pred]) pred = c;
    s->confusion[(size_t)truth * s->C + pred]++;
    s->correct += pred == truth;
    s->n++;
}

static void class_metrics(const Scores *s, int c, double *precision, double *recall, double *f1, long *support) {
    long tp = s->confusion[(size_t)c * s->C + c], predicted = 0, actual = 0;
    for (int k = 0; k < s->C; k++) {
        predicted += s->confusion[(size_t)k * s->C + c];
        actual += s->confusion[(size_t)c * s->C + k];
    }
    *precision = predicted ? (double)tp / (double)predicted : 0.0;
    *recall = actual ? (double)tp / (double)actual : 0.0;
    *f1 = *precision + *recall > 0 ? 2 * *precision * *recall / (*precision + *recall) : 0.0;
    *support = actual;
}

static int name_width(char **names, int C, int min) {
    int w = min;
    for (int c = 0; c < C; c++)
        if ((int)strlen(names[c]) > w) w = (int)strlen(names[c]);
    return w;
}

static void print_text(const Scores *s, char **names, double loss) {
    printf("Test accuracy: %.2f%%\n", s->n ? 100.0 * (double)s->correct / (double)s->n : 0.0);
    printf("Test loss: %.4f (%ld texts)\n\n", loss, s->n);
    int w = name_width(names, s->C, 5);
    printf("%-*s  %9s  %9s  %9s  %7s\n", w, "class", "precision", "recall", "f1", "support");
    for (int c = 0; c < s->C; c++) {
        double p, r, f;
        long support;
        class_metrics(s, c, &p, &r, &f, &support);
        printf("%-*s  %9.4f  %9.4f  %9.4f  %7ld\n", w, names[c], p, r, f, support);
    }
    printf("\nConfusion matrix (rows: true class, columns: predicted):\n%-*s", w, "");
    int cw = name_width(names, s->C, 6);
    for (int c = 0; c < s->C; c++) printf("  %*s", cw, names[c]);
    printf("\n");
    for (int t = 0; t < s->C; t++) {
        printf("%-*s", w, names[t]);
        for (int p = 0; p < s->C; p++) printf("  %*ld", cw, s->confusion[(size_t)t * s->C + p]);
        printf("\n");
    }
}

static void print_json(const Scores *s, char **names, double loss) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "accuracy", s->n ? (double)s->correct / (double)s->n : 0.0);
    cJSON_AddNumberToObject(root, "loss", loss);
    cJSON_AddNumberToObject(root, "n", (double)s->n);
    cJSON_AddNumberToObject(root, "correct", (double)s->correct);
    cJSON *classes = cJSON_AddArrayToObject(root, "classes");
    for (int c = 0; c < s->C; c++) {
        double p, r, f;
        long support;
        class_metrics(s, c, &p, &r, &f, &support);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", names[c]);
        cJSON_AddNumberToObject(o, "precision", p);
        cJSON_AddNumberToObject(o, "recall", r);
        cJSON_AddNumberToObject(o, "f1", f);
        cJSON_AddNumberToObject(o, "support", (double)support);
        cJSON_AddItemToArray(classes, o);
    }
    cJSON *matrix = cJSON_AddArrayToObject(root, "confusion_matrix");
    for (int t = 0; t < s->C; t++) {
        cJSON *row = cJSON_CreateArray();
        for (int p = 0; p < s->C; p++) cJSON_AddItemToArray(row, cJSON_CreateNumber((double)s->confusion[(size_t)t * s->C + p]));
        cJSON_AddItemToArray(matrix, row);
    }
    char *text = cJSON_Print(root);
    if (text) puts(text);
    free(text);
    cJSON_Delete(root);
}

/* Loads everything, classifies, scores. Returns the exit code. */
static int run(Options *o, LfError *err) {
    Session s;
    Dataset *data = NULL;
    TokenSet ts = {0};
    float *probs = NULL;
    int rc = 1;
    if (!session_open_adapter(&s, &o->m, err)) goto done;
    const AdapterConfig *ac = &s.ac;
    o->dopt.class_names = (const char *const *)ac->class_names;
    o->dopt.n_classes = ac->n_classes;
    if (!(data = dataset_load(o->data, &o->dopt, err))) goto done;
    dataset_print_warnings(data, "eval", o->data, stderr);
    if (!tokenset_encode(&ts, s.tok, data->texts, data->labels, data->n, ac->max_length, err)) {
        lf_error_prefix(err, "%s", o->data);
        goto done;
    }
    probs = malloc(ts.n * (size_t)ac->n_classes * sizeof *probs);
    Scores sc = {ac->n_classes, 0, 0, calloc((size_t)ac->n_classes * ac->n_classes, sizeof(long))};
    double loss = 0;
    if (!probs || !sc.confusion) {
        lf_error_set(err, LF_ERR_IO, "out of memory");
        free(sc.confusion);
        goto done;
    }
    if (session_classify(&s, &ts, probs, &loss, err)) {
        if (ts.n_truncated)
            fprintf(stderr, "lorafit eval: note: %zu of %zu texts are longer than %d tokens and were cut\n",
                    ts.n_truncated, ts.n, ac->max_length);
        for (size_t i = 0; i < ts.n; i++) score_row(&sc, ts.labels[i], probs + i * (size_t)ac->n_classes);
        if (o->json) print_json(&sc, ac->class_names, loss);
        else print_text(&sc, ac->class_names, loss);
        rc = 0;
    }
    free(sc.confusion);
done:
    free(probs);
    tokenset_free(&ts);
    dataset_free(data);
    session_close(&s);
    return rc ? lf_error_exit_code(err) : 0;
}

int cmd_eval(int argc, char **argv) {
    Options o = {0};
    int rc = parse_options(argc, argv, &o);
    if (rc != CLI_RUN) {
        dataset_options_free(&o.dopt);
        return rc;
    }
    session_set_threads(o.m.threads);
    LfError err = {0};
    o.dopt.class_names = NULL;
    rc = run(&o, &err);
    if (rc) fprintf(stderr, "lorafit eval: %s\n", err.msg);
    o.dopt.class_names = NULL; /* the adapter's, freed with it */
    dataset_options_free(&o.dopt);
    return rc;
}
