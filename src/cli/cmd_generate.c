/* cmd_generate.c - `lorafit generate`: continue prompts with the base model
 * or a language-model adapter, greedy or sampled, through the engine's
 * decode loop (engine/generation.h); what a token means as text (UTF-8,
 * --stop, streaming) is decided here.
 *
 * Output: without --json, each prompt's continuation then a newline, in the
 * order of the prompts. With one sequence at a time (one prompt, or
 * --batch-size 1) the text streams as it is decoded: only whole UTF-8
 * characters, and nothing that could still turn out to start --stop. With
 * --json, one object per prompt and line. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/cli/cli.h"
#include "lorafit/cli/commands.h"
#include "lorafit/cli/common_options.h"
#include "lorafit/cli/session.h"
#include "lorafit/engine/generation.h"
#include "lorafit/util/strbuf.h"
#include "lorafit/util/utf8.h"

typedef struct {
    const char *model, *adapter, *vocab, *stop;
    int max_new_tokens, top_k, threads, batch_size;
    double temperature, top_p, repetition_penalty;
    uint64_t seed;
    bool json, from_stdin;
    char *prompt;
    char **prompts; /* [n] into argv or stdin_text */
    size_t n;
    char *stdin_text;
    QuantDtype base_dtype;
} Options;

/* PROMPT: one argument; '-' reads them from stdin. */
static bool take_prompt(const char *as, const char *arg, void *field, LfError *err) {
    (void)as;
    Options *o = field;
    if (o->prompt || o->from_stdin) {
        lf_error_set(err, LF_ERR_INPUT, "give one PROMPT (quote it), or '-' to read prompts from standard input");
        return false;
    }
    if (strcmp(arg, "-") == 0) o->from_stdin = true;
    else o->prompt = (char *)arg;
    return true;
}

static const CliOption OPTIONS[] = {
    CLI_HEADING("options:"),
    CLI_OPT_BASE_MODEL(Options, model),
    {.name = "--adapter", .type = CLI_STRING, CLI_AT(Options, adapter), .metavar = "DIR",
     .help = "a language-model adapter (task_type CAUSAL_LM); without it, the base model"},
    {.name = "--max-new-tokens", .type = CLI_INT, CLI_AT(Options, max_new_tokens), .lo = 1, .hi = 1 << 20,
     .metavar = "N", .def = "64", .help = "tokens to generate at most per prompt"},
    {.name = "--temperature", .type = CLI_DOUBLE, CLI_AT(Options, temperature), .lo_f = 0, .hi_f = 1e6,
     .metavar = "T", .def = "0", .help = "0: greedy (the most likely token); above 0: sample"},
    {.name = "--top-k", .type = CLI_INT, CLI_AT(Options, top_k), .lo = 0, .hi = 1 << 30, .metavar = "K",
     .def = "0", .help = "sample among the K most likely tokens only (0: all)"},
    {.name = "--top-p", .type = CLI_DOUBLE, CLI_AT(Options, top_p), .lo_f = 1e-9, .hi_f = 1, .metavar = "P",
     .def = "1", .help = "nucleus: the most likely tokens that together reach P (1: all)"},
    {.name = "--repetition-penalty", .type = CLI_DOUBLE, CLI_AT(Options, repetition_penalty), .lo_f = 1e-6,
     .hi_f = 1e6, .metavar = "R", .def = "1",
     .help = "divide (multiply, when negative) the logit of every token already seen by R"},
    CLI_OPT_SEED(Options, seed, 0, "0", "seed of the sampling (each prompt starts from it)"),
    {.name = "--stop", .type = CLI_STRING, CLI_AT(Options, stop), .metavar = "TEXT",
     .help = "stop when the continuation contains TEXT (which is not printed)"},
    {.name = "--json", .type = CLI_FLAG, CLI_AT(Options, json),
     .help = "one JSON object per prompt: prompt, ids and text generated, why it stopped"},
    CLI_OPT_BATCH_SIZE(Options, batch_size, 0, "prompts decoded together"),
    CLI_OPT_THREADS(Options, threads, "threads"),
    CLI_OPT_VOCAB(Options, vocab),
    CLI_OPT_BASE_DTYPE(Options, base_dtype, 0),
    {.name = "PROMPT", .type = CLI_CUSTOM, .at = 0, .size = sizeof(Options), .parse = take_prompt},
    {0}};

