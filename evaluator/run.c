/* run.c — `koeval --model M --tasks T`: the whole evaluation, one direction:
 *   tasks -> requests -> (model, tokenizer, engine) -> token ids -> scores -> metrics -> reports.
 * Everything that can fail on the user's input (tasks, data, model, tokenizer) is checked before
 * the long scoring step; nothing is written unless every task scored. */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine.h"
#include "engine/tokenizer/tokenizer.h"
#include "evaluator/commands.h"
#include "evaluator/encode.h"
#include "reports/reports.h"
#include "tasks/metrics.h"
#include "tasks/tasks.h"

#define KOEVAL_VERSION "0.1.0"

/* One task of the run and everything computed for it. */
typedef struct run_task {
    char *name;
    ko_task *task;
    ko_reqdoc *docs;             /* owned by task */
    int n_docs;
    ko_encdoc *enc;              /* [n_docs] */
    ko_docresult *res;           /* [n_docs] */
    ko_metric *metrics;
    int n_metrics;
    int n_original;              /* documents in the split before --limit */
} run_task;

/* Scoring progress on stderr, at most every 10 s: a long CPU run should not look hung. */
typedef struct progress {
    double t0, last;
} progress;

typedef struct run {
    const ko_options *o;
    run_task *t;
    int n;
    char *data_dir, *model_path;
    ko_model *model;
    ko_tokenizer *tok;
    ko_engine *engine;
    ko_doc *docs;                /* all tasks' engine documents */
    int n_docs;
    char *group;                 /* lm-eval's group name when the user asked for the group */
    progress progress;
    double epoch_start, t_load, t_tokenize, t_score;
    long long n_requests;
} run;

