/* tok_gguf.c — a tokenizer from a GGUF file's vocabulary (engine/model/gguf.h), built as the HF
 * tokenizer.json the same model ships with, so the ids are HF's:
 *
 *  - "llama" (SentencePiece): the vocab as is, except that user-defined pieces get back their "▁"
 *    (llama.cpp's converter wrote them with spaces); merges rebuilt the way transformers'
 *    SentencePieceExtractor does (every split of a piece into two pieces of the vocab, ordered by
 *    the piece's score, then the lengths of the two halves, then vocab order), where control and
 *    user-defined pieces score 0 as in the SentencePiece model (llama.cpp stores -1000);
 *    control and user-defined pieces are added tokens; byte fallback when <0xNN> pieces exist;
 *    normalizer [Prepend "▁" if add_space_prefix] + Replace " " -> "▁".
 *  - "gpt2" (byte-level BPE): tokens and merges as stored; the pre-tokenizer regex from
 *    tokenizer.ggml.pre (llama-bpe = Llama 3, qwen2 = Qwen2/3 with NFC, gpt-2 = ByteLevel's own).
 *
 * Checked against the gemma3 tokenizer.json on the KoBEST and hard-case corpora (real GGUF) and on
 * a synthetic byte-level GGUF (tests/tokenizer). */
#include <stdlib.h>
#include <string.h>

#include "engine/model/gguf.h"
#include "engine/tokenizer/tok_internal.h"

enum { T_NORMAL = 1, T_UNKNOWN = 2, T_CONTROL = 3, T_USER = 4, T_UNUSED = 5, T_BYTE = 6 };

#define LLAMA3_RE "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define QWEN2_RE "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

static bool get_bool(const ko_gguf *g, const char *key, bool def) {
    const ko_gguf_kv *kv = ko_gguf_find(g, key);
    return kv && kv->type == KO_GGUF_BOOL ? kv->data[0] != 0 : def;
}

static int32_t get_id(const ko_gguf *g, const char *key, int n) {
    uint64_t v;
    return ko_gguf_get_u64(g, key, &v) == 0 && v < (uint64_t)n ? (int32_t)v : -1;
}

static tk_norm *add_norm(ko_tokenizer *t, tk_norm_type ty) {
    t->norm = ko_xrealloc(t->norm, (size_t)(t->n_norm + 1) * sizeof *t->norm);
    tk_norm *n = &t->norm[t->n_norm++];
    memset(n, 0, sizeof *n);
    n->type = ty;
    return n;
}

static tk_pre *add_pre(ko_tokenizer *t, tk_pre_type ty) {
    t->pre = ko_xrealloc(t->pre, (size_t)(t->n_pre + 1) * sizeof *t->pre);
    tk_pre *p = &t->pre[t->n_pre++];
    memset(p, 0, sizeof *p);
    p->type = ty;
    return p;
}

static tk_dec *add_dec(ko_tokenizer *t, tk_dec_type ty) {
    t->dec = ko_xrealloc(t->dec, (size_t)(t->n_dec + 1) * sizeof *t->dec);
    tk_dec *d = &t->dec[t->n_dec++];
    memset(d, 0, sizeof *d);
    d->type = ty;
    t->has_decoder = true;
    return d;
}

static void tpl_push(ko_tokenizer *t, int32_t id) {
    t->tpl = ko_xrealloc(t->tpl, (size_t)(t->n_tpl + 1) * sizeof *t->tpl);
    t->tpl[t->n_tpl++] = id;
}

