/* cpu.c — the CPU reference backend: one plain fp32 decoder for every architecture ko_config
 * describes, written to be obviously equal to Hugging Face transformers' eager forward pass.
 *
 * Weights: converted to f32 once at open (f32 tensors are used in place when aligned), so a bf16
 * model costs twice its size in RAM: this backend is for small models and for checking the CUDA
 * one, not for 12B checkpoints.
 *
 * A batch is several documents packed into one token array, no padding. Per document the tokens are
 * [ctx | cont_1[:-1] | ... | cont_k[:-1]] (the last token of a choice is only ever a target): context
 * token p sits at position p and sees context tokens 0..p; token j of choice i sits at position
 * n_ctx + j and sees the whole context and tokens 0..j of its own choice (the tree mask). Sliding
 * layers also drop keys with q_pos - k_pos >= window (transformers' sliding_window_overlay keeps
 * kv_idx > q_idx - window). Logits are made only for the rows that predict a target — the last
 * context token (the first token of every choice) and each choice token — a chunk of rows at a time,
 * and reduced at once to log-softmax at the target and an argmax check.
 *
 * Matrix products (the projections, attention's Q.K^T and P.V per document and head, the LM head)
 * go to OpenBLAS, called from this thread only (it has its own threads); the masked softmax and the
 * LM-head reductions run on our threads (ko_parallel_for). Both use opts->n_threads.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>

#include "engine/engine.h"

/* One layer's weights as f32. Norm weights already hold what multiplies x_hat (1 + w for Gemma). */
typedef struct cpu_layer {
    float *attn_norm, *post_attn_norm, *ffn_norm, *post_ffn_norm, *q_norm, *k_norm;
    float *wq, *wk, *wv, *wo, *bq, *bk, *bv;
    float *w_gate, *w_up, *w_down;
    int rope;        /* 0 = global table, 1 = local (sliding layers) */
    int window;      /* 0 = full attention */
} cpu_layer;

/* Activations of one batch, grown as needed. */
typedef struct cpu_scratch {
    int cap_tok, cap_rows, cap_pos;
    float *x, *h, *q, *k, *v, *o, *g, *u;
    float *cos_sin[2];           /* [cap_pos][head_dim/2] cos then sin, per rope table */
    float *rows;                 /* [cap_rows][hidden] final-normed hidden states of output rows */
    float *logits;               /* [chunk][vocab] */
    float *att;                  /* [att_rows][longest document] attention scores */
    int att_rows, cap_att;
} cpu_scratch;

/* A packed batch. Per token: id, position, where its document's context starts, the context length,
 * where its choice starts (-1 for context tokens). Output rows: the token they are computed at and
 * a range of targets (doc, choice, token id). */
typedef struct cpu_batch {
    int n_tok, cap_tok;
    int32_t *tok;
    int *pos, *ctx0, *nctx, *br0;
    int n_rows, cap_rows;
    int *row_tok, *row_t0, *row_tn;
    int n_tgt, cap_tgt;
    int32_t *tgt;
    int *tgt_doc, *tgt_choice;
    float *tgt_lp;               /* out: log-softmax at the target */
    bool *tgt_top;               /* out: the target is the argmax */
    int n_docs, cap_docs;
    int *doc0, *doclen;          /* each document's first token and token count */
} cpu_batch;

typedef struct cpu_state {
    const ko_model *m;
    ko_config c;
    int n_threads, batch_tokens;
    ko_dtype sd;                 /* lm-eval's softmax_dtype (engine.h): what log-probs and sums are rounded to */
    void (*progress)(void *ctx, int done, int total);
    void *progress_ctx;
    float *embed, *lm_head, *final_norm;
    bool lm_head_is_embed;
    cpu_layer *L;
    float *inv_freq[2];          /* [head_dim/2] global, local */
    float embed_scale;           /* 0 = none */
    void **owned;                /* f32 buffers we allocated */
    int n_owned, cap_owned;
    cpu_scratch s;
    cpu_batch b;
    ko_engine_stats st;
} cpu_state;

/* ---- weights ---------------------------------------------------------------------------------- */

static float *own(cpu_state *S, size_t n_floats) {
    if (S->n_owned == S->cap_owned) {
        S->cap_owned = S->cap_owned ? 2 * S->cap_owned : 64;
        S->owned = ko_xrealloc(S->owned, (size_t)S->cap_owned * sizeof *S->owned);
    }
    float *p = ko_xmalloc(n_floats * sizeof(float));
    S->owned[S->n_owned++] = p;
    return p;
}

/* The tensor as f32: in place when it already is aligned f32, else a converted copy. NULL when
 * absent. */
static float *weight(cpu_state *S, const ko_tensor *t) {
    if (!t->data)
        return NULL;
    if (t->dtype == KO_F32 && (uintptr_t)t->data % sizeof(float) == 0)
        return (float *)t->data;
    int64_t n = ko_tensor_numel(t);
    float *p = own(S, (size_t)n);
    ko_tensor_to_f32(t, 0, n, p);
    return p;
}

/* A norm weight as the factor that multiplies x_hat: w, or 1 + w (Gemma: computed in f32, as HF's
 * `x * (1.0 + self.weight.float())`). */
static float *norm_weight(cpu_state *S, const ko_tensor *t) {
    if (!t->data)
        return NULL;
    int64_t n = ko_tensor_numel(t);
    float *p = own(S, (size_t)n);
    ko_tensor_to_f32(t, 0, n, p);
    if (S->c.norm_plus_one)
        for (int64_t i = 0; i < n; i++)
            p[i] = 1.0f + p[i];
    return p;
}

