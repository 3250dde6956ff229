/* test_safetensors.c - the safetensors reader against files Python wrote,
 * the exact F16/BF16 conversions, the writer, and one malformed file per
 * kind of failure with its exact message.
 *
 * Fixtures: scripts/make-safetensors-fixtures.py writes
 * tests/fixtures/safetensors/basic.safetensors and basic.expected (the
 * values as numpy converted them). Malformed files are built here byte by
 * byte, with offsets computed by hand. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "check.h"
#include "lorafit/io/safetensors.h"

static char fixture_dir[4096], tmp_dir[4096];

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* ---- the Python-written fixture --------------------------------------- */

static void test_basic_fixture(void) {
    char path[4200], exp_path[4200];
    snprintf(path, sizeof path, "%s/basic.safetensors", fixture_dir);
    snprintf(exp_path, sizeof exp_path, "%s/basic.expected", fixture_dir);
    LfError err = {0};
    StFile *f = st_open(path, &err);
    CHECK(f != NULL, "st_open(%s): %s", path, err.msg);
    FILE *ef = fopen(exp_path, "r");
    CHECK(ef != NULL, "cannot open %s", exp_path);
    if (!f || !ef) {
        if (ef) fclose(ef);
        st_close(f);
        return;
    }
    CHECK(st_count(f) == 9, "count %d", st_count(f));
    CHECK_STR_EQ(st_path(f), path);
    char line[8192];
    int idx = -1, n_float = 0, n_raw = 0, n_meta = 0;
    const StTensor *t = NULL;
    while (fgets(line, sizeof line, ef)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '#') continue;
        char *save = NULL, *kind = strtok_r(line, " ", &save);
        if (!kind) continue;
        if (strcmp(kind, "tensor") == 0) {
            const char *name = strtok_r(NULL, " ", &save);
            const char *dtype = strtok_r(NULL, " ", &save);
            int ndim = atoi(strtok_r(NULL, " ", &save));
            idx++;
            t = st_find(f, name);
            CHECK(t != NULL, "tensor '%s' not found", name);
            if (!t) continue;
            /* Header order is the Python file's key order, as listed. */
            CHECK(st_tensor(f, idx) == t, "tensor %d is '%s', want '%s'", idx, st_tensor(f, idx)->name, name);
            CHECK_STR_EQ(st_dtype_name(t->dtype), dtype);
            CHECK(t->ndim == ndim, "%s ndim %d want %d", name, t->ndim, ndim);
            int64_t numel = 1;
            for (int d = 0; d < ndim; d++) {
                int64_t want = atoll(strtok_r(NULL, " ", &save));
                CHECK(t->shape[d] == want, "%s shape[%d] %" PRId64 " want %" PRId64, name, d, t->shape[d], want);
                numel *= want;
            }
            CHECK(t->numel == numel, "%s numel %" PRId64 " want %" PRId64, name, t->numel, numel);
            CHECK(t->nbytes == (size_t)numel * st_dtype_size(t->dtype), "%s nbytes %zu", name, t->nbytes);
        } else if (strcmp(kind, "f32") == 0 && t) {
            float got[64];
            CHECK(t->numel <= 64, "fixture tensor too big");
            bool ok = st_read_f32(t, got, (size_t)t->numel, &err);
            CHECK(ok, "st_read_f32(%s): %s", t->name, err.msg);
            for (int64_t i = 0; ok && i < t->numel; i++) {
                uint32_t want = (uint32_t)strtoul(strtok_r(NULL, " ", &save), NULL, 16);
                CHECK(f32_bits(got[i]) == want, "%s[%" PRId64 "] = %08x, numpy says %08x", t->name, i,
                      f32_bits(got[i]), want);
            }
            const float *view = st_f32_view(t);
            CHECK((view != NULL) == (t->dtype == ST_F32), "%s: f32 view %p for %s", t->name, (const void *)view,
                  st_dtype_name(t->dtype));
            if (view && t->numel)
                CHECK(memcmp(view, got, (size_t)t->numel * 4) == 0, "%s: view differs from copy", t->name);
            n_float++;
        } else if (strcmp(kind, "raw") == 0 && t) {
            const char *hex = strtok_r(NULL, " ", &save);
            CHECK(strlen(hex) == 2 * t->nbytes, "%s: raw length", t->name);
            for (size_t i = 0; i < t->nbytes; i++) {
                unsigned v;
                sscanf(hex + 2 * i, "%2x", &v);
                CHECK(((const unsigned char *)t->data)[i] == v, "%s byte %zu", t->name, i);
            }
            float dummy[8];
            CHECK(!st_read_f32(t, dummy, (size_t)t->numel, &err), "st_read_f32 on %s should fail", t->name);
            n_raw++;
        } else if (strcmp(kind, "meta") == 0) {
            char *key = strtok_r(NULL, "\t", &save), *value = strtok_r(NULL, "", &save);
            const char *got = st_metadata(f, key);
            CHECK(got && strcmp(got, value) == 0, "metadata %s = %s, want %s", key, got ? got : "(null)", value);
            n_meta++;
        }
    }
    fclose(ef);
    CHECK(n_float == 7 && n_raw == 2 && n_meta == 2, "expected file: %d float, %d raw, %d meta", n_float, n_raw,
          n_meta);
    CHECK(st_find(f, "nope") == NULL, "st_find of a missing name");
    CHECK(st_find(f, "__metadata__") == NULL, "__metadata__ is not a tensor");
    CHECK(st_metadata(f, "nope") == NULL, "missing metadata key");

    /* Errors of st_read_f32 name the tensor. */
    const StTensor *i64 = st_find(f, "i64");
    float buf[8];
    if (i64) {
        CHECK(!st_read_f32(i64, buf, 3, &err), "I64 read");
        CHECK_STR_EQ(err.msg, "tensor 'i64' has dtype I64, expected a float type (F32, F16, BF16, F64)");
        CHECK(err.kind == LF_ERR_INPUT, "kind");
    }
    const StTensor *m = st_find(f, "f32_2x3");
    if (m) {
        CHECK(!st_read_f32(m, buf, 5, &err), "wrong n");
        CHECK_STR_EQ(err.msg, "tensor 'f32_2x3' has 6 elements, expected 5");
    }
    /* st_peek reads the same bytes as the mapping holds, inside it or not. */
    const StTensor *bf = st_find(f, "bf16_specials");
    if (bf) {
        unsigned char peek[24] = {0}, outside[4] = {1, 2, 3, 4}, got4[4];
        st_peek(f, bf->data, peek, sizeof peek);
        CHECK(memcmp(peek, bf->data, sizeof peek) == 0, "st_peek of bf16_specials");
        st_peek(f, (const unsigned char *)bf->data + 23, peek, 1);
        CHECK(peek[0] == ((const unsigned char *)bf->data)[23], "st_peek of one byte");
        st_peek(f, outside, got4, 4);
        CHECK(memcmp(outside, got4, 4) == 0, "st_peek outside the mapping");
    }
    /* The header as written: 624 bytes, starting with the metadata. */
    size_t hlen = 0;
    const char *hdr = st_header(f, &hlen);
    CHECK(hlen == 624 && strncmp(hdr, "{\"__metadata__\"", 15) == 0, "header %zu bytes", hlen);
    st_close(f);
}

