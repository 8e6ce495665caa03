/* test_gptq.c — GPTQ checkpoints (engine/model/gptq.c): the dequantiser on hand-computed values
 * (2, 4 and 8 bits, v1 zeros with their carry, act-order g_idx, float16 rounding to nearest even,
 * subnormals and overflow), bit for bit against GPTQModel's own dequantize_weight() on the tiny
 * checkpoints (hashes in tests/engine/goldens/<name>.dequant.tsv, scripts/make_gptq_models.py), and every
 * validation error — quantization_config, tensor shapes, g_idx, half-quantized layers, shapes
 * against the architecture — as one line, never a crash; the threaded dequantisation gives the
 * single thread's bytes. `test_gptq --bench` times a 4096 x 14336 4-bit layer on 1 and all threads. */
#include <cjson/cJSON.h>
#include <time.h>
#include <unistd.h>

#include "engine/model/gptq.h"
#include "engine/model/loader.h"
#include "tests/model/st_fixtures.h"
#include "tests/test.h"

static uint16_t f16_of(const ko_tensor *t, int64_t i) { return ((const uint16_t *)t->data)[i]; }

static ko_st_i32 i32(const int32_t *data, int64_t d0, int64_t d1) {
    return (ko_st_i32){.name = "t", .ndim = d1 ? 2 : 1, .shape = {d0, d1 ? d1 : 1}, .data = data};
}

static ko_tensor half2(const uint16_t *data, int64_t d0, int64_t d1) {
    return (ko_tensor){.dtype = KO_F16, .ndim = 2, .shape = {d0, d1}, .data = data};
}

/* ---- hand-computed values ---- */

static void check_values_4bit(void) {
    /* in 8, out 8, one group (group_size -1). qweight[0][o]: input i's value in bits 4i.. of word o:
     * q[i][o] = (i + o) % 16. Zero 8 everywhere (v2), scale 0.5 for output o < 4, 0.25 beyond. */
    int32_t qw[8], qz[1] = {(int32_t)0x88888888u};
    uint16_t sc[8];
    for (int o = 0; o < 8; o++) {
        uint32_t w = 0;
        for (int i = 0; i < 8; i++) w |= (uint32_t)((i + o) % 16) << (4 * i);
        qw[o] = (int32_t)w;
        sc[o] = o < 4 ? 0x3800 : 0x3400; /* 0.5, 0.25 */
    }
    ko_gptq_params p = {.bits = 4, .group_size = -1};
    ko_st_i32 tq = i32(qw, 1, 8), tz = i32(qz, 1, 1);
    ko_tensor ts = half2(sc, 1, 8), w;
    ko_err e = {{0}};
    CHECK(ko_gptq_dequant(&p, "l", &tq, &tz, &ts, NULL, &w, &e) == 0, "%s", e.msg);
    CHECK(w.dtype == KO_F16 && w.shape[0] == 8 && w.shape[1] == 8, "shape/dtype");
    int bad = 0;
    for (int o = 0; o < 8; o++)
        for (int i = 0; i < 8; i++)
            bad += ko_tensor_get(&w, o * 8 + i) != (o < 4 ? 0.5f : 0.25f) * (float)((i + o) % 16 - 8);
    CHECK(bad == 0, "%d of 64 values differ from scale * (q - 8)", bad);
    free((void *)w.data);

    /* v1: the stored word + 0x11111111: 0x0000000f -> 0x11111120: zero 0 for output 0 (15 + 1
     * wraps) and 2 for output 1 (the carry), 1 for the rest. */
    qz[0] = 0x0000000f;
    p.v1 = true;
    CHECK(ko_gptq_dequant(&p, "l", &tq, &tz, &ts, NULL, &w, &e) == 0, "%s", e.msg);
    int zero[8] = {0, 2, 1, 1, 1, 1, 1, 1};
    bad = 0;
    for (int o = 0; o < 8; o++)
        for (int i = 0; i < 8; i++)
            bad += ko_tensor_get(&w, o * 8 + i) != (o < 4 ? 0.5f : 0.25f) * (float)((i + o) % 16 - zero[o]);
    CHECK(bad == 0, "v1 carry: %d of 64 values differ", bad);
    free((void *)w.data);
}

