/* test_cuda_engine — the CUDA backend against a plain float64 reference written here, on tiny
 * random-init models of every architecture flavour the decoder has (Gemma 3: q/k norm, post norms,
 * (1+w) norms, scaled embeddings, sliding/global layers with two RoPE bases + linear scaling;
 * Gemma 2: attention and final soft-capping, head_dim 256; Llama: SwiGLU, llama3 RoPE scaling, GQA,
 * untied head; Qwen 2: q/k/v biases, head_dim 64).
 *
 * The reference scores each choice the lm-eval way — one causal pass over (ctx + cont)[:-1] per
 * choice — so it also checks the backend's packing, tree mask, restarted positions, batching and the
 * chunked LM head (forced small tiles through KOEVAL_CUDA_LMHEAD). Choice 0 of every document is the
 * reference's own greedy continuation, so is_greedy is exercised both ways.
 *
 * Without a CUDA build or without a GPU it prints a SKIP line and passes (CI has no GPU). */
#include <stdint.h>

#include "engine/engine.h"
#include "tests/test.h"

#ifndef KO_HAVE_CUDA
int main(void) {
    printf("SKIP cuda/test_cuda_engine: built without CUDA (no nvcc)\n");
    TEST_END();
}
#else

/* ---- tiny random models ---- */
static uint64_t rng_state = 88172645463325252ull;
static double urand(void) {
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
    return ((rng_state >> 11) + 0.5) / 9007199254740992.0;
}
static float nrand(void) { return (float)(sqrt(-2 * log(urand())) * cos(6.283185307179586 * urand())); }

#define MAX_ALLOC 256
static void *allocs[MAX_ALLOC];
static int nalloc;
static ko_tensor mk(int64_t a, int64_t b, float mean, float std) {
    ko_tensor t = {0};
    t.dtype = KO_F32;
    t.ndim = b ? 2 : 1;
    t.shape[0] = a;
    t.shape[1] = b;
    int64_t n = a * (b ? b : 1);
    float *p = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) p[i] = mean + std * nrand();
    allocs[nalloc++] = p;
    t.data = p;
    return t;
}
static void free_allocs(void) {
    for (int i = 0; i < nalloc; i++) free(allocs[i]);
    nalloc = 0;
}

typedef enum { A_GEMMA3, A_GEMMA2, A_LLAMA, A_QWEN2, A_MISTRAL, A_N } arch;
static const char *arch_name[] = {"gemma3", "gemma2", "llama", "qwen2", "mistral"};

