/* tokenizer.c - see include/lorafit/data/tokenizer.h. Loading the vocabulary,
 * byte-pair merging, encode and decode; the pre-tokenizer is in
 * tokenizer_split.c.
 *
 * Two hash tables (open addressing, power-of-two sizes, linear probing):
 *   vocab  token bytes -> id, for the whole-piece lookup, for merging and
 *          while loading;
 *   cache  piece bytes -> ids, for words seen before.
 *
 * There is no table of merges. tiktoken merges two adjacent parts whenever
 * their concatenated bytes are a token, ranked by that token's rank, and
 * GPT-2's ids follow merge order, so the rank of merging a and b is simply
 * the id of bytes(a) + bytes(b) in the vocab table (<|endoftext|> is not
 * in it, so it is never made). The parts being merged lie side by side in
 * the piece, so that concatenation is a slice of the piece itself.
 */
#include "lorafit/data/tokenizer.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lorafit/util/files.h"
#include "lorafit/util/hash.h"
#include "lorafit/util/mem.h"

#ifndef MAP_POPULATE
#define MAP_POPULATE 0 /* not Linux: the pages fault in as they are read */
#endif

/* The cache is emptied when it fills up: simpler than LRU, and a text
 * that repeats itself refills it at once. Only short pieces go in: long
 * ones are rare and would crowd out the rest. */
enum { CACHE_SLOTS = 1 << 16, CACHE_MAX_ENTRIES = CACHE_SLOTS / 2, CACHE_MAX_PIECE = 64 };
enum { CACHE_KEY_ARENA = CACHE_MAX_ENTRIES * 16, CACHE_ID_ARENA = CACHE_MAX_ENTRIES * 4 };

typedef struct {
    uint64_t hash;
    uint32_t key_off, ids_off;
    uint16_t key_len, n_ids; /* key_len == 0: empty slot */
} CacheSlot;

typedef struct {
    CacheSlot *slots;
    char *keys;
    int32_t *ids;
    size_t n_entries, keys_used, ids_used;
} PieceCache;

/* One symbol of a piece being merged: a doubly linked list over positions.
 * A symbol at position i covers the piece's bytes from i up to its next
 * symbol (or the end), so a symbol's bytes need no lookup of its id. */
typedef struct {
    int32_t id; /* -1 once merged into the symbol on its left */
    int32_t prev, next;
    uint64_t fnv; /* FNV-1a state of its bytes, unmixed: see hash_bytes */
} Sym;

struct Tokenizer {
    int n_vocab;
    char *bytes;       /* every token's bytes, back to back */
    uint32_t *offset;  /* token id -> start in bytes; offset[n_vocab] is the end */
    int32_t byte_token[256];

    uint64_t *vocab_slots; /* hash >> 32 << 32 | (id + 1); 0 = empty */
    size_t vocab_mask;

    PieceCache cache;

    /* Scratch for merging one piece, grown as needed. */
    Sym *syms;
    uint64_t *heap;
    size_t scratch_cap;
};

/* ---- hashing -------------------------------------------------------------- */

static uint64_t hash_u64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

/* FNV-1a, whose low bits are poor on their own, then a final mix since
 * the tables index by the low bits. The state before the mix can be carried
 * on over more bytes, which is how merging hashes a concatenation without
 * going over its left part again. */
static uint64_t hash_bytes(const char *s, size_t n) { return hash_u64(hash_fnv(HASH_FNV_START, s, n)); }

static size_t pow2_at_least(size_t n) {
    size_t p = 16;
    while (p < n) p <<= 1;
    return p;
}

static size_t token_len(const Tokenizer *t, int32_t id) { return t->offset[id + 1] - t->offset[id]; }

/* ---- vocab: bytes -> id --------------------------------------------------- */

/* Each slot keeps the top half of its token's hash beside the id, so a
 * probe rarely has to look at the token's bytes elsewhere in memory. */
static int32_t vocab_find(const Tokenizer *t, const char *s, size_t n, uint64_t h) {
    uint64_t tag = h >> 32 << 32;
    for (size_t i = h & t->vocab_mask;; i = (i + 1) & t->vocab_mask) {
        uint64_t v = t->vocab_slots[i];
        if (v == 0) return -1;
        if ((v & ~0xffffffffULL) != tag) continue;
        int32_t id = (int32_t)(v & 0xffffffffu) - 1;
        if (token_len(t, id) == n && memcmp(t->bytes + t->offset[id], s, n) == 0) return id;
    }
}