/* Rounding of the product to float16: to nearest, ties to even; subnormal results; overflow. */
static void check_rounding(void) {
    /* q - z per output (in 8 = one word row; every input the same q): outputs 0..7 get
     * q = 3, 3, 3, 9, 2, 1, 0, 0 against zero 0. */
    static const int qv[8] = {3, 3, 3, 9, 2, 1, 0, 0};
    static const uint16_t sc[8] = {0x2e66, 0x3c01, 0x3c03, 0x0001, 0x7bff, 0x0400, 0x3c00, 0x3c00};
    /* 0x2e66 * 3 = 0.2999267578125 -> 0x34cc (0.2998046875; 0.29992676 is 0.25 ulp above it);
     * (1 + 2^-10) * 3: exactly between 0x4200 + 1 and + 2 -> even 0x4202;
     * (1 + 3 * 2^-10) * 3 = 3 + 4.5 ulp -> even 0x4204 (half-up would give 0x4205);
     * 2^-24 * 9 = the subnormal 0x0009; 65504 * 2 -> inf 0x7c00; 2^-14 * 1 = 0x0400; 0, 0 (signed zero +). */
    static const uint16_t want[8] = {0x34cc, 0x4202, 0x4204, 0x0009, 0x7c00, 0x0400, 0x0000, 0x0000};
    int32_t qw[8], qz[1] = {0};
    for (int o = 0; o < 8; o++) {
        uint32_t w = 0;
        for (int i = 0; i < 8; i++) w |= (uint32_t)qv[o] << (4 * i);
        qw[o] = (int32_t)w;
    }
    ko_gptq_params p = {.bits = 4, .group_size = -1};
    ko_st_i32 tq = i32(qw, 1, 8), tz = i32(qz, 1, 1);
    ko_tensor ts = half2(sc, 1, 8), w;
    ko_err e = {{0}};
    CHECK(ko_gptq_dequant(&p, "l", &tq, &tz, &ts, NULL, &w, &e) == 0, "%s", e.msg);
    for (int o = 0; o < 8; o++)
        CHECK(f16_of(&w, o * 8 + 3) == want[o], "output %d: 0x%04x, want 0x%04x", o, f16_of(&w, o * 8 + 3), want[o]);
    free((void *)w.data);

    /* Negative differences keep their sign (zero 15, q 0: -15 * 0.5 = -7.5 = 0xc780). */
    qz[0] = (int32_t)0xffffffffu;
    for (int o = 0; o < 8; o++) qw[o] = 0;
    ko_tensor ts2 = half2((const uint16_t[]){0x3800, 0x3800, 0x3800, 0x3800, 0x3800, 0x3800, 0x3800, 0x3800}, 1, 8);
    CHECK(ko_gptq_dequant(&p, "l", &tq, &tz, &ts2, NULL, &w, &e) == 0, "%s", e.msg);
    CHECK(f16_of(&w, 0) == 0xc780 && f16_of(&w, 63) == 0xc780, "negative: 0x%04x", f16_of(&w, 0));
    free((void *)w.data);
}

