/* test_report.c - the training history, the SVG plot and the progress bar.
 *
 * The plot is checked for structure, not pixels: well-formed XML (a small
 * checker below, and xmllint too when it is installed), the title escaped,
 * every coordinate a finite number on the canvas, polylines no longer than
 * PLOT_MAX_POINTS, and nothing left behind when writing fails. The ticks
 * are checked against values worked out by hand. */
#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "lorafit/report/report.h"

/* ----------------------------------------------------------------- history */

static void test_history(void) {
    TrainHistory h = {0};
    bool ok = true;
    for (long i = 1; i <= 1000; i++) ok = ok && history_push_train(&h, i, 1 + (int)(i / 400), 1.0 / i, 0.5);
    for (int e = 1; e <= 3; e++) ok = ok && history_push_val(&h, 400L * e, e, 0.1 * e, 0.9);
    CHECK(ok, "pushes succeed");
    REQUIRE(h.n_train == 1000 && h.n_val == 3, "counts %zu %zu", h.n_train, h.n_val);
    CHECK(h.train[999].step == 1000 && h.train[999].epoch == 3 && h.train[999].loss == 1.0 / 1000, "last train point");
    CHECK(h.val[2].step == 1200 && h.val[2].epoch == 3 && check_close(h.val[2].loss, 0.3, 1e-12), "last val point");
    history_free(&h);
    CHECK(h.train == NULL && h.n_train == 0 && h.val == NULL && h.n_val == 0, "free empties");
    CHECK(history_push_val(&h, 1, 1, 0.5, 0.5) && h.n_val == 1, "reusable after free");
    history_free(&h);
}

/* ------------------------------------------------------------------- ticks */

static void check_ticks(double lo, double hi, int target, bool loose, double want_lo, double want_hi,
                        double want_step, double want_first, int want_n) {
    PlotTicks t = plot_ticks(lo, hi, target, loose);
    CHECK(check_close(t.lo, want_lo, 1e-12) && check_close(t.hi, want_hi, 1e-12) &&
              check_close(t.step, want_step, 1e-12) && check_close(t.first, want_first, 1e-12) && t.n == want_n,
          "ticks(%g, %g, %d, %s): got lo %g hi %g step %g first %g n %d, want %g %g %g %g %d", lo, hi, target,
          loose ? "loose" : "tight", t.lo, t.hi, t.step, t.first, t.n, want_lo, want_hi, want_step, want_first,
          want_n);
}

static void check_label(double lo, double hi, int target, bool loose, int i, bool percent, const char *want) {
    PlotTicks t = plot_ticks(lo, hi, target, loose);
    char buf[32];
    plot_tick_label(&t, plot_tick_value(&t, i), percent, buf, sizeof buf);
    CHECK(strcmp(buf, want) == 0, "label %d of ticks(%g, %g, %d): got \"%s\", want \"%s\"", i, lo, hi, target, buf,
          want);
}

