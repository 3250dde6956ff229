/* bench_io.c - see include/lorafit/report/bench_io.h */
#include "lorafit/report/bench_io.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_DIM = 1 << 20, MAX_ENTRIES = 1 << 20 };
static const double MAX_OPERAND = (double)(1 << 28);
static const long MAX_COUNT = 1L << 30;

bool bench_gemms_write(FILE *f, const BenchGemms *g, const char *kernels, bool seconds) {
    if (kernels) fprintf(f, "kernels %s\n", kernels);
    for (int i = 0; i < g->n; i++) {
        const BenchGemm *e = &g->g[i];
        fprintf(f, "%c %c %d %d %d %ld", e->ta, e->tb, e->M, e->N, e->K, e->count);
        if (seconds) fprintf(f, " %.9g", e->seconds);
        fputc('\n', f);
    }
    return fflush(f) == 0 && !ferror(f);
}

/* A whole number in [lo, hi] from the token at *p, which moves past it. */
static bool take_long(const char **p, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(*p, &end, 10);
    if (end == *p || errno || v < lo || v > hi || (*end && !isspace((unsigned char)*end))) return false;
    *p = end;
    *out = v;
    return true;
}

static bool take_op(const char **p, char *out) {
    while (isspace((unsigned char)**p)) (*p)++;
    if ((**p != 'N' && **p != 'T') || !isspace((unsigned char)(*p)[1])) return false;
    *out = *(*p)++;
    return true;
}

/* One GEMM line into e; false when it is not one. */
static bool parse_gemm(const char *line, BenchGemm *e) {
    memset(e, 0, sizeof *e);
    const char *p = line;
    long M, N, K;
    if (!take_op(&p, &e->ta) || !take_op(&p, &e->tb) || !take_long(&p, 1, MAX_DIM, &M) ||
        !take_long(&p, 1, MAX_DIM, &N) || !take_long(&p, 1, MAX_DIM, &K) || !take_long(&p, 1, MAX_COUNT, &e->count))
        return false;
    e->M = (int)M, e->N = (int)N, e->K = (int)K;
    while (isspace((unsigned char)*p)) p++;
    if (*p) {
        char *end;
        e->seconds = strtod(p, &end); /* an underflow to 0 is fine */
        if (end == p || !(e->seconds >= 0 && e->seconds < 1e9)) return false;
        for (p = end; isspace((unsigned char)*p); p++) {}
        if (*p) return false;
    }
    return (double)M * K <= MAX_OPERAND && (double)K * N <= MAX_OPERAND && (double)M * N <= MAX_OPERAND;
}

bool bench_gemms_read(FILE *f, const char *name, BenchGemms *g, char *kernels, size_t cap, LfError *err) {
    memset(g, 0, sizeof *g);
    if (cap) kernels[0] = '\0';
    char line[256];
    for (int no = 1; fgets(line, sizeof line, f); no++) {
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            lf_error_set(err, LF_ERR_INPUT, "%s:%d: line too long", name, no);
            goto fail;
        }
        char word[64];
        if (no == 1 && sscanf(line, "kernels %63s", word) == 1) {
            if (cap) snprintf(kernels, cap, "%s", word);
            continue;
        }
        BenchGemm e;
        if (!parse_gemm(line, &e)) {
            lf_error_set(err, LF_ERR_INPUT,
                         "%s:%d: not a GEMM 'TA TB M N K COUNT [SECONDS]' (N or T; sizes 1..%d; COUNT 1..%ld)",
                         name, no, MAX_DIM, MAX_COUNT);
            goto fail;
        }
        if (g->n == MAX_ENTRIES) {
            lf_error_set(err, LF_ERR_INPUT, "%s:%d: more than %d GEMMs", name, no, MAX_ENTRIES);
            goto fail;
        }
        if (!bench_gemms_push(g, &e)) {
            lf_error_set(err, LF_ERR_IO, "out of memory reading %s", name);
            goto fail;
        }
    }
    if (ferror(f)) {
        lf_error_errno(err, LF_ERR_IO, "cannot read %s", name);
        goto fail;
    }
    return true;
fail:
    bench_gemms_free(g);
    return false;
}
