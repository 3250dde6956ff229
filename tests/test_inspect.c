/* test_inspect.c - lorafit inspect's figures against numpy
 * (scripts/reference/make_inspect_fixture.py, tests/fixtures/merge/
 * inspect.json: dW formed in full, np.linalg.norm, np.linalg.svd) for the
 * merge fixture's labs and PEFT adapters; the small-core singular values on
 * hand-made cases (rank deficient, known spectrum); and the SVG, parsed
 * here: well formed (every tag closed in order), one heatmap cell per
 * adapter carrying its value, the two histogram lines; and the heatmap of
 * inspect --log over training steps, parsed the same way: one panel per
 * target, its cells the sampled records' values. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lorafit/engine/lowrank.h"
#include "lorafit/io/adapter.h"
#include "lorafit/io/checkpoint.h"
#include "lorafit/report/inspect.h"
#include "lorafit/report/norm_log.h"
#include "lorafit/util/files.h"

static bool close_to(double got, double want) { return fabs(got - want) <= 1e-9 * fmax(1.0, fabs(want)); }

/* Walks the tags of an SVG, calling on_tag(tag name, '<' .. '>') for each:
 * returns the depth left open at the end (0: every tag closed in order),
 * or -1 when it is not well formed (a tag closed out of order, a '<' inside
 * a tag, no <svg first). */
static int svg_scan(const char *text, void (*on_tag)(const char *tag, const char *p, const char *end, void *ctx),
                    void *ctx) {
    char stack[16][32];
    int depth = 0;
    if (strncmp(text, "<svg ", 5) != 0) return -1;
    for (const char *p = strchr(text, '<'); p; p = strchr(p + 1, '<')) {
        const char *end = strchr(p, '>');
        if (!end) return -1;
        char tag[32] = "";
        bool closing = p[1] == '/', empty = end[-1] == '/';
        sscanf(p + 1 + closing, "%31[a-zA-Z]", tag);
        for (const char *q = p + 1; q < end; q++)
            if (*q == '<') return -1;
        if (!closing) on_tag(tag, p, end, ctx);
        if (closing) {
            if (depth == 0 || strcmp(stack[--depth], tag)) return -1;
        } else if (!empty) {
            if (depth == 16) return -1;
            snprintf(stack[depth++], sizeof stack[0], "%s", tag);
        }
    }
    return depth;
}

/* Whether attribute `attr` (with its '="') lies inside the tag p .. end. */
static const char *attr_in(const char *p, const char *end, const char *attr) {
    const char *a = strstr(p, attr);
    return a && a < end ? a : NULL;
}

typedef struct {
    const AdapterInspection *ins;
    int cells, bad, hists;
} CellCheck;

/* inspect's SVG: a cell per adapter with its value, two histogram lines. */
static void inspect_tag(const char *tag, const char *p, const char *end, void *ctx) {
    CellCheck *cc = ctx;
    if (!strcmp(tag, "rect") && attr_in(p, end, "class=\"cell\"")) {
        int layer = -1, target = -1;
        double v = NAN;
        sscanf(strstr(p, "data-layer="), "data-layer=\"%d\" data-target=\"%d\" data-value=\"%lf\"", &layer, &target, &v);
        const InspectRow *r = NULL;
        for (int i = 0; i < cc->ins->n_rows; i++)
            if (cc->ins->rows[i].layer == layer && cc->ins->rows[i].target == target) r = &cc->ins->rows[i];
        cc->bad += !r || fabs(v - r->delta_norm / r->weight_norm) > 1e-5 * v;
        cc->cells++;
    }
    if (!strcmp(tag, "polyline") && attr_in(p, end, "class=\"hist\"")) cc->hists++;
}

