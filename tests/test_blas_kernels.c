/* test_blas_kernels.c - the choice of OpenBLAS kernel set (issue 13), on
 * CPUs written out by hand: a Xeon with AVX512-BF16 (the issue's, family 6
 * model 207), a Skylake-SP, an AMD Zen 3 (this machine), an AVX-512 CPU
 * whose OS leaves the ZMM state off, a pre-AVX CPU; the origin of a
 * running set (OpenBLAS, lorafit, the user); the feature line; and
 * cpu_detect() against what Linux says of the same CPU in /proc/cpuinfo. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lorafit/cli/runtime.h"
#include "lorafit/engine/blas_kernels.h"
#include "lorafit/util/cpu.h"

static const char DYNAMIC[] = "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Prescott MAX_THREADS=64";

static CpuInfo avx2_cpu(void) {
    return (CpuInfo){.sse42 = true, .avx = true, .avx2 = true, .fma = true, .f16c = true, .os_ymm = true};
}

static CpuInfo avx512_cpu(void) {
    CpuInfo c = avx2_cpu();
    c.avx512f = c.avx512bw = c.avx512dq = c.avx512vl = c.avx512_vnni = true;
    c.os_zmm = true;
    return c;
}

static CpuInfo bf16_amx_cpu(void) {
    CpuInfo c = avx512_cpu();
    c.avx512_bf16 = c.avx512_fp16 = c.avx_vnni = c.amx_tile = c.amx_bf16 = c.amx_int8 = true;
    c.os_amx = true;
    return c;
}

/* The kernel set chosen, or "keep". */
static const char *choose(const CpuInfo *c, const char *core, const char *config, const char *coretype) {
    BlasKernelChoice ch = blas_kernels_choose(c, core, config, coretype);
    CHECK((ch.use == NULL) != (ch.why == NULL), "exactly one of use and why (core %s)", core);
    return ch.use ? ch.use : "keep";
}

static void test_choice(void) {
    CpuInfo xeon = bf16_amx_cpu(), skx = avx512_cpu(), zen3 = avx2_cpu();
    /* the case: Debian's 0.3.21 runs Prescott on a Xeon with AVX512-BF16 */
    CHECK_STR_EQ(choose(&xeon, "Prescott", DYNAMIC, NULL), "Cooperlake");
    CHECK_STR_EQ(choose(&skx, "Prescott", DYNAMIC, NULL), "SkylakeX");
    CHECK_STR_EQ(choose(&xeon, "Haswell", DYNAMIC, NULL), "Cooperlake");
    CHECK_STR_EQ(choose(&xeon, "SkylakeX", DYNAMIC, NULL), "Cooperlake");
    CHECK_STR_EQ(choose(&skx, "Haswell", DYNAMIC, NULL), "SkylakeX");
    CHECK_STR_EQ(choose(&zen3, "Sandybridge", DYNAMIC, NULL), "Haswell");
    CHECK_STR_EQ(choose(&zen3, "Nehalem", DYNAMIC, NULL), "Haswell");
    /* already the best level: Zen's kernels are Haswell's */
    CHECK_STR_EQ(choose(&zen3, "Zen", DYNAMIC, NULL), "keep");
    CHECK_STR_EQ(choose(&zen3, "Haswell", DYNAMIC, NULL), "keep");
    CHECK_STR_EQ(choose(&xeon, "Cooperlake", DYNAMIC, NULL), "keep");
    CHECK_STR_EQ(choose(&xeon, "SapphireRapids", DYNAMIC, NULL), "keep");
    CHECK_STR_EQ(choose(&skx, "SkylakeX", DYNAMIC, NULL), "keep");
    /* the user's value is kept, whatever it is */
    CHECK_STR_EQ(choose(&xeon, "Prescott", DYNAMIC, "Prescott"), "keep");
    CHECK_STR_EQ(choose(&zen3, "Sandybridge", DYNAMIC, "Sandybridge"), "keep");
    CHECK_STR_EQ(choose(&zen3, "Haswell", DYNAMIC, ""), "keep");
    /* a core lorafit does not know, or a library that cannot switch */
    CHECK_STR_EQ(choose(&xeon, "Graniterapids", DYNAMIC, NULL), "keep");
    CHECK_STR_EQ(choose(&xeon, NULL, DYNAMIC, NULL), "keep");
    CHECK_STR_EQ(choose(&xeon, "Prescott", "OpenBLAS 0.3.21 NO_LAPACKE Prescott MAX_THREADS=64", NULL), "keep");
    CHECK_STR_EQ(choose(&xeon, "Prescott", NULL, NULL), "keep");

    /* AVX-512 in the CPU but not in the OS: AVX2 kernels */
    CpuInfo off = bf16_amx_cpu();
    off.os_zmm = false;
    CHECK_STR_EQ(choose(&off, "Prescott", DYNAMIC, NULL), "Haswell");
    /* AVX-512 F without BW/DQ/VL (Knights Landing): not SkylakeX */
    CpuInfo knl = avx2_cpu();
    knl.avx512f = true;
    knl.os_zmm = true;
    CHECK_STR_EQ(choose(&knl, "Prescott", DYNAMIC, NULL), "Haswell");
    /* no YMM state at all: nothing above SSE */
    CpuInfo no_os = avx2_cpu();
    no_os.os_ymm = false;
    CHECK_STR_EQ(choose(&no_os, "Prescott", DYNAMIC, NULL), "keep");
    CHECK(blas_kernels_best(&no_os) == NULL, "no best set without the YMM state");
    /* AVX without AVX2 (Sandy Bridge) */
    CpuInfo snb = {.sse42 = true, .avx = true, .os_ymm = true};
    CHECK_STR_EQ(choose(&snb, "Prescott", DYNAMIC, NULL), "Sandybridge");
    CHECK_STR_EQ(choose(&snb, "Bulldozer", DYNAMIC, NULL), "keep");
}

