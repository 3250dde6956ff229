/* squad_eval.c - see include/lorafit/data/squad_eval.h */
#include "lorafit/data/squad_eval.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "lorafit/util/files.h"
#include "lorafit/util/utf8.h"

/* Text as code points. */
typedef struct {
    uint32_t *cp;
    size_t n;
} Points;

static bool points_from_utf8(Points *p, const char *s) {
    size_t len = strlen(s);
    p->n = 0;
    p->cp = malloc((len + 1) * sizeof *p->cp);
    if (!p->cp) return false;
    for (size_t i = 0; i < len;) {
        uint32_t c;
        size_t k = utf8_decode((const unsigned char *)s + i, len - i, &c);
        if (k == 0) c = 0xFFFD, k = 1; /* as squad_write_predictions writes it */
        p->cp[p->n++] = c;
        i += k;
    }
    return true;
}

static utf8proc_category_t category(uint32_t c) {
    return utf8proc_category((utf8proc_int32_t)c);
}

static bool is_cased(uint32_t c) {
    utf8proc_category_t k = category(c);
    return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT;
}

static bool is_case_ignorable(uint32_t c) {
    switch (c) {
    case '\'': case '.': case ':': case '^': case '`': case 0xB7: case 0x387: case 0x2018: case 0x2019:
    case 0x2024: case 0x2027: case 0xFE13: case 0xFE52: case 0xFE55: case 0xFF07: case 0xFF0E: case 0xFF1A:
        return true;
    }
    utf8proc_category_t k = category(c);
    return k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_ME || k == UTF8PROC_CATEGORY_CF ||
           k == UTF8PROC_CATEGORY_LM || k == UTF8PROC_CATEGORY_SK;
}

/* Python's Final_Sigma: a cased letter before (skipping case-ignorables),
 * none after. */
static bool final_sigma(const uint32_t *c, size_t n, size_t i) {
    size_t j = i;
    while (j > 0 && is_case_ignorable(c[j - 1])) j--;
    if (j == 0 || !is_cased(c[j - 1])) return false;
    for (j = i + 1; j < n && is_case_ignorable(c[j]); j++) {}
    return j == n || !is_cased(c[j]);
}

/* str.lower(), into a new array. */
static bool lower(Points *p) {
    uint32_t *out = malloc((2 * p->n + 1) * sizeof *out); /* U+0130 becomes two */
    if (!out) return false;
    size_t o = 0;
    for (size_t i = 0; i < p->n; i++) {
        uint32_t c = p->cp[i];
        if (c == 0x130) {
            out[o++] = 'i';
            out[o++] = 0x307;
        } else if (c == 0x3A3) {
            out[o++] = final_sigma(p->cp, p->n, i) ? 0x3C2 : 0x3C3;
        } else {
            out[o++] = (uint32_t)utf8proc_tolower((utf8proc_int32_t)c);
        }
    }
    free(p->cp);
    p->cp = out;
    p->n = o;
    return true;
}

static bool is_ascii_punct(uint32_t c) {
    return c < 128 && c > ' ' && c != 127 && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                                                 (c >= 'A' && c <= 'Z'));
}

/* A character re's \w matches in a str pattern. */
static bool is_word(uint32_t c) {
    if (c == '_') return true;
    switch (category(c)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
        return true;
    default:
        return false;
    }
}

/* What str.split() splits at. */
static bool is_python_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
           c == 0x3000;
}

/* The length of the article a|an|the at c[i] as a whole word, or 0. */
static size_t article_at(const uint32_t *c, size_t n, size_t i) {
    static const char *const articles[] = {"a", "an", "the"};
    if (i > 0 && is_word(c[i - 1])) return 0;
    for (int a = 0; a < 3; a++) {
        size_t k = 0, len = strlen(articles[a]);
        while (k < len && i + k < n && c[i + k] == (uint32_t)articles[a][k]) k++;
        if (k == len && (i + len == n || !is_word(c[i + len]))) return len;
    }
    return 0;
}

