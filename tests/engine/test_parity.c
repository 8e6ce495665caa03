/* test_parity.c — the CPU backend against HF transformers on the tiny checkpoints of every
 * architecture (tests/engine/tiny, goldens from scripts/make_engine_goldens.py): every request within
 * 1e-3 nats and the same is_greedy — and on the real default model when `make model` has fetched it
 * (transformers' own dequantisation of the same GGUF, as lm-eval loads it); then properties of the engine itself: the tree mask (k choices in
 * one packed sequence = each choice alone), batching invariance (one document per batch = all in
 * one), thread-count invariance, and the errors of bad input. */
#include <cjson/cJSON.h>

#include "engine/engine.h"
#include "tests/engine/goldens.h"
#include "tests/test.h"

/* Scoring the same requests another way (other batches, threads, packing) may only move float
 * rounding: OpenBLAS splits its sums by thread count and matrix shape, so results agree to a few
 * f32 ulps of the ~-100 nat sums (1 ulp = 7.6e-6), not bit for bit. A mask or position bug moves
 * them by whole nats. */
#define INVARIANT_TOL 1e-4

/* *_gptq: GPTQ 4-bit checkpoints, goldens from the GPTQ runtime (scripts/make_gptq_models.py). */
static const char *MODELS[] = {"gemma3_text", "gemma3", "gemma2", "llama", "mistral", "qwen2",
                               "exaone", "gemma2_gptq", "llama_gptq"};

static ko_engine *open_cpu_sd(const ko_model *m, int threads, int batch_tokens, const char *softmax_dtype) {
    ko_engine_opts o = {.device = "cpu", .n_threads = threads, .batch_tokens = batch_tokens, .softmax_dtype = softmax_dtype};
    ko_engine *en = NULL;
    ko_err e;
    if (ko_engine_open(m, &o, &en, &e) != 0) {
        printf("open: %s\n", e.msg);
        return NULL;
    }
    return en;
}
static ko_engine *open_cpu(const ko_model *m, int threads, int batch_tokens) { return open_cpu_sd(m, threads, batch_tokens, NULL); }

static double max_diff(const double *a, const double *b, int n) {
    double mx = 0;
    for (int i = 0; i < n; i++)
        if (fabs(a[i] - b[i]) > mx)
            mx = fabs(a[i] - b[i]);
    return mx;
}

/* Parity of one model with its goldens; with `invariants`, also the batching / threads / tree-mask
 * properties. */
static void test_model(const char *name, const char *dir, const char *golden_path, bool invariants) {
    ko_model *m = NULL;
    ko_err e;
    int rc = ko_model_load(dir, &m, &e);
    CHECK(rc == 0, "%s: %s", name, e.msg);
    if (rc != 0)
        return;
    golden g = {0};
    rc = load_golden(golden_path, &g);
    CHECK(rc == 0, "%s: goldens", name);
    if (rc != 0) {
        ko_model_free(m);
        return;
    }
    int R = n_requests(&g);
    double *lp = ko_xmalloc((size_t)R * sizeof *lp), *lp2 = ko_xmalloc((size_t)R * sizeof *lp2);
    bool *gr = ko_xmalloc((size_t)R * sizeof *gr), *gr2 = ko_xmalloc((size_t)R * sizeof *gr2);

    /* Parity with transformers: all documents in one call, two threads. */
    ko_engine *en = open_cpu(m, 2, 0);
    CHECK(en != NULL, "%s: open", name);
    if (!en)
        goto out;
    CHECK_EQ_STR(ko_engine_backend(en), "cpu");
    rc = ko_engine_score(en, g.docs, g.n, &e);
    CHECK(rc == 0, "%s: score: %s", name, e.msg);
    collect(&g, lp, gr);
    double dmax = max_diff(lp, g.want_lp, R);
    int greedy_bad = 0, n_greedy = 0;
    for (int r = 0; r < R; r++) {
        CHECK_NEAR(lp[r], g.want_lp[r], 1e-3);
        n_greedy += gr[r];
        if (gr[r] != g.want_greedy[r]) {
            greedy_bad++;
            printf("%s request %d: is_greedy %d, transformers %d (top-2 gap %g)\n", name, r, gr[r],
                   g.want_greedy[r], g.gap[r]);
        }
    }
    CHECK(greedy_bad == 0, "%s: %d is_greedy mismatches", name, greedy_bad);
    CHECK(n_greedy > 0, "%s: the goldens hold greedy choices", name);
    ko_engine_stats st;
    ko_engine_stats_get(en, &st);
    printf("%-12s %3d requests  max |dlogprob| vs transformers %.3g nats  (%lld tokens, %.3f s)\n",
           name, R, dmax, st.tokens, st.score_s);
    ko_engine_close(en);
    if (!invariants)
        goto out;

    /* Batching invariance: one document per batch (batch_tokens 1) and one thread. */
    en = open_cpu(m, 1, 1);
    if (en && ko_engine_score(en, g.docs, g.n, &e) == 0) {
        collect(&g, lp2, gr2);
        double d = max_diff(lp, lp2, R);
        CHECK(d <= INVARIANT_TOL, "%s: one doc per batch, 1 thread differs by %g", name, d);
        CHECK(memcmp(gr, gr2, (size_t)R * sizeof *gr) == 0, "%s: is_greedy depends on batching", name);
    } else {
        CHECK(0, "%s: batch_tokens 1: %s", name, e.msg);
    }
    ko_engine_close(en);

    /* Threads invariance at the same batching. */
    en = open_cpu(m, 3, 0);
    if (en && ko_engine_score(en, g.docs, g.n, &e) == 0) {
        collect(&g, lp2, gr2);
        CHECK(max_diff(lp, lp2, R) <= INVARIANT_TOL, "%s: 3 threads differ from 2 by %g", name,
              max_diff(lp, lp2, R));
    } else {
        CHECK(0, "%s: 3 threads: %s", name, e.msg);
    }
    ko_engine_close(en);

    /* Tree mask: every choice scored as a document of its own equals the packed result. */
    en = open_cpu(m, 2, 0);
    int n_single = R;
    ko_doc *single = ko_xcalloc((size_t)n_single, sizeof *single);
    int r = 0;
    for (int d = 0; d < g.n; d++)
        for (int i = 0; i < g.docs[d].n_choices; i++, r++) {
            single[r].ctx = g.docs[d].ctx;
            single[r].n_ctx = g.docs[d].n_ctx;
            doc_alloc(&single[r], 1);
            ((const int32_t **)single[r].cont)[0] = g.docs[d].cont[i];
            ((int *)single[r].n_cont)[0] = g.docs[d].n_cont[i];
        }
    if (en && ko_engine_score(en, single, n_single, &e) == 0) {
        double d = 0;
        int same_greedy = 1;
        for (r = 0; r < R; r++) {
            if (fabs(single[r].logprob[0] - lp[r]) > d)
                d = fabs(single[r].logprob[0] - lp[r]);
            same_greedy &= single[r].is_greedy[0] == gr[r];
        }
        CHECK(d <= INVARIANT_TOL, "%s: choices alone differ from the packed tree by %g", name, d);
        CHECK(same_greedy, "%s: is_greedy differs alone vs packed", name);
    } else {
        CHECK(0, "%s: single choices: %s", name, e.msg);
    }
    for (r = 0; r < n_single; r++)
        doc_free(&single[r], false);
    free(single);
    ko_engine_close(en);
out:
    free(lp);
    free(lp2);
    free(gr);
    free(gr2);
    free_golden(&g);
    ko_model_free(m);
}

