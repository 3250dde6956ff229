/* test_lm_encode.c - LM records into token sequences (lm_encode.h). Token
 * ids of single tokens are looked up by hand in data/gpt2/encoder.json
 * ("Hello" 15496, " world" 995, "Q" 48, ":" 25, " " 220, "Paris" 40313,
 * " Paris" 6342, "one" 505, " two" 734, " three" 1115, " four" 1440,
 * " five" 1936, " six" 2237, " seven" 3598); longer texts are checked
 * against tok_encode() (itself checked against tiktoken by test_tokenizer). */
#include <string.h>

#include "check.h"
#include "lorafit/data/lm_encode.h"

static Tokenizer *tok;

static LmData *load(const char *rel) {
    char path[1024];
    LfError err = {0};
    LmData *d = lm_data_load(check_source_path(path, sizeof path, rel), &err);
    REQUIRE(d != NULL, "%s: %s", rel, err.msg);
    return d;
}

static LmData *load_text(const char *text, const char *name) {
    LfError err = {0};
    LmData *d = lm_data_load_memory(text, strlen(text), name, &err);
    REQUIRE(d != NULL, "%s: %s", name, err.msg);
    return d;
}

/* Whether text i of ts is exactly want[0..n). */
static bool seq_is(const TokenSet *ts, size_t i, const int32_t *want, int n) {
    if (ts->length[i] != n || ts->offset[i + 1] - ts->offset[i] != (size_t)n) return false;
    return memcmp(ts->tokens + ts->offset[i], want, (size_t)n * sizeof *want) == 0;
}

static void test_prompt_completion(void) {
    LmData *d = load("tests/fixtures/lm/prompt_completion.jsonl");
    TokenSet ts;
    LfError err = {0};
    LmEncodeOptions opt = {.max_length = 16, .mask_prompt = true};
    REQUIRE(lm_encode(&ts, tok, d, &opt, &err), "%s", err.msg);
    REQUIRE(ts.n == 3 && ts.labels == NULL && ts.prompt_length != NULL, "n %zu", ts.n);
    static const int32_t hello[] = {15496, 995, TOK_EOT};
    CHECK(seq_is(&ts, 0, hello, 3) && ts.prompt_length[0] == 1, "Hello + world");
    /* "Q: Paris" encodes as Q : " Paris", which does not start with the
     * prompt's own Q : " ": the two are encoded apart. */
    static const int32_t paris[] = {48, 25, 220, 40313, TOK_EOT};
    CHECK(seq_is(&ts, 1, paris, 5) && ts.prompt_length[1] == 3, "Q: + Paris, prompt_length %d", ts.prompt_length[1]);
    /* "<|endoftext|>" in the data is text: only the appended EOT is 50256. */
    int n2 = ts.length[2];
    CHECK(ts.prompt_length[2] == 0 && n2 > 2 && ts.tokens[ts.offset[2] + (size_t)n2 - 1] == TOK_EOT, "EOT last");
    for (int k = 0; k + 1 < n2; k++) CHECK(ts.tokens[ts.offset[2] + (size_t)k] != TOK_EOT, "text EOT at %d", k);
    /* tiktoken's encode_ordinary("<|endoftext|>") is 7 ids: < | end of text | > */
    CHECK(ts.max_length == 16 && ts.n_truncated == 0 && ts.longest == 8 && n2 == 8, "max %d, cut %zu, longest %d", ts.max_length,
          ts.n_truncated, ts.longest);
    uint64_t masked = tokenset_digest(&ts);
    tokenset_free(&ts);

    opt.mask_prompt = false;
    REQUIRE(lm_encode(&ts, tok, d, &opt, &err), "%s", err.msg);
    CHECK(ts.prompt_length[0] == 0 && ts.prompt_length[1] == 0, "no mask: every token counts");
    CHECK(seq_is(&ts, 1, paris, 5), "the same ids");
    CHECK(tokenset_digest(&ts) != masked, "the digest sees the mask");
    tokenset_free(&ts);
    lm_data_free(d);
}

