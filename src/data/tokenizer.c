/* tokenizer.c - loading GPT-2's vocabulary (see include/lorafit/data/tokenizer.h):
 * encoder.json / vocab.json into the vocab table, vocab.bpe / merges.txt
 * checked against it, cJSON's memory while it parses, and where the files
 * are looked for. Merging, encoding and decoding are bpe.c; the
 * pre-tokenizer is tokenizer_split.c.
 *
 * There is no table of merges. tiktoken merges two adjacent parts whenever
 * their concatenated bytes are a token, ranked by that token's rank, and
 * GPT-2's ids follow merge order, so the rank of merging a and b is simply
 * the id of bytes(a) + bytes(b) in the vocab table (<|endoftext|> is not
 * in it, so it is never made). Loading checks that the merges file says
 * exactly that.
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
#include "lorafit/util/mem.h"
#include "tokenizer_internal.h"

#ifndef MAP_POPULATE
#define MAP_POPULATE 0 /* not Linux: the pages fault in as they are read */
#endif

/* ---- vocab: bytes -> id --------------------------------------------------- */

/* Adds token id, unless a token with the same bytes is there already
 * (false then): one hash and one probe sequence for both. */
static bool vocab_add(Tokenizer *t, int32_t id) {
    const char *s = t->bytes + t->offset[id];
    size_t n = tok_token_len(t, id);
    uint64_t h = tok_hash_bytes(s, n), tag = h >> 32 << 32;
    size_t i = h & t->vocab_mask;
    for (; t->vocab_slots[i]; i = (i + 1) & t->vocab_mask) {
        uint64_t v = t->vocab_slots[i];
        if ((v & ~0xffffffffULL) != tag) continue;
        int32_t other = (int32_t)(v & 0xffffffffu) - 1;
        if (tok_token_len(t, other) == n && memcmp(t->bytes + t->offset[other], s, n) == 0) return false;
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
    size_t cap = tok_pow2_at_least(2 * (size_t)t->n_vocab);
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
        t->byte_token[b] = tok_vocab_get(t, &c, 1);
        if (t->byte_token[b] < 0) {
            lf_error_set(err, LF_ERR_INPUT, "%s: no token for the byte 0x%02x", path, b);
            return false;
        }
    }
    return true;
}

/* Whether s[0..n) are the bytes of token `id`, which tok_vocab_get would then
 * return, since no two tokens have the same bytes. <|endoftext|> is not in
 * the vocab table, so it is never the answer. */
static bool makes_token(const Tokenizer *t, const char *s, size_t n, int32_t id) {
    return id < t->n_vocab && id != TOK_EOT && tok_token_len(t, id) == n &&
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
            int32_t id = b <= 0 ? -1 : makes_token(t, buf, n_bytes, want) ? want : tok_vocab_get(t, buf, n_bytes);
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
    if (ok && !bpe_cache_alloc(&t->cache)) {
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
