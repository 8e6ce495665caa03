/* test_datasets.c — every KoBEST split loads exactly as the HF builder (pandas) built it.
 *
 * tests/datasets/goldens.tsv (scripts/make_dataset_goldens.py) holds, per split, the number of docs and
 * the sha256 of their canonical JSONL as pandas reads the shared TSVs; here koeval loads the same
 * files, serialises the docs with ko_docrow_to_json and must give the same digests. Then the docs are
 * written out in the HF JSONL layout and must load back identically. */
#include <stdlib.h>

#include "datasets/datasets.h"
#include "tests/datasets/fixtures.h"
#include "tests/test.h"

/* Issue 2's required counts (independent of the goldens). */
static const struct { const char *name, *split; int n; } REQUIRED[] = {
    {"boolq", "test", 1404},     {"copa", "test", 1000},      {"wic", "test", 1260},  {"hellaswag", "test", 500},
    {"sentineg", "test", 397},   {"boolq", "train", 3665},    {"copa", "train", 3076}, {"wic", "train", 3318},
    {"hellaswag", "train", 2029}, {"sentineg", "train", 3649},
};

static void canonical(const ko_dataset *ds, ko_buf *out) {
    for (int i = 0; i < ds->n_docs; i++) {
        ko_docrow_to_json(&ds->docs[i], out);
        ko_buf_putc(out, '\n');
    }
}

static int required_count(const char *name, const char *split) {
    for (size_t i = 0; i < sizeof REQUIRED / sizeof *REQUIRED; i++)
        if (!strcmp(REQUIRED[i].name, name) && !strcmp(REQUIRED[i].split, split)) return REQUIRED[i].n;
    return -1;
}

/* Loads name/split from the TSVs, checks count and digest, then round-trips it through JSONL. */
static void check_split(const char *data_dir, const char *jsonl_dir, const char *name, const char *split, int n_want,
                        const char *sha_want) {
    ko_dataset ds;
    ko_err e = {{0}};
    int rc = ko_dataset_load(data_dir, name, split, &ds, &e);
    CHECK(rc == 0, "%s %s: %s", name, split, e.msg);
    if (rc) return;
    ko_buf canon = {0};
    canonical(&ds, &canon);
    char hex[65];
    ko_sha256_hex(canon.p, canon.n, hex);
    CHECK(ds.n_docs == n_want, "%s %s: %d docs, golden %d", name, split, ds.n_docs, n_want);
    CHECK(strcmp(hex, sha_want) == 0, "%s %s: sha256 %s, golden %s", name, split, hex, sha_want);
    int req = required_count(name, split);
    if (req >= 0) CHECK(ds.n_docs == req, "%s %s: %d docs, issue 2 requires %d", name, split, ds.n_docs, req);

    /* HF JSONL layout: <dir>/<name>/<split>.jsonl (hellaswag as .json, the other accepted name) */
    char *rel = ko_xasprintf("%s/%s.%s", name, split, strcmp(name, "hellaswag") ? "jsonl" : "json");
    fx_write(jsonl_dir, rel, canon.p, canon.n);
    ko_dataset js;
    rc = ko_dataset_load(jsonl_dir, name, split, &js, &e);
    CHECK(rc == 0, "%s: %s", rel, e.msg);
    if (rc == 0) {
        ko_buf again = {0};
        canonical(&js, &again);
        CHECK(again.n == canon.n && memcmp(again.p, canon.p, canon.n) == 0, "%s loads differently from the TSV", rel);
        CHECK(strstr(js.path, rel) != NULL, "path %s", js.path);
        ko_buf_free(&again);
        ko_dataset_free(&js);
    }
    free(rel);
    ko_buf_free(&canon);
    ko_dataset_free(&ds);
}

static void test_goldens(void) {
    char *data_dir = ko_xasprintf("%s/datasets/kobest_v1", ko_t_shared());
    char *jsonl_dir = fx_tmpdir("jsonl");
    FILE *f = fopen("tests/datasets/goldens.tsv", "r");
    CHECK(f != NULL, "tests/datasets/goldens.tsv not found (run from the repo root)");
    char line[512], name[64], split[64], sha[80];
    int n, splits = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        if (sscanf(line, "%63s %63s %d %79s", name, split, &n, sha) != 4) continue;
        check_split(data_dir, jsonl_dir, name, split, n, sha);
        splits++;
    }
    if (f) fclose(f);
    CHECK_EQ_INT(splits, 16);
    fx_rmdir(jsonl_dir);
    free(data_dir);
}

