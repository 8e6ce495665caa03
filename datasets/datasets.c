/* datasets.c — KoBEST documents from the data repository's TSVs or the HF JSONL layout.
 *
 * The truth is the Hugging Face builder of skt/kobest_v1: pandas.read_csv(path, sep="\t"), columns
 * picked by header name and renamed to the HF field names, labels mapped to 0-based class ids. The
 * schema table below is that mapping; everything else is shared code. */
#include "datasets/datasets.h"
#include "datasets/tsv.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FIELDS 6

typedef enum { LABEL_BOOL, LABEL_INT } label_kind;

typedef struct schema {
    const char *name;     /* HF config name */
    const char *tsv_dir;  /* folder in the KoBEST data repository */
    const char *split;    /* NULL: any split; else a split with its own columns */
    int n_fields;
    const char *hf[MAX_FIELDS];  /* HF field names, in HF order; the last is "label" */
    const char *tsv[MAX_FIELDS]; /* the TSV column each comes from */
    label_kind kind;      /* LABEL_BOOL: False/True -> 0/1; LABEL_INT: value - label_base */
    int label_base;
    int n_labels;
} schema;

static const schema SCHEMAS[] = {
    {"boolq", "BoolQ", NULL, 3, {"paragraph", "question", "label"}, {"Text", "Question", "Answer"}, LABEL_BOOL, 0, 2},
    {"copa", "COPA", NULL, 5, {"premise", "question", "alternative_1", "alternative_2", "label"},
     {"sentence", "question", "1", "2", "Answer"}, LABEL_INT, 1, 2},
    {"wic", "WiC", NULL, 4, {"word", "context_1", "context_2", "label"}, {"Target", "SENTENCE1", "SENTENCE2", "ANSWER"},
     LABEL_BOOL, 0, 2},
    {"hellaswag", "HellaSwag", NULL, 6, {"context", "ending_1", "ending_2", "ending_3", "ending_4", "label"},
     {"context", "choice1", "choice2", "choice3", "choice4", "label"}, LABEL_INT, 0, 4},
    {"sentineg", "SentiNeg", "test_originated", 2, {"sentence", "label"}, {"Text_origin", "Label_origin"}, LABEL_INT, 0, 2},
    {"sentineg", "SentiNeg", NULL, 2, {"sentence", "label"}, {"Text", "Label"}, LABEL_INT, 0, 2},
};
#define N_SCHEMAS ((int)(sizeof SCHEMAS / sizeof SCHEMAS[0]))

static const char *const NAMES[] = {"boolq", "copa", "wic", "hellaswag", "sentineg"};
static const char *const SPLITS[] = {"train", "validation", "test", "test_originated"};
static const char *const SPLIT_FILES[] = {"train.tsv", "dev.tsv", "test.tsv", "test.tsv"};

/* Strings pandas reads as missing (read_csv's default na_values). */
static const char *const PANDAS_NA[] = {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan",
                                        "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None",
                                        "n/a", "nan", "null"};

static int find_schema(const char *name, const char *split, const schema **out, const char **tsv_file, ko_err *e) {
    int known = 0;
    for (int i = 0; i < 5; i++) known |= strcmp(name, NAMES[i]) == 0;
    if (!known) {
        const char *near = ko_nearest(name, NAMES, 5);
        return ko_fail(e, "unknown dataset '%s'%s%s%s", name, near ? " (did you mean '" : "", near ? near : "",
                       near ? "'?)" : "");
    }
    *out = NULL;
    for (int i = 0; i < N_SCHEMAS && !*out; i++)
        if (strcmp(SCHEMAS[i].name, name) == 0 && (!SCHEMAS[i].split || strcmp(SCHEMAS[i].split, split) == 0))
            *out = &SCHEMAS[i];
    int s = 0;
    while (s < 4 && strcmp(split, SPLITS[s]) != 0) s++;
    bool special = s == 3; /* test_originated exists only where a schema names it */
    if (s == 4 || (special && !(*out)->split)) {
        const char *near = ko_nearest(split, SPLITS, 3);
        return ko_fail(e, "%s: unknown split '%s' (splits: train, validation, test%s)%s%s%s", name, split,
                       strcmp(name, "sentineg") == 0 ? ", test_originated" : "", near ? " (did you mean '" : "",
                       near ? near : "", near ? "'?)" : "");
    }
    *tsv_file = SPLIT_FILES[s];
    return 0;
}

