/* test_model_load.c — ko_model_load on hand-written checkpoints of every architecture: the config
 * each gives (tensor names and config keys as the HF checkpoints spell them), that every ko_tensor
 * points at the right bytes, sharded and multimodal layouts, the three dtypes, and one clear error
 * line naming the file for every kind of broken checkpoint. */
#include <sys/stat.h>

#include "engine/model/model.h"
#include "tests/model/st_fixtures.h"
#include "tests/test.h"

static char *TMP;

static char *at(const char *rel) { return ko_xasprintf("%s/%s", TMP, rel); }

static ko_model *load(const char *rel) {
    char *p = at(rel);
    ko_model *m = NULL;
    ko_err e = {{0}};
    if (ko_model_load(p, &m, &e) != 0) printf("load %s: %s\n", rel, e.msg);
    free(p);
    return m;
}

/* The load fails with one line that names the checkpoint (its folder or file) and says `why`. */
#define LOAD_FAILS(rel, why) load_fails(rel, why, __LINE__)
static void load_fails(const char *rel, const char *why, int line) {
    char *p = at(rel);
    ko_model *m = (ko_model *)1;
    ko_err e = {{0}};
    int rc = ko_model_load(p, &m, &e);
    CHECK(rc == -1 && m == NULL, "line %d: %s loaded", line, rel);
    CHECK(strstr(e.msg, why) != NULL, "line %d: error for %s lacks \"%s\": %s", line, rel, why, e.msg);
    CHECK(strstr(e.msg, p) != NULL, "line %d: error does not name %s: %s", line, p, e.msg);
    CHECK(strchr(e.msg, '\n') == NULL, "line %d: multi-line error: %s", line, e.msg);
    free(p);
}

/* t has shape [d0] or [d0, d1] and holds the values the fixture wrote for tensor `name`. */
#define TENSOR_IS(t, name, d0, d1) tensor_is(&(t), name, d0, d1, __LINE__)
static void tensor_is(const ko_tensor *t, const char *name, int64_t d0, int64_t d1, int line) {
    int nd = d1 ? 2 : 1;
    bool shape = t->ndim == nd && t->shape[0] == d0 && (nd == 1 || t->shape[1] == d1);
    CHECK(shape && t->data, "line %d: %s: shape [%lld, %lld] ndim %d", line, name, (long long)t->shape[0],
          (long long)t->shape[1], t->ndim);
    if (!shape || !t->data) return;
    int64_t n = ko_tensor_numel(t), idx[] = {0, 1, n / 2, n - 1};
    bool ok = true;
    for (int i = 0; i < 4; i++) ok = ok && ko_tensor_get(t, idx[i]) == fx_value(name, idx[i]);
    CHECK(ok, "line %d: %s: values differ from the file's", line, name);
    CHECK((uintptr_t)t->data % ko_dtype_size(t->dtype) == 0, "line %d: %s misaligned", line, name);
}

static void write_model(const char *dir, const char *config, int kind, fx_dims d, const char *dt, const char *pre,
                        const char *lm_head) {
    char *full = at(dir);
    fx_write_str(full, "config.json", config);
    fx_st s = {0};
    fx_model(&s, kind, d, dt, pre, lm_head);
    fx_st_write(full, "model.safetensors", &s);
    fx_st_free(&s);
    free(full);
}

static size_t expect_bytes(fx_dims d, bool tied, size_t es, int per_layer_extra) {
    size_t q = (size_t)d.heads * d.hd, kv = (size_t)d.kv * d.hd, h = (size_t)d.hidden;
    size_t layer = 2 * h + q * h * 2 + kv * h * 2 + 3 * (size_t)d.inter * h + (size_t)per_layer_extra;
    return es * ((size_t)d.vocab * h * (tied ? 1 : 2) + h + (size_t)d.layers * layer);
}

static const fx_dims SMALL = {.vocab = 64, .hidden = 16, .inter = 24, .layers = 2, .heads = 4, .kv = 2, .hd = 4};

#define LLAMA_CFG                                                                                             \
    "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"vocab_size\": 64, "             \
    "\"hidden_size\": 16, \"intermediate_size\": 24, \"num_hidden_layers\": 2, \"num_attention_heads\": 4, " \
    "\"num_key_value_heads\": 2, \"rms_norm_eps\": 1e-05, \"max_position_embeddings\": 131072, "             \
    "\"rope_theta\": 500000.0, \"rope_scaling\": {\"factor\": 8.0, \"low_freq_factor\": 1.0, "                \
    "\"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192, \"rope_type\": \"llama3\"}, "    \
    "\"tie_word_embeddings\": false, \"bos_token_id\": 128000, \"eos_token_id\": [128001, 128008, 128009], " \
    "\"hidden_act\": \"silu\", \"torch_dtype\": \"bfloat16\"}"

