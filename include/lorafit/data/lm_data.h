/* lm_data.h - text files for language-model fine-tuning, read into records.
 *
 * A record is a prompt and a completion: the model reads the prompt and
 * learns to write the completion (lm_encode.h turns records into tokens and
 * adds <|endoftext|> after each completion). lm_data_load() recognises the
 * kind of file by its extension and content:
 *
 *   .txt                  plain text: the whole file is one document.
 *   .jsonl                one JSON object per line (blank lines skipped).
 *   .json                 a SQuAD file (an object with "data"), a list of
 *                         objects, or JSON lines (several objects, one per
 *                         line, as some exporters write them).
 *   anything else         JSON when the text starts with '{' or '[', plain
 *                         text otherwise.
 *
 * The records of a list or of JSON lines are all of one kind, the kind of the
 * first record, found by its fields:
 *
 *   LM_KIND_ALPACA    "instruction", "output", and "input" (may be absent or
 *                     empty) - LLMs-from-scratch chapter 7's format.
 *   LM_KIND_PROMPT_COMPLETION  "prompt", "completion".
 *   LM_KIND_TEXT      "text": each record one document.
 *
 * Other fields are ignored. A later record without a field of its kind, or
 * with a field that is not a string, is an error naming it.
 *
 * The prompts, byte for byte ({x} stands for the field's text):
 *
 * SQuAD (v1.1 and v2.0: data[].paragraphs[].context and .qas[] with "id",
 * "question", "answers"[].text; v2's questions with "is_impossible": true
 * are skipped and counted in n_unanswerable):
 *   prompt:     "Answer the question using the context.\n\nContext: {context}\nQuestion: {question}\nAnswer:"
 *   completion: " {first answer}"
 * The context, question and answer are trimmed of surrounding whitespace
 * first (SQuAD has stray spaces and newlines there); the gold answers are
 * kept as they are, all of them, for scoring (squad_eval.h normalises).
 *
 * Alpaca, as chapter 7's format_input() and desired_response:
 *   prompt:     "Below is an instruction that describes a task. Write a response that
 *                appropriately completes the request.\n\n### Instruction:\n{instruction}"
 *               (one line: a single space after "task."), then, only when input is
 *               not the empty string, "\n\n### Input:\n{input}", then
 *               "\n\n### Response:\n"
 *   completion: "{output}"
 * so prompt + completion is chapter 7's full_text exactly; with
 * --mask-prompt the "### Response:" header is part of the prompt.
 *
 * Prompt/completion: the two fields as they are. Text: prompt "" and the
 * document as completion.
 *
 * Errors are LF_ERR_INPUT and name the place: "FILE:LINE:COLUMN: ..." inside
 * a JSON document, "FILE:LINE: ..." for a JSON line; malformed JSON gives the
 * position cJSON stopped at. Text is kept byte for byte (invalid UTF-8 too:
 * the tokenizer keeps such bytes); a JSON string is cut at a \u0000 escape,
 * as cJSON stores strings NUL-terminated. */
#ifndef LORAFIT_LM_DATA_H
#define LORAFIT_LM_DATA_H

#include <stdbool.h>
#include <stddef.h>

#include "lorafit/util/error.h"

typedef enum {
    LM_KIND_SQUAD = 1,
    LM_KIND_ALPACA,
    LM_KIND_PROMPT_COMPLETION,
    LM_KIND_TEXT,
} LmKind;

/* The SQuAD prompt's fixed parts, for tools that build the same prompt. */
#define LM_SQUAD_INSTRUCTION "Answer the question using the context.\n\n"
/* Chapter 7's fixed text. */
#define LM_ALPACA_PREAMBLE                                                                         \
    "Below is an instruction that describes a task. Write a response that appropriately "         \
    "completes the request."

typedef struct {
    char *prompt;     /* NUL-terminated; "" for text documents */
    char *completion; /* the target text, without <|endoftext|> */
    char *id;         /* SQuAD's question id; NULL for other kinds */
    char **answers;   /* SQuAD's gold answers, as in the file; NULL for other kinds */
    int n_answers;
    long line;        /* where the record starts: 1-based line ... */
    long column;      /* ... and column, or 0 when the record is a whole line */
} LmRecord;

typedef struct {
    LmKind kind;
    char *name;            /* the file name used in messages */
    size_t n;              /* records */
    LmRecord *records;
    size_t n_unanswerable; /* SQuAD v2 questions skipped */
    size_t cap_;           /* private */
} LmData;

/* Reads a file; NULL on failure (LF_ERR_INPUT for the file's faults). An
 * empty file, or one without a record, is an error. */
LmData *lm_data_load(const char *path, LfError *err);

/* The same from memory. `name` stands for the path: its extension counts. */
LmData *lm_data_load_memory(const char *text, size_t len, const char *name, LfError *err);

void lm_data_free(LmData *d);

/* "squad", "alpaca", "prompt-completion", "text". */
const char *lm_kind_name(LmKind kind);

/* Whether the prompt is masked unless told otherwise: yes for SQuAD and
 * prompt/completion, no for Alpaca (chapter 7 counts every token) and text
 * (which has no prompt). */
bool lm_kind_masks_prompt(LmKind kind);

/* Whether every SQuAD question id is distinct (an {id: answer} map such as
 * eval's --predictions cannot hold two); else an LF_ERR_INPUT error naming
 * both places. Records without an id are not compared. */
bool lm_data_check_unique_ids(const LmData *d, LfError *err);

/* "FILE:LINE:COLUMN" or "FILE:LINE" for record i, into buf. */
const char *lm_data_where(const LmData *d, size_t i, char *buf, size_t size);

#endif
