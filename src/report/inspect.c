/* inspect.c - see include/lorafit/report/inspect.h */
#include "lorafit/report/inspect.h"

#include <cblas.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/engine/lowrank.h"
#include "lorafit/report/report.h"
#include "lorafit/util/files.h"

/* ---- collecting -------------------------------------------------------- */

const char *inspect_block_target(const char *name) {
    const char *p = strstr(name, "h.");
    if (!strncmp(name, "trf_blocks.", 11)) p = name + 11;
    else if (p) p += 2;
    else return name;
    while (*p >= '0' && *p <= '9') p++;
    return *p == '.' ? p + 1 : p;
}

static int target_index(AdapterInspection *ins, const char *name) {
    const char *t = inspect_block_target(name);
    for (int i = 0; i < ins->n_targets; i++)
        if (!strcmp(ins->targets[i], t)) return i;
    if (ins->n_targets == INSPECT_MAX_TARGETS) return INSPECT_MAX_TARGETS - 1;
    snprintf(ins->targets[ins->n_targets], sizeof ins->targets[0], "%s", t);
    return ins->n_targets++;
}

/* The base columns adapter a adds into: its first column and the row stride. */
static const float *base_block(const Gpt2Weights *w, const Gpt2Adapter *a, int *ld) {
    const Gpt2LayerWeights *lw = &w->layers[a->layer];
    int C = w->cfg.n_embd;
    switch (a->site) {
    case SITE_Q: case SITE_K: case SITE_V: case SITE_QKV:
        *ld = 3 * C;
        return lw->qkv_w + (a->site == SITE_K ? C : a->site == SITE_V ? 2 * C : 0);
    case SITE_ATTN_OUT: *ld = C; return lw->attn_proj_w;
    case SITE_FC: *ld = 4 * C; return lw->fc_w;
    case SITE_FC_PROJ: *ld = C; return lw->fc_proj_w;
    default: return NULL;
    }
}

/* Adds the bins of the n entries of row to hist. per = INSPECT_BINS / (hi -
 * lo): a multiply per entry, not a divide. The bins are computed first (a
 * loop the compiler vectorises); the counts go to four interleaved copies (hist4[j % 4]) so that
 * equal neighbours do not wait on each other's increment. */
static void bin_row(const float *row, int n, float lo, float per, int *bins, long (*hist4)[INSPECT_BINS]) {
    for (int o = 0; o < n; o++) {
        int b = (int)((row[o] - lo) * per);
        bins[o] = b < 0 ? 0 : b >= INSPECT_BINS ? INSPECT_BINS - 1 : b;
    }
    for (int o = 0; o < n; o++) hist4[o & 3][bins[o]]++;
}

/* Rows of dW formed at a time: 32 x 3072 floats stay in the L2 cache. */
#define HIST_ROWS 32

/* Bins every entry of each adapted W and of its dW (formed HIST_ROWS rows at
 * a time) over [-reach, reach], reach the largest |W|. */
static bool histograms(const Gpt2Model *m, const Gpt2Weights *w, double reach, AdapterInspection *ins, LfError *err) {
    ins->hist_lo = -(reach > 0 ? reach : 1), ins->hist_hi = -ins->hist_lo;
    size_t widest = 0;
    for (int k = 0; k < m->n_adapters; k++)
        if ((size_t)m->adapters[k].out > widest) widest = (size_t)m->adapters[k].out;
    float *dw = malloc((size_t)HIST_ROWS * widest * sizeof *dw);
    int *bins = malloc(widest * sizeof *bins);
    long(*hw)[INSPECT_BINS] = calloc(4, sizeof *hw), (*hdw)[INSPECT_BINS] = calloc(4, sizeof *hdw);
    bool ok = dw && bins && hw && hdw;
    if (!ok) lf_error_set(err, LF_ERR_IO, "out of memory");
    for (int k = 0; ok && k < m->n_adapters; k++) {
        const Gpt2Adapter *a = &m->adapters[k];
        int ld = 0;
        const float *W = base_block(w, a, &ld);
        if (!W) continue;
        float lo = (float)ins->hist_lo, per = (float)(INSPECT_BINS / (ins->hist_hi - ins->hist_lo));
        for (int i0 = 0; i0 < a->in; i0 += HIST_ROWS) {
            int rows = a->in - i0 < HIST_ROWS ? a->in - i0 : HIST_ROWS;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, a->out, a->rank, a->scale,
                        m->lora_A[k] + (size_t)i0 * a->rank, a->rank, m->lora_B[k], a->out, 0.0f, dw, a->out);
            for (int i = 0; i < rows; i++) {
                bin_row(W + (size_t)(i0 + i) * ld, a->out, lo, per, bins, hw);
                bin_row(dw + (size_t)i * a->out, a->out, lo, per, bins, hdw);
            }
        }
    }
    for (int j = 0; ok && j < 4; j++)
        for (int b = 0; b < INSPECT_BINS; b++) ins->hist_w[b] += hw[j][b], ins->hist_dw[b] += hdw[j][b];
    free(dw);
    free(bins);
    free(hw);
    free(hdw);
    ins->have_hist = ok;
    return ok;
}

