/* engine.h — stage 3: token ids in, per-choice log-likelihoods out.
 *
 * The unit of work is a document: one context and its k continuations (the answer choices). A
 * backend scores all k in one packed sequence [ctx | cont_1 | ... | cont_k] with a tree mask
 * (cont_i sees the context and its own earlier tokens; its positions restart at n_ctx), computing the
 * context once, and produces logits only where they are needed (the last context position and every
 * continuation position but the last), in fp32.
 *
 * Semantics are lm-eval's HF `_loglikelihood_tokens`: the model input for choice i is
 * (ctx + cont_i)[:-1]; logprob_i = sum_j log softmax(logits at the position before cont_i[j])[cont_i[j]];
 * is_greedy_i = every cont_i[j] is the argmax there. lm-eval's log_softmax runs in its softmax_dtype (by
 * default the model's dtype): in bfloat16 / float16 every log-prob is rounded to it, their sum is
 * accumulated in float32 and rounded to it too (torch's sum of a 16-bit tensor), and so are these
 * results; the argmax is the first index of the rounded maximum (distinct logits that round to one
 * log-prob are a tie, which the first of them wins). Callers guarantee
 * n_ctx >= 1, n_cont[i] >= 1 and n_ctx + n_cont[i] - 1 <= max_len (the evaluator applies lm-eval's
 * left truncation first).
 */
#ifndef KO_ENGINE_H
#define KO_ENGINE_H

#include "common/ko.h"
#include "engine/model/model.h"

typedef struct ko_doc {
    const int32_t *ctx;
    int n_ctx;
    int n_choices;
    const int32_t *const *cont;  /* [n_choices] token arrays */
    const int *n_cont;           /* [n_choices] */
    double *logprob;             /* out [n_choices] */
    bool *is_greedy;             /* out [n_choices] */
} ko_doc;

typedef struct ko_engine_opts {
    const char *device;          /* "cpu", "cuda", "cuda:K"; NULL = cuda when available, else cpu */
    const char *dtype;           /* "bfloat16" | "float16" | "float32"; NULL = backend default */
    const char *softmax_dtype;   /* lm-eval's softmax_dtype (the same names); NULL = the compute dtype */
    int max_len;                 /* 0 = from the model */
    double gpu_memory_utilization; /* 0 = 0.9 */
    int batch_tokens;            /* 0 = auto (token budget of one packed batch) */
    int n_threads;               /* CPU threads; 0 = all cores */
    bool verbose;
    /* Called by backends that report progress, after each batch, with the documents done so far in
     * the current ko_engine_score call; NULL = none. */
    void (*progress)(void *ctx, int done, int total);
    void *progress_ctx;
} ko_engine_opts;

typedef struct ko_engine_stats {
    char device_name[128];
    double load_s, score_s;
    long long tokens;            /* tokens run through the model (context once per doc) */
    long long docs;
    double peak_mem_bytes;       /* device memory (cuda) or resident set (cpu) */
} ko_engine_stats;

typedef struct ko_engine ko_engine;

/* A backend's operations; engine.c picks one by device. */
typedef struct ko_backend {
    const char *name;            /* "cpu" | "cuda" */
    int (*open)(const ko_model *m, const ko_engine_opts *o, void **state, ko_err *e);
    /* Scores n documents (any order/size; the backend packs them into batches itself). */
    int (*score)(void *state, ko_doc *docs, int n, ko_err *e);
    void (*stats)(void *state, ko_engine_stats *s);
    void (*close)(void *state);
} ko_backend;

extern const ko_backend ko_backend_cpu;
#ifdef KO_HAVE_CUDA
extern const ko_backend ko_backend_cuda;
#endif

/* The dtype of the log-softmax for an engine computing in `compute` (o->softmax_dtype, or compute). */
int ko_engine_softmax_dtype(const ko_engine_opts *o, ko_dtype compute, ko_dtype *out, ko_err *e);
/* Backends: a token's log-prob lp added to its request's sum (float32 additions under a 16-bit softmax
 * dtype t, as torch sums a 16-bit tensor), and at the end each sum rounded to t. */
static inline void ko_engine_add_logprob(double *sum, double lp, ko_dtype t) {
    *sum = t == KO_F32 ? *sum + lp : (float)(*sum + lp);
}
void ko_engine_round_sums(ko_doc *docs, int n, ko_dtype t);

int ko_engine_open(const ko_model *m, const ko_engine_opts *o, ko_engine **out, ko_err *e);
int ko_engine_score(ko_engine *en, ko_doc *docs, int n, ko_err *e);
int ko_engine_max_len(const ko_engine *en);
/* The max_len an engine opened on m with o will have (known before the open). */
int ko_engine_max_len_for(const ko_model *m, const ko_engine_opts *o);
void ko_engine_stats_get(const ko_engine *en, ko_engine_stats *s);
const char *ko_engine_backend(const ko_engine *en);
void ko_engine_close(ko_engine *en);

#endif
