/* plot_svg.c - the SVG plot of a training run (see include/lorafit/report/report.h).
 *
 * The picture is written straight to a FILE with fprintf: a fixed-size
 * canvas with a title, a one-line summary and two stacked panels sharing the
 * x axis (global step). Coordinates are printed with one decimal, which is
 * a tenth of a pixel. lorafit never calls setlocale(), so printf's decimal
 * point is always '.'. */
#include "lorafit/report/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/util/files.h"
#include "lorafit/util/utf8.h"

/* ------------------------------------------------------------------ ticks */

/* The step {1, 2, 5} * 10^e as (mantissa, exponent), the smallest one that
 * is >= raw. The small tolerance keeps 0.2 / 0.1 == 2.0000000000000004 a 2. */
static void ticks_nice_step(double raw, int *mantissa, int *exponent) {
    int e = (int)floor(log10(raw));
    double f = raw / pow(10.0, e);
    int m = f <= 1 + 1e-9 ? 1 : f <= 2 + 1e-9 ? 2 : f <= 5 + 1e-9 ? 5 : 10;
    if (m == 10) {
        m = 1;
        e++;
    }
    *mantissa = m;
    *exponent = e;
}

/* step's exponent back from the double (exact for the steps we make). */
static int ticks_exponent(double step) { return (int)floor(log10(step) + 1e-9); }

/* k * step, dividing by a power of ten rather than multiplying by 0.1 so that
 * k = 3, step = 0.1 gives the double nearest 0.3. */
static double ticks_multiple(double k, double step) {
    int e = ticks_exponent(step);
    double m = round(step / pow(10.0, e));
    return e < 0 ? k * m / pow(10.0, -e) : k * m * pow(10.0, e);
}

PlotTicks plot_ticks(double lo, double hi, int target, bool loose) {
    if (!isfinite(lo) || !isfinite(hi) || !isfinite(hi - lo)) lo = 0, hi = 1;
    if (lo > hi) {
        double t = lo;
        lo = hi;
        hi = t;
    }
    if (target < 1) target = 1;
    /* A zero range (one point, a constant) is widened by 10% of its value
     * either way, or by 1 around zero, so the value sits in the middle. A
     * range too small for powers of ten to be normal doubles counts as zero. */
    if (hi - lo <= 1e-12 * fmax(fabs(lo), fabs(hi)) || hi - lo < 1e-200) {
        double d = fabs(lo) >= 1e-200 ? fabs(lo) * 0.1 : 1.0;
        lo -= d;
        hi += d;
    }
    int m, e;
    ticks_nice_step((hi - lo) / target, &m, &e);
    PlotTicks t;
    t.step = e < 0 ? m / pow(10.0, -e) : m * pow(10.0, e);
    double k_first, k_last;
    if (loose) {
        k_first = floor(lo / t.step + 1e-9);
        k_last = ceil(hi / t.step - 1e-9);
        t.lo = ticks_multiple(k_first, t.step);
        t.hi = ticks_multiple(k_last, t.step);
    } else {
        k_first = ceil(lo / t.step - 1e-9);
        k_last = floor(hi / t.step + 1e-9);
        t.lo = lo;
        t.hi = hi;
    }
    t.first = ticks_multiple(k_first, t.step);
    /* At most target + 2 by construction; the bound is for rounding only. */
    double n = k_last - k_first + 1;
    t.n = n < 1 ? 0 : n > 1000 ? 1000 : (int)n;
    return t;
}

double plot_tick_value(const PlotTicks *t, int i) {
    return ticks_multiple(round(t->first / t->step) + i, t->step);
}

char *plot_tick_label(const PlotTicks *t, double value, bool percent, char *buf, size_t size) {
    int e = ticks_exponent(t->step) + (percent ? 2 : 0);
    int decimals = e < 0 ? -e : 0;
    if (percent) value *= 100;
    if (fabs(value) < 1e-9 * t->step) value = 0; /* no "-0.0" */
    snprintf(buf, size, "%.*f%s", decimals, value, percent ? "%" : "");
    return buf;
}

