/* tsv.c — see tsv.h: pandas.read_csv(sep="\t") tokenizing, nothing more. */
#include "datasets/tsv.h"

#include <stdlib.h>
#include <string.h>

enum state { START_RECORD, START_FIELD, IN_FIELD, IN_QUOTED, QUOTE_IN_QUOTED };

typedef struct reader {
    ko_tsv *t;
    ko_tsv_row row;   /* the record being built */
    int cap;          /* capacity of row.f / row.len */
    int rows_cap;
    ko_buf field;     /* the field being built */
} reader;

static void end_field(reader *r) {
    if (r->row.n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 8;
        r->row.f = ko_xrealloc(r->row.f, (size_t)r->cap * sizeof *r->row.f);
        r->row.len = ko_xrealloc(r->row.len, (size_t)r->cap * sizeof *r->row.len);
    }
    r->row.f[r->row.n] = ko_xstrndup(r->field.p ? r->field.p : "", r->field.n);
    r->row.len[r->row.n] = r->field.n;
    r->row.n++;
    r->field.n = 0;
}

static void end_record(reader *r) {
    ko_tsv *t = r->t;
    if (t->n_rows == r->rows_cap) {
        r->rows_cap = r->rows_cap ? 2 * r->rows_cap : 64;
        t->rows = ko_xrealloc(t->rows, (size_t)r->rows_cap * sizeof *t->rows);
    }
    t->rows[t->n_rows++] = r->row;
    memset(&r->row, 0, sizeof r->row);
    r->cap = 0;
}

/* Length of the line end at s[i] ("\r\n" is one). */
static size_t eol_len(const char *s, size_t n, size_t i) {
    return (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n') ? 2 : 1;
}

/* Skips an empty line (or a line of spaces) ending at s[i]; pandas also swallows a tab right after
 * such a line when it ended with a lone CR. Returns the offset of what follows. */
static size_t skip_blank_end(const char *s, size_t n, size_t i) {
    size_t k = eol_len(s, n, i);
    if (k == 1 && s[i] == '\r' && i + 1 < n && s[i + 1] == '\t') k++;
    return i + k;
}

/* If s[i..] is a line of spaces only (up to a line end or the end of data), returns the offset just
 * past it; otherwise returns i. pandas skips such lines like empty ones. */
static size_t skip_space_line(const char *s, size_t n, size_t i) {
    size_t j = i;
    while (j < n && s[j] == ' ') j++;
    if (j == n) return n;
    if (s[j] == '\n' || s[j] == '\r') return skip_blank_end(s, n, j);
    return i;
}

int ko_tsv_parse(const char *s, size_t n, ko_tsv *out, ko_err *e) {
    memset(out, 0, sizeof *out);
    reader r = {.t = out};
    enum state st = START_RECORD;
    int line = 1, quote_line = 0;
    size_t i = 0;
    if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) i = 3;
    while (i < n) {
        char c = s[i];
        switch (st) {
        case START_RECORD:
            if (c == '\n' || c == '\r') { i = skip_blank_end(s, n, i); line++; break; }
            if (c == ' ') {
                size_t j = skip_space_line(s, n, i);
                if (j != i) { i = j; line++; break; }
            }
            r.row.line = line;
            st = START_FIELD;
            break;
        case START_FIELD:
            if (c == '"') { st = IN_QUOTED; quote_line = line; i++; }
            else st = IN_FIELD;
            break;
        case IN_FIELD:
            if (c == '\t') {
                end_field(&r);
                st = START_FIELD;
                i++;
            } else if (c == '\n' || c == '\r') {
                end_field(&r);
                end_record(&r);
                i += eol_len(s, n, i);
                line++;
                st = START_RECORD;
            } else {
                ko_buf_putc(&r.field, c);
                i++;
            }
            break;
        case IN_QUOTED:
            if (c == '"') { st = QUOTE_IN_QUOTED; i++; break; }
            if (c == '\n' || (c == '\r' && eol_len(s, n, i) == 1)) line++;
            ko_buf_putc(&r.field, c);
            i++;
            break;
        case QUOTE_IN_QUOTED:
            if (c == '"') { ko_buf_putc(&r.field, c); st = IN_QUOTED; i++; }
            else st = IN_FIELD; /* closing quote: the rest of the field is unquoted */
            break;
        }
    }
    int rc = 0;
    if (st == IN_QUOTED) {
        rc = ko_fail(e, "line %d: end of file inside a quoted field", quote_line);
    } else if (st != START_RECORD) {
        end_field(&r);
        end_record(&r);
    }
    for (int k = 0; k < r.row.n; k++) free(r.row.f[k]);
    free(r.row.f);
    free(r.row.len);
    ko_buf_free(&r.field);
    if (rc) ko_tsv_free(out);
    return rc;
}

void ko_tsv_free(ko_tsv *t) {
    for (int i = 0; i < t->n_rows; i++) {
        for (int k = 0; k < t->rows[i].n; k++) free(t->rows[i].f[k]);
        free(t->rows[i].f);
        free(t->rows[i].len);
    }
    free(t->rows);
    memset(t, 0, sizeof *t);
}
