/* tasks.h — stage 2: task configs (data, one file per task, modelled on lm-eval's YAML) turn documents
 * into log-likelihood requests, and per-choice scores back into metrics.
 *
 * Requests are byte-identical to lm-eval 0.4.x's Instance.arguments for multiple_choice tasks:
 * context = few-shot examples + doc_to_text(doc), continuation_i = target_delimiter + choice_i.
 * (The move of the context's trailing whitespace onto the continuations happens later, at
 * tokenization time, exactly where lm-eval's HF model does it: see ko_split_trailing_ws.)
 */
#ifndef KO_TASKS_H
#define KO_TASKS_H

#include "common/ko.h"
#include "datasets/datasets.h"

typedef struct ko_task ko_task;   /* opaque: a loaded task config */

/* One document's requests. */
typedef struct ko_reqdoc {
    int doc_id;              /* index in the evaluated split (lm-eval's doc_id) */
    char *context;           /* arguments[0] */
    int n_choices;
    char **continuations;    /* arguments[1] per choice */
    char **choices;          /* doc_to_choice(doc) (without the delimiter), for reports */
    int gold;                /* doc_to_target as an index into choices */
    const ko_docrow *doc;    /* the document (owned by the task's dataset) */
} ko_reqdoc;

/* Per-document outcome of scoring, filled by the evaluator from the engine's results. */
typedef struct ko_docresult {
    double *ll;              /* [n_choices] sum log p(continuation_i | context) */
    bool *is_greedy;         /* [n_choices] */
} ko_docresult;

/* One metric value (lm-eval's "<name>,none" and "<name>_stderr,none"). */
typedef struct ko_metric {
    const char *name;        /* "acc", "f1", "acc_norm" */
    double value;
    double stderr_;          /* NAN when lm-eval reports "N/A" */
} ko_metric;

/* Task registry ------------------------------------------------------------------------------- */

/* Expands a comma-separated spec ("kobest_all", "kobest", "kobest_copa,kobest_wic") into task names
 * in lm-eval's order; unknown names fail with the nearest valid name. Returns malloc'd arrays. */
int ko_tasks_expand(const char *spec, char ***names, int *n, ko_err *e);
/* lm-eval's name of the first group the spec names ("kobest_all" -> "kobest", from the group
 * config's lm_eval_group), or NULL when it names tasks only. malloc'd. */
char *ko_tasks_group_name(const char *spec);
/* All known task and group names (static storage). */
int ko_tasks_known(const char *const **names);

int ko_task_load(const char *name, ko_task **out, ko_err *e);
void ko_task_free(ko_task *t);
const char *ko_task_name(const ko_task *t);
/* The task's config as lm-eval writes it in results["configs"][name] (cJSON object, caller frees). */
struct cJSON *ko_task_config_json(const ko_task *t, int num_fewshot, unsigned fewshot_seed);
double ko_task_version(const ko_task *t);
/* The task's metric names in config order ("acc", "f1", ["acc_norm"]); static for the task's life. */
int ko_task_metric_names(const ko_task *t, const char *const **names);

/* Requests ------------------------------------------------------------------------------------ */

typedef struct ko_reqopts {
    const char *data_dir;    /* located data folder */
    int num_fewshot;         /* 0 = zero-shot */
    unsigned fewshot_seed;   /* lm-eval default 1234 */
    double limit;            /* 0 = all docs; otherwise lm-eval's --limit: the first N docs, or
                                the first ceil(n * limit) when limit < 1 */
} ko_reqopts;

/* Loads the task's data and builds every document's requests. The task keeps the datasets alive;
 * docs are owned by the task until ko_task_free. */
int ko_task_requests(ko_task *t, const ko_reqopts *o, ko_reqdoc **docs, int *n_docs, ko_err *e);

/* lm-eval HF rule: trailing whitespace of the context moves to the front of the continuation.
 * Returns the length of the context without its trailing whitespace (Python str.rstrip()). */
size_t ko_split_trailing_ws(const char *context);

/* Metrics ------------------------------------------------------------------------------------- */

/* Computes the task's metrics from per-document results; *metrics is malloc'd. The per-document
 * values (--log_samples) come from ko_sample_score (tasks/metrics.h). */
int ko_task_metrics(const ko_task *t, const ko_reqdoc *docs, const ko_docresult *res, int n_docs,
                    ko_metric **metrics, int *n_metrics, ko_err *e);

#endif
