/* dist_none.c - dist.h without MPI (-DLORAFIT_MPI=OFF, or no MPI found):
 * always one rank, every collective a no-op. See include/lorafit/util/dist.h. */
#include "lorafit/util/dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool dist_available(void) { return false; }

void dist_describe(char *buf, size_t size) {
    snprintf(buf, size, "not built in (no MPI at build time: libopenmpi-dev, cmake -DLORAFIT_MPI=ON)");
}

/* Started by mpirun or srun with several ranks, each would train alone and
 * all write the same files: refused. */
bool dist_init(Dist *d, LfError *err) {
    *d = dist_alone();
    const char *size = getenv("OMPI_COMM_WORLD_SIZE");
    if (!size) size = getenv("PMI_SIZE");
    if (!size || atoi(size) <= 1) return true;
    lf_error_set(err, LF_ERR_INPUT,
                 "started as one of %s ranks, but this lorafit was built without MPI: rebuild it with "
                 "libopenmpi-dev installed (cmake -DLORAFIT_MPI=ON), or run it without mpirun",
                 size);
    return false;
}

bool dist_allreduce_sum(const Dist *d, float *buf, size_t n, LfError *err) {
    (void)d, (void)buf, (void)n, (void)err;
    return true;
}

bool dist_allreduce_sum_f64(const Dist *d, double *buf, size_t n, LfError *err) {
    (void)d, (void)buf, (void)n, (void)err;
    return true;
}

bool dist_gather_bytes(const Dist *d, const void *mine, size_t n, char **all, size_t *all_n, LfError *err) {
    (void)d;
    *all_n = 0;
    if (!(*all = malloc(n ? n : 1))) {
        lf_error_set(err, LF_ERR_IO, "out of memory");
        return false;
    }
    if (n) memcpy(*all, mine, n);
    *all_n = n;
    return true;
}

bool dist_bcast(const Dist *d, void *buf, size_t bytes, int root, LfError *err) {
    (void)d, (void)buf, (void)bytes, (void)root, (void)err;
    return true;
}

bool dist_any(const Dist *d, bool flag) {
    (void)d;
    return flag;
}

bool dist_agree(const Dist *d, bool ok, LfError *err) {
    (void)d, (void)err;
    return ok;
}

bool dist_same_bits(const Dist *d, const void *buf, size_t n) {
    (void)d, (void)buf, (void)n;
    return true;
}

void dist_abort(const Dist *d, int code) { (void)d, (void)code; }

void dist_finalize(Dist *d) { d->api = NULL; }
