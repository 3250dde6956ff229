/* grid_table.c - see include/lorafit/cli/grid_table.h */
#include "lorafit/cli/grid_table.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lorafit/util/files.h"

static const char *targets_shown(const GridRow *r) { return r->targets[0] ? r->targets : "all"; }

static double percent(const GridRow *r) { return r->total ? 100.0 * (double)r->trainable / (double)r->total : 0; }

/* A number, or null when it was not measured. */
static void add_measure(cJSON *o, const char *key, double v) {
    if (isnan(v)) cJSON_AddNullToObject(o, key);
    else cJSON_AddNumberToObject(o, key, v);
}

static cJSON *row_json(const GridRow *r) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", r->name);
    cJSON_AddNumberToObject(o, "r", r->rank);
    cJSON_AddNumberToObject(o, "alpha", r->alpha);
    cJSON_AddNumberToObject(o, "dropout", r->dropout);
    cJSON_AddNumberToObject(o, "lr", r->lr);
    cJSON_AddStringToObject(o, "targets", targets_shown(r));
    cJSON_AddNumberToObject(o, "trainable_params", (double)r->trainable);
    cJSON_AddNumberToObject(o, "all_params", (double)r->total);
    cJSON_AddNumberToObject(o, "trainable_percent", percent(r));
    add_measure(o, "val_accuracy", r->val_accuracy);
    add_measure(o, "test_accuracy", r->test_accuracy);
    cJSON_AddNumberToObject(o, "seconds", r->seconds);
    cJSON_AddNumberToObject(o, "train_seconds", r->train_seconds);
    return o;
}

static bool write_json(const char *path, cJSON *value, LfError *err) {
    char *text = cJSON_Print(value);
    cJSON_Delete(value);
    if (!text) {
        lf_error_set(err, LF_ERR_IO, "out of memory writing %s", path);
        return false;
    }
    bool ok = fs_write_text(path, text, err);
    free(text);
    return ok;
}

bool grid_row_write(const char *path, const GridRow *row, LfError *err) { return write_json(path, row_json(row), err); }

static bool number_of(const cJSON *o, const char *key, double *v) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsNull(x)) *v = NAN;
    else if (cJSON_IsNumber(x)) *v = x->valuedouble;
    else return false;
    return true;
}

/* A parameter count: whole, positive and within a long. */
static bool count_of(const cJSON *o, const char *key, double *v) {
    return number_of(o, key, v) && *v >= 1 && *v == floor(*v) && *v < (double)LONG_MAX;
}

static bool accuracy_of(const cJSON *o, const char *key, double *v) {
    return number_of(o, key, v) && (isnan(*v) || (*v >= 0 && *v <= 1));
}

bool grid_row_parse(const char *text, size_t len, GridRow *row, bool want_test) {
    cJSON *o = cJSON_ParseWithLength(text, len);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
    const cJSON *targets = cJSON_GetObjectItemCaseSensitive(o, "targets");
    double r, alpha, lr, trainable, total, val, test, seconds, train_seconds;
    bool ok = cJSON_IsString(name) && !strcmp(name->valuestring, row->name) && cJSON_IsString(targets) &&
              !strcmp(targets->valuestring, targets_shown(row)) && number_of(o, "r", &r) && r == row->rank &&
              number_of(o, "alpha", &alpha) && alpha == row->alpha && number_of(o, "lr", &lr) && lr == row->lr &&
              count_of(o, "trainable_params", &trainable) && count_of(o, "all_params", &total) &&
              total >= trainable && accuracy_of(o, "val_accuracy", &val) && !isnan(val) &&
              accuracy_of(o, "test_accuracy", &test) && (!want_test || !isnan(test)) &&
              number_of(o, "seconds", &seconds) && number_of(o, "train_seconds", &train_seconds);
    cJSON_Delete(o);
    if (!ok) return false;
    row->trainable = (long)trainable, row->total = (long)total;
    row->val_accuracy = val, row->test_accuracy = test;
    row->seconds = seconds, row->train_seconds = train_seconds;
    return true;
}

bool grid_row_read(const char *path, GridRow *row, bool want_test) {
    size_t len;
    char *text = fs_read_file(path, &len, NULL);
    if (!text) return false;
    bool ok = grid_row_parse(text, len, row, want_test);
    free(text);
    return ok;
}

/* An accuracy as a percentage, "-" when not measured. */
static const char *accuracy_text(double v, char *buf, size_t cap) {
    if (isnan(v)) snprintf(buf, cap, "-");
    else snprintf(buf, cap, "%.2f%%", 100 * v);
    return buf;
}

void grid_table_print(FILE *f, const GridRow *rows, int n) {
    int wn = 4, wt = 7;
    for (int i = 0; i < n; i++) {
        if ((int)strlen(rows[i].name) > wn) wn = (int)strlen(rows[i].name);
        if ((int)strlen(targets_shown(&rows[i])) > wt) wt = (int)strlen(targets_shown(&rows[i]));
    }
    fprintf(f, "%-*s %5s %7s %7s %9s  %-*s %10s %11s %10s %8s %8s %8s\n", wn, "name", "r", "alpha", "dropout", "lr",
            wt, "targets", "trainable", "all params", "trainable%", "val acc", "test acc", "time");
    for (int i = 0; i < n; i++) {
        const GridRow *r = &rows[i];
        char val[16], test[16];
        fprintf(f, "%-*s %5d %7g %7g %9g  %-*s %10ld %11ld %9.2f%% %8s %8s %7.1fs\n", wn, r->name, r->rank, r->alpha,
                r->dropout, r->lr, wt, targets_shown(r), r->trainable, r->total, percent(r),
                accuracy_text(r->val_accuracy, val, sizeof val), accuracy_text(r->test_accuracy, test, sizeof test),
                r->seconds);
    }
}

/* A CSV number field: empty when not measured. */
static void csv_measure(FILE *f, double v) {
    if (!isnan(v)) fprintf(f, "%.17g", v);
}

static bool write_csv(const char *path, const GridRow *rows, int n, LfError *err) {
    FsAtomic a;
    if (!fs_atomic_open(&a, path, err)) return false;
    fputs("name,r,alpha,dropout,lr,targets,trainable_params,all_params,trainable_percent,val_accuracy,"
          "test_accuracy,seconds\n",
          a.f);
    for (int i = 0; i < n; i++) {
        const GridRow *r = &rows[i];
        fprintf(a.f, "%s,%d,%.17g,%.17g,%.17g,\"%s\",%ld,%ld,%.17g,", r->name, r->rank, r->alpha, r->dropout, r->lr,
                targets_shown(r), r->trainable, r->total, percent(r));
        csv_measure(a.f, r->val_accuracy);
        fputc(',', a.f);
        csv_measure(a.f, r->test_accuracy);
        fprintf(a.f, ",%.3f\n", r->seconds);
    }
    return fs_atomic_commit(&a, err);
}

bool grid_table_write(const char *dir, const GridRow *rows, int n, LfError *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/grid.csv", dir);
    if (!write_csv(path, rows, n, err)) return false;
    cJSON *runs = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(runs, row_json(&rows[i]));
    snprintf(path, sizeof path, "%s/grid.json", dir);
    return write_json(path, runs, err);
}
