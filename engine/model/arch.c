/* arch.c — one decoder, many architectures: the table of differences, config.json -> ko_config, and
 * HF tensor names -> ko_layer with every shape checked (loader.h, arch.h).
 *
 * The truth for every default is transformers' configuration class of the model_type (5.x,
 * configuration_<type>.py: the value used when config.json lacks the key), and its modeling file for
 * what the keys mean. Older and newer config.json spellings are both read: rope_theta + rope_scaling
 * (hub checkpoints) and rope_parameters (transformers >= 5 saves), num_layers / num_hidden_layers
 * (EXAONE's own config vs transformers'), sliding_window_pattern vs layer_types.
 */
#include "engine/model/arch.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model/gptq.h"
#include "engine/model/loader.h"

/* Which layers use the sliding window (and, for Gemma 3, the local RoPE) when config.json has no
 * layer_types list (or, for Mistral, always: transformers ignores layer_types there). */
typedef enum slide_rule {
    SLIDE_NONE,      /* llama, exaone: full attention everywhere, sliding_window ignored */
    SLIDE_ALL,       /* mistral: every layer, when sliding_window is not null */
    SLIDE_PATTERN,   /* gemma2/3: layer i slides unless (i + 1) % pattern == 0 */
    SLIDE_QWEN2      /* qwen2: layers i >= max_window_layers, only when use_sliding_window */
} slide_rule;

typedef enum name_scheme { NAMES_HF, NAMES_EXAONE } name_scheme;

typedef struct arch {
    const char *model_type;      /* config.json "model_type" */
    const char *architecture;    /* "architectures"[0], used when model_type is absent */
    const char *as_type;         /* what ko_config.model_type says */
    bool text_config;            /* multimodal wrapper: the text model's keys are under text_config */
    name_scheme names;
    /* Defaults of the config class. kv_heads 0 = num_attention_heads; head_dim 0 = hidden / heads. */
    int vocab, hidden, inter, layers, heads, kv_heads, head_dim, max_pos;
    double eps;
    const char *act_key, *act;
    bool tie;
    double theta;                /* rope_theta default (global layers) */
    double theta_local;          /* Gemma 3: rope_local_base_freq default; 0 = one RoPE for all layers */
    int bos, eos, pad;           /* -1 = None */
    int qpas;                    /* query_pre_attn_scalar default; 0 = the key does not exist */
    int window;                  /* sliding_window default; 0 = None */
    double attn_cap, final_cap;  /* softcapping defaults; 0 = None */
    slide_rule slide;
    int pattern;                 /* SLIDE_PATTERN */
    const char *pattern_key;     /* config key overriding pattern (NULL: fixed) */
    bool bias_keys;              /* attention_bias / mlp_bias keys exist (refused when true) */
    /* The decoder's switches. */
    bool plus_one, qk_norm, post_norms, qkv_bias, scale_emb;
    const char *alias[3][2];     /* {transformers key, the checkpoint's own spelling} */
} arch;