/* transformers' inv_freq for one rope config (modeling_rope_utils.py), in f32 as torch computes it:
 * default 1 / base^(2i/d); linear divides by factor; llama3 divides the low frequencies by factor and
 * blends the middle band. */
static void rope_inv_freq(const ko_rope *r, int head_dim, float *out) {
    int half = head_dim / 2;
    for (int i = 0; i < half; i++) {
        float expo = (float)(2 * i) / (float)head_dim;
        out[i] = 1.0f / powf((float)r->theta, expo);
    }
    if (r->kind == KO_ROPE_LINEAR) {
        for (int i = 0; i < half; i++)
            out[i] = out[i] / (float)r->factor;
    } else if (r->kind == KO_ROPE_LLAMA3) {
        double old_ctx = r->original_max_pos, lo = r->low_freq_factor, hi = r->high_freq_factor;
        double lo_wavelen = old_ctx / lo, hi_wavelen = old_ctx / hi;
        for (int i = 0; i < half; i++) {
            float f = out[i];
            float wavelen = (float)(2.0 * M_PI) / f;
            float scaled = wavelen > lo_wavelen ? f / (float)r->factor : f;
            if (!(wavelen < hi_wavelen) && !(wavelen > lo_wavelen)) {
                float smooth = ((float)old_ctx / wavelen - (float)lo) / (float)(hi - lo);
                scaled = (1.0f - smooth) * scaled / (float)r->factor + smooth * scaled;
            }
            out[i] = scaled;
        }
    }
}

/* ---- building blocks (row-major, one row per token) ------------------------------------------- */

/* y[n, out] = x[n, in] W^T (+ bias); W is HF's [out, in]. */
static void linear(const float *x, int n, int in, const float *w, const float *bias, int out,
                   float *y) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, x, in, w, in, 0.0f, y,
                out);
    if (bias)
        for (int t = 0; t < n; t++)
            for (int j = 0; j < out; j++)
                y[(size_t)t * out + j] += bias[j];
}

/* HF RMSNorm in f32: x * rsqrt(mean(x^2) + eps) * w, over rows of length d. */
static void rmsnorm(const float *x, float *y, int n, int d, const float *w, double eps) {
    for (int t = 0; t < n; t++) {
        const float *xr = x + (size_t)t * d;
        float *yr = y + (size_t)t * d;
        double ss = 0;
        for (int i = 0; i < d; i++)
            ss += (double)xr[i] * xr[i];
        float r = (float)(1.0 / sqrt(ss / d + eps));
        for (int i = 0; i < d; i++)
            yr[i] = (xr[i] * r) * w[i];
    }
}

static float act(ko_act a, float x) {
    switch (a) {
    case KO_ACT_GELU_TANH:
        /* 0.5 x (1 + tanh(u)) written as x * sigmoid(2u): the same function, one expf instead of
         * tanhf (a tenth of the run time on Gemma 3 270M otherwise) */
        return x / (1.0f + expf(-2.0f * 0.7978845608028654f * (x + 0.044715f * x * x * x)));
    case KO_ACT_GELU:
        return 0.5f * x * (1.0f + erff(x * 0.7071067811865476f));
    case KO_ACT_SILU:
    default:
        return x / (1.0f + expf(-x));
    }
}

/* g = act(g) * u over token rows [lo, hi). */
typedef struct act_ctx {
    cpu_state *S;
    int n;
} act_ctx;
static void act_rows(void *vctx, int lo, int hi, int thread) {
    (void)thread;
    act_ctx *A = vctx;
    float *g = A->S->s.g, *u = A->S->s.u;
    for (size_t i = (size_t)lo * A->n; i < (size_t)hi * A->n; i++)
        g[i] = act(A->S->c.act, g[i]) * u[i];
}

/* Rotates the first and second halves of each head (HF's rotate_half convention). */
static void rope_apply(float *x, int n, int n_heads, int hd, const int *pos, const float *cs) {
    int half = hd / 2;
    for (int t = 0; t < n; t++) {
        const float *c = cs + (size_t)pos[t] * hd, *s = c + half;
        for (int h = 0; h < n_heads; h++) {
            float *v = x + ((size_t)t * n_heads + h) * hd;
            for (int i = 0; i < half; i++) {
                float a = v[i], b = v[i + half];
                v[i] = a * c[i] - b * s[i];
                v[i + half] = b * c[i] + a * s[i];
            }
        }
    }
}

/* ---- attention over the tree mask ------------------------------------------------------------- */

/* The keys token t may see: two runs of batch indices, [a0, a1) in the context (key position
 * idx - ctx0) and [b0, b1) in its own choice (key position nctx + idx - br0), cut by the window. */
static void key_runs(const cpu_batch *b, int t, int window, int *a0, int *a1, int *b0, int *b1) {
    int p = b->pos[t], c0 = b->ctx0[t], nc = b->nctx[t];
    int lo = window > 0 ? p - window + 1 : 0;   /* smallest visible key position */
    if (lo < 0)
        lo = 0;
    *a0 = c0 + (lo < nc ? lo : nc);
    *a1 = c0 + (p < nc ? p + 1 : nc);
    if (b->br0[t] < 0) {
        *b0 = *b1 = 0;
    } else {
        int first = lo > nc ? lo - nc : 0;
        *b0 = b->br0[t] + first;
        *b1 = t + 1;
        if (*b0 > *b1)
            *b0 = *b1;
    }
}

