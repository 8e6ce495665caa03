/* gemm.cu — cuBLASLt plans and the algorithm tuner (gemm.cuh says what and why). */
#include "engine/cuda/gemm.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LT(call)                                                                                   \
    do {                                                                                           \
        cublasStatus_t st_ = (call);                                                               \
        if (st_ != CUBLAS_STATUS_SUCCESS) return ko_fail(e, "cublasLt: %s: status %d", #call, (int)st_); \
    } while (0)

namespace {

enum { MAX_PLANS = 32, MAX_CAND = 8 };

struct plan {
    int N, K, M;                  /* M: the rows the b/c layouts describe now (0: none yet) */
    cublasLtMatrixLayout_t a, b, c;
    cublasLtMatmulAlgo_t algo;    /* for the current M */
    cublasLtMatmulAlgo_t tuned;
    int tuned_M;                  /* 0: not tuned */
};

} // namespace

struct ko_gemm {
    cublasLtHandle_t lt;
    cublasLtMatmulDesc_t desc;
    cublasLtMatmulPreference_t pref;
    cudaStream_t st;
    cudaDataType_t dt;
    void *ws;
    size_t ws_bytes;
    plan p[MAX_PLANS];
    int np, evict;
    unsigned long long *hash; /* device: one word for out_hash */
};

namespace {

void plan_clear(plan *p) {
    if (p->a) cublasLtMatrixLayoutDestroy(p->a);
    if (p->b) cublasLtMatrixLayoutDestroy(p->b);
    if (p->c) cublasLtMatrixLayoutDestroy(p->c);
    memset(p, 0, sizeof *p);
}

/* Row-major Y[M,N] = X[M,K] W[N,K]^T is column-major Y^T[N,M] = op_T(W^T[K,N]) X^T[K,M]. */
int set_rows(ko_gemm *g, plan *p, int M, ko_err *e) {
    if (p->b) cublasLtMatrixLayoutDestroy(p->b), p->b = NULL;
    if (p->c) cublasLtMatrixLayoutDestroy(p->c), p->c = NULL;
    LT(cublasLtMatrixLayoutCreate(&p->b, g->dt, (uint64_t)p->K, (uint64_t)M, p->K));
    LT(cublasLtMatrixLayoutCreate(&p->c, g->dt, (uint64_t)p->N, (uint64_t)M, p->N));
    p->M = M;
    return 0;
}

plan *find_plan(ko_gemm *g, int N, int K, ko_err *e) {
    for (int i = 0; i < g->np; i++)
        if (g->p[i].N == N && g->p[i].K == K) return &g->p[i];
    plan *p;
    if (g->np < MAX_PLANS) p = &g->p[g->np++];
    else p = &g->p[g->evict], g->evict = (g->evict + 1) % MAX_PLANS, plan_clear(p);
    p->N = N, p->K = K;
    if (cublasLtMatrixLayoutCreate(&p->a, g->dt, (uint64_t)K, (uint64_t)N, K) != CUBLAS_STATUS_SUCCESS) {
        ko_fail(e, "cublasLt: cannot create a %d x %d matrix layout", K, N);
        plan_clear(p);
        return NULL;
    }
    return p;
}

bool no_split(const cublasLtMatmulAlgo_t *a) {
    int32_t split = 1;
    uint32_t red = CUBLASLT_REDUCTION_SCHEME_NONE;
    size_t w = 0;
    cublasLtMatmulAlgoConfigGetAttribute(a, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &split, sizeof split, &w);
    cublasLtMatmulAlgoConfigGetAttribute(a, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME, &red, sizeof red, &w);
    return split <= 1 && red == CUBLASLT_REDUCTION_SCHEME_NONE;
}

/* The heuristic's candidates for the plan's current M, split-K ones left out; returns how many. */
int candidates(ko_gemm *g, plan *p, cublasLtMatmulAlgo_t *out, int want) {
    cublasLtMatmulHeuristicResult_t res[MAX_CAND];
    int got = 0, n = 0;
    if (cublasLtMatmulAlgoGetHeuristic(g->lt, g->desc, p->a, p->b, p->c, p->c, g->pref, want, res, &got) !=
        CUBLAS_STATUS_SUCCESS)
        return 0;
    for (int i = 0; i < got; i++)
        if (res[i].state == CUBLAS_STATUS_SUCCESS && res[i].workspaceSize <= g->ws_bytes && no_split(&res[i].algo))
            out[n++] = res[i].algo;
    return n;
}

int choose_algo(ko_gemm *g, plan *p, ko_err *e) {
    if (p->tuned_M && 2 * p->M >= p->tuned_M) {
        cublasLtMatmulHeuristicResult_t r;
        if (cublasLtMatmulAlgoCheck(g->lt, g->desc, p->a, p->b, p->c, p->c, &p->tuned, &r) == CUBLAS_STATUS_SUCCESS &&
            r.workspaceSize <= g->ws_bytes) {
            p->algo = p->tuned;
            return 0;
        }
    }
    cublasLtMatmulAlgo_t cand[MAX_CAND];
    if (candidates(g, p, cand, MAX_CAND) < 1) return ko_fail(e, "cublasLt: no algorithm for a %d x %d x %d product", p->M, p->N, p->K);
    p->algo = cand[0];
    return 0;
}

int matmul(ko_gemm *g, plan *p, const cublasLtMatmulAlgo_t *algo, const void *W, const void *X, void *Y, float beta) {
    const float alpha = 1.f;
    return cublasLtMatmul(g->lt, g->desc, &alpha, W, p->a, X, p->b, &beta, Y, p->c, Y, p->c, algo, g->ws, g->ws_bytes, g->st) ==
                   CUBLAS_STATUS_SUCCESS
               ? 0
               : -1;
}

template <class T> __global__ void fill_random_k(T *x, size_t n, unsigned seed) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        uint32_t h = (uint32_t)i * 2654435761u ^ seed;
        h ^= h >> 15, h *= 2246822519u, h ^= h >> 13;
        x[i] = (T)((float)(h & 0xffff) / 32768.f - 1.f);
    }
}