static void test_llama(void) {
    write_model("llama", LLAMA_CFG, FX_LLAMA, SMALL, "BF16", "model.", "lm_head.weight");
    char *dir = at("llama");
    fx_write_str(dir, "tokenizer.json", "{}");
    free(dir);
    ko_model *m = load("llama");
    CHECK(m != NULL, "llama");
    if (!m) return;
    const ko_config *c = &m->cfg;
    CHECK_EQ_STR(c->model_type, "llama");
    CHECK_EQ_INT(c->vocab_size, 64);
    CHECK_EQ_INT(c->hidden, 16);
    CHECK_EQ_INT(c->intermediate, 24);
    CHECK_EQ_INT(c->n_layers, 2);
    CHECK_EQ_INT(c->n_heads, 4);
    CHECK_EQ_INT(c->n_kv_heads, 2);
    CHECK_EQ_INT(c->head_dim, 4);
    CHECK_EQ_INT(c->max_pos, 131072);
    CHECK_NEAR(c->rms_eps, 1e-5, 0);
    CHECK(!c->norm_plus_one && !c->qk_norm && !c->post_norms && !c->qkv_bias && !c->tie_embeddings &&
              !c->scale_embeddings, "llama switches");
    CHECK_EQ_INT(c->act, KO_ACT_SILU);
    CHECK_NEAR(c->attn_scale, 0.5, 1e-15);
    CHECK(c->attn_softcap == 0 && c->final_softcap == 0 && c->sliding_window == 0, "no caps, no window");
    CHECK(!c->layer_sliding[0] && !c->layer_sliding[1], "no sliding layers");
    CHECK_EQ_INT(c->rope.kind, KO_ROPE_LLAMA3);
    CHECK_NEAR(c->rope.theta, 500000.0, 0);
    CHECK_NEAR(c->rope.factor, 8.0, 0);
    CHECK_NEAR(c->rope.low_freq_factor, 1.0, 0);
    CHECK_NEAR(c->rope.high_freq_factor, 4.0, 0);
    CHECK_EQ_INT(c->rope.original_max_pos, 8192);
    CHECK(memcmp(&c->rope, &c->rope_local, sizeof c->rope) == 0, "one RoPE");
    CHECK_EQ_INT(c->bos_id, 128000);
    CHECK_EQ_INT(c->eos_id, 128001);
    CHECK_EQ_INT(c->pad_id, -1);
    CHECK_EQ_INT(m->dtype, KO_BF16);
    TENSOR_IS(m->embed, "model.embed_tokens.weight", 64, 16);
    TENSOR_IS(m->final_norm, "model.norm.weight", 16, 0);
    TENSOR_IS(m->lm_head, "lm_head.weight", 64, 16);
    const ko_layer *L = &m->layers[1];
    TENSOR_IS(L->attn_norm, "model.layers.1.input_layernorm.weight", 16, 0);
    TENSOR_IS(L->wq, "model.layers.1.self_attn.q_proj.weight", 16, 16);
    TENSOR_IS(L->wk, "model.layers.1.self_attn.k_proj.weight", 8, 16);
    TENSOR_IS(L->wv, "model.layers.1.self_attn.v_proj.weight", 8, 16);
    TENSOR_IS(L->wo, "model.layers.1.self_attn.o_proj.weight", 16, 16);
    TENSOR_IS(L->ffn_norm, "model.layers.1.post_attention_layernorm.weight", 16, 0);
    TENSOR_IS(L->w_gate, "model.layers.1.mlp.gate_proj.weight", 24, 16);
    TENSOR_IS(L->w_up, "model.layers.1.mlp.up_proj.weight", 24, 16);
    TENSOR_IS(L->w_down, "model.layers.1.mlp.down_proj.weight", 16, 24);
    CHECK(!L->bq.data && !L->q_norm.data && !L->post_attn_norm.data && !L->post_ffn_norm.data, "absent tensors");
    CHECK_EQ_INT(m->weight_bytes, expect_bytes(SMALL, false, 2, 0));
    char *tok = at("llama/tokenizer.json");
    CHECK(m->tokenizer_path && strcmp(m->tokenizer_path, tok) == 0, "tokenizer %s", m->tokenizer_path);
    free(tok);
    ko_model_free(m);
}

static void test_mistral(void) {
    const char *cfg = "{\"model_type\": \"mistral\", \"vocab_size\": 64, \"hidden_size\": 16, \"intermediate_size\": 24, "
                      "\"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"num_key_value_heads\": 2, "
                      "\"rope_theta\": 1000000.0, \"sliding_window\": null, \"max_position_embeddings\": 32768}";
    write_model("mistral", cfg, FX_LLAMA, SMALL, "BF16", "model.", "lm_head.weight");
    ko_model *m = load("mistral");
    CHECK(m != NULL, "mistral");
    if (m) {
        CHECK_EQ_STR(m->cfg.model_type, "mistral");
        CHECK_EQ_INT(m->cfg.sliding_window, 0);
        CHECK(!m->cfg.layer_sliding[0] && !m->cfg.layer_sliding[1], "v0.2: no window");
        CHECK_EQ_INT(m->cfg.rope.kind, KO_ROPE_DEFAULT);
        CHECK_NEAR(m->cfg.rope.theta, 1e6, 0);
        CHECK_NEAR(m->cfg.rms_eps, 1e-6, 0); /* MistralConfig default */
        CHECK(m->tokenizer_path == NULL, "no tokenizer.json");
        ko_model_free(m);
    }
    /* v0.1 spells the window; an absent key means the class default 4096, on every layer */
    const char *cfg1 = "{\"model_type\": \"mistral\", \"vocab_size\": 64, \"hidden_size\": 16, \"intermediate_size\": 24, "
                       "\"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"num_key_value_heads\": 2}";
    write_model("mistral01", cfg1, FX_LLAMA, SMALL, "BF16", "model.", "lm_head.weight");
    m = load("mistral01");
    CHECK(m != NULL, "mistral v0.1");
    if (m) {
        CHECK_EQ_INT(m->cfg.sliding_window, 4096);
        CHECK(m->cfg.layer_sliding[0] && m->cfg.layer_sliding[1], "all layers slide");
        ko_model_free(m);
    }
}

