/* test_model_config.c — ko_config_from_hf against HF transformers: for every config in
 * tests/model/configs/ (hub-shaped, default-probing, and saved by transformers itself), the values
 * transformers' instantiated model uses, per layer; likewise for the CPU engine's tiny checkpoints
 * (tests/engine/tiny/ARCH/config.json). Goldens: goldens/configs.jsonl.gz, made by
 * scripts/make_model_config_goldens.py. */
#include <cjson/cJSON.h>

#include "engine/model/arch.h"
#include "tests/test.h"

static double num(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}
static bool flag(const cJSON *o, const char *k) { return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, k)); }
static const cJSON *item(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }

static int act_of(const char *s) {
    if (strcmp(s, "silu") == 0) return KO_ACT_SILU;
    if (strcmp(s, "gelu_pytorch_tanh") == 0) return KO_ACT_GELU_TANH;
    if (strcmp(s, "gelu") == 0) return KO_ACT_GELU;
    return -1;
}

static int rope_kind(const char *s) {
    if (strcmp(s, "default") == 0) return KO_ROPE_DEFAULT;
    if (strcmp(s, "linear") == 0) return KO_ROPE_LINEAR;
    if (strcmp(s, "llama3") == 0) return KO_ROPE_LLAMA3;
    return -1;
}

static void check_rope(const char *f, int layer, const ko_rope *r, const cJSON *g) {
    int kind = rope_kind(item(g, "rope_type")->valuestring);
    CHECK((int)r->kind == kind, "%s layer %d: rope kind %d, transformers %s", f, layer, r->kind,
          item(g, "rope_type")->valuestring);
    CHECK(r->theta == num(g, "rope_theta"), "%s layer %d: rope_theta %g vs %g", f, layer, r->theta, num(g, "rope_theta"));
    if (kind != KO_ROPE_DEFAULT)
        CHECK(r->factor == num(g, "factor"), "%s layer %d: factor %g vs %g", f, layer, r->factor, num(g, "factor"));
    if (kind == KO_ROPE_LLAMA3) {
        CHECK(r->low_freq_factor == num(g, "low_freq_factor") && r->high_freq_factor == num(g, "high_freq_factor") &&
                  r->original_max_pos == num(g, "original_max_position_embeddings"),
              "%s layer %d: llama3 parameters", f, layer);
    }
}

static void check_one(const cJSON *g) {
    const char *f = item(g, "file")->valuestring;
    char *path = ko_xstrdup(f);
    ko_buf b = {0};
    ko_err e = {{0}};
    if (ko_read_file(path, &b, &e) != 0) {
        CHECK(0, "%s", e.msg);
        free(path);
        return;
    }
    cJSON *cj = cJSON_Parse(b.p);
    ko_buf_free(&b);
    ko_config c;
    int rc = ko_config_from_hf(cj, &c, &e);
    cJSON_Delete(cj);
    CHECK(rc == 0, "%s: %s", f, e.msg);
    free(path);
    if (rc != 0) return;

    CHECK_EQ_STR(c.model_type, item(g, "model_type")->valuestring);
    CHECK(c.vocab_size == num(g, "vocab_size") && c.hidden == num(g, "hidden") &&
              c.intermediate == num(g, "intermediate") && c.n_layers == num(g, "n_layers"),
          "%s: sizes %d %d %d %d", f, c.vocab_size, c.hidden, c.intermediate, c.n_layers);
    CHECK(c.n_heads == num(g, "n_heads") && c.n_kv_heads == num(g, "n_kv_heads") && c.head_dim == num(g, "head_dim"),
          "%s: heads %d/%d x %d", f, c.n_heads, c.n_kv_heads, c.head_dim);
    CHECK(c.max_pos == num(g, "max_pos"), "%s: max_pos %d", f, c.max_pos);
    CHECK(c.rms_eps == num(g, "rms_eps"), "%s: eps %g vs %g", f, c.rms_eps, num(g, "rms_eps"));
    CHECK((int)c.act == act_of(item(g, "act")->valuestring), "%s: act %d vs %s", f, c.act, item(g, "act")->valuestring);
    CHECK(c.norm_plus_one == flag(g, "norm_plus_one") && c.qk_norm == flag(g, "qk_norm") &&
              c.post_norms == flag(g, "post_norms") && c.qkv_bias == flag(g, "qkv_bias") &&
              c.tie_embeddings == flag(g, "tie_embeddings") && c.scale_embeddings == flag(g, "scale_embeddings"),
          "%s: switches", f);
    CHECK(c.final_softcap == num(g, "final_softcap"), "%s: final softcap %g", f, c.final_softcap);
    CHECK(c.bos_id == num(g, "bos_id") && c.eos_id == num(g, "eos_id") && c.pad_id == num(g, "pad_id"),
          "%s: bos/eos/pad %d %d %d", f, c.bos_id, c.eos_id, c.pad_id);

    const cJSON *scale = item(g, "attn_scale"), *cap = item(g, "attn_softcap"), *win = item(g, "sliding_window"),
                *rope = item(g, "rope");
    CHECK(cJSON_GetArraySize(scale) == c.n_layers && cJSON_GetArraySize(rope) == c.n_layers, "%s: per-layer lists", f);
    for (int i = 0; i < c.n_layers && i < cJSON_GetArraySize(rope); i++) {
        double s = cJSON_GetArrayItem(scale, i)->valuedouble;
        CHECK(fabs(c.attn_scale - s) <= 1e-15 * s, "%s layer %d: scale %.17g vs %.17g", f, i, c.attn_scale, s);
        CHECK(c.attn_softcap == cJSON_GetArrayItem(cap, i)->valuedouble, "%s layer %d: softcap", f, i);
        int w = c.layer_sliding[i] ? c.sliding_window : 0;
        CHECK(w == cJSON_GetArrayItem(win, i)->valueint, "%s layer %d: window %d vs %d", f, i, w,
              cJSON_GetArrayItem(win, i)->valueint);
        check_rope(f, i, c.layer_sliding[i] ? &c.rope_local : &c.rope, cJSON_GetArrayItem(rope, i));
    }
    free(c.layer_sliding);
}

