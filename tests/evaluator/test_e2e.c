/* test_e2e.c — the whole pipeline against lm-eval 0.4.13 itself.
 *
 * Two models (scripts/make_e2e_goldens.py made both goldens):
 *
 * tests/evaluator/e2e/ holds a tiny random-init Gemma-3 checkpoint with a Gemma-3-shaped tokenizer
 * and what lm-eval's real HF backend computed on it (scripts/make_e2e_goldens.py): per request the
 * log-likelihood and is_greedy, per task the reported metrics, for the first docs of every KoBEST
 * test split at 0 and 5 shots (5-shot prompts exceed the model's 512 positions, so lm-eval's left
 * truncation is covered too). This test runs the real ./koeval binary on the CPU backend with
 * --log_samples and compares: every request's log-likelihood within 2e-4 nats (fp32 on both
 * sides), identical is_greedy, and every metric lm-eval reports (values and stderr) within 1e-9.
 *
 * tests/evaluator/real/ holds the same lm-eval output for the real default model (Gemma 3 270M
 * Q4_K_M GGUF, `make model`), which lm-eval's HF backend loaded itself from the GGUF (transformers
 * dequantises it and builds the tokenizer from the GGUF vocabulary); koeval must agree within
 * 1e-3 nats per request with identical predictions and metrics. Without models/ that case is
 * skipped with a visible line. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/ko.h"
#include "tests/test.h"

#define E2E "tests/evaluator/e2e"
static const char *TASKS[] = {"kobest_boolq", "kobest_copa", "kobest_hellaswag", "kobest_sentineg", "kobest_wic"};

/* The one file in dir whose name starts with prefix and ends with suffix (malloc'd path), or NULL. */
static char *find_file(const char *dir, const char *prefix, const char *suffix) {
    DIR *d = opendir(dir);
    if (!d) return NULL;
    char *found = NULL;
    struct dirent *de;
    while ((de = readdir(d)))
    {
        size_t n = strlen(de->d_name), ns = strlen(suffix);
        if (strncmp(de->d_name, prefix, strlen(prefix)) == 0 && n >= ns && strcmp(de->d_name + n - ns, suffix) == 0 &&
            !found)
            found = ko_xasprintf("%s/%s", dir, de->d_name);
    }
    closedir(d);
    return found;
}

/* koeval's per-request (ll, is_greedy) of one task from its samples file, as a cJSON array of
 * {"doc_id", "resps": [[ll, greedy], ...]} objects. */
static cJSON *read_samples(const char *dir, const char *task) {
    char *prefix = ko_xasprintf("samples_%s_", task);
    char *path = find_file(dir, prefix, ".jsonl");
    free(prefix);
    CHECK(path != NULL, "no samples file for %s in %s", task, dir);
    if (!path) return NULL;
    ko_buf b = {0};
    ko_err e;
    cJSON *arr = cJSON_CreateArray();
    if (ko_read_file(path, &b, &e) == 0) {
        for (char *line = b.p, *nl; line && *line; line = nl ? nl + 1 : NULL) {
            nl = strchr(line, '\n');
            if (nl) *nl = 0;
            cJSON *o = cJSON_Parse(line);
            CHECK(o != NULL, "%s: a line is not JSON", path);
            if (o) cJSON_AddItemToArray(arr, o);
        }
    }
    ko_buf_free(&b);
    free(path);
    return arr;
}

static const cJSON *sample_of(const cJSON *samples, int doc_id) {
    const cJSON *s;
    cJSON_ArrayForEach(s, samples) {
        const cJSON *id = cJSON_GetObjectItem(s, "doc_id");
        if (cJSON_IsNumber(id) && id->valueint == doc_id) return s;
    }
    return NULL;
}

static void compare_metrics(const char *task, const cJSON *want, const cJSON *results) {
    const cJSON *got = cJSON_GetObjectItem(cJSON_GetObjectItem(results, "results"), task);
    CHECK(got != NULL, "%s missing from results", task);
    if (!got) return;
    const cJSON *w;
    cJSON_ArrayForEach(w, want) {
        const cJSON *g = cJSON_GetObjectItem(got, w->string);
        CHECK(g != NULL, "%s: no \"%s\" in koeval's results", task, w->string);
        if (!g) continue;
        if (cJSON_IsNumber(w)) {
            CHECK(cJSON_IsNumber(g) && fabs(g->valuedouble - w->valuedouble) <= 1e-9, "%s %s: koeval %.12g, lm-eval %.12g",
                  task, w->string, cJSON_IsNumber(g) ? g->valuedouble : NAN, w->valuedouble);
        } else if (cJSON_IsString(w)) {
            CHECK(cJSON_IsString(g) && strcmp(g->valuestring, w->valuestring) == 0, "%s %s: want \"%s\"", task,
                  w->string, w->valuestring);
        }
    }
}

typedef struct e2e_case {
    const char *goldens;         /* folder with lmeval_<shots>shot.jsonl.gz */
    const char *model;           /* --model */
    const char *sanitized;       /* lm-eval's folder name for it */
    int shots, limit;
    double tol;                  /* nats per request */
} e2e_case;

