/* data_options.h - the options of every command that reads a labelled
 * file (train, eval, split): a table of entries stored into a
 * DatasetOptions, included in a command's table with
 * CLI_INCLUDE(DATASET_OPTIONS, Options, dopt). */
#ifndef LORAFIT_CLI_DATA_OPTIONS_H
#define LORAFIT_CLI_DATA_OPTIONS_H

#include "lorafit/cli/cli.h"
#include "lorafit/data/dataset.h"

extern const CliOption DATASET_OPTIONS[];
/* The same but --labels: for eval, whose classes are the adapter's. */
extern const CliOption DATASET_READ_OPTIONS[];

#define DATASET_CLI_USAGE \
    "[--format csv|tsv] [--label-col COL] [--text-col COL] [--labels A,B,...] [--header|--no-header]"
#define DATASET_READ_CLI_USAGE "[--format csv|tsv] [--label-col COL] [--text-col COL] [--header|--no-header]"
#endif
