/* template.c — see template.h. With doc == NULL the renderer only checks syntax, filters and tables. */
#include "tasks/template.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/pystr.h"

enum { WORD_MAX = 128 };

static const char *skip_spaces(const char *p) {
    while (*p == ' ' || *p == '\t') p++;
    return p;
}

/* Reads a word ([A-Za-z0-9_]+) at p into buf. Returns the end, or NULL if there is none. */
static const char *read_word(const char *p, char *buf) {
    size_t n = 0;
    while (isalnum((unsigned char)*p) || *p == '_') {
        if (n + 1 >= WORD_MAX) return NULL;
        buf[n++] = *p++;
    }
    buf[n] = 0;
    return n ? p : NULL;
}

/* Applies one filter to *val (malloc'd; replaced). check: no document, validate only. */
static int apply_filter(const char *name, const char *arg, const cJSON *maps, bool check, char **val,
                        ko_err *e) {
    char *v = *val;
    size_t n = strlen(v);
    bool is_strip = !strcmp(name, "strip") || !strcmp(name, "lstrip") || !strcmp(name, "rstrip");
    if (is_strip && !arg) {
        size_t lo = name[0] == 'r' ? 0 : ko_py_lstrip_len(v, n);
        size_t hi = name[0] == 'l' ? n : ko_py_rstrip_len(v, n);
        if (hi < lo) hi = lo;
        *val = ko_xstrndup(v + lo, hi - lo);
        free(v);
        return 0;
    }
    if (!strcmp(name, "map") && arg) {
        const cJSON *table = cJSON_GetObjectItemCaseSensitive(maps, arg);
        if (!cJSON_IsObject(table)) return ko_fail(e, "filter map:%s: no such table in the config's \"maps\"", arg);
        if (check) return 0;
        const cJSON *hit = cJSON_GetObjectItemCaseSensitive(table, v);
        if (!cJSON_IsString(hit)) return ko_fail(e, "filter map:%s: no entry for \"%s\"", arg, v);
        *val = ko_xstrdup(hit->valuestring);
        free(v);
        return 0;
    }
    return ko_fail(e, "unknown filter \"%s%s%s\" (known: strip, lstrip, rstrip, map:TABLE)", name,
                   arg ? ":" : "", arg ? arg : "");
}

/* Parses and evaluates one "{{ ... }}" whose inside starts at p; appends the value to out.
 * Returns the position after "}}", or NULL on error. */
static const char *render_expr(const char *p, const ko_docrow *doc, const cJSON *maps, ko_buf *out,
                               ko_err *e) {
    char field[WORD_MAX], name[WORD_MAX], arg[WORD_MAX];
    p = read_word(skip_spaces(p), field);
    if (!p) { ko_fail(e, "expected a field name after \"{{\""); return NULL; }
    char *val;
    if (doc) {
        const char *v = ko_docrow_get(doc, field);
        if (!v) { ko_fail(e, "the document has no field \"%s\"", field); return NULL; }
        val = ko_xstrdup(v);
    } else {
        val = ko_xstrdup("");
    }
    for (p = skip_spaces(p); *p == '|'; p = skip_spaces(p)) {
        p = read_word(skip_spaces(p + 1), name);
        bool has_arg = p && *p == ':';
        if (has_arg) p = read_word(p + 1, arg);
        if (!p) { free(val); ko_fail(e, "expected a filter name after \"|\" in {{%s ...}}", field); return NULL; }
        if (apply_filter(name, has_arg ? arg : NULL, maps, !doc, &val, e) < 0) { free(val); return NULL; }
    }
    if (p[0] != '}' || p[1] != '}') {
        free(val);
        ko_fail(e, "expected \"}}\" to close {{%s ...", field);
        return NULL;
    }
    ko_buf_puts(out, val);
    free(val);
    return p + 2;
}

static int render(const char *tmpl, const ko_docrow *doc, const cJSON *maps, char **out, ko_err *e) {
    ko_buf b = {0};
    const char *p = tmpl;
    for (;;) {
        const char *open = strstr(p, "{{");
        if (!open) { ko_buf_puts(&b, p); break; }
        ko_buf_put(&b, p, (size_t)(open - p));
        p = render_expr(open + 2, doc, maps, &b, e);
        if (!p) {
            ko_buf_free(&b);
            return ko_fail_prefix(e, "template \"%.60s\"", tmpl);
        }
    }
    *out = b.p ? b.p : ko_xstrdup("");
    return 0;
}

int ko_template_render(const char *tmpl, const ko_docrow *doc, const cJSON *maps, char **out, ko_err *e) {
    static const ko_docrow empty = {0};
    return render(tmpl, doc ? doc : &empty, maps, out, e);
}

int ko_template_check(const char *tmpl, const cJSON *maps, ko_err *e) {
    char *s = NULL;
    int rc = render(tmpl, NULL, maps, &s, e);
    free(s);
    return rc;
}
