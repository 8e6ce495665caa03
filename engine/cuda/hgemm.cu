/* hgemm.cu — the Hopper matrix product of hgemm.cuh.
 *
 * Per block (persistent, one per SM, 384 threads): warp 0 of warp group 0 is the producer, one thread
 * of it issuing the TMA loads of a 128 x 64 tile of X and a 256 x 64 tile of W per stage (128-byte
 * swizzle, what wgmma reads); warp groups 1 and 2 each own 64 rows of the 128 x 256 output tile and
 * multiply with wgmma m64n256k16 (4 per stage), their 128 fp32 accumulators per thread in registers.
 * Stages are handed over with mbarriers: full[s] (the producer's expected bytes arrived), empty[s]
 * (both consumer groups are done reading). Tiles go in groups of GROUP_M row tiles sweeping all
 * column tiles, so the X rows and W columns in flight at once stay in L2. By default the blocks run in
 * clusters of two on row tiles m0 and m0 + 128 of one column tile: each block's producer loads its own
 * X tile and one half of the W tile, the latter multicast into both blocks, so W crosses from L2 once
 * per two blocks (48 -> 32 KB per block and stage); empty[s] then waits for the consumers of both
 * blocks, since either producer writes into both. The sums, and so every bit, are the same either way.
 *
 * The epilogue goes through shared memory (sC, 64 x 64 boxes, 128-byte swizzled: the accumulator
 * layout stores into it without bank conflicts). Plain: each consumer group writes its 64 rows in two
 * rounds of 128 columns and one of its threads hands each round to a TMA store. Gated: the consumers
 * write the whole tile's gate|up values (rounded to T, as cuBLAS's output is) and go on to the next
 * tile at once; warps 1-3 of group 0 compute act(gate) * up from sC and store it, so the tensor cores
 * never wait for the activation (cfull / cempty hand sC over). Rope: the same hand-over; the three
 * warps apply q/k norm + RoPE per (row, head), one head per warp and U heads at a time, every load of
 * them issued before any store (a generic shared-memory pointer may alias the stores, so the compiler
 * would otherwise serialise each head's loads behind the last head's stores: 2.6 ms against 1.6). */
#include "engine/cuda/hgemm.cuh"

#include <cuda.h>
#include <stdint.h>

#include "engine/cuda/async.cuh"
#include "engine/cuda/numerics.cuh"

