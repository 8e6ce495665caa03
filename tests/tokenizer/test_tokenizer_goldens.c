/* test_tokenizer_goldens.c — token-for-token equality with HF `tokenizers` (goldens written by
 * scripts/make_tokenizer_goldens.py): the four real tokenizers on every string lm-eval encodes for
 * kobest_all at 0 and 5 shots, and all six (two synthetic) on the hard-case corpus, with and without
 * special tokens, plus decoding of those ids. Prints the equality figures per tokenizer and corpus. */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdbool.h>

#include "engine/tokenizer/tokenizer.h"
#include "tasks/tasks.h"
#include "tests/test.h"
#include "tests/tokenizer/tok_ids.h"

#define GOLD "tests/tokenizer/goldens"

static const char *const REAL[] = {"gemma3", "llama2", "llama3", "qwen3"};
static const char *const SYNTH[] = {"synth_a", "synth_b", "synth_c", "synth_d", "synth_e"};
/* The real Gemma 3 GGUF (scripts/fetch_model.sh puts it there); its vocab must give gemma3's ids. */
#define GEMMA3_GGUF "models/gemma-3-270m-q4_k_m.gguf"

/* The JSONL lines of a (gz) file as cJSON objects. */
static cJSON **read_jsonl(const char *path, int *n) {
    ko_buf b = {0};
    ko_err e;
    *n = 0;
    if (ko_read_file(path, &b, &e) < 0) {
        CHECK(0, "%s", e.msg);
        return NULL;
    }
    cJSON **v = NULL;
    int cap = 0;
    for (char *p = b.p, *nl; p && *p; p = nl + 1) {
        nl = strchr(p, '\n');
        if (!nl) nl = p + strlen(p);
        if (*n == cap) v = ko_xrealloc(v, (size_t)(cap = cap ? cap * 2 : 256) * sizeof *v);
        v[(*n)++] = cJSON_ParseWithLength(p, (size_t)(nl - p));
        if (!*nl) break;
    }
    ko_buf_free(&b);
    return v;
}

static ko_tokenizer *load_path(const char *name, char *path) {
    ko_tokenizer *t = NULL;
    ko_err e;
    double t0 = ko_now();
    int rc = ko_tokenizer_load(path, &t, &e);
    CHECK(rc == 0, "%s: %s", path, e.msg);
    if (rc == 0) printf("load %s: %.3f s, %d ids\n", name, ko_now() - t0, ko_tokenizer_vocab_size(t));
    free(path);
    return t;
}

static ko_tokenizer *load(const char *name) {
    return load_path(name, strncmp(name, "synth", 5) == 0 ? ko_xasprintf("%s/%s.json.gz", GOLD, name)
                                                          : ko_xasprintf("%s/tokenizers/%s/tokenizer.json.gz", ko_t_shared(), name));
}

