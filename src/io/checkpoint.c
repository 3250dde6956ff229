/* checkpoint.c - open a Hugging Face GPT-2 checkpoint as Gpt2Weights.
 * See include/lorafit/io/checkpoint.h. One unit of about 560 lines: the
 * loader's two passes, the check for unknown tensors, the quantized
 * matrices and the fingerprint all walk the same private table of a
 * block's parts (layer_part) and the Gpt2Checkpoint they fill. */
#include "lorafit/io/checkpoint.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lorafit/engine/quant_weights.h"
#include "lorafit/io/model_config.h"
#include "lorafit/io/placement.h"
#include "lorafit/io/quant_file.h"
#include "lorafit/util/hash.h"
#include "lorafit/util/mem.h"

#define PREFIX "transformer."
#define PREFIX_LEN (sizeof PREFIX - 1)
#define FINGERPRINT_SAMPLES 16

struct Gpt2Checkpoint {
    StFile *st;
    char *dir, *file;
    bool has_config;
    float *owned; /* converted F16/BF16/F64 (and unaligned F32) tensors, and copied F32 ones */
    size_t owned_floats; /* of which converted */
    bool in_place;       /* F32 block weights used from the mapping */
    Gpt2LayerWeights *layers;
    Gpt2Weights w;
    QuantDtype qdtype;  /* the block matrices' form in the file (quant_file.h) */
    QuantMatrix *qmats; /* [n_layer * 4] pointing into the mapping, when quantized */
    uint64_t fingerprint; /* kept by checkpoint_release_block_matrices; else 0 */
};

/* The modules of one block, in the order the fingerprint hashes them (each
 * one's weight, then its bias). Shapes are multiples of n_embd: a linear
 * module's weight is [in*C, out*C] and its bias [out*C]; a layer norm's
 * (out 0) are both [in*C]. */
#define FIELD(f) offsetof(Gpt2LayerWeights, f)
static const struct {
    const char *name;
    int in, out;
    size_t weight, bias; /* fields of Gpt2LayerWeights */
} layer_modules[] = {
    {"ln_1", 1, 0, FIELD(ln1_w), FIELD(ln1_b)},          {"attn.c_attn", 1, 3, FIELD(qkv_w), FIELD(qkv_b)},
    {"attn.c_proj", 1, 1, FIELD(attn_proj_w), FIELD(attn_proj_b)}, {"ln_2", 1, 0, FIELD(ln2_w), FIELD(ln2_b)},
    {"mlp.c_fc", 1, 4, FIELD(fc_w), FIELD(fc_b)},        {"mlp.c_proj", 4, 1, FIELD(fc_proj_w), FIELD(fc_proj_b)},
};
enum { N_LAYER_PARTS = 2 * sizeof layer_modules / sizeof layer_modules[0] };

/* Tensor p of a block: module p / 2's weight (p even) or bias (p odd). */
typedef struct {
    char part[32]; /* "attn.c_attn.weight" */
    int ndim, m0, m1; /* [m0*C] or [m0*C, m1*C] */
    size_t field;
} LayerPart;

static LayerPart layer_part(int p) {
    LayerPart lp;
    bool bias = p % 2;
    int in = layer_modules[p / 2].in, out = layer_modules[p / 2].out;
    snprintf(lp.part, sizeof lp.part, "%s.%s", layer_modules[p / 2].name, bias ? "bias" : "weight");
    lp.ndim = !bias && out ? 2 : 1;
    lp.m0 = bias && out ? out : in;
    lp.m1 = lp.ndim == 2 ? out : 0;
    lp.field = bias ? layer_modules[p / 2].bias : layer_modules[p / 2].weight;
    return lp;
}

/* Buffers PyTorch saves with GPT-2: the causal mask and its fill value. */
static const char *const layer_buffers[] = {"attn.bias", "attn.masked_bias"};

static bool is_qkv_bias(int part) { return layer_part(part).field == FIELD(qkv_b); }

static char *join_path(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (p) snprintf(p, a + b + 2, "%s/%s", dir, name);
    return p;
}

