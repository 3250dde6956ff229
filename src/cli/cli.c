/* cli.c - see include/lorafit/cli/cli.h */
#include "lorafit/cli/cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lorafit/util/files.h"

enum { HELP_WIDTH = 90, LABEL_MAX = 20 };

/* A mistake in a command's table, not in the user's input. */
static void table_bug(const char *cmd, const char *what, const char *name) {
    fprintf(stderr, "lorafit %s: option table: %s: %s\n", cmd, what, name ? name : "(unnamed)");
    abort();
}

static bool is_argument(const CliOption *o) { return o->type > CLI_GROUP && o->name[0] != '-'; }
static bool is_option(const CliOption *o) { return o->type > CLI_GROUP && o->name[0] == '-'; }

/* ---------------------------------------------------------------------------
 * values of any integer width */

static long long load_int(const void *field, size_t size) {
    switch (size) {
    case 1: return *(const unsigned char *)field;
    case 2: { int16_t v; memcpy(&v, field, sizeof v); return v; }
    case 4: { int32_t v; memcpy(&v, field, sizeof v); return v; }
    default: { int64_t v; memcpy(&v, field, sizeof v); return v; }
    }
}

static void store_int(void *field, size_t size, long long x) {
    switch (size) {
    case 1: *(unsigned char *)field = (unsigned char)x; break;
    case 2: { int16_t v = (int16_t)x; memcpy(field, &v, sizeof v); break; }
    case 4: { int32_t v = (int32_t)x; memcpy(field, &v, sizeof v); break; }
    default: { int64_t v = (int64_t)x; memcpy(field, &v, sizeof v); break; }
    }
}

/* ---------------------------------------------------------------------------
 * the table */

static bool int_fits(long long x, size_t size) {
    if (size >= 8) return true;
    long long top = (1LL << (8 * size - 1)) - 1;
    return x >= -top - 1 && x <= top;
}

static void check_entry(const char *cmd, const CliOption *o) {
    size_t want = 0;
    switch (o->type) {
    case CLI_FLAG:
    case CLI_SET:
    case CLI_CHOICE:
    case CLI_INT:
        if (o->size != 1 && o->size != 2 && o->size != 4 && o->size != 8)
            table_bug(cmd, "not an integer field", o->name);
        if (o->type == CLI_INT && (o->lo > o->hi || !int_fits(o->lo, o->size) || !int_fits(o->hi, o->size)))
            table_bug(cmd, "range does not fit the field", o->name);
        if (o->type == CLI_CHOICE && !o->choices) table_bug(cmd, "choice without choices", o->name);
        break;
    case CLI_DOUBLE: want = sizeof(double); break;
    case CLI_STRING: want = sizeof(const char *); break;
    case CLI_STRING_LIST:
        want = sizeof(CliStringList);
        if (o->def) table_bug(cmd, "a list option has no default", o->name);
        break;
    case CLI_CUSTOM:
        if (!o->parse) table_bug(cmd, "custom option without a parser", o->name);
        if ((o->flags & CLI_FIXED) && !o->same) table_bug(cmd, "fixed custom option without a comparison", o->name);
        break;
    default: break;
    }
    if (want && o->size != want) table_bug(cmd, "field of the wrong size", o->name);
}

static void flatten(CliParse *p, const CliOption *t, size_t base) {
    for (; t->type != CLI_TABLE_END; t++) {
        if (t->type == CLI_GROUP) {
            flatten(p, t->group, base + t->at);
            continue;
        }
        if (p->n_entries == CLI_MAX_ENTRIES) table_bug(p->cmd->name, "too many entries", t->name);
        check_entry(p->cmd->name, t);
        p->entries[p->n_entries++] = (CliEntry){t, base + t->at};
    }
}

static int find_entry(const CliParse *p, const char *name) {
    for (int i = 0; i < p->n_entries; i++)
        if (is_option(p->entries[i].opt) && strcmp(p->entries[i].opt->name, name) == 0) return i;
    return -1;
}

/* The entry of option `name`, an alias resolved to its option; or -1. */
static int find_option(const CliParse *p, const char *name) {
    int k = find_entry(p, name);
    if (k >= 0 && p->entries[k].opt->type == CLI_ALIAS) {
        k = find_entry(p, p->entries[k].opt->alias_of);
        if (k < 0 || p->entries[k].opt->type == CLI_ALIAS) table_bug(p->cmd->name, "alias of no option", name);
    }
    return k;
}

static void mark_given(CliParse *p, int k) {
    for (int i = 0; i < p->n_given; i++)
        if (p->given[i] == k) return;
    p->given[p->n_given++] = (short)k;
}

