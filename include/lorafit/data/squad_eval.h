/* squad_eval.h - SQuAD's exact match and F1, as the official v1.1 script
 * (evaluate-v1.1.py) computes them, and a predictions file it accepts.
 *
 * normalize_answer(s) = white_space_fix(remove_articles(remove_punc(lower(s)))):
 *   lower            Python's str.lower(): full Unicode lowercase mapping
 *                    (utf8proc's, plus the two rules str.lower() adds: U+0130
 *                    becomes "i\u0307", and capital sigma becomes final sigma
 *                    at the end of a word, by Python's rule);
 *   remove_punc      drops the 32 ASCII characters of string.punctuation
 *                    (!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~), inside words too:
 *                    "don't" -> "dont"; other punctuation ("’", "—") stays;
 *   remove_articles  re.sub(r'\b(a|an|the)\b', ' ', ...): whole words only
 *                    ("theater" stays), \b between a Unicode word character
 *                    (a letter or number category, or '_') and anything else;
 *   white_space_fix  ' '.join(s.split()): runs of Python's whitespace
 *                    (Unicode White_Space as str.split() knows it, including
 *                    U+00A0 and U+3000) become one space, none at the ends.
 * Exact match: the normalised texts are equal. F1: the normalised texts split
 * at spaces; common = the multiset intersection (Counter &); 0 when nothing
 * is common, else 2PR/(P+R). Both are the best over the gold answers; a
 * question's scores average into percentages, a missing prediction counting 0.
 * As in v1.1 (not v2.0), an empty prediction against a gold answer that
 * normalises to nothing ("the") has exact match 1 and F1 0.
 *
 * Bytes that are not UTF-8 (a model can generate them) read as U+FFFD, one
 * per byte, as squad_write_predictions() writes them, so the score is the
 * one the official script gives the predictions file.
 *
 * Known differences from Python, none of them in SQuAD's English text:
 * "cased" and "case-ignorable" for the final-sigma rule come from the
 * general category (Lu/Ll/Lt; Mn/Me/Cf/Lm/Sk and the apostrophes, period,
 * colon and middle dots), without Unicode's few Other_Lowercase letters. */
#ifndef LORAFIT_SQUAD_EVAL_H
#define LORAFIT_SQUAD_EVAL_H

#include <stdbool.h>
#include <stddef.h>

#include "lorafit/util/error.h"

/* normalize_answer(s), in a new NUL-terminated string (free() it); NULL
 * when out of memory. */
char *squad_normalize(const char *s);

/* The best over golds[0..n) of exact match (0 or 1) and of F1 (0..1). A
 * question without gold answers scores 0. -1 when out of memory. */
double squad_exact_match(const char *prediction, const char *const *golds, int n);
double squad_f1(const char *prediction, const char *const *golds, int n);

/* Running totals over questions. */
typedef struct {
    double exact_match, f1; /* sums of the per-question scores */
    size_t n;               /* questions */
} SquadScore;

/* Adds a question; prediction NULL means none was made (scores 0). False
 * when out of memory. */
bool squad_score_add(SquadScore *s, const char *prediction, const char *const *golds, int n);

/* 100 * mean, as the official script prints them; 0 for no questions. */
double squad_score_exact_match(const SquadScore *s);
double squad_score_f1(const SquadScore *s);

/* Writes {"id": "answer", ...} to path, atomically: the file the official
 * script takes as its predictions. Pure ASCII (non-ASCII as \u escapes, as
 * Python's json.dump writes it), so it reads the same under any locale;
 * bytes that are not UTF-8 become U+FFFD. */
bool squad_write_predictions(const char *path, const char *const *ids, const char *const *answers, size_t n,
                             LfError *err);

#endif
