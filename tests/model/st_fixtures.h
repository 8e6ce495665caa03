/* st_fixtures.h — hand-written safetensors checkpoints for the loader tests (no torch needed).
 *
 * A file is built as the safetensors crate writes it: 8-byte little-endian header length, the JSON
 * header padded with spaces to a multiple of 8, then the tensors back to back. Element i of tensor
 * NAME holds fx_value(NAME, i): a multiple of 1/64 in [-2, 2), exact in F32, F16 and BF16, so a test
 * can check that a loaded tensor points at the right bytes. */
#ifndef KO_TEST_ST_FIXTURES_H
#define KO_TEST_ST_FIXTURES_H

#include "tests/datasets/fixtures.h"

typedef struct fx_t {
    char *name;
    char dtype[8];
    int ndim;
    int64_t shape[4];
} fx_t;

typedef struct fx_st {
    fx_t *t;
    int n;
} fx_st;

static void fx_add(fx_st *s, const char *dtype, const char *name, int64_t d0, int64_t d1) {
    s->t = ko_xrealloc(s->t, (size_t)(s->n + 1) * sizeof *s->t);
    fx_t *t = &s->t[s->n++];
    memset(t, 0, sizeof *t);
    t->name = ko_xstrdup(name);
    snprintf(t->dtype, sizeof t->dtype, "%s", dtype);
    t->ndim = d1 ? 2 : 1;
    t->shape[0] = d0;
    t->shape[1] = d1;
}

static void fx_st_free(fx_st *s) {
    for (int i = 0; i < s->n; i++) free(s->t[i].name);
    free(s->t);
    s->t = NULL;
    s->n = 0;
}

static float fx_value(const char *name, int64_t i) {
    uint32_t h = 2166136261u;
    for (const char *p = name; *p; p++) h = (h ^ (uint8_t)*p) * 16777619u;
    uint32_t x = (h + (uint32_t)i * 2654435761u) ^ (uint32_t)(i >> 32);
    x ^= x >> 13;
    x *= 0x5bd1e995u;
    x ^= x >> 15;
    return (float)((int)(x & 255) - 128) / 64.0f;
}

static int64_t fx_numel(const fx_t *t) {
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    return n;
}

static size_t fx_esize(const char *dtype) {
    if (strcmp(dtype, "F32") == 0 || strcmp(dtype, "I32") == 0) return 4;
    if (strcmp(dtype, "I64") == 0) return 8;
    if (strcmp(dtype, "U8") == 0) return 1;
    return 2;
}

/* Exact for the values fx_value makes (normal numbers with few mantissa bits, or zero). */
static uint16_t fx_f16_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffff) == 0) return (uint16_t)(u >> 16);
    uint32_t sign = (u >> 16) & 0x8000, exp = (u >> 23) & 0xff, man = u & 0x7fffff;
    return (uint16_t)(sign | ((exp - 127 + 15) << 10) | (man >> 13));
}

static void fx_put_value(ko_buf *b, const char *dtype, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    if (strcmp(dtype, "F32") == 0) {
        ko_buf_put(b, &u, 4);
    } else if (strcmp(dtype, "BF16") == 0) {
        uint16_t h = (uint16_t)(u >> 16);
        ko_buf_put(b, &h, 2);
    } else if (strcmp(dtype, "F16") == 0) {
        uint16_t h = fx_f16_bits(v);
        ko_buf_put(b, &h, 2);
    } else {
        for (size_t k = 0; k < fx_esize(dtype); k++) ko_buf_putc(b, 0);
    }
}

