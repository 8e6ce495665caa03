/* gptq.c — GPTQ checkpoints: quantization_config, the packed tensors checked and dequantised once on
 * load, and the lookup that hands them to arch.c as ordinary weights (gptq.h). */
#include "engine/model/gptq.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "engine/model/arch.h"
#include "engine/model/loader.h"

/* ---- quantization_config ---- */

static int get_cfg_bool(const cJSON *q, const char *key, bool dflt, bool *out, ko_err *e) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(q, key);
    *out = dflt;
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsBool(v)) return ko_fail(e, "quantization_config.%s is not true or false", key);
    *out = cJSON_IsTrue(v);
    return 0;
}

static int get_cfg_int(const cJSON *q, const char *key, bool required, int dflt, int *out, ko_err *e) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(q, key);
    *out = dflt;
    if (!v || cJSON_IsNull(v)) return required ? ko_fail(e, "quantization_config has no %s", key) : 0;
    double d = cJSON_IsNumber(v) ? v->valuedouble : 0.5;
    if (d != (double)(int)d || d < -(1 << 30) || d > (1 << 30))
        return ko_fail(e, "quantization_config.%s is not an integer", key);
    *out = (int)d;
    return 0;
}

static int params_from(const cJSON *config, ko_gptq_params *p, bool *quantized, ko_err *e) {
    memset(p, 0, sizeof *p);
    *quantized = false;
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(config, "quantization_config");
    if (!q || cJSON_IsNull(q)) return 0;
    if (!cJSON_IsObject(q)) return ko_fail(e, "quantization_config is not an object");
    const cJSON *qm = cJSON_GetObjectItemCaseSensitive(q, "quant_method");
    if (!cJSON_IsString(qm) || strcmp(qm->valuestring, "gptq") != 0)
        return ko_fail(e, "quantized checkpoints (quant_method %.40s) are not supported (GPTQ is); use the "
                          "bf16/f16 weights or a GGUF", cJSON_IsString(qm) ? qm->valuestring : "unknown");
    if (get_cfg_int(q, "bits", true, 0, &p->bits, e) || get_cfg_int(q, "group_size", false, 128, &p->group_size, e) ||
        get_cfg_bool(q, "desc_act", false, &p->desc_act, e))
        return -1;
    if (p->bits != 2 && p->bits != 4 && p->bits != 8)
        return ko_fail(e, "GPTQ with %d bits is not supported (2, 4 or 8)", p->bits);
    if (p->group_size == 0 || p->group_size < -1)
        return ko_fail(e, "quantization_config.group_size %d must be positive or -1", p->group_size);
    /* GPTQConfig: "checkpoint_format" (the older key) wins over "format" when not null. */
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(q, "checkpoint_format");
    if (!fmt || cJSON_IsNull(fmt)) fmt = cJSON_GetObjectItemCaseSensitive(q, "format");
    const char *f = "gptq";
    if (fmt && !cJSON_IsNull(fmt)) {
        if (!cJSON_IsString(fmt)) return ko_fail(e, "quantization_config.format is not a string");
        f = fmt->valuestring;
    }
    if (strcasecmp(f, "gptq") == 0) p->v1 = true;
    else if (strcasecmp(f, "gptq_v2") != 0)
        return ko_fail(e, "GPTQ format '%.40s' is not supported (gptq, gptq_v2)", f);
    const cJSON *pd = cJSON_GetObjectItemCaseSensitive(q, "pack_dtype");
    if (pd && !cJSON_IsNull(pd) && !(cJSON_IsString(pd) && strcmp(pd->valuestring, "int32") == 0))
        return ko_fail(e, "quantization_config.pack_dtype must be int32");
    const cJSON *dyn = cJSON_GetObjectItemCaseSensitive(q, "dynamic");
    if (dyn && !cJSON_IsNull(dyn) && !(cJSON_IsObject(dyn) && !dyn->child))
        return ko_fail(e, "quantization_config.dynamic (per-module bits or group sizes) is not supported");
    *quantized = true;
    return 0;
}

