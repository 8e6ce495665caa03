/* test_cuda_pack — the CUDA backend's scheduler (engine/cuda/pack.c), on the CPU: for any budget, with
 * and without prefix sharing (across documents, and among a document's choices), every target's row
 * token sees through its tile and the tree mask (applied exactly as the attention kernels apply it) its
 * own document's context and choice tokens, in order, at positions 0..n-1, and nothing else; every
 * (document, choice) gets its continuation's tokens as targets, each once; batches keep to the budget,
 * and no two of them would fit in one; sharing packs what it should and nothing more. */
#include "engine/cuda/pack.h"
#include "tests/test.h"

#include <stdint.h>

enum { ND = 400, CMAX = 60, KMAX = 5, NMAX = 6 };

static uint32_t rng = 12345;
static int rnd(int n) {
    rng = rng * 1664525u + 1013904223u;
    return (int)((rng >> 8) % (uint32_t)n);
}

typedef struct {
    int32_t ctx[CMAX], cont[KMAX][NMAX];
    const int32_t *cp[KMAX];
    int nn[KMAX];
    double lp[KMAX];
    bool gr[KMAX];
} tdoc;

static void make_doc(tdoc *t, ko_doc *d, int nc, int k, int vocab) {
    for (int i = 0; i < nc; i++) t->ctx[i] = rnd(vocab);
    for (int c = 0; c < k; c++) {
        t->nn[c] = 1 + rnd(NMAX);
        for (int j = 0; j < t->nn[c]; j++) t->cont[c][j] = rnd(vocab);
        t->cp[c] = t->cont[c];
    }
    *d = (ko_doc){.ctx = t->ctx, .n_ctx = nc, .n_choices = k, .cont = t->cp, .n_cont = t->nn, .logprob = t->lp, .is_greedy = t->gr};
}

static int multi_span; /* LM-head spans of several batches seen (check_pack) */