static void test_ticks(void) {
    /* range / target -> smallest of {1,2,5}*10^k at least that -> widened to multiples */
    check_ticks(0, 2.3, 6, true, 0, 2.5, 0.5, 0, 6);          /* 0.383 -> 0.5 */
    check_ticks(0.08, 2.65, 6, true, 0, 3, 0.5, 0, 7);        /* 0.428 -> 0.5 */
    check_ticks(0.43, 0.99, 6, true, 0.4, 1.0, 0.1, 0.4, 7);  /* 0.0933 -> 0.1 */
    check_ticks(-3, 7, 5, true, -4, 8, 2, -4, 7);             /* 2 -> 2 exactly */
    check_ticks(0, 1, 5, true, 0, 1, 0.2, 0, 6);              /* 0.2 -> 0.2 exactly */
    check_ticks(0, 130, 8, false, 0, 130, 20, 0, 7);          /* 16.25 -> 20: 0..120 */
    check_ticks(1, 130, 8, false, 1, 130, 20, 20, 6);         /* 20..120 */
    check_ticks(0, 20000, 8, false, 0, 20000, 5000, 0, 5);    /* 2500 -> 5000 */
    check_ticks(0, 7, 8, false, 0, 7, 1, 0, 8);               /* 0.875 -> 1 */
    check_ticks(1e-4, 3.2e-4, 5, true, 1e-4, 3.5e-4, 5e-5, 1e-4, 6); /* 4.4e-5 -> 5e-5 */
    /* Zero range: widened by 10% of the value, or by 1 around zero. */
    check_ticks(0.5, 0.5, 5, true, 0.44, 0.56, 0.02, 0.44, 7); /* 0.45..0.55: 0.02 */
    check_ticks(0, 0, 5, true, -1, 1, 0.5, -1, 5);
    /* Not finite: 0..1. Reversed: swapped. */
    check_ticks(NAN, 1, 5, true, 0, 1, 0.2, 0, 6);
    check_ticks(0, INFINITY, 5, true, 0, 1, 0.2, 0, 6);
    check_ticks(2.3, 0, 6, true, 0, 2.5, 0.5, 0, 6);
    /* Ranges at the ends of double: sane ticks, not a crash. */
    PlotTicks big = plot_ticks(-1e308, 1e308, 5, true);
    CHECK(big.lo == 0 && big.hi == 1 && big.n == 6, "overflowing range: lo %g hi %g n %d", big.lo, big.hi, big.n);
    PlotTicks tiny = plot_ticks(1e-320, 2e-320, 5, true);
    CHECK(tiny.n >= 2 && tiny.n <= 7 && tiny.step > 0 && tiny.lo <= 1e-320 && tiny.hi >= 2e-320,
          "denormal range: lo %g hi %g step %g n %d", tiny.lo, tiny.hi, tiny.step, tiny.n);

    /* Values are exact decimals, not sums of steps: 3 * 0.1 is 0.3. */
    PlotTicks t = plot_ticks(0, 1, 10, true);
    CHECK(plot_tick_value(&t, 3) == 0.3 && plot_tick_value(&t, 7) == 0.7, "tick values exact: %.17g %.17g",
          plot_tick_value(&t, 3), plot_tick_value(&t, 7));

    check_label(0, 2.3, 6, true, 3, false, "1.5");
    check_label(0, 2.3, 6, true, 0, false, "0.0");
    check_label(0, 0, 5, true, 2, false, "0.0"); /* not "-0.0" */
    check_label(0, 0, 5, true, 0, false, "-1.0");
    check_label(0.5, 0.5, 5, true, 0, false, "0.44");
    check_label(0, 20000, 8, false, 3, false, "15000");
    check_label(0, 130, 8, false, 6, false, "120");
    check_label(0.43, 0.99, 6, true, 0, true, "40%");
    check_label(0.43, 0.99, 6, true, 6, true, "100%");
    check_label(0.9, 0.99, 5, true, 1, true, "92%");     /* 0.018 -> 0.02: 0.90, 0.92, ... */
    check_label(0.97, 0.979, 5, true, 1, true, "97.2%"); /* 0.0018 -> 0.002 */

    CHECK(plot_smooth_window(0) == 1 && plot_smooth_window(1) == 1, "window of 0 and 1 points");
    CHECK(plot_smooth_window(20) == 3, "window of 20: %zu", plot_smooth_window(20));
    CHECK(plot_smooth_window(100) == 11, "window of 100: %zu", plot_smooth_window(100));
    CHECK(plot_smooth_window(130) == 13, "window of 130: %zu", plot_smooth_window(130));
    CHECK(plot_smooth_window(20000) == 2001, "window of 20000: %zu", plot_smooth_window(20000));
}

/* -------------------------------------------------------------- the plot */

static char *read_all(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s) s[n] = '\0';
    fclose(f);
    return s;
}

