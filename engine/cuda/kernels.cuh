/* kernels.cuh — the CUDA backend's own kernels (everything but the matrix products, which go to
 * cuBLASLt, engine/cuda/gemm.cu, or to the Hopper kernel, engine/cuda/hgemm.cu). Included by
 * cuda_backend.cu (and tests/cuda/test_cuda_hgemm for act_mul_k, its reference).
 *
 * Every kernel is templated on the activation type T (float, __half, __nv_bfloat16) and computes in
 * fp32. Where HF transformers running in bf16/fp16 rounds an intermediate to the model dtype, rnd<T>
 * rounds at the same place, so that the CUDA backend reproduces HF's bf16 numerics, not just "close
 * to fp32" (for T = float every rnd is the identity and the kernels are plain fp32).
 */
#ifndef KO_CUDA_KERNELS_CUH
#define KO_CUDA_KERNELS_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <math_constants.h>
#include <stdint.h>
#include <string.h>

#include <type_traits>

#include "engine/cuda/async.cuh"
#include "engine/cuda/attn.cuh"
#include "engine/cuda/numerics.cuh"
#include "engine/model/model.h"

__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
/* Sum over the block (blockDim.x a multiple of 32); every thread gets the result. */
__device__ float block_sum(float v) {
    __shared__ float sh[32];
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) sh[w] = v;
    __syncthreads();
    v = lane < nw ? sh[lane] : 0.f;
    return warp_sum(v);
}

/* x[t] = E[tok[t]] (* round(sqrt(H)) for Gemma, in T: HF multiplies by the normaliser cast to the
 * weight dtype). */
template <class T> __global__ void embed_k(const T *E, const int *tok, T *x, int H, int scale) {
    int t = blockIdx.x;
    const T *src = E + (size_t)tok[t] * H;
    T *dst = x + (size_t)t * H;
    float s = rnd<T>(sqrtf((float)H));
    for (int i = threadIdx.x; i < H; i += blockDim.x) dst[i] = scale ? fromf<T>(tof(src[i]) * s) : src[i];
}

/* The residual step and the next norm, one block per row:
 *   if Y:    X[r] = round(X[r] + (postw ? norm(Y[r], postw) : Y[r]))
 *   if prew: out[r] = norm(X[src], prew), src = rows ? rows[r] : r (rows only without Y).
 * V consecutive elements per thread (16-byte accesses for V * sizeof(T) == 16; H % V == 0). Each
 * thread touches the same elements in every pass, so it reads back its own writes. */
template <class T, int V> struct vec { T v[V]; };
template <class T, int V> __device__ __forceinline__ vec<T, V> ldv(const T *p) {
    vec<T, V> r;
    if constexpr (V * sizeof(T) == 16) *(uint4 *)r.v = *(const uint4 *)p;
    else
#pragma unroll
        for (int j = 0; j < V; j++) r.v[j] = p[j];
    return r;
}
template <class T, int V> __device__ __forceinline__ void stv(T *p, const vec<T, V> &r) {
    if constexpr (V * sizeof(T) == 16) *(uint4 *)p = *(const uint4 *)r.v;
    else
#pragma unroll
        for (int j = 0; j < V; j++) p[j] = r.v[j];
}
template <class T, int V>
__global__ void row_k(T *X, const T *Y, const T *postw, const T *prew, T *out, const int *rows, int H,
                      float eps, int plus1) {
    int r = blockIdx.x;
    T *x = X + (size_t)(rows ? rows[r] : r) * H;
    const int step = blockDim.x * V;
    if (Y) {
        const T *y = Y + (size_t)r * H;
        float r1 = 1.f;
        if (postw) {
            float ss = 0.f;
            for (int i = threadIdx.x * V; i < H; i += step) {
                vec<T, V> a = ldv<T, V>(y + i);
#pragma unroll
                for (int j = 0; j < V; j++) ss += tof(a.v[j]) * tof(a.v[j]);
            }
            r1 = rsqrtf(block_sum(ss) / H + eps);
        }
        for (int i = threadIdx.x * V; i < H; i += step) {
            vec<T, V> a = ldv<T, V>(y + i), xv = ldv<T, V>(x + i);
            vec<T, V> wv;
            if (postw) wv = ldv<T, V>(postw + i);
#pragma unroll
            for (int j = 0; j < V; j++) {
                float v = tof(a.v[j]);
                if (postw) v = norm_val<T>(v, r1, wv.v[j], plus1);
                xv.v[j] = fromf<T>(tof(xv.v[j]) + v);
            }
            stv<T, V>(x + i, xv);
        }
    }
    if (prew) {
        float ss = 0.f;
        for (int i = threadIdx.x * V; i < H; i += step) {
            vec<T, V> a = ldv<T, V>(x + i);
#pragma unroll
            for (int j = 0; j < V; j++) ss += tof(a.v[j]) * tof(a.v[j]);
        }
        float r2 = rsqrtf(block_sum(ss) / H + eps);
        T *o = out + (size_t)r * H;
        for (int i = threadIdx.x * V; i < H; i += step) {
            vec<T, V> a = ldv<T, V>(x + i), wv = ldv<T, V>(prew + i), ov;
#pragma unroll
            for (int j = 0; j < V; j++) ov.v[j] = fromf<T>(norm_val<T>(tof(a.v[j]), r2, wv.v[j], plus1));
            stv<T, V>(o + i, ov);
        }
    }
}

