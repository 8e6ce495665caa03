/* model.h — a loaded model: its config (one decoder, a table of differences per architecture) and
 * its weights as host tensors (memory-mapped safetensors, or GGUF dequantised on load).
 *
 * Both backends (engine/cpu, engine/cuda) consume exactly this; neither knows file formats.
 */
#ifndef KO_MODEL_H
#define KO_MODEL_H

#include "common/ko.h"

typedef enum ko_dtype { KO_F32 = 0, KO_F16 = 1, KO_BF16 = 2 } ko_dtype;
size_t ko_dtype_size(ko_dtype t);
const char *ko_dtype_name(ko_dtype t);     /* "F32", "F16", "BF16" (safetensors' names) */
const char *ko_dtype_hf_name(ko_dtype t);  /* "float32", "float16", "bfloat16" (torch's names) */
/* torch's names and their short forms (bf16, fp16, half, fp32, float) -> *out; -1 if none. */
int ko_dtype_parse(const char *name, ko_dtype *out);
/* float -> half / bfloat16 bits, rounded to nearest even (torch's conversions); x rounded to t as a
 * float (F32: x itself). */
uint16_t ko_f32_to_f16(float x);
uint16_t ko_f32_to_bf16(float x);
float ko_dtype_round(ko_dtype t, float x);

/* A host tensor, row-major. Linear weights keep HF's layout: [out_features, in_features]. */
typedef struct ko_tensor {
    ko_dtype dtype;
    int ndim;
    int64_t shape[4];
    const void *data;        /* NULL when absent (e.g. no bias) */
} ko_tensor;
int64_t ko_tensor_numel(const ko_tensor *t);
/* Element i as float (any dtype). */
float ko_tensor_get(const ko_tensor *t, int64_t i);
/* Converts n elements from t (starting at element off) to f32. */
void ko_tensor_to_f32(const ko_tensor *t, int64_t off, int64_t n, float *dst);

typedef enum ko_act { KO_ACT_SILU = 0, KO_ACT_GELU_TANH = 1, KO_ACT_GELU = 2 } ko_act;
typedef enum ko_rope_kind { KO_ROPE_DEFAULT = 0, KO_ROPE_LINEAR = 1, KO_ROPE_LLAMA3 = 2 } ko_rope_kind;

typedef struct ko_rope {
    double theta;               /* base */
    ko_rope_kind kind;
    double factor;              /* linear / llama3 */
    double low_freq_factor, high_freq_factor; /* llama3 */
    int original_max_pos;       /* llama3 */
} ko_rope;

/* Everything the shared decoder needs to know. Filled from config.json or GGUF metadata through the
 * per-architecture table in engine/model/arch.c. */
typedef struct ko_config {
    char model_type[32];        /* "gemma3_text", "gemma2", "llama", "mistral", "qwen2", "exaone" */
    int vocab_size;
    int hidden;                 /* d_model */
    int n_layers;
    int n_heads, n_kv_heads, head_dim;
    int intermediate;
    int max_pos;                /* max_position_embeddings */
    double rms_eps;
    bool norm_plus_one;         /* Gemma: y = x_hat * (1 + w) */
    bool qk_norm;               /* Gemma 3: RMSNorm over head_dim on q and k */
    bool post_norms;            /* Gemma 2/3: post_attention_layernorm + pre/post_feedforward_layernorm */
    bool qkv_bias;              /* Qwen2 */
    bool tie_embeddings;        /* lm_head = embed */
    bool scale_embeddings;      /* Gemma: x *= sqrt(hidden), rounded to the weight dtype */
    ko_act act;
    double attn_scale;          /* softmax scale: head_dim^-0.5 or query_pre_attn_scalar^-0.5 */
    double attn_softcap;        /* 0 = none (Gemma 2: 50) */
    double final_softcap;       /* 0 = none (Gemma 2: 30) */
    int sliding_window;         /* 0 = none; keys with q_pos - k_pos >= window are masked */
    bool *layer_sliding;        /* [n_layers]: layer uses the sliding window and rope_local */
    ko_rope rope;               /* global (full-attention) layers */
    ko_rope rope_local;         /* sliding layers (Gemma 3: rope_local_base_freq, no scaling);
                                   equal to rope for other architectures */
    int bos_id, eos_id, pad_id; /* -1 when unknown */
} ko_config;

typedef struct ko_layer {
    ko_tensor attn_norm;                 /* input_layernorm [hidden] */
    ko_tensor wq, wk, wv, wo;            /* [nh*hd, hidden], [nkv*hd, hidden] x2, [hidden, nh*hd] */
    ko_tensor bq, bk, bv;                /* qkv biases (Qwen2), else data == NULL */
    ko_tensor q_norm, k_norm;            /* [head_dim] (Gemma 3) */
    ko_tensor post_attn_norm;            /* Gemma 2/3 */
    ko_tensor ffn_norm;                  /* post_attention_layernorm (llama) / pre_feedforward (gemma) */
    ko_tensor post_ffn_norm;             /* Gemma 2/3 */
    ko_tensor w_gate, w_up, w_down;      /* [inter, hidden] x2, [hidden, inter] */
} ko_layer;

typedef struct ko_model {
    ko_config cfg;
    ko_dtype dtype;              /* dtype of the stored weights (F32 for dequantised GGUF) */
    ko_dtype auto_dtype;         /* lm-eval's dtype="auto" (HF from_pretrained): config.json's "dtype" /
                                  * "torch_dtype" when it names one, else the stored dtype (a GGUF: F32) */
    ko_tensor embed;             /* [vocab, hidden] */
    ko_tensor final_norm;        /* [hidden] */
    ko_tensor lm_head;           /* [vocab, hidden]; == embed when tied */
    ko_layer *layers;            /* [n_layers] */
    char *path;                  /* what was loaded */
    char *tokenizer_path;        /* tokenizer.json beside the weights, else the GGUF itself, else NULL */
    size_t weight_bytes;         /* bytes of all tensors as stored */
    void *priv;                  /* the loader's mappings / buffers */
} ko_model;

/* Resolves --model: a folder or .gguf path; else a name looked up in $KOEVAL_MODELS, then in the HF
 * cache ($HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub: models--ORG--NAME/snapshots/(any)/),
 * "gemma-3-12b-it" matching models--google--gemma-3-12b-it. No network. On failure the error lists
 * where it looked. Returns a malloc'd path. */
int ko_model_resolve(const char *name, char **path, ko_err *e);

/* Loads and validates a model (HF folder with config.json + safetensors, or a .gguf file). */
int ko_model_load(const char *path, ko_model **out, ko_err *e);
void ko_model_free(ko_model *m);

#endif
