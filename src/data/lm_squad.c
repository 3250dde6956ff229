/* lm_squad.c - SQuAD v1.1 / v2.0 files into records (see lm_data.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lm_data_internal.h"

/* Which question is being read, for messages. */
typedef struct {
    LmSource *src;
    size_t article, paragraph, question; /* 1-based */
} SquadPlace;

static void squad_error(SquadPlace *p, size_t offset, LfError *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void squad_error(SquadPlace *p, size_t offset, LfError *err, const char *fmt, ...) {
    char where[512], place[128], what[256];
    lm_source_where(p->src, offset, where, sizeof where);
    int n = 0;
    if (p->question) n = snprintf(place, sizeof place, "question %zu of ", p->question);
    if (p->paragraph) snprintf(place + n, sizeof place - (size_t)n, "paragraph %zu of ", p->paragraph);
    else place[n] = '\0';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    lf_error_set(err, LF_ERR_INPUT, "%s: %sarticle %zu %s", where, place, p->article, what);
}

/* obj[key] when it is a string, else an error ("has no" / "has a non-string"). */
static const char *squad_string(SquadPlace *p, const cJSON *obj, size_t at, const char *key, LfError *err) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsString(item)) {
        squad_error(p, at, err, item ? "has a non-string \"%s\"" : "has no \"%s\"", key);
        return NULL;
    }
    return item->valuestring;
}

/* obj[key] when it is an array (an object for the "data" root). */
static const cJSON *squad_array(SquadPlace *p, const cJSON *obj, size_t at, const char *key, LfError *err) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsArray(item)) {
        squad_error(p, at, err, item ? "has a non-list \"%s\"" : "has no \"%s\"", key);
        return NULL;
    }
    return item;
}

/* The gold answers of qa (at offset `at`); the first becomes the completion. */
static bool squad_answers(SquadPlace *p, const cJSON *qa, size_t at, LmRecord *r, LfError *err) {
    const cJSON *answers = squad_array(p, qa, at, "answers", err);
    if (!answers) return false;
    int n = cJSON_GetArraySize(answers);
    if (n == 0) {
        squad_error(p, at, err, "has no answer: its \"answers\" list is empty (only a v2.0 question "
                    "with \"is_impossible\": true may have none)");
        return false;
    }
    r->answers = calloc((size_t)n, sizeof *r->answers);
    if (!r->answers) goto oom;
    const cJSON *a;
    cJSON_ArrayForEach(a, answers) {
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(a, "text");
        if (!cJSON_IsString(text)) {
            squad_error(p, lm_child_offset(p->src, at, qa, answers), err, "answer %d has no \"text\"",
                        r->n_answers + 1);
            return false;
        }
        if (!(r->answers[r->n_answers++] = strdup(text->valuestring))) goto oom;
    }
    int len;
    const char *first = lm_trim(r->answers[0], &len);
    if (len == 0) {
        squad_error(p, at, err, "answer 1 is empty");
        return false;
    }
    if (!(r->completion = lm_printf(" %.*s", len, first))) goto oom;
    return true;
oom:
    lf_error_set(err, LF_ERR_IO, "out of memory reading %s", p->src->name);
    return false;
}

static void squad_record_free(LmRecord *r) {
    for (int i = 0; i < r->n_answers; i++) free(r->answers[i]);
    free(r->answers);
    free(r->prompt);
    free(r->completion);
    free(r->id);
}