static void against_numpy(const char *fixtures, const char *tmp, const char *name, const cJSON *want,
                          Gpt2Checkpoint *ck) {
    LfError err = {0};
    char dir[4200], svg[4200];
    snprintf(dir, sizeof dir, "%s/%s", fixtures, name);
    AdapterConfig ac;
    Classifier net;
    Gpt2Weights shape;
    AdapterInspection ins;
    REQUIRE(adapter_open_alone(dir, checkpoint_weights(ck), &ac, &shape, &net, &err) &&
                inspect_adapter(&net.model, net.slots, checkpoint_weights(ck), &ins, &err),
            "%s: %s", dir, err.msg);
    CHECK(ins.n_rows == cJSON_GetArraySize(want), "%s: %d adapters, numpy has %d", name, ins.n_rows,
          cJSON_GetArraySize(want));
    int bad = 0;
    for (int i = 0; i < ins.n_rows && i < cJSON_GetArraySize(want); i++) {
        const InspectRow *r = &ins.rows[i];
        const cJSON *w = cJSON_GetArrayItem(want, i), *sv = cJSON_GetObjectItem(w, "singular_values");
        bool ok = r->layer == cJSON_GetObjectItem(w, "layer")->valueint &&
                  strstr(r->name, cJSON_GetObjectItem(w, "target")->valuestring) &&
                  close_to(r->delta_norm, cJSON_GetObjectItem(w, "delta_norm")->valuedouble) &&
                  close_to(r->weight_norm, cJSON_GetObjectItem(w, "weight_norm")->valuedouble) &&
                  cJSON_GetArraySize(sv) == r->rank;
        for (int s = 0; ok && s < r->rank; s++) ok = close_to(r->sigma[s], cJSON_GetArrayItem(sv, s)->valuedouble);
        if (!ok) fprintf(stderr, "%s: %s differs from numpy\n", name, r->name);
        bad += !ok;
    }
    CHECK(bad == 0, "%s: %d adapters differ from numpy", name, bad);

    /* the SVG: parse it */
    snprintf(svg, sizeof svg, "%s/inspect-%s.svg", tmp, name);
    REQUIRE(inspect_write_svg(&ins, svg, "a <title> & more", &err), "svg: %s", err.msg);
    size_t len;
    char *text = fs_read_file(svg, &len, &err);
    REQUIRE(text != NULL, "%s: %s", svg, err.msg);
    CellCheck cc = {&ins, 0, 0, 0};
    int depth = svg_scan(text, inspect_tag, &cc);
    CHECK(depth == 0, "%s: well-formed SVG (depth %d at the end)", svg, depth);
    int cells = cc.cells, value_bad = cc.bad, hists = cc.hists;
    CHECK(cells == ins.n_rows && value_bad == 0, "%s: %d heatmap cells for %d adapters, %d values wrong", svg, cells,
          ins.n_rows, value_bad);
    CHECK(hists == 2 && strstr(text, "a &lt;title&gt; &amp; more"), "%s: two histogram lines, the title escaped", svg);
    free(text);
    inspect_free(&ins);
    classifier_free(&net);
    adapter_config_free(&ac);
}

/* A = [e1, e1], B = [[3, 0], [4, 0]]: A B = e1 (7, 0): one singular value 7, the other 0. */
static void hand_cases(void) {
    const float A[3 * 2] = {1, 1, 0, 0, 0, 0}, B[2 * 2] = {3, 0, 4, 0};
    double s[2];
    CHECK(lowrank_singular_values(A, B, 3, 2, 2, 1.0, s) && close_to(s[0], 7) && fabs(s[1]) < 1e-12,
          "rank deficient: %g %g, want 7 0", s[0], s[1]);
    CHECK(close_to(lowrank_frobenius(A, B, 3, 2, 2, -2.0), 14), "frobenius with scale -2");
    double M[4] = {3, 0, 0, -2}; /* diag(3, -2): singular values 3, 2 */
    jacobi_singular_values(M, 2, s);
    CHECK(close_to(s[0], 3) && close_to(s[1], 2), "jacobi diag: %g %g", s[0], s[1]);
    double R[4] = {1, 1, 1, 1}; /* rank one: 2, 0 */
    jacobi_singular_values(R, 2, s);
    CHECK(close_to(s[0], 2) && fabs(s[1]) < 1e-12, "jacobi ones: %g %g", s[0], s[1]);
}

/* ---- the heatmap over training steps (inspect --log) ---- */

typedef struct {
    int panel, cells, bad, nan_cells;
    long last_step;
} HeatCheck;

/* The value written for (step, target, layer): a formula, so that any cell can be checked. */
static double heat_value(long step, int target, int layer) { return 0.001 * (double)step * (layer + 1) * (target + 1); }