/* Narrows loose ticks to [lo, hi] (an accuracy axis to [0, 1]). Both ends
 * must be multiples of the step, which 0 and 1 are for any step <= 1. */
static void ticks_clamp(PlotTicks *t, double lo, double hi) {
    if (t->lo >= lo && t->hi <= hi) return;
    if (t->step > hi - lo) return;
    t->lo = fmax(t->lo, lo);
    t->hi = fmin(t->hi, hi);
    t->first = t->lo;
    t->n = (int)round((t->hi - t->lo) / t->step) + 1;
}

/* ----------------------------------------------------------------- series */

/* A curve to draw: the finite points of a history column, in order. */
typedef struct {
    double *x, *y;
    size_t n;
} Series;

static double point_value(const HistoryPoint *p, bool accuracy) { return accuracy ? p->accuracy : p->loss; }

static bool series_alloc(Series *s, size_t cap) {
    s->n = 0;
    s->x = malloc((cap ? cap : 1) * sizeof *s->x);
    s->y = malloc((cap ? cap : 1) * sizeof *s->y);
    return s->x && s->y;
}

static void series_free(Series *s) {
    free(s->x);
    free(s->y);
    s->x = s->y = NULL;
    s->n = 0;
}

/* The finite (step, value) points of one column. */
static bool series_collect(Series *s, const HistoryPoint *pts, size_t n, bool accuracy) {
    if (!series_alloc(s, n)) return false;
    for (size_t i = 0; i < n; i++) {
        double v = point_value(&pts[i], accuracy);
        if (!isfinite(v)) continue;
        s->x[s->n] = (double)pts[i].step;
        s->y[s->n++] = v;
    }
    return true;
}

size_t plot_smooth_window(size_t n) {
    size_t w = (n + 5) / 10; /* 10%, rounded */
    if (w < 1) w = 1;
    return w | 1;
}

/* The centred moving average of one column over `window` points: the mean
 * of the finite values among the window/2 points either side. Centred, so
 * the curve does not lag behind the batches as a trailing average would;
 * near the ends the window shrinks symmetrically (to the point itself at
 * the first and last step), which keeps a falling loss unbiased there
 * instead of pulled towards the middle. Prefix sums make it O(n). */
static bool series_smooth(Series *s, const HistoryPoint *pts, size_t n, bool accuracy, size_t window) {
    double *sum = malloc((n + 1) * sizeof *sum);
    size_t *cnt = malloc((n + 1) * sizeof *cnt);
    bool ok = sum && cnt && series_alloc(s, n);
    if (ok) {
        sum[0] = 0;
        cnt[0] = 0;
        for (size_t i = 0; i < n; i++) {
            double v = point_value(&pts[i], accuracy);
            bool finite = isfinite(v);
            sum[i + 1] = sum[i] + (finite ? v : 0);
            cnt[i + 1] = cnt[i] + finite;
        }
        size_t half = window / 2;
        for (size_t i = 0; i < n; i++) {
            size_t r = half;
            if (r > i) r = i;
            if (r > n - 1 - i) r = n - 1 - i;
            size_t a = i - r, b = i + r + 1;
            size_t c = cnt[b] - cnt[a];
            if (c == 0) continue;
            s->x[s->n] = (double)pts[i].step;
            s->y[s->n++] = (sum[b] - sum[a]) / c;
        }
    }
    free(sum);
    free(cnt);
    return ok;
}

/* ------------------------------------------------------------------ text */

/* Writes s as XML character data: markup characters as entities, control
 * characters as spaces and invalid UTF-8 as U+FFFD, so that any title gives
 * a well-formed file. */
void plot_svg_text(FILE *f, const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t c;
        /* 4 is safe at the end: the terminating NUL ends any sequence */
        size_t len = utf8_decode(p, 4, &c);
        if (len == 0) {
            fputs("&#xFFFD;", f);
            p++;
            continue;
        }
        switch (c) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default:
            if (c < 0x20) fputc(' ', f);
            else if (c == 0xFFFE || c == 0xFFFF) fputs("&#xFFFD;", f);
            else fwrite(p, 1, len, f);
        }
        p += len;
    }
}