/* dst[r, :] = src[rows[r], :] (one row per block, H elements). */
template <class T> __global__ void gather_k(const T *src, T *dst, const int *rows, int H) {
    const T *x = src + (size_t)rows[blockIdx.x] * H;
    T *y = dst + (size_t)blockIdx.x * H;
    for (int i = threadIdx.x; i < H; i += blockDim.x) y[i] = x[i];
}

/* Y[t, :] = b (so that a GEMM with beta = 1 adds the bias before its one rounding, as cuBLAS's
 * addmm does for HF's biased Linear). */
template <class T> __global__ void bias_fill_k(T *Y, const T *b, int N, long long total) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total; i += (long long)gridDim.x * blockDim.x)
        Y[i] = b[i % N];
}

/* In place on the fused qkv rows [T, (nh + 2 nkv) * hd]: optional q/k RMSNorm over head_dim
 * (Gemma 3), then rotary embedding of q and k at pos[t] (rotate-half convention; cos/sin computed
 * in fp32 and rounded to T as HF does). One block per token, one warp per head. */
template <class T>
__global__ void qk_rope_k(T *qkv, const int *pos, int nh, int nkv, int hd, int stride, const T *qn, const T *kn,
                          float eps, int plus1, const float *invf) {
    extern __shared__ float qk_buf[];
    int t = blockIdx.x, w = threadIdx.x >> 5, lane = threadIdx.x & 31, nw = blockDim.x >> 5;
    float *b = qk_buf + w * hd, *cs = qk_buf + nw * hd; /* cs: cos[hd/2] then sin[hd/2], once per token */
    float p = (float)pos[t];
    int half = hd / 2;
    for (int i = threadIdx.x; i < half; i += blockDim.x) rope_cs<T>(p, invf[i], &cs[i], &cs[half + i]);
    __syncthreads();
    for (int s = w; s < nh + nkv; s += nw) {
        T *seg = qkv + (size_t)t * stride + (size_t)s * hd;
        const T *nwt = s < nh ? qn : kn;
        float ss = 0.f;
        for (int i = lane; i < hd; i += 32) {
            float v = tof(seg[i]);
            b[i] = v;
            ss += v * v;
        }
        if (nwt) {
            float r = head_rms(ss, hd, eps);
            for (int i = lane; i < hd; i += 32) b[i] = norm_val<T>(b[i], r, nwt[i], plus1);
        }
        __syncwarp();
        for (int i = lane; i < half; i += 32) rope_pair<T>(b[i], b[i + half], cs[i], cs[half + i], &seg[i], &seg[i + half]);
        __syncwarp();
    }
}

/* cos | sin of RoPE at every token's position, rounded to T: cs[t][0, hd/2) cos, [hd/2, hd) sin, as
 * qk_rope_k computes them (the fused q/k/v epilogue of hgemm.cuh reads them from here). */