/* clang-format off */
static const arch ARCHES[] = {
    /* Gemma3TextConfig; Gemma3Config wraps it (tie_word_embeddings on the wrapper, default True). */
    {.model_type = "gemma3_text", .architecture = "Gemma3ForCausalLM", .as_type = "gemma3_text",
     .vocab = 262208, .hidden = 2304, .inter = 9216, .layers = 26, .heads = 8, .kv_heads = 4, .head_dim = 256,
     .max_pos = 131072, .eps = 1e-6, .act_key = "hidden_activation", .act = "gelu_pytorch_tanh", .tie = true,
     .theta = 1000000.0, .theta_local = 10000.0, .bos = 2, .eos = 1, .pad = 0, .qpas = 256, .window = 4096,
     .slide = SLIDE_PATTERN, .pattern = 6, .pattern_key = "sliding_window_pattern", .bias_keys = true,
     .plus_one = true, .qk_norm = true, .post_norms = true, .scale_emb = true},
    {.model_type = "gemma3", .architecture = "Gemma3ForConditionalGeneration", .as_type = "gemma3_text",
     .text_config = true,
     .vocab = 262208, .hidden = 2304, .inter = 9216, .layers = 26, .heads = 8, .kv_heads = 4, .head_dim = 256,
     .max_pos = 131072, .eps = 1e-6, .act_key = "hidden_activation", .act = "gelu_pytorch_tanh", .tie = true,
     .theta = 1000000.0, .theta_local = 10000.0, .bos = 2, .eos = 1, .pad = 0, .qpas = 256, .window = 4096,
     .slide = SLIDE_PATTERN, .pattern = 6, .pattern_key = "sliding_window_pattern", .bias_keys = true,
     .plus_one = true, .qk_norm = true, .post_norms = true, .scale_emb = true},
    /* Gemma2Config: layer_types default alternates, even layers sliding. */
    {.model_type = "gemma2", .architecture = "Gemma2ForCausalLM", .as_type = "gemma2",
     .vocab = 256000, .hidden = 2304, .inter = 9216, .layers = 26, .heads = 8, .kv_heads = 4, .head_dim = 256,
     .max_pos = 8192, .eps = 1e-6, .act_key = "hidden_activation", .act = "gelu_pytorch_tanh", .tie = true,
     .theta = 10000.0, .bos = 2, .eos = 1, .pad = 0, .qpas = 256, .window = 4096, .attn_cap = 50.0,
     .final_cap = 30.0, .slide = SLIDE_PATTERN, .pattern = 2, .bias_keys = true,
     .plus_one = true, .post_norms = true, .scale_emb = true},
    /* LlamaConfig (kanana-nano is llama). */
    {.model_type = "llama", .architecture = "LlamaForCausalLM", .as_type = "llama",
     .vocab = 32000, .hidden = 4096, .inter = 11008, .layers = 32, .heads = 32, .max_pos = 2048, .eps = 1e-6,
     .act_key = "hidden_act", .act = "silu", .theta = 10000.0, .bos = 1, .eos = 2, .pad = -1,
     .slide = SLIDE_NONE, .bias_keys = true},
    /* MistralConfig: sliding_window 4096 unless null (v0.2+ set null). */
    {.model_type = "mistral", .architecture = "MistralForCausalLM", .as_type = "mistral",
     .vocab = 32000, .hidden = 4096, .inter = 14336, .layers = 32, .heads = 32, .kv_heads = 8, .max_pos = 131072,
     .eps = 1e-6, .act_key = "hidden_act", .act = "silu", .theta = 10000.0, .bos = 1, .eos = 2, .pad = -1,
     .window = 4096, .slide = SLIDE_ALL},
    /* Qwen2Config: q/k/v biases always; sliding only with use_sliding_window. */
    {.model_type = "qwen2", .architecture = "Qwen2ForCausalLM", .as_type = "qwen2",
     .vocab = 151936, .hidden = 4096, .inter = 22016, .layers = 32, .heads = 32, .kv_heads = 32, .max_pos = 32768,
     .eps = 1e-6, .act_key = "hidden_act", .act = "silu", .theta = 10000.0, .bos = -1, .eos = -1, .pad = -1,
     .window = 4096, .slide = SLIDE_QWEN2, .qkv_bias = true},
    /* ExaoneConfig (transformers runs it as Llama; EXAONE 3.x checkpoints keep their own tensor names and
     * spell three keys their own way). */
    {.model_type = "exaone", .architecture = "ExaoneForCausalLM", .as_type = "exaone", .names = NAMES_EXAONE,
     .vocab = 102400, .hidden = 4096, .inter = 14336, .layers = 32, .heads = 32, .kv_heads = 8, .max_pos = 4096,
     .eps = 1e-5, .act_key = "hidden_act", .act = "silu", .theta = 500000.0, .bos = 1, .eos = 361, .pad = 0,
     .slide = SLIDE_NONE, .bias_keys = true,
     .alias = {{"num_hidden_layers", "num_layers"}, {"rms_norm_eps", "layer_norm_epsilon"},
               {"hidden_act", "activation_function"}}},
};
/* clang-format on */
#define N_ARCHES ((int)(sizeof ARCHES / sizeof *ARCHES))

const char *const ko_arch_types[] = {"gemma3", "gemma3_text", "gemma2", "llama", "mistral", "qwen2", "exaone", NULL};

/* ---- reading config values ---- */

/* The item for key, through the row's aliases; NULL when absent (a JSON null is returned as is). */
static const cJSON *key(const arch *a, const cJSON *obj, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, k);
    for (int i = 0; !v && i < 3 && a->alias[i][0]; i++)
        if (strcmp(a->alias[i][0], k) == 0) v = cJSON_GetObjectItemCaseSensitive(obj, a->alias[i][1]);
    return v;
}

static bool is_int(const cJSON *v) {
    return cJSON_IsNumber(v) && fabs(v->valuedouble) < 2147483648.0 && v->valuedouble == floor(v->valuedouble);
}

/* An integer key: absent -> def; null -> -1 (None) when null_ok, else an error; otherwise an integer
 * in [lo, hi]. */
static int get_int(const arch *a, const cJSON *obj, const char *k, int def, int lo, int hi, bool null_ok, int *out,
                   ko_err *e) {
    const cJSON *v = key(a, obj, k);
    if (!v) {
        *out = def;
        return 0;
    }
    if (cJSON_IsNull(v)) {
        if (!null_ok) return ko_fail(e, "config key %s is null", k);
        *out = -1;
        return 0;
    }
    if (!is_int(v) || v->valuedouble < lo || v->valuedouble > hi)
        return ko_fail(e, "config key %s must be an integer in [%d, %d]", k, lo, hi);
    *out = (int)v->valuedouble;
    return 0;
}