typedef struct att_ctx {
    cpu_state *S;
    const cpu_layer *l;
    int s0, r0;                  /* document start, first query row (relative to s0) */
    int k0, nk;                  /* batch index of the first key column, number of columns */
} att_ctx;

/* Softmax of score rows [lo, hi) of the chunk in place, over the keys the tree mask and the window
 * leave visible; every other column becomes 0. Scores arrive scaled (q.k * attn_scale); the
 * softcap, when set, is HF's tanh(s / cap) * cap before the mask. */
static void softmax_rows(void *vctx, int lo, int hi, int thread) {
    (void)thread;
    att_ctx *A = vctx;
    const cpu_batch *b = &A->S->b;
    float cap = (float)A->S->c.attn_softcap;
    for (int r = lo; r < hi; r++) {
        float *row = A->S->s.att + (size_t)r * A->nk;
        int a0, a1, b0, b1, t = A->s0 + A->r0 + r;
        key_runs(b, t, A->l->window, &a0, &a1, &b0, &b1);
        int runs[2][2] = {{a0 - A->k0, a1 - A->k0}, {b0 - A->k0, b1 - A->k0}};
        float mx = -INFINITY;
        for (int k = 0; k < 2; k++)
            for (int j = runs[k][0]; j < runs[k][1]; j++) {
                if (cap > 0)
                    row[j] = tanhf(row[j] / cap) * cap;
                if (row[j] > mx)
                    mx = row[j];
            }
        double sum = 0;
        for (int k = 0; k < 2; k++)
            for (int j = runs[k][0]; j < runs[k][1]; j++) {
                row[j] = expf(row[j] - mx);
                sum += row[j];
            }
        float inv = (float)(1.0 / sum);
        int j = 0;
        for (int k = 0; k < 2; k++) {
            for (; j < runs[k][0]; j++)
                row[j] = 0;
            for (; j < runs[k][1]; j++)
                row[j] *= inv;
        }
        for (; j < A->nk; j++)
            row[j] = 0;
    }
}

/* Attention of one layer, document by document, a chunk of query rows at a time, head by head:
 * scores against the document's keys from the chunk's first visible one to its last (one GEMM; on
 * sliding layers of long documents that skips what the window hides), the masked softmax, then P.V
 * (one GEMM). Masked-out products inside that span are wasted work, traded for BLAS speed. */
static void attention(cpu_state *S, const cpu_layer *l) {
    const ko_config *c = &S->c;
    const cpu_batch *b = &S->b;
    int hd = c->head_dim, nh = c->n_heads, group = nh / c->n_kv_heads;
    int nq = nh * hd, nkv = c->n_kv_heads * hd;
    for (int d = 0; d < b->n_docs; d++) {
        int s0 = b->doc0[d], L = b->doclen[d];
        int chunk = S->s.att_rows;
        for (int r0 = 0; r0 < L; r0 += chunk) {
            int nr = L - r0 < chunk ? L - r0 : chunk;
            /* every key a row of the chunk sees lies in [k0, s0 + r0 + nr) */
            int k0 = s0 + r0;
            for (int t = s0 + r0; t < s0 + r0 + nr; t++) {
                int a0, a1, b0, b1;
                key_runs(b, t, l->window, &a0, &a1, &b0, &b1);
                int first = a1 > a0 ? a0 : b0;
                if (first < k0)
                    k0 = first;
            }
            int nk = s0 + r0 + nr - k0;
            att_ctx A = {S, l, s0, r0, k0, nk};
            for (int h = 0; h < nh; h++) {
                int kh = h / group;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr, nk, hd,
                            (float)c->attn_scale, S->s.q + (size_t)(s0 + r0) * nq + h * hd, nq,
                            S->s.k + (size_t)k0 * nkv + kh * hd, nkv, 0.0f, S->s.att, nk);
                /* threads only where there is work enough to pay for starting them */
                ko_parallel_for((long)nr * nk >= 65536 ? S->n_threads : 1, nr, softmax_rows, &A);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nr, hd, nk, 1.0f, S->s.att,
                            nk, S->s.v + (size_t)k0 * nkv + kh * hd, nkv, 0.0f,
                            S->s.o + (size_t)(s0 + r0) * nq + h * hd, nq);
            }
        }
    }
}

/* ---- LM head, fused with the log-softmax reduction -------------------------------------------- */

typedef struct head_ctx {
    cpu_state *S;
    int row0;                    /* first output row of this chunk */
} head_ctx;