static void build(ko_model *m, arch a) {
    memset(m, 0, sizeof *m);
    ko_config *c = &m->cfg;
    c->vocab_size = 40000;
    c->hidden = 64;
    c->n_layers = 4;
    c->rms_eps = 1e-6;
    c->max_pos = 4096;
    c->rope.theta = c->rope_local.theta = 10000;
    c->bos_id = 2; c->eos_id = 1; c->pad_id = 0;
    static bool slide[4];
    memset(slide, 0, sizeof slide);
    c->layer_sliding = slide;
    switch (a) {
    case A_GEMMA3:
        snprintf(c->model_type, sizeof c->model_type, "gemma3_text");
        c->n_heads = 4; c->n_kv_heads = 2; c->head_dim = 32; c->intermediate = 128;
        c->norm_plus_one = c->qk_norm = c->post_norms = c->scale_embeddings = c->tie_embeddings = true;
        c->act = KO_ACT_GELU_TANH;
        c->attn_scale = 1.0 / sqrt(24.0);
        c->sliding_window = 8;
        slide[0] = slide[1] = slide[3] = true;
        c->rope.theta = 1e6; c->rope.kind = KO_ROPE_LINEAR; c->rope.factor = 8;
        break;
    case A_GEMMA2:
        snprintf(c->model_type, sizeof c->model_type, "gemma2");
        c->n_heads = 2; c->n_kv_heads = 1; c->head_dim = 256; c->intermediate = 96;
        c->norm_plus_one = c->post_norms = c->scale_embeddings = c->tie_embeddings = true;
        c->act = KO_ACT_GELU_TANH;
        c->attn_scale = 1.0 / 16;
        c->attn_softcap = 1.5;
        c->final_softcap = 3.0;
        c->sliding_window = 6;
        slide[0] = slide[2] = true;
        break;
    case A_LLAMA:
        snprintf(c->model_type, sizeof c->model_type, "llama");
        c->n_heads = 8; c->n_kv_heads = 2; c->head_dim = 16; c->intermediate = 160;
        c->act = KO_ACT_SILU;
        c->attn_scale = 0.25;
        c->rope.theta = 500000; c->rope.kind = KO_ROPE_LLAMA3; c->rope.factor = 8;
        c->rope.low_freq_factor = 1; c->rope.high_freq_factor = 4; c->rope.original_max_pos = 64;
        break;
    case A_QWEN2:
        snprintf(c->model_type, sizeof c->model_type, "qwen2");
        c->n_heads = 4; c->n_kv_heads = 4; c->head_dim = 64; c->intermediate = 128;
        c->qkv_bias = c->tie_embeddings = true;
        c->act = KO_ACT_SILU;
        c->attn_scale = 0.125;
        break;
    case A_MISTRAL: /* head_dim 128 (Mistral, Llama 3.1, Qwen2.5, EXAONE), a GQA group of 4 (built last: the others' random streams stay) */
        snprintf(c->model_type, sizeof c->model_type, "mistral");
        c->n_heads = 8; c->n_kv_heads = 2; c->head_dim = 128; c->intermediate = 128;
        c->act = KO_ACT_SILU;
        c->attn_scale = 1.0 / sqrt(128.0);
        c->rope.theta = 1e6;
        break;
    case A_N: break;
    }
    if (a != A_GEMMA3) c->rope_local = c->rope;
    const int64_t H = c->hidden, hd = c->head_dim, qd = c->n_heads * hd, kd = c->n_kv_heads * hd, I = c->intermediate;
    const float nm = c->norm_plus_one ? 0.f : 1.f; /* norm weights around 1 (or 1 + w around 1) */
    m->dtype = KO_F32;
    m->embed = mk(c->vocab_size, H, 0, 1.0f);
    m->final_norm = mk(H, 0, nm, 0.1f);
    m->lm_head = c->tie_embeddings ? m->embed : mk(c->vocab_size, H, 0, 0.15f);
    if (c->tie_embeddings && !c->scale_embeddings) m->embed = m->lm_head = mk(c->vocab_size, H, 0, 0.3f);
    m->layers = calloc((size_t)c->n_layers, sizeof(ko_layer));
    allocs[nalloc++] = m->layers;
    for (int l = 0; l < c->n_layers; l++) {
        ko_layer *y = &m->layers[l];
        y->attn_norm = mk(H, 0, nm, 0.1f);
        y->ffn_norm = mk(H, 0, nm, 0.1f);
        y->wq = mk(qd, H, 0, 0.15f);
        y->wk = mk(kd, H, 0, 0.15f);
        y->wv = mk(kd, H, 0, 0.15f);
        y->wo = mk(H, qd, 0, 0.1f);
        y->w_gate = mk(I, H, 0, 0.15f);
        y->w_up = mk(I, H, 0, 0.15f);
        y->w_down = mk(H, I, 0, 0.1f);
        if (c->qkv_bias) { y->bq = mk(qd, 0, 0, 0.5f); y->bk = mk(kd, 0, 0, 0.5f); y->bv = mk(kd, 0, 0, 0.5f); }
        if (c->qk_norm) { y->q_norm = mk(hd, 0, nm, 0.2f); y->k_norm = mk(hd, 0, nm, 0.2f); }
        if (c->post_norms) { y->post_attn_norm = mk(H, 0, nm, 0.1f); y->post_ffn_norm = mk(H, 0, nm, 0.1f); }
    }
}