/* ---- conversions ------------------------------------------------------ */

/* The definitions, by arithmetic rather than bit moves: an independent
 * second implementation to compare all 65536 inputs against. */
static double f16_by_definition(unsigned h) {
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
    return s ? -v : v;
}

static double bf16_by_definition(unsigned h) {
    int s = h >> 15, e = (h >> 7) & 255, m = h & 127;
    double v = e == 0 ? ldexp(m, -133) : e == 255 ? (m ? NAN : INFINITY) : ldexp(128 + m, e - 134);
    return s ? -v : v;
}

static void test_conversions(void) {
    int bad16 = 0, badbf = 0;
    for (unsigned h = 0; h < 65536; h++) {
        float a = st_f16_to_f32((uint16_t)h), b = st_bf16_to_f32((uint16_t)h);
        double wa = f16_by_definition(h), wb = bf16_by_definition(h);
        bool neg = h >> 15;
        bool ok_a = (isnan(wa) ? isnan(a) : (double)a == wa) && !!signbit(a) == neg;
        bool ok_b = (isnan(wb) ? isnan(b) : (double)b == wb) && !!signbit(b) == neg;
        if (!ok_a && bad16++ < 5) CHECK(0, "f16 %04x -> %.9g, want %.9g", h, a, wa);
        if (!ok_b && badbf++ < 5) CHECK(0, "bf16 %04x -> %.9g, want %.9g", h, b, wb);
    }
    CHECK(bad16 == 0 && badbf == 0, "%d f16 and %d bf16 conversions wrong", bad16, badbf);
}