/* Without font metrics, a sans-serif glyph is about 0.55 em wide on
 * average; good enough to lay out a legend. */
static double text_width(const char *s, double font_size) { return (double)strlen(s) * font_size * 0.55; }

/* ----------------------------------------------------------------- layout */

#define SVG_W 900
#define SVG_H 660
#define PLOT_LEFT 74
#define PLOT_RIGHT 28
#define FONT "Helvetica, Arial, &apos;DejaVu Sans&apos;, sans-serif"

#define COLOR_TEXT "#262626"
#define COLOR_MUTED "#6b6b6b"
#define COLOR_GRID "#e8e8e8"
#define COLOR_FRAME "#bdbdbd"
#define COLOR_BATCH "#a3c0e0"
#define COLOR_TRAIN "#2f6ea8"
#define COLOR_VAL "#d9703a"

typedef struct {
    int id;                /* for the clip path's id */
    const char *name;      /* "Loss" */
    double left, top, width, height;
    PlotTicks x, y;
    bool percent;          /* y tick labels as percentages */
} Panel;

static double panel_x(const Panel *p, double v) { return p->left + (v - p->x.lo) / (p->x.hi - p->x.lo) * p->width; }
static double panel_y(const Panel *p, double v) {
    return p->top + p->height - (v - p->y.lo) / (p->y.hi - p->y.lo) * p->height;
}

/* Everything one panel shows. */
typedef struct {
    const Series *batch;  /* thin light line, may be NULL */
    const Series *train;  /* the moving average */
    const Series *val;    /* line with markers */
    size_t window;        /* of the moving average, for the legend */
} PanelData;

/* Min and max of the y values of up to three series; false if all empty. */
static bool series_range(const Series *const *s, int ns, double *lo, double *hi) {
    bool any = false;
    for (int k = 0; k < ns; k++) {
        if (!s[k]) continue;
        for (size_t i = 0; i < s[k]->n; i++) {
            double v = s[k]->y[i];
            if (!any || v < *lo) *lo = v;
            if (!any || v > *hi) *hi = v;
            any = true;
        }
    }
    return any;
}

/* ------------------------------------------------------------------ drawing */

/* The points of a series as a polyline of at most PLOT_MAX_POINTS. A noisy
 * series (envelope) is min/max-decimated: each of PLOT_MAX_POINTS/2
 * buckets of consecutive points keeps its lowest and highest, in their
 * order, so the spikes of a batch loss survive. A smooth one is sampled at
 * even intervals, first and last point included, which draws it without
 * the jitter min/max would add. A single point becomes a dot, since a
 * polyline of one point draws nothing. */
static void draw_polyline(FILE *f, const Panel *p, const Series *s, const char *color, double width, bool envelope) {
    if (s->n == 0) return;
    if (s->n == 1) {
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%s\"/>\n", panel_x(p, s->x[0]),
                panel_y(p, s->y[0]), width + 1.5, color);
        return;
    }
    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\" stroke-linejoin=\"round\" "
               "stroke-linecap=\"round\" points=\"",
            color, width);
    if (s->n <= PLOT_MAX_POINTS || !envelope) {
        size_t m = s->n <= PLOT_MAX_POINTS ? s->n : PLOT_MAX_POINTS;
        for (size_t k = 0; k < m; k++) {
            size_t i = m == s->n ? k : (size_t)((double)k * (double)(s->n - 1) / (double)(m - 1) + 0.5);
            fprintf(f, "%s%.1f,%.1f", k ? " " : "", panel_x(p, s->x[i]), panel_y(p, s->y[i]));
        }
    } else {
        size_t buckets = PLOT_MAX_POINTS / 2;
        for (size_t b = 0; b < buckets; b++) {
            size_t a = b * s->n / buckets, e = (b + 1) * s->n / buckets;
            size_t lo = a, hi = a;
            for (size_t i = a + 1; i < e; i++) {
                if (s->y[i] < s->y[lo]) lo = i;
                if (s->y[i] > s->y[hi]) hi = i;
            }
            size_t first = lo < hi ? lo : hi, second = lo < hi ? hi : lo;
            fprintf(f, "%s%.1f,%.1f", b ? " " : "", panel_x(p, s->x[first]), panel_y(p, s->y[first]));
            if (second != first) fprintf(f, " %.1f,%.1f", panel_x(p, s->x[second]), panel_y(p, s->y[second]));
        }
    }
    fputs("\"/>\n", f);
}

