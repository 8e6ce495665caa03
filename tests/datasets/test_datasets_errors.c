/* test_datasets_errors.c — bad input gives one clear error naming the file and row; locating the
 * data follows the documented order and says where it looked. Fixtures are written to /tmp. */
#include <stdlib.h>

#include "datasets/datasets.h"
#include "tests/datasets/fixtures.h"
#include "tests/test.h"

static const char *BOOLQ_HEAD = "ID\tText\tQuestion\tAnswer\n";

/* Writes rel with text into a fresh folder, loads name/split and expects an error holding every
 * one of the NULL-terminated fragments (and the file's path). */
static void expect_error(const char *rel, const char *text, const char *name, const char *split, ...) {
    char *dir = fx_tmpdir("bad");
    if (rel) fx_write_str(dir, rel, text);
    ko_dataset ds;
    ko_err e = {{0}};
    int rc = ko_dataset_load(dir, name, split, &ds, &e);
    CHECK(rc == -1, "%s: loaded %d docs, expected an error", rel ? rel : name, ds.n_docs);
    if (rc == 0) ko_dataset_free(&ds);
    CHECK(strchr(e.msg, '\n') == NULL, "one line: %s", e.msg);
    CHECK(strstr(e.msg, dir) != NULL, "error names the file: %s", e.msg);
    va_list ap;
    va_start(ap, split);
    for (const char *frag; (frag = va_arg(ap, const char *));)
        CHECK(strstr(e.msg, frag) != NULL, "'%s' not in: %s", frag, e.msg);
    va_end(ap);
    printf("# %s\n", e.msg);
    fx_rmdir(dir);
}

static void test_bad_tsv(void) {
    char *t;
    expect_error(NULL, NULL, "boolq", "test", "BoolQ/test.tsv", "missing file", "boolq/test.jsonl", NULL);
    expect_error("BoolQ/test.tsv", "ID\tText\tQuestion\n1\tp\tq\n", "boolq", "test", "BoolQ/test.tsv", "line 1",
                 "missing column 'Answer'", NULL);
    t = ko_xasprintf("%s1\tp\tq\tTrue\n2\tp\xff\tq\tFalse\n", BOOLQ_HEAD);
    expect_error("BoolQ/test.tsv", t, "boolq", "test", "line 3", "invalid UTF-8", NULL);
    free(t);
    t = ko_xasprintf("%s1\tp\tq\tTrue\n2\t\xed\xa0\x80\tq\tFalse\n", BOOLQ_HEAD); /* a UTF-16 surrogate */
    expect_error("BoolQ/test.tsv", t, "boolq", "test", "line 3", "invalid UTF-8", NULL);
    free(t);
    t = ko_xasprintf("%s1\tp\tq\tTrue\n2\tp\tFalse\n", BOOLQ_HEAD);
    expect_error("BoolQ/test.tsv", t, "boolq", "test", "row 2 (line 3)", "3 fields, expected 4", NULL);
    free(t);
    t = ko_xasprintf("%s1\tp\tq\tTrue\textra\n", BOOLQ_HEAD);
    expect_error("BoolQ/test.tsv", t, "boolq", "test", "row 1 (line 2)", "5 fields, expected 4", NULL);
    free(t);
    t = ko_xasprintf("%s1\tp\tq\tMaybe\n", BOOLQ_HEAD);
    expect_error("BoolQ/test.tsv", t, "boolq", "test", "row 1 (line 2)", "label \"Maybe\"", "outside", NULL);
    free(t);
    t = ko_xasprintf("%s1\tp\tq\t\"Tr\nue\"\n", BOOLQ_HEAD); /* a quoted label with a line break */
    expect_error("BoolQ/test.tsv", t, "boolq", "test", "row 1 (line 2)", "label \"Tr\\nue\"", NULL);
    free(t);
    expect_error("COPA/test.tsv", "ID\tsentence\tquestion\t1\t2\tAnswer\n1\ts\t원인\ta\tb\t3\n", "copa", "test",
                 "row 1 (line 2)", "label \"3\"", "1..2", NULL);
    expect_error("HellaSwag/dev.tsv", "context\tchoice1\tchoice2\tchoice3\tchoice4\tlabel\nc\t1\t2\t3\t4\t4\n",
                 "hellaswag", "validation", "HellaSwag/dev.tsv", "row 1 (line 2)", "0..3", NULL);
    expect_error("SentiNeg/test.tsv", "ID\tLabel_origin\tText_origin\tLabel\tText\n1\t-1\tt\t0\tt\n", "sentineg",
                 "test_originated", "row 1 (line 2)", "Label_origin", NULL);
    t = ko_xasprintf("%s1\t\tq\tTrue\n", BOOLQ_HEAD);
    expect_error("BoolQ/test.tsv", t, "boolq", "test", "row 1 (line 2)", "column 'Text' is empty", NULL);
    free(t);
    t = ko_xasprintf("%s1\tp\tNA\tTrue\n", BOOLQ_HEAD);
    expect_error("BoolQ/test.tsv", t, "boolq", "test", "row 1 (line 2)", "column 'Question' holds \"NA\"", "missing value", NULL);
    free(t);
    t = ko_xasprintf("%s1\tp\tq\tTrue\n2\t\"open\tq\tTrue\n", BOOLQ_HEAD);
    expect_error("BoolQ/test.tsv", t, "boolq", "test", "line 3", "end of file inside a quoted field", NULL);
    free(t);
    expect_error("BoolQ/test.tsv", "", "boolq", "test", "no header", NULL);
    expect_error("BoolQ/test.tsv", BOOLQ_HEAD, "boolq", "test", "no rows", NULL);
}

