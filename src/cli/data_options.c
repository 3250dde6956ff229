/* data_options.c - see include/lorafit/cli/data_options.h */
#include "lorafit/cli/data_options.h"

#include <stdlib.h>

int dataset_cli_option(CliArgs *a, DatasetOptions *opt) {
    static const char *const formats[] = {"csv", "tsv", NULL};
    const char *v;
    if (cli_is(a, "--format")) {
        int k;
        if (!cli_choice(a, formats, &k)) return -1;
        opt->format = k == 0 ? CSV_FORMAT_CSV : CSV_FORMAT_TSV;
    } else if (cli_is(a, "--label-col") || cli_is(a, "--text-col")) {
        if (!cli_value(a, &v)) return -1;
        if (!*v) {
            cli_error(a, "option '%s' needs a column name or index", a->opt);
            return -1;
        }
        *(cli_is(a, "--label-col") ? &opt->label_col : &opt->text_col) = v;
    } else if (cli_is(a, "--labels")) {
        if (!cli_value(a, &v)) return -1;
        LfError err = {0};
        int n = 0;
        char **names = dataset_parse_class_list(v, &n, &err);
        if (names && n < 2) {
            free(names);
            names = NULL;
            lf_error_set(&err, LF_ERR_INPUT, "at least two class names are needed, got '%s'", v);
        }
        if (!names) {
            cli_error(a, "option '--labels': %s", err.msg);
            return -1;
        }
        free(opt->owned_class_names);
        opt->owned_class_names = names;
        opt->class_names = (const char *const *)names;
        opt->n_classes = n;
    } else if (cli_is(a, "--header") || cli_is(a, "--no-header")) {
        if (!cli_flag(a)) return -1;
        opt->header = cli_is(a, "--header") ? DATASET_HEADER_YES : DATASET_HEADER_NO;
    } else {
        return 0;
    }
    return 1;
}
