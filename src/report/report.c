/* report.c - the training history (see include/lorafit/report/report.h). The plot
 * is in plot_svg.c, the progress bar in progress.c. */
#include "lorafit/report/report.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void history_init(TrainHistory *h) { memset(h, 0, sizeof *h); }

/* Appends to one of the two arrays, doubling its capacity when full so a
 * long run costs O(log n) reallocations. */
static bool history_push(HistoryPoint **arr, size_t *n, size_t *cap, HistoryPoint pt) {
    if (*n == *cap) {
        size_t new_cap = *cap ? *cap * 2 : 256;
        if (new_cap > SIZE_MAX / sizeof **arr) return false;
        HistoryPoint *grown = realloc(*arr, new_cap * sizeof **arr);
        if (!grown) return false;
        *arr = grown;
        *cap = new_cap;
    }
    (*arr)[(*n)++] = pt;
    return true;
}

bool history_push_train(TrainHistory *h, long step, int epoch, double loss, double accuracy) {
    HistoryPoint pt = {step, epoch, loss, accuracy};
    return history_push(&h->train, &h->n_train, &h->cap_train, pt);
}

bool history_push_val(TrainHistory *h, long step, int epoch, double loss, double accuracy) {
    HistoryPoint pt = {step, epoch, loss, accuracy};
    return history_push(&h->val, &h->n_val, &h->cap_val, pt);
}

void history_free(TrainHistory *h) {
    free(h->train);
    free(h->val);
    history_init(h);
}