static void test_bad_jsonl(void) {
    expect_error("boolq/test.jsonl", "{\"paragraph\": \"p\", \"question\": \"q\", \"label\": 1}\n{\"paragraph\": \"p\"",
                 "boolq", "test", "boolq/test.jsonl", "row 2 (line 2)", "invalid JSON", NULL);
    expect_error("boolq/test.jsonl", "{\"paragraph\": \"p\", \"question\": \"q\", \"label\": 1} trailing\n", "boolq",
                 "test", "row 1 (line 1)", "invalid JSON", NULL);
    expect_error("copa/test.jsonl", "\n{\"premise\": \"p\", \"question\": \"q\", \"alternative_1\": \"a\", \"label\": 0}\n",
                 "copa", "test", "row 1 (line 2)", "'alternative_2' is missing", NULL);
    expect_error("wic/test.jsonl", "{\"word\": \"w\", \"context_1\": \"a\", \"context_2\": \"b\", \"label\": 2}\n", "wic",
                 "test", "row 1 (line 1)", "label 2", "outside", NULL);
    expect_error("wic/test.json", "{\"word\": \"w\", \"context_1\": \"a\", \"context_2\": \"b\", \"label\": 0.5}\n",
                 "wic", "test", "wic/test.json", "outside", NULL);
    expect_error("sentineg/test.jsonl", "{\"sentence\": \"\xc3\x28\", \"label\": 0}\n", "sentineg", "test", "line 1",
                 "invalid UTF-8", NULL);
    expect_error("sentineg/test.jsonl", "[1, 2]\n", "sentineg", "test", "row 1 (line 1)", "not a JSON object", NULL);
}

static void test_bad_names(void) {
    ko_dataset ds;
    ko_err e;
    CHECK(ko_dataset_load("/nonexistent", "boolqq", "test", &ds, &e) == -1, "unknown dataset");
    CHECK(strstr(e.msg, "unknown dataset 'boolqq'") && strstr(e.msg, "'boolq'"), "%s", e.msg);
    CHECK(ko_dataset_load("/nonexistent", "boolq", "valid", &ds, &e) == -1, "unknown split");
    CHECK(strstr(e.msg, "unknown split 'valid'") && strstr(e.msg, "validation"), "%s", e.msg);
    CHECK(ko_dataset_load("/nonexistent", "boolq", "test_originated", &ds, &e) == -1, "test_originated is sentineg's");
    CHECK(strstr(e.msg, "unknown split 'test_originated'") != NULL, "%s", e.msg);
}