/* Skips an entity reference at s ('&'); NULL if it is not one XML knows. */
static const char *xml_entity(const char *s) {
    static const char *named[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
    for (size_t i = 0; i < sizeof named / sizeof *named; i++)
        if (strncmp(s, named[i], strlen(named[i])) == 0) return s + strlen(named[i]);
    if (s[1] != '#') return NULL;
    const char *p = s + 2;
    bool hex = *p == 'x';
    if (hex) p++;
    const char *digits = p;
    while (hex ? isxdigit((unsigned char)*p) : isdigit((unsigned char)*p)) p++;
    return p > digits && *p == ';' ? p + 1 : NULL;
}

/* A small well-formedness check: one root element, tags nested and closed
 * in order, attributes quoted, '<' never in text or values, '&' only as an
 * entity. Enough for what plot_svg.c writes (no comments, CDATA, DTD). */
static bool xml_check(const char *s, char *why, size_t size) {
    char stack[64][32];
    int depth = 0, roots = 0;
    if (strncmp(s, "<?xml", 5) == 0) s = strstr(s, "?>") + 2;
    while (*s) {
        if (*s == '&') {
            if (!(s = xml_entity(s))) return snprintf(why, size, "bad entity in text"), false;
            continue;
        }
        if (*s != '<') {
            s++;
            continue;
        }
        bool closing = s[1] == '/';
        s += closing ? 2 : 1;
        char name[32];
        size_t n = 0;
        while (isalnum((unsigned char)*s) || *s == ':' || *s == '-')
            if (n < sizeof name - 1) name[n++] = *s++;
            else return snprintf(why, size, "name too long"), false;
        name[n] = '\0';
        if (!n) return snprintf(why, size, "'<' without a name"), false;
        if (closing) {
            if (!depth || strcmp(stack[depth - 1], name) != 0)
                return snprintf(why, size, "</%s> does not close %s", name, depth ? stack[depth - 1] : "anything"),
                       false;
            depth--;
            if (*s++ != '>') return snprintf(why, size, "</%s without '>'", name), false;
            continue;
        }
        if (!depth && roots++) return snprintf(why, size, "a second root <%s>", name), false;
        for (;;) {
            while (isspace((unsigned char)*s)) s++;
            if (*s == '>' || (s[0] == '/' && s[1] == '>')) break;
            if (!isalpha((unsigned char)*s)) return snprintf(why, size, "bad attribute in <%s>", name), false;
            while (isalnum((unsigned char)*s) || *s == ':' || *s == '-') s++;
            if (s[0] != '=' || s[1] != '"') return snprintf(why, size, "unquoted attribute in <%s>", name), false;
            s += 2;
            while (*s && *s != '"') {
                if (*s == '<') return snprintf(why, size, "'<' in an attribute of <%s>", name), false;
                if (*s == '&') {
                    if (!(s = xml_entity(s))) return snprintf(why, size, "bad entity in <%s>", name), false;
                } else {
                    s++;
                }
            }
            if (*s++ != '"') return snprintf(why, size, "unterminated attribute in <%s>", name), false;
        }
        if (*s == '/') {
            s += 2;
        } else {
            if (depth == 64) return snprintf(why, size, "too deep"), false;
            snprintf(stack[depth++], sizeof stack[0], "%s", name);
            s++;
        }
    }
    if (depth) return snprintf(why, size, "<%s> not closed", stack[depth - 1]), false;
    if (roots != 1) return snprintf(why, size, "%d root elements", roots), false;
    return true;
}

/* Every number in the coordinate attributes must be finite and on the
 * canvas; returns the longest polyline's point count through *longest. */
static bool svg_coordinates_ok(const char *s, size_t *longest, char *why, size_t size) {
    static const char *attrs[] = {" x=\"", " y=\"", " x1=\"", " y1=\"", " x2=\"", " y2=\"", " cx=\"", " cy=\"",
                                  " width=\"", " height=\"", " points=\""};
    *longest = 0;
    for (size_t a = 0; a < sizeof attrs / sizeof *attrs; a++) {
        bool points = strcmp(attrs[a], " points=\"") == 0;
        for (const char *p = strstr(s, attrs[a]); p; p = strstr(p, attrs[a])) {
            p += strlen(attrs[a]);
            const char *end = strchr(p, '"');
            size_t count = 0;
            while (p < end) {
                char *next;
                double v = strtod(p, &next);
                if (next == p) return snprintf(why, size, "not a number in%s%.20s", attrs[a], p), false;
                if (!isfinite(v) || v < -10 || v > 1000) return snprintf(why, size, "%s%g", attrs[a], v), false;
                count++;
                p = next;
                while (*p == ',' || *p == ' ') p++;
            }
            if (points && count % 2) return snprintf(why, size, "odd number of coordinates"), false;
            if (points && count / 2 > *longest) *longest = count / 2;
        }
    }
    return true;
}

/* This test's own scratch directory: the leftover check must not see the
 * temporary files of tests that run at the same time in LORAFIT_TMP. */
static const char *report_dir(void) {
    static char dir[512];
    if (!dir[0]) check_tmp_dir(dir, sizeof dir, "test_report");
    return dir;
}

static bool leftovers_in(const char *dir) {
    DIR *d = opendir(dir);
    bool found = false;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) found = true;
    if (d) closedir(d);
    return found;
}