static bool file_exists(const char *dir, const char *name) {
    char *p = join_path(dir, name);
    struct stat sb;
    bool ok = p && stat(p, &sb) == 0;
    free(p);
    return ok;
}

/* Where the weights file and the directory are, from what the user gave. */
static bool resolve_paths(Gpt2Checkpoint *ck, const char *arg, LfError *err) {
    struct stat sb;
    if (stat(arg, &sb) != 0) {
        lf_error_errno(err, LF_ERR_INPUT, "cannot open model %s", arg);
        return false;
    }
    if (S_ISDIR(sb.st_mode)) {
        ck->dir = strdup(arg);
        if (!ck->dir) goto oom;
        /* "models/gpt2-small/" names the same directory; keep messages tidy. */
        for (size_t n = strlen(ck->dir); n > 1 && ck->dir[n - 1] == '/'; n--) ck->dir[n - 1] = '\0';
        if (!(ck->file = join_path(ck->dir, CHECKPOINT_WEIGHTS_FILE))) goto oom;
        if (stat(ck->file, &sb) == 0) return true;
        if (file_exists(arg, "model.safetensors.index.json"))
            lf_error_set(err, LF_ERR_INPUT,
                         "%s: sharded checkpoints (model.safetensors.index.json) are not supported; "
                         "merge the shards into one model.safetensors",
                         arg);
        else if (file_exists(arg, "pytorch_model.bin"))
            lf_error_set(err, LF_ERR_INPUT,
                         "%s: has pytorch_model.bin but no model.safetensors; only safetensors is read "
                         "(scripts/download-gpt2.sh fetches it)",
                         arg);
        else
            lf_error_set(err, LF_ERR_INPUT,
                         "%s: no model.safetensors in this directory (scripts/download-gpt2.sh fetches one)", arg);
        return false;
    }
    ck->file = strdup(arg);
    const char *slash = strrchr(arg, '/');
    ck->dir = slash ? strndup(arg, slash == arg ? 1 : (size_t)(slash - arg)) : strdup(".");
    if (!ck->dir || !ck->file) goto oom;
    return true;
oom:
    lf_error_set(err, LF_ERR_IO, "out of memory");
    return false;
}

/* ---- config ----------------------------------------------------------- */

/* "h.12.attn.c_attn.weight" -> 12 and the rest; -1 when the name is not a
 * block's. Digits as Python prints an int: no sign, no leading zero. */
static int layer_of(const char *canon, const char **rest) {
    if (strncmp(canon, "h.", 2) != 0) return -1;
    const char *p = canon + 2;
    if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] != '.')) return -1;
    long n = 0;
    while (*p >= '0' && *p <= '9') {
        n = n * 10 + (*p++ - '0');
        if (n > MODEL_CONFIG_MAX_DIM) return -1;
    }
    if (*p != '.') return -1;
    *rest = p + 1;
    return (int)n;
}

static const char *canonical(const char *name) {
    return strncmp(name, PREFIX, PREFIX_LEN) == 0 ? name + PREFIX_LEN : name;
}

/* Finds a weight by its unprefixed name, accepting either spelling. */
static const StTensor *find(const StFile *st, const char *canon, LfError *err, bool *clash) {
    char pre[256];
    snprintf(pre, sizeof pre, PREFIX "%s", canon);
    const StTensor *a = st_find(st, canon), *b = st_find(st, pre);
    *clash = a && b;
    if (*clash)
        lf_error_set(err, LF_ERR_INPUT, "%s: tensor '%s' appears both with and without the '" PREFIX "' prefix",
                     st_path(st), canon);
    return a ? a : b;
}

