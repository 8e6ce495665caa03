/* gguf_hf.c — a GGUF file in Hugging Face terms, as transformers' GGUF loader sees it (gguf_hf.h). */
#include "engine/model/gguf_hf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* GGUF architectures and the metadata keys transformers renames (integrations/ggml.py,
 * GGUF_CONFIG_MAPPING). Keys after {arch}. ; every architecture shares COMMON. */
typedef struct key_map { const char *gguf, *hf; } key_map;

static const key_map COMMON[] = {
    {"context_length", "max_position_embeddings"},
    {"block_count", "num_hidden_layers"},
    {"feed_forward_length", "intermediate_size"},
    {"embedding_length", "hidden_size"},
    {"rope.freq_base", "rope_theta"},
    {"attention.head_count", "num_attention_heads"},
    {"attention.head_count_kv", "num_key_value_heads"},
    {"attention.layer_norm_rms_epsilon", "rms_norm_eps"},
    {"vocab_size", "vocab_size"},
    {NULL, NULL},
};
static const key_map LLAMA[] = {{"rope.dimension_count", "head_dim"}, {NULL, NULL}};
static const key_map GEMMA[] = {{"attention.key_length", "head_dim"}, {"attention.sliding_window", "sliding_window"},
                                {NULL, NULL}};
static const key_map NONE[] = {{NULL, NULL}};
static const key_map TOKENIZER[] = {
    {"tokenizer.ggml.bos_token_id", "bos_token_id"},
    {"tokenizer.ggml.eos_token_id", "eos_token_id"},
    {"tokenizer.ggml.unknown_token_id", "unk_token_id"},
    {"tokenizer.ggml.padding_token_id", "pad_token_id"},
    {NULL, NULL},
};

/* llama.cpp conversions that transformers undoes (TENSOR_PROCESSORS, keyed by the GGUF arch). */
enum { FIX_NONE, FIX_GEMMA_NORM, FIX_LLAMA_PERMUTE };
/* Which HF norm name ffn_norm is: llama-style models have one norm before the MLP
 * (post_attention_layernorm); Gemma 2/3 norm the attention output (post_attention_norm) and have
 * pre/post feed-forward norms. */
enum { NORMS_LLAMA, NORMS_GEMMA };

typedef struct gguf_arch {
    const char *arch;            /* general.architecture */
    const char *model_type;      /* HF model_type */
    const key_map *keys;
    int fix, norms;
} gguf_arch;

static const gguf_arch ARCHES[] = {
    {"llama", "llama", LLAMA, FIX_LLAMA_PERMUTE, NORMS_LLAMA},
    {"qwen2", "qwen2", NONE, FIX_NONE, NORMS_LLAMA},
    {"gemma2", "gemma2", GEMMA, FIX_GEMMA_NORM, NORMS_GEMMA},
    {"gemma3", "gemma3_text", GEMMA, FIX_GEMMA_NORM, NORMS_GEMMA},
};
#define N_ARCHES (sizeof ARCHES / sizeof ARCHES[0])

/* HF name (after "model.layers.N.") -> GGUF name (after "blk.N."). */
typedef struct name_map { const char *hf, *gguf; int norms; } name_map;
#define ANY (-1)
static const name_map LAYER_NAMES[] = {
    {"input_layernorm.weight", "attn_norm.weight", ANY},
    {"self_attn.q_proj.weight", "attn_q.weight", ANY},
    {"self_attn.k_proj.weight", "attn_k.weight", ANY},
    {"self_attn.v_proj.weight", "attn_v.weight", ANY},
    {"self_attn.o_proj.weight", "attn_output.weight", ANY},
    {"self_attn.q_proj.bias", "attn_q.bias", ANY},
    {"self_attn.k_proj.bias", "attn_k.bias", ANY},
    {"self_attn.v_proj.bias", "attn_v.bias", ANY},
    {"self_attn.q_norm.weight", "attn_q_norm.weight", ANY},
    {"self_attn.k_norm.weight", "attn_k_norm.weight", ANY},
    {"post_attention_layernorm.weight", "ffn_norm.weight", NORMS_LLAMA},
    {"post_attention_layernorm.weight", "post_attention_norm.weight", NORMS_GEMMA},
    {"pre_feedforward_layernorm.weight", "ffn_norm.weight", NORMS_GEMMA},
    {"post_feedforward_layernorm.weight", "post_ffw_norm.weight", NORMS_GEMMA},
    {"mlp.gate_proj.weight", "ffn_gate.weight", ANY},
    {"mlp.up_proj.weight", "ffn_up.weight", ANY},
    {"mlp.down_proj.weight", "ffn_down.weight", ANY},
};
static const name_map TOP_NAMES[] = {
    {"model.embed_tokens.weight", "token_embd.weight", ANY},
    {"model.norm.weight", "output_norm.weight", ANY},
    {"lm_head.weight", "output.weight", ANY},
};

typedef struct done { const ko_gguf_tensor *src; float *data; } done;

