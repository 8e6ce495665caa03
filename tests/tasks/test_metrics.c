/* test_metrics.c — koeval's metrics against the reference libraries:
 *  - macro-F1 against scikit-learn's f1_score(average="macro") on crafted label sets
 *    (tests/reports/goldens/f1_sklearn.tsv: one class never predicted, all wrong, one label, ...);
 *  - every task metric of every scenario of scripts/make_metric_goldens.py against the value
 *    lm-eval 0.4.13 computed from the same log-likelihoods (its results JSON), within 1e-12;
 *  - the per-document values against lm-eval's samples files; the F1 bootstrap stderr against
 *    lm-eval's own bootstrap_stderr run by the script (S.boot.tsv). */
#include "tests/reports/scenario.h"

static int parse_ints(char *s, int *out, int max) {
    int n = 0;
    for (char *tok = strtok(s, ","); tok && n < max; tok = strtok(NULL, ",")) out[n++] = atoi(tok);
    return n;
}

static void test_sklearn_f1(void) {
    ko_buf b = {0};
    ko_err e = {{0}};
    CHECK(ko_read_file(SC_GOLDENS "/f1_sklearn.tsv", &b, &e) == 0, "%s", e.msg);
    int cases = 0;
    for (char *line = b.p, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        if (*line == '#') continue;
        char *name = strtok(line, "\t"), *g = strtok(NULL, "\t"), *p = strtok(NULL, "\t"), *want = strtok(NULL, "\t");
        if (!want) continue;
        char gs[256], ps[256];
        snprintf(gs, sizeof gs, "%s", g);
        snprintf(ps, sizeof ps, "%s", p);
        int gold[64], pred[64];
        int ng = parse_ints(gs, gold, 64), np = parse_ints(ps, pred, 64);
        CHECK_EQ_INT(ng, np);
        double got = ko_macro_f1(gold, pred, ng), w = strtod(want, NULL);
        CHECK(got == w, "%s: f1 %.17g, sklearn %.17g", name, got, w);
        cases++;
    }
    CHECK(cases >= 10, "only %d sklearn cases", cases);
    ko_buf_free(&b);
}

static void test_basics(void) {
    double tie[] = {-1.0, -1.0, -2.0}, late[] = {-3.0, -1.0, -1.0}, nan_[] = {-1.0, NAN, 0.0, NAN};
    CHECK_EQ_INT(ko_argmax(tie, 3), 0);   /* numpy: the first of equal maxima */
    CHECK_EQ_INT(ko_argmax(late, 3), 1);
    CHECK_EQ_INT(ko_argmax(nan_, 4), 1);  /* numpy: NaN is the maximum */
    double x[] = {1, 0, 1, 1};
    CHECK(ko_mean(x, 4) == 0.75, "mean");
    CHECK_NEAR(ko_mean_stderr(x, 4), sqrt(0.75 / 3) / 2, 1e-15);
    /* one subtask: the pooled stderr gives back that subtask's (up to rounding) */
    double se[] = {0.06}, v[] = {0.5, 0.25};
    int n[] = {40}, sizes[] = {10, 30};
    CHECK_NEAR(ko_pooled_stderr(se, n, 1), 0.06, 1e-15);
    CHECK(ko_weighted_mean(v, sizes, 2) == (0.5 * 10 + 0.25 * 30) / 40, "weighted mean");
}