/* 1-based line of byte offset off. */
static int line_of(const char *s, size_t off) {
    int line = 1;
    for (size_t i = 0; i < off; i++) line += s[i] == '\n';
    return line;
}

/* Invalid UTF-8 or a NUL byte anywhere in the file: pandas (utf-8) and HF would refuse it too. */
static int check_text(const char *path, const ko_buf *b, ko_err *e) {
    if (b->n == 0) return 0;
    long bad = ko_utf8_invalid_at(b->p, b->n);
    if (bad >= 0)
        return ko_fail(e, "%s: line %d: invalid UTF-8 at byte offset %ld", path, line_of(b->p, (size_t)bad), bad);
    const char *nul = memchr(b->p, 0, b->n);
    if (nul) return ko_fail(e, "%s: line %d: NUL byte at byte offset %ld", path, line_of(b->p, (size_t)(nul - b->p)),
                            (long)(nul - b->p));
    return 0;
}

static bool parse_int(const char *s, long *out) {
    if (!*s) return false;
    const char *p = s + (*s == '-');
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9') return false;
    if (strlen(p) == 0 || strlen(p) > 9) return false;
    *out = strtol(s, NULL, 10);
    return true;
}

/* TSV label text -> class id, or -1 when outside the task's range. */
static int tsv_label(const schema *sc, const char *v) {
    if (sc->kind == LABEL_BOOL) {
        if (!strcmp(v, "False") || !strcmp(v, "FALSE") || !strcmp(v, "false")) return 0;
        if (!strcmp(v, "True") || !strcmp(v, "TRUE") || !strcmp(v, "true")) return 1;
        return -1;
    }
    long x;
    if (!parse_int(v, &x)) return -1;
    x -= sc->label_base;
    return x >= 0 && x < sc->n_labels ? (int)x : -1;
}

/* Appends v as a JSON string, cut to about 40 bytes at a character boundary: a bad label may hold
 * anything, and an error message stays one line of valid UTF-8. */
static void put_short(ko_buf *out, const char *v) {
    size_t n = strlen(v);
    if (n > 40) {
        n = 40;
        while (n > 0 && ((unsigned char)v[n] & 0xc0) == 0x80) n--;
    }
    ko_buf_json_str(out, v, n);
    if (n < strlen(v)) ko_buf_puts(out, "...");
}

static const char *label_range(const schema *sc, char *buf, size_t n) {
    if (sc->kind == LABEL_BOOL) return "False or True";
    snprintf(buf, n, "%d..%d", sc->label_base, sc->label_base + sc->n_labels - 1);
    return buf;
}

static void doc_init(ko_docrow *d, const schema *sc) {
    d->n = sc->n_fields;
    d->names = ko_xcalloc((size_t)d->n, sizeof *d->names);
    d->values = ko_xcalloc((size_t)d->n, sizeof *d->values);
    for (int k = 0; k < d->n; k++) d->names[k] = ko_xstrdup(sc->hf[k]);
    d->label = -1;
}

static void doc_free(ko_docrow *d) {
    for (int k = 0; k < d->n; k++) {
        free(d->names[k]);
        free(d->values[k]);
    }
    free(d->names);
    free(d->values);
}

static void set_label(ko_docrow *d, int label) {
    d->label = label;
    d->values[d->n - 1] = ko_xasprintf("%d", label);
}