static void head_range(void *vctx, int lo, int hi, int thread) {
    (void)thread;
    head_ctx *H = vctx;
    cpu_state *S = H->S;
    const cpu_batch *b = &S->b;
    int V = S->c.vocab_size;
    float cap = (float)S->c.final_softcap;
    for (int r = lo; r < hi; r++) {
        float *l = S->s.logits + (size_t)r * V;
        if (cap > 0)
            for (int i = 0; i < V; i++)
                l[i] = tanhf(l[i] / cap) * cap;
        if (S->sd != KO_F32) /* log_softmax(logits, dtype=sd) casts the logits first */
            for (int i = 0; i < V; i++)
                l[i] = ko_dtype_round(S->sd, l[i]);
        float mx = l[0];
        for (int i = 1; i < V; i++)
            if (l[i] > mx)
                mx = l[i];
        double sum = 0;
        for (int i = 0; i < V; i++)
            sum += expf(l[i] - mx);
        float lse = (float)log(sum);
        /* torch: log_softmax = (x - max) - log(sum exp(x - max)); lm-eval takes argmax of that (the
         * first maximal index). */
        int best = 0;
        float best_v = (l[0] - mx) - lse;
        for (int i = 1; i < V; i++) {
            float v = (l[i] - mx) - lse;
            if (v > best_v) {
                best_v = v;
                best = i;
            }
        }
        /* In a 16-bit softmax dtype: the first index whose rounded log-prob equals the rounded maximum
         * (rounding keeps the order, so it is at or before best). */
        if (S->sd != KO_F32) {
            const float top = ko_dtype_round(S->sd, best_v);
            for (int i = 0; i < best; i++)
                if (ko_dtype_round(S->sd, (l[i] - mx) - lse) == top) {
                    best = i;
                    break;
                }
        }
        int row = H->row0 + r;
        for (int k = b->row_t0[row]; k < b->row_t0[row] + b->row_tn[row]; k++) {
            b->tgt_lp[k] = ko_dtype_round(S->sd, (l[b->tgt[k]] - mx) - lse);
            b->tgt_top[k] = b->tgt[k] == best;
        }
    }
}

/* ---- batches ---------------------------------------------------------------------------------- */

static int doc_tokens(const ko_doc *d) {
    int n = d->n_ctx;
    for (int i = 0; i < d->n_choices; i++)
        n += d->n_cont[i] - 1;
    return n;
}

#define GROW(arr, cap, need)                                              \
    do {                                                                  \
        if ((need) > (cap)) {                                             \
            int nc_ = (cap) ? (cap) : 256;                                \
            while (nc_ < (need))                                          \
                nc_ *= 2;                                                 \
            (cap) = nc_;                                                  \
            arr;                                                          \
        }                                                                 \
    } while (0)

static void batch_reserve(cpu_batch *b, int n_tok, int n_rows, int n_tgt, int n_docs) {
    GROW((b->doc0 = ko_xrealloc(b->doc0, (size_t)b->cap_docs * sizeof *b->doc0),
          b->doclen = ko_xrealloc(b->doclen, (size_t)b->cap_docs * sizeof *b->doclen)),
         b->cap_docs, n_docs);
    GROW((b->tok = ko_xrealloc(b->tok, (size_t)b->cap_tok * sizeof *b->tok),
          b->pos = ko_xrealloc(b->pos, (size_t)b->cap_tok * sizeof *b->pos),
          b->ctx0 = ko_xrealloc(b->ctx0, (size_t)b->cap_tok * sizeof *b->ctx0),
          b->nctx = ko_xrealloc(b->nctx, (size_t)b->cap_tok * sizeof *b->nctx),
          b->br0 = ko_xrealloc(b->br0, (size_t)b->cap_tok * sizeof *b->br0)),
         b->cap_tok, n_tok);
    GROW((b->row_tok = ko_xrealloc(b->row_tok, (size_t)b->cap_rows * sizeof *b->row_tok),
          b->row_t0 = ko_xrealloc(b->row_t0, (size_t)b->cap_rows * sizeof *b->row_t0),
          b->row_tn = ko_xrealloc(b->row_tn, (size_t)b->cap_rows * sizeof *b->row_tn)),
         b->cap_rows, n_rows);
    GROW((b->tgt = ko_xrealloc(b->tgt, (size_t)b->cap_tgt * sizeof *b->tgt),
          b->tgt_doc = ko_xrealloc(b->tgt_doc, (size_t)b->cap_tgt * sizeof *b->tgt_doc),
          b->tgt_choice = ko_xrealloc(b->tgt_choice, (size_t)b->cap_tgt * sizeof *b->tgt_choice),
          b->tgt_lp = ko_xrealloc(b->tgt_lp, (size_t)b->cap_tgt * sizeof *b->tgt_lp),
          b->tgt_top = ko_xrealloc(b->tgt_top, (size_t)b->cap_tgt * sizeof *b->tgt_top)),
         b->cap_tgt, n_tgt);
}

static void add_token(cpu_batch *b, int32_t id, int pos, int ctx0, int nctx, int br0) {
    int t = b->n_tok++;
    b->tok[t] = id;
    b->pos[t] = pos;
    b->ctx0[t] = ctx0;
    b->nctx[t] = nctx;
    b->br0[t] = br0;
}

static void add_row(cpu_batch *b, int tok) {
    int r = b->n_rows++;
    b->row_tok[r] = tok;
    b->row_t0[r] = b->n_tgt;
    b->row_tn[r] = 0;
}

static void add_target(cpu_batch *b, int32_t id, int doc, int choice) {
    int k = b->n_tgt++;
    b->tgt[k] = id;
    b->tgt_doc[k] = doc;
    b->tgt_choice[k] = choice;
    b->row_tn[b->n_rows - 1]++;
}

