/* pyrandom.c — see pyrandom.h. Follows CPython's Modules/_randommodule.c and Lib/random.py. */
#include "tasks/pyrandom.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { MT_N = 624, MT_M = 397 };

static void init_genrand(ko_pyrandom *r, uint32_t s) {
    r->mt[0] = s;
    for (int i = 1; i < MT_N; i++)
        r->mt[i] = 1812433253u * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + (uint32_t)i;
    r->mti = MT_N;
}

static void init_by_array(ko_pyrandom *r, const uint32_t *key, int len) {
    init_genrand(r, 19650218u);
    int i = 1, j = 0;
    for (int k = MT_N > len ? MT_N : len; k; k--) {
        r->mt[i] = (r->mt[i] ^ ((r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) * 1664525u)) + key[j] + (uint32_t)j;
        i++; j++;
        if (i >= MT_N) { r->mt[0] = r->mt[MT_N - 1]; i = 1; }
        if (j >= len) j = 0;
    }
    for (int k = MT_N - 1; k; k--) {
        r->mt[i] = (r->mt[i] ^ ((r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) * 1566083941u)) - (uint32_t)i;
        i++;
        if (i >= MT_N) { r->mt[0] = r->mt[MT_N - 1]; i = 1; }
    }
    r->mt[0] = 0x80000000u;
}

void ko_pyrandom_seed(ko_pyrandom *r, uint64_t seed) {
    /* CPython: the key is |seed| as little-endian 32-bit words, at least one word (0 -> [0]). */
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    init_by_array(r, key, key[1] ? 2 : 1);
}

uint32_t ko_pyrandom_u32(ko_pyrandom *r) {
    static const uint32_t mag01[2] = {0u, 0x9908b0dfu};
    uint32_t y;
    if (r->mti >= MT_N) {
        int kk;
        for (kk = 0; kk < MT_N - MT_M; kk++) {
            y = (r->mt[kk] & 0x80000000u) | (r->mt[kk + 1] & 0x7fffffffu);
            r->mt[kk] = r->mt[kk + MT_M] ^ (y >> 1) ^ mag01[y & 1u];
        }
        for (; kk < MT_N - 1; kk++) {
            y = (r->mt[kk] & 0x80000000u) | (r->mt[kk + 1] & 0x7fffffffu);
            r->mt[kk] = r->mt[kk + (MT_M - MT_N)] ^ (y >> 1) ^ mag01[y & 1u];
        }
        y = (r->mt[MT_N - 1] & 0x80000000u) | (r->mt[0] & 0x7fffffffu);
        r->mt[MT_N - 1] = r->mt[MT_M - 1] ^ (y >> 1) ^ mag01[y & 1u];
        r->mti = 0;
    }
    y = r->mt[r->mti++];
    y ^= (y >> 11);
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= (y >> 18);
    return y;
}

uint64_t ko_pyrandom_getrandbits(ko_pyrandom *r, int k) {
    if (k <= 0) return 0;
    if (k <= 32) return ko_pyrandom_u32(r) >> (32 - k);
    /* CPython fills 32-bit words from the least significant one; the last word keeps its top bits. */
    uint64_t lo = ko_pyrandom_u32(r);
    uint64_t hi = ko_pyrandom_u32(r) >> (64 - (k > 64 ? 64 : k));
    return lo | (hi << 32);
}

static int bit_length(uint64_t n) {
    int k = 0;
    while (n) { k++; n >>= 1; }
    return k;
}

uint64_t ko_pyrandom_randbelow(ko_pyrandom *r, uint64_t n) {
    if (n == 0) return 0;
    int k = bit_length(n);
    uint64_t v = ko_pyrandom_getrandbits(r, k);
    while (v >= n) v = ko_pyrandom_getrandbits(r, k);
    return v;
}

double ko_pyrandom_random(ko_pyrandom *r) {
    uint32_t a = ko_pyrandom_u32(r) >> 5, b = ko_pyrandom_u32(r) >> 6;
    return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
}

int ko_pyrandom_sample(ko_pyrandom *r, int n, int k, int *out, ko_err *e) {
    if (k < 0 || k > n) return ko_fail(e, "sample: sample larger than population or is negative (k=%d, n=%d)", k, n);
    /* random.sample: a list pool when the population is no bigger than the set it would need. */
    long setsize = 21;
    if (k > 5) setsize += (long)pow(4.0, ceil(log((double)k * 3) / log(4.0)));
    if (n <= setsize) {
        int *pool = ko_xmalloc(sizeof(int) * (size_t)(n ? n : 1));
        for (int i = 0; i < n; i++) pool[i] = i;
        for (int i = 0; i < k; i++) {
            int j = (int)ko_pyrandom_randbelow(r, (uint64_t)(n - i));
            out[i] = pool[j];
            pool[j] = pool[n - i - 1];
        }
        free(pool);
        return 0;
    }
    unsigned char *selected = ko_xcalloc((size_t)n, 1);
    for (int i = 0; i < k; i++) {
        int j = (int)ko_pyrandom_randbelow(r, (uint64_t)n);
        while (selected[j]) j = (int)ko_pyrandom_randbelow(r, (uint64_t)n);
        selected[j] = 1;
        out[i] = j;
    }
    free(selected);
    return 0;
}
