/* tok_bpe.c — the BPE model on one pre-token, as HF's models/bpe (merge_word + Word::merge_all):
 * characters to ids (continuing_subword_prefix / end_of_word_suffix, byte_fallback to <0xNN>,
 * unk with fuse_unk), then merges by lowest rank first, leftmost first among equal ranks, through
 * a binary min-heap over a linked list of symbols: O(n log n) per pre-token. */
#include <stdlib.h>
#include <string.h>

#include "engine/tokenizer/tok_internal.h"

typedef struct sym { int32_t id, prev, next; uint32_t len; } sym;
typedef struct cand { uint32_t rank; int32_t pos, id; } cand;

/* Per-thread scratch, grown as needed: encode may run on many threads at once. */
static __thread sym *tls_sym;
static __thread cand *tls_heap;
static __thread size_t tls_cap;

/* Room for n symbols and the heap entries they can cause (each merge pushes at most two). */
static sym *reserve(size_t n) {
    if (n > tls_cap) {
        tls_cap = n > 256 ? n * 2 : 256;
        tls_sym = ko_xrealloc(tls_sym, tls_cap * sizeof *tls_sym);
        tls_heap = ko_xrealloc(tls_heap, 3 * tls_cap * sizeof *tls_heap);
    }
    return tls_sym;
}

static bool before(cand a, cand b) { return a.rank != b.rank ? a.rank < b.rank : a.pos < b.pos; }