/* A number key: absent -> def; null -> 0 when null_ok (None). */
static int get_num(const arch *a, const cJSON *obj, const char *k, double def, bool null_ok, double *out, ko_err *e) {
    const cJSON *v = key(a, obj, k);
    if (!v) {
        *out = def;
        return 0;
    }
    if (cJSON_IsNull(v) && null_ok) {
        *out = 0;
        return 0;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return ko_fail(e, "config key %s must be a number", k);
    *out = v->valuedouble;
    return 0;
}

static int get_bool(const arch *a, const cJSON *obj, const char *k, bool def, bool *out, ko_err *e) {
    const cJSON *v = key(a, obj, k);
    if (!v || cJSON_IsNull(v)) {
        *out = def;
        return 0;
    }
    if (!cJSON_IsBool(v)) return ko_fail(e, "config key %s must be true or false", k);
    *out = cJSON_IsTrue(v);
    return 0;
}

/* bos/eos/pad of the text model's config: an id, a list of ids (the first is taken), or null. */
static int get_token(const arch *a, const cJSON *text, const char *k, int def, int *out, ko_err *e) {
    const cJSON *v = key(a, text, k);
    if (!v) {
        *out = def;
        return 0;
    }
    if (cJSON_IsArray(v)) v = v->child;
    if (!v || cJSON_IsNull(v)) {
        *out = -1;
        return 0;
    }
    if (!is_int(v) || v->valuedouble < 0) return ko_fail(e, "config key %s must be a token id", k);
    *out = (int)v->valuedouble;
    return 0;
}

/* ---- RoPE ---- */

/* dict.setdefault(k, number) on a cJSON object we own. */
static void set_default_num(cJSON *o, const char *k, double v) {
    if (!cJSON_GetObjectItemCaseSensitive(o, k)) cJSON_AddNumberToObject(o, k, v);
}

/* dict.update(src) */
static void update(cJSON *dst, const cJSON *src) {
    for (const cJSON *it = src->child; it; it = it->next) {
        cJSON_DeleteItemFromObjectCaseSensitive(dst, it->string);
        cJSON_AddItemToObject(dst, it->string, cJSON_Duplicate(it, 1));
    }
}

static cJSON *dup_or_default(const cJSON *o) {
    if (cJSON_IsObject(o)) return cJSON_Duplicate(o, 1);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "rope_type", "default");
    return d;
}

static int rope_num(const cJSON *p, const char *k, const char *which, double *out, ko_err *e) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, k);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return ko_fail(e, "RoPE parameters of the %s layers need a number %s", which, k);
    *out = v->valuedouble;
    return 0;
}

/* One standardised rope dict (transformers' standardize_rope_params) -> ko_rope. */
static int parse_rope(const cJSON *p, const cJSON *text, int max_pos, const char *which, ko_rope *r, ko_err *e) {
    memset(r, 0, sizeof *r);
    r->factor = 1.0;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(p, "rope_type");
    if (!t) t = cJSON_GetObjectItemCaseSensitive(p, "type");
    const char *type = cJSON_IsString(t) ? t->valuestring : "default";
    if (rope_num(p, "rope_theta", which, &r->theta, e) != 0) return -1;
    if (!(r->theta > 0)) return ko_fail(e, "rope_theta of the %s layers must be positive", which);
    const cJSON *prf = cJSON_GetObjectItemCaseSensitive(p, "partial_rotary_factor");
    if (!prf) prf = cJSON_GetObjectItemCaseSensitive(text, "partial_rotary_factor");
    if (prf && !cJSON_IsNull(prf) && !(cJSON_IsNumber(prf) && prf->valuedouble == 1.0))
        return ko_fail(e, "partial_rotary_factor other than 1 is not supported");
    if (strcmp(type, "default") == 0) {
        r->kind = KO_ROPE_DEFAULT;
    } else if (strcmp(type, "linear") == 0) {
        r->kind = KO_ROPE_LINEAR;
        if (rope_num(p, "factor", which, &r->factor, e) != 0) return -1;
        if (!(r->factor >= 1)) return ko_fail(e, "RoPE factor of the %s layers must be >= 1", which);
    } else if (strcmp(type, "llama3") == 0) {
        r->kind = KO_ROPE_LLAMA3;
        if (rope_num(p, "factor", which, &r->factor, e) != 0 ||
            rope_num(p, "low_freq_factor", which, &r->low_freq_factor, e) != 0 ||
            rope_num(p, "high_freq_factor", which, &r->high_freq_factor, e) != 0)
            return -1;
        if (!(r->factor >= 1) || !(r->low_freq_factor > 0) || !(r->high_freq_factor > r->low_freq_factor))
            return ko_fail(e, "llama3 RoPE of the %s layers needs factor >= 1 and high_freq_factor > low_freq_factor > 0",
                           which);
        /* transformers: the dict's value, else a top-level original_max_position_embeddings, else
         * max_position_embeddings. */
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(p, "original_max_position_embeddings");
        if (!o) o = cJSON_GetObjectItemCaseSensitive(text, "original_max_position_embeddings");
        if (o && (!is_int(o) || o->valuedouble < 1))
            return ko_fail(e, "original_max_position_embeddings must be a positive integer");
        r->original_max_pos = o ? (int)o->valuedouble : max_pos;
    } else {
        return ko_fail(e, "rope_type '%.40s' is not supported (default, linear, llama3)", type);
    }
    return 0;
}

