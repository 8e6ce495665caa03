/* numerics.cuh — the CUDA backend's scalar conversions and roundings, shared by its own kernels
 * (kernels.cuh) and the Hopper GEMM's epilogues (hgemm.cu), so both compute exactly alike. */
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <string.h>

#include <type_traits>

typedef __nv_bfloat16 bf16;

__device__ __forceinline__ float tof(float x) { return x; }
__device__ __forceinline__ float tof(__half x) { return __half2float(x); }
__device__ __forceinline__ float tof(bf16 x) { return __bfloat162float(x); }
template <class T> __device__ __forceinline__ T fromf(float x);
template <> __device__ __forceinline__ float fromf<float>(float x) { return x; }
template <> __device__ __forceinline__ __half fromf<__half>(float x) { return __float2half_rn(x); }
template <> __device__ __forceinline__ bf16 fromf<bf16>(float x) { return __float2bfloat16_rn(x); }
/* x rounded to T and back: where HF's bf16 arithmetic rounds. */
template <class T> __device__ __forceinline__ float rnd(float x) { return tof(fromf<T>(x)); }

/* Two floats rounded to T, packed (the lower column in the low half). */
template <class T> __device__ __forceinline__ unsigned pack2(float lo, float hi) {
    unsigned u;
    if constexpr (std::is_same<T, __half>::value) {
        __half2 v = __floats2half2_rn(lo, hi);
        memcpy(&u, &v, 4);
    } else {
        __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
        memcpy(&u, &v, 4);
    }
    return u;
}

/* The feed-forward activations (act 0 silu, 1 gelu tanh, 2 gelu), in fp32 as torch's CUDA kernels write
 * them (the same association, so the same roundings: tests/cuda/test_cuda_act checks every 16-bit input). */
__device__ __forceinline__ float act_f(float g, int act) {
    if (act == 0) return g / (1.f + expf(-g)); /* silu */
    if (act == 1) {                            /* gelu tanh: x^3 as (x * x) * x */
        const float x3 = g * g * g;
        return 0.5f * g * (1.f + tanhf(0.7978845608028654f * (g + 0.044715f * x3)));
    }
    return g * 0.5f * (1.f + erff(g * 0.7071067811865476f)); /* gelu */
}
/* One gated feed-forward output before its final rounding: round(act(g)) * u, as HF computes
 * act_fn(gate_proj(x)) * up_proj(x) in T. act_mul_k and hgemm's epilogue both use it, so they agree bitwise. */
template <class T> __device__ __forceinline__ float glu_f(T g, T u, int act) { return rnd<T>(act_f(tof(g), act)) * tof(u); }

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* One RMSNorm output element. Gemma (plus1): x_hat * (1 + w) in fp32, rounded once; Llama-style:
 * w * round(x_hat), as HF's LlamaRMSNorm casts x_hat to the input dtype before the weight. */
template <class T> __device__ __forceinline__ float norm_val(float v, float r, T w, int plus1) {
    return plus1 ? rnd<T>(v * r * (1.f + tof(w))) : rnd<T>(tof(w) * rnd<T>(v * r));
}

/* q/k norm of one head, from each lane's partial sum of squares (lane l summed x[l], x[l + 32], ...
 * in that order): 1 / rms over the warp. */
__device__ __forceinline__ float head_rms(float ss, int hd, float eps) { return rsqrtf(warp_sum(ss) / hd + eps); }

/* RoPE at position p for inverse frequency f: cos and sin rounded to T (HF's cos/sin caches are in T). */
template <class T> __device__ __forceinline__ void rope_cs(float p, float f, float *co, float *si) {
    *co = rnd<T>(cosf(p * f));
    *si = rnd<T>(sinf(p * f));
}
/* Rotates the pair (a, c) = (x[i], x[i + hd/2]) as HF's x * cos + rotate_half(x) * sin in T. */
template <class T> __device__ __forceinline__ void rope_pair(float a, float c, float co, float si, T *out_a, T *out_c) {
    *out_a = fromf<T>(rnd<T>(a * co) + rnd<T>(-c * si));
    *out_c = fromf<T>(rnd<T>(c * co) + rnd<T>(a * si));
}
