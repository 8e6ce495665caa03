/* ko.h — the few pieces every stage shares: the error value, growable buffers, file reading.
 *
 * Conventions (see README "Conventions"):
 *  - every fallible call returns 0 on success and -1 on failure, filling a ko_err whose message reads
 *    "<what>: <why>"; the CLI prints it as "koeval: <message>" and exits non-zero;
 *  - out-of-memory is not bad input: ko_xmalloc and friends print one line and exit(KO_EXIT_OOM).
 */
#ifndef KO_H
#define KO_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit codes of the koeval binary (documented in README). */
enum {
    KO_EXIT_OK = 0,
    KO_EXIT_ERROR = 1,   /* bad input: files, data, models */
    KO_EXIT_USAGE = 2,   /* bad command line */
    KO_EXIT_OOM = 3,     /* out of memory (host or device) */
    KO_EXIT_NO_ENGINE = 4 /* the requested engine/device is not available in this build or machine */
};

#define KO_ERR_LEN 1024
typedef struct ko_err {
    char msg[KO_ERR_LEN];
} ko_err;

/* Sets e->msg (printf-style) and returns -1, so `return ko_fail(e, "...")` reads naturally. */
int ko_fail(ko_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefixes an existing message: "<prefix>: <old message>". Returns -1. */
int ko_fail_prefix(ko_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void *ko_xmalloc(size_t n);
void *ko_xcalloc(size_t n, size_t size);
void *ko_xrealloc(void *p, size_t n);
char *ko_xstrdup(const char *s);
char *ko_xstrndup(const char *s, size_t n);
char *ko_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Growable byte buffer; always NUL-terminated after any put (p may be NULL while empty). */
typedef struct ko_buf {
    char *p;
    size_t n, cap;
} ko_buf;
void ko_buf_put(ko_buf *b, const void *s, size_t n);
void ko_buf_puts(ko_buf *b, const char *s);
void ko_buf_putc(ko_buf *b, char c);
void ko_buf_printf(ko_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s[0..n) as a JSON string literal (quotes included), UTF-8 kept as is (like Python's
 * json.dumps(ensure_ascii=False)). */
void ko_buf_json_str(ko_buf *b, const char *s, size_t n);
void ko_buf_free(ko_buf *b);

/* Reads a whole file; a name ending in .gz is inflated (zlib). The result is NUL-terminated. */
int ko_read_file(const char *path, ko_buf *out, ko_err *e);
/* Writes a whole file atomically (temp file + rename): never leaves a partial file behind. */
int ko_write_file_atomic(const char *path, const void *data, size_t n, ko_err *e);
bool ko_file_exists(const char *path);
bool ko_dir_exists(const char *path);
/* mkdir -p */
int ko_mkdirs(const char *path, ko_err *e);

/* UTF-8 validity (strict: no overlongs, no surrogates, <= U+10FFFF). Returns the byte offset of the
 * first invalid sequence, or -1 if the whole buffer is valid. */
long ko_utf8_invalid_at(const char *s, size_t n);

/* Hex SHA-256 of s[0..n) (lm-eval hash_string; golden checks). common/sha256.c */
void ko_sha256_hex(const void *s, size_t n, char out[65]);

/* Monotonic wall clock in seconds. */
double ko_now(void);

/* Runs fn(ctx, lo, hi, t) over [0, n) split into min(n_threads, n) contiguous ranges, range t on
 * thread t (the calling thread takes range 0, and any range whose thread could not be started). */
typedef void (*ko_range_fn)(void *ctx, int lo, int hi, int thread);
void ko_parallel_for(int n_threads, int n, ko_range_fn fn, void *ctx);

/* Levenshtein distance, for "did you mean" hints. */
int ko_edit_distance(const char *a, const char *b);
/* The candidate nearest to `word` (NULL if none within a sensible distance). */
const char *ko_nearest(const char *word, const char *const *candidates, int n);

#endif
