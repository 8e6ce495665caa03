/* bench_gemm_power — what each way of computing the 12b layer products costs under sustained load,
 * where the card runs at its power limit (engine/cuda/NOTES.md, "the power cap"): for each shape
 * (M tokens, default 16384), every algorithm cuBLASLt's heuristic offers without split-K, its first
 * choice with each cluster shape cuBLASLt accepts, and engine/cuda/hgemm.cu (plain, and gated for
 * gate-up), each run back to back for --seconds (default 1.5) in two rounds (forward, then reverse
 * order, so drift of the card's temperature falls on both sides). Per candidate: ms per product,
 * TFLOP/s, mean power and SM clock (NVML, loaded at run time), joules per PFLOP from NVML's energy
 * counter, whether its output has the heuristic's first choice's bits, and its rate against that
 * first choice measured in the same round. --only SHAPE measures one shape; --seconds 0 runs each
 * candidate once (after the bits check), for ncu. A benchmark, not a test; built by hand:
 *   nvcc -O3 -std=c++17 -gencode arch=compute_90a,code=sm_90a -I. -o build/bench_gemm_power \
 *       tests/cuda/bench_gemm_power.cu build/libkoeval.a -lcublasLt -lz -ldl */
#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <functional>
#include <vector>

#include "engine/cuda/hgemm.cuh"

#define CK(x)                                                                                      \
    do {                                                                                           \
        cudaError_t r_ = (x);                                                                      \
        if (r_ != cudaSuccess) { printf("cuda error %s at line %d\n", cudaGetErrorString(r_), __LINE__); exit(1); } \
    } while (0)
#define LT(x)                                                                                      \
    do {                                                                                           \
        cublasStatus_t s_ = (x);                                                                   \
        if (s_ != CUBLAS_STATUS_SUCCESS) { printf("cublasLt status %d at line %d\n", (int)s_, __LINE__); exit(1); } \
    } while (0)

/* NVML through dlopen: the toolkit here ships no nvml.h; the driver's library is on the GPU machine. */
static struct {
    void *dev;
    int (*energy)(void *, unsigned long long *); /* mJ since the driver loaded */
    int (*clock)(void *, int, unsigned *);       /* type 1: SM, MHz */
    int (*power)(void *, unsigned *);            /* mW */
} nvm;
static bool nvml_open(void) {
    void *h = dlopen("libnvidia-ml.so.1", RTLD_NOW);
    if (!h) return false;
    int (*init)(void) = (int (*)(void))dlsym(h, "nvmlInit_v2");
    int (*handle)(unsigned, void **) = (int (*)(unsigned, void **))dlsym(h, "nvmlDeviceGetHandleByIndex_v2");
    nvm.energy = (int (*)(void *, unsigned long long *))dlsym(h, "nvmlDeviceGetTotalEnergyConsumption");
    nvm.clock = (int (*)(void *, int, unsigned *))dlsym(h, "nvmlDeviceGetClockInfo");
    nvm.power = (int (*)(void *, unsigned *))dlsym(h, "nvmlDeviceGetPowerUsage");
    return init && handle && nvm.energy && nvm.clock && nvm.power && !init() && !handle(0, &nvm.dev);
}

__global__ void fill_k(__nv_bfloat16 *p, size_t n, unsigned seed, float scale) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        unsigned h = (unsigned)i * 2654435761u ^ seed;
        h ^= h >> 15, h *= 2246822519u, h ^= h >> 13;
        p[i] = __float2bfloat16(((h & 0xffff) / 65536.0f - 0.5f) * scale);
    }
}
__global__ void hash_k(const unsigned short *x, size_t n, unsigned long long *out) {
    unsigned long long acc = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        acc += ((unsigned long long)x[i] + 1) * (2 * (unsigned long long)i + 1);
    atomicAdd(out, acc);
}
static unsigned long long out_hash(const void *y, size_t n) {
    static unsigned long long *d;
    if (!d) CK(cudaMalloc(&d, sizeof *d));
    unsigned long long h = 0;
    CK(cudaMemset(d, 0, sizeof *d));
    hash_k<<<1024, 256>>>((const unsigned short *)y, n, d);
    CK(cudaMemcpy(&h, d, sizeof h, cudaMemcpyDeviceToHost));
    return h;
}

struct cand {
    char name[96];
    std::function<void()> run;
    double ms, w, mhz, jpf; /* summed over rounds */
    bool same;
};

