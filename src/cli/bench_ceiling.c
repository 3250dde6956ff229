/* bench_ceiling.c - see include/lorafit/cli/bench_ceiling.h */
#include "lorafit/cli/bench_ceiling.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lorafit/engine/blas_kernels.h"
#include "lorafit/report/bench_io.h"

extern char **environ;

/* The environment, with OPENBLAS_CORETYPE=kernels instead of the run's
 * choice (and without lorafit's marks of it). */
static char **child_environment(const char *kernels, char *coretype, size_t cap) {
    size_t n = 0;
    while (environ[n]) n++;
    char **env = calloc(n + 2, sizeof *env);
    if (!env) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "OPENBLAS_CORETYPE=", 18) && strncmp(environ[i], "LORAFIT_CORETYPE_", 17))
            env[k++] = environ[i];
    snprintf(coretype, cap, "OPENBLAS_CORETYPE=%s", kernels);
    env[k] = coretype;
    return env;
}

/* Starts `lorafit bench --time-gemms` with its stdin and stdout on pipes. */
static pid_t spawn(int reps, int threads, const char *kernels, int *to, int *from, LfError *err) {
    char reps_s[16], threads_s[16], coretype[96];
    snprintf(reps_s, sizeof reps_s, "%d", reps);
    snprintf(threads_s, sizeof threads_s, "%d", threads);
    char *argv[] = {"lorafit", "bench", "--time-gemms", "--repeat", reps_s, "--threads", threads_s, NULL};
    char **env = child_environment(kernels, coretype, sizeof coretype);
    int in[2] = {-1, -1}, out[2] = {-1, -1};
    pid_t pid = -1;
    posix_spawn_file_actions_t fa;
    if (!env || pipe(in) != 0 || pipe(out) != 0 || posix_spawn_file_actions_init(&fa) != 0) {
        lf_error_errno(err, LF_ERR_IO, "cannot start the ceiling's process");
        goto done;
    }
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    int rc = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        pid = -1;
        lf_error_set(err, LF_ERR_IO, "cannot start the ceiling's process: %s", strerror(rc));
    }
done:
    free(env);
    if (in[0] >= 0) close(in[0]);
    if (out[1] >= 0) close(out[1]);
    if (pid < 0) {
        if (in[1] >= 0) close(in[1]);
        if (out[0] >= 0) close(out[0]);
    } else {
        *to = in[1];
        *from = out[0];
    }
    return pid;
}

/* The child's answer: the same GEMMs, in order, with their seconds. */
static double take_times(BenchGemms *g, const BenchGemms *got, LfError *err) {
    if (got->n != g->n) {
        lf_error_set(err, LF_ERR_RUNTIME, "the ceiling's process timed %d GEMMs of %d", got->n, g->n);
        return -1;
    }
    double total = 0;
    for (int i = 0; i < g->n; i++) {
        g->g[i].seconds = got->g[i].seconds;
        total += got->g[i].seconds;
    }
    return total;
}

/* The GEMMs timed in a second process on OpenBLAS's `kernels`. */
static double time_elsewhere(BenchGemms *g, int reps, int threads, const char *kernels, char *ran, size_t cap,
                             LfError *err) {
    int to = -1, from = -1;
    pid_t pid = spawn(reps, threads, kernels, &to, &from, err);
    if (pid < 0) return -1;
    /* the child reads every line before it answers: write all, then read */
    void (*old_pipe)(int) = signal(SIGPIPE, SIG_IGN);
    FILE *w = fdopen(to, "w");
    bool sent = w && bench_gemms_write(w, g, NULL, false);
    if (w) fclose(w); else close(to);
    FILE *r = fdopen(from, "r");
    BenchGemms got = {0};
    LfError read_err = {0};
    bool read = r && bench_gemms_read(r, "the ceiling's process", &got, ran, cap, &read_err);
    if (r) fclose(r); else close(from);
    signal(SIGPIPE, old_pipe);
    int status = -1;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    double total = -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        lf_error_set(err, LF_ERR_RUNTIME, "the ceiling's process (OPENBLAS_CORETYPE=%s) failed", kernels);
    else if (!sent)
        lf_error_set(err, LF_ERR_IO, "cannot send the GEMMs to the ceiling's process");
    else if (!read && err)
        *err = read_err;
    else if (read)
        total = take_times(g, &got, err);
    bench_gemms_free(&got);
    return total;
}

void bench_ceiling_init(BenchCeiling *c, const RuntimeKernels *k, int threads, int reps) {
    *c = (BenchCeiling){.kernels = runtime_ceiling_kernels(k), .threads = threads, .reps = reps};
    snprintf(c->ran, sizeof c->ran, "%s", k->core);
}

double bench_ceiling_time(BenchCeiling *c, BenchGemms *g, LfError *err) {
    if (c->kernels) return time_elsewhere(g, c->reps, c->threads, c->kernels, c->ran, sizeof c->ran, err);
    double s = bench_sgemm_time(g, c->reps);
    if (s < 0) lf_error_set(err, LF_ERR_IO, "out of memory for the sgemm ceiling");
    return s;
}

bool bench_ceiling_square(BenchCeiling *c, int n, double *gflops, LfError *err) {
    BenchGemm e = {"square", 'N', 'N', n, n, n, 1, 0};
    BenchGemms g = {&e, 1, 1, 0};
    double s = bench_ceiling_time(c, &g, err);
    *gflops = s > 0 ? 2.0 * n * (double)n * n / s * 1e-9 : 0.0;
    return s >= 0;
}

int bench_ceiling_serve(int reps) {
    BenchGemms g;
    LfError err = {0};
    char unused[8];
    if (!bench_gemms_read(stdin, "standard input", &g, unused, sizeof unused, &err)) {
        fprintf(stderr, "lorafit bench: %s\n", err.msg);
        return lf_error_exit_code(&err);
    }
    bool ok = bench_sgemm_time(&g, reps) >= 0;
    if (!ok)
        fprintf(stderr, "lorafit bench: out of memory for the GEMMs\n");
    else if (!(ok = bench_gemms_write(stdout, &g, blas_kernels_core(), true)))
        fprintf(stderr, "lorafit bench: cannot write the times\n");
    bench_gemms_free(&g);
    return ok ? 0 : 1;
}
