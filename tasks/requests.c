/* requests.c — documents to log-likelihood requests, as lm-eval 0.4.13's ConfigurableTask does for
 * output_type multiple_choice (api/task.py: build_all_requests, fewshot_context, build_qa_turn,
 * construct_requests; api/samplers.py: ContextSampler.sample):
 *
 *   context = description + for each few-shot doc: text + target_delimiter + answer + fewshot_delimiter
 *             + text(doc)
 *   continuation_i = target_delimiter + choice_i
 *
 * Few-shot docs come from the fewshot split (fewshot_split, else training, else validation, else
 * test) through ONE random.Random(fewshot_seed) per task, consumed doc after doc in doc order:
 * sample(pool, n), or when the fewshot split is the evaluated split, sample(pool, n + 1) minus the
 * evaluated doc, first n (resampling from the pool without it if too few remain). --limit N keeps the
 * first N docs, which draw exactly what they draw in a full run. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/pyrandom.h"
#include "tasks/pystr.h"
#include "tasks/task_impl.h"
#include "tasks/template.h"

/* A rendered document: text, choices, and the target as an index (-1 when it names no choice) and
 * as the answer text few-shot examples show. */
typedef struct rendered {
    char *text;
    int n_choices;
    char **choices;
    int gold;
    char *answer;
    bool has_answer; /* lm-eval build_qa_turn: a is not None and a != "" */
} rendered;

static void rendered_free(rendered *r) {
    free(r->text);
    for (int i = 0; i < r->n_choices; i++) free(r->choices[i]);
    free(r->choices);
    free(r->answer);
    memset(r, 0, sizeof *r);
}

static int render_doc(const ko_task *t, const ko_docrow *doc, rendered *r, ko_err *e) {
    memset(r, 0, sizeof *r);
    char *target = NULL;
    if (ko_template_render(t->doc_to_text, doc, t->maps, &r->text, e) < 0) goto fail;
    if (ko_py_isdigits(r->text)) {
        ko_fail(e, "doc_to_text rendered a number (\"%s\"): lm-eval's multiple-input mode is not supported", r->text);
        goto fail;
    }
    r->choices = ko_xcalloc((size_t)cJSON_GetArraySize(t->doc_to_choice), sizeof(char *));
    const cJSON *c;
    cJSON_ArrayForEach(c, t->doc_to_choice) {
        if (ko_template_render(c->valuestring, doc, t->maps, &r->choices[r->n_choices], e) < 0) goto fail;
        r->n_choices++;
    }
    if (ko_template_render(t->doc_to_target, doc, t->maps, &target, e) < 0) goto fail;
    r->gold = -1;
    if (ko_py_isdigits(target)) {
        /* lm-eval: a target that renders as digits is an index into the choices. */
        long idx = strlen(target) > 9 ? -1 : strtol(target, NULL, 10);
        if (idx < 0 || idx >= r->n_choices) {
            ko_fail(e, "doc_to_target %s is not a choice index (the task has %d choices)", target, r->n_choices);
            goto fail;
        }
        r->gold = (int)idx;
        r->answer = ko_xstrdup(r->choices[idx]);
        r->has_answer = true;
        free(target);
    } else {
        /* Otherwise the target is the answer text itself (lm-eval: gold = choices.index(target)). */
        for (int i = 0; i < r->n_choices && r->gold < 0; i++)
            if (!strcmp(r->choices[i], target)) r->gold = i;
        r->answer = target;
        r->has_answer = target[0] != 0;
    }
    return 0;
fail:
    free(target);
    rendered_free(r);
    return -1;
}

static bool same_doc(const ko_docrow *a, const ko_docrow *b) {
    if (a->n != b->n) return false;
    for (int i = 0; i < a->n; i++)
        if (strcmp(a->names[i], b->names[i]) || strcmp(a->values[i], b->values[i])) return false;
    return true;
}

/* lm-eval's ContextSampler.sample: the indices (into the fewshot split) of doc's n examples. */
static int sample_fewshot(const ko_task *t, ko_pyrandom *rnd, int n, const ko_docrow *eval_doc, int *out,
                          ko_err *e) {
    const ko_dataset *pool = &t->fewshot_ds;
    if (!eval_doc) return ko_pyrandom_sample(rnd, pool->n_docs, n, out, e);
    int *drawn = ko_xmalloc(sizeof(int) * (size_t)(n + 1)), got = 0;
    int rc = ko_pyrandom_sample(rnd, pool->n_docs, n + 1, drawn, e);
    for (int i = 0; rc == 0 && i < n + 1 && got < n; i++)
        if (!same_doc(&pool->docs[drawn[i]], eval_doc)) out[got++] = drawn[i];
    if (rc == 0 && got < n) {
        /* Copies of the evaluated doc were drawn: resample from the pool without any of them. */
        int *keep = ko_xmalloc(sizeof(int) * (size_t)(pool->n_docs ? pool->n_docs : 1)), n_keep = 0;
        for (int i = 0; i < pool->n_docs; i++)
            if (!same_doc(&pool->docs[i], eval_doc)) keep[n_keep++] = i;
        rc = ko_pyrandom_sample(rnd, n_keep, n, out, e);
        for (int i = 0; rc == 0 && i < n; i++) out[i] = keep[out[i]];
        free(keep);
    }
    free(drawn);
    return rc;
}

