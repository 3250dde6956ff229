/* error.c - see include/lorafit/util/error.h */
#include "lorafit/util/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void lf_error_set(LfError *err, LfErrorKind kind, const char *fmt, ...) {
    if (!err) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->kind = kind;
}

void lf_error_prefix(LfError *err, const char *fmt, ...) {
    if (!err) return;
    char prefix[LF_ERROR_MAX], old[LF_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    /* A message too long for the buffer is cut, which is fine for a message. */
    if (snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old) < 0) err->msg[0] = '\0';
}

void lf_error_errno(LfError *err, LfErrorKind kind, const char *fmt, ...) {
    int saved = errno;
    if (!err) return;
    char what[LF_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (snprintf(err->msg, sizeof err->msg, "%s: %s", what, strerror(saved)) < 0) err->msg[0] = '\0';
    err->kind = kind;
}

int lf_error_exit_code(const LfError *err) {
    return err && err->kind == LF_ERR_INPUT ? 2 : 1;
}