/* Packs docs[lo, hi) (indices into docs, which the targets refer to). */
static void batch_build(cpu_batch *b, const ko_doc *docs, int lo, int hi) {
    int n_tok = 0, n_rows = 0, n_tgt = 0;
    for (int d = lo; d < hi; d++) {
        n_tok += doc_tokens(&docs[d]);
        n_rows += 1 + doc_tokens(&docs[d]) - docs[d].n_ctx;
        for (int i = 0; i < docs[d].n_choices; i++)
            n_tgt += docs[d].n_cont[i];
    }
    batch_reserve(b, n_tok, n_rows, n_tgt, hi - lo);
    b->n_tok = b->n_rows = b->n_tgt = b->n_docs = 0;
    for (int d = lo; d < hi; d++) {
        const ko_doc *D = &docs[d];
        int c0 = b->n_tok;
        b->doc0[b->n_docs] = c0;
        b->doclen[b->n_docs++] = doc_tokens(D);
        for (int p = 0; p < D->n_ctx; p++)
            add_token(b, D->ctx[p], p, c0, D->n_ctx, -1);
        add_row(b, b->n_tok - 1);   /* the last context token predicts every choice's first token */
        for (int i = 0; i < D->n_choices; i++)
            add_target(b, D->cont[i][0], d, i);
        for (int i = 0; i < D->n_choices; i++) {
            int br0 = b->n_tok;
            for (int j = 0; j + 1 < D->n_cont[i]; j++) {
                add_token(b, D->cont[i][j], D->n_ctx + j, c0, D->n_ctx, br0);
                add_row(b, b->n_tok - 1);
                add_target(b, D->cont[i][j + 1], d, i);
            }
        }
    }
}

static void scratch_reserve(cpu_state *S, int n_tok, int n_rows, int max_pos, int max_doc) {
    const ko_config *c = &S->c;
    cpu_scratch *s = &S->s;
    /* attention scores: chunks of up to 64 query rows (short enough for the window to pay off on
     * sliding layers), at most ~64 MB */
    long rows = (64L << 20) / ((long)max_doc * (long)sizeof(float));
    s->att_rows = rows < 1 ? 1 : rows > 64 ? 64 : (int)rows;
    if ((long)s->att_rows * max_doc > s->cap_att) {
        s->cap_att = s->att_rows * max_doc;
        s->att = ko_xrealloc(s->att, (size_t)s->cap_att * sizeof(float));
    }
    if (n_tok > s->cap_tok) {
        s->cap_tok = n_tok;
        size_t T = (size_t)n_tok;
        s->x = ko_xrealloc(s->x, T * c->hidden * sizeof(float));
        s->h = ko_xrealloc(s->h, T * c->hidden * sizeof(float));
        s->q = ko_xrealloc(s->q, T * c->n_heads * c->head_dim * sizeof(float));
        s->o = ko_xrealloc(s->o, T * c->n_heads * c->head_dim * sizeof(float));
        s->k = ko_xrealloc(s->k, T * c->n_kv_heads * c->head_dim * sizeof(float));
        s->v = ko_xrealloc(s->v, T * c->n_kv_heads * c->head_dim * sizeof(float));
        s->g = ko_xrealloc(s->g, T * c->intermediate * sizeof(float));
        s->u = ko_xrealloc(s->u, T * c->intermediate * sizeof(float));
    }
    if (n_rows > s->cap_rows) {
        s->cap_rows = n_rows;
        s->rows = ko_xrealloc(s->rows, (size_t)n_rows * c->hidden * sizeof(float));
    }
    if (max_pos > s->cap_pos) {
        /* cos/sin tables, as HF: angle = pos * inv_freq in f32, then cos and sin of it */
        int half = c->head_dim / 2;
        for (int r = 0; r < 2; r++) {
            s->cos_sin[r] = ko_xrealloc(s->cos_sin[r], (size_t)max_pos * c->head_dim * sizeof(float));
            for (int p = s->cap_pos; p < max_pos; p++)
                for (int i = 0; i < half; i++) {
                    float a = (float)p * S->inv_freq[r][i];
                    s->cos_sin[r][(size_t)p * c->head_dim + i] = cosf(a);
                    s->cos_sin[r][(size_t)p * c->head_dim + half + i] = sinf(a);
                }
        }
        s->cap_pos = max_pos;
    }
}

/* Logit rows per LM-head chunk: at most ~128 MB of logits at a time (fewer passes over a large
 * LM head: Gemma 3 streams 670 MB of f32 weights per chunk). */
static int head_chunk(const cpu_state *S) {
    long n = (128L << 20) / ((long)S->c.vocab_size * (long)sizeof(float));
    return n < 1 ? 1 : n > 4096 ? 4096 : (int)n;
}