template <class T> __global__ void rope_table_k(const int *pos, const float *invf, int hd, T *cs) {
    const int t = blockIdx.x, half = hd / 2;
    const float p = (float)pos[t];
    for (int i = threadIdx.x; i < half; i += blockDim.x) {
        float co, si;
        rope_cs<T>(p, invf[i], &co, &si);
        cs[(size_t)t * hd + i] = fromf<T>(co);
        cs[(size_t)t * hd + half + i] = fromf<T>(si);
    }
}

#define ATT_QT KO_TILE_Q /* queries per block: one tile (engine/cuda/pack.h) */
#define ATT_KC 32   /* keys per chunk: one per lane */
#define ATT_NPL 8   /* head_dim / 32 values per lane: head_dim <= 256 */

__device__ __forceinline__ int att_kpad(int hd, int esz) { return hd + (esz == 4 ? 1 : 2); }
static inline size_t att_smem(int hd, int esz) {
    return (size_t)ATT_KC * (hd + (esz == 4 ? 1 : 2)) * esz + (size_t)ATT_KC * hd * esz + 16 + (size_t)ATT_QT * hd * 4;
}

/* Attention over the packed batch with the tree mask: key k is visible to query q when it is one of
 * the tile's keys (its document's shared prefix or own tokens), k <= q, k is on q's branch (ko_br_meet), and
 * (sliding layers) pos[q] - pos[k] < window. Online softmax in fp32; grid (tiles, heads), 4 warps,
 * each warp owns 4 queries of the tile; a lane scores one key of the chunk, then all lanes
 * accumulate p * V over their slice of head_dim. */
template <class T>
__global__ void __launch_bounds__(128) attn_k(const T *qkv, T *out, const ko_tile *tiles, const int *pos, const int *br,
                                              int nh, int nkv, int hd, int stride, float scale, float softcap, int window) {
    extern __shared__ __align__(16) unsigned char att_raw[];
    const int kp = att_kpad(hd, sizeof(T));
    T *Ks = (T *)att_raw;
    T *Vs = Ks + ATT_KC * kp;
    float *Qs = (float *)(((uintptr_t)(Vs + ATT_KC * hd) + 15) & ~(uintptr_t)15);
    const ko_tile tl = tiles[blockIdx.x];
    const int h = blockIdx.y, g = h / (nh / nkv);
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    for (int i = threadIdx.x; i < ATT_QT * hd; i += blockDim.x) {
        int qi = i / hd, d = i % hd;
        Qs[i] = qi < tl.nq ? tof(qkv[(size_t)(tl.q0 + qi) * stride + (size_t)h * hd + d]) : 0.f;
    }
    float m[4], l[4], acc[4][ATT_NPL];
    int qpos[4], qbr[4];
#pragma unroll
    for (int j = 0; j < 4; j++) {
        m[j] = -CUDART_INF_F;
        l[j] = 0.f;
#pragma unroll
        for (int e = 0; e < ATT_NPL; e++) acc[j][e] = 0.f;
        int qi = w * 4 + j;
        qpos[j] = qi < tl.nq ? pos[tl.q0 + qi] : 0;
        qbr[j] = qi < tl.nq ? br[tl.q0 + qi] : 0;
    }
    const int nk = ko_tile_nkeys(&tl);
    const size_t koff = (size_t)(nh + g) * hd, voff = (size_t)(nh + nkv + g) * hd;
    for (int c0 = 0; c0 < nk; c0 += ATT_KC) {
        __syncthreads();
        for (int i = threadIdx.x; i < ATT_KC * hd; i += blockDim.x) {
            int j = i / hd, d = i % hd;
            T kv = fromf<T>(0.f), vv = fromf<T>(0.f);
            if (c0 + j < nk) {
                const int k = ko_tile_key(&tl, c0 + j);
                kv = qkv[(size_t)k * stride + koff + d];
                vv = qkv[(size_t)k * stride + voff + d];
            }
            Ks[j * kp + d] = kv;
            Vs[j * hd + d] = vv;
        }
        __syncthreads();
        const bool kin = c0 + lane < nk;
        const int k = kin ? ko_tile_key(&tl, c0 + lane) : 0;
        const int kpos = kin ? pos[k] : 0, kbr = kin ? br[k] : 0;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const int qi = w * 4 + j;
            if (qi < tl.nq) {
                const int q = tl.q0 + qi;
                bool vis = kin && k <= q && ko_br_meet(kbr, qbr[j]) && (window <= 0 || qpos[j] - kpos < window);
                float s = -CUDART_INF_F;
                if (vis) {
                    const float *qv = Qs + qi * hd;
                    const T *kr = Ks + lane * kp;
                    float dot = 0.f;
                    for (int d = 0; d < hd; d++) dot += qv[d] * tof(kr[d]);
                    s = dot * scale;
                    if (softcap > 0.f) s = softcap * tanhf(s / softcap);
                }
                float mc = warp_max(s);
                if (mc != -CUDART_INF_F) {
                    float mn = fmaxf(m[j], mc);
                    float corr = expf(m[j] - mn);
                    float p = vis ? expf(s - mn) : 0.f;
                    l[j] = l[j] * corr + warp_sum(p);
                    m[j] = mn;
#pragma unroll
                    for (int e = 0; e < ATT_NPL; e++) acc[j][e] *= corr;
                    for (int jj = 0; jj < ATT_KC; jj++) {
                        float pj = __shfl_sync(0xffffffffu, p, jj);
                        if (pj != 0.f) {
                            const T *vr = Vs + jj * hd;
#pragma unroll
                            for (int e = 0; e < ATT_NPL; e++) {
                                int d = lane + 32 * e;
                                if (d < hd) acc[j][e] += pj * tof(vr[d]);
                            }
                        }
                    }
                }
            }
        }
    }
