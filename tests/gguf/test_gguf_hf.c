/* test_gguf_hf.c — GGUF -> HF translation (gguf_hf.c) against what transformers loads from the same
 * files (scripts/make_gguf_goldens.py): for tiny random models of every supported GGUF architecture
 * (llama with its q/k permutation, qwen2 with biases, gemma2/gemma3 with 1+w norms and mixed quant
 * types) every HF tensor bit-identical (checksums over the float32 bits) and every config key we
 * emit equal to transformers' config; then the real Gemma 3 270M file when models/ has it. */
#include <unistd.h>

#include "engine/model/gguf_hf.h"
#include "tests/test.h"
#include "tests/gguf/checksums.h"

#define REAL "models/gemma-3-270m-q4_k_m.gguf"

/* Writes the inflated bytes of a .gz to a temp file (the reader maps files). */
static char *inflate_to_tmp(const char *gz) {
    ko_buf b = {0};
    ko_err e;
    if (ko_read_file(gz, &b, &e) != 0) {
        CHECK(0, "%s", e.msg);
        return NULL;
    }
    char *tmp = ko_xstrdup("/tmp/koeval_gguf_hf_XXXXXX");
    int fd = mkstemp(tmp);
    bool ok = fd >= 0 && write(fd, b.p, b.n) == (ssize_t)b.n;
    if (fd >= 0) close(fd);
    ko_buf_free(&b);
    CHECK(ok, "temp file for %s", gz);
    return tmp;
}


/* Every key the translation emits has transformers' value (rope_theta lives in rope_parameters in
 * transformers 5's config: {rope_theta} or {full_attention: {rope_theta}}). */
static void check_config(const cJSON *mine, const char *golden_path, const char *what) {
    ko_buf b = {0};
    ko_err e;
    CHECK(ko_read_file(golden_path, &b, &e) == 0, "%s", e.msg);
    cJSON *hf = cJSON_Parse(b.p ? b.p : "");
    ko_buf_free(&b);
    CHECK(hf != NULL, "%s: golden config", what);
    if (!hf) return;
    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, mine) {
        const cJSON *want = cJSON_GetObjectItemCaseSensitive(hf, it->string);
        if (strcmp(it->string, "rope_theta") == 0) {
            const cJSON *rp = cJSON_GetObjectItemCaseSensitive(hf, "rope_parameters");
            const cJSON *full = cJSON_GetObjectItemCaseSensitive(rp, "full_attention");
            want = cJSON_GetObjectItemCaseSensitive(full ? full : rp, "rope_theta");
        }
        bool same = want && ((cJSON_IsNumber(it) && cJSON_IsNumber(want) && it->valuedouble == want->valuedouble) ||
                             (cJSON_IsString(it) && cJSON_IsString(want) && strcmp(it->valuestring, want->valuestring) == 0) ||
                             (cJSON_IsBool(it) && cJSON_IsBool(want) && cJSON_IsTrue(it) == cJSON_IsTrue(want)));
        char *got = cJSON_PrintUnformatted(it), *exp = want ? cJSON_PrintUnformatted(want) : NULL;
        CHECK(same, "%s: config %s = %s, transformers has %s", what, it->string, got, exp ? exp : "(absent)");
        free(got);
        free(exp);
        n++;
    }
    CHECK(n >= 10, "%s: only %d config keys", what, n);
    cJSON_Delete(hf);
}

/* Every tensor of transformers' state_dict: same shape, bit-identical values. */
static int check_tensors(ko_gguf_hf *h, const char *golden_path, const char *what) {
    ko_buf b = {0};
    ko_err e;
    CHECK(ko_read_file(golden_path, &b, &e) == 0, "%s", e.msg);
    const cJSON *tie = cJSON_GetObjectItemCaseSensitive(ko_gguf_hf_config(h), "tie_word_embeddings");
    int n = 0, same = 0;
    for (char *line = strtok(b.p, "\n"); line; line = strtok(NULL, "\n")) {
        char name[128], shape[64];
        unsigned long long h1, h2, m1, m2;
        if (line[0] == '#' || sscanf(line, "%127s %63s %llu %llu", name, shape, &h1, &h2) != 4) continue;
        n++;
        ko_tensor t;
        int rc = ko_gguf_hf_lookup(h, name, &t, &e);
        if (rc == 1 && strcmp(name, "lm_head.weight") == 0 && cJSON_IsTrue(tie))  /* tied: the embedding */
            rc = ko_gguf_hf_lookup(h, "model.embed_tokens.weight", &t, &e);
        CHECK(rc == 0, "%s: %s: rc %d %s", what, name, rc, rc < 0 ? e.msg : "");
        if (rc != 0) continue;
        char got[64];
        int k = 0;
        for (int d = 0; d < t.ndim; d++) k += snprintf(got + k, sizeof got - (size_t)k, "%s%lld", d ? "x" : "", (long long)t.shape[d]);
        CHECK(strcmp(got, shape) == 0 && t.dtype == KO_F32, "%s: %s: shape %s, transformers %s", what, name, got, shape);
        int64_t numel = 1;
        for (int d = 0; d < t.ndim; d++) numel *= t.shape[d];
        sums(t.data, numel, &m1, &m2);
        CHECK(m1 == h1 && m2 == h2, "%s: %s differs from transformers", what, name);
        same += m1 == h1 && m2 == h2;
        ko_tensor again;
        CHECK(ko_gguf_hf_lookup(h, name, &again, &e) == 0 ? again.data == t.data : strcmp(name, "lm_head.weight") == 0,
              "%s: %s converted twice", what, name);
    }
    printf("%s: %d/%d HF tensors bit-identical to transformers\n", what, same, n);
    ko_buf_free(&b);
    return n;
}