static bool was_given(const CliParse *p, int k) {
    for (int i = 0; i < p->n_given; i++)
        if (p->given[i] == k) return true;
    return false;
}

/* ---------------------------------------------------------------------------
 * parsing */

int cli_error(const CliParse *p, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "lorafit %s: %s\nusage: %s\n", p->cmd->name, msg, p->cmd->usage);
    fprintf(stderr, "Run 'lorafit %s --help' for the options.\n", p->cmd->name);
    return 2;
}

static bool store_choice(const CliParse *p, const CliOption *o, void *field, const char *as, const char *v) {
    for (int i = 0; o->choices[i]; i++) {
        if (strcmp(v, o->choices[i]) == 0) {
            store_int(field, o->size, o->values ? o->values[i] : i);
            return true;
        }
    }
    char list[512] = "";
    for (int i = 0; o->choices[i]; i++) {
        strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, o->choices[i], sizeof list - strlen(list) - 1);
    }
    cli_error(p, "option '%s' expects one of %s, got '%s'", as, list, v);
    return false;
}

/* Stores value v of entry e (named `as` on the command line); prints the
 * usage error and returns false when v is not a value of e. */
static bool store(const CliParse *p, const CliEntry *e, char *out, const char *as, const char *v) {
    const CliOption *o = e->opt;
    void *field = out + e->at;
    char *end;
    errno = 0;
    switch (o->type) {
    case CLI_FLAG: store_int(field, o->size, 1); return true;
    case CLI_SET: store_int(field, o->size, o->value); return true;
    case CLI_STRING: memcpy(field, &v, sizeof v); return true;
    case CLI_STRING_LIST: {
        CliStringList *l = field;
        if (l->n == CLI_LIST_MAX) {
            cli_error(p, "option '%s' is given more than %d times", as, CLI_LIST_MAX);
            return false;
        }
        l->v[l->n++] = v;
        return true;
    }
    case CLI_CHOICE: return store_choice(p, o, field, as, v);
    case CLI_INT: {
        long long x = strtoll(v, &end, 10);
        if (*v == '\0' || *end != '\0' || errno == ERANGE) {
            cli_error(p, "option '%s' expects a whole number, got '%s'", as, v);
            return false;
        }
        if (x < o->lo || x > o->hi) {
            cli_error(p, "option '%s' must be between %lld and %lld, got %lld", as, o->lo, o->hi, x);
            return false;
        }
        store_int(field, o->size, x);
        return true;
    }
    case CLI_DOUBLE: {
        double x = strtod(v, &end);
        if (*v == '\0' || *end != '\0' || errno == ERANGE || !isfinite(x)) {
            cli_error(p, "option '%s' expects a number, got '%s'", as, v);
            return false;
        }
        if (x < o->lo_f || x > o->hi_f) {
            cli_error(p, "option '%s' must be between %g and %g, got %g", as, o->lo_f, o->hi_f, x);
            return false;
        }
        memcpy(field, &x, sizeof x);
        return true;
    }
    case CLI_CUSTOM: {
        LfError err = {0};
        if (o->parse(as, v, field, &err)) return true;
        cli_error(p, "%s", err.msg);
        return false;
    }
    default: return false;
    }
}

static void store_defaults(const CliParse *p, char *out) {
    for (int i = 0; i < p->n_entries; i++) {
        const CliEntry *e = &p->entries[i];
        if (e->opt->type == CLI_STRING_LIST) ((CliStringList *)(void *)(out + e->at))->n = 0;
        if (e->opt->def && !store(p, e, out, e->opt->name, e->opt->def))
            table_bug(p->cmd->name, "the default is not a value of the option", e->opt->name);
    }
}

/* A positional argument: the first argument entry takes it. */
static bool take_argument(CliParse *p, char *out, const char *arg) {
    for (int i = 0; i < p->n_entries; i++) {
        const CliEntry *e = &p->entries[i];
        if (!is_argument(e->opt)) continue;
        if (e->opt->type == CLI_STRING && was_given(p, i)) break;
        if (!store(p, e, out, e->opt->name, arg)) return false;
        mark_given(p, i);
        return true;
    }
    cli_error(p, "unexpected argument '%s'", arg);
    return false;
}

