/* test_reports.c — koeval's report files against lm-eval 0.4.13's, made from the same
 * log-likelihoods by scripts/make_metric_goldens.py:
 *  - results JSON: the "results", "groups", "group_subtasks" text and the "versions" .. "n-samples"
 *    text byte for byte; every lm-eval top-level key present; "config" keys; task_hashes; the
 *    configs' deterministic fields;
 *  - samples JSONL: every line byte for byte (doc, arguments, resps, hashes, per-sample metrics);
 *  - Markdown: lm-eval's make_table() output appears verbatim;
 *  - files: lm-eval's layout and names, nothing written on failure;
 *  - Python float repr, model-name sanitising, date ids. */
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tests/reports/scenario.h"

static ko_run_facts facts_for(const scenario *s, char *model) {
    return (ko_run_facts){.model = model, .model_source = "koeval", .device = "cpu", .dtype = "float32",
                          .batch_size = "auto", .limit = s->limit, .num_fewshot = s->shots, .fewshot_seed = 1234,
                          .bootstrap_iters = strcmp(s->name, "hash") ? 1000 : 2000, .start_time = 1796157170.8673017, .end_time = 1796157180.25,
                          .koeval_version = "test", .load_seconds = -1, .tokenize_seconds = -1, .score_seconds = -1,
                          .n_requests = -1, .n_tokens = -1, .tokens_per_second = -1, .peak_host_bytes = -1,
                          .peak_device_bytes = -1};
}

/* The text between two top-level keys of an indent=2 document. */
static char *section(const char *doc, const char *from, const char *to) {
    char a[64], b[64];
    snprintf(a, sizeof a, "\n  \"%s\": ", from);
    snprintf(b, sizeof b, "\n  \"%s\": ", to);
    const char *p = strstr(doc, a), *q = p ? strstr(p, b) : NULL;
    return p && q ? ko_xstrndup(p, (size_t)(q - p)) : ko_xstrdup("(missing)");
}

static void first_diff(const char *what, const char *a, const char *b) {
    size_t i = 0;
    while (a[i] && a[i] == b[i]) i++;
    if (!a[i] && !b[i]) return;
    size_t from = i > 60 ? i - 60 : 0;
    printf("# %s differs at byte %zu:\n#  koeval: %.120s\n#  lm-eval: %.120s\n", what, i, a + from, b + from);
}

static void same_text(const char *what, const char *mine, const char *theirs) {
    bool eq = !strcmp(mine, theirs);
    if (!eq) first_diff(what, mine, theirs);
    CHECK(eq, "%s", what);
}

