/* test_cuda_lse.cu — the LM head's log-sum-exp kernels (kernels.cuh: lse_chunk_k over vocabulary
 * chunks, lse_final_k) against lm-eval's definition, computed here on the host: log p = the target's
 * log_softmax in the softmax dtype, is_greedy = torch's argmax of those rounded log-probs (the first
 * index of their maximum) is the target. The logits are drawn so that rounded log-probs tie often (flat
 * rows, bfloat16 logits a few steps apart), where the first maximal *logit* is not lm-eval's argmax.
 * Without a GPU it prints a SKIP line and passes (CI has no GPU).
 *
 * The host's log(sum) is computed in double, the kernel's in float: a 16-bit log-prob lying within a few
 * float ulps of a rounding boundary could come out one step apart, so a target is only judged where the
 * reference gives the same answer with log(sum) moved up to 4 ulps either way (nearly all; counted); a
 * float32 log-prob is held to the error of a float sum and its log (2e-6 + 1e-6 relative). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#include "engine/model/model.h" /* ko_dtype_round, with C linkage (kernels.cuh includes it too) */
}
#include "engine/cuda/kernels.cuh"
#include "tests/test.h"

#define CKC(x)                                                                            \
    do {                                                                                  \
        cudaError_t err_ = (x);                                                           \
        if (err_ != cudaSuccess) {                                                        \
            printf("not ok %s:%d: %s\n", __FILE__, __LINE__, cudaGetErrorString(err_));   \
            exit(1);                                                                      \
        }                                                                                 \
    } while (0)

static unsigned long long rng = 88172645463325252ull;
static double urand(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}
static double nrand(void) { return sqrt(-2 * log(urand() + 1e-300)) * cos(6.283185307179586 * urand()); }

/* The k-th value of type t below v > 0 (its bits minus k). */
static float below(ko_dtype t, float v, int k) {
    if (t == KO_F32) {
        uint32_t u;
        memcpy(&u, &v, 4), u -= (uint32_t)k, memcpy(&v, &u, 4);
        return v;
    }
    if (t == KO_BF16) return __bfloat162float(__ushort_as_bfloat16((unsigned short)(__bfloat16_as_ushort(__float2bfloat16_rn(v)) - k)));
    return __half2float(__ushort_as_half((unsigned short)(__half_as_ushort(__float2half_rn(v)) - k)));
}

/* One row as lm-eval's log_softmax(x, dtype=sd) sees it: cast to sd, its maximum and log(sum exp(x - max)),
 * and the first index of the maximal logit (the rule that ignores ties of the rounded log-probs). */
typedef struct ref_row {
    float *x, M, ls;
    int V, first;
    ko_dtype sd;
} ref_row;
static void ref_init(ref_row *r, const float *x0, int V, ko_dtype sd) {
    r->x = (float *)malloc(sizeof(float) * V), r->V = V, r->sd = sd, r->first = 0;
    for (int i = 0; i < V; i++) r->x[i] = ko_dtype_round(sd, x0[i]);
    for (int i = 1; i < V; i++) r->first = r->x[i] > r->x[r->first] ? i : r->first;
    r->M = r->x[r->first];
    double sum = 0;
    for (int i = 0; i < V; i++) sum += exp((double)r->x[i] - r->M);
    r->ls = (float)log(sum);
}
/* lm-eval's log-prob of each target and whether the argmax is it, with log(sum) moved d float ulps. */
static void ref_eval(const ref_row *r, int d, const int *tok, int n, float *lp, bool *greedy) {
    const float *x = r->x, M = r->M;
    float ls = r->ls;
    for (int k = 0; k < abs(d); k++) ls = nextafterf(ls, d > 0 ? INFINITY : -INFINITY);
    int am = 0;
    float top = ko_dtype_round(r->sd, (x[0] - M) - ls);
    for (int i = 1; i < r->V; i++) {
        float v = ko_dtype_round(r->sd, (x[i] - M) - ls);
        if (v > top) top = v, am = i;
    }
    for (int j = 0; j < n; j++) {
        lp[j] = ko_dtype_round(r->sd, (x[tok[j]] - M) - ls);
        greedy[j] = am == tok[j];
    }
}

