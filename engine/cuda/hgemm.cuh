/* hgemm.cuh — the CUDA backend's own Hopper matrix product (sm_90a: TMA loads, wgmma tensor cores,
 * a producer warp group feeding two consumer warp groups through a 4-stage shared-memory ring,
 * persistent blocks over 128 x 256 output tiles in L2-friendly groups, in clusters of two blocks that
 * share each W tile through TMA multicast).
 *
 * Y[M, N] = X[M, K] · W[N, K]^T, row-major, 16-bit in and out, fp32 accumulation. Its reason to exist
 * is the gated feed-forward: with glu >= 0 the weight is the gate|up pair interleaved in groups of 8
 * rows (ko_hgemm_interleave) and the epilogue writes act(gate) * up, rounded as act_mul_k rounds,
 * straight from the accumulators: the [tokens x 2I] gate|up product never reaches memory. Likewise
 * ko_hgemm_qkv leaves q and k normed and rotated (below), so qk_rope_k's pass over them goes too.
 *
 * Compiled for every architecture; only sm_90a machine code has a body (ko_hgemm_usable says whether
 * the running card executes it). Requirements: K % 8 == 0 and N % 16 == 0 (TMA strides, epilogue
 * pairs); rows and columns past M, N and a K tail are handled (TMA fills zeros, stores are guarded). */
#pragma once
#include <cuda_runtime.h>

extern "C" {
#include "common/ko.h"
}

/* Whether the card runs the kernel: compute capability 9.0 and the sm_90a code present. */
bool ko_hgemm_usable(int device);
/* Blocks per cluster, 1 or 2 (the default; 2: two blocks share each W tile, hgemm.cu): for tests and
 * measurements. Returns the previous setting. */
int ko_hgemm_set_cluster(int n);
/* dt16: 0 bf16, 1 fp16. glu: -1 plain product, else the act_f activation (0 silu, 1 gelu tanh, 2 gelu)
 * and Y is [M, N / 2]. nsm: the card's SM count (the persistent grid). */
int ko_hgemm_run(cudaStream_t st, int dt16, const void *W, const void *X, void *Y, int M, int N, int K, int glu, int nsm, ko_err *e);
/* The q/k/v product's epilogue: Y = X W^T is [q heads | k heads | v heads] per row (q_cols, k_cols
 * columns, then v), and q, k are written as qk_rope_k would leave them: RMSNorm over each head (with
 * qn / kn, when not NULL: plus1 as norm_val) and RoPE with cs, [M, hd] per row: cos | sin at the row's
 * position, rounded to the 16-bit type (rope_table_k). Bit-identical to the plain product followed by
 * qk_rope_k. */
struct ko_hgemm_rope {
    const void *cs, *qn, *kn;
    float eps;
    int plus1, q_cols, k_cols, hd;
};
/* Whether ko_hgemm_qkv takes the shape: head_dim 64, 128 or 256; q, k, v sections whole 256-column tiles. */
bool ko_hgemm_rope_fits(int N, int K, const ko_hgemm_rope *rp);
int ko_hgemm_qkv(cudaStream_t st, int dt16, const void *W, const void *X, void *Y, int M, int N, int K, const ko_hgemm_rope *rp, int nsm,
                 ko_err *e);
/* dst[N, K] = src's [gate (N/2 rows); up (N/2 rows)] interleaved in groups of 8 rows: g0..g7 u0..u7 g8.. */
int ko_hgemm_interleave(cudaStream_t st, const void *src, void *dst, int N, int K, int esz, ko_err *e);
