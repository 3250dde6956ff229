/* norm_heatmap.c - the heatmap of ||dW||_F over training (layer x step),
 * one panel per target (see include/lorafit/report/norm_log.h). */
#include <math.h>
#include <stdlib.h>

#include "lorafit/report/norm_log.h"
#include "lorafit/report/report.h"
#include "lorafit/util/files.h"

#define LEFT 70
#define TOP 84
#define PANEL_W 640
#define CELL_H 16
#define PANEL_GAP 54 /* the panel's name above it, the step labels below */

static int panel_height(const NormLog *g) { return g->n_layer * CELL_H; }

/* The scale: 0 to the largest norm anywhere, white to dark blue. */
static void draw_scale(FILE *f, double most) {
    fprintf(f, "<defs><linearGradient id=\"scale\">");
    for (int s = 0; s <= 4; s++) {
        char color[16];
        inspect_heat_color(s / 4.0, color, sizeof color);
        fprintf(f, "<stop offset=\"%d%%\" stop-color=\"%s\"/>", 25 * s, color);
    }
    fprintf(f, "</linearGradient></defs>\n"
               "<rect x=\"%d\" y=\"48\" width=\"160\" height=\"10\" fill=\"url(#scale)\" stroke=\"#888\"/>\n"
               "<text x=\"%d\" y=\"70\" font-size=\"11\" text-anchor=\"start\">0</text>\n"
               "<text x=\"%d\" y=\"70\" font-size=\"11\" text-anchor=\"end\">%.3g</text>\n",
            LEFT, LEFT, LEFT + 160, most);
}

static void draw_panel(FILE *f, const NormLog *g, int t, int top, int cols, double most) {
    double cw = (double)PANEL_W / cols;
    /* crisp edges: anti-aliased neighbours of fractional width leave white seams between the columns */
    fprintf(f, "<g class=\"panel\" data-target=\"%d\" shape-rendering=\"crispEdges\">\n<text x=\"%d\" y=\"%d\" font-size=\"13\" font-weight=\"bold\">",
            t, LEFT, top - 8);
    plot_svg_text(f, g->targets[t]);
    fprintf(f, "</text>\n");
    for (int l = 0; l < g->n_layer; l++)
        if (g->n_layer <= 24 || l % ((g->n_layer + 23) / 24) == 0)
            fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-size=\"10\">layer %d</text>\n", LEFT - 6,
                    top + l * CELL_H + CELL_H / 2 + 4, l);
    for (int c = 0; c < cols; c++) {
        int i = cols == 1 ? g->n_steps - 1 : (int)((double)c * (g->n_steps - 1) / (cols - 1) + 0.5);
        for (int l = 0; l < g->n_layer; l++) {
            double v = norm_log_at(g, i, t, l);
            char color[16] = "#eeeeee"; /* no adapter there */
            if (!isnan(v)) inspect_heat_color(most > 0 ? v / most : 0, color, sizeof color);
            fprintf(f,
                    "<rect class=\"cell\" x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" fill=\"%s\" "
                    "data-layer=\"%d\" data-step=\"%ld\" data-value=\"%.9g\"/>\n",
                    LEFT + c * cw, top + l * CELL_H, cw + 0.05, CELL_H, color, l, g->steps[i], v);
        }
    }
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#888\"/>\n", LEFT, top,
            PANEL_W, panel_height(g));
    /* the first, middle and last step under the panel */
    int marks[3] = {0, (cols - 1) / 2, cols - 1};
    const char *anchor[3] = {"start", "middle", "end"};
    for (int k = 0; k < 3; k++) {
        if (k == 1 && (marks[1] == 0 || marks[1] == cols - 1)) continue;
        if (k == 2 && cols == 1) continue;
        int i = cols == 1 ? g->n_steps - 1 : (int)((double)marks[k] * (g->n_steps - 1) / (cols - 1) + 0.5);
        double x = k == 0 ? LEFT : k == 2 ? LEFT + PANEL_W : LEFT + (marks[1] + 0.5) * cw;
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" text-anchor=\"%s\">step %ld</text>\n", x,
                top + panel_height(g) + 13, anchor[k], g->steps[i]);
    }
    fprintf(f, "</g>\n");
}

bool norm_log_write_svg(const NormLog *g, const char *path, const char *title, LfError *err) {
    int cols = g->n_steps < NORM_SVG_MAX_COLS ? g->n_steps : NORM_SVG_MAX_COLS;
    double most = 0;
    for (int i = 0; i < g->n_steps; i++)
        for (int t = 0; t < g->n_targets; t++)
            for (int l = 0; l < g->n_layer; l++)
                if (!isnan(norm_log_at(g, i, t, l))) most = fmax(most, norm_log_at(g, i, t, l));
    int width = LEFT + PANEL_W + 30, height = TOP + g->n_targets * (panel_height(g) + PANEL_GAP);
    FsAtomic a;
    if (!inspect_svg_open(&a, path, width, height, title ? title : "lorafit inspect --log", err)) return false;
    FILE *f = a.f;
    fprintf(f, "<text x=\"10\" y=\"40\" font-size=\"11\" fill=\"#555\">||dW||_F per layer (down) over "
               "the recorded steps (across), one panel per target; %d of %d records drawn</text>\n",
            cols, g->n_steps);
    draw_scale(f, most);
    for (int t = 0; t < g->n_targets; t++) draw_panel(f, g, t, TOP + 18 + t * (panel_height(g) + PANEL_GAP), cols, most);
    fprintf(f, "</svg>\n");
    return fs_atomic_commit(&a, err);
}