static void test_qwen2(void) {
    const char *cfg = "{\"architectures\": [\"Qwen2ForCausalLM\"], \"model_type\": \"qwen2\", \"vocab_size\": 64, "
                      "\"hidden_size\": 16, \"intermediate_size\": 24, \"num_hidden_layers\": 2, "
                      "\"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"rope_theta\": 10000000.0, "
                      "\"sliding_window\": 32768, \"use_sliding_window\": false, \"max_window_layers\": 1, "
                      "\"tie_word_embeddings\": true, \"bos_token_id\": 151643, \"eos_token_id\": 151645}";
    write_model("qwen2", cfg, FX_QWEN2, SMALL, "BF16", "model.", NULL);
    ko_model *m = load("qwen2");
    CHECK(m != NULL, "qwen2");
    if (!m) return;
    CHECK(m->cfg.qkv_bias && m->cfg.tie_embeddings, "qwen2 switches");
    CHECK_EQ_INT(m->cfg.sliding_window, 0);
    CHECK(!m->cfg.layer_sliding[1], "use_sliding_window false");
    CHECK(m->lm_head.data == m->embed.data, "tied head");
    TENSOR_IS(m->layers[0].bq, "model.layers.0.self_attn.q_proj.bias", 16, 0);
    TENSOR_IS(m->layers[0].bk, "model.layers.0.self_attn.k_proj.bias", 8, 0);
    TENSOR_IS(m->layers[1].bv, "model.layers.1.self_attn.v_proj.bias", 8, 0);
    CHECK_EQ_INT(m->weight_bytes, expect_bytes(SMALL, true, 2, 16 + 8 + 8));
    CHECK_EQ_INT(m->cfg.eos_id, 151645);
    ko_model_free(m);
}

static const fx_dims GEMMA = {.vocab = 64, .hidden = 16, .inter = 24, .layers = 4, .heads = 4, .kv = 2, .hd = 8};

static void test_gemma2(void) {
    /* gemma-2 style: head_dim given (8 != 16/4), the class's softcaps and alternation by default */
    const char *cfg = "{\"architectures\": [\"Gemma2ForCausalLM\"], \"model_type\": \"gemma2\", \"vocab_size\": 64, "
                      "\"hidden_size\": 16, \"intermediate_size\": 24, \"num_hidden_layers\": 4, "
                      "\"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"head_dim\": 8, "
                      "\"query_pre_attn_scalar\": 144, \"sliding_window\": 4096, "
                      "\"hidden_activation\": \"gelu_pytorch_tanh\", \"hidden_act\": \"gelu_pytorch_tanh\"}";
    write_model("gemma2", cfg, FX_GEMMA2, GEMMA, "F32", "model.", NULL);
    ko_model *m = load("gemma2");
    CHECK(m != NULL, "gemma2");
    if (!m) return;
    const ko_config *c = &m->cfg;
    CHECK_EQ_STR(c->model_type, "gemma2");
    CHECK_EQ_INT(c->head_dim, 8);
    CHECK(c->norm_plus_one && c->post_norms && c->scale_embeddings && c->tie_embeddings && !c->qk_norm, "gemma2 switches");
    CHECK_EQ_INT(c->act, KO_ACT_GELU_TANH);
    CHECK_NEAR(c->attn_scale, 1.0 / 12.0, 1e-15);
    CHECK_NEAR(c->attn_softcap, 50.0, 0);
    CHECK_NEAR(c->final_softcap, 30.0, 0);
    CHECK_EQ_INT(c->sliding_window, 4096);
    CHECK(c->layer_sliding[0] && !c->layer_sliding[1] && c->layer_sliding[2] && !c->layer_sliding[3], "even layers slide");
    CHECK_NEAR(c->rope.theta, 10000.0, 0);
    CHECK_EQ_INT(c->bos_id, 2);
    CHECK_EQ_INT(c->eos_id, 1);
    CHECK_EQ_INT(c->pad_id, 0);
    CHECK_EQ_INT(m->dtype, KO_F32);
    const ko_layer *L = &m->layers[3];
    TENSOR_IS(L->wq, "model.layers.3.self_attn.q_proj.weight", 32, 16);
    TENSOR_IS(L->wo, "model.layers.3.self_attn.o_proj.weight", 16, 32);
    TENSOR_IS(L->post_attn_norm, "model.layers.3.post_attention_layernorm.weight", 16, 0);
    TENSOR_IS(L->ffn_norm, "model.layers.3.pre_feedforward_layernorm.weight", 16, 0);
    TENSOR_IS(L->post_ffn_norm, "model.layers.3.post_feedforward_layernorm.weight", 16, 0);
    CHECK_EQ_INT(m->weight_bytes, expect_bytes(GEMMA, true, 4, 2 * 16));
    ko_model_free(m);
}

static void test_gemma3_text(void) {
    /* gemma-3-1b style (transformers 4.5x config): two RoPE bases, every 6th layer global */
    fx_dims d = GEMMA;
    d.layers = 7;
    const char *cfg = "{\"architectures\": [\"Gemma3ForCausalLM\"], \"model_type\": \"gemma3_text\", \"vocab_size\": 64, "
                      "\"hidden_size\": 16, \"intermediate_size\": 24, \"num_hidden_layers\": 7, "
                      "\"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"head_dim\": 8, "
                      "\"query_pre_attn_scalar\": 8, \"sliding_window\": 512, \"sliding_window_pattern\": 6, "
                      "\"rope_theta\": 1000000, \"rope_local_base_freq\": 10000, \"rope_scaling\": null, "
                      "\"final_logit_softcapping\": null, \"attn_logit_softcapping\": null, \"eos_token_id\": [1, 106]}";
    write_model("gemma3_text", cfg, FX_GEMMA3, d, "F16", "model.", NULL);
    ko_model *m = load("gemma3_text");
    CHECK(m != NULL, "gemma3_text");
    if (!m) return;
    const ko_config *c = &m->cfg;
    CHECK_EQ_STR(c->model_type, "gemma3_text");
    CHECK(c->norm_plus_one && c->post_norms && c->qk_norm && c->scale_embeddings && c->tie_embeddings, "gemma3 switches");
    CHECK_NEAR(c->attn_scale, 1.0 / sqrt(8.0), 1e-15);
    CHECK(c->attn_softcap == 0 && c->final_softcap == 0, "null caps");
    CHECK_EQ_INT(c->sliding_window, 512);
    bool pat = true;
    for (int i = 0; i < 7; i++) pat = pat && c->layer_sliding[i] == (i != 5);
    CHECK(pat, "layer 5 global, the rest sliding");
    CHECK(c->rope.kind == KO_ROPE_DEFAULT && c->rope.theta == 1e6, "global rope");
    CHECK(c->rope_local.kind == KO_ROPE_DEFAULT && c->rope_local.theta == 1e4, "local rope");
    CHECK_EQ_INT(c->eos_id, 1);
    CHECK_EQ_INT(m->dtype, KO_F16);
    TENSOR_IS(m->layers[6].q_norm, "model.layers.6.self_attn.q_norm.weight", 8, 0);
    TENSOR_IS(m->layers[6].k_norm, "model.layers.6.self_attn.k_norm.weight", 8, 0);
    TENSOR_IS(m->layers[6].w_down, "model.layers.6.mlp.down_proj.weight", 16, 24);
    CHECK_EQ_INT(m->weight_bytes, expect_bytes(d, true, 2, 2 * 16 + 2 * 8));
    ko_model_free(m);
}

