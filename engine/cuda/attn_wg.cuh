/* attn_wg.cuh — tensor-core attention on Hopper's warp-group instructions (sm_90a), for 16-bit
 * types and head_dim 64, 128 or 256; elsewhere attn_fa_k (kernels.cuh, mma.sync) runs.
 *
 * Same contract as attn_fa_k: qkv is [tokens, (nh + 2 nkv) head_dim] (stride values per token), out
 * [tokens, nh, head_dim]; tiles and the tree mask of pack.h; gst: the batch's groups of at most
 * KO_ATTN_WG_TILES consecutive tiles of one document (ko_group_tiles), ng of them. */
#pragma once
#include <cuda_runtime.h>

extern "C" {
#include "common/ko.h"
#include "engine/cuda/pack.h"
}

#define KO_ATTN_WG_TILES 4 /* a warp group's 64 query rows: four tiles of 16 */

/* Whether the kernel takes the shape: 16-bit, head_dim 64, 128 or 256 (the card: ko_hgemm_usable). */
bool ko_attn_wg_fits(int hd);
/* Query heads of one GQA group per block (they share each K/V chunk): 2 when the group is even, else 1. */
int ko_attn_wg_heads(int nh, int nkv);
int ko_attn_wg_run(cudaStream_t st, int dt16, int hd, const void *qkv, void *out, const ko_tile *tiles, const int *gst, int ng,
                   const int *pos, const int *br, int nh, int nkv, int stride, float scale, float softcap, int window, ko_err *e);
