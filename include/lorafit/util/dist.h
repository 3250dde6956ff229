/* dist.h - data parallelism across processes: the ranks started by mpirun
 * (or srun), hidden behind a handful of collective calls so that nothing
 * else includes mpi.h. Built over MPI with -DLORAFIT_MPI=ON (dist_mpi.c),
 * else a stub with one rank (dist_none.c).
 *
 * dist_init() starts MPI only when a launcher started this process (Open
 * MPI's, Slurm's or Hydra's rank variables are set): started alone, even a
 * binary built with MPI touches nothing of it and is one rank, rank 0. The
 * MPI library is not linked but opened then (dlopen), so that a process
 * started alone does not load it. Every
 * collective must be called by every rank in the same order (the callers
 * agree at fixed points: after set-up, in every training step, after each
 * write and evaluation); with one rank each is a copy or nothing.
 *
 * dist_allreduce_sum() is one MPI_Iallreduce on MPI_COMM_WORLD with MPI_SUM
 * over floats, waited for without spinning (MPI_Test, then short sleeps):
 * a blocking MPI_Allreduce spins while the other ranks still compute,
 * taking the CPU of a shared machine from them (a 20-step run of 2 ranks on
 * a loaded 2-core machine took 4.4 s of CPU so, 3.6 s with this wait, and
 * 1 rank x 2 threads 3.1 s).
 *
 * Determinism: Open MPI picks the collective's algorithm from the
 * communicator's size and the count alone, so for the same N and count it
 * adds in the same order every time (bitwise repeatable runs); whether
 * every rank receives the same bits is checked where it matters
 * (dist_same_bits()). */
#ifndef LORAFIT_DIST_H
#define LORAFIT_DIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lorafit/util/error.h"

/* dist_mpi.c's handle on the MPI library, which it opens in dist_init. */
typedef struct DistMpi DistMpi;

typedef struct {
    int rank, size;
    DistMpi *api; /* set when MPI_Init ran here (dist_mpi.c): dist_finalize() ends it */
} Dist;

/* Whether this binary was built with MPI. */
bool dist_available(void);

/* One line on MPI for `--version --verbose` and bench: not built in, or the
 * library's own version (opened here to ask it) and when lorafit uses it,
 * or why it does not load. */
void dist_describe(char *buf, size_t size);

/* Joins the launcher's ranks, or stands alone as rank 0 of 1 when no
 * launcher started the process (or without MPI). An MPI that fails to
 * start is an LF_ERR_RUNTIME error. */
bool dist_init(Dist *d, LfError *err);

/* Rank 0 of 1: a run that is on its own (tests, other commands). */
static inline Dist dist_alone(void) { return (Dist){.rank = 0, .size = 1, .api = NULL}; }

static inline int dist_rank(const Dist *d) { return d->rank; }
static inline int dist_size(const Dist *d) { return d->size; }
static inline bool dist_is_root(const Dist *d) { return d->rank == 0; }

/* buf [n] becomes the element-wise sum over the ranks, on every rank. */
bool dist_allreduce_sum(const Dist *d, float *buf, size_t n, LfError *err);

/* The same in double: for sums that must keep their digits (a loss over
 * many texts) or stay exact (counts below 2^53). */
bool dist_allreduce_sum_f64(const Dist *d, double *buf, size_t n, LfError *err);

/* Every rank's n bytes at `mine`, joined in rank order, on rank 0 alone:
 * *all (malloc'd, the caller frees it; never NULL there) and *all_n; NULL
 * and 0 on the others. n must stay below 2^31 bytes on each rank. */
bool dist_gather_bytes(const Dist *d, const void *mine, size_t n, char **all, size_t *all_n, LfError *err);

/* Root's `bytes` bytes of buf, copied to every rank. */
bool dist_bcast(const Dist *d, void *buf, size_t bytes, int root, LfError *err);

/* Whether `flag` is true on any rank (false when the exchange fails). */
bool dist_any(const Dist *d, bool flag);

/* The collective point where the ranks agree whether all went well: true
 * when `ok` on every rank. Otherwise false on every rank, err holding the
 * error of the lowest rank that failed ("rank 1: ..." when that is not
 * this rank; the message of a rank that failed is its own), so rank 0 can
 * print one message for all. */
bool dist_agree(const Dist *d, bool ok, LfError *err);

/* Whether the n bytes at buf are the same on every rank (rank 0's hash
 * against each rank's). */
bool dist_same_bits(const Dist *d, const void *buf, size_t n);

/* The last resort when ranks cannot agree any more: ends every rank with
 * `code`. Returns only with one rank. */
void dist_abort(const Dist *d, int code);

/* Leaves MPI (when dist_init started it). */
void dist_finalize(Dist *d);

#endif
