/* model.c — ko_model_load (format dispatch), ownership of what a model holds, tensor dtype helpers. */
#include "engine/model/model.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/model/arch.h"
#include "engine/model/gptq.h"
#include "engine/model/loader.h"
#include "engine/model/safetensors.h"

/* The conversions are the engines' hot path (a bf16 weight row to f32 per use): let gcc vectorise
 * them at any -O level. */
#if defined(__GNUC__) && !defined(__clang__)
#define KO_VECTORISE __attribute__((optimize("O3")))
#else
#define KO_VECTORISE
#endif

/* ---- dtypes ---- */

size_t ko_dtype_size(ko_dtype t) { return t == KO_F32 ? 4 : 2; }

int ko_dtype_parse(const char *name, ko_dtype *out) {
    static const struct { const char *name; ko_dtype t; } names[] = {
        {"bfloat16", KO_BF16}, {"bf16", KO_BF16}, {"float16", KO_F16}, {"fp16", KO_F16}, {"half", KO_F16},
        {"float32", KO_F32},   {"fp32", KO_F32},  {"float", KO_F32}};
    for (size_t i = 0; name && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i].name) == 0) {
            *out = names[i].t;
            return 0;
        }
    return -1;
}

const char *ko_dtype_hf_name(ko_dtype t) { return t == KO_F32 ? "float32" : t == KO_F16 ? "float16" : "bfloat16"; }

const char *ko_dtype_name(ko_dtype t) {
    switch (t) {
    case KO_F32: return "F32";
    case KO_F16: return "F16";
    case KO_BF16: return "BF16";
    }
    return "?";
}

int64_t ko_tensor_numel(const ko_tensor *t) {
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    return n;
}

static inline float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static inline uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float bf16_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

/* IEEE half -> float, exact for every input, without branches so that the loop vectorises, and
 * without subnormal float intermediates (correct even with denormals-are-zero set): the exponent is
 * rebiased in the integer domain; half subnormals are built as a normal float minus 2^-14. */
static inline float f16_f32(uint16_t h) {
    uint32_t o = (uint32_t)(h & 0x7fff) << 13;          /* exponent and mantissa in float position */
    uint32_t exp = o & 0x0f800000u;
    uint32_t inf_nan = 0u - (uint32_t)(exp == 0x0f800000u); /* all-ones masks */
    uint32_t sub = 0u - (uint32_t)(exp == 0);
    o += 0x38000000u;                                    /* rebias: (127 - 15) << 23 */
    o += inf_nan & 0x38000000u;                          /* exponent 31 -> 255: (128 - 16) << 23 */
    uint32_t s = f32_bits(bits_f32(o + 0x00800000u) - 0x1p-14f); /* subnormal: (1.m - 1) * 2^-14 */
    o = (o & ~sub) | (s & sub);
    return bits_f32(o | (uint32_t)(h & 0x8000) << 16);
}

/* float -> IEEE half, rounded to nearest even (torch's conversion), integers only. */
uint16_t ko_f32_to_f16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t a = u & 0x7fffffff;
    if (a > 0x7f800000) return sign | 0x7e00;               /* NaN */
    if (a >= 0x477ff000) return sign | 0x7c00;              /* >= 65520 rounds to infinity */
    if (a >= 0x38800000) {                                  /* a normal half (>= 2^-14) */
        uint32_t r = a - 0x38000000;                        /* exponent rebiased: (127 - 15) << 23 */
        return sign | (uint16_t)((r + 0xfff + ((r >> 13) & 1)) >> 13);
    }
    int shift = 126 - (int)(a >> 23);                       /* subnormal: units of 2^-24 */
    if (shift > 24) return sign;
    uint32_t m = (a & 0x7fffff) | 0x800000, q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    return sign | (uint16_t)(q + (rem > half || (rem == half && (q & 1))));
}