static bool infer_config(const StFile *st, Gpt2Config *cfg, LfError *err) {
    bool clash;
    const StTensor *wte = find(st, "wte.weight", err, &clash), *wpe = NULL;
    if (!clash && wte) wpe = find(st, "wpe.weight", err, &clash);
    if (clash) return false;
    if (!wte || !wpe) {
        lf_error_set(err, LF_ERR_INPUT, "%s: tensor '%s' is missing (is this a GPT-2 checkpoint?)", st_path(st),
                     wte ? "wpe.weight" : "wte.weight");
        return false;
    }
    char s1[128];
    const int64_t max = MODEL_CONFIG_MAX_DIM;
    if (wte->ndim != 2 || wpe->ndim != 2 || wte->shape[1] != wpe->shape[1] || wte->shape[0] > max ||
        wte->shape[1] > max || wpe->shape[0] > max) {
        char s2[128];
        lf_error_set(err, LF_ERR_INPUT,
                     "%s: wte.weight %s and wpe.weight %s are not [vocab_size, n_embd] and [n_ctx, n_embd]",
                     st_path(st), st_shape_str(s1, sizeof s1, wte->ndim, wte->shape),
                     st_shape_str(s2, sizeof s2, wpe->ndim, wpe->shape));
        return false;
    }
    int n_layer = 0;
    for (int i = 0; i < st_count(st); i++) {
        const char *rest;
        int l = layer_of(canonical(st_tensor(st, i)->name), &rest);
        if (l >= n_layer) n_layer = l + 1;
    }
    cfg->n_layer = n_layer;
    cfg->n_embd = (int)wte->shape[1];
    cfg->vocab_size = (int)wte->shape[0];
    cfg->n_ctx = (int)wpe->shape[0];
    cfg->qkv_bias = true;
    const char *preset = gpt2_config_match_preset(cfg->n_layer, cfg->n_embd);
    Gpt2Config p;
    if (!preset || !gpt2_config_preset(preset, &p, NULL)) {
        lf_error_set(err, LF_ERR_INPUT,
                     "%s: no config.json beside it, and no GPT-2 preset has n_layer %d and n_embd %d (with "
                     "vocab_size %d and n_ctx %d, read from wte/wpe); add a config.json that gives n_head",
                     st_path(st), cfg->n_layer, cfg->n_embd, cfg->vocab_size, cfg->n_ctx);
        return false;
    }
    cfg->n_head = p.n_head;
    return true;
}

/* ---- tensors ---------------------------------------------------------- */

/* Two passes over the expected weights share this: the first (dst NULL)
 * checks presence, dtype and shape and counts what goes into ck->owned;
 * the second sets the pointers, converting into ck->owned at `cursor` and
 * listing the F32 tensors to copy there (placement_copy does the copying). */
typedef struct {
    Gpt2Checkpoint *ck;
    size_t cursor;    /* floats of ck->owned used (or needed, in the first pass) */
    size_t converted; /* of which converted from another dtype */
    bool in_place;    /* F32 block weights are read from the mapping (see placement.h) */
    PlacementPiece *pieces; /* second pass: the copies to make; NULL in the first */
    size_t n_pieces;   /* made (or, in the first pass, needed) */
    LfError *err;
} Loader;

/* `copy`: an F32 block weight goes into ck->owned rather than being used
 * from the mapping, unless ld->in_place. wte and wpe are read a few rows at
 * a time and always stay in the mapping. */
static bool expect(Loader *ld, const char *canon, int ndim, int64_t d0, int64_t d1, bool copy,
                   const float **dst) {
    const StFile *st = ld->ck->st;
    bool clash;
    const StTensor *t = find(st, canon, ld->err, &clash);
    if (clash) return false;
    if (!t) {
        lf_error_set(ld->err, LF_ERR_INPUT, "%s: tensor '%s' is missing", st_path(st), canon);
        return false;
    }
    const int64_t want[2] = {d0, d1};
    if (!st_check_shape(st, t, ndim, want, ld->err)) return false;
    if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16 && t->dtype != ST_F64) {
        lf_error_set(ld->err, LF_ERR_INPUT, "%s: tensor '%s' has dtype %s, expected F32, F16, BF16 or F64",
                     st_path(st), t->name, st_dtype_name(t->dtype));
        return false;
    }
    const float *view = st_f32_view(t);
    size_t n = (size_t)t->numel, padded = (n + 15) / 16 * 16; /* each owned tensor on a 64-byte line */
    if (view && copy && !dst) /* first pass: counted whatever in_place turns out to be */
        ld->n_pieces += placement_n_pieces(n * sizeof *view);
    if (view && (!copy || ld->in_place)) {
        if (dst) *dst = view;
        return true;
    }
    size_t at = ld->cursor;
    ld->cursor += padded;
    if (!view) ld->converted += padded;
    if (!dst) return true;
    float *out = ld->ck->owned + at;
    if (view) {
        placement_add_copy(ld->pieces, &ld->n_pieces, view, out, n * sizeof *view);
    } else if (!st_read_f32(t, out, n, ld->err)) {
        return false;
    }
    *dst = out;
    return true;
}