static const CliCommand COMMAND = {
    .name = "generate",
    .usage = "lorafit generate --model DIR [--adapter DIR] [--max-new-tokens N] [--temperature T] [--top-k K]\n"
             "       [--top-p P] [--repetition-penalty R] [--seed N] [--stop TEXT] [--json] PROMPT | -",
    .synopsis = "lorafit generate --model DIR [--adapter DIR] [options] PROMPT\n"
                "       lorafit generate --model DIR [--adapter DIR] [options] -   < prompts.txt",
    .about = "Continues the prompt and prints the continuation. Greedy unless --temperature is above 0;\n"
             "stops at <|endoftext|>, at --stop, after --max-new-tokens or at the model's context.\n"
             "With '-' the prompts are read from standard input, one per line (blank lines are\n"
             "skipped), and decoded --batch-size at a time; each continuation is printed on its own\n"
             "line, in order. An empty prompt argument (\"\") starts from <|endoftext|>, as GPT-2's\n"
             "unconditional samples do.",
    .options = OPTIONS,
};

/* ---- one sequence's text --------------------------------------------- */

/* What stopped a sequence, by GenStop: a --stop match is the caller's stop. */
static const char *stop_name(GenStop r) {
    static const char *names[] = {"none", "endoftext", "stop", "max_new_tokens", "context"};
    return names[r];
}

typedef struct {
    StrBuf b;     /* the generated bytes (cut at --stop) */
    size_t shown; /* how many of them are printed */
} Text;

/* How much of the text may be shown now: all of it once the sequence
 * ended; before, whole characters, and not a tail that could be the start
 * of the stop text. */
static size_t text_ready(const Text *t, const char *stop, bool ended) {
    if (ended) return t->b.len;
    size_t n = utf8_whole_prefix(t->b.bytes, t->b.len);
    if (stop && *stop) {
        size_t sl = strlen(stop);
        for (size_t k = sl - 1; k > 0; k--)
            if (k <= n && memcmp(t->b.bytes + n - k, stop, k) == 0) return n - k;
    }
    return n;
}

/* Adds token id's bytes to the text; *hit_stop when they complete the stop
 * text (the text is then cut where it starts). */
static bool text_take(Text *t, const Tokenizer *tok, int32_t id, const char *stop, bool *hit_stop) {
    size_t n;
    const char *bytes = tok_token_bytes(tok, id, &n);
    size_t from = t->b.len;
    *hit_stop = false;
    if (bytes && !strbuf_append(&t->b, bytes, n)) return false;
    if (stop && *stop && t->b.bytes) {
        size_t sl = strlen(stop), start = from >= sl ? from - sl + 1 : 0;
        char *hit = strstr(t->b.bytes + start, stop);
        if (hit) {
            strbuf_truncate(&t->b, (size_t)(hit - t->b.bytes));
            *hit_stop = true;
        }
    }
    return true;
}

/* Prints what is ready of t (streaming), or all of it once it ended. */
static void show(Text *t, const char *stop, bool ended) {
    size_t upto = text_ready(t, stop, ended);
    if (upto > t->shown) {
        fwrite(t->b.bytes + t->shown, 1, upto - t->shown, stdout);
        t->shown = upto;
        fflush(stdout);
    }
}

static cJSON *ids_json(const int32_t *ids, size_t n) {
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(ids[i]));
    return a;
}

/* JSON must be UTF-8: a byte of no valid character (a token holding half
 * of one, at the end) becomes U+FFFD. Returns a new string, or NULL. */