static void test_levels(void) {
    CHECK(blas_kernels_level("Prescott") == BLAS_LEVEL_SSE, "Prescott is SSE");
    CHECK(blas_kernels_level("SKYLAKEX") == BLAS_LEVEL_AVX512, "names in any case");
    CHECK(blas_kernels_level("zen") == BLAS_LEVEL_AVX2, "zen is AVX2");
    CHECK(blas_kernels_level("Cooperlake") == BLAS_LEVEL_AVX512_BF16, "Cooperlake");
    CHECK(blas_kernels_level("Haswellx") == BLAS_LEVEL_UNKNOWN, "no prefix matches");
    CHECK(blas_kernels_level(NULL) == BLAS_LEVEL_UNKNOWN, "NULL");
    CHECK_STR_EQ(blas_kernels_level_name(BLAS_LEVEL_AVX512), "AVX-512");
    CHECK_STR_EQ(blas_kernels_level_name(BLAS_LEVEL_UNKNOWN), "?");
}

static void test_origin(void) {
    CHECK(runtime_kernels_origin(NULL, NULL) == KERNELS_OPENBLAS, "unset: OpenBLAS's own");
    CHECK(runtime_kernels_origin(NULL, "SkylakeX") == KERNELS_OPENBLAS, "a stale mark alone: OpenBLAS's own");
    CHECK(runtime_kernels_origin("SkylakeX", "SkylakeX") == KERNELS_LORAFIT, "lorafit's mark agrees");
    CHECK(runtime_kernels_origin("Sandybridge", "SkylakeX") == KERNELS_USER, "the user changed it since");
    CHECK(runtime_kernels_origin("Sandybridge", NULL) == KERNELS_USER, "the user's");
}

