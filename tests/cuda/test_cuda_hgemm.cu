/* test_cuda_hgemm — the Hopper GEMM (engine/cuda/hgemm.cu) against cuBLASLt (engine/cuda/gemm.cu) on
 * random data, on a GPU machine (the kernel runs on sm_90a only; elsewhere the test says so and
 * prints a SKIP line and passes: CI has no GPU).
 *
 * Checks, for bf16 and fp16: the plain product Y = X W^T, the gated one act(gate) * up over the
 * interleaved weight and the q/k/v one with q/k norm + RoPE equal cuBLASLt's (and cuBLASLt + act_mul_k's,
 * cuBLASLt + qk_rope_k's) up to the last bit of rounding (both accumulate in fp32; should an order
 * differ): every element within 2 units in the last place of the 16-bit result, at least 90% of them
 * identical (in practice all are); ragged M, N and K tails included. All of it with one block per tile
 * and with clusters of two blocks sharing the W tile (ko_hgemm_set_cluster).
 * With --bench: the 12b shapes at M tokens (default 16384), TFLOP/s of each against cuBLASLt, the
 * fused gate-up + activation against cuBLASLt's gate-up GEMM followed by act_mul_k, and clusters of
 * two against one block per tile. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cuda/pack.h"
#include "engine/cuda/gemm.cuh"
#include "engine/cuda/hgemm.cuh"
#include "engine/cuda/kernels.cuh"

static int fails, checks, cluster = 2; /* ko_hgemm_set_cluster's current setting */
#define CHECK_FITS(x)                                                                              \
    do {                                                                                           \
        if (!(x)) { printf("FAIL line %d: shape refused\n", __LINE__); checks++, fails++; return; } \
    } while (0)
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
    snprintf(what, sizeof what, "cluster %d %s %s M %d N %d K %d", cluster, dt16 ? "fp16" : "bf16",
             glu < 0 ? "plain" : glu == 0 ? "silu" : glu == 1 ? "gelu-tanh" : "gelu", M, N, K);
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

/* RoPE inputs on the device: positions i * 2654435761 % pos_mod (pos_mod > 0) or i % -pos_mod, and
 * the head_dim / 2 inverse frequencies base^(-2i / hd). */