/* The RoPE of full-attention (global) and sliding (local) layers, with transformers' precedence. */
static int ropes(const arch *a, const cJSON *text, int max_pos, ko_rope *global, ko_rope *local, ko_err *e) {
    const cJSON *scaling = cJSON_GetObjectItemCaseSensitive(text, "rope_scaling");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(text, "rope_parameters");
    if (!cJSON_IsObject(scaling)) scaling = NULL;
    if (!cJSON_IsObject(params)) params = NULL;
    double theta;
    if (get_num(a, text, "rope_theta", a->theta, false, &theta, e) != 0) return -1;
    cJSON *full, *slide;
    if (a->theta_local > 0) {
        /* Gemma3TextConfig.convert_rope_params_to_dict: nested per layer type; rope_scaling updates the
         * full-attention dict; rope_local_base_freq is the sliding layers' theta. */
        double theta_local;
        if (get_num(a, text, "rope_local_base_freq", a->theta_local, false, &theta_local, e) != 0) return -1;
        full = dup_or_default(params ? cJSON_GetObjectItemCaseSensitive(params, "full_attention") : NULL);
        slide = dup_or_default(params ? cJSON_GetObjectItemCaseSensitive(params, "sliding_attention") : NULL);
        if (scaling) update(full, scaling);
        set_default_num(full, "rope_theta", theta);
        set_default_num(slide, "rope_theta", theta_local);
    } else {
        /* RotaryEmbeddingConfigMixin: rope_scaling replaces rope_parameters; rope_theta fills in. A dict
         * nested by layer type is split. */
        const cJSON *base = scaling ? scaling : params;
        const cJSON *nf = base ? cJSON_GetObjectItemCaseSensitive(base, "full_attention") : NULL;
        const cJSON *ns = base ? cJSON_GetObjectItemCaseSensitive(base, "sliding_attention") : NULL;
        if (cJSON_IsObject(nf) || cJSON_IsObject(ns)) {
            full = cJSON_Duplicate(cJSON_IsObject(nf) ? nf : ns, 1);
            slide = cJSON_Duplicate(cJSON_IsObject(ns) ? ns : nf, 1);
        } else {
            full = base ? cJSON_Duplicate(base, 1) : cJSON_CreateObject();
            slide = cJSON_Duplicate(full, 1);
        }
        set_default_num(full, "rope_theta", theta);
        set_default_num(slide, "rope_theta", theta);
    }
    int rc = parse_rope(full, text, max_pos, "full-attention", global, e);
    if (rc == 0) rc = parse_rope(slide, text, max_pos, "sliding", local, e);
    cJSON_Delete(full);
    cJSON_Delete(slide);
    return rc;
}

/* ---- config ---- */