/* A failure before anything is read leaves nothing to free, whatever cfg held before. */
static void check_early_failure(void) {
    cJSON *cj = cJSON_Parse("{\"model_type\": \"gemma3\", \"text_config\": [1]}");
    ko_config c;
    memset(&c, 0xab, sizeof c);
    ko_err e = {{0}};
    CHECK(ko_config_from_hf(cj, &c, &e) == -1 && c.layer_sliding == NULL, "early failure: %s", e.msg);
    cJSON_Delete(cj);
}

/* A GPTQ config reads (the tensors are gptq.c's: tests/model/test_gptq.c); other quantization
 * methods (AWQ, bitsandbytes) are refused by name, not as a missing tensor. */
static void check_quantized(void) {
    static const struct {
        const char *qc, *err;
    } CASES[] = {{"{\"quant_method\": \"gptq\", \"bits\": 4}", NULL},
                 {"{\"quant_method\": \"awq\", \"bits\": 4}", "quant_method awq"},
                 {"{\"quant_method\": \"bitsandbytes\", \"load_in_4bit\": true}", "quant_method bitsandbytes"},
                 {"{\"load_in_8bit\": true}", "quant_method unknown"},
                 {"{\"quant_method\": \"gptq\", \"bits\": 3}", "3 bits"}};
    for (size_t i = 0; i < sizeof CASES / sizeof *CASES; i++) {
        char *text = ko_xasprintf("{\"model_type\": \"gemma2\", \"quantization_config\": %s}", CASES[i].qc);
        cJSON *cj = cJSON_Parse(text);
        ko_config c;
        ko_err e = {{0}};
        int rc = ko_config_from_hf(cj, &c, &e);
        if (!CASES[i].err) {
            CHECK(rc == 0, "%s: %s", CASES[i].qc, e.msg);
            if (rc == 0) free(c.layer_sliding);
        } else {
            CHECK(rc == -1 && strstr(e.msg, CASES[i].err) && !strchr(e.msg, '\n'), "%s: %s", CASES[i].qc, e.msg);
        }
        cJSON_Delete(cj);
        free(text);
    }
}

int main(void) {
    check_early_failure();
    check_quantized();
    ko_buf b = {0};
    ko_err e = {{0}};
    if (ko_read_file("tests/model/goldens/configs.jsonl.gz", &b, &e) != 0) {
        CHECK(0, "%s", e.msg);
        TEST_END();
    }
    int n = 0;
    for (char *line = b.p, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        cJSON *g = cJSON_Parse(line);
        CHECK(g != NULL, "golden line %d", n);
        if (g) check_one(g);
        cJSON_Delete(g);
        n++;
    }
    ko_buf_free(&b);
    CHECK(n >= 36, "%d goldens", n);
    TEST_END();
}