/* R rows of V logits in T, scored in chunks of VC under softmax dtype sd. */
template <class T> static void check(const char *name, ko_dtype tdt, ko_dtype sd, int R, int V, int VC) {
    const int TN = 4; /* targets per row, at most */
    int NT = 0;       /* targets in all, row by row as the engine packs them */
    float *x = (float *)malloc(sizeof(float) * (size_t)R * V);
    int *ttok = (int *)malloc(sizeof(int) * R * TN), *trow = (int *)malloc(sizeof(int) * R * TN);
    int *ts = (int *)malloc(sizeof(int) * R), *tn = (int *)malloc(sizeof(int) * R);
    for (int r = 0; r < R; r++) {
        /* flat rows (sd 0.3-1.5, many near-ties at the top), every fourth with one token far ahead */
        const double s = 0.3 + 1.2 * urand();
        float *row = x + (size_t)r * V;
        for (int i = 0; i < V; i++) row[i] = ko_dtype_round(tdt, (float)(s * nrand()));
        if (r % 4 == 3) row[(int)(urand() * V)] = ko_dtype_round(tdt, 12.f);
        if (r % 4 == 1) { /* a plateau: three logits one to three values of T below the maximum */
            float M = row[0];
            for (int i = 1; i < V; i++) M = row[i] > M ? row[i] : M;
            for (int k = 1; k <= 3; k++) row[(int)(urand() * V)] = below(tdt, M, k);
        }
        /* targets: the first maximal logit, a later index of the same or a near value, chunk edges, random */
        int first = 0, last = 0;
        for (int i = 1; i < V; i++) {
            if (row[i] > row[first]) first = i;
            if (row[i] >= row[last]) last = i;
        }
        int near = first;
        for (int i = 0; i < V; i++)
            if (i != first && row[i] >= row[first] - 0.25f && row[i] <= row[first]) near = i;
        const int cands[] = {first, last, near, VC * (int)(urand() * (V / VC)), VC - 1, V - 1, (int)(urand() * V)};
        ts[r] = NT, tn[r] = 1 + r % TN, NT += tn[r];
        for (int j = 0; j < tn[r]; j++) {
            ttok[ts[r] + j] = j == 0 ? (r & 1 ? first : near) : cands[(int)(urand() * 7)];
            trow[ts[r] + j] = r;
        }
    }
    /* device: each chunk as the LM head's GEMM leaves it, [R, nv] */
    T *dL;
    ko_rowst *dst;
    ko_tgtst *dtg;
    int *dts, *dtn, *dtok, *dtrow;
    float *dlp;
    unsigned char *dgr;
    CKC(cudaMalloc(&dL, sizeof(T) * (size_t)R * VC));
    CKC(cudaMalloc(&dst, sizeof(ko_rowst) * R));
    CKC(cudaMalloc(&dtg, sizeof(ko_tgtst) * NT));
    CKC(cudaMalloc(&dts, sizeof(int) * R)); CKC(cudaMalloc(&dtn, sizeof(int) * R));
    CKC(cudaMalloc(&dtok, sizeof(int) * NT)); CKC(cudaMalloc(&dtrow, sizeof(int) * NT));
    CKC(cudaMalloc(&dlp, sizeof(float) * NT)); CKC(cudaMalloc(&dgr, NT));
    CKC(cudaMemcpy(dts, ts, sizeof(int) * R, cudaMemcpyHostToDevice));
    CKC(cudaMemcpy(dtn, tn, sizeof(int) * R, cudaMemcpyHostToDevice));
    CKC(cudaMemcpy(dtok, ttok, sizeof(int) * NT, cudaMemcpyHostToDevice));
    CKC(cudaMemcpy(dtrow, trow, sizeof(int) * NT, cudaMemcpyHostToDevice));
    T *hL = (T *)malloc(sizeof(T) * (size_t)R * VC);
    rowst_init_k<<<(R + 255) / 256, 256>>>(dst, R);
    for (int v0 = 0; v0 < V; v0 += VC) {
        const int nv = V - v0 < VC ? V - v0 : VC;
        for (int r = 0; r < R; r++)
            for (int i = 0; i < nv; i++) {
                const float v = x[(size_t)r * V + v0 + i];
                if constexpr (std::is_same<T, float>::value) hL[(size_t)r * nv + i] = v;
                else if constexpr (std::is_same<T, bf16>::value) hL[(size_t)r * nv + i] = __float2bfloat16_rn(v);
                else hL[(size_t)r * nv + i] = __float2half_rn(v);
            }
        CKC(cudaMemcpy(dL, hL, sizeof(T) * (size_t)R * nv, cudaMemcpyHostToDevice));
        lse_chunk_k<T><<<R, 256>>>(dL, nv, v0, 0.f, (int)sd, dst, dts, dtn, dtok, dtg);
    }
    lse_final_k<<<(NT + 255) / 256, 256>>>(dst, dtrow, dtg, (int)sd, dlp, dgr, NT);
    CKC(cudaGetLastError());
    CKC(cudaDeviceSynchronize());
    float *lp = (float *)malloc(sizeof(float) * NT);
    unsigned char *gr = (unsigned char *)malloc(NT);
    CKC(cudaMemcpy(lp, dlp, sizeof(float) * NT, cudaMemcpyDeviceToHost));
    CKC(cudaMemcpy(gr, dgr, NT, cudaMemcpyDeviceToHost));
    int total = 0, ljudged = 0, gjudged = 0, lbad = 0, gbad = 0, ties = 0, greedy = 0;
    for (int r = 0; r < R; r++) {
        const int *tok = ttok + ts[r], n = tn[r];
        /* the reference with log(sum) as computed and moved 1 .. 4 float ulps either way (an odd move too:
         * a log-prob exactly halfway between two values rounds to the even one, which a 1-ulp move flips) */
        float l0[TN], ld[TN];
        bool g0[TN], gd[TN], lsure[TN], gsure[TN];
        ref_row rr;
        ref_init(&rr, x + (size_t)r * V, V, sd);
        const int first = rr.first;
        ref_eval(&rr, 0, tok, n, l0, g0);
        for (int j = 0; j < n; j++) lsure[j] = gsure[j] = true;
        for (int d = -4; d <= 4; d++) {
            if (!d) continue;
            ref_eval(&rr, d, tok, n, ld, gd);
            for (int j = 0; j < n; j++) lsure[j] &= ld[j] == l0[j], gsure[j] &= gd[j] == g0[j];
        }
        free(rr.x);
        for (int j = 0; j < n; j++, total++) {
            const int k = ts[r] + j;
            if (sd == KO_F32) { /* nothing rounds it: the log-prob moves with log(sum), by float ulps */
                ljudged++;
                lbad += fabsf(lp[k] - l0[j]) > 2e-6f + 1e-6f * fabsf(l0[j]); /* a float sum of V terms, its log */
            } else if (lsure[j]) {
                ljudged++;
                lbad += lp[k] != l0[j];
            }
            if (!gsure[j]) continue;
            gjudged++;
            gbad += (bool)gr[k] != g0[j];
            greedy += g0[j];
            ties += (tok[j] == first) != g0[j];
        }
    }
    CHECK(ljudged >= total * 9 / 10, "%s: only %d of %d log-probs away from a rounding boundary", name, ljudged, total);
    CHECK(gjudged >= total * 9 / 10, "%s: only %d of %d is_greedy away from a rounding boundary", name, gjudged, total);
    CHECK(lbad == 0, "%s: %d of %d log-probs differ from lm-eval's", name, lbad, ljudged);
    CHECK(gbad == 0, "%s: %d of %d is_greedy differ from lm-eval's", name, gbad, gjudged);
    CHECK(greedy > gjudged / 10, "%s: only %d greedy targets of %d", name, greedy, gjudged);
    if (sd != KO_F32 || tdt == KO_F32) /* distinct 16-bit logits cannot tie in a float32 log-softmax */
        CHECK(ties > 0, "%s: no target where a tie of the rounded log-probs decides", name);
    printf("%-28s %d targets (judged: %d log-probs, %d is_greedy): %d greedy, %d decided by a tie of rounded log-probs\n", name,
           total, ljudged, gjudged, greedy, ties);
    cudaFree(dL), cudaFree(dst), cudaFree(dtg), cudaFree(dts), cudaFree(dtn), cudaFree(dtok), cudaFree(dtrow);
    cudaFree(dlp), cudaFree(dgr);
    free(x), free(ttok), free(trow), free(ts), free(tn), free(hL), free(lp), free(gr);
}

int main(void) {
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
        printf("SKIP cuda/test_cuda_lse: no GPU (CI has no GPU)\nRESULT 0 0\n");
        return 0;
    }
    /* vocabulary 10,000 in chunks of 4,096 (the last one partial) and 262,144 in the engine's 32,768 */
    check<bf16>("bf16 logits, bf16 softmax", KO_BF16, KO_BF16, 512, 10000, 4096);
    check<bf16>("bf16 logits, bf16 softmax 262k", KO_BF16, KO_BF16, 64, 262144, 32768);
    check<__half>("f16 logits, f16 softmax", KO_F16, KO_F16, 512, 10000, 4096);
    check<bf16>("bf16 logits, f32 softmax", KO_BF16, KO_F32, 512, 10000, 4096);
    check<float>("f32 logits, f32 softmax", KO_F32, KO_F32, 512, 10000, 4096);
    check<float>("f32 logits, bf16 softmax", KO_F32, KO_BF16, 512, 10000, 4096);
    TEST_END();
}