#pragma unroll
    for (int j = 0; j < 4; j++) {
        const int qi = w * 4 + j;
        if (qi < tl.nq) {
            T *o = out + (size_t)(tl.q0 + qi) * nh * hd + (size_t)h * hd;
            float inv = 1.f / l[j];
#pragma unroll
            for (int e = 0; e < ATT_NPL; e++) {
                int d = lane + 32 * e;
                if (d < hd) o[d] = fromf<T>(acc[j][e] * inv);
            }
        }
    }
}


/* ---- attention on tensor cores (bf16 / fp16 in, fp32 accumulate): flash-attention-2 style ----
 * Same tree mask and semantics as attn_k. Block = one tile (16 queries of one document) x gw query
 * heads that share one KV head; warp w owns head h0 + w, its 16 query rows live in registers as
 * mma.sync m16n8k16 fragments: S = Q K^T per chunk of KC keys, the masked online softmax on the S
 * fragments (a row's 4 values per lane, reduced over the lane quad), P rounded to T (as flash
 * attention feeds its PV product; the row sums stay fp32) and O += P V with O in fp32 registers.
 * K/V chunks are shared by the block's warps and double-buffered in shared memory with cp.async;
 * chunks with no visible key for the tile (other choices' branches) skip the products. */
template <int HD> struct fa_shape {
    static constexpr int KC = 32; /* keys per chunk (16 at head_dim 256 until session 12: NOTES.md) */
    static constexpr int LD = HD + 8;             /* shared row stride (elements): conflict-free ldmatrix */
};
template <int HD> inline size_t fa_smem(int warps) { /* K, V double-buffered + 16 query rows per warp, then the keys' pos | br */
    return (size_t)(4 * fa_shape<HD>::KC + 16 * warps) * fa_shape<HD>::LD * 2 + 4 * fa_shape<HD>::KC * sizeof(int);
}
__device__ __forceinline__ void ldsm4(unsigned r[4], const void *p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(sm_addr(p)));
}
__device__ __forceinline__ void ldsm4t(unsigned r[4], const void *p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(sm_addr(p)));
}
/* c += a (16x16, row) * b (16x8, col), fp32 accumulate. */
template <class T> __device__ __forceinline__ void mma16816(float c[4], const unsigned a[4], unsigned b0, unsigned b1) {
    if constexpr (sizeof(T) == 2 && std::is_same<T, __half>::value)
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    else
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/* Block = one group of up to blockDim / (32 gw) consecutive tiles of one document (gst: the batch's
 * group starts, one more entry at the end) x gw query heads of one GQA group; warp w takes tile slot
 * w / gw, head w % gw. The K/V chunks are loaded once for all the group's warps, up to the last
 * tile's keys; each warp masks by its own tile's, so its keys, chunks and sums are those it would have
 * alone (a group changes no result). */
template <class T, int HD>
__global__ void __launch_bounds__(256) attn_fa_k(const T *qkv, T *out, const ko_tile *tiles, const int *gst, const int *pos, const int *br,
                                                 int nh, int nkv, int stride, float scale, float softcap, int window, int gw) {
    static_assert(sizeof(T) == 2, "tensor-core attention is for bf16 / fp16");
    constexpr int KC = fa_shape<HD>::KC, LD = fa_shape<HD>::LD, NT = KC / 8, DT = HD / 8, V8 = HD / 8;
    extern __shared__ __align__(128) unsigned char fa_raw[];
    T *Ks = (T *)fa_raw, *Vs = Ks + 2 * KC * LD, *Qs = Vs + 2 * KC * LD;
    int *Kpos = (int *)(Qs + (blockDim.x >> 5) * 16 * LD), *Kbr = Kpos + 2 * KC; /* per stage: the chunk's keys' pos, br */
    const int w = threadIdx.x >> 5, lane = threadIdx.x & 31, g8 = lane >> 2, t4 = lane & 3;
    const int t0 = gst[blockIdx.x], ngt = gst[blockIdx.x + 1] - t0, slot = w / gw;
    const bool active = slot < ngt;
    const ko_tile tl = tiles[t0 + (active ? slot : 0)], tlast = tiles[t0 + ngt - 1];
    const int grp = nh / nkv, nhb = grp / gw, g = blockIdx.y / nhb;
    const int h = g * grp + (blockIdx.y % nhb) * gw + w % gw;
    const int nk = active ? ko_tile_nkeys(&tl) : 0, nkb = ko_tile_nkeys(&tlast);
    const size_t koff = (size_t)(nh + g) * HD, voff = (size_t)(nh + nkv + g) * HD;
    T *Qw = Qs + w * 16 * LD;
    for (int i = lane; i < 16 * V8; i += 32) {
        const int r = i / V8, c = (i % V8) * 8;
        cp16(Qw + r * LD + c, qkv + (size_t)(tl.q0 + (r < tl.nq ? r : 0)) * stride + (size_t)h * HD + c, r < tl.nq);
    }
    auto load_kv = [&](int stage, int c0) { /* keys c0.. of the tile (document order) */
        for (int i = threadIdx.x; i < KC * V8; i += blockDim.x) {
            const int r = i / V8, c = (i % V8) * 8;
            const bool in = c0 + r < nkb;
            const T *src = qkv + (size_t)(in ? ko_tile_key(&tl, c0 + r) : tl.q0) * stride + c;
            cp16(Ks + (stage * KC + r) * LD + c, src + koff, in);
            cp16(Vs + (stage * KC + r) * LD + c, src + voff, in);
        }
        fa_key_meta(Kpos + stage * KC, Kbr + stage * KC, tl, c0, KC, nkb, pos, br);
    };
    load_kv(0, 0);
    cp_commit();
    fa_rows q;
    fa_rows_init(q, tl, active, g8, pos, br);
    float o[DT][4];
    fa_zero<DT>(o);
    const int nchunk = (nkb + KC - 1) / KC;
    for (int ci = 0; ci < nchunk; ci++) {
        const int c0 = ci * KC, stage = ci & 1;
        if (ci + 1 < nchunk) load_kv(stage ^ 1, c0 + KC);
        cp_commit();
        cp_wait<1>();
        __syncthreads();
        const unsigned vis = fa_vis<NT>(q, tl, c0, nk, Kpos + stage * KC, Kbr + stage * KC, lane, window);
        if (__any_sync(0xffffffffu, vis != 0)) {
            const T *Kc = Ks + stage * KC * LD, *Vc = Vs + stage * KC * LD;
            float s[NT][4];
#pragma unroll
            for (int n = 0; n < NT; n++) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.f;
#pragma unroll
            for (int kk = 0; kk < HD; kk += 16) {
                unsigned a[4];
                ldsm4(a, Qw + ((lane & 7) + ((lane >> 3) & 1) * 8) * LD + kk + (lane >> 4) * 8);
#pragma unroll
                for (int np = 0; np < NT / 2; np++) {
                    unsigned b[4];
                    ldsm4(b, Kc + (np * 16 + (lane >> 4) * 8 + (lane & 7)) * LD + kk + ((lane >> 3) & 1) * 8);
                    mma16816<T>(s[2 * np], a, b[0], b[1]);
                    mma16816<T>(s[2 * np + 1], a, b[2], b[3]);
                }
            }
            float corr[2];
            fa_softmax<NT>(s, vis, scale, softcap, q, corr);
            fa_rescale<DT>(o, corr);
#pragma unroll
            for (int ks = 0; ks < KC / 16; ks++) {
                unsigned a[4];
                fa_p_frag<T>(s, ks, a);
#pragma unroll
                for (int dp = 0; dp < DT / 2; dp++) {
                    unsigned b[4];
                    ldsm4t(b, Vc + (ks * 16 + ((lane >> 3) & 1) * 8 + (lane & 7)) * LD + dp * 16 + (lane >> 4) * 8);
                    mma16816<T>(o[2 * dp], a, b[0], b[1]);
                    mma16816<T>(o[2 * dp + 1], a, b[2], b[3]);
                }
            }
        }
        __syncthreads(); /* the next iteration's copy overwrites this stage */
    }
    cp_wait<0>();
    fa_store<T, DT>(o, q, out, nh, h, t4);
}

/* out[t, i] = round(round(act(g)) * u) with g, u the two halves of the fused gate|up row (glu_f: numerics.cuh). */
/* grid (tokens, ceil(I / (blockDim * V))): tokens in x, whose limit is 2^31 - 1 (y's is 65535, fewer
 * than a large --batch_size); V elements per thread, 16-byte accesses when V * size = 16. */
template <class T, int V> __global__ void act_mul_k(const T *gu, T *out, int I, int act) {
    const size_t t = blockIdx.x;
    const int i0 = (blockIdx.y * blockDim.x + threadIdx.x) * V;
    if (i0 >= I) return;
    const T *g = gu + t * 2 * I + i0, *u = g + I;
    T *o = out + t * I + i0;
    if (V > 1 && i0 + V <= I) {
        T gv[V], uv[V], ov[V];
        *(uint4 *)gv = *(const uint4 *)g;
        *(uint4 *)uv = *(const uint4 *)u;
#pragma unroll
        for (int j = 0; j < V; j++) ov[j] = fromf<T>(glu_f<T>(gv[j], uv[j], act));
        *(uint4 *)o = *(const uint4 *)ov;
    } else {
        for (int j = 0; j < V && i0 + j < I; j++) o[j] = fromf<T>(glu_f<T>(g[j], u[j], act));
    }
}

/* Running log-sum-exp of one LM-head row across vocabulary chunks. */
struct ko_rowst {
    float m, s;
};
__global__ void rowst_init_k(ko_rowst *st, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) st[i] = ko_rowst{-CUDART_INF_F, 0.f};
}
/* One target across the chunks: its logit x and the largest logit before it in the vocabulary (pre), so
 * is_greedy can take lm-eval's argmax, the first index of the maximal rounded log-prob (lse_final_k). */