static void forward_batch(cpu_state *S, ko_doc *docs) {
    const ko_config *c = &S->c;
    cpu_batch *b = &S->b;
    int T = b->n_tok, H = c->hidden, hd = c->head_dim;
    int nq = c->n_heads * hd, nkv = c->n_kv_heads * hd, ni = c->intermediate;
    int max_pos = 0, max_doc = 0;
    for (int t = 0; t < T; t++)
        if (b->pos[t] + 1 > max_pos)
            max_pos = b->pos[t] + 1;
    for (int d = 0; d < b->n_docs; d++)
        if (b->doclen[d] > max_doc)
            max_doc = b->doclen[d];
    scratch_reserve(S, T, b->n_rows, max_pos, max_doc);
    cpu_scratch *s = &S->s;

    for (int t = 0; t < T; t++) {
        const float *e = S->embed + (size_t)b->tok[t] * H;
        float *x = s->x + (size_t)t * H;
        for (int i = 0; i < H; i++)
            x[i] = S->embed_scale > 0 ? e[i] * S->embed_scale : e[i];
    }
    for (int li = 0; li < c->n_layers; li++) {
        const cpu_layer *l = &S->L[li];
        rmsnorm(s->x, s->h, T, H, l->attn_norm, c->rms_eps);
        linear(s->h, T, H, l->wq, l->bq, nq, s->q);
        linear(s->h, T, H, l->wk, l->bk, nkv, s->k);
        linear(s->h, T, H, l->wv, l->bv, nkv, s->v);
        if (l->q_norm) {
            rmsnorm(s->q, s->q, T * c->n_heads, hd, l->q_norm, c->rms_eps);
            rmsnorm(s->k, s->k, T * c->n_kv_heads, hd, l->k_norm, c->rms_eps);
        }
        rope_apply(s->q, T, c->n_heads, hd, b->pos, s->cos_sin[l->rope]);
        rope_apply(s->k, T, c->n_kv_heads, hd, b->pos, s->cos_sin[l->rope]);
        attention(S, l);
        linear(s->o, T, nq, l->wo, NULL, H, s->h);
        if (l->post_attn_norm)
            rmsnorm(s->h, s->h, T, H, l->post_attn_norm, c->rms_eps);
        for (size_t i = 0; i < (size_t)T * H; i++)
            s->x[i] += s->h[i];

        rmsnorm(s->x, s->h, T, H, l->ffn_norm, c->rms_eps);
        linear(s->h, T, H, l->w_gate, NULL, ni, s->g);
        linear(s->h, T, H, l->w_up, NULL, ni, s->u);
        act_ctx ac = {S, ni};
        ko_parallel_for(S->n_threads, T, act_rows, &ac);
        linear(s->g, T, ni, l->w_down, NULL, H, s->h);
        if (l->post_ffn_norm)
            rmsnorm(s->h, s->h, T, H, l->post_ffn_norm, c->rms_eps);
        for (size_t i = 0; i < (size_t)T * H; i++)
            s->x[i] += s->h[i];
    }
    for (int r = 0; r < b->n_rows; r++)
        rmsnorm(s->x + (size_t)b->row_tok[r] * H, s->rows + (size_t)r * H, 1, H, S->final_norm,
                c->rms_eps);
    int chunk = head_chunk(S);
    for (int r0 = 0; r0 < b->n_rows; r0 += chunk) {
        int n = b->n_rows - r0 < chunk ? b->n_rows - r0 : chunk;
        linear(s->rows + (size_t)r0 * H, n, H, S->lm_head, NULL, c->vocab_size, s->logits);
        head_ctx hc = {S, r0};
        ko_parallel_for(S->n_threads, n, head_range, &hc);
    }
    /* Sums per choice, in token order (lm-eval sums the gathered log-softmax values: float32 sums of a
     * 16-bit softmax, rounded at the end of score). */
    for (int k = 0; k < b->n_tgt; k++) {
        ko_doc *d = &docs[b->tgt_doc[k]];
        ko_engine_add_logprob(&d->logprob[b->tgt_choice[k]], b->tgt_lp[k], S->sd);
        if (!b->tgt_top[k])
            d->is_greedy[b->tgt_choice[k]] = false;
    }
    S->st.tokens += T;
}

/* ---- the backend ------------------------------------------------------------------------------ */

static double peak_rss_bytes(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    char line[256];
    double kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %lf", &kb) == 1)
            break;
    fclose(f);
    return kb * 1024;
}

static void cpu_close(void *state);

/* A field of /proc/meminfo in bytes (0 when unknown). */
static double meminfo_bytes(const char *key) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return 0;
    char line[256];
    double kb = 0;
    size_t n = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0 && line[n] == ':') {
            sscanf(line + n + 1, "%lf", &kb);
            break;
        }
    fclose(f);
    return kb * 1024;
}

/* Bytes of f32 copies open will make: every tensor not already aligned f32 (norms are small). */
static double f32_copy_bytes(const ko_model *m) {
    const ko_tensor *big[] = {&m->embed, &m->lm_head};
    double n = 0;
    for (size_t i = 0; i < 2; i++)
        if (big[i]->data && (big[i]->dtype != KO_F32 || (uintptr_t)big[i]->data % sizeof(float)) &&
            (i == 0 || big[1]->data != big[0]->data))
            n += 4.0 * (double)ko_tensor_numel(big[i]);
    for (int li = 0; li < m->cfg.n_layers; li++) {
        const ko_layer *l = &m->layers[li];
        const ko_tensor *w[] = {&l->wq, &l->wk, &l->wv, &l->wo, &l->w_gate, &l->w_up, &l->w_down};
        for (size_t i = 0; i < sizeof w / sizeof *w; i++)
            if (w[i]->data && (w[i]->dtype != KO_F32 || (uintptr_t)w[i]->data % sizeof(float)))
                n += 4.0 * (double)ko_tensor_numel(w[i]);
    }
    return n;
}

/* Every tensor the decoder reads has the element count the config implies (the loader checks
 * shapes; this keeps a malformed ko_model from turning into reads past a buffer). */
