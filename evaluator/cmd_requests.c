/* cmd_requests.c — `koeval requests`: prints every task's log-likelihood requests as JSONL, one line
 * per (document, choice): {"task", "doc_id", "choice", "context", "continuation"}, in lm-eval's
 * request order. Strings are written like Python's json.dumps(ensure_ascii=False) with its default
 * separators, so lm-eval's own requests dumped that way compare byte for byte. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/datasets.h"
#include "evaluator/commands.h"
#include "tasks/tasks.h"

static void put_doc(ko_buf *b, const char *task, const ko_reqdoc *d) {
    for (int c = 0; c < d->n_choices; c++) {
        ko_buf_puts(b, "{\"task\": ");
        ko_buf_json_str(b, task, strlen(task));
        ko_buf_printf(b, ", \"doc_id\": %d, \"choice\": %d, \"context\": ", d->doc_id, c);
        ko_buf_json_str(b, d->context, strlen(d->context));
        ko_buf_puts(b, ", \"continuation\": ");
        ko_buf_json_str(b, d->continuations[c], strlen(d->continuations[c]));
        ko_buf_puts(b, "}\n");
    }
}

/* Builds and prints one task's requests. */
static int print_task(const char *name, const ko_reqopts *ro, FILE *out, ko_err *e) {
    ko_task *t;
    if (ko_task_load(name, &t, e) < 0) return -1;
    ko_reqdoc *docs;
    int n;
    int rc = ko_task_requests(t, ro, &docs, &n, e);
    ko_buf b = {0};
    for (int i = 0; rc == 0 && i < n; i++) {
        b.n = 0;
        put_doc(&b, name, &docs[i]);
        if (fwrite(b.p, 1, b.n, out) != b.n) rc = ko_fail(e, "requests: writing the output: %s", strerror(errno));
    }
    ko_buf_free(&b);
    ko_task_free(t);
    return rc;
}

int ko_cmd_requests(const ko_options *o) {
    ko_err e;
    char **names = NULL;
    int n_names = 0;
    if (ko_tasks_expand(o->tasks ? o->tasks : "", &names, &n_names, &e) < 0) {
        fprintf(stderr, "koeval: %s\n", e.msg);
        return KO_EXIT_USAGE;
    }
    char *dir = NULL;
    int rc = ko_dataset_locate(o->data_dir, &dir, &e);
    ko_reqopts ro = {
        .data_dir = dir,
        .num_fewshot = o->num_fewshot < 0 ? 0 : o->num_fewshot,
        .fewshot_seed = o->fewshot_seed,
        .limit = o->limit,
    };
    for (int i = 0; rc == 0 && i < n_names; i++) rc = print_task(names[i], &ro, stdout, &e);
    if (rc == 0 && fflush(stdout) != 0) rc = ko_fail(&e, "requests: writing the output: %s", strerror(errno));
    if (rc < 0) fprintf(stderr, "koeval: %s\n", e.msg);
    for (int i = 0; i < n_names; i++) free(names[i]);
    free(names);
    free(dir);
    return rc < 0 ? KO_EXIT_ERROR : KO_EXIT_OK;
}
