/* bench_engine — drives the CUDA (or CPU) backend alone on tokenized documents, for the GPU machine's
 * parity and speed runs (scripts/gpu_parity.sh, scripts/bench_cuda.sh). Not a test: make test does
 * not build it; the scripts build it with `make build/tests/cuda/bench_engine`.
 *
 *   bench_engine --docs FILE (--model DIR | --shape 1b|4b|12b|8b) [--device cuda] [--dtype bfloat16] [--softmax-dtype float32]
 *                [--batch-tokens N] [--ll-out FILE] [--repeat N]
 *
 * FILE: one document per line, integers: task doc c0 n_ctx k n_cont[0..k) ctx[..] cont_0[..] ... (see
 * scripts/cuda_docs.py, which writes it from hf_baseline.py's own encoding: both score identical ids).
 * --shape builds a random gemma-3 model of that shape in memory (no checkpoint: timing only; every
 * tensor views one shared random buffer). --ll-out writes "task doc choice logprob greedy" lines.
 * Prints one JSON line: load_s, score_s (first pass, cold), score2_s (later passes, best), tokens,
 * docs, peak GiB, device name. */
#include <pthread.h>

#include "engine/engine.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


typedef struct {
    int task, doc, c0;
    ko_doc d;
} bdoc;

static int read_docs(const char *path, bdoc **out, int *n) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int cap = 1024, cnt = 0;
    bdoc *v = ko_xmalloc(sizeof(bdoc) * (size_t)cap);
    int task, doc, c0, nc, k;
    while (fscanf(f, "%d %d %d %d %d", &task, &doc, &c0, &nc, &k) == 5) {
        if (nc < 1 || k < 1) return -1;
        if (cnt == cap) v = ko_xrealloc(v, sizeof(bdoc) * (size_t)(cap *= 2));
        bdoc *b = &v[cnt++];
        b->task = task; b->doc = doc; b->c0 = c0;
        int *nn = ko_xmalloc(sizeof(int) * (size_t)k);
        for (int i = 0; i < k; i++) if (fscanf(f, "%d", &nn[i]) != 1) return -1;
        int32_t *ctx = ko_xmalloc(sizeof(int32_t) * (size_t)nc);
        for (int i = 0; i < nc; i++) if (fscanf(f, "%d", &ctx[i]) != 1) return -1;
        int32_t **cont = ko_xmalloc(sizeof(int32_t *) * (size_t)k);
        for (int c = 0; c < k; c++) {
            cont[c] = ko_xmalloc(sizeof(int32_t) * (size_t)nn[c]);
            for (int i = 0; i < nn[c]; i++) if (fscanf(f, "%d", &cont[c][i]) != 1) return -1;
        }
        b->d = (ko_doc){.ctx = ctx, .n_ctx = nc, .n_choices = k, .cont = (const int32_t *const *)cont, .n_cont = nn,
                        .logprob = ko_xcalloc((size_t)k, sizeof(double)), .is_greedy = ko_xcalloc((size_t)k, sizeof(bool))};
    }
    fclose(f);
    *out = v;
    *n = cnt;
    return 0;
}

