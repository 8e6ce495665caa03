/* results.c — the results JSON in lm-eval 0.4.13's schema (evaluator_utils.EvalAcc._to_eval_results,
 * evaluator.simple_evaluate's "config", EvaluationTracker.save_results_aggregated's additions), the
 * group aggregation (api/group.py Group.aggregate) and koeval's own section. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reports/report_impl.h"
#include "tasks/metrics.h"

/* lm-eval _kobest.yaml aggregate_metric_list (all weight_by_size: true), in its order. */
static const char *const GROUP_METRICS[] = {"acc", "acc_norm", "f1"};
#define N_GROUP_METRICS (int)(sizeof GROUP_METRICS / sizeof *GROUP_METRICS)

/* The order process_results builds its result dict in (api/task.py, multiple_choice). */
static const char *const RESULT_ORDER[] = {"acc", "f1", "mcc", "acc_norm", "acc_bytes", "exact_match",
                                           "brier_score", "likelihood"};

int ko_metric_rank(const char *name) {
    int n = (int)(sizeof RESULT_ORDER / sizeof *RESULT_ORDER);
    for (int i = 0; i < n; i++)
        if (!strcmp(RESULT_ORDER[i], name)) return i;
    return n;
}

int *ko_metric_order(const ko_report_task *rt) {
    int *o = ko_xmalloc((size_t)(rt->n_metrics + 1) * sizeof *o);
    for (int i = 0; i < rt->n_metrics; i++) o[i] = i;
    for (int i = 1; i < rt->n_metrics; i++) /* stable insertion sort: a handful of metrics */
        for (int j = i; j > 0 && ko_metric_rank(rt->metrics[o[j]].name) < ko_metric_rank(rt->metrics[o[j - 1]].name); j--) {
            int t = o[j];
            o[j] = o[j - 1];
            o[j - 1] = t;
        }
    return o;
}

static const ko_metric *find_metric(const ko_report_task *rt, const char *name) {
    for (int i = 0; i < rt->n_metrics; i++)
        if (!strcmp(rt->metrics[i].name, name)) return &rt->metrics[i];
    return NULL;
}

static void add_metric(cJSON *o, const char *name, double value, double se) {
    char key[96];
    snprintf(key, sizeof key, "%s,none", name);
    cJSON_AddItemToObject(o, key, ko_json_float(value));
    snprintf(key, sizeof key, "%s_stderr,none", name);
    cJSON_AddItemToObject(o, key, ko_json_stderr(se));
}

static cJSON *task_result(const ko_report_task *rt) {
    const char *name = ko_task_name(rt->task);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddStringToObject(o, "alias", name);
    cJSON_AddNumberToObject(o, "sample_len", rt->n_docs);
    int *ord = ko_metric_order(rt);
    for (int i = 0; i < rt->n_metrics; i++) {
        const ko_metric *m = &rt->metrics[ord[i]];
        add_metric(o, m->name, m->value, m->stderr_);
    }
    free(ord);
    return o;
}

int ko_group_metrics(const ko_report *r, const char **names, double *values, double *ses, long *counts) {
    double *vals = ko_xmalloc((size_t)(r->n_tasks + 1) * sizeof *vals);
    double *se = ko_xmalloc((size_t)(r->n_tasks + 1) * sizeof *se);
    int *sizes = ko_xmalloc((size_t)(r->n_tasks + 1) * sizeof *sizes);
    int n_out = 0;
    for (int g = 0; g < N_GROUP_METRICS; g++) {
        int n = 0;
        bool all_se = true;
        long count = 0;
        for (int t = 0; t < r->n_tasks; t++) {
            const ko_metric *m = find_metric(&r->tasks[t], GROUP_METRICS[g]);
            if (!m) continue;
            vals[n] = m->value;
            se[n] = m->stderr_;
            sizes[n] = r->tasks[t].n_docs;
            count += sizes[n];
            all_se = all_se && !isnan(m->stderr_);
            n++;
        }
        if (!n) continue;
        names[n_out] = GROUP_METRICS[g];
        values[n_out] = ko_weighted_mean(vals, sizes, n);
        ses[n_out] = all_se ? ko_pooled_stderr(se, sizes, n) : NAN;
        counts[n_out] = count;
        n_out++;
    }
    free(vals);
    free(se);
    free(sizes);
    return n_out;
}

