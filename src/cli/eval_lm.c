/* eval_lm.c - see include/lorafit/cli/eval_lm.h */
#include "lorafit/cli/eval_lm.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/cli/cli.h"
#include "lorafit/cli/common_options.h"
#include "lorafit/cli/lm_input.h"
#include "lorafit/data/lm_encode.h"
#include "lorafit/data/squad_eval.h"
#include "lorafit/engine/batch.h"
#include "lorafit/engine/generation.h"
#include "lorafit/engine/trainer.h"
#include "lorafit/util/dist.h"
#include "lorafit/util/files.h"
#include "lorafit/util/strbuf.h"

const CliOption EVAL_QA_OPTIONS[] = {
    {.name = "--max-new-tokens", .type = CLI_INT, CLI_AT(EvalLmOptions, max_new_tokens), .lo = 1, .hi = 1 << 20,
     .metavar = "N", .def = "32", .help = "qa: tokens to generate at most per answer"},
    {.name = "--temperature", .type = CLI_DOUBLE, CLI_AT(EvalLmOptions, sampling.temperature), .lo_f = 0,
     .hi_f = 1e6, .metavar = "T", .def = "0", .help = "qa: 0 greedy; above 0 sample"},
    {.name = "--top-k", .type = CLI_INT, CLI_AT(EvalLmOptions, sampling.top_k), .lo = 0, .hi = 1 << 30,
     .metavar = "K", .def = "0", .help = "qa: sample among the K most likely tokens only (0: all)"},
    {.name = "--top-p", .type = CLI_DOUBLE, CLI_AT(EvalLmOptions, sampling.top_p), .lo_f = 1e-9, .hi_f = 1,
     .metavar = "P", .def = "1", .help = "qa: nucleus sampling: the most likely tokens that reach P (1: all)"},
    CLI_OPT_SEED(EvalLmOptions, sampling.seed, 0, "0", "qa: seed of the sampling (each question starts from it)"),
    {.name = "--predictions", .type = CLI_STRING, CLI_AT(EvalLmOptions, predictions), .metavar = "FILE",
     .help = "qa: write {\"id\": \"answer\", ...} to FILE, as the official SQuAD script reads it"},
    {0}};

const char *const EVAL_QA_OPTION_NAMES[] = {"--max-new-tokens", "--temperature", "--top-k", "--top-p",
                                            "--seed", "--predictions", NULL};

/* ---- causal-lm: loss and perplexity -------------------------------------- */

static int longest_kept(const TokenSet *ts) {
    int m = 1;
    for (size_t i = 0; i < ts->n; i++)
        if (ts->length[i] > m) m = ts->length[i];
    return m;
}

static int batch_for(const Session *s, size_t n) {
    return n < (size_t)s->batch_size ? (n ? (int)n : 1) : s->batch_size;
}

static bool eval_perplexity(Session *s, const char *path, bool json, const Dist *dist, LfError *err) {
    LmData *d = NULL;
    TokenSet ts = {0};
    int mask = LM_MASK_BY_KIND;
    LmEval ev = {0};
    bool ok = dist_agree(dist,
                         lm_input_read(path, s->tok, s->ac.max_length, &mask, &d, &ts, err) &&
                             session_build_lm(s, batch_for(s, ts.n), longest_kept(&ts), err),
                         err) &&
              trainer_lm_evaluate_shared(&s->net.model, &ts, dist, &ev, err);
    if (ok) {
        lm_input_notes(d, &ts, "eval");
        double loss = ev.targets ? ev.loss_sum / (double)ev.targets : 0.0;
        double acc = ev.targets ? (double)ev.hits / (double)ev.targets : 0.0;
        if (json) {
            printf("{\"loss\": %.6f, \"perplexity\": %.6f, \"token_accuracy\": %.6f, \"examples\": %zu, "
                   "\"targets\": %ld, \"kind\": \"%s\", \"mask_prompt\": %s}\n",
                   loss, exp(loss), acc, ts.n, ev.targets, lm_kind_name(d->kind), mask ? "true" : "false");
        } else {
            printf("Loss per token: %.4f\nPerplexity: %.2f\nToken accuracy: %.2f%%\n", loss, exp(loss), 100 * acc);
            printf("(%zu %s, %ld target tokens, %s)\n", ts.n, lm_input_unit(d, ts.n),
                   ev.targets, mask ? "prompts masked" : "every token counted");
        }
    }
    tokenset_free(&ts);
    lm_data_free(d);
    return ok;
}

/* ---- qa: generated answers, exact match and F1 --------------------------- */

typedef struct {
    Session *s;
    const EvalLmOptions *o;
    Generation gen;
    GenSequence *seqs; /* [questions] prompt ids, then the answer's */
    StrBuf *answers;   /* [questions] the answers' bytes */
} Qa;