/* Gemma3ForConditionalGeneration as gemma-3-12b-it's config.json has it: text_config lists only what
 * differs from Gemma3TextConfig's defaults (vocab_size among the omitted: 262208). */
#define GEMMA3_MM_CFG                                                                                          \
    "{\"architectures\": [\"Gemma3ForConditionalGeneration\"], \"boi_token_index\": 255999, "                  \
    "\"eoi_token_index\": 256000, \"eos_token_id\": [1, 106], \"image_token_index\": 262144, "                 \
    "\"mm_tokens_per_image\": 256, \"model_type\": \"gemma3\", \"text_config\": {\"hidden_size\": 16, "        \
    "\"intermediate_size\": 24, \"model_type\": \"gemma3_text\", \"num_attention_heads\": 4, "                 \
    "\"num_hidden_layers\": 4, \"num_key_value_heads\": 2, \"head_dim\": 8, \"rope_scaling\": {\"factor\": 8.0, " \
    "\"rope_type\": \"linear\"}, \"sliding_window\": 1024, \"sliding_window_pattern\": 2}, "                   \
    "\"torch_dtype\": \"bfloat16\", \"vision_config\": {\"hidden_size\": 1152, \"model_type\": "               \
    "\"siglip_vision_model\"}}"

static void test_gemma3_mm(const char *dir, const char *pre) {
    fx_dims d = GEMMA;
    d.vocab = 262208;
    char *full = at(dir);
    fx_write_str(full, "config.json", GEMMA3_MM_CFG);
    fx_st s = {0};
    fx_add(&s, "BF16", "vision_tower.vision_model.embeddings.patch_embedding.weight", 8, 4);
    fx_add(&s, "BF16", "multi_modal_projector.mm_input_projection_weight", 4, 16);
    fx_model(&s, FX_GEMMA3, d, "BF16", pre, NULL);
    fx_st_write(full, "model.safetensors", &s);
    fx_st_free(&s);
    fx_write_str(full, "tokenizer.json.gz", "");
    free(full);
    ko_model *m = load(dir);
    CHECK(m != NULL, "%s", dir);
    if (!m) return;
    const ko_config *c = &m->cfg;
    CHECK_EQ_STR(c->model_type, "gemma3_text");
    CHECK_EQ_INT(c->vocab_size, 262208);
    CHECK_EQ_INT(c->max_pos, 131072);
    CHECK(c->rope.kind == KO_ROPE_LINEAR && c->rope.factor == 8.0 && c->rope.theta == 1e6, "global: linear x8");
    CHECK(c->rope_local.kind == KO_ROPE_DEFAULT && c->rope_local.factor == 1.0 && c->rope_local.theta == 1e4,
          "local: plain 10000");
    CHECK_NEAR(c->attn_scale, 1.0 / 16.0, 1e-15); /* query_pre_attn_scalar default 256 */
    CHECK(c->layer_sliding[0] && !c->layer_sliding[1] && c->layer_sliding[2] && !c->layer_sliding[3], "pattern 2");
    CHECK_EQ_INT(c->sliding_window, 1024);
    CHECK_EQ_INT(c->bos_id, 2);
    CHECK_EQ_INT(c->eos_id, 1);
    CHECK(c->tie_embeddings && m->lm_head.data == m->embed.data, "tied");
    char n[128];
    snprintf(n, sizeof n, "%sembed_tokens.weight", pre);
    TENSOR_IS(m->embed, n, 262208, 16);
    snprintf(n, sizeof n, "%slayers.2.self_attn.k_norm.weight", pre);
    TENSOR_IS(m->layers[2].k_norm, n, 8, 0);
    snprintf(n, sizeof n, "%slayers.3.mlp.up_proj.weight", pre);
    TENSOR_IS(m->layers[3].w_up, n, 24, 16);
    CHECK(m->tokenizer_path && strstr(m->tokenizer_path, "tokenizer.json.gz"), "tokenizer.json.gz");
    ko_model_free(m);
}