/* Which of quant_weights.h's block matrices `part` is, or -1. */
static int quantized_matrix(const char *part) {
    for (int i = 0; i < QUANT_MATS_PER_LAYER; i++)
        if (strcmp(part, quant_block_matrices[i].name) == 0) return i;
    return -1;
}

/* A block matrix held quantized in the file: checked, and with `fill`
 * pointed at from the layer. */
static bool expect_quantized(Loader *ld, int l, int i, const char *name, bool fill) {
    Gpt2Checkpoint *ck = ld->ck;
    const int C = ck->w.cfg.n_embd;
    QuantMatrix q, *dst = fill ? &ck->qmats[l * QUANT_MATS_PER_LAYER + i] : &q;
    if (!quant_file_read(ck->st, name, ck->qdtype, quant_block_matrices[i].in * C, quant_block_matrices[i].out * C,
                         dst, ld->err))
        return false;
    if (fill) *quant_layer_q(&ck->layers[l], i) = dst;
    return true;
}

static bool load_weights(Loader *ld, bool fill) {
    Gpt2Checkpoint *ck = ld->ck;
    const Gpt2Config *c = &ck->w.cfg;
    int64_t C = c->n_embd;
    Gpt2Weights *w = fill ? &ck->w : NULL;
    if (!expect(ld, "wte.weight", 2, c->vocab_size, C, false, w ? &w->wte : NULL) ||
        !expect(ld, "wpe.weight", 2, c->n_ctx, C, false, w ? &w->wpe : NULL))
        return false;
    for (int l = 0; l < c->n_layer; l++) {
        for (int p = 0; p < N_LAYER_PARTS; p++) {
            if (is_qkv_bias(p) && !c->qkv_bias) continue;
            char name[64];
            LayerPart lp = layer_part(p);
            snprintf(name, sizeof name, "h.%d.%s", l, lp.part);
            const float **dst = fill ? (const float **)((char *)&ck->layers[l] + lp.field) : NULL;
            int qi = ck->qdtype != QUANT_F32 ? quantized_matrix(lp.part) : -1;
            if (qi >= 0 ? !expect_quantized(ld, l, qi, name, fill)
                        : !expect(ld, name, lp.ndim, lp.m0 * C, lp.m1 * C, true, dst))
                return false;
        }
    }
    return expect(ld, "ln_f.weight", 1, C, 0, true, w ? &w->lnf_w : NULL) &&
           expect(ld, "ln_f.bias", 1, C, 0, true, w ? &w->lnf_b : NULL);
}

/* Whether a tensor in the file is one we know: a weight, a buffer, or the
 * tied head. Anything else means the file is not the model we think. */