/* 2 and 8 bits (16 and 4 values per word), BF16 scales, group_size 16 with an act-order g_idx. */
static void check_values_2_8bit(void) {
    ko_err e = {{0}};
    /* 2 bits: in 32 (2 words), out 16 (qzeros 1 word per group); q[i][o] = (i * 3 + o) % 4; two groups
     * of 16 inputs; g_idx puts even inputs in group 1 and odd ones in group 0; zero[g][o] = (g + o) % 4;
     * scales 1 (group 0) and 2 (group 1), BF16. */
    int32_t qw[2 * 16], qz[2], g[32];
    uint16_t sc[2 * 16];
    for (int r = 0; r < 2; r++)
        for (int o = 0; o < 16; o++) {
            uint32_t w = 0;
            for (int k = 0; k < 16; k++) w |= (uint32_t)(((r * 16 + k) * 3 + o) % 4) << (2 * k);
            qw[r * 16 + o] = (int32_t)w;
        }
    for (int gg = 0; gg < 2; gg++) {
        uint32_t w = 0;
        for (int o = 0; o < 16; o++) w |= (uint32_t)((gg + o) % 4) << (2 * o);
        qz[gg] = (int32_t)w;
        for (int o = 0; o < 16; o++) sc[gg * 16 + o] = gg ? 0x4000 : 0x3f80; /* bf16 2.0, 1.0 */
    }
    for (int i = 0; i < 32; i++) g[i] = i % 2 == 0;
    ko_gptq_params p = {.bits = 2, .group_size = 16, .desc_act = true};
    ko_st_i32 tq = i32(qw, 2, 16), tz = i32(qz, 2, 1), tg = i32(g, 32, 0);
    ko_tensor ts = {.dtype = KO_BF16, .ndim = 2, .shape = {2, 16}, .data = sc}, w;
    CHECK(ko_gptq_dequant(&p, "l", &tq, &tz, &ts, &tg, &w, &e) == 0, "%s", e.msg);
    CHECK(w.dtype == KO_BF16 && w.shape[0] == 16 && w.shape[1] == 32, "2-bit shape/dtype");
    int bad = 0;
    for (int o = 0; o < 16; o++)
        for (int i = 0; i < 32; i++) {
            int gi = i % 2 == 0;
            bad += ko_tensor_get(&w, o * 32 + i) != (float)(gi ? 2 : 1) * (float)((i * 3 + o) % 4 - (gi + o) % 4);
        }
    CHECK(bad == 0, "2-bit act-order: %d of 512 values differ", bad);
    free((void *)w.data);

    /* 8 bits: in 4 (1 word), out 4; q[i][o] = 64 * i + o, zero 128 - o (v2), scale 1/64. */
    int32_t qw8[4], qz8[1];
    uint16_t sc8[4] = {0x2400, 0x2400, 0x2400, 0x2400};
    uint32_t zw = 0;
    for (int o = 0; o < 4; o++) {
        uint32_t wd = 0;
        for (int i = 0; i < 4; i++) wd |= (uint32_t)(64 * i + o) << (8 * i);
        qw8[o] = (int32_t)wd;
        zw |= (uint32_t)(128 - o) << (8 * o);
    }
    qz8[0] = (int32_t)zw;
    p = (ko_gptq_params){.bits = 8, .group_size = 4};
    tq = i32(qw8, 1, 4);
    tz = i32(qz8, 1, 1);
    ts = half2(sc8, 1, 4);
    CHECK(ko_gptq_dequant(&p, "l", &tq, &tz, &ts, NULL, &w, &e) == 0, "%s", e.msg);
    bad = 0;
    for (int o = 0; o < 4; o++)
        for (int i = 0; i < 4; i++) bad += ko_tensor_get(&w, o * 4 + i) != (float)(64 * i + 2 * o - 128) / 64.0f;
    CHECK(bad == 0, "8-bit: %d of 16 values differ", bad);
    free((void *)w.data);
}

/* ---- against the runtime, on the tiny checkpoints ---- */

static uint64_t fnv64(const void *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ ((const uint8_t *)p)[i]) * 0x100000001b3ULL;
    return h;
}