static int32_t vocab_get(const Tokenizer *t, const char *s, size_t n) { return vocab_find(t, s, n, hash_bytes(s, n)); }

/* Adds token id, unless a token with the same bytes is there already
 * (false then): one hash and one probe sequence for both. */
static bool vocab_add(Tokenizer *t, int32_t id) {
    const char *s = t->bytes + t->offset[id];
    size_t n = token_len(t, id);
    uint64_t h = hash_bytes(s, n), tag = h >> 32 << 32;
    size_t i = h & t->vocab_mask;
    for (; t->vocab_slots[i]; i = (i + 1) & t->vocab_mask) {
        uint64_t v = t->vocab_slots[i];
        if ((v & ~0xffffffffULL) != tag) continue;
        int32_t other = (int32_t)(v & 0xffffffffu) - 1;
        if (token_len(t, other) == n && memcmp(t->bytes + t->offset[other], s, n) == 0) return false;
    }
    t->vocab_slots[i] = tag | ((uint64_t)id + 1);
    return true;
}

/* ---- the byte <-> unicode table ------------------------------------------- */

/* GPT-2's files spell each byte as a printable character: bytes that are
 * printable in Latin-1 stand for themselves, the other 68 are numbered
 * from U+0100 upwards in byte order. */
static bool byte_is_printable(int b) {
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

enum { UNICODE_TO_BYTE_SIZE = 256 + 68 };

static void make_unicode_to_byte(int16_t table[UNICODE_TO_BYTE_SIZE]) {
    for (int i = 0; i < UNICODE_TO_BYTE_SIZE; i++) table[i] = -1;
    int extra = 0;
    for (int b = 0; b < 256; b++) table[byte_is_printable(b) ? b : 256 + extra++] = (int16_t)b;
}

/* Decodes a token as spelled in the vocabulary files into raw bytes, in
 * place-safe fashion (out needs at most strlen(s) bytes). -1 if a character
 * is not one of the 256 byte characters.
 *
 * This runs over the whole vocabulary and every merge at load, so it decodes
 * UTF-8 itself rather than calling utf8_decode: the byte characters all
 * lie below U+0144, one or two bytes of UTF-8 (lead byte C2..C5), and a
 * longer or malformed sequence cannot be one of them either way. */
static long spelled_to_bytes(const int16_t *u2b, const char *s, size_t n, char *out) {
    const unsigned char *u = (const unsigned char *)s;
    size_t pos = 0, len = 0;
    while (pos < n) {
        uint32_t cp;
        if (u[pos] < 0x80) {
            cp = u[pos++];
        } else if (u[pos] >= 0xC2 && u[pos] <= 0xDF && pos + 1 < n && (u[pos + 1] & 0xC0) == 0x80) {
            cp = (uint32_t)(u[pos] & 0x1F) << 6 | (u[pos + 1] & 0x3F);
            pos += 2;
        } else {
            return -1;
        }
        if (cp >= UNICODE_TO_BYTE_SIZE || u2b[cp] < 0) return -1;
        out[len++] = (char)u2b[cp];
    }
    return (long)len;
}

/* ---- cJSON's memory while it parses the vocabulary ----------------------------- */

/* cJSON makes two small allocations per token (its node and the token's
 * spelling), 100k in all, over ~4.5 MB of fresh heap: with the page faults,
 * two thirds of the parse time. So while a thread parses the vocabulary,
 * cJSON allocates from one block, prefaulted a step at a time, and the tree
 * goes away with the block (cJSON_Delete still runs, for anything that did
 * not fit).
 *
 * cJSON's hooks are process-wide, so they are set while any thread is
 * loading and route by thread: only the loading thread's allocations go to
 * its block; another thread's, or one that does not fit, go to malloc, and
 * free() is skipped only for pointers into the calling thread's block. When
 * the last loader is done the hooks go back to cJSON's defaults (nothing
 * else in lorafit sets them). */
enum { JSON_ARENA_STEP = 1 << 20, JSON_ARENA_MAX = 64 << 20, JSON_ARENA_PER_BYTE = 8 };

typedef struct {
    char *base;
    size_t cap, used, ready; /* ready: how much of it is prefaulted */
} JsonArena;

static _Thread_local JsonArena *json_arena;
static pthread_mutex_t json_hooks_lock = PTHREAD_MUTEX_INITIALIZER;
static int json_hooks_users;

/* cJSON allocates its nodes and strings, so a node's alignment is enough. */
static void *json_alloc(size_t n) {
    JsonArena *a = json_arena;
    const size_t align = _Alignof(cJSON);
    size_t need = (n + align - 1) & ~(align - 1);
    if (!a || need < n || need > a->cap - a->used) return malloc(n);
    if (a->used + need > a->ready) {
        size_t ready = a->used + need; /* <= cap */
        ready = a->cap - ready > JSON_ARENA_STEP ? ready + JSON_ARENA_STEP : a->cap;
        mem_prefault(a->base + a->ready, ready - a->ready);
        a->ready = ready;
    }
    void *p = a->base + a->used;
    a->used += need;
    return p;
}

static void json_free(void *p) {
    const JsonArena *a = json_arena;
    if (a && (uintptr_t)p >= (uintptr_t)a->base && (uintptr_t)p - (uintptr_t)a->base < a->cap) return;
    free(p);
}

/* From here to json_arena_end(), this thread's cJSON allocations come from
 * *a, sized for a text of text_len bytes. Untouched, its pages cost nothing,
 * so it can be generous. If it cannot be had, cJSON just uses malloc. */
static void json_arena_begin(JsonArena *a, size_t text_len) {
    size_t cap = text_len < JSON_ARENA_MAX / JSON_ARENA_PER_BYTE ? JSON_ARENA_PER_BYTE * text_len : JSON_ARENA_MAX;
    *a = (JsonArena){malloc(cap), cap, 0, 0};
    if (!a->base) return;
    pthread_mutex_lock(&json_hooks_lock);
    if (json_hooks_users++ == 0) cJSON_InitHooks(&(cJSON_Hooks){json_alloc, json_free});
    pthread_mutex_unlock(&json_hooks_lock);
    json_arena = a;
}

/* Ends the arena; everything cJSON allocated in it must be deleted first. */
static void json_arena_end(JsonArena *a) {
    if (!a->base) return;
    json_arena = NULL;
    pthread_mutex_lock(&json_hooks_lock);
    if (--json_hooks_users == 0) cJSON_InitHooks(NULL);
    pthread_mutex_unlock(&json_hooks_lock);
    free(a->base);
}

/* ---- loading ---------------------------------------------------------------- */

/* A vocabulary file's text, NUL-terminated like fs_read_file's. */
typedef struct {
    char *text;
    size_t len;
    bool mapped; /* munmap() it, rather than free() */
} FileText;

/* Reads a whole file, mapping it when it is a regular file: MAP_POPULATE
 * sets up all of its page-cache pages in one call, where reading copies them
 * into fresh memory that faults in page by page (several ms for
 * encoder.json where page faults are slow). A mapping ends in the zeros that
 * fill its last page, which is the NUL terminator, so a file of a whole
 * number of pages is read instead; so is anything that cannot be mapped,
 * and fs_read_file makes the error messages. */
static bool file_text_open(FileText *f, const char *path, LfError *err) {
    *f = (FileText){NULL, 0, false};
    long page = sysconf(_SC_PAGESIZE);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        struct stat st;
        if (page > 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
            (uintmax_t)st.st_size < SIZE_MAX && st.st_size % page != 0) {
            void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
            if (map != MAP_FAILED) *f = (FileText){map, (size_t)st.st_size, true};
        }
        close(fd);
        if (f->mapped) return true;
    }
    f->text = fs_read_file(path, &f->len, err);
    return f->text != NULL;
}

