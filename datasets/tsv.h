/* tsv.h — a tab-separated reader with pandas.read_csv(sep="\t") semantics (internal to datasets/).
 *
 * Why not libcsv: the Hugging Face builder of skt/kobest_v1 read the KoBEST TSVs with pandas, and
 * pandas and libcsv disagree on a field that starts with a quote but goes on after the closing quote
 * (BoolQ train has `"뷰티 인사이드"는 ...`): pandas drops the quotes and leaves the field unquoted
 * (`뷰티 인사이드는 ...`), libcsv keeps a quote and stays inside the quoted field, swallowing the
 * following tabs and lines. So this reader follows pandas' tokenizer:
 *  - a field that starts with '"' is quoted: tabs, CR and LF inside are literal, "" is one quote,
 *    and after the closing quote any other characters are appended unquoted;
 *  - a '"' that does not start a field is an ordinary character;
 *  - records end at LF, CR LF or a lone CR; the last record may lack a line end;
 *  - empty lines and lines of spaces only are skipped; a leading UTF-8 BOM is dropped;
 *  - a file that ends inside a quoted field is an error.
 * No trimming of spaces, no type conversion: every field is the exact text.
 */
#ifndef KO_TSV_H
#define KO_TSV_H

#include "common/ko.h"

typedef struct ko_tsv_row {
    int line;      /* 1-based line of the file where the record starts */
    int n;         /* number of fields */
    char **f;      /* fields, NUL-terminated */
    size_t *len;   /* their lengths (a field may hold a NUL byte) */
} ko_tsv_row;

typedef struct ko_tsv {
    int n_rows;    /* rows[0] is the header */
    ko_tsv_row *rows;
} ko_tsv;

/* Splits data[0..n) into records. On failure (end of file inside a quoted field) the message says
 * where the quoted field started: "line <l>: end of file inside a quoted field". */
int ko_tsv_parse(const char *data, size_t n, ko_tsv *out, ko_err *e);
void ko_tsv_free(ko_tsv *t);

#endif