namespace {

constexpr int BM = 128, BN = 256, BK = 64, THREADS = 384;
constexpr int A_BYTES = BM * BK * 2, B_BYTES = BN * BK * 2, BOX_BYTES = 64 * 64 * 2;
/* The epilogues: the plain product (TMA stores), act(gate) * up, q/k norm + RoPE on a q|k|v product.
 * The last two hand the rounded tile to the epilogue warps through sC. */
enum { PLAIN, GLU, ROPE };
/* Per mode: stages of the load ring, and sC per consumer group (GLU, ROPE: all 256 columns of its 64 rows). */
template <int MODE> struct shape {
    static constexpr int STAGES = MODE == PLAIN ? 4 : 3, C_BYTES = MODE == PLAIN ? 2 * BOX_BYTES : 4 * BOX_BYTES;
    static constexpr size_t SMEM = (size_t)STAGES * (A_BYTES + B_BYTES) + 2 * C_BYTES + (2 * STAGES + 2) * 8 + 1024 /* alignment */;
};

#ifdef KO_SM90A
#define KO_HGEMM_BODY 1
#endif

#ifdef KO_HGEMM_BODY /* the device helpers exist in the sm_90a code only */
constexpr int EPI_THREADS = 96 /* warps 1-3 of warp group 0 */, GROUP_M = 16;
__device__ __forceinline__ void mb_init(uint64_t *b, int n) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(sm_addr(b)), "r"(n));
}
__device__ __forceinline__ void mb_expect(uint64_t *b, uint32_t bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(sm_addr(b)), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mb_arrive(uint64_t *b) {
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(sm_addr(b)) : "memory");
}
__device__ __forceinline__ void mb_wait(uint64_t *b, int parity) {
    uint32_t done = 0;
    while (!done)
        asm volatile("{\n .reg .pred p;\n mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n selp.u32 %0, 1, 0, p;\n}"
                     : "=r"(done) : "r"(sm_addr(b)), "r"(parity) : "memory");
}
__device__ __forceinline__ void tma_load(void *dst, const CUtensorMap *tm, uint64_t *bar, int x, int y) {
    asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4}], [%2];"
                 ::"r"(sm_addr(dst)), "l"((uint64_t)tm), "r"(sm_addr(bar)), "r"(x), "r"(y) : "memory");
}
/* The same load written to dst in every block of the cluster in mask, each block's own bar told. */
__device__ __forceinline__ void tma_load_all(void *dst, const CUtensorMap *tm, uint64_t *bar, int x, int y, uint16_t mask) {
    asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes.multicast::cluster"
                 " [%0], [%1, {%3, %4}], [%2], %5;"
                 ::"r"(sm_addr(dst)), "l"((uint64_t)tm), "r"(sm_addr(bar)), "r"(x), "r"(y), "h"(mask) : "memory");
}
/* Arrive on the mbarrier at b's offset in block `rank` of the cluster (this block's own included). */
__device__ __forceinline__ void mb_arrive_at(uint64_t *b, int rank) {
    uint32_t a;
    asm volatile("mapa.shared::cluster.u32 %0, %1, %2;" : "=r"(a) : "r"(sm_addr(b)), "r"(rank));
    asm volatile("mbarrier.arrive.shared::cluster.b64 _, [%0];" ::"r"(a) : "memory");
}
__device__ __forceinline__ int cluster_rank(void) {
    uint32_t r;
    asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(r));
    return (int)r;
}
/* Every thread of every block of the cluster (a block barrier too). */
__device__ __forceinline__ void cluster_sync(void) {
    asm volatile("barrier.cluster.arrive.release;\n barrier.cluster.wait.acquire;" ::: "memory");
}
/* A 64 x 64 box of shared memory (128-byte swizzled) to the tensor at column x, row y (clipped at its edges). */
__device__ __forceinline__ void tma_store(const CUtensorMap *tm, const void *src, int x, int y) {
    asm volatile("cp.async.bulk.tensor.2d.global.shared::cta.bulk_group [%0, {%2, %3}], [%1];"
                 ::"l"((uint64_t)tm), "r"(sm_addr(src)), "r"(x), "r"(y) : "memory");
}
/* Tile t of the grouped order (tiles of CL x BM rows: one per cluster, in groups of GROUP_M / CL) -> this
 * block's first row (its BM of the CL x BM) and the tile's first column. */
template <int CL> __device__ __forceinline__ void tile_at(int t, int tm, int tn, int rank, int *m0, int *n0) {
    constexpr int G = GROUP_M / CL;
    const int per = G * tn, g = t / per, first = g * G;
    const int gm = tm - first < G ? tm - first : G, r = t % per;
    *m0 = (first + r % gm) * CL * BM + rank * BM;
    *n0 = (r / gm) * BN;
}

/* Byte offset of (row r, column c) in a 64 x 64 box of 16-bit values, 128-byte swizzled. */
__device__ __forceinline__ int swz(int r, int c) { return sw128(r, c >> 3) + (c & 7) * 2; }

/* The GLU epilogue of one tile (one of the 96 epilogue threads, a): act(gate) * up of its 128 rows.
 * Item: row r, output columns 8k..8k+7 (interleaved weight: gate in accumulator columns 16k..16k+7,
 * up in 16k+8..16k+15, i.e. chunks 2(k%4) and +1 of box k/4). */
template <class T, int C_BYTES>
__device__ __forceinline__ void glu_tile(const unsigned char *sC, T *Y, int M, int N, int m0, int n0, int a, int act) {
    const int NO = N / 2;
    for (int i = a; i < BM * 16; i += EPI_THREADS) {
        const int r = i / 16, k = i % 16, rl = r % 64, row = m0 + r, col = n0 / 2 + 8 * k;
        const unsigned char *box = sC + (r / 64) * C_BYTES + (k / 4) * BOX_BYTES + rl * 128;
        const uint4 gv = *(const uint4 *)(box + (((2 * (k % 4)) ^ (rl & 7)) << 4));
        const uint4 uv = *(const uint4 *)(box + (((2 * (k % 4) + 1) ^ (rl & 7)) << 4));
        const T *g = (const T *)&gv, *u = (const T *)&uv;
        unsigned o[4];
#pragma unroll
        for (int j = 0; j < 4; j++) o[j] = pack2<T>(glu_f<T>(g[2 * j], u[2 * j], act), glu_f<T>(g[2 * j + 1], u[2 * j + 1], act));
        if (row < M && col < NO) *(uint4 *)(Y + (size_t)row * NO + col) = make_uint4(o[0], o[1], o[2], o[3]);
    }
}