/* gold: whose goldens; skip_decode_skip: a GGUF cannot say which added tokens HF calls special */
static void hard_cases(const char *name, const char *gold_name, ko_tokenizer *t, cJSON **texts, int n_texts,
                       bool check_skip, const char *absent) {
    char *path = ko_xasprintf("%s/hard_%s.jsonl.gz", GOLD, gold_name);
    int n;
    cJSON **gold = read_jsonl(path, &n);
    CHECK_EQ_INT(n, n_texts);
    int ok[4] = {0}, total[4] = {0}, n_absent = 0;
    ko_ids ids = {0};
    ko_err e;
    for (int i = 0; i < n && i < n_texts; i++) {
        const cJSON *txt = cJSON_GetObjectItem(texts[i], "text");
        const char *s = txt->valuestring;
        if (absent && strstr(s, absent)) { /* names a token this vocabulary does not have */
            n_absent++;
            continue;
        }
        for (int sp = 0; sp < 2; sp++) {
            int rc = ko_tokenizer_encode(t, s, strlen(s), sp, &ids, &e);
            const cJSON *ref = cJSON_GetObjectItem(gold[i], sp ? "ids_special" : "ids");
            bool eq = rc == 0 && ids_equal(&ids, ref);
            ok[sp] += eq;
            total[sp]++;
            CHECK(eq, "%s: hard case %d (special %d) differs: %.60s", name, i, sp, s);
        }
        for (int skip = 0; skip < 3; skip++) { /* 0: decode, 1: skip_special_tokens, 2: first half */
            if (skip == 1 && !check_skip) continue;
            static const char *const KEY[] = {"decode", "decode_skip", "decode_half"};
            const cJSON *want = cJSON_GetObjectItem(gold[i], KEY[skip]);
            if (!cJSON_IsString(want)) continue; /* HF itself fails to decode this one */
            ko_buf out = {0};
            const cJSON *ref = cJSON_GetObjectItem(gold[i], "ids_special"), *x;
            ko_ids r = {0};
            cJSON_ArrayForEach(x, ref) {
                if (r.n == r.cap) r.ids = ko_xrealloc(r.ids, (size_t)(r.cap = r.cap ? r.cap * 2 : 64) * sizeof *r.ids);
                r.ids[r.n++] = (int32_t)x->valuedouble;
            }
            if (skip == 2) r.n = r.n / 2 + 1 < r.n ? r.n / 2 + 1 : r.n;
            int rc = ko_tokenizer_decode(t, r.ids, r.n, skip == 1, &out, &e);
            bool eq = rc == 0 && strcmp(out.p ? out.p : "", want->valuestring) == 0;
            ok[2 + (skip == 1)] += eq;
            total[2 + (skip == 1)]++;
            CHECK(eq, "%s: decode of hard case %d (skip %d): \"%.60s\" != \"%.60s\"", name, i, skip,
                  out.p ? out.p : "", want->valuestring);
            ko_ids_free(&r);
            ko_buf_free(&out);
        }
    }
    printf("hard %s: ids %d/%d, ids+special %d/%d, decode %d/%d, decode skip_special %d/%d", name, ok[0],
           total[0], ok[1], total[1], ok[2], total[2], ok[3], total[3]);
    if (absent) printf(" (%d cases skipped: they name %s, which the GGUF lacks)", n_absent, absent);
    printf("\n");
    ko_ids_free(&ids);
    for (int i = 0; i < n; i++) cJSON_Delete(gold[i]);
    free(gold);
    free(path);
}

/* The strings lm-eval encodes per request: context without its trailing whitespace, and context +
 * continuation (huggingface.py _encode_pair), deduplicated in order of first use. */
typedef struct strlist {
    char **s;
    int n, cap;
    int32_t *slot; /* a set over s (open addressing), so each string is kept once */
    uint32_t mask;
} strlist;

static void add_unique(strlist *l, const char *s, size_t n) {
    if (!l->slot || (uint32_t)l->n * 2 > l->mask) { /* (re)build the set at twice the size */
        free(l->slot);
        l->mask = l->mask ? l->mask * 2 + 1 : (1u << 12) - 1;
        l->slot = ko_xmalloc((l->mask + 1) * sizeof *l->slot);
        memset(l->slot, 0xff, (l->mask + 1) * sizeof *l->slot);
        int n_old = l->n;
        l->n = 0;
        for (int k = 0; k < n_old; k++) {
            char *old = l->s[k];
            add_unique(l, old, strlen(old));
            free(old);
        }
    }
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    uint32_t i = (uint32_t)(h ^ (h >> 32)) & l->mask;
    for (; l->slot[i] >= 0; i = (i + 1) & l->mask)
        if (strlen(l->s[l->slot[i]]) == n && memcmp(l->s[l->slot[i]], s, n) == 0) return;
    if (l->n == l->cap) l->s = ko_xrealloc(l->s, (size_t)(l->cap = l->cap ? l->cap * 2 : 1024) * sizeof *l->s);
    l->slot[i] = l->n;
    l->s[l->n++] = ko_xstrndup(s, n);
}