static bool have_xmllint(void) { return system("command -v xmllint >/dev/null 2>&1") == 0; }

/* Writes h, checks the file; returns its text (caller frees) for more checks. */
static char *check_plot(const char *name, const TrainHistory *h, const char *title, size_t *longest) {
    char path[1024], why[256] = "";
    const char *dir = report_dir();
    snprintf(path, sizeof path, "%s/report-%s.svg", dir, name);
    unlink(path);
    LfError err = {0};
    bool ok = plot_write_svg(h, path, title, &err);
    CHECK(ok, "%s: plot_write_svg: %s", name, err.msg);
    char *s = ok ? read_all(path) : NULL;
    CHECK(s != NULL, "%s: cannot read %s back", name, path);
    if (!s) return NULL;
    CHECK(strncmp(s, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg ", 44) == 0, "%s: does not start with <svg",
          name);
    CHECK(xml_check(s, why, sizeof why), "%s: not well-formed: %s", name, why);
    CHECK(svg_coordinates_ok(s, longest, why, sizeof why), "%s: %s", name, why);
    CHECK(*longest <= PLOT_MAX_POINTS, "%s: a polyline of %zu points", name, *longest);
    CHECK(!strstr(s, "nan") && !strstr(s, "NaN") && !strstr(s, "inf"), "%s: nan or inf in the file", name);
    CHECK(!strstr(s, "<script") && !strstr(s, "href") && !strstr(s, "@import"), "%s: external references", name);
    CHECK(!leftovers_in(dir), "%s: a temporary file was left in %s", name, dir);
    if (have_xmllint()) {
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "xmllint --noout '%s'", path);
        CHECK(system(cmd) == 0, "%s: xmllint rejects %s", name, path);
    }
    return s;
}

/* Occurrences of needle in s. */
static int count_of(const char *s, const char *needle) {
    int n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle)) n++;
    return n;
}

/* A run like the spam classifier's: 130 steps in 3 epochs, the loss going
 * noisily from ~2.3 to ~0.1, one evaluation per epoch. */
static void realistic(TrainHistory *h, long steps) {
    unsigned seed = 7;
    long per = (steps + 2) / 3;
    for (long s = 1; s <= steps; s++) {
        seed = seed * 1103515245u + 12345u;
        double noise = ((seed >> 16) % 1000) / 1000.0 - 0.5, t = (double)s / (double)steps;
        double loss = 0.1 + 2.2 * exp(-5 * t);
        int epoch = (int)((s - 1) / per) + 1;
        history_push_train(h, s, epoch, loss * (1 + 0.6 * noise), 1 - 0.5 * exp(-6 * t));
        if (s % per == 0 || s == steps) history_push_val(h, s, epoch, loss, 0.97 - 0.4 * exp(-6 * t));
    }
}

