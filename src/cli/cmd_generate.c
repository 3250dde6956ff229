/* cmd_generate.c - `lorafit generate`: continue prompts with the base model
 * or a language-model adapter, greedy or sampled, through the KV-cache
 * decoder (engine/decode.h) and the sampler (engine/sampler.h).
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
#include "lorafit/engine/decode.h"
#include "lorafit/engine/sampler.h"
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
             "With '-' the prompts are read from standard input, one per line, and decoded\n"
             "--batch-size at a time; each continuation is printed on its own line, in order.\n"
             "An empty prompt starts from <|endoftext|>, as GPT-2's unconditional samples do.",
    .options = OPTIONS,
};

/* ---- one sequence's text --------------------------------------------- */

typedef enum { STOP_NONE, STOP_EOT, STOP_TEXT, STOP_LENGTH, STOP_CONTEXT } StopReason;

static const char *stop_name(StopReason r) {
    static const char *names[] = {"none", "endoftext", "stop", "max_new_tokens", "context"};
    return names[r];
}

typedef struct {
    TokIds ids;      /* prompt, then the generated tokens */
    size_t n_prompt;
    char *text;      /* the generated bytes (cut at --stop) */
    size_t len, cap, shown;
    StopReason stop;
} Sequence;

static bool text_append(Sequence *s, const char *bytes, size_t n) {
    if (s->len + n + 1 > s->cap) {
        size_t cap = 2 * (s->len + n + 1) + 64;
        char *grown = realloc(s->text, cap);
        if (!grown) return false;
        s->text = grown;
        s->cap = cap;
    }
    memcpy(s->text + s->len, bytes, n);
    s->len += n;
    s->text[s->len] = '\0';
    return true;
}

/* How much of the text may be shown now: whole characters, and not a tail
 * that could be the start of the stop text. */
static size_t text_ready(const Sequence *s, const char *stop) {
    size_t n = utf8_whole_prefix(s->text, s->len);
    if (stop && s->stop == STOP_NONE) {
        size_t sl = strlen(stop);
        for (size_t k = sl - 1; k > 0; k--)
            if (k <= n && memcmp(s->text + n - k, stop, k) == 0) return n - k;
    }
    return n;
}

/* Adds token id to the sequence; sets s->stop when it ends it. */
static bool sequence_push(Sequence *s, const Tokenizer *tok, int32_t id, const Options *o, int n_ctx) {
    if (s->ids.n == s->ids.cap) {
        size_t cap = 2 * s->ids.cap + 16;
        int32_t *grown = realloc(s->ids.ids, cap * sizeof *grown);
        if (!grown) return false;
        s->ids.ids = grown;
        s->ids.cap = cap;
    }
    s->ids.ids[s->ids.n++] = id;
    if (id == TOK_EOT) {
        s->stop = STOP_EOT;
        return true;
    }
    size_t n;
    const char *bytes = tok_token_bytes(tok, id, &n);
    size_t from = s->len;
    if (bytes && !text_append(s, bytes, n)) return false;
    if (o->stop && *o->stop) {
        size_t sl = strlen(o->stop), start = from >= sl ? from - sl + 1 : 0;
        char *hit = strstr(s->text + start, o->stop);
        if (hit) {
            s->len = (size_t)(hit - s->text);
            s->text[s->len] = '\0';
            s->stop = STOP_TEXT;
            return true;
        }
    }
    if (s->ids.n - s->n_prompt >= (size_t)o->max_new_tokens) s->stop = STOP_LENGTH;
    else if (s->ids.n >= (size_t)n_ctx) s->stop = STOP_CONTEXT;
    return true;
}

