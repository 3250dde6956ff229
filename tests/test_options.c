/* test_options.c - the declarative option parser (cli.h) on a table of
 * every kind of entry: values as "--x v" and "--x=v", types and ranges,
 * flags given a value, unknown options, choices, arguments, defaults,
 * which options were given, the generated help, and the comparison that
 * `train --resume` uses. Then the commands' own tables: the same option has
 * the same bounds in every command, and train's help lists every option
 * the README names. Expected values and messages are written out by hand. */
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "lorafit/cli/cli.h"
#include "lorafit/cli/commands.h"
#include "lorafit/cli/common_options.h"
#include "lorafit/engine/lora.h"

typedef struct {
    int threads;
    const char *vocab;
} Sub;

typedef struct {
    const char *name, *input;
    int count, mode, header;
    uint64_t seed;
    double rate;
    bool json;
    CliStringList tags;
    LoraConfig lora;
    Sub sub;
} Demo;

static const CliOption SUB_OPTIONS[] = {
    CLI_OPT_THREADS(Sub, threads, "threads"),
    {.name = "--vocab", .type = CLI_STRING, CLI_AT(Sub, vocab), .metavar = "DIR", .help = "the vocabulary"},
    {0}};

static const CliOption OPTIONS[] = {
    CLI_HEADING("things:"),
    {.name = "INPUT", .type = CLI_STRING, CLI_AT(Demo, input), .help = "the input"},
    {.name = "--name", .type = CLI_STRING, CLI_AT(Demo, name), .metavar = "S", .flags = CLI_REQUIRED,
     .help = "a name"},
    {.name = "--count", .type = CLI_INT, CLI_AT(Demo, count), .lo = 1, .hi = 100, .metavar = "N", .def = "8",
     .flags = CLI_FIXED, .help = "how many"},
    CLI_ALIAS("--old-count", "--count"),
    {.name = "--rate", .type = CLI_DOUBLE, CLI_AT(Demo, rate), .lo_f = 0, .hi_f = 1, .metavar = "X", .def = "0.5",
     .flags = CLI_FIXED, .help = "a fraction"},
    {.name = "--mode", .type = CLI_CHOICE, CLI_AT(Demo, mode), .choices = (const char *const[]){"fast", "slow", NULL},
     .values = (const int[]){10, 20}, .def = "fast", .flags = CLI_FIXED, .help = "how"},
    CLI_OPT_SEED(Demo, seed, 0, "123", "the seed"),
    CLI_HEADING("more:"),
    {.name = "--json", .type = CLI_FLAG, CLI_AT(Demo, json), .help = "JSON"},
    {.name = "--tag", .type = CLI_STRING_LIST, CLI_AT(Demo, tags), .metavar = "T", .flags = CLI_FIXED,
     .help = "a tag; repeatable"},
    {.name = "--header", .type = CLI_SET, CLI_AT(Demo, header), .value = 1},
    {.name = "--no-header", .type = CLI_SET, CLI_AT(Demo, header), .value = 2, .def_text = "guess",
     .help = "whether there is a header"},
    CLI_OPT_TARGETS(Demo, lora, CLI_FIXED, "which Linears"),
    CLI_INCLUDE(SUB_OPTIONS, Demo, sub),
    {0}};

static const CliCommand DEMO = {
    .name = "demo",
    .usage = "lorafit demo --name S [INPUT]",
    .about = "Shows the parser.",
    .options = OPTIONS,
    .epilogue = "The end.",
};

/* What the last call wrote to stdout and stderr. */
static char out[16384];

/* Runs f(argc, argv) with stdout and stderr going to `out`. */
static int capture(int (*f)(void *), void *arg) {
    fflush(stdout);
    fflush(stderr);
    FILE *tmp = tmpfile();
    if (!tmp) {
        fprintf(stderr, "tmpfile failed\n");
        exit(1);
    }
    int saved_out = dup(1), saved_err = dup(2);
    dup2(fileno(tmp), 1);
    dup2(fileno(tmp), 2);
    int rc = f(arg);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    rewind(tmp);
    size_t n = fread(out, 1, sizeof out - 1, tmp);
    out[n] = '\0';
    fclose(tmp);
    return rc;
}