/* The messy spots, checked by value. */
static void test_known_values(void) {
    char *dir = ko_xasprintf("%s/datasets/kobest_v1", ko_t_shared());
    ko_dataset ds;
    ko_err e;
    /* BoolQ train row 28: a field that starts with a quote but goes on after it */
    if (ko_dataset_load(dir, "boolq", "train", &ds, &e) == 0) {
        CHECK_EQ_STR(ko_docrow_get(&ds.docs[27], "question"), "뷰티 인사이드는 외적인 요소를 중시하는 이야기인가?");
        ko_dataset_free(&ds);
    } else CHECK(0, "%s", e.msg);
    /* HellaSwag test row 189: a quoted field with doubled quotes */
    if (ko_dataset_load(dir, "hellaswag", "test", &ds, &e) == 0) {
        bool seen = false;
        for (int i = 0; i < ds.n_docs; i++)
            for (int k = 0; k < ds.docs[i].n; k++)
                seen |= strcmp(ds.docs[i].values[k], "전자레인지를 \"강\" 단계로 설정해서 5분 동안 용액을 가열한다.") == 0;
        CHECK(seen, "doubled quotes in HellaSwag test not read as one quote");
        ko_dataset_free(&ds);
    } else CHECK(0, "%s", e.msg);
    /* SentiNeg dev (ID, Label, Text order) and test_originated columns */
    if (ko_dataset_load(dir, "sentineg", "validation", &ds, &e) == 0) {
        CHECK_EQ_STR(ko_docrow_get(&ds.docs[0], "sentence"), "만족입니다");
        CHECK_EQ_STR(ko_docrow_get(&ds.docs[0], "label"), "1");
        CHECK_EQ_INT(ds.docs[0].label, 1);
        CHECK(ko_docrow_get(&ds.docs[0], "Text") == NULL, "TSV column names are not HF fields");
        ko_dataset_free(&ds);
    } else CHECK(0, "%s", e.msg);
    /* WiC (CRLF): no CR left at the end of any value */
    if (ko_dataset_load(dir, "wic", "test", &ds, &e) == 0) {
        int cr = 0;
        for (int i = 0; i < ds.n_docs; i++)
            for (int k = 0; k < ds.docs[i].n; k++) cr += strchr(ds.docs[i].values[k], '\r') != NULL;
        CHECK_EQ_INT(cr, 0);
        ko_dataset_free(&ds);
    } else CHECK(0, "%s", e.msg);
    free(dir);
}

/* pandas.read_csv(sep="\t") semantics on small files (expected values from pandas 3.0). */
static void test_tsv_semantics(void) {
    char *dir = fx_tmpdir("tsv");
    fx_write_str(dir, "SentiNeg/train.tsv",
                 "\xEF\xBB\xBFID\tText\tLabel\r\n"            /* BOM, CRLF */
                 "1\t\"a \"\"b\"\" c\"\t0\r\n"                /* doubled quotes */
                 "\r\n   \n"                                  /* blank and spaces-only lines are skipped */
                 "2\t\"x y\"z\t1\n"                            /* quoted start, text after the closing quote */
                 "3\tp\"q\t0\n"                                /* a quote inside an unquoted field */
                 "4\t\"tab\there\nnewline\"\t1\n"              /* tab and newline inside quotes */
                 "5\t  spaced  \t1");                          /* no final newline, spaces kept */
    ko_dataset ds;
    ko_err e;
    int rc = ko_dataset_load(dir, "sentineg", "train", &ds, &e);
    CHECK(rc == 0, "%s", e.msg);
    if (rc == 0) {
        const char *want[] = {"a \"b\" c", "x yz", "p\"q", "tab\there\nnewline", "  spaced  "};
        const int labels[] = {0, 1, 0, 1, 1};
        CHECK_EQ_INT(ds.n_docs, 5);
        for (int i = 0; i < 5 && i < ds.n_docs; i++) {
            CHECK_EQ_STR(ko_docrow_get(&ds.docs[i], "sentence"), want[i]);
            CHECK_EQ_INT(ds.docs[i].label, labels[i]);
        }
        ko_dataset_free(&ds);
    }
    /* columns by name, any order; extra columns ignored; COPA labels 1/2 -> 0/1 */
    fx_write_str(dir, "COPA/dev.tsv", "Answer\textra\t2\t1\tquestion\tsentence\tID\n2\tx\tB\tA\t원인\tP\t7\n");
    rc = ko_dataset_load(dir, "copa", "validation", &ds, &e);
    CHECK(rc == 0, "%s", e.msg);
    if (rc == 0) {
        ko_buf j = {0};
        ko_docrow_to_json(&ds.docs[0], &j);
        CHECK_EQ_STR(j.p, "{\"premise\": \"P\", \"question\": \"원인\", \"alternative_1\": \"A\", \"alternative_2\": \"B\", \"label\": 1}");
        ko_buf_free(&j);
        ko_dataset_free(&ds);
    }
    fx_rmdir(dir);
}

int main(void) {
    test_goldens();
    test_known_values();
    test_tsv_semantics();
    TEST_END();
}