static void compare_results(const scenario *s, const ko_report *r, bool with_samples) {
    char *path = ko_xasprintf("%s/%s.results.json.gz", SC_GOLDENS, s->name);
    ko_buf theirs = {0}, mine = {0};
    cJSON *lm = sc_read_json(path, &theirs);
    ko_err e = {{0}};
    CHECK(ko_report_results_json(r, with_samples, &mine, &e) == 0, "%s", e.msg);
    cJSON *me = cJSON_Parse(mine.p);
    CHECK(me != NULL, "%s: koeval's results JSON does not parse", s->name);
    if (lm && me) {
        static const char *const SECTIONS[][3] = {{"results", "configs", "results..group_subtasks"},
                                                  {"versions", "config", "versions..n-samples"}};
        for (int i = 0; i < 2; i++) {
            char *a = section(mine.p, SECTIONS[i][0], SECTIONS[i][1]), *b = section(theirs.p, SECTIONS[i][0], SECTIONS[i][1]);
            char what[96];
            snprintf(what, sizeof what, "%s %s", s->name, SECTIONS[i][2]);
            same_text(what, a, b);
            free(a);
            free(b);
        }
        for (cJSON *it = lm->child; it; it = it->next)
            CHECK(cJSON_GetObjectItemCaseSensitive(me, it->string) != NULL, "%s: top-level \"%s\" missing", s->name, it->string);
        for (cJSON *it = me->child; it; it = it->next)
            CHECK(!strcmp(it->string, "koeval") || cJSON_GetObjectItemCaseSensitive(lm, it->string), "%s: top-level \"%s\" is not lm-eval's",
                  s->name, it->string);
        CHECK(cJSON_GetObjectItemCaseSensitive(me, "koeval") != NULL, "koeval section");
        /* koeval's F1 stderr: lm-eval's bootstrap_stderr as the script ran it (S.boot.tsv) */
        cJSON *bs = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(me, "koeval"), "stderr_bootstrap");
        char *bpath = ko_xasprintf("%s/%s.boot.tsv", SC_GOLDENS, s->name);
        ko_buf bt = {0};
        CHECK(ko_read_file(bpath, &bt, &e) == 0, "%s", e.msg);
        int n_boot = 0;
        for (char *line = bt.p, *next; line && *line; line = next, n_boot++) {
            next = strchr(line, '\n');
            if (next) *next++ = 0;
            char task[64];
            int iters;
            double want;
            if (sscanf(line, "%63[^\t]\t%d\t%lf", task, &iters, &want) != 3) continue;
            cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(bs, task), "f1_stderr,none");
            CHECK(cJSON_IsNumber(v) && fabs(v->valuedouble - want) <= 1e-12, "%s koeval.stderr_bootstrap.%s: %.17g vs lm-eval %.17g",
                  s->name, task, v ? v->valuedouble : NAN, want);
        }
        if (!n_boot) /* one document: lm-eval could not bootstrap, neither does koeval */
            CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(bs, "kobest_wic"), "f1_stderr,none")),
                  "%s: N/A bootstrap", s->name);
        ko_buf_free(&bt);
        free(bpath);
        /* config: the same keys in the same order; the run's settings equal */
        cJSON *c1 = cJSON_GetObjectItemCaseSensitive(me, "config"), *c2 = cJSON_GetObjectItemCaseSensitive(lm, "config");
        cJSON *a = c1 ? c1->child : NULL, *b = c2 ? c2->child : NULL;
        for (; a && b; a = a->next, b = b->next) CHECK_EQ_STR(a->string, b->string);
        CHECK(!a && !b, "%s: config key count", s->name);
        static const char *const SAME[] = {"limit", "fewshot_seed", "random_seed", "numpy_seed", "torch_seed", "gen_kwargs", "use_cache"};
        for (size_t i = 0; i < sizeof SAME / sizeof *SAME; i++) {
            char *x = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(c1, SAME[i]));
            char *y = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(c2, SAME[i]));
            CHECK(x && y && !strcmp(x, y), "%s: config.%s %s vs %s", s->name, SAME[i], x, y);
            free(x);
            free(y);
        }
        if (with_samples) {
            char *x = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(me, "task_hashes"));
            char *y = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(lm, "task_hashes"));
            same_text("task_hashes", x, y);
            free(x);
            free(y);
        }
        /* configs: the fields that do not depend on how a task is written down */
        static const char *const CFG[] = {"task", "dataset_path", "dataset_name", "output_type", "training_split",
                                          "validation_split", "test_split", "target_delimiter", "fewshot_delimiter",
                                          "description", "num_fewshot", "repeats", "should_decontaminate"};
        for (int t = 0; t < SC_TASKS; t++) {
            cJSON *m = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(me, "configs"), SC_NAMES[t]);
            cJSON *l = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(lm, "configs"), SC_NAMES[t]);
            for (size_t i = 0; i < sizeof CFG / sizeof *CFG; i++) {
                char *x = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(m, CFG[i]));
                char *y = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(l, CFG[i]));
                CHECK(x && y && !strcmp(x, y), "%s: configs.%s.%s %s vs %s", s->name, SC_NAMES[t], CFG[i], x, y);
                free(x);
                free(y);
            }
        }
    }
    cJSON_Delete(lm);
    cJSON_Delete(me);
    ko_buf_free(&theirs);
    ko_buf_free(&mine);
    free(path);
}

static void compare_samples(const scenario *s, const ko_report *r) {
    char *path = ko_xasprintf("%s/%s.samples.jsonl.gz", SC_GOLDENS, s->name);
    ko_buf theirs = {0}, mine = {0};
    ko_err e = {{0}};
    CHECK(ko_read_file(path, &theirs, &e) == 0, "%s", e.msg);
    for (int t = 0; t < SC_TASKS; t++) CHECK(ko_report_samples_jsonl(r, t, &mine, &e) == 0, "%s", e.msg);
    char what[64];
    snprintf(what, sizeof what, "%s samples", s->name);
    if (theirs.p && mine.p) same_text(what, mine.p, theirs.p);
    ko_buf_free(&theirs);
    ko_buf_free(&mine);
    free(path);
}

static void compare_markdown(const scenario *s, const ko_report *r) {
    char *path = ko_xasprintf("%s/%s.table.md", SC_GOLDENS, s->name);
    ko_buf theirs = {0};
    ko_err e = {{0}};
    CHECK(ko_read_file(path, &theirs, &e) == 0, "%s", e.msg);
    char *md = ko_report_markdown(r);
    /* lm-eval printed make_table(results) + "\n" + make_table(results, "groups") */
    bool found = theirs.p && strstr(md, theirs.p);
    if (!found && theirs.p) first_diff("markdown", strstr(md, "|  ") ? strstr(md, "|  ") : md, theirs.p);
    CHECK(found, "%s: lm-eval's tables are not in koeval's Markdown", s->name);
    CHECK(strstr(md, "| model | kobest_boolq | kobest_copa | kobest_hellaswag | kobest_sentineg | kobest_wic |\n") == md,
          "leaderboard header");
    free(md);
    ko_buf_free(&theirs);
    free(path);
}

static int count_files(const char *dir) {
    char *cmd = ko_xasprintf("ls -A '%s' 2>/dev/null | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p) {
        if (fscanf(p, "%d", &n) != 1) n = -1;
        pclose(p);
    }
    free(cmd);
    return n;
}

