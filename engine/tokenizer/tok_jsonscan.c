/* tok_jsonscan.c — a small JSON scanner for the two big members of tokenizer.json, model.vocab and
 * model.merges (Gemma 3: 262k + 515k entries). Building a cJSON tree for them costs most of the
 * load time (millions of nodes); scanning them straight into the tokenizer's tables does not. The
 * rest of the file, with those two members replaced by {} and [], goes to cJSON as before. */
#include <stdlib.h>
#include <string.h>

#include "engine/tokenizer/tok_internal.h"

#define MAX_DEPTH 64

static const char *ws(const char *p, const char *e) {
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

static int hex4(const char *p, const char *e, uint32_t *v) {
    if (e - p < 4) return -1;
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int h = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (h < 0) return -1;
        *v = *v * 16 + (uint32_t)h;
    }
    return 0;
}

/* A JSON string at p (the opening quote): decoded into out (when non-NULL); returns the position
 * after the closing quote, or NULL when it is not a valid string. With out NULL it only skips: the
 * spans skipped are parsed strictly later (vocab, merges) or by cJSON (the rest). */
static const char *string(const char *p, const char *e, ko_buf *out) {
    if (p >= e || *p != '"') return NULL;
    p++;
    if (!out) { /* only skipping: find the closing quote (what is skipped is checked elsewhere) */
        for (const char *q; (q = memchr(p, '"', (size_t)(e - p)));) {
            size_t bs = 0;
            while (q - bs > p && q[-1 - (long)bs] == '\\') bs++;
            if (bs % 2 == 0) return q + 1;
            p = q + 1;
        }
        return NULL;
    }
    const char *run = p;
    while (p < e && *p != '"') {
        if ((uint8_t)*p < 0x20) return NULL;
        if (*p != '\\') {
            p++;
            continue;
        }
        ko_buf_put(out, run, (size_t)(p - run));
        if (++p >= e) return NULL;
        char c = *p++;
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        const char *k = strchr(from, c);
        if (c && k) {
            ko_buf_putc(out, to[k - from]);
        } else if (c == 'u') {
            uint32_t cp, lo;
            if (hex4(p, e, &cp) < 0) return NULL;
            p += 4;
            if (cp >= 0xd800 && cp < 0xdc00) { /* a surrogate pair, or invalid */
                if (e - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, e, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
                    return NULL;
                p += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp < 0xe000) {
                return NULL;
            }
            char u[4];
            ko_buf_put(out, u, (size_t)tk_utf8_enc((int32_t)cp, u));
        } else {
            return NULL;
        }
        run = p;
    }
    if (p >= e) return NULL;
    ko_buf_put(out, run, (size_t)(p - run));
    return p + 1;
}

/* Skips any JSON value; NULL when it is not one. */
static const char *value(const char *p, const char *e, int depth) {
    p = ws(p, e);
    if (p >= e || depth > MAX_DEPTH) return NULL;
    if (*p == '"') return string(p, e, NULL);
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        bool obj = *p == '{';
        p = ws(p + 1, e);
        if (p < e && *p == close) return p + 1;
        for (;;) {
            if (obj) {
                p = string(ws(p, e), e, NULL);
                if (!p || (p = ws(p, e)) >= e || *p != ':') return NULL;
                p++;
            }
            if (!(p = value(p, e, depth + 1)) || (p = ws(p, e)) >= e) return NULL;
            if (*p == close) return p + 1;
            if (*p++ != ',') return NULL;
        }
    }
    const char *s = p; /* number, true, false, null */
    while (p < e && (strchr("+-.eE", *p) || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z'))) p++;
    return p > s ? p : NULL;
}

/* The value of member `key` of the object at p: [*v, *v_end), or *v = NULL when absent. */
static int member(const char *p, const char *e, const char *key, const char **v, const char **v_end) {
    *v = NULL;
    p = ws(p, e);
    if (p >= e || *p != '{') return -1;
    p = ws(p + 1, e);
    if (p < e && *p == '}') return 0;
    ko_buf k = {0};
    int rc = -1;
    for (;;) {
        k.n = 0;
        ko_buf_put(&k, "", 0);
        if (!(p = string(ws(p, e), e, &k)) || (p = ws(p, e)) >= e || *p != ':') break;
        const char *vs = ws(p + 1, e), *ve = value(vs, e, 1);
        if (!ve) break;
        if (!*v && strcmp(k.p, key) == 0) { /* the first one, like cJSON */
            *v = vs;
            *v_end = ve;
        }
        if ((p = ws(ve, e)) >= e) break;
        if (*p == '}') {
            rc = 0;
            break;
        }
        if (*p++ != ',') break;
    }
    ko_buf_free(&k);
    return rc;
}

int tk_scan_big(const char *text, size_t n, tk_big *big, ko_buf *rest) {
    const char *e = text + n, *m, *m_end;
    memset(big, 0, sizeof *big);
    rest->n = 0;
    ko_buf_put(rest, "", 0);
    if (member(text, e, "model", &m, &m_end) < 0 || !m ||
        member(m, m_end, "vocab", &big->vocab, &big->vocab_end) < 0 ||
        member(m, m_end, "merges", &big->merges, &big->merges_end) < 0 || !big->vocab || !big->merges ||
        *big->vocab != '{' || *big->merges != '[') {
        memset(big, 0, sizeof *big); /* not the usual shape: cJSON gets it all (and says what is wrong) */
        ko_buf_put(rest, text, n);
        return 0;
    }
    bool v_first = big->vocab < big->merges;
    const char *a = v_first ? big->vocab : big->merges, *a_end = v_first ? big->vocab_end : big->merges_end;
    const char *b = v_first ? big->merges : big->vocab, *b_end = v_first ? big->merges_end : big->vocab_end;
    ko_buf_put(rest, text, (size_t)(a - text));
    ko_buf_puts(rest, v_first ? "{}" : "[]");
    ko_buf_put(rest, a_end, (size_t)(b - a_end));
    ko_buf_puts(rest, v_first ? "[]" : "{}");
    ko_buf_put(rest, b_end, (size_t)(e - b_end));
    return 1;
}

/* Both scans below run over a range tk_scan_big found with value(): it ends with the closing '}'
 * or ']', and every string, ':' and ',' in it sits where value() saw one. So a string the strict
 * string() accepts ends where value()'s did, white space never runs past the last character, and
 * after a complete entry there is always a next character: no end checks are needed here. */
int tk_scan_vocab(const tk_big *big, tk_vocab_fn fn, void *ctx, ko_err *e) {
    const char *p = ws(big->vocab + 1, big->vocab_end), *end = big->vocab_end;
    ko_buf k = {0};
    int rc = 0;
    while (rc == 0 && *p != '}') {
        k.n = 0;
        ko_buf_put(&k, "", 0);
        if (!(p = string(p, end, &k)) || *(p = ws(p, end)) != ':') {
            rc = ko_fail(e, "tokenizer.json: vocab: bad entry");
            break;
        }
        p = ws(p + 1, end);
        int64_t id = 0;
        const char *d = p;
        while (*p >= '0' && *p <= '9' && id < (1 << 24)) id = id * 10 + (*p++ - '0');
        if (p == d || id >= (1 << 24) || strchr(".eE-+", *p)) {
            rc = ko_fail(e, "tokenizer.json: vocab: token id must be an integer in [0, %d)", 1 << 24);
            break;
        }
        fn(ctx, k.p, k.n, (int32_t)id);
        /* value() took "0x" for a number too: what follows the digits must be ',' or '}' */
        if (*(p = ws(p, end)) == ',') p = ws(p + 1, end);
        else if (*p != '}') rc = ko_fail(e, "tokenizer.json: vocab: bad entry");
    }
    ko_buf_free(&k);
    return rc;
}

int tk_scan_merges(const tk_big *big, tk_merge_fn fn, void *ctx, ko_err *e) {
    const char *p = ws(big->merges + 1, big->merges_end), *end = big->merges_end;
    ko_buf a = {0}, b = {0};
    int rc = 0;
    for (uint32_t i = 0; *p != ']'; i++) {
        a.n = b.n = 0;
        ko_buf_put(&a, "", 0);
        ko_buf_put(&b, "", 0);
        if (*p == '[') { /* ["a", "b"] */
            if (!(p = string(ws(p + 1, end), end, &a)) || *(p = ws(p, end)) != ',' ||
                !(p = string(ws(p + 1, end), end, &b)) || *(p = ws(p, end)) != ']') {
                rc = ko_fail(e, "tokenizer.json: merge %u must be \"a b\" or [\"a\", \"b\"]", i);
                break;
            }
            p++;
        } else { /* "a b" */
            if (!(p = string(p, end, &a))) {
                rc = ko_fail(e, "tokenizer.json: merge %u must be \"a b\" or [\"a\", \"b\"]", i);
                break;
            }
            char *sp = memchr(a.p, ' ', a.n);
            if (!sp || memchr(sp + 1, ' ', a.n - (size_t)(sp + 1 - a.p))) {
                rc = ko_fail(e, "tokenizer.json: merge %u is not two tokens separated by one space", i);
                break;
            }
            ko_buf_put(&b, sp + 1, a.n - (size_t)(sp + 1 - a.p));
            a.n = (size_t)(sp - a.p);
        }
        if ((rc = fn(ctx, a.p, a.n, b.p, b.n, i, e)) < 0) break;
        if (*(p = ws(p, end)) == ',') p = ws(p + 1, end); /* else the closing ']' (value() saw to it) */
    }
    ko_buf_free(&a);
    ko_buf_free(&b);
    return rc;
}
