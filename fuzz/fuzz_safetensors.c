/* fuzz_safetensors.c - st_open_memory on arbitrary bytes, then every tensor
 * touched: a tensor the reader accepts must lie wholly inside the buffer
 * (ASan catches a byte outside) and convert without trouble.
 *
 *   CC=clang cmake -S . -B build-fuzz -DLORAFIT_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
 *   cmake --build build-fuzz --target fuzz_safetensors
 *   mkdir -p /tmp/st-corpus
 *   for f in $(find tests/fixtures/safetensors -name '*.safetensors'); do
 *       cp "$f" /tmp/st-corpus/$(echo "$f" | tr / _); done
 *   build-fuzz/fuzz/fuzz_safetensors /tmp/st-corpus -max_total_time=600
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* A copy of exactly `size` bytes, so reading one past the end is caught. */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    LfError err = {0};
    StFile *f = st_open_memory(buf, size, "fuzz", &err);
    if (!f) {
        /* Every failure carries a message. */
        if (err.msg[0] == '\0') abort();
        free(buf);
        return 0;
    }
    volatile unsigned sink = 0;
    for (int i = 0; i < st_count(f); i++) {
        const StTensor *t = st_tensor(f, i);
        if (st_find(f, t->name) != t) abort();
        if (t->nbytes != (size_t)t->numel * st_dtype_size(t->dtype)) abort();
        const uint8_t *p = t->data;
        if (p < buf || p + t->nbytes > buf + size) abort();
        for (size_t b = 0; b < t->nbytes; b++) sink += p[b];
        if (t->nbytes) {
            uint8_t first;
            st_peek(f, p, &first, 1);
            if (first != p[0]) abort();
        }
        if (t->dtype == ST_F32 || t->dtype == ST_F16 || t->dtype == ST_BF16 || t->dtype == ST_F64) {
            float *out = malloc((size_t)t->numel * sizeof(float) + 1);
            if (out) {
                if (!st_read_f32(t, out, (size_t)t->numel, &err)) abort();
                free(out);
            }
        }
    }
    size_t hlen;
    (void)st_header(f, &hlen);
    (void)st_metadata(f, "format");
    st_close(f);
    free(buf);
    (void)sink;
    return 0;
}