static void file_text_close(FileText *f) {
    if (f->mapped) munmap(f->text, f->len);
    else free(f->text);
}

/* Fills t->bytes / t->offset from encoder.json (or vocab.json): an object
 * mapping each spelled token to its id, ids 0..n-1 each once. */
static bool load_vocab_json(Tokenizer *t, const char *path, const int16_t *u2b, LfError *err) {
    FileText file;
    if (!file_text_open(&file, path, err)) return false;
    const char *text = file.text;
    size_t len = file.len;
    JsonArena arena;
    json_arena_begin(&arena, len);
    cJSON *root = cJSON_ParseWithLength(text, len);
    bool ok = false;
    const char **spelled = NULL;
    if (!root || !cJSON_IsObject(root)) {
        lf_error_set(err, LF_ERR_INPUT, "%s: not a JSON object (near byte %ld)", path,
                     root ? 0L : (long)(cJSON_GetErrorPtr() - text));
        goto done;
    }
    int n = cJSON_GetArraySize(root);
    if (n != TOK_GPT2_VOCAB_SIZE) {
        lf_error_set(err, LF_ERR_INPUT, "%s: %d tokens, but GPT-2's vocabulary has %d", path, n,
                     TOK_GPT2_VOCAB_SIZE);
        goto done;
    }
    spelled = calloc((size_t)n, sizeof *spelled);
    t->offset = malloc(((size_t)n + 1) * sizeof *t->offset);
    t->bytes = malloc(len); /* raw bytes are never longer than their spelling */
    if (!spelled || !t->offset || !t->bytes) {
        lf_error_set(err, LF_ERR_IO, "out of memory loading %s", path);
        goto done;
    }
    mem_prefault(spelled, (size_t)n * sizeof *spelled);
    mem_prefault(t->offset, ((size_t)n + 1) * sizeof *t->offset);
    mem_prefault(t->bytes, len);
    for (cJSON *item = root->child; item; item = item->next) {
        double v = item->valuedouble;
        if (!cJSON_IsNumber(item) || v < 0 || v >= n || v != (int)v) {
            lf_error_set(err, LF_ERR_INPUT, "%s: token \"%s\" has id %s, not a whole number in [0, %d)",
                         path, item->string, cJSON_IsNumber(item) ? "out of range" : "that is no number",
                         n);
            goto done;
        }
        if (spelled[(int)v]) {
            lf_error_set(err, LF_ERR_INPUT, "%s: id %d is given to both \"%s\" and \"%s\"", path, (int)v,
                         spelled[(int)v], item->string);
            goto done;
        }
        spelled[(int)v] = item->string;
    }
    if (!spelled[TOK_EOT] || strcmp(spelled[TOK_EOT], TOK_EOT_TEXT) != 0) {
        lf_error_set(err, LF_ERR_INPUT, "%s: id %d is not %s", path, TOK_EOT, TOK_EOT_TEXT);
        goto done;
    }
    size_t used = 0;
    for (int id = 0; id < n; id++) {
        t->offset[id] = (uint32_t)used;
        const char *s = spelled[id];
        long k = id == TOK_EOT ? (long)strlen(s) : spelled_to_bytes(u2b, s, strlen(s), t->bytes + used);
        if (id == TOK_EOT) memcpy(t->bytes + used, s, (size_t)k);
        if (k <= 0) {
            lf_error_set(err, LF_ERR_INPUT, "%s: token \"%s\" (id %d) is not spelled in GPT-2's byte characters",
                         path, s, id);
            goto done;
        }
        used += (size_t)k;
    }
    t->offset[n] = (uint32_t)used;
    char *fit = realloc(t->bytes, used); /* the spellings took more room than the bytes */
    if (fit) t->bytes = fit;
    t->n_vocab = n;
    ok = true;
done:
    free(spelled);
    cJSON_Delete(root);
    json_arena_end(&arena);
    file_text_close(&file);
    return ok;
}

