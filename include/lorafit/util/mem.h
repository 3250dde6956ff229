/* mem.h - fresh memory without a page fault per 4 KB page.
 *
 * Every first touch of a fresh 4 KB page costs a page fault, and on the
 * virtual machines lorafit is developed on a fault costs 3-10 us: the few
 * MB a short run such as `lorafit classify` writes for the first time cost
 * more than its arithmetic. These helpers map such memory in one call, or
 * in 2 MB pages. They change no data and fail silently: on a kernel without
 * them the pages fault in one by one, as before. */
#ifndef LORAFIT_MEM_H
#define LORAFIT_MEM_H

#include <stddef.h>

/* A transparent huge page (PMD) on x86-64 and most 64-bit Linux systems. */
#define MEM_HUGE_PAGE_BYTES ((size_t)2 << 20)

/* Maps the whole pages inside p[0, n) now (MADV_POPULATE_WRITE, Linux
 * >= 5.14), for memory that is about to be written. */
void mem_prefault(void *p, size_t n);

/* malloc() for large buffers: 2 MB-aligned and in transparent huge pages
 * where the kernel allows (one fault per 2 MB) when bytes >= 2 MB, else
 * 64-byte aligned. Not zeroed. Release with free(). NULL when out of memory. */
void *mem_alloc_huge(size_t bytes);

/* malloc() for a GEMM's scratch (a tile, rounded inputs): a process that
 * cannot find those few MB cannot go on, so out of memory prints what was
 * asked for and aborts. Release with free(). */
void *mem_alloc_or_abort(size_t bytes, const char *what);

#endif