char *squad_normalize(const char *s) {
    Points p;
    if (!points_from_utf8(&p, s)) return NULL;
    if (!lower(&p)) {
        free(p.cp);
        return NULL;
    }
    size_t n = 0;
    for (size_t i = 0; i < p.n; i++)
        if (!is_ascii_punct(p.cp[i])) p.cp[n++] = p.cp[i];
    p.n = n;
    /* Articles become a space, matched on the text before any replacement,
     * as re.sub matches; the spaces then collapse. */
    char *out = malloc(4 * p.n + 1); /* U+FFFD for one byte: 3 */
    if (!out) {
        free(p.cp);
        return NULL;
    }
    size_t o = 0;
    bool space = false;
    for (size_t i = 0; i < p.n;) {
        size_t skip = article_at(p.cp, p.n, i);
        uint32_t c = skip ? ' ' : p.cp[i];
        i += skip ? skip : 1;
        if (is_python_space(c)) {
            space = o > 0;
            continue;
        }
        if (space) out[o++] = ' ';
        space = false;
        o += (size_t)utf8proc_encode_char((utf8proc_int32_t)c, (utf8proc_uint8_t *)out + o);
    }
    out[o] = '\0';
    free(p.cp);
    return out;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The words of a normalised text (split in place at its single spaces), sorted. */
static const char **words(char *s, size_t *n) {
    size_t k = *s ? 1 : 0;
    for (char *c = s; *c; c++) k += *c == ' ';
    const char **w = malloc((k ? k : 1) * sizeof *w);
    if (!w) return NULL;
    *n = 0;
    for (char *c = s; *s; s = c) {
        while (*c && *c != ' ') c++;
        w[(*n)++] = s;
        if (*c) *c++ = '\0';
    }
    qsort(w, *n, sizeof *w, cmp_str);
    return w;
}

/* F1 of two normalised texts (both are cut into words). */
static double f1_of(char *pred, char *gold) {
    size_t np, ng;
    const char **p = words(pred, &np), **g = words(gold, &ng);
    double f1 = -1;
    if (p && g) {
        size_t same = 0;
        for (size_t i = 0, j = 0; i < np && j < ng;) {
            int c = strcmp(p[i], g[j]);
            if (c == 0) same++, i++, j++;
            else if (c < 0) i++;
            else j++;
        }
        double precision = same ? (double)same / (double)np : 0, recall = same ? (double)same / (double)ng : 0;
        f1 = same ? 2 * precision * recall / (precision + recall) : 0;
    }
    free(p);
    free(g);
    return f1;
}

/* The best score over the golds: exact match or F1. */
static double best(const char *prediction, const char *const *golds, int n, bool exact) {
    char *pred = squad_normalize(prediction);
    if (!pred) return -1;
    double top = 0;
    for (int i = 0; i < n && top >= 0; i++) {
        char *gold = squad_normalize(golds[i]), *pcopy = strdup(pred);
        double score = -1;
        if (gold && pcopy) score = exact ? strcmp(pred, gold) == 0 : f1_of(pcopy, gold);
        if (score < 0 || score > top) top = score;
        free(gold);
        free(pcopy);
    }
    free(pred);
    return top;
}

double squad_exact_match(const char *prediction, const char *const *golds, int n) {
    return best(prediction, golds, n, true);
}

double squad_f1(const char *prediction, const char *const *golds, int n) {
    return best(prediction, golds, n, false);
}

bool squad_score_add(SquadScore *s, const char *prediction, const char *const *golds, int n) {
    s->n++;
    if (!prediction) return true;
    double em = squad_exact_match(prediction, golds, n), f1 = squad_f1(prediction, golds, n);
    if (em < 0 || f1 < 0) return false;
    s->exact_match += em;
    s->f1 += f1;
    return true;
}

double squad_score_exact_match(const SquadScore *s) {
    return s->n ? 100.0 * s->exact_match / (double)s->n : 0;
}

double squad_score_f1(const SquadScore *s) {
    return s->n ? 100.0 * s->f1 / (double)s->n : 0;
}

/* A JSON string, ASCII only. */
static void write_json_string(FILE *f, const char *s) {
    size_t len = strlen(s);
    putc('"', f);
    for (size_t i = 0; i < len;) {
        uint32_t c;
        size_t k = utf8_decode((const unsigned char *)s + i, len - i, &c);
        if (k == 0) c = 0xFFFD, k = 1;
        i += k;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", (char)c);
        else if (c == '\n') fputs("\\n", f);
        else if (c >= 0x20 && c < 0x7F) putc((int)c, f);
        else if (c < 0x10000) fprintf(f, "\\u%04x", (unsigned)c);
        else fprintf(f, "\\u%04x\\u%04x", 0xD800u + ((c - 0x10000) >> 10), 0xDC00u + ((c - 0x10000) & 0x3FF));
    }
    putc('"', f);
}

bool squad_write_predictions(const char *path, const char *const *ids, const char *const *answers, size_t n,
                             LfError *err) {
    FsAtomic a;
    if (!fs_atomic_open(&a, path, err)) return false;
    putc('{', a.f);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ", " : "", a.f);
        write_json_string(a.f, ids[i]);
        fputs(": ", a.f);
        write_json_string(a.f, answers[i]);
    }
    fputs("}\n", a.f);
    return fs_atomic_commit(&a, err);
}