/* Token strings and types; control and user-defined tokens become added tokens. */
static int load_tokens(ko_tokenizer *t, const ko_gguf *g, bool spm, int32_t **types_out, ko_err *e) {
    const ko_gguf_kv *toks = ko_gguf_find(g, "tokenizer.ggml.tokens");
    const ko_gguf_kv *types = ko_gguf_find(g, "tokenizer.ggml.token_type");
    if (!toks || toks->type != KO_GGUF_ARRAY || toks->arr_type != KO_GGUF_STRING || toks->arr_n == 0)
        return ko_fail(e, "tokenizer.ggml.tokens: missing or not a list of strings");
    if (toks->arr_n >= (1u << 24)) return ko_fail(e, "tokenizer.ggml.tokens: too many tokens");
    int n = (int)toks->arr_n;
    if (types && (types->type != KO_GGUF_ARRAY || types->arr_n != toks->arr_n))
        return ko_fail(e, "tokenizer.ggml.token_type: not one type per token");
    int32_t *ty = ko_xmalloc((size_t)n * sizeof *ty);
    tk_set_tokens(t, n);
    tk_strmap_init(&t->vocab, n);
    t->added = ko_xcalloc((size_t)n, sizeof *t->added);
    ko_buf b = {0};
    for (int i = 0; i < n; i++) {
        ko_gguf_str s;
        int64_t v = T_NORMAL;
        (void)ko_gguf_arr_str(toks, (uint64_t)i, &s); /* cannot fail: a list of strings, i in range */
        if (types && ko_gguf_arr_i64(types, (uint64_t)i, &v) < 0) {
            free(ty);
            ko_buf_free(&b);
            return ko_fail(e, "tokenizer.ggml.tokens: entry %d unreadable", i);
        }
        ty[i] = (int32_t)v;
        b.n = 0;
        ko_buf_put(&b, "", 0);
        for (uint64_t k = 0; k < s.n; k++) {
            if (spm && v == T_USER && s.p[k] == ' ') ko_buf_puts(&b, "\xe2\x96\x81");
            else ko_buf_putc(&b, s.p[k]);
        }
        if (ko_utf8_invalid_at(b.p, b.n) >= 0) {
            free(ty);
            ko_buf_free(&b);
            return ko_fail(e, "tokenizer.ggml.tokens: entry %d is not valid UTF-8", i);
        }
        tk_set_token(t, i, b.p, b.n);
        tk_strmap_put(&t->vocab, i);
        if (v == T_CONTROL || v == T_USER) {
            tk_added *a = &t->added[t->n_added++];
            a->id = i;
            a->n = b.n;
            a->content = ko_xstrndup(b.p, b.n);
            a->special = v == T_CONTROL;
        }
    }
    ko_buf_free(&b);
    *types_out = ty;
    return 0;
}

/* transformers' SentencePieceExtractor merge order. */
typedef struct gmerge { int32_t l, r, id; float score; uint32_t ll, rl, seq; } gmerge;

static int cmp_local(const void *a, const void *b) {
    const gmerge *x = a, *y = b;
    return x->l != y->l ? (x->l < y->l ? -1 : 1) : (x->r > y->r) - (x->r < y->r);
}

