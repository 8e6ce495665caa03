/* pack.c — documents into varlen batches, with prefixes shared across documents (pack.h). */
#include "engine/cuda/pack.h"

#include <stdlib.h>
#include <string.h>

int ko_doc_len(const ko_doc *d) {
    int n = d->n_ctx;
    for (int i = 0; i < d->n_choices; i++) n += d->n_cont[i] - 1;
    return n;
}

/* A document's choices as a trie over their input tokens cont[c][0 .. n_cont[c] - 1): rank[i] = the
 * choice packed i-th, lcp[i] = the input tokens it has in common with rank[i - 1] (lcp[0] = 0), so
 * its own tokens are [lcp[i], n_cont - 1). Ranked in token order when that shares anything (the
 * choices under any trie node are then neighbours), else in their own order (the layout, and so every
 * bit of the results, as without sharing). */
static int cmp_choice(const void *a, const void *b, void *doc) {
    const ko_doc *d = (const ko_doc *)doc;
    const int x = *(const int *)a, y = *(const int *)b, nx = d->n_cont[x] - 1, ny = d->n_cont[y] - 1;
    for (int i = 0; i < nx && i < ny; i++)
        if (d->cont[x][i] != d->cont[y][i]) return d->cont[x][i] < d->cont[y][i] ? -1 : 1;
    return nx != ny ? nx - ny : x - y;
}
static int common(const ko_doc *d, int x, int y) {
    int l = 0;
    while (l < d->n_cont[x] - 1 && l < d->n_cont[y] - 1 && d->cont[x][l] == d->cont[y][l]) l++;
    return l;
}
/* Fills rank and lcp (room for n_choices each) and returns the document's packed length. */
static int choice_trie(const ko_doc *d, bool share, int *rank, int *lcp) {
    const int k = d->n_choices;
    int len = d->n_ctx, saved = 0;
    for (int i = 0; i < k; i++) rank[i] = i;
    if (share) qsort_r(rank, (size_t)k, sizeof *rank, cmp_choice, (void *)d);
    for (int i = 0; i < k; i++) saved += lcp[i] = share && i ? common(d, rank[i - 1], rank[i]) : 0;
    if (!saved)
        for (int i = 0; i < k; i++) rank[i] = i;
    for (int i = 0; i < k; i++) len += d->n_cont[rank[i]] - 1 - lcp[i];
    return len;
}

void ko_packed_free(ko_packed *p) {
    free(p->tok); free(p->pos); free(p->br); free(p->tiles); free(p->rows); free(p->row_ts); free(p->row_tn);
    free(p->ttok); free(p->trow); free(p->tdoc); free(p->tchoice); free(p->b);
    memset(p, 0, sizeof *p);
}

/* A unit: a run of documents (consecutive in context order) sharing their first plen tokens. */
typedef struct unit {
    int first, count, plen, len; /* order[first .. first + count), packed tokens */
    int batch;                   /* assign_batches' choice */
} unit;

static int cmp_ctx(const void *a, const void *b, void *docs) {
    const ko_doc *x = &((const ko_doc *)docs)[*(const int *)a], *y = &((const ko_doc *)docs)[*(const int *)b];
    for (int i = 0; i < x->n_ctx && i < y->n_ctx; i++)
        if (x->ctx[i] != y->ctx[i]) return x->ctx[i] < y->ctx[i] ? -1 : 1;
    if (x->n_ctx != y->n_ctx) return x->n_ctx < y->n_ctx ? -1 : 1;
    return *(const int *)a - *(const int *)b;
}
static int cmp_unit_len(const void *a, const void *b) {
    const unit *x = (const unit *)a, *y = (const unit *)b;
    if (x->len != y->len) return y->len - x->len;
    return x->first - y->first;
}

/* Groups the documents (dlen: their packed lengths) into units: sorted by context tokens, the runs that
 * save the most tokens in all ((count - 1) x plen summed, by dynamic programming over runs of up to
 * SHARE_RUN neighbours), each at most Tb tokens, with plen shorter than every member's context (each
 * keeps its last context token, where its first answer tokens are predicted). share = false: one document per unit.
 * Returns the number of units; order[] receives the documents in unit order. */
