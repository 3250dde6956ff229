/* fuzz_vocab.h - the GPT-2 vocabulary for the fuzz targets that encode:
 * data/gpt2 in the source tree, or the directory in $LORAFIT_VOCAB_DIR.
 * Loaded once from LLVMFuzzerInitialize; the target exits when it cannot be. */
#ifndef LORAFIT_FUZZ_VOCAB_H
#define LORAFIT_FUZZ_VOCAB_H

#include <stdio.h>
#include <stdlib.h>

#include "lorafit/data/tokenizer.h"

static Tokenizer *fuzz_load_vocab(const char *target) {
    const char *dir = getenv("LORAFIT_VOCAB_DIR");
    LfError err = {0};
    Tokenizer *t = tok_load_dir(dir ? dir : LORAFIT_SOURCE_DATA_DIR "/gpt2", &err);
    if (!t) {
        fprintf(stderr, "%s: %s\n", target, err.msg);
        exit(1);
    }
    return t;
}

#endif
