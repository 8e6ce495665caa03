/* markdown.c — what a run prints: the seed leaderboard's F1 row, lm-eval's make_table() tables
 * (lm_eval.utils.make_table through pytablewriter's MarkdownTableWriter: centred headers, numeric
 * columns right-aligned, min width 3), and koeval's bootstrap F1 stderr, which lm-eval lacks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reports/report_impl.h"

#define N_COLS 9

typedef struct table {
    int n_rows;
    char *(*cells)[N_COLS];
} table;

static void add_row(table *t, const char *const v[N_COLS]) {
    t->cells = ko_xrealloc(t->cells, (size_t)(t->n_rows + 1) * sizeof *t->cells);
    for (int c = 0; c < N_COLS; c++) t->cells[t->n_rows][c] = ko_xstrdup(v[c]);
    t->n_rows++;
}

static int width(const char *s) { /* code points: the table's texts are ASCII plus ↑ ↓ ± */
    int n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static bool is_number(const char *s) {
    char *end;
    strtod(s, &end);
    return *s && *s != ' ' && end != s && !*end;
}

/* Decimal places of a number as typepy counts them: those of the float's repr ("0.1750" -> 3). */
static int decimals(const char *s) {
    ko_buf b = {0};
    ko_py_float_repr(&b, strtod(s, NULL));
    const char *dot = strchr(b.p, '.');
    int n = dot && strcmp(dot, ".0") ? (int)strlen(dot + 1) : 0;
    ko_buf_free(&b);
    return n;
}

static void pad(ko_buf *b, int n) {
    for (int i = 0; i < n; i++) ko_buf_putc(b, ' ');
}

/* pytablewriter's rules (typepy types per cell), as make_table's output shows them: a number
 * with an integral value is an integer ("1.0000" prints "1"), other numbers are reals and print
 * with the most decimal places any real of the column has; a column whose cells are all integers
 * or all numbers is numeric (marked "--:" in the alignment row, every number printed as a real
 * when the column has reals); numbers sit right-aligned, text left-aligned. */
static void put_table(ko_buf *b, const char *const headers[N_COLS], const table *t) {
    int w[N_COLS];
    bool numeric[N_COLS];
    char *(*cell)[N_COLS] = ko_xcalloc((size_t)t->n_rows + 1, sizeof *cell);
    for (int c = 0; c < N_COLS; c++) {
        int dp = 0, n_num = 0, n_text = 0;
        bool reals = false;
        for (int r = 0; r < t->n_rows; r++) {
            const char *v = t->cells[r][c];
            if (!*v) continue;
            if (!is_number(v)) {
                n_text++;
                continue;
            }
            n_num++;
            double x = strtod(v, NULL);
            if (x != floor(x)) {
                reals = true;
                int d = decimals(v);
                dp = d > dp ? d : dp;
            }
        }
        numeric[c] = n_num && !n_text;
        w[c] = width(headers[c]) > 3 ? width(headers[c]) : 3;
        for (int r = 0; r < t->n_rows; r++) {
            const char *v = t->cells[r][c];
            if (is_number(v)) {
                double x = strtod(v, NULL);
                bool as_real = x != floor(x) || (numeric[c] && reals);
                cell[r][c] = as_real ? ko_xasprintf("%.*f", dp, x) : ko_xasprintf("%.0f", x);
            } else {
                cell[r][c] = ko_xstrdup(v);
            }
            if (width(cell[r][c]) > w[c]) w[c] = width(cell[r][c]);
        }
    }
    ko_buf_putc(b, '|');
    for (int c = 0; c < N_COLS; c++) {
        /* Python str.center: the odd space goes left only when both the pad and the width are odd */
        int p = w[c] - width(headers[c]), left = p / 2 + (p & w[c] & 1);
        pad(b, left);
        ko_buf_puts(b, headers[c]);
        pad(b, p - left);
        ko_buf_putc(b, '|');
    }
    ko_buf_puts(b, "\n|");
    for (int c = 0; c < N_COLS; c++) {
        for (int i = 0; i < w[c] - (numeric[c] ? 1 : 0); i++) ko_buf_putc(b, '-');
        ko_buf_puts(b, numeric[c] ? ":|" : "|");
    }
    ko_buf_putc(b, '\n');
    for (int r = 0; r < t->n_rows; r++) {
        ko_buf_putc(b, '|');
        for (int c = 0; c < N_COLS; c++) {
            int p = w[c] - width(cell[r][c]);
            bool right = is_number(t->cells[r][c]) || numeric[c];
            if (right) pad(b, p);
            ko_buf_puts(b, cell[r][c]);
            if (!right) pad(b, p);
            ko_buf_putc(b, '|');
            free(cell[r][c]);
        }
        ko_buf_putc(b, '\n');
    }
    free(cell);
}