typedef struct {
    CliParse *p;
    Demo *d;
    int argc;
    char **argv;
    int (*cmd)(int, char **);
} Call;

static int call_parse(void *arg) {
    Call *c = arg;
    return cli_parse(c->p, &DEMO, c->argc, c->argv, c->d);
}

static int call_cmd(void *arg) {
    Call *c = arg;
    return c->cmd(c->argc, c->argv);
}

/* Parses "demo" + the NULL-terminated args into *d. */
static int parse(CliParse *p, Demo *d, const char *first, ...) {
    char *argv[32] = {"demo"};
    int argc = 1;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && argc < 31; a = va_arg(ap, const char *)) argv[argc++] = (char *)a;
    va_end(ap);
    memset(d, 0, sizeof *d);
    Call c = {p, d, argc, argv, NULL};
    return capture(call_parse, &c);
}

/* Runs a command with the NULL-terminated args; returns its exit code. */
static int run_cmd(int (*cmd)(int, char **), const char *name, ...) {
    char *argv[32] = {(char *)name};
    int argc = 1;
    va_list ap;
    va_start(ap, name);
    for (const char *a = va_arg(ap, const char *); a && argc < 31; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    Call c = {NULL, NULL, argc, argv, cmd};
    return capture(call_cmd, &c);
}

#define CHECK_OUT(needle) CHECK(strstr(out, (needle)) != NULL, "output lacks \"%s\":\n%s", (needle), out)

static void test_values_and_defaults(void) {
    CliParse p;
    Demo d;
    CHECK(parse(&p, &d, "--name", "x", NULL) == CLI_RUN, "minimal: %s", out);
    CHECK_STR_EQ(d.name, "x");
    CHECK(d.count == 8 && d.rate == 0.5 && d.mode == 10 && d.seed == 123, "defaults: %d %g %d %llu", d.count,
          d.rate, d.mode, (unsigned long long)d.seed);
    CHECK(d.lora.rank == 0 && !d.json && d.header == 0 && d.input == NULL, "untouched fields stay zero");
    CHECK(out[0] == '\0', "nothing printed: %s", out);

    CHECK(parse(&p, &d, "--name=y", "--count=12", "--rate", "0.25", "--mode=slow", "--json", "--no-header",
                "--seed", "9223372036854775807", "--threads", "4", "--vocab=v", "--targets", "W_query,W_value",
                "in.csv", NULL) == CLI_RUN,
          "all kinds: %s", out);
    CHECK_STR_EQ(d.name, "y");
    CHECK(d.count == 12, "--count=12: %d", d.count);
    CHECK(d.rate == 0.25, "--rate 0.25: %g", d.rate);
    CHECK(d.mode == 20, "--mode=slow stores its value 20: %d", d.mode);
    CHECK(d.json, "--json");
    CHECK(d.header == 2, "--no-header stores 2: %d", d.header);
    CHECK(d.seed == 9223372036854775807ULL, "--seed 2^63-1 into a uint64_t");
    CHECK(d.sub.threads == 4, "--threads in the group: %d", d.sub.threads);
    CHECK(d.sub.vocab && strcmp(d.sub.vocab, "v") == 0, "--vocab=v in the group");
    CHECK(d.lora.n_targets == 2 && strcmp(d.lora.targets[0], "W_query") == 0 &&
              strcmp(d.lora.targets[1], "W_value") == 0,
          "--targets: %d", d.lora.n_targets);
    CHECK_STR_EQ(d.input, "in.csv");

    /* The last of a repeated option wins; an alias stores into its option. */
    CHECK(parse(&p, &d, "--name", "x", "--count", "3", "--old-count", "4", "--header", NULL) == CLI_RUN, "%s", out);
    CHECK(d.count == 4 && d.header == 1, "repeated: %d %d", d.count, d.header);
    /* "--" ends the options; "-" is an argument. */
    CHECK(parse(&p, &d, "--name", "x", "--", "-x", NULL) == CLI_RUN && d.input && strcmp(d.input, "-x") == 0,
          "after --: %s", out);
    CHECK(parse(&p, &d, "--name", "x", "-", NULL) == CLI_RUN && d.input && strcmp(d.input, "-") == 0, "'-'");
}

/* A repeatable option keeps every value in order, up to CLI_LIST_MAX (16). */
static void test_string_list(void) {
    CliParse p;
    Demo d;
    CHECK(parse(&p, &d, "--name", "x", NULL) == CLI_RUN && d.tags.n == 0, "not given: empty, %d", d.tags.n);
    CHECK(!cli_given(&p, "--tag"), "not given");
    CHECK(parse(&p, &d, "--tag", "a", "--name", "x", "--tag=b c", "--tag", "a", NULL) == CLI_RUN, "%s", out);
    CHECK(d.tags.n == 3, "three values: %d", d.tags.n);
    CHECK_STR_EQ(d.tags.v[0], "a");
    CHECK_STR_EQ(d.tags.v[1], "b c");
    CHECK_STR_EQ(d.tags.v[2], "a");
    CHECK(cli_given(&p, "--tag"), "given");

    char *argv[3 + 2 * 17 + 1] = {"demo", "--name"}; /* and a NULL, as main gets it */
    argv[2] = "x";
    int argc = 3;
    for (int i = 0; i < 16; i++) {
        argv[argc++] = "--tag";
        argv[argc++] = i % 2 ? "odd" : "even";
    }
    d.tags.n = 5; /* whatever the struct held: the parser starts the list empty */
    Call c = {&p, &d, argc, argv, NULL};
    CHECK(capture(call_parse, &c) == CLI_RUN && d.tags.n == 16, "16 values: %d %s", d.tags.n, out);
    CHECK_STR_EQ(d.tags.v[15], "odd");
    argv[argc++] = "--tag";
    argv[argc++] = "one-too-many";
    c.argc = argc;
    CHECK(capture(call_parse, &c) == 2, "17 values");
    CHECK_OUT("lorafit demo: option '--tag' is given more than 16 times\n");

    Demo a, b;
    CHECK(parse(&p, &a, "--name", "x", "--tag", "a", "--tag", "b", NULL) == CLI_RUN, "%s", out);
    b = a;
    CHECK(cli_first_change(&p, &a, &b) == NULL, "the same list");
    b.tags.v[1] = "c";
    CHECK(cli_first_change(&p, &a, &b) && strcmp(cli_first_change(&p, &a, &b), "--tag") == 0, "another value");
    b = a;
    b.tags.n = 1;
    CHECK(cli_first_change(&p, &a, &b) && strcmp(cli_first_change(&p, &a, &b), "--tag") == 0, "a shorter list");
}

/* Each bad command line: exit code 2 and the message, then the usage line. */
static void test_errors(void) {
    static const struct {
        const char *args[4];
        const char *message;
    } cases[] = {
        {{"--count", "0"}, "lorafit demo: option '--count' must be between 1 and 100, got 0\n"},
        {{"--count=101"}, "lorafit demo: option '--count' must be between 1 and 100, got 101\n"},
        {{"--old-count", "-5"}, "lorafit demo: option '--old-count' must be between 1 and 100, got -5\n"},
        {{"--count", "2.5"}, "lorafit demo: option '--count' expects a whole number, got '2.5'\n"},
        {{"--count", ""}, "lorafit demo: option '--count' expects a whole number, got ''\n"},
        {{"--count"}, "lorafit demo: option '--count' needs a value\n"},
        {{"--seed", "9223372036854775808"},
         "lorafit demo: option '--seed' expects a whole number, got '9223372036854775808'\n"},
        {{"--seed", "-1"}, "lorafit demo: option '--seed' must be between 0 and 9223372036854775807, got -1\n"},
        {{"--rate", "1.5"}, "lorafit demo: option '--rate' must be between 0 and 1, got 1.5\n"},
        {{"--rate", "abc"}, "lorafit demo: option '--rate' expects a number, got 'abc'\n"},
        {{"--rate", "inf"}, "lorafit demo: option '--rate' expects a number, got 'inf'\n"},
        {{"--mode", "medium"}, "lorafit demo: option '--mode' expects one of fast, slow, got 'medium'\n"},
        {{"--json=1"}, "lorafit demo: option '--json' takes no value\n"},
        {{"--no-header=yes"}, "lorafit demo: option '--no-header' takes no value\n"},
        {{"--bogus"}, "lorafit demo: unknown option '--bogus'\n"},
        {{"--bogus=3"}, "lorafit demo: unknown option '--bogus'\n"},
        {{"--threads", "0"}, "lorafit demo: option '--threads' must be between 1 and 1024, got 0\n"},
        {{"a", "b"}, "lorafit demo: unexpected argument 'b'\n"},
        {{"--targets", "W_query,"}, "lorafit demo: empty name in the target list 'W_query,'\n"},
        {{"--count", "5"}, "lorafit demo: --name is required\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CliParse p;
        Demo d;
        const char *const *a = cases[i].args;
        bool needs_name = strstr(cases[i].message, "--name is required") == NULL;
        int rc = needs_name ? parse(&p, &d, "--name", "x", a[0], a[1], a[2], NULL) : parse(&p, &d, a[0], a[1], NULL);
        CHECK(rc == 2, "case %zu (%s): exit code %d", i, a[0], rc);
        CHECK(strncmp(out, cases[i].message, strlen(cases[i].message)) == 0, "case %zu:\n  got:  %s  want: %s", i,
              out, cases[i].message);
        CHECK_OUT("usage: lorafit demo --name S [INPUT]\nRun 'lorafit demo --help' for the options.\n");
    }
}

static void test_given(void) {
    CliParse p;
    Demo d;
    CHECK(parse(&p, &d, "--name", "x", "--old-count", "3", "--json", "--threads", "2", NULL) == CLI_RUN, "%s", out);
    CHECK(cli_given(&p, "--name") && cli_given(&p, "--count") && cli_given(&p, "--json"), "given ones");
    CHECK(cli_given(&p, "--old-count"), "asking by the alias answers for its option");
    CHECK(cli_given(&p, "--threads"), "an option of an included group");
    CHECK(!cli_given(&p, "--rate") && !cli_given(&p, "--mode") && !cli_given(&p, "--seed"),
          "defaults do not count as given");
    CHECK(!cli_given(&p, "--header") && !cli_given(&p, "--vocab"), "not given");
}

static void test_help(void) {
    CliParse p;
    Demo d;
    CHECK(parse(&p, &d, "--count", "3", "--help", "--bogus", NULL) == 0, "--help exits 0 before later errors");
    const char *start = "usage: lorafit demo --name S [INPUT]\n\nShows the parser.\n\nthings:\n";
    CHECK(strncmp(out, start, strlen(start)) == 0, "the help starts with usage, about, the first heading:\n%s", out);
    /* The label column: 2 + the longest label ("--mode fast|slow", 16) + 2 = 20. */
    static const char *const lines[] = {
        "\n  INPUT             the input\n",
        "\n  --name S          a name\n",
        "\n  --count N         how many (default 8)\n",
        "\n  --old-count N     the same as --count\n",
        "\n  --rate X          a fraction (default 0.5)\n",
        "\n  --mode fast|slow  how (default: fast)\n",
        "\n  --seed N          the seed (default 123)\n",
        "\n\nmore:\n",
        "\n  --json            JSON\n",
        "\n  --tag T           a tag; repeatable\n",
        "\n  --header, --no-header  whether there is a header (default: guess)\n",
        "\n  --targets LIST    which Linears\n",
        "\n  --threads N       threads (default: every core)\n",
        "\n  --vocab DIR       the vocabulary\n",
        "\n  -h, --help        this help\n\nThe end.\n",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) CHECK_OUT(lines[i]);
    CHECK(parse(&p, &d, "-h", NULL) == 0 && strncmp(out, "usage: lorafit demo", 19) == 0, "-h is --help");
}

/* cli_first_change: of the CLI_FIXED options given, the first in command-line order that differs. */
static void test_first_change(void) {
    CliParse p;
    Demo a, b;
    CHECK(parse(&p, &a, "--name", "x", "--rate", "0.25", "--count", "3", "--targets", "W_query", "--json", NULL) ==
              CLI_RUN,
          "%s", out);
    b = a;
    CHECK(cli_first_change(&p, &a, &b) == NULL, "the same values");
    b.json = false;
    b.mode = 20;
    b.name = "other";
    CHECK(cli_first_change(&p, &a, &b) == NULL, "not fixed (--json, --name) or not given (--mode): no conflict");
    b.count = 4;
    CHECK(cli_first_change(&p, &a, &b) && strcmp(cli_first_change(&p, &a, &b), "--count") == 0, "--count differs");
    b.rate = 0.5;
    CHECK(cli_first_change(&p, &a, &b) && strcmp(cli_first_change(&p, &a, &b), "--rate") == 0,
          "--rate was given before --count");
    b = a;
    CHECK(lora_config_set_targets(&b.lora, "W_key", NULL), "set targets");
    CHECK(cli_first_change(&p, &a, &b) && strcmp(cli_first_change(&p, &a, &b), "--targets") == 0,
          "--targets compares the lists");
    b = a;
    CHECK(lora_config_set_targets(&b.lora, "W_query,W_key", NULL), "set targets");
    CHECK(cli_first_change(&p, &a, &b) && strcmp(cli_first_change(&p, &a, &b), "--targets") == 0,
          "--targets: a longer list differs");
}

/* The same option has the same bounds, and the same message, in every command. */
static void test_commands_share_bounds(void) {
    static const struct {
        int (*cmd)(int, char **);
        const char *name, *option, *value, *message;
    } cases[] = {
        {cmd_train, "train", "--threads", "1025", "option '--threads' must be between 1 and 1024, got 1025"},
        {cmd_eval, "eval", "--threads", "1025", "option '--threads' must be between 1 and 1024, got 1025"},
        {cmd_classify, "classify", "--threads", "1025", "option '--threads' must be between 1 and 1024, got 1025"},
        {cmd_bench, "bench", "--threads", "1025", "option '--threads' must be between 1 and 1024, got 1025"},
        {cmd_train, "train", "--seed", "-1", "option '--seed' must be between 0 and 9223372036854775807, got -1"},
        {cmd_split, "split", "--seed", "-1", "option '--seed' must be between 0 and 9223372036854775807, got -1"},
        {cmd_bench, "bench", "--seed", "-1", "option '--seed' must be between 0 and 9223372036854775807, got -1"},
        {cmd_random_model, "random-model", "--seed", "-1",
         "option '--seed' must be between 0 and 9223372036854775807, got -1"},
        {cmd_train, "train", "--rank", "65537", "option '--rank' must be between 1 and 65536, got 65537"},
        {cmd_count_params, "count-params", "--rank", "65537",
         "option '--rank' must be between 1 and 65536, got 65537"},
        {cmd_train, "train", "--batch-size", "4097", "option '--batch-size' must be between 1 and 4096, got 4097"},
        {cmd_eval, "eval", "--batch-size", "4097", "option '--batch-size' must be between 1 and 4096, got 4097"},
        {cmd_classify, "classify", "--batch-size", "4097",
         "option '--batch-size' must be between 1 and 4096, got 4097"},
        {cmd_bench, "bench", "--batch-size", "4097", "option '--batch-size' must be between 1 and 4096, got 4097"},
        {cmd_bench, "bench", "--batch", "0", "option '--batch' must be between 1 and 4096, got 0"},
        {cmd_count_params, "count-params", "--config", "gpt3", "unknown model preset 'gpt3'"},
        {cmd_bench, "bench", "--config", "gpt3", "unknown model preset 'gpt3'"},
        {cmd_random_model, "random-model", "--config", "gpt3", "unknown model preset 'gpt3'"},
        {cmd_split, "split", "--out", "", "--out is required"},
        {cmd_split, "split", "--out-dir", "", "--out is required"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* split's INPUT first: its check for --out comes after the one for INPUT. */
        int rc = cases[i].cmd == cmd_split
                     ? run_cmd(cases[i].cmd, cases[i].name, "in.csv", cases[i].option, cases[i].value, NULL)
                     : run_cmd(cases[i].cmd, cases[i].name, cases[i].option, cases[i].value, NULL);
        char want[256];
        snprintf(want, sizeof want, "lorafit %s: %s", cases[i].name, cases[i].message);
        CHECK(rc == 2, "%s %s %s: exit code %d", cases[i].name, cases[i].option, cases[i].value, rc);
        CHECK(strncmp(out, want, strlen(want)) == 0, "%s %s %s:\n  got:  %s  want: %s", cases[i].name,
              cases[i].option, cases[i].value, out, want);
    }
}

/* Every option of train the README names (its "Training" paragraph) is in train's help. */
static void test_train_help(void) {
    CHECK(run_cmd(cmd_train, "train", "--help", NULL) == 0, "train --help");
    static const char *const documented[] = {
        "--model DIR", "--train FILE", "--val FILE", "--out DIR", "--rank N", "--alpha X", "--targets LIST",
        "--epochs N", "--batch-size N", "--lr X", "--weight-decay X", "--seed N", "--pool P", "--max-length N",
        "--threads N", "--scaling S", "--lora-init S", "--lora-dropout P", "--grad-clip X", "--keep-last",
        "--log-every N", "--log FILE", "--plot FILE.svg", "--save-every N", "--resume DIR", "--force",
        "(default 5e-5)", "(default 0.1)", "(default 123)", "(default 10)", "(default: every core)"};
    for (size_t i = 0; i < sizeof documented / sizeof documented[0]; i++) CHECK_OUT(documented[i]);
}

/* The usage lines are written by hand: every option they name must be one the command's table lists. */
static void test_usage_names_real_options(void) {
    static const struct {
        int (*cmd)(int, char **);
        const char *name;
    } commands[] = {{cmd_train, "train"}, {cmd_eval, "eval"}, {cmd_classify, "classify"},
                    {cmd_count_params, "count-params"}, {cmd_tokenize, "tokenize"}, {cmd_split, "split"},
                    {cmd_bench, "bench"}, {cmd_random_model, "random-model"}};
    static char usage[4096], help[16384];
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        CHECK(run_cmd(commands[i].cmd, commands[i].name, "--no-such-option", NULL) == 2, "%s", commands[i].name);
        const char *u = strstr(out, "\nusage: "), *end = u ? strstr(u, "\nRun 'lorafit") : NULL;
        CHECK(u && end, "%s: no usage line in:\n%s", commands[i].name, out);
        if (!u || !end) continue;
        snprintf(usage, sizeof usage, "%.*s", (int)(end - u), u);
        CHECK(run_cmd(commands[i].cmd, commands[i].name, "--help", NULL) == 0, "%s --help", commands[i].name);
        snprintf(help, sizeof help, "%s", out);
        int named = 0;
        for (const char *s = strstr(usage, " --"); s; s = strstr(s + 1, " --")) {
            char option[64], listed[80], joined[80];
            int n = (int)strspn(s + 1, "-abcdefghijklmnopqrstuvwxyz");
            snprintf(option, sizeof option, "%.*s", n, s + 1);
            snprintf(listed, sizeof listed, "\n  %s", option);
            snprintf(joined, sizeof joined, ", %s", option);
            CHECK(strstr(help, listed) || strstr(help, joined), "%s: the usage names %s, the help does not list it",
                  commands[i].name, option);
            named++;
        }
        CHECK(named > 0, "%s: the usage names no option: %s", commands[i].name, usage);
    }
}

int main(void) {
    test_values_and_defaults();
    test_string_list();
    test_errors();
    test_given();
    test_help();
    test_first_change();
    test_commands_share_bounds();
    test_train_help();
    test_usage_names_real_options();
    return check_done();
}
