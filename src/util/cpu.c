/* cpu.c - see include/lorafit/util/cpu.h */
#include "lorafit/util/cpu.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static void cpuid(unsigned leaf, unsigned sub, unsigned r[4]) {
    r[0] = r[1] = r[2] = r[3] = 0;
    __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
}

/* XCR0: the register state the OS saves. XGETBV faults unless the OS set
 * CR4.OSXSAVE, which cpuid reports; the caller checks that first. */
static uint64_t xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t)hi << 32 | lo;
}

static bool bit(unsigned reg, int b) { return (reg >> b) & 1u; }

/* The brand string without the padding some CPUs put around it. */
static void read_brand(CpuInfo *c) {
    unsigned r[4];
    cpuid(0x80000000u, 0, r);
    if (r[0] < 0x80000004u) return;
    char s[49] = {0};
    for (unsigned i = 0; i < 3; i++) {
        cpuid(0x80000002u + i, 0, r);
        memcpy(s + 16 * i, r, 16);
    }
    const char *p = s;
    while (*p == ' ') p++;
    size_t n = strlen(p);
    while (n > 0 && p[n - 1] == ' ') n--;
    memcpy(c->model_name, p, n);
    c->model_name[n] = '\0';
}

void cpu_detect(CpuInfo *c) {
    memset(c, 0, sizeof *c);
    unsigned r[4];
    cpuid(0, 0, r);
    unsigned max_leaf = r[0];
    memcpy(c->vendor, &r[1], 4);
    memcpy(c->vendor + 4, &r[3], 4);
    memcpy(c->vendor + 8, &r[2], 4);
    read_brand(c);
    if (max_leaf < 1) return;

    cpuid(1, 0, r);
    unsigned fam = (r[0] >> 8) & 0xf, model = (r[0] >> 4) & 0xf;
    c->family = (int)(fam == 0xf ? fam + ((r[0] >> 20) & 0xff) : fam);
    c->model = (int)(fam >= 0x6 ? model + (((r[0] >> 16) & 0xf) << 4) : model); /* as Linux does */
    c->stepping = (int)(r[0] & 0xf);
    c->sse42 = bit(r[2], 20);
    c->fma = bit(r[2], 12);
    c->avx = bit(r[2], 28);
    c->f16c = bit(r[2], 29);
    if (bit(r[2], 27)) { /* OSXSAVE */
        uint64_t xcr0 = xgetbv0();
        c->os_ymm = (xcr0 & 0x6) == 0x6;                /* SSE and AVX state */
        c->os_zmm = c->os_ymm && (xcr0 & 0xe0) == 0xe0; /* opmask, ZMM_Hi256, Hi16_ZMM */
        c->os_amx = (xcr0 & 0x60000) == 0x60000;        /* XTILECFG, XTILEDATA */
    }
    if (max_leaf < 7) return;

    cpuid(7, 0, r);
    unsigned max_sub = r[0];
    c->avx2 = bit(r[1], 5);
    c->avx512f = bit(r[1], 16);
    c->avx512dq = bit(r[1], 17);
    c->avx512bw = bit(r[1], 30);
    c->avx512vl = bit(r[1], 31);
    c->avx512_vnni = bit(r[2], 11);
    c->amx_bf16 = bit(r[3], 22);
    c->avx512_fp16 = bit(r[3], 23);
    c->amx_tile = bit(r[3], 24);
    c->amx_int8 = bit(r[3], 25);
    if (max_sub < 1) return;
    cpuid(7, 1, r);
    c->avx_vnni = bit(r[0], 4);
    c->avx512_bf16 = bit(r[0], 5);
}

#else

void cpu_detect(CpuInfo *c) { memset(c, 0, sizeof *c); }

#endif

bool cpu_can_avx(const CpuInfo *c) { return c->avx && c->os_ymm; }

bool cpu_can_avx2_fma(const CpuInfo *c) { return cpu_can_avx(c) && c->avx2 && c->fma; }

bool cpu_can_avx512(const CpuInfo *c) {
    return cpu_can_avx2_fma(c) && c->os_zmm && c->avx512f && c->avx512bw && c->avx512dq && c->avx512vl;
}

bool cpu_can_avx512_bf16(const CpuInfo *c) { return cpu_can_avx512(c) && c->avx512_bf16; }

bool cpu_can_amx_bf16(const CpuInfo *c) { return c->amx_tile && c->amx_bf16 && c->os_amx; }

char *cpu_features_text(const CpuInfo *c, char *buf, size_t size) {
    /* the OS state each group needs: 0 none beyond SSE, 1 YMM, 2 ZMM, 3 tiles */
    const struct {
        bool has;
        const char *name;
        int state;
    } f[] = {
        {c->sse42, "SSE4.2", 0},          {c->avx, "AVX", 1},
        {c->avx2, "AVX2", 1},             {c->fma, "FMA", 1},
        {c->f16c, "F16C", 1},             {c->avx_vnni, "AVX-VNNI", 1},
        {c->avx512f, "AVX-512F", 2},      {c->avx512bw, "AVX-512BW", 2},
        {c->avx512dq, "AVX-512DQ", 2},    {c->avx512vl, "AVX-512VL", 2},
        {c->avx512_vnni, "AVX512-VNNI", 2}, {c->avx512_bf16, "AVX512-BF16", 2},
        {c->avx512_fp16, "AVX512-FP16", 2}, {c->amx_bf16, "AMX-BF16", 3},
        {c->amx_int8, "AMX-INT8", 3},
    };
    const bool os[] = {true, c->os_ymm, c->os_zmm, c->os_amx};
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        if (!f[i].has) continue;
        int n = snprintf(buf + used, size - used, "%s%s%s", used ? " " : "", f[i].name,
                         os[f[i].state] ? "" : " (off in the OS)");
        if (n < 0 || (size_t)n >= size - used) {
            buf[used] = '\0'; /* whole names only */
            break;
        }
        used += (size_t)n;
    }
    if (used == 0) used = (size_t)snprintf(buf, size, "none");
    /* what is absent matters as much to a reader asking why it is slow */
    const char *lacks = !c->avx512f ? "; no AVX-512, no AMX" : !c->avx512_bf16 ? "; no AVX512-BF16, no AMX"
                        : !c->amx_tile ? "; no AMX" : "";
    if (used + strlen(lacks) < size) memcpy(buf + used, lacks, strlen(lacks) + 1);
    return buf;
}
