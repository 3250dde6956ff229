/* progress.c - the progress bar of long commands (see include/lorafit/report/report.h).
 *
 *   train   37% [==========>                ]  74/200  1.42 it/s  ETA 1:29  loss 0.2565
 *
 * The line is redrawn in place: '\r', the new text, then spaces over
 * whatever is left of the previous one. Spaces rather than the ANSI
 * erase-line sequence, so that it also works on terminals without ANSI
 * support (TERM=dumb, an editor's shell buffer). */
#include "lorafit/report/report.h"

#include <math.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "lorafit/util/clock.h"

#define PROGRESS_INTERVAL 0.1 /* seconds between redraws: ~10 per second at most */
#define PROGRESS_MAX_COLS 200 /* a wider terminal gets a line this long */
#define PROGRESS_BAR_MIN 10   /* a shorter bar says nothing; drop it instead */
#define PROGRESS_BAR_MAX 40

/* Columns we may use: the terminal's width less one, since writing into the
 * last column makes some terminals wrap early; 80 when f is no terminal. */
static int progress_columns(FILE *f) {
    struct winsize ws;
    int cols = 80;
    if (ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) cols = ws.ws_col;
    if (cols > PROGRESS_MAX_COLS) cols = PROGRESS_MAX_COLS;
    return cols - 1;
}

/* "1:05" or "2:03:07"; "--:--" when unknown. */
static void progress_duration(double seconds, char *buf, size_t size) {
    if (!isfinite(seconds) || seconds < 0 || seconds > 3600.0 * 1e6) {
        snprintf(buf, size, "--:--");
        return;
    }
    long s = (long)(seconds + 0.5);
    if (s >= 3600) snprintf(buf, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else snprintf(buf, size, "%ld:%02ld", s / 60, s % 60);
}

/* Items per second, or seconds per item when slower than one a second (a
 * training step on a CPU often is), as tqdm does. */
static void progress_rate(double rate, char *buf, size_t size) {
    if (!(rate > 0) || !isfinite(rate)) snprintf(buf, size, "? it/s");
    else if (rate >= 100) snprintf(buf, size, "%.0f it/s", rate);
    else if (rate >= 1) snprintf(buf, size, "%.2f it/s", rate);
    else snprintf(buf, size, "%.2f s/it", 1 / rate);
}

/* Appends [====>    ] of width w (brackets included) to line. */
static void progress_bar(char *line, size_t size, int w, long done, long total) {
    int inner = w - 2, fill = (int)((double)inner * (double)done / (double)total);
    size_t n = strlen(line);
    if (n + (size_t)w + 1 > size) return;
    line[n++] = '[';
    for (int i = 0; i < inner; i++) line[n++] = i < fill ? '=' : i == fill ? '>' : ' ';
    line[n++] = ']';
    line[n] = '\0';
}

/* Composes the line for the current state into line (at most cols chars).
 * What does not fit goes in this order: the bar, then the extra text (a
 * loss says more than a bar), then whatever the cut leaves off the end. */
static void progress_format(const Progress *p, bool final, int cols, char *line, size_t size) {
    double elapsed = clock_seconds() - p->t_start;
    double rate = elapsed > 0 ? (double)p->done / elapsed : 0;
    bool known = p->total > 0;
    char head[48], tail[96], extra[80], rate_s[24], time_s[24];

    if (known) snprintf(head, sizeof head, "%s%s%3d%%", p->label, *p->label ? " " : "",
                        (int)(100.0 * (double)p->done / (double)p->total));
    else snprintf(head, sizeof head, "%s", p->label);
    progress_rate(rate, rate_s, sizeof rate_s);
    /* While running: the ETA, or the elapsed time when there is no total;
     * at the end: how long it took. */
    const char *when = final ? "in" : known ? "ETA" : "elapsed";
    if (final || !known) progress_duration(elapsed, time_s, sizeof time_s);
    else progress_duration(rate > 0 ? (double)(p->total - p->done) / rate : NAN, time_s, sizeof time_s);
    /* done is padded to the width of total so that the bar keeps its length. */
    int digits = snprintf(NULL, 0, "%ld", p->total);
    if (known) snprintf(tail, sizeof tail, "  %*ld/%ld  %s  %s %s", digits, p->done, p->total, rate_s, when, time_s);
    else snprintf(tail, sizeof tail, "  %ld  %s  %s %s", p->done, rate_s, when, time_s);
    snprintf(extra, sizeof extra, "%s%s", *p->extra ? "  " : "", p->extra);

    int fixed = (int)(strlen(head) + strlen(tail));
    int bar = known ? cols - fixed - (int)strlen(extra) - 1 : 0;
    if (bar < PROGRESS_BAR_MIN) bar = 0;
    if (bar > PROGRESS_BAR_MAX) bar = PROGRESS_BAR_MAX;
    if (fixed + (int)strlen(extra) > cols) extra[0] = '\0';

    snprintf(line, size, "%s%s", head, bar ? " " : "");
    if (bar) progress_bar(line, size, bar, p->done, p->total);
    size_t n = strlen(line);
    snprintf(line + n, size - n, "%s%s", tail, extra);
    if ((int)strlen(line) > cols) line[cols] = '\0';
}

static void progress_draw(Progress *p, bool final) {
    char line[PROGRESS_MAX_COLS + 8];
    progress_format(p, final, progress_columns(p->f), line, sizeof line);
    int len = (int)strlen(line);
    fputc('\r', p->f);
    fputs(line, p->f);
    /* Blank out the tail of a longer previous line. */
    for (int i = len; i < p->drawn_len; i++) fputc(' ', p->f);
    fflush(p->f);
    p->drawn = true;
    p->drawn_len = len; /* beyond it the line is blank now */
    p->t_drawn = clock_seconds();
}

void progress_start(Progress *p, FILE *f, long total, const char *label, bool enabled) {
    memset(p, 0, sizeof *p);
    p->f = f;
    p->enabled = enabled && f;
    p->total = total;
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
    p->t_start = clock_seconds();
}

void progress_update(Progress *p, long done, const char *extra) {
    if (!p->enabled || p->finished) return;
    if (done < 0) done = 0;
    if (p->total > 0 && done > p->total) done = p->total;
    bool last = p->total > 0 && done == p->total && p->done != done;
    p->done = done;
    snprintf(p->extra, sizeof p->extra, "%s", extra ? extra : "");
    /* Redrawing costs a write per call; a training loop may call this far
     * more often than anyone can read. */
    if (p->drawn && !last && clock_seconds() - p->t_drawn < PROGRESS_INTERVAL) return;
    progress_draw(p, false);
}

void progress_clear(Progress *p) {
    if (!p->enabled || !p->drawn) return;
    fputc('\r', p->f);
    for (int i = 0; i < p->drawn_len; i++) fputc(' ', p->f);
    fputc('\r', p->f);
    fflush(p->f);
    p->drawn = false;
    p->drawn_len = 0;
}

void progress_finish(Progress *p) {
    if (!p->enabled || p->finished) return;
    progress_draw(p, true);
    fputc('\n', p->f);
    fflush(p->f);
    p->finished = true;
    p->drawn = false;
    p->drawn_len = 0;
}