static void rope_inputs(int *pos, float *invf, int M, int hd, int pos_mod, double base) {
    int *hp = (int *)malloc((size_t)M * 4);
    float *hf = (float *)malloc((size_t)hd / 2 * 4);
    for (int i = 0; i < M; i++) hp[i] = pos_mod > 0 ? (int)((i * 2654435761u) % (unsigned)pos_mod) : i % -pos_mod;
    for (int i = 0; i < hd / 2; i++) hf[i] = (float)pow(base, -2.0 * i / hd);
    CK(cudaMemcpy(pos, hp, (size_t)M * 4, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(invf, hf, (size_t)hd / 2 * 4, cudaMemcpyHostToDevice));
    free(hp), free(hf);
}

/* The q/k/v product with nh query and nkv key/value heads of head_dim hd, with (norm) or without q/k
 * norm, against cuBLASLt + qk_rope_k. */
template <class T> void check_rope(ko_gemm *g, int dt16, int M, int K, int nh, int nkv, int hd, bool norm, int plus1, int nsm) {
    ko_err e = {};
    const int N = (nh + 2 * nkv) * hd;
    T *X, *W, *Y, *R, *qn, *kn, *cs;
    int *pos;
    float *invf;
    CK(cudaMalloc(&X, (size_t)M * K * 2));
    CK(cudaMalloc(&W, (size_t)N * K * 2));
    CK(cudaMalloc(&Y, (size_t)M * N * 2));
    CK(cudaMalloc(&R, (size_t)M * N * 2));
    CK(cudaMalloc(&qn, (size_t)hd * 2));
    CK(cudaMalloc(&kn, (size_t)hd * 2));
    CK(cudaMalloc(&pos, (size_t)M * 4));
    CK(cudaMalloc(&invf, (size_t)hd / 2 * 4));
    CK(cudaMalloc(&cs, (size_t)M * hd * 2));
    fill(X, (size_t)M * K, 11u + M, 0.1f);
    fill(W, (size_t)N * K, 13u + N, 0.1f);
    fill(qn, hd, 17u, 1.f);
    fill(kn, hd, 19u, 1.f);
    rope_inputs(pos, invf, M, hd, 9000, 10000.0);
    const float eps = 1e-6f;
    rope_table_k<T><<<M, 128>>>(pos, invf, hd, cs);
    const ko_hgemm_rope rp = {cs, norm ? qn : NULL, norm ? kn : NULL, eps, plus1, nh * hd, nkv * hd, hd};
    CHECK_FITS(ko_hgemm_rope_fits(N, K, &rp));
    OK(ko_gemm_run(g, W, X, R, M, N, K, 0.f, &e));
    qk_rope_k<T><<<M, 128, 5 * hd * sizeof(float)>>>(R, pos, nh, nkv, hd, N, norm ? qn : NULL, norm ? kn : NULL, eps, plus1, invf);
    OK(ko_hgemm_qkv(0, dt16, W, X, Y, M, N, K, &rp, nsm, &e));
    CK(cudaDeviceSynchronize());
    char what[128];
    snprintf(what, sizeof what, "cluster %d %s qkv+rope M %d K %d heads %d/%d head_dim %d%s", cluster, dt16 ? "fp16" : "bf16", M, K, nh, nkv, hd,
             norm ? (plus1 ? " q/k norm (1+w)" : " q/k norm") : "");
    compare(what, Y, R, (size_t)M * N);
    cudaFree(X), cudaFree(W), cudaFree(Y), cudaFree(R), cudaFree(qn), cudaFree(kn), cudaFree(pos), cudaFree(invf), cudaFree(cs);
}

static double tflops(double M, double N, double K, float ms) { return 2 * M * N * K / (ms * 1e-3) / 1e12; }

/* Times a and b (callables issuing one product each), ms per call: 3 rounds of 20 calls each after a
 * warm-up, the order alternating, so neither gets the card's cooler start. */
template <class A, class B> void time2(A a, B b, float ms[2]) {
    cudaEvent_t e0, e1;
    cudaEventCreate(&e0), cudaEventCreate(&e1);
    const int it = 20;
    ms[0] = ms[1] = 0;
    for (int i = 0; i < 3; i++) a(), b();
    for (int r = 0; r < 6; r++) {
        const int v = (r + r / 2) % 2; /* a b | b a | a b */
        cudaEventRecord(e0);
        for (int i = 0; i < it; i++) v ? b() : a();
        cudaEventRecord(e1);
        CK(cudaEventSynchronize(e1));
        float t = 0;
        cudaEventElapsedTime(&t, e0, e1);
        ms[v] += t / (3 * it);
    }
    cudaEventDestroy(e0), cudaEventDestroy(e1);
}

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
    float ms[2];
    for (int s = 0; s < 4; s++) {
        const int N = sh[s].N, K = sh[s].K;
        time2([&] { OK(ko_gemm_run(g, W, X, Y, M, N, K, 0.f, &e)); }, [&] { OK(ko_hgemm_run(0, 0, W, X, Y, M, N, K, -1, nsm, &e)); }, ms);
        printf("bench %-8s M %d N %d K %d: cublasLt %.3f ms %.0f TFLOP/s, hgemm %.3f ms %.0f TFLOP/s, ratio %.3f\n", sh[s].what, M, N, K,
               ms[0], tflops(M, N, K, ms[0]), ms[1], tflops(M, N, K, ms[1]), ms[0] / ms[1]);
    }
    /* gate-up + GeGLU: cuBLASLt product then act_mul_k, against the fused kernel */
    const int N = 30720, K = 3840, I = N / 2;
    time2(
        [&] {
            OK(ko_gemm_run(g, W, X, Y, M, N, K, 0.f, &e));
            act_mul_k<bf16, 8><<<dim3(M, (I / 8 + 127) / 128), 128>>>(Y, A, I, 1);
        },
        [&] { OK(ko_hgemm_run(0, 0, W, X, A, M, N, K, 1, nsm, &e)); }, ms);
    printf("bench gate-up+geglu M %d: cublasLt + act_mul_k %.3f ms, fused hgemm %.3f ms, ratio %.3f\n", M, ms[0], ms[1], ms[0] / ms[1]);
    /* q/k/v + q/k norm + RoPE (12b: 16 / 8 heads of 256): cuBLASLt then qk_rope_k, against the fused
     * kernel and its cos | sin table (the engine makes that once per batch for all layers) */
    int *pos;
    float *invf;
    bf16 *cs;
    CK(cudaMalloc(&pos, (size_t)M * 4));
    CK(cudaMalloc(&invf, 128 * 4));
    CK(cudaMalloc(&cs, (size_t)M * 256 * 2));
    rope_inputs(pos, invf, M, 256, -400, 1e6); /* kobest-like positions, Gemma 3's global base */
    rope_table_k<bf16><<<M, 128>>>(pos, invf, 256, cs);
    const ko_hgemm_rope rp = {cs, W, W, 1e-6f, 1, 4096, 2048, 256};
    time2(
        [&] {
            OK(ko_gemm_run(g, W, X, Y, M, 8192, K, 0.f, &e));
            qk_rope_k<bf16><<<M, 128, 5 * 256 * sizeof(float)>>>(Y, pos, 16, 8, 256, 8192, W, W, 1e-6f, 1, invf);
        },
        [&] { OK(ko_hgemm_qkv(0, 0, W, X, Y, M, 8192, K, &rp, nsm, &e)); }, ms);
    printf("bench qkv+rope M %d: cublasLt + qk_rope_k %.3f ms, fused hgemm %.3f ms, ratio %.3f\n", M, ms[0], ms[1], ms[0] / ms[1]);
    /* blocks in clusters of 2 sharing the W tile against one block per tile, for each mode */
    auto cl = [](int n, auto f) { return [=] { ko_hgemm_set_cluster(n); f(); }; };
    auto plain = [&] { OK(ko_hgemm_run(0, 0, W, X, Y, M, 30720, K, -1, nsm, &e)); };
    auto gated = [&] { OK(ko_hgemm_run(0, 0, W, X, A, M, 30720, K, 1, nsm, &e)); };
    auto qkv = [&] { OK(ko_hgemm_qkv(0, 0, W, X, Y, M, 8192, K, &rp, nsm, &e)); };
    time2(cl(1, plain), cl(2, plain), ms);
    printf("bench gate-up plain M %d: cluster 1 %.3f ms, cluster 2 %.3f ms, ratio %.3f\n", M, ms[0], ms[1], ms[0] / ms[1]);
    time2(cl(1, gated), cl(2, gated), ms);
    printf("bench gate-up+geglu M %d: cluster 1 %.3f ms, cluster 2 %.3f ms, ratio %.3f\n", M, ms[0], ms[1], ms[0] / ms[1]);
    time2(cl(1, qkv), cl(2, qkv), ms);
    printf("bench qkv+rope M %d: cluster 1 %.3f ms, cluster 2 %.3f ms, ratio %.3f\n", M, ms[0], ms[1], ms[0] / ms[1]);
    ko_hgemm_set_cluster(cluster);
    cudaFree(pos), cudaFree(invf), cudaFree(cs);
    cudaFree(W), cudaFree(X), cudaFree(Y), cudaFree(A);
}