static void test_exaone(void) {
    /* EXAONE-3.5 style: its own key spellings and tensor names */
    const char *cfg = "{\"architectures\": [\"ExaoneForCausalLM\"], \"model_type\": \"exaone\", \"vocab_size\": 64, "
                      "\"hidden_size\": 16, \"intermediate_size\": 24, \"num_layers\": 2, \"num_attention_heads\": 4, "
                      "\"num_key_value_heads\": 2, \"head_dim\": 4, \"layer_norm_epsilon\": 1e-05, "
                      "\"activation_function\": \"silu\", \"rope_theta\": 1000000.0, \"rope_scaling\": {\"factor\": 8.0, "
                      "\"high_freq_factor\": 4.0, \"low_freq_factor\": 1.0, \"original_max_position_embeddings\": 8192, "
                      "\"rope_type\": \"llama3\"}, \"max_position_embeddings\": 32768, \"tie_word_embeddings\": false, "
                      "\"bos_token_id\": 1, \"eos_token_id\": 361, \"pad_token_id\": 0}";
    write_model("exaone", cfg, FX_EXAONE, SMALL, "BF16", "", "lm_head.weight");
    ko_model *m = load("exaone");
    CHECK(m != NULL, "exaone");
    if (m) {
        const ko_config *c = &m->cfg;
        CHECK_EQ_STR(c->model_type, "exaone");
        CHECK_EQ_INT(c->n_layers, 2);
        CHECK_NEAR(c->rms_eps, 1e-5, 0);
        CHECK_EQ_INT(c->act, KO_ACT_SILU);
        CHECK(c->rope.kind == KO_ROPE_LLAMA3 && c->rope.theta == 1e6 && c->rope.original_max_pos == 8192, "exaone rope");
        CHECK(!c->norm_plus_one && !c->post_norms && !c->tie_embeddings, "exaone switches");
        TENSOR_IS(m->embed, "transformer.wte.weight", 64, 16);
        TENSOR_IS(m->final_norm, "transformer.ln_f.weight", 16, 0);
        TENSOR_IS(m->lm_head, "lm_head.weight", 64, 16);
        const ko_layer *L = &m->layers[1];
        TENSOR_IS(L->attn_norm, "transformer.h.1.ln_1.weight", 16, 0);
        TENSOR_IS(L->wq, "transformer.h.1.attn.attention.q_proj.weight", 16, 16);
        TENSOR_IS(L->wo, "transformer.h.1.attn.attention.out_proj.weight", 16, 16);
        TENSOR_IS(L->ffn_norm, "transformer.h.1.ln_2.weight", 16, 0);
        TENSOR_IS(L->w_gate, "transformer.h.1.mlp.c_fc_0.weight", 24, 16);
        TENSOR_IS(L->w_up, "transformer.h.1.mlp.c_fc_1.weight", 24, 16);
        TENSOR_IS(L->w_down, "transformer.h.1.mlp.c_proj.weight", 16, 24);
        CHECK_EQ_INT(m->weight_bytes, expect_bytes(SMALL, false, 2, 0));
        ko_model_free(m);
    }
    /* transformers' own spellings (num_hidden_layers, rope_parameters) and Llama tensor names */
    const char *cfg5 = "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"exaone\", \"vocab_size\": 64, "
                       "\"hidden_size\": 16, \"intermediate_size\": 24, \"num_hidden_layers\": 2, "
                       "\"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"rope_parameters\": "
                       "{\"rope_theta\": 500000.0, \"rope_type\": \"default\"}}";
    write_model("exaone_llama_names", cfg5, FX_LLAMA, SMALL, "F32", "model.", "lm_head.weight");
    m = load("exaone_llama_names");
    CHECK(m != NULL, "exaone with llama names");
    if (m) {
        CHECK_NEAR(m->cfg.rms_eps, 1e-5, 0); /* ExaoneConfig default */
        CHECK_NEAR(m->cfg.rope.theta, 500000.0, 0);
        TENSOR_IS(m->layers[0].w_gate, "model.layers.0.mlp.gate_proj.weight", 24, 16);
        ko_model_free(m);
    }
}

/* The same llama checkpoint split over two shards by model.safetensors.index.json. */
static void write_sharded(const char *dir, const char *index_override) {
    char *full = at(dir);
    fx_write_str(full, "config.json", LLAMA_CFG);
    fx_st all = {0}, a = {0}, b = {0};
    fx_model(&all, FX_LLAMA, SMALL, "BF16", "model.", "lm_head.weight");
    ko_buf idx = {0};
    ko_buf_puts(&idx, "{\"metadata\": {\"total_size\": 0}, \"weight_map\": {");
    for (int i = 0; i < all.n; i++) {
        bool second = strstr(all.t[i].name, "layers.1.") || strcmp(all.t[i].name, "lm_head.weight") == 0;
        fx_st *s = second ? &b : &a;
        fx_add(s, all.t[i].dtype, all.t[i].name, all.t[i].shape[0], all.t[i].ndim > 1 ? all.t[i].shape[1] : 0);
        ko_buf_printf(&idx, "%s\"%s\": \"model-0000%d-of-00002.safetensors\"", i ? ", " : "", all.t[i].name,
                      second ? 2 : 1);
    }
    ko_buf_puts(&idx, "}}");
    fx_st_write(full, "model-00001-of-00002.safetensors", &a);
    fx_st_write(full, "model-00002-of-00002.safetensors", &b);
    fx_write_str(full, "model.safetensors.index.json", index_override ? index_override : idx.p);
    ko_buf_free(&idx);
    fx_st_free(&all);
    fx_st_free(&a);
    fx_st_free(&b);
    free(full);
}