static cJSON *group_result(const ko_report *r) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "alias", r->group);
    cJSON_AddStringToObject(o, "name", r->group);
    long total = 0;
    for (int t = 0; t < r->n_tasks; t++) total += r->tasks[t].n_docs;
    cJSON_AddNumberToObject(o, "sample_len", (double)total);
    const char *names[KO_GROUP_METRICS_MAX];
    double vals[KO_GROUP_METRICS_MAX], ses[KO_GROUP_METRICS_MAX];
    long counts[KO_GROUP_METRICS_MAX];
    int n = ko_group_metrics(r, names, vals, ses, counts);
    for (int i = 0; i < n; i++) add_metric(o, names[i], vals[i], ses[i]);
    if (n) {
        cJSON *c = cJSON_AddObjectToObject(o, "sample_count");
        for (int i = 0; i < n; i++) {
            char key[96];
            snprintf(key, sizeof key, "%s,none", names[i]);
            cJSON_AddNumberToObject(c, key, (double)counts[i]);
        }
    }
    return o;
}

/* Task indices sorted by name (lm-eval sorts configs, versions, n-shot, higher_is_better). */
static int *by_name(const ko_report *r) {
    int *o = ko_xmalloc((size_t)(r->n_tasks + 1) * sizeof *o);
    for (int i = 0; i < r->n_tasks; i++) o[i] = i;
    for (int i = 1; i < r->n_tasks; i++)
        for (int j = i; j > 0 && strcmp(ko_task_name(r->tasks[o[j]].task), ko_task_name(r->tasks[o[j - 1]].task)) < 0; j--) {
            int t = o[j];
            o[j] = o[j - 1];
            o[j - 1] = t;
        }
    return o;
}

static int effective_shots(const ko_report *r) { return r->run->num_fewshot < 0 ? 0 : r->run->num_fewshot; }

/* A task's higher_is_better, in its config's metric order (all KoBEST metrics: higher is better). */
static cJSON *task_hib(const ko_report_task *rt) {
    cJSON *o = cJSON_CreateObject();
    const char *const *names;
    int n = ko_task_metric_names(rt->task, &names);
    for (int i = 0; i < n; i++) cJSON_AddBoolToObject(o, names[i], true);
    return o;
}

/* koeval's bootstrap stderr of each task's F1 (lm-eval's procedure; lm-eval itself says "N/A"). */
void ko_report_f1_bootstrap(const ko_report *r, double *se) {
    for (int t = 0; t < r->n_tasks; t++) {
        const ko_report_task *rt = &r->tasks[t];
        se[t] = NAN;
        if (!find_metric(rt, "f1") || rt->n_docs < 2 || r->run->bootstrap_iters <= 0) continue;
        int *gold = ko_xmalloc((size_t)rt->n_docs * sizeof *gold), *pred = ko_xmalloc((size_t)rt->n_docs * sizeof *pred);
        for (int i = 0; i < rt->n_docs; i++) {
            ko_sample s;
            ko_sample_score(&rt->docs[i], &rt->res[i], &s);
            gold[i] = s.gold;
            pred[i] = s.pred;
        }
        se[t] = ko_macro_f1_bootstrap_stderr(gold, pred, rt->n_docs, r->run->bootstrap_iters);
        free(gold);
        free(pred);
    }
}

double ko_report_f1_bootstrap_group(const ko_report *r, const double *boot) {
    double *ses = ko_xmalloc((size_t)(r->n_tasks + 1) * sizeof *ses);
    int *sizes = ko_xmalloc((size_t)(r->n_tasks + 1) * sizeof *sizes);
    int n = 0;
    bool all = true;
    for (int t = 0; t < r->n_tasks; t++) {
        if (!find_metric(&r->tasks[t], "f1")) continue;
        ses[n] = boot[t];
        sizes[n++] = r->tasks[t].n_docs;
        all = all && !isnan(boot[t]);
    }
    double se = n && all ? ko_pooled_stderr(ses, sizes, n) : NAN;
    free(ses);
    free(sizes);
    return se;
}

static void add_str_or_null(cJSON *o, const char *key, const char *v) {
    if (v) cJSON_AddStringToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);
}

static void add_measure(cJSON *o, const char *key, double v) {
    if (v >= 0) cJSON_AddItemToObject(o, key, ko_json_float(v));
}

static void add_count(cJSON *o, const char *key, long long v) {
    if (v >= 0) cJSON_AddNumberToObject(o, key, (double)v);
}

