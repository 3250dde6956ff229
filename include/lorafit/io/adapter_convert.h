/* adapter_convert.h - an adapter rewritten between the labs' names and
 * PEFT's, with the same update on every Linear.
 *
 * Each adapter is a sum of rank-one components scale * a_i b_i^T (a_i a
 * column of A [in, r], b_i a row of B [r, out]), each adding into its
 * block's Conv1D weight at the adapter's columns (the labs' W_query, W_key,
 * W_value at columns 0, C, 2C of the fused c_attn). Converting moves every
 * component, unchanged, to the adapter of the other naming whose columns
 * hold it:
 *   labs -> peft  W_query / W_key / W_value become one c_attn adapter, its
 *                 lora_A the three A's stacked, its lora_B block-diagonal:
 *                 rank k*r for k of the three; out_proj, ff.layers.0,
 *                 ff.layers.2 become attn.c_proj, mlp.c_fc, mlp.c_proj.
 *   peft -> labs  a c_attn adapter splits into three when every component
 *                 lies in one of q, k, v's column blocks (block structured,
 *                 as the first direction makes it); otherwise the adapter is
 *                 refused, naming the block and component that mix.
 * One rank serves every adapter of a file, so adapters with fewer
 * components are padded with zero ones (exact: they add nothing), and alpha
 * is changed with the rank so that the scale stays what it was (alpha / r
 * scaling; alpha scaling keeps alpha). Components that are exactly zero are
 * dropped. The head and every other setting are kept; the file is written
 * as adapter_save() writes it (adapter.h). */
#ifndef LORAFIT_ADAPTER_CONVERT_H
#define LORAFIT_ADAPTER_CONVERT_H

#include <stdbool.h>
#include <stddef.h>

#include "lorafit/engine/modtree.h"
#include "lorafit/util/error.h"

/* Converts the adapter in in_dir to naming `to`, writing out_dir (replaced
 * only when `overwrite`). `note` (cap bytes) gets one sentence saying what
 * changed beyond names and layouts (rank, alpha, merged or split adapters),
 * or "" when nothing did. */
bool adapter_convert(const char *in_dir, const char *out_dir, ModTreeStyle to, bool overwrite, char *note,
                     size_t cap, LfError *err);

#endif