/* Builds the bytes -> id table and checks every byte has its own token. */
static bool index_vocab(Tokenizer *t, const char *path, LfError *err) {
    size_t cap = pow2_at_least(2 * (size_t)t->n_vocab);
    t->vocab_slots = calloc(cap, sizeof *t->vocab_slots);
    if (!t->vocab_slots) {
        lf_error_set(err, LF_ERR_IO, "out of memory for the vocabulary table");
        return false;
    }
    t->vocab_mask = cap - 1;
    mem_prefault(t->vocab_slots, cap * sizeof *t->vocab_slots);
    for (int32_t id = 0; id < t->n_vocab; id++) {
        if (id == TOK_EOT) continue; /* special: never matched as text */
        if (!vocab_add(t, id)) {
            lf_error_set(err, LF_ERR_INPUT, "%s: token id %d spells the same bytes as an earlier token",
                         path, id);
            return false;
        }
    }
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        t->byte_token[b] = vocab_get(t, &c, 1);
        if (t->byte_token[b] < 0) {
            lf_error_set(err, LF_ERR_INPUT, "%s: no token for the byte 0x%02x", path, b);
            return false;
        }
    }
    return true;
}

/* Whether s[0..n) are the bytes of token `id`, which vocab_get would then
 * return, since no two tokens have the same bytes. <|endoftext|> is not in
 * the vocab table, so it is never the answer. */
static bool makes_token(const Tokenizer *t, const char *s, size_t n, int32_t id) {
    return id < t->n_vocab && id != TOK_EOT && token_len(t, id) == n &&
           memcmp(t->bytes + t->offset[id], s, n) == 0;
}