/* ||W||_F (summed in double) and the largest |w| of a base block, in one
 * pass. Four partial sums and maxima, so that the additions do not wait on
 * each other (the sum's order changes, in double: ~1e-16). */
static double block_norm(const float *W, int ld, int in, int out, float *reach) {
    double s[4] = {0, 0, 0, 0};
    float most[4] = {*reach, *reach, *reach, *reach};
    for (int i = 0; i < in; i++) {
        const float *row = W + (size_t)i * ld;
        int o = 0;
        for (; o + 4 <= out; o += 4)
            for (int j = 0; j < 4; j++) {
                s[j] += (double)row[o + j] * row[o + j];
                float v = fabsf(row[o + j]);
                most[j] = v > most[j] ? v : most[j];
            }
        for (; o < out; o++) {
            s[0] += (double)row[o] * row[o];
            most[0] = fabsf(row[o]) > most[0] ? fabsf(row[o]) : most[0];
        }
    }
    *reach = fmaxf(fmaxf(most[0], most[1]), fmaxf(most[2], most[3]));
    return sqrt((s[0] + s[1]) + (s[2] + s[3]));
}

bool inspect_adapter(const Gpt2Model *m, const LoraSlot *slots, const Gpt2Weights *w, AdapterInspection *out,
                     LfError *err) {
    memset(out, 0, sizeof *out);
    out->n_layer = m->cfg.n_layer;
    float reach = 0; /* the largest |w| of the adapted blocks: the histograms' range */
    out->rows = calloc((size_t)m->n_adapters + 1, sizeof *out->rows);
    if (!out->rows) goto oom;
    for (int k = 0; k < m->n_adapters; k++) {
        const Gpt2Adapter *a = &m->adapters[k];
        InspectRow *r = &out->rows[out->n_rows++];
        *r = (InspectRow){slots[k].name, a->layer, target_index(out, slots[k].name), a->in, a->out, a->rank, 0, NAN, NULL};
        r->sigma = calloc((size_t)a->rank, sizeof *r->sigma);
        if (!r->sigma || !lowrank_singular_values(m->lora_A[k], m->lora_B[k], a->in, a->rank, a->out, a->scale, r->sigma))
            goto oom;
        r->delta_norm = lowrank_frobenius(m->lora_A[k], m->lora_B[k], a->in, a->rank, a->out, a->scale);
        int ld = 0;
        const float *W = w ? base_block(w, a, &ld) : NULL;
        if (W) r->weight_norm = block_norm(W, ld, a->in, a->out, &reach);
    }
    if (w && !histograms(m, w, reach, out, err)) {
        inspect_free(out);
        return false;
    }
    return true;
oom:
    inspect_free(out);
    lf_error_set(err, LF_ERR_IO, "out of memory inspecting the adapter");
    return false;
}

void inspect_free(AdapterInspection *ins) {
    for (int i = 0; ins->rows && i < ins->n_rows; i++) free(ins->rows[i].sigma);
    free(ins->rows);
    memset(ins, 0, sizeof *ins);
}

/* ---- text -------------------------------------------------------------- */

/* The share of ||dW||_F^2 in the largest singular value: 1 = rank one. */
static double top_share(const InspectRow *r) {
    double total = 0;
    for (int i = 0; i < r->rank; i++) total += r->sigma[i] * r->sigma[i];
    return total > 0 ? r->sigma[0] * r->sigma[0] / total : 0;
}

