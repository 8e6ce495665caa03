/* tok_map.c — the tokenizer's hash maps (open addressing, linear probing) and small growable
 * vectors. Maps are filled at load and only read afterwards. */
#include <stdlib.h>
#include <string.h>

#include "engine/tokenizer/tok_internal.h"

static uint32_t table_size(int expected) {
    uint32_t sz = 16;
    while (sz < (uint32_t)expected * 2u + 16u) sz <<= 1;
    return sz;
}

/* FNV-1a then a final mix: cheap for short tokens, good enough spread for linear probing. */
uint64_t tk_hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 32);
}

void tk_strmap_init(tk_strmap *m, int expected) {
    uint32_t sz = table_size(expected);
    m->slot = ko_xmalloc(sz * sizeof *m->slot);
    memset(m->slot, 0xff, sz * sizeof *m->slot);
    m->mask = sz - 1;
    m->n = 0;
}

void tk_strmap_free(tk_strmap *m) {
    free(m->slot);
    m->slot = NULL;
}

/* Slots keep the key's hash beside the id, so a probe compares strings only on a hash match. */
void tk_strmap_put(tk_strmap *m, int32_t id) {
    const char *s = m->str[id];
    size_t n = m->len[id];
    uint64_t h = tk_hash_bytes(s, n);
    uint32_t i = (uint32_t)h & m->mask, hi = (uint32_t)(h >> 32);
    for (;; i = (i + 1) & m->mask) {
        int32_t o = m->slot[i].id;
        if (o < 0) break;
        if (m->slot[i].hash == hi && m->len[o] == n && memcmp(m->str[o], s, n) == 0) {
            m->slot[i].id = id;
            return;
        }
    }
    m->slot[i] = (tk_strslot){hi, id};
    m->n++;
}

int32_t tk_strmap_get(const tk_strmap *m, const char *s, size_t n) { /* m was initialized (at load) */
    uint64_t h = tk_hash_bytes(s, n);
    uint32_t i = (uint32_t)h & m->mask, hi = (uint32_t)(h >> 32);
    for (;; i = (i + 1) & m->mask) {
        int32_t o = m->slot[i].id;
        if (o < 0) return -1;
        if (m->slot[i].hash == hi && m->len[o] == n && memcmp(m->str[o], s, n) == 0) return o;
    }
}

static uint64_t pair_key(int32_t a, int32_t b) { return (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1; }
static uint32_t pair_hash(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return (uint32_t)k;
}

void tk_mergemap_init(tk_mergemap *m, int expected) {
    uint32_t sz = table_size(expected);
    m->slot = ko_xcalloc(sz, sizeof *m->slot);
    m->mask = sz - 1;
    m->n = 0;
}

void tk_mergemap_free(tk_mergemap *m) {
    free(m->slot);
    m->slot = NULL;
}

void tk_mergemap_put(tk_mergemap *m, int32_t a, int32_t b, uint32_t rank, int32_t id) {
    if ((uint32_t)(m->n + 1) * 2u > m->mask) { /* grow: keeps the load under one half */
        tk_mergemap old = *m;
        tk_mergemap_init(m, (int)(old.mask + 1));
        for (uint32_t i = 0; i <= old.mask; i++)
            if (old.slot[i].key) {
                uint64_t k = old.slot[i].key - 1;
                tk_mergemap_put(m, (int32_t)(k >> 32), (int32_t)(uint32_t)k, old.slot[i].rank, old.slot[i].id);
            }
        free(old.slot);
    }
    uint64_t k = pair_key(a, b);
    uint32_t i = pair_hash(k) & m->mask;
    while (m->slot[i].key && m->slot[i].key != k) i = (i + 1) & m->mask;
    if (!m->slot[i].key) m->n++;
    m->slot[i] = (tk_merge){k, rank, id};
}

const tk_merge *tk_mergemap_get(const tk_mergemap *m, int32_t a, int32_t b) { /* m was initialized */
    uint64_t k = pair_key(a, b);
    for (uint32_t i = pair_hash(k) & m->mask;; i = (i + 1) & m->mask) {
        if (m->slot[i].key == k) return &m->slot[i];
        if (!m->slot[i].key) return NULL;
    }
}

void tk_splits_add(tk_splits *s, const char *p, size_t n, int32_t id, bool first) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->v = ko_xrealloc(s->v, (size_t)s->cap * sizeof *s->v);
    }
    s->v[s->n++] = (tk_split){(uint32_t)s->text.n, (uint32_t)n, id, first};
    ko_buf_put(&s->text, p, n);
}

void tk_splits_reset(tk_splits *s) {
    s->n = 0;
    s->text.n = 0;
}

void tk_splits_free(tk_splits *s) {
    free(s->v);
    ko_buf_free(&s->text);
    memset(s, 0, sizeof *s);
}

void tk_ranges_add(tk_ranges *r, uint32_t a, uint32_t b, bool match) {
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->v = ko_xrealloc(r->v, (size_t)r->cap * sizeof *r->v);
    }
    r->v[r->n++] = (tk_range){a, b, match};
}

void tk_ids_push(ko_ids *v, int32_t id) {
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 64;
        v->ids = ko_xrealloc(v->ids, (size_t)v->cap * sizeof *v->ids);
    }
    v->ids[v->n++] = id;
}

void ko_ids_free(ko_ids *v) {
    free(v->ids);
    v->ids = NULL;
    v->n = v->cap = 0;
}
