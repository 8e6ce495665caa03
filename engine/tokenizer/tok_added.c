/* tok_added.c — added tokens: a byte trie for leftmost-longest matching (what HF's aho-corasick
 * with MatchKind::LeftmostLongest finds), and the split of text around the matches with
 * single_word / lstrip / rstrip (HF AddedVocabulary::find_matches). */
#include <stdlib.h>
#include <string.h>

#include "engine/tokenizer/tok_internal.h"

static int32_t trie_child(const tk_trie *tr, int32_t node, uint8_t b) {
    const tk_merge *m = tk_mergemap_get(&tr->edges, node, b);
    return m ? m->id : -1;
}

static void trie_insert(tk_trie *tr, const char *s, size_t n, int32_t idx) {
    int32_t node = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t c = trie_child(tr, node, (uint8_t)s[i]);
        if (c < 0) {
            if (tr->n_nodes == tr->cap) {
                tr->cap *= 2;
                tr->term = ko_xrealloc(tr->term, (size_t)tr->cap * sizeof *tr->term);
            }
            c = tr->n_nodes++;
            tr->term[c] = -1;
            tk_mergemap_put(&tr->edges, node, (uint8_t)s[i], 0, c);
        }
        node = c;
    }
    if (tr->term[node] < 0) tr->term[node] = idx; /* the same content twice: the first wins */
    tr->first[(uint8_t)s[0] >> 3] |= (uint8_t)(1u << ((uint8_t)s[0] & 7));
}

void tk_trie_build(tk_trie *tr, const tk_added *added, int n, bool normalized) {
    memset(tr, 0, sizeof *tr);
    tr->cap = 64;
    tr->term = ko_xmalloc((size_t)tr->cap * sizeof *tr->term);
    tr->term[0] = -1;
    tr->n_nodes = 1;
    tk_mergemap_init(&tr->edges, 64);
    for (int i = 0; i < n; i++)
        if (added[i].normalized == normalized && added[i].n) trie_insert(tr, added[i].content, added[i].n, i);
}

int tk_added_normalize(ko_tokenizer *t, ko_err *e) {
    /* HF keeps a normalized token by its normalized content: that is what it matches in normalized
     * text and what id_to_token / decode give back */
    ko_buf nb = {0};
    for (int i = 0; i < t->n_added; i++) {
        tk_added *a = &t->added[i];
        if (!a->normalized || t->n_norm == 0) continue;
        if (tk_normalize(t, a->content, a->n, &nb, e) < 0) {
            ko_buf_free(&nb);
            return -1;
        }
        free(a->content);
        a->n = nb.n;
        a->content = ko_xstrndup(nb.p, nb.n);
    }
    ko_buf_free(&nb);
    return 0;
}

void tk_trie_free(tk_trie *tr) {
    tk_mergemap_free(&tr->edges);
    free(tr->term);
    memset(tr, 0, sizeof *tr);
}

/* The longest token starting at s[0..n): its index in the added table and length, or -1. */
static int32_t longest_at(const tk_trie *tr, const char *s, size_t n, size_t *len) {
    int32_t node = 0, best = -1;
    for (size_t i = 0; i < n; i++) {
        node = trie_child(tr, node, (uint8_t)s[i]);
        if (node < 0) break;
        if (tr->term[node] >= 0) {
            best = tr->term[node];
            *len = i + 1;
        }
    }
    return best;
}


static int32_t last_cp(const char *s, size_t n) {
    if (n == 0) return -1;
    size_t c = n - 1;
    while (c > 0 && ((uint8_t)s[c] & 0xc0) == 0x80) c--;
    int32_t cp;
    tk_utf8_dec(s + c, n - c, &cp);
    return cp;
}

void tk_split_added(const ko_tokenizer *t, const tk_trie *tr, const char *s, size_t n, bool first,
                    tk_splits *out) {
    size_t start_off = 0;
    if (tr->n_nodes > 1) {
        for (size_t p = 0; p < n;) {
            uint8_t b0 = (uint8_t)s[p];
            size_t len = 0;
            int32_t k = (tr->first[b0 >> 3] >> (b0 & 7)) & 1 ? longest_at(tr, s + p, n - p, &len) : -1;
            if (k < 0) {
                p++;
                continue;
            }
            const tk_added *a = &t->added[k];
            size_t start = p, stop = p + len;
            if (a->single_word) {
                int32_t before = last_cp(s, start), after = -1;
                if (stop < n) tk_utf8_dec(s + stop, n - stop, &after);
                if ((before >= 0 && tk_is_word(before)) || (after >= 0 && tk_is_word(after))) {
                    p += len; /* aho-corasick's iterator has consumed the rejected match */
                    continue;
                }
            }
            if (a->lstrip) {
                size_t ns = start;
                while (ns > 0) {
                    size_t c = ns - 1;
                    while (c > 0 && ((uint8_t)s[c] & 0xc0) == 0x80) c--;
                    int32_t cp;
                    tk_utf8_dec(s + c, ns - c, &cp);
                    if (!tk_is_whitespace(cp)) break;
                    ns = c;
                }
                start = ns > start_off ? ns : start_off;
            }
            if (a->rstrip) {
                while (stop < n) {
                    int32_t cp;
                    int w = tk_utf8_dec(s + stop, n - stop, &cp);
                    if (!tk_is_whitespace(cp)) break;
                    stop += (size_t)w;
                }
            }
            if (start_off < start) tk_splits_add(out, s + start_off, start - start_off, -1, first && start_off == 0);
            tk_splits_add(out, "", 0, a->id, false);
            start_off = stop;
            p = p + len > stop ? p + len : stop;
        }
    }
    if (start_off < n) tk_splits_add(out, s + start_off, n - start_off, -1, first && start_off == 0);
}
