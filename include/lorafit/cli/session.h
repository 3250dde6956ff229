/* session.h - what train, eval and classify share: the base model and its
 * tokenizer, and the classifier (module tree, adapters, engine) built over
 * them; for eval and classify also a trained adapter, and the one call that
 * classifies a whole TokenSet with it.
 *
 * Training: session_open_base() (model + tokenizer), then the caller reads
 * and encodes its data (it needs the tokenizer, and the engine is sized by
 * the longest text), then session_build_model().
 * Inference: session_open_adapter() (model, tokenizer, the adapter's config
 * checked against the model), then the caller encodes its texts with
 * s->tok and s->ac.max_length, then session_classify() builds the engine
 * for them, loads the adapter's weights and classifies.
 * The language model (generate, eval --task qa|causal-lm):
 * session_open_lm_adapter() (an LM adapter, or none: the base model), then
 * session_build_lm().
 * session_close() releases whatever was opened. */
#ifndef LORAFIT_SESSION_H
#define LORAFIT_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "lorafit/cli/cli.h"
#include "lorafit/data/tokenizer.h"
#include "lorafit/data/tokenset.h"
#include "lorafit/engine/classifier.h"
#include "lorafit/engine/lora.h"
#include "lorafit/engine/modtree.h"
#include "lorafit/engine/quant_weights.h"
#include "lorafit/io/adapter.h"
#include "lorafit/io/checkpoint.h"
#include "lorafit/util/dist.h"
#include "lorafit/util/error.h"

typedef struct {
    Gpt2Checkpoint *ck;
    Tokenizer *tok;
    Classifier net;          /* the model: s->net.model, its adapters s->net.slots */
    QuantWeights qw;         /* the base's block matrices quantized when opened (session_set_base_dtype) */
    QuantDtype base_dtype;   /* how they are held: fp32, the quantized file's dtype, or qw's */
    /* with a trained adapter (session_open_adapter) */
    const char *adapter_dir;
    AdapterConfig ac;
    int batch_size;
    const char *command; /* the command that opened it, for its warnings ("lorafit eval: warning: ...") */
} Session;

/* Opens the checkpoint (a directory or a .safetensors file) and the
 * tokenizer (vocab_dir, or next to the model, or lorafit's own copy) for
 * `command` (its name, as warnings start "lorafit <command>: warning: "). */
bool session_open_base(Session *s, const char *command, const char *model, const char *vocab_dir, LfError *err);

/* Holds the base's block Linear weights in `dtype` from now on: quantized
 * here, unless the file already holds them quantized (then it must be
 * fp32, i.e. not given, or that same dtype). Sets s->base_dtype. bf16 runs
 * on oneDNN and fails (LF_ERR_INPUT, saying what the CPU or build lacks)
 * where it cannot; LORAFIT_BF16_BACKEND=reference, a testing aid, runs the
 * reference GEMMs instead (engine/bf16_matmul.h). int8 and nf4 get their
 * tiles' precision (session_quant_tiles). */
bool session_set_base_dtype(Session *s, QuantDtype dtype, LfError *err);

/* The dtype a base is held in: the file's when it holds its matrices
 * quantized (in_file not fp32), else the one wanted. Fails (LF_ERR_INPUT,
 * naming file) when a quantized file is asked for another dtype. */
bool session_base_dtype(QuantDtype in_file, QuantDtype wanted, const char *file, QuantDtype *out, LfError *err);

/* --recompute / --no-recompute (1 / 0), or -1 for the default: on for a
 * base not in fp32. */
static inline bool session_recompute(int option, QuantDtype base) {
    return option < 0 ? base != QUANT_F32 : option != 0;
}

/* What session_set_base_dtype does to an fp32 base: qw = w's block matrices
 * in dtype (not fp32), checked first for bf16, with its GEMMs' backend
 * attached; release's fp32 block matrices given back once converted, before
 * oneDNN makes its copies (NULL: none to give back). */
bool session_quantize_base(QuantWeights *qw, const Gpt2Weights *w, QuantDtype dtype, Gpt2Checkpoint *release,
                           const char *command, LfError *err);

/* The tiles of an int8 or nf4 base's GEMMs, mats[0 .. n - 1] (quant_tiles.h):
 * bf16 on oneDNN where the CPU and oneDNN can, bf16 on the reference with
 * LORAFIT_BF16_BACKEND=reference, else fp32. Fails (LF_ERR_INPUT) only on
 * a wrong value of that variable; fp32 tiles where bf16 ones were possible
 * are a warning from `command`. session_set_base_dtype and
 * session_quantize_base call it. */
