/* kernels.cuh — the CUDA backend's own kernels (everything but the matrix products, which go to
 * cuBLAS). Included once, by cuda_backend.cu.
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

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
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

/* One RMSNorm output element. Gemma (plus1): x_hat * (1 + w) in fp32, rounded once; Llama-style:
 * w * round(x_hat), as HF's LlamaRMSNorm casts x_hat to the input dtype before the weight. */
template <class T> __device__ __forceinline__ float norm_val(float v, float r, T w, int plus1) {
    return plus1 ? rnd<T>(v * r * (1.f + tof(w))) : rnd<T>(tof(w) * rnd<T>(v * r));
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
    for (int i = threadIdx.x; i < half; i += blockDim.x) {
        float f = p * invf[i];
        cs[i] = rnd<T>(cosf(f));
        cs[half + i] = rnd<T>(sinf(f));
    }
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
            float r = rsqrtf(warp_sum(ss) / hd + eps);
            for (int i = lane; i < hd; i += 32) b[i] = norm_val<T>(b[i], r, nwt[i], plus1);
        }
        __syncwarp();
        for (int i = lane; i < half; i += 32) {
            float a = b[i], c = b[i + half];
            float co = cs[i], si = cs[half + i];
            seg[i] = fromf<T>(rnd<T>(a * co) + rnd<T>(-c * si));
            seg[i + half] = fromf<T>(rnd<T>(c * co) + rnd<T>(a * si));
        }
        __syncwarp();
    }
}

/* One attention tile: up to ATT_QT consecutive queries of one document (packed indices q0..q0+nq-1
 * of the batch) whose keys lie in [k0, q0 + nq). */
struct ko_tile {
    int q0, nq, k0;
};
#define ATT_QT 16   /* queries per block */
#define ATT_KC 32   /* keys per chunk: one per lane */
#define ATT_NPL 8   /* head_dim / 32 values per lane: head_dim <= 256 */

__device__ __forceinline__ int att_kpad(int hd, int esz) { return hd + (esz == 4 ? 1 : 2); }
static inline size_t att_smem(int hd, int esz) {
    return (size_t)ATT_KC * (hd + (esz == 4 ? 1 : 2)) * esz + (size_t)ATT_KC * hd * esz + 16 + (size_t)ATT_QT * hd * 4;
}

/* Attention over the packed batch with the tree mask: key k is visible to query q when both are in
 * one document (k >= the tile's k0), k <= q, k is context (br[k] < 0) or in q's own branch, and
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
    const int kend = tl.q0 + tl.nq;
    const size_t koff = (size_t)(nh + g) * hd, voff = (size_t)(nh + nkv + g) * hd;
    for (int c0 = tl.k0; c0 < kend; c0 += ATT_KC) {
        __syncthreads();
        for (int i = threadIdx.x; i < ATT_KC * hd; i += blockDim.x) {
            int j = i / hd, d = i % hd, k = c0 + j;
            T kv = fromf<T>(0.f), vv = fromf<T>(0.f);
            if (k < kend) {
                kv = qkv[(size_t)k * stride + koff + d];
                vv = qkv[(size_t)k * stride + voff + d];
            }
            Ks[j * kp + d] = kv;
            Vs[j * hd + d] = vv;
        }
        __syncthreads();
        const int k = c0 + lane;
        const int kpos = k < kend ? pos[k] : 0, kbr = k < kend ? br[k] : 0;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const int qi = w * 4 + j;
            if (qi < tl.nq) {
                const int q = tl.q0 + qi;
                bool vis = k <= q && (kbr < 0 || kbr == qbr[j]) && (window <= 0 || qpos[j] - kpos < window);
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


/* ---- attention on tensor cores (bf16 / fp16; WMMA 16x16x16, fp32 accumulate) ----
 * Same tree mask and semantics as attn_k. Block = 4 warps = one tile of 16 queries x G query heads
 * that share one KV head (GQA: K and V are loaded once for the G heads), R = 16 G rows.
 * Per chunk of 32 keys: S = Q K^T (R x 32, 2G WMMA tiles) into shared memory; the masked online
 * softmax (128/R threads per row) writes P rounded to T (as flash attention feeds its PV product,
 * row sums in fp32) and rescales the fp32 output rows; then O += P V over (R/16) x (head_dim/16)
 * tiles (O lives in shared memory, fp32). head_dim a multiple of 16. */
