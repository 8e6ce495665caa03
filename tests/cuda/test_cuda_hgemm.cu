/* test_cuda_hgemm — the Hopper GEMM (engine/cuda/hgemm.cu) against cuBLASLt (engine/cuda/gemm.cu) on
 * random data, on a GPU machine (the kernel runs on sm_90a only; elsewhere the test says so and
 * prints a SKIP line and passes: CI has no GPU).
 *
 * Checks, for bf16 and fp16: the plain product Y = X W^T and the gated one act(gate) * up over the
 * interleaved weight equal cuBLASLt's (and cuBLASLt + act_mul_k's) up to the last bit of rounding
 * (both accumulate in fp32, in another order): every element within 2 units in the last place of the
 * 16-bit result, at least 90% of them identical; ragged M, N and K tails included.
 * With --bench: the 12b shapes at M tokens (default 16384), TFLOP/s of each against cuBLASLt, and the
 * fused gate-up + activation against cuBLASLt's gate-up GEMM followed by act_mul_k. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cuda/pack.h"
#include "engine/cuda/gemm.cuh"
#include "engine/cuda/hgemm.cuh"
#include "engine/cuda/kernels.cuh"

static int fails, checks;
#define CK(x)                                                                                      \
    do {                                                                                           \
        cudaError_t r_ = (x);                                                                      \
        if (r_ != cudaSuccess) { printf("cuda error %s at line %d\n", cudaGetErrorString(r_), __LINE__); exit(1); } \
    } while (0)
#define OK(x)                                                                                      \
    do {                                                                                           \
        if ((x)) { printf("error at line %d: %s\n", __LINE__, e.msg); exit(1); }                   \
    } while (0)

template <class T> __global__ void fill_k(T *p, size_t n, unsigned seed, float scale) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        unsigned h = (unsigned)i * 2654435761u ^ seed;
        h ^= h >> 15, h *= 2246822519u, h ^= h >> 13;
        p[i] = fromf<T>(((h & 0xffff) / 65536.0f - 0.5f) * scale);
    }
}

/* Units in the last place between two 16-bit values of the same type (by their ordered bit patterns). */
static int ulps(unsigned short a, unsigned short b) {
    int x = a & 0x8000 ? -(int)(a & 0x7fff) : (int)a, y = b & 0x8000 ? -(int)(b & 0x7fff) : (int)b;
    return abs(x - y);
}

