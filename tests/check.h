/* check.h - the few macros the C tests share.
 *
 * CHECK(cond, fmt, ...) records a failure with the message and goes on;
 * check_done() prints "N passed, N failed" and returns the exit code.
 * A test that cannot run (missing ../shared data) calls check_skip(reason),
 * which prints the reason and exits 77 (ctest's SKIP_RETURN_CODE). */
#ifndef LORAFIT_TEST_CHECK_H
#define LORAFIT_TEST_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int check_passed, check_failed;

#define CHECK(cond, ...)                                               \
    do {                                                               \
        if (cond) {                                                    \
            check_passed++;                                            \
        } else {                                                       \
            check_failed++;                                            \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);       \
            fprintf(stderr, __VA_ARGS__);                              \
            fputc('\n', stderr);                                       \
        }                                                              \
    } while (0)

#define CHECK_STR_EQ(got, want)                                                        \
    CHECK(strcmp((got), (want)) == 0, "%s\n  got:  \"%s\"\n  want: \"%s\"", #got, (got), \
          (want))

/* Whether |got - want| <= tol * max(1, |want|). */
static inline int check_close(double got, double want, double tol) {
    double scale = fabs(want) > 1.0 ? fabs(want) : 1.0;
    return fabs(got - want) <= tol * scale;
}

static inline int check_done(void) {
    printf("%d passed, %d failed\n", check_passed, check_failed);
    return check_failed ? 1 : 0;
}

static inline void check_skip(const char *reason) {
    printf("SKIP: %s\n", reason);
    exit(77);
}

/* An environment variable the test harness sets (tests/CMakeLists.txt), or
 * `fallback` when the test runs by hand. */
static inline const char *check_env(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

#endif