static char *valid_utf8(const char *text, size_t len) {
    char *out = malloc(3 * len + 1), *o = out;
    for (size_t i = 0; out && i < len;) {
        uint32_t cp;
        size_t n = utf8_decode((const unsigned char *)text + i, len - i, &cp);
        if (n && cp) {
            memcpy(o, text + i, n);
            o += n, i += n;
        } else {
            memcpy(o, "\xEF\xBF\xBD", 3);
            o += 3, i++;
        }
    }
    if (o) *o = '\0';
    return out;
}

static void print_json(const char *prompt, const GenSequence *s, const Text *t) {
    char *text = valid_utf8(t->b.bytes ? t->b.bytes : "", t->b.len), *ptext = valid_utf8(prompt, strlen(prompt));
    cJSON *obj = cJSON_CreateObject();
    cJSON_AddStringToObject(obj, "prompt", ptext ? ptext : "");
    cJSON_AddItemToObject(obj, "prompt_ids", ids_json(s->ids.ids, s->n_prompt));
    cJSON_AddItemToObject(obj, "generated_ids", ids_json(s->ids.ids + s->n_prompt, s->ids.n - s->n_prompt));
    cJSON_AddStringToObject(obj, "text", text ? text : "");
    cJSON_AddStringToObject(obj, "stop_reason", stop_name(s->stop));
    char *line = cJSON_PrintUnformatted(obj);
    if (line) puts(line);
    free(line);
    free(text);
    free(ptext);
    cJSON_Delete(obj);
}

/* ---- the run ----------------------------------------------------------- */

typedef struct {
    Session s;         /* the model is s.net.model */
    Generation gen;
    GenSequence *seqs; /* [n prompts] their ids */
    Text *texts;       /* [n prompts] their continuations */
} Generator;

/* The causal LM (n_classes 0: no head; the decoder has its own cache, so
 * the engine is built for one position only), with the adapter if any. */
static bool open_model(Generator *g, const Options *o, LfError *err) {
    AdapterOptions ao = {.command = "generate", .model = o->model, .adapters = {.v = {o->adapter}, .n = o->adapter != NULL},
                         .vocab = o->vocab, .batch_size = 1, .base_dtype = o->base_dtype};
    return session_open_lm_adapter(&g->s, &ao, err) && session_build_lm(&g->s, 1, 1, err);
}

/* Encodes every prompt; one that leaves no room for a new token is an error naming it. */
static bool encode_prompts(Generator *g, const Options *o, int *longest, LfError *err) {
    const int n_ctx = g->s.net.model.cfg.n_ctx;
    *longest = 1;
    for (size_t i = 0; i < o->n; i++) {
        TokIds *ids = &g->seqs[i].ids;
        /* an empty prompt starts from <|endoftext|>, as GPT-2's unconditional samples do */
        const char *text = *o->prompts[i] ? o->prompts[i] : "<|endoftext|>";
        if (!tok_encode(g->s.tok, text, strlen(text), TOK_SPECIAL_ALLOW, ids, NULL, err)) return false;
        g->seqs[i].n_prompt = ids->n;
        if (ids->n >= (size_t)n_ctx) {
            char where[64] = "the prompt";
            if (o->from_stdin) snprintf(where, sizeof where, "the prompt on line %zu of standard input", i + 1);
            lf_error_set(err, LF_ERR_INPUT,
                         "%s is %zu tokens long: it does not fit the model's context of %d with a token to generate",
                         where, ids->n, n_ctx);
            return false;
        }
        if ((int)ids->n > *longest) *longest = (int)ids->n;
    }
    return true;
}

static bool setup(Generator *g, const Options *o, int longest, LfError *err) {
    const int n_ctx = g->s.net.model.cfg.n_ctx;
    int max_B = (size_t)o->batch_size < o->n ? o->batch_size : (int)o->n;
    long max_T = (long)longest + o->max_new_tokens;
    SamplerConfig sc = {o->temperature, o->top_k, o->top_p, o->repetition_penalty, o->seed};
    return generation_init(&g->gen, &g->s.net.model, max_B, max_T < n_ctx ? (int)max_T : n_ctx, &sc, err);
}

/* What take_token() needs of the batch being decoded. */
typedef struct {
    const Options *o;
    const Tokenizer *tok;
    Text *texts; /* the batch's */
    bool stream;
} Batch;