/* The CPU backend under lm-eval's softmax_dtype=bfloat16 (goldens.h: softmax_check). */
static void test_softmax_dtype(const char *name) {
    char dir[256], path[256];
    snprintf(dir, sizeof dir, "tests/engine/tiny/%s", name);
    snprintf(path, sizeof path, SOFTMAX_GOLDENS, name);
    ko_model *m = NULL;
    ko_err e;
    golden g = {0};
    int rc = ko_model_load(dir, &m, &e);
    CHECK(rc == 0, "%s: %s", name, e.msg);
    if (rc != 0) return;
    rc = load_golden(path, &g);
    CHECK(rc == 0, "%s: goldens %s", name, path);
    ko_engine *en = rc == 0 ? open_cpu_sd(m, 2, 0, "bfloat16") : NULL;
    if (en) {
        rc = ko_engine_score(en, g.docs, g.n, &e);
        CHECK(rc == 0, "%s: score: %s", name, e.msg);
        softmax_check(name, &g);
        ko_engine_close(en);
    }
    free_golden(&g);
    ko_model_free(m);
}

/* Bad input is an error, never a crash or a silent number. */
static void test_errors(void) {
    ko_model *m = NULL;
    ko_err e;
    if (ko_model_load("tests/engine/tiny/llama", &m, &e) != 0) {
        CHECK(0, "load: %s", e.msg);
        return;
    }
    ko_engine *en = NULL;
    ko_engine_opts o = {.device = "tpu"};
    CHECK(ko_engine_open(m, &o, &en, &e) == -1 && strstr(e.msg, "device tpu: unknown"), "%s", e.msg);
#ifndef KO_HAVE_CUDA
    o.device = "cuda:1";
    CHECK(ko_engine_open(m, &o, &en, &e) == -1 && strstr(e.msg, "built without CUDA"), "%s", e.msg);
#endif
    /* No device: cuda when built and a GPU opens, else cpu. */
    o.device = NULL;
    CHECK(ko_engine_open(m, &o, &en, &e) == 0, "%s", e.msg);
#ifdef KO_HAVE_CUDA
    CHECK(en && (!strcmp(ko_engine_backend(en), "cpu") || !strcmp(ko_engine_backend(en), "cuda")),
          "backend %s", en ? ko_engine_backend(en) : "-");
#else
    CHECK(en && !strcmp(ko_engine_backend(en), "cpu"), "backend %s", en ? ko_engine_backend(en) : "-");
#endif
    ko_engine_close(en);
    o.device = "cpu";
    o.dtype = "bfloat16";
    CHECK(ko_engine_open(m, &o, &en, &e) == -1 && strstr(e.msg, "float32 only"), "%s", e.msg);
    o.dtype = NULL;
    o.softmax_dtype = "float8";
    CHECK(ko_engine_open(m, &o, &en, &e) == -1 && strstr(e.msg, "softmax dtype float8: unknown"), "%s", e.msg);
    o.softmax_dtype = NULL;
    o.max_len = 8;
    CHECK(ko_engine_open(m, &o, &en, &e) == 0, "%s", e.msg);
    CHECK_EQ_INT(ko_engine_max_len(en), 8);
    int32_t ctx[6] = {1, 2, 3, 4, 5, 6}, c0[4] = {7, 8, 9, 10}, bad[1] = {512};
    const int32_t *conts[1] = {c0};
    int n_cont[1] = {4};
    double lp[1];
    bool gr[1];
    ko_doc d = {ctx, 6, 1, conts, n_cont, lp, gr};
    CHECK(ko_engine_score(en, &d, 1, &e) == -1 && strstr(e.msg, "exceed max_len 8"), "%s", e.msg);
    n_cont[0] = 3;   /* 6 + 3 - 1 = 8 tokens: fits */
    CHECK(ko_engine_score(en, &d, 1, &e) == 0, "%s", e.msg);
    CHECK(lp[0] < 0 && isfinite(lp[0]), "logprob %g", lp[0]);
    conts[0] = bad;
    n_cont[0] = 1;
    CHECK(ko_engine_score(en, &d, 1, &e) == -1 && strstr(e.msg, "outside the vocabulary"), "%s", e.msg);
    d.n_ctx = 0;
    CHECK(ko_engine_score(en, &d, 1, &e) == -1, "empty context accepted");
    ko_engine_close(en);

    /* A ko_model whose tensor disagrees with its config is refused, not read past its end. */
    ko_model broken = *m;
    broken.layers = ko_xmalloc((size_t)m->cfg.n_layers * sizeof *broken.layers);
    memcpy(broken.layers, m->layers, (size_t)m->cfg.n_layers * sizeof *broken.layers);
    broken.layers[1].w_down.shape[1] -= 1;
    o.max_len = 0;
    CHECK(ko_engine_open(&broken, &o, &en, &e) == -1 && strstr(e.msg, "layer 1 down_proj"), "%s", e.msg);
    free(broken.layers);

    /* Ties: a zero LM head makes every logit equal; lm-eval's torch argmax then picks the first
     * index, so only token 0 is greedy, and each token costs exactly log(vocab). */
    ko_model flat = *m;
    int V = m->cfg.vocab_size, H = m->cfg.hidden;
    float *zeros = ko_xcalloc((size_t)V * H, sizeof *zeros);
    flat.lm_head = (ko_tensor){KO_F32, 2, {V, H}, zeros};
    flat.cfg.tie_embeddings = false;
    CHECK(ko_engine_open(&flat, &o, &en, &e) == 0, "%s", e.msg);
    int32_t t0[2] = {0, 0}, t5[2] = {0, 5};
    const int32_t *tie_conts[2] = {t0, t5};
    int tie_n[2] = {2, 2};
    double tie_lp[2];
    bool tie_gr[2];
    ko_doc td = {ctx, 3, 2, tie_conts, tie_n, tie_lp, tie_gr};
    CHECK(en && ko_engine_score(en, &td, 1, &e) == 0, "%s", e.msg);
    CHECK(tie_gr[0] && !tie_gr[1], "is_greedy on ties: %d %d", tie_gr[0], tie_gr[1]);
    CHECK_NEAR(tie_lp[0], -2 * log((double)V), 1e-5);
    CHECK_NEAR(tie_lp[1], -2 * log((double)V), 1e-5);
    ko_engine_close(en);
    free(zeros);
    ko_model_free(m);
}