static void draw_markers(FILE *f, const Panel *p, const Series *s, const char *color) {
    /* Thousands of evaluations would be a smear of dots; the line says it all. */
    if (s->n > 200) return;
    for (size_t i = 0; i < s->n; i++)
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\" stroke=\"#ffffff\" stroke-width=\"1.2\"/>\n",
                panel_x(p, s->x[i]), panel_y(p, s->y[i]), color);
}

/* Grid lines and tick labels of both axes, and the axis frame. */
static void draw_axes(FILE *f, const Panel *p) {
    char label[32];
    double bottom = p->top + p->height, right = p->left + p->width;
    fprintf(f, "<g stroke=\"%s\" stroke-width=\"1\">\n", COLOR_GRID);
    for (int i = 0; i < p->y.n; i++) {
        double y = panel_y(p, plot_tick_value(&p->y, i));
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", p->left, y, right, y);
    }
    for (int i = 0; i < p->x.n; i++) {
        double x = panel_x(p, plot_tick_value(&p->x, i));
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x, p->top, x, bottom);
    }
    fputs("</g>\n", f);
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"%s\"/>\n",
            p->left, p->top, p->width, p->height, COLOR_FRAME);

    fprintf(f, "<g font-size=\"11\" fill=\"%s\">\n", COLOR_MUTED);
    for (int i = 0; i < p->y.n; i++) {
        double v = plot_tick_value(&p->y, i);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", p->left - 8,
                panel_y(p, v) + 4, plot_tick_label(&p->y, v, p->percent, label, sizeof label));
    }
    for (int i = 0; i < p->x.n; i++) {
        double v = plot_tick_value(&p->x, i);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", panel_x(p, v), bottom + 17,
                plot_tick_label(&p->x, v, false, label, sizeof label));
    }
    fputs("</g>\n", f);
}

/* A dashed line where each epoch after the first begins (after the last
 * step of the one before), labelled in the loss panel, whose top right is
 * free once the loss has fallen. */
static void draw_epochs(FILE *f, const Panel *p, const TrainHistory *h, bool labels) {
    double last_label = p->left; /* labels closer than 60 px would overlap */
    for (size_t i = 1; i < h->n_train; i++) {
        const HistoryPoint *a = &h->train[i - 1], *b = &h->train[i];
        if (a->epoch == b->epoch) continue;
        double x = panel_x(p, (double)a->step);
        if (x <= p->left + 1 || x >= p->left + p->width - 1) continue;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-dasharray=\"4 3\"/>\n",
                x, p->top, x, p->top + p->height, COLOR_FRAME);
        if (!labels || p->left + p->width - x < 50 || x - last_label < 60) continue;
        last_label = x;
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10.5\" fill=\"%s\">epoch %d</text>\n", x + 5,
                    p->top + 14, COLOR_MUTED, b->epoch);
    }
}

/* One legend entry starting at x: a sample of the line, then its name. The
 * caller lays entries out from the right, so x is the entry's left edge. */
static void draw_legend_entry(FILE *f, double x, double y, const char *text, const char *color, double width,
                              bool marker) {
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"%.1f\" "
               "stroke-linecap=\"round\"/>\n",
            x, y - 4, x + 22, y - 4, color, width);
    if (marker)
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\" stroke=\"#ffffff\" stroke-width=\"1.2\"/>\n",
                x + 11, y - 4, color);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" fill=\"%s\">%s</text>\n", x + 28, y, COLOR_TEXT, text);
}

