/* cuda_backend.cu — ko_backend_cuda: prefix-shared, varlen-packed log-likelihood scoring on one GPU.
 *
 * Weights are uploaded once in the compute dtype (opts->dtype; by default the checkpoint's, as lm-eval's dtype=auto) through
 * two pinned staging buffers (conversion of one overlaps the copy of the other). A score call packs
 * the documents (engine/cuda/pack.h: one sequence [ctx | cont_1[:-1] | ... | cont_k[:-1]] each under
 * the tree mask, prefixes shared across documents computed once) into varlen batches of at most Tb
 * tokens, uploads all batches' metadata at once and runs the batches back to back on one stream
 * with no host synchronisation until the end. Per batch: embedding, per layer a fused qkv GEMM,
 * q/k norm + RoPE, tree-masked attention, o-proj, residual+norm, the gate|up GEMM with the activation
 * (on sm_90 one kernel, engine/cuda/hgemm.cuh; else cuBLASLt then act_mul_k), down GEMM,
 * residual+norm; then the final norm on only the rows that need logits and the LM head in
 * vocabulary chunks with an online log-sum-exp, target gather and argmax ([tokens x vocab] is never
 * stored). See engine/cuda/NOTES.md for the kernels' numbers.
 */
#include <cuda_runtime.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#include "engine/cuda/pack.h"
#include "engine/engine.h"
}
#include "engine/cuda/attn_wg.cuh"
#include "engine/cuda/gemm.cuh"
#include "engine/cuda/hgemm.cuh"
#include "engine/cuda/kernels.cuh"