static void check_runtime(const char *name) {
    char *dir = ko_xasprintf("tests/engine/tiny/%s", name), *tsv = ko_xasprintf("tests/engine/goldens/%s.dequant.tsv", name);
    char *cfg_path = ko_xasprintf("%s/config.json", dir);
    ko_buf b = {0}, c = {0};
    ko_err e = {{0}};
    ko_st *st = NULL;
    CHECK(ko_read_file(tsv, &b, &e) == 0 && ko_read_file(cfg_path, &c, &e) == 0 && ko_st_open_dir(dir, &st, &e) == 0,
          "%s: %s", name, e.msg);
    cJSON *cj = cJSON_ParseWithLength(c.p ? c.p : "", c.n);
    ko_gptq_params p;
    bool quantized = false;
    CHECK(cj && ko_gptq_params_from(cj, &p, &quantized, &e) == 0 && quantized, "%s: %s", name, e.msg);
    ko_gptq *g = st && quantized ? ko_gptq_new(&p, st) : NULL;
    int n = 0, same = 0;
    char *save = NULL;
    for (char *line = b.p ? strtok_r(b.p, "\n", &save) : NULL; g && line; line = strtok_r(NULL, "\n", &save)) {
        char tname[200];
        long long out, in;
        unsigned long long h;
        if (line[0] == '#' || sscanf(line, "%199s %lld %lld %llx", tname, &out, &in, &h) != 4) continue;
        ko_tensor t;
        n++;
        if (ko_gptq_lookup(g, tname, &t, &e) != 0) {
            CHECK(0, "%s: %s", tname, e.msg);
            continue;
        }
        bool ok = t.dtype == KO_F16 && t.shape[0] == out && t.shape[1] == in &&
                  fnv64(t.data, (size_t)(out * in) * 2) == h;
        same += ok;
        CHECK(ok, "%s: %s differs from GPTQModel's dequantize_weight()", name, tname);
    }
    CHECK(n >= 14, "%s: %d layers in %s", name, n, tsv);
    printf("%s: %d/%d GPTQ layers bit-identical to GPTQModel's dequantize_weight()\n", name, same, n);
    /* A layer the config left unquantized (gemma2_gptq's o_proj) is handed out as stored. */
    ko_tensor t;
    CHECK(ko_gptq_lookup(g, "model.layers.0.self_attn.o_proj.weight", &t, &e) == 0 && t.dtype == KO_F16,
          "%s: o_proj: %s", name, e.msg);
    CHECK(ko_gptq_lookup(g, "model.layers.0.no_such.weight", &t, &e) == 1, "absent name");
    ko_gptq_free(g);
    ko_st_close(st);
    cJSON_Delete(cj);
    ko_buf_free(&b);
    ko_buf_free(&c);
    free(dir);
    free(tsv);
    free(cfg_path);
}

/* ---- threads ---- */

/* A synthetic layer of random words, zeros, scales (0.004 to 0.5) and, for act-order, g_idx. */
typedef struct synth {
    ko_gptq_params p;
    int32_t *qw, *qz, *g;
    void *sc;                    /* 4 bytes a scale: room for F32 */
    ko_st_i32 tq, tz, tg;
    ko_tensor ts;
} synth;

static uint32_t lcg(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(*s >> 32);
}

static synth synth_new(int bits, int64_t in, int64_t out, int group_size, bool act_order, ko_dtype sdt) {
    int pf = 32 / bits;
    int64_t groups = group_size < 0 ? 1 : in / group_size;
    synth s = {.p = {.bits = bits, .group_size = group_size, .desc_act = act_order, .v1 = !act_order}};
    s.qw = ko_xmalloc((size_t)(in / pf * out) * 4);
    s.qz = ko_xmalloc((size_t)(groups * out / pf) * 4);
    s.g = ko_xmalloc((size_t)in * 4);
    s.sc = ko_xmalloc((size_t)(groups * out) * 4);
    uint64_t seed = (uint64_t)(bits * 1000003 + in * 31 + out);
    for (int64_t k = 0; k < in / pf * out; k++) s.qw[k] = (int32_t)lcg(&seed);
    for (int64_t k = 0; k < groups * out / pf; k++) s.qz[k] = (int32_t)lcg(&seed);
    for (int64_t i = 0; i < in; i++) s.g[i] = (int32_t)(lcg(&seed) % (uint32_t)groups);
    for (int64_t k = 0; k < groups * out; k++) {
        float v = 0.00390625f + (float)(lcg(&seed) >> 8) * (0.5f / 16777216.0f);
        if (sdt == KO_F32) memcpy((char *)s.sc + 4 * k, &v, 4);
        else { /* truncation is fine: any value of the dtype will do */
            uint32_t u;
            memcpy(&u, &v, 4);
            ((uint16_t *)s.sc)[k] = sdt == KO_BF16 ? (uint16_t)(u >> 16) : (uint16_t)((u >> 13) - ((127 - 15) << 10));
        }
    }
    s.tq = i32(s.qw, in / pf, out);
    s.tz = i32(s.qz, groups, out / pf);
    s.tg = i32(s.g, in, 0);
    s.ts = (ko_tensor){.dtype = sdt, .ndim = 2, .shape = {groups, out}, .data = s.sc};
    return s;
}

static void synth_free(synth *s) {
    free(s->qw);
    free(s->qz);
    free(s->g);
    free(s->sc);
}