/* The file's bytes; pad = false leaves the header unpadded (misaligned data, as some writers do). */
static void fx_serialize(const fx_st *s, bool pad, ko_buf *out) {
    ko_buf h = {0}, d = {0};
    ko_buf_puts(&h, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int i = 0; i < s->n; i++) {
        const fx_t *t = &s->t[i];
        size_t begin = d.n;
        int64_t n = fx_numel(t);
        for (int64_t k = 0; k < n; k++) fx_put_value(&d, t->dtype, fx_value(t->name, k));
        ko_buf_printf(&h, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", t->name, t->dtype);
        for (int k = 0; k < t->ndim; k++) ko_buf_printf(&h, "%s%lld", k ? "," : "", (long long)t->shape[k]);
        ko_buf_printf(&h, "],\"data_offsets\":[%zu,%zu]}", begin, d.n);
    }
    ko_buf_putc(&h, '}');
    while (pad && h.n % 8) ko_buf_putc(&h, ' ');
    uint64_t n = h.n;
    uint8_t len[8];
    for (int k = 0; k < 8; k++) len[k] = (uint8_t)(n >> (8 * k));
    out->n = 0;
    ko_buf_put(out, len, 8);
    ko_buf_put(out, h.p, h.n);
    if (d.n) ko_buf_put(out, d.p, d.n);
    ko_buf_free(&h);
    ko_buf_free(&d);
}

static void fx_st_write(const char *dir, const char *rel, const fx_st *s) {
    ko_buf b = {0};
    fx_serialize(s, true, &b);
    fx_write(dir, rel, b.p, b.n);
    ko_buf_free(&b);
}

/* A raw file image: 8-byte length n, then the header text, then `data` zero bytes. */
static void fx_raw(const char *dir, const char *rel, uint64_t n, const char *header, size_t data) {
    ko_buf b = {0};
    uint8_t len[8];
    for (int k = 0; k < 8; k++) len[k] = (uint8_t)(n >> (8 * k));
    ko_buf_put(&b, len, 8);
    ko_buf_puts(&b, header);
    for (size_t i = 0; i < data; i++) ko_buf_putc(&b, 0);
    fx_write(dir, rel, b.p, b.n);
    ko_buf_free(&b);
}

/* ---- model checkpoints by architecture ---- */

typedef struct fx_dims {
    int vocab, hidden, inter, layers, heads, kv, hd;
} fx_dims;

enum { FX_LLAMA, FX_QWEN2, FX_GEMMA2, FX_GEMMA3, FX_EXAONE };

/* Every tensor of the architecture, named as the HF checkpoints name them. `pre` is the prefix of
 * the text model ("model." for text-only checkpoints; "language_model.model." or
 * "model.language_model." inside Gemma3ForConditionalGeneration); lm_head NULL = tied (none). */
static void fx_model(fx_st *s, int kind, fx_dims d, const char *dt, const char *pre, const char *lm_head) {
    char n[256];
    int q = d.heads * d.hd, kv = d.kv * d.hd;
    if (kind == FX_EXAONE) {
        fx_add(s, dt, "transformer.wte.weight", d.vocab, d.hidden);
        fx_add(s, dt, "transformer.ln_f.weight", d.hidden, 0);
    } else {
        snprintf(n, sizeof n, "%sembed_tokens.weight", pre);
        fx_add(s, dt, n, d.vocab, d.hidden);
        snprintf(n, sizeof n, "%snorm.weight", pre);
        fx_add(s, dt, n, d.hidden, 0);
    }
    if (lm_head) fx_add(s, dt, lm_head, d.vocab, d.hidden);
    for (int l = 0; l < d.layers; l++) {
#define T(fmt, a, b)                                   \
    do {                                               \
        snprintf(n, sizeof n, fmt, pre, l);            \
        fx_add(s, dt, n, a, b);                        \
    } while (0)
        if (kind == FX_EXAONE) {
            pre = "";
            T("%stransformer.h.%d.ln_1.weight", d.hidden, 0);
            T("%stransformer.h.%d.attn.attention.q_proj.weight", q, d.hidden);
            T("%stransformer.h.%d.attn.attention.k_proj.weight", kv, d.hidden);
            T("%stransformer.h.%d.attn.attention.v_proj.weight", kv, d.hidden);
            T("%stransformer.h.%d.attn.attention.out_proj.weight", d.hidden, q);
            T("%stransformer.h.%d.ln_2.weight", d.hidden, 0);
            T("%stransformer.h.%d.mlp.c_fc_0.weight", d.inter, d.hidden);
            T("%stransformer.h.%d.mlp.c_fc_1.weight", d.inter, d.hidden);
            T("%stransformer.h.%d.mlp.c_proj.weight", d.hidden, d.inter);
            continue;
        }
        T("%slayers.%d.input_layernorm.weight", d.hidden, 0);
        T("%slayers.%d.self_attn.q_proj.weight", q, d.hidden);
        T("%slayers.%d.self_attn.k_proj.weight", kv, d.hidden);
        T("%slayers.%d.self_attn.v_proj.weight", kv, d.hidden);
        T("%slayers.%d.self_attn.o_proj.weight", d.hidden, q);
        if (kind == FX_QWEN2) {
            T("%slayers.%d.self_attn.q_proj.bias", q, 0);
            T("%slayers.%d.self_attn.k_proj.bias", kv, 0);
            T("%slayers.%d.self_attn.v_proj.bias", kv, 0);
        }
        if (kind == FX_GEMMA3) {
            T("%slayers.%d.self_attn.q_norm.weight", d.hd, 0);
            T("%slayers.%d.self_attn.k_norm.weight", d.hd, 0);
        }
        T("%slayers.%d.post_attention_layernorm.weight", d.hidden, 0);
        if (kind == FX_GEMMA2 || kind == FX_GEMMA3) {
            T("%slayers.%d.pre_feedforward_layernorm.weight", d.hidden, 0);
            T("%slayers.%d.post_feedforward_layernorm.weight", d.hidden, 0);
        }
        T("%slayers.%d.mlp.gate_proj.weight", d.inter, d.hidden);
        T("%slayers.%d.mlp.up_proj.weight", d.inter, d.hidden);
        T("%slayers.%d.mlp.down_proj.weight", d.hidden, d.inter);
#undef T
    }
}

/* Header only, the data section left as a hole (ftruncate): a checkpoint of any size that costs no
 * disk, for checking that loading never touches the weights. */
static void fx_sparse_write(const char *dir, const char *rel, const fx_st *s) {
    ko_buf h = {0};
    uint64_t at = 0;
    ko_buf_putc(&h, '{');
    for (int i = 0; i < s->n; i++) {
        const fx_t *t = &s->t[i];
        uint64_t n = (uint64_t)fx_numel(t) * fx_esize(t->dtype);
        ko_buf_printf(&h, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[", i ? "," : "", t->name, t->dtype);
        for (int k = 0; k < t->ndim; k++) ko_buf_printf(&h, "%s%lld", k ? "," : "", (long long)t->shape[k]);
        ko_buf_printf(&h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)at, (unsigned long long)(at + n));
        at += n;
    }
    ko_buf_putc(&h, '}');
    while (h.n % 8) ko_buf_putc(&h, ' ');
    char *path = ko_xasprintf("%s/%s", dir, rel);
    FILE *f = fopen(path, "wb");
    uint8_t len[8];
    for (int k = 0; k < 8; k++) len[k] = (uint8_t)((uint64_t)h.n >> (8 * k));
    if (!f || fwrite(len, 1, 8, f) != 8 || fwrite(h.p, 1, h.n, f) != h.n || fflush(f) != 0 ||
        ftruncate(fileno(f), (off_t)(8 + h.n + at)) != 0) {
        printf("cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
    free(path);
    ko_buf_free(&h);
}

#endif
