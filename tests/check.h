/* check.h - the few macros the C tests share.
 *
 * CHECK(cond, fmt, ...) records a failure with the message and goes on;
 * REQUIRE(cond, fmt, ...) is CHECK for a precondition of the checks after
 * it (an object they read, a model they run): when it fails the test
 * program stops there, with the tally and exit status 1, instead of going
 * on through a NULL or a half-built object.
 * check_done() prints "N passed, N failed" and returns the exit code.
 * A test that cannot run (an input file absent) calls check_skip(reason),
 * which prints the reason and exits 77 (ctest's SKIP_RETURN_CODE). */
#ifndef LORAFIT_TEST_CHECK_H
#define LORAFIT_TEST_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

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

#define REQUIRE(cond, ...)                                             \
    do {                                                               \
        int require_ok_ = (cond) ? 1 : 0; /* evaluated once */         \
        CHECK(require_ok_, __VA_ARGS__);                               \
        if (!require_ok_) check_stop();                                \
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

/* REQUIRE's way out: the checks after a failed precondition cannot run. */
static inline void check_stop(void) {
    fprintf(stderr, "stopped: the checks after this one depend on it\n");
    (void)check_done();
    exit(1);
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

/* dst = $LORAFIT_SOURCE_DIR/rel: a file of the source tree (fixtures,
 * data/), found from the build tree's tests or from "." by hand. */
static inline const char *check_source_path(char *dst, size_t cap, const char *rel) {
    snprintf(dst, cap, "%s/%s", check_env("LORAFIT_SOURCE_DIR", "."), rel);
    return dst;
}

/* dst = $LORAFIT_TMP/name, created if need be: a test's scratch directory. */
static inline const char *check_tmp_dir(char *dst, size_t cap, const char *name) {
    snprintf(dst, cap, "%s/%s", check_env("LORAFIT_TMP", "/tmp"), name);
    mkdir(dst, 0755);
    return dst;
}

/* The SMS Spam Collection committed under data/ (see data/README.md), or a
 * skip naming it when a checkout lacks it. */
static inline const char *check_sms_path(char *dst, size_t cap) {
    check_source_path(dst, cap, "data/sms_spam/SMSSpamCollection");
    if (access(dst, R_OK) != 0) {
        char reason[4200];
        snprintf(reason, sizeof reason, "%.4000s is absent (the SMS Spam Collection, committed under data/)", dst);
        check_skip(reason);
    }
    return dst;
}

#endif
