/* session.c - see include/lorafit/cli/session.h */
#include "lorafit/cli/session.h"

#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/cli/common_options.h"

bool session_open_base(Session *s, const char *model, const char *vocab_dir, LfError *err) {
    memset(s, 0, sizeof *s);
    s->ck = checkpoint_open(model, err);
    if (!s->ck) return false;
    s->tok = tok_load_default(vocab_dir, checkpoint_dir(s->ck), err);
    if (!s->tok) {
        session_close(s);
        return false;
    }
    const Gpt2Config *cfg = checkpoint_config(s->ck);
    if (cfg->vocab_size < tok_vocab_size(s->tok)) {
        lf_error_set(err, LF_ERR_INPUT, "%s: the model knows %d token ids but the tokenizer has %d",
                     checkpoint_file(s->ck), cfg->vocab_size, tok_vocab_size(s->tok));
        session_close(s);
        return false;
    }
    return true;
}

bool session_build_model(Session *s, ModTreeStyle naming, const LoraConfig *lc, int n_classes, int max_B,
                         int max_T, uint64_t seed, LfError *err) {
    const Gpt2Config *cfg = checkpoint_config(s->ck);
    if (max_T > cfg->n_ctx) {
        lf_error_set(err, LF_ERR_INPUT, "%d tokens do not fit the model's context of %d", max_T, cfg->n_ctx);
        return false;
    }
    if (!modtree_build(&s->tree, cfg, naming, err) || !lora_inject(&s->tree, lc, err) ||
        !modtree_replace_head(&s->tree, n_classes, err))
        return false;
    s->n_slots = lora_slots(&s->tree, NULL, 0);
    s->slots = calloc((size_t)s->n_slots + 1, sizeof *s->slots);
    if (!s->slots) {
        lf_error_set(err, LF_ERR_IO, "out of memory");
        return false;
    }
    lora_slots(&s->tree, s->slots, s->n_slots);
    if (!gpt2_build(&s->model, checkpoint_weights(s->ck), s->slots, s->n_slots, lc, n_classes, max_B, max_T,
                    seed, err))
        return false;
    s->model_built = true;
    return true;
}

void session_close(Session *s) {
    if (s->model_built) gpt2_free(&s->model);
    free(s->slots);
    modtree_free(&s->tree);
    tok_free(s->tok);
    checkpoint_close(s->ck);
    memset(s, 0, sizeof *s);
}

/* OpenBLAS's own thread pool (pthreads builds): started when the library
 * loads, unless OPENBLAS_NUM_THREADS=1. Weak: not every build exports it. */
extern int blas_thread_shutdown_(void) __attribute__((weak));

void session_set_threads(int n) {
    /* One pool: the engine splits each GEMM over OpenMP threads, each calling
     * a single-threaded sgemm. Two pools (OpenBLAS's pthreads and OpenMP's)
     * spin against each other and run slower than one thread. */
    openblas_set_num_threads(1);
    /* OpenBLAS's idle threads would spin (sched_yield) for ~0.1 s after
     * start-up, taking a core from a short run such as classify; nothing
     * here uses them. OpenBLAS restarts them itself should it need them. */
    if (blas_thread_shutdown_) blas_thread_shutdown_();
    omp_set_num_threads(n > 0 ? n : omp_get_num_procs());
}

const CliOption ADAPTER_OPTIONS[] = {
    CLI_OPT_BASE_MODEL(AdapterOptions, model),
    {.name = "--adapter", .type = CLI_STRING, CLI_AT(AdapterOptions, adapter), .metavar = "DIR",
     .flags = CLI_REQUIRED, .help = "the adapter `lorafit train` wrote"},
    CLI_OPT_BATCH_SIZE(AdapterOptions, batch_size, 0, "texts per forward pass"),
    CLI_OPT_THREADS(AdapterOptions, threads, "threads"),
    CLI_OPT_VOCAB(AdapterOptions, vocab),
    {0}};