static void test_locate(void) {
    char *home = fx_tmpdir("home"), *data = fx_tmpdir("data"), *hub = fx_tmpdir("hub"), *out = NULL;
    char *snap = ko_xasprintf("%s/datasets--skt--kobest_v1/snapshots/0123abcd", hub);
    fx_write_str(data, "BoolQ/test.tsv", "ID\tText\tQuestion\tAnswer\n1\tp\tq\tTrue\n");
    fx_write_str(hub, "datasets--skt--kobest_v1/snapshots/0123abcd/boolq/test.jsonl",
                 "{\"paragraph\": \"p\", \"question\": \"q\", \"label\": 1}\n");
    ko_err e = {{0}};
    unsetenv("HF_DATASETS_CACHE");
    unsetenv("HF_HUB_CACHE");
    unsetenv("HF_HOME");
    setenv("HOME", home, 1);

    /* explicit beats everything; a wrong explicit folder is an error, not a fallback */
    setenv("KOEVAL_DATA", hub, 1);
    CHECK(ko_dataset_locate(data, &out, &e) == 0 && !strcmp(out, data), "explicit: %s", out ? out : e.msg);
    free(out), out = NULL;
    CHECK(ko_dataset_locate(home, &out, &e) == -1, "explicit folder without data");
    CHECK(strstr(e.msg, home) && strstr(e.msg, "--data_dir") && strstr(e.msg, "git clone"), "%s", e.msg);

    setenv("KOEVAL_DATA", data, 1);
    CHECK(ko_dataset_locate(NULL, &out, &e) == 0 && !strcmp(out, data), "KOEVAL_DATA: %s", out ? out : e.msg);
    free(out), out = NULL;
    unsetenv("KOEVAL_DATA");

    /* the HF hub cache: $HF_HUB_CACHE, then $HF_HOME/hub, then ~/.cache/huggingface/hub */
    setenv("HF_HUB_CACHE", hub, 1);
    CHECK(ko_dataset_locate(NULL, &out, &e) == 0 && !strcmp(out, snap), "HF_HUB_CACHE: %s", out ? out : e.msg);
    free(out), out = NULL;
    unsetenv("HF_HUB_CACHE");
    char *cache = ko_xasprintf("%s/.cache/huggingface", home);
    char *cache_hub = ko_xasprintf("%s/hub", cache);
    CHECK(ko_mkdirs(cache, &e) == 0 && rename(hub, cache_hub) == 0, "moving the hub under HOME");
    char *snap2 = ko_xasprintf("%s/datasets--skt--kobest_v1/snapshots/0123abcd", cache_hub);
    CHECK(ko_dataset_locate(NULL, &out, &e) == 0 && !strcmp(out, snap2), "~/.cache: %s", out ? out : e.msg);
    free(out), out = NULL;
    setenv("HF_HOME", cache, 1);
    CHECK(ko_dataset_locate(NULL, &out, &e) == 0 && !strcmp(out, snap2), "HF_HOME: %s", out ? out : e.msg);
    free(out), out = NULL;
    unsetenv("HF_HOME");

    /* a loadable snapshot: the located folder works with ko_dataset_load */
    ko_dataset ds;
    CHECK(ko_dataset_load(snap2, "boolq", "test", &ds, &e) == 0 && ds.n_docs == 1, "%s", e.msg);
    if (ds.n_docs) ko_dataset_free(&ds);

    /* nothing anywhere (this test binary has no ../shared beside it): say where and how */
    fx_rmdir(ko_xstrdup(cache_hub));
    CHECK(ko_dataset_locate(NULL, &out, &e) == -1, "nothing to find, found %s", out);
    CHECK(strstr(e.msg, "KoBEST data not found") && strstr(e.msg, "datasets--skt--kobest_v1/snapshots") &&
              strstr(e.msg, "shared/datasets/kobest_v1") && strstr(e.msg, "git clone") && !strchr(e.msg, '\n'),
          "%s", e.msg);
    printf("# %s\n", e.msg);

    free(snap), free(snap2), free(cache), free(cache_hub);
    fx_rmdir(home), fx_rmdir(data);
    free(hub); /* moved under home, removed with it */
}

int main(void) {
    test_bad_tsv();
    test_bad_jsonl();
    test_bad_names();
    test_locate();
    TEST_END();
}