/* Checks vocab.bpe / merges.txt against the vocabulary: line i of merges
 * must make the token with id 256 + i. This is what lets ids serve as merge
 * ranks, as they do in tiktoken; a file that breaks it is not GPT-2's. */
static bool check_merges(Tokenizer *t, const char *path, const int16_t *u2b, LfError *err) {
    FileText file;
    if (!file_text_open(&file, path, err)) return false;
    const char *text = file.text;
    size_t len = file.len;
    char *buf = malloc(len + 1);
    bool ok = buf != NULL;
    if (!buf) lf_error_set(err, LF_ERR_IO, "out of memory reading %s", path);
    int n_merges = 0, line_no = 0;
    for (const char *line = text; ok && line < text + len;) {
        const char *eol = memchr(line, '\n', (size_t)(text + len - line));
        if (!eol) eol = text + len;
        size_t n = (size_t)(eol - line);
        if (n && line[n - 1] == '\r') n--;
        line_no++;
        const char *cut = memchr(line, ' ', n);
        if (n == 0 || (line_no == 1 && strncmp(line, "#version", 8) == 0)) {
            /* header or blank line */
        } else if (!cut || memchr(cut + 1, ' ', (size_t)(line + n - cut - 1))) {
            lf_error_set(err, LF_ERR_INPUT, "%s:%d: expected two tokens separated by one space", path,
                         line_no);
            ok = false;
        } else {
            long a = spelled_to_bytes(u2b, line, (size_t)(cut - line), buf);
            long b = a > 0 ? spelled_to_bytes(u2b, cut + 1, (size_t)(line + n - cut - 1), buf + a) : -1;
            int32_t want = 256 + n_merges++;
            size_t n_bytes = b > 0 ? (size_t)(a + b) : 0;
            /* Nearly always the expected token: compared without a hash lookup. */
            int32_t id = b <= 0 ? -1 : makes_token(t, buf, n_bytes, want) ? want : vocab_get(t, buf, n_bytes);
            if (id < 0) {
                lf_error_set(err, LF_ERR_INPUT, "%s:%d: the merge \"%.*s\" makes no token of the vocabulary",
                             path, line_no, (int)n, line);
                ok = false;
            } else if (id != want) {
                lf_error_set(err, LF_ERR_INPUT,
                             "%s:%d: the merge \"%.*s\" makes token id %d, but GPT-2's ids follow merge order "
                             "(expected %d)",
                             path, line_no, (int)n, line, id, want);
                ok = false;
            }
        }
        line = eol + 1;
    }
    if (ok && n_merges != t->n_vocab - 257) {
        lf_error_set(err, LF_ERR_INPUT, "%s: %d merges, but the vocabulary needs %d", path, n_merges,
                     t->n_vocab - 257);
        ok = false;
    }
    free(buf);
    file_text_close(&file);
    return ok;
}

static bool alloc_cache(PieceCache *c) {
    c->slots = calloc(CACHE_SLOTS, sizeof *c->slots);
    c->keys = malloc(CACHE_KEY_ARENA);
    c->ids = malloc(CACHE_ID_ARENA * sizeof *c->ids);
    return c->slots && c->keys && c->ids;
}

Tokenizer *tok_load(const char *vocab_json_path, const char *merges_path, LfError *err) {
    Tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        lf_error_set(err, LF_ERR_IO, "out of memory loading the tokenizer");
        return NULL;
    }
    int16_t u2b[UNICODE_TO_BYTE_SIZE];
    make_unicode_to_byte(u2b);
    bool ok = load_vocab_json(t, vocab_json_path, u2b, err) && index_vocab(t, vocab_json_path, err) &&
              check_merges(t, merges_path, u2b, err);
    if (ok && !alloc_cache(&t->cache)) {
        lf_error_set(err, LF_ERR_IO, "out of memory for the tokenizer cache");
        ok = false;
    }
    if (!ok) {
        tok_free(t);
        return NULL;
    }
    return t;
}

/* The two spellings of a vocabulary directory, OpenAI's first. */
static const char *const VOCAB_FILES[][2] = {
    {"encoder.json", "vocab.bpe"},
    {"vocab.json", "merges.txt"},
};
enum { N_VOCAB_FORMS = sizeof VOCAB_FILES / sizeof VOCAB_FILES[0] };

static bool dir_has_form(const char *dir, int form, char *vocab, char *merges, size_t cap) {
    snprintf(vocab, cap, "%s/%s", dir, VOCAB_FILES[form][0]);
    snprintf(merges, cap, "%s/%s", dir, VOCAB_FILES[form][1]);
    return access(vocab, R_OK) == 0 && access(merges, R_OK) == 0;
}

