/* pyrandom.h — CPython's `random.Random` in C, exactly: MT19937 seeded like random.seed(int)
 * (init_by_array over the 32-bit words of |seed|), getrandbits, _randbelow (rejection sampling on
 * getrandbits(n.bit_length())) and random.sample's two branches (pool and set). lm-eval draws its
 * few-shot examples with random.Random(seed).sample(docs, k); this reproduces the same indices. */
#ifndef KO_PYRANDOM_H
#define KO_PYRANDOM_H

#include <stdint.h>

#include "common/ko.h"

typedef struct ko_pyrandom {
    uint32_t mt[624];
    int mti;
} ko_pyrandom;

/* random.Random(seed) for a non-negative integer seed. */
void ko_pyrandom_seed(ko_pyrandom *r, uint64_t seed);
/* genrand_uint32() */
uint32_t ko_pyrandom_u32(ko_pyrandom *r);
/* random.getrandbits(k), 0 <= k <= 64. */
uint64_t ko_pyrandom_getrandbits(ko_pyrandom *r, int k);
/* random._randbelow(n) for n >= 1 (0 for n == 0). */
uint64_t ko_pyrandom_randbelow(ko_pyrandom *r, uint64_t n);
/* random.random() (53-bit float), handy for tests. */
double ko_pyrandom_random(ko_pyrandom *r);
/* random.sample(range(n), k): writes the k chosen indices into out[k] in Python's order.
 * Fails when k > n or k < 0 (Python's ValueError). */
int ko_pyrandom_sample(ko_pyrandom *r, int n, int k, int *out, ko_err *e);

#endif