int cli_parse(CliParse *p, const CliCommand *c, int argc, char **argv, void *out_struct) {
    char *out = out_struct;
    memset(p, 0, sizeof *p);
    p->cmd = c;
    flatten(p, c->options, 0);
    store_defaults(p, out);
    bool only_arguments = false;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (only_arguments || s[0] != '-' || s[1] == '\0') {
            if (!take_argument(p, out, s)) return 2;
            continue;
        }
        if (strcmp(s, "--") == 0) {
            only_arguments = true;
            continue;
        }
        char name[64];
        const char *eq = strchr(s, '='), *v = eq ? eq + 1 : NULL;
        snprintf(name, sizeof name, "%.*s", (int)(eq ? eq - s : (ptrdiff_t)strlen(s)), s);
        if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
            cli_print_help(c, stdout);
            return 0;
        }
        int k = find_option(p, name);
        if (k < 0) return cli_error(p, "unknown option '%s'", name);
        CliType type = p->entries[k].opt->type;
        if ((type == CLI_FLAG || type == CLI_SET) && v) return cli_error(p, "option '%s' takes no value", name);
        if (type != CLI_FLAG && type != CLI_SET && !v) {
            if (i + 1 >= argc) return cli_error(p, "option '%s' needs a value", name);
            v = argv[++i];
        }
        if (!store(p, &p->entries[k], out, name, v)) return 2;
        mark_given(p, k);
    }
    for (int i = 0; i < p->n_entries; i++)
        if ((p->entries[i].opt->flags & CLI_REQUIRED) && !was_given(p, i))
            return cli_error(p, "%s is required", p->entries[i].opt->name);
    return CLI_RUN;
}

bool cli_given(const CliParse *p, const char *name) {
    int k = find_option(p, name);
    if (k < 0) table_bug(p->cmd->name, "asked whether an unknown option was given", name);
    return was_given(p, k);
}

static bool same_value(const CliEntry *e, const char *a, const char *b) {
    const CliOption *o = e->opt;
    const void *x = a + e->at, *y = b + e->at;
    switch (o->type) {
    case CLI_DOUBLE: {
        double u, v;
        memcpy(&u, x, sizeof u);
        memcpy(&v, y, sizeof v);
        return u == v;
    }
    case CLI_STRING: {
        const char *u, *v;
        memcpy(&u, x, sizeof u);
        memcpy(&v, y, sizeof v);
        return u == v || (u && v && strcmp(u, v) == 0);
    }
    case CLI_STRING_LIST: {
        const CliStringList *u = x, *v = y;
        if (u->n != v->n) return false;
        for (int i = 0; i < u->n; i++)
            if (strcmp(u->v[i], v->v[i]) != 0) return false;
        return true;
    }
    case CLI_CUSTOM: return o->same(x, y);
    default: return load_int(x, o->size) == load_int(y, o->size);
    }
}

const char *cli_first_change(const CliParse *p, const void *a, const void *b) {
    for (int i = 0; i < p->n_given; i++) {
        const CliEntry *e = &p->entries[p->given[i]];
        if ((e->opt->flags & CLI_FIXED) && !same_value(e, a, b)) return e->opt->name;
    }
    return NULL;
}

int cli_refuse_given(const CliParse *p, const char *const *names, const char *why) {
    for (; *names; names++)
        if (cli_given(p, *names)) return cli_error(p, "%s %s", *names, why);
    return CLI_RUN;
}

/* ---------------------------------------------------------------------------
 * help */

/* "--rank N", "--format csv|tsv", "INPUT" */
static void entry_label(const CliOption *o, char *buf, size_t size) {
    char meta[128] = "";
    if (o->type == CLI_CHOICE && !o->metavar) {
        for (int i = 0; o->choices[i]; i++)
            snprintf(meta + strlen(meta), sizeof meta - strlen(meta), "%s%s", i ? "|" : " ", o->choices[i]);
    } else if (o->metavar && is_option(o)) {
        snprintf(meta, sizeof meta, " %s", o->metavar);
    }
    snprintf(buf, size, "%s%s", o->name, meta);
}

/* Writes text from column `col` on, wrapped at HELP_WIDTH; new lines start at `indent`. */
static void print_wrapped(FILE *f, const char *text, int col, int indent) {
    bool line_start = true;
    for (const char *s = text; *s;) {
        while (*s == ' ') s++;
        int n = (int)strcspn(s, " \n");
        if (*s == '\n' || (!line_start && col + 1 + n > HELP_WIDTH)) {
            col = fprintf(f, "\n%*s", indent, "") - 1;
            line_start = true;
            s += *s == '\n';
            continue;
        }
        col += fprintf(f, "%s%.*s", line_start ? "" : " ", n, s);
        line_start = false;
        s += n;
    }
    fputc('\n', f);
}

