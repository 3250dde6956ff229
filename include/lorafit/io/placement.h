/* placement.h - where a model's weights live in memory: used in place from
 * a file's read-only mapping, or copied out of it into memory we own.
 *
 * A fresh process must make gpt2-small's block weights (340 MB) resident,
 * and on this project's VMs that is most of `lorafit classify`: each 4 KB
 * page mapped costs ~3 us (the hypervisor checks every page-table entry),
 * so faulting the blocks in through the mapping took 0.2-0.4 s, and copying
 * them into fresh huge pages cost 85-390 ms, mostly the kernel zeroing
 * memory the host has to back anew. When the page cache holds the file in
 * 2 MB folios, though, each fault maps 2 MB and all the blocks are mapped in
 * ~5 ms, with nothing copied. So: read in place when the cache is in 2 MB
 * folios; else, if the filesystem can give 2 MB folios, drop the file's
 * small cached pages and read it again into 2 MB ones (once: later runs
 * find them); else copy, over all threads. Measured on gpt2-small here:
 * 5 ms in place, 114 ms to drop and re-read. Pages not yet written back
 * (a file just downloaded) cannot be dropped, so such a file is copied
 * until the kernel has written it.
 *
 * The module knows nothing of GPT-2: the checkpoint reader says which span
 * of the mapping holds the weights worth placing, and what to copy. */
#ifndef LORAFIT_PLACEMENT_H
#define LORAFIT_PLACEMENT_H

#include <stdbool.h>
#include <stddef.h>

#include "lorafit/io/safetensors.h"
#include "lorafit/util/mem.h"

/* Whether the bytes [begin, end) of st's mapping are best used in place:
 * true when (after at most one drop and re-read of their cached pages) all
 * but 1 in 16 of the 2 MB chunks inside them are mapped in 2 MB pages.
 * False for a span of fewer than 4 such chunks (copying it costs nothing),
 * when the kernel cannot tell (no /proc/self/smaps_rollup) or cannot give
 * 2 MB folios. It changes no data, only the page cache and the mapping. */
bool placement_in_place(const StFile *st, const void *begin, const void *end);

/* Part of a copy out of the mapping, in pieces of at most
 * PLACEMENT_PIECE_BYTES so that threads can share it out. */
typedef struct {
    const void *src;
    void *dst;
    size_t bytes;
} PlacementPiece;

#define PLACEMENT_PIECE_BYTES MEM_HUGE_PAGE_BYTES

/* How many pieces a copy of `bytes` takes. */
size_t placement_n_pieces(size_t bytes);

/* Appends the pieces of copying `bytes` from src to dst to pieces[*n],
 * advancing *n by placement_n_pieces(bytes). */
void placement_add_copy(PlacementPiece *pieces, size_t *n, const void *src, void *dst, size_t bytes);

/* Copies every piece out of st's mapping, over all OpenMP threads: the time
 * goes to the kernel (zeroing fresh pages, copying out of the page cache),
 * and threads share it out (85 -> 41 ms on two cores for gpt2-small's
 * blocks, when the host has the memory at hand). */
void placement_copy(const StFile *st, const PlacementPiece *pieces, size_t n);

/* Gives back the whole pages inside [p, p + n) (a weight no longer read):
 * a file mapping's are read again should they be touched, anonymous
 * memory's would read as zeros. Pages shared with bytes outside the range
 * are kept. */
void placement_drop_pages(const void *p, size_t n);

#endif