/* Every shape and mode against cuBLASLt, at the current cluster setting. */
static void check_all(ko_gemm *gbf, ko_gemm *g16, int nsm) {
    const int sh[][3] = {{1, 256, 64}, {200, 512, 136}, {300, 784, 3840}, {4100, 8192, 3840}, {77, 48, 200}, {1000, 3840, 15360}};
    for (size_t i = 0; i < sizeof sh / sizeof sh[0]; i++) {
        check<bf16>(gbf, 0, sh[i][0], sh[i][1], sh[i][2], -1, nsm);
        check<__half>(g16, 1, sh[i][0], sh[i][1], sh[i][2], -1, nsm);
    }
    const int gs[][4] = {{333, 13824, 1152, 1}, {129, 32, 64, 0}, {77, 48, 200, 2}, {2500, 30720, 3840, 1}, {1000, 2 * 18944, 3584, 0}};
    for (size_t i = 0; i < sizeof gs / sizeof gs[0]; i++) {
        check<bf16>(gbf, 0, gs[i][0], gs[i][1], gs[i][2], gs[i][3], nsm);
        check<__half>(g16, 1, gs[i][0], gs[i][1], gs[i][2], gs[i][3], nsm);
    }
    /* q/k/v + RoPE: gemma-3-12b's shape (q/k norm, 1 + w), llama-style head_dim 128 without q/k norm,
     * qwen3-style head_dim 64 with a plain q/k norm */
    const int rs[][7] = {{300, 3840, 16, 8, 256, 1, 1}, {77, 200, 4, 2, 128, 0, 0}, {1000, 512, 8, 4, 64, 1, 0}, {4100, 2560, 8, 4, 256, 1, 1}};
    for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++) {
        check_rope<bf16>(gbf, 0, rs[i][0], rs[i][1], rs[i][2], rs[i][3], rs[i][4], rs[i][5], rs[i][6], nsm);
        check_rope<__half>(g16, 1, rs[i][0], rs[i][1], rs[i][2], rs[i][3], rs[i][4], rs[i][5], rs[i][6], nsm);
    }
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
    for (cluster = 1; cluster <= 2; cluster++) { /* both ways of running it: one block per tile, clusters of two */
        ko_hgemm_set_cluster(cluster);
        check_all(gbf, g16, p.multiProcessorCount);
    }
    cluster = 2;
    ko_hgemm_set_cluster(cluster);
    if (do_bench) bench(gbf, M, p.multiProcessorCount);
    ko_gemm_destroy(gbf), ko_gemm_destroy(g16);
    printf("RESULT %d %d\n", checks - fails, fails);
    return fails != 0;
}
