/* fuzz_model_config.c - libFuzzer target for a model directory's
 * config.json: its GPT-2 shape (io/model_config.h, parsed and checked as
 * checkpoint_open does) and, over that shape, a merged classifier's classes,
 * pooling and max length (merged_parse_config in io/merge.h).
 *
 * Checked for every input: no crash or sanitizer report; a refusal is an
 * input error whose message names the file; a shape read is one the engine
 * can size (every size positive and at most MODEL_CONFIG_MAX_DIM, n_embd
 * divisible by n_head); a classifier read has 2 to 4096 named classes and a
 * max length within the context.
 *
 *   CC=clang cmake -S . -B build-fuzz -DLORAFIT_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
 *   cmake --build build-fuzz --target fuzz_model_config
 *   mkdir -p /tmp/fuzz-mc /tmp/fuzz-mc-seed && for f in $(find tests/fixtures -name '*config.json'); do
 *     cp $f /tmp/fuzz-mc-seed/$(echo $f | tr / _); done
 *   ./build-fuzz/fuzz/fuzz_model_config -max_total_time=600 -max_len=4096 /tmp/fuzz-mc /tmp/fuzz-mc-seed */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/io/merge.h"
#include "lorafit/io/model_config.h"

#define NAME "fuzz/config.json"

static void check_refusal(const LfError *err) {
    if (!err->msg[0] || (err->kind != LF_ERR_INPUT && err->kind != LF_ERR_IO)) abort();
    if (err->kind == LF_ERR_INPUT && !strstr(err->msg, NAME)) abort(); /* says where */
}

static void check_shape(const Gpt2Config *c) {
    const int sizes[] = {c->n_layer, c->n_embd, c->n_head, c->vocab_size, c->n_ctx};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (sizes[i] < 1 || sizes[i] > MODEL_CONFIG_MAX_DIM) abort();
    if (c->n_embd % c->n_head != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    Gpt2Config cfg;
    LfError err = {0};
    if (model_config_parse(text, size, NAME, &cfg, &err)) {
        check_shape(&cfg);
    } else {
        check_refusal(&err);
        cfg = (Gpt2Config){.n_layer = 2, .n_embd = 32, .n_head = 4, .vocab_size = 64, .n_ctx = 32, .qkv_bias = true};
    }
    /* A merged classifier is only read over a shape checkpoint_open took. */
    AdapterConfig ac;
    err = (LfError){0};
    if (merged_parse_config(text, size, NAME, &cfg, &ac, &err)) {
        if (ac.n_classes < 2 || ac.n_classes > 4096 || !ac.class_names || ac.max_length < 1 ||
            ac.max_length > cfg.n_ctx || ac.base.n_ctx != cfg.n_ctx || ac.task != ADAPTER_TASK_CLASSIFY ||
            (ac.pool != POOL_LAST_TOKEN && ac.pool != POOL_LAST_POSITION))
            abort();
        for (int i = 0; i < ac.n_classes; i++)
            if (!ac.class_names[i]) abort();
    } else {
        check_refusal(&err);
    }
    adapter_config_free(&ac);
    return 0;
}