#include <mma.h>
#define TC_KC 32
struct tc_layout {
    int ldq, ldk, lds, ldp, ldo;
    size_t q, k, v, s, p, o, st, total;
};
__host__ __device__ inline tc_layout tc_plan(int hd, int G) {
    tc_layout L;
    const int R = 16 * G;
    L.ldq = L.ldk = hd + 8;
    L.lds = TC_KC + 4;
    L.ldp = TC_KC + 8;
    L.ldo = hd + 4;
    size_t off = 0;
    L.q = off; off += (size_t)R * L.ldq * 2;
    L.k = off; off += (size_t)TC_KC * L.ldk * 2;
    L.v = off; off += (size_t)TC_KC * L.ldk * 2;
    off = (off + 31) & ~(size_t)31;
    L.s = off; off += (size_t)R * L.lds * 4;
    L.p = off; off += (size_t)R * L.ldp * 2;
    off = (off + 31) & ~(size_t)31;
    L.o = off; off += (size_t)R * L.ldo * 4;
    L.st = off; off += 2 * (size_t)R * 4;
    L.total = off;
    return L;
}

template <class T, int G>
__global__ void __launch_bounds__(128) attn_tc_k(const T *qkv, T *out, const ko_tile *tiles, const int *pos, const int *br,
                                                 int nh, int nkv, int hd, int stride, float scale, float softcap, int window) {
    using namespace nvcuda;
    constexpr int R = 16 * G, TPR = 128 / R, CPT = TC_KC / TPR;
    extern __shared__ __align__(128) unsigned char tc_raw[];
    const tc_layout L = tc_plan(hd, G);
    T *Qs = (T *)(tc_raw + L.q), *Ks = (T *)(tc_raw + L.k), *Vs = (T *)(tc_raw + L.v), *Ps = (T *)(tc_raw + L.p);
    float *Ss = (float *)(tc_raw + L.s), *Os = (float *)(tc_raw + L.o);
    float *mrow = (float *)(tc_raw + L.st), *lrow = mrow + R;
    const ko_tile tl = tiles[blockIdx.x];
    const int grp = nh / nkv, nhb = grp / G;
    const int g = blockIdx.y / nhb, h0 = g * grp + (blockIdx.y % nhb) * G;
    const int tid = threadIdx.x, w = tid >> 5;
    const int v8 = hd / 8; /* 16-byte vectors per row */
    for (int i = tid; i < R * v8; i += blockDim.x) {
        int r = i / v8, c = (i % v8) * 8, qi = r & 15, hi = r >> 4;
        uint4 val = make_uint4(0, 0, 0, 0);
        if (qi < tl.nq) val = *(const uint4 *)(qkv + (size_t)(tl.q0 + qi) * stride + (size_t)(h0 + hi) * hd + c);
        *(uint4 *)(Qs + r * L.ldq + c) = val;
    }
    for (int i = tid; i < R * hd; i += blockDim.x) Os[(i / hd) * L.ldo + i % hd] = 0.f;
    if (tid < R) { mrow[tid] = -CUDART_INF_F; lrow[tid] = 0.f; }
    /* softmax role: row sr (query sr & 15), columns sc*CPT .. sc*CPT+CPT-1 */
    const int sr = tid / TPR, sc = tid % TPR;
    const int sqi = sr & 15, sq = tl.q0 + sqi;
    const bool rvalid = sqi < tl.nq;
    const int qpos = rvalid ? pos[sq] : 0, qbr = rvalid ? br[sq] : 0;
    const int kend = tl.q0 + tl.nq;
    const size_t koff = (size_t)(nh + g) * hd, voff = (size_t)(nh + nkv + g) * hd;
    for (int c0 = tl.k0; c0 < kend; c0 += TC_KC) {
        __syncthreads();
        for (int i = tid; i < TC_KC * v8; i += blockDim.x) {
            int r = i / v8, c = (i % v8) * 8, k = c0 + r;
            uint4 kv = make_uint4(0, 0, 0, 0), vv = kv;
            if (k < kend) {
                kv = *(const uint4 *)(qkv + (size_t)k * stride + koff + c);
                vv = *(const uint4 *)(qkv + (size_t)k * stride + voff + c);
            }
            *(uint4 *)(Ks + r * L.ldk + c) = kv;
            *(uint4 *)(Vs + r * L.ldk + c) = vv;
        }
        __syncthreads();
        for (int bi = w; bi < 2 * G; bi += 4) {
            const int rb = bi >> 1, kb = bi & 1;
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            wmma::fill_fragment(acc, 0.f);
            for (int kk = 0; kk < hd; kk += 16) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> b;
                wmma::load_matrix_sync(a, Qs + rb * 16 * L.ldq + kk, L.ldq);
                wmma::load_matrix_sync(b, Ks + (kb * 16) * L.ldk + kk, L.ldk);
                wmma::mma_sync(acc, a, b, acc);
            }
            wmma::store_matrix_sync(Ss + rb * 16 * L.lds + kb * 16, acc, L.lds, wmma::mem_row_major);
        }
        __syncthreads();
        {
            float sv[CPT], mx = -CUDART_INF_F;
#pragma unroll
            for (int j = 0; j < CPT; j++) {
                int col = sc * CPT + j, k = c0 + col;
                bool vis = rvalid && k < kend && k <= sq;
                if (vis) {
                    int kb = br[k];
                    vis = (kb < 0 || kb == qbr) && (window <= 0 || qpos - pos[k] < window);
                }
                float x = -CUDART_INF_F;
                if (vis) {
                    x = Ss[sr * L.lds + col] * scale;
                    if (softcap > 0.f) x = softcap * tanhf(x / softcap);
                }
                sv[j] = x;
                mx = fmaxf(mx, x);
            }
            for (int o = TPR / 2; o; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
            const float mold = mrow[sr];
            const float mnew = fmaxf(mold, mx);
            float corr = 1.f, sum = 0.f;
            if (mnew != -CUDART_INF_F) corr = expf(mold - mnew);
#pragma unroll
            for (int j = 0; j < CPT; j++) {
                float p = sv[j] == -CUDART_INF_F ? 0.f : expf(sv[j] - mnew);
                Ps[sr * L.ldp + sc * CPT + j] = fromf<T>(p); /* P in T for the PV product, the sum in fp32 (as FA2) */
                sum += p;
            }
            for (int o = TPR / 2; o; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
            if (corr != 1.f)
                for (int d = sc; d < hd; d += TPR) Os[sr * L.ldo + d] *= corr;
            __syncwarp();
            if (sc == 0) {
                mrow[sr] = mnew;
                lrow[sr] = lrow[sr] * corr + sum;
            }
        }
        __syncthreads();
        const int ncb = hd / 16;
        for (int t = w; t < G * ncb; t += 4) {
            const int rb = t / ncb, cb = t % ncb;
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            float *o = Os + rb * 16 * L.ldo + cb * 16;
            wmma::load_matrix_sync(acc, o, L.ldo, wmma::mem_row_major);
#pragma unroll
            for (int kk = 0; kk < TC_KC; kk += 16) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> b;
                wmma::load_matrix_sync(a, Ps + rb * 16 * L.ldp + kk, L.ldp);
                wmma::load_matrix_sync(b, Vs + kk * L.ldk + cb * 16, L.ldk);
                wmma::mma_sync(acc, a, b, acc);
            }
            wmma::store_matrix_sync(o, acc, L.ldo, wmma::mem_row_major);
        }
    }
    __syncthreads();
    for (int i = tid; i < R * hd; i += blockDim.x) {
        int r = i / hd, d = i % hd, qi = r & 15, hi = r >> 4;
        if (qi < tl.nq)
            out[(size_t)(tl.q0 + qi) * nh * hd + (size_t)(h0 + hi) * hd + d] = fromf<T>(Os[r * L.ldo + d] / lrow[r]);
    }
}

