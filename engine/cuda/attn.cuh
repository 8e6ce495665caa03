/* attn.cuh — the per-warp pieces of tensor-core attention that both kernels share (attn_fa_k in
 * kernels.cuh: mma.sync, any 16-bit card; attn_wg_k in attn_wg.cu: wgmma, sm_90a), so both mask,
 * normalise and round alike.
 *
 * A warp owns one tile (16 queries of one head); lane (g8 = lane / 4, t4 = lane % 4) holds rows g8 and
 * g8 + 8. S and O are in the m16n8 accumulator layout of mma.sync, which is also each warp's share of
 * a wgmma m64nN accumulator: s[n][2r + j] is (row g8 + 8r, column 8n + 2t4 + j). The online softmax is
 * fp32 with the row's maximum and sum reduced over the lane quad; P is rounded to T for the P V product
 * (as flash attention feeds it), the row sums stay fp32. */
#pragma once
#include <math_constants.h>

#include "engine/cuda/async.cuh"
#include "engine/cuda/numerics.cuh"
extern "C" {
#include "engine/cuda/pack.h"
}

/* The two query rows of a lane: packed index, position, branch, whether they exist; and their
 * running maximum and sum. */
struct fa_rows {
    int qi[2], qpos[2], qbr[2];
    bool ok[2];
    float m[2], l[2];
    int last;      /* the tile's last query position (its valid rows') */
    unsigned rows; /* the mask bits of the lane's valid rows (what a chunk visible to all gives) */
};
__device__ __forceinline__ void fa_rows_init(fa_rows &q, const ko_tile &tl, bool active, int g8, const int *pos, const int *br) {
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int row = g8 + 8 * r;
        q.ok[r] = active && row < tl.nq;
        q.qi[r] = tl.q0 + row;
        q.qpos[r] = q.ok[r] ? pos[q.qi[r]] : 0;
        q.qbr[r] = q.ok[r] ? br[q.qi[r]] : 0;
        q.m[r] = -CUDART_INF_F, q.l[r] = 0.f;
    }
    q.rows = (q.ok[0] ? 0x33333333u : 0u) | (q.ok[1] ? 0xccccccccu : 0u);
    q.last = max(q.ok[0] ? q.qpos[0] : 0, q.ok[1] ? q.qpos[1] : 0);
#pragma unroll
    for (int o = 16; o; o >>= 1) q.last = max(q.last, __shfl_xor_sync(0xffffffffu, q.last, o));
}
/* The mask's per-key data of a chunk (keys c0 .. c0 + kc - 1 of the tile, nkb of them in all) into
 * kpos / kbr by cp.async, so the mask reads shared memory after the chunk's barrier; threads 0 .. kc - 1. */
__device__ __forceinline__ void fa_key_meta(int *kpos, int *kbr, const ko_tile &tl, int c0, int kc, int nkb, const int *pos, const int *br) {
    if (threadIdx.x < kc) {
        const int r = threadIdx.x;
        const bool in = c0 + r < nkb;
        const int k = in ? ko_tile_key(&tl, c0 + r) : 0;
        cp4(kpos + r, pos + k, in);
        cp4(kbr + r, br + k, in);
    }
}
template <int DT> __device__ __forceinline__ void fa_zero(float (*o)[4]) {
#pragma unroll
    for (int d = 0; d < DT; d++) o[d][0] = o[d][1] = o[d][2] = o[d][3] = 0.f;
}
/* The lane's visible S elements of the chunk of NT x 8 keys from tile key c0 (bit 4n + 2r + j):
 * key k <= the query, on its path (ko_br_meet), inside the window by position; kpos / kbr: the
 * chunk's keys' positions and branches (shared memory). nk: the tile's key count (0: inactive). */
