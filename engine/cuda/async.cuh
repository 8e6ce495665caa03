/* async.cuh — the asynchronous copies and warp-group matrix instructions the backend's own kernels
 * share: cp.async into shared memory (attention, kernels.cuh and attn_wg.cu) and, on sm_90a, wgmma
 * with its shared-memory descriptors (hgemm.cu, attn_wg.cu).
 *
 * Shared-memory operands of wgmma here are always 128-byte swizzled blocks of 64 rows x 64 16-bit
 * values (8 KB, 1024-byte aligned): row r's 16-byte chunk j lives at r * 128 + ((j ^ (r % 8)) << 4),
 * which is what a TMA load with CU_TENSOR_MAP_SWIZZLE_128B writes and what sw128() computes for
 * cp.async. A [rows x 64k] operand is k such blocks, 8 KB apart. */
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

#include <type_traits>

__device__ __forceinline__ unsigned sm_addr(const void *p) { return (unsigned)__cvta_generic_to_shared(p); }
/* 16 bytes from global memory into shared memory, or zeros when !ok. */
__device__ __forceinline__ void cp16(void *dst, const void *src, bool ok) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(sm_addr(dst)), "l"(src), "r"(ok ? 16 : 0));
}
__device__ __forceinline__ void cp4(void *dst, const void *src, bool ok) {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(sm_addr(dst)), "l"(src), "r"(ok ? 4 : 0));
}
__device__ __forceinline__ void cp_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> __device__ __forceinline__ void cp_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }
/* Byte offset of 16-byte chunk j (0..7) of row r in a 128-byte swizzled block. */
__device__ __forceinline__ int sw128(int r, int j) { return r * 128 + ((j ^ (r & 7)) << 4); }

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define KO_SM90A 1 /* the wgmma helpers exist in sm_90a code only */

/* Descriptor of a K-major operand: rows of 64 values along K (one block per 64 of K), 8-row groups
 * 1024 bytes apart. +2 on the descriptor moves 16 values (32 bytes) along K inside the swizzled rows. */
__device__ __forceinline__ uint64_t sdesc(const void *p) {
    return (uint64_t)((sm_addr(p) & 0x3FFFF) >> 4) | (uint64_t)1 << 16 | (uint64_t)(1024 >> 4) << 32 | (uint64_t)1 << 62;
}
/* Descriptor of an MN-major operand (B of O += P V: V's rows are K, its columns N): each block holds 64
 * K-rows x 64 N-values, blocks along N lbo bytes apart, 8-row groups along K 1024 bytes apart. */
__device__ __forceinline__ uint64_t sdesc_mn(const void *p, int lbo) { /* (the other reading of the two strides gives NaN: session 16) */
    return (uint64_t)((sm_addr(p) & 0x3FFFF) >> 4) | (uint64_t)((lbo & 0x3FFFF) >> 4) << 16 | (uint64_t)(1024 >> 4) << 32 |
           (uint64_t)1 << 62;
}
__device__ __forceinline__ void wg_fence() { asm volatile("wgmma.fence.sync.aligned;" ::: "memory"); }
__device__ __forceinline__ void wg_commit() { asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory"); }
template <int N> __device__ __forceinline__ void wg_wait() { asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(N) : "memory"); }

#define KO_R32                                                                                                       \
    "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, " \
    "%24, %25, %26, %27, %28, %29, %30, %31"
#define KO_R64                                                                                                       \
    KO_R32 ", %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, " \
           "%52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
#define KO_R128                                                                                                      \
    KO_R64 ", %64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83, " \
           "%84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, %96, %97, %98, %99, %100, %101, %102, %103, " \
           "%104, %105, %106, %107, %108, %109, %110, %111, %112, %113, %114, %115, %116, %117, %118, %119, %120, "   \
           "%121, %122, %123, %124, %125, %126, %127"