static void test_sharded(void) {
    write_sharded("sharded", NULL);
    ko_model *m = load("sharded");
    CHECK(m != NULL, "sharded");
    if (m) {
        TENSOR_IS(m->embed, "model.embed_tokens.weight", 64, 16);
        TENSOR_IS(m->lm_head, "lm_head.weight", 64, 16);
        TENSOR_IS(m->layers[0].wk, "model.layers.0.self_attn.k_proj.weight", 8, 16);
        TENSOR_IS(m->layers[1].wk, "model.layers.1.self_attn.k_proj.weight", 8, 16);
        CHECK_EQ_INT(m->weight_bytes, expect_bytes(SMALL, false, 2, 0));
        ko_model_free(m);
    }
    write_sharded("shard_missing", "{\"weight_map\": {\"model.norm.weight\": \"model-00003-of-00003.safetensors\"}}");
    LOAD_FAILS("shard_missing", "shard model-00003-of-00003.safetensors (named in weight_map) is missing");
    write_sharded("shard_wrong",
                  "{\"weight_map\": {\"model.norm.weight\": \"model-00001-of-00002.safetensors\", "
                  "\"lm_head.weight\": \"model-00002-of-00002.safetensors\", "
                  "\"model.layers.1.mlp.up_proj.weight\": \"model-00001-of-00002.safetensors\"}}");
    LOAD_FAILS("shard_wrong", "tensor 'model.layers.1.mlp.up_proj.weight' is listed in model-00001-of-00002.safetensors "
                              "but is in model-00002-of-00002.safetensors");
    write_sharded("shard_absent", "{\"weight_map\": {\"model.norm.weight\": \"model-00001-of-00002.safetensors\", "
                                  "\"nope.weight\": \"model-00002-of-00002.safetensors\"}}");
    LOAD_FAILS("shard_absent", "tensor 'nope.weight' is listed in model-00002-of-00002.safetensors but is not there");
    write_sharded("shard_escape", "{\"weight_map\": {\"model.norm.weight\": \"../model-00001-of-00002.safetensors\"}}");
    LOAD_FAILS("shard_escape", "is not a file name in the folder");
    write_sharded("shard_nomap", "{\"metadata\": {}}");
    LOAD_FAILS("shard_nomap", "no \"weight_map\" object");
    write_sharded("shard_json", "{\"weight_map\": ");
    LOAD_FAILS("shard_json", "model.safetensors.index.json: not valid JSON");
    /* both shards naming the same tensor */
    char *full = at("shard_dup");
    fx_write_str(full, "config.json", LLAMA_CFG);
    fx_st a = {0};
    fx_add(&a, "BF16", "model.norm.weight", 16, 0);
    fx_st_write(full, "a.safetensors", &a);
    fx_st_write(full, "b.safetensors", &a);
    fx_write_str(full, "model.safetensors.index.json",
                 "{\"weight_map\": {\"model.norm.weight\": \"a.safetensors\", \"x\": \"b.safetensors\"}}");
    fx_st_free(&a);
    free(full);
    LOAD_FAILS("shard_dup", "tensor 'model.norm.weight' is in both");
}

/* A checkpoint whose model.safetensors is replaced by a hand-made broken one. */
static void broken(const char *dir, uint64_t n, const char *header, size_t data) {
    char *full = at(dir);
    fx_write_str(full, "config.json", LLAMA_CFG);
    fx_raw(full, "model.safetensors", n, header, data);
    free(full);
}

static void broken_header(const char *dir, const char *header, size_t data) { broken(dir, strlen(header), header, data); }