static void print_option(FILE *f, const char *label, const CliOption *o, int col) {
    char text[2048];
    const char *d = o->def ? o->def : o->def_text;
    bool numeric = d && (strchr("0123456789-.", d[0]) != NULL);
    if (d) snprintf(text, sizeof text, "%s (default%s %s)", o->help, numeric ? "" : ":", d);
    else snprintf(text, sizeof text, "%s", o->help);
    int len = fprintf(f, "  %s", label);
    if (len + 2 <= col) { /* the usual: help in the column */
        fprintf(f, "%*s", col - len, "");
        print_wrapped(f, text, col, col);
    } else if (len <= col + 8) { /* a little longer: help right after it */
        fprintf(f, "  ");
        print_wrapped(f, text, len + 2, col);
    } else { /* much longer: help on the next line */
        fprintf(f, "\n%*s", col, "");
        print_wrapped(f, text, col, col);
    }
}

void cli_print_help(const CliCommand *c, FILE *f) {
    CliParse p;
    memset(&p, 0, sizeof p);
    p.cmd = c;
    flatten(&p, c->options, 0);
    int width = 10; /* "-h, --help" */
    char label[512];
    for (int i = 0; i < p.n_entries; i++) {
        if (p.entries[i].opt->type == CLI_HEADING || !p.entries[i].opt->help) continue;
        entry_label(p.entries[i].opt, label, sizeof label);
        int n = (int)strlen(label);
        if (n <= LABEL_MAX && n > width) width = n;
    }
    int col = 2 + width + 2;
    fprintf(f, "usage: %s\n\n%s\n", c->synopsis ? c->synopsis : c->usage, c->about);
    size_t used = 0;
    label[0] = '\0';
    for (int i = 0; i < p.n_entries; i++) {
        const CliOption *o = p.entries[i].opt;
        CliOption shown;
        char same[96];
        if (o->type == CLI_ALIAS) { /* "--out-dir DIR  the same as --out" */
            shown = *p.entries[find_option(&p, o->name)].opt;
            shown.name = o->name;
            shown.def = shown.def_text = NULL;
            snprintf(same, sizeof same, "the same as %s", o->alias_of);
            shown.help = same;
            o = &shown;
        }
        if (o->type == CLI_HEADING) {
            fprintf(f, "\n%s\n", o->name);
            continue;
        }
        if (is_argument(o) && !o->help) continue;
        used += (size_t)snprintf(label + used, sizeof label - used, "%s", used ? ", " : "");
        entry_label(o, label + used, sizeof label - used);
        used = strlen(label);
        if (!o->help) continue;
        print_option(f, label, o, col);
        used = 0;
        label[0] = '\0';
    }
    print_option(f, "-h, --help", &(CliOption){.help = "this help"}, col);
    if (c->epilogue) fprintf(f, "\n%s\n", c->epilogue);
}

bool cli_check_not_input(const char *out_opt, const char *out, const char *in_opt, const char *in, LfError *err) {
    if (!out || !in || !fs_same_path(out, in)) return true;
    lf_error_set(err, LF_ERR_INPUT, "%s %s is the %s file: writing it would destroy it; give another file", out_opt,
                 out, in_opt);
    return false;
}

bool cli_check_out_not_model(const char *out, const char *model_dir, LfError *err) {
    if (!fs_same_path(model_dir, out)) return true;
    lf_error_set(err, LF_ERR_INPUT, "--out %s is the model's own directory; choose another", out);
    return false;
}

bool cli_stderr_is_tty(void) { return isatty(STDERR_FILENO) == 1; }

bool cli_read_stdin_lines(char **text, char ***lines, size_t *n, const char *what, LfError *err) {
    size_t len;
    char *buf = fs_read_stream(stdin, &len);
    *n = 0;
    if (!buf) {
        lf_error_errno(err, errno == ENOMEM ? LF_ERR_IO : LF_ERR_INPUT, "cannot read standard input");
        return false;
    }
    *text = buf;
    /* at most one line per byte and one more */
    *lines = malloc((len + 1) * sizeof **lines);
    if (!*lines) {
        lf_error_set(err, LF_ERR_IO, "out of memory reading standard input");
        return false;
    }
    size_t line_no = 0;
    /* a UTF-8 BOM (Notepad's) is no part of the first line, as data files read it */
    char *first = len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0 ? buf + 3 : buf;
    for (char *line = first; line < buf + len;) {
        char *nl = memchr(line, '\n', (size_t)(buf + len - line));
        char *end = nl ? nl : buf + len;
        line_no++;
        /* a NUL would silently cut the line short (or empty it, "holds no message") */
        if (memchr(line, '\0', (size_t)(end - line))) {
            lf_error_set(err, LF_ERR_INPUT, "line %zu of standard input holds a NUL byte: not text", line_no);
            return false;
        }
        if (end > line && end[-1] == '\r') end[-1] = '\0';
        *end = '\0';
        if (*line) (*lines)[(*n)++] = line;
        line = end + 1;
    }
    if (*n == 0) lf_error_set(err, LF_ERR_INPUT, "standard input holds no %s", what);
    return *n > 0;
}
