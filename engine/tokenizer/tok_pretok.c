/* tok_pretok.c — HF pre-tokenizers: Split, ByteLevel, Metaspace, Whitespace, WhitespaceSplit,
 * Digits, Punctuation; a Sequence is t->pre applied in order, each over every pending split (as
 * PreTokenizedString::split does). Splits that are added tokens pass through untouched; empty
 * splits are dropped, as HF drops them. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "engine/tokenizer/tok_internal.h"

/* Ranges of s where one character class matches, one range per character (HF: a char predicate as
 * a Pattern). */
static void find_chars(const char *s, size_t n, bool (*pred)(int32_t), tk_ranges *out) {
    out->n = 0;
    size_t prev = 0;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        int k = tk_utf8_dec(s + i, n - i, &cp);
        if (pred(cp)) {
            if (prev != i) tk_ranges_add(out, (uint32_t)prev, (uint32_t)i, false);
            tk_ranges_add(out, (uint32_t)i, (uint32_t)(i + (size_t)k), true);
            prev = i + (size_t)k;
        }
        i += (size_t)k;
    }
    if (prev != n) tk_ranges_add(out, (uint32_t)prev, (uint32_t)n, false);
}

/* Rust char::is_numeric: Nd, Nl, No */
static bool is_numeric(int32_t c) {
    if (c < 0x80) return c >= '0' && c <= '9';
    utf8proc_category_t k = utf8proc_category(c);
    return k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO;
}

/* Appends a piece, mapping every byte to GPT-2's printable characters when bytelevel is set. */
static void emit(tk_splits *out, const char *s, size_t n, bool first, bool bytelevel) {
    if (n == 0) return;
    if (!bytelevel) {
        tk_splits_add(out, s, n, -1, first);
        return;
    }
    tk_splits_add(out, "", 0, -1, first);
    tk_split *sp = &out->v[out->n - 1];
    for (size_t i = 0; i < n; i++) {
        char u[4];
        ko_buf_put(&out->text, u, (size_t)tk_utf8_enc(tk_byte2cp((uint8_t)s[i]), u));
    }
    sp->len = (uint32_t)(out->text.n - sp->off);
}

/* HF NormalizedString::split: turns (range, is_match) into kept pieces by the behavior. */
static void split_by(const char *s, tk_ranges *r, tk_behavior bh, bool invert, bool first, bool bytelevel,
                     tk_splits *out) {
    if (invert)
        for (int i = 0; i < r->n; i++) r->v[i].match = !r->v[i].match;
    /* keep[] reuses r: each entry becomes (a, b, removed) */
    int k = 0;
    bool prev_match = false;
    switch (bh) {
    case TK_REMOVED: k = r->n; break;
    case TK_ISOLATED:
        for (int i = 0; i < r->n; i++) r->v[i].match = false;
        k = r->n;
        break;
    case TK_CONTIGUOUS:
        for (int i = 0; i < r->n; i++) {
            bool m = r->v[i].match;
            if (m == prev_match && k > 0) r->v[k - 1].b = r->v[i].b;
            else r->v[k++] = (tk_range){r->v[i].a, r->v[i].b, false};
            prev_match = m;
        }
        break;
    case TK_MERGED_PREV:
        for (int i = 0; i < r->n; i++) {
            bool m = r->v[i].match;
            if (m && !prev_match && k > 0) r->v[k - 1].b = r->v[i].b;
            else r->v[k++] = (tk_range){r->v[i].a, r->v[i].b, false};
            prev_match = m;
        }
        break;
    case TK_MERGED_NEXT: /* the same fold from the right */
        k = r->n;
        {
            int w = r->n;
            for (int i = r->n - 1; i >= 0; i--) {
                bool m = r->v[i].match;
                if (m && !prev_match && w < r->n) r->v[w].a = r->v[i].a;
                else r->v[--w] = (tk_range){r->v[i].a, r->v[i].b, false};
                prev_match = m;
            }
            memmove(r->v, r->v + w, (size_t)(r->n - w) * sizeof *r->v);
            k = r->n - w;
        }
        break;
    }
    for (int i = 0; i < k; i++)
        if (!r->v[i].match) emit(out, s + r->v[i].a, r->v[i].b - r->v[i].a, first && r->v[i].a == 0, bytelevel);
}