static int synth_dequant(const synth *s, int n_threads, ko_tensor *w, ko_err *e) {
    return ko_gptq_dequant_threads(&s->p, "synth", &s->tq, &s->tz, &s->ts, s->p.desc_act ? &s->tg : NULL, n_threads,
                                   w, e);
}

/* Split over output ranges (ragged: out 304 over 3, 7, 32 threads; more threads than outputs on a
 * tiny layer), every dtype: the same bytes as one thread. */
static void check_threads(void) {
    static const struct {
        int bits, group;
        int64_t in, out;
        bool act;
        ko_dtype dt;
    } CASES[] = {{4, 64, 512, 304, false, KO_F16}, {2, 32, 512, 304, true, KO_BF16},
                 {8, -1, 256, 304, false, KO_F32}, {4, 8, 16, 8, true, KO_F16}};
    static const int THREADS[] = {2, 3, 7, 32, 0};
    for (size_t c = 0; c < sizeof CASES / sizeof *CASES; c++) {
        synth s = synth_new(CASES[c].bits, CASES[c].in, CASES[c].out, CASES[c].group, CASES[c].act, CASES[c].dt);
        enum { N = sizeof THREADS / sizeof *THREADS };
        ko_tensor one, many[N]; /* all kept to the end: no run gets a freed buffer holding the bytes it should write */
        ko_err e = {{0}};
        CHECK(synth_dequant(&s, 1, &one, &e) == 0, "case %zu: %s", c, e.msg);
        size_t bytes = (size_t)(CASES[c].in * CASES[c].out) * ko_dtype_size(CASES[c].dt);
        for (int t = 0; t < N; t++) {
            CHECK(synth_dequant(&s, THREADS[t], &many[t], &e) == 0, "case %zu: %s", c, e.msg);
            CHECK(memcmp(one.data, many[t].data, bytes) == 0, "case %zu (%d bits, out %lld): %d threads differ from one",
                  c, CASES[c].bits, (long long)CASES[c].out, THREADS[t]);
        }
        for (int t = 0; t < N; t++) free((void *)many[t].data);
        free((void *)one.data);
        synth_free(&s);
    }
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Best of 3 of one thread and of all threads (as the loader chooses), same bytes. */
static void bench(void) {
    const int64_t in = 4096, out = 14336;
    synth s = synth_new(4, in, out, 128, false, KO_F16);
    double best[2] = {1e30, 1e30};
    ko_tensor w[2] = {{0}};
    ko_err e = {{0}};
    for (int rep = 0; rep < 3; rep++)
        for (int k = 0; k < 2; k++) {
            free((void *)w[k].data);
            double t0 = now_s();
            CHECK(synth_dequant(&s, k ? 0 : 1, &w[k], &e) == 0, "%s", e.msg);
            double t = now_s() - t0;
            best[k] = t < best[k] ? t : best[k];
        }
    CHECK(memcmp(w[0].data, w[1].data, (size_t)(in * out) * 2) == 0, "threads differ from one");
    printf("GPTQ dequant, 4-bit, in %lld x out %lld (%.1fM weights, group 128, f16): 1 thread %.3f s (%.2f ns/weight), "
           "%ld threads %.3f s (%.2f ns/weight): %.2fx\n", (long long)in, (long long)out, (double)(in * out) / 1e6,
           best[0], best[0] * 1e9 / (double)(in * out), sysconf(_SC_NPROCESSORS_ONLN), best[1],
           best[1] * 1e9 / (double)(in * out), best[0] / best[1]);
    free((void *)w[0].data);
    free((void *)w[1].data);
    synth_free(&s);
}

/* ---- validation ---- */

/* Fails with one line that contains `why`. */
#define FAILS(rc, e, why) CHECK((rc) == -1 && strstr((e).msg, why) && !strchr((e).msg, '\n'), "want \"%s\": %s", why, (e).msg)

static void check_config_errors(void) {
    static const struct {
        const char *qc, *why;
    } CASES[] = {
        {"{\"quant_method\": \"gptq\", \"bits\": 3}", "3 bits is not supported"},
        {"{\"quant_method\": \"gptq\", \"bits\": 5}", "5 bits is not supported"},
        {"{\"quant_method\": \"gptq\"}", "no bits"},
        {"{\"quant_method\": \"gptq\", \"bits\": \"4\"}", "bits is not an integer"},
        {"{\"quant_method\": \"gptq\", \"bits\": 4.5}", "bits is not an integer"},
        {"{\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": 0}", "group_size 0"},
        {"{\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": -2}", "group_size -2"},
        {"{\"quant_method\": \"gptq\", \"bits\": 4, \"desc_act\": 1}", "desc_act is not true or false"},
        {"{\"quant_method\": \"gptq\", \"bits\": 4, \"format\": \"marlin\"}", "format 'marlin'"},
        {"{\"quant_method\": \"gptq\", \"bits\": 4, \"format\": \"gptq_v2\", \"checkpoint_format\": \"bitblas\"}",
         "format 'bitblas'"},
        {"{\"quant_method\": \"gptq\", \"bits\": 4, \"format\": 2}", "format is not a string"},
        {"{\"quant_method\": \"gptq\", \"bits\": 4, \"format\": \"gp\\nt\"}", "format 'gp?t'"}, /* one line */
        {"{\"quant_method\": \"gptq\", \"bits\": 4, \"pack_dtype\": \"int16\"}", "pack_dtype must be int32"},
        {"{\"quant_method\": \"gptq\", \"bits\": 4, \"dynamic\": {\"-:.*\": {}}}", "dynamic"},
        {"{\"quant_method\": \"awq\", \"bits\": 4}", "quant_method awq"},
        {"{\"quant_method\": \"GPTQ\", \"bits\": 4}", "quant_method GPTQ"},
        {"[1]", "quantization_config is not an object"},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof *CASES; i++) {
        char *text = ko_xasprintf("{\"quantization_config\": %s}", CASES[i].qc);
        cJSON *cj = cJSON_Parse(text);
        ko_gptq_params p;
        bool q;
        ko_err e = {{0}};
        FAILS(ko_gptq_params_from(cj, &p, &q, &e), e, CASES[i].why);
        cJSON_Delete(cj);
        free(text);
    }
    /* Defaults (GPTQConfig): group_size 128, desc_act false, v1; checkpoint_format wins over format. */
    cJSON *cj = cJSON_Parse("{\"quantization_config\": {\"quant_method\": \"gptq\", \"bits\": 8, "
                            "\"format\": \"gptq\", \"checkpoint_format\": \"gptq_v2\", \"dynamic\": {}}}");
    ko_gptq_params p;
    bool q = false;
    ko_err e = {{0}};
    CHECK(ko_gptq_params_from(cj, &p, &q, &e) == 0 && q && p.bits == 8 && p.group_size == 128 && !p.desc_act && !p.v1,
          "defaults: %s", e.msg);
    cJSON_Delete(cj);
    cj = cJSON_Parse("{\"quantization_config\": null}");
    CHECK(ko_gptq_params_from(cj, &p, &q, &e) == 0 && !q, "null quantization_config");
    cJSON_Delete(cj);
}

static void check_tensor_errors(void) {
    int32_t qw[16] = {0}, qz[4] = {0}, g[16] = {0};
    uint16_t sc[32] = {0};
    ko_gptq_params p = {.bits = 4, .group_size = 8};
    ko_tensor w;
    ko_err e = {{0}};
    /* A consistent layer: in 16 (2 rows), out 8, 2 groups. */
    ko_st_i32 tq = i32(qw, 2, 8), tz = i32(qz, 2, 1), tg = i32(g, 16, 0);
    ko_tensor ts = half2(sc, 2, 8);
    CHECK(ko_gptq_dequant(&p, "x", &tq, &tz, &ts, &tg, &w, &e) == 0, "consistent layer: %s", e.msg);
    free((void *)w.data);

    ko_st_i32 bad_q1 = i32(qw, 16, 0), bad_q0 = i32(qw, 0, 8), bad_out = i32(qw, 2, 4);
    FAILS(ko_gptq_dequant(&p, "x", &bad_q1, &tz, &ts, &tg, &w, &e), e, "qweight has shape [16]");
    FAILS(ko_gptq_dequant(&p, "x", &bad_q0, &tz, &ts, &tg, &w, &e), e, "qweight has shape [0, 8]");
    FAILS(ko_gptq_dequant(&p, "x", &bad_out, &tz, &ts, &tg, &w, &e), e, "out_features 4 is not a multiple of 8");
    ko_gptq_params p12 = {.bits = 4, .group_size = 12};
    FAILS(ko_gptq_dequant(&p12, "x", &tq, &tz, &ts, &tg, &w, &e), e, "group_size 12 does not divide in_features 16");
    ko_st_i32 bad_z = i32(qz, 1, 1), bad_z2 = i32(qz, 2, 2);
    FAILS(ko_gptq_dequant(&p, "x", &tq, &bad_z, &ts, &tg, &w, &e), e, "qzeros has shape [1, 1], expected [2, 1]");
    FAILS(ko_gptq_dequant(&p, "x", &tq, &bad_z2, &ts, &tg, &w, &e), e, "qzeros has shape [2, 2]");
    ko_tensor bad_s = half2(sc, 2, 16), bad_s1 = {.dtype = KO_F16, .ndim = 1, .shape = {16}, .data = sc};
    FAILS(ko_gptq_dequant(&p, "x", &tq, &tz, &bad_s, &tg, &w, &e), e, "scales is not [2, 8]");
    FAILS(ko_gptq_dequant(&p, "x", &tq, &tz, &bad_s1, &tg, &w, &e), e, "scales is not [2, 8]");
    ko_st_i32 bad_g = i32(g, 15, 0), bad_g2 = i32(g, 8, 2);
    FAILS(ko_gptq_dequant(&p, "x", &tq, &tz, &ts, &bad_g, &w, &e), e, "g_idx has shape [15], expected [16]");
    FAILS(ko_gptq_dequant(&p, "x", &tq, &tz, &ts, &bad_g2, &w, &e), e, "g_idx has shape [8, 2]");
    g[5] = 2;
    FAILS(ko_gptq_dequant(&p, "x", &tq, &tz, &ts, &tg, &w, &e), e, "g_idx[5] = 2 is not a group (0..1)");
    g[5] = -1;
    FAILS(ko_gptq_dequant(&p, "x", &tq, &tz, &ts, &tg, &w, &e), e, "g_idx[5] = -1");
    g[5] = 0;
    ko_gptq_params pd = {.bits = 4, .group_size = 8, .desc_act = true};
    FAILS(ko_gptq_dequant(&pd, "x", &tq, &tz, &ts, NULL, &w, &e), e, "desc_act is set but g_idx is missing");
    /* group_size -1: one group, so qzeros/scales have one row. */
    ko_gptq_params pall = {.bits = 4, .group_size = -1};
    FAILS(ko_gptq_dequant(&pall, "x", &tq, &tz, &ts, NULL, &w, &e), e, "qzeros has shape [2, 1], expected [1, 1]");
}

/* Through the lookup and ko_model_load: a llama fixture whose layer-0 q_proj is replaced by GPTQ
 * tensors (in 16 = hidden, out 16 = 2 heads x 8). */
static const char *LLAMA_CFG =
    "{\"model_type\": \"llama\", \"vocab_size\": 8, \"hidden_size\": 16, \"intermediate_size\": 16,"
    " \"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"num_key_value_heads\": 1, \"torch_dtype\": \"float16\","
    " \"quantization_config\": {\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": 8}}";