/* generation_run's callback: the token's text, cut at --stop, streamed
 * when one sequence is decoded at a time. */
static GenVerdict take_token(void *user, int i, GenSequence *s, int32_t id, LfError *err) {
    Batch *b = user;
    Text *t = &b->texts[i];
    bool hit_stop = false;
    if (s->stop != GEN_STOP_ID && !text_take(t, b->tok, id, b->o->stop, &hit_stop)) {
        lf_error_set(err, LF_ERR_IO, "out of memory");
        return GEN_FAIL;
    }
    if (b->stream) show(t, b->o->stop, hit_stop || s->stop != GEN_RUNNING);
    return hit_stop ? GEN_END : GEN_NEXT;
}

/* Decodes prompts at .. at + n - 1 (n <= max_B) side by side and prints them. */
static bool generate_batch(Generator *g, const Options *o, size_t at, int n, LfError *err) {
    const int32_t eot = TOK_EOT;
    Batch batch = {o, g->s.tok, g->texts + at, !o->json && n == 1 && g->gen.max_B == 1};
    GenRequest r = {.max_new = o->max_new_tokens, .stop_ids = &eot, .n_stop_ids = 1, .on_token = take_token,
                    .user = &batch};
    if (!generation_run(&g->gen, g->seqs + at, n, &r, err)) return false;
    for (size_t i = at; i < at + (size_t)n; i++) {
        if (o->json) print_json(o->prompts[i], &g->seqs[i], &g->texts[i]);
        else show(&g->texts[i], o->stop, true), putchar('\n');
        tok_ids_free(&g->seqs[i].ids);
        strbuf_free(&g->texts[i].b);
    }
    fflush(stdout);
    return true;
}

static void generator_free(Generator *g, size_t n) {
    for (size_t i = 0; g->seqs && i < n; i++) tok_ids_free(&g->seqs[i].ids);
    for (size_t i = 0; g->texts && i < n; i++) strbuf_free(&g->texts[i].b);
    free(g->seqs);
    free(g->texts);
    generation_free(&g->gen);
    session_close(&g->s);
}

static int run(Options *o, LfError *err) {
    Generator g;
    memset(&g, 0, sizeof g);
    bool ok = false;
    int longest;
    if (o->from_stdin && !cli_read_stdin_lines(&o->stdin_text, &o->prompts, &o->n, "prompt", err))
        return lf_error_exit_code(err);
    if (!o->from_stdin) o->prompts = &o->prompt, o->n = 1;
    g.seqs = calloc(o->n, sizeof *g.seqs);
    g.texts = calloc(o->n, sizeof *g.texts);
    if (!g.seqs || !g.texts) {
        lf_error_set(err, LF_ERR_IO, "out of memory");
        goto done;
    }
    if (!open_model(&g, o, err) || !encode_prompts(&g, o, &longest, err) || !setup(&g, o, longest, err))
        goto done;
    for (size_t at = 0; at < o->n; at += (size_t)g.gen.max_B) {
        int n = o->n - at < (size_t)g.gen.max_B ? (int)(o->n - at) : g.gen.max_B;
        if (!generate_batch(&g, o, at, n, err)) goto done;
    }
    ok = true;
done:
    generator_free(&g, o->n);
    if (o->prompts == &o->prompt) o->prompts = NULL;
    return ok ? 0 : lf_error_exit_code(err);
}

int cmd_generate(int argc, char **argv) {
    Options o = {0};
    CliParse p;
    int rc = cli_parse(&p, &COMMAND, argc, argv, &o);
    if (rc == CLI_RUN && !o.prompt && !o.from_stdin)
        rc = cli_error(&p, "no prompt given (pass one, or '-' to read prompts from standard input)");
    if (rc == CLI_RUN) {
        session_set_threads(o.threads);
        LfError err = {0};
        rc = run(&o, &err);
        if (rc) fprintf(stderr, "lorafit generate: %s\n", err.msg);
    }
    free(o.prompts);
    free(o.stdin_text);
    return rc;
}