/* Runs c back to back for about sec seconds; adds ms per product, W, MHz and J/PFLOP to its sums. */
static void window(cand *c, double flop, double sec) {
    cudaEvent_t a, b;
    CK(cudaEventCreate(&a));
    CK(cudaEventCreate(&b));
    c->run();
    CK(cudaEventRecord(a));
    c->run();
    CK(cudaEventRecord(b));
    CK(cudaEventSynchronize(b));
    float one = 0;
    CK(cudaEventElapsedTime(&one, a, b));
    const int reps = (int)(sec * 1e3 / (one > 0.01f ? one : 0.01f)) + 1;
    unsigned long long e0 = 0, e1 = 0;
    double wsum = 0, msum = 0;
    int ns = 0;
    nvm.energy(nvm.dev, &e0);
    CK(cudaEventRecord(a));
    for (int i = 0; i < reps; i++) c->run();
    CK(cudaEventRecord(b));
    while (cudaEventQuery(b) == cudaErrorNotReady) {
        unsigned mw = 0, mhz = 0;
        nvm.power(nvm.dev, &mw), nvm.clock(nvm.dev, 1, &mhz);
        wsum += mw / 1e3, msum += mhz, ns++;
        usleep(20000);
    }
    CK(cudaEventSynchronize(b));
    nvm.energy(nvm.dev, &e1);
    float ms = 0;
    CK(cudaEventElapsedTime(&ms, a, b));
    c->ms += ms / reps;
    c->w += ns ? wsum / ns : 0;
    c->mhz += ns ? msum / ns : 0;
    c->jpf += (e1 - e0) / 1e3 / (flop * reps / 1e15);
    CK(cudaEventDestroy(a));
    CK(cudaEventDestroy(b));
}

static int attr(const cublasLtMatmulAlgo_t *a, cublasLtMatmulAlgoConfigAttributes_t which) {
    int v = 0;
    size_t w = 0;
    cublasLtMatmulAlgoConfigGetAttribute(a, which, &v, sizeof v, &w);
    return v;
}
static bool same_config(const cublasLtMatmulAlgo_t *a, const cublasLtMatmulAlgo_t *b) {
    const cublasLtMatmulAlgoConfigAttributes_t at[] = {CUBLASLT_ALGO_CONFIG_ID, CUBLASLT_ALGO_CONFIG_TILE_ID, CUBLASLT_ALGO_CONFIG_STAGES_ID,
                                                       CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID, CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING,
                                                       CUBLASLT_ALGO_CONFIG_CUSTOM_OPTION, CUBLASLT_ALGO_CONFIG_INNER_SHAPE_ID};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++)
        if (attr(a, at[i]) != attr(b, at[i])) return false;
    return true;
}