/* Checks one packing of docs; returns the packed token count. */
static int check_pack(const ko_doc *docs, int n, int Tb, bool share) {
    ko_packed p;
    ko_pack(docs, n, Tb, share, &p);
    static unsigned char seen[ND][KMAX][NMAX];
    memset(seen, 0, sizeof seen);
    int T = 0, NT = 0, R = 0, G = 0, bad_seq = 0, bad_cover = 0, bad_row = 0;
    for (int bi = 0; bi < p.nb; bi++) {
        const ko_batch *b = &p.b[bi];
        CHECK(b->t0 == T && b->tile0 == NT && b->row0 == R && b->tg0 == G, "batch %d is not contiguous", bi);
        CHECK(b->nt >= 1 && b->nt <= Tb, "batch %d: %d tokens, budget %d", bi, b->nt, Tb);
        T += b->nt, NT += b->ntile, R += b->nrow, G += b->ntg;
        /* every token of the batch is the query of exactly one tile */
        int *tile_of = malloc(sizeof(int) * (size_t)b->nt);
        for (int i = 0; i < b->nt; i++) tile_of[i] = -1;
        for (int ti = b->tile0; ti < b->tile0 + b->ntile; ti++) {
            const ko_tile *t = &p.tiles[ti];
            if (t->nq < 1 || t->nq > KO_TILE_Q || t->q0 < 0 || t->q0 + t->nq > b->nt) bad_cover++;
            for (int q = t->q0; q < t->q0 + t->nq && q < b->nt; q++) {
                if (q >= 0 && tile_of[q] >= 0) bad_cover++;
                if (q >= 0) tile_of[q] = ti;
            }
        }
        for (int i = 0; i < b->nt; i++) bad_cover += tile_of[i] < 0;
        for (int g = 0; g < b->ntg; g++) {
            const int gg = b->tg0 + g, r = p.trow[gg], q = p.rows[b->row0 + r];
            if (g < p.row_ts[b->row0 + r] || g >= p.row_ts[b->row0 + r] + p.row_tn[b->row0 + r]) bad_row++;
            const ko_doc *d = &docs[p.tdoc[gg]];
            const int c = p.tchoice[gg];
            /* what the kernels let query q see, in the order they see it */
            const ko_tile *t = &p.tiles[tile_of[q]];
            int nvis = 0, ok = 1;
            for (int v = 0; v < ko_tile_nkeys(t); v++) {
                const int k = ko_tile_key(t, v);
                if (k < 0 || k >= b->nt) { ok = 0; break; }
                if (!(k <= q && ko_br_meet(p.br[b->t0 + k], p.br[b->t0 + q]))) continue;
                const int want = nvis < d->n_ctx ? d->ctx[nvis] : (nvis - d->n_ctx < d->n_cont[c] ? d->cont[c][nvis - d->n_ctx] : -1);
                if (p.tok[b->t0 + k] != want || p.pos[b->t0 + k] != nvis) ok = 0;
                nvis++;
            }
            const int j = nvis - d->n_ctx; /* the target is the choice's token j */
            if (!ok || j < 0 || j >= d->n_cont[c] || p.ttok[gg] != d->cont[c][j]) bad_seq++;
            else seen[p.tdoc[gg]][c][j]++;
        }
        free(tile_of);
    }
    CHECK(T == p.ntok && NT == p.ntile && R == p.nrow && G == p.ntg, "batch totals differ from the packing's");
    /* first fit: a batch's first unit did not fit in any earlier one, so no two batches would fit in one */
    int mergeable = 0;
    for (int i = 0; i < p.nb; i++)
        for (int j = i + 1; j < p.nb; j++) mergeable += p.b[i].nt + p.b[j].nt <= Tb;
    CHECK(mergeable == 0, "share=%d Tb=%d: %d pairs of batches would fit in one", share, Tb, mergeable);
    /* attention tile groups: each batch's tiles in order, runs of <= qg consecutive tiles of one document */
    for (int qg = 1; qg <= 8; qg *= 2) {
        int *bg0 = malloc(sizeof(int) * (size_t)(p.nb + 1)), *gs = malloc(sizeof(int) * (size_t)(p.ntile + p.nb));
        int ng = ko_group_tiles(&p, qg, bg0, gs), bad_grp = 0, multi = 0;
        bad_grp += bg0[0] != 0 || bg0[p.nb] != ng;
        for (int bi = 0; bi < p.nb && !bad_grp; bi++) {
            const ko_tile *t = p.tiles + p.b[bi].tile0;
            const int *g = gs + bg0[bi], n = bg0[bi + 1] - bg0[bi] - 1;
            bad_grp += n < 1 || g[0] != 0 || g[n] != p.b[bi].ntile;
            for (int k = 0; k < n && !bad_grp; k++) {
                bad_grp += g[k + 1] <= g[k] || g[k + 1] - g[k] > qg;
                multi += g[k + 1] - g[k] > 1;
                for (int i = g[k] + 1; i < g[k + 1]; i++)
                    bad_grp += t[i].k0 != t[g[k]].k0 || t[i].p0 != t[g[k]].p0 || t[i].np != t[g[k]].np || t[i].q0 != t[i - 1].q0 + t[i - 1].nq;
                /* a run stops only at its size, a new document, or the batch's end */
                if (k + 1 < n && g[k + 1] - g[k] < qg) {
                    const ko_tile *a = &t[g[k + 1] - 1], *b = &t[g[k + 1]];
                    bad_grp += b->k0 == a->k0 && b->p0 == a->p0 && b->np == a->np && b->q0 == a->q0 + a->nq;
                }
            }
        }
        CHECK(bad_grp == 0, "share=%d Tb=%d qg=%d: %d tile-group errors", share, Tb, qg, bad_grp);
        CHECK(qg == 1 ? multi == 0 : 1, "qg=1: %d groups of several tiles", multi);
        free(bg0), free(gs);
    }
    /* LM-head spans at cap = Tb rows (what the engine uses): consecutive batches, a span full before the
     * next batch, and every target's row and that row's target range rebased to the same global ones */
    {
        ko_span *sp = malloc(sizeof(ko_span) * (size_t)(p.nb + 1));
        int *trow0 = malloc(sizeof(int) * (size_t)(p.ntg + 1)), bad_sp = 0;
        for (int bi = 0; bi < p.nb; bi++)
            for (int g = p.b[bi].tg0; g < p.b[bi].tg0 + p.b[bi].ntg; g++) trow0[g] = p.b[bi].row0 + p.trow[g];
        int ns = ko_head_spans(&p, Tb, sp);
        bad_sp += ns < 1 || sp[0].b0 != 0 || sp[ns - 1].b0 + sp[ns - 1].nb != p.nb;
        for (int k = 0; k < ns && !bad_sp; k++) {
            const ko_span *x = &sp[k];
            const ko_batch *f = &p.b[x->b0], *l = &p.b[x->b0 + x->nb - 1];
            bad_sp += x->nb < 1 || (k > 0 && x->b0 != sp[k - 1].b0 + sp[k - 1].nb) || x->row0 != f->row0 || x->tg0 != f->tg0 ||
                      x->nrow != l->row0 + l->nrow - f->row0 || x->ntg != l->tg0 + l->ntg - f->tg0 || (x->nrow > Tb && x->nb > 1);
            if (k + 1 < ns) bad_sp += x->nrow + p.b[sp[k + 1].b0].nrow <= Tb;
            multi_span += x->nb > 1;
            for (int g = 0; g < x->ntg && !bad_sp; g++) {
                const int r = p.trow[x->tg0 + g], R = x->row0 + r;
                bad_sp += r < 0 || r >= x->nrow || R != trow0[x->tg0 + g] || g < p.row_ts[R] || g >= p.row_ts[R] + p.row_tn[R];
            }
        }
        CHECK(bad_sp == 0, "share=%d Tb=%d: %d LM-head span errors", share, Tb, bad_sp);
        free(sp), free(trow0);
    }
    CHECK(bad_cover == 0, "share=%d Tb=%d: %d tile coverage errors", share, Tb, bad_cover);
    CHECK(bad_row == 0, "share=%d Tb=%d: %d targets outside their row's range", share, Tb, bad_row);
    CHECK(bad_seq == 0, "share=%d Tb=%d: %d targets see other tokens than their own document's", share, Tb, bad_seq);
    int missing = 0;
    for (int i = 0; i < n; i++)
        for (int c = 0; c < docs[i].n_choices; c++)
            for (int j = 0; j < docs[i].n_cont[c]; j++) missing += seen[i][c][j] != 1;
    CHECK(missing == 0, "share=%d Tb=%d: %d (document, choice, token) targets not scored exactly once", share, Tb, missing);
    int ntok = p.ntok;
    ko_packed_free(&p);
    return ntok;
}

