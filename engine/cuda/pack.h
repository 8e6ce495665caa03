/* pack.h — the CUDA backend's scheduler (host code, plain C, tested without a GPU by
 * tests/cuda/test_cuda_pack): documents -> varlen batches of at most Tb tokens, no padding.
 *
 * A document is one sequence [ctx | cont_1[:-1] | ... | cont_k[:-1]] under the tree mask: a choice's
 * tokens see the context and their own choice's earlier tokens, positions restart at n_ctx. What is
 * alike is computed once (share = false: nothing is): documents that start alike, up to where they
 * part, as a unit [P | doc_1 after P | ... | doc_m after P] that packs P, the first plen context
 * tokens all its members share, once; and a document's choices whose input tokens start alike, as a
 * trie (their common first tokens once). br[t] is the branch a token belongs to, as the range of
 * choices (ranked so that those sharing a prefix are neighbours) whose paths pass through it:
 * KO_BR_CTX (all of them) for context tokens. */
#pragma once
#include <stdbool.h>

#include "engine/engine.h"

/* Branch = choice ranks [lo, hi]; a key is on a query's path when their ranges meet (in the trie's
 * order a key before the query whose choices overlap the query's is its ancestor). */
#define KO_BR_MAX 0x7fff /* choices per document the encoding holds */
#define KO_BR_CTX KO_BR_MAX
/* One attention tile: up to KO_TILE_Q consecutive queries of one document (packed indices q0..q0+nq-1
 * of the batch). Its keys, in document order, are np tokens of a prefix shared with other documents
 * at [p0, p0 + np) (np = 0: none), then the document's own tokens [k0, q0 + nq). The tile's key v
 * (v = the key's position in the document's context, so key chunks fall where they would without the
 * sharing) is packed token ko_tile_key(t, v). Visible to query q: keys k <= q with
 * ko_br_meet(br[k], br[q]) (and, in sliding layers, inside the window by position). */
typedef struct ko_tile {
    int q0, nq, k0, p0, np;
} ko_tile;
#define KO_TILE_Q 16

#ifdef __CUDACC__
#define KO_HOST_DEVICE __host__ __device__
#else
#define KO_HOST_DEVICE
#endif
static inline KO_HOST_DEVICE int ko_tile_nkeys(const ko_tile *t) { return t->np + t->q0 + t->nq - t->k0; }
static inline KO_HOST_DEVICE int ko_tile_key(const ko_tile *t, int v) { return v < t->np ? t->p0 + v : t->k0 + v - t->np; }
static inline KO_HOST_DEVICE int ko_br(int lo, int hi) { return lo << 16 | hi; }
static inline KO_HOST_DEVICE bool ko_br_meet(int a, int b) { return (a >> 16) <= (b & 0xffff) && (b >> 16) <= (a & 0xffff); }

typedef struct ko_batch {
    int t0, nt;       /* tokens [t0, t0 + nt) of the global token arrays */
    int tile0, ntile;
    int row0, nrow;   /* rows: tokens whose logits are needed */
    int tg0, ntg;     /* targets: (row, next token) pairs */
} ko_batch;

typedef struct ko_packed {
    /* global arrays over all batches; the indices stored in them are relative to their batch */
    int *tok, *pos, *br;          /* per token */
    ko_tile *tiles;
    int *rows, *row_ts, *row_tn;  /* per row: its token, its first target and count */
    int *ttok, *trow;             /* per target: the token to score, its row */
    int *tdoc, *tchoice;          /* per target (host only): where its log-prob goes */
    ko_batch *b;
    int nb, ntok, ntile, nrow, ntg;
} ko_packed;

/* Tokens a document puts through the model unshared: n_ctx + sum(n_cont - 1). */
int ko_doc_len(const ko_doc *d);
/* Packs docs (each at most Tb tokens long and with at most KO_BR_MAX choices: the caller checks) into p
 * (whatever p held is forgotten, not freed); ko_packed_free releases it. */
void ko_pack(const ko_doc *docs, int n, int Tb, bool share, ko_packed *p);
void ko_packed_free(ko_packed *p);
/* Groups each batch's tiles into runs of at most qg consecutive tiles of one document (same k0, p0,
 * np: one attention block loads their keys once). Batch b's groups start at gs[bg0[b]] ..
 * gs[bg0[b + 1] - 2] (tile indices relative to the batch), and gs[bg0[b + 1] - 1] = its tile count.
 * bg0 has nb + 1 entries, gs room for ntile + nb; returns the entries of gs used. */
int ko_group_tiles(const ko_packed *p, int qg, int *bg0, int *gs);
/* An LM-head span: batches [b0, b0 + nb), their rows [row0, row0 + nrow) and targets [tg0, tg0 + ntg). */
typedef struct ko_span {
    int b0, nb, row0, nrow, tg0, ntg;
} ko_span;
/* LM-head spans: runs of consecutive batches with at most cap rows in all (a batch with more is a span
 * of its own), so the LM head runs once per span over all its rows in full-size products. Fills sp
 * (room for nb entries), rebases row_ts and trow from their batch to their span (relative to its row0
 * and tg0) and returns the span count. */
int ko_head_spans(ko_packed *p, int cap, ko_span *sp);
