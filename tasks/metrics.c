/* metrics.c — acc, acc_norm, macro-F1 and their stderr exactly as lm-eval 0.4.13 computes them for
 * the kobest tasks (tasks/metrics.h says which lm-eval function each piece reproduces). Sums run
 * left to right in lm-eval's order so that results agree to the last bit, not just to 1e-12. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tasks/metrics.h"
#include "tasks/pyrandom.h"
#include "tasks/task_impl.h"

#define KO_MAX_LABELS 64

int ko_task_split_size(const ko_task *t) { return t->have_eval ? t->eval_ds.n_docs : 0; }

int ko_argmax(const double *x, int n) {
    int best = 0;
    for (int i = 0; i < n; i++) {
        if (isnan(x[i])) return i;
        if (x[i] > x[best]) best = i;
    }
    return best;
}

/* Python len(str) of UTF-8 text: code points, i.e. bytes that do not continue a sequence. */
static int py_len(const char *s) {
    int n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

void ko_sample_score(const ko_reqdoc *d, const ko_docresult *r, ko_sample *out) {
    int k = d->n_choices;
    double *norm = ko_xmalloc((size_t)k * sizeof *norm);
    for (int i = 0; i < k; i++) norm[i] = r->ll[i] / (double)py_len(d->choices[i]);
    out->gold = d->gold;
    out->pred = ko_argmax(r->ll, k);
    out->pred_norm = ko_argmax(norm, k);
    out->acc = out->pred == d->gold ? 1.0 : 0.0;
    out->acc_norm = out->pred_norm == d->gold ? 1.0 : 0.0;
    free(norm);
}

double ko_mean(const double *x, int n) {
    double s = 0.0;
    for (int i = 0; i < n; i++) s += x[i];
    return s / n;
}

/* lm-eval sample_stddev: math.sqrt(sum([(x - mu) ** 2 for x in arr]) / (len(arr) - 1)). */
static double sample_stddev(const double *x, int n) {
    double mu = ko_mean(x, n), s = 0.0;
    for (int i = 0; i < n; i++) s += (x[i] - mu) * (x[i] - mu);
    return sqrt(s / (n - 1));
}

double ko_mean_stderr(const double *x, int n) { return sample_stddev(x, n) / sqrt((double)n); }

/* Per-label counts of one (resampled) item list. */
typedef struct f1_counts {
    int tp[KO_MAX_LABELS], n_true[KO_MAX_LABELS], n_pred[KO_MAX_LABELS];
} f1_counts;

static double f1_from_counts(const f1_counts *c) {
    double sum = 0.0;
    int n_labels = 0;
    for (int l = 0; l < KO_MAX_LABELS; l++) {
        int denom = c->n_true[l] + c->n_pred[l];
        if (!denom) continue; /* label never seen: not in sklearn's unique_labels */
        sum += (double)(2 * c->tp[l]) / (double)denom;
        n_labels++;
    }
    return n_labels ? sum / n_labels : 0.0;
}

static int clamp_label(int l) { return l < 0 ? 0 : l >= KO_MAX_LABELS ? KO_MAX_LABELS - 1 : l; }

static void f1_add(f1_counts *c, int gold, int pred) {
    gold = clamp_label(gold);
    pred = clamp_label(pred);
    c->n_true[gold]++;
    c->n_pred[pred]++;
    c->tp[gold] += gold == pred;
}

double ko_macro_f1(const int *gold, const int *pred, int n) {
    f1_counts c;
    memset(&c, 0, sizeof c);
    for (int i = 0; i < n; i++) f1_add(&c, gold[i], pred[i]);
    return f1_from_counts(&c);
}

/* Bootstrap chunks are independent (chunk i draws from random.Random(i)), so threads take ranges of
 * whole chunks and write their replicates where the sequential loop would: the result is the same. */
typedef struct boot_job {
    const int *gold, *pred;
    int n, chunk;
    double *res;
} boot_job;

static void boot_run(void *ctx, int lo, int hi, int thread) {
    (void)thread;
    const boot_job *b = ctx;
    for (int i = lo; i < hi; i++) {
        ko_pyrandom rnd;
        ko_pyrandom_seed(&rnd, (uint64_t)i);
        for (int j = 0; j < b->chunk; j++) {
            /* random.choices(xs, k=n): xs[floor(random() * n)] for each of the k draws */
            f1_counts c;
            memset(&c, 0, sizeof c);
            for (int k = 0; k < b->n; k++) {
                int at = (int)floor(ko_pyrandom_random(&rnd) * (double)b->n);
                f1_add(&c, b->gold[at], b->pred[at]);
            }
            b->res[(size_t)i * (size_t)b->chunk + (size_t)j] = f1_from_counts(&c);
        }
    }
}

double ko_macro_f1_bootstrap_stderr(const int *gold, const int *pred, int n, int iters) {
    int chunk = iters < 1000 ? iters : 1000;
    int n_chunks = chunk > 0 ? iters / chunk : 0;
    size_t n_res = (size_t)n_chunks * (size_t)(chunk > 0 ? chunk : 0);
    if (n_res < 2 || n < 1) return NAN;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    boot_job job = {gold, pred, n, chunk, ko_xmalloc(n_res * sizeof(double))};
    ko_parallel_for(cpus < 1 ? 1 : cpus > 16 ? 16 : (int)cpus, n_chunks, boot_run, &job);
    double se = sample_stddev(job.res, (int)n_res);
    free(job.res);
    return se;
}

double ko_weighted_mean(const double *values, const int *sizes, int n) {
    double num = 0.0;
    long den = 0;
    for (int i = 0; i < n; i++) {
        num += values[i] * sizes[i];
        den += sizes[i];
    }
    return num / (double)den;
}

double ko_pooled_stderr(const double *stderrs, const int *sizes, int n) {
    double var = 0.0;
    long total = 0;
    for (int i = 0; i < n; i++) {
        var += (sizes[i] - 1) * (stderrs[i] * stderrs[i]) * sizes[i];
        total += sizes[i];
    }
    var /= (double)(total - n);
    return sqrt(var / (double)total);
}

int ko_task_metrics(const ko_task *t, const ko_reqdoc *docs, const ko_docresult *res, int n_docs,
                    ko_metric **metrics, int *n_metrics, ko_err *e) {
    *metrics = NULL;
    *n_metrics = 0;
    if (n_docs < 1) return ko_fail(e, "%s: metrics: no documents were scored", t->name);
    for (int i = 0; i < n_docs; i++) {
        if (docs[i].gold < 0 || docs[i].gold >= docs[i].n_choices || docs[i].n_choices > KO_MAX_LABELS)
            return ko_fail(e, "%s: metrics: doc %d: gold %d is not one of its %d choices", t->name,
                           docs[i].doc_id, docs[i].gold, docs[i].n_choices);
    }
    double *acc = ko_xmalloc((size_t)n_docs * sizeof *acc), *acc_norm = ko_xmalloc((size_t)n_docs * sizeof *acc_norm);
    int *gold = ko_xmalloc((size_t)n_docs * sizeof *gold), *pred = ko_xmalloc((size_t)n_docs * sizeof *pred);
    for (int i = 0; i < n_docs; i++) {
        ko_sample s;
        ko_sample_score(&docs[i], &res[i], &s);
        acc[i] = s.acc;
        acc_norm[i] = s.acc_norm;
        gold[i] = s.gold;
        pred[i] = s.pred;
    }
    ko_metric *m = ko_xcalloc((size_t)t->n_metrics, sizeof *m);
    int rc = 0;
    for (int k = 0; k < t->n_metrics && rc == 0; k++) {
        const char *name = t->metrics[k];
        m[k].name = name;
        /* _compute_task_aggregations: "N/A" unless len(items) > 1 and a stderr function exists. */
        if (!strcmp(name, "acc") || !strcmp(name, "acc_norm")) {
            const double *x = name[3] ? acc_norm : acc;
            m[k].value = ko_mean(x, n_docs);
            m[k].stderr_ = n_docs > 1 ? ko_mean_stderr(x, n_docs) : NAN;
        } else if (!strcmp(name, "f1")) {
            m[k].value = ko_macro_f1(gold, pred, n_docs);
            m[k].stderr_ = NAN;
        } else {
            rc = ko_fail(e, "%s: metrics: unknown metric \"%s\"", t->name, name);
        }
    }
    free(acc);
    free(acc_norm);
    free(gold);
    free(pred);
    if (rc < 0) {
        free(m);
        return -1;
    }
    *metrics = m;
    *n_metrics = t->n_metrics;
    return 0;
}