static const arch *find_arch(const cJSON *config, ko_err *e) {
    /* Quantized checkpoints keep packed integer weights under other tensor names: GPTQ is read
     * (gptq.c); for any other method say so instead of reporting a missing q_proj.weight. */
    ko_gptq_params gp;
    bool quantized;
    if (ko_gptq_params_from(config, &gp, &quantized, e) != 0) return NULL;
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(config, "model_type");
    if (cJSON_IsString(mt)) {
        for (int i = 0; i < N_ARCHES; i++)
            if (strcmp(ARCHES[i].model_type, mt->valuestring) == 0) return &ARCHES[i];
        const char *near = ko_nearest(mt->valuestring, ko_arch_types, N_ARCHES);
        ko_fail(e, "model_type '%.60s' is not supported (supported: gemma3, gemma3_text, gemma2, llama, mistral, "
                   "qwen2, exaone)%s%s%s",
                mt->valuestring, near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
        return NULL;
    }
    if (mt && !cJSON_IsNull(mt)) {
        ko_fail(e, "config key model_type is not a string");
        return NULL;
    }
    const cJSON *ar = cJSON_GetObjectItemCaseSensitive(config, "architectures");
    const cJSON *a0 = cJSON_IsArray(ar) ? ar->child : NULL;
    if (cJSON_IsString(a0)) {
        for (int i = 0; i < N_ARCHES; i++)
            if (strcmp(ARCHES[i].architecture, a0->valuestring) == 0) return &ARCHES[i];
        ko_fail(e, "config has no model_type and architecture '%.60s' is not supported", a0->valuestring);
        return NULL;
    }
    ko_fail(e, "config has neither model_type nor architectures");
    return NULL;
}

static int parse_act(const char *s, ko_act *out) {
    static const struct {
        const char *name;
        ko_act act;
    } ACTS[] = {{"silu", KO_ACT_SILU},
                {"swish", KO_ACT_SILU},
                {"gelu_pytorch_tanh", KO_ACT_GELU_TANH},
                {"gelu_new", KO_ACT_GELU_TANH},
                {"gelu", KO_ACT_GELU}};
    for (size_t i = 0; i < sizeof ACTS / sizeof *ACTS; i++)
        if (strcmp(ACTS[i].name, s) == 0) {
            *out = ACTS[i].act;
            return 0;
        }
    return -1;
}

/* layer_types (when the architecture honours it) or the row's rule -> cfg->layer_sliding. */
static int sliding_layers(const arch *a, const cJSON *text, ko_config *c, ko_err *e) {
    c->layer_sliding = ko_xcalloc((size_t)c->n_layers, sizeof *c->layer_sliding);
    const cJSON *lt = cJSON_GetObjectItemCaseSensitive(text, "layer_types");
    if (a->slide != SLIDE_NONE && a->slide != SLIDE_ALL && lt && !cJSON_IsNull(lt)) {
        if (!cJSON_IsArray(lt) || cJSON_GetArraySize(lt) != c->n_layers)
            return ko_fail(e, "config key layer_types must list one type per layer (%d)", c->n_layers);
        int i = 0;
        for (const cJSON *t = lt->child; t; t = t->next, i++) {
            if (cJSON_IsString(t) && strcmp(t->valuestring, "sliding_attention") == 0)
                c->layer_sliding[i] = true;
            else if (!cJSON_IsString(t) || strcmp(t->valuestring, "full_attention") != 0)
                return ko_fail(e, "layer_types[%d] must be \"full_attention\" or \"sliding_attention\"", i);
        }
        return 0;
    }
    int pattern = a->pattern, mwl = 28;
    switch (a->slide) {
    case SLIDE_NONE: break;
    case SLIDE_ALL:
        for (int i = 0; i < c->n_layers; i++) c->layer_sliding[i] = c->sliding_window > 0;
        break;
    case SLIDE_PATTERN:
        if (a->pattern_key && get_int(a, text, a->pattern_key, a->pattern, 1, 1 << 20, false, &pattern, e) != 0)
            return -1;
        for (int i = 0; i < c->n_layers; i++) c->layer_sliding[i] = (i + 1) % pattern != 0;
        break;
    case SLIDE_QWEN2:
        if (get_int(a, text, "max_window_layers", 28, 0, 1 << 20, false, &mwl, e) != 0) return -1;
        for (int i = 0; i < c->n_layers; i++) c->layer_sliding[i] = c->sliding_window > 0 && i >= mwl;
        break;
    }
    return 0;
}

static int config_from(const arch *a, const cJSON *top, ko_config *c, ko_err *e) {
    memset(c, 0, sizeof *c); /* first: the callers free c->layer_sliding on any failure */
    const cJSON *text = top;
    if (a->text_config) {
        text = cJSON_GetObjectItemCaseSensitive(top, "text_config");
        if (text && !cJSON_IsNull(text) && !cJSON_IsObject(text))
            return ko_fail(e, "config key text_config is not an object");
        static cJSON empty = {.type = cJSON_Object};
        if (!cJSON_IsObject(text)) text = &empty; /* Gemma3Config(text_config=None): all defaults */
    }
    snprintf(c->model_type, sizeof c->model_type, "%s", a->as_type);
    const int BIG = 1 << 24;
    int kv = 0, hd = 0;
    if (get_int(a, text, "vocab_size", a->vocab, 1, BIG, false, &c->vocab_size, e) ||
        get_int(a, text, "hidden_size", a->hidden, 1, BIG, false, &c->hidden, e) ||
        get_int(a, text, "intermediate_size", a->inter, 1, BIG, false, &c->intermediate, e) ||
        get_int(a, text, "num_hidden_layers", a->layers, 1, 4096, false, &c->n_layers, e) ||
        get_int(a, text, "num_attention_heads", a->heads, 1, 65536, false, &c->n_heads, e) ||
        get_int(a, text, "num_key_value_heads", a->kv_heads, 1, 65536, true, &kv, e) ||
        get_int(a, text, "head_dim", a->head_dim, 1, 65536, true, &hd, e) ||
        get_int(a, text, "max_position_embeddings", a->max_pos, 1, 1 << 30, false, &c->max_pos, e) ||
        get_num(a, text, "rms_norm_eps", a->eps, false, &c->rms_eps, e))
        return -1;
    c->n_kv_heads = kv > 0 ? kv : c->n_heads;
    c->head_dim = hd > 0 ? hd : c->hidden / c->n_heads;
    if (c->head_dim < 2 || c->head_dim % 2)
        return ko_fail(e, "head_dim %d must be even and positive (hidden_size %d / num_attention_heads %d)",
                       c->head_dim, c->hidden, c->n_heads);
    if (c->n_heads % c->n_kv_heads)
        return ko_fail(e, "num_attention_heads %d is not a multiple of num_key_value_heads %d", c->n_heads,
                       c->n_kv_heads);
    if (!(c->rms_eps > 0)) return ko_fail(e, "rms_norm_eps must be positive");

    const cJSON *act = key(a, text, a->act_key);
    const char *act_s = cJSON_IsString(act) ? act->valuestring : a->act;
    if (act && !cJSON_IsNull(act) && !cJSON_IsString(act)) return ko_fail(e, "config key %s is not a string", a->act_key);
    if (parse_act(act_s, &c->act) != 0)
        return ko_fail(e, "%s '%.40s' is not supported (silu, gelu_pytorch_tanh, gelu_new, gelu)", a->act_key, act_s);

    if (get_bool(a, top, "tie_word_embeddings", a->tie, &c->tie_embeddings, e) != 0) return -1;
    if (a->bias_keys) {
        bool ab = false, mb = false;
        if (get_bool(a, text, "attention_bias", false, &ab, e) || get_bool(a, text, "mlp_bias", false, &mb, e)) return -1;
        if (ab || mb) return ko_fail(e, "%s true (biases on every projection) is not supported",
                                     ab ? "attention_bias" : "mlp_bias");
    }
    bool bidir = false; /* Gemma 2/3's configs have the key (EmbeddingGemma sets it) */
    if (a->post_norms && get_bool(a, text, "use_bidirectional_attention", false, &bidir, e) != 0) return -1;
    if (bidir) return ko_fail(e, "use_bidirectional_attention true (an embedding model) is not supported");

    c->norm_plus_one = a->plus_one;
    c->qk_norm = a->qk_norm;
    c->post_norms = a->post_norms;
    c->qkv_bias = a->qkv_bias;
    c->scale_embeddings = a->scale_emb;

    /* Softmax scale: query_pre_attn_scalar^-0.5 where the architecture has it, else head_dim^-0.5. */
    double qpas = 0;
    if (a->qpas && get_num(a, text, "query_pre_attn_scalar", a->qpas, false, &qpas, e) != 0) return -1;
    if (a->qpas && !(qpas > 0)) return ko_fail(e, "query_pre_attn_scalar must be positive");
    c->attn_scale = 1.0 / sqrt(a->qpas ? qpas : (double)c->head_dim);
    if (a->post_norms) { /* the softcapping keys exist on Gemma 2 and 3 only */
        if (get_num(a, text, "attn_logit_softcapping", a->attn_cap, true, &c->attn_softcap, e) ||
            get_num(a, text, "final_logit_softcapping", a->final_cap, true, &c->final_softcap, e))
            return -1;
        if (c->attn_softcap < 0 || c->final_softcap < 0) return ko_fail(e, "logit softcapping must be positive or null");
    }
    if (a->slide != SLIDE_NONE) {
        int w;
        bool use = true;
        if (get_int(a, text, "sliding_window", a->window, 1, 1 << 30, true, &w, e) != 0) return -1;
        /* Qwen2Config: sliding_window = sliding_window if use_sliding_window else None */
        if (a->slide == SLIDE_QWEN2 && get_bool(a, text, "use_sliding_window", false, &use, e) != 0) return -1;
        c->sliding_window = w > 0 && use ? w : 0;
    }
    if (get_token(a, text, "bos_token_id", a->bos, &c->bos_id, e) ||
        get_token(a, text, "eos_token_id", a->eos, &c->eos_id, e) ||
        get_token(a, text, "pad_token_id", a->pad, &c->pad_id, e))
        return -1;
    if (ropes(a, text, c->max_pos, &c->rope, &c->rope_local, e) != 0) return -1;
    if (sliding_layers(a, text, c, e) != 0) return -1;
    /* Without a window a "sliding" layer differs only where it has its own RoPE (Gemma 3). */
    if (!c->sliding_window && !a->theta_local) memset(c->layer_sliding, 0, (size_t)c->n_layers);
    return 0;
}

int ko_err_one_line(ko_err *e) {
    for (char *p = e ? e->msg : NULL; p && *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    return -1;
}

int ko_config_from_hf(const cJSON *config, ko_config *cfg, ko_err *e) {
    memset(cfg, 0, sizeof *cfg);
    if (!cJSON_IsObject(config)) return ko_fail(e, "config is not a JSON object");
    const arch *a = find_arch(config, e);
    if (!a) return ko_err_one_line(e);
    if (config_from(a, config, cfg, e) != 0) {
        free(cfg->layer_sliding);
        cfg->layer_sliding = NULL;
        ko_fail_prefix(e, "config (model_type %s)", a->model_type);
        return ko_err_one_line(e);
    }
    return 0;
}

/* ---- tensors ---- */

/* Dimensions named in the slot table, resolved against the config. */
enum { D_NONE, D_HIDDEN, D_Q, D_KV, D_HEAD, D_INTER };

/* When a layer tensor exists. */
enum { W_ALWAYS, W_QKV_BIAS, W_QK_NORM, W_POST_NORMS, W_NO_POST_NORMS };

typedef struct slot {
    size_t field;                /* offsetof(ko_layer, ...) */
    const char *name[2];         /* by name_scheme, after the layer prefix; NULL: not in that scheme */
    int rows, cols;              /* D_*; cols D_NONE for vectors */
    int when;
} slot;

static const char *const LAYER_PREFIX[2] = {"model.layers.%d.", "transformer.h.%d."};
static const char *const EMBED[2] = {"model.embed_tokens.weight", "transformer.wte.weight"};
static const char *const FINAL_NORM[2] = {"model.norm.weight", "transformer.ln_f.weight"};

#define F(x) offsetof(ko_layer, x)
static const slot SLOTS[] = {
    {F(attn_norm), {"input_layernorm.weight", "ln_1.weight"}, D_HIDDEN, D_NONE, W_ALWAYS},
    {F(wq), {"self_attn.q_proj.weight", "attn.attention.q_proj.weight"}, D_Q, D_HIDDEN, W_ALWAYS},
    {F(wk), {"self_attn.k_proj.weight", "attn.attention.k_proj.weight"}, D_KV, D_HIDDEN, W_ALWAYS},
    {F(wv), {"self_attn.v_proj.weight", "attn.attention.v_proj.weight"}, D_KV, D_HIDDEN, W_ALWAYS},
    {F(wo), {"self_attn.o_proj.weight", "attn.attention.out_proj.weight"}, D_HIDDEN, D_Q, W_ALWAYS},
    {F(bq), {"self_attn.q_proj.bias", NULL}, D_Q, D_NONE, W_QKV_BIAS},
    {F(bk), {"self_attn.k_proj.bias", NULL}, D_KV, D_NONE, W_QKV_BIAS},
    {F(bv), {"self_attn.v_proj.bias", NULL}, D_KV, D_NONE, W_QKV_BIAS},
    {F(q_norm), {"self_attn.q_norm.weight", NULL}, D_HEAD, D_NONE, W_QK_NORM},
    {F(k_norm), {"self_attn.k_norm.weight", NULL}, D_HEAD, D_NONE, W_QK_NORM},
    /* Gemma: post_attention_layernorm normalises the attention output; llama: it is the FFN's input norm. */
    {F(post_attn_norm), {"post_attention_layernorm.weight", NULL}, D_HIDDEN, D_NONE, W_POST_NORMS},
    {F(ffn_norm), {"pre_feedforward_layernorm.weight", NULL}, D_HIDDEN, D_NONE, W_POST_NORMS},
    {F(ffn_norm), {"post_attention_layernorm.weight", "ln_2.weight"}, D_HIDDEN, D_NONE, W_NO_POST_NORMS},
    {F(post_ffn_norm), {"post_feedforward_layernorm.weight", NULL}, D_HIDDEN, D_NONE, W_POST_NORMS},
    {F(w_gate), {"mlp.gate_proj.weight", "mlp.c_fc_0.weight"}, D_INTER, D_HIDDEN, W_ALWAYS},
    {F(w_up), {"mlp.up_proj.weight", "mlp.c_fc_1.weight"}, D_INTER, D_HIDDEN, W_ALWAYS},
    {F(w_down), {"mlp.down_proj.weight", "mlp.c_proj.weight"}, D_HIDDEN, D_INTER, W_ALWAYS},
};
#undef F

typedef struct fetch {
    ko_model *m;
    ko_tensor_lookup lookup;
    void *ctx;
    const char *first;           /* name of the tensor that set m->dtype */
} fetch;

static int64_t dim(const ko_config *c, int d) {
    switch (d) {
    case D_HIDDEN: return c->hidden;
    case D_Q: return (int64_t)c->n_heads * c->head_dim;
    case D_KV: return (int64_t)c->n_kv_heads * c->head_dim;
    case D_HEAD: return c->head_dim;
    case D_INTER: return c->intermediate;
    }
    return 0;
}

static void fmt_dims(const int64_t *s, int n, char *buf, size_t cap) {
    size_t k = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < n && k < cap; i++) k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? ", " : "", (long long)s[i]);
    if (k < cap) snprintf(buf + k, cap - k, "]");
}

