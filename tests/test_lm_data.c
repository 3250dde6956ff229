/* test_lm_data.c - the language-model readers (lm_data.h) on the fixtures in
 * tests/fixtures/lm. Expected prompts are written out from the documented
 * templates (chapter 7's text typed in again here, not taken from the
 * header); line:column positions of records were computed by Python's
 * str.index/count on the fixture files; error positions for malformed JSON
 * are Python's json module's ("line 3 column 5"). */
#include <string.h>

#include "check.h"
#include "lorafit/data/lm_data.h"

static LmData *load(const char *rel, LfError *err) {
    char path[1024];
    check_source_path(path, sizeof path, rel);
    return lm_data_load(path, err);
}

/* Loads a fixture that must fail; its message must contain `want`. */
static void expect_error(const char *rel, const char *want) {
    LfError err = {0};
    LmData *d = load(rel, &err);
    CHECK(d == NULL, "%s: loaded, expected an error", rel);
    CHECK(err.kind == LF_ERR_INPUT, "%s: error kind %d (%s)", rel, err.kind, err.msg);
    CHECK(strstr(err.msg, want) != NULL, "%s:\n  got:  %s\n  want: ...%s...", rel, err.msg, want);
    lm_data_free(d);
}

static void expect_memory_error(const char *text, const char *name, const char *want) {
    LfError err = {0};
    LmData *d = lm_data_load_memory(text, strlen(text), name, &err);
    CHECK(d == NULL && err.kind == LF_ERR_INPUT, "%s: expected an input error", name);
    CHECK(strstr(err.msg, want) != NULL, "%s:\n  got:  %s\n  want: ...%s...", name, err.msg, want);
    lm_data_free(d);
}

static void test_squad_v1(void) {
    LfError err = {0};
    LmData *d = load("tests/fixtures/lm/squad_v1.json", &err);
    REQUIRE(d != NULL, "squad_v1.json: %s", err.msg);
    CHECK(d->kind == LM_KIND_SQUAD, "kind %d", d->kind);
    REQUIRE(d->n == 3, "records %zu", d->n);
    CHECK(d->n_unanswerable == 0, "unanswerable %zu", d->n_unanswerable);
    const LmRecord *r = &d->records[0];
    CHECK_STR_EQ(r->prompt, "Answer the question using the context.\n\n"
                            "Context: Super Bowl 50 was played in Santa Clara. The Denver Broncos won.\n"
                            "Question: Who won Super Bowl 50?\nAnswer:");
    CHECK_STR_EQ(r->completion, " The Denver Broncos");
    CHECK_STR_EQ(r->id, "q1");
    REQUIRE(r->n_answers == 2, "answers %d", r->n_answers);
    CHECK_STR_EQ(r->answers[0], "The Denver Broncos");
    CHECK_STR_EQ(r->answers[1], "Denver Broncos");
    CHECK(r->line == 10 && r->column == 13, "q1 at %ld:%ld", r->line, r->column);
    CHECK(d->records[1].line == 15 && d->records[1].column == 13, "q2 at %ld:%ld", d->records[1].line,
          d->records[1].column);
    r = &d->records[2];
    CHECK_STR_EQ(r->prompt, "Answer the question using the context.\n\nContext: Zürich liegt in der Schweiz.\n"
                            "Question: Wo liegt Zürich?\nAnswer:");
    CHECK_STR_EQ(r->completion, " in der Schweiz");
    CHECK(r->line == 27 && r->column == 61, "q3 at %ld:%ld (columns count characters)", r->line, r->column);
    char where[256];
    CHECK(strstr(lm_data_where(d, 2, where, sizeof where), "squad_v1.json:27:61") != NULL, "%s", where);
    CHECK(lm_kind_masks_prompt(d->kind), "SQuAD masks the prompt by default");
    lm_data_free(d);
}