/* float -> bfloat16, rounded to nearest even. */
uint16_t ko_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffff) > 0x7f800000) return (uint16_t)((u >> 16) | 0x40);
    return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

float ko_dtype_round(ko_dtype t, float x) {
    return t == KO_BF16 ? bf16_f32(ko_f32_to_bf16(x)) : t == KO_F16 ? f16_f32(ko_f32_to_f16(x)) : x;
}

float ko_tensor_get(const ko_tensor *t, int64_t i) {
    const uint8_t *p = t->data;
    switch (t->dtype) {
    case KO_F32: {
        float f;
        memcpy(&f, p + 4 * i, 4);
        return f;
    }
    case KO_F16: {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        return f16_f32(h);
    }
    case KO_BF16: {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        return bf16_f32(h);
    }
    }
    return 0;
}

KO_VECTORISE static void bf16_row(const uint16_t *restrict s, int64_t n, float *restrict d) {
    for (int64_t i = 0; i < n; i++) d[i] = bf16_f32(s[i]);
}

KO_VECTORISE static void f16_row(const uint16_t *restrict s, int64_t n, float *restrict d) {
    for (int64_t i = 0; i < n; i++) d[i] = f16_f32(s[i]);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
/* x86 has an instruction for it (F16C, every x86-64 CPU since 2012): 8 at a time, exact. */
__attribute__((target("avx,f16c"))) static void f16_row_f16c(const uint16_t *s, int64_t n, float *d) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(d + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(s + i))));
    for (; i < n; i++) d[i] = f16_f32(s[i]);
}
#include <cpuid.h>
#include <stdatomic.h>
/* F16C and AVX in the CPU, and AVX state enabled by the OS (XCR0); asked once. */
static bool have_f16c(void) {
    static _Atomic int known = -1;
    int k = atomic_load_explicit(&known, memory_order_relaxed);
    if (k < 0) {
        unsigned a, b, c, d;
        k = 0;
        if (__get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) && (c & bit_AVX) && (c & bit_OSXSAVE)) {
            unsigned lo, hi;
            __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
            k = (lo & 6) == 6;
        }
        atomic_store_explicit(&known, k, memory_order_relaxed);
    }
    return k;
}
#define HAVE_F16C() have_f16c()
#else
#define HAVE_F16C() 0
#define f16_row_f16c f16_row
#endif

void ko_tensor_to_f32(const ko_tensor *t, int64_t off, int64_t n, float *dst) {
    if (n <= 0) return;
    switch (t->dtype) {
    case KO_F32: memcpy(dst, (const float *)t->data + off, (size_t)n * 4); break;
    case KO_F16: (HAVE_F16C() ? f16_row_f16c : f16_row)((const uint16_t *)t->data + off, n, dst); break;
    case KO_BF16: bf16_row((const uint16_t *)t->data + off, n, dst); break;
    }
}

/* ---- ownership ---- */

typedef struct kept {
    void *ptr;
    void (*free_fn)(void *);
} kept;

typedef struct model_priv {
    kept *items;
    int n;
} model_priv;

void ko_model_keep(ko_model *m, void *ptr, void (*free_fn)(void *)) {
    model_priv *p = m->priv;
    if (!p) p = m->priv = ko_xcalloc(1, sizeof *p);
    p->items = ko_xrealloc(p->items, (size_t)(p->n + 1) * sizeof *p->items);
    p->items[p->n++] = (kept){ptr, free_fn};
}

void ko_model_free(ko_model *m) {
    if (!m) return;
    model_priv *p = m->priv;
    for (int i = p ? p->n - 1 : -1; i >= 0; i--)
        if (p->items[i].free_fn) p->items[i].free_fn(p->items[i].ptr);
    if (p) free(p->items);
    free(p);
    free(m->layers);
    free(m->cfg.layer_sliding);
    free(m->path);
    free(m->tokenizer_path);
    free(m);
}

/* ---- loading ---- */

static bool ends_with_ci(const char *s, const char *suf) {
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && strcasecmp(s + n - k, suf) == 0;
}