enum { SHARE_RUN = 256 };
static int make_units(const ko_doc *docs, const int *dlen, int n, int Tb, bool share, int *order, unit *u) {
    for (int i = 0; i < n; i++) order[i] = i;
    if (share) qsort_r(order, (size_t)n, sizeof *order, cmp_ctx, (void *)docs);
    /* lcp[j]: context tokens order[j] and order[j + 1] have in common, short of either's last */
    int *lcp = ko_xcalloc((size_t)n + 1, sizeof(int));
    for (int j = 0; share && j + 1 < n; j++) {
        const ko_doc *a = &docs[order[j]], *b = &docs[order[j + 1]];
        int l = 0;
        while (l < a->n_ctx - 1 && l < b->n_ctx - 1 && a->ctx[l] == b->ctx[l]) l++;
        lcp[j] = l;
    }
    /* best[i]: tokens saved over order[0..i); from[i]: where the last run of that solution starts */
    long long *best = ko_xcalloc((size_t)n + 1, sizeof(long long));
    int *from = ko_xmalloc(sizeof(int) * ((size_t)n + 1)), *plen = ko_xmalloc(sizeof(int) * ((size_t)n + 1));
    for (int i = 1; i <= n; i++) {
        const ko_doc *last = &docs[order[i - 1]];
        best[i] = best[i - 1], from[i] = i - 1, plen[i] = 0;
        int m = last->n_ctx - 1;
        long long tot = dlen[order[i - 1]];
        for (int j = i - 2; share && j >= 0 && j > i - 1 - SHARE_RUN; j--) {
            m = lcp[j] < m ? lcp[j] : m;
            tot += dlen[order[j]];
            if (m == 0 || tot - (long long)(i - j - 1) * m > Tb) break;
            long long v = best[j] + (long long)(i - j - 1) * m;
            if (v > best[i]) best[i] = v, from[i] = j, plen[i] = m;
        }
    }
    int nu = 0;
    for (int i = n; i > 0; i = from[i]) nu++;
    int k = nu;
    for (int i = n; i > 0; i = from[i]) {
        unit *x = &u[--k];
        x->first = from[i], x->count = i - from[i], x->plen = x->count > 1 ? plen[i] : 0;
        x->len = x->plen;
        for (int d = x->first; d < i; d++) x->len += dlen[order[d]] - x->plen;
    }
    free(lcp); free(best); free(from); free(plen);
    return nu;
}

/* Appends the attention tiles of the n packed tokens from q (their keys: np tokens at p0, then [k0, ..)). */
static void add_tiles(ko_packed *p, int *NT, int q, int n, int k0, int p0, int np) {
    for (int i = 0; i < n; i += KO_TILE_Q) {
        ko_tile *t = &p->tiles[(*NT)++];
        t->q0 = q + i, t->nq = n - i < KO_TILE_Q ? n - i : KO_TILE_Q, t->k0 = k0, t->p0 = p0, t->np = np;
    }
}

/* Assigns the units (longest first) to batches of at most Tb tokens, each to the first with room for
 * it (first-fit decreasing: fuller batches than opening a new one whenever the last is full), and
 * sorts them by batch (longest first within one); returns the batch count. */
static int cmp_unit_batch(const void *a, const void *b) {
    const unit *x = (const unit *)a, *y = (const unit *)b;
    return x->batch != y->batch ? x->batch - y->batch : cmp_unit_len(a, b);
}
static int assign_batches(unit *u, int nu, int Tb) {
    qsort(u, (size_t)nu, sizeof *u, cmp_unit_len);
    /* room[]: a max-tree over the batches' free tokens (leaves from L, all Tb until used), so the first
     * batch with room for a unit is one descent from the root */
    int L = 1, nb = 0;
    while (L < nu) L *= 2;
    int *room = ko_xmalloc(sizeof(int) * 2 * (size_t)L);
    for (int i = 0; i < 2 * L; i++) room[i] = Tb;
    for (int i = 0; i < nu; i++) {
        int v = 1;
        while (v < L) v = room[2 * v] >= u[i].len ? 2 * v : 2 * v + 1;
        u[i].batch = v - L;
        nb = v - L + 1 > nb ? v - L + 1 : nb;
        for (room[v] -= u[i].len; v > 1; v /= 2) room[v / 2] = room[v] > room[v ^ 1] ? room[v] : room[v ^ 1];
    }
    free(room);
    qsort(u, (size_t)nu, sizeof *u, cmp_unit_batch);
    return nb;
}

