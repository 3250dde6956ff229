/* cli.h - the one option parser every command shares.
 *
 * A command declares its options in a table: name, type, range, default,
 * help line, and where the value goes in the command's options struct.
 * cli_parse() fills the struct from argv, answers --help / -h with the help
 * generated from the table, and reports every mistake the same way:
 * "lorafit CMD: <what>", the usage line and a pointer to --help on stderr.
 *
 *   typedef struct { const char *out; int rank; bool json; } Options;
 *   static const CliOption OPTIONS[] = {
 *       CLI_HEADING("options:"),
 *       {.name = "--out", .type = CLI_STRING, CLI_AT(Options, out), .metavar = "DIR",
 *        .flags = CLI_REQUIRED, .help = "where the result goes"},
 *       {.name = "--rank", .type = CLI_INT, CLI_AT(Options, rank), .lo = 1, .hi = 65536,
 *        .metavar = "N", .def = "8", .help = "LoRA rank"},
 *       {.name = "--json", .type = CLI_FLAG, CLI_AT(Options, json), .help = "print JSON"},
 *       {0}};
 *   static const CliCommand COMMAND = {.name = "demo", .usage = "lorafit demo --out DIR [--rank N] [--json]",
 *                                      .about = "Does the demo.", .options = OPTIONS};
 *   Options o = {0};
 *   CliParse p;
 *   int rc = cli_parse(&p, &COMMAND, argc, argv, &o);
 *   if (rc != CLI_RUN) return rc;          0 after --help, 2 after a usage error
 *   if (!cli_given(&p, "--rank")) ...      the default was kept
 *
 * Options take their value as "--rank 8" or "--rank=8"; "--" ends the
 * options and "-" is an argument; -h is --help. Shared entries (one option used by several
 * commands) are macros in common_options.h; shared groups (the dataset
 * options, a trained adapter's options) are tables included with CLI_GROUP.
 */
#ifndef LORAFIT_CLI_H
#define LORAFIT_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "lorafit/util/error.h"

typedef enum {
    CLI_TABLE_END = 0, /* {0} ends a table */
    CLI_HEADING,       /* not an option: a heading of the help ("LoRA:") */
    CLI_GROUP,         /* not an option: the entries of .group, their .at relative to this .at */
    CLI_FLAG,          /* no value; stores 1 (into a bool or an int) */
    CLI_SET,           /* no value; stores .value ("--no-header", "--keep-last") */
    CLI_STRING,        /* const char *, pointing into argv (or at .def) */
    CLI_STRING_LIST,   /* repeatable: each value appended to a CliStringList (no .def: empty) */
    CLI_INT,           /* a whole number in [lo, hi], into an int, long or uint64_t field */
    CLI_DOUBLE,        /* a finite number in [lo_f, hi_f], into a double */
    CLI_CHOICE,        /* one of .choices; stores .values[i], or i, into an int or enum field */
    CLI_CUSTOM,        /* .parse checks the value and stores it */
    CLI_ALIAS,         /* another name of option .alias_of (an older name kept working) */
} CliType;

enum {
    CLI_REQUIRED = 1, /* "--model is required" when not given */
    CLI_FIXED = 2,    /* fixed for a run: compared on `train --resume` (cli_first_change) */
};

/* A CLI_STRING_LIST's values in the order given, pointing into argv. More
 * than CLI_LIST_MAX is a usage error: a list is a handful of directories. */
enum { CLI_LIST_MAX = 16 };
typedef struct {
    const char *v[CLI_LIST_MAX];
    int n;
} CliStringList;

typedef struct CliOption {
    /* "--rank"; an argument's placeholder ("INPUT": a name without '-'); a heading's text. */
    const char *name;
    const char *alias_of; /* CLI_ALIAS: the option this older name stands for */
    CliType type;
    size_t at, size;      /* the value's offset and size in the options struct: CLI_AT() */
    const char *metavar;  /* "N", "DIR" in the help; a choice's default is "a|b" */
    long long lo, hi;     /* CLI_INT */
    double lo_f, hi_f;    /* CLI_DOUBLE */
    const char *const *choices; /* CLI_CHOICE, NULL-terminated */
    const int *values;          /* CLI_CHOICE: what choice i stores (NULL: i) */
    int value;                  /* CLI_SET */
    /* CLI_CUSTOM: checks `value` of option `as` (the name given), stores it at
     * `field`; false with err set, which is printed as the usage error. */
    bool (*parse)(const char *as, const char *value, void *field, LfError *err);
    /* CLI_CUSTOM with CLI_FIXED: whether the values at a and b are the same. */
    bool (*same)(const void *a, const void *b);
    const char *def;      /* the default: stored before parsing, shown "(default 8)" */
    const char *def_text; /* or a default only described: "(default: every core)" */
    unsigned flags;       /* CLI_REQUIRED, CLI_FIXED */
    /* One paragraph; '\n' breaks the line, the rest is wrapped. NULL lists the
     * option on one line with the next entry ("--header, --no-header"). */
    const char *help;
    const struct CliOption *group; /* CLI_GROUP */
} CliOption;