static void test_long_records(void) {
    LmData *d = load_text("{\"prompt\": \"one two three four five six\", \"completion\": \" seven\"}\n", "one.jsonl");
    TokenSet ts;
    LfError err = {0};
    LmEncodeOptions opt = {.max_length = 4, .mask_prompt = true};
    REQUIRE(lm_encode(&ts, tok, d, &opt, &err), "%s", err.msg);
    static const int32_t cut[] = {1936, 2237, 3598, TOK_EOT};
    CHECK(seq_is(&ts, 0, cut, 4), "the prompt is cut from the left");
    CHECK(ts.prompt_length[0] == 2 && ts.full_length[0] == 8 && ts.n_truncated == 1 && ts.longest == 8,
          "prompt %d, full %d, cut %zu", ts.prompt_length[0], ts.full_length[0], ts.n_truncated);
    tokenset_free(&ts);

    opt.max_length = 3; /* the answer, its EOT and one prompt token */
    REQUIRE(lm_encode(&ts, tok, d, &opt, &err), "%s", err.msg);
    static const int32_t tight[] = {2237, 3598, TOK_EOT};
    CHECK(seq_is(&ts, 0, tight, 3) && ts.prompt_length[0] == 1, "one prompt token kept");
    tokenset_free(&ts);

    opt.max_length = 2;
    CHECK(!lm_encode(&ts, tok, d, &opt, &err) && err.kind == LF_ERR_INPUT, "an answer that cannot fit");
    CHECK(strstr(err.msg, "one.jsonl:1: record 1: its answer is 2 tokens with <|endoftext|>, longer than "
                          "--max-length 2 allows after at least one prompt token") != NULL, "%s", err.msg);
    opt = (LmEncodeOptions){.max_length = 4, .mask_prompt = true, .long_prompt = LM_LONG_PROMPT_ERROR};
    CHECK(!lm_encode(&ts, tok, d, &opt, &err) && err.kind == LF_ERR_INPUT, "a prompt that does not fit");
    CHECK(strstr(err.msg, "one.jsonl:1: record 1: its prompt (6 tokens) and answer (2) do not fit in --max-length 4"),
          "%s", err.msg);
    lm_data_free(d);
    d = load_text("{\"prompt\": \"\", \"completion\": \"\"}\n", "empty.jsonl");
    opt.max_length = 8;
    CHECK(!lm_encode(&ts, tok, d, &opt, &err) &&
              strstr(err.msg, "empty.jsonl:1: record 1: its prompt and completion are both empty"), "%s", err.msg);
    opt.max_length = 1;
    CHECK(!lm_encode(&ts, tok, d, &opt, &err) && strstr(err.msg, "--max-length 1 is too small"), "%s", err.msg);
    lm_data_free(d);
}

static void test_windows(void) {
    LmData *d = load("tests/fixtures/lm/text.jsonl"); /* "Hello world", "", "Hello" */
    TokenSet ts;
    LfError err = {0};
    LmEncodeOptions opt = {.max_length = 3, .mask_prompt = true};
    REQUIRE(lm_encode(&ts, tok, d, &opt, &err), "%s", err.msg);
    static const int32_t w3[] = {15496, 995, TOK_EOT};
    CHECK(ts.n == 1 && seq_is(&ts, 0, w3, 3), "max 3: one window, the 1-token rest dropped (n %zu)", ts.n);
    CHECK(ts.prompt_length[0] == 0, "windows have no prompt");
    tokenset_free(&ts);
    opt.max_length = 2;
    REQUIRE(lm_encode(&ts, tok, d, &opt, &err), "%s", err.msg);
    static const int32_t a[] = {15496, 995}, b[] = {TOK_EOT, 15496};
    CHECK(ts.n == 2 && seq_is(&ts, 0, a, 2) && seq_is(&ts, 1, b, 2), "max 2: two windows (n %zu)", ts.n);
    tokenset_free(&ts);
    lm_data_free(d);

    d = load_text("Hello", "one.txt");
    CHECK(!lm_encode(&ts, tok, d, &opt, &err) && strstr(err.msg, "one.txt: the text makes no window"), "%s",
          err.msg);
    lm_data_free(d);
}

