/* Tests for common/ko.c and evaluator/options.c. */
#include <stdlib.h>

#include "common/ko.h"
#include "evaluator/options.h"
#include "tests/test.h"

static void test_utf8(void) {
    CHECK_EQ_INT(ko_utf8_invalid_at("abc", 3), -1);
    CHECK_EQ_INT(ko_utf8_invalid_at("한국어", strlen("한국어")), -1);
    CHECK_EQ_INT(ko_utf8_invalid_at("a\xc0\x80", 3), 1);        /* overlong NUL */
    CHECK_EQ_INT(ko_utf8_invalid_at("ab\xed\xa0\x80", 5), 2);   /* surrogate */
    CHECK_EQ_INT(ko_utf8_invalid_at("\xf4\x90\x80\x80", 4), 0); /* > U+10FFFF */
    CHECK_EQ_INT(ko_utf8_invalid_at("\xe2\x82", 2), 0);         /* truncated */
    CHECK_EQ_INT(ko_utf8_invalid_at("\xf0\x9f\x98\x80", 4), -1);
}

static void test_buf(void) {
    ko_buf b = {0};
    ko_buf_json_str(&b, "a\"b\\\n\x01한", strlen("a\"b\\\n\x01한"));
    CHECK_EQ_STR(b.p, "\"a\\\"b\\\\\\n\\u0001한\"");
    ko_buf_free(&b);
    ko_buf_printf(&b, "%d-%s", 42, "x");
    CHECK_EQ_STR(b.p, "42-x");
    ko_buf_free(&b);
    /* json.dumps('\x7f\x1f', ensure_ascii=False) == '"\x7f\\u001f"' */
    ko_buf_json_str(&b, "\x7f\x1f", 2);
    CHECK_EQ_STR(b.p, "\"\x7f\\u001f\"");
    ko_buf_free(&b);
}

static void test_nearest(void) {
    const char *c[] = {"kobest_boolq", "kobest_copa", "kobest_wic"};
    CHECK(ko_nearest("kobest_bolq", c, 3) && strcmp(ko_nearest("kobest_bolq", c, 3), "kobest_boolq") == 0, "nearest");
    CHECK(ko_nearest("zzzzzzzzzzzzzzzzzzzz", c, 3) == NULL, "far");
    CHECK_EQ_INT(ko_edit_distance("kitten", "sitting"), 3);
}

static void test_files(void) {
    ko_err e;
    ko_buf b = {0};
    CHECK(ko_read_file("/nonexistent/x", &b, &e) == -1, "missing file fails");
    CHECK(strstr(e.msg, "/nonexistent/x") != NULL, "error names the file: %s", e.msg);
    char dir[] = "/tmp/ko_test_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char *sub = ko_xasprintf("%s/a/b", dir), *f = ko_xasprintf("%s/a/b/f.txt", dir);
    CHECK(ko_mkdirs(sub, &e) == 0, "%s", e.msg);
    CHECK(ko_write_file_atomic(f, "hello", 5, &e) == 0, "%s", e.msg);
    CHECK(ko_read_file(f, &b, &e) == 0 && b.n == 5 && strcmp(b.p, "hello") == 0, "roundtrip");
    char *cmd = ko_xasprintf("rm -rf %s", dir);
    CHECK(system(cmd) == 0, "cleanup");
    free(cmd), free(sub), free(f), ko_buf_free(&b);
}

static int parse(ko_options *o, ko_err *e, int argc, char **argv) {
    bool help;
    return ko_options_parse(argc, argv, o, &help, e);
}

static void test_options(void) {
    ko_options o;
    ko_err e;
    char *a1[] = {"koeval", "--model", "m", "--tasks=kobest_all", "--num-fewshot", "5", "--batch_size", "auto", "--log_samples"};
    CHECK(parse(&o, &e, 9, a1) == 0, "%s", e.msg);
    CHECK_EQ_STR(o.command, "run");
    CHECK_EQ_STR(o.model, "m");
    CHECK_EQ_STR(o.tasks, "kobest_all");
    CHECK_EQ_INT(o.num_fewshot, 5);
    CHECK_EQ_INT(o.batch_size, 0);
    CHECK(o.log_samples, "log_samples");
    CHECK_EQ_INT(o.fewshot_seed, 1234);
    char *a2[] = {"koeval", "--num_fewshto", "5"};
    CHECK(parse(&o, &e, 3, a2) == -1 && strstr(e.msg, "--num_fewshot"), "nearest flag: %s", e.msg);
    char *a3[] = {"koeval", "requets"};
    CHECK(parse(&o, &e, 2, a3) == -1 && strstr(e.msg, "requests"), "nearest command: %s", e.msg);
    char *a4[] = {"koeval", "--limit", "-3"};
    CHECK(parse(&o, &e, 3, a4) == -1, "negative limit");
    char *a5[] = {"koeval", "--limit"};
    CHECK(parse(&o, &e, 2, a5) == -1 && strstr(e.msg, "needs a value"), "%s", e.msg);
    char *a6[] = {"koeval", "--dtype", "int3"};
    CHECK(parse(&o, &e, 3, a6) == -1, "bad dtype");
    char *a7[] = {"koeval", "requests", "--tasks", "kobest_copa", "--gpu-memory-utilization", "0.5"};
    CHECK(parse(&o, &e, 6, a7) == 0 && strcmp(o.command, "requests") == 0 && o.gpu_memory_utilization == 0.5, "%s", e.msg);
    char *a8[] = {"koeval", "--batch_size", "0"};
    CHECK(parse(&o, &e, 3, a8) == -1, "batch 0");
}

int main(void) {
    test_utf8();
    test_buf();
    test_nearest();
    test_files();
    test_options();
    TEST_END();
}