int ko_gptq_params_from(const cJSON *config, ko_gptq_params *p, bool *quantized, ko_err *e) {
    return params_from(config, p, quantized, e) == 0 ? 0 : ko_err_one_line(e);
}

/* ---- dequantisation ---- */

static void fmt2(const ko_st_i32 *t, char *buf, size_t n) {
    if (t->ndim == 1) snprintf(buf, n, "[%lld]", (long long)t->shape[0]);
    else snprintf(buf, n, "[%lld, %lld]", (long long)t->shape[0], (long long)t->shape[1]);
}

static int want2(const char *prefix, const char *what, const ko_st_i32 *t, int64_t r, int64_t c, ko_err *e) {
    if (t->ndim == 2 && t->shape[0] == r && t->shape[1] == c) return 0;
    char got[64];
    fmt2(t, got, sizeof got);
    return ko_fail(e, "GPTQ layer '%s': %s has shape %s, expected [%lld, %lld]", prefix, what, got, (long long)r,
                   (long long)c);
}

/* One layer's unpacking, shared by the threads of ko_parallel_for. */
typedef struct unpack_job {
    const uint32_t *qw;          /* qweight [rows, outf] */
    const uint8_t *zero;         /* [groups, outf] */
    const float *scale;          /* [groups, outf] */
    const int32_t *group;        /* [rows * pf]: each input's group */
    uint8_t *w;                  /* [outf, rows * pf] of dtype */
    ko_dtype dtype;
    int bits;
    int64_t rows, outf;
} unpack_job;

/* Rows [o0, o1) of w (one thread's range: disjoint and contiguous), each element computed as on one
 * thread. */
static void unpack_run(void *ctx, int o0, int o1, int thread) {
    (void)thread;
    const unpack_job *j = ctx;
    const uint32_t *qw = j->qw;
    const uint8_t *zero = j->zero;
    const float *scale = j->scale;
    const int32_t *group = j->group;
    uint8_t *w = j->w;
    const ko_dtype dtype = j->dtype;
    const int bits = j->bits, pf = 32 / bits;
    const uint32_t maxq = (1u << bits) - 1;
    const int64_t rows = j->rows, outf = j->outf, in = rows * pf;
    const int64_t tile = 64 / pf; /* 64 inputs: whole cache lines of each output row */
    for (int64_t r0 = 0; r0 < rows; r0 += tile) {
        int64_t r1 = r0 + tile < rows ? r0 + tile : rows;
        for (int64_t o = o0; o < o1; o++) {
            for (int64_t r = r0; r < r1; r++) {
                uint32_t word = qw[r * outf + o];
                for (int k = 0; k < pf; k++, word >>= bits) {
                    int64_t i = r * pf + k, gz_at = (int64_t)group[i] * outf + o, at = o * in + i;
                    /* exact for 16-bit scales: the one rounding is to the dtype */
                    float v = scale[gz_at] * (float)((int)(word & maxq) - zero[gz_at]);
                    if (dtype == KO_F32) memcpy(w + 4 * at, &v, 4);
                    else ((uint16_t *)w)[at] = dtype == KO_F16 ? ko_f32_to_f16(v) : ko_f32_to_bf16(v);
                }
            }
        }
    }
}

enum { MAX_THREADS = 32, MIN_WEIGHTS_PER_THREAD = 1 << 18 }; /* ~1 ms of work against ~50 us to start a thread */

/* On n_threads threads (0: the online CPUs, at most MAX_THREADS and one per MIN_WEIGHTS_PER_THREAD
 * weights), split by ranges of outputs. */
static void unpack(const unpack_job *j, int n_threads) {
    if (n_threads <= 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        int64_t fit = j->rows * (32 / j->bits) * j->outf / MIN_WEIGHTS_PER_THREAD;
        n_threads = (int)(cpus < fit ? cpus : fit); /* below 1 (a small layer, or no sysconf): one */
    }
    n_threads = n_threads < 1 ? 1 : n_threads > MAX_THREADS ? MAX_THREADS : n_threads;
    ko_parallel_for(n_threads, (int)j->outf, unpack_run, (void *)j);
}

