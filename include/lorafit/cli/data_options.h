/* data_options.h - the options of every command that reads a labelled
 * file (train, eval, split), parsed into a DatasetOptions. */
#ifndef LORAFIT_CLI_DATA_OPTIONS_H
#define LORAFIT_CLI_DATA_OPTIONS_H

#include "lorafit/cli/cli.h"
#include "lorafit/data/dataset.h"

/* The options every command that reads a labelled file shares. Call from
 * the cli_next() loop: returns 1 when the current option was one of these
 * (stored in *opt), 0 when it was not, -1 after a usage error was printed
 * (return 2 then). */
int dataset_cli_option(CliArgs *a, DatasetOptions *opt);
#define DATASET_CLI_USAGE \
    "[--format csv|tsv] [--label-col COL] [--text-col COL] [--labels A,B,...] [--header|--no-header]"
#define DATASET_CLI_HELP                                                                   \
    "  --format csv|tsv   how to read the file (default: by extension, else by content)\n" \
    "  --label-col COL    the label column: a header name or a 0-based index\n"            \
    "  --text-col COL     the text column: a header name or a 0-based index\n"             \
    "  --labels A,B,...   fix the classes and their order (A = 0, B = 1, ...)\n"           \
    "  --header, --no-header  whether the first row names the columns (default: guess)\n"
#endif