Tokenizer *tok_load_dir(const char *dir, LfError *err) {
    char vocab[4096], merges[4096];
    for (int form = 0; form < N_VOCAB_FORMS; form++)
        if (dir_has_form(dir, form, vocab, merges, sizeof vocab)) return tok_load(vocab, merges, err);
    lf_error_set(err, LF_ERR_INPUT, "%s holds neither encoder.json + vocab.bpe nor vocab.json + merges.txt",
                 dir);
    return NULL;
}

Tokenizer *tok_load_default(const char *dir, const char *model_dir, LfError *err) {
    if (dir) return tok_load_dir(dir, err);
    const char *places[] = {model_dir, LORAFIT_INSTALL_DATA_DIR "/gpt2", LORAFIT_SOURCE_DATA_DIR "/gpt2"};
    char vocab[4096], merges[4096], tried[LF_ERROR_MAX / 2] = "";
    for (size_t i = 0; i < sizeof places / sizeof places[0]; i++) {
        if (!places[i]) continue;
        for (int form = 0; form < N_VOCAB_FORMS; form++)
            if (dir_has_form(places[i], form, vocab, merges, sizeof vocab)) return tok_load(vocab, merges, err);
        size_t used = strlen(tried);
        snprintf(tried + used, sizeof tried - used, "%s%s", used ? ", " : "", places[i]);
    }
    lf_error_set(err, LF_ERR_INPUT,
                 "no GPT-2 vocabulary (encoder.json + vocab.bpe or vocab.json + merges.txt) in %s; "
                 "give its directory with --vocab DIR",
                 tried);
    return NULL;
}

void tok_free(Tokenizer *t) {
    if (!t) return;
    free(t->bytes);
    free(t->offset);
    free(t->vocab_slots);
    free(t->cache.slots);
    free(t->cache.keys);
    free(t->cache.ids);
    free(t->syms);
    free(t->heap);
    free(t);
}

/* ---- encoding ----------------------------------------------------------------- */

static bool ids_push(TokIds *out, const int32_t *ids, size_t n, LfError *err) {
    if (out->n + n > out->cap) {
        size_t cap = out->cap ? out->cap : 256;
        while (cap < out->n + n) cap *= 2;
        int32_t *bigger = realloc(out->ids, cap * sizeof *bigger);
        if (!bigger) {
            lf_error_set(err, LF_ERR_IO, "out of memory for %zu token ids", cap);
            return false;
        }
        out->ids = bigger;
        out->cap = cap;
    }
    memcpy(out->ids + out->n, ids, n * sizeof *ids);
    out->n += n;
    return true;
}

void tok_ids_free(TokIds *ids) {
    free(ids->ids);
    ids->ids = NULL;
    ids->n = ids->cap = 0;
}

static bool grow_scratch(Tokenizer *t, size_t n, LfError *err) {
    if (n <= t->scratch_cap) return true;
    if (n > INT32_MAX) { /* positions are int32_t, and heap keys keep 32 bits of them */
        lf_error_set(err, LF_ERR_INPUT, "a single word of %zu bytes is more than the tokenizer takes (2 GiB)", n);
        return false;
    }
    size_t cap = pow2_at_least(n);
    Sym *syms = realloc(t->syms, cap * sizeof *syms);
    if (syms) t->syms = syms;
    uint64_t *heap = realloc(t->heap, 2 * cap * sizeof *heap); /* n - 1 pairs + one per merge */
    if (heap) t->heap = heap;
    if (!syms || !heap) {
        lf_error_set(err, LF_ERR_IO, "out of memory for a %zu-byte word", n);
        return false;
    }
    t->scratch_cap = cap;
    return true;
}

/* A binary min-heap of candidate merges keyed rank << 32 | left position,
 * so the lowest rank comes out first and, among equal ranks, the leftmost:
 * the order tiktoken's rescanning loop picks them in. */
static void heap_push(uint64_t *heap, size_t *n, uint64_t key) {
    size_t i = (*n)++;
    while (i > 0 && heap[(i - 1) / 2] > key) {
        heap[i] = heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    heap[i] = key;
}

static uint64_t heap_pop(uint64_t *heap, size_t *n) {
    uint64_t top = heap[0], last = heap[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && heap[c + 1] < heap[c]) c++;
        if (heap[c] >= last) break;
        heap[i] = heap[c];
        i = c;
    }
    if (*n) heap[i] = last;
    return top;
}

