/* test_util.c - the shared utilities: the atomic writer leaves the old
 * file or the whole new one and no temporary file, a directory is replaced
 * whole (named with a trailing slash too); UTF-8 as Unicode
 * defines it; FNV-1a against the published test vectors; the monotonic
 * clock. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "lorafit/util/clock.h"
#include "lorafit/util/files.h"
#include "lorafit/util/hash.h"
#include "lorafit/util/utf8.h"

/* Files in dir whose names start with prefix. */
static int count_files(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    if (d) closedir(d);
    return n;
}

static char *slurp(const char *path) {
    size_t len;
    return fs_read_file(path, &len, NULL);
}

static void test_atomic(const char *tmp) {
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/util-files", tmp);
    mkdir(dir, 0777);
    snprintf(path, sizeof path, "%s/out.txt", dir);
    unlink(path);
    LfError err = {0};

    CHECK(fs_write_text(path, "first", &err), "write: %s", err.msg);
    char *got = slurp(path);
    CHECK(got && strcmp(got, "first\n") == 0, "text and a final newline: %s", got ? got : "(none)");
    free(got);

    /* Given up half-way: the old file stays, no temporary file is left. */
    FsAtomic a;
    CHECK(fs_atomic_open(&a, path, &err), "open: %s", err.msg);
    fputs("half", a.f);
    fs_atomic_abort(&a);
    got = slurp(path);
    CHECK(got && strcmp(got, "first\n") == 0, "abort keeps the old file: %s", got ? got : "(none)");
    free(got);
    CHECK(count_files(dir, "out.txt.") == 0, "abort leaves no temporary file");

    /* Finished but not yet renamed: still the old file under the name. */
    CHECK(fs_atomic_open(&a, path, &err), "open again: %s", err.msg);
    fputs("second", a.f);
    CHECK(fs_atomic_finish(&a, &err), "finish: %s", err.msg);
    got = slurp(path);
    CHECK(got && strcmp(got, "first\n") == 0, "finish renames nothing");
    free(got);
    CHECK(fs_atomic_commit(&a, &err), "commit: %s", err.msg);
    got = slurp(path);
    CHECK(got && strcmp(got, "second") == 0, "commit puts the new file in place: %s", got ? got : "(none)");
    free(got);
    CHECK(count_files(dir, "out.txt.") == 0, "commit leaves no temporary file");
    struct stat st;
    mode_t mask = umask(0);
    umask(mask);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == (0666 & ~mask), "mode 0666 less the umask: %o",
          (unsigned)(st.st_mode & 0777));

    char missing[4300];
    snprintf(missing, sizeof missing, "%s/no-such-dir/x", dir);
    CHECK(!fs_write_text(missing, "x", &err) && strstr(err.msg, "cannot create a temporary file beside") &&
              strstr(err.msg, missing) && err.kind == LF_ERR_IO,
          "a missing directory: %s", err.msg);
    CHECK(!fs_write_text(dir, "x", &err) && strstr(err.msg, "is a directory") && err.kind == LF_ERR_INPUT,
          "a directory for a file: %s", err.msg);
    unlink(path);
    rmdir(dir);
}

