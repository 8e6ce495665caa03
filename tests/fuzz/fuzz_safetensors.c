/* fuzz_safetensors.c — libFuzzer target for the HF checkpoint readers: the safetensors header
 * validator (ko_st_open_mem), the config reader (ko_config_from_hf) and both together through
 * ko_model_from_hf, as ko_model_load runs them.
 *
 * The first byte picks the case (mod 3): 0 the rest is a .safetensors file image; 1 the rest is a
 * config.json; 2 the rest is config.json, a NUL byte, then a .safetensors image. Besides the
 * sanitizers it checks what callers rely on: every tensor a valid file hands out lies inside the file
 * with the bytes its shape and dtype need, loaded weights have the shapes the config implies, and an
 * error is one non-empty line. Built and run by scripts/fuzz.sh (`make fuzz`). */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model/arch.h"
#include "engine/model/loader.h"
#include "engine/model/safetensors.h"

static void check_err(const ko_err *e) {
    if (e->msg[0] == 0 || strchr(e->msg, '\n')) abort();
}

/* A tensor handed out must lie inside [lo, hi) and be readable end to end. */
static void check_tensor(const ko_tensor *t, const uint8_t *lo, const uint8_t *hi) {
    int64_t n = ko_tensor_numel(t);
    size_t bytes = (size_t)n * ko_dtype_size(t->dtype);
    const uint8_t *p = t->data;
    bool inside = p >= lo && p + bytes <= hi;
    if (!inside && n > 0) {
        /* misaligned tensors are copied; read them whole so ASan sees the copy's bounds */
        float sink = 0;
        for (int64_t i = 0; i < n; i++) sink += ko_tensor_get(t, i);
        (void)sink;
        return;
    }
    if (n > 0) {
        volatile float a = ko_tensor_get(t, 0), b = ko_tensor_get(t, n - 1);
        (void)a;
        (void)b;
    }
}

static void fuzz_st(const uint8_t *buf, size_t len) {
    ko_st *st = NULL;
    ko_err e = {{0}};
    if (ko_st_open_mem("fuzz.safetensors", buf, len, &st, &e) != 0) {
        check_err(&e);
        return;
    }
    for (int i = 0; i < ko_st_n_tensors(st); i++) {
        ko_tensor t;
        int rc = ko_st_lookup(st, ko_st_name(st, i), &t, &e);
        if (rc < 0) check_err(&e);
        if (rc > 0) abort(); /* every listed name must be found */
        if (rc == 0) check_tensor(&t, buf, buf + len);
    }
    ko_st_close(st);
}

static void fuzz_config(const char *text, size_t len) {
    cJSON *cj = cJSON_ParseWithLength(text, len);
    if (!cj) return;
    ko_config c;
    ko_err e = {{0}};
    if (ko_config_from_hf(cj, &c, &e) != 0) {
        check_err(&e);
    } else {
        if (c.n_layers < 1 || c.head_dim < 2 || c.n_heads % c.n_kv_heads || !(c.attn_scale > 0)) abort();
        /* a sliding layer without a window only exists where it has its own RoPE (Gemma 3) */
        bool own_rope = strcmp(c.model_type, "gemma3_text") == 0;
        for (int i = 0; i < c.n_layers; i++)
            if (c.layer_sliding[i] && !c.sliding_window && !own_rope) abort();
        free(c.layer_sliding);
    }
    cJSON_Delete(cj);
}

static void fuzz_model(const char *text, size_t tlen, const uint8_t *buf, size_t len) {
    cJSON *cj = cJSON_ParseWithLength(text, tlen);
    if (!cj) return;
    ko_st *st = NULL;
    ko_err e = {{0}};
    if (ko_st_open_mem("fuzz.safetensors", buf, len, &st, &e) != 0) {
        check_err(&e);
        cJSON_Delete(cj);
        return;
    }
    ko_model *m = ko_xcalloc(1, sizeof *m);
    ko_model_keep(m, st, ko_st_close);
    if (ko_model_from_hf(m, cj, ko_st_lookup, st, &e) != 0) {
        check_err(&e);
    } else {
        const ko_config *c = &m->cfg;
        if (m->embed.shape[0] != c->vocab_size || m->embed.shape[1] != c->hidden) abort();
        check_tensor(&m->embed, buf, buf + len);
        check_tensor(&m->lm_head, buf, buf + len);
        for (int l = 0; l < c->n_layers; l++) {
            const ko_layer *L = &m->layers[l];
            if (L->wq.shape[0] != (int64_t)c->n_heads * c->head_dim || L->w_down.shape[1] != c->intermediate) abort();
            check_tensor(&L->wq, buf, buf + len);
            check_tensor(&L->w_down, buf, buf + len);
        }
    }
    ko_model_free(m);
    cJSON_Delete(cj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int mode = data[0] % 3;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    /* libFuzzer's buffer is exactly `size` long; a private copy keeps reads past the end visible */
    uint8_t *copy = malloc(n ? n : 1);
    memcpy(copy, p, n);
    if (mode == 0) {
        fuzz_st(copy, n);
    } else if (mode == 1) {
        fuzz_config((const char *)copy, n);
    } else {
        uint8_t *nul = memchr(copy, 0, n);
        if (nul) fuzz_model((const char *)copy, (size_t)(nul - copy), nul + 1, n - (size_t)(nul - copy) - 1);
    }
    free(copy);
    return 0;
}