static int dequant(const ko_gptq_params *p, const char *prefix, const ko_st_i32 *qweight, const ko_st_i32 *qzeros,
                   const ko_tensor *scales, const ko_st_i32 *g_idx, int n_threads, ko_tensor *out, ko_err *e) {
    const int bits = p->bits, pf = 32 / bits;
    const uint32_t maxq = (1u << bits) - 1;
    if (qweight->ndim != 2 || qweight->shape[0] < 1 || qweight->shape[1] < 1) {
        char got[64];
        fmt2(qweight, got, sizeof got);
        return ko_fail(e, "GPTQ layer '%s': qweight has shape %s, expected [in_features / %d, out_features]", prefix,
                       got, pf);
    }
    const int64_t in = qweight->shape[0] * pf, outf = qweight->shape[1];
    if (in > INT_MAX || outf > INT_MAX)
        return ko_fail(e, "GPTQ layer '%s': %lld x %lld weights is larger than any model this loads", prefix,
                       (long long)outf, (long long)in);
    if (outf % pf)
        return ko_fail(e, "GPTQ layer '%s': out_features %lld is not a multiple of %d (%d-bit qzeros)", prefix,
                       (long long)outf, pf, bits);
    int64_t gs = p->group_size < 0 ? in : p->group_size;
    if (in % gs)
        return ko_fail(e, "GPTQ layer '%s': group_size %lld does not divide in_features %lld", prefix, (long long)gs,
                       (long long)in);
    const int64_t groups = in / gs;
    if (want2(prefix, "qzeros", qzeros, groups, outf / pf, e)) return -1;
    if (scales->ndim != 2 || scales->shape[0] != groups || scales->shape[1] != outf)
        return ko_fail(e, "GPTQ layer '%s': scales is not [%lld, %lld] (groups, out_features)", prefix,
                       (long long)groups, (long long)outf);
    if (!g_idx && p->desc_act) return ko_fail(e, "GPTQ layer '%s': desc_act is set but g_idx is missing", prefix);
    if (g_idx && (g_idx->ndim != 1 || g_idx->shape[0] != in)) {
        char got[64];
        fmt2(g_idx, got, sizeof got);
        return ko_fail(e, "GPTQ layer '%s': g_idx has shape %s, expected [%lld]", prefix, got, (long long)in);
    }
    for (int64_t i = 0; g_idx && i < in; i++)
        if (g_idx->data[i] < 0 || g_idx->data[i] >= groups)
            return ko_fail(e, "GPTQ layer '%s': g_idx[%lld] = %d is not a group (0..%lld)", prefix, (long long)i,
                           g_idx->data[i], (long long)groups - 1);

    /* Zeros unpacked ([groups, out]; v1: every field of the word + 1, as GPTQModel converts) and scales as float. */
    uint32_t v1_add = 0;
    for (int k = 0; p->v1 && k < pf; k++) v1_add |= 1u << (k * bits);
    const int64_t gz = groups * outf;
    uint8_t *zero = ko_xmalloc((size_t)gz);
    float *scale = ko_xmalloc((size_t)gz * sizeof *scale);
    for (int64_t k = 0; k < gz; k++) {
        int64_t g = k / outf, o = k % outf;
        uint32_t word = (uint32_t)qzeros->data[g * (outf / pf) + o / pf] + v1_add;
        zero[k] = (uint8_t)((word >> (o % pf * bits)) & maxq);
    }
    ko_tensor_to_f32(scales, 0, gz, scale);

    memset(out, 0, sizeof *out);
    out->dtype = scales->dtype;
    out->ndim = 2;
    out->shape[0] = outf;
    out->shape[1] = in;
    uint8_t *w = ko_xmalloc((size_t)(outf * in) * ko_dtype_size(out->dtype));
    int32_t *group = ko_xmalloc((size_t)in * sizeof *group);
    for (int64_t i = 0; i < in; i++) group[i] = g_idx ? g_idx->data[i] : (int32_t)(i / gs);
    unpack_job job = {.qw = (const uint32_t *)qweight->data, .zero = zero, .scale = scale, .group = group, .w = w,
                      .dtype = out->dtype, .bits = bits, .rows = qweight->shape[0], .outf = outf};
    unpack(&job, n_threads);
    free(group);
    free(zero);
    free(scale);
    out->data = w;
    return 0;
}

