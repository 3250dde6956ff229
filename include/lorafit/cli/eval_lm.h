/* eval_lm.h - `lorafit eval` for a language-model adapter (task_type
 * CAUSAL_LM), or without one for the base model itself (tied head):
 *
 *   --task qa         on SQuAD JSON: the answer to each question is generated
 *                     from its prompt (lm_data.h's, cut from the left as in
 *                     training), greedy unless --temperature is above 0, up to
 *                     <|endoftext|>, a newline or --max-new-tokens, then
 *                     stripped of surrounding whitespace, and scored by exact
 *                     match and F1 (squad_eval.h); --predictions writes
 *                     {id: answer} for the official script.
 *   --task causal-lm  on any LM file: the loss per target token and the
 *                     perplexity, the prompt masked as the kind's default.
 *
 * Each question's sampler starts from --seed, so answers do not depend on
 * --batch-size. */
#ifndef LORAFIT_CLI_EVAL_LM_H
#define LORAFIT_CLI_EVAL_LM_H

#include <stdbool.h>
#include <stdint.h>

#include "lorafit/cli/cli.h"
#include "lorafit/cli/session.h"
#include "lorafit/engine/sampler.h"
#include "lorafit/util/dist.h"
#include "lorafit/util/error.h"

typedef enum { EVAL_CLASSIFICATION, EVAL_QA, EVAL_CAUSAL_LM } EvalTask;

typedef struct {
    int max_new_tokens;
    SamplerConfig sampling; /* temperature, top-k, top-p; seed */
    const char *predictions;
} EvalLmOptions;

/* --max-new-tokens, --temperature, --top-k, --top-p, --seed, --predictions:
 * CLI_INCLUDE(EVAL_QA_OPTIONS, Options, field) */
extern const CliOption EVAL_QA_OPTIONS[];
/* Their names, for refusing them with another task. */
extern const char *const EVAL_QA_OPTION_NAMES[];

/* Runs the evaluation and prints it (JSON with json); returns the exit code
 * with err set on failure. Under mpirun each rank takes its share of the
 * texts (qa: of the questions, by count; causal-lm: by tokens) and rank 0
 * reports the whole: the same figures and predictions as one process. */
int eval_lm_run(EvalTask task, const AdapterOptions *m, const char *data, bool json, const EvalLmOptions *o,
                const Dist *dist, LfError *err);

#endif