/* ---- float64 reference: one causal pass over tok[0..n); logits of rows [r0, n) into lg ---- */
static const float *F(const ko_tensor *t) { return (const float *)t->data; }
static void rms(const double *x, const ko_tensor *w, int n, double eps, bool p1, double *y) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    double r = 1 / sqrt(ss / n + eps);
    for (int i = 0; i < n; i++) y[i] = x[i] * r * (p1 ? 1 + F(w)[i] : F(w)[i]);
}
static void matvec(const double *x, const ko_tensor *W, const ko_tensor *b, int out, int in, double *y) {
    for (int o = 0; o < out; o++) {
        double s = b && b->data ? F(b)[o] : 0;
        for (int i = 0; i < in; i++) s += x[i] * F(W)[(int64_t)o * in + i];
        y[o] = s;
    }
}
static double inv_freq(const ko_rope *r, int i, int hd) {
    double f = 1 / pow(r->theta, 2.0 * i / hd);
    if (r->kind == KO_ROPE_LINEAR) return f / r->factor;
    if (r->kind == KO_ROPE_LLAMA3) {
        double lo_wl = r->original_max_pos / r->low_freq_factor, hi_wl = r->original_max_pos / r->high_freq_factor;
        double wl = 2 * M_PI / f;
        if (wl < hi_wl) return f;
        if (wl > lo_wl) return f / r->factor;
        double sm = (r->original_max_pos / wl - r->low_freq_factor) / (r->high_freq_factor - r->low_freq_factor);
        return (1 - sm) * f / r->factor + sm * f;
    }
    return f;
}
static void rope(double *v, int hd, int pos, const ko_rope *r) {
    for (int i = 0; i < hd / 2; i++) {
        double a = pos * inv_freq(r, i, hd), c = cos(a), s = sin(a);
        double x0 = v[i], x1 = v[i + hd / 2];
        v[i] = x0 * c - x1 * s;
        v[i + hd / 2] = x1 * c + x0 * s;
    }
}
static double gelu_tanh(double x) { return 0.5 * x * (1 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))); }

