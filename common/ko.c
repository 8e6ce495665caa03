#include "common/ko.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

int ko_fail(ko_err *e, const char *fmt, ...) {
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int ko_fail_prefix(ko_err *e, const char *fmt, ...) {
    if (!e) return -1;
    char old[KO_ERR_LEN], pre[KO_ERR_LEN];
    memcpy(old, e->msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    ko_buf b = {0};
    ko_buf_printf(&b, "%s: %s", pre, old);
    size_t n = b.n < sizeof e->msg - 1 ? b.n : sizeof e->msg - 1;
    memcpy(e->msg, b.p, n);
    e->msg[n] = 0;
    ko_buf_free(&b);
    return -1;
}

static void oom(void) {
    fputs("koeval: out of memory\n", stderr);
    exit(KO_EXIT_OOM);
}

void *ko_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) oom();
    return p;
}

void *ko_xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) oom();
    return p;
}

void *ko_xrealloc(void *p, size_t n) {
    p = realloc(p, n ? n : 1);
    if (!p) oom();
    return p;
}

char *ko_xstrdup(const char *s) { return ko_xstrndup(s, strlen(s)); }

char *ko_xstrndup(const char *s, size_t n) {
    char *p = ko_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *ko_xasprintf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = ko_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

static void buf_reserve(ko_buf *b, size_t extra) {
    if (b->n + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->n + extra + 1) cap *= 2;
    b->p = ko_xrealloc(b->p, cap);
    b->cap = cap;
}

void ko_buf_put(ko_buf *b, const void *s, size_t n) {
    buf_reserve(b, n);
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

void ko_buf_puts(ko_buf *b, const char *s) { ko_buf_put(b, s, strlen(s)); }
void ko_buf_putc(ko_buf *b, char c) { ko_buf_put(b, &c, 1); }

void ko_buf_printf(ko_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
}

void ko_buf_json_str(ko_buf *b, const char *s, size_t n) {
    ko_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': ko_buf_puts(b, "\\\""); break;
        case '\\': ko_buf_puts(b, "\\\\"); break;
        case '\n': ko_buf_puts(b, "\\n"); break;
        case '\r': ko_buf_puts(b, "\\r"); break;
        case '\t': ko_buf_puts(b, "\\t"); break;
        case '\b': ko_buf_puts(b, "\\b"); break;
        case '\f': ko_buf_puts(b, "\\f"); break;
        default:
            if (c < 0x20) ko_buf_printf(b, "\\u%04x", c); /* like json.dumps: DEL stays raw */
            else ko_buf_putc(b, (char)c);
        }
    }
    ko_buf_putc(b, '"');
}

void ko_buf_free(ko_buf *b) {
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

static bool ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

int ko_read_file(const char *path, ko_buf *out, ko_err *e) {
    out->n = 0;
    if (ends_with(path, ".gz")) {
        gzFile g = gzopen(path, "rb");
        if (!g) return ko_fail(e, "%s: %s", path, strerror(errno ? errno : ENOENT));
        char chunk[1 << 16];
        for (;;) {
            int r = gzread(g, chunk, sizeof chunk);
            if (r < 0) {
                int zerr;
                const char *m = gzerror(g, &zerr);
                gzclose(g);
                return ko_fail(e, "%s: cannot inflate: %s", path, m);
            }
            if (r == 0) break;
            ko_buf_put(out, chunk, (size_t)r);
        }
        gzclose(g);
        ko_buf_put(out, "", 0);
        return 0;
    }
    FILE *f = fopen(path, "rb");
    if (!f) return ko_fail(e, "%s: %s", path, strerror(errno));
    char chunk[1 << 16];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0) ko_buf_put(out, chunk, r);
    int bad = ferror(f);
    fclose(f);
    if (bad) return ko_fail(e, "%s: read error", path);
    ko_buf_put(out, "", 0);
    return 0;
}

int ko_write_file_atomic(const char *path, const void *data, size_t n, ko_err *e) {
    char *tmp = ko_xasprintf("%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        ko_fail(e, "%s: %s", path, strerror(errno));
        free(tmp);
        return -1;
    }
    size_t w = n ? fwrite(data, 1, n, f) : 0;
    int bad = (w != n) | (fclose(f) != 0);
    if (bad || rename(tmp, path) != 0) {
        ko_fail(e, "%s: cannot write: %s", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

bool ko_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

bool ko_dir_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int ko_mkdirs(const char *path, ko_err *e) {
    char *p = ko_xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0777) != 0 && errno != EEXIST) break;
        *s = '/';
    }
    int rc = 0;
    if (mkdir(p, 0777) != 0 && errno != EEXIST) rc = ko_fail(e, "%s: cannot create directory: %s", path, strerror(errno));
    else if (!ko_dir_exists(p)) rc = ko_fail(e, "%s: not a directory", path);
    free(p);
    return rc;
}

long ko_utf8_invalid_at(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = u[i];
        if (c < 0x80) { i++; continue; }
        int len;
        unsigned cp, min;
        if ((c & 0xe0) == 0xc0) { len = 2; cp = c & 0x1f; min = 0x80; }
        else if ((c & 0xf0) == 0xe0) { len = 3; cp = c & 0x0f; min = 0x800; }
        else if ((c & 0xf8) == 0xf0) { len = 4; cp = c & 0x07; min = 0x10000; }
        else return (long)i;
        if (i + (size_t)len > n) return (long)i;
        for (int k = 1; k < len; k++) {
            if ((u[i + k] & 0xc0) != 0x80) return (long)i;
            cp = (cp << 6) | (u[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return (long)i;
        i += (size_t)len;
    }
    return -1;
}

double ko_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int ko_edit_distance(const char *a, const char *b) {
    size_t n = strlen(a), m = strlen(b);
    int *row = ko_xmalloc((m + 1) * sizeof *row);
    for (size_t j = 0; j <= m; j++) row[j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= m; j++) {
            int up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    int d = row[m];
    free(row);
    return d;
}

const char *ko_nearest(const char *word, const char *const *candidates, int n) {
    const char *best = NULL;
    int bestd = 1 << 30;
    for (int i = 0; i < n; i++) {
        int d = ko_edit_distance(word, candidates[i]);
        if (d < bestd) { bestd = d; best = candidates[i]; }
    }
    int limit = (int)strlen(word) / 2 + 2;
    return bestd <= limit ? best : NULL;
}

typedef struct par_job {
    ko_range_fn fn;
    void *ctx;
    int lo, hi, thread;
} par_job;

static void *par_main(void *arg) {
    par_job *j = arg;
    j->fn(j->ctx, j->lo, j->hi, j->thread);
    return NULL;
}

void ko_parallel_for(int n_threads, int n, ko_range_fn fn, void *ctx) {
    if (n_threads > n) n_threads = n;
    if (n_threads <= 1) {
        if (n > 0) fn(ctx, 0, n, 0);
        return;
    }
    par_job jobs[n_threads];
    pthread_t tid[n_threads];
    bool started[n_threads];
    for (int t = 0; t < n_threads; t++) {
        jobs[t] = (par_job){fn, ctx, (int)((long long)n * t / n_threads), (int)((long long)n * (t + 1) / n_threads), t};
        started[t] = t > 0 && pthread_create(&tid[t], NULL, par_main, &jobs[t]) == 0;
    }
    par_main(&jobs[0]);
    for (int t = 1; t < n_threads; t++) {
        if (started[t]) pthread_join(tid[t], NULL);
        else par_main(&jobs[t]); /* could not start a thread: do its share here */
    }
}