struct ko_tgtst {
    float x, pre;
};

/* Final soft-capping as HF does it in T: round(round(tanh(round(x / cap))) * cap). */
template <class T> __device__ __forceinline__ float cap_logit(float x, float cap) {
    return cap > 0.f ? rnd<T>(rnd<T>(tanhf(rnd<T>(x / cap))) * cap) : x;
}

/* x in lm-eval's softmax dtype sd (a ko_dtype): log_softmax(logits, dtype=sd) casts its input to sd
 * and rounds its output to it (engine.h). */
__device__ __forceinline__ float rnd_sd(float x, int sd) {
    return sd == KO_BF16 ? rnd<bf16>(x) : sd == KO_F16 ? rnd<__half>(x) : x;
}
/* A logit as the log-softmax takes it: soft-capped, in the softmax dtype. */
template <class T> __device__ __forceinline__ float lse_in(T x, float cap, int sd) { return rnd_sd(cap_logit<T>(tof(x), cap), sd); }

/* Merges (m2, s2) into (m, s): log-sum-exp. */
__device__ __forceinline__ void lse_merge(float &m, float &s, float m2, float s2) {
    if (m2 == -CUDART_INF_F) return;
    if (m == -CUDART_INF_F) {
        m = m2; s = s2;
        return;
    }
    float M = fmaxf(m, m2);
    s = s * expf(m - M) + s2 * expf(m2 - M);
    m = M;
}