static void run_free(run *r) {
    for (int i = 0; i < r->n; i++) {
        run_task *t = &r->t[i];
        if (t->enc) ko_encdocs_free(t->enc, t->n_docs);
        free(t->enc);
        for (int d = 0; t->res && d < t->n_docs; d++) {
            free(t->res[d].ll);
            free(t->res[d].is_greedy);
        }
        free(t->res);
        free(t->metrics);
        if (t->task) ko_task_free(t->task);
        free(t->name);
    }
    free(r->t);
    free(r->docs);
    if (r->engine) ko_engine_close(r->engine);
    if (r->tok) ko_tokenizer_free(r->tok);
    if (r->model) ko_model_free(r->model);
    free(r->data_dir);
    free(r->model_path);
    free(r->group);
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("koeval: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* --output_path is checked before the long part of the run: its nearest existing ancestor must be a
 * writable folder (nothing is created until the reports are written). */
static int check_output_path(const char *path, ko_err *e) {
    char *p = ko_xstrdup(path);
    while (!ko_file_exists(p) && !ko_dir_exists(p)) {
        char *slash = strrchr(p, '/');
        if (!slash) {
            strcpy(p, ".");
            break;
        }
        if (slash == p) slash[1] = 0;
        else *slash = 0;
    }
    int rc = 0;
    if (!ko_dir_exists(p)) rc = ko_fail(e, "--output_path %s: %s is not a folder", path, p);
    else if (access(p, W_OK | X_OK) != 0) rc = ko_fail(e, "--output_path %s: %s is not writable", path, p);
    free(p);
    return rc;
}

/* Tasks and their requests: all data problems surface here, before any model is loaded. */
static int load_tasks(run *r, char **names, ko_err *e) {
    r->group = ko_tasks_group_name(r->o->tasks);
    r->t = ko_xcalloc((size_t)r->n, sizeof *r->t);
    for (int i = 0; i < r->n; i++) r->t[i].name = names[i];
    free(names);
    if (ko_dataset_locate(r->o->data_dir, &r->data_dir, e) < 0) return -1;
    ko_reqopts ro = {
        .data_dir = r->data_dir,
        .num_fewshot = r->o->num_fewshot < 0 ? 0 : r->o->num_fewshot,
        .fewshot_seed = r->o->fewshot_seed,
        .limit = r->o->limit,
    };
    for (int i = 0; i < r->n; i++) {
        run_task *t = &r->t[i];
        if (ko_task_load(t->name, &t->task, e) < 0) return -1;
        if (ko_task_requests(t->task, &ro, &t->docs, &t->n_docs, e) < 0) return -1;
        t->n_original = ko_task_split_size(t->task);
        for (int d = 0; d < t->n_docs; d++) r->n_requests += t->docs[d].n_choices;
    }
    return 0;
}

static int load_model(run *r, ko_err *e) {
    const ko_options *o = r->o;
    if (ko_model_resolve(o->model, &r->model_path, e) < 0) return -1;
    return ko_model_load(r->model_path, &r->model, e);
}

static int load_tokenizer(run *r, ko_err *e) {
    const ko_options *o = r->o;
    const char *tp = o->tokenizer ? o->tokenizer : r->model->tokenizer_path;
    if (!tp) return ko_fail(e, "%s: no tokenizer.json beside the model (pass --tokenizer PATH)", r->model_path);
    return ko_tokenizer_load(tp, &r->tok, e);
}

static void on_progress(void *ctx, int done, int total) {
    progress *p = ctx;
    double now = ko_now();
    if (done == total || now - p->last < 10) return;
    p->last = now;
    double left = done > 0 ? (now - p->t0) * (total - done) / done : 0;
    fprintf(stderr, "koeval: scored %d/%d documents (%.0f%%, about %.0f s left)\n", done, total,
            100.0 * done / total, left);
}

static ko_engine_opts engine_opts(run *r) {
    const ko_options *o = r->o;
    return (ko_engine_opts){
        .device = o->device,
        .dtype = o->dtype,
        .softmax_dtype = o->softmax_dtype,
        .max_len = o->max_model_len,
        .gpu_memory_utilization = o->gpu_memory_utilization,
        .batch_tokens = o->batch_size,
        .n_threads = o->threads,
        .verbose = o->verbose,
        .progress = on_progress,
        .progress_ctx = &r->progress,
    };
}

/* The engine's open (the weights' upload: seconds on a GPU) runs on its own thread while the main
 * thread loads the tokenizer and tokenizes. */
typedef struct opener {
    run *r;
    int rc;
    double done; /* ko_now() when the open returned */
    ko_err e;
} opener;

static void *open_engine(void *arg) {
    opener *op = arg;
    ko_engine_opts eo = engine_opts(op->r);
    op->rc = ko_engine_open(op->r->model, &eo, &op->r->engine, &op->e);
    op->done = ko_now();
    return NULL;
}

/* Token ids for every request, then the engine's documents (with lm-eval's truncation). */
static int encode_all(run *r, ko_err *e) {
    ko_engine_opts eo = engine_opts(r);
    int max_len = ko_engine_max_len_for(r->model, &eo);
    for (int i = 0; i < r->n; i++) {
        run_task *t = &r->t[i];
        t->enc = ko_xcalloc((size_t)t->n_docs + 1, sizeof *t->enc);
        if (ko_encode_docs(r->tok, t->name, t->docs, t->n_docs, r->o->threads, t->enc, e) < 0) {
            free(t->enc);
            t->enc = NULL;
            return -1;
        }
        t->res = ko_xcalloc((size_t)t->n_docs + 1, sizeof *t->res);
        for (int d = 0; d < t->n_docs; d++) {
            int k = t->docs[d].n_choices;
            t->res[d].ll = ko_xcalloc((size_t)k, sizeof(double));
            t->res[d].is_greedy = ko_xcalloc((size_t)k, sizeof(bool));
        }
        if (ko_plan_docs(t->enc, t->res, t->n_docs, max_len, &r->docs, &r->n_docs, e) < 0)
            return ko_fail_prefix(e, "%s", t->name);
    }
    return 0;
}

static int compute_metrics(run *r, ko_err *e) {
    for (int i = 0; i < r->n; i++) {
        run_task *t = &r->t[i];
        if (ko_task_metrics(t->task, t->docs, t->res, t->n_docs, &t->metrics, &t->n_metrics, e) < 0)
            return ko_fail_prefix(e, "%s", t->name);
        /* lm-eval: bootstrap_iters 0 means no stderr function for any metric ("N/A"). */
        if (r->o->bootstrap_iters == 0)
            for (int m = 0; m < t->n_metrics; m++) t->metrics[m].stderr_ = NAN;
    }
    return 0;
}

/* Real-time clock in epoch seconds, for the report's date and file names. */
static double epoch_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int report(run *r, ko_err *e) {
    const ko_options *o = r->o;
    ko_engine_stats st;
    ko_engine_stats_get(r->engine, &st);
    bool cuda = strcmp(ko_engine_backend(r->engine), "cpu") != 0;
    char batch[32];
    if (o->batch_size) snprintf(batch, sizeof batch, "%d", o->batch_size);
    else snprintf(batch, sizeof batch, "auto");
    ko_run_facts facts = {
        .model = o->model,
        .model_source = "koeval",
        .device = o->device ? o->device : ko_engine_backend(r->engine),
        .dtype = o->dtype ? o->dtype : (cuda ? ko_dtype_hf_name(r->model->auto_dtype) : "float32"),
        .softmax_dtype = o->softmax_dtype,
        .batch_size = batch,
        .limit = o->limit,
        .num_fewshot = o->num_fewshot,
        .fewshot_seed = o->fewshot_seed,
        .bootstrap_iters = o->bootstrap_iters,
        .start_time = r->epoch_start,
        .end_time = epoch_now(),
        .koeval_version = KOEVAL_VERSION,
        .gpu_name = cuda ? st.device_name : NULL,
        .max_model_len = o->max_model_len,
        .gpu_memory_utilization = o->gpu_memory_utilization,
        .load_seconds = r->t_load,
        .tokenize_seconds = r->t_tokenize,
        .score_seconds = r->t_score,
        .n_requests = r->n_requests,
        .n_tokens = st.tokens,
        .tokens_per_second = r->t_score > 0 ? st.tokens / r->t_score : -1,
        .peak_host_bytes = cuda ? -1 : (long long)st.peak_mem_bytes,
        .peak_device_bytes = cuda ? (long long)st.peak_mem_bytes : -1,
    };
    ko_report_task *rt = ko_xcalloc((size_t)r->n, sizeof *rt);
    for (int i = 0; i < r->n; i++) {
        run_task *t = &r->t[i];
        rt[i] = (ko_report_task){t->task, t->docs, t->res, t->n_docs, t->n_original, t->metrics, t->n_metrics};
    }
    ko_report rep = {.run = &facts, .tasks = rt, .n_tasks = r->n, .group = r->group};
    char *md = NULL, *path = NULL;
    int rc = 0;
    if (o->output_path) rc = ko_report_write(&rep, o->output_path, o->log_samples, &path, &md, e);
    else md = ko_report_markdown(&rep);
    if (rc == 0) {
        fputs(md, stdout);
        if (path) say("wrote %s", path);
    }
    free(path);
    free(md);
    free(rt);
    return rc;
}

int ko_cmd_run(const ko_options *o) {
    if (!o->model) {
        fputs("koeval: --model is required (a folder, a .gguf file, or a name; see --help)\n", stderr);
        return KO_EXIT_USAGE;
    }
    if (!o->tasks) {
        fputs("koeval: --tasks is required (e.g. --tasks kobest_all)\n", stderr);
        return KO_EXIT_USAGE;
    }
    run r = {.o = o, .epoch_start = epoch_now()};
    ko_err e;
    int code = KO_EXIT_ERROR;
    char **names;
    /* Unknown task names are a usage error (exit 2), like unknown flags. */
    if (ko_tasks_expand(o->tasks, &names, &r.n, &e) < 0) {
        fprintf(stderr, "koeval: %s\n", e.msg);
        return KO_EXIT_USAGE;
    }
    if (o->batch_size > 0 && o->batch_size < 512)
        say("note: --batch_size counts tokens per packed batch, not sequences as in lm-eval; %d tokens is "
            "very small (use auto)", o->batch_size);
    if (load_tasks(&r, names, &e) < 0) goto fail;
    if (o->output_path && check_output_path(o->output_path, &e) < 0) goto fail;
    double t = ko_now();
    if (load_model(&r, &e) < 0) goto fail;
    opener op = {.r = &r};
    pthread_t th;
    bool threaded = pthread_create(&th, NULL, open_engine, &op) == 0;
    if (!threaded) open_engine(&op);
    double t1 = ko_now();
    int trc = load_tokenizer(&r, &e);
    if (trc == 0) trc = encode_all(&r, &e);
    r.t_tokenize = ko_now() - t1;
    if (threaded) pthread_join(th, NULL);
    if (trc < 0) goto fail; /* the tokenizer's error first, as when it was loaded first */
    if (op.rc < 0) {
        e = op.e;
        /* A device that was asked for and cannot be used is exit 4 (README). */
        if (o->device && strncmp(o->device, "cuda", 4) == 0) code = KO_EXIT_NO_ENGINE;
        goto fail;
    }
    r.t_load = op.done - t;
    say("%s: %s on %s, %lld requests in %d tasks (loaded in %.1f s, tokenized meanwhile in %.2f s)", o->model,
        r.model->cfg.model_type, ko_engine_backend(r.engine), r.n_requests, r.n, r.t_load, r.t_tokenize);

    t = ko_now();
    r.progress = (progress){t, t};
    if (ko_engine_score(r.engine, r.docs, r.n_docs, &e) < 0) goto fail;
    r.t_score = ko_now() - t;
    say("scored %d documents in %.1f s", r.n_docs, r.t_score);

    if (compute_metrics(&r, &e) < 0 || report(&r, &e) < 0) goto fail;
    run_free(&r);
    return KO_EXIT_OK;
fail:
    fprintf(stderr, "koeval: %s\n", e.msg);
    run_free(&r);
    return code;
}
