/* report.h - what `lorafit train` reports about a run: the history of
 * losses and accuracies, an SVG plot of it, and a progress bar on stderr.
 *
 * TrainHistory records one point per optimizer step (the batch loss and
 * accuracy) and one per evaluation (validation loss and accuracy, usually
 * at the end of each epoch). plot_write_svg() draws it as a standalone SVG
 * file (no scripts, no external fonts or CSS) with two stacked panels, loss
 * and accuracy over the global step. A value that is NaN or infinite means
 * "not measured" and is left out of the plot; an accuracy is a fraction in
 * [0, 1].
 *
 * Progress draws a one-line bar that redraws itself in place with '\r'.
 * It is for a terminal: started with enabled = false it prints nothing at
 * all, so the caller passes isatty(fileno(stderr)). Nothing here prints
 * anywhere else. */
#ifndef LORAFIT_REPORT_H
#define LORAFIT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "lorafit/util/error.h"

/* ---------------------------------------------------------------- history */

typedef struct {
    long step;       /* global optimizer step, counted over all epochs */
    int epoch;       /* 1-based */
    double loss;     /* NaN when not measured */
    double accuracy; /* fraction in [0, 1]; NaN when not measured */
} HistoryPoint;

typedef struct {
    HistoryPoint *train; /* one per step: batch loss and accuracy */
    size_t n_train, cap_train;
    HistoryPoint *val; /* one per evaluation: validation loss and accuracy */
    size_t n_val, cap_val;
} TrainHistory;

/* An empty history (also what a zeroed TrainHistory is). */
void history_init(TrainHistory *h);
/* Append a point; false (h unchanged) when out of memory. */
bool history_push_train(TrainHistory *h, long step, int epoch, double loss, double accuracy);
bool history_push_val(TrainHistory *h, long step, int epoch, double loss, double accuracy);
/* Frees the arrays and leaves h empty, ready for reuse. */
void history_free(TrainHistory *h);

/* ------------------------------------------------------------------- plot */

/* Writes s as XML character data (markup as entities, control characters
 * as spaces, invalid UTF-8 as U+FFFD): any text gives a well-formed SVG. */
void plot_svg_text(FILE *f, const char *s);

/* Longest polyline drawn: longer series are decimated to at most this many
 * points (the batch loss by min/max per bucket, so spikes stay visible;
 * the moving averages by even sampling). */
#define PLOT_MAX_POINTS 2000

/* Writes the plot of h to path, through a temporary file in the same
 * directory that is renamed into place: on failure nothing is left behind
 * and err names path (LF_ERR_IO). title goes on top, XML-escaped; NULL
 * means "lorafit train". The training curve is drawn twice: each batch as
 * a thin light line, and its centred moving average over
 * plot_smooth_window(n_train) steps (the window shrinks symmetrically near
 * the first and last step) as a solid line; the accuracy panel shows that
 * average and the validation points. Dashed lines mark where epochs begin.
 * Any history can be drawn, even an empty one (the panels say "no data"). */
bool plot_write_svg(const TrainHistory *h, const char *path, const char *title, LfError *err);

/* Width of the moving average for n training points: 10% of them, at
 * least 1, always odd so the window is centred. */
size_t plot_smooth_window(size_t n);

/* Axis ticks at "nice" multiples of step = {1, 2, 5} * 10^k: the smallest
 * such step that splits the data range into at most `target` intervals.
 * lo..hi is the axis range: with loose, the data range widened outwards to
 * multiples of step (every end is a tick); without, the data range itself
 * with the multiples of step inside it as ticks. A zero range is widened
 * around its value first, and non-finite input gives 0..1. */
typedef struct {
    double lo, hi;  /* axis range */
    double step;    /* distance between ticks */
    double first;   /* the first tick, a multiple of step */
    int n;          /* number of ticks: first + i * step for i in 0..n-1 */
} PlotTicks;

PlotTicks plot_ticks(double data_lo, double data_hi, int target, bool loose);
/* The tick value first + i * step, computed so that 0.1 * 3 prints as 0.3. */
double plot_tick_value(const PlotTicks *t, int i);
/* The tick label with just the decimals step needs ("0.5", "1.0", "150"),
 * times 100 with a '%' sign when percent. Returns buf. */
char *plot_tick_label(const PlotTicks *t, double value, bool percent, char *buf, size_t size);

/* --------------------------------------------------------------- progress */

typedef struct {
    FILE *f;
    bool enabled;
    bool drawn;        /* the bar is on the current line of f */
    bool finished;
    long total;        /* <= 0: unknown, no bar and no ETA */
    long done;
    double t_start;    /* CLOCK_MONOTONIC seconds */
    double t_drawn;    /* when the bar was last drawn */
    int drawn_len;     /* columns of the bar on screen, to erase it */
    char label[32];
    char extra[64];
} Progress;

/* Starts a bar counting to total on f (stderr). With enabled false every
 * progress_* call is a no-op. */
void progress_start(Progress *p, FILE *f, long total, const char *label, bool enabled);
/* Sets the count and the free text after the bar ("loss 0.2565", NULL for
 * none), and redraws at most ~10 times a second (always for the last item).
 * The line fits the terminal width (80 columns when it is unknown). */
void progress_update(Progress *p, long done, const char *extra);
/* Erases the bar so the caller can print a log line; the next update draws
 * it again below that line. */
void progress_clear(Progress *p);
/* Draws the final state (with the elapsed time instead of the ETA) and ends
 * the line. Later calls do nothing. */
void progress_finish(Progress *p);

#endif
