/* test_cuda_parity — the CUDA backend on the tiny random-init HF checkpoints of every architecture
 * (tests/engine/tiny) against HF transformers' fp32 goldens (tests/engine/goldens, made by
 * scripts/make_engine_goldens.py; the same goldens the CPU backend is held to): in float32 every
 * request within 1e-3 nats and the same is_greedy where the top-2 margin is not a near tie; in
 * bfloat16 every request finite and within a bf16-sized distance.
 * Without a CUDA build or a GPU it prints a SKIP line and passes (the checkpoints still load). */
#include "engine/engine.h"
#include "tests/engine/goldens.h"
#include "tests/test.h"

#ifndef KO_HAVE_CUDA
int main(void) {
    printf("SKIP cuda/test_cuda_parity: built without CUDA (no nvcc)\n");
    TEST_END();
}
#else

static const char *MODELS[] = {"gemma3_text", "gemma3", "gemma2", "llama", "mistral", "qwen2", "exaone", "gemma2_gptq", "llama_gptq"};

int main(void) {
    for (size_t mi = 0; mi < sizeof MODELS / sizeof MODELS[0]; mi++) {
        char dir[256];
        snprintf(dir, sizeof dir, "tests/engine/tiny/%s", MODELS[mi]);
        ko_err e = {{0}};
        ko_model *m = NULL;
        int rc = ko_model_load(dir, &m, &e);
        CHECK(rc == 0, "%s: %s", dir, e.msg);
        if (rc) continue;
        golden g = {0};
        char path[256];
        snprintf(path, sizeof path, "tests/engine/goldens/%s.jsonl.gz", MODELS[mi]);
        CHECK(load_golden(path, &g) == 0, "%s golden", MODELS[mi]);
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
                    double got = g.docs[d].logprob[c], err = fabs(got - g.want_lp[r]);
                    double tol = v < 2 ? 1e-3 : 0.02 * fabs(g.want_lp[r]) + 0.1;
                    CHECK(isfinite(got) && err <= tol, "%s %s doc %d choice %d: %.6f vs HF %.6f", MODELS[mi], dts[v / 2], d, c, got, g.want_lp[r]);
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
        /* float32 under lm-eval's softmax_dtype=bfloat16: the LM head's rounding (goldens.h: softmax_check) */
        for (size_t si = 0; si < sizeof SOFTMAX_MODELS / sizeof SOFTMAX_MODELS[0]; si++) {
            if (strcmp(SOFTMAX_MODELS[si], MODELS[mi])) continue;
            snprintf(path, sizeof path, SOFTMAX_GOLDENS, MODELS[mi]);
            golden gs = {0};
            CHECK(load_golden(path, &gs) == 0, "%s softmax golden", MODELS[mi]);
            ko_engine_opts o = {.device = "cuda", .dtype = "float32", .softmax_dtype = "bfloat16"};
            void *st = NULL;
            rc = ko_backend_cuda.open(m, &o, &st, &e);
            CHECK(rc == 0, "%s softmax bfloat16 open: %s", MODELS[mi], e.msg);
            if (rc == 0) {
                rc = ko_backend_cuda.score(st, gs.docs, gs.n, &e);
                CHECK(rc == 0, "%s softmax bfloat16 score: %s", MODELS[mi], e.msg);
                ko_backend_cuda.close(st);
                if (rc == 0) softmax_check(MODELS[mi], &gs);
            }
            free_golden(&gs);
        }
        ko_model_free(m);
    }
    TEST_END();
}
#endif