/* The ROPE epilogue of one tile (warp w of the 3 epilogue warps): each (row, head) of the tile is an
 * item, lane l holding the head's values l, l + 32, ... as qk_rope_k's lanes do, so the norm's sums and
 * every rounding are qk_rope_k's. q and k heads: RMSNorm (when the model has q/k norm) and RoPE with
 * the row's cos | sin from rp.cs; v heads: copied. A warp takes U items at a time, so that their
 * loads and reductions overlap (one warp alone per item would wait on each in turn). */
template <class T, int C_BYTES, int HD>
__device__ __forceinline__ void rope_tile(const unsigned char *sC, T *Y, int M, int N, int m0, int n0, int w, int lane,
                                          const ko_hgemm_rope rp) {
    constexpr int U = 4, NW = EPI_THREADS / 32, hd = HD, nj = HD / 32, per = BN / HD, items = BM * per;
    const bool v_tile = n0 >= rp.q_cols + rp.k_cols; /* sections are whole tiles (ko_hgemm_rope_fits) */
    const T *nw = v_tile ? NULL : (const T *)(n0 < rp.q_cols ? rp.qn : rp.kn), *cs = (const T *)rp.cs;
    T wt[nj]; /* the lane's norm weights: the same in every head of the tile */
#pragma unroll
    for (int j = 0; j < nj; j++) wt[j] = nw ? nw[lane + 32 * j] : fromf<T>(0.f);
    for (int i0 = w * U; i0 < items; i0 += NW * U) {
        /* every load of the U items first (the stores below could alias them for the compiler) */
        float v[U][8], co[U][4], si[U][4];
        int row[U], col[U];
        bool live[U];
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int it = i0 + u, r = it / per, c0 = (it % per) * hd;
            row[u] = m0 + r, col[u] = n0 + c0, live[u] = it < items && row[u] < M; /* the same in all lanes */
            const unsigned char *grp = sC + (r / 64) * C_BYTES;
            const T *c = cs + (size_t)(live[u] ? row[u] : m0) * hd;
#pragma unroll
            for (int j = 0; j < nj; j++) {
                const int k = c0 + lane + 32 * j;
                v[u][j] = live[u] ? tof(*(const T *)(grp + (k / 64) * BOX_BYTES + swz(r % 64, k % 64))) : 0.f;
                if (!v_tile && j < nj / 2) co[u][j] = tof(__ldg(c + lane + 32 * j)), si[u][j] = tof(__ldg(c + hd / 2 + lane + 32 * j));
            }
        }
        if (!live[0]) break; /* items run row by row */
        if (v_tile) {
#pragma unroll
            for (int u = 0; u < U; u++)
#pragma unroll
                for (int j = 0; j < nj; j++)
                    if (live[u]) Y[(size_t)row[u] * N + col[u] + lane + 32 * j] = fromf<T>(v[u][j]); /* exact: v came from T */
            continue;
        }
        if (nw) {
#pragma unroll
            for (int u = 0; u < U; u++) {
                float ss = 0.f;
#pragma unroll
                for (int j = 0; j < nj; j++) ss += v[u][j] * v[u][j];
                const float rr = head_rms(ss, hd, rp.eps);
#pragma unroll
                for (int j = 0; j < nj; j++) v[u][j] = norm_val<T>(v[u][j], rr, wt[j], rp.plus1);
            }
        }
#pragma unroll
        for (int u = 0; u < U; u++) {
            if (!live[u]) continue;
            T *out = Y + (size_t)row[u] * N + col[u];
#pragma unroll
            for (int j = 0; j < nj / 2; j++)
                rope_pair<T>(v[u][j], v[u][j + nj / 2], co[u][j], si[u][j], &out[lane + 32 * j], &out[lane + 32 * j + hd / 2]);
        }
    }
}
#endif