/* Every "<metric>,none" / "<metric>_stderr,none" of each task in lm-eval's results file. */
static void compare_task_metrics(const scenario *s, const cJSON *results) {
    for (int t = 0; t < SC_TASKS; t++) {
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(results, SC_NAMES[t]);
        CHECK(r != NULL, "%s: %s missing in lm-eval's results", s->name, SC_NAMES[t]);
        if (!r) continue;
        int n_lm = 0;
        for (const cJSON *it = r->child; it; it = it->next) n_lm += strstr(it->string, ",none") && !strstr(it->string, "_stderr");
        CHECK_EQ_INT(n_lm, s->n_metrics[t]);
        for (int k = 0; k < s->n_metrics[t]; k++) {
            const ko_metric *m = &s->metrics[t][k];
            char key[64];
            snprintf(key, sizeof key, "%s,none", m->name);
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, key);
            CHECK(cJSON_IsNumber(v) && fabs(v->valuedouble - m->value) <= 1e-12, "%s %s %s: koeval %.17g, lm-eval %.17g",
                  s->name, SC_NAMES[t], key, m->value, v ? v->valuedouble : NAN);
            snprintf(key, sizeof key, "%s_stderr,none", m->name);
            const cJSON *se = cJSON_GetObjectItemCaseSensitive(r, key);
            if (cJSON_IsString(se))
                CHECK(isnan(m->stderr_) && !strcmp(se->valuestring, "N/A"), "%s %s %s: koeval %.17g, lm-eval %s", s->name,
                      SC_NAMES[t], key, m->stderr_, se->valuestring);
            else
                CHECK(cJSON_IsNumber(se) && fabs(se->valuedouble - m->stderr_) <= 1e-12, "%s %s %s: koeval %.17g, lm-eval %.17g",
                      s->name, SC_NAMES[t], key, m->stderr_, se ? se->valuedouble : NAN);
        }
    }
}

/* Per document: acc, acc_norm and the f1 item (gold, pred) of lm-eval's samples. */
static void compare_samples(const scenario *s) {
    char *path = ko_xasprintf("%s/%s.samples.jsonl.gz", SC_GOLDENS, s->name);
    if (!ko_file_exists(path)) {
        free(path);
        return;
    }
    ko_buf b = {0};
    ko_err e = {{0}};
    CHECK(ko_read_file(path, &b, &e) == 0, "%s", e.msg);
    int seen[SC_TASKS] = {0}, t = 0, bad = 0;
    for (char *line = b.p, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        cJSON *j = cJSON_Parse(line);
        int d = cJSON_GetObjectItemCaseSensitive(j, "doc_id")->valueint;
        if (d == 0 && seen[t]) t++; /* the files are concatenated in task order */
        ko_sample smp;
        ko_sample_score(&s->docs[t][d], &s->res[t][d], &smp);
        const cJSON *acc = cJSON_GetObjectItemCaseSensitive(j, "acc"), *f1 = cJSON_GetObjectItemCaseSensitive(j, "f1");
        const cJSON *accn = cJSON_GetObjectItemCaseSensitive(j, "acc_norm");
        bool ok = acc->valuedouble == smp.acc && cJSON_GetArrayItem(f1, 0)->valueint == smp.gold &&
                  cJSON_GetArrayItem(f1, 1)->valueint == smp.pred && (!accn || accn->valuedouble == smp.acc_norm);
        if (!ok) printf("# %s %s doc %d: per-sample metrics differ\n", s->name, SC_NAMES[t], d);
        bad += !ok;
        seen[t]++;
        cJSON_Delete(j);
    }
    for (int i = 0; i < SC_TASKS; i++) CHECK_EQ_INT(seen[i], s->n_docs[i]);
    CHECK_EQ_INT(bad, 0);
    ko_buf_free(&b);
    free(path);
}

static void compare_bootstrap(const scenario *s) {
    char *path = ko_xasprintf("%s/%s.boot.tsv", SC_GOLDENS, s->name);
    ko_buf b = {0};
    ko_err e = {{0}};
    CHECK(ko_read_file(path, &b, &e) == 0, "%s", e.msg);
    int n = 0;
    for (char *line = b.p, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        char task[64], want[64];
        int iters;
        if (sscanf(line, "%63[^\t]\t%d\t%63s", task, &iters, want) != 3) continue;
        int t = sc_task_index(task);
        int *gold = ko_xmalloc((size_t)s->n_docs[t] * sizeof *gold), *pred = ko_xmalloc((size_t)s->n_docs[t] * sizeof *pred);
        for (int d = 0; d < s->n_docs[t]; d++) {
            ko_sample smp;
            ko_sample_score(&s->docs[t][d], &s->res[t][d], &smp);
            gold[d] = smp.gold;
            pred[d] = smp.pred;
        }
        double got = ko_macro_f1_bootstrap_stderr(gold, pred, s->n_docs[t], iters), w = strtod(want, NULL);
        CHECK(fabs(got - w) <= 1e-12, "%s %s bootstrap(%d): koeval %.17g, lm-eval %.17g", s->name, task, iters, got, w);
        free(gold);
        free(pred);
        n++;
    }
    CHECK_EQ_INT(n, strcmp(s->name, "one") ? SC_TASKS : 0); /* one document: nothing to resample */
    ko_buf_free(&b);
    free(path);
}

