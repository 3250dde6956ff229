/* test_squad_eval.c - SQuAD normalisation, exact match and F1 against
 * hand-computed values (each one worked out from the official v1.1 script's
 * definition, written next to the case, and confirmed by running that
 * script's normalize_answer and f1_score in Python 3.11), and the
 * predictions file (as Python's json.dumps writes the same dict). */
#include <string.h>

#include "check.h"
#include "lorafit/data/squad_eval.h"
#include "lorafit/util/files.h"

static void expect_norm(const char *in, const char *want) {
    char *got = squad_normalize(in);
    REQUIRE(got != NULL, "out of memory");
    CHECK(strcmp(got, want) == 0, "normalize(\"%s\")\n  got:  \"%s\"\n  want: \"%s\"", in, got, want);
    free(got);
}

static void test_normalize(void) {
    expect_norm("The Quick, brown fox!", "quick brown fox");
    expect_norm("theater", "theater");                 /* an article inside a word stays */
    expect_norm("Anthem of thee", "anthem of thee");
    expect_norm("don't", "dont");                      /* punctuation inside a word goes */
    expect_norm("U.S.A.", "usa");
    expect_norm("the-end", "theend");                  /* punctuation first, so no article is left */
    expect_norm("a_b", "ab");                          /* '_' is punctuation */
    expect_norm("  A  an   THE  ", "");
    expect_norm("an apple a day", "apple day");
    expect_norm("the the", "");
    expect_norm("$1,000.50", "100050");
    expect_norm("Tab\tnew\nline", "tab new line");
    expect_norm("", "");
    expect_norm("Über Straße", "über straße");          /* non-ASCII lowercased; ß stays */
    expect_norm("ΟΔΟΣ", "οδος");                        /* final sigma ς (U+03C2) at the end */
    expect_norm("ΣΑΣ ΟΔΟΣ.", "σας οδος");                /* σ inside a word, ς at the end */
    expect_norm("İ", "i\xCC\x87");                       /* U+0130 -> i + U+0307, as str.lower() */
    expect_norm("a\xC2\xA0" "b", "b");                  /* U+00A0 separates words; "a" is an article */
    expect_norm("x\xE3\x80\x80y", "x y");               /* U+3000 is whitespace to str.split() */
    expect_norm("l\xE2\x80\x99" "a", "l\xE2\x80\x99");  /* ’ is not ASCII punctuation, nor a word char */
    expect_norm("thé", "thé");                          /* é is a word character: no article */
    expect_norm("\xE2\x80\x94the\xE2\x80\x94", "\xE2\x80\x94 \xE2\x80\x94"); /* em dashes around "the" */
    expect_norm("caf\xFF" " the", "caf\xEF\xBF\xBD");    /* invalid UTF-8 reads as U+FFFD */
    expect_norm("\xC3<\x89", "\xEF\xBF\xBD\xEF\xBF\xBD");   /* ...byte by byte: no "É" once '<' is gone */
}

static void test_scores(void) {
    const char *broncos[] = {"Denver Broncos", "The Denver Broncos", "Broncos"};
    CHECK(squad_exact_match("the denver broncos.", broncos, 3) == 1, "EM over several golds");
    CHECK(squad_f1("Broncos", broncos, 3) == 1, "F1 is the best gold");
    /* "Denver" vs "denver broncos": P 1/1, R 1/2 -> 2/3; vs "broncos": 0. */
    CHECK(check_close(squad_f1("Denver", broncos, 3), 2.0 / 3, 1e-12), "F1 %g", squad_f1("Denver", broncos, 3));
    CHECK(squad_exact_match("Denver", broncos, 3) == 0, "EM 0");
    /* "cat sat on mat" vs "cat on mat": common 3, P 3/4, R 1 -> 6/7. */
    const char *mat[] = {"a cat on a mat"};
    CHECK(check_close(squad_f1("The cat sat on the mat", mat, 1), 6.0 / 7, 1e-12), "F1 6/7");
    /* Counter &: "red red red" vs "red blue": common 1, P 1/3, R 1/2 -> 0.4. */
    const char *red[] = {"red blue"};
    CHECK(check_close(squad_f1("red red red", red, 1), 0.4, 1e-12), "F1 with repeated words");
    /* Repeated words on both sides: "a b b c" -> "b b c" vs "b b b" -> common 2, P 2/3, R 2/3. */
    const char *bbb[] = {"b b b"};
    CHECK(check_close(squad_f1("a b b c", bbb, 1), 2.0 / 3, 1e-12), "F1 %g", squad_f1("a b b c", bbb, 1));
    /* An empty prediction: v1.1 gives EM 1 and F1 0 against a gold that normalises to nothing. */
    const char *the[] = {"The"};
    CHECK(squad_exact_match("", the, 1) == 1, "empty vs \"The\": EM 1");
    CHECK(squad_f1("", the, 1) == 0, "empty vs \"The\": F1 0");
    const char *paris[] = {"Paris"};
    CHECK(squad_exact_match("", paris, 1) == 0 && squad_f1("", paris, 1) == 0, "empty prediction scores 0");
    CHECK(squad_f1("Paris", NULL, 0) == 0, "no gold: 0");

    SquadScore s = {0};
    CHECK(squad_score_add(&s, "Paris", paris, 1), "add");
    CHECK(squad_score_add(&s, "Denver", broncos, 3), "add");
    CHECK(squad_score_add(&s, NULL, paris, 1), "add a question without prediction");
    CHECK(s.n == 3, "questions %zu", s.n);
    CHECK(check_close(squad_score_exact_match(&s), 100.0 / 3, 1e-12), "EM %g", squad_score_exact_match(&s));
    CHECK(check_close(squad_score_f1(&s), 100.0 * (1 + 2.0 / 3) / 3, 1e-12), "F1 %g", squad_score_f1(&s));
    SquadScore none = {0};
    CHECK(squad_score_exact_match(&none) == 0 && squad_score_f1(&none) == 0, "no questions");
}

static void test_predictions_file(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/squad_predictions_test.json", check_env("LORAFIT_TMP", "/tmp"));
    const char *ids[] = {"q1", "q\"2", "q3"};
    const char *answers[] = {"Paris", "Z\xC3\xBCrich\n\\", "\xF0\x9F\x98\x80 \xFF"};
    LfError err = {0};
    REQUIRE(squad_write_predictions(path, ids, answers, 3, &err), "%s", err.msg);
    size_t len;
    char *text = fs_read_file(path, &len, &err);
    REQUIRE(text != NULL, "%s", err.msg);
    /* What Python's json.dumps({...}) writes (ensure_ascii), plus a newline. */
    CHECK_STR_EQ(text, "{\"q1\": \"Paris\", \"q\\\"2\": \"Z\\u00fcrich\\n\\\\\", "
                       "\"q3\": \"\\ud83d\\ude00 \\ufffd\"}\n");
    free(text);
    remove(path);
}

int main(void) {
    test_normalize();
    test_scores();
    test_predictions_file();
    return check_done();
}
