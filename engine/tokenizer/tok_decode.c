/* tok_decode.c — ids -> text like HF Tokenizer::decode: ids to token strings (added tokens first,
 * special ones skipped on request, unknown ids dropped), then the decoder chain over the list of
 * strings (ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip), then concatenation; with no
 * decoder the tokens are joined by spaces. */
#include <stdlib.h>
#include <string.h>

#include "engine/tokenizer/tok_internal.h"

/* A list of strings: offsets into one buffer. */
typedef struct strs { ko_buf b; size_t *off; int n, cap; } strs;

static void strs_add(strs *l, const char *s, size_t n) {
    if (l->n + 2 > l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->off = ko_xrealloc(l->off, (size_t)l->cap * sizeof *l->off);
    }
    if (l->n == 0) l->off[0] = l->b.n;
    ko_buf_put(&l->b, s, n);
    l->off[++l->n] = l->b.n;
}

/* Starts a new string that the caller fills by appending to l->b, then closes with strs_end. */
static void strs_begin(strs *l) { strs_add(l, "", 0), l->n--; }
static void strs_end(strs *l) { l->off[++l->n] = l->b.n; }

static const char *str_at(const strs *l, int i, size_t *n) {
    *n = l->off[i + 1] - l->off[i];
    return l->b.p + l->off[i];
}

static void strs_free(strs *l) {
    ko_buf_free(&l->b);
    free(l->off);
}

static int replace_all(const tk_dec *d, const char *s, size_t n, ko_buf *out, ko_err *e) {
    tk_ranges r = {0};
    int rc = tk_pattern_find(&d->pat, s, n, &r, e);
    for (int i = 0; rc == 0 && i < r.n; i++)
        if (r.v[i].match) ko_buf_put(out, d->content, d->content_n);
        else ko_buf_put(out, s + r.v[i].a, r.v[i].b - r.v[i].a);
    free(r.v);
    return rc;
}

static bool byte_token(const char *s, size_t n, uint8_t *byte) {
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return false;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = s[i];
        int h = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (h < 0) return false;
        v = v * 16 + h;
    }
    *byte = (uint8_t)v;
    return true;
}

static void flush_bytes(strs *out, ko_buf *bytes) {
    if (bytes->n == 0) return;
    if (ko_utf8_invalid_at(bytes->p, bytes->n) < 0) {
        strs_add(out, bytes->p, bytes->n);
    } else { /* HF: one U+FFFD per byte when the bytes are not valid UTF-8 */
        strs_begin(out);
        for (size_t i = 0; i < bytes->n; i++) ko_buf_puts(&out->b, "\xef\xbf\xbd");
        strs_end(out);
    }
    bytes->n = 0;
}

/* One decoder over the whole list: in -> out. */
static int apply(const tk_dec *d, const strs *in, strs *out, ko_err *e) {
    ko_buf bytes = {0};
    int rc = 0;
    if (d->type == TK_D_FUSE || d->type == TK_D_BYTELEVEL) strs_begin(out);
    for (int i = 0; i < in->n; i++) {
        size_t n;
        const char *s = str_at(in, i, &n);
        switch (d->type) {
        case TK_D_FUSE: ko_buf_put(&out->b, s, n); break;
        case TK_D_BYTELEVEL: { /* a token whose every char is in the byte table gives those bytes */
            size_t start = out->b.n;
            bool all = true;
            for (size_t k = 0; k < n && all;) {
                int32_t cp;
                k += (size_t)tk_utf8_dec(s + k, n - k, &cp);
                int b = tk_cp2byte(cp);
                if (b < 0) all = false;
                else ko_buf_putc(&out->b, (char)b);
            }
            if (!all) {
                out->b.n = start;
                ko_buf_put(&out->b, s, n);
            }
            break;
        }
        case TK_D_REPLACE:
            strs_begin(out);
            rc = rc ? rc : replace_all(d, s, n, &out->b, e);
            strs_end(out);
            break;
        case TK_D_BYTEFALLBACK: {
            uint8_t byte;
            if (byte_token(s, n, &byte)) {
                ko_buf_putc(&bytes, (char)byte);
            } else {
                flush_bytes(out, &bytes);
                strs_add(out, s, n);
            }
            break;
        }
        case TK_D_METASPACE: /* the replacement becomes a space; in the first token HF drops every one */
            strs_begin(out);
            for (size_t k = 0; k < n;) {
                if (n - k >= (size_t)d->repl_n && memcmp(s + k, d->repl, (size_t)d->repl_n) == 0) {
                    if (!(i == 0 && d->prepend != TK_PREPEND_NEVER)) ko_buf_putc(&out->b, ' ');
                    k += (size_t)d->repl_n;
                } else {
                    ko_buf_putc(&out->b, s[k++]);
                }
            }
            strs_end(out);
            break;
        case TK_D_STRIP: {
            size_t a = 0, b = n;
            for (int c = 0; c < d->start && a < b; c++) {
                int32_t cp;
                int w = tk_utf8_dec(s + a, b - a, &cp);
                if (cp != d->strip_cp) break;
                a += (size_t)w;
            }
            for (int c = 0; c < d->stop && b > a; c++) {
                size_t p = b - 1;
                while (p > a && ((uint8_t)s[p] & 0xc0) == 0x80) p--;
                int32_t cp;
                tk_utf8_dec(s + p, b - p, &cp);
                if (cp != d->strip_cp) break;
                b = p;
            }
            strs_add(out, s + a, b - a);
            break;
        }
        }
    }
    if (d->type == TK_D_BYTEFALLBACK) flush_bytes(out, &bytes);
    if (d->type == TK_D_FUSE) strs_end(out);
    if (d->type == TK_D_BYTELEVEL) { /* bytes back to text, invalid UTF-8 replaced (from_utf8_lossy) */
        size_t start = out->off[out->n], rn = out->b.n - start;
        char *raw = ko_xstrndup(out->b.p + start, rn);
        out->b.n = start;
        tk_put_lossy(&out->b, raw, rn);
        strs_end(out);
        free(raw);
    }
    ko_buf_free(&bytes);
    return rc;
}

int ko_tokenizer_decode(const ko_tokenizer *t, const int32_t *ids, int n, bool skip_special_tokens, ko_buf *out,
                        ko_err *e) {
    strs a = {0}, b = {0};
    int rc = 0;
    for (int i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= t->n_ids) continue;
        int32_t k = t->added_of[id];
        if (k >= 0) {
            if (skip_special_tokens && t->added[k].special) continue;
            strs_add(&a, t->added[k].content, t->added[k].n);
        } else if (t->tok[id]) {
            strs_add(&a, t->tok[id], t->tok_len[id]);
        }
    }
    for (int k = 0; rc == 0 && k < t->n_dec; k++) {
        b.n = 0;
        b.b.n = 0;
        rc = apply(&t->dec[k], &a, &b, e);
        strs sw = a;
        a = b;
        b = sw;
    }
    for (int i = 0; rc == 0 && i < a.n; i++) {
        size_t len;
        const char *s = str_at(&a, i, &len);
        if (i > 0 && !t->has_decoder) ko_buf_putc(out, ' ');
        ko_buf_put(out, s, len);
    }
    if (!out->p) ko_buf_put(out, "", 0);
    strs_free(&a);
    strs_free(&b);
    return rc;
}

void tk_dec_free(tk_dec *d) {
    tk_pattern_free(&d->pat);
    free(d->content);
}