/* ---- the writer ------------------------------------------------------- */

static int count_tmp_files(const char *dir, const char *stem) {
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return -1;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, stem, strlen(stem)) == 0 && strstr(e->d_name, ".tmp.")) n++;
    closedir(d);
    return n;
}

static unsigned char *slurp(const char *path, size_t *size) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, fp) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(fp);
    *size = (size_t)n;
    return buf;
}

static void test_writer(void) {
    char path[4200];
    snprintf(path, sizeof path, "%s/rt.safetensors", tmp_dir);
    remove(path);
    LfError err = {0};
    uint16_t h[3] = {0x3c00, 0xc000, 0x0001};
    float x[2] = {1.5f, -0.25f};
    int64_t ints[2] = {-3, 1LL << 50};
    float scalar = 7.0f;
    StWriter *w = st_writer_new();
    REQUIRE(w != NULL, "writer");
    int64_t s3 = 3, s2 = 2, s04[2] = {0, 4};
    CHECK(st_writer_add(w, "a.half", ST_F16, 1, &s3, h, &err), "%s", err.msg);
    CHECK(st_writer_add(w, "b \"q\"", ST_F32, 1, &s2, x, &err), "%s", err.msg);
    CHECK(st_writer_add(w, "c", ST_I64, 1, &s2, ints, &err), "%s", err.msg);
    CHECK(st_writer_add(w, "s", ST_F32, 0, NULL, &scalar, &err), "%s", err.msg);
    CHECK(st_writer_add(w, "z", ST_F32, 2, s04, NULL, &err), "%s", err.msg);
    CHECK(!st_writer_add(w, "c", ST_F32, 1, &s2, x, &err), "duplicate name accepted");
    CHECK_STR_EQ(err.msg, "safetensors writer: tensor 'c' added twice");
    CHECK(st_writer_metadata(w, "k", "v1", &err), "%s", err.msg);
    CHECK(st_writer_metadata(w, "line", "a\nb\\", &err), "%s", err.msg);
    CHECK(st_writer_metadata(w, "k", "v", &err), "%s", err.msg); /* replaces */
    CHECK(st_writer_save(w, path, &err), "save: %s", err.msg);
    st_writer_free(w);
    CHECK(count_tmp_files(tmp_dir, "rt.safetensors") == 0, "temporary file left behind");

    /* Offsets by hand: data goes I64 (16 bytes) first, then the F32s in the
     * order added (8, 4, 0), then F16 (6): c [0,16], b [16,24], s [24,28],
     * z [28,28], a [28,34]. */
    const char *want_hdr =
        "{\"__metadata__\":{\"k\":\"v\",\"line\":\"a\\u000ab\\\\\"},"
        "\"a.half\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[28,34]},"
        "\"b \\\"q\\\"\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]},"
        "\"c\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]},"
        "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[24,28]},"
        "\"z\":{\"dtype\":\"F32\",\"shape\":[0,4],\"data_offsets\":[28,28]}}";
    size_t size = 0;
    unsigned char *raw = slurp(path, &size);
    CHECK(raw != NULL, "cannot read back %s", path);
    if (raw) {
        uint64_t hlen = 0;
        for (int i = 7; i >= 0; i--) hlen = hlen << 8 | raw[i];
        size_t wl = strlen(want_hdr), pad = (8 - wl % 8) % 8;
        CHECK(hlen == wl + pad && hlen % 8 == 0, "header length %" PRIu64 ", want %zu", hlen, wl + pad);
        CHECK(size == 8 + hlen + 34, "file size %zu", size);
        CHECK(hlen >= wl && memcmp(raw + 8, want_hdr, wl) == 0, "header text:\n  got:  %.*s\n  want: %s",
              (int)(hlen < 600 ? hlen : 600), (const char *)raw + 8, want_hdr);
        for (size_t i = wl; i < hlen; i++) CHECK(raw[8 + i] == ' ', "padding byte %zu is %02x", i, raw[8 + i]);
        if (size == 8 + hlen + 34) {
            const unsigned char *data = raw + 8 + hlen;
            CHECK(memcmp(data, ints, 16) == 0 && memcmp(data + 16, x, 8) == 0 && memcmp(data + 24, &scalar, 4) == 0 &&
                      memcmp(data + 28, h, 6) == 0,
                  "data bytes");
        }
        free(raw);
    }
    StFile *f = st_open(path, &err);
    CHECK(f != NULL, "reopen: %s", err.msg);
    if (f) {
        CHECK(st_count(f) == 5, "count");
        const char *names[] = {"a.half", "b \"q\"", "c", "s", "z"};
        for (int i = 0; i < 5 && i < st_count(f); i++) CHECK_STR_EQ(st_tensor(f, i)->name, names[i]);
        const StTensor *a = st_find(f, "a.half");
        float got[3];
        if (a && st_read_f32(a, got, 3, &err))
            CHECK(got[0] == 1.0f && got[1] == -2.0f && got[2] == ldexpf(1, -24), "a.half values");
        CHECK(st_f32_view(st_find(f, "b \"q\"")) != NULL, "F32 view of b");
        CHECK(st_metadata(f, "k") && strcmp(st_metadata(f, "k"), "v") == 0, "metadata k");
        CHECK(st_metadata(f, "line") && strcmp(st_metadata(f, "line"), "a\nb\\") == 0, "metadata line");
        CHECK(st_find(f, "s") && st_find(f, "s")->ndim == 0 && st_find(f, "s")->numel == 1, "scalar");
        CHECK(st_find(f, "z") && st_find(f, "z")->numel == 0, "empty");
        st_close(f);
    }

    /* A directory that does not exist: nothing is created. */
    w = st_writer_new();
    st_writer_add(w, "x", ST_F32, 1, &s2, x, &err);
    char bad[4300];
    snprintf(bad, sizeof bad, "%s/no-such-dir/out.safetensors", tmp_dir);
    CHECK(!st_writer_save(w, bad, &err), "save into a missing directory");
    char want[4600];
    snprintf(want, sizeof want, "cannot create a temporary file beside %s: No such file or directory", bad);
    CHECK_STR_EQ(err.msg, want);
    CHECK(err.kind == LF_ERR_IO, "kind");

    /* A write that fails half-way (file size limit): the temporary file is
     * removed and an existing file of that name is left as it was. */
    struct rlimit old;
    getrlimit(RLIMIT_FSIZE, &old);
    struct rlimit small = {4096, old.rlim_max};
    static float big[4096];
    int64_t nbig = 4096;
    st_writer_add(w, "big", ST_F32, 1, &nbig, big, &err);
    signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &small) == 0) {
        bool ok = st_writer_save(w, path, &err);
        setrlimit(RLIMIT_FSIZE, &old);
        CHECK(!ok, "save past the file size limit succeeded");
        CHECK(strncmp(err.msg, "cannot write ", 13) == 0 && strstr(err.msg, "rt.safetensors.tmp.") &&
                  strstr(err.msg, ": File too large"),
              "message: %s", err.msg);
        CHECK(count_tmp_files(tmp_dir, "rt.safetensors") == 0, "temporary file left after a failed write");
        LfError e2 = {0};
        StFile *still = st_open(path, &e2);
        CHECK(still && st_count(still) == 5, "the earlier file was replaced: %s", e2.msg);
        st_close(still);
    }
    st_writer_free(w);
}

