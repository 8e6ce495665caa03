/* test_model_resolve.c — ko_model_resolve: paths, $KOEVAL_MODELS, the Hugging Face cache layout
 * ($HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub), and errors that say where it looked. */
#include "engine/model/model.h"
#include "tests/datasets/fixtures.h"
#include "tests/test.h"

static char *TMP;

static char *resolved(const char *name) {
    char *p = NULL;
    ko_err e = {{0}};
    if (ko_model_resolve(name, &p, &e) != 0) printf("# resolve %s: %s\n", name, e.msg);
    return p;
}

#define RESOLVES_TO(name, rel) resolves_to(name, rel, __LINE__)
static void resolves_to(const char *name, const char *rel, int line) {
    char *want = ko_xasprintf("%s/%s", TMP, rel);
    char *got = resolved(name);
    CHECK(got && strcmp(got, want) == 0, "line %d: %s -> %s, want %s", line, name, got ? got : "(error)", want);
    free(got);
    free(want);
}

#define FAILS(name, why) fails(name, why, __LINE__)
static void fails(const char *name, const char *why, int line) {
    char *p = (char *)1;
    ko_err e = {{0}};
    int rc = ko_model_resolve(name, &p, &e);
    CHECK(rc == -1 && p == NULL, "line %d: %s resolved", line, name);
    CHECK(strstr(e.msg, why) != NULL, "line %d: error for %s lacks \"%s\": %s", line, name, why, e.msg);
    CHECK(strchr(e.msg, '\n') == NULL, "line %d: multi-line: %s", line, e.msg);
}

static void hf_model(const char *rel) {
    char *d = ko_xasprintf("%s/%s", TMP, rel);
    fx_write_str(d, "config.json", "{}");
    free(d);
}