/* Fetches a required tensor, checks its shape ([rows] or [rows, cols]) and the one-dtype rule. */
static int need(fetch *f, const char *name, int64_t rows, int64_t cols, ko_tensor *out, ko_err *e) {
    int rc = f->lookup(f->ctx, name, out, e);
    if (rc < 0) return -1;
    if (rc > 0) return ko_fail(e, "tensor '%s' is missing (model_type %s)", name, f->m->cfg.model_type);
    int64_t want[2] = {rows, cols};
    int nd = cols ? 2 : 1;
    bool ok = out->ndim == nd && out->shape[0] == rows && (nd == 1 || out->shape[1] == cols);
    if (!ok) {
        char got[96], exp[64];
        fmt_dims(out->shape, out->ndim, got, sizeof got);
        fmt_dims(want, nd, exp, sizeof exp);
        return ko_fail(e, "tensor '%s' has shape %s, expected %s", name, got, exp);
    }
    if (!out->data) return ko_fail(e, "tensor '%s' has no data", name);
    if (!f->first) {
        f->m->dtype = out->dtype;
        f->first = name;
    } else if (out->dtype != f->m->dtype) {
        return ko_fail(e, "tensor '%s' is %s but the weights are %s (one dtype for all weights)", name,
                       ko_dtype_name(out->dtype), ko_dtype_name(f->m->dtype));
    }
    f->m->weight_bytes += (size_t)ko_tensor_numel(out) * ko_dtype_size(out->dtype);
    return 0;
}

