/* fuzz_gptq.c — libFuzzer target for GPTQ checkpoints (engine/model/gptq.c): quantization_config
 * and the packed tensors, as ko_model_load reads them.
 *
 * The input is a config.json, a NUL byte, then a .safetensors image (no NUL: the config alone).
 * The config goes through ko_gptq_params_from; when it is GPTQ, every "<prefix>.weight" that a
 * qweight/qzeros/scales/g_idx name implies is looked up through ko_gptq_lookup, then the whole
 * model through ko_model_from_hf. Besides the sanitizers it checks what callers rely on: a
 * dequantised tensor is [out, in] with in = 32 / bits x qweight's rows, every element readable, and
 * an error is one non-empty line. Built and run by scripts/fuzz.sh (`make fuzz`). */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model/gptq.h"
#include "engine/model/loader.h"
#include "engine/model/safetensors.h"

static void check_err(const ko_err *e) {
    if (e->msg[0] == 0 || strchr(e->msg, '\n')) abort();
}

static void read_all(const ko_tensor *t) {
    volatile float sink = 0;
    for (int64_t i = 0, n = ko_tensor_numel(t); i < n; i++) sink += ko_tensor_get(t, i);
    (void)sink;
}

static void fuzz_layers(ko_gptq *g, ko_st *st, int bits) {
    static const char *const PARTS[] = {".qweight", ".qzeros", ".scales", ".g_idx"};
    for (int i = 0; i < ko_st_n_tensors(st); i++) {
        const char *name = ko_st_name(st, i);
        size_t n = strlen(name);
        for (int k = 0; k < 4; k++) {
            size_t s = strlen(PARTS[k]);
            if (n < s || strcmp(name + n - s, PARTS[k]) != 0) continue;
            char *w = ko_xasprintf("%.*s.weight", (int)(n - s), name);
            ko_tensor t;
            ko_err e = {{0}};
            int rc = ko_gptq_lookup(g, w, &t, &e);
            if (rc < 0) check_err(&e);
            if (rc == 0) {
                char *qn = ko_xasprintf("%.*s.qweight", (int)(n - s), name);
                ko_st_i32 q;
                ko_tensor plain;
                /* dequantised (a plain weight of that name may win instead) */
                if (ko_st_lookup(st, w, &plain, &e) == 1 && ko_st_lookup_i32(st, qn, &q, &e) == 0 &&
                    (t.ndim != 2 || t.shape[0] != q.shape[1] || t.shape[1] != q.shape[0] * (32 / bits)))
                    abort();
                free(qn);
                read_all(&t);
            }
            free(w);
        }
    }
}

static void fuzz(const char *text, size_t tlen, const uint8_t *buf, size_t len, bool has_file) {
    cJSON *cj = cJSON_ParseWithLength(text, tlen);
    if (!cj) return;
    ko_gptq_params p;
    bool quantized;
    ko_err e = {{0}};
    if (ko_gptq_params_from(cj, &p, &quantized, &e) != 0) {
        check_err(&e);
    } else if (quantized) {
        if (p.bits != 2 && p.bits != 4 && p.bits != 8) abort();
        ko_st *st = NULL;
        if (has_file && ko_st_open_mem("fuzz.safetensors", buf, len, &st, &e) != 0) {
            check_err(&e);
        } else if (st) {
            ko_gptq *g = ko_gptq_new(&p, st);
            fuzz_layers(g, st, p.bits);
            ko_gptq_free(g);
            ko_model *m = ko_xcalloc(1, sizeof *m);
            ko_model_keep(m, st, ko_st_close);
            ko_gptq *mg = ko_gptq_new(&p, st);
            ko_model_keep(m, mg, ko_gptq_free);
            if (ko_model_from_hf(m, cj, ko_gptq_lookup, mg, &e) != 0) check_err(&e);
            else read_all(&m->layers[0].wq);
            ko_model_free(m);
        }
    }
    cJSON_Delete(cj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* libFuzzer's buffer is exactly `size` long; a private copy keeps reads past the end visible */
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    uint8_t *nul = memchr(copy, 0, size);
    if (nul) fuzz((const char *)copy, (size_t)(nul - copy), nul + 1, size - (size_t)(nul - copy) - 1, true);
    else fuzz((const char *)copy, size, NULL, 0, false);
    free(copy);
    return 0;
}