#define KO_WG_MIN_TOKENS 256 /* mean tokens per document from which attn_wg runs */
#define CK(call)                                                                                   \
    do {                                                                                           \
        cudaError_t err_ = (call);                                                                 \
        if (err_ != cudaSuccess) return ko_fail(e, "cuda: %s: %s", #call, cudaGetErrorString(err_)); \
    } while (0)

namespace {

struct layer_w {
    void *wqkv, *bqkv, *wo, *wgu, *wd;
    void *attn_norm, *post_attn, *ffn_norm, *post_ffn, *qn, *kn;
    int sliding;
};

struct cuda_state {
    ko_config cfg;
    ko_dtype dt;          /* compute dtype */
    ko_dtype sd;          /* lm-eval's softmax_dtype (engine.h): log-probs and sums rounded to it */
    size_t esz;
    cudaDataType_t cdt;
    int dev;
    cudaDeviceProp prop;
    cudaStream_t st;
    ko_gemm *gm;
    bool tune;  /* KOEVAL_CUDA_GEMM=tune: time cuBLASLt's candidates at open (NOTES.md: no gain measured) */
    bool share; /* KOEVAL_CUDA_SHARE=0: no prefix sharing across documents (comparisons) */
    /* the gated feed-forward through the Hopper kernel (hgemm.cuh): gate|up weights interleaved at
     * upload, act(gate) * up in the product's epilogue; KOEVAL_CUDA_HGEMM=0: cuBLASLt + act_mul_k.
     * hg_qkv: the q/k/v product too, with q/k norm + RoPE in its epilogue (where ko_hgemm_rope_fits and
     * there is no q/k/v bias); KOEVAL_CUDA_HGEMM=glu: the feed-forward only. */
    bool hg, hg_qkv;
    int max_len;
    double util;
    int batch_tokens_opt;
    bool verbose;
    /* weights */
    void *embed, *lm_head, *final_norm;
    layer_w *L;
    float *invf_g, *invf_l;
    size_t weight_bytes;
    /* activation buffers for a budget of Tb tokens; HN: the final-normed rows of the current LM-head
     * span (head_rows_for(Tb) of them: consecutive batches' rows until full, ko_head_spans) */
    int Tb;
    void *X, *XN, *Y, *S1, *HN, *LG, *CS; /* CS (hg_qkv only): the batch's RoPE cos | sin, global then sliding */
    ko_rowst *rowst;
    ko_tgtst *tgst;
    int max_tgt;
    int RG, VC;           /* LM head: rows per product, vocab columns per chunk */
    /* KOEVAL_CUDA_PROFILE=1: time every kernel class with events (syncs after each batch) */
    bool profile;
    bool no_prune; /* KOEVAL_CUDA_PRUNE=0: the last layer's feed-forward over every row (comparisons) */
    /* the attention kernels: attn_fa_k<T, head_dim> (set up by set_smem_limit) with fa_gw query heads x
     * fa_qg tiles per block and fa_bytes of shared memory, or attn_k when fa == NULL; on sm_90a also
     * attn_wg (attn_wg.cuh, groups of wg_qg tiles), which cuda_score picks (wg_on) for runs whose
     * documents average KO_WG_MIN_TOKENS or more. KOEVAL_CUDA_ATTN=simple: attn_k; =fa: attn_fa_k on
     * Hopper too; =wg: attn_wg whatever the lengths (comparisons, tests). */
    bool wg, wg_force, wg_on; /* attn_wg here; KOEVAL_CUDA_ATTN=wg: for every run; in this run */
    int wg_qg;
    void *fa;
    int fa_gw, fa_qg;
    size_t fa_bytes;
    bool attn_simple, attn_fa;
    cudaEvent_t pev[1024];
    int pcat[1024], npev;
    double ptime[16];
    /* stats */
    double load_s, score_s;
    long long tokens, docs;
    double peak;
};

int qkv_width(const ko_config &c) { return (c.n_heads + 2 * c.n_kv_heads) * c.head_dim; }
int s1_width(const ko_config &c) {
    int a = qkv_width(c) + c.n_heads * c.head_dim, b = 3 * c.intermediate;
    return a > b ? a : b;
}

void note_peak(cuda_state *s) {
    size_t fr = 0, tot = 0;
    if (cudaMemGetInfo(&fr, &tot) == cudaSuccess && (double)(tot - fr) > s->peak) s->peak = (double)(tot - fr);
}

/* ---- host-side dtype conversion (for the staging buffers) ---- */
inline float h_bf16_to_f(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
inline float load_f(const void *p, ko_dtype t, size_t i) {
    if (t == KO_F32) return ((const float *)p)[i];
    if (t == KO_BF16) return h_bf16_to_f(((const uint16_t *)p)[i]);
    return __half2float(((const __half *)p)[i]);
}
void convert(void *dst, ko_dtype dt, const void *src, ko_dtype stt, size_t n) {
    size_t es = dt == KO_F32 ? 4 : 2;
    if (dt == stt) {
        memcpy(dst, src, n * es);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        float f = load_f(src, stt, i);
        if (dt == KO_F32) ((float *)dst)[i] = f;
        else if (dt == KO_BF16) ((bf16 *)dst)[i] = __float2bfloat16_rn(f);
        else ((__half *)dst)[i] = __float2half_rn(f);
    }
}

/* convert() split over threads: reading the mapped file into pinned memory is the load's bottleneck
 * on one core (~5 GB/s measured), the PCIe copy is not. */
struct conv_job {
    void *dst;
    ko_dtype dt;
    const void *src;
    ko_dtype stt;
    size_t n;
};
void *conv_thread(void *p) {
    conv_job *j = (conv_job *)p;
    convert(j->dst, j->dt, j->src, j->stt, j->n);
    return NULL;
}
void convert_par(void *dst, ko_dtype dt, const void *src, ko_dtype stt, size_t n) {
    enum { NT = 8 };
    if (n < ((size_t)1 << 20)) {
        convert(dst, dt, src, stt, n);
        return;
    }
    size_t des = dt == KO_F32 ? 4 : 2, ses = stt == KO_F32 ? 4 : 2;
    conv_job jobs[NT];
    pthread_t th[NT];
    int started[NT] = {0};
    for (int i = 0; i < NT; i++) {
        size_t a = n * i / NT, b = n * (i + 1) / NT;
        jobs[i] = conv_job{(char *)dst + a * des, dt, (const char *)src + a * ses, stt, b - a};
        started[i] = i > 0 && pthread_create(&th[i], NULL, conv_thread, &jobs[i]) == 0;
        if (i > 0 && !started[i]) conv_thread(&jobs[i]);
    }
    conv_thread(&jobs[0]);
    for (int i = 1; i < NT; i++)
        if (started[i]) pthread_join(th[i], NULL);
}

int64_t numel(const ko_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return t->ndim ? n : 0;
}

/* Two pinned staging buffers: the host converts into one while the other is being copied. */
struct stager {
    void *buf[2];
    cudaEvent_t ev[2];
    size_t cap;   /* bytes each */
    int cur;
    size_t bytes;
};

int stage_upload(cuda_state *s, stager *sg, char *dst, const ko_tensor *t, int64_t expect, const char *what, ko_err *e) {
    if (!t->data) return ko_fail(e, "cuda: upload %s: tensor missing", what);
    int64_t n = numel(t);
    if (n != expect) return ko_fail(e, "cuda: upload %s: %lld elements, expected %lld", what, (long long)n, (long long)expect);
    size_t per = sg->cap / s->esz, ses = t->dtype == KO_F32 ? 4 : 2;
    for (int64_t off = 0; off < n;) {
        size_t m = (size_t)(n - off) < per ? (size_t)(n - off) : per;
        int b = sg->cur;
        CK(cudaEventSynchronize(sg->ev[b]));
        convert_par(sg->buf[b], s->dt, (const char *)t->data + (size_t)off * ses, t->dtype, m);
        CK(cudaMemcpyAsync(dst + (size_t)off * s->esz, sg->buf[b], m * s->esz, cudaMemcpyHostToDevice, s->st));
        CK(cudaEventRecord(sg->ev[b], s->st));
        sg->cur ^= 1;
        off += (int64_t)m;
        sg->bytes += m * ses;
    }
    return 0;
}

int dev_alloc(cuda_state *s, void **p, size_t bytes, ko_err *e) {
    cudaError_t err = cudaMalloc(p, bytes ? bytes : 16);
    if (err != cudaSuccess) {
        *p = NULL;
        return ko_fail(e, "cuda: out of device memory allocating %.1f MiB: %s", bytes / 1048576.0, cudaGetErrorString(err));
    }
    s->weight_bytes += bytes;
    return 0;
}

/* Allocates and uploads one tensor (or several concatenated along dim 0). */
int upload_cat(cuda_state *s, stager *sg, void **out, const ko_tensor *const *ts, const int64_t *expect, int n,
               const char *what, ko_err *e) {
    int64_t tot = 0;
    for (int i = 0; i < n; i++) tot += expect[i];
    if (dev_alloc(s, out, (size_t)tot * s->esz, e)) return -1;
    char *d = (char *)*out;
    for (int i = 0; i < n; i++) {
        if (stage_upload(s, sg, d, ts[i], expect[i], what, e)) return -1;
        d += (size_t)expect[i] * s->esz;
    }
    return 0;
}
int upload1(cuda_state *s, stager *sg, void **out, const ko_tensor *t, int64_t expect, const char *what, ko_err *e) {
    return upload_cat(s, sg, out, &t, &expect, 1, what, e);
}

/* inv_freq as HF computes it in fp32 (rope_init_fn: default, linear, llama3). */
void rope_inv_freq(const ko_rope *r, int hd, float *inv) {
    for (int i = 0; i < hd / 2; i++) {
        float ex = (float)(2 * i) / (float)hd;
        float f = 1.0f / powf((float)r->theta, ex);
        if (r->kind == KO_ROPE_LINEAR) {
            f = f / (float)r->factor;
        } else if (r->kind == KO_ROPE_LLAMA3) {
            float factor = (float)r->factor, lo = (float)r->low_freq_factor, hi = (float)r->high_freq_factor;
            float old = (float)r->original_max_pos;
            float lo_wl = old / lo, hi_wl = old / hi;
            float wl = 2.0f * (float)M_PI / f;
            float fl = wl > lo_wl ? f / factor : f;
            if (!(wl < hi_wl) && !(wl > lo_wl)) {
                float sm = (old / wl - lo) / (hi - lo);
                fl = (1.0f - sm) * fl / factor + sm * fl;
            }
            f = fl;
        }
        inv[i] = f;
    }
}

void free_buffers(cuda_state *s) {
    void **bs[] = {&s->X, &s->XN, &s->Y, &s->S1, &s->HN, &s->LG, &s->CS, (void **)&s->rowst, (void **)&s->tgst};
    for (size_t i = 0; i < sizeof bs / sizeof bs[0]; i++) {
        if (*bs[i]) cudaFree(*bs[i]);
        *bs[i] = NULL;
    }
    s->Tb = 0;
    s->max_tgt = 0;
}

size_t bytes_per_token(const cuda_state *s) {
    const ko_config &c = s->cfg;
    return s->esz * ((size_t)4 * c.hidden + (size_t)s1_width(c) + (s->hg_qkv ? 2 * (size_t)c.head_dim : 0)) + sizeof(ko_rowst) + 64;
}

/* Rows of an LM-head span for a budget of Tb tokens: a batch's rows always fit, the tuner's RG too. */
int head_rows_for(const cuda_state *s, int Tb) { return Tb > s->RG ? Tb : s->RG; }

/* Activation buffers for Tb tokens and max_tgt targets per LM-head span; -1 on out-of-memory (e filled). */
int alloc_buffers(cuda_state *s, int Tb, int max_tgt, ko_err *e) {
    const ko_config &c = s->cfg;
    size_t H = c.hidden, hr = (size_t)head_rows_for(s, Tb);
    struct { void **p; size_t n; } a[] = {
        {&s->X, (size_t)Tb * H * s->esz},       {&s->XN, (size_t)Tb * H * s->esz},
        {&s->Y, (size_t)Tb * H * s->esz},       {&s->S1, (size_t)Tb * s1_width(c) * s->esz},
        {&s->HN, hr * H * s->esz},              {&s->LG, (size_t)s->RG * s->VC * s->esz},
        {&s->CS, s->hg_qkv ? (size_t)Tb * 2 * c.head_dim * s->esz : 16},
        {(void **)&s->rowst, hr * sizeof(ko_rowst)}, {(void **)&s->tgst, (size_t)max_tgt * sizeof(ko_tgtst) + 16},
    };
    for (size_t i = 0; i < sizeof a / sizeof a[0]; i++) {
        cudaError_t err = cudaMalloc(a[i].p, a[i].n);
        if (err != cudaSuccess) {
            *a[i].p = NULL;
            cudaGetLastError();
            free_buffers(s);
            return ko_fail(e, "cuda: out of device memory for a batch of %d tokens", Tb);
        }
    }
    s->Tb = Tb;
    s->max_tgt = max_tgt;
    note_peak(s);
    return 0;
}

void state_free(cuda_state *s) {
    if (!s) return;
    free_buffers(s);
    if (s->L) {
        for (int l = 0; l < s->cfg.n_layers; l++) {
            void *ps[] = {s->L[l].wqkv, s->L[l].bqkv, s->L[l].wo, s->L[l].wgu, s->L[l].wd, s->L[l].attn_norm,
                          s->L[l].post_attn, s->L[l].ffn_norm, s->L[l].post_ffn, s->L[l].qn, s->L[l].kn};
            for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
                if (ps[i]) cudaFree(ps[i]);
        }
        free(s->L);
    }
    if (s->lm_head && s->lm_head != s->embed) cudaFree(s->lm_head);
    void *ps[] = {s->embed, s->final_norm, s->invf_g, s->invf_l};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
        if (ps[i]) cudaFree(ps[i]);
    for (int i = 0; i < 1024; i++)
        if (s->pev[i]) cudaEventDestroy(s->pev[i]);
    ko_gemm_destroy(s->gm);
    if (s->st) cudaStreamDestroy(s->st);
    free(s->cfg.layer_sliding);
    free(s);
}

int upload_weights(cuda_state *s, const ko_model *m, ko_err *e) {
    const ko_config &c = s->cfg;
    const int64_t H = c.hidden, hd = c.head_dim, qd = (int64_t)c.n_heads * hd, kd = (int64_t)c.n_kv_heads * hd,
                  I = c.intermediate, V = c.vocab_size;
    stager sg = {};
    sg.cap = 64u << 20;
    for (int b = 0; b < 2; b++) {
        CK(cudaHostAlloc(&sg.buf[b], sg.cap, cudaHostAllocDefault));
        CK(cudaEventCreateWithFlags(&sg.ev[b], cudaEventDisableTiming));
    }
    int rc = -1;
    void *spare = NULL; /* with s->hg: where a layer's gate|up lands before it is interleaved into its own buffer */
    if (s->hg && cudaMalloc(&spare, (size_t)2 * I * H * s->esz) != cudaSuccess) {
        cudaGetLastError();
        ko_fail(e, "cuda: out of device memory for the gate/up interleave (%.1f MiB)", 2.0 * I * H * s->esz / 1048576.0);
        goto done;
    }
    s->L = (layer_w *)ko_xcalloc((size_t)c.n_layers, sizeof(layer_w));
    if (upload1(s, &sg, &s->embed, &m->embed, V * H, "embed", e)) goto done;
    if (m->lm_head.data == m->embed.data || (c.tie_embeddings && !m->lm_head.data)) s->lm_head = s->embed;
    else if (upload1(s, &sg, &s->lm_head, &m->lm_head, V * H, "lm_head", e)) goto done;
    if (upload1(s, &sg, &s->final_norm, &m->final_norm, H, "final_norm", e)) goto done;
    for (int l = 0; l < c.n_layers; l++) {
        const ko_layer *ml = &m->layers[l];
        layer_w *w = &s->L[l];
        w->sliding = c.layer_sliding ? c.layer_sliding[l] : 0;
        const ko_tensor *qkv[3] = {&ml->wq, &ml->wk, &ml->wv};
        int64_t eq[3] = {qd * H, kd * H, kd * H};
        if (upload_cat(s, &sg, &w->wqkv, qkv, eq, 3, "q/k/v_proj", e)) goto done;
        if (c.qkv_bias) {
            const ko_tensor *bs[3] = {&ml->bq, &ml->bk, &ml->bv};
            int64_t eb[3] = {qd, kd, kd};
            if (upload_cat(s, &sg, &w->bqkv, bs, eb, 3, "q/k/v bias", e)) goto done;
        }
        if (upload1(s, &sg, &w->wo, &ml->wo, H * qd, "o_proj", e)) goto done;
        const ko_tensor *gu[2] = {&ml->w_gate, &ml->w_up};
        int64_t eg[2] = {I * H, I * H};
        if (upload_cat(s, &sg, &w->wgu, gu, eg, 2, "gate/up_proj", e)) goto done;
        if (s->hg) {
            if (ko_hgemm_interleave(s->st, w->wgu, spare, (int)(2 * I), (int)H, (int)s->esz, e)) goto done;
            void *x = w->wgu;
            w->wgu = spare, spare = x;
        }
        if (upload1(s, &sg, &w->wd, &ml->w_down, H * I, "down_proj", e)) goto done;
        if (upload1(s, &sg, &w->attn_norm, &ml->attn_norm, H, "input_layernorm", e)) goto done;
        if (upload1(s, &sg, &w->ffn_norm, &ml->ffn_norm, H, "ffn norm", e)) goto done;
        if (c.post_norms) {
            if (upload1(s, &sg, &w->post_attn, &ml->post_attn_norm, H, "post_attention_layernorm", e)) goto done;
            if (upload1(s, &sg, &w->post_ffn, &ml->post_ffn_norm, H, "post_feedforward_layernorm", e)) goto done;
        }
        if (c.qk_norm) {
            if (upload1(s, &sg, &w->qn, &ml->q_norm, hd, "q_norm", e)) goto done;
            if (upload1(s, &sg, &w->kn, &ml->k_norm, hd, "k_norm", e)) goto done;
        }
    }
    {
        float *inv = (float *)ko_xmalloc(sizeof(float) * (size_t)(hd / 2 + 1));
        int r2 = 0;
        rope_inv_freq(&c.rope, (int)hd, inv);
        if (dev_alloc(s, (void **)&s->invf_g, sizeof(float) * (hd / 2 + 1), e) ||
            cudaMemcpy(s->invf_g, inv, sizeof(float) * (hd / 2), cudaMemcpyHostToDevice) != cudaSuccess)
            r2 = -1;
        rope_inv_freq(&c.rope_local, (int)hd, inv);
        if (!r2 && (dev_alloc(s, (void **)&s->invf_l, sizeof(float) * (hd / 2 + 1), e) ||
                    cudaMemcpy(s->invf_l, inv, sizeof(float) * (hd / 2), cudaMemcpyHostToDevice) != cudaSuccess))
            r2 = -1;
        free(inv);
        if (r2) {
            if (!e->msg[0]) ko_fail(e, "cuda: rope tables upload failed");
            goto done;
        }
    }
    if (cudaStreamSynchronize(s->st) != cudaSuccess) {
        ko_fail(e, "cuda: weight upload: %s", cudaGetErrorString(cudaGetLastError()));
        goto done;
    }
    rc = 0;
done:
    if (spare) cudaStreamSynchronize(s->st), cudaFree(spare);
    for (int b = 0; b < 2; b++) {
        if (sg.ev[b]) cudaEventSynchronize(sg.ev[b]), cudaEventDestroy(sg.ev[b]);
        if (sg.buf[b]) cudaFreeHost(sg.buf[b]);
    }
    if (!rc && s->verbose)
        fprintf(stderr, "koeval: cuda: uploaded %.2f GiB of weights (%.2f GiB on device)\n", sg.bytes / 1073741824.0,
                s->weight_bytes / 1073741824.0);
    return rc;
}

int open_device(cuda_state *s, ko_err *e) {
    CK(cudaSetDevice(s->dev));
    CK(cudaGetDeviceProperties(&s->prop, s->dev));
    CK(cudaStreamCreateWithFlags(&s->st, cudaStreamNonBlocking));
    return ko_gemm_create(&s->gm, s->st, s->cdt, 64u << 20, e);
}

int prepare(cuda_state *s, ko_err *e);

int cuda_open(const ko_model *m, const ko_engine_opts *o, void **state, ko_err *e) {
    double t0 = ko_now();
    const ko_config &c = m->cfg;
    int dev = 0, ndev = 0;
    if (o->device && strncmp(o->device, "cuda:", 5) == 0) {
        char *end;
        long v = strtol(o->device + 5, &end, 10);
        if (*end || v < 0 || v > 1024) return ko_fail(e, "cuda: bad device '%s' (expected cuda or cuda:K)", o->device);
        dev = (int)v;
    }
    cudaError_t err = cudaGetDeviceCount(&ndev);
    if (err != cudaSuccess || ndev == 0)
        return ko_fail(e, "cuda: no CUDA device available (%s)", err != cudaSuccess ? cudaGetErrorString(err) : "0 devices");
    if (dev >= ndev) return ko_fail(e, "cuda: device %d requested but only %d present", dev, ndev);
    if (c.head_dim > 32 * ATT_NPL || c.head_dim % 2 || c.n_heads % c.n_kv_heads)
        return ko_fail(e, "cuda: unsupported attention shape (head_dim %d, heads %d/%d)", c.head_dim, c.n_heads, c.n_kv_heads);
    cuda_state *s = (cuda_state *)ko_xcalloc(1, sizeof *s);
    s->cfg = c;
    s->cfg.layer_sliding = (bool *)ko_xcalloc((size_t)c.n_layers, sizeof(bool));
    if (c.layer_sliding) memcpy(s->cfg.layer_sliding, c.layer_sliding, sizeof(bool) * (size_t)c.n_layers);
    s->dev = dev;
    s->verbose = o->verbose;
    s->util = o->gpu_memory_utilization > 0 ? o->gpu_memory_utilization : 0.9;
    s->batch_tokens_opt = o->batch_tokens;
    s->max_len = o->max_len > 0 ? o->max_len : c.max_pos;
    const char *dt = o->dtype ? o->dtype : ko_dtype_hf_name(m->auto_dtype); /* lm-eval's dtype=auto */
    if (ko_dtype_parse(dt, &s->dt) != 0) {
        state_free(s);
        return ko_fail(e, "cuda: unknown dtype '%s' (bfloat16, float16, float32)", dt);
    }
    if (ko_engine_softmax_dtype(o, s->dt, &s->sd, e) != 0) {
        state_free(s);
        return -1;
    }
    s->cdt = s->dt == KO_BF16 ? CUDA_R_16BF : s->dt == KO_F16 ? CUDA_R_16F : CUDA_R_32F;
    s->esz = s->dt == KO_F32 ? 4 : 2;
    const char *at = getenv("KOEVAL_CUDA_ATTN");
    s->attn_simple = at && !strcmp(at, "simple");
    s->attn_fa = at && !strcmp(at, "fa");
    s->wg_force = at && !strcmp(at, "wg");
    s->profile = getenv("KOEVAL_CUDA_PROFILE") && atoi(getenv("KOEVAL_CUDA_PROFILE")) > 0;
    s->no_prune = getenv("KOEVAL_CUDA_PRUNE") && !strcmp(getenv("KOEVAL_CUDA_PRUNE"), "0");
    s->tune = getenv("KOEVAL_CUDA_GEMM") && !strcmp(getenv("KOEVAL_CUDA_GEMM"), "tune");
    s->share = !(getenv("KOEVAL_CUDA_SHARE") && !strcmp(getenv("KOEVAL_CUDA_SHARE"), "0"));
    const char *hge = getenv("KOEVAL_CUDA_HGEMM");
    const bool hopper = ko_hgemm_usable(dev); /* the sm_90a code runs here (hgemm, attn_wg) */
    s->hg = s->dt != KO_F32 && (2 * c.intermediate) % 16 == 0 && c.hidden % 8 == 0 && !(hge && !strcmp(hge, "0")) && hopper;
    /* head_dim 256 (Gemma) by default: at 128 attn_fa_k was faster (an 8b shape at 5-shot on an H200:
     * 1.91 s of attention against attn_wg's 2.55, NOTES.md); 64 and 128 under KOEVAL_CUDA_ATTN=wg */
    s->wg = s->dt != KO_F32 && hopper && !s->attn_simple && !s->attn_fa && ko_attn_wg_fits(c.head_dim) &&
            (c.head_dim == 256 || s->wg_force);
    const ko_hgemm_rope shape = {NULL, NULL, NULL, 0.f, 0, c.n_heads * c.head_dim, c.n_kv_heads * c.head_dim, c.head_dim};
    s->hg_qkv = s->hg && !(hge && !strcmp(hge, "glu")) && ko_hgemm_rope_fits(qkv_width(c), c.hidden, &shape);
    if (getenv("KOEVAL_CUDA_HGEMM_CLUSTER")) ko_hgemm_set_cluster(atoi(getenv("KOEVAL_CUDA_HGEMM_CLUSTER")));
    int rc = open_device(s, e);
    if (rc || upload_weights(s, m, e)) {
        state_free(s);
        return -1;
    }
    /* LM head tiling: at most RG rows x VC vocabulary columns of logits at a time (the [tokens x vocab]
     * matrix is never stored); KOEVAL_CUDA_LMHEAD=rows,cols overrides (tests use it to force tiling). */
    s->RG = 2048;
    s->VC = 32768;
    const char *lm = getenv("KOEVAL_CUDA_LMHEAD");
    if (lm) {
        int a = 0, b = 0;
        if (sscanf(lm, "%d,%d", &a, &b) == 2 && a > 0 && b > 0) s->RG = a, s->VC = b;
    }
    if (s->VC > c.vocab_size) s->VC = c.vocab_size;
    if (prepare(s, e)) {
        state_free(s);
        return -1;
    }
    s->prop.name[sizeof s->prop.name - 1] = 0;
    s->load_s = ko_now() - t0;
    note_peak(s);
    if (s->verbose)
        fprintf(stderr, "koeval: cuda: %s, weights in %.2f s (%.2f GB/s), gated feed-forward %s, q/k/v %s\n", s->prop.name, s->load_s,
                s->weight_bytes / 1e9 / (s->load_s > 0 ? s->load_s : 1e-9), s->hg ? "fused (hgemm)" : "cuBLASLt + activation",
                s->hg_qkv ? "with norm + RoPE fused (hgemm)" : "cuBLASLt + norm/RoPE");
    *state = s;
    return 0;
}

/* ---- the forward pass ---- */

/* Y[M, N] = X[M, K] * W[N, K]^T (+ beta * Y), row-major, through the plans of engine/cuda/gemm.cuh. */
int gemm(cuda_state *s, const void *W, const void *X, void *Y, int M, int N, int K, float beta, ko_err *e) {
    return ko_gemm_run(s->gm, W, X, Y, M, N, K, beta, e);
}

struct dev_meta {
    int *tok, *pos, *br, *rows, *row_ts, *row_tn, *ttok, *trow, *gst;
    ko_tile *tiles;
    float *lp;
    unsigned char *greedy;
};

enum { P_EMBED, P_QKV, P_ROPE, P_ATTN, P_O, P_NORM, P_GU, P_ACT, P_DOWN, P_LMGEMM, P_LMLSE, P_NCAT };
const char *pname[P_NCAT] = {"embed", "qkv_gemm", "qknorm_rope", "attention", "o_gemm", "resid_norm",
                             "gateup_gemm", "act", "down_gemm", "lmhead_gemm", "lmhead_lse"};
inline void mark(cuda_state *s, int cat) {
    if (!s->profile || s->npev >= 1024) return;
    if (!s->pev[s->npev]) cudaEventCreate(&s->pev[s->npev]);
    cudaEventRecord(s->pev[s->npev], s->st);
    s->pcat[s->npev++] = cat;
}
void prof_collect(cuda_state *s) {
    if (!s->profile) return;
    cudaEventSynchronize(s->pev[s->npev - 1]);
    for (int i = 1; i < s->npev; i++) {
        float ms = 0;
        cudaEventElapsedTime(&ms, s->pev[i - 1], s->pev[i]);
        s->ptime[s->pcat[i]] += ms / 1e3;
    }
    s->npev = 0;
}

inline int grid_for(long long n, int bs) {
    long long g = (n + bs - 1) / bs;
    return (int)(g > 65535 * 8 ? 65535 * 8 : (g < 1 ? 1 : g));
}

/* Tensor-core attention (attn_fa_k) for 16-bit types and head_dim 16, 32, 64, 128 or 256: returns
 * the query heads per block (the largest divisor of the GQA group up to 8: they share each K/V chunk),
 * or 0 for the plain kernel (fp32, other head_dim, KOEVAL_CUDA_ATTN=simple for comparisons). */
template <class T> int fa_heads(const cuda_state *s) {
    const int hd = s->cfg.head_dim, grp = s->cfg.n_heads / s->cfg.n_kv_heads;
    if (sizeof(T) != 2 || s->attn_simple || (hd != 16 && hd != 32 && hd != 64 && hd != 128 && hd != 256)) return 0;
    int gw = 8;
    while (grp % gw) gw--;
    return gw;
}
template <class T, int HD> void *fa_fn() { return (void *)attn_fa_k<T, HD>; }
template <class T> void *fa_kernel(int hd, size_t *smem, int warps) {
    switch (hd) {
    case 16: *smem = fa_smem<16>(warps); return fa_fn<T, 16>();
    case 32: *smem = fa_smem<32>(warps); return fa_fn<T, 32>();
    case 64: *smem = fa_smem<64>(warps); return fa_fn<T, 64>();
    case 128: *smem = fa_smem<128>(warps); return fa_fn<T, 128>();
    default: *smem = fa_smem<256>(warps); return fa_fn<T, 256>();
    }
}

/* The row kernel, vectorised to 16 bytes per access when the hidden size allows it. */
template <class T>
void rowk(cuda_state *s, int n, T *X, const T *Y, const T *postw, const T *prew, T *out, const int *rows, int H, float eps, int p1) {
    constexpr int V = 16 / sizeof(T);
    if (H % V == 0) row_k<T, V><<<n, 128, 0, s->st>>>(X, Y, postw, prew, out, rows, H, eps, p1);
    else row_k<T, 1><<<n, 256, 0, s->st>>>(X, Y, postw, prew, out, rows, H, eps, p1);
}

/* The model over one batch, up to its rows' final norm: they land in HN from row hrow (their place in
 * the LM-head span). gst: the batch's attention tile groups (ng starts relative to its tiles, then the end). */
template <class T> int run_batch(cuda_state *s, const dev_meta *dm, const ko_batch *b, const int *gst, int ng, int hrow, ko_err *e) {
    const ko_config &c = s->cfg;
    const int H = c.hidden, nh = c.n_heads, nkv = c.n_kv_heads, hd = c.head_dim, I = c.intermediate;
    const int nt = b->nt, S = qkv_width(c);
    const float eps = (float)c.rms_eps;
    const int p1 = c.norm_plus_one ? 1 : 0;
    T *X = (T *)s->X, *XN = (T *)s->XN, *Y = (T *)s->Y;
    T *QKV = (T *)s->S1, *A = QKV + (size_t)nt * S, *GU = (T *)s->S1, *ACT = GU + (size_t)nt * 2 * I;
    const int *tok = dm->tok + b->t0, *pos = dm->pos + b->t0, *br = dm->br + b->t0;
    const bool pruned = !s->no_prune && b->nrow < nt;
    T *R = X; /* the final residual stream; with pruning, one row per LM-head row */
    const ko_tile *tiles = dm->tiles + b->tile0;
    cudaStream_t st = s->st;
    mark(s, P_EMBED);
    embed_k<T><<<nt, 256, 0, st>>>((const T *)s->embed, tok, X, H, c.scale_embeddings ? 1 : 0);
    rowk<T>(s, nt, X, NULL, NULL, (const T *)s->L[0].attn_norm, XN, NULL, H, eps, p1);
    mark(s, P_EMBED);
    const size_t asm_bytes = att_smem(hd, sizeof(T));
    T *cs_g = (T *)s->CS, *cs_l = cs_g + (size_t)nt * hd;
    if (s->hg_qkv) {
        rope_table_k<T><<<nt, 128, 0, st>>>(pos, s->invf_g, hd, cs_g);
        rope_table_k<T><<<nt, 128, 0, st>>>(pos, s->invf_l, hd, cs_l);
        mark(s, P_ROPE);
    }
    for (int l = 0; l < c.n_layers; l++) {
        const layer_w *w = &s->L[l];
        if (w->bqkv) {
            long long tot = (long long)nt * S;
            bias_fill_k<T><<<grid_for(tot, 256), 256, 0, st>>>(QKV, (const T *)w->bqkv, S, tot);
        }
        if (s->hg_qkv && !w->bqkv) { /* same bits as the two steps below (tests/cuda/test_cuda_hgemm) */
            const ko_hgemm_rope rp = {w->sliding ? cs_l : cs_g, w->qn, w->kn, eps, p1, nh * hd, nkv * hd, hd};
            if (ko_hgemm_qkv(st, s->dt == KO_F16, w->wqkv, XN, QKV, nt, S, H, &rp, s->prop.multiProcessorCount, e)) return -1;
            mark(s, P_QKV);
        } else {
            if (gemm(s, w->wqkv, XN, QKV, nt, S, H, w->bqkv ? 1.f : 0.f, e)) return -1;
            mark(s, P_QKV);
            qk_rope_k<T><<<nt, 128, 5 * hd * sizeof(float), st>>>(QKV, pos, nh, nkv, hd, S, (const T *)w->qn, (const T *)w->kn, eps, p1,
                                                                   w->sliding ? s->invf_l : s->invf_g);
        }
        mark(s, P_ROPE);
        {
            float sc = (float)c.attn_scale, cap = (float)c.attn_softcap;
            int win = w->sliding ? c.sliding_window : 0;
            if (s->wg_on) {
                if (ko_attn_wg_run(st, s->dt == KO_F16, hd, QKV, A, tiles, gst, ng, pos, br, nh, nkv, S, sc, cap, win, e)) return -1;
            } else if (s->fa) {
                void *args[] = {&QKV, &A, &tiles, &gst, &pos, &br, (void *)&nh, (void *)&nkv, (void *)&S, &sc, &cap, &win, &s->fa_gw};
                CK(cudaLaunchKernel(s->fa, dim3(ng, nh / s->fa_gw), dim3(32 * s->fa_gw * s->fa_qg), args, s->fa_bytes, st));
            } else {
                attn_k<T><<<dim3(b->ntile, nh), 128, asm_bytes, st>>>(QKV, A, tiles, pos, br, nh, nkv, hd, S, sc, cap, win);
            }
        }
        mark(s, P_ATTN);
        if (gemm(s, w->wo, A, Y, nt, H, nh * hd, 0.f, e)) return -1;
        mark(s, P_O);
        rowk<T>(s, nt, X, Y, (const T *)w->post_attn, (const T *)w->ffn_norm, XN, NULL, H, eps, p1);
        mark(s, P_NORM);
        /* The last layer's feed-forward only feeds the LM head: run it over the rows that need logits
         * (gathered: the normed input into Y, the residual into XN; the output lands in X). */
        int m = nt;
        T *res = X, *in = XN, *ffo = Y;
        if (pruned && l == c.n_layers - 1) {
            gather_k<T><<<b->nrow, 128, 0, st>>>(XN, Y, dm->rows + b->row0, H);
            gather_k<T><<<b->nrow, 128, 0, st>>>(X, XN, dm->rows + b->row0, H);
            m = b->nrow, res = XN, in = Y, ffo = X, R = XN;
            mark(s, P_NORM);
        }
        if (s->hg) { /* same bits as the two steps below (tests/cuda/test_cuda_hgemm) */
            if (ko_hgemm_run(st, s->dt == KO_F16, w->wgu, in, ACT, m, 2 * I, H, (int)c.act, s->prop.multiProcessorCount, e)) return -1;
            mark(s, P_GU);
        } else {
            if (gemm(s, w->wgu, in, GU, m, 2 * I, H, 0.f, e)) return -1;
            mark(s, P_GU);
            constexpr int AV = 16 / sizeof(T);
            if (I % AV == 0)
                act_mul_k<T, AV><<<dim3(m, (I / AV + 127) / 128), 128, 0, st>>>(GU, ACT, I, (int)c.act);
            else
                act_mul_k<T, 1><<<dim3(m, (I + 127) / 128), 128, 0, st>>>(GU, ACT, I, (int)c.act);
        }
        mark(s, P_ACT);
        if (gemm(s, w->wd, ACT, ffo, m, H, I, 0.f, e)) return -1;
        mark(s, P_DOWN);
        const T *next = l + 1 < c.n_layers ? (const T *)s->L[l + 1].attn_norm : NULL;
        rowk<T>(s, m, res, ffo, (const T *)w->post_ffn, next, XN, NULL, H, eps, p1);
        mark(s, P_NORM);
        CK(cudaGetLastError());
    }
    T *hn = (T *)s->HN + (size_t)hrow * H;
    if (pruned) rowk<T>(s, b->nrow, R, NULL, NULL, (const T *)s->final_norm, hn, NULL, H, eps, p1);
    else rowk<T>(s, b->nrow, R, NULL, NULL, (const T *)s->final_norm, hn, dm->rows + b->row0, H, eps, p1);
    mark(s, P_NORM);
    CK(cudaGetLastError());
    prof_collect(s);
    return 0;
}

/* The LM head over an LM-head span's rows (in HN; row_ts and trow relative to the span), in products
 * of RG rows x VC vocabulary columns, each chunk's logits folded into the rows' running log-sum-exp:
 * [rows x vocab] is never stored. */
template <class T> int run_head(cuda_state *s, const dev_meta *dm, const ko_span *sp, ko_err *e) {
    const ko_config &c = s->cfg;
    const int H = c.hidden, nrow = sp->nrow, tg0 = sp->tg0, ntg = sp->ntg;
    const int *row_ts = dm->row_ts + sp->row0, *row_tn = dm->row_tn + sp->row0;
    cudaStream_t st = s->st;
    rowst_init_k<<<(nrow + 255) / 256, 256, 0, st>>>(s->rowst, nrow);
    const T *W = (const T *)s->lm_head;
    for (int g0 = 0; g0 < nrow; g0 += s->RG) {
        int rg = nrow - g0 < s->RG ? nrow - g0 : s->RG;
        for (int v0 = 0; v0 < c.vocab_size; v0 += s->VC) {
            int nv = c.vocab_size - v0 < s->VC ? c.vocab_size - v0 : s->VC;
            mark(s, P_LMLSE);
            if (gemm(s, W + (size_t)v0 * H, (const T *)s->HN + (size_t)g0 * H, s->LG, rg, nv, H, 0.f, e)) return -1;
            mark(s, P_LMGEMM);
            lse_chunk_k<T><<<rg, 256, 0, st>>>((const T *)s->LG, nv, v0, (float)c.final_softcap, (int)s->sd, s->rowst + g0, row_ts + g0,
                                               row_tn + g0, dm->ttok + tg0, s->tgst);
        }
    }
    lse_final_k<<<(ntg + 255) / 256, 256, 0, st>>>(s->rowst, dm->trow + tg0, s->tgst, (int)s->sd, dm->lp + tg0,
                                                   dm->greedy + tg0, ntg);
    mark(s, P_LMLSE);
    CK(cudaGetLastError());
    prof_collect(s);
    return 0;
}

/* One LM-head span: its batches through the model, then the LM head over all their rows. bg0: where
 * each batch's attention tile groups start in dm->gst (ko_group_tiles). */
template <class T> int run_span(cuda_state *s, const dev_meta *dm, const ko_packed *p, const ko_span *sp, const int *bg0, ko_err *e) {
    for (int i = sp->b0; i < sp->b0 + sp->nb; i++)
        if (run_batch<T>(s, dm, &p->b[i], dm->gst + bg0[i], bg0[i + 1] - bg0[i] - 1, p->b[i].row0 - sp->row0, e)) return -1;
    return run_head<T>(s, dm, sp, e);
}

template <class T> int set_smem_limit(cuda_state *s, ko_err *e) {
    size_t need = att_smem(s->cfg.head_dim, sizeof(T));
    CK(cudaFuncSetAttribute(attn_k<T>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)need));
    s->fa = NULL;
    s->fa_gw = fa_heads<T>(s);
    /* Tiles per block: as many as make 4 warps (NOTES.md: 12b, 2 tiles of 2 heads: attention 7.82 s at
     * 5-shot against 8.53 s with 4 tiles and 8.62 with 1; at 0-shot 0.465 s against 0.449 with 1).
     * KOEVAL_CUDA_ATTN_GROUP=n sets it (at most 8 warps: 8 / fa_gw), for comparisons and the tests. */
    const char *ag = getenv("KOEVAL_CUDA_ATTN_GROUP");
    const int most = s->fa_gw ? 8 / s->fa_gw : 1;
    s->fa_qg = s->fa_gw && s->fa_gw < 4 ? 4 / s->fa_gw : 1;
    if (ag && atoi(ag) >= 1) s->fa_qg = atoi(ag) < most ? atoi(ag) : most;
    /* attn_wg: a warp group's four tiles (fewer with KOEVAL_CUDA_ATTN_GROUP, for the tests) */
    s->wg_qg = ag && atoi(ag) >= 1 && atoi(ag) < KO_ATTN_WG_TILES ? atoi(ag) : KO_ATTN_WG_TILES;
    if constexpr (sizeof(T) == 2) if (s->fa_gw) {
        void *fa = fa_kernel<T>(s->cfg.head_dim, &s->fa_bytes, s->fa_gw * s->fa_qg);
        if (s->fa_bytes > s->prop.sharedMemPerBlockOptin)
            return ko_fail(e, "cuda: attention needs %zu bytes of shared memory per block, the card has %zu", s->fa_bytes,
                           (size_t)s->prop.sharedMemPerBlockOptin);
        CK(cudaFuncSetAttribute(fa, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)s->fa_bytes));
        s->fa = fa;
    }
    return 0;
}

/* Picks the token budget: what fits in gpu_memory_utilization of the card after the weights, at most
 * 16384 tokens (measured 14.38 s against 14.56 s at 8192 on the 12b shape: NOTES.md), never less than the longest document. */
int pick_budget(cuda_state *s, int longest) {
    if (s->batch_tokens_opt > 0) return s->batch_tokens_opt > longest ? s->batch_tokens_opt : longest;
    size_t fr = 0, tot = 0;
    cudaMemGetInfo(&fr, &tot);
    double allowed = tot * s->util - (double)(tot - fr);
    if (s->Tb) allowed += (double)s->Tb * bytes_per_token(s); /* our own buffers would be replaced */
    allowed -= (double)s->RG * s->VC * s->esz + (64 << 20);
    long long tb = allowed > 0 ? (long long)(allowed / bytes_per_token(s)) : 0;
    if (tb > 16384) tb = 16384;
    if (tb < longest) tb = longest;
    return (int)tb;
}

/* At open: the activation buffers for the automatic budget (halved while they do not fit), so the
 * first score call finds them ready; with KOEVAL_CUDA_GEMM=tune also the layer GEMMs and the LM head
 * tuned at that many rows. A shape that cannot be tuned keeps the heuristic's algorithm (tuning never
 * changes a result: gemm.cuh). */
int prepare(cuda_state *s, ko_err *e) {
    double t0 = ko_now();
    int Tb = pick_budget(s, 1);
    while (alloc_buffers(s, Tb, 2 * Tb, e)) {
        if (Tb <= 64) return -1;
        Tb /= 2;
        if (s->verbose) fprintf(stderr, "koeval: cuda: out of memory, batch budget halved to %d tokens\n", Tb);
    }
    if (!s->tune) return 0;
    const ko_config &c = s->cfg;
    const int H = c.hidden, I = c.intermediate;
    const layer_w *w = &s->L[0];
    struct {
        const char *what;
        const void *W;
        void *X, *Y;
        int M, N, K;
    } g[] = {
        {"qkv", w->wqkv, s->XN, s->S1, Tb, qkv_width(c), H},
        {"o", w->wo, s->S1, s->Y, Tb, H, c.n_heads * c.head_dim},
        {"gate_up", s->hg ? NULL : w->wgu, s->XN, s->S1, Tb, 2 * I, H}, /* with s->hg not a cuBLASLt product */
        {"down", w->wd, s->S1, s->Y, Tb, H, I},
        {"lm_head", s->lm_head, s->HN, s->LG, s->RG, s->VC, H},
    };
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++) {
        ko_err te = {};
        if (!g[i].W) continue;
        if (ko_gemm_tune(s->gm, g[i].W, g[i].X, g[i].Y, g[i].M, g[i].N, g[i].K, g[i].what, s->verbose, &te)) {
            cudaGetLastError();
            if (s->verbose) fprintf(stderr, "koeval: cuda: gemm %s not tuned: %s\n", g[i].what, te.msg);
        }
    }
    if (s->verbose) fprintf(stderr, "koeval: cuda: buffers for %d tokens, GEMMs tuned in %.2f s\n", Tb, ko_now() - t0);
    return 0;
}