/* ---- a random gemma-3 of the given shape, every tensor a view of one shared bf16 buffer ---- */
static uint16_t *shared_buf;
static int64_t shared_n;
typedef struct { int64_t lo, hi; } fill_arg;
static void *fill(void *p) {
    fill_arg *a = p;
    uint64_t s = 0x9E3779B97F4A7C15ull ^ (uint64_t)a->lo;
    for (int64_t i = a->lo; i < a->hi; i++) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        float u = ((float)(s >> 40) / 16777216.0f - 0.5f) * 0.07f; /* uniform, std ~0.02 (HF init) */
        uint32_t b;
        memcpy(&b, &u, 4);
        shared_buf[i] = (uint16_t)(b >> 16);
    }
    return NULL;
}
static ko_tensor view(int64_t a, int64_t b) {
    ko_tensor t = {.dtype = KO_BF16, .ndim = b ? 2 : 1, .shape = {a, b}, .data = shared_buf};
    return t;
}
static void synth(ko_model *m, const char *shape) {
    struct { const char *name; int H, I, L, nh, nkv, hd, win, V; } S[] = {
        {"1b", 1152, 6912, 26, 4, 1, 256, 512, 262144},
        {"4b", 2560, 10240, 34, 8, 4, 256, 1024, 262208},
        {"12b", 3840, 15360, 48, 16, 8, 256, 1024, 262208},
        /* Llama-3.1-8B's sizes (head_dim 128, GQA 4) in the gemma-3 layout: attention at head_dim 128 */
        {"8b", 4096, 14336, 32, 32, 8, 128, 4096, 128256},
    };
    const int ns = (int)(sizeof S / sizeof S[0]);
    int k = 0;
    while (k < ns && strcmp(S[k].name, shape)) k++;
    if (k == ns) {
        fprintf(stderr, "bench_engine: unknown shape %s (1b, 4b, 12b, 8b)\n", shape);
        exit(2);
    }
    memset(m, 0, sizeof *m);
    ko_config *c = &m->cfg;
    snprintf(c->model_type, sizeof c->model_type, "gemma3_text");
    c->vocab_size = S[k].V; c->hidden = S[k].H; c->intermediate = S[k].I; c->n_layers = S[k].L;
    c->n_heads = S[k].nh; c->n_kv_heads = S[k].nkv; c->head_dim = S[k].hd; c->sliding_window = S[k].win;
    c->max_pos = 131072; c->rms_eps = 1e-6;
    c->norm_plus_one = c->qk_norm = c->post_norms = c->tie_embeddings = c->scale_embeddings = true;
    c->act = KO_ACT_GELU_TANH;
    c->attn_scale = 1.0 / 16;
    c->rope.theta = 1e6; c->rope_local.theta = 1e4;
    c->layer_sliding = ko_xcalloc((size_t)c->n_layers, sizeof(bool));
    for (int l = 0; l < c->n_layers; l++) c->layer_sliding[l] = (l + 1) % 6 != 0;
    c->bos_id = 2; c->eos_id = 1; c->pad_id = 0;
    int64_t H = c->hidden, I = c->intermediate, qd = (int64_t)c->n_heads * c->head_dim, kd = (int64_t)c->n_kv_heads * c->head_dim;
    shared_n = (int64_t)c->vocab_size * H;
    shared_buf = ko_xmalloc(sizeof(uint16_t) * (size_t)shared_n);
    pthread_t th[8];
    fill_arg fa[8];
    for (int i = 0; i < 8; i++) {
        fa[i].lo = shared_n * i / 8; fa[i].hi = shared_n * (i + 1) / 8;
        pthread_create(&th[i], NULL, fill, &fa[i]);
    }
    for (int i = 0; i < 8; i++) pthread_join(th[i], NULL);
    m->dtype = m->auto_dtype = KO_BF16;
    m->embed = m->lm_head = view(c->vocab_size, H);
    m->final_norm = view(H, 0);
    m->layers = ko_xcalloc((size_t)c->n_layers, sizeof(ko_layer));
    m->weight_bytes = 2 * (size_t)(c->vocab_size * H + c->n_layers * (2 * qd * H + 2 * kd * H + 3 * I * H));
    for (int l = 0; l < c->n_layers; l++) {
        ko_layer *y = &m->layers[l];
        y->attn_norm = y->ffn_norm = y->post_attn_norm = y->post_ffn_norm = view(H, 0);
        y->q_norm = y->k_norm = view(c->head_dim, 0);
        y->wq = view(qd, H); y->wk = y->wv = view(kd, H); y->wo = view(H, qd);
        y->w_gate = y->w_up = view(I, H); y->w_down = view(H, I);
    }
}