static int check_sizes(const ko_model *m, ko_err *e) {
    const ko_config *c = &m->cfg;
    int64_t H = c->hidden, V = c->vocab_size, hd = c->head_dim, ni = c->intermediate;
    int64_t nq = (int64_t)c->n_heads * hd, nkv = (int64_t)c->n_kv_heads * hd;
    struct { const ko_tensor *t; int64_t n; const char *what; int layer; } want[] = {
        {&m->embed, V * H, "embedding", -1}, {&m->final_norm, H, "final norm", -1},
        {&m->lm_head, V * H, "lm_head", -1}};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        if (want[i].t->data && ko_tensor_numel(want[i].t) != want[i].n)
            return ko_fail(e, "cpu backend: %s has %lld elements, the config implies %lld",
                           want[i].what, (long long)ko_tensor_numel(want[i].t), (long long)want[i].n);
    for (int li = 0; li < c->n_layers; li++) {
        const ko_layer *l = &m->layers[li];
        struct { const ko_tensor *t; int64_t n; const char *what; } lw[] = {
            {&l->attn_norm, H, "attn_norm"}, {&l->post_attn_norm, H, "post_attn_norm"},
            {&l->ffn_norm, H, "ffn_norm"}, {&l->post_ffn_norm, H, "post_ffn_norm"},
            {&l->q_norm, hd, "q_norm"}, {&l->k_norm, hd, "k_norm"},
            {&l->wq, nq * H, "q_proj"}, {&l->wk, nkv * H, "k_proj"}, {&l->wv, nkv * H, "v_proj"},
            {&l->wo, H * nq, "o_proj"}, {&l->bq, nq, "q bias"}, {&l->bk, nkv, "k bias"},
            {&l->bv, nkv, "v bias"}, {&l->w_gate, ni * H, "gate_proj"}, {&l->w_up, ni * H, "up_proj"},
            {&l->w_down, H * ni, "down_proj"}};
        for (size_t i = 0; i < sizeof lw / sizeof *lw; i++)
            if (lw[i].t->data && ko_tensor_numel(lw[i].t) != lw[i].n)
                return ko_fail(e, "cpu backend: layer %d %s has %lld elements, the config implies "
                                  "%lld", li, lw[i].what, (long long)ko_tensor_numel(lw[i].t),
                               (long long)lw[i].n);
    }
    return 0;
}

static int cpu_open(const ko_model *m, const ko_engine_opts *o, void **state, ko_err *e) {
    double t0 = ko_now();
    const ko_config *c = &m->cfg;
    if (o && o->dtype && strcmp(o->dtype, "float32") != 0 && strcmp(o->dtype, "auto") != 0)
        return ko_fail(e, "cpu backend: dtype %s: the CPU backend computes in float32 only "
                          "(use --device cuda for %s)", o->dtype, o->dtype);
    if (c->hidden <= 0 || c->n_layers <= 0 || c->n_heads <= 0 || c->n_kv_heads <= 0 ||
        c->head_dim <= 0 || c->head_dim % 2 || c->n_heads % c->n_kv_heads || c->vocab_size <= 0 ||
        c->intermediate <= 0)
        return ko_fail(e, "cpu backend: model %s: inconsistent config (hidden %d, layers %d, "
                          "heads %d/%d, head_dim %d, vocab %d)", m->path ? m->path : "?",
                       c->hidden, c->n_layers, c->n_heads, c->n_kv_heads, c->head_dim,
                       c->vocab_size);
    if (check_sizes(m, e) != 0)
        return -1;
    /* The f32 copies must fit in memory: a clear error beats the OOM killer. */
    double need = f32_copy_bytes(m), avail = meminfo_bytes("MemAvailable");
    if (avail > 0 && need > avail)
        return ko_fail(e, "cpu backend: model %s: its weights as float32 need %.1f GB, only %.1f GB "
                          "of memory is available (the CPU backend is for small models; use "
                          "--device cuda)", m->path ? m->path : "?", need / 1e9, avail / 1e9);
    ko_dtype sd;
    if (ko_engine_softmax_dtype(o, KO_F32, &sd, e) != 0)
        return -1;
    cpu_state *S = ko_xcalloc(1, sizeof *S);
    S->sd = sd;
    S->m = m;
    S->c = *c;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    S->n_threads = o && o->n_threads > 0 ? o->n_threads : ncpu > 0 ? (int)ncpu : 1;
    S->batch_tokens = o && o->batch_tokens > 0 ? o->batch_tokens : 1024;
    S->progress = o ? o->progress : NULL;
    S->progress_ctx = o ? o->progress_ctx : NULL;
    openblas_set_num_threads(S->n_threads);

    S->embed = weight(S, &m->embed);
    S->final_norm = norm_weight(S, &m->final_norm);
    S->lm_head_is_embed = c->tie_embeddings || m->lm_head.data == m->embed.data;
    S->lm_head = S->lm_head_is_embed ? S->embed : weight(S, &m->lm_head);
    /* HF multiplies by sqrt(hidden) as a tensor of the compute dtype: f32 here. */
    S->embed_scale = c->scale_embeddings ? (float)sqrt((double)c->hidden) : 0.0f;
    for (int r = 0; r < 2; r++)
        S->inv_freq[r] = own(S, (size_t)c->head_dim / 2);
    rope_inv_freq(&c->rope, c->head_dim, S->inv_freq[0]);
    rope_inv_freq(&c->rope_local, c->head_dim, S->inv_freq[1]);
    S->L = ko_xcalloc((size_t)c->n_layers, sizeof *S->L);
    for (int i = 0; i < c->n_layers; i++) {
        const ko_layer *ml = &m->layers[i];
        cpu_layer *l = &S->L[i];
        l->attn_norm = norm_weight(S, &ml->attn_norm);
        l->post_attn_norm = c->post_norms ? norm_weight(S, &ml->post_attn_norm) : NULL;
        l->ffn_norm = norm_weight(S, &ml->ffn_norm);
        l->post_ffn_norm = c->post_norms ? norm_weight(S, &ml->post_ffn_norm) : NULL;
        l->q_norm = c->qk_norm ? norm_weight(S, &ml->q_norm) : NULL;
        l->k_norm = c->qk_norm ? norm_weight(S, &ml->k_norm) : NULL;
        l->wq = weight(S, &ml->wq);
        l->wk = weight(S, &ml->wk);
        l->wv = weight(S, &ml->wv);
        l->wo = weight(S, &ml->wo);
        l->bq = c->qkv_bias ? weight(S, &ml->bq) : NULL;
        l->bk = c->qkv_bias ? weight(S, &ml->bk) : NULL;
        l->bv = c->qkv_bias ? weight(S, &ml->bv) : NULL;
        l->w_gate = weight(S, &ml->w_gate);
        l->w_up = weight(S, &ml->w_up);
        l->w_down = weight(S, &ml->w_down);
        bool sliding = c->layer_sliding && c->layer_sliding[i];
        l->rope = sliding ? 1 : 0;
        l->window = sliding ? c->sliding_window : 0;
        if (!l->attn_norm || !l->ffn_norm || !l->wq || !l->wk || !l->wv || !l->wo || !l->w_gate ||
            !l->w_up || !l->w_down || (c->post_norms && (!l->post_attn_norm || !l->post_ffn_norm)) ||
            (c->qk_norm && (!l->q_norm || !l->k_norm))) {
            cpu_close(S);
            return ko_fail(e, "cpu backend: model %s: layer %d lacks a tensor its config needs",
                           m->path ? m->path : "?", i);
        }
    }
    if (!S->embed || !S->final_norm || !S->lm_head) {
        cpu_close(S);
        return ko_fail(e, "cpu backend: model %s: no embedding, final norm or LM head",
                       m->path ? m->path : "?");
    }
    S->s.logits = ko_xmalloc((size_t)head_chunk(S) * c->vocab_size * sizeof(float));
    snprintf(S->st.device_name, sizeof S->st.device_name, "cpu (%d threads, fp32, OpenBLAS)",
             S->n_threads);
    S->st.load_s = ko_now() - t0;
    *state = S;
    return 0;
}

