/* cpu.h - what the processor lorafit runs on can do, read with cpuid.
 *
 * A feature counts as usable only when the CPU has it and the operating
 * system saves its registers on a context switch (XGETBV: the YMM state for
 * AVX/AVX2/FMA, the opmask and ZMM state for AVX-512, the tile state for
 * AMX); a CPU with AVX-512 under a kernel that does not enable it is an
 * AVX2 CPU for every purpose here. Off x86-64 every flag is false. */
#ifndef LORAFIT_CPU_H
#define LORAFIT_CPU_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char vendor[13];      /* "GenuineIntel", "AuthenticAMD"; "" off x86 */
    char model_name[49];  /* the brand string, trimmed: "AMD EPYC" */
    int family, model, stepping; /* display family and model, as Linux shows them */
    bool sse42, avx, avx2, fma, f16c;
    bool avx512f, avx512bw, avx512dq, avx512vl, avx512_vnni, avx512_bf16, avx512_fp16;
    bool avx_vnni, amx_tile, amx_bf16, amx_int8;
    /* the operating system's part: XCR0 enables the state */
    bool os_ymm, os_zmm, os_amx;
} CpuInfo;

/* Fills c from cpuid and XGETBV; the feature flags above are the CPU's,
 * os_* what the OS enables (the cpu_can_* below combine them). */
void cpu_detect(CpuInfo *c);

/* The instruction sets that are usable, CPU and OS together. */
bool cpu_can_avx(const CpuInfo *c);
bool cpu_can_avx2_fma(const CpuInfo *c);     /* AVX2 and FMA3 with the YMM state */
bool cpu_can_avx512(const CpuInfo *c);       /* AVX-512 F, BW, DQ, VL with the ZMM state */
bool cpu_can_avx512_bf16(const CpuInfo *c);  /* the above and AVX512-BF16 */
bool cpu_can_amx_bf16(const CpuInfo *c);     /* AMX tiles and AMX-BF16 with the tile state */

/* The vector features present, in order of age, separated by spaces:
 * "SSE4.2 AVX AVX2 FMA F16C AVX-512F ... AMX-INT8" ("none" when there are
 * none); a feature the OS does not enable is followed by "(off in the OS)";
 * then what is missing of AVX-512, AVX512-BF16 and AMX: "; no AVX-512, no
 * AMX". Returns buf (cut to size). */
char *cpu_features_text(const CpuInfo *c, char *buf, size_t size);

#endif