static bool known_tensor(const Gpt2Checkpoint *ck, const StTensor *t, LfError *err) {
    const Gpt2Config *c = &ck->w.cfg;
    if (strcmp(t->name, "lm_head.weight") == 0) {
        if (t->ndim == 2 && t->shape[0] == c->vocab_size && t->shape[1] == c->n_embd) return true;
        char s[160];
        lf_error_set(err, LF_ERR_INPUT, "%s: tensor 'lm_head.weight' has shape %s, expected [%d, %d] (tied to wte)",
                     st_path(ck->st), st_shape_str(s, sizeof s, t->ndim, t->shape), c->vocab_size, c->n_embd);
        return false;
    }
    /* a merged classifier's head (lorafit merge; merge.h reads it) */
    if ((!strcmp(t->name, "score.weight") && t->ndim == 2 && t->shape[1] == c->n_embd) ||
        (!strcmp(t->name, "score.bias") && t->ndim == 1))
        return true;
    const char *canon = canonical(t->name), *rest;
    if (!strcmp(canon, "wte.weight") || !strcmp(canon, "wpe.weight") || !strcmp(canon, "ln_f.weight") ||
        !strcmp(canon, "ln_f.bias"))
        return true;
    int l = layer_of(canon, &rest);
    if (l >= 0 && l < c->n_layer) {
        for (int p = 0; p < N_LAYER_PARTS; p++)
            if (strcmp(rest, layer_part(p).part) == 0 && (c->qkv_bias || !is_qkv_bias(p)) &&
                (ck->qdtype == QUANT_F32 || quantized_matrix(rest) < 0))
                return true;
        for (int i = 0; ck->qdtype != QUANT_F32 && i < QUANT_MATS_PER_LAYER; i++) {
            size_t n = strlen(quant_block_matrices[i].name);
            if (strncmp(rest, quant_block_matrices[i].name, n) == 0 && quant_file_is_part(ck->qdtype, rest + n))
                return true;
        }
        for (size_t b = 0; b < sizeof layer_buffers / sizeof *layer_buffers; b++)
            if (strcmp(rest, layer_buffers[b]) == 0) return true;
    }
    lf_error_set(err, LF_ERR_INPUT, "%s: unexpected tensor '%s': not part of a GPT-2 model with n_layer %d%s",
                 st_path(ck->st), t->name, c->n_layer, c->qkv_bias ? "" : " and no Q/K/V bias");
    return false;
}

static bool check_no_extras(const Gpt2Checkpoint *ck, LfError *err) {
    for (int i = 0; i < st_count(ck->st); i++)
        if (!known_tensor(ck, st_tensor(ck->st, i), err)) return false;
    return true;
}

static bool read_config(Gpt2Checkpoint *ck, LfError *err) {
    Gpt2Config *cfg = &ck->w.cfg;
    char *cfg_path = join_path(ck->dir, CHECKPOINT_CONFIG_FILE);
    if (!cfg_path) {
        lf_error_set(err, LF_ERR_IO, "out of memory");
        return false;
    }
    struct stat sb;
    ck->has_config = stat(cfg_path, &sb) == 0;
    bool ok = ck->has_config ? model_config_read(cfg_path, cfg, err)
                             : infer_config(ck->st, cfg, err) && model_config_check(cfg, ck->file, err);
    free(cfg_path);
    return ok;
}

/* The span of the mapping holding the F32 weights that would be copied
 * (every tensor but wte, wpe and lm_head), for placement_in_place. */
static void copied_span(const Gpt2Checkpoint *ck, const void **begin, const void **end) {
    uintptr_t first = UINTPTR_MAX, last = 0;
    for (int i = 0; i < st_count(ck->st); i++) {
        const StTensor *t = st_tensor(ck->st, i);
        const char *canon = canonical(t->name);
        const float *v = st_f32_view(t);
        if (!v || !strcmp(canon, "wte.weight") || !strcmp(canon, "wpe.weight") || !strcmp(t->name, "lm_head.weight"))
            continue;
        uintptr_t a = (uintptr_t)v, b = a + t->nbytes;
        if (a < first) first = a;
        if (b > last) last = b;
    }
    *begin = (const void *)first;
    *end = (const void *)last;
}

static bool weights_in_place(const Gpt2Checkpoint *ck) {
    const void *begin, *end;
    copied_span(ck, &begin, &end);
    return placement_in_place(ck->st, begin, end);
}

/* Maps the file, reads the shape and checks every tensor's presence and
 * shape (no weight is read), counting in ld what loading will convert or
 * copy. NULL on failure. */
