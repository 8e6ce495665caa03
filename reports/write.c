/* write.c — the public entry points: build everything in memory, then write the files
 * (EvaluationTracker's layout) atomically; a failure before the first write leaves nothing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reports/report_impl.h"

static int check(const ko_report *r, ko_err *e) {
    if (!r->run) return ko_fail(e, "report: no run facts");
    if (r->n_tasks < 1) return ko_fail(e, "report: no tasks");
    for (int t = 0; t < r->n_tasks; t++) {
        const ko_report_task *rt = &r->tasks[t];
        if (!rt->task || rt->n_docs < 1 || !rt->docs || !rt->res || !rt->metrics)
            return ko_fail(e, "report: task %d has no scored documents", t);
    }
    return 0;
}

char *ko_report_markdown(const ko_report *r) {
    ko_err e;
    if (check(r, &e) < 0) return ko_xasprintf("%s\n", e.msg);
    double *boot = ko_xmalloc((size_t)r->n_tasks * sizeof *boot);
    ko_report_f1_bootstrap(r, boot);
    char *md = ko_report_markdown_with(r, boot);
    free(boot);
    return md;
}

int ko_report_results_json(const ko_report *r, bool with_samples, ko_buf *out, ko_err *e) {
    if (check(r, e) < 0) return -1;
    char (*hashes)[65] = ko_xcalloc((size_t)r->n_tasks, sizeof *hashes);
    const char **hp = ko_xcalloc((size_t)r->n_tasks, sizeof *hp);
    int rc = 0;
    for (int t = 0; with_samples && t < r->n_tasks && rc == 0; t++) {
        ko_buf tmp = {0};
        rc = ko_report_samples_task(r, t, &tmp, hashes[t], e);
        hp[t] = hashes[t];
        ko_buf_free(&tmp);
    }
    if (rc == 0) {
        double *boot = ko_xmalloc((size_t)r->n_tasks * sizeof *boot);
        ko_report_f1_bootstrap(r, boot);
        cJSON *root = ko_report_results_tree(r, with_samples ? hp : NULL, boot);
        ko_pyjson_dump(root, true, out);
        cJSON_Delete(root);
        free(boot);
    }
    free(hashes);
    free(hp);
    return rc;
}

typedef struct out_file {
    char *path;
    ko_buf data;
} out_file;

int ko_report_write(const ko_report *r, const char *output_path, bool log_samples, char **results_path,
                    char **markdown, ko_err *e) {
    if (results_path) *results_path = NULL;
    if (markdown) *markdown = NULL;
    if (check(r, e) < 0) return -1;
    int n_files = 2 + (log_samples ? r->n_tasks : 0), rc = 0;
    out_file *files = ko_xcalloc((size_t)n_files, sizeof *files);
    char **hashes = ko_xcalloc((size_t)r->n_tasks, sizeof *hashes);
    /* lm-eval: DIR/<model_name_sanitized>/results_<date_id>.json, samples_<task>_<date_id>.jsonl */
    char *san = ko_sanitize_model_name(r->run->model ? r->run->model : "");
    char *dir = ko_xasprintf("%s/%s", output_path, san);
    char date[40];
    ko_date_id(r->run->end_time, date);
    for (int t = 0; log_samples && t < r->n_tasks && rc == 0; t++) {
        out_file *f = &files[2 + t];
        f->path = ko_xasprintf("%s/samples_%s_%s.jsonl", dir, ko_task_name(r->tasks[t].task), date);
        hashes[t] = ko_xmalloc(65);
        rc = ko_report_samples_task(r, t, &f->data, hashes[t], e);
    }
    if (rc == 0) {
        double *boot = ko_xmalloc((size_t)r->n_tasks * sizeof *boot);
        ko_report_f1_bootstrap(r, boot);
        cJSON *root = ko_report_results_tree(r, log_samples ? (const char *const *)hashes : NULL, boot);
        files[0].path = ko_xasprintf("%s/results_%s.json", dir, date);
        ko_pyjson_dump(root, true, &files[0].data);
        cJSON_Delete(root);
        char *md = ko_report_markdown_with(r, boot);
        files[1].path = ko_xasprintf("%s/results_%s.md", dir, date);
        ko_buf_puts(&files[1].data, md);
        if (markdown) *markdown = md;
        else free(md);
        free(boot);
        rc = ko_mkdirs(dir, e);
    }
    int written = 0;
    for (; written < n_files && rc == 0; written++)
        rc = ko_write_file_atomic(files[written].path, files[written].data.p, files[written].data.n, e);
    if (rc < 0) /* all or nothing: take back the files this call already wrote */
        for (int i = 0; i < written - 1; i++) unlink(files[i].path);
    if (rc == 0 && results_path) *results_path = ko_xstrdup(files[0].path);
    if (rc < 0 && markdown) {
        free(*markdown);
        *markdown = NULL;
    }
    for (int i = 0; i < n_files; i++) {
        free(files[i].path);
        ko_buf_free(&files[i].data);
    }
    for (int t = 0; t < r->n_tasks; t++) free(hashes[t]);
    free(hashes);
    free(files);
    free(san);
    free(dir);
    return rc;
}
