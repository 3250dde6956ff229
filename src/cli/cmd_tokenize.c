/* cmd_tokenize.c - `lorafit tokenize`: the GPT-2 ids or pieces of a text,
 * exactly what the model sees; --decode goes back; --bench times encoding.
 *
 * stdout carries only the result (with --ids, the ids on one line, so a
 * script can read them); counts, warnings and errors go to stderr. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/cli/cli.h"
#include "lorafit/cli/commands.h"
#include "lorafit/util/clock.h"
#include "lorafit/util/files.h"
#include "lorafit/util/hash.h"
#include "lorafit/util/utf8.h"
#include "lorafit/data/tokenizer.h"

typedef enum { SHOW_PIECES, SHOW_IDS, SHOW_DECODE } ShowMode;

typedef struct {
    ShowMode mode;
    bool allow_special;
    const char *vocab_dir;
    const char *input;      /* TEXT, or "-" */
    const char *bench_file; /* --bench FILE */
    double bench_seconds;
} TokenizeArgs;

static bool take_text(const char *as, const char *arg, void *field, LfError *err) {
    (void)as;
    const char **input = field;
    if (*input) {
        lf_error_set(err, LF_ERR_INPUT, "one TEXT only, got '%s' too (quote the text)", arg);
        return false;
    }
    *input = arg;
    return true;
}

static const CliOption OPTIONS[] = {
    CLI_HEADING("options:"),
    {.name = "TEXT", .type = CLI_CUSTOM, CLI_AT(TokenizeArgs, input), .parse = take_text,
     .help = "the text itself; '-' reads it from standard input"},
    {.name = "--pieces", .type = CLI_SET, CLI_AT(TokenizeArgs, mode), .value = SHOW_PIECES,
     .help = "one token per line: its id and its bytes, quoted (the default)"},
    {.name = "--ids", .type = CLI_SET, CLI_AT(TokenizeArgs, mode), .value = SHOW_IDS,
     .help = "only the ids, space-separated on one line"},
    {.name = "--decode", .type = CLI_SET, CLI_AT(TokenizeArgs, mode), .value = SHOW_DECODE,
     .help = "TEXT holds ids (separated by spaces or commas); print their text"},
    {.name = "--allow-special", .type = CLI_FLAG, CLI_AT(TokenizeArgs, allow_special),
     .help = "encode \"<|endoftext|>\" as id 50256 (without it, such text is an error)"},
    {.name = "--vocab", .type = CLI_STRING, CLI_AT(TokenizeArgs, vocab_dir), .metavar = "DIR",
     .def_text = "the installed data dir, then data/gpt2 in the source tree",
     .help = "the directory with encoder.json + vocab.bpe, or vocab.json + merges.txt"},
    {.name = "--bench", .type = CLI_STRING, CLI_AT(TokenizeArgs, bench_file), .metavar = "FILE",
     .help = "encode FILE's lines (the text after the first tab, if any) as one string and one by one, "
             "and print the throughput in MB/s"},
    {.name = "--seconds", .type = CLI_DOUBLE, CLI_AT(TokenizeArgs, bench_seconds), .lo_f = 0, .hi_f = 3600,
     .metavar = "S", .def = "2", .help = "how long to time each --bench mode"},
    {0}};

static const CliCommand COMMAND = {
    .name = "tokenize",
    .usage = "lorafit tokenize [--ids | --pieces | --decode] [--allow-special] [--vocab DIR] TEXT|-\n"
             "       lorafit tokenize --bench FILE [--seconds S] [--vocab DIR]",
    .about = "Shows how GPT-2's tokenizer (tiktoken's \"gpt2\" encoding, id for id) cuts a text.",
    .options = OPTIONS,
    .epilogue = "Bytes that are not valid UTF-8 are kept, each as its own byte token, with a warning\n"
                "giving the offset of the first; decoding gives back the exact input.",
};

/* A token's bytes as a quoted string a terminal can show: complete UTF-8
 * characters as they are, everything else (controls, part of a character
 * cut by the tokenizer) as an escape. */
static void print_quoted(const char *s, size_t n) {
    putchar('"');
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        uint32_t cp;
        size_t k = utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c == '\n') fputs("\\n", stdout);
        else if (c == '\t') fputs("\\t", stdout);
        else if (c == '\r') fputs("\\r", stdout);
        else if (k == 0 || c < 0x20 || c == 0x7f) printf("\\x%02x", c);
        else fwrite(s + i, 1, k, stdout);
        i += k ? k : 1;
    }
    putchar('"');
}

