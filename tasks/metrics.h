/* metrics.h — the arithmetic behind ko_task_metrics (tasks.h), exactly as lm-eval 0.4.13 does it
 * for multiple_choice tasks, exposed for reports/ (per-sample values, group aggregation, the F1
 * bootstrap) and for the tests.
 *
 * Where each piece comes from in lm-eval 0.4.13:
 *   per document   api/task.py ConfigurableTask.process_results (multiple_choice):
 *                  pred = np.argmax(lls), pred_norm = np.argmax(lls / [len(choice) for choices])
 *                  with len() in characters (code points) of doc_to_choice's strings (no
 *                  delimiter); acc = pred == gold, acc_norm = pred_norm == gold, f1 item (gold, pred)
 *   per task       api/metrics.py mean (sum/len), mean_stderr (sample stddev / sqrt(n)); kobest's
 *                  utils.macro_f1_score = sklearn f1_score(golds, preds, average="macro");
 *                  evaluator_utils._compute_task_aggregations: stderr "N/A" when len(items) <= 1 or
 *                  when the aggregation has no stderr function — macro_f1_score is not in
 *                  stderr_for_metric's bootstrappable list, so lm-eval reports f1_stderr "N/A"
 *   per group      api/group.py Group.aggregate: api/metrics.py aggregate_subtask_metrics
 *                  (weight_by_size) and pooled_sample_stderr ("N/A" when any subtask's is)
 *   bootstrap      api/metrics.py bootstrap_stderr: iters // 1000 chunks (chunk = min(1000, iters)),
 *                  chunk i draws with random.Random(i).choices(items, k=n), then sample_stddev
 */
#ifndef KO_METRICS_H
#define KO_METRICS_H

#include "tasks/tasks.h"

/* The number of documents in the task's evaluated split after ko_task_requests (lm-eval's
 * n-samples "original", which --limit does not change); 0 before. */
int ko_task_split_size(const ko_task *t);

/* numpy.argmax over x[0..n): the first maximum; a NaN wins (the first NaN). */
int ko_argmax(const double *x, int n);

/* One document's per-sample outcome (lm-eval's process_results). */
typedef struct ko_sample {
    int gold;          /* index into the choices */
    int pred;          /* argmax of ll */
    int pred_norm;     /* argmax of ll / len(choice) in code points */
    double acc;        /* 1.0 / 0.0 */
    double acc_norm;
} ko_sample;
void ko_sample_score(const ko_reqdoc *d, const ko_docresult *r, ko_sample *out);

/* Python sum(x) / len(x), summed left to right. n >= 1. */
double ko_mean(const double *x, int n);
/* lm-eval mean_stderr: sqrt(sum((x - mean)^2) / (n - 1)) / sqrt(n). n >= 2. */
double ko_mean_stderr(const double *x, int n);

/* sklearn.metrics.f1_score(gold, pred, average="macro"): labels = sorted union of the labels seen
 * in gold and pred; per label F = 2 tp / (n_true + n_pred) (never 0/0 for a seen label, so
 * zero_division never applies); the mean over labels summed in label order. Labels are 0..63. */
double ko_macro_f1(const int *gold, const int *pred, int n);

/* lm-eval's bootstrap_stderr(macro_f1_score, items, iters) on items (gold[i], pred[i]); n >= 1,
 * iters >= 1 (the result is NAN when fewer than two replicates are drawn, i.e. iters < 2). */
double ko_macro_f1_bootstrap_stderr(const int *gold, const int *pred, int n, int iters);

/* lm-eval aggregate_subtask_metrics(values, sizes, weight_by_size=True). */
double ko_weighted_mean(const double *values, const int *sizes, int n);
/* lm-eval pooled_sample_stderr(stderrs, sizes). */
double ko_pooled_stderr(const double *stderrs, const int *sizes, int n);

#endif