static void table_free(table *t) {
    for (int r = 0; r < t->n_rows; r++)
        for (int c = 0; c < N_COLS; c++) free(t->cells[r][c]);
    free(t->cells);
}

static void fmt4(char *out, size_t n, double v) { snprintf(out, n, "%.4f", v); }

/* make_table's rows of one entry (a task or the group): its metrics sorted by key, stderr beside. */
static void entry_rows(table *t, const char *display, const char *version, int shots, const char *const *names,
                       const double *values, const double *ses, int n) {
    int *ord = ko_xmalloc((size_t)(n + 1) * sizeof *ord);
    for (int i = 0; i < n; i++) ord[i] = i;
    for (int i = 1; i < n; i++) /* sorted("acc,none", "acc_norm,none", ...) == sorted by name + "," */
        for (int j = i; j > 0; j--) {
            char a[96], b[96];
            snprintf(a, sizeof a, "%s,none", names[ord[j]]);
            snprintf(b, sizeof b, "%s,none", names[ord[j - 1]]);
            if (strcmp(a, b) >= 0) break;
            int x = ord[j];
            ord[j] = ord[j - 1];
            ord[j - 1] = x;
        }
    char nshot[16], v[32], se[32];
    snprintf(nshot, sizeof nshot, "%d", shots);
    for (int i = 0; i < n; i++) {
        fmt4(v, sizeof v, values[ord[i]]);
        if (isnan(ses[ord[i]])) snprintf(se, sizeof se, "   N/A");
        else fmt4(se, sizeof se, ses[ord[i]]);
        const char *row[N_COLS] = {i ? "" : display, i ? "" : version, "none", nshot, names[ord[i]], "↑", v, "±", se};
        add_row(t, row);
    }
    free(ord);
}

static void version_text(char *out, size_t n, double v) {
    if (v == floor(v) && fabs(v) < 1e9) snprintf(out, n, "%d", (int)v);
    else {
        ko_buf b = {0};
        ko_py_float_repr(&b, v);
        snprintf(out, n, "%s", b.p);
        ko_buf_free(&b);
    }
}

static void group_rows(table *t, const ko_report *r, int shots) {
    const char *names[KO_GROUP_METRICS_MAX];
    double vals[KO_GROUP_METRICS_MAX], ses[KO_GROUP_METRICS_MAX];
    long counts[KO_GROUP_METRICS_MAX];
    int n = ko_group_metrics(r, names, vals, ses, counts);
    entry_rows(t, r->group, "1", shots, names, vals, ses, n); /* group version "1.0" */
}

static void task_rows(table *t, const ko_report_task *rt, const char *display, int shots) {
    const char **names = ko_xmalloc((size_t)(rt->n_metrics + 1) * sizeof *names);
    double *vals = ko_xmalloc((size_t)(rt->n_metrics + 1) * sizeof *vals), *ses = ko_xmalloc((size_t)(rt->n_metrics + 1) * sizeof *ses);
    for (int i = 0; i < rt->n_metrics; i++) {
        names[i] = rt->metrics[i].name;
        vals[i] = rt->metrics[i].value;
        ses[i] = rt->metrics[i].stderr_;
    }
    char version[32];
    version_text(version, sizeof version, ko_task_version(rt->task));
    entry_rows(t, display, version, shots, names, vals, ses, rt->n_metrics);
    free(names);
    free(vals);
    free(ses);
}