struct ko_gguf_hf {
    char *path;
    ko_gguf *g;
    const gguf_arch *a;
    cJSON *config;
    int n_heads, n_kv_heads;     /* for the llama un-permute */
    done *done;                  /* tensors converted so far */
    int n_done;
};

/* A GGUF metadata value as JSON (numbers and strings; the mapped keys are scalars in practice). */
static cJSON *kv_json(const ko_gguf *g, const char *key, ko_err *e) {
    const ko_gguf_kv *kv = ko_gguf_find(g, key);
    ko_gguf_str s;
    double f;
    uint64_t u;
    if (kv->type == KO_GGUF_STRING && ko_gguf_get_str(g, key, &s) == 0) {
        char *c = ko_xstrndup(s.p, (size_t)s.n);
        cJSON *j = cJSON_CreateString(c);
        free(c);
        return j;
    }
    if (kv->type == KO_GGUF_BOOL) return cJSON_CreateBool(kv->data[0] != 0);
    if (kv->type != KO_GGUF_FLOAT32 && kv->type != KO_GGUF_FLOAT64 && ko_gguf_get_u64(g, key, &u) == 0)
        return cJSON_CreateNumber((double)u);
    if (ko_gguf_get_f64(g, key, &f) == 0) return cJSON_CreateNumber(f);
    ko_fail(e, "%s: metadata %s: an array where a single value is expected (not supported)", ko_gguf_path(g), key);
    return NULL;
}

static int add_keys(ko_gguf_hf *h, const char *prefix, const key_map *map, ko_err *e) {
    for (const key_map *k = map; k->gguf; k++) {
        char key[160];
        snprintf(key, sizeof key, "%s%s", prefix, k->gguf);
        if (!ko_gguf_find(h->g, key)) continue;
        cJSON *v = kv_json(h->g, key, e);
        if (!v) return -1;
        cJSON_DeleteItemFromObjectCaseSensitive(h->config, k->hf);
        cJSON_AddItemToObject(h->config, k->hf, v);
    }
    return 0;
}

static bool str_eq(ko_gguf_str s, const char *c) { return s.n == strlen(c) && memcmp(s.p, c, s.n) == 0; }

static int build_config(ko_gguf_hf *h, ko_err *e) {
    ko_gguf_str arch;
    if (ko_gguf_get_str(h->g, "general.architecture", &arch) != 0)
        return ko_fail(e, "%s: no general.architecture string (not a model GGUF?)", h->path);
    for (size_t i = 0; i < N_ARCHES; i++)
        if (str_eq(arch, ARCHES[i].arch)) h->a = &ARCHES[i];
    if (!h->a) {
        char shown[64];
        snprintf(shown, sizeof shown, "%.*s", (int)(arch.n < 40 ? arch.n : 40), arch.p);
        return ko_fail(e, "%s: GGUF architecture '%s' is not supported (supported: llama, qwen2, gemma2, gemma3)", h->path,
                       shown);
    }
    h->config = cJSON_CreateObject();
    const char *mt = h->a->model_type;
    ko_gguf_str name;
    /* transformers: `"mistral" in model_name` over the list [general.name], i.e. an exact match */
    if (h->a->fix == FIX_LLAMA_PERMUTE && ko_gguf_get_str(h->g, "general.name", &name) == 0 && str_eq(name, "mistral"))
        mt = "mistral";
    cJSON_AddStringToObject(h->config, "model_type", mt);
    char prefix[80];
    snprintf(prefix, sizeof prefix, "%s.", h->a->arch);
    if (add_keys(h, prefix, COMMON, e) || add_keys(h, prefix, h->a->keys, e) || add_keys(h, "", TOKENIZER, e)) return -1;
    cJSON_AddBoolToObject(h->config, "tie_word_embeddings", ko_gguf_find_tensor(h->g, "output.weight") == NULL);
    if (!cJSON_GetObjectItemCaseSensitive(h->config, "vocab_size")) {
        const ko_gguf_kv *tok = ko_gguf_find(h->g, "tokenizer.ggml.tokens");
        if (tok && tok->type == KO_GGUF_ARRAY) cJSON_AddNumberToObject(h->config, "vocab_size", (double)tok->arr_n);
    }
    const cJSON *nh = cJSON_GetObjectItemCaseSensitive(h->config, "num_attention_heads");
    const cJSON *nkv = cJSON_GetObjectItemCaseSensitive(h->config, "num_key_value_heads");
    h->n_heads = cJSON_IsNumber(nh) ? (int)nh->valuedouble : 0;
    h->n_kv_heads = cJSON_IsNumber(nkv) ? (int)nkv->valuedouble : 0;
    return 0;
}

int ko_gguf_hf_open(const char *path, ko_gguf_hf **out, ko_err *e) {
    ko_gguf_hf *h = ko_xcalloc(1, sizeof *h);
    h->path = ko_xstrdup(path);
    *out = NULL;
    if (ko_gguf_open(path, &h->g, e) != 0 || build_config(h, e) != 0) {
        ko_gguf_hf_close(h);
        return -1;
    }
    *out = h;
    return 0;
}

const cJSON *ko_gguf_hf_config(const ko_gguf_hf *h) { return h->config; }