static void test_plot(void) {
    TrainHistory h = {0};
    size_t longest;
    char *s;

    realistic(&h, 130);
    s = check_plot("realistic", &h, "lorafit train: gpt2-small, rank 8", &longest);
    if (s) {
        CHECK(strstr(s, ">lorafit train: gpt2-small, rank 8</text>") != NULL, "title shown");
        CHECK(strstr(s, "moving avg, 13 steps") != NULL, "legend names the window");
        CHECK(count_of(s, ">epoch ") == 2, "two epoch boundaries labelled: %d", count_of(s, ">epoch "));
        CHECK(count_of(s, "<polyline") == 5, "5 curves: %d", count_of(s, "<polyline"));
        CHECK(longest == 130, "the batch line has every step: %zu", longest);
        CHECK(!strstr(s, "no data"), "no empty panel");
    }
    free(s);
    history_free(&h);

    /* Markup in the title, a control character and a byte that is not UTF-8. */
    history_push_train(&h, 1, 1, 0.69, 0.5);
    s = check_plot("single", &h, "a <b> & \"c\" 'd' \x01 \xff é", &longest);
    if (s) {
        CHECK(strstr(s, ">a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos;   &#xFFFD; é</text>") != NULL,
              "title escaped");
        CHECK(!strstr(s, "<b>"), "raw markup from the title");
        CHECK(count_of(s, "<polyline") == 0 && count_of(s, "<circle") >= 2, "a single point is drawn as dots");
    }
    free(s);

    history_push_val(&h, 1, 1, 0.7, 0.45);
    s = check_plot("single-val", &h, NULL, &longest);
    if (s) CHECK(strstr(s, ">lorafit train</text>") != NULL, "default title");
    free(s);
    history_free(&h);

    /* Training only, accuracy not measured: an accuracy panel with no data. */
    for (long i = 1; i <= 60; i++) history_push_train(&h, i, 1, 1.0 / (double)i, NAN);
    s = check_plot("train-only", &h, "t", &longest);
    if (s) {
        CHECK(count_of(s, "no data") == 1, "the accuracy panel says no data");
        CHECK(!strstr(s, ">validation<"), "no validation legend without validation points");
    }
    free(s);
    history_free(&h);

    /* Constant values: a zero range on both axes. */
    for (long i = 1; i <= 50; i++) history_push_train(&h, i, 1 + (i > 25), 0.5, 1.0);
    history_push_val(&h, 25, 1, 0.5, 1.0);
    history_push_val(&h, 50, 2, 0.5, 1.0);
    s = check_plot("constant", &h, "constant", &longest);
    if (s) CHECK(strstr(s, ">0.44</text>") && strstr(s, ">100%</text>") && !strstr(s, ">105%<"),
                 "constant loss gets a range around it, accuracy stops at 100%%");
    free(s);
    history_free(&h);

    /* NaN and infinite values are skipped, here in every series. */
    for (long i = 1; i <= 80; i++) {
        double loss = i % 7 == 0 ? NAN : i % 11 == 0 ? INFINITY : i % 13 == 0 ? -INFINITY : 2.0 / (double)i;
        history_push_train(&h, i, 1 + (i > 40), loss, i % 5 == 0 ? NAN : 0.5);
    }
    history_push_val(&h, 40, 1, NAN, INFINITY);
    history_push_val(&h, 80, 2, 0.3, 0.8);
    s = check_plot("nan", &h, "skipped values", &longest);
    free(s);
    history_free(&h);

    /* Thousands of steps: decimated, but not to nothing. */
    realistic(&h, 20000);
    s = check_plot("long", &h, "long", &longest);
    if (s) CHECK(longest > PLOT_MAX_POINTS / 2, "a long run keeps detail: %zu points", longest);
    free(s);
    history_free(&h);

    s = check_plot("empty", &h, "empty", &longest);
    if (s) CHECK(count_of(s, "no data") == 2, "both panels say no data");
    free(s);
}

static void test_plot_errors(void) {
    TrainHistory h = {0};
    realistic(&h, 30);
    const char *dir = report_dir();
    char path[1024];
    LfError err = {0};

    snprintf(path, sizeof path, "%s/no-such-dir/plot.svg", dir);
    CHECK(!plot_write_svg(&h, path, "t", &err), "a missing directory fails");
    CHECK(strstr(err.msg, path) != NULL && err.kind == LF_ERR_IO, "error names the path: %s", err.msg);

    /* The rename fails onto a directory: the temporary file must go too. */
    snprintf(path, sizeof path, "%s/report-a-dir.svg", dir);
    mkdir(path, 0777);
    err.msg[0] = '\0';
    CHECK(!plot_write_svg(&h, path, "t", &err), "writing over a directory fails");
    CHECK(strstr(err.msg, path) != NULL, "error names the path: %s", err.msg);
    CHECK(!leftovers_in(dir), "no temporary file after a failed rename");
    rmdir(path);

    /* A previous plot is replaced whole. */
    snprintf(path, sizeof path, "%s/report-replace.svg", dir);
    FILE *f = fopen(path, "w");
    if (f) fputs("old", f), fclose(f);
    CHECK(plot_write_svg(&h, path, "new", &err), "replace: %s", err.msg);
    char *s = read_all(path);
    CHECK(s && strstr(s, ">new</text>") && strncmp(s, "old", 3) != 0, "old plot replaced");
    free(s);
    history_free(&h);
}

/* ---------------------------------------------------------------- progress */

static char *file_text(FILE *f) {
    long n = ftell(f);
    char *s = malloc((size_t)n + 1);
    rewind(f);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) n = 0;
    if (s) s[n] = '\0';
    return s;
}

