/* ceilings — the two numbers of METHOD.md measured on the card itself: device-to-device copy
 * bandwidth (bytes read + written) and cuBLAS bf16 GEMM rate (fp32 accumulate) on random data, for
 * a square 8192^3 product and for the products koeval runs on the gemma-3-12b shape with a batch of
 * M tokens. Built by scripts/bench_cuda.sh (nvcc ceilings.cu -lcublas); prints one line per case. */
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>

#define CK(x) do { cudaError_t r_ = (x); if (r_ != cudaSuccess) { printf("cuda error %s at %d\n", cudaGetErrorString(r_), __LINE__); exit(1); } } while (0)

__global__ void fill(__nv_bfloat16 *p, size_t n, unsigned seed) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        unsigned h = (unsigned)i * 2654435761u ^ seed;
        h ^= h >> 15; h *= 2246822519u; h ^= h >> 13;
        p[i] = __float2bfloat16(((h & 0xffff) / 65536.0f - 0.5f) * 0.1f);
    }
}

int main(void) {
    cudaDeviceProp pr;
    CK(cudaGetDeviceProperties(&pr, 0));
    printf("device %s, %d SMs, L2 %d MB, smem/block optin %zu KB\n", pr.name, pr.multiProcessorCount, pr.l2CacheSize >> 20,
           pr.sharedMemPerBlockOptin >> 10);
    cudaEvent_t a, b;
    cudaEventCreate(&a); cudaEventCreate(&b);
    size_t nb = (size_t)4 << 30;
    void *x, *y;
    CK(cudaMalloc(&x, nb)); CK(cudaMalloc(&y, nb));
    fill<<<4096, 256>>>((__nv_bfloat16 *)x, nb / 2, 1);
    for (int i = 0; i < 3; i++) CK(cudaMemcpy(y, x, nb, cudaMemcpyDeviceToDevice));
    float best = 1e9;
    for (int i = 0; i < 10; i++) {
        cudaEventRecord(a);
        cudaMemcpy(y, x, nb, cudaMemcpyDeviceToDevice);
        cudaEventRecord(b); cudaEventSynchronize(b);
        float ms; cudaEventElapsedTime(&ms, a, b);
        if (ms < best) best = ms;
    }
    printf("copy d2d 4 GiB: %.3f ms, %.0f GB/s (read + write)\n", best, 2.0 * nb / best / 1e6);
    cudaFree(x); cudaFree(y);
    cublasHandle_t h;
    cublasCreate(&h);
    void *ws; CK(cudaMalloc(&ws, 64 << 20)); cublasSetWorkspace(h, ws, 64 << 20);
    struct { const char *name; int M, N, K; } cs[] = {
        {"square 8192", 8192, 8192, 8192},
        {"12b qkv  M=8192", 8192, 8192, 3840},  {"12b o    M=8192", 8192, 3840, 4096},
        {"12b gu   M=8192", 8192, 30720, 3840}, {"12b down M=8192", 8192, 3840, 15360},
        {"12b qkv  M=16384", 16384, 8192, 3840}, {"12b gu   M=16384", 16384, 30720, 3840},
        {"12b down M=16384", 16384, 3840, 15360}, {"12b lmhead R=2048 V=32768", 2048, 32768, 3840},
        {"1b gu    M=16384", 16384, 13824, 1152}, {"1b down  M=16384", 16384, 1152, 6912},
    };
    for (size_t c = 0; c < sizeof cs / sizeof cs[0]; c++) {
        int M = cs[c].M, N = cs[c].N, K = cs[c].K;
        __nv_bfloat16 *A, *B, *C;
        CK(cudaMalloc(&A, (size_t)N * K * 2)); CK(cudaMalloc(&B, (size_t)M * K * 2)); CK(cudaMalloc(&C, (size_t)M * N * 2));
        fill<<<4096, 256>>>(A, (size_t)N * K, 3); fill<<<4096, 256>>>(B, (size_t)M * K, 5);
        float al = 1, be = 0, bm = 1e9;
        for (int i = 0; i < 13; i++) {
            cudaEventRecord(a);
            cublasStatus_t st = cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, &al, A, CUDA_R_16BF, K, B, CUDA_R_16BF, K, &be, C,
                                             CUDA_R_16BF, N, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
            cudaEventRecord(b); cudaEventSynchronize(b);
            if (st) { printf("gemm failed %d\n", st); exit(1); }
            float ms; cudaEventElapsedTime(&ms, a, b);
            if (i >= 3 && ms < bm) bm = ms;
        }
        printf("gemm %-26s %.3f ms  %.0f TFLOP/s\n", cs[c].name, bm, 2.0 * M * N * K / bm / 1e9);
        cudaFree(A); cudaFree(B); cudaFree(C);
    }
    return 0;
}
