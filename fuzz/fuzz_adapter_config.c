/* fuzz_adapter_config.c - libFuzzer target for adapter_config.json readers:
 * lorafit's own and Python PEFT's (peft_import.h), with a weights file.
 *
 * The input, split at its first NUL byte, is adapter_config.json and then
 * adapter_model.safetensors (absent when there is no NUL), written into a
 * fresh directory that adapter_load_config() then reads. Checked for every
 * input: no crash or sanitizer report; a failure is an input error (or out
 * of memory) with a message; a config read has a rank of 1 or more and, for
 * a classifier, at least 2 class names.
 *
 *   CC=clang cmake -S . -B build-fuzz -DLORAFIT_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
 *   cmake --build build-fuzz --target fuzz_adapter_config
 * Seeds in that form (without them the fuzzer rarely gets past the JSON):
 *   mkdir -p /tmp/fuzz-ac-seed /tmp/fuzz-ac && i=0 && for d in $(find tests/fixtures -name adapter_config.json \
 *       -printf '%h\n'); do i=$((i+1)); { cat $d/adapter_config.json; printf '\0'; \
 *       cat $d/adapter_model.safetensors 2>/dev/null; } > /tmp/fuzz-ac-seed/$i; done
 *   ./build-fuzz/fuzz/fuzz_adapter_config -max_total_time=600 -max_len=100000 /tmp/fuzz-ac /tmp/fuzz-ac-seed */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lorafit/io/adapter_config.h"

static char dir[64];

static void put(const char *file, const uint8_t *data, size_t n) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    if (!data) {
        unlink(path);
        return;
    }
    FILE *f = fopen(path, "wb");
    if (f) fwrite(data, 1, n, f), fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!dir[0]) { /* one directory for the whole run */
        snprintf(dir, sizeof dir, "/tmp/fuzz-adapter-config.XXXXXX");
        if (!mkdtemp(dir)) abort();
    }
    const uint8_t *nul = memchr(data, 0, size);
    size_t n_config = nul ? (size_t)(nul - data) : size;
    put("adapter_config.json", data, n_config);
    put("adapter_model.safetensors", nul ? nul + 1 : NULL, nul ? size - n_config - 1 : 0);
    AdapterConfig ac;
    LfError err = {0};
    if (adapter_load_config(dir, &ac, &err)) {
        if (ac.lora.rank < 1 || (ac.task == ADAPTER_TASK_CLASSIFY && ac.n_classes < 2)) abort();
        adapter_config_free(&ac);
    } else if (!err.msg[0] || (err.kind != LF_ERR_INPUT && err.kind != LF_ERR_IO)) {
        abort();
    }
    return 0;
}