static cJSON *koeval_section(const ko_report *r, const double *boot) {
    const ko_run_facts *f = r->run;
    cJSON *o = cJSON_CreateObject();
    add_str_or_null(o, "version", f->koeval_version);
    add_str_or_null(o, "model", f->model);
    add_str_or_null(o, "device", f->device);
    add_str_or_null(o, "gpu_name", f->gpu_name);
    add_str_or_null(o, "dtype", f->dtype);
    if (f->softmax_dtype) cJSON_AddStringToObject(o, "softmax_dtype", f->softmax_dtype);
    add_str_or_null(o, "batch_size", f->batch_size);
    if (f->max_model_len > 0) cJSON_AddNumberToObject(o, "max_model_len", f->max_model_len);
    if (f->gpu_memory_utilization > 0) cJSON_AddItemToObject(o, "gpu_memory_utilization", ko_json_float(f->gpu_memory_utilization));
    cJSON_AddNumberToObject(o, "num_fewshot", effective_shots(r));
    cJSON_AddNumberToObject(o, "fewshot_seed", f->fewshot_seed);
    add_measure(o, "load_seconds", f->load_seconds);
    add_measure(o, "tokenize_seconds", f->tokenize_seconds);
    add_measure(o, "score_seconds", f->score_seconds);
    add_measure(o, "total_seconds", f->end_time - f->start_time);
    add_count(o, "requests", f->n_requests);
    add_count(o, "tokens", f->n_tokens);
    add_measure(o, "tokens_per_second", f->tokens_per_second);
    add_count(o, "peak_host_bytes", f->peak_host_bytes);
    add_count(o, "peak_device_bytes", f->peak_device_bytes);
    /* F1 stderr: lm-eval writes "N/A" (kobest's macro_f1_score has no stderr function there); this
     * is lm-eval's own bootstrap_stderr procedure applied to it, pooled for the group like acc. */
    cJSON *bs = cJSON_CreateObject();
    cJSON_AddNumberToObject(bs, "bootstrap_iters", f->bootstrap_iters);
    for (int t = 0; t < r->n_tasks; t++) {
        if (!find_metric(&r->tasks[t], "f1")) continue;
        cJSON *e = cJSON_CreateObject();
        cJSON_AddItemToObject(e, "f1_stderr,none", ko_json_stderr(boot[t]));
        cJSON_AddItemToObject(bs, ko_task_name(r->tasks[t].task), e);
    }
    if (r->group) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddItemToObject(e, "f1_stderr,none", ko_json_stderr(ko_report_f1_bootstrap_group(r, boot)));
        cJSON_AddItemToObject(bs, r->group, e);
    }
    cJSON_AddItemToObject(o, "stderr_bootstrap", bs);
    return o;
}

