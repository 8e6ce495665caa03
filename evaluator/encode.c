/* encode.c — lm-eval's request encoding; see encode.h for the rules and where they come from. */
#include "evaluator/encode.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What tok_encode needs besides the tokenizer: the prefix token and its decoded text (lm-eval's
 * has_bos_prefix check compares the string's start with tokenizer.decode(prefix_token_id)). */
typedef struct encoder {
    const ko_tokenizer *tok;
    int prefix_id;               /* BOS, else EOS, else -1 */
    ko_buf prefix_text;
} encoder;

static int encoder_init(encoder *c, const ko_tokenizer *tok, ko_err *e) {
    memset(c, 0, sizeof *c);
    c->tok = tok;
    c->prefix_id = ko_tokenizer_bos(tok) >= 0 ? ko_tokenizer_bos(tok) : ko_tokenizer_eos(tok);
    if (c->prefix_id >= 0 && ko_tokenizer_decode(tok, &c->prefix_id, 1, false, &c->prefix_text, e) < 0)
        return ko_fail_prefix(e, "decoding the prefix token %d", c->prefix_id);
    return 0;
}

/* lm-eval's tok_encode with add_special_tokens=None: HF's default (special tokens added) unless the
 * string already starts with the prefix token's text. */
static int tok_encode(const encoder *c, const char *s, size_t n, ko_ids *out, ko_err *e) {
    size_t pn = c->prefix_text.n;
    bool has_prefix = pn > 0 && n >= pn && memcmp(s, c->prefix_text.p, pn) == 0;
    return ko_tokenizer_encode(c->tok, s, n, !has_prefix, out, e);
}

static void encdoc_alloc(ko_encdoc *d, int k) {
    memset(d, 0, sizeof *d);
    d->n_choices = k;
    d->cont = ko_xcalloc((size_t)k, sizeof *d->cont);
    d->cont_ptr = ko_xcalloc((size_t)k, sizeof *d->cont_ptr);
    d->n_cont = ko_xcalloc((size_t)k, sizeof *d->n_cont);
}

static void encdoc_free(ko_encdoc *d) {
    ko_ids_free(&d->ctx);
    for (int i = 0; i < d->n_choices; i++) ko_ids_free(&d->cont[i]);
    free(d->cont);
    free(d->cont_ptr);
    free(d->n_cont);
    memset(d, 0, sizeof *d);
}

/* Drops the first `k` ids of v. */
static void ids_drop_front(ko_ids *v, int k) {
    if (k > v->n) k = v->n;
    memmove(v->ids, v->ids + k, (size_t)(v->n - k) * sizeof *v->ids);
    v->n -= k;
}

static int encode_one(const encoder *c, const ko_reqdoc *rd, ko_encdoc *d, ko_err *e) {
    encdoc_alloc(d, rd->n_choices);
    const char *ctx = rd->context;
    size_t n_ctx = strlen(ctx);
    ko_buf whole = {0};
    int rc = 0;
    if (n_ctx == 0) {
        /* Empty context: [prefix] + continuation encoded without special tokens. */
        if (c->prefix_id < 0) return ko_fail(e, "empty context and the tokenizer has no BOS/EOS token");
        d->ctx.ids = ko_xmalloc(sizeof *d->ctx.ids);
        d->ctx.cap = d->ctx.n = 1;
        d->ctx.ids[0] = c->prefix_id;
        for (int i = 0; rc == 0 && i < rd->n_choices; i++) {
            const char *s = rd->continuations[i];
            rc = ko_tokenizer_encode(c->tok, s, strlen(s), false, &d->cont[i], e);
            if (rc == 0 && d->cont[i].n > 0 && d->cont[i].ids[0] == c->prefix_id) ids_drop_front(&d->cont[i], 1);
        }
    } else {
        /* The trailing whitespace moves to the continuation, so context + continuation is the
         * original concatenation and the context is encoded without its trailing whitespace. */
        size_t keep = ko_split_trailing_ws(ctx);
        rc = tok_encode(c, ctx, keep, &d->ctx, e);
        for (int i = 0; rc == 0 && i < rd->n_choices; i++) {
            whole.n = 0;
            ko_buf_put(&whole, ctx, n_ctx);
            ko_buf_puts(&whole, rd->continuations[i]);
            rc = tok_encode(c, whole.p, whole.n, &d->cont[i], e);
            if (rc == 0) ids_drop_front(&d->cont[i], d->ctx.n);
        }
        if (rc == 0 && d->ctx.n == 0) rc = ko_fail(e, "the context encodes to no tokens");
    }
    ko_buf_free(&whole);
    for (int i = 0; rc == 0 && i < rd->n_choices; i++) {
        if (d->cont[i].n == 0) rc = ko_fail(e, "choice %d encodes to no tokens after the context", i);
        d->cont_ptr[i] = d->cont[i].ids;
        d->n_cont[i] = d->cont[i].n;
    }
    return rc;
}