static void test_squad_v2(void) {
    LfError err = {0};
    LmData *d = load("tests/fixtures/lm/squad_v2.json", &err);
    REQUIRE(d != NULL, "squad_v2.json: %s", err.msg);
    CHECK(d->n == 1, "records %zu", d->n);
    CHECK(d->n_unanswerable == 1, "unanswerable %zu", d->n_unanswerable);
    CHECK_STR_EQ(d->records[0].id, "a1");
    CHECK_STR_EQ(d->records[0].completion, " Ada");
    CHECK(d->records[0].line == 2 && d->records[0].column == 1, "a1 at %ld:%ld", d->records[0].line,
          d->records[0].column);
    lm_data_free(d);
    expect_memory_error("{\"data\": [{\"paragraphs\": [{\"context\": \"c\", \"qas\": [{\"id\": \"i\", \"question\": "
                        "\"q\", \"answers\": [], \"is_impossible\": true}]}]}]}",
                        "v2.json", "v2.json: all 1 questions are unanswerable");
}

static const char *const ALPACA_1 =
    "Below is an instruction that describes a task. Write a response that appropriately completes the request."
    "\n\n### Instruction:\nIdentify the correct spelling of the following word.\n\n### Input:\nOcassion"
    "\n\n### Response:\n";
static const char *const ALPACA_2 =
    "Below is an instruction that describes a task. Write a response that appropriately completes the request."
    "\n\n### Instruction:\nWhat is an antonym of 'complicated'?\n\n### Response:\n";

static void test_alpaca(const char *rel, long line1, long col1) {
    LfError err = {0};
    LmData *d = load(rel, &err);
    REQUIRE(d != NULL, "%s: %s", rel, err.msg);
    CHECK(d->kind == LM_KIND_ALPACA, "%s: kind %d", rel, d->kind);
    REQUIRE(d->n == 2, "%s: records %zu", rel, d->n);
    CHECK_STR_EQ(d->records[0].prompt, ALPACA_1);
    CHECK_STR_EQ(d->records[0].completion, "The correct spelling is 'Occasion.'");
    CHECK_STR_EQ(d->records[1].prompt, ALPACA_2); /* empty or absent input: no Input section */
    CHECK_STR_EQ(d->records[1].completion, "An antonym of 'complicated' is 'simple'.");
    CHECK(d->records[0].id == NULL && d->records[0].answers == NULL, "no SQuAD fields");
    CHECK(d->records[0].line == line1 && d->records[0].column == col1, "%s: record 1 at %ld:%ld", rel,
          d->records[0].line, d->records[0].column);
    CHECK(!lm_kind_masks_prompt(d->kind), "chapter 7 counts every token");
    lm_data_free(d);
}

static void test_other_kinds(void) {
    LfError err = {0};
    LmData *d = load("tests/fixtures/lm/prompt_completion.jsonl", &err);
    REQUIRE(d != NULL, "prompt_completion.jsonl: %s", err.msg);
    CHECK(d->kind == LM_KIND_PROMPT_COMPLETION, "kind %d", d->kind);
    REQUIRE(d->n == 3, "records %zu (the blank line is skipped)", d->n);
    CHECK_STR_EQ(d->records[1].prompt, "Q: ");
    CHECK_STR_EQ(d->records[1].completion, "Paris");
    CHECK(d->records[1].line == 3 && d->records[1].column == 0, "line %ld", d->records[1].line);
    CHECK(d->records[2].line == 4, "line %ld (after a CRLF line)", d->records[2].line);
    lm_data_free(d);

    d = load("tests/fixtures/lm/text.txt", &err);
    REQUIRE(d != NULL, "text.txt: %s", err.msg);
    CHECK(d->kind == LM_KIND_TEXT && d->n == 1, "kind %d, %zu records", d->kind, d->n);
    CHECK_STR_EQ(d->records[0].prompt, "");
    CHECK_STR_EQ(d->records[0].completion, "Hello world");
    lm_data_free(d);

    d = load("tests/fixtures/lm/text.jsonl", &err);
    REQUIRE(d != NULL, "text.jsonl: %s", err.msg);
    CHECK(d->kind == LM_KIND_TEXT && d->n == 3, "kind %d, %zu records", d->kind, d->n);
    lm_data_free(d);

    /* Recognised by content: JSON lines in a .json file, a list without extension, text. */
    const char *lines = "{\"prompt\": \"a\", \"completion\": \"b\"}\n{\"prompt\": \"c\", \"completion\": \"d\"}\n";
    d = lm_data_load_memory(lines, strlen(lines), "x.json", &err);
    CHECK(d && d->n == 2 && d->kind == LM_KIND_PROMPT_COMPLETION, "JSON lines in .json: %s", err.msg);
    lm_data_free(d);
    const char *list = "\xEF\xBB\xBF [{\"text\": \"doc\"}]";
    d = lm_data_load_memory(list, strlen(list), "data", &err);
    CHECK(d && d->n == 1 && d->kind == LM_KIND_TEXT, "a list with a BOM, no extension: %s", err.msg);
    lm_data_free(d);
    const char *single = "{\n  \"prompt\": \"p\",\n  \"completion\": \"c\"\n}\n";
    d = lm_data_load_memory(single, strlen(single), "one.json", &err);
    CHECK(d && d->n == 1, "one pretty-printed record: %s", err.msg);
    lm_data_free(d);
    d = lm_data_load_memory("plain {text}", 12, "notes", &err);
    CHECK(d && d->kind == LM_KIND_TEXT, "plain text without extension: %s", err.msg);
    lm_data_free(d);
}

