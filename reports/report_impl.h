/* report_impl.h — shared by the files of reports/ only. */
#ifndef KO_REPORT_IMPL_H
#define KO_REPORT_IMPL_H

#include <cjson/cJSON.h>

#include "reports/reports.h"

/* Python json.dumps(obj, ensure_ascii=False) of a cJSON tree: indent 2 when indent is true
 * (separators "," + newline and ": "), else one line (separators ", " and ": "). Numbers: raw
 * nodes (ko_json_float) are written verbatim; plain cJSON numbers print as Python ints when
 * integral, except under a key named "version", which lm-eval keeps as a float (1.0). */
void ko_pyjson_dump(const cJSON *node, bool indent, ko_buf *out);
/* A float as Python writes it (repr) in a raw node; NaN/inf as json.dumps does (NaN, Infinity). */
cJSON *ko_json_float(double x);
/* The stderr value lm-eval writes: a float, or the string "N/A" for NAN. */
cJSON *ko_json_stderr(double se);

/* lm-eval process_results' metric order ("acc", "f1", "mcc", "acc_norm", ...): the order of the
 * "<metric>,none" keys in results and of the per-sample values. Unknown names sort last. */
int ko_metric_rank(const char *name);
/* The task's metrics sorted into that order (a malloc'd array of indices into rt->metrics). */
int *ko_metric_order(const ko_report_task *rt);

/* Group.aggregate (api/group.py) over the report's tasks for lm-eval's kobest
 * aggregate_metric_list (acc, acc_norm, f1; weight_by_size): for each of those metrics some task
 * has, its name, size-weighted mean, pooled stderr (NAN = "N/A" when any subtask's is) and the
 * documents behind it. Returns how many (<= KO_GROUP_METRICS_MAX). */
#define KO_GROUP_METRICS_MAX 3
int ko_group_metrics(const ko_report *r, const char **names, double *values, double *ses, long *counts);

/* koeval's F1 stderr per task by lm-eval's bootstrap procedure (NAN where lm-eval could not:
 * one document, no f1, bootstrap_iters <= 0). se[n_tasks]. */
void ko_report_f1_bootstrap(const ko_report *r, double *se);
/* The group's from those, pooled as lm-eval pools its subtasks' stderr (NAN when any is). */
double ko_report_f1_bootstrap_group(const ko_report *r, const double *boot);

/* The results document (results.c): task_hashes[n_tasks] or NULL, boot from ko_report_f1_bootstrap. */
cJSON *ko_report_results_tree(const ko_report *r, const char *const *task_hashes, const double *boot);
/* The Markdown (markdown.c), with the bootstrap figures already computed. */
char *ko_report_markdown_with(const ko_report *r, const double *boot);
/* Task t's samples JSONL appended to out, and lm-eval's task_hashes entry for it. */
int ko_report_samples_task(const ko_report *r, int t, ko_buf *out, char task_hash[65], ko_err *e);

#endif