/* Full-size item lists (scripts/make_metric_goldens.py bootstrap_cases says how they are made). */
static void test_bootstrap_big(void) {
    ko_buf b = {0};
    ko_err e = {{0}};
    CHECK(ko_read_file(SC_GOLDENS "/boot_big.tsv", &b, &e) == 0, "%s", e.msg);
    int cases = 0;
    for (char *line = b.p, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        char name[32], want[64];
        int n, iters;
        if (sscanf(line, "%31s\t%d\t%d\t%63s", name, &n, &iters, want) != 4) continue;
        int *gold = ko_xmalloc((size_t)n * sizeof *gold), *pred = ko_xmalloc((size_t)n * sizeof *pred);
        bool four = !strcmp(name, "four");
        for (int i = 0; i < n; i++) {
            gold[i] = four ? (i * 5) % 4 : i % 2;
            pred[i] = four ? (i * i + i / 3) % 4 : (i * 7 / 3) % 2;
        }
        double got = ko_macro_f1_bootstrap_stderr(gold, pred, n, iters), w = strtod(want, NULL);
        CHECK(fabs(got - w) <= 1e-12, "%s n=%d iters=%d: koeval %.17g, lm-eval %.17g", name, n, iters, got, w);
        free(gold);
        free(pred);
        cases++;
    }
    CHECK_EQ_INT(cases, 2);
    ko_buf_free(&b);
}

int main(void) {
    test_basics();
    test_bootstrap_big();
    test_sklearn_f1();
    static const struct { const char *name; int shots, limit; } SC[] = {
        {"hash", 0, 40}, {"hash5", 5, 12}, {"right", 0, 25}, {"wrong", 0, 25}, {"tie", 0, 25}, {"one", 0, 1}, {"solo", 0, 10}, {"full", 0, 0}};
    for (size_t i = 0; i < sizeof SC / sizeof *SC; i++) {
        scenario s;
        if (sc_load(&s, SC[i].name, SC[i].shots, SC[i].limit) == 0) {
            char *path = ko_xasprintf("%s/%s.results.json.gz", SC_GOLDENS, SC[i].name);
            ko_buf text = {0};
            cJSON *lm = sc_read_json(path, &text);
            if (lm) compare_task_metrics(&s, cJSON_GetObjectItemCaseSensitive(lm, "results"));
            cJSON_Delete(lm);
            ko_buf_free(&text);
            free(path);
            compare_samples(&s);
            compare_bootstrap(&s);
        }
        sc_free(&s);
    }
    /* errors: nothing scored, a gold outside the choices */
    ko_task *t;
    ko_err e = {{0}};
    ko_metric *m;
    int nm;
    CHECK(ko_task_load("kobest_copa", &t, &e) == 0, "%s", e.msg);
    CHECK(ko_task_metrics(t, NULL, NULL, 0, &m, &nm, &e) == -1 && strstr(e.msg, "no documents"), "%s", e.msg);
    char *choices[2] = {"a", "b"};
    double ll[2] = {-1, -2};
    bool g[2] = {false, false};
    ko_reqdoc d = {.doc_id = 7, .n_choices = 2, .choices = choices, .gold = 2};
    ko_docresult r = {.ll = ll, .is_greedy = g};
    CHECK(ko_task_metrics(t, &d, &r, 1, &m, &nm, &e) == -1 && strstr(e.msg, "doc 7"), "%s", e.msg);
    ko_task_free(t);
    TEST_END();
}