/* Where an option's value goes: `.at` and `.size` of T's member `field`. */
#define CLI_AT(T, field) .at = offsetof(T, field), .size = sizeof(((T *)0)->field)
#define CLI_HEADING(text) {.name = (text), .type = CLI_HEADING}
#define CLI_INCLUDE(table, T, field) {.type = CLI_GROUP, .group = (table), .at = offsetof(T, field)}
#define CLI_ALIAS(old, name_) {.name = (old), .type = CLI_ALIAS, .alias_of = (name_)}

/* A positional argument is an entry whose name has no leading '-' ("INPUT"):
 * a CLI_STRING takes one (a second is "unexpected argument"), a CLI_CUSTOM
 * takes each through .parse. Without one, any argument is unexpected. */

typedef struct {
    const char *name;     /* "train": in messages */
    const char *usage;    /* the synopsis printed after a usage error */
    const char *synopsis; /* the usage lines of the help (default: usage) */
    const char *about;    /* the help's description, between usage and options */
    const CliOption *options;
    const char *epilogue; /* the help's last paragraph, or NULL */
} CliCommand;

enum { CLI_RUN = -1, CLI_MAX_ENTRIES = 96 };

/* A command's options, flattened (groups expanded), and which were given. */
typedef struct {
    const CliOption *opt;
    size_t at; /* offset of the value in the options struct */
} CliEntry;

typedef struct {
    const CliCommand *cmd;
    CliEntry entries[CLI_MAX_ENTRIES];
    int n_entries;
    short given[CLI_MAX_ENTRIES]; /* entry indices in the order first given */
    int n_given;
} CliParse;

/* Stores every default, then argv's options and arguments, into `out`; then
 * checks the required ones. Returns CLI_RUN to go on, or the exit code: 0
 * after --help (printed to stdout), 2 after a usage error (printed). */
int cli_parse(CliParse *p, const CliCommand *c, int argc, char **argv, void *out);

/* Whether the option `name` ("--epochs") was given. An unknown name is a bug: abort. */
bool cli_given(const CliParse *p, const char *name);

/* Of the CLI_FIXED options given, in the order given, the first whose value
 * differs between the options structs a and b, or NULL. */
const char *cli_first_change(const CliParse *p, const void *a, const void *b);

/* When one of names[] (NULL-terminated) was given: "lorafit CMD: NAME
 * <why>" as cli_error() prints it, and 2; else CLI_RUN. For options that
 * belong to another --task. */
int cli_refuse_given(const CliParse *p, const char *const *names, const char *why);

/* An LF_ERR_INPUT error when the file `out` that option out_opt writes is
 * the file `in` that in_opt reads (--log given the --train file): writing
 * it would destroy the input. Either may be NULL (not given). */
bool cli_check_not_input(const char *out_opt, const char *out, const char *in_opt, const char *in, LfError *err);

/* An LF_ERR_INPUT error when the directory --out names is model_dir, the
 * model read from (merge, quantize): --force would replace the model. */
bool cli_check_out_not_model(const char *out, const char *model_dir, LfError *err);

/* Prints "lorafit CMD: <message>" and the usage line to stderr; returns 2. */
int cli_error(const CliParse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The help generated from the command's table. */
void cli_print_help(const CliCommand *c, FILE *f);

/* Whether stderr is a terminal (progress bars). */
bool cli_stderr_is_tty(void);

/* Reads standard input whole (*text, owned) and splits it into its
 * non-empty lines (LF or CRLF): *lines [*n] (owned array) points into
 * *text. No line at all is an LF_ERR_INPUT error "standard input holds no
 * `what`", and so is a NUL byte (naming its line). On failure the caller
 * still frees *text and *lines. */
bool cli_read_stdin_lines(char **text, char ***lines, size_t *n, const char *what, LfError *err);

#endif