int cuda_score(void *state, ko_doc *docs, int n, ko_err *e) {
    cuda_state *s = (cuda_state *)state;
    double t0 = ko_now();
    const ko_config &c = s->cfg;
    int longest = 1;
    long long unshared = 0; /* tokens without prefix sharing (for --verbose) */
    for (int i = 0; i < n; i++) {
        const ko_doc *d = &docs[i];
        if (d->n_ctx < 1 || d->n_choices < 1) return ko_fail(e, "cuda: document %d: empty context or no choices", i);
        if (d->n_choices > KO_BR_MAX) return ko_fail(e, "cuda: document %d: %d choices, more than %d", i, d->n_choices, KO_BR_MAX);
        for (int j = 0; j < d->n_ctx; j++)
            if (d->ctx[j] < 0 || d->ctx[j] >= c.vocab_size) return ko_fail(e, "cuda: document %d: token id %d out of range", i, d->ctx[j]);
        for (int k = 0; k < d->n_choices; k++) {
            if (d->n_cont[k] < 1) return ko_fail(e, "cuda: document %d choice %d: empty continuation", i, k);
            if (d->n_ctx + d->n_cont[k] - 1 > s->max_len)
                return ko_fail(e, "cuda: document %d choice %d: %d tokens exceed max length %d", i, k, d->n_ctx + d->n_cont[k] - 1, s->max_len);
            for (int j = 0; j < d->n_cont[k]; j++)
                if (d->cont[k][j] < 0 || d->cont[k][j] >= c.vocab_size)
                    return ko_fail(e, "cuda: document %d: token id %d out of range", i, d->cont[k][j]);
            d->logprob[k] = 0.0;
            d->is_greedy[k] = true;
        }
        int len = ko_doc_len(d);
        if (len > longest) longest = len;
        unshared += len;
    }
    if (n == 0) return 0;
    CK(cudaSetDevice(s->dev));
    if (s->dt == KO_F32) { if (set_smem_limit<float>(s, e)) return -1; }
    else if (s->dt == KO_F16) { if (set_smem_limit<__half>(s, e)) return -1; }
    else if (set_smem_limit<bf16>(s, e)) return -1;

    /* Budget, buffers, packing; out of memory halves the budget and tries again. */
    int Tb = pick_budget(s, longest);
    ko_packed p = {};
    ko_span *sp = NULL; /* LM-head spans (ko_head_spans) */
    int nsp = 0;
    for (;;) {
        ko_pack(docs, n, Tb, s->share, &p);
        free(sp);
        sp = (ko_span *)ko_xmalloc(sizeof(ko_span) * (size_t)(p.nb + 1));
        nsp = ko_head_spans(&p, head_rows_for(s, Tb), sp);
        int maxtg = 0;
        for (int k = 0; k < nsp; k++) maxtg = sp[k].ntg > maxtg ? sp[k].ntg : maxtg;
        if (s->Tb >= Tb && s->max_tgt >= maxtg) break;
        free_buffers(s);
        if (alloc_buffers(s, Tb, maxtg, e) == 0) break;
        ko_packed_free(&p);
        if (Tb <= longest) {
            free(sp);
            return -1;
        }
        Tb = Tb / 2 > longest ? Tb / 2 : longest;
        if (s->verbose) fprintf(stderr, "koeval: cuda: out of memory, batch budget halved to %d tokens\n", Tb);
    }

    /* Attention tile groups, per batch: runs of up to fa_qg consecutive tiles of one document. */
    int *bg0 = (int *)ko_xmalloc(sizeof(int) * (size_t)(p.nb + 1)), *gs = (int *)ko_xmalloc(sizeof(int) * (size_t)(p.ntile + p.nb));
    /* attn_wg for long documents (NOTES.md, session 16: 12b, 5-shot, 447 tokens per document: 4.09 s
     * against attn_fa_k's 6.39; 0-shot, 78 tokens: 0.43 against 0.38, its 64-row products half empty) */
    s->wg_on = s->wg && (s->wg_force || p.ntok >= KO_WG_MIN_TOKENS * (long long)n);
    int ngs = ko_group_tiles(&p, s->wg_on ? s->wg_qg : s->fa ? s->fa_qg : 1, bg0, gs);
    if (s->verbose)
        fprintf(stderr, "koeval: cuda: %d docs, %d tokens (%lld before prefix sharing), %d batches of <= %d tokens, attention %s\n", n,
                p.ntok, unshared, p.nb, Tb, s->wg_on ? "attn_wg (wgmma)" : s->fa ? "attn_fa_k (mma.sync)" : "attn_k");
    /* All batches' metadata in one pinned buffer and one upload. */
    size_t ni = (size_t)3 * p.ntok + 3 * (size_t)p.nrow + 2 * (size_t)p.ntg + (size_t)ngs;
    size_t bytes = ni * 4 + (size_t)p.ntile * sizeof(ko_tile) + (size_t)p.ntg * 5 + 256;
    char *hbuf = NULL, *dbuf = NULL;
    dev_meta dm = {};
    float *lp_h = NULL;
    unsigned char *gr_h = NULL;
    int rc = -1;
    if (cudaHostAlloc((void **)&hbuf, bytes, cudaHostAllocDefault) != cudaSuccess || cudaMalloc((void **)&dbuf, bytes) != cudaSuccess) {
        ko_fail(e, "cuda: cannot allocate %.1f MiB for batch metadata", bytes / 1048576.0);
        goto out;
    }
    {
        size_t off = 0;
        auto put = [&](const void *src, size_t nb) -> void * {
            void *d = dbuf + off;
            if (src) memcpy(hbuf + off, src, nb);
            off += (nb + 15) & ~(size_t)15;
            return d;
        };
        dm.tok = (int *)put(p.tok, 4 * (size_t)p.ntok);
        dm.pos = (int *)put(p.pos, 4 * (size_t)p.ntok);
        dm.br = (int *)put(p.br, 4 * (size_t)p.ntok);
        dm.rows = (int *)put(p.rows, 4 * (size_t)p.nrow);
        dm.row_ts = (int *)put(p.row_ts, 4 * (size_t)p.nrow);
        dm.row_tn = (int *)put(p.row_tn, 4 * (size_t)p.nrow);
        dm.ttok = (int *)put(p.ttok, 4 * (size_t)p.ntg);
        dm.trow = (int *)put(p.trow, 4 * (size_t)p.ntg);
        dm.tiles = (ko_tile *)put(p.tiles, sizeof(ko_tile) * (size_t)p.ntile);
        dm.gst = (int *)put(gs, 4 * (size_t)ngs);
        size_t in_bytes = off;
        dm.lp = (float *)put(NULL, 4 * (size_t)p.ntg);
        dm.greedy = (unsigned char *)put(NULL, (size_t)p.ntg);
        if (off > bytes) {
            ko_fail(e, "cuda: internal: metadata layout overflow");
            goto out;
        }
        if (cudaMemcpyAsync(dbuf, hbuf, in_bytes, cudaMemcpyHostToDevice, s->st) != cudaSuccess) {
            ko_fail(e, "cuda: metadata upload failed");
            goto out;
        }
    }
    for (int k = 0; k < nsp; k++) {
        int r;
        if (s->dt == KO_F32) r = run_span<float>(s, &dm, &p, &sp[k], bg0, e);
        else if (s->dt == KO_F16) r = run_span<__half>(s, &dm, &p, &sp[k], bg0, e);
        else r = run_span<bf16>(s, &dm, &p, &sp[k], bg0, e);
        if (r) goto out;
    }
    lp_h = (float *)ko_xmalloc(4 * (size_t)p.ntg + 4);
    gr_h = (unsigned char *)ko_xmalloc((size_t)p.ntg + 1);
    if (cudaMemcpyAsync(lp_h, dm.lp, 4 * (size_t)p.ntg, cudaMemcpyDeviceToHost, s->st) != cudaSuccess ||
        cudaMemcpyAsync(gr_h, dm.greedy, (size_t)p.ntg, cudaMemcpyDeviceToHost, s->st) != cudaSuccess) {
        ko_fail(e, "cuda: result download failed");
        goto out;
    }
    {
        cudaError_t err = cudaStreamSynchronize(s->st);
        if (err != cudaSuccess) {
            ko_fail(e, "cuda: scoring failed: %s", cudaGetErrorString(err));
            goto out;
        }
    }
    note_peak(s);
    for (int t = 0; t < p.ntg; t++) {
        ko_doc *d = &docs[p.tdoc[t]];
        float v = lp_h[t];
        if (v != v) {
            ko_fail(e, "cuda: NaN log-likelihood (document %d choice %d)", p.tdoc[t], p.tchoice[t]);
            goto out;
        }
        ko_engine_add_logprob(&d->logprob[p.tchoice[t]], v, s->sd);
        if (!gr_h[t]) d->is_greedy[p.tchoice[t]] = false;
    }
    ko_engine_round_sums(docs, n, s->sd);
    s->tokens += p.ntok;
    s->docs += n;
    if (s->profile) {
        double tot = 0;
        for (int i = 0; i < P_NCAT; i++) tot += s->ptime[i];
        fprintf(stderr, "koeval: cuda profile (cumulative, %.3f s in kernels):", tot);
        for (int i = 0; i < P_NCAT; i++) fprintf(stderr, " %s %.3f", pname[i], s->ptime[i]);
        fprintf(stderr, "\n");
    }
    rc = 0;
out:
    free(lp_h);
    free(gr_h);
    free(bg0);
    free(gs);
    free(sp);
    if (hbuf) cudaFreeHost(hbuf);
    if (dbuf) cudaFree(dbuf);
    ko_packed_free(&p);
    s->score_s += ko_now() - t0;
    return rc;
}

void cuda_stats(void *state, ko_engine_stats *st) {
    cuda_state *s = (cuda_state *)state;
    memset(st, 0, sizeof *st);
    size_t nn = strnlen(s->prop.name, sizeof st->device_name - 1);
    memcpy(st->device_name, s->prop.name, nn);
    st->device_name[nn] = 0;
    st->load_s = s->load_s;
    st->score_s = s->score_s;
    st->tokens = s->tokens;
    st->docs = s->docs;
    st->peak_mem_bytes = s->peak;
}

void cuda_close(void *state) { state_free((cuda_state *)state); }

} // namespace

extern "C" const ko_backend ko_backend_cuda = {"cuda", cuda_open, cuda_score, cuda_stats, cuda_close};
