/* placement.c - see include/lorafit/io/placement.h */
#include "lorafit/io/placement.h"

#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

/* Bytes of file pages this process maps with 2 MB entries (FilePmdMapped
 * of /proc/self/smaps_rollup), or -1 when unknown. */
static long file_pmd_kb(void) {
    FILE *fp = fopen("/proc/self/smaps_rollup", "r");
    if (!fp) return -1;
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof line, fp))
        if (sscanf(line, "FilePmdMapped: %ld kB", &kb) == 1) break;
    fclose(fp);
    return kb;
}

/* Touches one byte of each chunk in [lo, hi); returns how many of them
 * this touch mapped with one 2 MB entry, or -1 when that cannot be known. */
static long touch_chunks(uintptr_t lo, uintptr_t hi) {
    long before = file_pmd_kb();
    if (before < 0) return -1;
    for (uintptr_t p = lo; p < hi; p += MEM_HUGE_PAGE_BYTES) (void)*(const volatile char *)p;
    long after = file_pmd_kb();
    return after < 0 ? -1 : (after - before) / (long)(MEM_HUGE_PAGE_BYTES >> 10);
}

/* Up to 1 chunk in 16 in small pages costs ~10 ms at 3 us a page. */
static bool mostly_huge(long mapped, size_t chunks) { return mapped >= 0 && (size_t)mapped >= chunks - chunks / 16; }

bool placement_in_place(const StFile *st, const void *begin, const void *end) {
#ifdef MADV_HUGEPAGE
    /* The 2 MB-aligned chunks [lo, hi) wholly inside [begin, end). */
    uintptr_t lo = ((uintptr_t)begin + MEM_HUGE_PAGE_BYTES - 1) & ~(uintptr_t)(MEM_HUGE_PAGE_BYTES - 1);
    uintptr_t hi = (uintptr_t)end & ~(uintptr_t)(MEM_HUGE_PAGE_BYTES - 1);
    size_t chunks = begin < end && lo < hi ? (hi - lo) / MEM_HUGE_PAGE_BYTES : 0;
    if (chunks < 4) return false; /* a small model: copying it costs nothing */
    /* A cold file is then read ahead into 2 MB folios on first touch. */
    if (madvise((void *)lo, hi - lo, MADV_HUGEPAGE) != 0) return false;
    if (mostly_huge(touch_chunks(lo, hi), chunks)) return true;
    /* Cached in small folios. Read one chunk afresh first: if that does
     * not give a 2 MB folio (transparent huge pages off, or a filesystem
     * without large folios), dropping the rest would only cost a re-read. */
    if (!st_forget_pages(st, (const void *)lo, MEM_HUGE_PAGE_BYTES) ||
        touch_chunks(lo, lo + MEM_HUGE_PAGE_BYTES) != 1)
        return false;
    if (!st_forget_pages(st, (const void *)lo, hi - lo)) return false;
    return mostly_huge(touch_chunks(lo, hi), chunks);
#else
    (void)st, (void)begin, (void)end;
    return false;
#endif
}

size_t placement_n_pieces(size_t bytes) { return (bytes + PLACEMENT_PIECE_BYTES - 1) / PLACEMENT_PIECE_BYTES; }

void placement_add_copy(PlacementPiece *pieces, size_t *n, const void *src, void *dst, size_t bytes) {
    for (size_t done = 0; done < bytes; done += PLACEMENT_PIECE_BYTES) {
        size_t left = bytes - done;
        pieces[(*n)++] = (PlacementPiece){(const char *)src + done, (char *)dst + done,
                                          left < PLACEMENT_PIECE_BYTES ? left : PLACEMENT_PIECE_BYTES};
    }
}

void placement_copy(const StFile *st, const PlacementPiece *pieces, size_t n) {
#pragma omp parallel for schedule(dynamic, 1)
    for (long i = 0; i < (long)n; i++) st_peek(st, pieces[i].src, pieces[i].dst, pieces[i].bytes);
}

void placement_drop_pages(const void *p, size_t n) {
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = ((uintptr_t)p + page - 1) / page * page, b = ((uintptr_t)p + n) / page * page;
    if (b > a) (void)madvise((void *)a, b - a, MADV_DONTNEED);
}