static void compare(const char *what, const void *dA, const void *dB, size_t n) {
    unsigned short *a = (unsigned short *)malloc(n * 2), *b = (unsigned short *)malloc(n * 2);
    CK(cudaMemcpy(a, dA, n * 2, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(b, dB, n * 2, cudaMemcpyDeviceToHost));
    size_t same = 0;
    int worst = 0;
    for (size_t i = 0; i < n; i++) {
        int u = ulps(a[i], b[i]);
        same += u == 0;
        worst = u > worst ? u : worst;
    }
    bool ok = worst <= 2 && same >= n * 9 / 10;
    checks++;
    fails += !ok;
    printf("%s %s: %zu values, %.2f%% identical, worst %d ulp\n", ok ? "ok  " : "FAIL", what, n, 100.0 * same / n, worst);
    free(a), free(b);
}

template <class T> void fill(T *p, size_t n, unsigned seed, float scale) { fill_k<T><<<1024, 256>>>(p, n, seed, scale); }

template <class T> void act_ref(const T *GU, T *out, int M, int I, int act) {
    act_mul_k<T, 1><<<dim3(M, (I + 127) / 128), 128>>>(GU, out, I, act);
}

template <class T> void check(ko_gemm *g, int dt16, int M, int N, int K, int glu, int nsm) {
    ko_err e = {};
    T *X, *W, *WI, *Y, *R, *GU;
    CK(cudaMalloc(&X, (size_t)M * K * 2));
    CK(cudaMalloc(&W, (size_t)N * K * 2));
    CK(cudaMalloc(&WI, (size_t)N * K * 2));
    CK(cudaMalloc(&Y, (size_t)M * N * 2));
    CK(cudaMalloc(&R, (size_t)M * N * 2));
    CK(cudaMalloc(&GU, (size_t)M * N * 2));
    const float sc = glu >= 0 ? 0.5f : 0.1f; /* gated: values where the activation is not near-linear */
    fill(X, (size_t)M * K, 1u + M, sc);
    fill(W, (size_t)N * K, 7u + N, sc);
    char what[128];
    snprintf(what, sizeof what, "%s %s M %d N %d K %d", dt16 ? "fp16" : "bf16", glu < 0 ? "plain" : glu == 0 ? "silu" : glu == 1 ? "gelu-tanh" : "gelu", M, N, K);
    if (glu < 0) {
        OK(ko_gemm_run(g, W, X, R, M, N, K, 0.f, &e));
        OK(ko_hgemm_run(0, dt16, W, X, Y, M, N, K, -1, nsm, &e));
        CK(cudaDeviceSynchronize());
        compare(what, Y, R, (size_t)M * N);
    } else {
        OK(ko_gemm_run(g, W, X, GU, M, N, K, 0.f, &e));
        act_ref<T>(GU, R, M, N / 2, glu);
        OK(ko_hgemm_interleave(0, W, WI, N, K, 2, &e));
        OK(ko_hgemm_run(0, dt16, WI, X, Y, M, N, K, glu, nsm, &e));
        CK(cudaDeviceSynchronize());
        compare(what, Y, R, (size_t)M * N / 2);
    }
    cudaFree(X), cudaFree(W), cudaFree(WI), cudaFree(Y), cudaFree(R), cudaFree(GU);
}

static double tflops(double M, double N, double K, float ms) { return 2 * M * N * K / (ms * 1e-3) / 1e12; }

void bench(ko_gemm *g, int M, int nsm) {
    struct { const char *what; int N, K; } sh[] = {{"qkv", 8192, 3840}, {"o", 3840, 4096}, {"gate-up", 30720, 3840}, {"down", 3840, 15360}};
    ko_err e = {};
    size_t maxw = (size_t)30720 * 3840, maxx = (size_t)M * 15360, maxy = (size_t)M * 30720;
    bf16 *W, *X, *Y, *A;
    CK(cudaMalloc(&W, maxw * 2));
    CK(cudaMalloc(&X, maxx * 2));
    CK(cudaMalloc(&Y, maxy * 2));
    CK(cudaMalloc(&A, (size_t)M * 15360 * 2));
    fill(W, maxw, 3, 0.1f);
    fill(X, maxx, 5, 0.1f);
    cudaEvent_t a, b;
    cudaEventCreate(&a), cudaEventCreate(&b);
    const int it = 20;
    for (int s = 0; s < 4; s++) {
        float ms[2];
        for (int v = 0; v < 2; v++) {
            for (int w = 0; w < 3; w++)
                OK(v ? ko_hgemm_run(0, 0, W, X, Y, M, sh[s].N, sh[s].K, -1, nsm, &e) : ko_gemm_run(g, W, X, Y, M, sh[s].N, sh[s].K, 0.f, &e));
            cudaEventRecord(a);
            for (int i = 0; i < it; i++)
                OK(v ? ko_hgemm_run(0, 0, W, X, Y, M, sh[s].N, sh[s].K, -1, nsm, &e) : ko_gemm_run(g, W, X, Y, M, sh[s].N, sh[s].K, 0.f, &e));
            cudaEventRecord(b);
            CK(cudaEventSynchronize(b));
            cudaEventElapsedTime(&ms[v], a, b);
            ms[v] /= it;
        }
        printf("bench %-8s M %d N %d K %d: cublasLt %.3f ms %.0f TFLOP/s, hgemm %.3f ms %.0f TFLOP/s, ratio %.3f\n", sh[s].what, M, sh[s].N,
               sh[s].K, ms[0], tflops(M, sh[s].N, sh[s].K, ms[0]), ms[1], tflops(M, sh[s].N, sh[s].K, ms[1]), ms[0] / ms[1]);
    }
    /* gate-up + GeGLU: cuBLASLt product then act_mul_k, against the fused kernel */
    float ms[2];
    const int N = 30720, K = 3840, I = N / 2;
    for (int v = 0; v < 2; v++) {
        for (int i = -3; i < it; i++) {
            if (i == 0) cudaEventRecord(a);
            if (v) OK(ko_hgemm_run(0, 0, W, X, A, M, N, K, 1, nsm, &e));
            else {
                OK(ko_gemm_run(g, W, X, Y, M, N, K, 0.f, &e));
                act_mul_k<bf16, 8><<<dim3(M, (I / 8 + 127) / 128), 128>>>(Y, A, I, 1);
            }
        }
        cudaEventRecord(b);
        CK(cudaEventSynchronize(b));
        cudaEventElapsedTime(&ms[v], a, b);
        ms[v] /= it;
    }
    printf("bench gate-up+geglu M %d: cublasLt + act_mul_k %.3f ms, fused hgemm %.3f ms, ratio %.3f\n", M, ms[0], ms[1], ms[0] / ms[1]);
    cudaFree(W), cudaFree(X), cudaFree(Y), cudaFree(A);
}

int main(int argc, char **argv) {
    int M = 16384;
    bool do_bench = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--bench")) do_bench = true;
        else if (!strcmp(argv[i], "--m") && i + 1 < argc) M = atoi(argv[++i]);
    }
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0 || !ko_hgemm_usable(0)) {
        printf("SKIP cuda/test_cuda_hgemm: no GPU that runs the sm_90a kernel (CI has no GPU)\nRESULT 0 0\n");
        return 0;
    }
    cudaDeviceProp p;
    CK(cudaGetDeviceProperties(&p, 0));
    ko_err e = {};
    ko_gemm *g16, *gbf;
    OK(ko_gemm_create(&gbf, 0, CUDA_R_16BF, 64u << 20, &e));
    OK(ko_gemm_create(&g16, 0, CUDA_R_16F, 64u << 20, &e));
    const int sh[][3] = {{1, 256, 64}, {200, 512, 136}, {300, 784, 3840}, {4100, 8192, 3840}, {77, 48, 200}, {1000, 3840, 15360}};
    for (size_t i = 0; i < sizeof sh / sizeof sh[0]; i++) {
        check<bf16>(gbf, 0, sh[i][0], sh[i][1], sh[i][2], -1, p.multiProcessorCount);
        check<__half>(g16, 1, sh[i][0], sh[i][1], sh[i][2], -1, p.multiProcessorCount);
    }
    const int gs[][4] = {{333, 13824, 1152, 1}, {129, 32, 64, 0}, {77, 48, 200, 2}, {2500, 30720, 3840, 1}, {1000, 2 * 18944, 3584, 0}};
    for (size_t i = 0; i < sizeof gs / sizeof gs[0]; i++) {
        check<bf16>(gbf, 0, gs[i][0], gs[i][1], gs[i][2], gs[i][3], p.multiProcessorCount);
        check<__half>(g16, 1, gs[i][0], gs[i][1], gs[i][2], gs[i][3], p.multiProcessorCount);
    }
    if (do_bench) bench(gbf, M, p.multiProcessorCount);
    ko_gemm_destroy(gbf), ko_gemm_destroy(g16);
    printf("RESULT %d %d\n", checks - fails, fails);
    return fails != 0;
}