static void check_tiny(const char *arch, int n_tensors) {
    char gz[128], cfg[128], tsv[128], what[64];
    snprintf(gz, sizeof gz, "tests/gguf/data/tiny_%s.gguf.gz", arch);
    snprintf(cfg, sizeof cfg, "tests/gguf/data/tiny_%s_config.json", arch);
    snprintf(tsv, sizeof tsv, "tests/gguf/data/tiny_%s_hf.tsv.gz", arch);
    snprintf(what, sizeof what, "tiny %s", arch);
    char *tmp = inflate_to_tmp(gz);
    if (!tmp) return;
    ko_gguf_hf *h;
    ko_err e;
    CHECK(ko_gguf_hf_open(tmp, &h, &e) == 0, "%s", e.msg);
    if (h) {
        check_config(ko_gguf_hf_config(h), cfg, what);
        CHECK_EQ_INT(check_tensors(h, tsv, what), n_tensors);
        ko_tensor t;
        CHECK(ko_gguf_hf_lookup(h, "model.layers.9.mlp.up_proj.weight", &t, &e) == 1, "absent layer");
        CHECK(ko_gguf_hf_lookup(h, "model.layers.0.mlp.nonsense.weight", &t, &e) == 1, "unknown name");
        ko_gguf_hf_release_file(h);
        CHECK(ko_gguf_hf_lookup(h, "model.norm.weight", &t, &e) == -1 && strstr(e.msg, "released"), "%s", e.msg);
        ko_gguf_hf_close(h);
    }
    unlink(tmp);
    free(tmp);
}

static void check_names(void) {
    char *tmp = inflate_to_tmp("tests/gguf/data/tiny_gemma3.gguf.gz"), *tmp2 = inflate_to_tmp("tests/gguf/data/tiny_llama.gguf.gz");
    ko_gguf_hf *g = NULL, *l = NULL;
    ko_err e;
    char buf[128];
    if (tmp && tmp2 && ko_gguf_hf_open(tmp, &g, &e) == 0 && ko_gguf_hf_open(tmp2, &l, &e) == 0) {
        const char *s = ko_gguf_hf_name(g, "model.layers.3.post_attention_layernorm.weight", buf, sizeof buf);
        CHECK(s && strcmp(s, "blk.3.post_attention_norm.weight") == 0, "gemma post_attention_layernorm");
        s = ko_gguf_hf_name(g, "model.layers.3.pre_feedforward_layernorm.weight", buf, sizeof buf);
        CHECK(s && strcmp(s, "blk.3.ffn_norm.weight") == 0, "gemma pre_feedforward_layernorm");
        s = ko_gguf_hf_name(l, "model.layers.12.post_attention_layernorm.weight", buf, sizeof buf);
        CHECK(s && strcmp(s, "blk.12.ffn_norm.weight") == 0, "llama post_attention_layernorm");
        CHECK(ko_gguf_hf_name(l, "model.layers.1.pre_feedforward_layernorm.weight", buf, sizeof buf) == NULL, "llama has none");
        CHECK(ko_gguf_hf_name(l, "model.layers.x.mlp.up_proj.weight", buf, sizeof buf) == NULL, "bad layer");
        s = ko_gguf_hf_name(l, "lm_head.weight", buf, sizeof buf);
        CHECK(s && strcmp(s, "output.weight") == 0, "lm_head");
    } else {
        CHECK(0, "%s", e.msg);
    }
    ko_gguf_hf_close(g);
    ko_gguf_hf_close(l);
    if (tmp) unlink(tmp);
    if (tmp2) unlink(tmp2);
    free(tmp);
    free(tmp2);
    /* a GGUF that is not a model of a supported architecture: one clear error */
    tmp = inflate_to_tmp("tests/gguf/data/synthetic.gguf.gz");
    ko_gguf_hf *h = NULL;
    CHECK(tmp && ko_gguf_hf_open(tmp, &h, &e) == -1 && h == NULL && strstr(e.msg, "architecture 'testarch' is not supported") &&
              strncmp(e.msg, tmp, strlen(tmp)) == 0, "%s", e.msg);
    if (tmp) unlink(tmp);
    free(tmp);
    CHECK(ko_gguf_hf_open("tests/gguf/data/none.gguf", &h, &e) == -1 && strstr(e.msg, "none.gguf: cannot open"), "%s", e.msg);
}

int main(void) {
    check_tiny("llama", 21);
    check_tiny("qwen2", 27);
    check_tiny("gemma2", 25);
    check_tiny("gemma3", 29);
    check_names();
    if (access(REAL, R_OK) != 0) {
        printf("skip: %s absent (make model fetches it): real-model translation checks not run\n", REAL);
    } else {
        ko_gguf_hf *h;
        ko_err e;
        CHECK(ko_gguf_hf_open(REAL, &h, &e) == 0, "%s", e.msg);
        if (h) {
            check_config(ko_gguf_hf_config(h), "tests/gguf/data/real_hf_config.json", "gemma-3-270m");
            CHECK_EQ_INT(check_tensors(h, "tests/gguf/data/real_hf.tsv.gz", "gemma-3-270m"), 237);
            ko_gguf_hf_close(h);
        }
    }
    TEST_END();
}
