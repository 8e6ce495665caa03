/* test_pyrandom.c — tasks/pyrandom.c against numbers CPython's random.Random produced
 * (tests/tasks/goldens/pyrandom.txt, made by scripts/make_request_goldens.py): seeding, getrandbits,
 * _randbelow, random() and both branches of random.sample, each case continuing the same stream. */
#include <stdlib.h>

#include "tasks/pyrandom.h"
#include "tests/test.h"

enum { MAXV = 64 };

static int split_ints(char *s, char **parts, int max) {
    int n = 0;
    for (char *save = NULL, *t = strtok_r(s, " ,\n", &save); t && n < max; t = strtok_r(NULL, " ,\n", &save))
        parts[n++] = t;
    return n;
}

int main(void) {
    FILE *f = fopen("tests/tasks/goldens/pyrandom.txt", "r");
    CHECK(f != NULL, "cannot open the golden file");
    if (!f) TEST_END();
    char line[8192];
    unsigned long long cur_seed = ~0ull;
    ko_pyrandom r;
    int cases = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        char *colon = strchr(line, ':');
        if (!colon) continue;
        *colon = 0;
        char *lhs[8], *rhs[MAXV];
        int nl = split_ints(line, lhs, 8), nr = split_ints(colon + 1, rhs, MAXV);
        unsigned long long seed = strtoull(lhs[0], NULL, 10);
        if (seed != cur_seed) { ko_pyrandom_seed(&r, seed); cur_seed = seed; }
        const char *op = lhs[1];
        cases++;
        if (!strcmp(op, "u32")) {
            for (int i = 0; i < nr; i++) CHECK_EQ_INT(ko_pyrandom_getrandbits(&r, 32), strtoull(rhs[i], NULL, 10));
        } else if (!strcmp(op, "bits")) {
            for (int i = 0; i < nr; i++) {
                unsigned long long got = ko_pyrandom_getrandbits(&r, atoi(lhs[2 + i])), want = strtoull(rhs[i], NULL, 10);
                CHECK(got == want, "seed %llu getrandbits(%s): %llu != %llu", seed, lhs[2 + i], got, want);
            }
        } else if (!strcmp(op, "below")) {
            for (int i = 0; i < nr; i++) {
                unsigned long long got = ko_pyrandom_randbelow(&r, strtoull(lhs[2 + i], NULL, 10));
                CHECK(got == strtoull(rhs[i], NULL, 10), "seed %llu _randbelow(%s) = %llu, want %s", seed, lhs[2 + i], got, rhs[i]);
            }
        } else if (!strcmp(op, "random")) {
            for (int i = 0; i < nr; i++) {
                double got = ko_pyrandom_random(&r);
                CHECK(got == strtod(rhs[i], NULL), "seed %llu random() %.17g != %s", seed, got, rhs[i]);
            }
        } else if (!strcmp(op, "sample")) {
            int n = atoi(lhs[2]), k = atoi(lhs[3]);
            int out[MAXV];
            ko_err e;
            CHECK(nl == 4 && k == nr && ko_pyrandom_sample(&r, n, k, out, &e) == 0, "sample(%d, %d)", n, k);
            for (int i = 0; i < k && i < nr; i++)
                CHECK(out[i] == atoi(rhs[i]), "seed %llu sample(range(%d), %d)[%d] = %d, want %s", seed, n, k, i, out[i], rhs[i]);
        } else {
            CHECK(0, "unknown op %s", op);
        }
    }
    fclose(f);
    CHECK(cases >= 50, "only %d cases read", cases);
    /* Python raises ValueError for a sample larger than the population. */
    ko_err e;
    int out[4];
    CHECK(ko_pyrandom_sample(&r, 3, 4, out, &e) == -1, "k > n must fail");
    TEST_END();
}
