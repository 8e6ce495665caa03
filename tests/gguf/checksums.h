/* checksums.h — the tensor checksums scripts/make_gguf_goldens.py writes: over the float32 bit
 * patterns, mod 2^64, so a golden pins every bit of a dequantised tensor. Shared by the gguf tests. */
#ifndef KO_TEST_GGUF_CHECKSUMS_H
#define KO_TEST_GGUF_CHECKSUMS_H
#include <stdint.h>
#include <string.h>

static inline void sums(const float *y, int64_t n, unsigned long long *h1, unsigned long long *h2) {
    uint64_t a = 0, b = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &y[i], 4);
        a += ((uint64_t)bits + 1) * (2 * (uint64_t)i + 1);
        b += (uint64_t)bits * bits;
    }
    *h1 = a, *h2 = b;
}
#endif
