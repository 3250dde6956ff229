/* norm_log.c - the norms records of train's log: writing, reading and the
 * text table (see include/lorafit/report/norm_log.h; the SVG is in
 * norm_heatmap.c). */
#include "lorafit/report/norm_log.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/engine/lowrank.h"
#include "lorafit/util/files.h"

/* ---- writing ------------------------------------------------------------ */

bool norm_log_write(FILE *f, const Gpt2Model *m, const LoraSlot *slots, long step, int epoch) {
    fprintf(f, "{\"record\": \"norms\", \"step\": %ld, \"epoch\": %d, \"norms\": {", step, epoch);
    int n_written = 0;
    for (int k = 0; k < m->n_adapters; k++) {
        const char *target = inspect_block_target(slots[k].name);
        bool seen = false; /* written with an earlier adapter */
        for (int j = 0; j < k && !seen; j++) seen = !strcmp(inspect_block_target(slots[j].name), target);
        if (seen) continue;
        fprintf(f, "%s\"%s\": [", n_written++ ? ", " : "", target);
        for (int l = 0; l < m->cfg.n_layer; l++) {
            int a = -1;
            for (int j = k; j < m->n_adapters && a < 0; j++)
                if (m->adapters[j].layer == l && !strcmp(inspect_block_target(slots[j].name), target)) a = j;
            const Gpt2Adapter *ad = a >= 0 ? &m->adapters[a] : NULL;
            if (ad)
                fprintf(f, "%s%.17g", l ? ", " : "",
                        lowrank_frobenius(m->lora_A[a], m->lora_B[a], ad->in, ad->rank, ad->out, ad->scale));
            else
                fprintf(f, "%snull", l ? ", " : "");
        }
        fputc(']', f);
    }
    fputs("}}\n", f);
    return fflush(f) == 0 && !ferror(f);
}

/* ---- reading ------------------------------------------------------------ */

void norm_log_free(NormLog *g) {
    free(g->steps);
    free(g->epochs);
    free(g->norms);
    memset(g, 0, sizeof *g);
}

static size_t record_size(const NormLog *g) { return (size_t)INSPECT_MAX_TARGETS * (size_t)g->n_layer; }

/* Room for one more record, its norms NaN. */
static double *push_record(NormLog *g, long step, int epoch) {
    if ((size_t)g->n_steps == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 64;
        long *s = realloc(g->steps, cap * sizeof *s);
        if (s) g->steps = s;
        int *e = realloc(g->epochs, cap * sizeof *e);
        if (e) g->epochs = e;
        double *n = realloc(g->norms, cap * record_size(g) * sizeof *n);
        if (n) g->norms = n;
        if (!s || !e || !n) return NULL;
        g->cap = cap;
    }
    g->steps[g->n_steps] = step;
    g->epochs[g->n_steps] = epoch;
    double *rec = g->norms + (size_t)g->n_steps++ * record_size(g);
    for (size_t i = 0; i < record_size(g); i++) rec[i] = NAN;
    return rec;
}

static int target_slot(NormLog *g, const char *name) {
    for (int t = 0; t < g->n_targets; t++)
        if (!strcmp(g->targets[t], name)) return t;
    if (g->n_targets == INSPECT_MAX_TARGETS) return -1;
    snprintf(g->targets[g->n_targets], sizeof g->targets[0], "%s", name);
    return g->n_targets++;
}

/* A whole number in [lo, hi] from member `key` of o. */
static bool whole_member(const cJSON *o, const char *key, double lo, double hi, double *v) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(x) || !(x->valuedouble >= lo && x->valuedouble <= hi) || x->valuedouble != floor(x->valuedouble))
        return false;
    *v = x->valuedouble;
    return true;
}

/* Checks one target's array and stores it in rec. Returns NULL or what is wrong. */
static const char *read_target(NormLog *g, const cJSON *arr, double *rec) {
    if (!cJSON_IsArray(arr)) return "is not an array";
    int n = cJSON_GetArraySize(arr);
    if (n < 1 || n > NORM_LOG_MAX_LAYERS) return "has no layers, or too many";
    if (n != g->n_layer) return "has another number of layers than the records before";
    int l = 0;
    for (const cJSON *v = arr->child; v; v = v->next, l++) {
        if (cJSON_IsNull(v)) continue;
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0) return "holds a value that is not a norm";
        rec[l] = v->valuedouble;
    }
    return NULL;
}

/* Drops the records from `step` on: the log went over them again. */
static void drop_from(NormLog *g, long step) {
    while (g->n_steps > 0 && g->steps[g->n_steps - 1] >= step) g->n_steps--;
}