static void test_broken_files(void) {
    /* file shorter than the 8-byte length */
    char *full = at("trunc8");
    fx_write_str(full, "config.json", LLAMA_CFG);
    fx_write(full, "model.safetensors", "\x10\x00\x00", 3);
    free(full);
    LOAD_FAILS("trunc8", "model.safetensors: 3 bytes is too short for a safetensors file");
    broken("trunc_header", 200, "{\"a\": {\"dtype\": \"F32\"", 0);
    LOAD_FAILS("trunc_header", "header length 200 goes beyond the end of the file");
    broken("huge_header", 1ULL << 40, "{}", 0);
    LOAD_FAILS("huge_header", "over the 100 MB limit");
    broken_header("bad_json", "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]", 4);
    LOAD_FAILS("bad_json", "model.safetensors: header is not valid JSON");
    broken_header("not_object", "[1, 2]  ", 0);
    LOAD_FAILS("not_object", "header does not start with '{'");
    broken_header("trailing", "{} x", 0);
    LOAD_FAILS("trailing", "bytes after its JSON object");
    broken_header("utf8", "{\"\xff\": 1}", 0);
    LOAD_FAILS("utf8", "header is not valid UTF-8");
    broken_header("beyond", "{\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}}", 8);
    LOAD_FAILS("beyond", "tensor 'a': data_offsets [0, 16] go beyond the data section (8 bytes)");
    broken_header("reversed", "{\"a\": {\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [8, 4]}}", 8);
    LOAD_FAILS("reversed", "end before they begin");
    broken_header("overlap", "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}, "
                             "\"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}", 12);
    LOAD_FAILS("overlap", "tensors 'a' and 'b' overlap");
    broken_header("gap", "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}, "
                         "\"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [8, 12]}}", 12);
    LOAD_FAILS("gap", "tensor 'b': data_offsets begin at 8, but the previous tensor ends at 4");
    broken_header("uncovered", "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 12);
    LOAD_FAILS("uncovered", "the tensors cover 4 of the 12 data bytes");
    broken_header("size", "{\"a\": {\"dtype\": \"F32\", \"shape\": [2, 2], \"data_offsets\": [0, 8]}}", 8);
    LOAD_FAILS("size", "tensor 'a': shape [2, 2] x F32 = 16 bytes, but data_offsets [0, 8] hold 8");
    broken_header("dtype", "{\"a\": {\"dtype\": \"BF17\", \"shape\": [2], \"data_offsets\": [0, 4]}}", 4);
    LOAD_FAILS("dtype", "tensor 'a': unknown dtype 'BF17'");
    broken_header("newline", "{\"a\\nb\": {\"dtype\": \"BF17\", \"shape\": [2], \"data_offsets\": [0, 4]}}", 4);
    LOAD_FAILS("newline", "tensor 'a?b': unknown dtype"); /* one line even when a name holds a newline */
    broken_header("negative", "{\"a\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}}", 4);
    LOAD_FAILS("negative", "shape holds something other than a non-negative integer");
    broken_header("fraction", "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4.5]}}", 4);
    LOAD_FAILS("fraction", "data_offsets are not non-negative integers");
    broken_header("huge_shape", "{\"a\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296, 16], "
                                "\"data_offsets\": [0, 4]}}", 4);
    LOAD_FAILS("huge_shape", "is too large");
    broken_header("meta", "{\"__metadata__\": {\"format\": 1}}", 0);
    LOAD_FAILS("meta", "__metadata__ is not a map of strings");
    broken_header("entry", "{\"a\": 3}", 0);
    LOAD_FAILS("entry", "tensor 'a': header entry is not an object");
    broken_header("dup", "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}, "
                         "\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}", 8);
    LOAD_FAILS("dup", "tensor 'a' is listed twice");
    /* a valid file that lacks what the architecture needs */
    broken_header("empty", "{}      ", 0);
    LOAD_FAILS("empty", "tensor 'model.embed_tokens.weight' is missing (model_type llama)");
}

/* Valid files, wrong for the model. */
static void test_wrong_models(void) {
    char *full = at("missing");
    fx_write_str(full, "config.json", LLAMA_CFG);
    fx_st s = {0};
    fx_model(&s, FX_LLAMA, SMALL, "BF16", "model.", "lm_head.weight");
    for (int i = 0; i < s.n; i++)
        if (strcmp(s.t[i].name, "model.layers.1.mlp.up_proj.weight") == 0) strcpy(s.t[i].name, "x");
    fx_st_write(full, "model.safetensors", &s);
    fx_st_free(&s);
    free(full);
    LOAD_FAILS("missing", "tensor 'model.layers.1.mlp.up_proj.weight' is missing");

    full = at("shape");
    fx_write_str(full, "config.json", LLAMA_CFG);
    fx_model(&s, FX_LLAMA, SMALL, "BF16", "model.", "lm_head.weight");
    for (int i = 0; i < s.n; i++)
        if (strcmp(s.t[i].name, "model.layers.0.self_attn.q_proj.weight") == 0) s.t[i].shape[0] = 15;
    fx_st_write(full, "model.safetensors", &s);
    fx_st_free(&s);
    free(full);
    LOAD_FAILS("shape", "tensor 'model.layers.0.self_attn.q_proj.weight' has shape [15, 16], expected [16, 16]");

    full = at("mixed");
    fx_write_str(full, "config.json", LLAMA_CFG);
    fx_model(&s, FX_LLAMA, SMALL, "BF16", "model.", "lm_head.weight");
    strcpy(s.t[5].dtype, "F32");
    fx_st_write(full, "model.safetensors", &s);
    char bad[160];
    snprintf(bad, sizeof bad, "tensor '%s' is F32 but the weights are BF16", s.t[5].name);
    fx_st_free(&s);
    free(full);
    LOAD_FAILS("mixed", bad);

    full = at("int_weight");
    fx_write_str(full, "config.json", LLAMA_CFG);
    fx_model(&s, FX_LLAMA, SMALL, "BF16", "model.", "lm_head.weight");
    strcpy(s.t[1].dtype, "I32");
    fx_st_write(full, "model.safetensors", &s);
    fx_st_free(&s);
    free(full);
    LOAD_FAILS("int_weight", "model.safetensors: tensor 'model.norm.weight' is I32; model weights must be BF16, F16 or F32");

    write_model("untied_no_head", LLAMA_CFG, FX_LLAMA, SMALL, "BF16", "model.", NULL);
    LOAD_FAILS("untied_no_head", "tensor 'lm_head.weight' is missing");

    write_model("unknown_type", "{\"model_type\": \"llamma\"}", FX_LLAMA, SMALL, "BF16", "model.", NULL);
    LOAD_FAILS("unknown_type", "model_type 'llamma' is not supported");
    LOAD_FAILS("unknown_type", "did you mean 'llama'?");
    write_model("no_type", "{\"architectures\": [\"GPT2LMHeadModel\"]}", FX_LLAMA, SMALL, "BF16", "model.", NULL);
    LOAD_FAILS("no_type", "architecture 'GPT2LMHeadModel' is not supported");
    write_model("by_arch", "{\"architectures\": [\"MistralForCausalLM\"], \"vocab_size\": 64, \"hidden_size\": 16, "
                           "\"intermediate_size\": 24, \"num_hidden_layers\": 2, \"num_attention_heads\": 4, "
                           "\"num_key_value_heads\": 2}",
                FX_LLAMA, SMALL, "BF16", "model.", "lm_head.weight");
    ko_model *m = load("by_arch");
    CHECK(m && strcmp(m->cfg.model_type, "mistral") == 0, "architectures picks the row when model_type is absent");
    ko_model_free(m);

    static const struct {
        const char *dir, *cfg, *why;
    } BAD_CFG[] = {
        {"yarn", "{\"model_type\": \"llama\", \"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4}}",
         "rope_type 'yarn' is not supported"},
        {"gqa", "{\"model_type\": \"llama\", \"num_attention_heads\": 6, \"num_key_value_heads\": 4}",
         "num_attention_heads 6 is not a multiple of num_key_value_heads 4"},
        {"act", "{\"model_type\": \"llama\", \"hidden_act\": \"relu\"}", "hidden_act 'relu' is not supported"},
        {"vocab", "{\"model_type\": \"llama\", \"vocab_size\": 0}", "vocab_size must be an integer in [1,"},
        {"layers", "{\"model_type\": \"llama\", \"num_hidden_layers\": 2.5}", "num_hidden_layers must be an integer"},
        {"bias", "{\"model_type\": \"llama\", \"attention_bias\": true}", "attention_bias true (biases on every projection) is not supported"},
        {"types", "{\"model_type\": \"gemma2\", \"num_hidden_layers\": 2, \"layer_types\": [\"full_attention\"]}",
         "layer_types must list one type per layer (2)"},
        {"llama3", "{\"model_type\": \"llama\", \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8}}",
         "need a number low_freq_factor"},
        {"text_config", "{\"model_type\": \"gemma3\", \"text_config\": 7}", "text_config is not an object"},
    };
    for (size_t i = 0; i < sizeof BAD_CFG / sizeof *BAD_CFG; i++) {
        write_model(BAD_CFG[i].dir, BAD_CFG[i].cfg, FX_LLAMA, SMALL, "BF16", "model.", NULL);
        LOAD_FAILS(BAD_CFG[i].dir, BAD_CFG[i].why);
    }

    full = at("no_config");
    fx_st_write(full, "model.safetensors", &(fx_st){0});
    free(full);
    LOAD_FAILS("no_config", "no config.json");
    full = at("bad_config");
    fx_write_str(full, "config.json", "{\"model_type\": ");
    free(full);
    LOAD_FAILS("bad_config", "config.json: not a valid JSON object");
    full = at("no_weights");
    fx_write_str(full, "config.json", LLAMA_CFG);
    free(full);
    LOAD_FAILS("no_weights", "no model.safetensors or model.safetensors.index.json");
    full = at("bin_only");
    fx_write_str(full, "config.json", LLAMA_CFG);
    fx_write_str(full, "pytorch_model.bin", "x");
    free(full);
    LOAD_FAILS("bin_only", "only PyTorch weights");
    LOAD_FAILS("nowhere", "no such file or folder");
    LOAD_FAILS("llama/config.json", "not a model folder (config.json + safetensors) or a .gguf file");
    full = at("m.gguf");
    fx_write_str(TMP, "m.gguf", "GGUF");
    free(full);
    LOAD_FAILS("m.gguf", "m.gguf: "); /* handed to the GGUF reader, which refuses it */
    fx_write_str(TMP, "gguf_dir/only.gguf", "GGUF");
    LOAD_FAILS("gguf_dir/only.gguf", "only.gguf: ");
    LOAD_FAILS("gguf_dir", "gguf_dir/only.gguf: "); /* a folder holding one .gguf is that file */
    fx_write_str(TMP, "gguf_dir/other.gguf", "GGUF");
    LOAD_FAILS("gguf_dir", "holds several GGUF files (only.gguf, other.gguf)");
}

/* A file whose header is not padded: BF16 data at odd addresses is copied, not handed out misaligned. */
static void test_unaligned(void) {
    char *full = at("unaligned");
    fx_write_str(full, "config.json", LLAMA_CFG);
    fx_st s = {0};
    fx_add(&s, "U8", "odd", 3, 0); /* pushes everything after it off alignment */
    fx_model(&s, FX_LLAMA, SMALL, "BF16", "model.", "lm_head.weight");
    ko_buf b = {0};
    fx_serialize(&s, false, &b);
    fx_write(full, "model.safetensors", b.p, b.n);
    ko_buf_free(&b);
    fx_st_free(&s);
    free(full);
    ko_model *m = load("unaligned");
    CHECK(m != NULL, "unaligned");
    if (m) {
        TENSOR_IS(m->embed, "model.embed_tokens.weight", 64, 16);
        TENSOR_IS(m->layers[1].w_down, "model.layers.1.mlp.down_proj.weight", 16, 24);
        ko_model_free(m);
    }
}

/* gemma-3-12b-it's shapes in bf16 (23.5 GB), data left as a hole: loading must validate the header
 * and point into the mapping without reading, copying or converting weights. */
static void test_big_sparse(void) {
    fx_dims d = {.vocab = 262208, .hidden = 3840, .inter = 15360, .layers = 48, .heads = 16, .kv = 8, .hd = 256};
    char *full = at("big");
    fx_write_str(full, "config.json",
                 "{\"model_type\": \"gemma3\", \"text_config\": {\"hidden_size\": 3840, \"intermediate_size\": 15360, "
                 "\"num_attention_heads\": 16, \"num_hidden_layers\": 48, \"num_key_value_heads\": 8, "
                 "\"rope_scaling\": {\"factor\": 8.0, \"rope_type\": \"linear\"}, \"sliding_window\": 1024}}");
    fx_st s = {0};
    fx_model(&s, FX_GEMMA3, d, "BF16", "language_model.model.", NULL);
    fx_sparse_write(full, "model.safetensors", &s);
    fx_st_free(&s);
    free(full);
    double t0 = ko_now();
    ko_model *m = load("big");
    double dt = ko_now() - t0;
    CHECK(m != NULL, "big");
    if (m) {
        printf("# 23.5 GB bf16 checkpoint (sparse file) loaded in %.1f ms, weight_bytes %zu\n", dt * 1e3, m->weight_bytes);
        CHECK(m->weight_bytes > 23000000000ULL, "weight_bytes %zu", m->weight_bytes);
        CHECK(dt < 2.0, "load took %.2f s", dt);
        CHECK(m->layers[47].w_down.shape[0] == 3840 && m->layers[47].w_down.shape[1] == 15360, "last layer");
        CHECK(ko_tensor_get(&m->layers[47].w_down, 3840LL * 15360 - 1) == 0, "hole reads as zero");
        ko_model_free(m);
    }
}

int main(void) {
    TMP = fx_tmpdir("model");
    test_llama();
    test_mistral();
    test_qwen2();
    test_gemma2();
    test_gemma3_text();
    test_gemma3_mm("gemma3_hub", "language_model.model.");
    test_gemma3_mm("gemma3_v5", "model.language_model.");
    test_exaone();
    test_sharded();
    test_broken_files();
    test_wrong_models();
    test_unaligned();
    test_big_sparse();
    fx_rmdir(TMP);
    TEST_END();
}
