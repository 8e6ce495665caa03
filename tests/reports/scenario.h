/* scenario.h — one lm-eval run of scripts/make_metric_goldens.py, replayed through koeval: the five
 * kobest tasks' requests (ko_task_requests on the shared TSVs, same shots and limit) scored with the
 * log-likelihoods lm-eval's scripted model returned (S.lls.tsv.gz). Used by tests/tasks/test_metrics.c
 * and tests/reports/test_reports.c. */
#ifndef KO_TEST_SCENARIO_H
#define KO_TEST_SCENARIO_H

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "reports/reports.h"
#include "tasks/metrics.h"
#include "tests/test.h"

#define SC_TASKS 5
static const char *const SC_NAMES[SC_TASKS] = {"kobest_boolq", "kobest_copa", "kobest_hellaswag", "kobest_sentineg",
                                               "kobest_wic"};
#define SC_GOLDENS "tests/reports/goldens"

typedef struct scenario {
    const char *name;
    int shots, limit;
    ko_task *tasks[SC_TASKS];
    ko_reqdoc *docs[SC_TASKS];
    int n_docs[SC_TASKS];
    ko_docresult *res[SC_TASKS];
    ko_metric *metrics[SC_TASKS];
    int n_metrics[SC_TASKS];
    ko_report_task rt[SC_TASKS];
} scenario;

static int sc_task_index(const char *name) {
    for (int i = 0; i < SC_TASKS; i++)
        if (!strcmp(SC_NAMES[i], name)) return i;
    return -1;
}

/* The script's hash_ll(context, continuation), for the "full" scenario whose lls are not committed:
 * h = sha256(ctx + "\0" + cont); u = int(h[:8], big-endian) / 2**64; -int(u*8)/2 when h[8] is odd
 * (coarse, so ties happen), else -u*20; is_greedy = h[9] & 1. */
static void sc_hash_ll(const char *ctx, const char *cont, double *ll, bool *greedy) {
    ko_buf b = {0};
    ko_buf_puts(&b, ctx);
    ko_buf_putc(&b, 0);
    ko_buf_puts(&b, cont);
    char hex[65];
    ko_sha256_hex(b.p, b.n, hex);
    ko_buf_free(&b);
    unsigned char h[32];
    for (int i = 0; i < 32; i++) sscanf(hex + 2 * i, "%2hhx", &h[i]);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | h[i];
    double u = (double)v / 18446744073709551616.0;
    *ll = (h[8] & 1) ? -(double)(long long)(u * 8) / 2.0 : -u * 20.0;
    *greedy = h[9] & 1;
}

/* Loads scenario `name` (shots, limit as in the script); returns 0 or fails a CHECK and returns -1. */
static int sc_load(scenario *s, const char *name, int shots, int limit) {
    memset(s, 0, sizeof *s);
    s->name = name;
    s->shots = shots;
    s->limit = limit;
    ko_err e = {{0}};
    char *data = ko_xasprintf("%s/datasets/kobest_v1", ko_t_shared());
    for (int t = 0; t < SC_TASKS; t++) {
        ko_reqopts o = {.data_dir = data, .num_fewshot = shots, .fewshot_seed = 1234, .limit = limit};
        if (ko_task_load(SC_NAMES[t], &s->tasks[t], &e) < 0 ||
            ko_task_requests(s->tasks[t], &o, &s->docs[t], &s->n_docs[t], &e) < 0) {
            CHECK(0, "%s: %s", name, e.msg);
            free(data);
            return -1;
        }
        s->res[t] = ko_xcalloc((size_t)s->n_docs[t], sizeof **s->res);
        for (int d = 0; d < s->n_docs[t]; d++) {
            s->res[t][d].ll = ko_xcalloc((size_t)s->docs[t][d].n_choices, sizeof(double));
            s->res[t][d].is_greedy = ko_xcalloc((size_t)s->docs[t][d].n_choices, sizeof(bool));
            for (int c = 0; c < s->docs[t][d].n_choices; c++) s->res[t][d].ll[c] = NAN;
        }
    }
    free(data);
    char *path = ko_xasprintf("%s/%s.lls.tsv.gz", SC_GOLDENS, name);
    ko_buf b = {0};
    int rc = 0, n_lines = 0, bad = 0;
    if (!strcmp(name, "full")) {
        for (int t = 0; t < SC_TASKS; t++)
            for (int d = 0; d < s->n_docs[t]; d++)
                for (int c = 0; c < s->docs[t][d].n_choices; c++, n_lines++)
                    sc_hash_ll(s->docs[t][d].context, s->docs[t][d].continuations[c], &s->res[t][d].ll[c], &s->res[t][d].is_greedy[c]);
    } else {
        rc = ko_read_file(path, &b, &e);
        CHECK(rc == 0, "%s", e.msg);
    }
    free(path);
    if (rc < 0) return -1;
    for (char *line = b.p, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        char task[64];
        int doc, choice, greedy;
        char llbuf[64];
        if (sscanf(line, "%63[^\t]\t%d\t%d\t%63[^\t]\t%d", task, &doc, &choice, llbuf, &greedy) != 5) {
            bad++;
            continue;
        }
        int t = sc_task_index(task);
        if (t < 0 || doc < 0 || doc >= s->n_docs[t] || choice < 0 || choice >= s->docs[t][doc].n_choices) {
            bad++;
            continue;
        }
        s->res[t][doc].ll[choice] = strtod(llbuf, NULL);
        s->res[t][doc].is_greedy[choice] = greedy != 0;
        n_lines++;
    }
    ko_buf_free(&b);
    int missing = 0;
    for (int t = 0; t < SC_TASKS; t++)
        for (int d = 0; d < s->n_docs[t]; d++)
            for (int c = 0; c < s->docs[t][d].n_choices; c++) missing += isnan(s->res[t][d].ll[c]);
    CHECK(bad == 0 && missing == 0 && n_lines > 0, "%s: %d bad lines, %d requests without a golden ll", name, bad, missing);
    for (int t = 0; t < SC_TASKS; t++) {
        if (ko_task_metrics(s->tasks[t], s->docs[t], s->res[t], s->n_docs[t], &s->metrics[t], &s->n_metrics[t], &e) < 0) {
            CHECK(0, "%s: %s", name, e.msg);
            return -1;
        }
        s->rt[t] = (ko_report_task){.task = s->tasks[t], .docs = s->docs[t], .res = s->res[t], .n_docs = s->n_docs[t],
                                    .n_original = ko_task_split_size(s->tasks[t]), .metrics = s->metrics[t],
                                    .n_metrics = s->n_metrics[t]};
    }
    return 0;
}

static void sc_free(scenario *s) {
    for (int t = 0; t < SC_TASKS; t++) {
        for (int d = 0; s->res[t] && d < s->n_docs[t]; d++) {
            free(s->res[t][d].ll);
            free(s->res[t][d].is_greedy);
        }
        free(s->res[t]);
        free(s->metrics[t]);
        if (s->tasks[t]) ko_task_free(s->tasks[t]);
    }
}

/* A gzip'd golden as a parsed JSON document (NULL + failed CHECK when unreadable). */
static cJSON *sc_read_json(const char *path, ko_buf *text) {
    ko_err e = {{0}};
    if (ko_read_file(path, text, &e) < 0) {
        CHECK(0, "%s", e.msg);
        return NULL;
    }
    cJSON *j = cJSON_Parse(text->p);
    CHECK(j != NULL, "%s: not JSON", path);
    return j;
}

#endif
