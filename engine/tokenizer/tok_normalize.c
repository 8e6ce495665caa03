/* tok_normalize.c — HF normalizers on one piece of text: NFC/NFD/NFKC/NFKD (utf8proc), Lowercase,
 * Strip, Replace, Prepend; a Sequence is the list t->norm applied in order. Only the resulting
 * string matters for ids, so no alignment is kept. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "engine/tokenizer/tok_internal.h"

static int unicode_form(const char *s, size_t n, int flags, ko_buf *out, ko_err *e) {
    utf8proc_uint8_t *r = NULL;
    utf8proc_ssize_t k = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &r,
                                      (utf8proc_option_t)(UTF8PROC_STABLE | flags));
    if (k < 0) return ko_fail(e, "normalizer: %s", utf8proc_errmsg(k));
    ko_buf_put(out, r, (size_t)k);
    free(r);
    return 0;
}

/* Rust char::to_lowercase per character (HF lowercases char by char: no final-sigma rule). */
static void lowercase(const char *s, size_t n, ko_buf *out) {
    for (size_t i = 0; i < n;) {
        int32_t cp;
        i += (size_t)tk_utf8_dec(s + i, n - i, &cp);
        char u[4];
        if (cp == 0x130) { /* the one unconditional multi-character lowercase: "i" + combining dot */
            ko_buf_puts(out, "i\xcc\x87");
            continue;
        }
        ko_buf_put(out, u, (size_t)tk_utf8_enc(utf8proc_tolower(cp), u));
    }
}

static void strip(const char *s, size_t n, bool left, bool right, ko_buf *out) {
    size_t a = 0, b = n;
    while (left && a < b) {
        int32_t cp;
        int k = tk_utf8_dec(s + a, b - a, &cp);
        if (!tk_is_whitespace(cp)) break;
        a += (size_t)k;
    }
    while (right && b > a) {
        size_t c = b - 1;
        while (c > a && ((uint8_t)s[c] & 0xc0) == 0x80) c--;
        int32_t cp;
        tk_utf8_dec(s + c, b - c, &cp);
        if (!tk_is_whitespace(cp)) break;
        b = c;
    }
    ko_buf_put(out, s + a, b - a);
}

static int replace(const tk_norm *nm, const char *s, size_t n, ko_buf *out, ko_err *e) {
    tk_ranges r = {0};
    int rc = tk_pattern_find(&nm->pat, s, n, &r, e);
    for (int i = 0; rc == 0 && i < r.n; i++) {
        if (r.v[i].match) ko_buf_put(out, nm->str, nm->str_n);
        else ko_buf_put(out, s + r.v[i].a, r.v[i].b - r.v[i].a);
    }
    free(r.v);
    return rc;
}

static int apply(const tk_norm *nm, const char *s, size_t n, ko_buf *out, ko_err *e) {
    switch (nm->type) {
    case TK_NFC: return unicode_form(s, n, UTF8PROC_COMPOSE, out, e);
    case TK_NFD: return unicode_form(s, n, UTF8PROC_DECOMPOSE, out, e);
    case TK_NFKC: return unicode_form(s, n, UTF8PROC_COMPOSE | UTF8PROC_COMPAT, out, e);
    case TK_NFKD: return unicode_form(s, n, UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT, out, e);
    case TK_LOWER: lowercase(s, n, out); return 0;
    case TK_STRIP: strip(s, n, nm->left, nm->right, out); return 0;
    case TK_REPLACE: return replace(nm, s, n, out, e);
    case TK_PREPEND: break; /* the last type (the loader only makes these eight) */
    }
    if (n) ko_buf_put(out, nm->str, nm->str_n);
    ko_buf_put(out, s, n);
    return 0;
}

int tk_normalize(const ko_tokenizer *t, const char *s, size_t n, ko_buf *out, ko_err *e) {
    out->n = 0;
    if (t->n_norm == 0) {
        ko_buf_put(out, s, n);
        return 0;
    }
    ko_buf tmp = {0}, cur = {0};
    ko_buf_put(&cur, s, n);
    int rc = 0;
    for (int i = 0; rc == 0 && i < t->n_norm; i++) {
        tmp.n = 0;
        ko_buf_put(&tmp, "", 0);
        rc = apply(&t->norm[i], cur.p, cur.n, &tmp, e);
        ko_buf sw = cur;
        cur = tmp;
        tmp = sw;
    }
    if (rc == 0) ko_buf_put(out, cur.p, cur.n);
    ko_buf_free(&tmp);
    ko_buf_free(&cur);
    return rc;
}

void tk_norm_free(tk_norm *n) {
    tk_pattern_free(&n->pat);
    free(n->str);
}