void inspect_print_table(FILE *f, const AdapterInspection *ins, int max_sigma) {
    fprintf(f, "%-5s %-14s %4s %11s %11s %10s %6s  %s\n", "layer", "target", "rank", "|dW|_F", "|W|_F", "ratio",
            "top1", "singular values of dW");
    for (int i = 0; i < ins->n_rows; i++) {
        const InspectRow *r = &ins->rows[i];
        fprintf(f, "%-5d %-14s %4d %11.4e ", r->layer, ins->targets[r->target], r->rank, r->delta_norm);
        if (isnan(r->weight_norm)) fprintf(f, "%11s %10s", "-", "-");
        else fprintf(f, "%11.4e %10.3e", r->weight_norm, r->weight_norm > 0 ? r->delta_norm / r->weight_norm : NAN);
        fprintf(f, " %5.1f%% ", 100 * top_share(r));
        for (int s = 0; s < r->rank && s < max_sigma; s++) fprintf(f, " %.3e", r->sigma[s]);
        fprintf(f, "%s\n", r->rank > max_sigma ? " ..." : "");
    }
}

bool inspect_print_json(FILE *f, const AdapterInspection *ins, LfError *err) {
    cJSON *root = cJSON_CreateObject(), *rows = cJSON_AddArrayToObject(root, "adapters");
    for (int i = 0; i < ins->n_rows; i++) {
        const InspectRow *r = &ins->rows[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "module", r->name);
        cJSON_AddNumberToObject(o, "layer", r->layer);
        cJSON_AddStringToObject(o, "target", ins->targets[r->target]);
        cJSON_AddNumberToObject(o, "rank", r->rank);
        cJSON_AddNumberToObject(o, "delta_norm", r->delta_norm);
        if (!isnan(r->weight_norm)) {
            cJSON_AddNumberToObject(o, "weight_norm", r->weight_norm);
            cJSON_AddNumberToObject(o, "ratio", r->weight_norm > 0 ? r->delta_norm / r->weight_norm : 0);
        }
        cJSON_AddItemToObject(o, "singular_values", cJSON_CreateDoubleArray(r->sigma, r->rank));
        cJSON_AddItemToArray(rows, o);
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) {
        lf_error_set(err, LF_ERR_IO, "out of memory");
        return false;
    }
    fprintf(f, "%s\n", text);
    free(text);
    return true;
}

/* ---- the SVG ----------------------------------------------------------- */

#define CELL_W 96
#define CELL_H 22
#define LEFT 70
#define TOP 60

void inspect_heat_color(double v, char *buf, size_t cap) {
    v = v < 0 ? 0 : v > 1 ? 1 : v;
    snprintf(buf, cap, "#%02x%02x%02x", (int)(255 - 222 * v), (int)(255 - 160 * v), (int)(255 - 75 * v));
}

static double cell_value(const InspectRow *r) {
    return isnan(r->weight_norm) || r->weight_norm <= 0 ? r->delta_norm : r->delta_norm / r->weight_norm;
}

static void draw_heatmap(FILE *f, const AdapterInspection *ins, bool ratio) {
    double most = 0;
    for (int i = 0; i < ins->n_rows; i++) most = fmax(most, cell_value(&ins->rows[i]));
    fprintf(f, "<g id=\"heatmap\">\n");
    for (int t = 0; t < ins->n_targets; t++) {
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"11\">", LEFT + t * CELL_W + CELL_W / 2,
                TOP - 6);
        plot_svg_text(f, ins->targets[t]);
        fprintf(f, "</text>\n");
    }
    for (int l = 0; l < ins->n_layer; l++)
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-size=\"11\">layer %d</text>\n", LEFT - 6,
                TOP + l * CELL_H + CELL_H / 2 + 4, l);
    for (int i = 0; i < ins->n_rows; i++) {
        const InspectRow *r = &ins->rows[i];
        char color[16];
        double v = cell_value(r);
        inspect_heat_color(most > 0 ? v / most : 0, color, sizeof color);
        int x = LEFT + r->target * CELL_W, y = TOP + r->layer * CELL_H;
        fprintf(f,
                "<rect class=\"cell\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\" stroke=\"#fff\" "
                "data-layer=\"%d\" data-target=\"%d\" data-value=\"%.6g\"><title>layer %d ",
                x, y, CELL_W, CELL_H, color, r->layer, r->target, v, r->layer);
        plot_svg_text(f, ins->targets[r->target]);
        fprintf(f, ": %s %.4g</title></rect>\n", ratio ? "|dW|/|W|" : "|dW|", v);
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"10\" fill=\"%s\">%.3g</text>\n",
                x + CELL_W / 2, y + CELL_H / 2 + 4, most > 0 && v / most > 0.6 ? "#fff" : "#222", v);
    }
    fprintf(f, "</g>\n");
}