/* Packs the units into batches of at most Tb tokens (assign_batches). */
void ko_pack(const ko_doc *docs, int n, int Tb, bool share, ko_packed *p) {
    memset(p, 0, sizeof *p);
    long long ntok = 0, ntg = 0, nrow = 0, ntile = 0;
    /* each document's choice trie (rank, lcp from coff[i]) and packed length, once */
    int *dlen = ko_xmalloc(sizeof(int) * (size_t)(n + 1)), *coff = ko_xmalloc(sizeof(int) * (size_t)(n + 1));
    coff[0] = 0;
    for (int i = 0; i < n; i++) coff[i + 1] = coff[i] + docs[i].n_choices;
    int *crank = ko_xmalloc(sizeof(int) * (size_t)(coff[n] + 1)), *clcp = ko_xmalloc(sizeof(int) * (size_t)(coff[n] + 1));
    for (int i = 0; i < n; i++) {
        dlen[i] = choice_trie(&docs[i], share, crank + coff[i], clcp + coff[i]);
        int len = ko_doc_len(&docs[i]);
        ntok += len;
        nrow += 1 + len - docs[i].n_ctx;
        ntg += docs[i].n_choices + len - docs[i].n_ctx;
        ntile += (len + KO_TILE_Q - 1) / KO_TILE_Q + 1; /* + 1: a unit's P may split a document's tiles */
    }
    int *order = ko_xmalloc(sizeof(int) * (size_t)(n + 1));
    unit *u = ko_xmalloc(sizeof(unit) * (size_t)(n + 1));
    int nu = make_units(docs, dlen, n, Tb, share, order, u);
    assign_batches(u, nu, Tb);
    p->tok = ko_xmalloc(sizeof(int) * (size_t)(ntok + 1));
    p->pos = ko_xmalloc(sizeof(int) * (size_t)(ntok + 1));
    p->br = ko_xmalloc(sizeof(int) * (size_t)(ntok + 1));
    p->tiles = ko_xmalloc(sizeof(ko_tile) * (size_t)(ntile + 1));
    p->rows = ko_xmalloc(sizeof(int) * (size_t)(nrow + 1));
    p->row_ts = ko_xmalloc(sizeof(int) * (size_t)(nrow + 1));
    p->row_tn = ko_xmalloc(sizeof(int) * (size_t)(nrow + 1));
    p->ttok = ko_xmalloc(sizeof(int) * (size_t)(ntg + 1));
    p->trow = ko_xmalloc(sizeof(int) * (size_t)(ntg + 1));
    p->tdoc = ko_xmalloc(sizeof(int) * (size_t)(ntg + 1));
    p->tchoice = ko_xmalloc(sizeof(int) * (size_t)(ntg + 1));
    p->b = ko_xcalloc((size_t)(n + 1), sizeof(ko_batch));
    int T = 0, NT = 0, R = 0, G = 0;
    ko_batch *cur = NULL;
    for (int ui = 0; ui < nu; ui++) {
        const unit *x = &u[ui];
        if (!cur || x->batch != p->nb - 1) {
            cur = &p->b[p->nb++];
            cur->t0 = T; cur->tile0 = NT; cur->row0 = R; cur->tg0 = G;
        }
        const int P0 = cur->nt, np = x->plen; /* batch-relative start of the shared prefix */
        for (int i = 0; i < np; i++) {
            p->tok[T] = docs[order[x->first]].ctx[i]; p->pos[T] = i; p->br[T] = KO_BR_CTX; T++;
        }
        add_tiles(p, &NT, P0, np, P0, 0, 0);
        cur->nt += np;
        for (int di = x->first; di < x->first + x->count; di++) {
            const int idx = order[di];
            const ko_doc *d = &docs[idx];
            const int base = cur->nt, own = dlen[idx] - np; /* batch-relative index of the doc's first own token */
            for (int i = np; i < d->n_ctx; i++) {
                p->tok[T] = d->ctx[i]; p->pos[T] = i; p->br[T] = KO_BR_CTX; T++;
            }
            /* The last context position predicts every choice's first token. */
            p->rows[R] = base + d->n_ctx - np - 1;
            p->row_ts[R] = G - cur->tg0;
            p->row_tn[R] = d->n_choices;
            for (int c = 0; c < d->n_choices; c++) {
                p->ttok[G] = d->cont[c][0]; p->trow[G] = R - cur->row0; p->tdoc[G] = idx; p->tchoice[G] = c; G++;
            }
            R++;
            /* Each trie node (choice rank i's input token j, j >= lcp[i]) once, on the branch of the ranks
             * [i, hi] through it, predicting each of their next tokens. */
            const int *rank = crank + coff[idx], *lcp = clcp + coff[idx];
            for (int i = 0; i < d->n_choices; i++) {
                const int c = rank[i];
                for (int j = lcp[i], hi = d->n_choices - 1; j + 1 < d->n_cont[c]; j++) {
                    for (int h = i + 1; h <= hi; h++)
                        if (lcp[h] <= j) hi = h - 1;
                    p->tok[T] = d->cont[c][j]; p->pos[T] = d->n_ctx + j; p->br[T] = ko_br(i, hi);
                    p->rows[R] = T - cur->t0;
                    p->row_ts[R] = G - cur->tg0;
                    p->row_tn[R] = hi - i + 1;
                    for (int h = i; h <= hi; h++) {
                        const int ch = rank[h];
                        p->ttok[G] = d->cont[ch][j + 1]; p->trow[G] = R - cur->row0; p->tdoc[G] = idx; p->tchoice[G] = ch; G++;
                    }
                    R++; T++;
                }
            }
            add_tiles(p, &NT, base, own, base, P0, np);
            cur->nt += own;
        }
        cur->ntile = NT - cur->tile0; cur->nrow = R - cur->row0; cur->ntg = G - cur->tg0;
    }
    p->ntok = T; p->ntile = NT; p->nrow = R; p->ntg = G;
    free(order); free(u); free(dlen); free(coff); free(crank); free(clcp);
}

