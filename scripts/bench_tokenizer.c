/* bench_tokenizer.c — the C side of scripts/bench_tokenizer.sh (built by it against
 * build/libkoeval.a): loads a tokenizer (timed), reads strings (JSONL {"text": ...}), encodes them
 * all on one thread and on T threads, and prints one line of figures:
 *   load_s <s> n <strings> ids <total ids> t1_s <s> t1_cpu <s> tN_s <s> threads <T> hash <fnv of ids>
 * Each time is the best of REPEAT runs (the machine may be shared); t1_cpu is the process CPU
 * time of the one-thread run, which other load on the machine does not inflate.
 * Usage: bench_tokenizer TOKENIZER STRINGS.jsonl THREADS [REPEAT] */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/tokenizer/tokenizer.h"

static ko_tokenizer *tok;
static char **str;
static size_t *len;
static int n_str, n_thr;
static long long total_ids;

typedef struct job { int id; long long ids; uint32_t hash; } job;

static void *worker(void *arg) {
    job *j = arg;
    ko_ids ids = {0};
    ko_err e;
    uint32_t h = 0x811c9dc5u;
    for (int i = j->id; i < n_str; i += n_thr) {
        if (ko_tokenizer_encode(tok, str[i], len[i], false, &ids, &e) < 0) {
            fprintf(stderr, "bench: %s\n", e.msg);
            exit(1);
        }
        j->ids += ids.n;
        for (int k = 0; k < ids.n; k++) h = (h ^ (uint32_t)ids.ids[k]) * 0x01000193u;
    }
    j->hash = h;
    ko_ids_free(&ids);
    return NULL;
}

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double run(int threads, uint32_t *hash) {
    n_thr = threads;
    pthread_t th[256];
    job jobs[256] = {{0}};
    double t0 = ko_now();
    for (int i = 0; i < threads; i++) {
        jobs[i].id = i;
        pthread_create(&th[i], NULL, worker, &jobs[i]);
    }
    total_ids = 0;
    *hash = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        total_ids += jobs[i].ids;
        *hash ^= jobs[i].hash;
    }
    return ko_now() - t0;
}

int main(int argc, char **argv) {
    if (argc != 4 && argc != 5) {
        fputs("usage: bench_tokenizer TOKENIZER STRINGS.jsonl THREADS [REPEAT]\n", stderr);
        return 2;
    }
    ko_err e;
    double t0 = ko_now();
    if (ko_tokenizer_load(argv[1], &tok, &e) < 0) {
        fprintf(stderr, "bench: %s\n", e.msg);
        return 1;
    }
    double load = ko_now() - t0;
    FILE *f = fopen(argv[2], "r");
    if (!f) return 1;
    char *line = NULL;
    size_t cap = 0;
    int cap_s = 0;
    while (getline(&line, &cap, f) > 0) {
        cJSON *j = cJSON_Parse(line);
        const cJSON *t = cJSON_GetObjectItem(j, "text");
        if (n_str == cap_s) {
            cap_s = cap_s ? cap_s * 2 : 1024;
            str = ko_xrealloc(str, (size_t)cap_s * sizeof *str);
            len = ko_xrealloc(len, (size_t)cap_s * sizeof *len);
        }
        str[n_str] = ko_xstrdup(t->valuestring);
        len[n_str] = strlen(str[n_str]);
        n_str++;
        cJSON_Delete(j);
    }
    fclose(f);
    uint32_t h1, hn;
    int threads = atoi(argv[3]), repeat = argc == 5 ? atoi(argv[4]) : 1;
    threads = threads < 1 ? 1 : threads > 256 ? 256 : threads;
    double t1 = 1e30, c1 = 1e30, tn = 1e30;
    for (int r = 0; r < (repeat < 1 ? 1 : repeat); r++) {
        double c0 = cpu_now(), w = run(1, &h1), c = cpu_now() - c0;
        t1 = w < t1 ? w : t1;
        c1 = c < c1 ? c : c1;
        w = run(threads, &hn);
        tn = w < tn ? w : tn;
    }
    printf("load_s %.3f n %d ids %lld t1_s %.3f t1_cpu %.3f tN_s %.3f threads %d hash %08x\n", load, n_str, total_ids,
           t1, c1, tn, threads, h1);
    return 0;
}