int main(void) {
    static tdoc td[ND];
    static ko_doc docs[ND];
    /* Random documents over a tiny vocabulary (so many share prefixes by chance), some built on one of
     * three templates, a few with a one-token context. */
    static const int32_t tmpl[3][12] = {{1, 2, 3}, {1, 2, 4, 5, 6, 7, 0, 1}, {2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2}};
    static const int tl[3] = {3, 8, 12};
    int longest = 0;
    long long unshared = 0;
    for (int i = 0; i < ND; i++) {
        int nc = i % 17 == 0 ? 1 : 1 + rnd(CMAX);
        make_doc(&td[i], &docs[i], nc, 1 + rnd(KMAX), i % 3 ? 4 : 50);
        if (i % 4 == 1)
            for (int j = 0; j < tl[i % 3] && j < nc; j++) td[i].ctx[j] = tmpl[i % 3][j];
        int len = ko_doc_len(&docs[i]);
        longest = len > longest ? len : longest;
        unshared += len;
    }
    const int budgets[] = {longest, 97, 1000, 1 << 20};
    for (size_t bi = 0; bi < sizeof budgets / sizeof budgets[0]; bi++) {
        int Tb = budgets[bi] < longest ? longest : budgets[bi];
        int plain = check_pack(docs, ND, Tb, false), shared = check_pack(docs, ND, Tb, true);
        CHECK(plain == unshared, "unshared packing: %d tokens, documents have %lld", plain, unshared);
        CHECK(shared < plain, "budget %d: sharing packed %d tokens, no fewer than %d", Tb, shared, plain);
        printf("# budget %d: %d tokens unshared, %d shared\n", Tb, plain, shared);
    }
    CHECK(multi_span > 0, "no LM-head span took several batches");
    /* Known case: five documents [1 2 3 4 5 x_i] share exactly their first five tokens; a sixth
     * document equal to the shared part alone must keep its last token (P is shorter than every
     * member's context). */
    static tdoc kd[6];
    static ko_doc kdocs[6];
    for (int i = 0; i < 6; i++) {
        make_doc(&kd[i], &kdocs[i], i < 5 ? 6 : 5, 1, 100);
        kd[i].nn[0] = 1;
        for (int j = 0; j < 5; j++) kd[i].ctx[j] = j + 1;
        if (i < 5) kd[i].ctx[5] = 10 + i;
    }
    int five = check_pack(kdocs, 5, 1000, true), six = check_pack(kdocs, 6, 1000, true);
    CHECK_EQ_INT(five, 5 + 5 * 1);
    CHECK_EQ_INT(six, 15); /* the five as above + the sixth alone, or P = 4 shared by all six: 15 either way */
    /* Known case: choices whose inputs start alike are a trie: inputs [5 6 7], [5 6], [5], [], [5 6]
     * (the last a copy of the second) after a 3-token context are the nodes 5, 6, 7. */
    static const int32_t tc[5][4] = {{5, 6, 7, 8}, {5, 6, 9}, {5, 1}, {4}, {5, 6, 9}};
    static const int tn[5] = {4, 3, 2, 1, 3};
    static tdoc cd;
    ko_doc cdoc;
    make_doc(&cd, &cdoc, 3, 5, 100);
    for (int c = 0; c < 5; c++) {
        cd.nn[c] = tn[c];
        for (int j = 0; j < tn[c]; j++) cd.cont[c][j] = tc[c][j];
    }
    CHECK_EQ_INT(check_pack(&cdoc, 1, 100, true), 3 + 3);
    CHECK_EQ_INT(check_pack(&cdoc, 1, 100, false), 3 + 3 + 2 + 1 + 0 + 2);
    TEST_END();
}