static void strlist_free(strlist *l) {
    for (int i = 0; i < l->n; i++) free(l->s[i]);
    free(l->s);
    free(l->slot);
}

static void kobest_strings(int shots, strlist *l) {
    char **names;
    int n_names;
    ko_err e;
    char *dir = ko_xasprintf("%s/datasets/kobest_v1", ko_t_shared());
    CHECK(ko_tasks_expand("kobest_all", &names, &n_names, &e) == 0, "%s", e.msg);
    ko_reqopts ro = {.data_dir = dir, .num_fewshot = shots, .fewshot_seed = 1234};
    ko_buf tmp = {0};
    for (int k = 0; k < n_names; k++) {
        ko_task *t;
        ko_reqdoc *docs;
        int n;
        if (ko_task_load(names[k], &t, &e) < 0 || ko_task_requests(t, &ro, &docs, &n, &e) < 0) {
            CHECK(0, "%s: %s", names[k], e.msg);
            continue;
        }
        for (int d = 0; d < n; d++) {
            size_t cl = strlen(docs[d].context), keep = ko_split_trailing_ws(docs[d].context);
            for (int c = 0; c < docs[d].n_choices; c++) {
                add_unique(l, docs[d].context, keep);
                tmp.n = 0;
                ko_buf_put(&tmp, docs[d].context, cl);
                ko_buf_puts(&tmp, docs[d].continuations[c]);
                add_unique(l, tmp.p, tmp.n);
            }
        }
        ko_task_free(t);
        free(names[k]);
    }
    ko_buf_free(&tmp);
    free(names);
    free(dir);
}

static uint32_t fnv32_ids(const ko_ids *v) {
    uint32_t h = 0x811c9dc5u;
    for (int i = 0; i < v->n; i++)
        for (int k = 0; k < 4; k++) h = (h ^ (((uint32_t)v->ids[i] >> (8 * k)) & 0xff)) * 0x01000193u;
    return h;
}

/* Concurrent callers: two threads encode interleaved halves of the strings at once and must
 * give the golden ids too (encode keeps no shared mutable state). */
typedef struct tjob { const ko_tokenizer *t; const strlist *l; const uint32_t *want; int first, ok; } tjob;

static void *thread_job(void *arg) {
    tjob *j = arg;
    ko_ids ids = {0};
    ko_err e;
    for (int i = j->first; i < j->l->n; i += 2)
        j->ok += ko_tokenizer_encode(j->t, j->l->s[i], strlen(j->l->s[i]), false, &ids, &e) == 0 &&
                 fnv32_ids(&ids) == j->want[i];
    ko_ids_free(&ids);
    return NULL;
}

static void threaded(const char *name, const ko_tokenizer *t, const strlist *l, const uint32_t *want) {
    pthread_t th[2];
    tjob jobs[2] = {{t, l, want, 0, 0}, {t, l, want, 1, 0}};
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, thread_job, &jobs[i]);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    CHECK(jobs[0].ok + jobs[1].ok == l->n, "%s on 2 threads: %d of %d equal", name, jobs[0].ok + jobs[1].ok, l->n);
    printf("kobest %s 0-shot on 2 threads: %d/%d strings equal\n", name, jobs[0].ok + jobs[1].ok, l->n);
}