template <class T, int MODE, int CL>
__global__ void __launch_bounds__(THREADS, 1)
hgemm_k(const __grid_constant__ CUtensorMap tmx, const __grid_constant__ CUtensorMap tmw, const __grid_constant__ CUtensorMap tmy,
        T *Y, int M, int N, int K, int act, const ko_hgemm_rope rp) {
#ifdef KO_HGEMM_BODY
    constexpr int STAGES = shape<MODE>::STAGES, C_BYTES = shape<MODE>::C_BYTES;
    extern __shared__ unsigned char smem_raw[];
    unsigned char *sm = (unsigned char *)(((uintptr_t)smem_raw + 1023) & ~(uintptr_t)1023);
    unsigned char *sA = sm, *sB = sm + STAGES * A_BYTES, *sC = sB + STAGES * B_BYTES;
    uint64_t *full = (uint64_t *)(sC + 2 * C_BYTES), *empty = full + STAGES, *cfull = empty + STAGES, *cempty = cfull + 1;
    /* CL = 2: the two blocks of a cluster take row tiles m0 and m0 + BM of one column tile; each loads
     * its own X rows and half of the W tile, written to both blocks (tma_load_all), so W is read from L2
     * once per two blocks. A stage is refilled when the consumers of both blocks are done with it. */
    const int rank = CL > 1 ? cluster_rank() : 0, cl0 = blockIdx.x / CL, ncl = gridDim.x / CL;
    const int tm = (M + CL * BM - 1) / (CL * BM), tn = (N + BN - 1) / BN, ntiles = tm * tn, nk = (K + BK - 1) / BK;
    const int wg = threadIdx.x / 128, t = threadIdx.x % 128;
    if (threadIdx.x == 0) {
        for (int s = 0; s < STAGES; s++) mb_init(&full[s], 1), mb_init(&empty[s], 2 * CL);
        mb_init(cfull, 256), mb_init(cempty, EPI_THREADS / 32);
        asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
    }
    if (CL > 1) cluster_sync(); /* the other block's barriers exist before anything reaches them */
    else __syncthreads();
    if (wg == 0 && t == 0) { /* the producer */
        int s = 0, ph = 0;
        for (int tile = cl0; tile < ntiles; tile += ncl) {
            int m0, n0;
            tile_at<CL>(tile, tm, tn, rank, &m0, &n0);
            for (int kb = 0; kb < nk; kb++) {
                mb_wait(&empty[s], ph);
                mb_expect(&full[s], A_BYTES + B_BYTES);
                tma_load(sA + s * A_BYTES, &tmx, &full[s], kb * BK, m0);
                if (CL == 1) tma_load(sB + s * B_BYTES, &tmw, &full[s], kb * BK, n0);
                else tma_load_all(sB + s * B_BYTES + rank * (B_BYTES / CL), &tmw, &full[s], kb * BK, n0 + rank * (BN / CL), (1 << CL) - 1);
                if (++s == STAGES) s = 0, ph ^= 1;
            }
        }
    } else if (wg == 0) { /* the epilogue warps (GLU, ROPE) */
        int it = 0;
        for (int tile = cl0; tile < ntiles && MODE != PLAIN && t >= 32; tile += ncl, it++) {
            int m0, n0;
            tile_at<CL>(tile, tm, tn, rank, &m0, &n0);
            mb_wait(cfull, it & 1);
            if (MODE == GLU) glu_tile<T, C_BYTES>(sC, Y, M, N, m0, n0, t - 32, act);
            else if (rp.hd == 256) rope_tile<T, C_BYTES, 256>(sC, Y, M, N, m0, n0, t / 32 - 1, t % 32, rp);
            else if (rp.hd == 128) rope_tile<T, C_BYTES, 128>(sC, Y, M, N, m0, n0, t / 32 - 1, t % 32, rp);
            else rope_tile<T, C_BYTES, 64>(sC, Y, M, N, m0, n0, t / 32 - 1, t % 32, rp);
            __syncwarp();
            if (t % 32 == 0) mb_arrive(cempty);
        }
    } else { /* the consumers */
        const int c = wg - 1; /* this group's 64 rows of the tile */
        /* this group is done reading stage s: in every block of the cluster (their producers fill it too) */
        auto release = [&](int s) {
            if (t != 0) return;
            if (CL == 1) mb_arrive(&empty[s]);
            else
                for (int r = 0; r < CL; r++) mb_arrive_at(&empty[s], r);
        };
        for (int s = 0; s < STAGES; s++) release(s); /* every stage starts free */
        int s = 0, ph = 0, it = 0;
        float d[128];
        unsigned char *cs = sC + c * C_BYTES;
        const int rl = (t / 32) * 16 + (t % 32) / 4, cq = 2 * (t % 4);
        /* accumulator columns j8..j8+7 of n8 block j -> box j / 8 of sC, rows rl and rl + 8 */
        auto put = [&](int j, const float *v) {
            unsigned char *box = cs + (j / 8) * BOX_BYTES;
            const int col = 8 * (j % 8) + cq;
            *(unsigned *)(box + swz(rl, col)) = pack2<T>(v[0], v[1]);
            *(unsigned *)(box + swz(rl + 8, col)) = pack2<T>(v[2], v[3]);
        };
        for (int tile = cl0; tile < ntiles; tile += ncl, it++) {
            int m0, n0;
            tile_at<CL>(tile, tm, tn, rank, &m0, &n0);
#pragma unroll
            for (int i = 0; i < 128; i++) d[i] = 0.f;
            int prev = -1;
            for (int kb = 0; kb < nk; kb++) {
                mb_wait(&full[s], ph);
                wg_fence();
                const uint64_t da = sdesc(sA + s * A_BYTES + c * 64 * BK * 2), db = sdesc(sB + s * B_BYTES);
#pragma unroll
                for (int k = 0; k < BK / 16; k++) wgmma_ss256<T>(d, da + 2 * k, db + 2 * k); /* +32 bytes: the next 16 of K */
                wg_commit();
                wg_wait<1>();
                if (prev >= 0) release(prev); /* the group before this one has finished reading */
                prev = s;
                if (++s == STAGES) s = 0, ph ^= 1;
            }
            wg_wait<0>();
            wg_keep<128>(d);
            release(prev);
            /* Accumulator layout of m64nNk16: n8 block j of warp w holds rows 16w + lane/4 (d[4j], d[4j+1])
             * and +8 (d[4j+2], d[4j+3]), columns 8j + 2 (lane % 4) + {0, 1}. */
            if (MODE != PLAIN) {
                if (it > 0) mb_wait(cempty, (it - 1) & 1); /* the epilogue warps are done with the last tile */
#pragma unroll
                for (int j = 0; j < 32; j++) put(j, d + 4 * j);
                mb_arrive(cfull);
            } else {
#pragma unroll
                for (int rd = 0; rd < 2; rd++) { /* unrolled: d is indexed by constants only, so it stays in registers */
                    if (t == 0) asm volatile("cp.async.bulk.wait_group.read 0;" ::: "memory"); /* sC's last store has read it */
                    asm volatile("bar.sync %0, 128;" ::"r"(1 + c) : "memory");
#pragma unroll
                    for (int j = 0; j < 16; j++) put(j, d + 4 * (16 * rd + j));
                    asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
                    asm volatile("bar.sync %0, 128;" ::"r"(1 + c) : "memory");
                    if (t == 0) {
                        tma_store(&tmy, cs, n0 + 128 * rd, m0 + c * 64);
                        tma_store(&tmy, cs + BOX_BYTES, n0 + 128 * rd + 64, m0 + c * 64);
                        asm volatile("cp.async.bulk.commit_group;" ::: "memory");
                    }
                }
            }
        }
        if (MODE == PLAIN && t == 0) asm volatile("cp.async.bulk.wait_group 0;" ::: "memory");
    }
    if (CL > 1) cluster_sync(); /* no block leaves while the other may still write to it or arrive on its barriers */
#else
    (void)tmx, (void)tmw, (void)tmy, (void)Y, (void)M, (void)N, (void)K, (void)act, (void)rp; /* no sm_90a code: ko_hgemm_usable said no */
#endif
}

