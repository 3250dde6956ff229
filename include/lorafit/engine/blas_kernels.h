/* blas_kernels.h - which of OpenBLAS's kernel sets the engine's GEMMs run
 * on, and which one they should run on.
 *
 * A DYNAMIC_ARCH OpenBLAS (Debian's) carries kernels for many cores and
 * picks one when it loads, from the CPU's family and model, or takes the
 * one named by OPENBLAS_CORETYPE. A CPU newer than the library falls to old
 * kernels: Debian's 0.3.21 runs its SSE3 "Prescott" kernels on an Intel
 * Xeon of family 6 model 207 (AVX-512 with BF16): a training step took 4.6x
 * as long as on its SkylakeX kernels (issue 13).
 *
 * The kernel sets are ranked by the instructions they need:
 *   SSE   Prescott, Core2, Nehalem, Barcelona, ... (the pre-AVX cores)
 *   AVX   Sandybridge, Bulldozer, Piledriver, Steamroller, Excavator
 *   AVX2  Haswell, Zen (Zen is Haswell's kernels with AMD's blocking)
 *   AVX-512          SkylakeX
 *   AVX-512 + BF16   Cooperlake
 *   AMX              SapphireRapids (OpenBLAS 0.3.24 and later)
 * The best set correct on a CPU is the highest it can run (cpu.h):
 * Cooperlake, SkylakeX, Haswell or Sandybridge.
 *
 * Names as OPENBLAS_CORETYPE takes them. OpenBLAS 0.3.21 does not accept
 * "Cooperlake" there (its name loop stops one short), but an unknown name
 * sends it to its feature test, which picks Cooperlake on a CPU with
 * AVX512-BF16: so asking for "Cooperlake" gets it on either side of 0.3.22
 * on the CPUs it is chosen for. */
#ifndef LORAFIT_BLAS_KERNELS_H
#define LORAFIT_BLAS_KERNELS_H

#include "lorafit/util/cpu.h"

enum {
    BLAS_LEVEL_UNKNOWN = -1,
    BLAS_LEVEL_SSE,
    BLAS_LEVEL_AVX,
    BLAS_LEVEL_AVX2,
    BLAS_LEVEL_AVX512,
    BLAS_LEVEL_AVX512_BF16,
    BLAS_LEVEL_AMX,
};

/* The level of an OpenBLAS core name (any case), or BLAS_LEVEL_UNKNOWN. */
int blas_kernels_level(const char *core);

/* "SSE", "AVX", "AVX2", "AVX-512", "AVX-512 + BF16", "AMX"; "?" when unknown. */
const char *blas_kernels_level_name(int level);

/* The best kernel set correct on cpu ("Cooperlake", "SkylakeX", "Haswell",
 * "Sandybridge"), or NULL when it has not even AVX. */
const char *blas_kernels_best(const CpuInfo *cpu);

typedef struct {
    const char *use; /* the kernel set to ask for (OPENBLAS_CORETYPE), or NULL: keep the one running */
    const char *why; /* why keep: "set by the user ...", "already at the best level for this CPU" ... */
} BlasKernelChoice;

/* What to run on: `core` is the kernel set OpenBLAS runs (its corename),
 * `config` its openblas_get_config(), `coretype` the value of
 * OPENBLAS_CORETYPE or NULL when unset. Switches only when the variable is
 * unset, the library can switch (DYNAMIC_ARCH), the core is one it knows,
 * and the CPU runs a higher level correctly. */
BlasKernelChoice blas_kernels_choose(const CpuInfo *cpu, const char *core, const char *config,
                                     const char *coretype);

/* The running library: openblas_get_corename(), openblas_get_config(). */
const char *blas_kernels_core(void);
const char *blas_kernels_config(void);

#endif