/* The longest stretch between '\r' / '\n': the columns a redraw takes. */
static size_t longest_segment(const char *s) {
    size_t best = 0, cur = 0;
    for (; *s; s++) {
        if (*s == '\r' || *s == '\n') cur = 0;
        else if (++cur > best) best = cur;
    }
    return best;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void test_progress(void) {
    Progress p;
    FILE *f = tmpfile();
    if (!f) check_skip("no tmpfile()");

    progress_start(&p, f, 200, "train", false);
    for (long i = 0; i <= 200; i++) progress_update(&p, i, "loss 0.2565");
    progress_clear(&p);
    progress_finish(&p);
    CHECK(ftell(f) == 0, "disabled: %ld bytes written", ftell(f));

    progress_start(&p, f, 200, "train", true);
    progress_update(&p, 7, "loss 0.2565");
    char *s = file_text(f);
    CHECK(s && s[0] == '\r' && strstr(s, "train") && strstr(s, "  7/200") && strstr(s, "loss 0.2565") &&
              strstr(s, "ETA"),
          "first update draws: \"%s\"", s ? s : "");
    free(s);

    /* A tight loop redraws about 10 times a second, and always for the last item. */
    double t0 = now();
    for (long i = 8; i <= 200; i++)
        for (int k = 0; k < 50; k++) progress_update(&p, i, "loss 0.1");
    double elapsed = now() - t0;
    s = file_text(f);
    int redraws = s ? count_of(s, "\r") : 0;
    CHECK(redraws >= 2 && redraws <= 3 + (int)(elapsed * 10), "%d redraws in %.3f s", redraws, elapsed);
    CHECK(s && strstr(s, "200/200"), "the last item is drawn");
    free(s);

    progress_clear(&p);
    s = file_text(f);
    const char *last = s ? strrchr(s, '\r') : NULL;
    CHECK(last && last[1] == '\0', "clear ends at the start of the line");
    if (s && last) {
        /* ...bar text...\r<spaces>\r: at least as many spaces as the bar had characters. */
        const char *blank = last - 1, *bar;
        while (blank > s && *blank == ' ') blank--;
        for (bar = blank - 1; bar > s && *bar != '\r'; bar--) {}
        size_t shown = (size_t)(blank - bar - 1);
        while (shown && bar[shown] == ' ') shown--;
        CHECK(*blank == '\r' && *bar == '\r' && (size_t)(last - blank - 1) >= shown && shown > 20,
              "clear blanks the whole bar (%zu blanks, bar of %zu)", (size_t)(last - blank - 1), shown);
    }
    free(s);
    fputs("a log line\n", f);
    progress_update(&p, 200, NULL); /* after a clear, the next update draws again */
    progress_finish(&p);
    s = file_text(f);
    size_t n = s ? strlen(s) : 0;
    const char *after = s ? strstr(s, "a log line\n") : NULL;
    CHECK(n && s[n - 1] == '\n' && after && strstr(after, "200/200") && strstr(after, " in "),
          "finish draws the final state after the log line and ends it");
    CHECK(longest_segment(s ? s : "") <= 79, "fits in 80 columns: %zu", longest_segment(s ? s : ""));
    long size = ftell(f);
    progress_update(&p, 5, "x");
    progress_finish(&p);
    CHECK(ftell(f) == size, "nothing after finish");
    free(s);

    /* Unknown total, no label, a long extra text that cannot fit. */
    rewind(f);
    if (ftruncate(fileno(f), 0) != 0) CHECK(0, "ftruncate");
    char extra[64];
    memset(extra, 'x', sizeof extra - 1);
    extra[sizeof extra - 1] = '\0';
    progress_start(&p, f, 0, NULL, true);
    progress_update(&p, 12345, extra);
    progress_finish(&p);
    s = file_text(f);
    CHECK(s && strstr(s, "12345") && !strchr(s, '[') && longest_segment(s) <= 79, "unknown total: \"%s\"",
          s ? s : "");
    free(s);

    rewind(f);
    if (ftruncate(fileno(f), 0) != 0) CHECK(0, "ftruncate");
    progress_start(&p, f, 1000000, "a rather long label for a bar", true);
    progress_update(&p, 999999, extra);
    s = file_text(f);
    CHECK(s && longest_segment(s) <= 79 && strstr(s, "999999/1000000"), "long fields fit: \"%s\"", s ? s : "");
    free(s);
    fclose(f);
}

int main(void) {
    test_history();
    test_ticks();
    test_plot();
    test_plot_errors();
    test_progress();
    return check_done();
}