static bool slot_used(const slot *s, const ko_config *c) {
    switch (s->when) {
    case W_QKV_BIAS: return c->qkv_bias;
    case W_QK_NORM: return c->qk_norm;
    case W_POST_NORMS: return c->post_norms;
    case W_NO_POST_NORMS: return !c->post_norms;
    }
    return true;
}

static int tensors_from(ko_model *m, const arch *a, ko_tensor_lookup lookup, void *ctx, ko_err *e) {
    const ko_config *c = &m->cfg;
    fetch f = {m, lookup, ctx, NULL};
    /* EXAONE checkpoints normally keep their own names; one re-saved under Llama's names loads too. */
    int sch = NAMES_HF;
    if (a->names == NAMES_EXAONE) {
        ko_tensor probe;
        int rc = lookup(ctx, EMBED[NAMES_EXAONE], &probe, e);
        if (rc < 0) return -1;
        if (rc == 0) sch = NAMES_EXAONE;
    }
    m->weight_bytes = 0;
    if (need(&f, EMBED[sch], c->vocab_size, c->hidden, &m->embed, e) != 0) return -1;
    if (need(&f, FINAL_NORM[sch], c->hidden, 0, &m->final_norm, e) != 0) return -1;
    if (c->tie_embeddings) {
        m->lm_head = m->embed; /* transformers ties: any lm_head.weight in the file is not used */
    } else if (need(&f, "lm_head.weight", c->vocab_size, c->hidden, &m->lm_head, e) != 0) {
        return -1;
    }
    m->layers = ko_xcalloc((size_t)c->n_layers, sizeof *m->layers);
    char name[256];
    for (int l = 0; l < c->n_layers; l++) {
        int k = snprintf(name, sizeof name, LAYER_PREFIX[sch], l);
        for (size_t s = 0; s < sizeof SLOTS / sizeof *SLOTS; s++) {
            const slot *sl = &SLOTS[s];
            if (!slot_used(sl, c) || !sl->name[sch]) continue;
            snprintf(name + k, sizeof name - (size_t)k, "%s", sl->name[sch]);
            ko_tensor *t = (ko_tensor *)((char *)&m->layers[l] + sl->field);
            if (need(&f, name, dim(c, sl->rows), dim(c, sl->cols), t, e) != 0) return -1;
        }
    }
    return 0;
}

/* The dtype HF's from_pretrained(dtype="auto") loads: config "dtype" (transformers 5) or "torch_dtype",
 * else the checkpoint's own. */
static ko_dtype auto_dtype(const cJSON *config, ko_dtype stored) {
    ko_dtype t;
    const char *keys[] = {"dtype", "torch_dtype"};
    for (int k = 0; k < 2; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(config, keys[k]);
        if (cJSON_IsString(v) && ko_dtype_parse(v->valuestring, &t) == 0) return t;
    }
    return stored;
}

int ko_model_from_hf(ko_model *m, const cJSON *config, ko_tensor_lookup lookup, void *ctx, ko_err *e) {
    if (ko_config_from_hf(config, &m->cfg, e) != 0) return -1;
    if (tensors_from(m, find_arch(config, e), lookup, ctx, e) != 0) return ko_err_one_line(e);
    m->auto_dtype = auto_dtype(config, m->dtype);
    return 0;
}