static bool squad_question(LmData *d, SquadPlace *p, const cJSON *qa, size_t at, const char *context,
                           LfError *err) {
    if (!cJSON_IsObject(qa)) {
        squad_error(p, at, err, "is not a JSON object");
        return false;
    }
    const char *id = squad_string(p, qa, at, "id", err);
    const char *question = id ? squad_string(p, qa, at, "question", err) : NULL;
    if (!question) return false;
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(qa, "is_impossible"))) {
        d->n_unanswerable++;
        return true;
    }
    JsonPosition pos = json_cursor_at(&p->src->cursor, at);
    LmRecord r = {.line = pos.line, .column = pos.column};
    int clen, qlen;
    const char *c = lm_trim(context, &clen), *q = lm_trim(question, &qlen);
    bool ok = squad_answers(p, qa, at, &r, err);
    if (ok) {
        r.id = strdup(id);
        r.prompt = lm_printf(LM_SQUAD_INSTRUCTION "Context: %.*s\nQuestion: %.*s\nAnswer:", clen, c, qlen, q);
        if (!r.id || !r.prompt) {
            lf_error_set(err, LF_ERR_IO, "out of memory reading %s", p->src->name);
            ok = false;
        }
    }
    if (!ok) {
        squad_record_free(&r);
        return false;
    }
    return lm_data_push(d, &r, err);
}

/* Offsets of every element of `array` (at text offset `at`); NULL when out of memory. */
static size_t *squad_offsets(LmSource *src, const cJSON *array, size_t at, LfError *err) {
    size_t n = (size_t)cJSON_GetArraySize(array);
    size_t *off = malloc((n ? n : 1) * sizeof *off);
    if (!off) {
        lf_error_set(err, LF_ERR_IO, "out of memory reading %s", src->name);
        return NULL;
    }
    json_text_children(src->text, src->len, at, off, n);
    return off;
}

static bool squad_paragraph(LmData *d, SquadPlace *p, const cJSON *para, size_t at, LfError *err) {
    if (!cJSON_IsObject(para)) {
        squad_error(p, at, err, "is not a JSON object");
        return false;
    }
    const char *context = squad_string(p, para, at, "context", err);
    const cJSON *qas = context ? squad_array(p, para, at, "qas", err) : NULL;
    if (!qas) return false;
    size_t qas_at = lm_child_offset(p->src, at, para, qas);
    size_t *off = squad_offsets(p->src, qas, qas_at, err);
    if (!off) return false;
    bool ok = true;
    const cJSON *qa;
    p->question = 0;
    cJSON_ArrayForEach(qa, qas) {
        p->question++;
        if (!(ok = squad_question(d, p, qa, off[p->question - 1], context, err))) break;
    }
    p->question = 0;
    free(off);
    return ok;
}

static bool squad_article(LmData *d, SquadPlace *p, const cJSON *article, size_t at, LfError *err) {
    if (!cJSON_IsObject(article)) {
        squad_error(p, at, err, "is not a JSON object");
        return false;
    }
    const cJSON *paras = squad_array(p, article, at, "paragraphs", err);
    if (!paras) return false;
    size_t paras_at = lm_child_offset(p->src, at, article, paras);
    size_t *off = squad_offsets(p->src, paras, paras_at, err);
    if (!off) return false;
    bool ok = true;
    const cJSON *para;
    p->paragraph = 0;
    cJSON_ArrayForEach(para, paras) {
        p->paragraph++;
        if (!(ok = squad_paragraph(d, p, para, off[p->paragraph - 1], err))) break;
    }
    p->paragraph = 0;
    free(off);
    return ok;
}

bool lm_squad_read(LmData *d, LmSource *src, const cJSON *root, size_t at, LfError *err) {
    d->kind = LM_KIND_SQUAD;
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    if (!cJSON_IsArray(data)) {
        char where[512];
        lf_error_set(err, LF_ERR_INPUT, "%s: \"data\" is not a list of articles (a SQuAD file is {\"data\": [...]})",
                     lm_source_where(src, at, where, sizeof where));
        return false;
    }
    size_t data_at = lm_child_offset(src, at, root, data);
    size_t *off = squad_offsets(src, data, data_at, err);
    if (!off) return false;
    SquadPlace p = {src, 0, 0, 0};
    bool ok = true;
    const cJSON *article;
    cJSON_ArrayForEach(article, data) {
        p.article++;
        if (!(ok = squad_article(d, &p, article, off[p.article - 1], err))) break;
    }
    free(off);
    return ok;
}
