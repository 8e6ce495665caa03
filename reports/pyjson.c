/* pyjson.c — writing JSON the way Python's json.dumps(ensure_ascii=False) does, with floats as
 * Python's repr(), so that koeval's files are byte-comparable with lm-eval's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reports/report_impl.h"

/* repr(float): the shortest digit string that reads back as x (the nearest one of that length,
 * which "%.*e" gives), then Python's layout: positional when -4 <= exponent < 16, else d.ddde+XX. */
void ko_py_float_repr(ko_buf *b, double x) {
    if (isnan(x)) {
        ko_buf_puts(b, "nan");
        return;
    }
    if (isinf(x)) {
        ko_buf_puts(b, x < 0 ? "-inf" : "inf");
        return;
    }
    char s[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(s, sizeof s, "%.*e", prec - 1, x);
        if (strtod(s, NULL) == x) break;
    }
    /* s = [-]d[.ddd]e(+|-)XX */
    const char *p = s;
    if (*p == '-') ko_buf_putc(b, *p++);
    char digits[24];
    int nd = 0;
    for (; *p != 'e'; p++)
        if (*p != '.') digits[nd++] = *p;
    int exp = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    if (exp >= -4 && exp < 16) {
        if (exp < 0) {
            ko_buf_puts(b, "0.");
            for (int i = 0; i < -exp - 1; i++) ko_buf_putc(b, '0');
            ko_buf_put(b, digits, (size_t)nd);
        } else {
            for (int i = 0; i <= exp; i++) ko_buf_putc(b, i < nd ? digits[i] : '0');
            ko_buf_putc(b, '.');
            if (nd > exp + 1) ko_buf_put(b, digits + exp + 1, (size_t)(nd - exp - 1));
            else ko_buf_putc(b, '0');
        }
    } else {
        ko_buf_putc(b, digits[0]);
        if (nd > 1) {
            ko_buf_putc(b, '.');
            ko_buf_put(b, digits + 1, (size_t)(nd - 1));
        }
        ko_buf_printf(b, "e%c%02d", exp < 0 ? '-' : '+', abs(exp));
    }
}

cJSON *ko_json_float(double x) {
    ko_buf b = {0};
    if (isnan(x)) ko_buf_puts(&b, "NaN");
    else if (isinf(x)) ko_buf_puts(&b, x < 0 ? "-Infinity" : "Infinity");
    else ko_py_float_repr(&b, x);
    cJSON *n = cJSON_CreateRaw(b.p);
    ko_buf_free(&b);
    return n;
}

cJSON *ko_json_stderr(double se) { return isnan(se) ? cJSON_CreateString("N/A") : ko_json_float(se); }

static void put_indent(ko_buf *out, int level) {
    ko_buf_putc(out, '\n');
    for (int i = 0; i < level; i++) ko_buf_puts(out, "  ");
}

static void dump(const cJSON *n, const char *key, bool indent, int level, ko_buf *out) {
    if (cJSON_IsRaw(n)) {
        ko_buf_puts(out, n->valuestring);
    } else if (cJSON_IsNull(n)) {
        ko_buf_puts(out, "null");
    } else if (cJSON_IsBool(n)) {
        ko_buf_puts(out, cJSON_IsTrue(n) ? "true" : "false");
    } else if (cJSON_IsString(n)) {
        ko_buf_json_str(out, n->valuestring, strlen(n->valuestring));
    } else if (cJSON_IsNumber(n)) {
        double x = n->valuedouble;
        bool as_int = x == floor(x) && fabs(x) < 1e15 && !(key && !strcmp(key, "version"));
        if (as_int) {
            ko_buf_printf(out, "%lld", (long long)x);
        } else {
            cJSON *f = ko_json_float(x);
            ko_buf_puts(out, f->valuestring);
            cJSON_Delete(f);
        }
    } else if (cJSON_IsArray(n) || cJSON_IsObject(n)) {
        bool obj = cJSON_IsObject(n);
        ko_buf_putc(out, obj ? '{' : '[');
        const cJSON *c = n->child;
        if (!c) {
            ko_buf_putc(out, obj ? '}' : ']');
            return;
        }
        for (; c; c = c->next) {
            if (indent) put_indent(out, level + 1);
            if (obj) {
                ko_buf_json_str(out, c->string, strlen(c->string));
                ko_buf_puts(out, ": ");
            }
            dump(c, obj ? c->string : key, indent, level + 1, out);
            if (c->next) ko_buf_puts(out, indent ? "," : ", ");
        }
        if (indent) put_indent(out, level);
        ko_buf_putc(out, obj ? '}' : ']');
    }
}

void ko_pyjson_dump(const cJSON *node, bool indent, ko_buf *out) { dump(node, NULL, indent, 0, out); }

char *ko_sanitize_model_name(const char *model) {
    ko_buf b = {0};
    for (const char *p = model; *p;) {
        if (strchr("\"<>:/|\\?*[]", *p)) {
            while (*p && strchr("\"<>:/|\\?*[]", *p)) p++;
            ko_buf_puts(&b, "__");
        } else {
            ko_buf_putc(&b, *p++);
        }
    }
    if (!b.p) ko_buf_puts(&b, "");
    return b.p;
}

void ko_date_id(double epoch, char out[40]) {
    time_t sec = (time_t)floor(epoch);
    long usec = (long)floor((epoch - (double)sec) * 1e6);
    if (usec > 999999) usec = 999999;
    struct tm tm;
    localtime_r(&sec, &tm);
    size_t n = strftime(out, 40, "%Y-%m-%dT%H-%M-%S", &tm);
    /* isoformat() omits the fraction when microseconds are 0 */
    if (usec) snprintf(out + n, 40 - n, ".%06ld", usec);
}
