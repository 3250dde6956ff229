/* test_bench_io.c - the GEMM list as text (bench_io.h), what `bench` sends
 * to the process that times its ceiling on other kernels: a list comes back
 * as written, entries in order and never merged; every malformed line is
 * refused with its line number. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "lorafit/report/bench_io.h"

/* Reads text; returns whether it was accepted, the list in g. */
static bool read_text(const char *text, BenchGemms *g, char *kernels, size_t cap, LfError *err) {
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    if (!f) return false;
    bool ok = bench_gemms_read(f, "list", g, kernels, cap, err);
    fclose(f);
    return ok;
}

static void test_round_trip(void) {
    BenchGemm e[3] = {
        {"fwd qkv", 'N', 'N', 960, 2304, 768, 11, 0.25},
        {"bwd dX", 'N', 'T', 960, 768, 2304, 11, 1.5e-4},
        {"again", 'N', 'N', 960, 2304, 768, 1, 3.0}, /* the first's shape: stays its own entry */
    };
    BenchGemms g = {e, 3, 3, 0};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    REQUIRE(f && bench_gemms_write(f, &g, "SkylakeX", true), "write");
    fclose(f);
    CHECK_STR_EQ(text, "kernels SkylakeX\nN N 960 2304 768 11 0.25\nN T 960 768 2304 11 0.00015\n"
                       "N N 960 2304 768 1 3\n");
    BenchGemms back;
    char kernels[32];
    LfError err = {0};
    REQUIRE(read_text(text, &back, kernels, sizeof kernels, &err), "read back: %s", err.msg);
    CHECK_STR_EQ(kernels, "SkylakeX");
    REQUIRE(back.n == 3, "3 entries, got %d", back.n);
    for (int i = 0; i < 3; i++)
        CHECK(back.g[i].ta == e[i].ta && back.g[i].tb == e[i].tb && back.g[i].M == e[i].M && back.g[i].N == e[i].N &&
                  back.g[i].K == e[i].K && back.g[i].count == e[i].count && back.g[i].seconds == e[i].seconds &&
                  back.g[i].what[0] == '\0',
              "entry %d", i);
    bench_gemms_free(&back);
    free(text);

    /* without seconds or kernels; blank-separated freely */
    REQUIRE(read_text("  T\tN 1 2 3 4\r\n", &back, kernels, sizeof kernels, &err), "%s", err.msg);
    CHECK(back.n == 1 && back.g[0].ta == 'T' && back.g[0].K == 3 && back.g[0].count == 4 && back.g[0].seconds == 0,
          "one entry without seconds");
    CHECK_STR_EQ(kernels, "");
    bench_gemms_free(&back);
    REQUIRE(read_text("", &back, kernels, sizeof kernels, &err) && back.n == 0, "empty list");
}

static void test_refused(void) {
    static const struct {
        const char *text, *want;
    } bad[] = {
        {"N T 0 1 1 1\n", "list:1: not a GEMM"},
        {"N T 1 1 1\n", "list:1: not a GEMM"},
        {"N N 1 1 1 1\nX T 1 1 1 1\n", "list:2: not a GEMM"},
        {"NT 1 1 1 1\n", "list:1: not a GEMM"},
        {"N T 1 1 1 1 0.5 7\n", "list:1: not a GEMM"},
        {"N T 1 1 1 1 -1\n", "list:1: not a GEMM"},
        {"N T 1 1 1 1 nan\n", "list:1: not a GEMM"},
        {"N T 1 1 1 1x\n", "list:1: not a GEMM"},
        {"N T 1048577 1 1 1\n", "list:1: not a GEMM"},
        {"N T 99999999999999999999 1 1 1\n", "list:1: not a GEMM"},
        {"N T 1 1 1 1073741825\n", "list:1: not a GEMM"},
        {"N T 1048576 1048576 1 1\n", "list:1: not a GEMM"}, /* C would be 2^40 floats */
        {"N T 1 1 1 1\nkernels Haswell\n", "list:2: not a GEMM"}, /* only first */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        BenchGemms g = {0};
        char kernels[8];
        LfError err = {0};
        CHECK(!read_text(bad[i].text, &g, kernels, sizeof kernels, &err), "refuses %s", bad[i].text);
        CHECK(strstr(err.msg, bad[i].want) != NULL, "'%s': %s", bad[i].text, err.msg);
        CHECK(g.g == NULL && g.n == 0, "nothing kept");
    }
    char longline[400];
    memset(longline, ' ', sizeof longline - 2);
    longline[sizeof longline - 2] = '\n';
    longline[sizeof longline - 1] = '\0';
    BenchGemms g;
    LfError err = {0};
    CHECK(!read_text(longline, &g, NULL, 0, &err) && strstr(err.msg, "list:1: line too long"), "%s", err.msg);
}

int main(void) {
    test_round_trip();
    test_refused();
    return check_done();
}
