/* test_gguf.c — the GGUF reader and dequantiser against goldens made by the `gguf` Python package
 * (scripts/make_gguf_goldens.py): layout as gguf.GGUFReader reads it, metadata of every type, and
 * every dequantisable type bit-for-bit against gguf.quants.dequantize; then hostile files (one error
 * naming the file, never a crash); then, when models/ has it, the real Gemma 3 270M file tensor by
 * tensor against checksums of gguf.quants.dequantize's output. */
#include <stdint.h>
#include <unistd.h>

#include "engine/model/gguf.h"
#include "tests/test.h"
#include "tests/gguf/checksums.h"

#define SYN "tests/gguf/data/synthetic.gguf.gz"
#define REAL "models/gemma-3-270m-q4_k_m.gguf"

static bool str_is(ko_gguf_str s, const char *c) { return s.n == strlen(c) && memcmp(s.p, c, s.n) == 0; }

static void check_layout(const ko_gguf *g, const uint8_t *base) {
    ko_buf tsv = {0};
    ko_err e;
    CHECK(ko_read_file("tests/gguf/data/synthetic.tsv", &tsv, &e) == 0, "%s", e.msg);
    int n = 0;
    for (char *line = strtok(tsv.p, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#') continue;
        char name[64];
        unsigned type, nd;
        unsigned long long ne[4], off, nb;
        if (sscanf(line, "%63s %u %u %llu %llu %llu %llu %llu %llu", name, &type, &nd, &ne[0], &ne[1], &ne[2], &ne[3],
                   &off, &nb) != 9)
            continue;
        const ko_gguf_tensor *t = ko_gguf_find_tensor(g, name);
        CHECK(t != NULL, "tensor %s missing", name);
        if (!t) continue;
        n++;
        CHECK(t->type == type && t->n_dims == nd, "%s: type %u dims %u", name, t->type, t->n_dims);
        CHECK(t->ne[0] == ne[0] && t->ne[1] == ne[1] && t->ne[2] == ne[2] && t->ne[3] == ne[3], "%s: shape", name);
        CHECK((unsigned long long)(t->data - base) == off, "%s: offset %lld vs %llu", name, (long long)(t->data - base), off);
        CHECK(t->nbytes == nb, "%s: nbytes %llu vs %llu", name, (unsigned long long)t->nbytes, nb);
        CHECK(str_is(t->name, name), "%s: name", name);
    }
    CHECK_EQ_INT(n, ko_gguf_n_tensors(g));
    ko_buf_free(&tsv);
}

static void check_metadata(const ko_gguf *g) {
    uint64_t u;
    double f;
    ko_gguf_str s;
    CHECK_EQ_INT(ko_gguf_n_kv(g), 21);  /* the .tsv's 24 fields less GGUF.version/tensor_count/kv_count */
    CHECK_EQ_INT(ko_gguf_alignment(g), 64);
    CHECK(ko_gguf_get_str(g, "general.architecture", &s) == 0 && str_is(s, "testarch"), "arch");
    CHECK(ko_gguf_get_u64(g, "t.u8", &u) == 0 && u == 200, "u8");
    CHECK(ko_gguf_get_u64(g, "t.u16", &u) == 0 && u == 60000, "u16");
    CHECK(ko_gguf_get_u64(g, "t.u32", &u) == 0 && u == 4000000000u, "u32");
    CHECK(ko_gguf_get_u64(g, "t.u64", &u) == 0 && u == (1ull << 63) + 5, "u64");
    CHECK(ko_gguf_get_u64(g, "t.i8", &u) == -1, "negative int8 is not a u64");
    CHECK(ko_gguf_get_f64(g, "t.i8", &f) == 0 && f == -100, "i8");
    CHECK(ko_gguf_get_f64(g, "t.i16", &f) == 0 && f == -30000, "i16");
    CHECK(ko_gguf_get_f64(g, "t.i32", &f) == 0 && f == -2000000000.0, "i32");
    CHECK(ko_gguf_get_f64(g, "t.i64", &f) == 0 && f == -4611686018427387904.0, "i64");
    CHECK(ko_gguf_get_f64(g, "t.f32", &f) == 0 && f == 1.5, "f32");
    CHECK(ko_gguf_get_f64(g, "t.f64", &f) == 0 && f == 3.141592653589793, "f64");
    CHECK(ko_gguf_get_str(g, "t.str", &s) == 0 && str_is(s, "안녕 gguf"), "str");
    CHECK(ko_gguf_get_str(g, "t.u8", &s) == -1 && ko_gguf_get_u64(g, "t.str", &u) == -1, "wrong types refused");
    CHECK(ko_gguf_get_u64(g, "no.such.key", &u) == -1 && ko_gguf_find(g, "no.such.key") == NULL, "absent");
    const ko_gguf_kv *b = ko_gguf_find(g, "t.bool");
    CHECK(b && b->type == KO_GGUF_BOOL && b->data[0] == 1, "bool");

    int64_t i;
    const ko_gguf_kv *a = ko_gguf_find(g, "t.arr_u8");
    CHECK(a && a->type == KO_GGUF_ARRAY && a->arr_type == KO_GGUF_UINT8 && a->arr_n == 3, "arr_u8");
    CHECK(a && ko_gguf_arr_i64(a, 2, &i) == 0 && i == 255 && ko_gguf_arr_i64(a, 3, &i) == -1, "arr_u8[2], [3]");
    a = ko_gguf_find(g, "t.arr_i32");
    CHECK(a && ko_gguf_arr_i64(a, 0, &i) == 0 && i == -1 && ko_gguf_arr_f64(a, 2, &f) == 0 && f == 7, "arr_i32");
    a = ko_gguf_find(g, "t.arr_f32");
    CHECK(a && ko_gguf_arr_f64(a, 1, &f) == 0 && f == -2.0 && ko_gguf_arr_i64(a, 0, &i) == -1, "arr_f32");
    a = ko_gguf_find(g, "t.arr_bool");
    CHECK(a && ko_gguf_arr_i64(a, 1, &i) == 0 && i == 0 && ko_gguf_arr_i64(a, 2, &i) == 0 && i == 1, "arr_bool");
    a = ko_gguf_find(g, "t.arr_str");
    const char *want_s[] = {"a", "", "한국어", "xyz"};
    CHECK(a && a->arr_n == 4 && a->elem_off, "arr_str indexed");
    for (int k = 0; a && k < 4; k++) CHECK(ko_gguf_arr_str(a, (uint64_t)k, &s) == 0 && str_is(s, want_s[k]), "arr_str[%d]", k);
    CHECK(a && ko_gguf_arr_str(a, 4, &s) == -1 && ko_gguf_arr_f64(a, 0, &f) == -1, "arr_str bounds/type");
    a = ko_gguf_find(g, "t.nested");
    CHECK(a && a->arr_type == KO_GGUF_ARRAY && a->arr_n == 3, "nested");
    const int want_n[3][4] = {{2, 1, 2}, {1, 3}, {3, 4, 5, 6}};
    for (int k = 0; a && k < 3; k++) {
        ko_gguf_kv in;
        CHECK(ko_gguf_arr_arr(a, (uint64_t)k, &in) == 0 && in.arr_type == KO_GGUF_INT32 && (int)in.arr_n == want_n[k][0],
              "nested[%d]", k);
        for (int m = 0; m < want_n[k][0]; m++)
            CHECK(ko_gguf_arr_i64(&in, (uint64_t)m, &i) == 0 && i == want_n[k][m + 1], "nested[%d][%d]", k, m);
    }
    a = ko_gguf_find(g, "t.nested_str");
    ko_gguf_kv in;
    CHECK(a && ko_gguf_arr_arr(a, 1, &in) == 0 && ko_gguf_arr_str(&in, 0, &s) == 0 && str_is(s, "r"), "nested_str[1][0]");
    CHECK(a && ko_gguf_arr_arr(a, 0, &in) == 0 && ko_gguf_arr_str(&in, 1, &s) == 0 && str_is(s, "q"), "nested_str[0][1]");
    CHECK(a && ko_gguf_arr_arr(a, 2, &in) == -1, "nested_str[2]");
    /* every kv is reachable by index and by key */
    for (int k = 0; k < ko_gguf_n_kv(g); k++) {
        const ko_gguf_kv *kv = ko_gguf_kv_at(g, k);
        char key[128];
        snprintf(key, sizeof key, "%.*s", (int)kv->key.n, kv->key.p);
        CHECK(ko_gguf_find(g, key) == kv, "find %s", key);
    }
    CHECK(ko_gguf_kv_at(g, ko_gguf_n_kv(g)) == NULL && ko_gguf_tensor_at(g, -1) == NULL, "index bounds");
}

static void check_dequant(const ko_gguf *g) {
    int types = 0;
    for (int k = 0; k < ko_gguf_n_tensors(g); k++) {
        const ko_gguf_tensor *t = ko_gguf_tensor_at(g, k);
        char want_name[80];
        if (t->name.n > 4 && memcmp(t->name.p, "raw.", 4) == 0)
            snprintf(want_name, sizeof want_name, "want.%.*s", (int)t->name.n - 4, t->name.p + 4);
        else if (t->name.n > 5 && memcmp(t->name.p, "qraw.", 5) == 0)
            snprintf(want_name, sizeof want_name, "qwant.%.*s", (int)t->name.n - 5, t->name.p + 5);
        else
            continue;
        const ko_gguf_tensor *w = ko_gguf_find_tensor(g, want_name);
        CHECK(w && w->type == 0 && ko_gguf_tensor_numel(w) == ko_gguf_tensor_numel(t), "%s", want_name);
        if (!w) continue;
        int64_t n = ko_gguf_tensor_numel(t);
        float *y = ko_xmalloc((size_t)n * sizeof *y);
        ko_err e;
        CHECK(ko_gguf_can_dequant(t->type), "%s", ko_gguf_type_name(t->type));
        CHECK(ko_gguf_dequant(t, y, &e) == 0, "%s", e.msg);
        int64_t bad = -1;
        for (int64_t j = 0; j < n && bad < 0; j++)
            if (memcmp(&y[j], w->data + 4 * j, 4) != 0) bad = j;
        float wv = 0;
        if (bad >= 0) memcpy(&wv, w->data + 4 * bad, 4);
        CHECK(bad < 0, "%s: element %lld is %.9g, gguf-py says %.9g", want_name, (long long)bad, bad >= 0 ? y[bad] : 0.0,
              (double)wv);
        types += want_name[0] == 'w';
        free(y);
    }
    CHECK_EQ_INT(types, 11);  /* F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q4_K Q5_K Q6_K */
    ko_err e;
    float y[256];
    uint8_t blk[256] = {0};
    CHECK(ko_gguf_dequant_raw(10, blk, 256, y, &e) == -1 && strstr(e.msg, "Q2_K") != NULL, "%s", e.msg);
    CHECK(ko_gguf_dequant_raw(12, blk, 100, y, &e) == -1, "partial block refused");
}

/* ---- hostile files: a tiny writer and one mutation per rule ---- */
static void put_n(ko_buf *b, uint64_t v, int n) {
    for (int i = 0; i < n; i++) ko_buf_putc(b, (char)(v >> (8 * i)));
}
static void put_s(ko_buf *b, const char *s, uint64_t len) {
    put_n(b, len, 8);
    ko_buf_put(b, s, strlen(s));
}

typedef struct spec {
    const char *magic;
    uint32_t version;
    int64_t n_kv, n_t;           /* -1: the real count */
    uint32_t align;              /* 0: no general.alignment key */
    uint32_t align_type;
    uint32_t kv_type;            /* type of "x.val" (a u32 when valid) */
    uint64_t str_len;            /* length claimed by the architecture string (0: true length) */
    uint32_t n_dims, type1;
    uint64_t ne0, off1, arr_n;
    const char *name1, *dup_key;
    size_t cut;                  /* truncate to this many bytes (0: no cut) */
} spec;

static spec good(void) {
    spec s = {"GGUF", 3, -1, -1, 0, 4, 4, 0, 1, 0, 8, 32, 2, "b", NULL, 0};
    return s;
}

static void build(const spec *s, ko_buf *b) {
    b->n = 0;
    ko_buf_put(b, s->magic, 4);
    put_n(b, s->version, 4);
    int nkv = 3 + (s->align != 0) + (s->dup_key != NULL);
    put_n(b, s->n_t >= 0 ? (uint64_t)s->n_t : 2, 8);
    put_n(b, s->n_kv >= 0 ? (uint64_t)s->n_kv : (uint64_t)nkv, 8);
    put_s(b, "general.architecture", 20);
    put_n(b, KO_GGUF_STRING, 4);
    put_s(b, "llama", s->str_len ? s->str_len : 5);
    put_s(b, "x.val", 5);
    put_n(b, s->kv_type, 4);
    put_n(b, 7, 4);
    put_s(b, "x.arr", 5);
    put_n(b, KO_GGUF_ARRAY, 4);
    put_n(b, KO_GGUF_STRING, 4);
    put_n(b, s->arr_n, 8);
    put_s(b, "p", 1);
    put_s(b, "q", 1);
    if (s->align) {
        put_s(b, "general.alignment", 17);
        put_n(b, s->align_type, 4);
        put_n(b, s->align, 4);
    }
    if (s->dup_key) {
        put_s(b, s->dup_key, strlen(s->dup_key));
        put_n(b, KO_GGUF_UINT32, 4);
        put_n(b, 1, 4);
    }
    /* tensor "a": F32 [8] at 0; tensor name1: type1 [ne0] at off1 */
    put_s(b, "a", 1);
    put_n(b, 1, 4);
    put_n(b, 8, 8);
    put_n(b, 0, 4);
    put_n(b, 0, 8);
    put_s(b, s->name1, strlen(s->name1));
    put_n(b, s->n_dims, 4);
    for (uint32_t d = 0; d < s->n_dims && d < 8; d++) put_n(b, d == 0 ? s->ne0 : 1, 8);
    put_n(b, s->type1, 4);
    put_n(b, s->off1, 8);
    uint32_t al = s->align && !(s->align & (s->align - 1)) ? s->align : 32;
    while (b->n % al) ko_buf_putc(b, 0);
    for (int i = 0; i < 64; i++) ko_buf_putc(b, (char)i);
    if (s->cut && s->cut < b->n) b->n = s->cut;
}

/* Opens the spec's file; expects failure with `want` in the message (NULL: expects success). */
static void expect(const spec *s, const char *want, const char *what) {
    ko_buf b = {0};
    build(s, &b);
    ko_gguf *g = NULL;
    ko_err e = {{0}};
    int rc = ko_gguf_open_mem(b.p, b.n, "bad.gguf", &g, &e);
    if (!want) {
        CHECK(rc == 0 && g, "%s: %s", what, e.msg);
    } else {
        CHECK(rc == -1 && !g, "%s: accepted", what);
        CHECK(strncmp(e.msg, "bad.gguf: ", 10) == 0 && !strchr(e.msg, '\n'), "%s: message '%s'", what, e.msg);
        CHECK(strstr(e.msg, want) != NULL, "%s: '%s' lacks '%s'", what, e.msg, want);
    }
    ko_gguf_close(g);
    ko_buf_free(&b);
}

static void check_hostile(void) {
    spec s = good();
    expect(&s, NULL, "the good file");
    s.align = 16;
    expect(&s, NULL, "alignment 16");
    s = good(); s.magic = "GGML"; expect(&s, "bad magic", "magic");
    s = good(); s.version = 2; expect(&s, "version 2 is not supported (supported: version 3)", "v2");
    s = good(); s.version = 0x03000000; expect(&s, "big-endian", "big-endian");
    s = good(); s.n_kv = 1ll << 40; expect(&s, "metadata count", "absurd kv count");
    s = good(); s.n_t = 1ll << 40; expect(&s, "tensor count", "absurd tensor count");
    s = good(); s.n_kv = 2; expect(&s, "", "kv count too small (a kv read as a tensor)");
    s = good(); s.str_len = 1ull << 40; expect(&s, "runs past the end", "string past the end");
    s = good(); s.str_len = UINT64_MAX; expect(&s, "runs past the end", "string length 2^64-1");
    s = good(); s.kv_type = 13; expect(&s, "unknown value type 13", "kv type");
    s = good(); s.arr_n = 1ull << 61; expect(&s, "cannot fit", "array count");
    s = good(); s.arr_n = 3; expect(&s, "", "array count one too many");
    s = good(); s.type1 = 5; expect(&s, "unknown ggml type 5", "tensor type");
    s = good(); s.type1 = 1000; expect(&s, "unknown ggml type 1000", "tensor type 1000");
    s = good(); s.off1 = 36; expect(&s, "not a multiple of the alignment 32", "misaligned offset");
    s = good(); s.off1 = 1ull << 62; expect(&s, "outside the file", "offset past end");
    s = good(); s.ne0 = 1ull << 61; expect(&s, "", "huge tensor");
    s = good(); s.ne0 = 9; expect(&s, "outside the file", "tensor one element past the end");
    s = good(); s.off1 = 0; expect(&s, "overlap", "overlapping tensors");
    s = good(); s.name1 = "a"; expect(&s, "duplicate tensor name 'a'", "duplicate tensor");
    s = good(); s.dup_key = "x.val"; expect(&s, "duplicate metadata key 'x.val'", "duplicate key");
    s = good(); s.n_dims = 5; expect(&s, "5 dimensions", "n_dims 5");
    s = good(); s.n_dims = 0; expect(&s, "0 dimensions", "n_dims 0");
    s = good(); s.ne0 = 0; expect(&s, "dimension 0 is 0", "empty dimension");
    s = good(); s.type1 = 12; s.ne0 = 100; expect(&s, "multiple of 256", "partial block");
    s = good(); s.align = 24; expect(&s, "not a power of two", "alignment 24");
    s = good(); s.align = 64; s.align_type = KO_GGUF_INT32; expect(&s, "must be a uint32", "alignment type");
    /* every truncation of the good file up to its data fails cleanly (past the header end, the tensor
     * data check catches it) */
    spec full = good();
    ko_buf b = {0};
    build(&full, &b);
    size_t n = b.n;
    ko_buf_free(&b);
    int bad = 0;
    for (size_t cut = 1; cut < n; cut++) {
        ko_buf c = {0};
        s = good();
        s.cut = cut;
        build(&s, &c);
        ko_gguf *g = NULL;
        ko_err e = {{0}};
        if (ko_gguf_open_mem(c.p, c.n, "cut.gguf", &g, &e) == 0 || strncmp(e.msg, "cut.gguf: ", 10) != 0) bad++;
        ko_gguf_close(g);
        ko_buf_free(&c);
    }
    CHECK_EQ_INT(bad, 0);
    ko_gguf *g = NULL;
    ko_err e;
    CHECK(ko_gguf_open_mem(NULL, 0, "empty.gguf", &g, &e) == -1 && strstr(e.msg, "empty.gguf: ") == e.msg, "%s", e.msg);
    CHECK(ko_gguf_open("tests/gguf/data/no-such.gguf", &g, &e) == -1 && strstr(e.msg, "no-such.gguf: cannot open"), "%s",
          e.msg);
    CHECK(ko_gguf_open("tests/gguf", &g, &e) == -1 && strstr(e.msg, "not a regular file"), "%s", e.msg);
}


static void check_real(void) {
    if (access(REAL, R_OK) != 0) {
        printf("skip: %s absent (make model fetches it): real-file dequant checks not run\n", REAL);
        return;
    }
    ko_gguf *g;
    ko_err e;
    CHECK(ko_gguf_open(REAL, &g, &e) == 0, "%s", e.msg);
    if (!g) return;
    ko_gguf_str s;
    uint64_t u;
    CHECK(ko_gguf_get_str(g, "general.architecture", &s) == 0 && str_is(s, "gemma3"), "arch");
    CHECK(ko_gguf_get_u64(g, "gemma3.block_count", &u) == 0 && u == 18, "blocks");
    const ko_gguf_kv *tok = ko_gguf_find(g, "tokenizer.ggml.tokens");
    CHECK(tok && tok->arr_n == 262144 && ko_gguf_arr_str(tok, 2, &s) == 0 && str_is(s, "<bos>"), "vocab");
    ko_buf gold = {0};
    CHECK(ko_read_file("tests/gguf/data/real_dequant.tsv.gz", &gold, &e) == 0, "%s", e.msg);
    int n = 0, same = 0;
    float *y = NULL;
    size_t cap = 0;
    for (char *line = strtok(gold.p, "\n"); line; line = strtok(NULL, "\n")) {
        char name[96], type[16];
        long long cnt;
        unsigned long long h1, h2, m1, m2;
        if (line[0] == '#' || sscanf(line, "%95s %15s %lld %llu %llu", name, type, &cnt, &h1, &h2) != 5) continue;
        const ko_gguf_tensor *t = ko_gguf_find_tensor(g, name);
        CHECK(t && ko_gguf_tensor_numel(t) == cnt && strcmp(ko_gguf_type_name(t->type), type) == 0, "%s", name);
        if (!t) continue;
        if ((size_t)cnt > cap) {
            free(y);
            cap = (size_t)cnt;
            y = ko_xmalloc(cap * sizeof *y);
        }
        n++;
        if (ko_gguf_dequant(t, y, &e) != 0) {
            CHECK(0, "%s", e.msg);
            continue;
        }
        sums(y, cnt, &m1, &m2);
        CHECK(m1 == h1 && m2 == h2, "%s (%s): dequantised values differ from gguf-py", name, type);
        same += m1 == h1 && m2 == h2;
    }
    CHECK_EQ_INT(n, ko_gguf_n_tensors(g));
    printf("real file: %d/%d tensors bit-identical to gguf.quants.dequantize\n", same, n);
    free(y);
    ko_buf_free(&gold);
    ko_gguf_close(g);
}

int main(void) {
    ko_buf f = {0};
    ko_err e;
    CHECK(ko_read_file(SYN, &f, &e) == 0, "%s", e.msg);
    ko_gguf *g = NULL;
    CHECK(ko_gguf_open_mem(f.p, f.n, SYN, &g, &e) == 0, "%s", e.msg);
    if (g) {
        check_layout(g, (const uint8_t *)f.p);
        check_metadata(g);
        check_dequant(g);
        ko_gguf_close(g);
    }
    /* the same bytes through the file path (mmap) */
    char tmp[] = "/tmp/koeval_gguf_XXXXXX";
    int fd = mkstemp(tmp);
    CHECK(fd >= 0 && write(fd, f.p, f.n) == (ssize_t)f.n, "temp file");
    if (fd >= 0) close(fd);
    CHECK(ko_gguf_open(tmp, &g, &e) == 0 && ko_gguf_n_tensors(g) == 34 && strcmp(ko_gguf_path(g), tmp) == 0, "%s", e.msg);
    ko_gguf_close(g);
    unlink(tmp);
    ko_buf_free(&f);
    /* the fuzzer's seed is a valid file whose every tensor dequantises */
    CHECK(ko_gguf_open("tests/gguf/data/small.gguf", &g, &e) == 0 && ko_gguf_n_tensors(g) == 11, "%s", e.msg);
    for (int i = 0; g && i < ko_gguf_n_tensors(g); i++) {
        const ko_gguf_tensor *t = ko_gguf_tensor_at(g, i);
        float y[256];
        CHECK(ko_gguf_tensor_numel(t) <= 256 && ko_gguf_dequant(t, y, &e) == 0, "small.gguf tensor %d: %s", i, e.msg);
    }
    ko_gguf_close(g);
    check_hostile();
    check_real();
    TEST_END();
}
