/* tok_pattern.c — HF's Pattern: a literal string or a regex (PCRE2, UTF + Unicode properties, JIT),
 * and find_matches: the pattern's matches and the text between them as ranges covering the input. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/tokenizer/tok_internal.h"

int tk_pattern_compile(tk_pattern *p, const char *re, size_t n, const char *what, ko_err *e) {
    int code;
    PCRE2_SIZE at;
    p->re = pcre2_compile((PCRE2_SPTR)re, n, PCRE2_UTF | PCRE2_UCP, &code, &at, NULL);
    if (!p->re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        return ko_fail(e, "%s: invalid regex at offset %zu: %s", what, (size_t)at, (const char *)msg);
    }
    /* JIT is an optimisation only: when it is unavailable the interpreter gives the same matches. */
    (void)pcre2_jit_compile(p->re, PCRE2_JIT_COMPLETE);
    return 0;
}

int tk_pattern_from_json(const void *json, tk_pattern *p, const char *what, ko_err *e) {
    const cJSON *j = json;
    memset(p, 0, sizeof *p);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "String");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "Regex");
    if (cJSON_IsString(s)) {
        p->lit_n = strlen(s->valuestring);
        p->lit = ko_xstrndup(s->valuestring, p->lit_n);
        return 0;
    }
    if (cJSON_IsString(r)) return tk_pattern_compile(p, r->valuestring, strlen(r->valuestring), what, e);
    return ko_fail(e, "%s: pattern must be {\"String\": ...} or {\"Regex\": ...}", what);
}

void tk_pattern_free(tk_pattern *p) {
    free(p->lit);
    if (p->re) pcre2_code_free(p->re);
    memset(p, 0, sizeof *p);
}

/* Per-thread match state: PCRE2 match data must not be shared between concurrent matches. */
static __thread pcre2_match_data *tls_md;
static __thread pcre2_match_context *tls_mc;
static __thread pcre2_jit_stack *tls_js;

static void *pcre2_xmalloc(PCRE2_SIZE n, void *unused) {
    (void)unused;
    return ko_xmalloc(n);
}
static void pcre2_xfree(void *p, void *unused) {
    (void)unused;
    free(p);
}

static pcre2_match_data *match_data(pcre2_match_context **mc) {
    if (!tls_md) { /* allocated through ko_xmalloc, so never NULL (out of memory exits there) */
        pcre2_general_context *gc = pcre2_general_context_create(pcre2_xmalloc, pcre2_xfree, NULL);
        tls_md = pcre2_match_data_create(1, gc);
        tls_mc = pcre2_match_context_create(gc);
        /* NULL when PCRE2 has no JIT (or no memory for the stack): assigning NULL then keeps
         * PCRE2's own 32 KiB stack, and a match that outgrows it reports an error like any other */
        tls_js = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, gc);
        pcre2_jit_stack_assign(tls_mc, NULL, tls_js);
        pcre2_general_context_free(gc);
    }
    *mc = tls_mc;
    return tls_md;
}

int tk_pattern_find(const tk_pattern *p, const char *s, size_t n, tk_ranges *out, ko_err *e) {
    out->n = 0;
    if (n == 0) {
        tk_ranges_add(out, 0, 0, false);
        return 0;
    }
    size_t prev = 0;
    if (!p->re) {
        if (p->lit_n == 0) { /* Rust's match_indices(""): an empty match at every char boundary */
            for (size_t i = 0;;) {
                if (i > prev) tk_ranges_add(out, (uint32_t)prev, (uint32_t)i, false);
                tk_ranges_add(out, (uint32_t)i, (uint32_t)i, true);
                prev = i;
                if (i >= n) return 0;
                int32_t cp;
                i += (size_t)tk_utf8_dec(s + i, n - i, &cp);
            }
        }
        const char *q = s, *end = s + n;
        while ((size_t)(end - q) >= p->lit_n && (q = memmem(q, (size_t)(end - q), p->lit, p->lit_n))) {
            size_t a = (size_t)(q - s);
            if (a != prev) tk_ranges_add(out, (uint32_t)prev, (uint32_t)a, false);
            tk_ranges_add(out, (uint32_t)a, (uint32_t)(a + p->lit_n), true);
            prev = a + p->lit_n;
            q += p->lit_n;
        }
    } else {
        pcre2_match_context *mc;
        pcre2_match_data *md = match_data(&mc);
        size_t at = 0, last_end = SIZE_MAX;
        for (;;) { /* ends at the last match (at n at the latest) or when none is left */
            int rc = pcre2_match(p->re, (PCRE2_SPTR)s, n, at, PCRE2_NO_UTF_CHECK, md, mc);
            if (rc == PCRE2_ERROR_NOMATCH) break;
            if (rc < 0) {
                PCRE2_UCHAR msg[256];
                pcre2_get_error_message(rc, msg, sizeof msg);
                return ko_fail(e, "regex: %s", (const char *)msg);
            }
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            size_t a = ov[0], b = ov[1];
            /* an empty match right where the previous match ended is not one (HF's Oniguruma
             * find_iter: "axb" with x* matches "", "x", "" at 0, 1..2, 3, not at 2) */
            if (!(a == b && a == last_end)) {
                if (a != prev) tk_ranges_add(out, (uint32_t)prev, (uint32_t)a, false);
                tk_ranges_add(out, (uint32_t)a, (uint32_t)b, true);
                prev = b;
            }
            last_end = b;
            if (b > a) {
                at = b;
            } else { /* empty match: step over one character */
                if (b >= n) break;
                int32_t cp;
                at = b + (size_t)tk_utf8_dec(s + b, n - b, &cp);
            }
        }
    }
    if (prev != n) tk_ranges_add(out, (uint32_t)prev, (uint32_t)n, false);
    return 0;
}
