/* cli.h - the option parser every command shares.
 *
 * A command walks its arguments with cli_next() and asks for typed values
 * with cli_long() / cli_double() / cli_value(). Options take their value as
 * "--rank 8" or "--rank=8". Any mistake prints one line naming the problem
 * plus the command's usage line to stderr and makes the command return 2:
 *
 *   CliArgs a; cli_init(&a, "count-params", USAGE, argc, argv);
 *   const char *arg; int kind;
 *   while ((kind = cli_next(&a, &arg)) != CLI_END) {
 *       if (kind == CLI_POSITIONAL) return cli_error(&a, "unexpected argument '%s'", arg);
 *       if (cli_is(&a, "--help")) { puts(HELP); return 0; }
 *       else if (cli_is(&a, "--rank")) { if (!cli_long(&a, 1, 4096, &rank)) return 2; }
 *       else return cli_unknown(&a);
 *   }
 */
#ifndef LORAFIT_CLI_H
#define LORAFIT_CLI_H

#include <stdbool.h>

enum { CLI_END = 0, CLI_OPTION, CLI_POSITIONAL };

typedef struct {
    const char *cmd;   /* "count-params": used in messages */
    const char *usage; /* the usage line printed after an error */
    int argc;
    char **argv;       /* argv[0] is the command name */
    int next;          /* index of the next argument to read */
    char opt[64];      /* the current option, without any "=value" */
    const char *inline_value; /* the part after '=', or NULL */
    bool only_positionals;    /* after "--" */
} CliArgs;

void cli_init(CliArgs *a, const char *cmd, const char *usage, int argc, char **argv);

/* Reads the next argument. Returns CLI_OPTION (then cli_is() tests it),
 * CLI_POSITIONAL (*arg is it; "-" is positional, as is everything after
 * "--"), or CLI_END. */
int cli_next(CliArgs *a, const char **arg);

/* Whether the current option is `name` ("--rank"). */
bool cli_is(const CliArgs *a, const char *name);

/* The current option's value; on a missing value prints the error and
 * returns false. */
bool cli_value(CliArgs *a, const char **out);

/* Typed values in [lo, hi]; a malformed or out-of-range value prints the
 * error and returns false. */
bool cli_long(CliArgs *a, long lo, long hi, long *out);
bool cli_int(CliArgs *a, int lo, int hi, int *out);
bool cli_double(CliArgs *a, double lo, double hi, double *out);

/* One of `choices` (NULL-terminated); *out is its index. */
bool cli_choice(CliArgs *a, const char *const *choices, int *out);

/* An option that takes no value must not be given one ("--json=1"). */
bool cli_flag(CliArgs *a);
/* cli_flag, then *on = true: the usual switch ("--json"). */
bool cli_set_flag(CliArgs *a, bool *on);

/* Prints "lorafit CMD: <message>" and the usage line to stderr; returns 2. */
int cli_error(const CliArgs *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* cli_error for the current option: "unknown option '--x'". */
int cli_unknown(const CliArgs *a);

/* Whether stderr is a terminal (progress bars, colours). */
bool cli_stderr_is_tty(void);

#endif
