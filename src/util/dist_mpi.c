/* dist_mpi.c - dist.h over MPI (built with -DLORAFIT_MPI=ON): see
 * include/lorafit/util/dist.h. The only file that includes mpi.h. */
#include "lorafit/util/dist.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lorafit/util/hash.h"

bool dist_available(void) { return true; }

/* Set by mpirun (Open MPI), by a PMIx launcher (srun --mpi=pmix, prterun)
 * or by a PMI-1/2 one (MPICH's Hydra, srun --mpi=pmi2). */
static bool launched(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK") || getenv("PMI_SIZE");
}

static bool mpi_failed(int rc, const char *what, LfError *err) {
    if (rc == MPI_SUCCESS) return false;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) snprintf(text, sizeof text, "error %d", rc);
    lf_error_set(err, LF_ERR_RUNTIME, "MPI: %s failed: %s", what, text);
    return true;
}

bool dist_init(Dist *d, LfError *err) {
    *d = dist_alone();
    if (!launched()) return true;
    /* FUNNELED: only the main thread calls MPI; OpenMP's threads compute. */
    int provided = 0;
    if (mpi_failed(MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread", err))
        return false;
    d->mpi = true;
    /* Failures come back as codes, to become messages; a rank that dies
     * still takes the job down (mpirun's own rule). */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    if (mpi_failed(MPI_Comm_rank(MPI_COMM_WORLD, &d->rank), "MPI_Comm_rank", err) ||
        mpi_failed(MPI_Comm_size(MPI_COMM_WORLD, &d->size), "MPI_Comm_size", err))
        return false;
    return true;
}

/* Waits for req without holding the core: Open MPI's blocking calls spin
 * while the other ranks still compute, and on a machine that other jobs
 * share the spinning rank takes CPU from them, its partners included (as
 * OpenMP's spinning did: runtime.h). So: MPI_Test, spinning only briefly,
 * then sleeping 50 us between tests (each test also moves the transfer on). */
static int wait_passively(MPI_Request *req) {
    int done = 0, rc;
    for (long tests = 0; (rc = MPI_Test(req, &done, MPI_STATUS_IGNORE)) == MPI_SUCCESS && !done; tests++)
        if (tests > 200) nanosleep(&(struct timespec){0, 50000}, NULL);
    return rc;
}

/* buf [n] of `type` (`size` bytes each) summed over the ranks in place. */
static bool allreduce_sum(const Dist *d, void *buf, size_t n, MPI_Datatype type, size_t size, LfError *err) {
    if (d->size == 1) return true;
    /* One call for any adapter below 2^31 values (8 GB); beyond, in parts. */
    for (size_t done = 0; done < n;) {
        size_t part = n - done < (size_t)INT_MAX ? n - done : (size_t)INT_MAX;
        MPI_Request req;
        if (mpi_failed(MPI_Iallreduce(MPI_IN_PLACE, (char *)buf + done * size, (int)part, type, MPI_SUM,
                                      MPI_COMM_WORLD, &req),
                       "MPI_Iallreduce", err) ||
            mpi_failed(wait_passively(&req), "MPI_Iallreduce", err))
            return false;
        done += part;
    }
    return true;
}

bool dist_allreduce_sum(const Dist *d, float *buf, size_t n, LfError *err) {
    return allreduce_sum(d, buf, n, MPI_FLOAT, sizeof *buf, err);
}

bool dist_allreduce_sum_f64(const Dist *d, double *buf, size_t n, LfError *err) {
    return allreduce_sum(d, buf, n, MPI_DOUBLE, sizeof *buf, err);
}

/* One rank: a copy, as in dist_none.c (MPI may not even be started). */
static bool gather_alone(const void *mine, size_t n, char **all, size_t *all_n, LfError *err) {
    if (!(*all = malloc(n ? n : 1))) {
        lf_error_set(err, LF_ERR_IO, "out of memory");
        return false;
    }
    if (n) memcpy(*all, mine, n);
    *all_n = n;
    return true;
}

bool dist_gather_bytes(const Dist *d, const void *mine, size_t n, char **all, size_t *all_n, LfError *err) {
    *all = NULL;
    *all_n = 0;
    if (d->size == 1) return gather_alone(mine, n, all, all_n, err);
    /* every rank learns every count, so all know the total and whether it fits */
    int count = n < (size_t)INT_MAX ? (int)n : -1, *counts = calloc((size_t)d->size, sizeof *counts),
        *offsets = calloc((size_t)d->size, sizeof *offsets);
    bool ok = counts && offsets;
    if (!ok) lf_error_set(err, LF_ERR_IO, "out of memory");
    if (!dist_agree(d, ok, err) ||
        mpi_failed(MPI_Allgather(&count, 1, MPI_INT, counts, 1, MPI_INT, MPI_COMM_WORLD), "MPI_Allgather", err)) {
        free(counts);
        free(offsets);
        return false;
    }
    size_t total = 0;
    for (int r = 0; r < d->size; r++) {
        if (counts[r] < 0) ok = false;
        offsets[r] = total < (size_t)INT_MAX ? (int)total : 0;
        total += counts[r] < 0 ? 0 : (size_t)counts[r];
    }
    if (!ok || total >= (size_t)INT_MAX) {
        lf_error_set(err, LF_ERR_RUNTIME, "MPI: %zu bytes to gather on rank 0 (at most 2^31 - 1)", total);
        ok = false;
    } else if (dist_is_root(d) && !(*all = malloc(total ? total : 1))) {
        lf_error_set(err, LF_ERR_IO, "out of memory gathering %zu bytes", total);
        ok = false;
    }
    char none = 0;
    ok = dist_agree(d, ok, err) &&
         !mpi_failed(MPI_Gatherv(n ? mine : &none, count, MPI_BYTE, *all ? *all : &none, counts, offsets, MPI_BYTE,
                                 0, MPI_COMM_WORLD),
                     "MPI_Gatherv", err);
    free(counts);
    free(offsets);
    if (!ok) {
        free(*all);
        *all = NULL;
        return false;
    }
    *all_n = dist_is_root(d) ? total : 0;
    return true;
}

bool dist_bcast(const Dist *d, void *buf, size_t bytes, int root, LfError *err) {
    if (d->size == 1) return true;
    for (size_t done = 0; done < bytes;) {
        size_t part = bytes - done < (size_t)INT_MAX ? bytes - done : (size_t)INT_MAX;
        if (mpi_failed(MPI_Bcast((char *)buf + done, (int)part, MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast", err))
            return false;
        done += part;
    }
    return true;
}

bool dist_any(const Dist *d, bool flag) {
    if (d->size == 1) return flag;
    int mine = flag, any = 0;
    if (MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_LOR, MPI_COMM_WORLD) != MPI_SUCCESS) return false;
    return any != 0;
}

bool dist_agree(const Dist *d, bool ok, LfError *err) {
    if (d->size == 1) return ok;
    /* the lowest failing rank, or size when none failed */
    int mine = ok ? d->size : d->rank, first = d->size;
    LfError exchange_err = {0};
    if (mpi_failed(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD), "MPI_Allreduce", &exchange_err)) {
        if (ok) *err = exchange_err;
        return false;
    }
    if (first == d->size) return true;
    struct {
        int kind;
        char msg[LF_ERROR_MAX];
    } sent = {LF_ERR_RUNTIME, ""};
    if (d->rank == first) {
        sent.kind = err->kind;
        memcpy(sent.msg, err->msg, sizeof sent.msg);
    }
    if (!dist_bcast(d, &sent, sizeof sent, first, &exchange_err)) {
        if (ok) *err = exchange_err;
        return false;
    }
    if (d->rank != first) {
        sent.msg[sizeof sent.msg - 1] = '\0';
        lf_error_set(err, (LfErrorKind)sent.kind, "rank %d: %s", first, sent.msg);
    }
    return false;
}

bool dist_same_bits(const Dist *d, const void *buf, size_t n) {
    if (d->size == 1) return true;
    uint64_t mine = hash_fnv(HASH_FNV_START, buf, n), root = mine;
    if (!dist_bcast(d, &root, sizeof root, 0, NULL)) return false;
    return !dist_any(d, mine != root);
}

void dist_abort(const Dist *d, int code) {
    if (d->size > 1) MPI_Abort(MPI_COMM_WORLD, code);
}

void dist_finalize(Dist *d) {
    if (d->mpi) MPI_Finalize();
    d->mpi = false;
}
