/* eval_lm.c - see include/lorafit/cli/eval_lm.h */
#include "lorafit/cli/eval_lm.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/cli/common_options.h"
#include "lorafit/cli/lm_input.h"
#include "lorafit/data/lm_encode.h"
#include "lorafit/data/squad_eval.h"
#include "lorafit/engine/batch.h"
#include "lorafit/engine/decode.h"

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

static bool eval_perplexity(Session *s, const char *path, bool json, LfError *err) {
    LmData *d = NULL;
    TokenSet ts = {0};
    int mask = LM_MASK_BY_KIND;
    LmEval ev = {0};
    bool ok = lm_input_read(path, s->tok, s->ac.max_length, &mask, &d, &ts, err) &&
              session_build_lm(s, batch_for(s, ts.n), longest_kept(&ts), err) &&
              batch_lm_evaluate(&s->net.model, &ts, &ev, err);
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
            printf("(%zu %s, %ld target tokens, %s)\n", ts.n, d->kind == LM_KIND_TEXT ? "windows" : "examples",
                   ev.targets, mask ? "prompts masked" : "every token counted");
        }
    }
    tokenset_free(&ts);
    lm_data_free(d);
    return ok;
}

/* ---- qa: generated answers, exact match and F1 --------------------------- */

typedef struct {
    TokIds ids;  /* the prompt, then what was generated */
    int n_prompt;
    char *text;  /* the answer's bytes */
    size_t len;
    bool done;
} Answer;

typedef struct {
    Session *s;
    const EvalLmOptions *o;
    Decoder dec;
    Sampler *samplers; /* [max_B] */
    int max_B, max_T, V;
    float *logits;     /* [max_B, V] */
    int *active;
    int32_t *next;
} Qa;

static bool ids_push(TokIds *ids, int32_t id) {
    if (ids->n == ids->cap) {
        size_t cap = 2 * ids->cap + 16;
        int32_t *grown = realloc(ids->ids, cap * sizeof *grown);
        if (!grown) return false;
        ids->ids = grown;
        ids->cap = cap;
    }
    ids->ids[ids->n++] = id;
    return true;
}

static bool answer_append(Answer *a, const char *bytes, size_t n) {
    char *grown = realloc(a->text, a->len + n + 1);
    if (!grown) return false;
    a->text = grown;
    memcpy(a->text + a->len, bytes, n);
    a->len += n;
    a->text[a->len] = '\0';
    return true;
}

/* Takes token id into a; the answer ends at <|endoftext|>, a newline, the
 * token budget or the decoder's room. */
static bool answer_push(Qa *q, Answer *a, int32_t id) {
    if (id == TOK_EOT) return a->done = true;
    if (!ids_push(&a->ids, id)) return false;
    size_t n;
    const char *bytes = tok_token_bytes(q->s->tok, id, &n);
    const char *nl = bytes ? memchr(bytes, '\n', n) : NULL;
    if (bytes && !answer_append(a, bytes, nl ? (size_t)(nl - bytes) : n)) return false;
    a->done = nl || (int)a->ids.n - a->n_prompt >= q->o->max_new_tokens || (int)a->ids.n >= q->max_T;
    return true;
}

