/* samples.c — --log_samples: lm-eval 0.4.13's per-document records (evaluator.evaluate's `example`
 * dict, then EvaluationTracker.save_results_samples: arguments re-keyed gen_args_i/arg_j, resps and
 * filtered_resps turned into strings by sanitize_list, target by str(); one json.dumps line each). */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "reports/report_impl.h"
#include "tasks/metrics.h"

/* Two lm-eval facts the task configs do not carry, because koeval's configs produce the same
 * requests by simpler means: hellaswag's process_docs adds query/choices/gold to every doc (and
 * lm-eval logs and hashes the doc with them), and copa's doc_to_target is a function returning the
 * answer's text rather than the label. */
typedef struct doc_quirks {
    const char *task;
    bool hellaswag_fields;   /* doc gains "query": "문장: " + context, "choices", "gold" */
    bool target_is_text;     /* target = choices[gold] */
} doc_quirks;

static const doc_quirks QUIRKS[] = {
    {"kobest_hellaswag", true, false},
    {"kobest_copa", false, true},
};

static const doc_quirks *quirks_of(const char *task) {
    for (size_t i = 0; i < sizeof QUIRKS / sizeof *QUIRKS; i++)
        if (!strcmp(QUIRKS[i].task, task)) return &QUIRKS[i];
    return NULL;
}

/* The doc as lm-eval holds it: HF fields in order, the label an int. */
static cJSON *doc_json(const ko_reqdoc *d, const doc_quirks *q) {
    cJSON *o = cJSON_CreateObject();
    for (int k = 0; k < d->doc->n; k++) {
        if (!strcmp(d->doc->names[k], "label")) cJSON_AddNumberToObject(o, "label", d->doc->label);
        else cJSON_AddStringToObject(o, d->doc->names[k], d->doc->values[k]);
    }
    if (q && q->hellaswag_fields) {
        const char *ctx = ko_docrow_get(d->doc, "context");
        char *query = ko_xasprintf("문장: %s", ctx ? ctx : "");
        cJSON_AddStringToObject(o, "query", query);
        free(query);
        cJSON *ch = cJSON_AddArrayToObject(o, "choices");
        for (int i = 0; i < d->n_choices; i++) cJSON_AddItemToArray(ch, cJSON_CreateString(d->choices[i]));
        cJSON_AddNumberToObject(o, "gold", d->doc->label);
    }
    return o;
}

static char *target_text(const ko_reqdoc *d, const doc_quirks *q) {
    if (q && q->target_is_text) return ko_xstrdup(d->choices[d->gold]);
    return ko_xasprintf("%d", d->gold);
}

/* str(float) and str(bool) of one (loglikelihood, is_greedy) response, as sanitize_list writes it. */
static cJSON *resp_json(double ll, bool greedy) {
    cJSON *a = cJSON_CreateArray();
    ko_buf b = {0};
    ko_py_float_repr(&b, ll);
    cJSON_AddItemToArray(a, cJSON_CreateString(b.p));
    cJSON_AddItemToArray(a, cJSON_CreateString(greedy ? "True" : "False"));
    ko_buf_free(&b);
    return a;
}

/* lm-eval hash_string(s) into o[key], and onto *all (task_hashes: the concatenation of every
 * sample's doc_hash + prompt_hash + target_hash, hashed again). */
static void hash_into(cJSON *o, const char *key, const char *s, ko_buf *all) {
    char hex[65];
    ko_sha256_hex(s, strlen(s), hex);
    cJSON_AddStringToObject(o, key, hex);
    ko_buf_puts(all, hex);
}