/* An order-dependent checksum of the bits of n words: equal outputs give equal sums. */
template <class W> __global__ void hash_k(const W *x, size_t n, unsigned long long *out) {
    unsigned long long acc = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        acc += ((unsigned long long)x[i] + 1) * (2 * (unsigned long long)i + 1);
    atomicAdd(out, acc);
}

int fill_random(ko_gemm *g, void *x, size_t n, unsigned seed) {
    if (g->dt == CUDA_R_32F) fill_random_k<float><<<1024, 256, 0, g->st>>>((float *)x, n, seed);
    else if (g->dt == CUDA_R_16F) fill_random_k<__half><<<1024, 256, 0, g->st>>>((__half *)x, n, seed);
    else fill_random_k<__nv_bfloat16><<<1024, 256, 0, g->st>>>((__nv_bfloat16 *)x, n, seed);
    return cudaGetLastError() == cudaSuccess ? 0 : -1;
}

int out_hash(ko_gemm *g, const void *y, size_t n, unsigned long long *h) {
    if (cudaMemsetAsync(g->hash, 0, sizeof *g->hash, g->st) != cudaSuccess) return -1;
    if (g->dt == CUDA_R_32F) hash_k<uint32_t><<<1024, 256, 0, g->st>>>((const uint32_t *)y, n, g->hash);
    else hash_k<uint16_t><<<1024, 256, 0, g->st>>>((const uint16_t *)y, n, g->hash);
    return cudaMemcpyAsync(h, g->hash, sizeof *h, cudaMemcpyDeviceToHost, g->st) == cudaSuccess &&
                   cudaStreamSynchronize(g->st) == cudaSuccess
               ? 0
               : -1;
}

/* Seconds per product with this algorithm: the best of 3 timed runs after one warm-up (-1: fails). */
double time_algo(ko_gemm *g, plan *p, const cublasLtMatmulAlgo_t *algo, const void *W, const void *X, void *Y, cudaEvent_t ev[2]) {
    double best = -1;
    if (matmul(g, p, algo, W, X, Y, 0.f)) return -1;
    for (int r = 0; r < 3; r++) {
        float ms = 0;
        cudaEventRecord(ev[0], g->st);
        if (matmul(g, p, algo, W, X, Y, 0.f)) return -1;
        cudaEventRecord(ev[1], g->st);
        if (cudaEventSynchronize(ev[1]) != cudaSuccess || cudaEventElapsedTime(&ms, ev[0], ev[1]) != cudaSuccess) return -1;
        if (best < 0 || ms / 1e3 < best) best = ms / 1e3;
    }
    return best;
}

} // namespace