int ko_group_tiles(const ko_packed *p, int qg, int *bg0, int *gs) {
    int n = 0;
    for (int b = 0; b < p->nb; b++) {
        const ko_tile *t = p->tiles + p->b[b].tile0;
        bg0[b] = n;
        for (int i = 0, first = 0; i < p->b[b].ntile; i++) {
            const ko_tile *f = &t[first];
            bool same = i > first && i - first < qg && t[i].k0 == f->k0 && t[i].p0 == f->p0 && t[i].np == f->np &&
                        t[i].q0 == t[i - 1].q0 + t[i - 1].nq;
            if (!same) gs[n++] = first = i;
        }
        gs[n++] = p->b[b].ntile;
    }
    bg0[p->nb] = n;
    return n;
}

int ko_head_spans(ko_packed *p, int cap, ko_span *sp) {
    int n = 0;
    for (int b = 0; b < p->nb; b++) {
        const ko_batch *x = &p->b[b];
        ko_span *s = n ? &sp[n - 1] : NULL;
        if (!s || s->nrow + x->nrow > cap) s = &sp[n++], *s = (ko_span){b, 0, x->row0, 0, x->tg0, 0};
        for (int r = x->row0; r < x->row0 + x->nrow; r++) p->row_ts[r] += x->tg0 - s->tg0;
        for (int g = x->tg0; g < x->tg0 + x->ntg; g++) p->trow[g] += x->row0 - s->row0;
        s->nb++, s->nrow += x->nrow, s->ntg += x->ntg;
    }
    return n;
}