/* tokenizer.json (or .json.gz) beside the weights, else NULL. */
static char *find_tokenizer(const char *dir) {
    static const char *const names[] = {"tokenizer.json", "tokenizer.json.gz"};
    for (int i = 0; i < 2; i++) {
        char *p = ko_xasprintf("%s/%s", dir, names[i]);
        if (ko_file_exists(p)) return p;
        free(p);
    }
    return NULL;
}

static int load_hf_dir(const char *dir, ko_model *m, ko_err *e) {
    char *cfg_path = ko_xasprintf("%s/config.json", dir);
    ko_buf b = {0};
    int rc = ko_file_exists(cfg_path) ? ko_read_file(cfg_path, &b, e)
                                      : ko_fail(e, "%s: no config.json (not a Hugging Face model folder)", dir);
    cJSON *cfg = NULL;
    if (rc == 0) {
        cfg = cJSON_ParseWithLength(b.p ? b.p : "", b.n);
        if (!cfg || !cJSON_IsObject(cfg)) rc = ko_fail(e, "%s: not a valid JSON object", cfg_path);
    }
    ko_buf_free(&b);
    ko_st *st = NULL;
    if (rc == 0) rc = ko_st_open_dir(dir, &st, e);
    ko_gptq_params gp;
    bool gptq = false;
    if (rc == 0) {
        ko_model_keep(m, st, ko_st_close);
        rc = ko_gptq_params_from(cfg, &gp, &gptq, e);
    }
    if (rc == 0) {
        /* GPTQ: packed layers are dequantised as arch.c asks for them (gptq.h). */
        ko_gptq *g = gptq ? ko_gptq_new(&gp, st) : NULL;
        if (g) ko_model_keep(m, g, ko_gptq_free);
        rc = g ? ko_model_from_hf(m, cfg, ko_gptq_lookup, g, e) : ko_model_from_hf(m, cfg, ko_st_lookup, st, e);
    }
    if (rc != 0 && st) ko_fail_prefix(e, "%s", dir);
    if (rc == 0) m->tokenizer_path = find_tokenizer(dir);
    cJSON_Delete(cfg);
    free(cfg_path);
    return rc;
}

static int load_path(const char *path, ko_model *m, ko_err *e) {
    if (ko_dir_exists(path)) return load_hf_dir(path, m, e);
    if (ends_with_ci(path, ".gguf"))
        return ko_file_exists(path) ? ko_gguf_model_load(path, m, e) : ko_fail(e, "%s: no such file", path);
    if (ko_file_exists(path))
        return ko_fail(e, "%s: not a model folder (config.json + safetensors) or a .gguf file", path);
    return ko_fail(e, "%s: no such file or folder", path);
}

/* A folder without config.json that holds one .gguf (models/default) stands for that file. NULL when
 * path is something else; -1 in *rc when the folder is ambiguous. */
static char *gguf_inside(const char *path, int *rc, ko_err *e) {
    char *cfg = ko_xasprintf("%s/config.json", path), *inside = NULL;
    bool hf = ko_file_exists(cfg);
    free(cfg);
    if (hf || !ko_dir_exists(path)) return NULL;
    if (ko_model_resolve(path, &inside, e) != 0) {
        *rc = -1;
        return NULL;
    }
    if (strcmp(inside, path) == 0) {
        free(inside);
        return NULL;
    }
    return inside;
}

int ko_model_load(const char *path, ko_model **out, ko_err *e) {
    *out = NULL;
    ko_model *m = ko_xcalloc(1, sizeof *m);
    int rc = 0;
    char *inside = gguf_inside(path, &rc, e);
    m->path = inside ? inside : ko_xstrdup(path);
    if (rc == 0) rc = load_path(m->path, m, e);
    if (rc != 0) {
        ko_model_free(m);
        return ko_err_one_line(e);
    }
    *out = m;
    return 0;
}