/* ---- malformed files -------------------------------------------------- */

/* 8-byte length, header text, then `data` zero bytes. */
static unsigned char *make_file(const char *header, size_t hlen, size_t data, size_t *size) {
    *size = 8 + hlen + data;
    unsigned char *buf = calloc(1, *size);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    memcpy(buf + 8, header, hlen);
    return buf;
}

/* Opening buf (a file made by make_file; freed here) must fail as bad
 * input with exactly the message `want`. */
static void expect_bad_file(unsigned char *buf, size_t size, const char *want, int line) {
    LfError err = {0};
    StFile *f = st_open_memory(buf, size, "bad.safetensors", &err);
    if (f) {
        CHECK(0, "line %d: accepted: %.60s", line, (const char *)buf + 8);
        st_close(f);
    } else {
        CHECK(strcmp(err.msg, want) == 0 && err.kind == LF_ERR_INPUT, "line %d:\n  got:  \"%s\"\n  want: \"%s\"",
              line, err.msg, want);
    }
    free(buf);
}

static void expect_bad(const char *header, size_t data, const char *want, int line) {
    size_t size;
    unsigned char *buf = make_file(header, strlen(header), data, &size);
    expect_bad_file(buf, size, want, line);
}
#define BAD(header, data, want) expect_bad(header, data, want, __LINE__)