/* One sample record; *hashes gets doc_hash + prompt_hash + target_hash appended (task_hashes). */
static cJSON *sample_json(const ko_report_task *rt, int i, const int *ord, ko_buf *hashes) {
    const ko_reqdoc *d = &rt->docs[i];
    const ko_docresult *res = &rt->res[i];
    const doc_quirks *q = quirks_of(ko_task_name(rt->task));
    ko_sample s;
    ko_sample_score(d, res, &s);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "doc_id", d->doc_id);
    cJSON *doc = doc_json(d, q);
    cJSON_AddItemToObject(o, "doc", doc);
    char *target = target_text(d, q);
    cJSON_AddStringToObject(o, "target", target);
    cJSON *args = cJSON_AddObjectToObject(o, "arguments");
    for (int c = 0; c < d->n_choices; c++) {
        char key[32];
        snprintf(key, sizeof key, "gen_args_%d", c);
        cJSON *a = cJSON_AddObjectToObject(args, key);
        cJSON_AddStringToObject(a, "arg_0", d->context);
        cJSON_AddStringToObject(a, "arg_1", d->continuations[c]);
    }
    cJSON *resps = cJSON_AddArrayToObject(o, "resps"), *filtered = cJSON_AddArrayToObject(o, "filtered_resps");
    for (int c = 0; c < d->n_choices; c++) {
        cJSON *one = cJSON_CreateArray();
        cJSON_AddItemToArray(one, resp_json(res->ll[c], res->is_greedy[c]));
        cJSON_AddItemToArray(resps, one);
        cJSON_AddItemToArray(filtered, resp_json(res->ll[c], res->is_greedy[c]));
    }
    cJSON_AddStringToObject(o, "filter", "none");
    cJSON *names = cJSON_AddArrayToObject(o, "metrics");
    for (int k = 0; k < rt->n_metrics; k++) cJSON_AddItemToArray(names, cJSON_CreateString(rt->metrics[ord[k]].name));
    /* doc_hash: hash_string(json.dumps(doc, indent=2, ensure_ascii=False)) */
    ko_buf dj = {0};
    ko_pyjson_dump(doc, true, &dj);
    hash_into(o, "doc_hash", dj.p, hashes);
    hash_into(o, "prompt_hash", d->context, hashes);
    hash_into(o, "target_hash", target, hashes);
    ko_buf_free(&dj);
    free(target);
    for (int k = 0; k < rt->n_metrics; k++) {
        const char *m = rt->metrics[ord[k]].name;
        if (!strcmp(m, "acc")) cJSON_AddItemToObject(o, m, ko_json_float(s.acc));
        else if (!strcmp(m, "acc_norm")) cJSON_AddItemToObject(o, m, ko_json_float(s.acc_norm));
        else if (!strcmp(m, "f1")) {
            cJSON *p = cJSON_AddArrayToObject(o, m);
            cJSON_AddItemToArray(p, cJSON_CreateNumber(s.gold));
            cJSON_AddItemToArray(p, cJSON_CreateNumber(s.pred));
        }
    }
    return o;
}

int ko_report_samples_task(const ko_report *r, int t, ko_buf *out, char task_hash[65], ko_err *e) {
    const ko_report_task *rt = &r->tasks[t];
    for (int i = 0; i < rt->n_docs; i++)
        if (rt->docs[i].gold < 0 || rt->docs[i].gold >= rt->docs[i].n_choices)
            return ko_fail(e, "%s: samples: doc %d has no gold choice", ko_task_name(rt->task), rt->docs[i].doc_id);
    int *ord = ko_metric_order(rt);
    ko_buf hashes = {0};
    for (int i = 0; i < rt->n_docs; i++) {
        cJSON *o = sample_json(rt, i, ord, &hashes);
        ko_pyjson_dump(o, false, out);
        ko_buf_putc(out, '\n');
        cJSON_Delete(o);
    }
    ko_sha256_hex(hashes.p ? hashes.p : "", hashes.n, task_hash);
    ko_buf_free(&hashes);
    free(ord);
    return 0;
}

int ko_report_samples_jsonl(const ko_report *r, int i, ko_buf *out, ko_err *e) {
    char hash[65];
    return ko_report_samples_task(r, i, out, hash, e);
}