int ko_gptq_dequant_threads(const ko_gptq_params *p, const char *prefix, const ko_st_i32 *qweight,
                            const ko_st_i32 *qzeros, const ko_tensor *scales, const ko_st_i32 *g_idx,
                            int n_threads, ko_tensor *out, ko_err *e) {
    return dequant(p, prefix, qweight, qzeros, scales, g_idx, n_threads, out, e) == 0 ? 0 : ko_err_one_line(e);
}

int ko_gptq_dequant(const ko_gptq_params *p, const char *prefix, const ko_st_i32 *qweight,
                    const ko_st_i32 *qzeros, const ko_tensor *scales, const ko_st_i32 *g_idx,
                    ko_tensor *out, ko_err *e) {
    return ko_gptq_dequant_threads(p, prefix, qweight, qzeros, scales, g_idx, 0, out, e);
}

/* ---- lookup ---- */

struct ko_gptq {
    ko_gptq_params p;
    ko_st *st;
    void **bufs;
    int n_bufs;
};

ko_gptq *ko_gptq_new(const ko_gptq_params *p, ko_st *st) {
    ko_gptq *g = ko_xcalloc(1, sizeof *g);
    g->p = *p;
    g->st = st;
    return g;
}

void ko_gptq_free(void *ptr) {
    ko_gptq *g = ptr;
    if (!g) return;
    for (int i = 0; i < g->n_bufs; i++) free(g->bufs[i]);
    free(g->bufs);
    free(g);
}

static const char *const PARTS[] = {"qweight", "qzeros", "scales", "g_idx"};

int ko_gptq_lookup(void *ctx, const char *hf_name, ko_tensor *out, ko_err *e) {
    ko_gptq *g = ctx;
    int rc = ko_st_lookup(g->st, hf_name, out, e);
    size_t n = strlen(hf_name);
    if (rc != 1 || n < 7 || strcmp(hf_name + n - 7, ".weight") != 0) return rc;
    char *prefix = ko_xasprintf("%.*s", (int)(n - 7), hf_name);
    ko_st_i32 t[4] = {{0}};
    ko_tensor scales;
    int have[4];
    rc = 0;
    for (int k = 0; k < 4 && rc >= 0; k++) {
        char *name = ko_xasprintf("%s.%s", prefix, PARTS[k]);
        have[k] = k == 2 ? ko_st_lookup(g->st, name, &scales, e) : ko_st_lookup_i32(g->st, name, &t[k], e);
        if (have[k] < 0) rc = -1;
        free(name);
    }
    if (rc == 0 && have[0] == 1 && (have[1] == 0 || have[2] == 0 || have[3] == 0))
        rc = ko_fail(e, "GPTQ layer '%s' has %s but no qweight (and no weight)", prefix,
                     have[1] == 0 ? "qzeros" : have[2] == 0 ? "scales" : "g_idx");
    else if (rc == 0 && have[0] == 1)
        rc = 1; /* neither weight nor qweight: absent */
    else if (rc == 0 && (have[1] == 1 || have[2] == 1))
        rc = ko_fail(e, "GPTQ layer '%s' has qweight but no %s", prefix, have[1] == 1 ? "qzeros" : "scales");
    else if (rc == 0 && ko_gptq_dequant(&g->p, prefix, &t[0], &t[1], &scales, have[3] == 0 ? &t[3] : NULL, out, e) == 0) {
        g->bufs = ko_xrealloc(g->bufs, (size_t)(g->n_bufs + 1) * sizeof *g->bufs);
        g->bufs[g->n_bufs++] = (void *)out->data;
    } else if (rc == 0) {
        rc = -1;
    }
    free(prefix);
    return rc < 0 ? ko_err_one_line(e) : rc;
}