static int cpu_score(void *state, ko_doc *docs, int n, ko_err *e) {
    cpu_state *S = state;
    double t0 = ko_now();
    for (int d = 0; d < n; d++) {
        const ko_doc *D = &docs[d];
        if (D->n_ctx < 1 || D->n_choices < 1)
            return ko_fail(e, "cpu backend: document %d: empty context or no choices", d);
        for (int p = 0; p < D->n_ctx; p++)
            if (D->ctx[p] < 0 || D->ctx[p] >= S->c.vocab_size)
                return ko_fail(e, "cpu backend: document %d: token id %d outside the vocabulary "
                                  "(%d)", d, (int)D->ctx[p], S->c.vocab_size);
        for (int i = 0; i < D->n_choices; i++) {
            if (D->n_cont[i] < 1)
                return ko_fail(e, "cpu backend: document %d choice %d: empty continuation", d, i);
            for (int j = 0; j < D->n_cont[i]; j++)
                if (D->cont[i][j] < 0 || D->cont[i][j] >= S->c.vocab_size)
                    return ko_fail(e, "cpu backend: document %d choice %d: token id %d outside "
                                      "the vocabulary (%d)", d, i, (int)D->cont[i][j],
                                   S->c.vocab_size);
        }
    }
    for (int d = 0; d < n; d++)
        for (int i = 0; i < docs[d].n_choices; i++) {
            docs[d].logprob[i] = 0;
            docs[d].is_greedy[i] = true;
        }
    /* Documents in order, as many per batch as fit the token budget (a longer one goes alone). */
    for (int lo = 0; lo < n;) {
        int hi = lo, tok = 0;
        while (hi < n && (hi == lo || tok + doc_tokens(&docs[hi]) <= S->batch_tokens))
            tok += doc_tokens(&docs[hi++]);
        batch_build(&S->b, docs, lo, hi);
        forward_batch(S, docs);
        if (S->progress)
            S->progress(S->progress_ctx, hi, n);
        lo = hi;
    }
    ko_engine_round_sums(docs, n, S->sd);
    S->st.docs += n;
    S->st.score_s += ko_now() - t0;
    return 0;
}

static void cpu_stats(void *state, ko_engine_stats *s) {
    cpu_state *S = state;
    S->st.peak_mem_bytes = peak_rss_bytes();
    *s = S->st;
}

static void cpu_close(void *state) {
    cpu_state *S = state;
    if (!S)
        return;
    for (int i = 0; i < S->n_owned; i++)
        free(S->owned[i]);
    free(S->owned);
    free(S->L);
    cpu_scratch *s = &S->s;
    float *bufs[] = {s->x, s->h, s->q, s->k, s->v, s->o, s->g, s->u, s->cos_sin[0], s->cos_sin[1],
                     s->rows, s->logits, s->att};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        free(bufs[i]);
    cpu_batch *b = &S->b;
    void *bb[] = {b->tok, b->pos, b->ctx0, b->nctx, b->br0, b->row_tok, b->row_t0, b->row_tn,
                  b->tgt, b->tgt_doc, b->tgt_choice, b->tgt_lp, b->tgt_top, b->doc0, b->doclen};
    for (size_t i = 0; i < sizeof bb / sizeof *bb; i++)
        free(bb[i]);
    free(S);
}

const ko_backend ko_backend_cpu = {"cpu", cpu_open, cpu_score, cpu_stats, cpu_close};