static int show_encoding(const TokenizeArgs *args, Tokenizer *t, const char *text, size_t len) {
    TokIds ids = {0};
    TokEncodeInfo info;
    LfError err = {0};
    TokSpecial special = args->allow_special ? TOK_SPECIAL_ALLOW : TOK_SPECIAL_REJECT;
    if (!tok_encode(t, text, len, special, &ids, &info, &err)) {
        fprintf(stderr, "lorafit tokenize: %s%s\n", err.msg,
                special == TOK_SPECIAL_REJECT ? " (pass --allow-special to encode it as id 50256)" : "");
        tok_ids_free(&ids);
        return lf_error_exit_code(&err);
    }
    if (info.n_invalid)
        fprintf(stderr,
                "lorafit tokenize: warning: %zu byte%s of the input %s not valid UTF-8 (the first at byte %zu); "
                "each is kept as its own byte token\n",
                info.n_invalid, info.n_invalid == 1 ? "" : "s", info.n_invalid == 1 ? "is" : "are",
                info.first_invalid);
    for (size_t i = 0; i < ids.n; i++) {
        if (args->mode == SHOW_IDS) {
            printf(i ? " %d" : "%d", ids.ids[i]);
            continue;
        }
        size_t n;
        const char *bytes = tok_token_bytes(t, ids.ids[i], &n);
        printf("%6d  ", ids.ids[i]);
        print_quoted(bytes, n);
        putchar('\n');
    }
    if (args->mode == SHOW_IDS) putchar('\n');
    fprintf(stderr, "%zu tokens, %zu bytes\n", ids.n, len);
    tok_ids_free(&ids);
    return 0;
}

/* --decode: TEXT is a list of ids. */
static int show_decoding(Tokenizer *t, const char *text) {
    TokIds ids = {0};
    LfError err = {0};
    int status = 0;
    for (const char *p = text; *p;) {
        if (strchr(" \t\r\n,", *p)) {
            p++;
            continue;
        }
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < INT32_MIN || v > INT32_MAX || (*end && !strchr(" \t\r\n,", *end))) {
            fprintf(stderr, "lorafit tokenize: --decode expects token ids, got \"%.*s\" at character %zu\n",
                    (int)strcspn(p, " \t\r\n,"), p, (size_t)(p - text));
            tok_ids_free(&ids);
            return 2;
        }
        int32_t id = (int32_t)v;
        if (ids.n == ids.cap) {
            ids.cap = ids.cap ? 2 * ids.cap : 256;
            int32_t *bigger = realloc(ids.ids, ids.cap * sizeof *bigger);
            if (!bigger) {
                fprintf(stderr, "lorafit tokenize: out of memory\n");
                tok_ids_free(&ids);
                return 1;
            }
            ids.ids = bigger;
        }
        ids.ids[ids.n++] = id;
        p = end;
    }
    size_t len;
    char *out = tok_decode(t, ids.ids, ids.n, &len, &err);
    if (!out) {
        fprintf(stderr, "lorafit tokenize: %s\n", err.msg);
        status = lf_error_exit_code(&err);
    } else {
        fwrite(out, 1, len, stdout); /* exactly the bytes: no newline added */
        fprintf(stderr, "%zu tokens, %zu bytes\n", ids.n, len);
    }
    free(out);
    tok_ids_free(&ids);
    return status;
}

/* ---- --bench ---------------------------------------------------------------- */

/* 64-bit FNV-1a of the ids as uint32 LE, printed so that a run can be
 * compared with tiktoken's (scripts/tokenizer-ref/bench.mjs prints the same). */
static uint64_t digest_ids(const TokIds *ids) {
    uint64_t h = HASH_FNV_START;
    for (size_t i = 0; i < ids->n; i++) h = hash_fnv_u32(h, (uint32_t)ids->ids[i]);
    return h;
}

/* Encodes each of n texts (n = 1 for the long-string mode) into one id
 * list, again and again for at least `seconds`; prints MB/s over all passes
 * and for the first one alone, which starts with an empty word cache.
 * Special tokens are plain text here, as in tiktoken's encode_ordinary(),
 * which bench.mjs times. */