/* Fills doc d from TSV row r; col[k] is the header index of the schema's field k. */
static int tsv_doc(const schema *sc, const ko_tsv_row *r, const ko_tsv_row *header, const int *col, int row_no,
                   ko_docrow *d, ko_err *e) {
    if (r->n != header->n)
        return ko_fail(e, "row %d (line %d): %d fields, expected %d (the header's columns)", row_no, r->line, r->n,
                       header->n);
    for (int k = 0; k < sc->n_fields; k++) {
        const char *v = r->f[col[k]];
        for (size_t m = 0; m < sizeof PANDAS_NA / sizeof *PANDAS_NA; m++)
            if (strcmp(v, PANDAS_NA[m]) == 0)
                return *v ? ko_fail(e, "row %d (line %d): column '%s' holds \"%s\", which pandas reads as a missing value",
                                    row_no, r->line, sc->tsv[k], v)
                          : ko_fail(e, "row %d (line %d): column '%s' is empty", row_no, r->line, sc->tsv[k]);
    }
    for (int k = 0; k < sc->n_fields - 1; k++) d->values[k] = ko_xstrdup(r->f[col[k]]);
    const char *lv = r->f[col[sc->n_fields - 1]];
    int label = tsv_label(sc, lv);
    if (label < 0) {
        char buf[32];
        ko_buf q = {0};
        put_short(&q, lv);
        ko_fail(e, "row %d (line %d): label %s in column '%s' is outside the task's range (%s)", row_no, r->line, q.p,
                sc->tsv[sc->n_fields - 1], label_range(sc, buf, sizeof buf));
        ko_buf_free(&q);
        return -1;
    }
    set_label(d, label);
    return 0;
}

static int docs_from_tsv(const schema *sc, const ko_tsv *t, ko_dataset *out, ko_err *e) {
    if (t->n_rows == 0) return ko_fail(e, "empty file (no header)");
    const ko_tsv_row *header = &t->rows[0];
    int col[MAX_FIELDS];
    for (int k = 0; k < sc->n_fields; k++) {
        col[k] = -1;
        for (int c = 0; c < header->n && col[k] < 0; c++)
            if (strcmp(header->f[c], sc->tsv[k]) == 0) col[k] = c;
        if (col[k] < 0) return ko_fail(e, "line %d: missing column '%s' in the header", header->line, sc->tsv[k]);
    }
    out->docs = ko_xcalloc((size_t)t->n_rows, sizeof *out->docs);
    for (int i = 1; i < t->n_rows; i++) {
        ko_docrow *d = &out->docs[out->n_docs++];
        doc_init(d, sc);
        if (tsv_doc(sc, &t->rows[i], header, col, i, d, e)) return -1;
    }
    return 0;
}

static int parse_tsv(const schema *sc, const char *path, const char *data, size_t n, ko_dataset *out, ko_err *e) {
    ko_tsv t = {0};
    int rc = ko_tsv_parse(data, n, &t, e);
    if (rc == 0) rc = docs_from_tsv(sc, &t, out, e);
    if (rc) ko_fail_prefix(e, "%s", path);
    ko_tsv_free(&t);
    return rc;
}

/* Fills doc d from one JSON object (HF field names). */
static int json_doc(const schema *sc, const cJSON *obj, ko_docrow *d, ko_err *e) {
    if (!cJSON_IsObject(obj)) return ko_fail(e, "not a JSON object");
    for (int k = 0; k < sc->n_fields - 1; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, sc->hf[k]);
        if (!cJSON_IsString(v)) return ko_fail(e, "field '%s' is missing or not a string", sc->hf[k]);
        if (ko_utf8_invalid_at(v->valuestring, strlen(v->valuestring)) >= 0)
            return ko_fail(e, "field '%s': invalid UTF-8", sc->hf[k]);
        d->values[k] = ko_xstrdup(v->valuestring);
    }
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(obj, "label");
    if (!cJSON_IsNumber(l)) return ko_fail(e, "field 'label' is missing or not a number");
    double x = l->valuedouble;
    if (!(x >= 0 && x < sc->n_labels && x == (int)x))
        return ko_fail(e, "label %g is outside the task's range (0..%d)", x, sc->n_labels - 1);
    set_label(d, (int)x);
    return 0;
}

/* Whether s[0..n) holds only spaces, tabs and CRs. */
static bool blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return false;
    return true;
}

