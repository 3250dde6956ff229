/* mem.c - see include/lorafit/util/mem.h */
#include "lorafit/util/mem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

void mem_prefault(void *p, size_t n) {
#ifdef MADV_POPULATE_WRITE
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0 || !p) return;
    uintptr_t mask = (uintptr_t)page - 1;
    uintptr_t start = ((uintptr_t)p + mask) & ~mask, end = ((uintptr_t)p + n) & ~mask;
    if (end > start) (void)madvise((void *)start, end - start, MADV_POPULATE_WRITE);
#else
    (void)p;
    (void)n;
#endif
}

void *mem_alloc_or_abort(size_t bytes, const char *what) {
    void *p = malloc(bytes);
    if (!p && bytes) {
        fprintf(stderr, "lorafit: out of memory for %zu bytes of %s\n", bytes, what);
        abort();
    }
    return p;
}

void *mem_alloc_huge(size_t bytes) {
    void *p = NULL;
    size_t align = bytes >= MEM_HUGE_PAGE_BYTES ? MEM_HUGE_PAGE_BYTES : 64;
    if (posix_memalign(&p, align, bytes ? bytes : 1) != 0) return NULL;
#ifdef MADV_HUGEPAGE
    if (bytes >= MEM_HUGE_PAGE_BYTES) (void)madvise(p, (bytes + 4095) & ~(size_t)4095, MADV_HUGEPAGE);
#endif
    return p;
}
