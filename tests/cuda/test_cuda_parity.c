/* test_cuda_parity — the CUDA backend on the tiny random-init HF checkpoints of every architecture
 * (tests/engine/tiny) against HF transformers' fp32 goldens (tests/engine/goldens, made by
 * scripts/make_engine_goldens.py; the same goldens the CPU backend is held to): in float32 every
 * request within 1e-3 nats and the same is_greedy where the top-2 margin is not a near tie; in
 * bfloat16 every request finite and within a bf16-sized distance.
 * Without a CUDA build or a GPU it prints a SKIP line and passes (the checkpoints still load). */
#include <cjson/cJSON.h>

#include "engine/engine.h"
#include "tests/test.h"

#ifndef KO_HAVE_CUDA
int main(void) {
    printf("SKIP cuda/test_cuda_parity: built without CUDA (no nvcc)\n");
    TEST_END();
}
#else

static const char *MODELS[] = {"gemma3_text", "gemma3", "gemma2", "llama", "mistral", "qwen2", "exaone", "gemma2_gptq", "llama_gptq"};

typedef struct {
    int n, nreq;
    ko_doc *docs;
    double *want, *gap;
    bool *want_greedy;
} golden;

static int32_t *ids(const cJSON *a, int *n) {
    *n = cJSON_GetArraySize(a);
    int32_t *v = ko_xmalloc(sizeof(int32_t) * (size_t)(*n ? *n : 1));
    for (int i = 0; i < *n; i++) v[i] = (int32_t)cJSON_GetArrayItem(a, i)->valueint;
    return v;
}

static int load_golden(const char *name, golden *g) {
    char path[256];
    snprintf(path, sizeof path, "tests/engine/goldens/%s.jsonl.gz", name);
    ko_buf buf = {0};
    ko_err e;
    if (ko_read_file(path, &buf, &e)) { printf("%s\n", e.msg); return -1; }
    memset(g, 0, sizeof *g);
    int cap = 0, rcap = 0;
    for (char *line = buf.p; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        cJSON *j = cJSON_Parse(line);
        if (!j) { printf("%s: bad JSON\n", path); return -1; }
        if (g->n == cap) g->docs = ko_xrealloc(g->docs, sizeof(ko_doc) * (size_t)(cap = cap ? 2 * cap : 32));
        ko_doc *d = &g->docs[g->n++];
        memset(d, 0, sizeof *d);
        d->ctx = ids(cJSON_GetObjectItem(j, "ctx"), &d->n_ctx);
        const cJSON *conts = cJSON_GetObjectItem(j, "conts");
        int k = d->n_choices = cJSON_GetArraySize(conts);
        const int32_t **cv = ko_xcalloc((size_t)k, sizeof *cv);
        int *nn = ko_xcalloc((size_t)k, sizeof *nn);
        for (int i = 0; i < k; i++) {
            if (g->nreq + 1 > rcap) {
                rcap = rcap ? 2 * rcap : 64;
                g->want = ko_xrealloc(g->want, sizeof(double) * (size_t)rcap);
                g->gap = ko_xrealloc(g->gap, sizeof(double) * (size_t)rcap);
                g->want_greedy = ko_xrealloc(g->want_greedy, sizeof(bool) * (size_t)rcap);
            }
            cv[i] = ids(cJSON_GetArrayItem(conts, i), &nn[i]);
            g->want[g->nreq] = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "logprob"), i)->valuedouble;
            g->gap[g->nreq] = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "gap"), i)->valuedouble;
            g->want_greedy[g->nreq] = cJSON_IsTrue(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "is_greedy"), i));
            g->nreq++;
        }
        d->cont = cv;
        d->n_cont = nn;
        d->logprob = ko_xcalloc((size_t)k, sizeof(double));
        d->is_greedy = ko_xcalloc((size_t)k, sizeof(bool));
        cJSON_Delete(j);
        line = nl ? nl + 1 : NULL;
    }
    ko_buf_free(&buf);
    return 0;
}

static void free_golden(golden *g) {
    for (int i = 0; i < g->n; i++) {
        ko_doc *d = &g->docs[i];
        free((void *)d->ctx);
        for (int c = 0; c < d->n_choices; c++) free((void *)d->cont[c]);
        free((void *)d->cont); free((void *)d->n_cont); free(d->logprob); free(d->is_greedy);
    }
    free(g->docs); free(g->want); free(g->gap); free(g->want_greedy);
}

int main(void) {
    for (size_t mi = 0; mi < sizeof MODELS / sizeof MODELS[0]; mi++) {
        char dir[256];
        snprintf(dir, sizeof dir, "tests/engine/tiny/%s", MODELS[mi]);
        ko_err e = {{0}};
        ko_model *m = NULL;
        int rc = ko_model_load(dir, &m, &e);
        CHECK(rc == 0, "%s: %s", dir, e.msg);
        if (rc) continue;
        golden g;
        CHECK(load_golden(MODELS[mi], &g) == 0, "%s golden", MODELS[mi]);
        static const char *dts[] = {"float32", "bfloat16"};
        for (int v = 0; v < 4; v++) {
            ko_engine_opts o = {.device = "cuda", .dtype = dts[v / 2], .batch_tokens = v % 2 ? 24 : 0};
            void *st = NULL;
            e.msg[0] = 0;
            rc = ko_backend_cuda.open(m, &o, &st, &e);
            if (rc && strstr(e.msg, "no CUDA device")) {
                printf("SKIP cuda/test_cuda_parity: %s\n", e.msg);
                free_golden(&g);
                ko_model_free(m);
                TEST_END();
            }
            CHECK(rc == 0, "%s %s open: %s", MODELS[mi], dts[v / 2], e.msg);
            if (rc) continue;
            rc = ko_backend_cuda.score(st, g.docs, g.n, &e);
            CHECK(rc == 0, "%s %s score: %s", MODELS[mi], dts[v / 2], e.msg);
            ko_backend_cuda.close(st);
            if (rc) continue;
            double worst = 0;
            int r = 0, gb = 0, gc = 0;
            for (int d = 0; d < g.n; d++)
                for (int c = 0; c < g.docs[d].n_choices; c++, r++) {
                    double got = g.docs[d].logprob[c], err = fabs(got - g.want[r]);
                    double tol = v < 2 ? 1e-3 : 0.02 * fabs(g.want[r]) + 0.1;
                    CHECK(isfinite(got) && err <= tol, "%s %s doc %d choice %d: %.6f vs HF %.6f", MODELS[mi], dts[v / 2], d, c, got, g.want[r]);
                    if (err > worst) worst = err;
                    if (g.gap[r] > (v < 2 ? 1e-3 : 0.1)) {
                        gc++;
                        gb += g.docs[d].is_greedy[c] != g.want_greedy[r];
                    }
                }
            CHECK(gb == 0, "%s %s: %d of %d is_greedy differ from HF", MODELS[mi], dts[v / 2], gb, gc);
            printf("# %-11s %-8s batch=%-2d max |cuda - HF fp32| %.2e over %d requests, greedy checked %d\n", MODELS[mi], dts[v / 2],
                   o.batch_tokens, worst, r, gc);
        }
        free_golden(&g);
        ko_model_free(m);
    }
    TEST_END();
}
#endif