/* The largest of row[0 .. n) as the log-softmax takes them, to every thread of the block (red: 32 floats
 * of shared memory). */
template <class T> __device__ float lse_prefix_max(const T *row, int n, float cap, int sd, float *red) {
    float m = -CUDART_INF_F;
    for (int i = threadIdx.x; i < n; i += blockDim.x) m = fmaxf(m, lse_in(row[i], cap, sd));
    for (int o = 16; o; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = m;
    __syncthreads();
    for (int k = 0; k < (int)(blockDim.x >> 5); k++) m = fmaxf(m, red[k]);
    __syncthreads();
    return m;
}

/* One vocabulary chunk [v0, v0 + nv) of the LM head for rows [0, R): L is [R, nv] logits (T, as HF's
 * bf16 lm_head returns them). Updates the rows' running state and their targets' (ttok[ts[r] ..
 * ts[r] + tn[r]): the chunk v0 = 0 starts them). One block per row. */
template <class T>
__global__ void lse_chunk_k(const T *L, int nv, int v0, float cap, int sd, ko_rowst *st, const int *ts, const int *tn,
                            const int *ttok, ko_tgtst *tg) {
    __shared__ float sm[32], ss[32];
    const int r = blockIdx.x;
    const T *row = L + (size_t)r * nv;
    float m = -CUDART_INF_F, s = 0.f;
    for (int i = threadIdx.x; i < nv; i += blockDim.x) {
        float x = lse_in(row[i], cap, sd);
        if (x > m) {
            s = (m == -CUDART_INF_F ? 0.f : s * expf(m - x)) + 1.f;
            m = x;
        } else {
            s += expf(x - m);
        }
    }
    for (int o = 16; o; o >>= 1) {
        float m2 = __shfl_xor_sync(0xffffffffu, m, o), s2 = __shfl_xor_sync(0xffffffffu, s, o);
        lse_merge(m, s, m2, s2);
    }
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    if (lane == 0) { sm[w] = m; ss[w] = s; }
    __syncthreads();
    if (threadIdx.x == 0) {
        for (int k = 1; k < nw; k++) lse_merge(m, s, sm[k], ss[k]);
        ko_rowst g = st[r];
        lse_merge(g.m, g.s, m, s);
        st[r] = g;
        sm[0] = m;
    }
    __syncthreads();
    const float cm = sm[0]; /* the chunk's maximum */
    /* Targets: the same loop in every thread (lse_prefix_max is block-wide). */
    for (int j = 0; j < tn[r]; j++) {
        const int k = ts[r] + j, tok = ttok[k] - v0;
        if (tok < 0) continue; /* in an earlier chunk: nothing here comes before it */
        const float pre = tok >= nv ? cm : lse_prefix_max(row, tok, cap, sd, ss);
        if (threadIdx.x == 0) {
            ko_tgtst t = v0 == 0 ? ko_tgtst{-CUDART_INF_F, -CUDART_INF_F} : tg[k];
            t.pre = fmaxf(t.pre, pre);
            if (tok < nv) t.x = lse_in(row[tok], cap, sd);
            tg[k] = t;
        }
    }
}

/* Per target: log p = (logit - max) - log(sum exp(logit - max)) (torch's order), in the softmax dtype sd;
 * greedy = lm-eval's argmax of the row's log-probs is the target: its log-prob is the row's largest and
 * every logit before it has a smaller one (rounding keeps the order, so the largest logit before it is
 * the one to compare). */
__global__ void lse_final_k(const ko_rowst *st, const int *trow, const ko_tgtst *tg, int sd, float *lp, unsigned char *greedy,
                            int n) {
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= n) return;
    const ko_rowst g = st[trow[t]];
    const ko_tgtst x = tg[t];
    const float ls = logf(g.s), top = rnd_sd((g.m - g.m) - ls, sd);
    lp[t] = rnd_sd((x.x - g.m) - ls, sd);
    greedy[t] = lp[t] == top && rnd_sd((x.pre - g.m) - ls, sd) < top;
}

#endif