bool session_quant_tiles(QuantMatrix *mats, int n, const char *command, LfError *err);

/* On stderr, when the adapter (config ac, in adapter_dir) was trained with
 * another base dtype than s holds: a warning naming both. */
void session_warn_base_dtype(const Session *s, const AdapterConfig *ac, const char *adapter_dir);

/* The base weights the engine runs over: the checkpoint's, or qw's. */
const Gpt2Weights *session_weights(const Session *s);

/* Builds the classifier over the checkpoint (classifier_build): the tree in
 * `naming` with LoRA per lc and a head of n_classes, the engine for batches
 * of max_B x max_T. */
bool session_build_model(Session *s, ModTreeStyle naming, const LoraConfig *lc, int n_classes, int max_B,
                         int max_T, uint64_t seed, LfError *err);

void session_close(Session *s);

/* The options of the commands that use a trained adapter (eval, classify). */
typedef struct {
    const char *command; /* the command's name (set by it, not an option): for warnings */
    const char *model, *vocab;
    CliStringList adapters; /* none: a merged classifier; several: eval and classify only */
    int batch_size; /* texts per forward pass; 8 unless given */
    int threads;    /* 0 = every core */
    QuantDtype base_dtype;
} AdapterOptions;

/* Their entries, in the order of the help: --model (required), --adapter,
 * --batch-size, --threads, --vocab, --base-dtype. Include them with
 * CLI_INCLUDE(ADAPTER_OPTIONS, Options, m). */
extern const CliOption ADAPTER_OPTIONS[];

/* Opens the base model o->model with its tokenizer (its blocks held in
 * o->base_dtype), and the adapter o->adapter: its config into s->ac, checked
 * against the model (an adapter trained on another base dtype is used, with
 * a warning on stderr naming both; without o->adapter, the model must be a
 * merged classifier: merge.h); a
 * language-model adapter is an LF_ERR_INPUT error (eval and classify
 * need a classifier). */
bool session_open_adapter(Session *s, const AdapterOptions *o, LfError *err);
/* (Both take one adapter: several are an LF_ERR_INPUT error.) */

/* Several adapters over one base (classify, eval): session_open_classifier_base()
 * opens o->model, its tokenizer and base dtype (not o->adapters); then, for
 * each adapter, session_use_adapter() loads its config into s->ac (the
 * previous one freed; the caller may move s->ac out and zero it to keep it),
 * checked as session_open_adapter() checks it, and session_classify() runs it.
 * A NULL adapter_dir is the merged classifier. */
bool session_open_classifier_base(Session *s, const AdapterOptions *o, LfError *err);
bool session_use_adapter(Session *s, const char *adapter_dir, LfError *err);

/* The same for a language-model adapter (task_type CAUSAL_LM): a
 * classifier's adapter is the LF_ERR_INPUT error there. Without
 * o->adapters, the base model itself (its head tied to the token
 * embedding): s->adapter_dir is NULL and s->ac says no LoRA, the model's
 * context as max_length. */
bool session_open_lm_adapter(Session *s, const AdapterOptions *o, LfError *err);

/* Builds the causal LM (n_classes 0) with the opened adapter's LoRA for
 * batches of max_B x max_T and loads the adapter's weights into it (no
 * adapter: the base model, no LoRA). */
bool session_build_lm(Session *s, int max_B, int max_T, LfError *err);

/* Classifies every text of ts (encoded with s->tok, cut at s->ac.max_length)
 * with the adapter: builds the engine for ts (batches of at most the
 * options' batch size, as long as its longest text, or the adapter's padded
 * length), loads the adapter's weights into it, and runs batch_predict:
 * probs [ts->n, n_classes], *mean_loss as there (may be NULL). */
bool session_classify(Session *s, const TokenSet *ts, float *probs, double *mean_loss, LfError *err);

/* For the commands that share their work across ranks (train, eval; see
 * util/dist.h): joins the ranks, and quiets every rank but 0 (stdout and
 * stderr to /dev/null), whose errors reach rank 0 through dist_agree().
 * Started alone: one rank, nothing changes. Returns 0, or the exit code
 * after printing why it could not join. */
int session_join_ranks(Dist *d, const char *command);

/* Threads for this process (per rank): n, or every core when n is 0. OpenBLAS itself
 * stays single-threaded (the engine parallelises around it). */
void session_set_threads(int n);

#endif