int ko_gemm_create(ko_gemm **out, cudaStream_t st, cudaDataType_t dt, size_t ws_bytes, ko_err *e) {
    ko_gemm *g = (ko_gemm *)calloc(1, sizeof *g);
    if (!g) return ko_fail(e, "out of memory");
    *out = g;
    g->st = st, g->dt = dt, g->ws_bytes = ws_bytes;
    if (cudaMalloc(&g->ws, ws_bytes) != cudaSuccess || cudaMalloc((void **)&g->hash, sizeof *g->hash) != cudaSuccess)
        return ko_fail(e, "cuda: out of device memory for the matrix-product workspace");
    LT(cublasLtCreate(&g->lt));
    /* fp32 accumulation and scaling; fp32 inputs are computed in fp32 (CUBLAS_COMPUTE_32F is never TF32). */
    LT(cublasLtMatmulDescCreate(&g->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    cublasOperation_t ta = CUBLAS_OP_T;
    LT(cublasLtMatmulDescSetAttribute(g->desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
    LT(cublasLtMatmulPreferenceCreate(&g->pref));
    LT(cublasLtMatmulPreferenceSetAttribute(g->pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws_bytes, sizeof ws_bytes));
    uint32_t red = CUBLASLT_REDUCTION_SCHEME_NONE;
    LT(cublasLtMatmulPreferenceSetAttribute(g->pref, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, &red, sizeof red));
    return 0;
}

void ko_gemm_destroy(ko_gemm *g) {
    if (!g) return;
    for (int i = 0; i < g->np; i++) plan_clear(&g->p[i]);
    if (g->pref) cublasLtMatmulPreferenceDestroy(g->pref);
    if (g->desc) cublasLtMatmulDescDestroy(g->desc);
    if (g->lt) cublasLtDestroy(g->lt);
    if (g->ws) cudaFree(g->ws);
    if (g->hash) cudaFree(g->hash);
    free(g);
}

int ko_gemm_run(ko_gemm *g, const void *W, const void *X, void *Y, int M, int N, int K, float beta, ko_err *e) {
    plan *p = find_plan(g, N, K, e);
    if (!p) return -1;
    if (p->M != M && (set_rows(g, p, M, e) || choose_algo(g, p, e))) return -1;
    if (matmul(g, p, &p->algo, W, X, Y, beta)) return ko_fail(e, "cublasLt: a %d x %d x %d product failed", M, N, K);
    return 0;
}

int ko_gemm_tune(ko_gemm *g, const void *W, void *X, void *Y, int M, int N, int K, const char *what, bool verbose, ko_err *e) {
    plan *p = find_plan(g, N, K, e);
    if (!p) return -1;
    if (set_rows(g, p, M, e)) return -1;
    cublasLtMatmulAlgo_t cand[MAX_CAND];
    int n = candidates(g, p, cand, MAX_CAND);
    if (n < 1) return ko_fail(e, "cublasLt: no algorithm for a %d x %d x %d product", M, N, K);
    cudaEvent_t ev[2] = {NULL, NULL};
    if (cudaEventCreate(&ev[0]) != cudaSuccess || cudaEventCreate(&ev[1]) != cudaSuccess) {
        if (ev[0]) cudaEventDestroy(ev[0]);
        return ko_fail(e, "cuda: cannot create events for tuning");
    }
    int rc = -1, best = 0, same = 0;
    double t0 = -1, tb = -1;
    unsigned long long h0 = 0, h;
    if (fill_random(g, X, (size_t)M * K, 0x9e3779b9u ^ (unsigned)N) || matmul(g, p, &cand[0], W, X, Y, 0.f) ||
        out_hash(g, Y, (size_t)M * N, &h0)) {
        ko_fail(e, "cublasLt: tuning a %d x %d x %d product failed", M, N, K);
        goto out;
    }
    tb = t0 = time_algo(g, p, &cand[0], W, X, Y, ev);
    if (t0 < 0) {
        ko_fail(e, "cublasLt: tuning a %d x %d x %d product failed", M, N, K);
        goto out;
    }
    same = 1;
    for (int i = 1; i < n; i++) {
        double t = time_algo(g, p, &cand[i], W, X, Y, ev);
        if (t < 0) {
            cudaGetLastError();
            continue;
        }
        if (out_hash(g, Y, (size_t)M * N, &h) || h != h0) continue;
        same++;
        if (t < tb) tb = t, best = i;
    }
    p->tuned = p->algo = cand[best];
    p->tuned_M = M;
    if (verbose)
        fprintf(stderr, "koeval: cuda: gemm %s %dx%dx%d: %d candidates, %d with identical bits, heuristic %.3f ms, picked #%d %.3f ms (%.0f TFLOP/s)\n",
                what, M, N, K, n, same, t0 * 1e3, best, tb * 1e3, 2.0 * M * N * K / tb / 1e12);
    rc = 0;
out:
    cudaEventDestroy(ev[0]);
    cudaEventDestroy(ev[1]);
    return rc;
}