/* What qa_batch() decodes into. */
typedef struct {
    const Tokenizer *tok;
    StrBuf *answers; /* the batch's */
} QaBatch;

/* generation_run's callback: an answer ends at <|endoftext|> (a stop id),
 * a newline, the token budget or the decoder's room. */
static GenVerdict answer_take(void *user, int i, GenSequence *s, int32_t id, LfError *err) {
    QaBatch *b = user;
    if (s->stop == GEN_STOP_ID) return GEN_END;
    size_t n;
    const char *bytes = tok_token_bytes(b->tok, id, &n);
    const char *nl = bytes ? memchr(bytes, '\n', n) : NULL;
    if (bytes && !strbuf_append(&b->answers[i], bytes, nl ? (size_t)(nl - bytes) : n)) {
        lf_error_set(err, LF_ERR_IO, "out of memory");
        return GEN_FAIL;
    }
    return nl ? GEN_END : GEN_NEXT;
}

/* Answers questions at .. at + n - 1 side by side. */
static bool qa_batch(Qa *q, size_t at, int n, LfError *err) {
    const int32_t eot = TOK_EOT;
    QaBatch batch = {q->s->tok, q->answers + at};
    GenRequest r = {.max_new = q->o->max_new_tokens, .stop_ids = &eot, .n_stop_ids = 1, .on_token = answer_take,
                    .user = &batch};
    return generation_run(&q->gen, q->seqs + at, n, &r, err);
}

/* Strips surrounding whitespace in place. */
static char *strip(char *s) {
    if (!s) return (char *)"";
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) s[--n] = '\0';
    return s;
}

/* Encodes every prompt (cut from the left to leave room for one new token
 * within the adapter's max_length) and sizes the decoder. */
static bool qa_setup(Qa *q, const LmData *d, size_t *n_cut, LfError *err) {
    const Gpt2Config *cfg = &q->s->net.model.cfg;
    int room = (q->s->ac.max_length < cfg->n_ctx ? q->s->ac.max_length : cfg->n_ctx) - 1, longest = 1;
    for (size_t i = 0; i < d->n; i++) {
        bool cut;
        if (!lm_encode_prompt(q->s->tok, d->records[i].prompt, room, &q->seqs[i].ids, &cut, err)) return false;
        q->seqs[i].n_prompt = q->seqs[i].ids.n;
        *n_cut += cut;
        if ((int)q->seqs[i].n_prompt > longest) longest = (int)q->seqs[i].n_prompt;
    }
    long max_T = (long)longest + q->o->max_new_tokens;
    SamplerConfig sc = q->o->sampling;
    sc.repetition_penalty = 1; /* none: an answer may repeat the context */
    return generation_init(&q->gen, &q->s->net.model, batch_for(q->s, d->n),
                           max_T < cfg->n_ctx ? (int)max_T : cfg->n_ctx, &sc, err);
}

static void qa_free(Qa *q, size_t n) {
    for (size_t i = 0; q->seqs && i < n; i++) tok_ids_free(&q->seqs[i].ids);
    for (size_t i = 0; q->answers && i < n; i++) strbuf_free(&q->answers[i]);
    free(q->seqs);
    free(q->answers);
    generation_free(&q->gen);
}

static void print_scores(const SquadScore *sc, const LmData *d, size_t n_cut, bool with_adapter, bool json) {
    if (json) {
        printf("{\"exact_match\": %.6f, \"f1\": %.6f, \"questions\": %zu, \"unanswerable_skipped\": %zu, "
               "\"prompts_cut\": %zu}\n",
               squad_score_exact_match(sc), squad_score_f1(sc), sc->n, d->n_unanswerable, n_cut);
        return;
    }
    printf("Exact match: %.2f%%\nF1: %.2f%%\n(%zu questions", squad_score_exact_match(sc), squad_score_f1(sc), sc->n);
    if (d->n_unanswerable) printf("; %zu unanswerable skipped", d->n_unanswerable);
    printf(")\n");
    if (n_cut)
        fprintf(stderr, "lorafit eval: note: %zu prompts were longer than %s allows and were cut from the left\n",
                n_cut, with_adapter ? "the adapter's --max-length" : "the model's context");
}

static bool qa_open(Qa *q, const LmData *d, const char *path, size_t *n_cut, LfError *err) {
    if (d->kind != LM_KIND_SQUAD) {
        lf_error_set(err, LF_ERR_INPUT, "%s holds %s records; --task qa needs SQuAD JSON", path, lm_kind_name(d->kind));
        return false;
    }
    if (!q->seqs || !q->answers) {
        lf_error_set(err, LF_ERR_IO, "out of memory");
        return false;
    }
    /* said before answering every question: the {id: answer} file cannot hold both */
    if (q->o->predictions && !lm_data_check_unique_ids(d, err)) return false;
    return session_build_lm(q->s, 1, 1, err) && qa_setup(q, d, n_cut, err);
}