/* out[t, i] = round(round(act(g)) * u) with g, u the two halves of the fused gate|up row. */
__device__ __forceinline__ float act_f(float g, int act) {
    if (act == 0) return g / (1.f + expf(-g));                                                   /* silu */
    if (act == 1) return 0.5f * g * (1.f + tanhf(0.7978845608028654f * (g + 0.044715f * g * g * g))); /* gelu tanh */
    return 0.5f * g * (1.f + erff(g * 0.7071067811865476f));                                      /* gelu */
}
/* grid (ceil(I / (blockDim * V)), tokens); V elements per thread, 16-byte accesses when V * size = 16. */
template <class T, int V> __global__ void act_mul_k(const T *gu, T *out, int I, int act) {
    const size_t t = blockIdx.y;
    const int i0 = (blockIdx.x * blockDim.x + threadIdx.x) * V;
    if (i0 >= I) return;
    const T *g = gu + t * 2 * I + i0, *u = g + I;
    T *o = out + t * I + i0;
    if (V > 1 && i0 + V <= I) {
        T gv[V], uv[V], ov[V];
        *(uint4 *)gv = *(const uint4 *)g;
        *(uint4 *)uv = *(const uint4 *)u;
#pragma unroll
        for (int j = 0; j < V; j++) ov[j] = fromf<T>(rnd<T>(act_f(tof(gv[j]), act)) * tof(uv[j]));
        *(uint4 *)o = *(const uint4 *)ov;
    } else {
        for (int j = 0; j < V && i0 + j < I; j++) o[j] = fromf<T>(rnd<T>(act_f(tof(g[j]), act)) * tof(u[j]));
    }
}