static void ref_forward(const ko_model *m, const int32_t *tok, int n, int r0, double *lg) {
    const ko_config *c = &m->cfg;
    const int H = c->hidden, nh = c->n_heads, nkv = c->n_kv_heads, hd = c->head_dim, I = c->intermediate, V = c->vocab_size;
    const int qd = nh * hd, kd = nkv * hd;
    double *x = calloc((size_t)n * H, 8), *xn = calloc(H, 8), *q = calloc((size_t)n * qd, 8), *k = calloc((size_t)n * kd, 8),
           *v = calloc((size_t)n * kd, 8), *o = calloc(qd, 8), *y = calloc(H, 8), *y2 = calloc(H, 8), *g = calloc(I, 8),
           *u = calloc(I, 8), *sc = calloc(n, 8);
    double es = c->scale_embeddings ? sqrt((double)H) : 1;
    for (int t = 0; t < n; t++)
        for (int i = 0; i < H; i++) x[(int64_t)t * H + i] = F(&m->embed)[(int64_t)tok[t] * H + i] * es;
    for (int l = 0; l < c->n_layers; l++) {
        const ko_layer *w = &m->layers[l];
        bool sl = c->layer_sliding[l];
        const ko_rope *rp = sl ? &c->rope_local : &c->rope;
        for (int t = 0; t < n; t++) {
            rms(x + (int64_t)t * H, &w->attn_norm, H, c->rms_eps, c->norm_plus_one, xn);
            matvec(xn, &w->wq, &w->bq, qd, H, q + (int64_t)t * qd);
            matvec(xn, &w->wk, &w->bk, kd, H, k + (int64_t)t * kd);
            matvec(xn, &w->wv, &w->bv, kd, H, v + (int64_t)t * kd);
            for (int h = 0; h < nh + nkv; h++) {
                double *seg = h < nh ? q + (int64_t)t * qd + h * hd : k + (int64_t)t * kd + (h - nh) * hd;
                if (c->qk_norm) {
                    double tmp[256];
                    rms(seg, h < nh ? &w->q_norm : &w->k_norm, hd, c->rms_eps, c->norm_plus_one, tmp);
                    memcpy(seg, tmp, sizeof(double) * hd);
                }
                rope(seg, hd, t, rp);
            }
        }
        for (int t = 0; t < n; t++) {
            for (int h = 0; h < nh; h++) {
                int gk = h / (nh / nkv);
                double mx = -1e300, den = 0;
                for (int j = 0; j <= t; j++) {
                    sc[j] = -1e300;
                    if (sl && c->sliding_window > 0 && t - j >= c->sliding_window) continue;
                    double s = 0;
                    for (int d = 0; d < hd; d++) s += q[(int64_t)t * qd + h * hd + d] * k[(int64_t)j * kd + gk * hd + d];
                    s *= c->attn_scale;
                    if (c->attn_softcap > 0) s = c->attn_softcap * tanh(s / c->attn_softcap);
                    sc[j] = s;
                    if (s > mx) mx = s;
                }
                for (int d = 0; d < hd; d++) o[h * hd + d] = 0;
                for (int j = 0; j <= t; j++) {
                    if (sc[j] <= -1e299) continue;
                    double p = exp(sc[j] - mx);
                    den += p;
                    for (int d = 0; d < hd; d++) o[h * hd + d] += p * v[(int64_t)j * kd + gk * hd + d];
                }
                for (int d = 0; d < hd; d++) o[h * hd + d] /= den;
            }
            matvec(o, &w->wo, NULL, H, qd, y);
            if (c->post_norms) { rms(y, &w->post_attn_norm, H, c->rms_eps, c->norm_plus_one, y2); memcpy(y, y2, 8 * (size_t)H); }
            for (int i = 0; i < H; i++) x[(int64_t)t * H + i] += y[i];
            /* The MLP only reads this token's row, so doing it right after keeps later rows' keys
             * correct: they come from this layer's attention input, computed above for all t. */
        }
        for (int t = 0; t < n; t++) {
            rms(x + (int64_t)t * H, &w->ffn_norm, H, c->rms_eps, c->norm_plus_one, xn);
            matvec(xn, &w->w_gate, NULL, I, H, g);
            matvec(xn, &w->w_up, NULL, I, H, u);
            for (int i = 0; i < I; i++) {
                double a = c->act == KO_ACT_SILU ? g[i] / (1 + exp(-g[i])) : c->act == KO_ACT_GELU_TANH ? gelu_tanh(g[i]) : 0.5 * g[i] * (1 + erf(g[i] / sqrt(2.0)));
                g[i] = a * u[i];
            }
            matvec(g, &w->w_down, NULL, H, I, y);
            if (c->post_norms) { rms(y, &w->post_ffn_norm, H, c->rms_eps, c->norm_plus_one, y2); memcpy(y, y2, 8 * (size_t)H); }
            for (int i = 0; i < H; i++) x[(int64_t)t * H + i] += y[i];
        }
    }
    for (int t = r0; t < n; t++) {
        rms(x + (int64_t)t * H, &m->final_norm, H, c->rms_eps, c->norm_plus_one, xn);
        double *row = lg + (int64_t)(t - r0) * V;
        matvec(xn, &m->lm_head, NULL, V, H, row);
        if (c->final_softcap > 0)
            for (int i = 0; i < V; i++) row[i] = c->final_softcap * tanh(row[i] / c->final_softcap);
    }
    free(x); free(xn); free(q); free(k); free(v); free(o); free(y); free(y2); free(g); free(u); free(sc);
}

/* log p and greedy of cont after ctx; *gap = smallest top-1/top-2 margin seen (ties make greedy moot). */
static double ref_score(const ko_model *m, const int32_t *ctx, int nc, const int32_t *cont, int nn, bool *greedy, double *gap) {
    int n = nc + nn - 1, V = m->cfg.vocab_size;
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)n);
    memcpy(tok, ctx, sizeof(int32_t) * (size_t)nc);
    memcpy(tok + nc, cont, sizeof(int32_t) * (size_t)(nn - 1));
    double *lg = malloc(sizeof(double) * (size_t)nn * V);
    ref_forward(m, tok, n, nc - 1, lg);
    double lp = 0;
    *greedy = true;
    *gap = 1e9;
    for (int j = 0; j < nn; j++) {
        const double *row = lg + (int64_t)j * V;
        double mx = row[0], m2 = -1e300, s = 0;
        int am = 0;
        for (int i = 1; i < V; i++) {
            if (row[i] > mx) { m2 = mx; mx = row[i]; am = i; }
            else if (row[i] > m2) m2 = row[i];
        }
        for (int i = 0; i < V; i++) s += exp(row[i] - mx);
        lp += row[cont[j]] - mx - log(s);
        if (am != cont[j]) *greedy = false;
        if (mx - m2 < *gap) *gap = mx - m2;
    }
    free(tok); free(lg);
    return lp;
}