/* SQuAD and Alpaca: prompt tokens + answer tokens + EOT, as tok_encode has them. */
static void test_squad_and_alpaca(void) {
    LmData *d = load("tests/fixtures/lm/squad_v1.json");
    TokenSet ts;
    LfError err = {0};
    LmEncodeOptions opt = {.max_length = 1024, .mask_prompt = lm_kind_masks_prompt(d->kind)};
    REQUIRE(lm_encode(&ts, tok, d, &opt, &err), "%s", err.msg);
    TokIds p = {0}, c = {0};
    for (size_t i = 0; i < d->n; i++) {
        p.n = c.n = 0;
        const LmRecord *r = &d->records[i];
        tok_encode(tok, r->prompt, strlen(r->prompt), TOK_SPECIAL_AS_TEXT, &p, NULL, &err);
        tok_encode(tok, r->completion, strlen(r->completion), TOK_SPECIAL_AS_TEXT, &c, NULL, &err);
        const int32_t *t = ts.tokens + ts.offset[i];
        CHECK(ts.prompt_length[i] == (int)p.n && ts.length[i] == (int)(p.n + c.n + 1), "record %zu lengths", i);
        CHECK(memcmp(t, p.ids, p.n * sizeof *t) == 0 && memcmp(t + p.n, c.ids, c.n * sizeof *t) == 0 &&
                  t[p.n + c.n] == TOK_EOT, "record %zu ids", i);
    }
    tokenset_free(&ts);
    lm_data_free(d);

    d = load("tests/fixtures/lm/alpaca.json");
    opt.mask_prompt = lm_kind_masks_prompt(d->kind);
    REQUIRE(lm_encode(&ts, tok, d, &opt, &err), "%s", err.msg);
    char full[1024];
    snprintf(full, sizeof full, "%s%s", d->records[0].prompt, d->records[0].completion);
    p.n = 0;
    tok_encode(tok, full, strlen(full), TOK_SPECIAL_AS_TEXT, &p, NULL, &err);
    CHECK(ts.prompt_length[0] == 0 && ts.length[0] == (int)p.n + 1 &&
              memcmp(ts.tokens, p.ids, p.n * sizeof *p.ids) == 0 && ts.tokens[p.n] == TOK_EOT,
          "Alpaca: chapter 7's encode(full_text) + EOT, every token counted");
    tokenset_free(&ts);
    lm_data_free(d);
    tok_ids_free(&p);
    tok_ids_free(&c);
}

static void test_encode_prompt(void) {
    TokIds ids = {0};
    bool cut;
    LfError err = {0};
    REQUIRE(lm_encode_prompt(tok, "one two three four", 2, &ids, &cut, &err), "%s", err.msg);
    CHECK(ids.n == 2 && ids.ids[0] == 1115 && ids.ids[1] == 1440 && cut, "the last 2 tokens");
    REQUIRE(lm_encode_prompt(tok, "one two", 5, &ids, &cut, &err), "%s", err.msg);
    CHECK(ids.n == 2 && ids.ids[0] == 505 && !cut, "not cut");
    CHECK(!lm_encode_prompt(tok, "one", 0, &ids, &cut, &err) && err.kind == LF_ERR_INPUT, "no room");
    tok_ids_free(&ids);
}

int main(void) {
    char dir[1024];
    LfError err = {0};
    tok = tok_load_dir(check_source_path(dir, sizeof dir, "data/gpt2"), &err);
    if (!tok) check_skip("the GPT-2 vocabulary in data/gpt2 is missing");
    test_prompt_completion();
    test_long_records();
    test_windows();
    test_squad_and_alpaca();
    test_encode_prompt();
    tok_free(tok);
    return check_done();
}