/* Appends the few-shot examples (build_qa_turn with answers) for one document to ctx. */
static int fewshot_examples(const ko_task *t, ko_pyrandom *rnd, int n, const ko_docrow *doc, ko_buf *ctx,
                            ko_err *e) {
    bool same_split = t->fewshot_split && !strcmp(t->fewshot_split, t->test_split);
    int *idx = ko_xmalloc(sizeof(int) * (size_t)n);
    int rc = sample_fewshot(t, rnd, n, same_split ? doc : NULL, idx, e);
    for (int i = 0; rc == 0 && i < n; i++) {
        const ko_docrow *fs = &t->fewshot_ds.docs[idx[i]];
        rendered r;
        if ((rc = render_doc(t, fs, &r, e)) < 0) {
            ko_fail_prefix(e, "%s: few-shot doc %d of %s", t->name, idx[i], t->fewshot_ds.split);
            break;
        }
        ko_buf_puts(ctx, r.text);
        if (r.has_answer) { /* lm-eval: an empty target gives no delimiter and no answer turn */
            ko_buf_puts(ctx, t->target_delimiter);
            ko_buf_puts(ctx, r.answer);
            ko_buf_puts(ctx, t->fewshot_delimiter);
        }
        rendered_free(&r);
    }
    free(idx);
    return rc;
}

static int build_doc(const ko_task *t, ko_pyrandom *rnd, int num_fewshot, int doc_id, ko_reqdoc *out,
                     ko_err *e) {
    const ko_docrow *doc = &t->eval_ds.docs[doc_id];
    ko_buf ctx = {0};
    rendered r;
    if (t->description[0]) {
        char *d;
        if (ko_template_render(t->description, doc, t->maps, &d, e) < 0) return -1;
        ko_buf_puts(&ctx, d); /* lm-eval: a "system" message rendered with no delimiter */
        free(d);
    }
    if (num_fewshot > 0 && fewshot_examples(t, rnd, num_fewshot, doc, &ctx, e) < 0) {
        ko_buf_free(&ctx);
        return -1;
    }
    if (render_doc(t, doc, &r, e) < 0) {
        ko_buf_free(&ctx);
        return ko_fail_prefix(e, "%s: doc %d of %s", t->name, doc_id, t->eval_ds.split);
    }
    ko_buf_puts(&ctx, r.text);
    out->doc_id = doc_id;
    out->context = ctx.p ? ctx.p : ko_xstrdup("");
    out->n_choices = r.n_choices;
    out->choices = r.choices;
    out->continuations = ko_xmalloc(sizeof(char *) * (size_t)r.n_choices);
    for (int i = 0; i < r.n_choices; i++) out->continuations[i] = ko_xasprintf("%s%s", t->target_delimiter, r.choices[i]);
    out->gold = r.gold;
    out->doc = doc;
    free(r.text);
    free(r.answer);
    return 0;
}

/* The split few-shot examples come from (lm-eval: fewshot_split, else Task.fewshot_docs()). */
static const char *fewshot_split_name(const ko_task *t) {
    if (t->fewshot_split) return t->fewshot_split;
    if (t->training_split) return t->training_split;
    if (t->validation_split) return t->validation_split;
    return t->test_split;
}

void ko_task_requests_free(ko_task *t) {
    for (int i = 0; i < t->n_docs; i++) {
        ko_reqdoc *d = &t->docs[i];
        free(d->context);
        for (int c = 0; c < d->n_choices; c++) {
            free(d->continuations[c]);
            free(d->choices[c]);
        }
        free(d->continuations);
        free(d->choices);
    }
    free(t->docs);
    t->docs = NULL;
    t->n_docs = 0;
    if (t->have_eval) ko_dataset_free(&t->eval_ds);
    if (t->have_fewshot) ko_dataset_free(&t->fewshot_ds);
    t->have_eval = t->have_fewshot = false;
}

static int load_data(ko_task *t, const ko_reqopts *o, ko_err *e) {
    if (ko_dataset_load(o->data_dir, t->dataset_name, t->test_split, &t->eval_ds, e) < 0)
        return ko_fail_prefix(e, "%s", t->name);
    t->have_eval = true;
    if (o->num_fewshot > 0) {
        if (ko_dataset_load(o->data_dir, t->dataset_name, fewshot_split_name(t), &t->fewshot_ds, e) < 0)
            return ko_fail_prefix(e, "%s", t->name);
        t->have_fewshot = true;
        if (t->fewshot_ds.n_docs < o->num_fewshot)
            return ko_fail(e, "%s: --num_fewshot %d but the %s split has only %d docs", t->name, o->num_fewshot,
                           t->fewshot_ds.split, t->fewshot_ds.n_docs);
    }
    return 0;
}

int ko_task_requests(ko_task *t, const ko_reqopts *o, ko_reqdoc **docs, int *n_docs, ko_err *e) {
    *docs = NULL;
    *n_docs = 0;
    ko_task_requests_free(t);
    if (o->num_fewshot < 0) return ko_fail(e, "%s: --num_fewshot must be >= 0", t->name);
    if (o->limit < 0) return ko_fail(e, "%s: --limit must be >= 0", t->name);
    if (load_data(t, o, e) < 0) { ko_task_requests_free(t); return -1; }
    int n = t->eval_ds.n_docs;
    if (o->limit > 0) {
        /* lm-eval get_sample_size: a limit below 1 is a fraction of the split, rounded up. */
        double k = o->limit < 1.0 ? ceil(n * o->limit) : o->limit;
        if (k < n) n = (int)k;
    }
    ko_pyrandom rnd;
    ko_pyrandom_seed(&rnd, o->fewshot_seed);
    t->docs = ko_xcalloc((size_t)(n ? n : 1), sizeof(ko_reqdoc));
    for (int i = 0; i < n; i++) {
        if (build_doc(t, &rnd, o->num_fewshot, i, &t->docs[i], e) < 0) {
            ko_task_requests_free(t);
            return -1;
        }
        t->n_docs++;
    }
    *docs = t->docs;
    *n_docs = t->n_docs;
    return 0;
}
