/* test_cuda_act.cu — the feed-forward activations of the CUDA backend (act_f in engine/cuda/numerics.cuh,
 * used by act_mul_k and by hgemm's GeGLU epilogue) against torch's own CUDA kernels, for every bfloat16
 * and float16 input: HF computes act_fn(gate_proj(x)) on a 16-bit tensor in float32 and rounds once, and
 * any other float32 expression (another association of x^3, say) rounds to another 16-bit value on some
 * inputs, which then spreads through every later rounding of the model. Goldens:
 * tests/engine/goldens/act16.bin.gz (scripts/make_act_goldens.py, torch on a GPU). Without a GPU it
 * prints a SKIP line and passes (CI has no GPU). */
#include <stdio.h>

#include "engine/cuda/numerics.cuh"
extern "C" {
#include "common/ko.h"
}
#include "tests/test.h"

#define GOLDEN "tests/engine/goldens/act16.bin.gz"
#define N 65536

/* out[i] = act(in[i]) in T (in: every 16-bit pattern, from memory as the engine reads its operands). */
template <class T> __global__ void act_all_k(const T *in, int act, T *out) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < N) out[i] = fromf<T>(act_f(tof(in[i]), act));
}

static bool is_nan16(unsigned short b, bool bf) {
    return bf ? (b & 0x7f80) == 0x7f80 && (b & 0x7f) : (b & 0x7c00) == 0x7c00 && (b & 0x3ff);
}

int main(void) {
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
        printf("SKIP cuda/test_cuda_act: no GPU (CI has no GPU)\nRESULT 0 0\n");
        return 0;
    }
    ko_buf g = {};
    ko_err e;
    if (ko_read_file(GOLDEN, &g, &e) != 0 || g.n != 6 * N * 2) {
        printf("not ok: %s: unreadable or not 6 x 65536 uint16\nRESULT 0 1\n", GOLDEN);
        return 1;
    }
    const unsigned short *want = (const unsigned short *)g.p;
    unsigned short *d, *din, *got = (unsigned short *)malloc(N * 2);
    for (int i = 0; i < N; i++) got[i] = (unsigned short)i;
    if (cudaMalloc(&d, N * 2) != cudaSuccess || cudaMalloc(&din, N * 2) != cudaSuccess ||
        cudaMemcpy(din, got, N * 2, cudaMemcpyHostToDevice) != cudaSuccess) {
        printf("not ok: cudaMalloc\nRESULT 0 1\n");
        return 1;
    }
    static const char *const act_name[] = {"silu", "gelu tanh", "gelu"};
    for (int t = 0; t < 2; t++)
        for (int a = 0; a < 3; a++) {
            if (t == 0) act_all_k<bf16><<<N / 256, 256>>>((const bf16 *)din, a, (bf16 *)d);
            else act_all_k<__half><<<N / 256, 256>>>((const __half *)din, a, (__half *)d);
            CHECK(cudaMemcpy(got, d, N * 2, cudaMemcpyDeviceToHost) == cudaSuccess, "kernel: %s", cudaGetErrorString(cudaGetLastError()));
            const unsigned short *w = want + (size_t)(3 * t + a) * N;
            int bad = 0, first = -1;
            for (int i = 0; i < N; i++) {
                const bool wn = is_nan16(w[i], t == 0), gn = is_nan16(got[i], t == 0);
                if (wn != gn || (!wn && w[i] != got[i])) {
                    if (first < 0) first = i;
                    bad++;
                }
            }
            CHECK(bad == 0, "%s %s: %d of 65536 inputs round to another value than torch's (first: bits 0x%04x -> 0x%04x, torch 0x%04x)",
                  t ? "float16" : "bfloat16", act_name[a], bad, first, first >= 0 ? got[first] : 0, first >= 0 ? w[first] : 0);
            printf("%-8s %-9s: %d of 65536 inputs differ from torch's\n", t ? "float16" : "bfloat16", act_name[a], bad);
        }
    cudaFree(d), cudaFree(din);
    free(got);
    ko_buf_free(&g);
    TEST_END();
}
