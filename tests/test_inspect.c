/* test_inspect.c - lorafit inspect's figures against numpy
 * (scripts/reference/make_inspect_fixture.py, tests/fixtures/merge/
 * inspect.json: dW formed in full, np.linalg.norm, np.linalg.svd) for the
 * merge fixture's labs and PEFT adapters; the small-core singular values on
 * hand-made cases (rank deficient, known spectrum); and the SVG, parsed
 * here: well formed (every tag closed in order), one heatmap cell per
 * adapter carrying its value, the two histogram lines. */
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
#include "lorafit/util/files.h"

static bool close_to(double got, double want) { return fabs(got - want) <= 1e-9 * fmax(1.0, fabs(want)); }

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
    char stack[16][32];
    int depth = 0, cells = 0, hists = 0, well = strncmp(text, "<svg ", 5) == 0, value_bad = 0;
    for (char *p = strchr(text, '<'); p && well; p = strchr(p + 1, '<')) {
        char *end = strchr(p, '>');
        if (!end) {
            well = 0;
            break;
        }
        char tag[32] = "";
        bool closing = p[1] == '/', empty = end[-1] == '/';
        sscanf(p + 1 + closing, "%31[a-z]", tag);
        if (!strcmp(tag, "rect") && strstr(p, "class=\"cell\"") && strstr(p, "class=\"cell\"") < end) {
            int layer = -1, target = -1;
            double v = NAN;
            sscanf(strstr(p, "data-layer="), "data-layer=\"%d\" data-target=\"%d\" data-value=\"%lf\"", &layer, &target, &v);
            const InspectRow *r = NULL;
            for (int i = 0; i < ins.n_rows; i++)
                if (ins.rows[i].layer == layer && ins.rows[i].target == target) r = &ins.rows[i];
            value_bad += !r || fabs(v - r->delta_norm / r->weight_norm) > 1e-5 * v;
            cells++;
        }
        if (!strcmp(tag, "polyline") && strstr(p, "class=\"hist\"") && strstr(p, "class=\"hist\"") < end) hists++;
        if (closing) well = depth > 0 && !strcmp(stack[--depth], tag);
        else if (!empty && depth < 16) snprintf(stack[depth++], sizeof stack[0], "%s", tag);
        else if (!empty) well = 0;
        for (char *q = p + 1; q < end && well; q++) well = *q != '<';
    }
    CHECK(well && depth == 0, "%s: well-formed SVG (depth %d at the end)", svg, depth);
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

int main(void) {
    const char *tmp = check_env("LORAFIT_TMP", "/tmp");
    char fixtures[4096], path[4200];
    check_source_path(fixtures, sizeof fixtures, "tests/fixtures/merge");
    LfError err = {0};
    hand_cases();
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
