/* blas_kernels.c - see include/lorafit/engine/blas_kernels.h */
#include "lorafit/engine/blas_kernels.h"

#include <cblas.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *core;
    int level;
} LEVELS[] = {
    {"Katmai", BLAS_LEVEL_SSE},          {"Coppermine", BLAS_LEVEL_SSE},   {"Northwood", BLAS_LEVEL_SSE},
    {"Prescott", BLAS_LEVEL_SSE},        {"Banias", BLAS_LEVEL_SSE},       {"Atom", BLAS_LEVEL_SSE},
    {"Core2", BLAS_LEVEL_SSE},           {"Penryn", BLAS_LEVEL_SSE},       {"Dunnington", BLAS_LEVEL_SSE},
    {"Nehalem", BLAS_LEVEL_SSE},         {"Athlon", BLAS_LEVEL_SSE},       {"Opteron", BLAS_LEVEL_SSE},
    {"Opteron_SSE3", BLAS_LEVEL_SSE},    {"Barcelona", BLAS_LEVEL_SSE},    {"Nano", BLAS_LEVEL_SSE},
    {"Bobcat", BLAS_LEVEL_SSE},          {"Sandybridge", BLAS_LEVEL_AVX},  {"Bulldozer", BLAS_LEVEL_AVX},
    {"Piledriver", BLAS_LEVEL_AVX},      {"Steamroller", BLAS_LEVEL_AVX},  {"Excavator", BLAS_LEVEL_AVX},
    {"Haswell", BLAS_LEVEL_AVX2},        {"Zen", BLAS_LEVEL_AVX2},         {"SkylakeX", BLAS_LEVEL_AVX512},
    {"Cooperlake", BLAS_LEVEL_AVX512_BF16}, {"SapphireRapids", BLAS_LEVEL_AMX},
};

int blas_kernels_level(const char *core) {
    if (!core) return BLAS_LEVEL_UNKNOWN;
    for (size_t i = 0; i < sizeof LEVELS / sizeof LEVELS[0]; i++)
        if (strcasecmp(core, LEVELS[i].core) == 0) return LEVELS[i].level;
    return BLAS_LEVEL_UNKNOWN;
}

const char *blas_kernels_level_name(int level) {
    static const char *const names[] = {"SSE", "AVX", "AVX2", "AVX-512", "AVX-512 + BF16", "AMX"};
    return level >= 0 && level < (int)(sizeof names / sizeof names[0]) ? names[level] : "?";
}

const char *blas_kernels_best(const CpuInfo *cpu) {
    if (cpu_can_avx512_bf16(cpu)) return "Cooperlake";
    if (cpu_can_avx512(cpu)) return "SkylakeX";
    if (cpu_can_avx2_fma(cpu)) return "Haswell";
    if (cpu_can_avx(cpu)) return "Sandybridge";
    return NULL;
}

BlasKernelChoice blas_kernels_choose(const CpuInfo *cpu, const char *core, const char *config,
                                     const char *coretype) {
    if (coretype) return (BlasKernelChoice){NULL, "set by the user (OPENBLAS_CORETYPE)"};
    /* a library built for one core ignores OPENBLAS_CORETYPE */
    if (!config || !strstr(config, "DYNAMIC_ARCH")) return (BlasKernelChoice){NULL, "OpenBLAS built for one core"};
    int now = blas_kernels_level(core);
    if (now == BLAS_LEVEL_UNKNOWN) return (BlasKernelChoice){NULL, "a core lorafit does not know"};
    const char *best = blas_kernels_best(cpu);
    if (!best || now >= blas_kernels_level(best)) return (BlasKernelChoice){NULL, "already at the best level for this CPU"};
    return (BlasKernelChoice){best, NULL};
}

const char *blas_kernels_core(void) {
    const char *s = openblas_get_corename();
    return s ? s : "unknown";
}

const char *blas_kernels_config(void) {
    const char *s = openblas_get_config();
    return s ? s : "unknown";
}