int main(int argc, char **argv) {
    const char *docs_path = NULL, *model = NULL, *shape = NULL, *dev = "cuda", *dtype = NULL, *sdtype = NULL, *ll_out = NULL;
    int bt = 0, repeat = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--docs")) docs_path = argv[i + 1];
        else if (!strcmp(argv[i], "--model")) model = argv[i + 1];
        else if (!strcmp(argv[i], "--shape")) shape = argv[i + 1];
        else if (!strcmp(argv[i], "--device")) dev = argv[i + 1];
        else if (!strcmp(argv[i], "--dtype")) dtype = argv[i + 1];
        else if (!strcmp(argv[i], "--softmax-dtype")) sdtype = argv[i + 1];
        else if (!strcmp(argv[i], "--ll-out")) ll_out = argv[i + 1];
        else if (!strcmp(argv[i], "--batch-tokens")) bt = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--repeat")) repeat = atoi(argv[i + 1]);
        else { fprintf(stderr, "bench_engine: unknown option %s\n", argv[i]); return 2; }
    }
    if (!docs_path || (!model && !shape)) { fprintf(stderr, "usage: see tests/cuda/bench_engine.c\n"); return 2; }
    bdoc *bd; int n;
    if (read_docs(docs_path, &bd, &n)) { fprintf(stderr, "bench_engine: cannot read %s\n", docs_path); return 1; }
    ko_err e = {{0}};
    ko_model *m = NULL, sm;
    double t0 = ko_now();
    if (model) {
        if (ko_model_load(model, &m, &e)) { fprintf(stderr, "bench_engine: %s\n", e.msg); return 1; }
    } else {
        synth(&sm, shape);
        m = &sm;
    }
    double t_model = ko_now() - t0;
    ko_engine_opts o = {.device = dev, .dtype = dtype, .softmax_dtype = sdtype, .batch_tokens = bt, .verbose = true};
    /* The backend directly (not ko_engine_open): this tool measures the CUDA engine alone. */
    const ko_backend *be = &ko_backend_cuda;
    void *en;
    double t1 = ko_now();
    if (be->open(m, &o, &en, &e)) { fprintf(stderr, "bench_engine: %s\n", e.msg); return 1; }
    double t_open = ko_now() - t1;
    ko_doc *docs = ko_xmalloc(sizeof(ko_doc) * (size_t)n);
    for (int i = 0; i < n; i++) docs[i] = bd[i].d;
    double first = 0, best = 1e30;
    for (int r = 0; r < repeat; r++) {
        double ts = ko_now();
        if (be->score(en, docs, n, &e)) { fprintf(stderr, "bench_engine: %s\n", e.msg); return 1; }
        double dt = ko_now() - ts;
        if (r == 0) first = dt;
        else if (dt < best) best = dt;
    }
    ko_engine_stats st;
    be->stats(en, &st);
    long long ntok = st.tokens / (repeat ? repeat : 1);
    if (ll_out) {
        FILE *f = fopen(ll_out, "w");
        for (int i = 0; i < n; i++)
            for (int c = 0; c < docs[i].n_choices; c++)
                fprintf(f, "%d %d %d %.9g %d\n", bd[i].task, bd[i].doc, bd[i].c0 + c, docs[i].logprob[c], docs[i].is_greedy[c] ? 1 : 0);
        fclose(f);
    }
    printf("{\"device\": \"%s\", \"backend\": \"%s\", \"docs\": %d, \"tokens\": %lld, \"model_s\": %.3f, \"open_s\": %.3f, "
           "\"score_s\": %.3f, \"score2_s\": %.3f, \"tok_per_s\": %.0f, \"peak_gib\": %.2f, \"weights_gib\": %.2f}\n",
           st.device_name, be->name, n, ntok, t_model, t_open, first, repeat > 1 ? best : first,
           ntok / (repeat > 1 ? best : first), st.peak_mem_bytes / 1073741824.0, m->weight_bytes / 1073741824.0);
    be->close(en);
    return 0;
}