/* One norms record (line `line` of name) into g. */
static bool read_record(NormLog *g, const cJSON *o, const char *name, long line, LfError *err) {
    double step, epoch = 0;
    const cJSON *norms = cJSON_GetObjectItemCaseSensitive(o, "norms");
    const cJSON *epoch_item = cJSON_GetObjectItemCaseSensitive(o, "epoch");
    if (!whole_member(o, "step", 0, 9007199254740992.0, &step) ||
        (epoch_item && !whole_member(o, "epoch", 0, 1 << 30, &epoch)) || !cJSON_IsObject(norms) || !norms->child) {
        lf_error_set(err, LF_ERR_INPUT,
                     "%s:%ld: a norms record needs a whole \"step\" >= 0, a whole \"epoch\" and a non-empty "
                     "\"norms\" object",
                     name, line);
        return false;
    }
    if (g->n_layer == 0) g->n_layer = cJSON_GetArraySize(norms->child);
    if (g->n_layer < 1 || g->n_layer > NORM_LOG_MAX_LAYERS) g->n_layer = 1; /* read_target says why */
    drop_from(g, (long)step);
    double *rec = push_record(g, (long)step, (int)epoch);
    if (!rec) {
        lf_error_set(err, LF_ERR_IO, "out of memory reading %s", name);
        return false;
    }
    for (const cJSON *t = norms->child; t; t = t->next) {
        const char *why = NULL;
        int slot = -1;
        if (!t->string || !t->string[0] || strlen(t->string) >= sizeof g->targets[0]) why = "has no usable name";
        else if ((slot = target_slot(g, t->string)) < 0) why = "is one target too many (at most 8)";
        else why = read_target(g, t, rec + (size_t)slot * (size_t)g->n_layer);
        if (why) {
            lf_error_set(err, LF_ERR_INPUT, "%s:%ld: the norms of target \"%.47s\" %s", name, line,
                         t->string ? t->string : "", why);
            return false;
        }
    }
    return true;
}

bool norm_log_parse(const char *text, size_t len, const char *name, NormLog *out, LfError *err) {
    memset(out, 0, sizeof *out);
    long line = 0;
    for (size_t at = 0; at < len;) {
        const char *start = text + at, *nl = memchr(start, '\n', len - at);
        size_t n = nl ? (size_t)(nl - start) : len - at;
        at += n + 1;
        line++;
        size_t k = 0;
        while (k < n && (start[k] == ' ' || start[k] == '\t' || start[k] == '\r')) k++;
        if (k == n) continue; /* a blank line */
        cJSON *o = cJSON_ParseWithLength(start, n);
        bool ok = cJSON_IsObject(o);
        if (!ok) lf_error_set(err, LF_ERR_INPUT, "%s:%ld: not a JSON object (a damaged or cut line?)", name, line);
        const cJSON *kind = ok ? cJSON_GetObjectItemCaseSensitive(o, "record") : NULL;
        if (ok && cJSON_IsString(kind) && !strcmp(kind->valuestring, "norms")) ok = read_record(out, o, name, line, err);
        cJSON_Delete(o);
        if (!ok) {
            norm_log_free(out);
            return false;
        }
    }
    if (out->n_steps == 0) {
        lf_error_set(err, LF_ERR_INPUT, "%s holds no norms records (train --track-norms N --log FILE writes them)",
                     name);
        norm_log_free(out);
        return false;
    }
    return true;
}

bool norm_log_read(const char *path, NormLog *out, LfError *err) {
    size_t len;
    char *text = fs_read_file(path, &len, err);
    if (!text) return false;
    bool ok = norm_log_parse(text, len, path, out, err);
    free(text);
    return ok;
}

/* ---- the table ---------------------------------------------------------- */

/* Column c of n over records 0 .. n_steps - 1: the first, the last and evenly between. */
static int sampled_record(const NormLog *g, int c, int n) {
    return n <= 1 ? g->n_steps - 1 : (int)((double)c * (g->n_steps - 1) / (n - 1) + 0.5);
}

void norm_log_print_table(FILE *f, const NormLog *g, int max_cols) {
    int cols = g->n_steps < max_cols ? g->n_steps : max_cols;
    fprintf(f, "||dW||_F per layer and target at %d of %d recorded steps\n%-5s %-14s", cols, g->n_steps, "layer",
            "target");
    for (int c = 0; c < cols; c++) {
        char head[24];
        snprintf(head, sizeof head, "step %ld", g->steps[sampled_record(g, c, cols)]);
        fprintf(f, " %11s", head);
    }
    fputc('\n', f);
    for (int l = 0; l < g->n_layer; l++)
        for (int t = 0; t < g->n_targets; t++) {
            bool any = false;
            for (int i = 0; i < g->n_steps && !any; i++) any = !isnan(norm_log_at(g, i, t, l));
            if (!any) continue;
            fprintf(f, "%-5d %-14s", l, g->targets[t]);
            for (int c = 0; c < cols; c++) {
                double v = norm_log_at(g, sampled_record(g, c, cols), t, l);
                if (isnan(v)) fprintf(f, " %11s", "-");
                else fprintf(f, " %11.4e", v);
            }
            fputc('\n', f);
        }
}