/* Where the symbol at position i ends: its bytes are piece[i, sym_end). */
static size_t sym_end(const Sym *syms, size_t n, int32_t i) {
    return syms[i].next >= 0 ? (size_t)syms[i].next : n;
}

/* Queues the merge of the symbol at `left` with the next one, if their
 * concatenation is a token: its id is the merge's rank (see the top of the
 * file). The hash carries left's FNV state on over right's bytes only. */
static void push_candidate(const Tokenizer *t, const char *piece, size_t n, size_t *n_heap, int32_t left) {
    const Sym *syms = t->syms;
    int32_t right = syms[left].next;
    if (right < 0) return;
    size_t end = sym_end(syms, n, right);
    uint64_t h = hash_u64(hash_fnv(syms[left].fnv, piece + right, end - (size_t)right));
    int32_t rank = vocab_find(t, piece + left, end - (size_t)left, h);
    if (rank >= 0) heap_push(t->heap, n_heap, (uint64_t)rank << 32 | (uint32_t)left);
}

/* Byte-pair merging of one piece. A popped candidate is stale if its left
 * symbol has been merged away or its pair changed since it was pushed.
 * Symbols only grow, and a pair's bytes are the piece's bytes from `left`
 * to the right symbol's end, so the pair still makes token `rank` exactly
 * when that span still has rank's length: a check on lengths, no lookup. */
static bool bpe(Tokenizer *t, const char *piece, size_t n, TokIds *out, LfError *err) {
    if (!grow_scratch(t, n, err)) return false;
    Sym *syms = t->syms;
    for (size_t i = 0; i < n; i++)
        syms[i] = (Sym){t->byte_token[(unsigned char)piece[i]], (int32_t)i - 1,
                        i + 1 < n ? (int32_t)i + 1 : -1, hash_fnv(HASH_FNV_START, piece + i, 1)};
    size_t n_heap = 0;
    for (size_t i = 0; i + 1 < n; i++) push_candidate(t, piece, n, &n_heap, (int32_t)i);
    while (n_heap) {
        uint64_t key = heap_pop(t->heap, &n_heap);
        int32_t rank = (int32_t)(key >> 32), left = (int32_t)(key & 0xffffffffu);
        int32_t right = syms[left].next;
        if (syms[left].id < 0 || right < 0) continue;
        size_t end = sym_end(syms, n, right);
        if (end - (size_t)left != token_len(t, rank)) continue;
        syms[left].id = rank;
        syms[left].fnv = hash_fnv(syms[left].fnv, piece + right, end - (size_t)right);
        syms[right].id = -1;
        syms[left].next = syms[right].next;
        if (syms[left].next >= 0) syms[syms[left].next].prev = left;
        if (syms[left].prev >= 0) push_candidate(t, piece, n, &n_heap, syms[left].prev);
        push_candidate(t, piece, n, &n_heap, left);
    }
    for (int32_t i = 0; i >= 0; i = syms[i].next)
        if (!ids_push(out, &syms[i].id, 1, err)) return false;
    return true;
}

static CacheSlot *cache_find(PieceCache *c, const char *s, size_t n, uint64_t h) {
    for (size_t i = h & (CACHE_SLOTS - 1);; i = (i + 1) & (CACHE_SLOTS - 1)) {
        CacheSlot *slot = &c->slots[i];
        if (slot->key_len == 0) return slot;
        if (slot->hash == h && slot->key_len == n && memcmp(c->keys + slot->key_off, s, n) == 0) return slot;
    }
}

static void cache_clear(PieceCache *c) {
    memset(c->slots, 0, CACHE_SLOTS * sizeof *c->slots);
    c->n_entries = c->keys_used = c->ids_used = 0;
}

static void cache_put(PieceCache *c, const char *s, size_t n, uint64_t h, const int32_t *ids, size_t n_ids) {
    if (c->n_entries >= CACHE_MAX_ENTRIES || c->keys_used + n > CACHE_KEY_ARENA ||
        c->ids_used + n_ids > CACHE_ID_ARENA)
        cache_clear(c);
    CacheSlot *slot = cache_find(c, s, n, h);
    memcpy(c->keys + c->keys_used, s, n);
    memcpy(c->ids + c->ids_used, ids, n_ids * sizeof *ids);
    *slot = (CacheSlot){h, (uint32_t)c->keys_used, (uint32_t)c->ids_used, (uint16_t)n, (uint16_t)n_ids};
    c->keys_used += n;
    c->ids_used += n_ids;
    c->n_entries++;
}