static const e2e_case CASES[] = {
    {E2E, E2E "/model", "tests__evaluator__e2e__model", 0, 24, 2e-4},
    {E2E, E2E "/model", "tests__evaluator__e2e__model", 5, 12, 2e-4},
    {"tests/evaluator/real", "models/default", "models__default", 0, 10, 1e-3},
    {"tests/evaluator/real", "models/default", "models__default", 5, 3, 1e-3},
};

static void run_case(const e2e_case *k) {
    int shots = k->shots, limit = k->limit;
    char tmp[] = "/tmp/koeval_e2e_XXXXXX";
    CHECK(mkdtemp(tmp) != NULL, "mkdtemp");
    char *cmd = ko_xasprintf("./koeval --model %s --tasks kobest_all --num_fewshot %d --limit %d "
                             "--device cpu --output_path %s --log_samples --data_dir %s/datasets/kobest_v1 > %s/stdout 2> %s/stderr",
                             k->model, shots, limit, tmp, ko_t_shared(), tmp, tmp);
    int rc = system(cmd);
    CHECK(rc == 0, "%s: exit %d", cmd, rc);
    free(cmd);
    char *dir = ko_xasprintf("%s/%s", tmp, k->sanitized);
    char *res_path = find_file(dir, "results_", ".json");
    CHECK(res_path != NULL, "no results file in %s", dir);
    ko_buf b = {0};
    ko_err e;
    cJSON *results = res_path && ko_read_file(res_path, &b, &e) == 0 ? cJSON_Parse(b.p) : NULL;
    CHECK(results != NULL, "results JSON unreadable");

    char *golden = ko_xasprintf("%s/lmeval_%dshot.jsonl.gz", k->goldens, shots);
    ko_buf g = {0};
    CHECK(ko_read_file(golden, &g, &e) == 0, "%s", e.msg);
    cJSON *samples[5] = {0};
    for (int t = 0; t < 5; t++) samples[t] = read_samples(dir, TASKS[t]);
    int n_req = 0, n_bad = 0;
    double max_d = 0;
    for (char *line = g.p, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl) *nl = 0;
        cJSON *o = cJSON_Parse(line);
        const char *task = cJSON_GetObjectItem(o, "task")->valuestring;
        int t = 0;
        while (t < 5 && strcmp(TASKS[t], task)) t++;
        const cJSON *m = cJSON_GetObjectItem(o, "metrics");
        if (m) {
            if (results) compare_metrics(task, m, results);
        } else if (t < 5 && samples[t]) {
            int doc = cJSON_GetObjectItem(o, "doc_id")->valueint;
            int c = cJSON_GetObjectItem(o, "choice")->valueint;
            double ll = cJSON_GetObjectItem(o, "ll")->valuedouble;
            bool greedy = cJSON_IsTrue(cJSON_GetObjectItem(o, "is_greedy"));
            const cJSON *s = sample_of(samples[t], doc);
            const cJSON *r = s ? cJSON_GetArrayItem(cJSON_GetObjectItem(s, "filtered_resps"), c) : NULL;
            /* lm-eval writes each response as its str(): ["-93.51...", "False"]. */
            const cJSON *gll = r ? cJSON_GetArrayItem(r, 0) : NULL, *gg = r ? cJSON_GetArrayItem(r, 1) : NULL;
            n_req++;
            if (!cJSON_IsString(gll) || !cJSON_IsString(gg)) {
                n_bad++;
                CHECK(0, "%s doc %d choice %d: no [ll, is_greedy] in koeval's samples", task, doc, c);
            } else {
                double kll = strtod(gll->valuestring, NULL);
                bool kg = strcmp(gg->valuestring, "True") == 0;
                double d = fabs(kll - ll);
                if (d > max_d) max_d = d;
                if (d > k->tol || kg != greedy) {
                    n_bad++;
                    CHECK(0, "%s doc %d choice %d: koeval ll %.6f greedy %d, lm-eval %.6f %d", task, doc, c, kll, kg,
                          ll, greedy);
                }
            }
        }
        cJSON_Delete(o);
    }
    CHECK(n_req > 0 && n_bad == 0, "%d of %d requests differ", n_bad, n_req);
    printf("# %s %d-shot: %d requests, max |ll - lm-eval| = %.2e nats\n", k->model, shots, n_req, max_d);
    for (int t = 0; t < 5; t++) cJSON_Delete(samples[t]);
    cJSON_Delete(results);
    ko_buf_free(&b);
    ko_buf_free(&g);
    free(golden);
    free(res_path);
    free(dir);
    cmd = ko_xasprintf("rm -rf %s", tmp);
    CHECK(system(cmd) == 0, "cleanup");
    free(cmd);
}

int main(void) {
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        if (!ko_file_exists(CASES[i].model) && !ko_dir_exists(CASES[i].model)) {
            printf("skip %s %d-shot: %s is absent (make model)\n", CASES[i].model, CASES[i].shots, CASES[i].model);
            continue;
        }
        run_case(&CASES[i]);
    }
    TEST_END();
}