static void test_errors(void) {
    expect_error("tests/fixtures/lm/err_squad_no_answers.json",
                 "err_squad_no_answers.json:3:3: question 2 of paragraph 1 of article 1 has no \"answers\"");
    expect_error("tests/fixtures/lm/err_malformed.json", "err_malformed.json:3:5: malformed JSON");
    expect_error("tests/fixtures/lm/err_missing_field.jsonl",
                 "err_missing_field.jsonl:3: record 3 has no \"completion\"");
    expect_error("tests/fixtures/lm/err_trailing.jsonl",
                 "err_trailing.jsonl:2:36: more text after the JSON object");
    expect_memory_error("", "empty.jsonl", "empty.jsonl: no records: the file is empty");
    expect_memory_error(" \n", "blank.txt", "blank.txt: no records");
    /* eval reads the same file: the message is not train's alone */
    expect_memory_error("{\"data\":[{\"paragraphs\":[{\"context\":\"c\",\"qas\":[{\"id\":\"i\",\"question\":\"q\","
                        "\"answers\":[],\"is_impossible\":true}]}]}]}",
                        "v2.json", "v2.json: all 1 questions are unanswerable (SQuAD v2.0 is_impossible): "
                                   "nothing to learn from or score");
    /* an empty .json is empty, not a JSON value cut short */
    expect_memory_error("", "empty.json", "empty.json: no records: the file is empty");
    expect_memory_error("\xEF\xBB\xBF \r\n", "bom.json", "bom.json: no records: the file is empty");
    expect_memory_error("[{\"foo\": 1}]", "k.json", "k.json:1:2: record 1 has none of the fields lorafit reads");
    expect_memory_error("[{\"instruction\": \"i\", \"output\": 3}]", "n.json",
                        "n.json:1:2: record 1: \"output\" is not a string");
    expect_memory_error("[{\"text\": \"a\"}, 7]", "s.json", "s.json:1:17: record 2 is not a JSON object");
    expect_memory_error("[1] [2]", "t.json", "t.json:1:5: more text after the JSON value");
    expect_memory_error("42", "u.json", "u.json:1:1: expected a SQuAD object");
    expect_memory_error("{\"data\": {}}", "v.json", "v.json:1:1: \"data\" is not a list of articles");
    expect_memory_error("{\"data\": [{\"paragraphs\": [{\"qas\": []}]}]}", "w.json",
                        "w.json:1:27: paragraph 1 of article 1 has no \"context\"");
    expect_memory_error("{\"data\": [{\"paragraphs\": [{\"context\": \"c\", \"qas\": [{\"id\": \"i\", \"question\": "
                        "\"q\", \"answers\": [{\"start\": 0}]}]}]}]}",
                        "x.json", "x.json:1:92: question 1 of paragraph 1 of article 1 answer 1 has no \"text\"");
    expect_memory_error("{\"data\": [{\"paragraphs\": [{\"context\": \"c\", \"qas\": [{\"id\": 5}]}]}]}", "y.json",
                        "y.json:1:52: question 1 of paragraph 1 of article 1 has a non-string \"id\"");
    {   /* a NUL in plain text: named where it is, not the text silently cut there */
        LfError err = {0};
        LmData *d = lm_data_load_memory("line one\nab\0cd\n", 15, "nul.txt", &err);
        CHECK(d == NULL && err.kind == LF_ERR_INPUT && strstr(err.msg, "nul.txt:2:3: NUL byte"),
              "a NUL byte in text: %s", d ? "loaded" : err.msg);
        lm_data_free(d);
    }
    /* Python says 2:14, just past the end; cJSON points at the last character. */
    expect_memory_error("[{\"text\": \"a\"},\n {\"text\": \"b\"", "z.json", "z.json:2:13: malformed JSON");
}