/* Answers this rank's questions [lo, hi) (by count: an answer's cost is
 * mostly its own tokens), and joins their stripped answers, each ended by
 * a NUL, into *out. */
static bool qa_answer_slice(Qa *q, size_t lo, size_t hi, StrBuf *out, LfError *err) {
    for (size_t at = lo; at < hi; at += (size_t)q->gen.max_B) {
        int n = hi - at < (size_t)q->gen.max_B ? (int)(hi - at) : q->gen.max_B;
        if (!qa_batch(q, at, n, err)) return false;
    }
    for (size_t i = lo; i < hi; i++) {
        const char *a = strip(q->answers[i].bytes);
        if (!strbuf_append(out, a, strlen(a) + 1)) {
            lf_error_set(err, LF_ERR_IO, "out of memory");
            return false;
        }
    }
    return true;
}

/* On rank 0: every question's answer, from the ranks' joined slices in
 * rank (so question) order; scored, written and printed. */
static bool qa_report(const char *joined, size_t n_bytes, const LmData *d, size_t n_cut, const Session *s,
                      const EvalLmOptions *o, bool json, LfError *err) {
    const char **ids = calloc(d->n, sizeof *ids), **answers = calloc(d->n, sizeof *answers);
    SquadScore sc = {0};
    bool ok = ids && answers;
    if (!ok) lf_error_set(err, LF_ERR_IO, "out of memory");
    size_t at = 0;
    for (size_t i = 0; ok && i < d->n; i++) {
        if (at >= n_bytes) {
            lf_error_set(err, LF_ERR_RUNTIME, "the ranks returned %zu answers for %zu questions", i, d->n);
            ok = false;
            break;
        }
        ids[i] = d->records[i].id;
        answers[i] = joined + at;
        at += strlen(answers[i]) + 1;
        if (!squad_score_add(&sc, answers[i], (const char *const *)d->records[i].answers, d->records[i].n_answers)) {
            lf_error_set(err, LF_ERR_IO, "out of memory");
            ok = false;
        }
    }
    ok = ok && (!o->predictions || squad_write_predictions(o->predictions, ids, answers, d->n, err));
    if (ok) print_scores(&sc, d, n_cut, s->adapter_dir != NULL, json);
    free(ids);
    free(answers);
    return ok;
}

/* Each rank answers its share of the questions; rank 0 gathers the
 * answers, scores them and writes the predictions. */
static bool eval_qa(Session *s, const char *path, bool json, const EvalLmOptions *o, const Dist *dist,
                    LfError *err) {
    LmData *d = lm_data_load(path, err);
    size_t n = d ? d->n : 0, n_cut = 0, n_joined = 0;
    Qa q = {.s = s, .o = o, .seqs = calloc(n ? n : 1, sizeof *q.seqs), .answers = calloc(n ? n : 1, sizeof *q.answers)};
    StrBuf mine = {0};
    char *joined = NULL;
    long lo = 0, hi = 0;
    trainer_slice(NULL, (long)n, dist_rank(dist), dist_size(dist), &lo, &hi);
    bool ok = dist_agree(dist, d && qa_open(&q, d, path, &n_cut, err), err) &&
              dist_agree(dist, qa_answer_slice(&q, (size_t)lo, (size_t)hi, &mine, err), err) &&
              dist_gather_bytes(dist, mine.bytes, mine.len, &joined, &n_joined, err) &&
              (!dist_is_root(dist) || qa_report(joined, n_joined, d, n_cut, s, o, json, err));
    free(joined);
    strbuf_free(&mine);
    qa_free(&q, n);
    lm_data_free(d);
    return ok;
}

int eval_lm_run(EvalTask task, const AdapterOptions *m, const char *data, bool json, const EvalLmOptions *o,
                const Dist *dist, LfError *err) {
    Session s;
    /* said before answering every question, not after */
    if (!cli_check_not_input("--predictions", o->predictions, "--data", data, err) ||
        (o->predictions && !fs_check_writable(o->predictions, err)))
        return lf_error_exit_code(err);
    bool ok = dist_agree(dist, session_open_lm_adapter(&s, m, err), err) &&
              (task == EVAL_QA ? eval_qa(&s, data, json, o, dist, err) : eval_perplexity(&s, data, json, dist, err));
    session_close(&s);
    return ok ? 0 : lf_error_exit_code(err);
}