/* Greedy continuation of length nn after ctx (so choice 0 scores is_greedy = true). */
static void ref_greedy(const ko_model *m, const int32_t *ctx, int nc, int32_t *out, int nn) {
    int V = m->cfg.vocab_size;
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)(nc + nn));
    memcpy(tok, ctx, sizeof(int32_t) * (size_t)nc);
    double *lg = malloc(sizeof(double) * (size_t)V);
    for (int j = 0; j < nn; j++) {
        ref_forward(m, tok, nc + j, nc + j - 1, lg);
        int am = 0;
        for (int i = 1; i < V; i++) if (lg[i] > lg[am]) am = i;
        out[j] = tok[nc + j] = am;
    }
    free(tok); free(lg);
}

#define NDOC 10
#define KMAX 4
typedef struct {
    int32_t ctx[192];
    int nc, k;
    int32_t cont[KMAX][8];
    const int32_t *cp[KMAX];
    int nn[KMAX];
    double ref[KMAX], gap[KMAX];
    bool rgreedy[KMAX];
    double lp[KMAX];
    bool greedy[KMAX];
} tdoc;

static void make_docs(const ko_model *m, tdoc *d, int nd) {
    for (int i = 0; i < nd; i++) {
        d[i].nc = 1 + (int)(urand() * 40);
        if (i == 0) d[i].nc = 1;
        if (i == 1) d[i].nc = 47;
        if (i == nd - 1) d[i].nc = 190; /* the last one long: several 64-key chunks per tile (drawn last, so the others stay as they were) */
        for (int j = 0; j < d[i].nc; j++) d[i].ctx[j] = (int32_t)(urand() * m->cfg.vocab_size);
        /* documents 3.. start like document 1 or 2 for a while (the engine shares such prefixes); the
         * lengths are fixed, not drawn, so the random streams of the models and documents stay as they were */
        if (i >= 3) {
            const tdoc *src = &d[1 + i % 2];
            int l = (7 * i) % (src->nc + 1);
            for (int j = 0; j < l && j < d[i].nc - 1; j++) d[i].ctx[j] = src->ctx[j];
        }
        d[i].k = 1 + (int)(urand() * KMAX);
        if (i % 3 == 2 && d[i].k < 2) d[i].k = 2; /* these share their choices' first tokens, whatever the draws */
        for (int c = 0; c < d[i].k; c++) {
            d[i].nn[c] = 1 + (int)(urand() * 6);
            if (i % 3 == 2 && c < 2 && d[i].nn[c] < 2) d[i].nn[c] = 2;
            if (c == 0) ref_greedy(m, d[i].ctx, d[i].nc, d[i].cont[0], d[i].nn[0]);
            else for (int j = 0; j < d[i].nn[c]; j++) d[i].cont[c][j] = (int32_t)(urand() * m->cfg.vocab_size);
            /* in every third document the choices' inputs start like choice 0 (the engine packs such a prefix once) */
            for (int j = 0; c > 0 && i % 3 == 2 && j < c && j < d[i].nn[0] && j < d[i].nn[c] - 1; j++) d[i].cont[c][j] = d[i].cont[0][j];
            d[i].cp[c] = d[i].cont[c];
            d[i].ref[c] = ref_score(m, d[i].ctx, d[i].nc, d[i].cont[c], d[i].nn[c], &d[i].rgreedy[c], &d[i].gap[c]);
        }
    }
}

/* Whether two of the document's choices share their first input token (n_cont - 1 of them are inputs). */
static bool choices_share(const tdoc *d) {
    for (int x = 0; x < d->k; x++)
        for (int y = 0; y < x; y++)
            if (d->nn[x] > 1 && d->nn[y] > 1 && d->cont[x][0] == d->cont[y][0]) return true;
    return false;
}