static void test_write(const ko_report *r) {
    char tmpl[] = "/tmp/koeval_reports_XXXXXX";
    char *dir = mkdtemp(tmpl);
    CHECK(dir != NULL, "mkdtemp");
    if (!dir) return;
    ko_err e = {{0}};
    char *results_path = NULL, *md = NULL;
    CHECK(ko_report_write(r, dir, true, &results_path, &md, &e) == 0, "%s", e.msg);
    char *sub = ko_xasprintf("%s/koeval__scripted-hash", dir);
    CHECK_EQ_INT(count_files(sub), 2 + SC_TASKS);
    CHECK(results_path && strstr(results_path, "/koeval__scripted-hash/results_") && strstr(results_path, ".json"), "%s", results_path);
    ko_buf got = {0}, want = {0};
    if (results_path) {
        CHECK(ko_read_file(results_path, &got, &e) == 0, "%s", e.msg);
        CHECK(ko_report_results_json(r, true, &want, &e) == 0, "%s", e.msg);
        same_text("written results file", got.p ? got.p : "", want.p ? want.p : "");
    }
    CHECK(md && strstr(md, "| model |") == md, "markdown returned");
    /* the Markdown file beside it, and a samples file per task, named like lm-eval's */
    char date[40];
    ko_date_id(r->run->end_time, date);
    char *p = ko_xasprintf("%s/results_%s.md", sub, date);
    CHECK(ko_file_exists(p), "%s", p);
    free(p);
    p = ko_xasprintf("%s/samples_kobest_wic_%s.jsonl", sub, date);
    CHECK(ko_file_exists(p), "%s", p);
    free(p);
    /* failure: the output path is a file -> an error, and nothing anywhere */
    char *blocker = ko_xasprintf("%s/blocker", dir);
    CHECK(ko_write_file_atomic(blocker, "x", 1, &e) == 0, "%s", e.msg);
    char *md2 = (char *)"untouched";
    CHECK(ko_report_write(r, blocker, true, NULL, &md2, &e) == -1 && *e.msg, "writing under a file must fail");
    CHECK(md2 == NULL, "no Markdown on failure");
    CHECK_EQ_INT(count_files(dir), 2); /* koeval__scripted-hash/ and blocker */
    char *cmd = ko_xasprintf("rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cleanup");
    free(cmd);
    free(blocker);
    free(sub);
    free(results_path);
    free(md);
    ko_buf_free(&got);
    ko_buf_free(&want);
}

static void test_float_repr(void) {
    ko_buf b = {0};
    ko_err e = {{0}};
    CHECK(ko_read_file(SC_GOLDENS "/float_repr.tsv", &b, &e) == 0, "%s", e.msg);
    int n = 0, bad = 0;
    for (char *line = b.p, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        if (*line == '#') continue;
        char hex[64], want[64];
        if (sscanf(line, "%63s\t%63s", hex, want) != 2) continue;
        ko_buf got = {0};
        ko_py_float_repr(&got, strtod(hex, NULL));
        if (strcmp(got.p, want)) printf("# repr(%s): koeval %s, Python %s\n", hex, got.p, want);
        bad += strcmp(got.p, want) != 0;
        n++;
        ko_buf_free(&got);
    }
    CHECK(n >= 100 && bad == 0, "%d of %d reprs differ", bad, n);
    ko_buf_free(&b);
}

static void test_names(void) {
    char *s = ko_sanitize_model_name("google/gemma-3-12b-it");
    CHECK_EQ_STR(s, "google__gemma-3-12b-it");
    free(s);
    s = ko_sanitize_model_name("/models/a:b//c[1]");
    CHECK_EQ_STR(s, "__models__a__b__c__1__");
    free(s);
    setenv("TZ", "UTC", 1);
    tzset();
    char d[40];
    ko_date_id(86400.5, d);
    CHECK_EQ_STR(d, "1970-01-02T00-00-00.500000");
    ko_date_id(86400.0, d); /* isoformat() leaves out a zero fraction */
    CHECK_EQ_STR(d, "1970-01-02T00-00-00");
    char hex[65];
    ko_sha256_hex("abc", 3, hex);
    CHECK_EQ_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ko_sha256_hex("", 0, hex);
    CHECK_EQ_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

int main(void) {
    test_float_repr();
    test_names();
    static const struct { const char *name; int shots, limit; bool samples; } SC[] = {
        {"hash", 0, 40, true}, {"hash5", 5, 12, true}, {"right", 0, 25, false},
        {"wrong", 0, 25, false}, {"tie", 0, 25, true}, {"one", 0, 1, true}, {"solo", 0, 10, false},
        {"full", 0, 0, false}};
    for (size_t i = 0; i < sizeof SC / sizeof *SC; i++) {
        scenario s;
        if (sc_load(&s, SC[i].name, SC[i].shots, SC[i].limit) == 0) {
            char *model = ko_xasprintf("koeval/scripted-%s", SC[i].name);
            ko_run_facts f = facts_for(&s, model);
            ko_report r = {.run = &f, .tasks = s.rt, .n_tasks = SC_TASKS,
                           .group = strcmp(SC[i].name, "solo") ? "kobest" : NULL};
            compare_results(&s, &r, SC[i].samples);
            if (SC[i].samples) compare_samples(&s, &r);
            compare_markdown(&s, &r);
            if (i == 0) test_write(&r);
            free(model);
        }
        sc_free(&s);
    }
    TEST_END();
}