const char *ko_gguf_hf_name(const ko_gguf_hf *h, const char *hf, char *buf, size_t cap) {
    for (size_t i = 0; i < sizeof TOP_NAMES / sizeof *TOP_NAMES; i++)
        if (strcmp(hf, TOP_NAMES[i].hf) == 0) return snprintf(buf, cap, "%s", TOP_NAMES[i].gguf), buf;
    int layer, used = 0;
    if (sscanf(hf, "model.layers.%d.%n", &layer, &used) != 1 || used == 0 || layer < 0) return NULL;
    for (size_t i = 0; i < sizeof LAYER_NAMES / sizeof *LAYER_NAMES; i++) {
        const name_map *n = &LAYER_NAMES[i];
        if ((n->norms == ANY || n->norms == h->a->norms) && strcmp(hf + used, n->hf) == 0) {
            snprintf(buf, cap, "blk.%d.%s", layer, n->gguf);
            return buf;
        }
    }
    return NULL;
}

/* llama.cpp stores each head's q/k rows as [r0, r_half, r1, r_half+1, ...] (pairs interleaved for
 * its RoPE); transformers' _reverse_permute_weights restores [r0, r1, ..., r_half, ...]:
 * HF row h*2d + j*d + i = GGUF row h*2d + 2i + j. */
static void unpermute(float *w, int64_t rows, int64_t row_len, int n_head) {
    int64_t d = rows / n_head / 2;
    float *tmp = ko_xmalloc((size_t)(rows * row_len) * sizeof *tmp);
    for (int64_t hd = 0; hd < n_head; hd++)
        for (int64_t j = 0; j < 2; j++)
            for (int64_t i = 0; i < d; i++)
                memcpy(tmp + ((hd * 2 + j) * d + i) * row_len, w + (hd * 2 * d + 2 * i + j) * row_len,
                       (size_t)row_len * sizeof *w);
    memcpy(w, tmp, (size_t)(rows * row_len) * sizeof *w);
    free(tmp);
}

static bool has(const char *s, const char *sub) { return strstr(s, sub) != NULL; }

int ko_gguf_hf_lookup(void *ctx, const char *hf, ko_tensor *out, ko_err *e) {
    ko_gguf_hf *h = ctx;
    char gname[160];
    if (!ko_gguf_hf_name(h, hf, gname, sizeof gname)) return 1;
    if (!h->g) return ko_fail(e, "%s: tensor '%s' asked for after the file was released", h->path, hf);
    const ko_gguf_tensor *t = ko_gguf_find_tensor(h->g, gname);
    if (!t) return 1;
    memset(out, 0, sizeof *out);
    out->dtype = KO_F32;
    out->ndim = (int)t->n_dims;
    for (uint32_t d = 0; d < t->n_dims; d++) out->shape[d] = (int64_t)t->ne[t->n_dims - 1 - d];
    for (int i = 0; i < h->n_done; i++)
        if (h->done[i].src == t) {
            out->data = h->done[i].data;
            return 0;
        }
    int64_t n = ko_gguf_tensor_numel(t);
    if (!ko_gguf_can_dequant(t->type))
        return ko_fail(e, "%s: tensor '%s' is %s, which koeval cannot dequantise (supported: F32, F16, BF16, Q8_0, Q4_0, "
                          "Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K)", h->path, gname, ko_gguf_type_name(t->type));
    float *y = ko_xmalloc((size_t)n * sizeof *y);
    if (ko_gguf_dequant(t, y, e) != 0) {
        free(y);
        return ko_fail_prefix(e, "%s", h->path);
    }
    /* the same tests transformers makes on the GGUF name */
    if (h->a->fix == FIX_GEMMA_NORM && has(gname, "norm.weight")) {
        for (int64_t i = 0; i < n; i++) y[i] = y[i] - 1.0f;
    } else if (h->a->fix == FIX_LLAMA_PERMUTE && (has(gname, ".attn_q.") || has(gname, ".attn_k.")) &&
               h->n_heads > 0 && h->n_kv_heads > 0) {
        int heads = has(gname, ".attn_q.") ? h->n_heads : h->n_kv_heads;
        int64_t rows = out->shape[0];
        if (rows % (2 * heads) != 0) {
            free(y);
            return ko_fail(e, "%s: tensor '%s' has %lld rows, not a multiple of 2 x %d heads", h->path, gname,
                           (long long)rows, heads);
        }
        unpermute(y, rows, n / rows, heads);
    }
    h->done = ko_xrealloc(h->done, (size_t)(h->n_done + 1) * sizeof *h->done);
    h->done[h->n_done++] = (done){t, y};
    out->data = y;
    return 0;
}

void ko_gguf_hf_release_file(ko_gguf_hf *h) {
    ko_gguf_close(h->g);
    h->g = NULL;
}

void ko_gguf_hf_close(void *ctx) {
    ko_gguf_hf *h = ctx;
    if (!h) return;
    for (int i = 0; i < h->n_done; i++) free(h->done[i].data);
    free(h->done);
    ko_gguf_close(h->g);
    cJSON_Delete(h->config);
    free(h->path);
    free(h);
}