static int cmp_global(const void *a, const void *b) {
    const gmerge *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    if (x->ll != y->ll) return x->ll > y->ll ? -1 : 1;
    if (x->rl != y->rl) return x->rl > y->rl ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

static int spm_merges(ko_tokenizer *t, const ko_gguf *g, const int32_t *ty, ko_err *e) {
    const ko_gguf_kv *scores = ko_gguf_find(g, "tokenizer.ggml.scores");
    if (!scores || scores->type != KO_GGUF_ARRAY || scores->arr_n != (uint64_t)t->n_ids)
        return ko_fail(e, "tokenizer.ggml.scores: missing or not one score per token");
    gmerge *m = NULL;
    size_t n = 0, cap = 0;
    for (int32_t i = 0; i < t->n_ids; i++) {
        double sc = 0;
        if (ty[i] != T_CONTROL && ty[i] != T_USER && ko_gguf_arr_f64(scores, (uint64_t)i, &sc) < 0) {
            free(m);
            return ko_fail(e, "tokenizer.ggml.scores: entry %d unreadable", (int)i);
        }
        const char *s = t->tok[i];
        size_t len = t->tok_len[i], first = n;
        uint32_t nchars = 0;
        for (size_t k = 0; k < len; k++) nchars += ((uint8_t)s[k] & 0xc0) != 0x80;
        uint32_t lchars = 0;
        for (size_t k = 1; k < len; k++) {
            if (((uint8_t)s[k - 1] & 0xc0) != 0x80) lchars++;
            if (((uint8_t)s[k] & 0xc0) == 0x80) continue; /* split at character boundaries only */
            int32_t l = tk_strmap_get(&t->vocab, s, k), r = l >= 0 ? tk_strmap_get(&t->vocab, s + k, len - k) : -1;
            if (r < 0) continue;
            if (n == cap) m = ko_xrealloc(m, (cap = cap ? cap * 2 : 1 << 16) * sizeof *m);
            m[n++] = (gmerge){l, r, tk_strmap_get(&t->vocab, s, len), (float)sc, lchars, nchars - lchars, 0};
        }
        qsort(m + first, n - first, sizeof *m, cmp_local);
        for (size_t k = first; k < n; k++) m[k].seq = (uint32_t)k;
    }
    qsort(m, n, sizeof *m, cmp_global);
    tk_mergemap_init(&t->merges, (int)n);
    for (size_t k = 0; k < n; k++) tk_mergemap_put(&t->merges, m[k].l, m[k].r, (uint32_t)k, m[k].id);
    free(m);
    return 0;
}

static int load_spm(ko_tokenizer *t, const ko_gguf *g, ko_err *e) {
    int32_t *ty;
    if (load_tokens(t, g, true, &ty, e) < 0) return -1;
    int rc = spm_merges(t, g, ty, e);
    for (int i = 0; i < t->n_ids; i++) t->byte_fallback = t->byte_fallback || ty[i] == T_BYTE;
    free(ty);
    if (rc < 0) return -1;
    t->fuse_unk = true;
    t->unk = get_id(g, "tokenizer.ggml.unknown_token_id", t->n_ids);
    bool prefix = get_bool(g, "tokenizer.ggml.add_space_prefix", true);
    if (prefix) {
        tk_norm *p = add_norm(t, TK_PREPEND);
        p->str = ko_xstrdup("\xe2\x96\x81");
        p->str_n = 3;
    }
    tk_norm *r = add_norm(t, TK_REPLACE);
    r->pat.lit = ko_xstrdup(" ");
    r->pat.lit_n = 1;
    r->str = ko_xstrdup("\xe2\x96\x81");
    r->str_n = 3;
    tk_dec *d = add_dec(t, TK_D_REPLACE);
    d->pat.lit = ko_xstrdup("\xe2\x96\x81");
    d->pat.lit_n = 3;
    d->content = ko_xstrdup(" ");
    d->content_n = 1;
    add_dec(t, TK_D_BYTEFALLBACK);
    add_dec(t, TK_D_FUSE);
    if (prefix) {
        d = add_dec(t, TK_D_STRIP);
        d->strip_cp = ' ';
        d->start = 1;
    }
    return 0;
}

static int load_bpe(ko_tokenizer *t, const ko_gguf *g, ko_err *e) {
    static const struct { const char *pre, *re; bool ignore_merges, nfc; } PRE[] = {
        {"llama-bpe", LLAMA3_RE, true, false}, {"llama3", LLAMA3_RE, true, false},
        {"qwen2", QWEN2_RE, false, true}, {"gpt-2", NULL, false, false}, {"gpt2", NULL, false, false},
        {"default", NULL, false, false}};
    ko_gguf_str ps = {"default", 7};
    (void)ko_gguf_get_str(g, "tokenizer.ggml.pre", &ps);
    int k = -1;
    for (int i = 0; i < (int)(sizeof PRE / sizeof PRE[0]); i++)
        if (strlen(PRE[i].pre) == ps.n && memcmp(PRE[i].pre, ps.p, ps.n) == 0) k = i;
    if (k < 0)
        return ko_fail(e, "tokenizer.ggml.pre '%s' is not supported (supported: llama-bpe, qwen2, gpt-2, default)",
                       tk_printable(ps.p, ps.n, (char[TK_PRINTABLE]){0}));
    int32_t *ty;
    if (load_tokens(t, g, false, &ty, e) < 0) return -1;
    free(ty);
    const ko_gguf_kv *mg = ko_gguf_find(g, "tokenizer.ggml.merges");
    if (!mg || mg->type != KO_GGUF_ARRAY || mg->arr_type != KO_GGUF_STRING)
        return ko_fail(e, "tokenizer.ggml.merges: missing or not a list of strings");
    tk_mergemap_init(&t->merges, (int)(mg->arr_n < (1u << 24) ? mg->arr_n : (1u << 24)));
    ko_buf cat = {0};
    for (uint64_t i = 0; i < mg->arr_n; i++) {
        ko_gguf_str s;
        (void)ko_gguf_arr_str(mg, i, &s); /* cannot fail: a list of strings, i in range */
        const char *sp = memchr(s.p, ' ', s.n);
        int32_t a = sp ? tk_strmap_get(&t->vocab, s.p, (size_t)(sp - s.p)) : -1;
        int32_t b = a >= 0 ? tk_strmap_get(&t->vocab, sp + 1, s.n - (size_t)(sp - s.p) - 1) : -1, id = -1;
        if (b >= 0) {
            cat.n = 0;
            ko_buf_put(&cat, t->tok[a], t->tok_len[a]);
            ko_buf_put(&cat, t->tok[b], t->tok_len[b]);
            id = tk_strmap_get(&t->vocab, cat.p, cat.n);
        }
        if (id < 0) {
            ko_buf_free(&cat);
            return ko_fail(e, "tokenizer.ggml.merges: merge %llu is not two tokens of the vocab", (unsigned long long)i);
        }
        tk_mergemap_put(&t->merges, a, b, (uint32_t)i, id);
    }
    ko_buf_free(&cat);
    t->ignore_merges = PRE[k].ignore_merges;
    if (PRE[k].nfc) add_norm(t, TK_NFC);
    if (PRE[k].re) {
        tk_pre *p = add_pre(t, TK_P_SPLIT);
        p->behavior = TK_ISOLATED;
        if (tk_pre_builtin_regex(p, PRE[k].re, e) < 0) return -1;
    }
    tk_pre *bl = add_pre(t, TK_P_BYTELEVEL);
    bl->use_regex = !PRE[k].re;
    if (bl->use_regex && tk_pre_builtin_regex(bl, TK_GPT2_RE, e) < 0) return -1;
    add_dec(t, TK_D_BYTELEVEL);
    return 0;
}

int tk_load_gguf(ko_tokenizer *t, const char *path, ko_err *e) {
    ko_gguf *g;
    if (ko_gguf_open(path, &g, e) < 0) return -1;
    ko_gguf_str model = {"", 0};
    int rc;
    (void)ko_gguf_get_str(g, "tokenizer.ggml.model", &model);
    bool spm = model.n == 5 && memcmp(model.p, "llama", 5) == 0;
    bool bpe = model.n == 4 && memcmp(model.p, "gpt2", 4) == 0;
    if (!spm && !bpe)
        rc = ko_fail(e, "tokenizer.ggml.model '%s' is not supported (supported: llama, gpt2)",
                     tk_printable(model.p, model.n, (char[TK_PRINTABLE]){0}));
    else
        rc = spm ? load_spm(t, g, e) : load_bpe(t, g, e);
    if (rc == 0) {
        t->bos = get_id(g, "tokenizer.ggml.bos_token_id", t->n_ids);
        t->eos = get_id(g, "tokenizer.ggml.eos_token_id", t->n_ids);
        t->add_bos = get_bool(g, "tokenizer.ggml.add_bos_token", spm);
        bool add_eos = get_bool(g, "tokenizer.ggml.add_eos_token", false);
        if (t->add_bos && t->bos >= 0) tpl_push(t, t->bos);
        if ((t->add_bos && t->bos >= 0) || (add_eos && t->eos >= 0)) tpl_push(t, -1);
        if (add_eos && t->eos >= 0) tpl_push(t, t->eos);
        rc = tk_finish(t, e);
    }
    ko_gguf_close(g);
    if (rc < 0) ko_fail_prefix(e, "tokenizer: %s", path);
    return rc;
}