/* parts: which of q(weight), z(eros), s(cales), g(_idx) to write, for a layer of in = 8 * rows and
 * `out` outputs (group 8: `rows` groups); keep: the plain q_proj.weight stays in the file too. */
static char *write_case(const char *parts, int rows, int out, const char *qw_dtype, const char *sc_dtype, bool keep) {
    char *dir = fx_tmpdir("gptq");
    fx_st s = {0};
    fx_model(&s, FX_LLAMA, (fx_dims){8, 16, 16, 1, 2, 1, 8}, "F16", "model.", "lm_head.weight");
    for (int i = 0; i < s.n && !keep; i++)
        if (strcmp(s.t[i].name, "model.layers.0.self_attn.q_proj.weight") == 0) {
            free(s.t[i].name);
            s.t[i].name = ko_xstrdup("unused.q_proj.weight");
        }
    const char *pre = "model.layers.0.self_attn.q_proj.";
    char n[128];
    struct {
        char letter;
        const char *part, *dtype;
        int d0, d1;
    } T[] = {{'q', "qweight", qw_dtype, rows, out}, {'z', "qzeros", "I32", rows, out / 8},
             {'s', "scales", sc_dtype, rows, out}, {'g', "g_idx", "I32", 8 * rows, 0}};
    for (int k = 0; k < 4; k++)
        if (strchr(parts, T[k].letter)) {
            snprintf(n, sizeof n, "%s%s", pre, T[k].part);
            fx_add(&s, T[k].dtype, n, T[k].d0, T[k].d1);
        }
    fx_st_write(dir, "model.safetensors", &s);
    fx_write_str(dir, "config.json", LLAMA_CFG);
    fx_st_free(&s);
    return dir;
}

