/* engine.c — picks a backend by device and forwards to it (see engine.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

struct ko_engine {
    const ko_backend *be;
    void *state;
    int max_len;
};

/* "cuda" or "cuda:K" (K a decimal device index). */
static bool is_cuda_device(const char *d) {
    if (strncmp(d, "cuda", 4) != 0)
        return false;
    if (d[4] == '\0')
        return true;
    if (d[4] != ':' || d[5] == '\0')
        return false;
    for (const char *p = d + 5; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

int ko_engine_max_len_for(const ko_model *m, const ko_engine_opts *o) {
    return o && o->max_len > 0 ? o->max_len : m->cfg.max_pos > 0 ? m->cfg.max_pos : 2048;
}

static int open_with(const ko_backend *be, const ko_model *m, const ko_engine_opts *o,
                     ko_engine **out, ko_err *e) {
    void *state = NULL;
    if (be->open(m, o, &state, e) != 0)
        return -1;
    ko_engine *en = ko_xcalloc(1, sizeof *en);
    en->be = be;
    en->state = state;
    en->max_len = ko_engine_max_len_for(m, o);
    *out = en;
    return 0;
}

int ko_engine_open(const ko_model *m, const ko_engine_opts *o, ko_engine **out, ko_err *e) {
    const char *dev = o ? o->device : NULL;
    *out = NULL;
    if (dev && strcmp(dev, "cpu") == 0)
        return open_with(&ko_backend_cpu, m, o, out, e);
    if (dev && !is_cuda_device(dev))
        return ko_fail(e, "device %s: unknown (expected cpu, cuda or cuda:K)", dev);
#ifdef KO_HAVE_CUDA
    if (dev)
        return open_with(&ko_backend_cuda, m, o, out, e);
    /* No device asked for: CUDA when it opens, else the CPU backend (said once on stderr). */
    ko_err ce;
    if (open_with(&ko_backend_cuda, m, o, out, &ce) == 0)
        return 0;
    fprintf(stderr, "koeval: %s; using the cpu backend\n", ce.msg);
    return open_with(&ko_backend_cpu, m, o, out, e);
#else
    if (dev)
        return ko_fail(e, "device %s: not available: this koeval was built without CUDA "
                          "(rebuild where nvcc is installed, or use --device cpu)", dev);
    return open_with(&ko_backend_cpu, m, o, out, e);
#endif
}

int ko_engine_softmax_dtype(const ko_engine_opts *o, ko_dtype compute, ko_dtype *out, ko_err *e) {
    *out = compute;
    if (o && o->softmax_dtype && strcmp(o->softmax_dtype, "auto") != 0 && ko_dtype_parse(o->softmax_dtype, out) != 0)
        return ko_fail(e, "softmax dtype %s: unknown (bfloat16, float16, float32)", o->softmax_dtype);
    return 0;
}

void ko_engine_round_sums(ko_doc *docs, int n, ko_dtype t) {
    if (t == KO_F32) return;
    for (int d = 0; d < n; d++)
        for (int i = 0; i < docs[d].n_choices; i++)
            docs[d].logprob[i] = ko_dtype_round(t, (float)docs[d].logprob[i]);
}

int ko_engine_score(ko_engine *en, ko_doc *docs, int n, ko_err *e) {
    for (int d = 0; d < n; d++)
        for (int i = 0; i < docs[d].n_choices; i++)
            if (docs[d].n_cont[i] >= 1 && docs[d].n_ctx + docs[d].n_cont[i] - 1 > en->max_len)
                return ko_fail(e, "engine: document %d choice %d: %d tokens exceed max_len %d "
                                  "(the caller truncates first)", d, i,
                               docs[d].n_ctx + docs[d].n_cont[i] - 1, en->max_len);
    return en->be->score(en->state, docs, n, e);
}

int ko_engine_max_len(const ko_engine *en) { return en->max_len; }

void ko_engine_stats_get(const ko_engine *en, ko_engine_stats *s) {
    memset(s, 0, sizeof *s);
    en->be->stats(en->state, s);
}

const char *ko_engine_backend(const ko_engine *en) { return en->be->name; }

void ko_engine_close(ko_engine *en) {
    if (!en)
        return;
    en->be->close(en->state);
    free(en);
}