static void test_features_text(void) {
    char buf[512];
    CpuInfo zen3 = avx2_cpu();
    CHECK_STR_EQ(cpu_features_text(&zen3, buf, sizeof buf), "SSE4.2 AVX AVX2 FMA F16C; no AVX-512, no AMX");
    CpuInfo xeon = bf16_amx_cpu();
    CHECK_STR_EQ(cpu_features_text(&xeon, buf, sizeof buf),
                 "SSE4.2 AVX AVX2 FMA F16C AVX-VNNI AVX-512F AVX-512BW AVX-512DQ AVX-512VL AVX512-VNNI "
                 "AVX512-BF16 AVX512-FP16 AMX-BF16 AMX-INT8");
    CpuInfo skx = avx512_cpu();
    skx.os_zmm = false;
    CHECK_STR_EQ(cpu_features_text(&skx, buf, sizeof buf),
                 "SSE4.2 AVX AVX2 FMA F16C AVX-512F (off in the OS) AVX-512BW (off in the OS) AVX-512DQ (off in "
                 "the OS) AVX-512VL (off in the OS) AVX512-VNNI (off in the OS); no AVX512-BF16, no AMX");
    CpuInfo none = {0};
    CHECK_STR_EQ(cpu_features_text(&none, buf, sizeof buf), "none; no AVX-512, no AMX");
    char small[8];
    CHECK_STR_EQ(cpu_features_text(&zen3, small, sizeof small), "SSE4.2");
}

/* Linux lists a flag in /proc/cpuinfo when the CPU has it and the kernel
 * enables its state: the same as cpu.h's usable features. */
static bool linux_flag(const char *flags, const char *name) {
    size_t n = strlen(name);
    for (const char *p = flags; (p = strstr(p, name)); p += n)
        if ((p == flags || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || p[n] == '\0')) return true;
    return false;
}

static void test_detect(void) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[8192], flags[8192] = "", model[256] = "";
    int family = -1, model_no = -1;
    while (fgets(line, sizeof line, f) && !(flags[0] && model[0])) {
        char *colon = strchr(line, ':');
        if (!colon) continue;
        if (!strncmp(line, "cpu family\t", 11) && family < 0) family = atoi(colon + 1);
        if (!strncmp(line, "model\t", 6) && model_no < 0) model_no = atoi(colon + 1);
        if (!strncmp(line, "flags", 5) && !flags[0]) snprintf(flags, sizeof flags, "%s", colon + 2);
        if (!strncmp(line, "model name", 10) && !model[0]) {
            snprintf(model, sizeof model, "%s", colon + 2);
            model[strcspn(model, "\n")] = '\0';
        }
    }
    fclose(f);
    if (!flags[0]) return; /* not x86 */
    CpuInfo c;
    cpu_detect(&c);
    CHECK_STR_EQ(c.model_name, model);
    CHECK(c.family == family && c.model == model_no, "family %d model %d, Linux: %d %d", c.family, c.model, family,
          model_no);
    CHECK(linux_flag(flags, "avx2") == (c.avx2 && c.os_ymm), "avx2");
    CHECK(linux_flag(flags, "fma") == (c.fma && c.os_ymm), "fma");
    CHECK(linux_flag(flags, "sse4_2") == c.sse42, "sse4_2");
    CHECK(linux_flag(flags, "avx512f") == (c.avx512f && c.os_zmm), "avx512f");
    CHECK(linux_flag(flags, "avx512bw") == (c.avx512bw && c.os_zmm), "avx512bw");
    CHECK(linux_flag(flags, "avx512dq") == (c.avx512dq && c.os_zmm), "avx512dq");
    CHECK(linux_flag(flags, "avx512vl") == (c.avx512vl && c.os_zmm), "avx512vl");
    CHECK(linux_flag(flags, "avx512_bf16") == (c.avx512_bf16 && c.os_zmm), "avx512_bf16");
    CHECK(linux_flag(flags, "amx_bf16") == (c.amx_bf16 && c.os_amx), "amx_bf16");
    printf("this CPU: %s, best kernel set %s\n", c.model_name, blas_kernels_best(&c) ? blas_kernels_best(&c) : "none");
}

int main(void) {
    test_choice();
    test_levels();
    test_origin();
    test_features_text();
    test_detect();
    return check_done();
}