static int cmp_task_name(const void *a, const void *b) {
    return strcmp(ko_task_name((*(const ko_report_task *const *)a)->task), ko_task_name((*(const ko_report_task *const *)b)->task));
}

char *ko_report_markdown_with(const ko_report *r, const double *boot) {
    ko_buf b = {0};
    int shots = r->run->num_fewshot < 0 ? 0 : r->run->num_fewshot;
    /* 1. the seed leaderboard's shape: one row, F1 per task to 4 decimals */
    ko_buf_puts(&b, "| model |");
    for (int t = 0; t < r->n_tasks; t++) ko_buf_printf(&b, " %s |", ko_task_name(r->tasks[t].task));
    ko_buf_puts(&b, "\n|---|");
    for (int t = 0; t < r->n_tasks; t++) ko_buf_puts(&b, "---|");
    ko_buf_printf(&b, "\n| %s |", r->run->model ? r->run->model : "");
    for (int t = 0; t < r->n_tasks; t++) {
        const ko_metric *f1 = NULL;
        for (int i = 0; i < r->tasks[t].n_metrics; i++)
            if (!strcmp(r->tasks[t].metrics[i].name, "f1")) f1 = &r->tasks[t].metrics[i];
        if (f1) ko_buf_printf(&b, " %.4f |", f1->value);
        else ko_buf_puts(&b, " - |");
    }
    ko_buf_puts(&b, "\n\n");

    /* 2. make_table(results): the group, then its tasks sorted and indented; else tasks sorted */
    const ko_report_task **sorted = ko_xmalloc((size_t)(r->n_tasks + 1) * sizeof *sorted);
    for (int t = 0; t < r->n_tasks; t++) sorted[t] = &r->tasks[t];
    qsort(sorted, (size_t)r->n_tasks, sizeof *sorted, cmp_task_name);
    static const char *const H_TASKS[N_COLS] = {"Tasks", "Version", "Filter", "n-shot", "Metric", "", "Value", "", "Stderr"};
    static const char *const H_GROUPS[N_COLS] = {"Groups", "Version", "Filter", "n-shot", "Metric", "", "Value", "", "Stderr"};
    table t = {0};
    if (r->group) group_rows(&t, r, shots);
    for (int i = 0; i < r->n_tasks; i++) {
        char *display = r->group ? ko_xasprintf(" - %s", ko_task_name(sorted[i]->task)) : ko_xstrdup(ko_task_name(sorted[i]->task));
        task_rows(&t, sorted[i], display, shots);
        free(display);
    }
    put_table(&b, H_TASKS, &t);
    table_free(&t);
    if (r->group) {
        table g = {0};
        group_rows(&g, r, shots);
        ko_buf_putc(&b, '\n');
        put_table(&b, H_GROUPS, &g);
        table_free(&g);
    }
    ko_buf_putc(&b, '\n');

    /* 3. what lm-eval leaves "N/A": the F1 stderr by lm-eval's own bootstrap procedure */
    bool any = false;
    for (int i = 0; i < r->n_tasks; i++) any = any || !isnan(boot[sorted[i] - r->tasks]);
    if (any) {
        ko_buf_printf(&b, "F1 stderr by bootstrap (lm-eval's bootstrap_stderr, %d resamples; lm-eval reports N/A):\n\n",
                      r->run->bootstrap_iters);
        ko_buf_puts(&b, "|Tasks|F1 stderr|\n|---|---:|\n");
        for (int i = 0; i <= r->n_tasks; i++) {
            if (i == r->n_tasks && !r->group) break;
            const char *name = i < r->n_tasks ? ko_task_name(sorted[i]->task) : r->group;
            double se = i < r->n_tasks ? boot[sorted[i] - r->tasks] : ko_report_f1_bootstrap_group(r, boot);
            if (isnan(se)) ko_buf_printf(&b, "|%s|N/A|\n", name);
            else ko_buf_printf(&b, "|%s|%.4f|\n", name, se);
        }
    }
    free(sorted);
    return b.p;
}