static Gpt2Checkpoint *open_and_check(const char *model_dir_or_file, Loader *ld, LfError *err) {
    Gpt2Checkpoint *ck = calloc(1, sizeof *ck);
    if (!ck) {
        lf_error_set(err, LF_ERR_IO, "out of memory");
        return NULL;
    }
    ld->ck = ck;
    ld->err = err;
    if (!resolve_paths(ck, model_dir_or_file, err) || !(ck->st = st_open(ck->file, err)) ||
        !quant_file_dtype(ck->st, &ck->qdtype, err) || !read_config(ck, err) || !load_weights(ld, false) ||
        !check_no_extras(ck, err)) {
        checkpoint_close(ck);
        return NULL;
    }
    return ck;
}

bool checkpoint_read_config(const char *model_dir_or_file, Gpt2Config *cfg, LfError *err) {
    Loader ld = {.in_place = true}; /* nothing is loaded */
    Gpt2Checkpoint *ck = open_and_check(model_dir_or_file, &ld, err);
    if (!ck) return false;
    *cfg = ck->w.cfg;
    checkpoint_close(ck);
    return true;
}

Gpt2Checkpoint *checkpoint_open(const char *model_dir_or_file, LfError *err) {
    return checkpoint_open_as(model_dir_or_file, CHECKPOINT_LOAD_AUTO, err);
}

Gpt2Checkpoint *checkpoint_open_as(const char *model_dir_or_file, CheckpointLoad how, LfError *err) {
    /* First pass: everything present and well-shaped, and how much to
     * convert and copy (bounded by the file: it stops at the first missing
     * tensor). */
    Loader ld = {.in_place = false};
    Gpt2Checkpoint *ck = open_and_check(model_dir_or_file, &ld, err);
    if (!ck) return NULL;
    ld.in_place = how == CHECKPOINT_LOAD_AUTO && weights_in_place(ck);
    ck->in_place = ld.in_place;
    size_t owned = ld.in_place ? ld.converted : ld.cursor;
    ck->layers = calloc((size_t)ck->w.cfg.n_layer, sizeof *ck->layers);
    if (ck->qdtype != QUANT_F32 && !(ck->qmats = calloc((size_t)ck->w.cfg.n_layer * QUANT_MATS_PER_LAYER,
                                                         sizeof *ck->qmats))) {
        lf_error_set(err, LF_ERR_IO, "out of memory");
        goto fail;
    }
    /* In huge pages: with 4 KB pages, converting a 500 MB F16 gpt2-small
     * took 11 s here, most of it page faults. */
    if (owned) ck->owned = mem_alloc_huge(owned * sizeof(float));
    ld.pieces = ld.in_place ? NULL : malloc((ld.n_pieces + 1) * sizeof *ld.pieces);
    if (!ck->layers || (owned && !ck->owned) || (!ld.in_place && !ld.pieces)) {
        lf_error_set(err, LF_ERR_IO, "%s: out of memory loading %zu weights as float32", ck->file, owned);
        goto fail;
    }
    ck->owned_floats = ld.converted;
    ck->w.layers = ck->layers;
    ld.cursor = ld.converted = ld.n_pieces = 0;
    if (!load_weights(&ld, true)) goto fail;
    placement_copy(ck->st, ld.pieces, ld.n_pieces);
    free(ld.pieces);
    return ck;
fail:
    free(ld.pieces);
    checkpoint_close(ck);
    return NULL;
}

void checkpoint_close(Gpt2Checkpoint *ck) {
    if (!ck) return;
    st_close(ck->st);
    free(ck->owned);
    free(ck->layers);
    for (int k = 0; ck->qmats && k < ck->w.cfg.n_layer * QUANT_MATS_PER_LAYER; k++)
        quant_matrix_free(&ck->qmats[k]); /* their GEMMs' backends; the arrays are the mapping's */
    free(ck->qmats);
    free(ck->dir);
    free(ck->file);
    free(ck);
}

