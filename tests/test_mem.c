/* test_mem.c - what mem.h promises, observed from outside the module:
 * mem_prefault makes exactly the whole pages inside its range resident
 * (mincore(2) says which pages are) and changes no byte; mem_alloc_huge
 * gives the promised alignment, at least the bytes asked for
 * (malloc_usable_size), and asks for huge pages where it promises to
 * (the kernel's VmFlags "hg" in /proc/self/smaps). */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "lorafit/util/mem.h"

static unsigned char pattern(size_t i) { return (unsigned char)(i * 31 + 7); }

/* Whether this kernel populates on request: MADV_POPULATE_WRITE came in
 * Linux 5.14; without it mem_prefault is documented to do nothing. */
static bool kernel_populates(void) {
#ifdef MADV_POPULATE_WRITE
    long page = sysconf(_SC_PAGESIZE);
    void *q = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (q == MAP_FAILED) return false;
    bool ok = madvise(q, (size_t)page, MADV_POPULATE_WRITE) == 0;
    munmap(q, (size_t)page);
    return ok;
#else
    return false;
#endif
}

static void test_prefault_pages(void) {
    enum { PAGES = 8 };
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    unsigned char *p = mmap(NULL, PAGES * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(p != MAP_FAILED, "mmap: %s", strerror(errno));
    /* One page per fault, so that residency is decided page by page. */
    (void)madvise(p, PAGES * page, MADV_NOHUGEPAGE);

    /* Pages 0 and 5 hold data (and so are resident); the others are untouched. */
    for (size_t i = 0; i < page; i++) p[i] = pattern(i), p[5 * page + i] = pattern(5 * page + i);
    mem_prefault(p + page / 2, 4 * page);         /* [0.5, 4.5) pages: whole pages 1, 2, 3 */
    mem_prefault(p + 6 * page + 10, page - 20);   /* inside page 6: no whole page */
    mem_prefault(p + 7 * page, 0);                /* nothing */
    mem_prefault(NULL, 100);                      /* nothing, and no crash */

    unsigned char vec[PAGES];
    REQUIRE(mincore(p, PAGES * page, vec) == 0, "mincore: %s", strerror(errno));
    const bool populates = kernel_populates();
    /* By hand from the calls above: written pages, plus 1..3 where the kernel populates. */
    const int want[PAGES] = {1, populates, populates, populates, 0, 1, 0, 0};
    for (int i = 0; i < PAGES; i++)
        CHECK((vec[i] & 1) == want[i], "page %d resident %d, want %d (kernel populates: %d)", i, vec[i] & 1,
              want[i], populates);
    if (!populates) printf("note: this kernel has no MADV_POPULATE_WRITE; only the no-op is checked\n");

    /* No byte changed: the written pages keep their pattern, fresh ones read zero. */
    size_t changed = 0;
    for (size_t i = 0; i < PAGES * page; i++) {
        size_t pg = i / page;
        changed += p[i] != (pg == 0 || pg == 5 ? pattern(i) : 0);
    }
    CHECK(changed == 0, "%zu bytes changed by mem_prefault", changed);
    munmap(p, PAGES * page);
}

/* Whether the mapping that holds addr has `flag` among its VmFlags in
 * /proc/self/smaps: 1 or 0, or -1 when that cannot be read. */
static int vma_has_flag(const void *addr, const char *flag) {
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f) return -1;
    char line[512];
    bool inside = false;
    int found = -1;
    while (found < 0 && fgets(line, sizeof line, f)) {
        unsigned long long lo, hi; /* a mapping's first line: "lo-hi perms offset dev inode path" */
        if (sscanf(line, "%llx-%llx ", &lo, &hi) == 2) {
            inside = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
        } else if (inside && strncmp(line, "VmFlags:", 8) == 0) {
            char want[8];
            snprintf(want, sizeof want, " %s", flag);
            found = strstr(line + 8, want) != NULL;
        }
    }
    fclose(f);
    return found;
}

static void test_alloc_huge(void) {
    const size_t huge = MEM_HUGE_PAGE_BYTES;
    const size_t sizes[] = {0, 1, 100, 4096, huge - 1, huge, 5 * huge / 2 + 3};
    /* With THP compiled out the kernel has no sysfs directory and refuses the advice. */
    const bool thp = access("/sys/kernel/mm/transparent_hugepage", F_OK) == 0;
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        const size_t n = sizes[k];
        unsigned char *p = mem_alloc_huge(n);
        REQUIRE(p != NULL, "mem_alloc_huge(%zu)", n);
        uintptr_t align = n >= huge ? huge : 64;
        CHECK((uintptr_t)p % align == 0, "mem_alloc_huge(%zu) = %p, not %zu-byte aligned", n, (void *)p,
              (size_t)align);
        CHECK(malloc_usable_size(p) >= n, "mem_alloc_huge(%zu): only %zu usable bytes", n, malloc_usable_size(p));
        if (n >= huge && thp) {
            int first = vma_has_flag(p, "hg"), last = vma_has_flag(p + n - 1, "hg");
            if (first < 0 || last < 0) printf("note: /proc/self/smaps unreadable; huge-page advice not checked\n");
            else CHECK(first == 1 && last == 1, "mem_alloc_huge(%zu): MADV_HUGEPAGE on first byte %d, last %d", n,
                       first, last);
        }
        free(p);
    }
}

int main(void) {
    test_prefault_pages();
    test_alloc_huge();
    return check_done();
}