/* test_parity                  the tiny models (make test)
 * test_parity MODEL GOLDEN     parity of any model with a goldens file of make_engine_goldens.py */
int main(int argc, char **argv) {
    if (argc == 3) {
        test_model(argv[1], argv[1], argv[2], false);
        TEST_END();
    }
    for (size_t i = 0; i < sizeof MODELS / sizeof *MODELS; i++) {
        char dir[256], path[256];
        snprintf(dir, sizeof dir, "tests/engine/tiny/%s", MODELS[i]);
        snprintf(path, sizeof path, "tests/engine/goldens/%s.jsonl.gz", MODELS[i]);
        test_model(MODELS[i], dir, path, true);
    }
    for (size_t i = 0; i < sizeof SOFTMAX_MODELS / sizeof *SOFTMAX_MODELS; i++)
        test_softmax_dtype(SOFTMAX_MODELS[i]);
    /* The real default model (`make model`), against transformers on the same GGUF. */
    const char *real = "models/gemma-3-270m-q4_k_m.gguf";
    if (ko_file_exists(real))
        test_model(real, real, "tests/engine/goldens/real_gemma-3-270m-q4_k_m.jsonl.gz", false);
    else
        printf("%s absent (make model): real-model parity not run\n", real);
    test_errors();
    TEST_END();
}