/* The panel's name on the left above the plot, its legend on the right. */
static void draw_header(FILE *f, const Panel *p, const PanelData *d) {
    double y = p->top - 10;
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" font-weight=\"bold\" fill=\"%s\">%s</text>\n", p->left,
            y, COLOR_TEXT, p->name);
    char avg[64];
    snprintf(avg, sizeof avg, "train (moving avg, %zu step%s)", d->window, d->window == 1 ? "" : "s");
    double x = p->left + p->width;
    if (d->val->n) {
        x -= 28 + text_width("validation", 12) + 18;
        draw_legend_entry(f, x, y, "validation", COLOR_VAL, 1.8, true);
    }
    if (d->train->n) {
        x -= 28 + text_width(avg, 12) + 18;
        draw_legend_entry(f, x, y, avg, COLOR_TRAIN, 2, false);
    }
    if (d->batch && d->batch->n) {
        x -= 28 + text_width("train (batch)", 12) + 18;
        draw_legend_entry(f, x, y, "train (batch)", COLOR_BATCH, 1.2, false);
    }
}

static void draw_panel(FILE *f, const Panel *p, const PanelData *d, const TrainHistory *h, bool epoch_labels) {
    draw_header(f, p, d);
    draw_axes(f, p);
    draw_epochs(f, p, h, epoch_labels);
    /* The clip is a little larger than the frame so that a line along it
     * (an accuracy of 100%) is not cut in half. */
    fprintf(f, "<clipPath id=\"clip%d\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/></clipPath>\n",
            p->id, p->left - 3, p->top - 3, p->width + 6, p->height + 6);
    fprintf(f, "<g clip-path=\"url(#clip%d)\">\n", p->id);
    if (d->batch) draw_polyline(f, p, d->batch, COLOR_BATCH, 1, true);
    draw_polyline(f, p, d->train, COLOR_TRAIN, 2, false);
    draw_polyline(f, p, d->val, COLOR_VAL, 1.8, true);
    fputs("</g>\n", f);
    /* Markers are drawn unclipped: a point on the frame stays whole. */
    draw_markers(f, p, d->val, COLOR_VAL);
    if ((!d->batch || !d->batch->n) && !d->train->n && !d->val->n)
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" fill=\"%s\" text-anchor=\"middle\">no data</text>\n",
                p->left + p->width / 2, p->top + p->height / 2 + 4, COLOR_MUTED);
}

/* "130 steps, 3 epochs · validation at step 130: loss 0.084, accuracy 97.3%" */
static void draw_summary(FILE *f, const TrainHistory *h, double y) {
    long steps = h->n_train ? h->train[h->n_train - 1].step : 0;
    int epochs = h->n_train ? h->train[h->n_train - 1].epoch : 0;
    fprintf(f, "<text x=\"%d\" y=\"%.1f\" font-size=\"12.5\" fill=\"%s\">", PLOT_LEFT, y, COLOR_MUTED);
    fprintf(f, "%ld step%s, %d epoch%s", steps, steps == 1 ? "" : "s", epochs, epochs == 1 ? "" : "s");
    if (h->n_val) {
        const HistoryPoint *v = &h->val[h->n_val - 1];
        fprintf(f, " &#183; validation at step %ld:", v->step);
        if (isfinite(v->loss)) fprintf(f, " loss %.3f", v->loss);
        if (isfinite(v->accuracy))
            fprintf(f, "%s accuracy %.1f%%", isfinite(v->loss) ? "," : "", 100 * v->accuracy);
    }
    fputs("</text>\n", f);
}

/* --------------------------------------------------------------- the file */