static int run_cuda(const ko_model *m, const char *dtype, int batch_tokens, tdoc *d, int nd, ko_err *e) {
    ko_engine_opts o = {0};
    o.device = "cuda";
    o.dtype = dtype;
    o.batch_tokens = batch_tokens;
    void *st = NULL;
    if (ko_backend_cuda.open(m, &o, &st, e)) return -1;
    ko_doc docs[NDOC];
    for (int i = 0; i < nd; i++) {
        docs[i] = (ko_doc){.ctx = d[i].ctx, .n_ctx = d[i].nc, .n_choices = d[i].k, .cont = d[i].cp, .n_cont = d[i].nn,
                           .logprob = d[i].lp, .is_greedy = d[i].greedy};
        for (int c = 0; c < d[i].k; c++) d[i].lp[c] = NAN;
    }
    int rc = ko_backend_cuda.score(st, docs, nd, e);
    ko_engine_stats s;
    ko_backend_cuda.stats(st, &s);
    if (!rc) printf("# %s: %lld tokens %lld docs, load %.3f s, score %.3f s, peak %.0f MiB\n", s.device_name, s.tokens, s.docs,
                    s.load_s, s.score_s, s.peak_mem_bytes / 1048576.0);
    ko_backend_cuda.close(st);
    return rc;
}