/* One pre-tokenizer piece: a whole token, a cached word, or merged. */
static bool encode_piece(Tokenizer *t, const char *s, size_t n, TokIds *out, LfError *err) {
    uint64_t h = hash_bytes(s, n);
    int32_t id = vocab_find(t, s, n, h);
    if (id >= 0) return ids_push(out, &id, 1, err);
    if (n > CACHE_MAX_PIECE) return bpe(t, s, n, out, err);
    CacheSlot *slot = cache_find(&t->cache, s, n, h);
    if (slot->key_len) return ids_push(out, t->cache.ids + slot->ids_off, slot->n_ids, err);
    size_t start = out->n;
    if (!bpe(t, s, n, out, err)) return false;
    cache_put(&t->cache, s, n, h, out->ids + start, out->n - start);
    return true;
}

/* Text with no special token in it. An invalid byte ends the run of text
 * the pre-tokenizer sees; it becomes its own byte token and the text after
 * it starts afresh. */
static bool encode_text(Tokenizer *t, const char *text, size_t start, size_t end, TokIds *out,
                        TokEncodeInfo *info, LfError *err) {
    size_t pos = start;
    while (pos < end) {
        size_t next = tok_split_next(text, end, pos);
        if (next == pos) {
            if (info->n_invalid++ == 0) info->first_invalid = pos;
            if (!ids_push(out, &t->byte_token[(unsigned char)text[pos]], 1, err)) return false;
            next = pos + 1;
        } else if (!encode_piece(t, text + pos, next - pos, out, err)) {
            return false;
        }
        pos = next;
    }
    return true;
}

/* memmem() is a GNU extension; memchr for the "<" does the same job. */
static const char *find_special(const char *text, size_t start, size_t end) {
    const size_t n = sizeof TOK_EOT_TEXT - 1;
    for (const char *p = text + start; (size_t)(text + end - p) >= n; p++) {
        p = memchr(p, TOK_EOT_TEXT[0], (size_t)(text + end - p) - n + 1);
        if (!p) return NULL;
        if (memcmp(p, TOK_EOT_TEXT, n) == 0) return p;
    }
    return NULL;
}

bool tok_encode(Tokenizer *t, const char *text, size_t len, TokSpecial special, TokIds *out,
                TokEncodeInfo *info, LfError *err) {
    TokEncodeInfo scratch_info;
    if (!info) info = &scratch_info;
    *info = (TokEncodeInfo){0, 0};
    if (special == TOK_SPECIAL_AS_TEXT) return encode_text(t, text, 0, len, out, info, err);
    const char *found = find_special(text, 0, len);
    if (found && special == TOK_SPECIAL_REJECT) {
        lf_error_set(err, LF_ERR_INPUT,
                     "the text contains the special token %s at byte %zu, which is not allowed here",
                     TOK_EOT_TEXT, (size_t)(found - text));
        return false;
    }
    size_t pos = 0;
    while (found) {
        size_t at = (size_t)(found - text);
        int32_t eot = TOK_EOT;
        if (!encode_text(t, text, pos, at, out, info, err) || !ids_push(out, &eot, 1, err)) return false;
        pos = at + sizeof TOK_EOT_TEXT - 1;
        found = find_special(text, pos, len);
    }
    return encode_text(t, text, pos, len, out, info, err);
}

/* ---- decoding and lookups ------------------------------------------------------- */

char *tok_decode(const Tokenizer *t, const int32_t *ids, size_t n, size_t *len_out, LfError *err) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->n_vocab) {
            lf_error_set(err, LF_ERR_INPUT, "token id %ld at position %zu is not in the vocabulary (0..%d)",
                         (long)ids[i], i, t->n_vocab - 1);
            return NULL;
        }
        total += token_len(t, ids[i]);
    }
    char *text = malloc(total + 1);
    if (!text) {
        lf_error_set(err, LF_ERR_IO, "out of memory decoding %zu tokens", n);
        return NULL;
    }
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(text + used, t->bytes + t->offset[ids[i]], token_len(t, ids[i]));
        used += token_len(t, ids[i]);
    }
    text[used] = '\0';
    if (len_out) *len_out = used;
    return text;
}

const char *tok_token_bytes(const Tokenizer *t, int32_t id, size_t *len) {
    if (id < 0 || id >= t->n_vocab) return NULL;
    *len = token_len(t, id);
    return t->bytes + t->offset[id];
}

int tok_vocab_size(const Tokenizer *t) { return t->n_vocab; }
