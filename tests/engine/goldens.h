/* goldens.h — the tiny models' goldens (tests/engine/goldens, scripts/make_engine_goldens.py) as engine
 * documents, for the CPU (tests/engine/test_parity) and CUDA (tests/cuda/test_cuda_parity) parity tests. */
#ifndef KO_TEST_GOLDENS_H
#define KO_TEST_GOLDENS_H
#include <cjson/cJSON.h>

#include "engine/engine.h"
#include "tests/test.h"

/* The tiny models with softmax_dtype=bfloat16 goldens (*_gptq: theirs come from the GPTQ runtime). */
#define SOFTMAX_GOLDENS "tests/engine/goldens/%s.softmax_bfloat16.jsonl.gz" /* printf pattern: the model's name */
static const char *const SOFTMAX_MODELS[] = {"gemma3_text", "gemma3", "gemma2", "llama", "mistral", "qwen2", "exaone"};

typedef struct golden {
    int n;
    ko_doc *docs;
    double *want_lp;   /* flattened over (doc, choice) */
    bool *want_greedy;
    double *gap;
} golden;

static inline int32_t *ids(const cJSON *a, int *n) {
    *n = cJSON_GetArraySize(a);
    int32_t *v = ko_xmalloc((size_t)(*n > 0 ? *n : 1) * sizeof *v);
    for (int i = 0; i < *n; i++)
        v[i] = (int32_t)cJSON_GetArrayItem(a, i)->valueint;
    return v;
}

static inline void doc_alloc(ko_doc *d, int k) {
    d->n_choices = k;
    d->cont = ko_xcalloc((size_t)k, sizeof *d->cont);
    d->n_cont = ko_xcalloc((size_t)k, sizeof *d->n_cont);
    d->logprob = ko_xcalloc((size_t)k, sizeof *d->logprob);
    d->is_greedy = ko_xcalloc((size_t)k, sizeof *d->is_greedy);
}

static inline void doc_free(ko_doc *d, bool own_tokens) {
    if (own_tokens) {
        free((void *)d->ctx);
        for (int i = 0; i < d->n_choices; i++)
            free((void *)d->cont[i]);
    }
    free((void *)d->cont);
    free((void *)d->n_cont);
    free(d->logprob);
    free(d->is_greedy);
}

/* One JSON line per document: ctx, conts, logprob, is_greedy, gap. */
static inline int load_golden(const char *path, golden *g) {
    ko_buf buf = {0};
    ko_err e;
    if (ko_read_file(path, &buf, &e) != 0) {
        printf("%s\n", e.msg);
        return -1;
    }
    memset(g, 0, sizeof *g);
    int cap = 0, n_req = 0, cap_req = 0;
    for (char *line = buf.p; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        cJSON *j = cJSON_Parse(line);
        if (!j) {
            printf("%s: bad JSON line\n", path);
            return -1;
        }
        if (g->n == cap) {
            cap = cap ? 2 * cap : 32;
            g->docs = ko_xrealloc(g->docs, (size_t)cap * sizeof *g->docs);
        }
        ko_doc *d = &g->docs[g->n++];
        memset(d, 0, sizeof *d);
        d->ctx = ids(cJSON_GetObjectItem(j, "ctx"), &d->n_ctx);
        const cJSON *conts = cJSON_GetObjectItem(j, "conts");
        doc_alloc(d, cJSON_GetArraySize(conts));
        for (int i = 0; i < d->n_choices; i++) {
            if (n_req == cap_req) {
                cap_req = cap_req ? 2 * cap_req : 64;
                g->want_lp = ko_xrealloc(g->want_lp, (size_t)cap_req * sizeof *g->want_lp);
                g->want_greedy = ko_xrealloc(g->want_greedy, (size_t)cap_req * sizeof *g->want_greedy);
                g->gap = ko_xrealloc(g->gap, (size_t)cap_req * sizeof *g->gap);
            }
            ((const int32_t **)d->cont)[i] = ids(cJSON_GetArrayItem(conts, i), &((int *)d->n_cont)[i]);
            g->want_lp[n_req] = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "logprob"), i)->valuedouble;
            g->want_greedy[n_req] = cJSON_IsTrue(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "is_greedy"), i));
            g->gap[n_req] = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "gap"), i)->valuedouble;
            n_req++;
        }
        cJSON_Delete(j);
        line = nl ? nl + 1 : NULL;
    }
    ko_buf_free(&buf);
    return 0;
}

static inline void free_golden(golden *g) {
    for (int i = 0; i < g->n; i++)
        doc_free(&g->docs[i], true);
    free(g->docs);
    free(g->want_lp);
    free(g->want_greedy);
    free(g->gap);
}

/* Flattened results of one scoring run. */
static inline void collect(const golden *g, double *lp, bool *greedy) {
    int r = 0;
    for (int d = 0; d < g->n; d++)
        for (int i = 0; i < g->docs[d].n_choices; i++, r++) {
            lp[r] = g->docs[d].logprob[i];
            greedy[r] = g->docs[d].is_greedy[i];
        }
}

static inline int n_requests(const golden *g) {
    int r = 0;
    for (int d = 0; d < g->n; d++)
        r += g->docs[d].n_choices;
    return r;
}

/* lm-eval's softmax_dtype=bfloat16 (its default for a bfloat16 model; goldens from make_engine_goldens.py
 * --softmax_dtype bfloat16): every request's log-likelihood is a bfloat16 sum of bfloat16 log-probs.
 * The engine's float32 logits differ from torch's by float rounding, so a log-prob on a rounding boundary
 * may land one bfloat16 step away: every result a bfloat16 value within one step, nearly all equal. */
static inline void softmax_check(const char *name, const golden *g) {
    int R = n_requests(g), same = 0, near = 0, rounded = 0, gbad = 0;
    double *lp = ko_xmalloc((size_t)R * sizeof *lp);
    bool *gr = ko_xmalloc((size_t)R * sizeof *gr);
    collect(g, lp, gr);
    for (int r = 0; r < R; r++) {
        const double w = g->want_lp[r], step = fabs(w) * 0x1p-7 + 1e-30; /* one bfloat16 step or less */
        rounded += ko_dtype_round(KO_BF16, (float)lp[r]) == lp[r];
        same += lp[r] == w;
        near += fabs(lp[r] - w) <= step;
        gbad += g->gap[r] > 1e-3 && gr[r] != g->want_greedy[r];
    }
    CHECK(rounded == R, "%s: %d of %d results are not bfloat16 values", name, R - rounded, R);
    CHECK(near == R, "%s: %d of %d results more than one bfloat16 step from lm-eval's", name, R - near, R);
    CHECK(same >= R * 9 / 10, "%s: only %d of %d results equal to lm-eval's bfloat16 ones", name, same, R);
    CHECK(gbad == 0, "%s: %d is_greedy mismatches", name, gbad);
    printf("%-12s softmax_dtype=bfloat16: %d of %d requests equal to lm-eval's, %d within one step\n", name, same, R, near);
    free(lp);
    free(gr);
}
#endif
