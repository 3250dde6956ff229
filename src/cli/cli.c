/* cli.c - see include/lorafit/cli/cli.h */
#include "lorafit/cli/cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void cli_init(CliArgs *a, const char *cmd, const char *usage, int argc, char **argv) {
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    a->usage = usage;
    a->argc = argc;
    a->argv = argv;
    a->next = 1;
}

int cli_next(CliArgs *a, const char **arg) {
    a->opt[0] = '\0';
    a->inline_value = NULL;
    while (a->next < a->argc) {
        const char *s = a->argv[a->next++];
        if (a->only_positionals || s[0] != '-' || s[1] == '\0') {
            *arg = s;
            return CLI_POSITIONAL;
        }
        if (strcmp(s, "--") == 0) {
            a->only_positionals = true;
            continue;
        }
        const char *eq = strchr(s, '=');
        size_t n = eq ? (size_t)(eq - s) : strlen(s);
        if (n >= sizeof a->opt) n = sizeof a->opt - 1;
        memcpy(a->opt, s, n);
        a->opt[n] = '\0';
        a->inline_value = eq ? eq + 1 : NULL;
        *arg = a->opt;
        return CLI_OPTION;
    }
    return CLI_END;
}

bool cli_is(const CliArgs *a, const char *name) { return strcmp(a->opt, name) == 0; }

int cli_error(const CliArgs *a, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "lorafit %s: %s\nusage: %s\n", a->cmd, msg, a->usage);
    fprintf(stderr, "Run 'lorafit %s --help' for the options.\n", a->cmd);
    return 2;
}

int cli_unknown(const CliArgs *a) { return cli_error(a, "unknown option '%s'", a->opt); }

bool cli_value(CliArgs *a, const char **out) {
    if (a->inline_value) {
        *out = a->inline_value;
        return true;
    }
    if (a->next >= a->argc) {
        cli_error(a, "option '%s' needs a value", a->opt);
        return false;
    }
    *out = a->argv[a->next++];
    return true;
}

bool cli_flag(CliArgs *a) {
    if (a->inline_value) {
        cli_error(a, "option '%s' takes no value", a->opt);
        return false;
    }
    return true;
}

bool cli_set_flag(CliArgs *a, bool *on) {
    if (!cli_flag(a)) return false;
    *on = true;
    return true;
}

bool cli_long(CliArgs *a, long lo, long hi, long *out) {
    const char *v;
    if (!cli_value(a, &v)) return false;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || errno == ERANGE) {
        cli_error(a, "option '%s' expects a whole number, got '%s'", a->opt, v);
        return false;
    }
    if (x < lo || x > hi) {
        cli_error(a, "option '%s' must be between %ld and %ld, got %ld", a->opt, lo, hi, x);
        return false;
    }
    *out = x;
    return true;
}

bool cli_int(CliArgs *a, int lo, int hi, int *out) {
    long x;
    if (!cli_long(a, lo, hi, &x)) return false;
    *out = (int)x;
    return true;
}

bool cli_double(CliArgs *a, double lo, double hi, double *out) {
    const char *v;
    if (!cli_value(a, &v)) return false;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (*v == '\0' || *end != '\0' || errno == ERANGE || !isfinite(x)) {
        cli_error(a, "option '%s' expects a number, got '%s'", a->opt, v);
        return false;
    }
    if (x < lo || x > hi) {
        cli_error(a, "option '%s' must be between %g and %g, got %g", a->opt, lo, hi, x);
        return false;
    }
    *out = x;
    return true;
}

bool cli_choice(CliArgs *a, const char *const *choices, int *out) {
    const char *v;
    if (!cli_value(a, &v)) return false;
    for (int i = 0; choices[i]; i++) {
        if (strcmp(v, choices[i]) == 0) {
            *out = i;
            return true;
        }
    }
    char list[512] = "";
    for (int i = 0; choices[i]; i++) {
        strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, choices[i], sizeof list - strlen(list) - 1);
    }
    cli_error(a, "option '%s' expects one of %s, got '%s'", a->opt, list, v);
    return false;
}

bool cli_stderr_is_tty(void) { return isatty(STDERR_FILENO) == 1; }