/* The x axis: from step 0 (or the first step, if negative) to the last. */
static PlotTicks plot_x_ticks(const TrainHistory *h) {
    double lo = 0, hi = 0;
    for (size_t i = 0; i < h->n_train; i++) hi = fmax(hi, (double)h->train[i].step), lo = fmin(lo, (double)h->train[i].step);
    for (size_t i = 0; i < h->n_val; i++) hi = fmax(hi, (double)h->val[i].step), lo = fmin(lo, (double)h->val[i].step);
    /* Steps are whole numbers: a short run still gets ticks 0, 1, 2, ... */
    if (hi - lo < 5) hi = lo + 5;
    return plot_ticks(lo, hi, 8, false);
}

static void plot_svg(FILE *f, const TrainHistory *h, const char *title, const Series *s) {
    /* s: batch loss, train loss (avg), val loss, train acc (avg), val acc */
    size_t window = plot_smooth_window(h->n_train);
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "font-family=\"%s\">\n<title>",
            SVG_W, SVG_H, SVG_W, SVG_H, FONT);
    plot_svg_text(f, title);
    fprintf(f, "</title>\n<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", SVG_W, SVG_H);
    fprintf(f, "<text x=\"%d\" y=\"34\" font-size=\"18\" font-weight=\"bold\" fill=\"%s\">", PLOT_LEFT, COLOR_TEXT);
    plot_svg_text(f, title);
    fputs("</text>\n", f);
    draw_summary(f, h, 56);

    /* Loss from 0 or below its lowest value to above its highest. */
    const Series *ls[] = {&s[0], &s[1], &s[2]}, *as[] = {&s[3], &s[4]};
    double lo = 0, hi = 1;
    PlotTicks loss_y = series_range(ls, 3, &lo, &hi) ? plot_ticks(lo, hi, 6, true) : plot_ticks(0, 1, 6, true);
    lo = 0, hi = 1;
    bool any = series_range(as, 2, &lo, &hi);
    PlotTicks acc_y = plot_ticks(lo, hi, 6, true);
    /* Accuracy lives in [0, 1]: do not let the axis run past it. */
    if (!any || (lo >= 0 && hi <= 1)) ticks_clamp(&acc_y, 0, 1);

    PlotTicks xt = plot_x_ticks(h);
    double width = SVG_W - PLOT_LEFT - PLOT_RIGHT;
    Panel loss = {0, "Loss", PLOT_LEFT, 100, width, 210, xt, loss_y, false};
    Panel acc = {1, "Accuracy", PLOT_LEFT, 378, width, 210, xt, acc_y, true};
    PanelData dl = {&s[0], &s[1], &s[2], window}, da = {NULL, &s[3], &s[4], window};
    draw_panel(f, &loss, &dl, h, true);
    draw_panel(f, &acc, &da, h, false);
    fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"12\" fill=\"%s\" text-anchor=\"middle\">step</text>\n",
            acc.left + acc.width / 2, SVG_H - 32, COLOR_MUTED);
    fputs("</svg>\n", f);
}

bool plot_write_svg(const TrainHistory *h, const char *path, const char *title, LfError *err) {
    if (!title) title = "lorafit train";
    enum { N_SERIES = 5 };
    Series s[N_SERIES] = {{0}};
    size_t window = plot_smooth_window(h->n_train);
    bool ok = series_collect(&s[0], h->train, h->n_train, false) &&
              series_smooth(&s[1], h->train, h->n_train, false, window) &&
              series_collect(&s[2], h->val, h->n_val, false) &&
              series_smooth(&s[3], h->train, h->n_train, true, window) &&
              series_collect(&s[4], h->val, h->n_val, true);
    if (!ok) {
        lf_error_set(err, LF_ERR_IO, "cannot write %s: out of memory", path);
    } else {
        FsAtomic out;
        ok = fs_atomic_open(&out, path, err);
        if (ok) {
            plot_svg(out.f, h, title, s);
            ok = fs_atomic_commit(&out, err);
        }
    }
    for (int i = 0; i < N_SERIES; i++) series_free(&s[i]);
    return ok;
}