int main(int argc, char **argv) {
    int M = 16384, maxc = 10;
    double sec = 1.5;
    const char *only = NULL; /* --only SHAPE: that shape alone */
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--m")) M = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds")) sec = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--candidates")) maxc = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--only")) only = argv[i + 1];
    }
    if (!nvml_open()) {
        printf("bench_gemm_power: NVML (libnvidia-ml.so.1) not available\n");
        return 1;
    }
    cudaDeviceProp pr;
    CK(cudaGetDeviceProperties(&pr, 0));
    const bool hg = ko_hgemm_usable(0);
    printf("device %s, %d SMs, M %d, %.1f s per window, hgemm %s\n", pr.name, pr.multiProcessorCount, M, sec, hg ? "yes" : "no");
    struct { const char *what; int N, K; } sh[] = {{"qkv", 8192, 3840}, {"o", 3840, 4096}, {"gate-up", 30720, 3840}, {"down", 3840, 15360}};
    const size_t maxw = (size_t)30720 * 3840, maxx = (size_t)M * 15360, maxy = (size_t)M * 30720;
    __nv_bfloat16 *W, *X, *Y;
    CK(cudaMalloc(&W, maxw * 2));
    CK(cudaMalloc(&X, maxx * 2));
    CK(cudaMalloc(&Y, maxy * 2));
    fill_k<<<1024, 256>>>(W, maxw, 3, 0.07f); /* ~ the spread of a 12b checkpoint's weights (std 0.02) */
    fill_k<<<1024, 256>>>(X, maxx, 5, 3.5f);  /* ~ normed activations (std 1) */
    size_t wsb = 64u << 20;
    void *ws;
    CK(cudaMalloc(&ws, wsb));
    cublasLtHandle_t lt;
    cublasLtMatmulDesc_t desc;
    cublasLtMatmulPreference_t pref;
    LT(cublasLtCreate(&lt));
    LT(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    cublasOperation_t ta = CUBLAS_OP_T;
    LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
    LT(cublasLtMatmulPreferenceCreate(&pref));
    LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsb, sizeof wsb));
    for (size_t s = 0; s < sizeof sh / sizeof sh[0]; s++) {
        if (only && strcmp(only, sh[s].what)) continue;
        const int N = sh[s].N, K = sh[s].K;
        const double flop = 2.0 * M * N * K;
        cublasLtMatrixLayout_t la, lb, lc;
        LT(cublasLtMatrixLayoutCreate(&la, CUDA_R_16BF, K, N, K));
        LT(cublasLtMatrixLayoutCreate(&lb, CUDA_R_16BF, K, M, K));
        LT(cublasLtMatrixLayoutCreate(&lc, CUDA_R_16BF, N, M, N));
        cublasLtMatmulHeuristicResult_t res[32];
        int got = 0;
        LT(cublasLtMatmulAlgoGetHeuristic(lt, desc, la, lb, lc, lc, pref, 32, res, &got));
        std::vector<cublasLtMatmulAlgo_t> algos;
        auto add = [&](const cublasLtMatmulAlgo_t &a) {
            if (attr(&a, CUBLASLT_ALGO_CONFIG_SPLITK_NUM) > 1) return;
            for (auto &b : algos)
                if (same_config(&a, &b)) return;
            algos.push_back(a);
        };
        for (int i = 0; i < got && (int)algos.size() < maxc; i++)
            if (res[i].state == CUBLAS_STATUS_SUCCESS && res[i].workspaceSize <= wsb) add(res[i].algo);
        const int clusters[] = {CUBLASLT_CLUSTER_SHAPE_1x1x1, CUBLASLT_CLUSTER_SHAPE_2x1x1, CUBLASLT_CLUSTER_SHAPE_1x2x1,
                                CUBLASLT_CLUSTER_SHAPE_2x2x1, CUBLASLT_CLUSTER_SHAPE_4x1x1, CUBLASLT_CLUSTER_SHAPE_1x4x1};
        for (int cl : clusters) {
            cublasLtMatmulAlgo_t a = algos[0];
            cublasLtMatmulHeuristicResult_t r;
            if (cublasLtMatmulAlgoConfigSetAttribute(&a, CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID, &cl, sizeof cl) == CUBLAS_STATUS_SUCCESS &&
                cublasLtMatmulAlgoCheck(lt, desc, la, lb, lc, lc, &a, &r) == CUBLAS_STATUS_SUCCESS && r.workspaceSize <= wsb)
                add(a);
        }
        std::vector<cand> cs(algos.size());
        for (size_t i = 0; i < algos.size(); i++) {
            const cublasLtMatmulAlgo_t *a = &algos[i];
            snprintf(cs[i].name, sizeof cs[i].name, "lt#%zu algo %d tile %d stages %d cluster %d swizzle %d custom %d", i,
                     attr(a, CUBLASLT_ALGO_CONFIG_ID), attr(a, CUBLASLT_ALGO_CONFIG_TILE_ID), attr(a, CUBLASLT_ALGO_CONFIG_STAGES_ID),
                     attr(a, CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID), attr(a, CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING),
                     attr(a, CUBLASLT_ALGO_CONFIG_CUSTOM_OPTION));
            cs[i].run = [=, &lt, &desc, &ws] {
                const float one = 1.f, zero = 0.f;
                LT(cublasLtMatmul(lt, desc, &one, W, la, X, lb, &zero, Y, lc, Y, lc, a, ws, wsb, 0));
            };
        }
        const int nsm = pr.multiProcessorCount;
        for (int cl = 1; hg && cl <= 2; cl++) {
            cand h = {};
            snprintf(h.name, sizeof h.name, "hgemm plain 128x256x64 cluster %d", cl);
            h.run = [=] {
                ko_err e = {};
                ko_hgemm_set_cluster(cl);
                if (ko_hgemm_run(0, 0, W, X, Y, M, N, K, -1, nsm, &e)) printf("hgemm: %s\n", e.msg), exit(1);
            };
            cs.push_back(h);
        }
        unsigned long long h0 = 0;
        for (size_t i = 0; i < cs.size(); i++) {
            cs[i].run();
            const unsigned long long h = out_hash(Y, (size_t)M * N);
            if (!i) h0 = h;
            cs[i].same = h == h0;
        }
        for (int cl = 1; hg && N == 30720 && cl <= 2; cl++) { /* gate-up with GeGLU in the epilogue: Y is [M, N / 2], other bits */
            cand h = {};
            snprintf(h.name, sizeof h.name, "hgemm gated (gelu) 128x256x64 cluster %d", cl);
            h.run = [=] {
                ko_err e = {};
                ko_hgemm_set_cluster(cl);
                if (ko_hgemm_run(0, 0, W, X, Y, M, N, K, 1, nsm, &e)) printf("hgemm: %s\n", e.msg), exit(1);
            };
            cs.push_back(h);
        }
        if (sec <= 0) { /* --seconds 0: each candidate once more, for a profiler */
            for (auto &c : cs) c.run();
            CK(cudaDeviceSynchronize());
            continue;
        }
        for (int r = 0; r < 2; r++)
            for (size_t j = 0; j < cs.size(); j++) window(&cs[r ? cs.size() - 1 - j : j], flop, sec);
        for (auto &c : cs)
            printf("%-8s %-66s %7.3f ms %4.0f TFLOP/s %4.0f W %5.0f MHz %6.1f J/PFLOP ratio %.3f%s\n", sh[s].what, c.name, c.ms / 2,
                   flop / (c.ms / 2e3) / 1e12, c.w / 2, c.mhz / 2, c.jpf / 2, cs[0].ms / c.ms,
                   strstr(c.name, "gated") ? "" : c.same ? " same bits" : " OTHER BITS");
        cublasLtMatrixLayoutDestroy(la), cublasLtMatrixLayoutDestroy(lb), cublasLtMatrixLayoutDestroy(lc);
    }
    return 0;
}
