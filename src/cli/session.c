/* session.c - see include/lorafit/cli/session.h */
#include "lorafit/cli/session.h"

#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/cli/common_options.h"
#include "lorafit/engine/batch.h"
#include "lorafit/engine/bf16_matmul.h"
#include "lorafit/engine/quant_tiles.h"
#include "lorafit/io/merge.h"

bool session_open_base(Session *s, const char *command, const char *model, const char *vocab_dir, LfError *err) {
    memset(s, 0, sizeof *s);
    s->command = command;
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

/* LORAFIT_BF16_BACKEND=reference: the bf16 GEMMs through lorafit's
 * reference instead of oneDNN, on any CPU: a bf16 base's, and an int8 or
 * nf4 base's in bf16 tiles (quant_tiles.h), which they then take on every
 * CPU. A testing aid (the command-line tests run bf16 end to end with it
 * where oneDNN cannot), not an option: it is slow. */
static bool bf16_reference_wanted(bool *reference, LfError *err) {
    const char *v = getenv("LORAFIT_BF16_BACKEND");
    *reference = v && strcmp(v, "reference") == 0;
    if (!v || !*v || *reference || strcmp(v, "onednn") == 0) return true;
    lf_error_set(err, LF_ERR_INPUT, "LORAFIT_BF16_BACKEND is \"%s\"; it takes reference or onednn", v);
    return false;
}

bool session_base_dtype(QuantDtype in_file, QuantDtype wanted, const char *file, QuantDtype *out, LfError *err) {
    *out = in_file != QUANT_F32 ? in_file : wanted;
    if (in_file == QUANT_F32 || wanted == QUANT_F32 || wanted == in_file) return true;
    lf_error_set(err, LF_ERR_INPUT, "%s holds its weights in %s; --base-dtype %s needs the fp32 model", file,
                 quant_dtype_name(in_file), quant_dtype_name(wanted));
    return false;
}

bool session_quant_tiles(QuantMatrix *mats, int n, const char *command, LfError *err) {
    bool reference = false;
    if (!bf16_reference_wanted(&reference, err)) return false;
    /* fp32 tiles on a CPU without bf16 are the rule, said by bench; on one
     * with it they mean oneDNN refused the tiles, which the user should hear */
    LfError why = {0};
    if (!quant_tiles_choose(mats, n, reference, &why) && bf16_usable(NULL))
        fprintf(stderr, "lorafit %s: warning: the int8/nf4 GEMMs stay in fp32 tiles, not bf16: %s\n", command,
                why.msg);
    return true;
}

bool session_set_base_dtype(Session *s, QuantDtype dtype, LfError *err) {
    QuantDtype in_file = checkpoint_base_dtype(s->ck);
    if (!session_base_dtype(in_file, dtype, checkpoint_file(s->ck), &s->base_dtype, err)) return false;
    if (in_file != QUANT_F32)
        return session_quant_tiles(checkpoint_quant_matrices(s->ck),
                                   checkpoint_config(s->ck)->n_layer * QUANT_MATS_PER_LAYER, s->command, err);
    if (dtype == QUANT_F32) return true;
    if (!session_quantize_base(&s->qw, checkpoint_weights(s->ck), dtype, s->ck, s->command, err)) {
        lf_error_prefix(err, "%s", checkpoint_file(s->ck));
        return false;
    }
    return true;
}

bool session_quantize_base(QuantWeights *qw, const Gpt2Weights *w, QuantDtype dtype, Gpt2Checkpoint *release,
                           const char *command, LfError *err) {
    bool reference = false;
    if (!bf16_reference_wanted(&reference, err) || (dtype == QUANT_BF16 && !reference && !bf16_usable(err)))
        return false; /* before converting anything */
    if (!quant_weights_build(qw, w, dtype, err)) return false;
    if (release) checkpoint_release_block_matrices(release); /* the fp32 copies no longer count in RSS */
    if (dtype != QUANT_BF16) return session_quant_tiles(qw->mats, w->cfg.n_layer * QUANT_MATS_PER_LAYER, command, err);
    return reference || bf16_weights_use_dnnl(qw, err);
}

const Gpt2Weights *session_weights(const Session *s) {
    return s->qw.layers ? &s->qw.w : checkpoint_weights(s->ck);
}

bool session_build_model(Session *s, ModTreeStyle naming, const LoraConfig *lc, int n_classes, int max_B,
                         int max_T, uint64_t seed, LfError *err) {
    return classifier_build(&s->net, session_weights(s), naming, lc, n_classes, max_B, max_T, seed, err);
}

bool session_open_classifier_base(Session *s, const AdapterOptions *o, LfError *err) {
    if (!session_open_base(s, o->command, o->model, o->vocab, err)) return false;
    s->batch_size = o->batch_size;
    return session_set_base_dtype(s, o->base_dtype, err);
}

/* The base model as a language model, as it is: no adapters, the model's
 * whole context. */
static void base_lm_config(const Session *s, AdapterConfig *ac) {
    ac->base = *checkpoint_config(s->ck);
    ac->lora = lora_config_default();
    ac->naming = MODTREE_HF;
    ac->task = ADAPTER_TASK_CAUSAL_LM;
    ac->max_length = ac->base.n_ctx;
    ac->base_dtype = s->base_dtype;
}

static bool use_adapter_for(Session *s, const char *adapter_dir, AdapterTask task, LfError *err) {
    adapter_config_free(&s->ac);
    memset(&s->ac, 0, sizeof s->ac);
    s->adapter_dir = adapter_dir;
    if (!adapter_dir) {
        if (task == ADAPTER_TASK_CLASSIFY) return merged_load_config(s->ck, &s->ac, err); /* a merged classifier */
        base_lm_config(s, &s->ac);
        return true;
    }
    bool ok = adapter_load_config(adapter_dir, &s->ac, err) && adapter_check_task(&s->ac, task, adapter_dir, err) &&
              adapter_check_base(&s->ac, checkpoint_config(s->ck), checkpoint_fingerprint(s->ck), err);
    if (ok && !s->ac.max_length) s->ac.max_length = checkpoint_config(s->ck)->n_ctx; /* not recorded (PEFT's) */
    if (ok) session_warn_base_dtype(s, &s->ac, adapter_dir);
    return ok;
}

bool session_use_adapter(Session *s, const char *adapter_dir, LfError *err) {
    return use_adapter_for(s, adapter_dir, ADAPTER_TASK_CLASSIFY, err);
}

static bool open_adapter_for(Session *s, const AdapterOptions *o, AdapterTask task, LfError *err) {
    if (o->adapters.n > 1) {
        lf_error_set(err, LF_ERR_INPUT, "--adapter is given %d times; this opens one adapter", o->adapters.n);
        return false;
    }
    return session_open_classifier_base(s, o, err) &&
           use_adapter_for(s, o->adapters.n ? o->adapters.v[0] : NULL, task, err);
}

bool session_open_adapter(Session *s, const AdapterOptions *o, LfError *err) {
    return open_adapter_for(s, o, ADAPTER_TASK_CLASSIFY, err);
}

bool session_open_lm_adapter(Session *s, const AdapterOptions *o, LfError *err) {
    return open_adapter_for(s, o, ADAPTER_TASK_CAUSAL_LM, err);
}

/* lc without initial values: the adapter's weights replace them all. */
static LoraConfig lora_to_load(const LoraConfig *lc) {
    LoraConfig loaded = *lc;
    loaded.init = LORA_INIT_NONE;
    return loaded;
}

bool session_build_lm(Session *s, int max_B, int max_T, LfError *err) {
    classifier_free(&s->net);
    if (!s->adapter_dir) return session_build_model(s, s->ac.naming, NULL, 0, max_B, max_T, 0, err);
    LoraConfig loaded = lora_to_load(&s->ac.lora);
    return session_build_model(s, s->ac.naming, &loaded, 0, max_B, max_T, 0, err) &&
           adapter_load_weights(s->adapter_dir, &s->ac, &s->net.model, s->net.slots, err);
}

void session_warn_base_dtype(const Session *s, const AdapterConfig *ac, const char *adapter_dir) {
    if (ac->base_dtype != s->base_dtype)
        fprintf(stderr, "lorafit %s: warning: %s was trained with --base-dtype %s; using it with %s\n", s->command, adapter_dir,
                quant_dtype_name(ac->base_dtype), quant_dtype_name(s->base_dtype));
}

bool session_classify(Session *s, const TokenSet *ts, float *probs, double *mean_loss, LfError *err) {
    const AdapterConfig *ac = &s->ac;
    int max_T = ac->pool == POOL_LAST_POSITION ? ac->max_length
                                               : (ts->longest < ac->max_length ? ts->longest : ac->max_length);
    int max_B = ts->n < (size_t)s->batch_size ? (int)ts->n : s->batch_size;
    classifier_free(&s->net);
    bool merged = !s->adapter_dir; /* the merged head replaces the initial one too */
    LoraConfig loaded = lora_to_load(&ac->lora);
    return session_build_model(s, ac->naming, merged ? NULL : &loaded, ac->n_classes, max_B > 0 ? max_B : 1,
                               max_T, 0, err) &&
           (merged ? merged_load_head(s->ck, &s->net.model, err)
                   : adapter_load_weights(s->adapter_dir, ac, &s->net.model, s->net.slots, err)) &&
           batch_predict(&s->net.model, ts, ac->pool, ac->max_length, probs, mean_loss, err);
}

void session_close(Session *s) {
    classifier_free(&s->net);
    adapter_config_free(&s->ac);
    quant_weights_free(&s->qw);
    tok_free(s->tok);
    checkpoint_close(s->ck);
    memset(s, 0, sizeof *s);
}

int session_join_ranks(Dist *d, const char *command) {
    LfError err = {0};
    if (!dist_init(d, &err)) {
        fprintf(stderr, "lorafit %s: %s\n", command, err.msg);
        return lf_error_exit_code(&err);
    }
    if (dist_is_root(d)) return 0;
    fflush(stdout);
    fflush(stderr);
    /* should /dev/null be missing, the rank goes on speaking */
    if (freopen("/dev/null", "w", stdout)) (void)freopen("/dev/null", "w", stderr);
    return 0;
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
    {.name = "--adapter", .type = CLI_STRING_LIST, CLI_AT(AdapterOptions, adapters), .metavar = "DIR",
     .help = "the adapter `lorafit train` wrote (none when --model is a classifier `lorafit merge` wrote); "
             "repeatable (up to 16): each adapter's results side by side, the base opened once"},
    CLI_OPT_BATCH_SIZE(AdapterOptions, batch_size, 0, "texts per forward pass"),
    CLI_OPT_THREADS(AdapterOptions, threads, "threads"),
    CLI_OPT_VOCAB(AdapterOptions, vocab),
    CLI_OPT_BASE_DTYPE(AdapterOptions, base_dtype, 0),
    {0}};