static void heap_push(cand *h, int *n, cand c) {
    int i = (*n)++;
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!before(c, h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = c;
}

static cand heap_pop(cand *h, int *n) {
    cand top = h[0], last = h[--*n];
    int i = 0;
    for (;;) {
        int l = 2 * i + 1, m = i;
        if (l >= *n) break;
        m = (l + 1 < *n && before(h[l + 1], h[l])) ? l + 1 : l;
        if (!before(h[m], last)) break;
        h[i] = h[m];
        i = m;
    }
    if (*n) h[i] = last;
    return top;
}

static void add_sym(sym *w, int *n, int32_t id, uint32_t len) {
    w[*n] = (sym){id, *n - 1, -1, len};
    if (*n > 0) w[*n - 1].next = *n;
    (*n)++;
}

static void try_pair(const ko_tokenizer *t, const sym *w, int pos, cand *h, int *nh) {
    int nx = w[pos].next;
    if (nx < 0) return;
    const tk_merge *m = tk_mergemap_get(&t->merges, w[pos].id, w[nx].id);
    if (m) heap_push(h, nh, (cand){m->rank, pos, m->id});
}

/* A per-thread cache of short pre-tokens -> ids (direct-mapped; entries tagged with the
 * tokenizer's generation, so several tokenizers can share it and a freed one is never matched).
 * Byte-level BPE sees the same words over and over; Gemma's single long pre-token never fits. */
#define WC_SLOTS 4096
#define WC_WORD 48
#define WC_IDS 16
typedef struct wc_entry {
    uint32_t gen;
    uint8_t len, n_ids;
    char word[WC_WORD];
    int32_t ids[WC_IDS];
} wc_entry;
static __thread wc_entry *tls_wc;

static int bpe_word(const ko_tokenizer *t, const char *s, size_t n, ko_ids *out, ko_err *e);

int tk_bpe(const ko_tokenizer *t, const char *s, size_t n, ko_ids *out, ko_err *e) {
    if (n > WC_WORD) return bpe_word(t, s, n, out, e);
    if (!tls_wc) tls_wc = ko_xcalloc(WC_SLOTS, sizeof *tls_wc);
    uint64_t h = tk_hash_bytes(s, n);
    wc_entry *c = &tls_wc[h & (WC_SLOTS - 1)];
    if (c->gen == t->gen && c->len == n && memcmp(c->word, s, n) == 0) {
        for (int i = 0; i < c->n_ids; i++) tk_ids_push(out, c->ids[i]);
        return 0;
    }
    int start = out->n;
    if (bpe_word(t, s, n, out, e) < 0) return -1;
    if (out->n - start <= WC_IDS) {
        c->gen = t->gen;
        c->len = (uint8_t)n;
        c->n_ids = (uint8_t)(out->n - start);
        memcpy(c->word, s, n);
        if (c->n_ids) memcpy(c->ids, out->ids + start, (size_t)c->n_ids * sizeof *c->ids); /* out->ids may be NULL */
    }
    return 0;
}

/* The id of the one-character string s[0..k) (code point cp), through the direct table when it
 * covers cp. */
static int32_t char_id(const ko_tokenizer *t, const char *s, size_t k, int32_t cp) {
    if (cp < TK_CP_TABLE) return t->cp_id[cp];
    return tk_strmap_get(&t->vocab, s, k);
}

static int bpe_word(const ko_tokenizer *t, const char *s, size_t n, ko_ids *out, ko_err *e) {
    if (t->ignore_merges) {
        int32_t id = tk_strmap_get(&t->vocab, s, n);
        if (id >= 0) {
            tk_ids_push(out, id);
            return 0;
        }
    }
    sym *w = reserve(n + 1); /* at most one symbol per byte (byte fallback), plus one pending unk */
    int nw = 0;
    size_t pre_n = t->cont_prefix ? strlen(t->cont_prefix) : 0;
    size_t suf_n = t->end_suffix ? strlen(t->end_suffix) : 0;
    bool affix = pre_n || suf_n;
    ko_buf tmp = {0};
    int32_t unk_pending = -1;
    uint32_t unk_len = 0;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        size_t k = (size_t)tk_utf8_dec(s + i, n - i, &cp);
        const char *c = s + i;
        size_t cn = k;
        if (affix) {
            tmp.n = 0;
            if (i > 0) ko_buf_put(&tmp, t->cont_prefix, pre_n);
            ko_buf_put(&tmp, s + i, k);
            if (i + k == n) ko_buf_put(&tmp, t->end_suffix, suf_n);
            c = tmp.p;
            cn = tmp.n;
        }
        i += k;
        int32_t id = affix ? tk_strmap_get(&t->vocab, c, cn) : char_id(t, c, cn, cp);
        if (id >= 0) {
            if (unk_pending >= 0) add_sym(w, &nw, unk_pending, unk_len);
            unk_pending = -1;
            add_sym(w, &nw, id, (uint32_t)k);
            continue;
        }
        if (t->byte_fallback) {
            bool all = true;
            for (size_t b = 0; b < cn; b++) all = all && t->byte_id[(uint8_t)c[b]] >= 0;
            if (all) { /* HF leaves a pending unk pending here */
                w = reserve((size_t)nw + cn + n + 1); /* the affixes add bytes the input lacks */
                for (size_t b = 0; b < cn; b++) add_sym(w, &nw, t->byte_id[(uint8_t)c[b]], 1);
                continue;
            }
        }
        if (t->unk >= 0) {
            if (unk_pending >= 0 && t->fuse_unk) {
                unk_len += (uint32_t)k;
            } else {
                if (unk_pending >= 0) add_sym(w, &nw, unk_pending, unk_len);
                unk_pending = t->unk;
                unk_len = (uint32_t)k;
            }
        } else if (t->unk_missing) {
            ko_buf_free(&tmp);
            return ko_fail(e, "tokenizer: unk_token is not in the vocabulary");
        }
    }
    if (unk_pending >= 0) add_sym(w, &nw, unk_pending, unk_len);
    ko_buf_free(&tmp);

    cand *h = tls_heap;
    int nh = 0;
    for (int i = 0; i + 1 < nw; i++) try_pair(t, w, i, h, &nh);
    while (nh > 0) {
        cand top = heap_pop(h, &nh);
        sym *a = &w[top.pos];
        if (a->len == 0 || a->next < 0) continue;
        sym *b = &w[a->next];
        const tk_merge *m = tk_mergemap_get(&t->merges, a->id, b->id);
        if (!m || m->id != top.id) continue; /* a stale entry */
        a->id = top.id;
        a->len += b->len;
        b->len = 0;
        a->next = b->next;
        if (b->next >= 0) w[b->next].prev = top.pos;
        if (a->prev >= 0) try_pair(t, w, a->prev, h, &nh);
        try_pair(t, w, top.pos, h, &nh);
    }
    for (int i = 0; i < nw; i = w[i].next) {
        tk_ids_push(out, w[i].id);
        if (w[i].next < 0) break;
    }
    return 0;
}