static void test_malformed(void) {
    LfError err = {0};
    /* Shorter than the length field. */
    StFile *f = st_open_memory("\x10\0\0\0\0", 5, "bad.safetensors", &err);
    CHECK(!f, "5-byte file accepted");
    CHECK_STR_EQ(err.msg, "bad.safetensors: file is 5 bytes, too short for a safetensors header (needs at least 8)");

    /* Header length larger than the file. */
    unsigned char hl[28] = {0xe8, 0x03};
    f = st_open_memory(hl, sizeof hl, "bad.safetensors", &err);
    CHECK(!f, "long header accepted");
    CHECK_STR_EQ(err.msg, "bad.safetensors: header length 1000 exceeds the 20 bytes that follow it (truncated or "
                          "not a safetensors file)");

    /* Header length above the 100 MB limit (the file really is that big). */
    size_t size;
    unsigned char *huge = make_file("", 0, 100000001, &size);
    huge[0] = 0x01, huge[1] = 0xe1, huge[2] = 0xf5, huge[3] = 0x05; /* 100000001 */
    expect_bad_file(huge, size, "bad.safetensors: header length 100000001 is above the 100000000-byte limit",
                    __LINE__);

    BAD("{\"a\" 1}", 0, "bad.safetensors: header is not valid JSON (error near byte 5 of 7)");
    BAD("{\"a\":{\"dtype\":\"F32\",", 0, "bad.safetensors: header is not valid JSON (error near byte 19 of 20)");
    BAD("[1, 2]", 0, "bad.safetensors: header is not a JSON object");
    BAD("{} x", 0, "bad.safetensors: header has trailing bytes after the JSON object (at byte 3 of 4)");
    BAD("{\"\xff\":1}", 0, "bad.safetensors: header is not valid UTF-8 text");
    unsigned char *nul = make_file("{}\0 ", 4, 0, &size); /* a NUL inside the header */
    expect_bad_file(nul, size, "bad.safetensors: header is not valid UTF-8 text", __LINE__);
    BAD("{\"__metadata__\":{\"a\":1}}", 0, "bad.safetensors: __metadata__ value 'a' is not a string");
    BAD("{\"__metadata__\":[]}", 0, "bad.safetensors: __metadata__ is not an object of strings");
    BAD("{\"t\":[]}", 0,
        "bad.safetensors: tensor 't': expected an object with dtype, shape and data_offsets");
    BAD("{\"t\":{\"shape\":[],\"data_offsets\":[0,4]}}", 4,
        "bad.safetensors: tensor 't': missing string field 'dtype'");
    BAD("{\"t\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
        "bad.safetensors: tensor 't': unknown dtype 'F8_E4M3' (expected one of F64, F32, F16, BF16, I64, I32, I16, "
        "I8, U8, BOOL)");
    BAD("{\"t\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4,
        "bad.safetensors: tensor 't': missing array field 'shape'");
    BAD("{\"t\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
        "bad.safetensors: tensor 't': shape has 9 dimensions, at most 8 supported");
    BAD("{\"t\":{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,4]}}", 4,
        "bad.safetensors: tensor 't': shape[1] is not an integer in [0, 2^53]");
    BAD("{\"t\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,4]}}", 4,
        "bad.safetensors: tensor 't': shape[0] is not an integer in [0, 2^53]");
    BAD("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4,
        "bad.safetensors: tensor 't': data_offsets must be an array [begin, end]");
    BAD("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4,
        "bad.safetensors: tensor 't': data_offsets must be two integers in [0, 2^53]");
    /* Offsets beyond 2^53 (here 10^20) cannot be exact in JSON numbers. */
    BAD("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,100000000000000000000]}}", 4,
        "bad.safetensors: tensor 't': data_offsets must be two integers in [0, 2^53]");
    BAD("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8,
        "bad.safetensors: tensor 't': data_offsets [8, 4] end before they begin");
    /* 2^53 * 2^53 elements overflow 64 bits; 2^53 * 1024 = 2^63 elements do
     * not fit int64; 2^53 * 512 = 2^62 elements fit but their 2^64 bytes do
     * not. */
    BAD("{\"t\":{\"dtype\":\"U8\",\"shape\":[9007199254740992,9007199254740992],\"data_offsets\":[0,0]}}", 0,
        "bad.safetensors: tensor 't': U8 [9007199254740992, 9007199254740992] has more than 2^63 elements or bytes");
    BAD("{\"t\":{\"dtype\":\"U8\",\"shape\":[9007199254740992,1024],\"data_offsets\":[0,0]}}", 0,
        "bad.safetensors: tensor 't': U8 [9007199254740992, 1024] has more than 2^63 elements or bytes");
    BAD("{\"t\":{\"dtype\":\"F32\",\"shape\":[9007199254740992,512],\"data_offsets\":[0,0]}}", 0,
        "bad.safetensors: tensor 't': F32 [9007199254740992, 512] has more than 2^63 elements or bytes");
    BAD("{\"t\":{\"dtype\":\"F32\",\"shape\":[9007199254740992,256],\"data_offsets\":[0,0]}}", 0,
        "bad.safetensors: tensor 't': data_offsets [0, 0] hold 0 bytes but F32 [9007199254740992, 256] needs "
        "9223372036854775808");
    BAD("{\"h.0.attn.c_attn.weight\":{\"dtype\":\"F32\",\"shape\":[768,2304],\"data_offsets\":[0,100]}}", 100,
        "bad.safetensors: tensor 'h.0.attn.c_attn.weight': data_offsets [0, 100] hold 100 bytes but F32 [768, "
        "2304] needs 7077888");
    BAD("{\"t\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[0,4]}}", 4,
        "bad.safetensors: tensor 't': data_offsets [0, 4] hold 4 bytes but BF16 [] needs 2");
    BAD("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4,
        "bad.safetensors: tensor 't': data_offsets [0, 8] reach past the end of the data section (4 bytes)");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
        12, "bad.safetensors: tensors 'a' (data_offsets [0, 8]) and 'b' (data_offsets [4, 12]) overlap");
    /* Overlap hidden behind a span in between: a covers both b and c. */
    BAD("{\"c\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[6,8]},"
        "\"a\":{\"dtype\":\"U8\",\"shape\":[10],\"data_offsets\":[0,10]},"
        "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]}}",
        10, "bad.safetensors: tensors 'a' (data_offsets [0, 10]) and 'b' (data_offsets [2, 4]) overlap");
    BAD("{\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
        "\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}",
        2, "bad.safetensors: tensor 't' appears twice in the header");

    /* Accepted: empty header object, gaps between tensors, trailing data. */
    size_t sz;
    unsigned char *ok = make_file("{}      ", 8, 0, &sz);
    f = st_open_memory(ok, sz, "ok", &err);
    CHECK(f && st_count(f) == 0, "empty file rejected: %s", err.msg);
    st_close(f);
    free(ok);
    const char *gap = "{\"t\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[4,6]}}";
    ok = make_file(gap, strlen(gap), 10, &sz);
    f = st_open_memory(ok, sz, "ok", &err);
    CHECK(f && st_count(f) == 1 && st_tensor(f, 0)->data == ok + 8 + strlen(gap) + 4, "gap rejected: %s", err.msg);
    st_close(f);
    free(ok);
}