/* The word after `marker` in s, up to the next '.', into buf. */
static const char *word_after(const char *s, const char *marker, char *buf, size_t size) {
    const char *at = strstr(s, marker);
    if (!at) return "";
    at += strlen(marker);
    size_t n = strcspn(at, ".");
    snprintf(buf, size, "%.*s", (int)(n < size ? n : size - 1), at);
    return buf;
}

/* The committed synthetic fixtures (scripts/make-synthetic-squad.py): every
 * answer is the function of its prompt the generator promises, worked out
 * here again from the prompt text. */
static void test_synthetic(const char *task, size_t n_train, size_t n_dev) {
    const char *splits[] = {"train", "dev"};
    for (int s = 0; s < 2; s++) {
        char rel[256];
        snprintf(rel, sizeof rel, "tests/fixtures/lm/synthetic_%s_%s.json", task, splits[s]);
        LfError err = {0};
        LmData *d = load(rel, &err);
        REQUIRE(d != NULL, "%s: %s", rel, err.msg);
        CHECK(d->kind == LM_KIND_SQUAD && d->n == (s ? n_dev : n_train), "%s: %zu records", rel, d->n);
        size_t right = 0;
        for (size_t i = 0; i < d->n; i++) {
            const LmRecord *r = &d->records[i];
            char want[64], name[64], fact[96];
            if (strcmp(task, "copy") == 0) {
                word_after(r->prompt, "The secret word is ", want, sizeof want);
            } else {
                const char *q = strstr(r->prompt, "Question: What does ");
                snprintf(name, sizeof name, "%s", q ? q + strlen("Question: What does ") : "");
                name[strcspn(name, " ")] = '\0';
                snprintf(fact, sizeof fact, "%s likes ", name);
                word_after(r->prompt, fact, want, sizeof want);
            }
            right += r->n_answers == 1 && strcmp(r->answers[0], want) == 0 && r->completion[0] == ' ' &&
                     strcmp(r->completion + 1, want) == 0;
        }
        CHECK(right == d->n, "%s: %zu of %zu answers follow from the prompt", rel, right, d->n);
        lm_data_free(d);
    }
}

/* SQuAD ids key eval's --predictions map: a repeated one is named at both places. */
static void test_unique_ids(void) {
    const char *dup = "{\"data\":[{\"paragraphs\":[{\"context\":\"c a b\",\"qas\":["
                      "{\"id\":\"q1\",\"question\":\"x\",\"answers\":[{\"text\":\"a\"}]},\n"
                      "{\"id\":\"q2\",\"question\":\"y\",\"answers\":[{\"text\":\"b\"}]},\n"
                      "{\"id\":\"q1\",\"question\":\"z\",\"answers\":[{\"text\":\"b\"}]}]}]}]}";
    LfError err = {0};
    LmData *d = lm_data_load_memory(dup, strlen(dup), "dup.json", &err);
    REQUIRE(d != NULL && d->n == 3, "dup.json: %s", err.msg);
    CHECK(!lm_data_check_unique_ids(d, &err) && err.kind == LF_ERR_INPUT, "a repeated id passed");
    CHECK(strstr(err.msg, "dup.json:3:1: question id \"q1\" was already used at dup.json:1:") != NULL, "got: %s",
          err.msg);
    lm_data_free(d);
    LfError ok_err = {0};
    d = load("tests/fixtures/lm/squad_v2.json", &ok_err);
    REQUIRE(d != NULL, "squad_v2.json: %s", ok_err.msg);
    CHECK(lm_data_check_unique_ids(d, &ok_err), "squad_v2.json's distinct ids: %s", ok_err.msg);
    lm_data_free(d);
}

int main(void) {
    test_unique_ids();
    test_squad_v1();
    test_squad_v2();
    test_alpaca("tests/fixtures/lm/alpaca.json", 2, 5);
    test_alpaca("tests/fixtures/lm/alpaca.jsonl", 1, 0);
    test_other_kinds();
    test_errors();
    test_synthetic("copy", 256, 64);
    test_synthetic("lookup", 256, 64);
    return check_done();
}