/* Metaspace: spaces become the replacement, the prefix is prepended per prepend_scheme, then the
 * text is split before each replacement (MergedWithNext). */
static void metaspace(const tk_pre *p, const char *s, size_t n, bool first, tk_splits *out, tk_ranges *r) {
    ko_buf b = {0};
    /* HF checks after the replacement: a leading space counts as a leading replacement */
    bool starts = s[0] == ' ' || (n >= (size_t)p->repl_n && memcmp(s, p->repl, (size_t)p->repl_n) == 0);
    if (!starts && (p->prepend == TK_PREPEND_ALWAYS || (p->prepend == TK_PREPEND_FIRST && first)))
        ko_buf_put(&b, p->repl, (size_t)p->repl_n);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ') ko_buf_put(&b, p->repl, (size_t)p->repl_n);
        else ko_buf_putc(&b, s[i]);
    }
    if (!p->split) {
        emit(out, b.p, b.n, first, false);
    } else {
        tk_pattern lit = {.lit = (char *)p->repl, .lit_n = (size_t)p->repl_n};
        ko_err unused;
        (void)tk_pattern_find(&lit, b.p, b.n, r, &unused); /* literal search cannot fail */
        split_by(b.p, r, TK_MERGED_NEXT, false, first, false, out);
    }
    ko_buf_free(&b);
}

/* One pre-tokenizer over one pending piece s[0..n), n > 0 (empty pieces are never made). */
static int apply(const tk_pre *p, const char *s, size_t n, bool first, tk_splits *out, tk_ranges *r,
                 ko_err *e) {
    switch (p->type) {
    case TK_P_SPLIT:
        if (tk_pattern_find(&p->pat, s, n, r, e) < 0) return -1;
        split_by(s, r, p->behavior, p->invert, first, false, out);
        return 0;
    case TK_P_BYTELEVEL: {
        ko_buf b = {0};
        if (p->add_prefix_space && s[0] != ' ') {
            ko_buf_putc(&b, ' ');
            ko_buf_put(&b, s, n);
            s = b.p;
            n = b.n;
        }
        int rc = 0;
        if (!p->use_regex) emit(out, s, n, first, true);
        else if ((rc = tk_pattern_find(&p->pat, s, n, r, e)) == 0) split_by(s, r, TK_ISOLATED, false, first, true, out);
        ko_buf_free(&b);
        return rc;
    }
    case TK_P_METASPACE: metaspace(p, s, n, first, out, r); return 0;
    case TK_P_WHITESPACE:
        if (tk_pattern_find(&p->pat, s, n, r, e) < 0) return -1;
        split_by(s, r, TK_REMOVED, true, first, false, out);
        return 0;
    case TK_P_WSPLIT:
        find_chars(s, n, tk_is_whitespace, r);
        split_by(s, r, TK_REMOVED, false, first, false, out);
        return 0;
    case TK_P_DIGITS:
        find_chars(s, n, is_numeric, r);
        split_by(s, r, p->individual ? TK_ISOLATED : TK_CONTIGUOUS, false, first, false, out);
        return 0;
    case TK_P_PUNCT: break; /* the last type (the loader only makes these seven) */
    }
    find_chars(s, n, tk_is_punct, r);
    split_by(s, r, p->behavior, false, first, false, out);
    return 0;
}

int tk_pretokenize(const ko_tokenizer *t, tk_splits *in, tk_splits *out, ko_err *e) {
    tk_ranges r = {0};
    int rc = 0;
    for (int k = 0; rc == 0 && k < t->n_pre; k++) {
        tk_splits_reset(out);
        for (int i = 0; rc == 0 && i < in->n; i++) {
            const tk_split *sp = &in->v[i];
            if (sp->id >= 0) tk_splits_add(out, "", 0, sp->id, false);
            else rc = apply(&t->pre[k], in->text.p + sp->off, sp->len, sp->first, out, &r, e);
        }
        tk_splits sw = *in;
        *in = *out;
        *out = sw;
    }
    free(r.v);
    return rc; /* the result is in `in` */
}

int tk_pre_builtin_regex(tk_pre *p, const char *re, ko_err *e) {
    return tk_pattern_compile(&p->pat, re, strlen(re), "pre-tokenizer", e);
}

void tk_pre_free(tk_pre *p) { tk_pattern_free(&p->pat); }
