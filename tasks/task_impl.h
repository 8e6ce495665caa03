/* task_impl.h — the inside of a loaded task (ko_task), shared by the files of tasks/ only
 * (registry.c: loading the config; requests.c: building requests; metrics.c: scoring). */
#ifndef KO_TASK_IMPL_H
#define KO_TASK_IMPL_H

#include <cjson/cJSON.h>

#include "tasks/tasks.h"

struct ko_task {
    char *name;
    cJSON *cfg;                  /* the parsed config file (owned); the fields below point into it */
    const char *dataset_name;    /* "copa" */
    const char *training_split;  /* "train" (NULL if none) */
    const char *validation_split;
    const char *test_split;      /* "test" */
    const char *fewshot_split;   /* config's fewshot_split, or NULL: lm-eval then uses training,
                                    else validation, else test docs */
    const char *doc_to_text;     /* templates (tasks/template.h) */
    const char *doc_to_target;
    const cJSON *doc_to_choice;  /* array of templates */
    const cJSON *maps;           /* lookup tables for the map filter, or NULL */
    const char *description;
    const char *target_delimiter;
    const char *fewshot_delimiter;
    double version;
    int n_metrics;
    const char **metrics;        /* metric names in config order ("acc", "f1", ...) */

    /* Filled by ko_task_requests (owned). */
    ko_dataset eval_ds, fewshot_ds;
    bool have_eval, have_fewshot;
    ko_reqdoc *docs;
    int n_docs;
};

/* Frees the requests and datasets a previous ko_task_requests made (registry.c calls it on free). */
void ko_task_requests_free(ko_task *t);

#endif