/* 1 where the sm_90a code (the kernel's body) is what runs on this card. */
__global__ void has_body_k(int *out) {
#ifdef KO_HGEMM_BODY
    *out = 1;
#else
    *out = 0;
#endif
}

__global__ void interleave_k(const unsigned char *src, unsigned char *dst, int N, size_t row_bytes) {
    const int r = blockIdx.x, half = N / 2, b = r / 16, w = r % 16;
    const int from = w < 8 ? 8 * b + w : half + 8 * b + w - 8;
    const uint4 *s = (const uint4 *)(src + (size_t)from * row_bytes);
    uint4 *o = (uint4 *)(dst + (size_t)r * row_bytes);
    for (size_t i = threadIdx.x; i < row_bytes / 16; i += blockDim.x) o[i] = s[i];
}

typedef CUresult (*encode_fn)(CUtensorMap *, CUtensorMapDataType, cuuint32_t, void *, const cuuint64_t *, const cuuint64_t *,
                              const cuuint32_t *, const cuuint32_t *, CUtensorMapInterleave, CUtensorMapSwizzle,
                              CUtensorMapL2promotion, CUtensorMapFloatOOBfill);

encode_fn encoder(void) {
    static encode_fn fn;
    if (!fn) {
        void *p = NULL;
        cudaDriverEntryPointQueryResult q;
        if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault, &q) == cudaSuccess &&
            q == cudaDriverEntryPointSuccess)
            fn = (encode_fn)p;
    }
    return fn;
}