/* Answers a[0..n) side by side, slot b for a[b]. */
static bool qa_batch(Qa *q, Answer *a, int n, LfError *err) {
    int n_active = 0;
    for (int b = 0; b < n; b++) {
        sampler_reset(&q->samplers[b]);
        if (!decoder_prefill(&q->dec, b, a[b].ids.ids, a[b].n_prompt, q->logits + (size_t)b * q->V, err))
            return false;
        q->active[n_active++] = b;
    }
    while (n_active > 0) {
        int kept = 0;
        for (int i = 0; i < n_active; i++) {
            int b = q->active[i];
            int32_t id = sampler_pick(&q->samplers[b], q->logits + (size_t)i * q->V, a[b].ids.ids, (int)a[b].ids.n);
            if (!answer_push(q, &a[b], id)) {
                lf_error_set(err, LF_ERR_IO, "out of memory");
                return false;
            }
            if (!a[b].done) q->active[kept] = b, q->next[kept++] = id;
        }
        n_active = kept;
        if (n_active && !decoder_step(&q->dec, n_active, q->active, q->next, q->logits, err)) return false;
    }
    return true;
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
static bool qa_setup(Qa *q, const LmData *d, Answer *a, size_t *n_cut, LfError *err) {
    const Gpt2Config *cfg = &q->s->net.model.cfg;
    int room = (q->s->ac.max_length < cfg->n_ctx ? q->s->ac.max_length : cfg->n_ctx) - 1, longest = 1;
    for (size_t i = 0; i < d->n; i++) {
        bool cut;
        if (!lm_encode_prompt(q->s->tok, d->records[i].prompt, room, &a[i].ids, &cut, err)) return false;
        a[i].n_prompt = (int)a[i].ids.n;
        *n_cut += cut;
        if (a[i].n_prompt > longest) longest = a[i].n_prompt;
    }
    long max_T = (long)longest + q->o->max_new_tokens;
    q->max_T = max_T < cfg->n_ctx ? (int)max_T : cfg->n_ctx;
    q->V = cfg->vocab_size;
    q->max_B = batch_for(q->s, d->n);
    SamplerConfig sc = q->o->sampling;
    sc.repetition_penalty = 1; /* none: an answer may repeat the context */
    if (!sampler_config_validate(&sc, err) || !decoder_init(&q->dec, &q->s->net.model, q->max_B, q->max_T, err))
        return false;
    q->samplers = calloc((size_t)q->max_B, sizeof *q->samplers);
    q->logits = malloc((size_t)q->max_B * q->V * sizeof *q->logits);
    q->active = malloc((size_t)q->max_B * sizeof *q->active);
    q->next = malloc((size_t)q->max_B * sizeof *q->next);
    if (!q->samplers || !q->logits || !q->active || !q->next) {
        lf_error_set(err, LF_ERR_IO, "out of memory");
        return false;
    }
    for (int b = 0; b < q->max_B; b++)
        if (!sampler_init(&q->samplers[b], &sc, q->V, err)) return false;
    return true;
}

static void qa_free(Qa *q) {
    for (int b = 0; q->samplers && b < q->max_B; b++) sampler_free(&q->samplers[b]);
    free(q->samplers);
    free(q->logits);
    free(q->active);
    free(q->next);
    decoder_free(&q->dec);
}

static void print_scores(const SquadScore *sc, const LmData *d, size_t n_cut, bool json) {
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
        fprintf(stderr, "lorafit eval: note: %zu prompts were longer than the adapter's --max-length allows and were "
                        "cut from the left\n", n_cut);
}

static bool eval_qa(Session *s, const char *path, bool json, const EvalLmOptions *o, LfError *err) {
    LmData *d = lm_data_load(path, err);
    if (!d) return false;
    Qa q = {.s = s, .o = o};
    Answer *a = calloc(d->n, sizeof *a);
    const char **ids = calloc(d->n, sizeof *ids), **answers = calloc(d->n, sizeof *answers);
    SquadScore sc = {0};
    size_t n_cut = 0;
    bool ok = false;
    if (d->kind != LM_KIND_SQUAD) {
        lf_error_set(err, LF_ERR_INPUT, "%s holds %s records; --task qa needs SQuAD JSON", path, lm_kind_name(d->kind));
        goto done;
    }
    if (!a || !ids || !answers) {
        lf_error_set(err, LF_ERR_IO, "out of memory");
        goto done;
    }
    if (!session_build_lm(s, 1, 1, err) || !qa_setup(&q, d, a, &n_cut, err)) goto done;
    for (size_t at = 0; at < d->n; at += (size_t)q.max_B) {
        int n = d->n - at < (size_t)q.max_B ? (int)(d->n - at) : q.max_B;
        if (!qa_batch(&q, a + at, n, err)) goto done;
    }
    for (size_t i = 0; i < d->n; i++) {
        ids[i] = d->records[i].id;
        answers[i] = strip(a[i].text);
        if (!squad_score_add(&sc, answers[i], (const char *const *)d->records[i].answers, d->records[i].n_answers)) {
            lf_error_set(err, LF_ERR_IO, "out of memory");
            goto done;
        }
    }
    if (o->predictions && !squad_write_predictions(o->predictions, ids, answers, d->n, err)) goto done;
    print_scores(&sc, d, n_cut, json);
    ok = true;
done:
    for (size_t i = 0; a && i < d->n; i++) tok_ids_free(&a[i].ids), free(a[i].text);
    free(a);
    free(ids);
    free(answers);
    qa_free(&q);
    lm_data_free(d);
    return ok;
}

int eval_lm_run(EvalTask task, const AdapterOptions *m, const char *data, bool json, const EvalLmOptions *o,
                LfError *err) {
    Session s;
    bool ok = session_open_lm_adapter(&s, m, err) &&
              (task == EVAL_QA ? eval_qa(&s, data, json, o, err) : eval_perplexity(&s, data, json, err));
    session_close(&s);
    return ok ? 0 : lf_error_exit_code(err);
}