/* Worker pool over documents: each thread takes the next index until done or an error. */
typedef struct pool {
    const encoder *c;
    const char *task;
    const ko_reqdoc *docs;
    ko_encdoc *enc;
    int n;
    int next;                    /* guarded by mu */
    int failed;                  /* guarded by mu */
    ko_err err;                  /* the first error */
    pthread_mutex_t mu;
} pool;

static void *worker(void *arg) {
    pool *p = arg;
    ko_err e;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        int i = p->failed ? p->n : p->next++;
        pthread_mutex_unlock(&p->mu);
        if (i >= p->n) return NULL;
        if (encode_one(p->c, &p->docs[i], &p->enc[i], &e) < 0) {
            pthread_mutex_lock(&p->mu);
            if (!p->failed) {
                p->failed = 1;
                p->err = e;
                ko_fail_prefix(&p->err, "%s doc %d", p->task, p->docs[i].doc_id);
            }
            pthread_mutex_unlock(&p->mu);
        }
    }
}

int ko_encode_docs(const ko_tokenizer *tok, const char *task, const ko_reqdoc *docs, int n, int n_threads,
                   ko_encdoc *enc, ko_err *e) {
    memset(enc, 0, (size_t)n * sizeof *enc);
    encoder c;
    if (encoder_init(&c, tok, e) < 0) return -1;
    if (n_threads <= 0) n_threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (n_threads < 1) n_threads = 1;
    if (n_threads > 64) n_threads = 64;
    if (n_threads > n) n_threads = n > 0 ? n : 1;
    pool p = {.c = &c, .task = task, .docs = docs, .enc = enc, .n = n};
    pthread_mutex_init(&p.mu, NULL);
    pthread_t th[64];
    int started = 0;
    for (int i = 1; i < n_threads; i++) {
        if (pthread_create(&th[started], NULL, worker, &p) != 0) break;
        started++;
    }
    worker(&p);
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    pthread_mutex_destroy(&p.mu);
    ko_buf_free(&c.prefix_text);
    if (p.failed) {
        ko_encdocs_free(enc, n);
        *e = p.err;
        return -1;
    }
    return 0;
}

void ko_encdocs_free(ko_encdoc *enc, int n) {
    for (int i = 0; i < n; i++) encdoc_free(&enc[i]);
}

static ko_doc *push_doc(ko_doc **out, int *n_out) {
    *out = ko_xrealloc(*out, (size_t)(*n_out + 1) * sizeof **out);
    return &(*out)[(*n_out)++];
}

int ko_plan_docs(const ko_encdoc *enc, ko_docresult *res, int n, int max_len, ko_doc **out, int *n_out,
                 ko_err *e) {
    for (int i = 0; i < n; i++) {
        const ko_encdoc *d = &enc[i];
        bool fits = true;
        for (int c = 0; c < d->n_choices; c++) {
            if (d->n_cont[c] > max_len)
                return ko_fail(e, "choice %d has %d tokens, more than the maximum length %d", c, d->n_cont[c],
                               max_len);
            if (d->ctx.n + d->n_cont[c] > max_len + 1) fits = false;
        }
        if (fits) {
            *push_doc(out, n_out) = (ko_doc){d->ctx.ids, d->ctx.n, d->n_choices, d->cont_ptr, d->n_cont,
                                             res[i].ll, res[i].is_greedy};
            continue;
        }
        /* lm-eval: (context_enc + continuation_enc)[-(max_len + 1):][:-1] — each choice keeps its own
         * tail of the context. */
        for (int c = 0; c < d->n_choices; c++) {
            int keep = max_len + 1 - d->n_cont[c];
            if (keep > d->ctx.n) keep = d->ctx.n;
            *push_doc(out, n_out) = (ko_doc){d->ctx.ids + (d->ctx.n - keep), keep, 1, &d->cont_ptr[c],
                                             &d->n_cont[c], &res[i].ll[c], &res[i].is_greedy[c]};
        }
    }
    return 0;
}