static void kobest(const char *name, const char *gold_name, ko_tokenizer *t, int shots, const strlist *l) {
    char *path = ko_xasprintf("%s/kobest_%s_%dshot.txt.gz", GOLD, gold_name, shots);
    ko_buf b = {0};
    ko_err e;
    int rc = ko_read_file(path, &b, &e);
    CHECK(rc == 0, "%s", e.msg);
    if (rc < 0) return;
    int n = 0;
    unsigned long long h_gold = 0, h = 0xcbf29ce484222325ull;
    CHECK(sscanf(b.p, "strings %d %llx", &n, &h_gold) == 2, "%s: bad header", path);
    for (int i = 0; i < l->n; i++) {
        for (const char *p = l->s[i]; *p; p++) h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
        h = (h ^ 0xff) * 0x100000001b3ull;
    }
    CHECK(n == l->n && h == h_gold, "%s: the request strings differ from the ones the goldens were made from "
          "(%d vs %d strings)", path, l->n, n);
    const char *p = strchr(b.p, '\n');
    int ok = 0, total = 0;
    ko_ids ids = {0};
    uint32_t *wants = ko_xcalloc((size_t)l->n + 1, sizeof *wants);
    double t0 = ko_now();
    for (int i = 0; i < l->n && p; i++, p = strchr(p + 1, '\n')) {
        unsigned want;
        if (sscanf(p + 1, "%8x", &want) != 1) break;
        wants[i] = want;
        bool eq = ko_tokenizer_encode(t, l->s[i], strlen(l->s[i]), false, &ids, &e) == 0 && fnv32_ids(&ids) == want;
        ok += eq;
        total++;
        if (!eq && total - ok <= 3) printf("  differs: %s %dshot string %d: %.80s\n", name, shots, i, l->s[i]);
    }
    CHECK(ok == l->n, "%s %d-shot: %d of %d strings equal", name, shots, ok, l->n);
    printf("kobest %s %d-shot: %d/%d strings equal (%.2f s)\n", name, shots, ok, l->n, ko_now() - t0);
    if (shots == 0) threaded(name, t, l, wants);
    free(wants);
    ko_ids_free(&ids);
    ko_buf_free(&b);
    free(path);
}

int main(void) {
    int n_texts;
    cJSON **texts = read_jsonl(GOLD "/hard_cases.jsonl.gz", &n_texts);
    strlist k0 = {0}, k5 = {0};
    kobest_strings(0, &k0);
    kobest_strings(5, &k5);
    for (int i = 0; i < 4; i++) {
        ko_tokenizer *t = load(REAL[i]);
        if (!t) continue;
        hard_cases(REAL[i], REAL[i], t, texts, n_texts, true, NULL);
        kobest(REAL[i], REAL[i], t, 0, &k0);
        kobest(REAL[i], REAL[i], t, 5, &k5);
        ko_tokenizer_free(t);
    }
    for (int i = 0; i < 5; i++) {
        ko_tokenizer *t = load(SYNTH[i]);
        if (!t) continue;
        hard_cases(SYNTH[i], SYNTH[i], t, texts, n_texts, true, NULL);
        ko_tokenizer_free(t);
    }
    /* GGUF vocabularies against the tokenizer.json they come from */
    ko_tokenizer *t = load_path("synth_d.gguf", ko_xstrdup(GOLD "/synth_d.gguf"));
    if (t) hard_cases("synth_d.gguf", "synth_d", t, texts, n_texts, true, NULL);
    ko_tokenizer_free(t);
    t = load_path("synth_e.gguf", ko_xstrdup(GOLD "/synth_e.gguf"));
    if (t) hard_cases("synth_e.gguf", "synth_e", t, texts, n_texts, true, NULL);
    ko_tokenizer_free(t);
    if (!ko_file_exists(GEMMA3_GGUF)) {
        printf("skip: %s is absent (make model): the real GGUF vocab is not checked\n", GEMMA3_GGUF);
    } else if ((t = load_path("gemma3.gguf", ko_xstrdup(GEMMA3_GGUF)))) {
        /* gemma3's tokenizer.json has one token past the model's vocab, which the GGUF does not carry */
        hard_cases("gemma3.gguf", "gemma3", t, texts, n_texts, false, "<image_soft_token>");
        kobest("gemma3.gguf", "gemma3", t, 0, &k0);
        kobest("gemma3.gguf", "gemma3", t, 5, &k5);
        ko_tokenizer_free(t);
    }
    for (int i = 0; i < n_texts; i++) cJSON_Delete(texts[i]);
    free(texts);
    strlist_free(&k0);
    strlist_free(&k5);
    TEST_END();
}
