/* test_tokenizer_edge.c — small hand-written tokenizers for the options and corners the real and
 * trained ones do not reach (tests/tokenizer/goldens/edge_cases.jsonl.gz, written by
 * scripts/make_tokenizer_goldens.py from HF `tokenizers` 0.23.3): ids with and without special
 * tokens, decoding of those ids and of extra id lists, all equal to HF's. Where HF itself panics
 * (a Strip decoder that empties a token) koeval must still answer, checked at the end. */
#include <cjson/cJSON.h>

#include "engine/tokenizer/tokenizer.h"
#include "tests/test.h"
#include "tests/tokenizer/tok_ids.h"

/* Decodes the id list `ids` both ways and compares with "decode" / "decode_skip" of o (absent or
 * null where HF panics). */
static void check_decode(const char *name, const ko_tokenizer *t, const cJSON *ids, const cJSON *o, int *ok, int *total) {
    ko_ids v = {0};
    const cJSON *x;
    cJSON_ArrayForEach(x, ids) {
        if (v.n == v.cap) v.ids = ko_xrealloc(v.ids, (size_t)(v.cap = v.cap ? v.cap * 2 : 16) * sizeof *v.ids);
        v.ids[v.n++] = (int32_t)x->valuedouble;
    }
    for (int skip = 0; skip < 2; skip++) {
        const cJSON *want = cJSON_GetObjectItem(o, skip ? "decode_skip" : "decode");
        if (!cJSON_IsString(want)) continue;
        ko_buf out = {0};
        ko_err e;
        int rc = ko_tokenizer_decode(t, v.ids, v.n, skip, &out, &e);
        bool eq = rc == 0 && strcmp(out.p, want->valuestring) == 0;
        *ok += eq;
        (*total)++;
        CHECK(eq, "%s: decode (skip %d) \"%s\" != \"%s\"", name, skip, rc == 0 ? out.p : e.msg, want->valuestring);
        ko_buf_free(&out);
    }
    ko_ids_free(&v);
}

int main(void) {
    ko_buf b = {0};
    ko_err e;
    int rc = ko_read_file("tests/tokenizer/goldens/edge_cases.jsonl.gz", &b, &e);
    CHECK(rc == 0, "%s", e.msg);
    int n_tok = 0, ok = 0, total = 0;
    for (char *p = rc == 0 ? b.p : NULL, *nl; p && *p; p = nl + 1) {
        nl = strchr(p, '\n');
        cJSON *line = cJSON_ParseWithLength(p, (size_t)(nl - p));
        const char *name = cJSON_GetObjectItem(line, "name")->valuestring;
        const char *json = cJSON_GetObjectItem(line, "tokenizer")->valuestring;
        ko_tokenizer *t = NULL;
        CHECK(ko_tokenizer_load_json(json, strlen(json), &t, &e) == 0, "%s: %s", name, e.msg);
        n_tok++;
        const cJSON *c, *cases = t ? cJSON_GetObjectItem(line, "cases") : NULL;
        const cJSON *decodes = t ? cJSON_GetObjectItem(line, "decodes") : NULL;
        ko_ids ids = {0};
        cJSON_ArrayForEach(c, cases) {
            const char *s = cJSON_GetObjectItem(c, "text")->valuestring;
            for (int sp = 0; sp < 2; sp++) {
                bool eq = ko_tokenizer_encode(t, s, strlen(s), sp, &ids, &e) == 0 &&
                          ids_equal(&ids, cJSON_GetObjectItem(c, sp ? "ids_special" : "ids"));
                ok += eq;
                total++;
                CHECK(eq, "%s: \"%s\" (special %d) differs", name, s, sp);
            }
            check_decode(name, t, cJSON_GetObjectItem(c, "ids_special"), c, &ok, &total);
        }
        cJSON_ArrayForEach(c, decodes) check_decode(name, t, cJSON_GetObjectItem(c, "ids"), c, &ok, &total);
        ko_ids_free(&ids);
        ko_tokenizer_free(t);
        cJSON_Delete(line);
    }
    printf("edge cases: %d tokenizers, %d/%d encodings and decodings equal to HF\n", n_tok, ok, total);
    ko_buf_free(&b);

    /* HF panics (index out of bounds) when a Strip decoder strips a whole token; koeval gives the
     * empty string for it. Negative ids are dropped like ids past the vocab. */
    static const char STRIP[] = "{\"decoder\": {\"type\": \"Strip\", \"content\": \" \", \"start\": 1, \"stop\": 3}, "
                                "\"model\": {\"type\": \"BPE\", \"vocab\": {\" \": 0, \"  \": 1, \"a\": 2}, \"merges\": []}}";
    ko_tokenizer *t = NULL;
    CHECK(ko_tokenizer_load_json(STRIP, strlen(STRIP), &t, &e) == 0, "%s", e.msg);
    if (t) {
        static const int32_t ids[] = {0, 1, -5, 2, 1 << 20};
        ko_buf out = {0};
        CHECK(ko_tokenizer_decode(t, ids, 5, false, &out, &e) == 0 && strcmp(out.p, "a") == 0, "\"%s\"", out.p);
        ko_buf_free(&out);
    }
    ko_tokenizer_free(t);
    TEST_END();
}
