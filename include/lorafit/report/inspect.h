/* inspect.h - what an adapter changed, per layer and target: ||dW||_F
 * (dW = scale * A @ B), the base matrix's ||W||_F and the ratio when the
 * base is given, and the singular values of dW (from the r x r core,
 * engine/lowrank.h: how much of the rank is used); printed as a table or
 * JSON, and drawn as an SVG with a heatmap (layer x target) and the
 * histograms of the entries of W and of dW over every adapted matrix. */
#ifndef LORAFIT_INSPECT_H
#define LORAFIT_INSPECT_H

#include <stdbool.h>
#include <stdio.h>

#include "lorafit/engine/gpt2.h"
#include "lorafit/engine/lora.h"
#include "lorafit/util/error.h"
#include "lorafit/util/files.h"

#define INSPECT_BINS 81
#define INSPECT_MAX_TARGETS 8

typedef struct {
    const char *name;  /* the adapter's module ("transformer.h.0.attn.c_attn"); the slot's */
    int layer, target; /* target: index into AdapterInspection.targets */
    int in, out, rank;
    double delta_norm;  /* ||dW||_F */
    double weight_norm; /* ||W||_F of the columns the adapter adds into; NaN without the base */
    double *sigma;      /* [rank] singular values of dW, largest first */
} InspectRow;

typedef struct {
    InspectRow *rows;
    int n_rows, n_layer;
    char targets[INSPECT_MAX_TARGETS][48]; /* "att.W_query", "attn.c_attn", ... in order of appearance */
    int n_targets;
    bool have_hist;                        /* with the base: entry histograms of W and dW */
    double hist_lo, hist_hi;               /* the bins' common range */
    long hist_w[INSPECT_BINS], hist_dw[INSPECT_BINS];
} AdapterInspection;

/* An adapter's target: its module path inside the block ("attn.c_attn" of
 * "transformer.h.0.attn.c_attn", "att.W_query" of "trf_blocks.0.att.W_query"). */
const char *inspect_block_target(const char *module);

/* Inspects the adapters of m (named by slots). w: the base weights, or NULL. */
bool inspect_adapter(const Gpt2Model *m, const LoraSlot *slots, const Gpt2Weights *w, AdapterInspection *out,
                     LfError *err);
void inspect_free(AdapterInspection *ins);

/* The table: one line per adapter, the singular values up to `max_sigma`. */
void inspect_print_table(FILE *f, const AdapterInspection *ins, int max_sigma);
/* The same as one JSON object (every singular value). */
bool inspect_print_json(FILE *f, const AdapterInspection *ins, LfError *err);
/* The heatmap of ||dW||_F (or ||dW||_F / ||W||_F with the base) and, with
 * the base, the histograms; written atomically to path. */
bool inspect_write_svg(const AdapterInspection *ins, const char *path, const char *title, LfError *err);

/* What inspect's SVGs share (norm_heatmap.c draws with them too): the
 * colour of a heatmap cell, white to dark blue as v goes from 0 to 1; and
 * the file opened atomically with the <svg> element, a white background and
 * the title (escaped) on top; the caller draws, closes </svg> and commits. */
void inspect_heat_color(double v, char *buf, size_t cap);
bool inspect_svg_open(FsAtomic *a, const char *path, int width, int height, const char *title, LfError *err);

#endif
