/* error.h - how failures travel from a module up to the command.
 *
 * Library functions never print and never exit. A function that can fail
 * takes an `LfError *` last and returns false / NULL / -1 on failure after
 * filling it with one self-contained sentence ("train.csv:12:7: unterminated
 * quote"). Callers add context with lf_error_prefix(); the command prints
 * err.msg once and chooses the exit code. Passing NULL for the error is
 * allowed when the caller does not care why.
 */
#ifndef LORAFIT_ERROR_H
#define LORAFIT_ERROR_H

#include <stdbool.h>

#define LF_ERROR_MAX 1024

typedef enum {
    LF_ERR_NONE = 0,
    LF_ERR_INPUT,   /* the user's input is wrong: bad file, bad value (exit 2) */
    LF_ERR_IO,      /* the system failed us: cannot write, out of memory (exit 1) */
    LF_ERR_RUNTIME, /* something went wrong while computing, e.g. a NaN loss (exit 1) */
} LfErrorKind;

typedef struct {
    LfErrorKind kind;
    char msg[LF_ERROR_MAX];
} LfError;

/* Sets the message (printf-style). Overwrites what was there. */
void lf_error_set(LfError *err, LfErrorKind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Puts "<context>: " in front of the current message. */
void lf_error_prefix(LfError *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Sets a message ending in strerror(errno): "cannot open x: No such file or
 * directory". A file the user named that cannot be read is LF_ERR_INPUT; a
 * failed write or allocation is LF_ERR_IO. */
void lf_error_errno(LfError *err, LfErrorKind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The process exit code a command should use for this error: 2 for bad
 * input, 1 for everything else. */
int lf_error_exit_code(const LfError *err);

#endif
