/* reports.h — stage 4: scores -> the files a run leaves behind, in lm-eval 0.4.13's shapes.
 *
 *   DIR/<model_name_sanitized>/results_<date_id>.json       lm-eval's results file (EvaluationTracker.
 *                                                            save_results_aggregated) + "koeval" section
 *   DIR/<model_name_sanitized>/results_<date_id>.md         the Markdown below
 *   DIR/<model_name_sanitized>/samples_<task>_<date_id>.jsonl   with --log_samples (save_results_samples)
 *
 * date_id is lm-eval's datetime.now().isoformat().replace(":", "-") (local time, microseconds);
 * model_name_sanitized is re.sub(r"[\"<>:/|\\?*\[\]]+", "__", model). Every file is built in
 * memory first and written with ko_write_file_atomic; when anything fails nothing is written.
 *
 * How the evaluator uses it, after scoring:
 *     ko_report_task rt[n]   = one per task: task, docs, res, n_docs, n_original, metrics
 *                              (from ko_task_requests / the engine / ko_task_metrics;
 *                              n_original = ko_task_split_size(task), tasks/metrics.h)
 *     ko_report r = {.run = &facts, .tasks = rt, .n_tasks = n, .group = "kobest" or NULL};
 *     char *md = NULL;
 *     if (output_path) { if (ko_report_write(&r, output_path, log_samples, NULL, &md, &e) < 0) fail; }
 *     else md = ko_report_markdown(&r);
 *     fputs(md, stdout); free(md);
 */
#ifndef KO_REPORTS_H
#define KO_REPORTS_H

#include "common/ko.h"
#include "tasks/tasks.h"

/* Facts about the run. Strings may be NULL (written as null / left out). */
typedef struct ko_run_facts {
    const char *model;           /* --model as given (name or path): config.model_args "pretrained=" */
    const char *model_source;    /* "koeval" (lm-eval: "hf", "vllm", ...) */
    const char *device;          /* "cuda:0", "cpu" */
    const char *dtype;           /* "bfloat16" */
    const char *softmax_dtype;   /* --softmax_dtype as given; NULL = auto (left out) */
    const char *batch_size;      /* as given: "auto" or "64" */
    double limit;                /* --limit as given; 0 = none (null) */
    int num_fewshot;             /* -1 = task default */
    unsigned fewshot_seed;       /* 1234 */
    int bootstrap_iters;         /* lm-eval's default 100000; F1 bootstrap in the koeval section */
    double start_time;           /* epoch seconds (clock_gettime REALTIME, not ko_now) at the start: "date" */
    double end_time;             /* epoch seconds when scoring ended: file names, total time */
    const char *koeval_version;
    const char *gpu_name;        /* NULL on CPU */
    int max_model_len;           /* 0 = the model's */
    double gpu_memory_utilization;
    /* Measurements (negative = unknown, left out). */
    double load_seconds, tokenize_seconds, score_seconds;
    long long n_requests, n_tokens;       /* requests scored, tokens forwarded */
    double tokens_per_second;
    long long peak_host_bytes, peak_device_bytes;
} ko_run_facts;

/* One task's outcome. */
typedef struct ko_report_task {
    const ko_task *task;
    const ko_reqdoc *docs;       /* [n_docs], from ko_task_requests */
    const ko_docresult *res;     /* [n_docs], from the engine */
    int n_docs;                  /* documents evaluated (lm-eval n-samples.effective) */
    int n_original;              /* documents in the split (n-samples.original) */
    const ko_metric *metrics;    /* from ko_task_metrics */
    int n_metrics;
} ko_report_task;

typedef struct ko_report {
    const ko_run_facts *run;
    const ko_report_task *tasks;
    int n_tasks;
    /* lm-eval's group name when the user asked for the group (lm-eval 0.4.13 calls the KoBEST group
     * "kobest"; its results key is that name), or NULL for tasks named one by one. The group's
     * metrics are lm-eval's _kobest.yaml aggregate_metric_list: acc, acc_norm, f1, weight_by_size. */
    const char *group;
} ko_report;

/* The per-task F1 row of the seed leaderboard and the full metric table (lm-eval make_table's
 * look, stderr included). malloc'd. */
char *ko_report_markdown(const ko_report *r);

/* The results JSON (lm-eval's schema, json.dumps(indent=2, ensure_ascii=False) formatting) in *out.
 * task_hashes is filled when with_samples (lm-eval fills it only with --log_samples). */
int ko_report_results_json(const ko_report *r, bool with_samples, ko_buf *out, ko_err *e);

/* lm-eval's samples file of task i: one json.dumps line per document. */
int ko_report_samples_jsonl(const ko_report *r, int i, ko_buf *out, ko_err *e);

/* Writes the files listed at the top under output_path (created if missing). results_path and
 * markdown (either may be NULL) receive the results file's path and the Markdown (malloc'd); the
 * F1 bootstrap then runs once for both. On failure no file is left behind. */
int ko_report_write(const ko_report *r, const char *output_path, bool log_samples, char **results_path,
                    char **markdown, ko_err *e);

/* Helpers, exposed for the tests. ----------------------------------------------------------- */

/* Python repr(float) (and json.dumps of a float): shortest round-trip digits, "1.0", "1e-05",
 * "1e+16", "-0.0", "inf", "nan". */
void ko_py_float_repr(ko_buf *b, double x);
/* lm-eval sanitize_model_name. malloc'd. */
char *ko_sanitize_model_name(const char *model);
/* datetime.fromtimestamp(t).isoformat().replace(":", "-"). */
void ko_date_id(double epoch, char out[40]);

#endif
