/* norm_log.h - ||dW||_F of every adapter over training: written into the
 * --log JSONL of `lorafit train --track-norms N` as its own record type,
 * read back by `lorafit inspect --log`, printed as a table (layer x step)
 * and drawn as a heatmap per target.
 *
 * The record, one line among train's step records (which have no "record"
 * member):
 *   {"record": "norms", "step": 20, "epoch": 1,
 *    "norms": {"att.W_query": [0.0123, 0.0098], "att.W_value": [0.011, null]}}
 * one member per target (the module's path inside its block, as inspect
 * names it: inspect_block_target), in the order the adapters come; its array
 * indexed by layer, null where that layer has no adapter on the target. A
 * value is ||scale A B||_F computed as inspect does (lowrank_frobenius:
 * sqrt(trace((A^T A)(B B^T))) |scale|), printed with 17 significant digits
 * so that it reads back as the same double.
 *
 * The reader takes every record of that type and skips the others; a line
 * that is not a JSON object, or a norms record that is malformed, is an
 * LF_ERR_INPUT error naming the file and the line. A record whose step is
 * not after the previous one (a run resumed from an earlier checkpoint went
 * over those steps again) replaces the records from that step on. */
#ifndef LORAFIT_NORM_LOG_H
#define LORAFIT_NORM_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "lorafit/engine/gpt2.h"
#include "lorafit/engine/lora.h"
#include "lorafit/report/inspect.h"
#include "lorafit/util/error.h"

#define NORM_LOG_MAX_LAYERS 4096

/* Appends one norms record for the adapters of m (named by slots) at `step`
 * and flushes it. False when the write failed. */
bool norm_log_write(FILE *f, const Gpt2Model *m, const LoraSlot *slots, long step, int epoch);

typedef struct {
    int n_layer, n_targets, n_steps;
    char targets[INSPECT_MAX_TARGETS][48]; /* in order of first appearance */
    long *steps;                           /* [n_steps], increasing */
    int *epochs;                           /* [n_steps] */
    double *norms; /* [n_steps][INSPECT_MAX_TARGETS][n_layer]; NaN where not recorded */
    size_t cap;
} NormLog;

/* The norm of (record i, target t, layer l). */
static inline double norm_log_at(const NormLog *g, int i, int t, int l) {
    return g->norms[((size_t)i * INSPECT_MAX_TARGETS + (size_t)t) * (size_t)g->n_layer + (size_t)l];
}

/* Reads the norms records of a log held in text[len] (name: the file, for
 * messages). A log without one is an error saying how to write them. */
bool norm_log_parse(const char *text, size_t len, const char *name, NormLog *out, LfError *err);
/* The same from the file at path. */
bool norm_log_read(const char *path, NormLog *out, LfError *err);
void norm_log_free(NormLog *g);

/* The table: one line per layer and target, the norms at up to max_cols
 * recorded steps (the first, the last and evenly between). */
void norm_log_print_table(FILE *f, const NormLog *g, int max_cols);

/* The heatmap, written atomically to path: one panel per target, layers
 * down and recorded steps across (at most NORM_SVG_MAX_COLS columns, evenly
 * sampled, the last included), one colour scale for all panels. */
#define NORM_SVG_MAX_COLS 160
bool norm_log_write_svg(const NormLog *g, const char *path, const char *title, LfError *err);

#endif