/* Running log-sum-exp / argmax state of one LM-head row across vocabulary chunks. */
struct ko_rowst {
    float m, s;
    int bi;
};
__global__ void rowst_init_k(ko_rowst *st, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) st[i] = ko_rowst{-CUDART_INF_F, 0.f, 0x7fffffff};
}

/* Final soft-capping as HF does it in T: round(round(tanh(round(x / cap))) * cap). */
template <class T> __device__ __forceinline__ float cap_logit(float x, float cap) {
    return cap > 0.f ? rnd<T>(rnd<T>(tanhf(rnd<T>(x / cap))) * cap) : x;
}

/* Merges (m2, s2, i2) into (m, s, i): log-sum-exp and the first index of the maximum. */
__device__ __forceinline__ void lse_merge(float &m, float &s, int &i, float m2, float s2, int i2) {
    if (m2 == -CUDART_INF_F) return;
    if (m == -CUDART_INF_F) {
        m = m2; s = s2; i = i2;
        return;
    }
    float M = fmaxf(m, m2);
    s = s * expf(m - M) + s2 * expf(m2 - M);
    if (m2 > m || (m2 == m && i2 < i)) i = i2;
    m = M;
}

/* One vocabulary chunk [v0, v0 + nv) of the LM head for rows [0, R): L is [R, nv] logits (T, as HF's
 * bf16 lm_head returns them). Updates the rows' running state and picks up their targets' logits.
 * Rows' targets: ttok[ts[r] .. ts[r] + tn[r]). One block per row. */
template <class T>
__global__ void lse_chunk_k(const T *L, int nv, int v0, float cap, ko_rowst *st, const int *ts, const int *tn,
                            const int *ttok, float *tlogit) {
    __shared__ float sm[32], ss[32];
    __shared__ int si[32];
    const int r = blockIdx.x;
    const T *row = L + (size_t)r * nv;
    float m = -CUDART_INF_F, s = 0.f;
    int bi = 0x7fffffff;
    for (int i = threadIdx.x; i < nv; i += blockDim.x) {
        float x = cap_logit<T>(tof(row[i]), cap);
        if (x > m) {
            s = (m == -CUDART_INF_F ? 0.f : s * expf(m - x)) + 1.f;
            m = x;
            bi = i;
        } else {
            s += expf(x - m);
        }
    }
    for (int o = 16; o; o >>= 1) {
        float m2 = __shfl_xor_sync(0xffffffffu, m, o), s2 = __shfl_xor_sync(0xffffffffu, s, o);
        int i2 = __shfl_xor_sync(0xffffffffu, bi, o);
        lse_merge(m, s, bi, m2, s2, i2);
    }
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    if (lane == 0) { sm[w] = m; ss[w] = s; si[w] = bi; }
    __syncthreads();
    if (threadIdx.x == 0) {
        for (int k = 1; k < nw; k++) lse_merge(m, s, bi, sm[k], ss[k], si[k]);
        ko_rowst g = st[r];
        lse_merge(g.m, g.s, g.bi, m, s, bi == 0x7fffffff ? bi : bi + v0);
        st[r] = g;
    }
    for (int j = threadIdx.x; j < tn[r]; j += blockDim.x) {
        int tok = ttok[ts[r] + j];
        if (tok >= v0 && tok < v0 + nv) tlogit[ts[r] + j] = cap_logit<T>(tof(row[tok - v0]), cap);
    }
}

/* Per target: log p = logit - logsumexp of its row; greedy = its row's argmax is the target. */
__global__ void lse_final_k(const ko_rowst *st, const int *trow, const int *ttok, const float *tlogit, float *lp,
                            unsigned char *greedy, int n) {
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= n) return;
    ko_rowst g = st[trow[t]];
    lp[t] = tlogit[t] - (g.m + logf(g.s));
    greedy[t] = g.bi == ttok[t];
}

#endif