static void test_truncated_files(void) {
    char src[4200], dst[4200];
    snprintf(src, sizeof src, "%s/basic.safetensors", fixture_dir);
    size_t size;
    unsigned char *raw = slurp(src, &size);
    CHECK(raw && size == 759, "basic.safetensors is %zu bytes, expected 8 + 624 + 127", size);
    if (!raw) return;
    snprintf(dst, sizeof dst, "%s/truncated.safetensors", tmp_dir);
    LfError err = {0};
    char want[4600];
    /* Cut inside the header. */
    FILE *fp = fopen(dst, "wb");
    fwrite(raw, 1, 100, fp);
    fclose(fp);
    CHECK(st_open(dst, &err) == NULL, "truncated header accepted");
    snprintf(want, sizeof want,
             "%s: header length 624 exceeds the 92 bytes that follow it (truncated or not a safetensors file)", dst);
    CHECK_STR_EQ(err.msg, want);
    /* Cut 4 bytes off the data: bf16_specials [100, 124] (after F64 16, I64
     * 24, F32 24+4+0+4, F16 28 bytes) is the first in header order to reach
     * past the 123 bytes left. */
    fp = fopen(dst, "wb");
    fwrite(raw, 1, size - 4, fp);
    fclose(fp);
    CHECK(st_open(dst, &err) == NULL, "truncated data accepted");
    snprintf(want, sizeof want,
             "%s: tensor 'bf16_specials': data_offsets [100, 124] reach past the end of the data section (123 bytes)",
             dst);
    CHECK_STR_EQ(err.msg, want);
    /* Empty file, missing file, directory. */
    fp = fopen(dst, "wb");
    fclose(fp);
    CHECK(st_open(dst, &err) == NULL, "empty file accepted");
    snprintf(want, sizeof want, "%s: file is 0 bytes, too short for a safetensors header (needs at least 8)", dst);
    CHECK_STR_EQ(err.msg, want);
    remove(dst);
    CHECK(st_open(dst, &err) == NULL, "missing file");
    snprintf(want, sizeof want, "cannot open %s: No such file or directory", dst);
    CHECK_STR_EQ(err.msg, want);
    CHECK(err.kind == LF_ERR_INPUT, "kind");
    CHECK(st_open(tmp_dir, &err) == NULL, "directory");
    snprintf(want, sizeof want, "%s: not a regular file", tmp_dir);
    CHECK_STR_EQ(err.msg, want);
    free(raw);
}

int main(void) {
    check_source_path(fixture_dir, sizeof fixture_dir, "tests/fixtures/safetensors");
    check_tmp_dir(tmp_dir, sizeof tmp_dir, "safetensors");
    test_basic_fixture();
    test_conversions();
    test_writer();
    test_malformed();
    test_truncated_files();
    return check_done();
}
