/* dist_mpi.c - dist.h over MPI (built with -DLORAFIT_MPI=ON): see
 * include/lorafit/util/dist.h. The only file that includes mpi.h. */
#include "lorafit/util/dist.h"

#include <dlfcn.h>
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lorafit/util/hash.h"

/* MPI is opened with dlopen when a launcher started the process, not
 * linked: loading Open MPI's libraries (libmpi, libopen-rte, libopen-pal,
 * hwloc, libevent) at every start cost each command about 2 ms (`lorafit
 * --version` 8.5 ms linked, 6.5 ms not: it starts twice, cli/runtime.h),
 * and a binary built with MPI now also runs where no MPI is installed.
 * RTLD_GLOBAL: Open MPI's own plugins resolve their symbols in libmpi. The
 * library of the headers' MPI. */
#ifdef OPEN_MPI
#define MPI_SONAME "libmpi.so.40"
#else
#define MPI_SONAME "libmpi.so.12" /* MPICH's ABI */
#endif

#define MPI_FUNCTIONS(X)                                                                                       \
    X(Init_thread) X(Comm_set_errhandler) X(Comm_rank) X(Comm_size) X(Test) X(Iallreduce) X(Allreduce)         \
    X(Allgather) X(Gatherv) X(Bcast) X(Error_string) X(Abort) X(Finalize)

/* The functions used, as mpi.h declares them, and the predefined handles. */
struct DistMpi {
    void *lib;
#define API_FIELD(name) __typeof__(MPI_##name) *name;
    MPI_FUNCTIONS(API_FIELD)
#undef API_FIELD
    MPI_Comm world;
    MPI_Datatype int_type, byte_type, float_type, double_type;
    MPI_Op sum, min, lor;
    MPI_Errhandler errors_return;
};

#ifdef OPEN_MPI
/* Open MPI's handles are the addresses of its predefined objects (mpi.h's
 * OMPI_PREDEFINED_GLOBAL), found by name in the library; naming the macro
 * would link to them. */
#define PREDEFINED(type, macro, object) ((type)dlsym(a->lib, #object))
#else
/* MPICH's are integer constants. */
#define PREDEFINED(type, macro, object) (macro)
#endif

