/* test_gguf_model.c — a .gguf through ko_model_load (model.c -> gguf_model.c -> arch.c): the decoder
 * config of every tiny GGUF architecture equals transformers' config of the same file
 * (tests/gguf/data/tiny_<arch>_config.json, scripts/make_gguf_goldens.py), weights are f32 in HF
 * layout, the tokenizer is the GGUF itself unless a tokenizer.json sits beside it; and, when models/
 * has it, the real Gemma 3 270M through models/default/ (the README's default). */
#include <math.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "engine/model/model.h"
#include "tests/test.h"

static char *inflate_to(const char *gz, const char *dir, const char *name) {
    ko_buf b = {0};
    ko_err e;
    char *path = ko_xasprintf("%s/%s", dir, name);
    CHECK(ko_read_file(gz, &b, &e) == 0 && ko_write_file_atomic(path, b.p, b.n, &e) == 0, "%s", e.msg);
    ko_buf_free(&b);
    return path;
}

static const cJSON *get(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }
static double num(const cJSON *o, const char *k, double def) {
    const cJSON *v = get(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : def;
}

/* ko_config against transformers' config.to_dict() of the same GGUF. */
static void check_cfg(const ko_config *c, const char *golden, const char *what) {
    ko_buf b = {0};
    ko_err e;
    CHECK(ko_read_file(golden, &b, &e) == 0, "%s", e.msg);
    cJSON *hf = cJSON_Parse(b.p ? b.p : "");
    ko_buf_free(&b);
    if (!hf) {
        CHECK(0, "%s: golden", what);
        return;
    }
    CHECK(strcmp(c->model_type, get(hf, "model_type")->valuestring) == 0, "%s: model_type %s", what, c->model_type);
    CHECK_EQ_INT(c->vocab_size, num(hf, "vocab_size", -1));
    CHECK_EQ_INT(c->hidden, num(hf, "hidden_size", -1));
    CHECK_EQ_INT(c->n_layers, num(hf, "num_hidden_layers", -1));
    CHECK_EQ_INT(c->n_heads, num(hf, "num_attention_heads", -1));
    CHECK_EQ_INT(c->n_kv_heads, num(hf, "num_key_value_heads", -1));
    CHECK_EQ_INT(c->head_dim, num(hf, "head_dim", (double)c->hidden / c->n_heads));
    CHECK_EQ_INT(c->intermediate, num(hf, "intermediate_size", -1));
    CHECK_EQ_INT(c->max_pos, num(hf, "max_position_embeddings", -1));
    CHECK(c->rms_eps == num(hf, "rms_norm_eps", -1), "%s: eps %.17g", what, c->rms_eps);
    CHECK(c->tie_embeddings == cJSON_IsTrue(get(hf, "tie_word_embeddings")), "%s: tie", what);
    CHECK_EQ_INT(c->bos_id, num(hf, "bos_token_id", -1));
    CHECK_EQ_INT(c->eos_id, num(hf, "eos_token_id", -1));
    CHECK_EQ_INT(c->pad_id, num(hf, "pad_token_id", -1));
    CHECK(c->attn_softcap == num(hf, "attn_logit_softcapping", 0), "%s: attn softcap %g", what, c->attn_softcap);
    CHECK(c->final_softcap == num(hf, "final_logit_softcapping", 0), "%s: final softcap %g", what, c->final_softcap);
    double qpas = num(hf, "query_pre_attn_scalar", c->head_dim);
    CHECK(fabs(c->attn_scale - 1 / sqrt(qpas)) < 1e-15, "%s: attn_scale %g", what, c->attn_scale);
    const cJSON *lt = get(hf, "layer_types");
    int sliding = 0;
    for (int i = 0; i < c->n_layers; i++) {
        const cJSON *t = cJSON_GetArrayItem(lt, i);
        bool want = t && strcmp(t->valuestring, "sliding_attention") == 0;
        CHECK(c->layer_sliding[i] == want, "%s: layer %d sliding %d", what, i, c->layer_sliding[i]);
        sliding += want;
    }
    if (sliding) CHECK_EQ_INT(c->sliding_window, num(hf, "sliding_window", -1));
    const cJSON *rp = get(hf, "rope_parameters");
    const cJSON *full = get(rp, "full_attention"), *slide = get(rp, "sliding_attention");
    CHECK(c->rope.theta == num(full ? full : rp, "rope_theta", -1), "%s: rope theta %g", what, c->rope.theta);
    CHECK(c->rope_local.theta == num(slide ? slide : rp, "rope_theta", -1), "%s: local theta %g", what, c->rope_local.theta);
    cJSON_Delete(hf);
}

static void check_tiny(const char *arch, const char *dir) {
    char gz[96], golden[96], name[64], what[64];
    snprintf(gz, sizeof gz, "tests/gguf/data/tiny_%s.gguf.gz", arch);
    snprintf(golden, sizeof golden, "tests/gguf/data/tiny_%s_config.json", arch);
    snprintf(name, sizeof name, "tiny_%s.gguf", arch);
    snprintf(what, sizeof what, "tiny %s", arch);
    char *path = inflate_to(gz, dir, name);
    ko_model *m = NULL;
    ko_err e;
    CHECK(ko_model_load(path, &m, &e) == 0, "%s: %s", what, e.msg);
    if (m) {
        check_cfg(&m->cfg, golden, what);
        CHECK(m->dtype == KO_F32 && m->embed.dtype == KO_F32 && m->embed.data, "%s: f32 weights", what);
        CHECK(m->auto_dtype == KO_F32, "%s: dtype=auto of a GGUF is float32 (transformers dequantises to it)", what);
        CHECK(m->embed.shape[0] == m->cfg.vocab_size && m->embed.shape[1] == m->cfg.hidden, "%s: embed shape", what);
        CHECK(m->tokenizer_path && strcmp(m->tokenizer_path, path) == 0, "%s: tokenizer %s", what, m->tokenizer_path);
        CHECK(m->cfg.tie_embeddings ? m->lm_head.data == m->embed.data : m->lm_head.data != m->embed.data, "%s: lm_head", what);
        ko_model_free(m);
    }
    unlink(path);
    free(path);
}

int main(void) {
    char dir[] = "/tmp/koeval_gguf_model_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "temp dir");
    const char *arches[] = {"llama", "qwen2", "gemma2", "gemma3"};
    for (int i = 0; i < 4; i++) check_tiny(arches[i], dir);

    /* a tokenizer.json beside the file wins over the GGUF's vocabulary */
    char *path = inflate_to("tests/gguf/data/tiny_gemma3.gguf.gz", dir, "m.gguf");
    char *tok = ko_xasprintf("%s/tokenizer.json", dir);
    ko_err e;
    CHECK(ko_write_file_atomic(tok, "{}", 2, &e) == 0, "%s", e.msg);
    ko_model *m = NULL;
    CHECK(ko_model_load(path, &m, &e) == 0 && strcmp(m->tokenizer_path, tok) == 0, "tokenizer beside: %s",
          m ? m->tokenizer_path : e.msg);
    ko_model_free(m);
    unlink(tok);
    /* an unsupported GGUF: one error naming the file */
    char *bad = inflate_to("tests/gguf/data/synthetic.gguf.gz", dir, "synthetic.gguf");
    CHECK(ko_model_load(bad, &m, &e) == -1 && m == NULL && strstr(e.msg, "synthetic.gguf: GGUF architecture 'testarch'") &&
              !strchr(e.msg, '\n'), "%s", e.msg);
    unlink(bad);
    unlink(path);
    free(bad);
    free(path);
    free(tok);
    rmdir(dir);

    /* the README's default model (scripts/fetch_model.sh): models/default/ holds one link to the file */
    const char *def = "models/default/gemma-3-270m-q4_k_m.gguf";
    if (access(def, R_OK) != 0) {
        printf("skip: %s absent (make model fetches it): real-model load not run\n", def);
    } else {
        double t0 = ko_now();
        CHECK(ko_model_load(def, &m, &e) == 0, "%s", e.msg);
        if (m) {
            printf("%s: %s, %d layers, loaded in %.2f s\n", def, m->cfg.model_type, m->cfg.n_layers, ko_now() - t0);
            check_cfg(&m->cfg, "tests/gguf/data/real_hf_config.json", "gemma-3-270m");
            CHECK(m->tokenizer_path && strcmp(m->tokenizer_path, def) == 0, "tokenizer %s", m->tokenizer_path);
            ko_model_free(m);
        }
    }
    TEST_END();
}