static void test_utf8(void) {
    static const struct {
        const char *s;
        size_t len;
        bool valid;
    } cases[] = {
        {"plain ascii", 11, true},
        {"caf\xc3\xa9", 5, true},               /* U+00E9 */
        {"\xe2\x82\xac", 3, true},               /* U+20AC */
        {"\xf0\x9f\x98\x80", 4, true},           /* U+1F600 */
        {"\xf4\x8f\xbf\xbf", 4, true},           /* U+10FFFF, the last code point */
        {"\xc0\x80", 2, false},                  /* overlong NUL */
        {"\xe0\x80\xaf", 3, false},              /* overlong '/' */
        {"\xed\xa0\x80", 3, false},              /* U+D800, a surrogate */
        {"\xf4\x90\x80\x80", 4, false},          /* U+110000 */
        {"\xe2\x82", 2, false},                  /* cut short */
        {"\x80", 1, false},                      /* a lone continuation byte */
        {"\xff", 1, false},
        {"a\0b", 3, true},                       /* NUL is a character like any */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK(utf8_valid(cases[i].s, cases[i].len) == cases[i].valid, "case %zu", i);
    uint32_t cp = 0;
    CHECK(utf8_decode((const unsigned char *)"\xe2\x82\xac!", 4, &cp) == 3 && cp == 0x20AC, "decode U+20AC");
    CHECK(utf8_decode((const unsigned char *)"\xf0\x9f\x98\x80", 3, &cp) == 0, "a sequence past len");
}

static void test_hash(void) {
    /* The FNV test suite's vectors for 64-bit FNV-1a. */
    CHECK(hash_fnv(HASH_FNV_START, "", 0) == 0xcbf29ce484222325ULL, "empty");
    CHECK(hash_fnv(HASH_FNV_START, "a", 1) == 0xaf63dc4c8601ec8cULL, "\"a\"");
    CHECK(hash_fnv(HASH_FNV_START, "foobar", 6) == 0x85944171f73967e8ULL, "\"foobar\"");
    /* The word forms are the byte form over the little-endian bytes. */
    CHECK(hash_fnv_u32(HASH_FNV_START, 0x64636261u) == hash_fnv(HASH_FNV_START, "abcd", 4), "u32 = its LE bytes");
    CHECK(hash_fnv_u64(HASH_FNV_START, 0x7261626f6f66ULL) == hash_fnv(HASH_FNV_START, "foobar\0\0", 8),
          "u64 = its LE bytes");
    /* The word step xors the whole word: one step from the basis by hand. */
    CHECK(hash_fnv_word(HASH_FNV_START, 0x100u) == ((0xcbf29ce484222325ULL ^ 0x100u) * 0x100000001b3ULL), "word");
}

static void test_clock(void) {
    double t0 = clock_seconds();
    struct timespec ten_ms = {0, 10 * 1000 * 1000};
    nanosleep(&ten_ms, NULL);
    double t1 = clock_seconds();
    CHECK(t1 - t0 >= 0.009 && t1 - t0 < 5.0, "10 ms measured as %.4f s", t1 - t0);
}

/* A directory named with a trailing slash ("--out ad/", as the shell
 * completes it) is replaced like one without: the temporary directories go
 * beside it, not into it. */
static void test_replace_dir(const char *tmp) {
    static const char *const files[] = {"a", NULL};
    char top[4096], out[4200], slashed[4300], t[4400], path[4500];
    snprintf(top, sizeof top, "%s/util-replace", tmp);
    snprintf(out, sizeof out, "%s/out", top);
    snprintf(slashed, sizeof slashed, "%s/", out);
    LfError err = {0};
    mkdir(top, 0777);
    mkdir(out, 0777);
    snprintf(path, sizeof path, "%s/a", out);
    CHECK(fs_write_text(path, "old", &err), "write: %s", err.msg);
    CHECK(fs_same_path(out, slashed) && !fs_same_path(out, top), "fs_same_path: out and out/ only");

    CHECK(fs_make_temp_dir(slashed, t, sizeof t, &err), "temp dir: %s", err.msg);
    CHECK(strncmp(t, out, strlen(out)) == 0 && t[strlen(out)] == '.', "beside out, not in it: %s", t);
    snprintf(path, sizeof path, "%s/a", t);
    CHECK(fs_write_text(path, "new", &err), "write: %s", err.msg);
    CHECK(fs_replace_dir(t, slashed, files, &err), "replace out/: %s", err.msg);
    snprintf(path, sizeof path, "%s/a", out);
    char *got = slurp(path);
    CHECK(got && strcmp(got, "new\n") == 0, "out/a is the new one: %s", got ? got : "(none)");
    free(got);
    CHECK(count_files(out, ".") == 2 && count_files(top, "out.") == 0, "no temporary directory left");
    fs_remove_dir(out, files);
    rmdir(top);
}

int main(void) {
    test_atomic(check_env("LORAFIT_TMP", "/tmp"));
    test_replace_dir(check_env("LORAFIT_TMP", "/tmp"));
    test_utf8();
    test_hash();
    test_clock();
    return check_done();
}