static DistMpi *api_open(LfError *err) {
    DistMpi *a = calloc(1, sizeof *a);
    if (!a) {
        lf_error_set(err, LF_ERR_IO, "out of memory");
        return NULL;
    }
    /* never unloaded: MPI may not be started again after MPI_Finalize */
    if (!(a->lib = dlopen(MPI_SONAME, RTLD_NOW | RTLD_GLOBAL | RTLD_NODELETE))) {
        lf_error_set(err, LF_ERR_RUNTIME, "MPI: cannot load %s: %s (install the MPI lorafit was built with)",
                     MPI_SONAME, dlerror());
        free(a);
        return NULL;
    }
    void *f;
#define API_LOAD(name)                                                                                         \
    if (!(f = dlsym(a->lib, "MPI_" #name))) {                                                                  \
        lf_error_set(err, LF_ERR_RUNTIME, "MPI: %s lacks MPI_" #name, MPI_SONAME);                             \
        free(a);                                                                                               \
        return NULL;                                                                                           \
    }                                                                                                          \
    memcpy(&a->name, &f, sizeof f);
    MPI_FUNCTIONS(API_LOAD)
#undef API_LOAD
    a->world = PREDEFINED(MPI_Comm, MPI_COMM_WORLD, ompi_mpi_comm_world);
    a->int_type = PREDEFINED(MPI_Datatype, MPI_INT, ompi_mpi_int);
    a->byte_type = PREDEFINED(MPI_Datatype, MPI_BYTE, ompi_mpi_byte);
    a->float_type = PREDEFINED(MPI_Datatype, MPI_FLOAT, ompi_mpi_float);
    a->double_type = PREDEFINED(MPI_Datatype, MPI_DOUBLE, ompi_mpi_double);
    a->sum = PREDEFINED(MPI_Op, MPI_SUM, ompi_mpi_op_sum);
    a->min = PREDEFINED(MPI_Op, MPI_MIN, ompi_mpi_op_min);
    a->lor = PREDEFINED(MPI_Op, MPI_LOR, ompi_mpi_op_lor);
    a->errors_return = PREDEFINED(MPI_Errhandler, MPI_ERRORS_RETURN, ompi_mpi_errors_return);
    if (!a->world || !a->int_type || !a->byte_type || !a->float_type || !a->double_type || !a->sum || !a->min ||
        !a->lor || !a->errors_return) {
        lf_error_set(err, LF_ERR_RUNTIME, "MPI: %s lacks a predefined handle (MPI_COMM_WORLD, a type or an op)",
                     MPI_SONAME);
        free(a);
        return NULL;
    }
    return a;
}

bool dist_available(void) { return true; }

void dist_describe(char *buf, size_t size) {
    /* RTLD_LOCAL: only to ask its version (no plugins run), and a global
     * scope that grows leaves glibc's old one behind (LeakSanitizer sees it) */
    void *lib = dlopen(MPI_SONAME, RTLD_LAZY | RTLD_LOCAL | RTLD_NODELETE);
    void *f = lib ? dlsym(lib, "MPI_Get_library_version") : NULL;
    if (!f) {
        snprintf(buf, size, "built in, but %s does not load (%s): `mpirun -n N lorafit train` cannot run",
                 MPI_SONAME, dlerror());
        if (lib) dlclose(lib);
        return;
    }
    __typeof__(MPI_Get_library_version) *get_version;
    memcpy(&get_version, &f, sizeof f);
    /* "Open MPI v4.1.4, package: ..., ident: ...": its first part */
    char version[MPI_MAX_LIBRARY_VERSION_STRING] = "";
    int len = 0;
    if (get_version(version, &len) != MPI_SUCCESS) snprintf(version, sizeof version, "unknown version");
    version[strcspn(version, ",\n")] = '\0';
    snprintf(buf, size, "%s (%s), loaded only when a launcher starts lorafit: mpirun -n N lorafit train", version,
             MPI_SONAME);
    dlclose(lib);
}

/* Set by mpirun (Open MPI), by a PMIx launcher (srun --mpi=pmix, prterun)
 * or by a PMI-1/2 one (MPICH's Hydra, srun --mpi=pmi2). */
static bool launched(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK") || getenv("PMI_SIZE");
}

static bool mpi_failed(const DistMpi *a, int rc, const char *what, LfError *err) {
    if (rc == MPI_SUCCESS) return false;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (a->Error_string(rc, text, &len) != MPI_SUCCESS) snprintf(text, sizeof text, "error %d", rc);
    lf_error_set(err, LF_ERR_RUNTIME, "MPI: %s failed: %s", what, text);
    return true;
}

bool dist_init(Dist *d, LfError *err) {
    *d = dist_alone();
    if (!launched()) return true;
    DistMpi *a = api_open(err);
    if (!a) return false;
    /* FUNNELED: only the main thread calls MPI; OpenMP's threads compute. */
    int provided = 0;
    if (mpi_failed(a, a->Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread", err)) {
        free(a);
        return false;
    }
    d->api = a;
    /* Failures come back as codes, to become messages; a rank that dies
     * still takes the job down (mpirun's own rule). */
    a->Comm_set_errhandler(a->world, a->errors_return);
    if (mpi_failed(a, a->Comm_rank(a->world, &d->rank), "MPI_Comm_rank", err) ||
        mpi_failed(a, a->Comm_size(a->world, &d->size), "MPI_Comm_size", err))
        return false;
    return true;
}

/* Waits for req without holding the core: Open MPI's blocking calls spin
 * while the other ranks still compute, and on a machine that other jobs
 * share the spinning rank takes CPU from them, its partners included (as
 * OpenMP's spinning did: runtime.h). So: MPI_Test, spinning only briefly,
 * then sleeping 50 us between tests (each test also moves the transfer on). */
static int wait_passively(const DistMpi *a, MPI_Request *req) {
    int done = 0, rc;
    for (long tests = 0; (rc = a->Test(req, &done, MPI_STATUS_IGNORE)) == MPI_SUCCESS && !done; tests++)
        if (tests > 200) nanosleep(&(struct timespec){0, 50000}, NULL);
    return rc;
}

/* buf [n] of `type` (`size` bytes each) summed over the ranks in place
 * (several ranks: the callers handle one). */
static bool allreduce_sum(const Dist *d, void *buf, size_t n, MPI_Datatype type, size_t size, LfError *err) {
    const DistMpi *a = d->api;
    /* One call for any adapter below 2^31 values (8 GB); beyond, in parts. */
    for (size_t done = 0; done < n;) {
        size_t part = n - done < (size_t)INT_MAX ? n - done : (size_t)INT_MAX;
        MPI_Request req;
        if (mpi_failed(a, a->Iallreduce(MPI_IN_PLACE, (char *)buf + done * size, (int)part, type, a->sum, a->world, &req),
                       "MPI_Iallreduce", err) ||
            mpi_failed(a, wait_passively(a, &req), "MPI_Iallreduce", err))
            return false;
        done += part;
    }
    return true;
}

bool dist_allreduce_sum(const Dist *d, float *buf, size_t n, LfError *err) {
    return d->size == 1 || allreduce_sum(d, buf, n, d->api->float_type, sizeof *buf, err);
}

bool dist_allreduce_sum_f64(const Dist *d, double *buf, size_t n, LfError *err) {
    return d->size == 1 || allreduce_sum(d, buf, n, d->api->double_type, sizeof *buf, err);
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
    const DistMpi *a = d->api;
    /* every rank learns every count, so all know the total and whether it fits */
    int count = n < (size_t)INT_MAX ? (int)n : -1, *counts = calloc((size_t)d->size, sizeof *counts),
        *offsets = calloc((size_t)d->size, sizeof *offsets);
    bool ok = counts && offsets;
    if (!ok) lf_error_set(err, LF_ERR_IO, "out of memory");
    if (!dist_agree(d, ok, err) ||
        mpi_failed(a, a->Allgather(&count, 1, a->int_type, counts, 1, a->int_type, a->world), "MPI_Allgather", err)) {
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
         !mpi_failed(a,
                     a->Gatherv(n ? mine : &none, count, a->byte_type, *all ? *all : &none, counts, offsets,
                                a->byte_type, 0, a->world),
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
        if (mpi_failed(d->api, d->api->Bcast((char *)buf + done, (int)part, d->api->byte_type, root, d->api->world),
                       "MPI_Bcast", err))
            return false;
        done += part;
    }
    return true;
}

bool dist_any(const Dist *d, bool flag) {
    if (d->size == 1) return flag;
    int mine = flag, any = 0;
    const DistMpi *a = d->api;
    if (a->Allreduce(&mine, &any, 1, a->int_type, a->lor, a->world) != MPI_SUCCESS) return false;
    return any != 0;
}

bool dist_agree(const Dist *d, bool ok, LfError *err) {
    if (d->size == 1) return ok;
    /* the lowest failing rank, or size when none failed */
    int mine = ok ? d->size : d->rank, first = d->size;
    LfError exchange_err = {0};
    const DistMpi *a = d->api;
    if (mpi_failed(a, a->Allreduce(&mine, &first, 1, a->int_type, a->min, a->world), "MPI_Allreduce", &exchange_err)) {
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
    if (d->size > 1) d->api->Abort(d->api->world, code);
}

void dist_finalize(Dist *d) {
    if (d->api) d->api->Finalize();
    free(d->api);
    d->api = NULL;
}