static int parse_jsonl(const schema *sc, const char *path, const char *data, size_t n, ko_dataset *out, ko_err *e) {
    int rc = 0, cap = 0, line = 0;
    for (size_t pos = 0; rc == 0 && pos < n;) {
        const char *s = data + pos, *nl = memchr(s, '\n', n - pos);
        size_t len = nl ? (size_t)(nl - s) : n - pos;
        pos += len + 1;
        line++;
        if (blank(s, len)) continue;
        if (out->n_docs == cap) {
            cap = cap ? 2 * cap : 256;
            out->docs = ko_xrealloc(out->docs, (size_t)cap * sizeof *out->docs);
        }
        ko_docrow *d = &out->docs[out->n_docs++];
        doc_init(d, sc);
        const char *end = NULL;
        cJSON *obj = cJSON_ParseWithLengthOpts(s, len, &end, 0);
        if (obj && !blank(end, len - (size_t)(end - s))) {
            cJSON_Delete(obj);
            obj = NULL;
        }
        if (!obj) rc = ko_fail(e, "%s: row %d (line %d): invalid JSON", path, out->n_docs, line);
        else if ((rc = json_doc(sc, obj, d, e)) != 0) ko_fail_prefix(e, "%s: row %d (line %d)", path, out->n_docs, line);
        cJSON_Delete(obj);
    }
    return rc;
}

int ko_dataset_parse(const char *name, const char *split, ko_data_format fmt, const char *path, const char *data,
                     size_t n, ko_dataset *out, ko_err *e) {
    memset(out, 0, sizeof *out);
    const schema *sc = NULL;
    const char *tsv_file = NULL;
    if (find_schema(name, split, &sc, &tsv_file, e)) return -1;
    ko_buf text = {.p = (char *)data, .n = n};
    int rc = check_text(path, &text, e);
    if (rc == 0 && fmt == KO_DATA_TSV) rc = parse_tsv(sc, path, data, n, out, e);
    else if (rc == 0) rc = parse_jsonl(sc, path, data, n, out, e);
    if (rc == 0 && out->n_docs == 0) rc = ko_fail(e, "%s: no rows", path);
    out->name = ko_xstrdup(name);
    out->split = ko_xstrdup(split);
    out->path = ko_xstrdup(path);
    if (rc) ko_dataset_free(out);
    return rc;
}

int ko_dataset_load(const char *dir, const char *name, const char *split, ko_dataset *out, ko_err *e) {
    memset(out, 0, sizeof *out);
    const schema *sc = NULL;
    const char *tsv_file = NULL;
    if (find_schema(name, split, &sc, &tsv_file, e)) return -1;
    char *paths[3] = {ko_xasprintf("%s/%s/%s", dir, sc->tsv_dir, tsv_file), ko_xasprintf("%s/%s/%s.jsonl", dir, name, split),
                      ko_xasprintf("%s/%s/%s.json", dir, name, split)};
    int which = 0;
    while (which < 3 && !ko_file_exists(paths[which])) which++;
    int rc;
    if (which == 3) {
        rc = ko_fail(e, "%s: missing file (nor is there %s or %s)", paths[0], paths[1], paths[2]);
    } else {
        ko_buf b = {0};
        rc = ko_read_file(paths[which], &b, e);
        if (rc == 0)
            rc = ko_dataset_parse(name, split, which == 0 ? KO_DATA_TSV : KO_DATA_JSONL, paths[which], b.p, b.n, out, e);
        ko_buf_free(&b);
    }
    for (int i = 0; i < 3; i++) free(paths[i]);
    return rc;
}

void ko_dataset_free(ko_dataset *ds) {
    for (int i = 0; i < ds->n_docs; i++) doc_free(&ds->docs[i]);
    free(ds->docs);
    free(ds->name);
    free(ds->split);
    free(ds->path);
    memset(ds, 0, sizeof *ds);
}

const char *ko_docrow_get(const ko_docrow *d, const char *field) {
    for (int k = 0; k < d->n; k++)
        if (strcmp(d->names[k], field) == 0) return d->values[k];
    return NULL;
}

void ko_docrow_to_json(const ko_docrow *d, ko_buf *out) {
    ko_buf_putc(out, '{');
    for (int k = 0; k < d->n; k++) {
        if (k) ko_buf_puts(out, ", ");
        ko_buf_json_str(out, d->names[k], strlen(d->names[k]));
        ko_buf_puts(out, ": ");
        if (strcmp(d->names[k], "label") == 0) ko_buf_printf(out, "%d", d->label);
        else ko_buf_json_str(out, d->values[k], strlen(d->values[k]));
    }
    ko_buf_putc(out, '}');
}
