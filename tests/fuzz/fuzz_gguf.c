/* fuzz_gguf.c — libFuzzer target for the GGUF reader (ko_gguf_open_mem) and dequantiser.
 *
 * Besides the sanitizers it checks what callers rely on: an error is one non-empty line naming the
 * file; after a successful open every accessor stays inside the input (every metadata value and
 * array element is read back, every string lies within the buffer) and every dequantisable tensor
 * converts. Built and run by scripts/fuzz.sh (`make fuzz`), seeded with tests/gguf/data's files. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model/gguf.h"

static const uint8_t *lo, *hi;

static void in_input(const void *p, uint64_t n) {
    const uint8_t *q = p;
    if (n && (q < lo || q > hi || n > (uint64_t)(hi - q))) abort();
}

static void walk(const ko_gguf_kv *kv, int depth) {
    ko_gguf_str s;
    double f;
    int64_t v;
    uint64_t n = kv->arr_n < 64 ? kv->arr_n : 64;   /* bounded work per input */
    for (uint64_t i = 0; i < n; i++) {
        if (ko_gguf_arr_str(kv, i, &s) == 0) in_input(s.p, s.n);
        (void)ko_gguf_arr_f64(kv, i, &f);
        (void)ko_gguf_arr_i64(kv, i, &v);
        ko_gguf_kv in;
        if (ko_gguf_arr_arr(kv, i, &in) == 0 && depth < 16) walk(&in, depth + 1);
    }
    if (ko_gguf_arr_str(kv, kv->arr_n, &s) == 0) abort();  /* past the end */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ko_gguf *g = NULL;
    ko_err e = {{0}};
    lo = data, hi = data + size;
    if (ko_gguf_open_mem(data, size, "fuzz.gguf", &g, &e) != 0) {
        if (g || strncmp(e.msg, "fuzz.gguf: ", 11) != 0 || strchr(e.msg, '\n')) abort();
        return 0;
    }
    for (int i = 0; i < ko_gguf_n_kv(g); i++) {
        const ko_gguf_kv *kv = ko_gguf_kv_at(g, i);
        char key[256];
        in_input(kv->key.p, kv->key.n);
        snprintf(key, sizeof key, "%.*s", (int)(kv->key.n < 255 ? kv->key.n : 255), kv->key.p);
        uint64_t u;
        double f;
        ko_gguf_str s;
        (void)ko_gguf_get_u64(g, key, &u);
        (void)ko_gguf_get_f64(g, key, &f);
        if (ko_gguf_get_str(g, key, &s) == 0) in_input(s.p, s.n);
        if (kv->type == KO_GGUF_ARRAY) walk(kv, 0);
    }
    for (int i = 0; i < ko_gguf_n_tensors(g); i++) {
        const ko_gguf_tensor *t = ko_gguf_tensor_at(g, i);
        in_input(t->name.p, t->name.n);
        in_input(t->data, t->nbytes);
        int64_t n = ko_gguf_tensor_numel(t);
        if (!ko_gguf_can_dequant(t->type) || n > (1 << 20)) continue;
        float *y = malloc((size_t)n * sizeof *y);
        if (ko_gguf_dequant(t, y, &e) != 0) abort();
        free(y);
    }
    ko_gguf_close(g);
    return 0;
}
