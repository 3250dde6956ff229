/* runtime.c - see include/lorafit/cli/runtime.h */
#include "lorafit/cli/runtime.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "lorafit/engine/bf16_matmul.h"
#include "lorafit/engine/blas_kernels.h"
#include "lorafit/util/dist.h"

static const char CORETYPE[] = "OPENBLAS_CORETYPE";
static const char CORETYPE_SET[] = "LORAFIT_CORETYPE_SET";
static const char CORETYPE_WAS[] = "LORAFIT_CORETYPE_WAS";
static const char SPINCOUNT[] = "GOMP_SPINCOUNT";
static const char WAIT_POLICY[] = "OMP_WAIT_POLICY";

/* Sets OPENBLAS_CORETYPE and both marks, or none of them. */
static bool choose_kernels(const char *use, const char *was) {
    if (setenv(CORETYPE, use, 1) == 0 && setenv(CORETYPE_SET, use, 1) == 0 && setenv(CORETYPE_WAS, was, 1) == 0)
        return true;
    unsetenv(CORETYPE), unsetenv(CORETYPE_SET), unsetenv(CORETYPE_WAS);
    return false;
}

void runtime_prepare(char **argv) {
    CpuInfo cpu;
    cpu_detect(&cpu);
    BlasKernelChoice choice = blas_kernels_choose(&cpu, blas_kernels_core(), blas_kernels_config(), getenv(CORETYPE));
    bool spin = !getenv(WAIT_POLICY) && !getenv(SPINCOUNT) && setenv(SPINCOUNT, RUNTIME_SPINCOUNT, 1) == 0;
    bool kernels = choice.use && choose_kernels(choice.use, blas_kernels_core());
    if (!spin && !kernels) return;
    execv("/proc/self/exe", argv);
    /* should exec fail, run on as we are, saying nothing false about it */
    if (spin) unsetenv(SPINCOUNT);
    if (kernels) unsetenv(CORETYPE), unsetenv(CORETYPE_SET), unsetenv(CORETYPE_WAS);
}

KernelsOrigin runtime_kernels_origin(const char *coretype, const char *lorafit_set) {
    if (!coretype) return KERNELS_OPENBLAS;
    return lorafit_set && strcmp(coretype, lorafit_set) == 0 ? KERNELS_LORAFIT : KERNELS_USER;
}

const char *runtime_kernels_origin_name(KernelsOrigin o) {
    return o == KERNELS_LORAFIT ? "lorafit" : o == KERNELS_USER ? "user" : "openblas";
}

void runtime_kernels(RuntimeKernels *k) {
    memset(k, 0, sizeof *k);
    cpu_detect(&k->cpu);
    k->core = blas_kernels_core();
    k->config = blas_kernels_config();
    k->best = blas_kernels_best(&k->cpu);
    k->coretype = getenv(CORETYPE);
    k->origin = runtime_kernels_origin(k->coretype, getenv(CORETYPE_SET));
    if (k->origin == KERNELS_LORAFIT) k->was = getenv(CORETYPE_WAS);
    if (k->origin == KERNELS_OPENBLAS) k->why_kept = blas_kernels_choose(&k->cpu, k->core, k->config, NULL).why;
}

const char *runtime_ceiling_kernels(const RuntimeKernels *k) {
    BlasKernelChoice c = blas_kernels_choose(&k->cpu, k->core, k->config, NULL);
    return c.use;
}

const char *runtime_wait_policy(char *buf, size_t size) {
    const char *policy = getenv(WAIT_POLICY), *spin = getenv(SPINCOUNT);
    if (policy && *policy && spin && *spin)
        snprintf(buf, size, "OMP_WAIT_POLICY %s, GOMP_SPINCOUNT %s", policy, spin);
    else if (policy && *policy)
        snprintf(buf, size, "OMP_WAIT_POLICY %s", policy);
    else if (spin && *spin)
        snprintf(buf, size, "idle threads spin, then sleep (GOMP_SPINCOUNT %s)", spin);
    else
        snprintf(buf, size, "OMP_WAIT_POLICY and GOMP_SPINCOUNT unset (libgomp's default spin)");
    return buf;
}

static void describe_kernels(FILE *f, const RuntimeKernels *k) {
    fprintf(f, "OpenBLAS kernels: %s, ", k->core);
    switch (k->origin) {
    case KERNELS_LORAFIT:
        if (strcasecmp(k->core, k->coretype) == 0)
            fprintf(f, "chosen by lorafit");
        else
            fprintf(f, "lorafit asked for %s", k->coretype);
        fprintf(f, " (OpenBLAS picked %s by itself)", k->was ? k->was : "another");
        break;
    case KERNELS_USER: fprintf(f, "set by the user (OPENBLAS_CORETYPE=%s)", k->coretype); break;
    case KERNELS_OPENBLAS:
        if (k->why_kept)
            fprintf(f, "OpenBLAS's own pick, kept: %s", k->why_kept);
        else
            fprintf(f, "OpenBLAS's own pick; lorafit could not start again with better ones");
        break;
    }
    if (k->best)
        fprintf(f, "; the best set correct on this CPU: %s (%s)\n", k->best,
                blas_kernels_level_name(blas_kernels_level(k->best)));
    else
        fprintf(f, "; this CPU has no AVX, so none better\n");
    fprintf(f, "OpenBLAS config: %s\n", k->config);
}

void runtime_describe(FILE *f, const RuntimeKernels *k, int threads, const char *threads_note) {
    const CpuInfo *c = &k->cpu;
    char features[512];
    fprintf(f, "CPU: %s (%s, family %d, model %d)\n", c->model_name[0] ? c->model_name : "unknown",
            c->vendor[0] ? c->vendor : "no cpuid", c->family, c->model);
    fprintf(f, "vector features: %s\n", cpu_features_text(c, features, sizeof features));
    describe_kernels(f, k);
    char wait[160];
    fprintf(f, "threads: %d%s; OpenBLAS single-threaded, each GEMM split over lorafit's OpenMP threads; %s\n",
            threads, threads_note ? threads_note : "", runtime_wait_policy(wait, sizeof wait));
    char dnnl[256];
    bf16_describe(dnnl, sizeof dnnl);
    fprintf(f, "oneDNN: %s\n", dnnl);
    char mpi[LF_ERROR_MAX + 128];
    dist_describe(mpi, sizeof mpi);
    fprintf(f, "MPI: %s\n", mpi);
}