cJSON *ko_report_results_tree(const ko_report *r, const char *const *task_hashes, const double *boot) {
    const ko_run_facts *f = r->run;
    cJSON *root = cJSON_CreateObject();
    cJSON *results = cJSON_AddObjectToObject(root, "results");
    for (int t = 0; t < r->n_tasks; t++) cJSON_AddItemToObject(results, ko_task_name(r->tasks[t].task), task_result(&r->tasks[t]));
    if (r->group) {
        cJSON_AddItemToObject(results, r->group, group_result(r));
        cJSON *groups = cJSON_AddObjectToObject(root, "groups");
        cJSON_AddItemToObject(groups, r->group, group_result(r));
    }
    cJSON *subtasks = cJSON_AddObjectToObject(root, "group_subtasks");
    if (r->group) {
        cJSON *list = cJSON_AddArrayToObject(subtasks, r->group);
        for (int t = 0; t < r->n_tasks; t++) cJSON_AddItemToArray(list, cJSON_CreateString(ko_task_name(r->tasks[t].task)));
    }
    int *ord = by_name(r);
    int shots = effective_shots(r);
    cJSON *configs = cJSON_AddObjectToObject(root, "configs");
    for (int i = 0; i < r->n_tasks; i++) {
        const ko_task *t = r->tasks[ord[i]].task;
        cJSON_AddItemToObject(configs, ko_task_name(t), ko_task_config_json(t, f->num_fewshot, f->fewshot_seed));
    }
    /* versions, n-shot and higher_is_better are sorted by name with the group among the tasks;
     * lm-eval writes the group's version as the string of its metadata version ("1.0"). */
    cJSON *versions = cJSON_AddObjectToObject(root, "versions"), *nshot = cJSON_AddObjectToObject(root, "n-shot");
    cJSON *hib = cJSON_AddObjectToObject(root, "higher_is_better");
    bool group_done = !r->group;
    for (int i = 0; i <= r->n_tasks; i++) {
        const ko_report_task *rt = i < r->n_tasks ? &r->tasks[ord[i]] : NULL;
        if (!group_done && (!rt || strcmp(r->group, ko_task_name(rt->task)) < 0)) {
            cJSON_AddStringToObject(versions, r->group, "1.0");
            cJSON_AddNumberToObject(nshot, r->group, shots);
            cJSON *g = cJSON_AddObjectToObject(hib, r->group);
            for (int t = 0; t < r->n_tasks; t++) {
                const char *const *names;
                int n = ko_task_metric_names(r->tasks[t].task, &names);
                for (int k = 0; k < n; k++)
                    if (!cJSON_GetObjectItemCaseSensitive(g, names[k])) cJSON_AddBoolToObject(g, names[k], true);
            }
            group_done = true;
        }
        if (!rt) break;
        const char *name = ko_task_name(rt->task);
        cJSON_AddItemToObject(versions, name, ko_json_float(ko_task_version(rt->task)));
        cJSON_AddNumberToObject(nshot, name, shots);
        cJSON_AddItemToObject(hib, name, task_hib(rt));
    }
    free(ord);
    cJSON *ns = cJSON_AddObjectToObject(root, "n-samples");
    for (int t = 0; t < r->n_tasks; t++) {
        cJSON *e = cJSON_AddObjectToObject(ns, ko_task_name(r->tasks[t].task));
        cJSON_AddNumberToObject(e, "original", r->tasks[t].n_original);
        cJSON_AddNumberToObject(e, "effective", r->tasks[t].n_docs);
    }
    /* simple_evaluate's "config"; koeval has no Python seeds, lm-eval's defaults are reported. */
    cJSON *cfg = cJSON_AddObjectToObject(root, "config");
    add_str_or_null(cfg, "model", f->model_source);
    char *model_args = ko_xasprintf("pretrained=%s%s%s%s%s", f->model ? f->model : "", f->dtype ? ",dtype=" : "",
                                    f->dtype ? f->dtype : "", f->softmax_dtype ? ",softmax_dtype=" : "",
                                    f->softmax_dtype ? f->softmax_dtype : "");
    cJSON_AddStringToObject(cfg, "model_args", model_args);
    free(model_args);
    add_str_or_null(cfg, "batch_size", f->batch_size);
    cJSON_AddArrayToObject(cfg, "batch_sizes");
    add_str_or_null(cfg, "device", f->device);
    cJSON_AddNullToObject(cfg, "use_cache");
    /* the lm_eval CLI parses --limit as a float: "limit": 40.0 */
    if (f->limit > 0) cJSON_AddItemToObject(cfg, "limit", ko_json_float(f->limit));
    else cJSON_AddNullToObject(cfg, "limit");
    cJSON_AddNumberToObject(cfg, "bootstrap_iters", f->bootstrap_iters);
    cJSON_AddNullToObject(cfg, "gen_kwargs");
    cJSON_AddNumberToObject(cfg, "random_seed", 0);
    cJSON_AddNumberToObject(cfg, "numpy_seed", 1234);
    cJSON_AddNumberToObject(cfg, "torch_seed", 1234);
    cJSON_AddNumberToObject(cfg, "fewshot_seed", f->fewshot_seed);
    cJSON_AddNullToObject(root, "git_hash");
    cJSON_AddItemToObject(root, "date", ko_json_float(f->start_time));
    char *env = ko_xasprintf("koeval %s; device %s%s%s", f->koeval_version ? f->koeval_version : "?",
                             f->device ? f->device : "?", f->gpu_name ? "; " : "", f->gpu_name ? f->gpu_name : "");
    cJSON_AddStringToObject(root, "pretty_env_info", env);
    free(env);
    cJSON_AddStringToObject(root, "transformers_version", "N/A");
    cJSON_AddStringToObject(root, "lm_eval_version", "N/A");
    cJSON_AddNullToObject(root, "upper_git_hash");
    cJSON *th = cJSON_AddObjectToObject(root, "task_hashes");
    for (int t = 0; task_hashes && t < r->n_tasks; t++) cJSON_AddStringToObject(th, ko_task_name(r->tasks[t].task), task_hashes[t]);
    add_str_or_null(root, "model_source", f->model_source);
    add_str_or_null(root, "model_name", f->model);
    char *san = ko_sanitize_model_name(f->model ? f->model : "");
    cJSON_AddStringToObject(root, "model_name_sanitized", san);
    free(san);
    cJSON_AddNullToObject(root, "system_instruction");
    cJSON_AddNullToObject(root, "system_instruction_sha");
    cJSON_AddNullToObject(root, "fewshot_as_multiturn");
    cJSON_AddNullToObject(root, "chat_template");
    cJSON_AddNullToObject(root, "chat_template_sha");
    ko_buf tot = {0};
    ko_py_float_repr(&tot, f->end_time - f->start_time);
    cJSON_AddStringToObject(root, "total_evaluation_time_seconds", tot.p);
    ko_buf_free(&tot);
    cJSON_AddItemToObject(root, "koeval", koeval_section(r, boot));
    return root;
}
