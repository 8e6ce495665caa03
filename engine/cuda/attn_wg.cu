/* attn_wg.cu — the Hopper attention of attn_wg.cuh.
 *
 * Block = one group of up to four consecutive tiles of one document x gw query heads of one GQA group:
 * warp group wg takes head wg, its warp w tile w of the group, so a warp group holds 64 query rows and
 * computes S = Q K^T (wgmma m64n64k16, Q and K from shared memory) and O += P V (wgmma m64n{head_dim}k16,
 * P from the S registers, V from shared memory read N-major) per chunk of 64 keys; the P V of a chunk
 * runs while the next chunk's softmax does. K/V chunks are loaded once for the block (cp.async, one
 * chunk ahead; K in 2 stages, V in 3) in the 128-byte swizzled blocks wgmma reads (async.cuh), up to
 * the group's last tile's keys; each warp masks its own tile's rows (attn.cuh), so
 * what a row sums is what it would sum alone: grouping changes no bit, and chunks start at the same
 * tile keys whatever the packing (prefix sharing changes no bit either). Against attn_fa_k (mma.sync,
 * 32-key chunks) the sums run in another order: the results agree to rounding, not bit for bit. */
#include "engine/cuda/attn_wg.cuh"

#include <stdint.h>

#include "engine/cuda/async.cuh"
#include "engine/cuda/attn.cuh"
#include "engine/cuda/numerics.cuh"

