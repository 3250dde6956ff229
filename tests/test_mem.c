/* test_mem.c - mem_prefault keeps the data it maps (written before, zero
 * from calloc, and at unaligned edges), and mem_alloc_huge's alignment
 * promise: 2 MB for 2 MB and more, 64 bytes below. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lorafit/util/mem.h"

static void test_prefault_keeps_data(void) {
    enum { N = 3 << 20 };
    unsigned char *p = malloc(N);
    CHECK(p != NULL, "malloc");
    if (!p) return;
    for (size_t i = 0; i < N; i++) p[i] = (unsigned char)(i * 31 + 7);
    mem_prefault(p + 1001, N - 5000); /* unaligned both ends */
    mem_prefault(p, 0);
    mem_prefault(NULL, 100);
    size_t bad = 0;
    for (size_t i = 0; i < N; i++) bad += p[i] != (unsigned char)(i * 31 + 7);
    CHECK(bad == 0, "%zu bytes changed by mem_prefault", bad);
    free(p);

    float *z = calloc(N / 4, sizeof *z);
    CHECK(z != NULL, "calloc");
    if (!z) return;
    mem_prefault(z, N / 4 * sizeof *z);
    size_t nonzero = 0;
    for (size_t i = 0; i < N / 4; i++) nonzero += z[i] != 0.0f;
    CHECK(nonzero == 0, "%zu floats of calloc'd memory not zero after mem_prefault", nonzero);
    free(z);
}

static void test_alloc_huge(void) {
    const size_t sizes[] = {0, 1, 100, 4096, (2u << 20) - 1, 2u << 20, (5u << 20) + 3};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        unsigned char *p = mem_alloc_huge(sizes[k]);
        CHECK(p != NULL, "mem_alloc_huge(%zu)", sizes[k]);
        if (!p) continue;
        uintptr_t align = sizes[k] >= (2u << 20) ? (2u << 20) : 64;
        CHECK((uintptr_t)p % align == 0, "mem_alloc_huge(%zu) = %p, not %zu-byte aligned", sizes[k], (void *)p,
              (size_t)align);
        if (sizes[k]) { /* the whole of it is ours to write */
            memset(p, 0xab, sizes[k]);
            CHECK(p[sizes[k] - 1] == 0xab, "last byte of %zu", sizes[k]);
        }
        free(p);
    }
}

int main(void) {
    test_prefault_keeps_data();
    test_alloc_huge();
    return check_done();
}