static void sequence_free(Sequence *s) {
    tok_ids_free(&s->ids);
    free(s->text);
    memset(s, 0, sizeof *s);
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

static void print_json(const char *prompt, const Sequence *s) {
    char *text = valid_utf8(s->text ? s->text : "", s->len), *ptext = valid_utf8(prompt, strlen(prompt));
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

/* Prints what is ready of s (streaming), or all of it once it ended. */
static void show(Sequence *s, const Options *o) {
    size_t upto = s->stop != STOP_NONE ? s->len : text_ready(s, o->stop);
    if (upto > s->shown) {
        fwrite(s->text + s->shown, 1, upto - s->shown, stdout);
        s->shown = upto;
        fflush(stdout);
    }
}

/* ---- the run ----------------------------------------------------------- */

typedef struct {
    Session s;      /* with an adapter, the model is s.net */
    Gpt2Model base; /* without one */
    bool base_built;
    const Gpt2Model *m;
    Decoder dec;
    Sampler *samplers; /* [max_B] */
    int max_B;
    float *logits;     /* [max_B, V] */
    int *active;       /* [max_B] slots still decoding */
    int32_t *next;     /* [max_B] their newest tokens */
} Generator;

/* The causal LM (n_classes 0: no head; the decoder has its own cache, so
 * the engine is built for one position only), with the adapter if any. */
static bool open_model(Generator *g, const Options *o, LfError *err) {
    if (o->adapter) {
        AdapterOptions ao = {.model = o->model, .adapters = {.v = {o->adapter}, .n = 1}, .vocab = o->vocab, .batch_size = 1,
                             .base_dtype = o->base_dtype};
        g->m = &g->s.net.model;
        return session_open_lm_adapter(&g->s, &ao, err) && session_build_lm(&g->s, 1, 1, err);
    }
    LoraConfig lc = lora_config_default();
    g->m = &g->base;
    g->base_built = session_open_base(&g->s, o->model, o->vocab, err) &&
                    session_set_base_dtype(&g->s, o->base_dtype, err) &&
                    gpt2_build(&g->base, session_weights(&g->s), NULL, 0, &lc, 0, 1, 1, 0, err);
    return g->base_built;
}

/* Encodes every prompt; one that leaves no room for a new token is an error naming it. */
static bool encode_prompts(Generator *g, const Options *o, Sequence *seqs, int *longest, LfError *err) {
    const int n_ctx = g->m->cfg.n_ctx;
    *longest = 1;
    for (size_t i = 0; i < o->n; i++) {
        Sequence *s = &seqs[i];
        if (!tok_encode(g->s.tok, o->prompts[i], strlen(o->prompts[i]), TOK_SPECIAL_ALLOW, &s->ids, NULL, err))
            return false;
        if (s->ids.n == 0) {
            int32_t eot = TOK_EOT;
            if (!sequence_push(s, g->s.tok, eot, o, n_ctx)) return false;
            s->stop = STOP_NONE;
        }
        s->n_prompt = s->ids.n;
        if (s->ids.n >= (size_t)n_ctx) {
            char where[64] = "the prompt";
            if (o->from_stdin) snprintf(where, sizeof where, "the prompt on line %zu of standard input", i + 1);
            lf_error_set(err, LF_ERR_INPUT,
                         "%s is %zu tokens long: it does not fit the model's context of %d with a token to generate",
                         where, s->ids.n, n_ctx);
            return false;
        }
        if ((int)s->ids.n > *longest) *longest = (int)s->ids.n;
    }
    return true;
}

static bool setup(Generator *g, const Options *o, int longest, LfError *err) {
    const int V = g->m->cfg.vocab_size, n_ctx = g->m->cfg.n_ctx;
    g->max_B = (size_t)o->batch_size < o->n ? o->batch_size : (int)o->n;
    long max_T = (long)longest + o->max_new_tokens;
    SamplerConfig sc = {o->temperature, o->top_k, o->top_p, o->repetition_penalty, o->seed};
    if (!sampler_config_validate(&sc, err) ||
        !decoder_init(&g->dec, g->m, g->max_B, max_T < n_ctx ? (int)max_T : n_ctx, err))
        return false;
    g->samplers = calloc((size_t)g->max_B, sizeof *g->samplers);
    g->logits = malloc((size_t)g->max_B * V * sizeof *g->logits);
    g->active = malloc((size_t)g->max_B * sizeof *g->active);
    g->next = malloc((size_t)g->max_B * sizeof *g->next);
    if (!g->samplers || !g->logits || !g->active || !g->next) {
        lf_error_set(err, LF_ERR_IO, "out of memory");
        return false;
    }
    for (int b = 0; b < g->max_B; b++)
        if (!sampler_init(&g->samplers[b], &sc, V, err)) return false;
    return true;
}

/* Decodes seqs[0..n) (n <= max_B) side by side, slot b for seqs[b]. */
static bool generate_batch(Generator *g, const Options *o, Sequence *seqs, int n, LfError *err) {
    const int V = g->m->cfg.vocab_size, n_ctx = g->m->cfg.n_ctx;
    const bool stream = !o->json && n == 1 && g->max_B == 1;
    int *active = g->active, n_active = 0;
    int32_t *next = g->next;
    for (int b = 0; b < n; b++) {
        Sequence *s = &seqs[b];
        sampler_reset(&g->samplers[b]);
        if (!decoder_prefill(&g->dec, b, s->ids.ids, (int)s->ids.n, g->logits + (size_t)b * V, err)) return false;
        active[n_active++] = b;
    }
    while (n_active > 0) {
        int kept = 0;
        for (int i = 0; i < n_active; i++) {
            int b = active[i];
            Sequence *s = &seqs[b];
            int32_t id = sampler_pick(&g->samplers[b], g->logits + (size_t)i * V, s->ids.ids, (int)s->ids.n);
            if (!sequence_push(s, g->s.tok, id, o, n_ctx)) {
                lf_error_set(err, LF_ERR_IO, "out of memory");
                return false;
            }
            if (stream) show(s, o);
            if (s->stop == STOP_NONE) {
                active[kept] = b;
                next[kept++] = id;
            }
        }
        n_active = kept;
        if (n_active && !decoder_step(&g->dec, n_active, active, next, g->logits, err)) return false;
    }
    return true;
}

static void generator_free(Generator *g) {
    for (int b = 0; g->samplers && b < g->max_B; b++) sampler_free(&g->samplers[b]);
    free(g->samplers);
    free(g->logits);
    free(g->active);
    free(g->next);
    decoder_free(&g->dec);
    if (g->base_built) gpt2_free(&g->base);
    session_close(&g->s);
}

static int run(Options *o, LfError *err) {
    Generator g;
    memset(&g, 0, sizeof g);
    Sequence *seqs = NULL;
    bool ok = false;
    int longest;
    if (o->from_stdin && !cli_read_stdin_lines(&o->stdin_text, &o->prompts, &o->n, "prompt", err))
        return lf_error_exit_code(err);
    if (!o->from_stdin) o->prompts = &o->prompt, o->n = 1;
    seqs = calloc(o->n, sizeof *seqs);
    if (!seqs) {
        lf_error_set(err, LF_ERR_IO, "out of memory");
        goto done;
    }
    if (!open_model(&g, o, err) ||
        !encode_prompts(&g, o, seqs, &longest, err) || !setup(&g, o, longest, err))
        goto done;
    for (size_t at = 0; at < o->n; at += (size_t)g.max_B) {
        int n = o->n - at < (size_t)g.max_B ? (int)(o->n - at) : g.max_B;
        if (!generate_batch(&g, o, seqs + at, n, err)) goto done;
        for (int b = 0; b < n; b++) {
            if (o->json) print_json(o->prompts[at + b], &seqs[at + b]);
            else show(&seqs[at + b], o), putchar('\n');
            sequence_free(&seqs[at + b]);
        }
        fflush(stdout);
    }
    ok = true;
done:
    for (size_t i = 0; seqs && i < o->n; i++) sequence_free(&seqs[i]);
    free(seqs);
    generator_free(&g);
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