int main(void) {
    TMP = fx_tmpdir("resolve");
    unsetenv("KOEVAL_MODELS");
    unsetenv("HF_HUB_CACHE");
    char *home = ko_xasprintf("%s/home", TMP), *hfhome = ko_xasprintf("%s/hfhome", TMP),
         *hub = ko_xasprintf("%s/hub", TMP), *models = ko_xasprintf("%s/models", TMP);
    setenv("HOME", home, 1);
    setenv("HF_HOME", hfhome, 1);

    /* a path to a folder or a .gguf is taken as it is */
    hf_model("plain");
    char *plain = ko_xasprintf("%s/plain", TMP);
    char *got = resolved(plain);
    CHECK(got && strcmp(got, plain) == 0, "folder path");
    free(got);
    fx_write_str(TMP, "x.gguf", "GGUF");
    char *gg = ko_xasprintf("%s/x.gguf", TMP);
    got = resolved(gg);
    CHECK(got && strcmp(got, gg) == 0, "gguf path");
    free(got);
    free(gg);
    fx_write_str(TMP, "weights.bin", "x");
    gg = ko_xasprintf("%s/weights.bin", TMP);
    FAILS(gg, "a file, but not a .gguf");
    free(gg);
    FAILS("/nonexistent/model", "/nonexistent/model: no such file or folder");
    /* a folder path: a folder without config.json holding one .gguf stands for that file */
    fx_write_str(TMP, "one/m.gguf", "GGUF");
    char *one = ko_xasprintf("%s/one", TMP);
    got = resolved(one);
    CHECK(got && strcmp(got, gg = ko_xasprintf("%s/one/m.gguf", TMP)) == 0, "folder's only gguf: %s", got);
    free(got);
    free(gg);
    fx_write_str(TMP, "one/n.gguf", "GGUF");
    FAILS(one, "holds several GGUF files (m.gguf, n.gguf)");
    free(one);
    char *bare = ko_xasprintf("%s/bare", TMP);
    ko_err e0;
    ko_mkdirs(bare, &e0);
    got = resolved(bare);
    CHECK(got && strcmp(got, bare) == 0, "a folder of neither kind is returned for ko_model_load to explain");
    free(got);
    free(bare);

    /* nothing anywhere: the error lists the places */
    FAILS("gemma-3-12b-it", "model 'gemma-3-12b-it' not found (no network lookups); looked in: ./gemma-3-12b-it, "
                            "$KOEVAL_MODELS (unset), ");
    char *where = ko_xasprintf("%s/hub/models--*--gemma-3-12b-it, %s/.cache/huggingface/hub/models--*--gemma-3-12b-it",
                               hfhome, home);
    FAILS("gemma-3-12b-it", where);
    free(where);

    /* ~/.cache/huggingface/hub, refs/main chooses among snapshots */
    hf_model("home/.cache/huggingface/hub/models--google--gemma-3-12b-it/snapshots/aaa");
    hf_model("home/.cache/huggingface/hub/models--google--gemma-3-12b-it/snapshots/bbb");
    fx_write_str(TMP, "home/.cache/huggingface/hub/models--google--gemma-3-12b-it/refs/main", "aaa");
    RESOLVES_TO("gemma-3-12b-it", "home/.cache/huggingface/hub/models--google--gemma-3-12b-it/snapshots/aaa");
    RESOLVES_TO("google/gemma-3-12b-it", "home/.cache/huggingface/hub/models--google--gemma-3-12b-it/snapshots/aaa");
    FAILS("meta/gemma-3-12b-it", "models--meta--gemma-3-12b-it/snapshots/*");

    /* $HF_HOME/hub comes before ~/.cache; a snapshot without refs/main: the only one with a model */
    hf_model("hfhome/hub/models--google--gemma-3-12b-it/snapshots/ccc");
    char *empty = ko_xasprintf("%s/hfhome/hub/models--google--gemma-3-12b-it/snapshots/ddd", TMP);
    ko_err e;
    ko_mkdirs(empty, &e);
    free(empty);
    RESOLVES_TO("gemma-3-12b-it", "hfhome/hub/models--google--gemma-3-12b-it/snapshots/ccc");

    /* $HF_HUB_CACHE before both; a GGUF repository: its one .gguf file */
    setenv("HF_HUB_CACHE", hub, 1);
    fx_write_str(TMP, "hub/models--unsloth--gemma-3-12b-it-GGUF/snapshots/e1/gemma-3-12b-it-Q4_K_M.gguf", "GGUF");
    RESOLVES_TO("gemma-3-12b-it-GGUF",
                "hub/models--unsloth--gemma-3-12b-it-GGUF/snapshots/e1/gemma-3-12b-it-Q4_K_M.gguf");
    fx_write_str(TMP, "hub/models--unsloth--gemma-3-12b-it-GGUF/snapshots/e1/gemma-3-12b-it-Q8_0.gguf", "GGUF");
    FAILS("gemma-3-12b-it-GGUF", "holds several GGUF files (gemma-3-12b-it-Q4_K_M.gguf, gemma-3-12b-it-Q8_0.gguf)");
    /* two organisations with the same name */
    hf_model("hub/models--a--twin/snapshots/1");
    hf_model("hub/models--b--twin/snapshots/1");
    FAILS("twin", "model 'twin' is ambiguous");
    RESOLVES_TO("b/twin", "hub/models--b--twin/snapshots/1");
    /* a repository without an organisation */
    hf_model("hub/models--gpt2/snapshots/9");
    RESOLVES_TO("gpt2", "hub/models--gpt2/snapshots/9");

    /* $KOEVAL_MODELS before the cache: NAME, ORG/NAME's NAME, NAME.gguf */
    setenv("KOEVAL_MODELS", models, 1);
    hf_model("models/gemma-3-12b-it");
    RESOLVES_TO("gemma-3-12b-it", "models/gemma-3-12b-it");
    RESOLVES_TO("google/gemma-3-12b-it", "models/gemma-3-12b-it");
    fx_write_str(TMP, "models/tiny.gguf", "GGUF");
    RESOLVES_TO("tiny", "models/tiny.gguf");
    char *two = ko_xasprintf("/nonexistent:%s", models);
    setenv("KOEVAL_MODELS", two, 1);
    free(two);
    RESOLVES_TO("tiny", "models/tiny.gguf");
    FAILS("nothing-here", "/nonexistent/nothing-here, ");
    FAILS("", "empty model name");

    free(plain);
    free(home);
    free(hfhome);
    free(hub);
    free(models);
    fx_rmdir(TMP);
    TEST_END();
}