/* A row-major [rows, K] 16-bit matrix in boxes of box_rows x 64, 128-byte swizzled. */
int tensor_map(CUtensorMap *tm, int dt16, const void *p, int rows, int K, int box_rows, ko_err *e) {
    encode_fn enc = encoder();
    if (!enc) return ko_fail(e, "cuda: the driver has no cuTensorMapEncodeTiled");
    cuuint64_t dim[2] = {(cuuint64_t)K, (cuuint64_t)rows}, stride[1] = {(cuuint64_t)K * 2};
    cuuint32_t box[2] = {BK, (cuuint32_t)box_rows}, es[2] = {1, 1};
    CUresult r = enc(tm, dt16 ? CU_TENSOR_MAP_DATA_TYPE_FLOAT16 : CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 2, (void *)p, dim, stride, box, es,
                     CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                     CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    return r == CUDA_SUCCESS ? 0 : ko_fail(e, "cuda: cuTensorMapEncodeTiled failed (%d) for a %d x %d matrix", (int)r, rows, K);
}

int cluster_size = 2; /* ko_hgemm_set_cluster */

template <class T, int MODE, int CL>
int launch_cl(cudaStream_t st, const void *W, const void *X, void *Y, int M, int N, int K, int act, const ko_hgemm_rope &rp, int nsm,
              ko_err *e) {
    static int resident; /* blocks the card holds at once: clusters that fit x CL */
    cudaLaunchConfig_t cfg = {};
    cudaLaunchAttribute at[1];
    at[0].id = cudaLaunchAttributeClusterDimension;
    at[0].val.clusterDim.x = CL, at[0].val.clusterDim.y = 1, at[0].val.clusterDim.z = 1;
    cfg.blockDim = dim3(THREADS), cfg.dynamicSmemBytes = shape<MODE>::SMEM, cfg.stream = st, cfg.attrs = at, cfg.numAttrs = 1;
    if (!resident) {
        cudaError_t r = cudaFuncSetAttribute(hgemm_k<T, MODE, CL>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)shape<MODE>::SMEM);
        if (r != cudaSuccess) return ko_fail(e, "cuda: hgemm shared memory: %s", cudaGetErrorString(r));
        int ncl = nsm / CL;
        cfg.gridDim = dim3(ncl * CL);
        if (CL > 1 && (cudaOccupancyMaxActiveClusters(&ncl, hgemm_k<T, MODE, CL>, &cfg) != cudaSuccess || ncl < 1))
            return ko_fail(e, "cuda: hgemm: no cluster of %d blocks fits on this card", CL);
        resident = (ncl < nsm / CL ? ncl : nsm / CL) * CL;
    }
    CUtensorMap tx, tw, ty = {}; /* ty: the plain product's TMA stores (the others store from the epilogue warps) */
    const int dt16 = std::is_same<T, bf16>::value ? 0 : 1;
    if (tensor_map(&tx, dt16, X, M, K, BM, e) || tensor_map(&tw, dt16, W, N, K, BN / CL, e) ||
        (MODE == PLAIN && tensor_map(&ty, dt16, Y, M, N, 64, e)))
        return -1;
    const int tiles = ((M + CL * BM - 1) / (CL * BM)) * ((N + BN - 1) / BN) * CL;
    cfg.gridDim = dim3(tiles < resident ? tiles : resident);
    cudaError_t r = cudaLaunchKernelEx(&cfg, hgemm_k<T, MODE, CL>, tx, tw, ty, (T *)Y, M, N, K, act, rp);
    if (r == cudaSuccess) r = cudaGetLastError();
    return r == cudaSuccess ? 0 : ko_fail(e, "cuda: hgemm launch: %s", cudaGetErrorString(r));
}