int main(void) {
    ko_err e = {{0}};
    static const char *dtypes[] = {"float32", "bfloat16", "float16"};
    for (int a = 0; a < A_N; a++) {
        ko_model m;
        build(&m, (arch)a);
        tdoc d[NDOC];
        make_docs(&m, d, NDOC);
        for (int vv = 0; vv < 8; vv++) {
            /* v: 0 fp32 auto batch, 1 fp32 tiny batches + forced LM-head tiles, 2 bf16, 3 bf16 tiny
             * batches, 4 fp16 (qwen2 only: fp16 overflows Gemma activations, as in HF); vv 5-7: v 2-4
             * again through the Hopper attention (KOEVAL_CUDA_ATTN=wg; it takes head_dim 64, 128 and 256,
             * and these short documents would otherwise go to attn_fa_k; on other cards the same path) */
            const int v = vv < 5 ? vv : vv - 3, hd = m.cfg.head_dim;
            const bool wgp = vv >= 5;
            if ((v == 4 && a != A_QWEN2) || (wgp && hd != 64 && hd != 128 && hd != 256)) continue;
            if (wgp) setenv("KOEVAL_CUDA_ATTN", "wg", 1);
            else unsetenv("KOEVAL_CUDA_ATTN");
            const char *dt = dtypes[v < 2 ? 0 : v < 4 ? 1 : 2];
            int bt = (v == 1 || v == 3) ? 48 : 0;
            if (v == 1) setenv("KOEVAL_CUDA_LMHEAD", "5,7000", 1);
            else unsetenv("KOEVAL_CUDA_LMHEAD");
            e.msg[0] = 0;
            int rc = run_cuda(&m, dt, bt, d, NDOC, &e);
            if (rc && strstr(e.msg, "no CUDA device")) {
                printf("SKIP cuda/test_cuda_engine: %s\n", e.msg);
                free_allocs();
                TEST_END();
            }
            CHECK(rc == 0, "%s %s: %s", arch_name[a], dt, e.msg);
            if (rc) continue;
            double worst = 0, sum = 0;
            int cnt = 0, gcheck = 0, gbad = 0;
            for (int i = 0; i < NDOC; i++)
                for (int c = 0; c < d[i].k; c++) {
                    double err = fabs(d[i].lp[c] - d[i].ref[c]);
                    /* fp32: float rounding only. 16-bit: HF-style rounding of every activation against a float64
                     * reference drifts by ~0.5% of these peaked tiny models' large log-probs. */
                    double tol = v < 2 ? 2e-3 : 0.01 * fabs(d[i].ref[c]) + 0.05 * d[i].nn[c];
                    if (!(err <= tol)) printf("  %s %s doc %d choice %d: cuda %.6f ref %.6f\n", arch_name[a], dt, i, c, d[i].lp[c], d[i].ref[c]);
                    CHECK(err <= tol, "%s %s bt=%d doc %d choice %d: |%.6f - %.6f| > %g", arch_name[a], dt, bt, i, c, d[i].lp[c], d[i].ref[c], tol);
                    worst = err > worst ? err : worst;
                    sum += err;
                    cnt++;
                    if (d[i].gap[c] > (v < 2 ? 1e-3 : 0.1)) {
                        gcheck++;
                        if (d[i].greedy[c] != d[i].rgreedy[c]) gbad++;
                    }
                }
            CHECK(gbad == 0, "%s %s: %d of %d greedy flags differ", arch_name[a], dt, gbad, gcheck);
            if (v == 0 || v == 2) {
                /* Prefix sharing across documents changes no bit of any result; among a document's choices
                 * it changes the layout, and so the summation order (those documents: the reference check above). */
                double lp[NDOC][KMAX];
                bool gr[NDOC][KMAX];
                for (int i = 0; i < NDOC; i++)
                    for (int c = 0; c < d[i].k; c++) lp[i][c] = d[i].lp[c], gr[i][c] = d[i].greedy[c];
                setenv("KOEVAL_CUDA_SHARE", "0", 1);
                rc = run_cuda(&m, dt, bt, d, NDOC, &e);
                unsetenv("KOEVAL_CUDA_SHARE");
                CHECK(rc == 0, "%s %s unshared: %s", arch_name[a], dt, e.msg);
                int diff = 0, tries = 0;
                for (int i = 0; i < NDOC; i++) {
                    const bool sh = choices_share(&d[i]);
                    tries += sh;
                    for (int c = 0; c < d[i].k && !sh; c++) diff += lp[i][c] != d[i].lp[c] || gr[i][c] != d[i].greedy[c];
                }
                CHECK(diff == 0, "%s %s: %d results differ with and without prefix sharing", arch_name[a], dt, diff);
                CHECK(tries > 0, "%s: no document whose choices share a prefix", arch_name[a]);
                /* Nor does grouping the attention tiles (one tile per block, and the most a block takes, against the default). */
                for (int qg = 1; qg <= 8; qg *= 8) {
                    char v[8];
                    snprintf(v, sizeof v, "%d", qg);
                    setenv("KOEVAL_CUDA_ATTN_GROUP", v, 1);
                    rc = run_cuda(&m, dt, bt, d, NDOC, &e);
                    unsetenv("KOEVAL_CUDA_ATTN_GROUP");
                    CHECK(rc == 0, "%s %s attention group %d: %s", arch_name[a], dt, qg, e.msg);
                    diff = 0;
                    for (int i = 0; i < NDOC; i++)
                        for (int c = 0; c < d[i].k; c++) diff += lp[i][c] != d[i].lp[c] || gr[i][c] != d[i].greedy[c];
                    CHECK(diff == 0, "%s %s: %d results differ with attention tile groups of %d", arch_name[a], dt, diff, qg);
                }
                /* Nor do the Hopper GEMM's fused epilogues (q/k/v + RoPE where the shape fits, the gated
                 * feed-forward) against cuBLASLt + the separate kernels (on other cards all three are the same path). */
                static const char *hg[] = {"glu", "0"};
                for (int k = 0; k < 2 && v == 2; k++) {
                    setenv("KOEVAL_CUDA_HGEMM", hg[k], 1);
                    rc = run_cuda(&m, dt, bt, d, NDOC, &e);
                    unsetenv("KOEVAL_CUDA_HGEMM");
                    CHECK(rc == 0, "%s %s KOEVAL_CUDA_HGEMM=%s: %s", arch_name[a], dt, hg[k], e.msg);
                    diff = 0;
                    for (int i = 0; i < NDOC; i++)
                        for (int c = 0; c < d[i].k; c++) diff += lp[i][c] != d[i].lp[c] || gr[i][c] != d[i].greedy[c];
                    CHECK(diff == 0, "%s %s: %d results differ with KOEVAL_CUDA_HGEMM=%s", arch_name[a], dt, diff, hg[k]);
                }
            }
            printf("# %-6s %-8s batch=%-4d%s max|dLL| %.2e mean %.2e over %d choices; greedy checked %d\n", arch_name[a], dt, bt,
                   wgp ? " attn_wg" : "", worst, sum / cnt, cnt, gcheck);
        }
        /* choice 0 is the reference's greedy continuation: is_greedy must have been true there */
        int g0 = 0;
        for (int i = 0; i < NDOC; i++) g0 += d[i].rgreedy[0];
        CHECK(g0 == NDOC, "%s: reference greedy continuations not greedy (%d of %d)", arch_name[a], g0, NDOC);
        free_allocs();
    }
    TEST_END();
}
#endif