namespace {

constexpr int KC = 64;            /* keys per chunk */
constexpr int BLK = 64 * 128;     /* one swizzled block: 64 rows x 64 16-bit values */
/* Q for gw warp groups, K in 2 stages, V in 3 (chunk i's P V runs during chunk i + 1), the chunk keys'
 * pos | br in 2; + alignment. */
inline size_t wg_smem(int hd, int gw) { return (size_t)(gw + 5) * (hd / 64) * BLK + 4 * KC * sizeof(int) + 1024; }

template <class T, int HD, int GW>
__global__ void __launch_bounds__(128 * GW, 1) attn_wg_k(const T *qkv, T *out, const ko_tile *tiles, const int *gst, const int *pos,
                                                         const int *br, int nh, int nkv, int stride, float scale, float softcap,
                                                         int window) {
#ifdef KO_SM90A
    constexpr int NB = HD / 64, MAT = NB * BLK, NT = KC / 8, DT = HD / 8, V8 = HD / 8, TH = 128 * GW, gw = GW;
    static_assert(TH % V8 == 0 && (KC * V8) % TH == 0, "attn_wg_k: whole rows per pass of the block");
    extern __shared__ unsigned char wg_raw[];
    unsigned char *Qs = (unsigned char *)(((uintptr_t)wg_raw + 1023) & ~(uintptr_t)1023), *Ks = Qs + gw * MAT, *Vs = Ks + 2 * MAT;
    int *Kpos = (int *)(Vs + 3 * MAT), *Kbr = Kpos + 2 * KC;
    const int wg = threadIdx.x >> 7, w = (threadIdx.x >> 5) & 3, lane = threadIdx.x & 31, g8 = lane >> 2, t4 = lane & 3;
    const int t0 = gst[blockIdx.x], ngt = gst[blockIdx.x + 1] - t0;
    const bool active = w < ngt;
    const ko_tile tl = tiles[t0 + (active ? w : 0)], tlast = tiles[t0 + ngt - 1];
    const int grp = nh / nkv, nhb = grp / gw, g = blockIdx.y / nhb;
    const int h = g * grp + (blockIdx.y % nhb) * gw + wg;
    const int nk = active ? ko_tile_nkeys(&tl) : 0, nkb = ko_tile_nkeys(&tlast);
    const size_t koff = (size_t)(nh + g) * HD, voff = (size_t)(nh + nkv + g) * HD;
    unsigned char *Qw = Qs + wg * MAT;
#pragma unroll
    for (int i = lane; i < 16 * V8; i += 32) { /* this warp's 16 rows of the group's Q (zeros past its tile) */
        const int r = i / V8, c = i % V8;
        const bool in = active && r < tl.nq;
        cp16(Qw + (c / 8) * BLK + sw128(16 * w + r, c % 8), qkv + (size_t)(tl.q0 + (in ? r : 0)) * stride + (size_t)h * HD + 8 * c, in);
    }
    auto load_kv = [&](int ci) { /* chunk ci: keys 64 ci.. of the group (document order; all its tiles have the same keys) */
        const int c0 = ci * KC, stage = ci & 1;
        unsigned char *kd = Ks + stage * MAT, *vd = Vs + (ci % 3) * MAT;
        const int c = threadIdx.x % V8; /* the same 16 bytes of each of the thread's rows */
#pragma unroll
        for (int r = threadIdx.x / V8; r < KC; r += TH / V8) {
            const int off = (c / 8) * BLK + sw128(r, c % 8);
            const bool in = c0 + r < nkb;
            const T *src = qkv + (size_t)(in ? ko_tile_key(&tl, c0 + r) : tl.q0) * stride + 8 * c;
            cp16(kd + off, src + koff, in);
            cp16(vd + off, src + voff, in);
        }
        fa_key_meta(Kpos + stage * KC, Kbr + stage * KC, tl, c0, KC, nkb, pos, br);
    };
    load_kv(0);
    cp_commit();
    fa_rows q;
    fa_rows_init(q, tl, active, g8, pos, br);
    float o[DT][4];
    fa_zero<DT>(o);
    const int nchunk = (nkb + KC - 1) / KC;
    /* Chunk ci: wait for its keys (every warp is past chunk ci - 1 then, so chunk ci + 1 may overwrite
     * the K stage of ci - 1 and the V stage of ci - 2), start loading ci + 1, S = Q K^T, then P V of
     * chunk ci - 1 on the tensor cores while the softmax of ci runs; O is rescaled once that is done. */
    unsigned a[KC / 16][4]; /* P of the chunk before, the A fragments of its P V */
    for (int ci = 0; ci < nchunk; ci++) {
        const int c0 = ci * KC, stage = ci & 1;
        cp_wait<0>();
        __syncthreads();
        if (ci + 1 < nchunk) load_kv(ci + 1);
        cp_commit();
        const unsigned vis = fa_vis<NT>(q, tl, c0, nk, Kpos + stage * KC, Kbr + stage * KC, lane, window);
        const unsigned char *Kc = Ks + stage * MAT;
        float s[NT][4];
#pragma unroll
        for (int n = 0; n < NT; n++) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.f;
        wg_fence();
#pragma unroll
        for (int kb = 0; kb < NB; kb++)
#pragma unroll
            for (int k = 0; k < 4; k++) wgmma_ss64<T>(&s[0][0], sdesc(Qw + kb * BLK) + 2 * k, sdesc(Kc + kb * BLK) + 2 * k, kb | k);
        wg_commit();
        if (ci > 0) {
            const unsigned char *Vp = Vs + ((ci - 1) % 3) * MAT;
            wg_fence(); /* (ptxas would insert it: the A fragments are registers) */
#pragma unroll
            for (int ks = 0; ks < KC / 16; ks++) wgmma_rs<T, HD>(&o[0][0], a[ks], sdesc_mn(Vp + ks * 2048, BLK)); /* 16 keys: 2 row groups */
            wg_commit();
            wg_wait<1>(); /* S done; P V may still run */
        } else {
            wg_wait<0>();
        }
        wg_keep<4 * NT>(&s[0][0]);
        float corr[2];
        fa_softmax<NT>(s, vis, scale, softcap, q, corr);
        wg_wait<0>();
        wg_keep<4 * DT>(&o[0][0]);
        fa_rescale<DT>(o, corr);
#pragma unroll
        for (int ks = 0; ks < KC / 16; ks++) fa_p_frag<T>(s, ks, a[ks]);
    }
    if (nchunk > 0) {
        const unsigned char *Vp = Vs + ((nchunk - 1) % 3) * MAT;
        wg_fence();
#pragma unroll
        for (int ks = 0; ks < KC / 16; ks++) wgmma_rs<T, HD>(&o[0][0], a[ks], sdesc_mn(Vp + ks * 2048, BLK));
        wg_commit();
        wg_wait<0>();
        wg_keep<4 * DT>(&o[0][0]);
    }
    cp_wait<0>();
    fa_store<T, DT>(o, q, out, nh, h, t4);
#else
    (void)qkv, (void)out, (void)tiles, (void)gst, (void)pos, (void)br, (void)nh, (void)nkv, (void)stride, (void)scale, (void)softcap,
        (void)window; /* no sm_90a code: ko_hgemm_usable said no */
#endif
}

template <class T, int HD>
int launch(cudaStream_t st, const void *qkv, void *out, const ko_tile *tiles, const int *gst, int ng, const int *pos, const int *br, int nh,
           int nkv, int stride, float scale, float softcap, int window, ko_err *e) {
    static bool ready[2];
    const int gw = ko_attn_wg_heads(nh, nkv);
    const size_t smem = wg_smem(HD, gw);
    void (*k)(const T *, T *, const ko_tile *, const int *, const int *, const int *, int, int, int, float, float, int) =
        gw == 2 ? attn_wg_k<T, HD, 2> : attn_wg_k<T, HD, 1>;
    if (!ready[gw - 1]) {
        cudaError_t r = cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
        if (r != cudaSuccess) return ko_fail(e, "cuda: attention shared memory (%zu bytes): %s", smem, cudaGetErrorString(r));
        ready[gw - 1] = true;
    }
    k<<<dim3(ng, nh / gw), 128 * gw, smem, st>>>((const T *)qkv, (T *)out, tiles, gst, pos, br, nh, nkv, stride, scale, softcap, window);
    cudaError_t r = cudaGetLastError();
    return r == cudaSuccess ? 0 : ko_fail(e, "cuda: attention launch: %s", cudaGetErrorString(r));
}

template <class T>
int run_t(cudaStream_t st, int hd, const void *qkv, void *out, const ko_tile *tiles, const int *gst, int ng, const int *pos, const int *br,
          int nh, int nkv, int stride, float scale, float softcap, int window, ko_err *e) {
    switch (hd) {
    case 64: return launch<T, 64>(st, qkv, out, tiles, gst, ng, pos, br, nh, nkv, stride, scale, softcap, window, e);
    case 128: return launch<T, 128>(st, qkv, out, tiles, gst, ng, pos, br, nh, nkv, stride, scale, softcap, window, e);
    default: return launch<T, 256>(st, qkv, out, tiles, gst, ng, pos, br, nh, nkv, stride, scale, softcap, window, e);
    }
}

} // namespace

bool ko_attn_wg_fits(int hd) { return hd == 64 || hd == 128 || hd == 256; }

int ko_attn_wg_heads(int nh, int nkv) { return (nh / nkv) % 2 == 0 ? 2 : 1; }

int ko_attn_wg_run(cudaStream_t st, int dt16, int hd, const void *qkv, void *out, const ko_tile *tiles, const int *gst, int ng,
                   const int *pos, const int *br, int nh, int nkv, int stride, float scale, float softcap, int window, ko_err *e) {
    if (!ko_attn_wg_fits(hd)) return ko_fail(e, "cuda: Hopper attention takes head_dim 64, 128 or 256, not %d", hd);
    if (ng <= 0) return 0;
    return dt16 ? run_t<__half>(st, hd, qkv, out, tiles, gst, ng, pos, br, nh, nkv, stride, scale, softcap, window, e)
                : run_t<bf16>(st, hd, qkv, out, tiles, gst, ng, pos, br, nh, nkv, stride, scale, softcap, window, e);
}