static bool bench_mode(Tokenizer *t, const char *name, char **texts, const size_t *lens, size_t n,
                       double seconds) {
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) bytes += lens[i];
    TokIds ids = {0};
    LfError err = {0};
    double start = clock_seconds(), first = 0, elapsed = 0;
    int passes = 0;
    do {
        ids.n = 0;
        for (size_t i = 0; i < n; i++) {
            if (!tok_encode(t, texts[i], lens[i], TOK_SPECIAL_AS_TEXT, &ids, NULL, &err)) {
                fprintf(stderr, "lorafit tokenize: %s\n", err.msg);
                tok_ids_free(&ids);
                return false;
            }
        }
        elapsed = clock_seconds() - start;
        if (passes++ == 0) first = elapsed;
    } while (elapsed < seconds);
    printf("lorafit %-11s %8.2f MB/s  %zu bytes, %zu ids, digest %016llx, %d passes in %.2f s, "
           "first pass %.2f MB/s\n",
           name, 1e-6 * (double)bytes * passes / elapsed, bytes, ids.n, (unsigned long long)digest_ids(&ids),
           passes, elapsed, 1e-6 * (double)bytes / first);
    tok_ids_free(&ids);
    return true;
}

static int run_bench(Tokenizer *t, const char *path, double seconds) {
    FILE *f = fopen(path, "rb");
    size_t len = 0;
    char *data = f ? fs_read_stream(f, &len) : NULL;
    if (f) fclose(f);
    if (!data) {
        fprintf(stderr, "lorafit tokenize: cannot read %s: %s\n", path, strerror(errno));
        return 2;
    }
    /* Messages in place: each line's text after its first tab. Each is then
     * moved to the front of its line, so that the messages joined with "\n"
     * form one contiguous string for the long-string mode. */
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += data[i] == '\n';
    n += len && data[len - 1] != '\n';
    char **texts = malloc((n + 1) * sizeof *texts);
    size_t *lens = malloc((n + 1) * sizeof *lens);
    size_t used = 0, n_msgs = 0;
    for (char *line = data; line < data + len; n_msgs++) {
        char *eol = memchr(line, '\n', (size_t)(data + len - line));
        if (!eol) eol = data + len;
        char *tab = memchr(line, '\t', (size_t)(eol - line));
        char *msg = tab ? tab + 1 : line;
        size_t k = (size_t)(eol - msg);
        memmove(data + used, msg, k);
        texts[n_msgs] = data + used;
        lens[n_msgs] = k;
        used += k;
        if (eol < data + len) data[used++] = '\n';
        line = eol + 1;
    }
    if (used && n_msgs && data[used - 1] == '\n') used--; /* joined: no newline after the last */
    char *joined[1] = {data};
    size_t joined_len[1] = {used};
    printf("%s: %zu messages, %zu bytes of text\n", path, n_msgs, used);
    bool ok = bench_mode(t, "one-string", joined, joined_len, 1, seconds) &&
              bench_mode(t, "per-message", texts, lens, n_msgs, seconds);
    free(texts);
    free(lens);
    free(data);
    return ok ? 0 : 1;
}

/* ---- the command -------------------------------------------------------------- */

static int parse_args(TokenizeArgs *args, int argc, char **argv) {
    CliParse p;
    *args = (TokenizeArgs){.mode = SHOW_PIECES};
    int rc = cli_parse(&p, &COMMAND, argc, argv, args);
    if (rc != CLI_RUN) return rc;
    int n_modes = cli_given(&p, "--ids") + cli_given(&p, "--pieces") + cli_given(&p, "--decode");
    if (n_modes > 1) return cli_error(&p, "choose one of --ids, --pieces and --decode");
    if (args->bench_file && (args->input || n_modes))
        return cli_error(&p, "--bench takes a FILE and no TEXT, --ids, --pieces or --decode");
    if (!args->bench_file && !args->input) return cli_error(&p, "no TEXT given (use '-' to read standard input)");
    return CLI_RUN;
}

int cmd_tokenize(int argc, char **argv) {
    TokenizeArgs args;
    int status = parse_args(&args, argc, argv);
    if (status != CLI_RUN) return status;
    LfError err = {0};
    Tokenizer *t = tok_load_default(args.vocab_dir, NULL, &err);
    if (!t) {
        fprintf(stderr, "lorafit tokenize: %s\n", err.msg);
        return lf_error_exit_code(&err);
    }
    if (args.bench_file) {
        status = run_bench(t, args.bench_file, args.bench_seconds);
        tok_free(t);
        return status;
    }
    size_t len;
    char *stdin_text = NULL;
    const char *text = args.input;
    if (strcmp(args.input, "-") == 0) {
        stdin_text = fs_read_stream(stdin, &len);
        if (!stdin_text) {
            fprintf(stderr, "lorafit tokenize: cannot read standard input: %s\n", strerror(errno));
            tok_free(t);
            return 1;
        }
        text = stdin_text;
    } else {
        len = strlen(text);
    }
    status = args.mode == SHOW_DECODE ? show_decoding(t, text) : show_encoding(&args, t, text, len);
    free(stdin_text);
    tok_free(t);
    return status;
}
