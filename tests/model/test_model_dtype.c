/* test_model_dtype.c — dtype helpers of model.h: every F16 and BF16 bit pattern converts exactly
 * (against a plain ldexp decoding of the IEEE formats), bulk conversion equals element access at any
 * offset and length, and the conversion speed is printed. */
#include "engine/model/model.h"
#include "tests/test.h"

/* Reference decoding written from the format definitions, deliberately the slow obvious way. */
static float ref_f16(uint16_t h) {
    int s = h >> 15, ex = (h >> 10) & 31, man = h & 1023;
    double v;
    if (ex == 0)
        v = ldexp(man, -24);
    else if (ex == 31)
        v = man ? NAN : INFINITY;
    else
        v = ldexp(1024 + man, ex - 25);
    return (float)(s ? -v : v);
}

static float ref_bf16(uint16_t h) {
    int s = h >> 15, ex = (h >> 7) & 255, man = h & 127;
    double v;
    if (ex == 0)
        v = ldexp(man, -133);
    else if (ex == 255)
        v = man ? NAN : INFINITY;
    else
        v = ldexp(128 + man, ex - 134);
    return (float)(s ? -v : v);
}

static bool same(float a, float b) {
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    return a == b && signbit(a) == signbit(b);
}

static uint32_t bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

int main(void) {
    CHECK_EQ_INT(ko_dtype_size(KO_F32), 4);
    CHECK_EQ_INT(ko_dtype_size(KO_F16), 2);
    CHECK_EQ_INT(ko_dtype_size(KO_BF16), 2);
    CHECK_EQ_STR(ko_dtype_name(KO_F32), "F32");
    CHECK_EQ_STR(ko_dtype_name(KO_F16), "F16");
    CHECK_EQ_STR(ko_dtype_name(KO_BF16), "BF16");

    static uint16_t all[65536];
    static float out[65536 + 8];
    for (int i = 0; i < 65536; i++) all[i] = (uint16_t)i;
    ko_tensor f16 = {.dtype = KO_F16, .ndim = 2, .shape = {256, 256}, .data = all};
    ko_tensor bf16 = {.dtype = KO_BF16, .ndim = 2, .shape = {256, 256}, .data = all};
    CHECK_EQ_INT(ko_tensor_numel(&f16), 65536);

    int bad_get = 0, bad_bulk = 0;
    ko_tensor_to_f32(&f16, 0, 65536, out);
    for (int i = 0; i < 65536; i++) {
        bad_get += !same(ko_tensor_get(&f16, i), ref_f16((uint16_t)i));
        bad_bulk += !same(out[i], ref_f16((uint16_t)i));
    }
    CHECK(bad_get == 0, "%d F16 patterns decode wrongly (get)", bad_get);
    CHECK(bad_bulk == 0, "%d F16 patterns decode wrongly (to_f32)", bad_bulk);

    bad_get = bad_bulk = 0;
    ko_tensor_to_f32(&bf16, 0, 65536, out);
    for (int i = 0; i < 65536; i++) {
        bad_get += !same(ko_tensor_get(&bf16, i), ref_bf16((uint16_t)i));
        bad_bulk += bits(out[i]) != (uint32_t)i << 16;
    }
    CHECK(bad_get == 0, "%d BF16 patterns decode wrongly (get)", bad_get);
    CHECK(bad_bulk == 0, "%d BF16 patterns decode wrongly (to_f32)", bad_bulk);

    /* known values */
    CHECK(ko_tensor_get(&f16, 0x3c00) == 1.0f && ko_tensor_get(&f16, 0xc000) == -2.0f, "f16 1, -2");
    CHECK(ko_tensor_get(&f16, 0x0001) == 0x1p-24f && ko_tensor_get(&f16, 0x7bff) == 65504.0f, "f16 extremes");
    CHECK(ko_tensor_get(&bf16, 0x3f80) == 1.0f && ko_tensor_get(&bf16, 0x4049) == 3.140625f, "bf16 1, pi");

    /* any offset and length, F32 included; nothing written past n */
    static float f32[1000];
    for (int i = 0; i < 1000; i++) f32[i] = (float)i * 0.25f - 7;
    ko_tensor t32 = {.dtype = KO_F32, .ndim = 1, .shape = {1000}, .data = f32};
    const ko_tensor *ts[3] = {&t32, &f16, &bf16};
    int bad = 0;
    for (int k = 0; k < 3; k++)
        for (int off = 0; off < 40; off += 3)
            for (int n = 0; n < 70; n += 7) {
                for (int i = 0; i < n + 8; i++) out[i] = -12345.0f;
                ko_tensor_to_f32(ts[k], off, n, out);
                for (int i = 0; i < n; i++) bad += !same(out[i], ko_tensor_get(ts[k], off + i));
                for (int i = n; i < n + 8; i++) bad += out[i] != -12345.0f;
            }
    CHECK(bad == 0, "%d mismatches at offsets", bad);

    /* speed, for the record: 64 M elements of each */
    float *big = ko_xmalloc(sizeof(float) * 65536);
    for (int k = 1; k < 3; k++) {
        double t0 = ko_now();
        for (int r = 0; r < 1024; r++) ko_tensor_to_f32(ts[k], 0, 65536, big);
        double dt = ko_now() - t0;
        printf("# %s -> F32: %.2f G elements/s\n", ko_dtype_name(ts[k]->dtype), 65536.0 * 1024 / dt / 1e9);
    }
    free(big);
    TEST_END();
}