static void heat_tag(const char *tag, const char *p, const char *end, void *ctx) {
    HeatCheck *hc = ctx;
    const char *a;
    if (!strcmp(tag, "g") && (a = attr_in(p, end, "data-target=\""))) sscanf(a, "data-target=\"%d\"", &hc->panel);
    if (strcmp(tag, "rect") || !attr_in(p, end, "class=\"cell\"")) return;
    int layer = -1;
    long step = -1;
    char value[32] = "";
    sscanf(strstr(p, "data-layer="), "data-layer=\"%d\" data-step=\"%ld\" data-value=\"%31[^\"]\"", &layer, &step, value);
    hc->cells++;
    if (step > hc->last_step) hc->last_step = step;
    if (hc->panel == 1 && layer == 1) { /* target "b" has no adapter in layer 1 */
        hc->nan_cells += !strcmp(value, "nan");
        return;
    }
    double want = heat_value(step, hc->panel, layer), got = atof(value);
    hc->bad += step % 3 != 0 || !(fabs(got - want) <= 1e-8 * want);
}

/* 200 records every 3 steps, 3 layers, 2 targets: drawn as 160 sampled
 * columns per panel, the last record included, each cell its value. */
static void norm_heatmap(const char *tmp) {
    size_t cap = 200 * 400, n = 0;
    char *text = malloc(cap);
    REQUIRE(text != NULL, "out of memory");
    for (int i = 1; i <= 200; i++) {
        long step = 3L * i;
        n += (size_t)snprintf(text + n, cap - n,
                              "{\"step\": %ld}\n{\"record\": \"norms\", \"step\": %ld, \"epoch\": 1, \"norms\": "
                              "{\"a<&\": [%.17g, %.17g, %.17g], \"b\": [%.17g, null, %.17g]}}\n",
                              step, step, heat_value(step, 0, 0), heat_value(step, 0, 1), heat_value(step, 0, 2),
                              heat_value(step, 1, 0), heat_value(step, 1, 2));
    }
    REQUIRE(n < cap, "the log fits its buffer");
    NormLog g;
    LfError err = {0};
    REQUIRE(norm_log_parse(text, n, "heat.jsonl", &g, &err), "%s", err.msg);
    free(text);
    char svg[4200];
    snprintf(svg, sizeof svg, "%s/inspect-log.svg", tmp);
    REQUIRE(norm_log_write_svg(&g, svg, "log <1> & more", &err), "svg: %s", err.msg);
    size_t len;
    char *doc = fs_read_file(svg, &len, &err);
    REQUIRE(doc != NULL, "%s: %s", svg, err.msg);
    HeatCheck hc = {-1, 0, 0, 0, -1};
    int depth = svg_scan(doc, heat_tag, &hc);
    CHECK(depth == 0, "%s: well-formed SVG (depth %d at the end)", svg, depth);
    CHECK(hc.cells == 2 * 3 * NORM_SVG_MAX_COLS && hc.bad == 0, "%s: %d cells (want %d), %d values wrong", svg, hc.cells,
          2 * 3 * NORM_SVG_MAX_COLS, hc.bad);
    CHECK(hc.nan_cells == NORM_SVG_MAX_COLS && hc.last_step == 600, "%s: %d empty cells (want %d), last step %ld", svg,
          hc.nan_cells, NORM_SVG_MAX_COLS, hc.last_step);
    CHECK(strstr(doc, "log &lt;1&gt; &amp; more") && strstr(doc, ">a&lt;&amp;</text>"), "%s: title and target escaped", svg);
    free(doc);
    norm_log_free(&g);
}

int main(void) {
    const char *tmp = check_env("LORAFIT_TMP", "/tmp");
    char fixtures[4096], path[4200];
    check_source_path(fixtures, sizeof fixtures, "tests/fixtures/merge");
    LfError err = {0};
    hand_cases();
    norm_heatmap(tmp);
    snprintf(path, sizeof path, "%s/inspect.json", fixtures);
    size_t len;
    char *text = fs_read_file(path, &len, &err);
    REQUIRE(text != NULL, "%s: %s", path, err.msg);
    cJSON *want = cJSON_Parse(text);
    free(text);
    snprintf(path, sizeof path, "%s/base", fixtures);
    Gpt2Checkpoint *ck = checkpoint_open(path, &err);
    REQUIRE(ck && want, "%s: %s", path, err.msg);
    against_numpy(fixtures, tmp, "labs", cJSON_GetObjectItem(want, "labs"), ck);
    against_numpy(fixtures, tmp, "peft", cJSON_GetObjectItem(want, "peft"), ck);
    cJSON_Delete(want);
    checkpoint_close(ck);
    return check_done();
}
