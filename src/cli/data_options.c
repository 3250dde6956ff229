/* data_options.c - see include/lorafit/cli/data_options.h */
#include "lorafit/cli/data_options.h"

#include <stdio.h>
#include <stdlib.h>

static bool parse_column(const char *as, const char *v, void *field, LfError *err) {
    if (!*v) {
        lf_error_set(err, LF_ERR_INPUT, "option '%s' needs a column name or index", as);
        return false;
    }
    *(const char **)field = v;
    return true;
}

/* --labels A,B: the classes in id order, owned by the DatasetOptions. */
static bool parse_labels(const char *as, const char *v, void *field, LfError *err) {
    DatasetOptions *opt = field;
    int n = 0;
    char **names = dataset_parse_class_list(v, &n, err);
    if (names && n < 2) {
        free(names);
        names = NULL;
        lf_error_set(err, LF_ERR_INPUT, "at least two class names are needed, got '%s'", v);
    }
    if (!names) {
        lf_error_prefix(err, "option '%s'", as);
        return false;
    }
    free(opt->owned_class_names);
    opt->owned_class_names = names;
    opt->class_names = (const char *const *)names;
    opt->n_classes = n;
    return true;
}

#define OPT_FORMAT                                                                                               \
    {.name = "--format", .type = CLI_CHOICE, CLI_AT(DatasetOptions, format),                                      \
     .choices = (const char *const[]){"csv", "tsv", NULL}, .values = (const int[]){CSV_FORMAT_CSV, CSV_FORMAT_TSV}, \
     .def_text = "by extension, else by content", .help = "how to read the file"}
#define OPT_COLUMNS                                                                                              \
    {.name = "--label-col", .type = CLI_CUSTOM, CLI_AT(DatasetOptions, label_col), .metavar = "COL",              \
     .parse = parse_column, .help = "the label column: a header name or a 0-based index"},                        \
    {.name = "--text-col", .type = CLI_CUSTOM, CLI_AT(DatasetOptions, text_col), .metavar = "COL",                \
     .parse = parse_column, .help = "the text column: a header name or a 0-based index"}
#define OPT_LABELS                                                                                               \
    {.name = "--labels", .type = CLI_CUSTOM, .at = 0, .size = sizeof(DatasetOptions), .metavar = "A,B,...",       \
     .parse = parse_labels, .help = "fix the classes and their order (A = 0, B = 1, ...)"}
#define OPT_HEADER                                                                                               \
    {.name = "--header", .type = CLI_SET, CLI_AT(DatasetOptions, header), .value = DATASET_HEADER_YES},          \
    {.name = "--no-header", .type = CLI_SET, CLI_AT(DatasetOptions, header), .value = DATASET_HEADER_NO,          \
     .def_text = "guess", .help = "whether the first row names the columns"}

const CliOption DATASET_OPTIONS[] = {OPT_FORMAT, OPT_COLUMNS, OPT_LABELS, OPT_HEADER, {0}};
const CliOption DATASET_READ_OPTIONS[] = {OPT_FORMAT, OPT_COLUMNS, OPT_HEADER, {0}};