const Gpt2Weights *checkpoint_weights(const Gpt2Checkpoint *ck) { return &ck->w; }
const Gpt2Config *checkpoint_config(const Gpt2Checkpoint *ck) { return &ck->w.cfg; }
const char *checkpoint_dir(const Gpt2Checkpoint *ck) { return ck->dir; }
const char *checkpoint_file(const Gpt2Checkpoint *ck) { return ck->file; }
bool checkpoint_has_config(const Gpt2Checkpoint *ck) { return ck->has_config; }
size_t checkpoint_owned_bytes(const Gpt2Checkpoint *ck) { return ck->owned_floats * sizeof(float); }
bool checkpoint_in_place(const Gpt2Checkpoint *ck) { return ck->in_place; }
QuantDtype checkpoint_base_dtype(const Gpt2Checkpoint *ck) { return ck->qdtype; }
QuantMatrix *checkpoint_quant_matrices(Gpt2Checkpoint *ck) { return ck->qmats; }

void checkpoint_release_block_matrices(Gpt2Checkpoint *ck) {
    ck->fingerprint = checkpoint_fingerprint(ck); /* it samples those matrices */
    const size_t C = (size_t)ck->w.cfg.n_embd;
    for (int l = 0; l < ck->w.cfg.n_layer; l++)
        for (int i = 0; i < QUANT_MATS_PER_LAYER; i++) {
            const float **p = quant_layer_fp32(&ck->layers[l], i);
            if (*p) placement_drop_pages(*p, quant_block_matrices[i].in * C * quant_block_matrices[i].out * C * sizeof **p);
            *p = NULL;
        }
}

/* ---- fingerprint ------------------------------------------------------ */

/* The first and last FINGERPRINT_SAMPLES / 2 values, read with st_peek: two
 * short reads a tensor instead of faulting in a page of the mapping for each
 * (~150 faults, 10-40 ms on this project's VMs). Two different trainings
 * differ everywhere, so the ends tell tensors apart as well as any values. */
static uint64_t hash_tensor(uint64_t h, const StFile *st, const float *x, size_t n) {
    h = hash_fnv_u64(h, n);
    if (!x) return h;
    const size_t half = FINGERPRINT_SAMPLES / 2;
    float v[FINGERPRINT_SAMPLES];
    size_t m = n <= 2 * half ? n : 2 * half;
    if (n <= 2 * half) {
        st_peek(st, x, v, n * sizeof *x);
    } else {
        st_peek(st, x, v, half * sizeof *x);
        st_peek(st, x + n - half, v + half, half * sizeof *x);
    }
    for (size_t i = 0; i < m; i++) {
        uint32_t bits;
        memcpy(&bits, &v[i], sizeof bits);
        h = hash_fnv_u64(h, bits);
    }
    return h;
}

uint64_t checkpoint_fingerprint(const Gpt2Checkpoint *ck) {
    if (ck->fingerprint) return ck->fingerprint;
    /* a quantized file carries its fp32 model's, so adapters recognize both */
    const char *recorded = st_metadata(ck->st, QUANT_FILE_FINGERPRINT_KEY);
    uint64_t fp = 0;
    if (recorded && sscanf(recorded, "%16" SCNx64, &fp) == 1 && fp) return fp;
    const Gpt2Weights *w = &ck->w;
    const Gpt2Config *c = &w->cfg;
    size_t C = (size_t)c->n_embd;
    uint64_t h = HASH_FNV_START;
    const int fields[] = {c->n_layer, c->n_embd, c->n_head, c->vocab_size, c->n_ctx, c->qkv_bias};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) h = hash_fnv_u64(h, (uint64_t)(int64_t)fields[i]);
    h = hash_tensor(h, ck->st, w->wte, (size_t)c->vocab_size * C);
    h = hash_tensor(h, ck->st, w->wpe, (size_t)c->n_ctx * C);
    for (int l = 0; l < c->n_layer; l++) {
        for (int p = 0; p < N_LAYER_PARTS; p++) {
            LayerPart lp = layer_part(p);
            const float *x = *(const float *const *)((const char *)&w->layers[l] + lp.field);
            size_t n = (size_t)lp.m0 * C * (lp.ndim == 2 ? (size_t)lp.m1 * C : 1);
            h = hash_tensor(h, ck->st, x, x ? n : 0);
        }
    }
    h = hash_tensor(h, ck->st, w->lnf_w, C);
    h = hash_tensor(h, ck->st, w->lnf_b, C);
    return h ? h : 1;
}