template <int NT>
__device__ __forceinline__ unsigned fa_vis(const fa_rows &q, const ko_tile &tl, int c0, int nk, const int *kpos, const int *kbr, int lane,
                                           int window) {
    static_assert(NT <= 8, "fa_vis: at most 64 keys per chunk (32 mask bits)");
    /* Most chunks are context keys before the tile, inside the window of its last query: visible to all
     * its rows. One vote over the chunk's keys (lane l takes l, l + 32, ...) says so at once; the same
     * bits as the per-element test below, which the other chunks take. */
    bool all = true;
#pragma unroll
    for (int kc = lane; kc < 8 * NT; kc += 32)
        all &= c0 + kc < nk && ko_tile_key(&tl, c0 + kc) < tl.q0 && kbr[kc] == KO_BR_CTX && (window <= 0 || q.last - kpos[kc] < window);
    if (__all_sync(0xffffffffu, all)) return NT == 8 ? q.rows : q.rows & ((1u << (4 * NT)) - 1);
    const int t4 = lane & 3;
    unsigned vis = 0;
#pragma unroll
    for (int n = 0; n < NT; n++)
#pragma unroll
        for (int j = 0; j < 2; j++) {
            const int kc = 8 * n + 2 * t4 + j;
            const bool in = c0 + kc < nk;
            const int k = ko_tile_key(&tl, c0 + kc), kp = kpos[kc], kb = kbr[kc];
#pragma unroll
            for (int r = 0; r < 2; r++)
                if (q.ok[r] && in && k <= q.qi[r] && ko_br_meet(kb, q.qbr[r]) && (window <= 0 || q.qpos[r] - kp < window))
                    vis |= 1u << (4 * n + 2 * r + j);
        }
    return vis;
}
/* One chunk's online softmax: s (the scores Q K^T) becomes P, unscaled by the new maximum; m and l
 * move on; corr: what O is to be multiplied by (1 where a row's maximum did not move). Base 2: the
 * score times scale * log2(e) (one multiply), so each probability is a subtraction and an EX2, masked
 * ones exp2(-inf) = 0 without a test; m is in those units. */
template <int NT>
__device__ __forceinline__ void fa_softmax(float (*s)[4], unsigned vis, float scale, float softcap, fa_rows &q, float corr[2]) {
    constexpr float LOG2E = 1.4426950408889634f;
    const float sl = scale * LOG2E;
#pragma unroll
    for (int r = 0; r < 2; r++) {
        float mx = -CUDART_INF_F;
#pragma unroll
        for (int n = 0; n < NT; n++)
#pragma unroll
            for (int j = 0; j < 2; j++) {
                float x = -CUDART_INF_F;
                if (vis >> (4 * n + 2 * r + j) & 1) x = softcap > 0.f ? softcap * tanhf(s[n][2 * r + j] * scale / softcap) * LOG2E : s[n][2 * r + j] * sl;
                s[n][2 * r + j] = x;
                mx = fmaxf(mx, x);
            }
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        const float mnew = fmaxf(q.m[r], mx), base = mnew == -CUDART_INF_F ? 0.f : mnew; /* exp2(-inf - base) = 0: masked */
        corr[r] = mnew == -CUDART_INF_F ? 1.f : exp2f(q.m[r] - mnew);
        float sum = 0.f;
#pragma unroll
        for (int n = 0; n < NT; n++)
#pragma unroll
            for (int j = 0; j < 2; j++) {
                const float p = exp2f(s[n][2 * r + j] - base);
                s[n][2 * r + j] = p;
                sum += p;
            }
        sum += __shfl_xor_sync(0xffffffffu, sum, 1);
        sum += __shfl_xor_sync(0xffffffffu, sum, 2);
        q.l[r] = q.l[r] * corr[r] + sum;
        q.m[r] = mnew;
    }
}
/* O *= corr per row, only when some row's maximum moved (x 1 changes no bit: most chunks). */
template <int DT> __device__ __forceinline__ void fa_rescale(float (*o)[4], const float corr[2]) {
    if (__any_sync(0xffffffffu, corr[0] != 1.f || corr[1] != 1.f)) {
#pragma unroll
        for (int d = 0; d < DT; d++) {
            o[d][0] *= corr[0];
            o[d][1] *= corr[0];
            o[d][2] *= corr[1];
            o[d][3] *= corr[1];
        }
    }
}
/* P's 16 keys from 16ks as the A fragment of a k16 product (m16n8k16 and wgmma's register A alike). */
template <class T> __device__ __forceinline__ void fa_p_frag(const float (*s)[4], int ks, unsigned a[4]) {
    a[0] = pack2<T>(s[2 * ks][0], s[2 * ks][1]), a[1] = pack2<T>(s[2 * ks][2], s[2 * ks][3]);
    a[2] = pack2<T>(s[2 * ks + 1][0], s[2 * ks + 1][1]), a[3] = pack2<T>(s[2 * ks + 1][2], s[2 * ks + 1][3]);
}
/* out[q, h, :] = O / l for the lane's rows (head_dim 8 DT; out is [tokens, nh, head_dim]). */
template <class T, int DT>
__device__ __forceinline__ void fa_store(const float (*o)[4], const fa_rows &q, T *out, int nh, int h, int t4) {
#pragma unroll
    for (int r = 0; r < 2; r++) {
        if (!q.ok[r]) continue;
        const float inv = 1.f / q.l[r];
        T *orow = out + ((size_t)q.qi[r] * nh + h) * (8 * DT) + 2 * t4;
#pragma unroll
        for (int d = 0; d < DT; d++) *(unsigned *)(orow + 8 * d) = pack2<T>(o[d][2 * r] * inv, o[d][2 * r + 1] * inv);
    }
}