template <class T, int MODE>
int launch(cudaStream_t st, const void *W, const void *X, void *Y, int M, int N, int K, int act, const ko_hgemm_rope &rp, int nsm, ko_err *e) {
    return cluster_size == 2 ? launch_cl<T, MODE, 2>(st, W, X, Y, M, N, K, act, rp, nsm, e)
                             : launch_cl<T, MODE, 1>(st, W, X, Y, M, N, K, act, rp, nsm, e);
}

} // namespace

int ko_hgemm_set_cluster(int n) {
    const int was = cluster_size;
    cluster_size = n == 1 ? 1 : 2;
    return was;
}

bool ko_hgemm_usable(int device) {
    cudaDeviceProp p;
    if (cudaSetDevice(device) != cudaSuccess || cudaGetDeviceProperties(&p, device) != cudaSuccess || p.major != 9 || p.minor != 0 ||
        !encoder())
        return false;
    int *d = NULL, h = 0;
    if (cudaMalloc(&d, sizeof h) != cudaSuccess) return cudaGetLastError(), false;
    has_body_k<<<1, 1>>>(d);
    bool ok = cudaMemcpy(&h, d, sizeof h, cudaMemcpyDeviceToHost) == cudaSuccess && h == 1;
    cudaFree(d);
    cudaGetLastError();
    return ok;
}

int ko_hgemm_run(cudaStream_t st, int dt16, const void *W, const void *X, void *Y, int M, int N, int K, int glu, int nsm, ko_err *e) {
    if (K % 8 || N % 16 || M <= 0) return ko_fail(e, "cuda: hgemm needs K %% 8 == 0 and N %% 16 == 0 (M %d, N %d, K %d)", M, N, K);
    const ko_hgemm_rope none = {};
    if (glu >= 0)
        return dt16 ? launch<__half, GLU>(st, W, X, Y, M, N, K, glu, none, nsm, e) : launch<bf16, GLU>(st, W, X, Y, M, N, K, glu, none, nsm, e);
    return dt16 ? launch<__half, PLAIN>(st, W, X, Y, M, N, K, -1, none, nsm, e) : launch<bf16, PLAIN>(st, W, X, Y, M, N, K, -1, none, nsm, e);
}

bool ko_hgemm_rope_fits(int N, int K, const ko_hgemm_rope *rp) {
    return K % 8 == 0 && N % BN == 0 && (rp->hd == 64 || rp->hd == 128 || rp->hd == 256) && rp->q_cols % BN == 0 &&
           rp->k_cols % BN == 0 && rp->q_cols + rp->k_cols < N;
}

int ko_hgemm_qkv(cudaStream_t st, int dt16, const void *W, const void *X, void *Y, int M, int N, int K, const ko_hgemm_rope *rp, int nsm,
                 ko_err *e) {
    if (!ko_hgemm_rope_fits(N, K, rp) || M <= 0)
        return ko_fail(e, "cuda: hgemm q/k/v shape not supported (M %d, N %d, K %d, head_dim %d)", M, N, K, rp->hd);
    return dt16 ? launch<__half, ROPE>(st, W, X, Y, M, N, K, -1, *rp, nsm, e) : launch<bf16, ROPE>(st, W, X, Y, M, N, K, -1, *rp, nsm, e);
}

int ko_hgemm_interleave(cudaStream_t st, const void *src, void *dst, int N, int K, int esz, ko_err *e) {
    if (N % 16 || ((size_t)K * esz) % 16) return ko_fail(e, "cuda: gate/up interleave needs N %% 16 == 0 (N %d)", N);
    interleave_k<<<N, 256, 0, st>>>((const unsigned char *)src, (unsigned char *)dst, N, (size_t)K * esz);
    cudaError_t r = cudaGetLastError();
    return r == cudaSuccess ? 0 : ko_fail(e, "cuda: interleave: %s", cudaGetErrorString(r));
}
