/* fuzz_quant_file.c - the quantized-model reader (io/quant_file.h) on
 * arbitrary bytes: st_open_memory, the base_dtype metadata, then every block
 * matrix of layers 0 and 1 read as nf4 and as int8 for widths 48 and 64; a
 * matrix the reader accepts must dequantize wholly from inside the buffer
 * (ASan catches a byte outside), and every refusal carries a message.
 *
 *   CC=clang cmake -S . -B build-fuzz -DLORAFIT_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
 *   cmake --build build-fuzz --target fuzz_quant_file
 *   build/tests/test_quant_file     # leaves quantized models in build/test-tmp
 *   mkdir -p /tmp/qf-corpus && cp build/test-tmp/quant_file_nf4/model.safetensors /tmp/qf-corpus/nf4 &&
 *       cp build/test-tmp/quant_file_int8/model.safetensors /tmp/qf-corpus/int8
 *   build-fuzz/fuzz/fuzz_quant_file /tmp/qf-corpus -max_total_time=600
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/engine/quant_weights.h"
#include "lorafit/io/quant_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void try_matrix(const StFile *f, const char *name, QuantDtype d, int rows, int cols) {
    LfError err = {0};
    QuantMatrix q;
    if (!quant_file_read(f, name, d, rows, cols, &q, &err)) {
        if (err.msg[0] == '\0') abort();
        return;
    }
    float *out = malloc((size_t)rows * cols * sizeof *out);
    if (!out) return;
    quant_matrix_dequantize_rows(&q, 0, rows, out);
    volatile float sink = 0;
    for (size_t i = 0; i < (size_t)rows * cols; i++) sink += out[i];
    (void)sink;
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    LfError err = {0};
    StFile *f = st_open_memory(buf, size, "fuzz", &err);
    if (f) {
        QuantDtype in_file;
        if (!quant_file_dtype(f, &in_file, &err) && err.msg[0] == '\0') abort();
        (void)quant_file_layout(in_file);
        static const int widths[] = {48, 64};
        static const QuantDtype dtypes[] = {QUANT_NF4, QUANT_INT8};
        for (int l = 0; l < 2; l++)
            for (int i = 0; i < QUANT_MATS_PER_LAYER; i++)
                for (size_t w = 0; w < sizeof widths / sizeof *widths; w++)
                    for (size_t d = 0; d < sizeof dtypes / sizeof *dtypes; d++) {
                        char name[64];
                        snprintf(name, sizeof name, "h.%d.%s", l, quant_block_matrices[i].name);
                        try_matrix(f, name, dtypes[d], quant_block_matrices[i].in * widths[w],
                                   quant_block_matrices[i].out * widths[w]);
                    }
        st_close(f);
    } else if (err.msg[0] == '\0') {
        abort();
    }
    free(buf);
    return 0;
}