/* Two step lines over the same bins, counts on a log scale. */
static void draw_histograms(FILE *f, const AdapterInspection *ins, double x0, double y0, double width, double height) {
    double top = 0;
    for (int b = 0; b < INSPECT_BINS; b++) top = fmax(top, log10(1.0 + fmax(ins->hist_w[b], ins->hist_dw[b])));
    fprintf(f, "<g id=\"histogram\">\n<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" stroke=\"#888\"/>\n",
            x0, y0, width, height);
    const long *counts[2] = {ins->hist_w, ins->hist_dw};
    const char *colors[2] = {"#1f77b4", "#d62728"}, *names[2] = {"W (base)", "dW = scale A B"};
    for (int s = 0; s < 2; s++) {
        fprintf(f, "<polyline class=\"hist\" data-series=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"",
                s ? "dW" : "W", colors[s]);
        for (int b = 0; b < INSPECT_BINS; b++) {
            double y = y0 + height - (top > 0 ? log10(1.0 + counts[s][b]) / top : 0) * height;
            fprintf(f, "%.1f,%.1f %.1f,%.1f ", x0 + b * width / INSPECT_BINS, y, x0 + (b + 1) * width / INSPECT_BINS, y);
        }
        fprintf(f, "\"/>\n<text x=\"%g\" y=\"%g\" font-size=\"11\" fill=\"%s\">%s</text>\n", x0 + 8, y0 + 16 + 14 * s,
                colors[s], names[s]);
    }
    fprintf(f, "<text x=\"%g\" y=\"%g\" font-size=\"11\" text-anchor=\"start\">%.3g</text>\n", x0, y0 + height + 14,
            ins->hist_lo);
    fprintf(f, "<text x=\"%g\" y=\"%g\" font-size=\"11\" text-anchor=\"end\">%.3g</text>\n", x0 + width,
            y0 + height + 14, ins->hist_hi);
    fprintf(f, "<text x=\"%g\" y=\"%g\" font-size=\"11\" text-anchor=\"middle\">entries of the adapted matrices "
               "(count, log scale)</text>\n</g>\n", x0 + width / 2, y0 + height + 14);
}

bool inspect_svg_open(FsAtomic *a, const char *path, int width, int height, const char *title, LfError *err) {
    if (!fs_atomic_open(a, path, err)) return false;
    fprintf(a->f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\">\n"
                  "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n<text x=\"10\" y=\"22\" font-size=\"15\">",
            width, height);
    plot_svg_text(a->f, title);
    fputs("</text>\n", a->f);
    return true;
}

bool inspect_write_svg(const AdapterInspection *ins, const char *path, const char *title, LfError *err) {
    bool ratio = ins->n_rows && !isnan(ins->rows[0].weight_norm);
    int heat_w = LEFT + ins->n_targets * CELL_W + 20, heat_h = TOP + ins->n_layer * CELL_H + 20;
    int hist_w = 520, width = heat_w + (ins->have_hist ? hist_w + 40 : 0);
    int height = ins->have_hist && heat_h < 320 ? 320 : heat_h; /* the histogram needs its room; a heatmap alone does not */
    FsAtomic a;
    if (!inspect_svg_open(&a, path, width, height, title ? title : "lorafit inspect", err)) return false;
    FILE *f = a.f;
    fprintf(f, "<text x=\"10\" y=\"40\" font-size=\"11\" fill=\"#555\">%s per layer and target</text>\n",
            ratio ? "||dW||_F / ||W||_F" : "||dW||_F");
    draw_heatmap(f, ins, ratio);
    if (ins->have_hist) draw_histograms(f, ins, heat_w + 20, TOP, hist_w, height - TOP - 40);
    fprintf(f, "</svg>\n");
    return fs_atomic_commit(&a, err);
}