#define KO_F8(i) "+f"(d[i]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3]), "+f"(d[i + 4]), "+f"(d[i + 5]), "+f"(d[i + 6]), "+f"(d[i + 7])
#define KO_F32(i) KO_F8(i), KO_F8(i + 8), KO_F8(i + 16), KO_F8(i + 24)
#define KO_F64(i) KO_F32(i), KO_F32(i + 32)
#define KO_F128(i) KO_F64(i), KO_F64(i + 64)
#define KO_TY(T) (std::is_same<T, __half>::value)
/* Both operands in shared memory (K-major): d[0 .. N/2) (+)= A(64 x 16, da) B(N x 16, db)^T; acc = 0 overwrites d. */
#define KO_WG_SS(N, R, F, I0, I1, I2, TY)                                                                          \
    asm volatile("{\n .reg .pred p;\n setp.ne.b32 p, %" I2 ", 0;\n wgmma.mma_async.sync.aligned.m64n" #N            \
                 "k16.f32." TY "." TY " {" R "}, %" I0 ", %" I1 ", p, 1, 1, 0, 0;\n}"                                    \
                 : F : "l"(da), "l"(db), "r"(acc))
/* A from registers (a: the m16n8k16-style fragment of this warp's 16 rows), B MN-major: d (+)= A B. */
#define KO_WG_RS(N, R, F, I0, I1, I2, I3, I4, I5, TY)                                                              \
    asm volatile("{\n .reg .pred p;\n setp.ne.b32 p, %" I5 ", 0;\n wgmma.mma_async.sync.aligned.m64n" #N            \
                 "k16.f32." TY "." TY " {" R "}, {%" I0 ", %" I1 ", %" I2 ", %" I3 "}, %" I4 ", p, 1, 1, 1;\n}"           \
                 : F : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(acc))

template <class T> __device__ __forceinline__ void wgmma_ss256(float *d, uint64_t da, uint64_t db, int acc = 1) {
    if constexpr (KO_TY(T)) KO_WG_SS(256, KO_R128, KO_F128(0), "128", "129", "130", "f16");
    else KO_WG_SS(256, KO_R128, KO_F128(0), "128", "129", "130", "bf16");
}
template <class T> __device__ __forceinline__ void wgmma_ss64(float *d, uint64_t da, uint64_t db, int acc) {
    if constexpr (KO_TY(T)) KO_WG_SS(64, KO_R32, KO_F32(0), "32", "33", "34", "f16");
    else KO_WG_SS(64, KO_R32, KO_F32(0), "32", "33", "34", "bf16");
}
/* N = 64, 128 or 256 (head_dim): d[0 .. N/2). */
template <class T, int N> __device__ __forceinline__ void wgmma_rs(float *d, const unsigned a[4], uint64_t db, int acc = 1) {
    if constexpr (N == 256) {
        if constexpr (KO_TY(T)) KO_WG_RS(256, KO_R128, KO_F128(0), "128", "129", "130", "131", "132", "133", "f16");
        else KO_WG_RS(256, KO_R128, KO_F128(0), "128", "129", "130", "131", "132", "133", "bf16");
    } else if constexpr (N == 128) {
        if constexpr (KO_TY(T)) KO_WG_RS(128, KO_R64, KO_F64(0), "64", "65", "66", "67", "68", "69", "f16");
        else KO_WG_RS(128, KO_R64, KO_F64(0), "64", "65", "66", "67", "68", "69", "bf16");
    } else {
        static_assert(N == 64, "wgmma_rs: N is 64, 128 or 256");
        if constexpr (KO_TY(T)) KO_WG_RS(64, KO_R32, KO_F32(0), "32", "33", "34", "35", "36", "37", "f16");
        else KO_WG_RS(64, KO_R32, KO_F32(0), "32", "33", "34", "35", "36", "37", "bf16");
    }
}
#undef KO_WG_RS
#undef KO_WG_SS
#undef KO_TY
#undef KO_F128
#undef KO_F64
#undef KO_F32
#undef KO_F8
#undef KO_R128
#undef KO_R64
#undef KO_R32

/* Keeps the compiler from moving reads of d above the wait that completes the wgmma writing it. */
template <int N> __device__ __forceinline__ void wg_keep(float *d) {
#pragma unroll
    for (int i = 0; i < N; i++) asm volatile("" : "+f"(d[i])::"memory");
}
#endif