/* Loads the case: NULL why = must load (returns weight_bytes), else must fail with one line naming
 * the folder and saying why. */
static size_t model_case(const char *parts, int rows, int out, const char *qdt, const char *sdt, bool keep,
                         const char *why) {
    char *dir = write_case(parts, rows, out, qdt, sdt, keep);
    ko_model *m = NULL;
    ko_err e = {{0}};
    int rc = ko_model_load(dir, &m, &e);
    size_t bytes = 0;
    if (!why) {
        CHECK(rc == 0 && m->dtype == KO_F16 && m->layers[0].wq.shape[0] == 16 && m->layers[0].wq.shape[1] == 16,
              "%s: %s", parts, e.msg);
        bytes = rc == 0 ? m->weight_bytes : 0;
    } else {
        FAILS(rc, e, why);
        CHECK(rc != 0 && strstr(e.msg, dir), "error names the folder: %s", e.msg);
    }
    ko_model_free(m);
    fx_rmdir(dir);
    return bytes;
}

static void check_model_errors(void) {
    size_t plain = model_case("", 2, 16, "I32", "F16", true, NULL);          /* no GPTQ tensors: as stored */
    size_t gptq = model_case("qzsg", 2, 16, "I32", "F16", false, NULL);
    /* weight_bytes counts what is resident: the dequantised f16 layer, as a plain one */
    CHECK(gptq == plain && plain > 0, "weight_bytes %zu (GPTQ) vs %zu (plain)", gptq, plain);
    model_case("qzs", 2, 16, "I32", "F16", false, NULL);         /* no g_idx: i / group_size */
    model_case("qzsg", 2, 16, "I32", "F16", true, NULL);         /* a plain .weight too: it wins */
    model_case("qsg", 2, 16, "I32", "F16", false, "has qweight but no qzeros");
    model_case("qzg", 2, 16, "I32", "F16", false, "has qweight but no scales");
    model_case("zsg", 2, 16, "I32", "F16", false, "has qzeros but no qweight");
    model_case("g", 2, 16, "I32", "F16", false, "has g_idx but no qweight");
    model_case("", 2, 16, "I32", "F16", false, "tensor 'model.layers.0.self_attn.q_proj.weight' is missing");
    model_case("qzsg", 2, 16, "F16", "F16", false, "qweight' is F16 [2, 16]; expected I32");
    model_case("qzsg", 2, 16, "I32", "I32", false, "scales' is I32");
    model_case("qzsg", 2, 16, "I32", "F32", false, "is F32 but the weights are F16");
    /* Consistent GPTQ tensors of the wrong size for the architecture (hidden 16, 2 heads x 8). */
    model_case("qzsg", 3, 16, "I32", "F16", false, "q_proj.weight' has shape [16, 24], expected [16, 16]");
    model_case("qzsg", 2, 8, "I32", "F16", false, "q_proj.weight' has shape [8, 16], expected [16, 16]");
}

int main(int argc, char **argv) {
    (void)fx_raw; /* st_fixtures.h helpers this test does not need */
    (void)fx_sparse_write;
    if (argc == 2 && strcmp(argv[1], "--bench") == 0) {
        bench();
        TEST_END();
    }
    check_values_4bit();
    check_rounding();
    check_values_2_8bit();
    check_runtime("gemma2_gptq");
    check_runtime("llama_gptq");
    check_threads();
    check_config_errors();
    check_tensor_errors();
    check_model_errors();
    TEST_END();
}
