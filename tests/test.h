/* test.h — the tiny assertion kit every C test uses.
 * A test program runs its checks and ends with TEST_END(), which prints "RESULT <passed> <failed>"
 * (read by scripts/run_tests.sh) and returns non-zero when anything failed. */
#ifndef KO_TEST_H
#define KO_TEST_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ko_t_pass, ko_t_fail;

#define CHECK(cond, ...)                                                                  \
    do {                                                                                  \
        if (cond) {                                                                       \
            ko_t_pass++;                                                                  \
        } else {                                                                          \
            ko_t_fail++;                                                                  \
            printf("not ok %s:%d: %s: ", __FILE__, __LINE__, #cond);                      \
            printf(__VA_ARGS__);                                                          \
            printf("\n");                                                                 \
        }                                                                                 \
    } while (0)

#define CHECK_EQ_INT(a, b) CHECK((long long)(a) == (long long)(b), "%lld != %lld", (long long)(a), (long long)(b))
#define CHECK_EQ_STR(a, b) CHECK(strcmp((a), (b)) == 0, "\"%s\" != \"%s\"", (a), (b))
#define CHECK_NEAR(a, b, tol) CHECK(fabs((double)(a) - (double)(b)) <= (tol), "%.10g vs %.10g (tol %g)", (double)(a), (double)(b), (double)(tol))

/* Directory with the shared data (../shared next to the checkout), overridable by KOEVAL_SHARED. */
static inline const char *ko_t_shared(void) {
    const char *s = getenv("KOEVAL_SHARED");
    return s ? s : "../shared";
}

#define TEST_END()                                        \
    do {                                                  \
        printf("RESULT %d %d\n", ko_t_pass, ko_t_fail);   \
        return ko_t_fail ? 1 : 0;                         \
    } while (0)
#endif
