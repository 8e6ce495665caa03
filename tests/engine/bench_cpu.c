/* bench_cpu.c — timing of the CPU backend (not a test; scripts/bench_cpu.sh builds and runs it).
 *
 *   bench_cpu MODEL [N_DOCS [THREADS]]
 *
 * Scores N_DOCS synthetic documents shaped like KoBEST's (a context of 20-300 tokens, 2-4 choices of
 * 2-24 tokens; ids drawn deterministically from the vocabulary) three ways, in one run:
 *   packed   the engine as used: each document's choices in one tree-masked sequence, all threads;
 *   1thread  the same with one thread;
 *   split    the baseline of lm-eval's HF backend: every choice a document of its own, so the
 *            context is run once per choice (all threads).
 * and prints tokens/s (tokens = what the model runs: the context once per document for packed),
 * documents/s, and the ratios against the baseline. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

static unsigned long long rng = 0x9E3779B97F4A7C15ull;
static int rnd(int n) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (int)(rng % (unsigned long long)n);
}

typedef struct run {
    double s;
    long long tokens;
} run;

static int time_run(const ko_model *m, int threads, ko_doc *docs, int n, run *out, ko_err *e) {
    ko_engine_opts o = {.device = "cpu", .n_threads = threads};
    ko_engine *en;
    if (ko_engine_open(m, &o, &en, e) != 0)
        return -1;
    /* warm-up (first touch of buffers, BLAS threads), not timed */
    ko_engine_stats st0, st;
    int rc = ko_engine_score(en, docs, 1, e);
    ko_engine_stats_get(en, &st0);
    double t0 = ko_now();
    if (rc == 0)
        rc = ko_engine_score(en, docs, n, e);
    out->s = ko_now() - t0;
    ko_engine_stats_get(en, &st);
    out->tokens = st.tokens - st0.tokens;
    if (rc == 0)
        printf("  %-30s %8.2f s  %8.0f tok/s  %7.2f docs/s  peak RSS %.0f MB\n", st.device_name,
               out->s, out->tokens / out->s, n / out->s, st.peak_mem_bytes / 1e6);
    ko_engine_close(en);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_cpu MODEL [N_DOCS [THREADS]]\n");
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 64, threads = argc > 3 ? atoi(argv[3]) : 0;
    ko_err e;
    ko_model *m;
    double t0 = ko_now();
    if (ko_model_load(argv[1], &m, &e) != 0) {
        fprintf(stderr, "bench_cpu: %s\n", e.msg);
        return 1;
    }
    printf("model %s (%s, %d layers, hidden %d, vocab %d): loaded in %.2f s\n", argv[1],
           m->cfg.model_type, m->cfg.n_layers, m->cfg.hidden, m->cfg.vocab_size, ko_now() - t0);
    int V = m->cfg.vocab_size, n_req = 0;
    ko_doc *docs = calloc((size_t)n, sizeof *docs);
    for (int d = 0; d < n; d++) {
        ko_doc *D = &docs[d];
        D->n_ctx = 20 + rnd(281);
        if (m->cfg.max_pos > 0 && D->n_ctx > m->cfg.max_pos - 24)
            D->n_ctx = m->cfg.max_pos - 24;   /* the tiny models have 256 positions */
        int32_t *ctx = malloc((size_t)D->n_ctx * sizeof *ctx);
        for (int i = 0; i < D->n_ctx; i++)
            ctx[i] = rnd(V);
        D->ctx = ctx;
        D->n_choices = 2 + rnd(3);
        const int32_t **cont = calloc((size_t)D->n_choices, sizeof *cont);
        int *n_cont = calloc((size_t)D->n_choices, sizeof *n_cont);
        for (int i = 0; i < D->n_choices; i++) {
            n_cont[i] = 2 + rnd(23);
            int32_t *c = malloc((size_t)n_cont[i] * sizeof *c);
            for (int j = 0; j < n_cont[i]; j++)
                c[j] = rnd(V);
            cont[i] = c;
        }
        D->cont = cont;
        D->n_cont = n_cont;
        D->logprob = calloc((size_t)D->n_choices, sizeof *D->logprob);
        D->is_greedy = calloc((size_t)D->n_choices, sizeof *D->is_greedy);
        n_req += D->n_choices;
    }
    ko_doc *split = calloc((size_t)n_req, sizeof *split);
    for (int d = 0, r = 0; d < n; d++)
        for (int i = 0; i < docs[d].n_choices; i++, r++) {
            split[r] = docs[d];
            split[r].n_choices = 1;
            split[r].cont = &docs[d].cont[i];
            split[r].n_cont = &docs[d].n_cont[i];
            split[r].logprob = malloc(sizeof(double));
            split[r].is_greedy = malloc(sizeof(bool));
        }
    printf("%d documents, %d requests\n", n, n_req);
    run packed, one, base;
    if (time_run(m, threads, docs, n, &packed, &e) || time_run(m, 1, docs, n, &one, &e) ||
        time_run(m, threads, split, n_req, &base, &e)) {
        fprintf(stderr, "bench_cpu: %s\n", e.msg);
        return 1;
    }
    printf("packed vs split (lm-eval's one sequence per choice): %.2fx faster; "
           "all threads vs 1: %.2fx\n", base.s / packed.s, one.s / packed.s);
    ko_model_free(m);
    return 0;
}
