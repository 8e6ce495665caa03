/* gguf.c — GGUF v3 reader over a read-only mapping, and dequantisation to f32.
 *
 * Layout (little-endian): "GGUF", u32 version, u64 n_tensors, u64 n_kv, then n_kv metadata entries
 * (string key, u32 type, value), then n_tensors tensor infos (string name, u32 n_dims, u64 ne[n_dims],
 * u32 ggml type, u64 offset relative to the data section), then padding to general.alignment
 * (default 32) and the data section. A string is u64 length + bytes; an array is u32 element type,
 * u64 count, elements (arrays may nest).
 *
 * Nothing in the file is trusted: every length and count is checked against the bytes left before
 * anything is allocated or read, so a hostile file costs at most O(file size) memory and gives one
 * error line naming the file. After ko_gguf_open succeeds every value and tensor is known to lie
 * inside the mapping, so the accessors only check indexes and types.
 */
#include "engine/model/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GGUF_MAX_DEPTH 8          /* nested arrays deeper than this are refused (stack safety) */
#define GGUF_DEFAULT_ALIGN 32

/* ggml types: name, elements per block, bytes per block. Holes are numbers ggml never defined (or
 * removed); a tensor of such a type is refused at open. Only the types listed in can_dequant are
 * converted; the others are still laid out correctly so the file can be read (e.g. for its vocab). */
typedef struct gtype { const char *name; uint32_t blck, size; } gtype;
static const gtype TYPES[] = {
    [0] = {"F32", 1, 4},        [1] = {"F16", 1, 2},          [2] = {"Q4_0", 32, 18},
    [3] = {"Q4_1", 32, 20},     [6] = {"Q5_0", 32, 22},       [7] = {"Q5_1", 32, 24},
    [8] = {"Q8_0", 32, 34},     [9] = {"Q8_1", 32, 40},       [10] = {"Q2_K", 256, 84},
    [11] = {"Q3_K", 256, 110},  [12] = {"Q4_K", 256, 144},    [13] = {"Q5_K", 256, 176},
    [14] = {"Q6_K", 256, 210},  [15] = {"Q8_K", 256, 292},    [16] = {"IQ2_XXS", 256, 66},
    [17] = {"IQ2_XS", 256, 74}, [18] = {"IQ3_XXS", 256, 98},  [19] = {"IQ1_S", 256, 50},
    [20] = {"IQ4_NL", 32, 18},  [21] = {"IQ3_S", 256, 110},   [22] = {"IQ2_S", 256, 82},
    [23] = {"IQ4_XS", 256, 136}, [24] = {"I8", 1, 1},         [25] = {"I16", 1, 2},
    [26] = {"I32", 1, 4},       [27] = {"I64", 1, 8},         [28] = {"F64", 1, 8},
    [29] = {"IQ1_M", 256, 56},  [30] = {"BF16", 1, 2},        [34] = {"TQ1_0", 256, 54},
    [35] = {"TQ2_0", 256, 66},  [39] = {"MXFP4", 32, 17},
};
#define N_TYPES (sizeof TYPES / sizeof TYPES[0])

static const gtype *gtype_of(uint32_t t) { return t < N_TYPES && TYPES[t].name ? &TYPES[t] : NULL; }

const char *ko_gguf_type_name(uint32_t t) {
    const gtype *g = gtype_of(t);
    return g ? g->name : "?";
}

/* Fixed byte size of a metadata value type; 0 for string/array (variable), -1 for unknown. */
static int kv_fixed_size(uint32_t t) {
    static const int SZ[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return t < sizeof SZ / sizeof SZ[0] ? SZ[t] : -1;
}
/* The fewest bytes a value of type t can take (used to bound counts before allocating). */
static uint64_t kv_min_size(uint32_t t) {
    if (t == KO_GGUF_STRING) return 8;
    if (t == KO_GGUF_ARRAY) return 12;
    return (uint64_t)kv_fixed_size(t);
}

typedef struct kv_ent { ko_gguf_kv kv; uint64_t *off; } kv_ent;

struct ko_gguf {
    char *path;
    const uint8_t *base;
    size_t size;
    bool mapped;
    uint32_t alignment;
    uint64_t data_off;
    int n_kv, n_t;
    kv_ent *kv;
    ko_gguf_tensor *t;
    int *kv_by_key, *t_by_name;   /* indexes sorted by name, for binary search */
};

/* ---- bounded cursor ---- */
typedef struct cur {
    const uint8_t *p;
    size_t n, pos;
    const char *path;
    ko_err *e;
} cur;

static uint64_t rd_le(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static size_t left(const cur *c) { return c->n - c->pos; }

static int need(cur *c, uint64_t n, const char *what) {
    if (n > left(c))
        return ko_fail(c->e, "%s: truncated: %s needs %llu bytes at offset %zu, file has %zu", c->path, what,
                       (unsigned long long)n, c->pos, c->n);
    return 0;
}

static int rd_u32(cur *c, uint32_t *v, const char *what) {
    if (need(c, 4, what)) return -1;
    *v = (uint32_t)rd_le(c->p + c->pos, 4);
    c->pos += 4;
    return 0;
}

static int rd_u64(cur *c, uint64_t *v, const char *what) {
    if (need(c, 8, what)) return -1;
    *v = rd_le(c->p + c->pos, 8);
    c->pos += 8;
    return 0;
}

static int rd_str(cur *c, ko_gguf_str *s, const char *what) {
    uint64_t n;
    if (rd_u64(c, &n, what)) return -1;
    if (n > left(c))
        return ko_fail(c->e, "%s: %s: string of %llu bytes at offset %zu runs past the end of the file (%zu bytes)",
                       c->path, what, (unsigned long long)n, c->pos - 8, c->n);
    s->p = (const char *)c->p + c->pos;
    s->n = n;
    c->pos += n;
    return 0;
}

/* Prints a GGUF string safely into an error message (at most 60 bytes, control bytes as '?'). */
static const char *shown(ko_gguf_str s, char buf[64]) {
    size_t n = s.n < 60 ? s.n : 60, i;
    for (i = 0; i < n; i++) buf[i] = (unsigned char)s.p[i] < 0x20 ? '?' : s.p[i];
    buf[i] = 0;
    return buf;
}

/* Validates (and skips) one value of type t. For arrays of strings/arrays at the top level, *off
 * receives the offset of every element (malloc'd; count bounded by the bytes left). */
static int skip_value(cur *c, uint32_t t, int depth, const char *key, uint32_t *arr_t, uint64_t *arr_n,
                      uint64_t **off) {
    int fs = kv_fixed_size(t);
    if (fs < 0) return ko_fail(c->e, "%s: metadata '%s': unknown value type %u", c->path, key, t);
    if (fs > 0) {
        if (need(c, (uint64_t)fs, "metadata value")) return -1;
        c->pos += (size_t)fs;
        return 0;
    }
    if (t == KO_GGUF_STRING) {
        ko_gguf_str s;
        return rd_str(c, &s, "metadata string");
    }
    if (depth >= GGUF_MAX_DEPTH)
        return ko_fail(c->e, "%s: metadata '%s': arrays nested deeper than %d", c->path, key, GGUF_MAX_DEPTH);
    uint32_t et;
    uint64_t n;
    if (rd_u32(c, &et, "array element type") || rd_u64(c, &n, "array length")) return -1;
    int efs = kv_fixed_size(et);
    if (efs < 0) return ko_fail(c->e, "%s: metadata '%s': unknown array element type %u", c->path, key, et);
    if (n > left(c) / kv_min_size(et))
        return ko_fail(c->e, "%s: metadata '%s': array of %llu elements cannot fit in the %zu bytes left", c->path,
                       key, (unsigned long long)n, left(c));
    if (arr_t) *arr_t = et, *arr_n = n;
    if (efs > 0) {
        c->pos += (size_t)(n * (uint64_t)efs);
        return 0;
    }
    size_t start = c->pos;
    uint64_t *o = off ? ko_xmalloc((size_t)(n ? n : 1) * sizeof *o) : NULL;
    for (uint64_t i = 0; i < n; i++) {
        if (o) o[i] = c->pos - start;
        if (skip_value(c, et, depth + 1, key, NULL, NULL, NULL)) {
            free(o);
            return -1;
        }
    }
    if (off) *off = o;
    return 0;
}

/* ---- sorting (merge sort: counts can be large in hostile files, so O(n log n), and no global
 * state so that several files can be opened at once) ---- */
typedef int (*idx_cmp)(const ko_gguf *g, int a, int b);

static int str_cmp(ko_gguf_str a, ko_gguf_str b) {
    size_t n = a.n < b.n ? a.n : b.n;
    int r = n ? memcmp(a.p, b.p, n) : 0;
    return r ? r : (a.n < b.n ? -1 : a.n > b.n);
}

static void sort_rec(int *idx, int *tmp, int n, idx_cmp cmp, const ko_gguf *g) {
    if (n < 2) return;
    int h = n / 2, i = 0, j = h, k = 0;
    sort_rec(idx, tmp, h, cmp, g);
    sort_rec(idx + h, tmp, n - h, cmp, g);
    while (i < h && j < n) tmp[k++] = cmp(g, idx[i], idx[j]) <= 0 ? idx[i++] : idx[j++];
    while (i < h) tmp[k++] = idx[i++];
    while (j < n) tmp[k++] = idx[j++];
    memcpy(idx, tmp, (size_t)n * sizeof *tmp);
}

/* A malloc'd permutation of 0..n-1 sorted by cmp. */
static int *sorted_idx(int n, idx_cmp cmp, const ko_gguf *g) {
    int *idx = ko_xmalloc((size_t)(n ? n : 1) * sizeof *idx), *tmp = ko_xmalloc((size_t)(n ? n : 1) * sizeof *tmp);
    for (int i = 0; i < n; i++) idx[i] = i;
    sort_rec(idx, tmp, n, cmp, g);
    free(tmp);
    return idx;
}

static ko_gguf_str kv_name(const ko_gguf *g, int i) { return g->kv[i].kv.key; }
static ko_gguf_str t_name(const ko_gguf *g, int i) { return g->t[i].name; }
static int kv_cmp(const ko_gguf *g, int a, int b) { return str_cmp(kv_name(g, a), kv_name(g, b)); }
static int t_cmp(const ko_gguf *g, int a, int b) { return str_cmp(t_name(g, a), t_name(g, b)); }
static int off_cmp(const ko_gguf *g, int a, int b) { return g->t[a].data < g->t[b].data ? -1 : g->t[a].data > g->t[b].data; }

/* nbytes = (elements / block) * block bytes; -1 when the element count or the size overflows. */
static int tensor_bytes(const ko_gguf_tensor *t, uint64_t *nbytes) {
    const gtype *ty = gtype_of(t->type);
    uint64_t n = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        if (t->ne[d] > (uint64_t)INT64_MAX / n) return -1;
        n *= t->ne[d];
    }
    if (n / ty->blck > (uint64_t)INT64_MAX / ty->size) return -1;
    *nbytes = n / ty->blck * ty->size;
    return 0;
}

static int parse(ko_gguf *g, ko_err *e) {
    cur c = {g->base, g->size, 0, g->path, e};
    char nb[64];
    if (g->size < 4 || memcmp(g->base, "GGUF", 4) != 0)
        return ko_fail(e, "%s: not a GGUF file (bad magic: the file must start with \"GGUF\")", g->path);
    c.pos = 4;
    uint32_t ver;
    uint64_t nt, nkv;
    if (rd_u32(&c, &ver, "version")) return -1;
    if (ver != 3) {
        if (ver == 0x03000000u) return ko_fail(e, "%s: big-endian GGUF is not supported (supported: version 3, little-endian)", g->path);
        return ko_fail(e, "%s: GGUF version %u is not supported (supported: version 3)", g->path, ver);
    }
    if (rd_u64(&c, &nt, "tensor count") || rd_u64(&c, &nkv, "metadata count")) return -1;
    /* every kv takes >= 13 bytes (key length, type, 1-byte value), every tensor info >= 32 */
    if (nkv > left(&c) / 13 || nkv > INT32_MAX)
        return ko_fail(e, "%s: metadata count %llu cannot fit in a file of %zu bytes", g->path, (unsigned long long)nkv, g->size);
    if (nt > (left(&c) - nkv * 13) / 32 || nt > INT32_MAX)
        return ko_fail(e, "%s: tensor count %llu cannot fit in a file of %zu bytes", g->path, (unsigned long long)nt, g->size);

    g->kv = ko_xcalloc((size_t)(nkv ? nkv : 1), sizeof *g->kv);
    for (uint64_t i = 0; i < nkv; i++) {
        kv_ent *k = &g->kv[i];
        if (rd_str(&c, &k->kv.key, "metadata key")) return -1;
        g->n_kv = (int)i + 1;
        if (k->kv.key.n == 0) return ko_fail(e, "%s: metadata entry %llu has an empty key", g->path, (unsigned long long)i);
        uint32_t t;
        if (rd_u32(&c, &t, "metadata type")) return -1;
        k->kv.type = (ko_gguf_type)t;
        size_t at = c.pos;
        uint32_t et = 0;
        uint64_t an = 0;
        if (skip_value(&c, t, 0, shown(k->kv.key, nb), &et, &an, &k->off)) return -1;
        if (t == KO_GGUF_ARRAY) {
            k->kv.arr_type = (ko_gguf_type)et;
            k->kv.arr_n = an;
            at += 12;
        }
        k->kv.data = g->base + at;
        k->kv.elem_off = k->off;
    }
    g->kv_by_key = sorted_idx(g->n_kv, kv_cmp, g);
    for (int i = 1; i < g->n_kv; i++)
        if (str_cmp(kv_name(g, g->kv_by_key[i]), kv_name(g, g->kv_by_key[i - 1])) == 0)
            return ko_fail(e, "%s: duplicate metadata key '%s'", g->path, shown(kv_name(g, g->kv_by_key[i]), nb));

    g->alignment = GGUF_DEFAULT_ALIGN;
    const ko_gguf_kv *al = ko_gguf_find(g, "general.alignment");
    if (al) {
        if (al->type != KO_GGUF_UINT32) return ko_fail(e, "%s: general.alignment must be a uint32", g->path);
        uint32_t a = (uint32_t)rd_le(al->data, 4);
        if (a == 0 || (a & (a - 1)) || a > (1u << 24))
            return ko_fail(e, "%s: general.alignment %u is not a power of two up to 2^24", g->path, a);
        g->alignment = a;
    }

    g->t = ko_xcalloc((size_t)(nt ? nt : 1), sizeof *g->t);
    uint64_t *rel = ko_xcalloc((size_t)(nt ? nt : 1), sizeof *rel);
    int rc = -1;
    for (uint64_t i = 0; i < nt; i++) {
        ko_gguf_tensor *t = &g->t[i];
        if (rd_str(&c, &t->name, "tensor name")) goto out;
        g->n_t = (int)i + 1;
        const char *nm = shown(t->name, nb);
        if (t->name.n == 0) { ko_fail(e, "%s: tensor %llu has an empty name", g->path, (unsigned long long)i); goto out; }
        if (rd_u32(&c, &t->n_dims, "tensor dimension count")) goto out;
        if (t->n_dims < 1 || t->n_dims > 4) {
            ko_fail(e, "%s: tensor '%s': %u dimensions (1 to 4 allowed)", g->path, nm, t->n_dims);
            goto out;
        }
        for (uint32_t d = 0; d < 4; d++) t->ne[d] = 1;
        for (uint32_t d = 0; d < t->n_dims; d++) {
            if (rd_u64(&c, &t->ne[d], "tensor dimension")) goto out;
            if (t->ne[d] == 0 || t->ne[d] > (uint64_t)INT64_MAX) {
                ko_fail(e, "%s: tensor '%s': dimension %u is %llu", g->path, nm, d, (unsigned long long)t->ne[d]);
                goto out;
            }
        }
        if (rd_u32(&c, &t->type, "tensor type") || rd_u64(&c, &rel[i], "tensor offset")) goto out;
        const gtype *ty = gtype_of(t->type);
        if (!ty) { ko_fail(e, "%s: tensor '%s': unknown ggml type %u", g->path, nm, t->type); goto out; }
        if (t->ne[0] % ty->blck) {
            ko_fail(e, "%s: tensor '%s': %s needs rows of a multiple of %u elements, ne[0] is %llu", g->path, nm,
                    ty->name, ty->blck, (unsigned long long)t->ne[0]);
            goto out;
        }
        if (tensor_bytes(t, &t->nbytes)) {
            ko_fail(e, "%s: tensor '%s': shape too large", g->path, nm);
            goto out;
        }
        if (rel[i] % g->alignment) {
            ko_fail(e, "%s: tensor '%s': data offset %llu is not a multiple of the alignment %u", g->path, nm,
                    (unsigned long long)rel[i], g->alignment);
            goto out;
        }
    }
    g->data_off = ((uint64_t)c.pos + g->alignment - 1) / g->alignment * g->alignment;
    for (int i = 0; i < g->n_t; i++) {
        ko_gguf_tensor *t = &g->t[i];
        uint64_t avail = g->data_off <= g->size ? g->size - g->data_off : 0;
        if (rel[i] > avail || t->nbytes > avail - rel[i]) {
            ko_fail(e, "%s: tensor '%s': data [%llu, +%llu) lies outside the file (%zu bytes; truncated?)", g->path,
                    shown(t->name, nb), (unsigned long long)(g->data_off + rel[i]), (unsigned long long)t->nbytes, g->size);
            goto out;
        }
        t->data = g->base + g->data_off + rel[i];
    }
    g->t_by_name = sorted_idx(g->n_t, t_cmp, g);
    for (int i = 1; i < g->n_t; i++)
        if (str_cmp(t_name(g, g->t_by_name[i]), t_name(g, g->t_by_name[i - 1])) == 0) {
            ko_fail(e, "%s: duplicate tensor name '%s'", g->path, shown(t_name(g, g->t_by_name[i]), nb));
            goto out;
        }
    /* no two tensors may share bytes */
    int *ord = sorted_idx(g->n_t, off_cmp, g);
    for (int i = 1; i < g->n_t; i++) {
        const ko_gguf_tensor *a = &g->t[ord[i - 1]], *b = &g->t[ord[i]];
        if ((uint64_t)(b->data - a->data) < a->nbytes) {
            char nb2[64];
            ko_fail(e, "%s: tensors '%s' and '%s' overlap", g->path, shown(a->name, nb), shown(b->name, nb2));
            free(ord);
            goto out;
        }
    }
    free(ord);
    rc = 0;
out:
    free(rel);
    return rc;
}

static int open_common(ko_gguf *g, ko_gguf **out, ko_err *e) {
    if (parse(g, e)) {
        ko_gguf_close(g);
        *out = NULL;
        return -1;
    }
    *out = g;
    return 0;
}

int ko_gguf_open_mem(const void *data, size_t n, const char *name, ko_gguf **out, ko_err *e) {
    ko_gguf *g = ko_xcalloc(1, sizeof *g);
    g->path = ko_xstrdup(name ? name : "(memory)");
    g->base = data ? data : (const uint8_t *)"";
    g->size = data ? n : 0;
    return open_common(g, out, e);
}

int ko_gguf_open(const char *path, ko_gguf **out, ko_err *e) {
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ko_fail(e, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return ko_fail(e, "%s: not a regular file", path);
    }
    ko_gguf *g = ko_xcalloc(1, sizeof *g);
    g->path = ko_xstrdup(path);
    g->size = (size_t)st.st_size;
    g->base = (const uint8_t *)"";
    if (g->size > 0) {
        void *p = mmap(NULL, g->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int err = errno;
            close(fd);
            free(g->path);
            free(g);
            return ko_fail(e, "%s: cannot map: %s", path, strerror(err));
        }
        g->base = p;
        g->mapped = true;
    }
    close(fd);
    return open_common(g, out, e);
}

void ko_gguf_close(ko_gguf *g) {
    if (!g) return;
    if (g->mapped) munmap((void *)g->base, g->size);
    for (int i = 0; i < g->n_kv; i++) free(g->kv[i].off);
    free(g->kv);
    free(g->t);
    free(g->kv_by_key);
    free(g->t_by_name);
    free(g->path);
    free(g);
}

const char *ko_gguf_path(const ko_gguf *g) { return g->path; }
uint32_t ko_gguf_alignment(const ko_gguf *g) { return g->alignment; }
uint64_t ko_gguf_data_offset(const ko_gguf *g) { return g->data_off; }
int ko_gguf_n_kv(const ko_gguf *g) { return g->n_kv; }
int ko_gguf_n_tensors(const ko_gguf *g) { return g->n_t; }
const ko_gguf_kv *ko_gguf_kv_at(const ko_gguf *g, int i) { return i >= 0 && i < g->n_kv ? &g->kv[i].kv : NULL; }
const ko_gguf_tensor *ko_gguf_tensor_at(const ko_gguf *g, int i) { return i >= 0 && i < g->n_t ? &g->t[i] : NULL; }

static int bsearch_idx(const ko_gguf *g, const int *idx, int n, ko_gguf_str (*name)(const ko_gguf *, int),
                       const char *key) {
    if (!idx || !key) return -1;
    ko_gguf_str k = {key, strlen(key)};
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2, r = str_cmp(name(g, idx[mid]), k);
        if (r == 0) return idx[mid];
        if (r < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

const ko_gguf_kv *ko_gguf_find(const ko_gguf *g, const char *key) {
    int i = bsearch_idx(g, g->kv_by_key, g->n_kv, kv_name, key);
    return i < 0 ? NULL : &g->kv[i].kv;
}

const ko_gguf_tensor *ko_gguf_find_tensor(const ko_gguf *g, const char *name) {
    int i = bsearch_idx(g, g->t_by_name, g->n_t, t_name, name);
    return i < 0 ? NULL : &g->t[i];
}

/* ---- typed values ---- */
static bool is_int(ko_gguf_type t) { return t <= KO_GGUF_INT32 || t == KO_GGUF_UINT64 || t == KO_GGUF_INT64; }
static bool is_signed(ko_gguf_type t) { return t == KO_GGUF_INT8 || t == KO_GGUF_INT16 || t == KO_GGUF_INT32 || t == KO_GGUF_INT64; }

/* Reads a scalar integer of type t at p. Returns 0, or -1 if t is not an integer type. */
static int scalar_int(ko_gguf_type t, const uint8_t *p, int64_t *s, uint64_t *u, bool *neg) {
    if (!is_int(t)) return -1;
    int n = kv_fixed_size(t);
    uint64_t v = rd_le(p, n);
    if (is_signed(t) && n < 8 && (v >> (n * 8 - 1)) & 1) v |= ~0ull << (n * 8);  /* sign-extend */
    *u = v;
    *s = (int64_t)v;
    *neg = is_signed(t) && (int64_t)v < 0;
    return 0;
}

static int scalar_f64(ko_gguf_type t, const uint8_t *p, double *v) {
    if (t == KO_GGUF_FLOAT32) {
        uint32_t b = (uint32_t)rd_le(p, 4);
        float f;
        memcpy(&f, &b, 4);
        *v = f;
        return 0;
    }
    if (t == KO_GGUF_FLOAT64) {
        uint64_t b = rd_le(p, 8);
        memcpy(v, &b, 8);
        return 0;
    }
    int64_t s;
    uint64_t u;
    bool neg;
    if (scalar_int(t, p, &s, &u, &neg)) return -1;
    *v = is_signed(t) ? (double)s : (double)u;
    return 0;
}

int ko_gguf_get_u64(const ko_gguf *g, const char *key, uint64_t *v) {
    const ko_gguf_kv *kv = ko_gguf_find(g, key);
    int64_t s;
    uint64_t u;
    bool neg;
    if (!kv || scalar_int(kv->type, kv->data, &s, &u, &neg) || neg) return -1;
    *v = u;
    return 0;
}

int ko_gguf_get_f64(const ko_gguf *g, const char *key, double *v) {
    const ko_gguf_kv *kv = ko_gguf_find(g, key);
    return kv ? scalar_f64(kv->type, kv->data, v) : -1;
}

static ko_gguf_str str_at(const uint8_t *p) {
    ko_gguf_str s = {(const char *)p + 8, rd_le(p, 8)};
    return s;
}

int ko_gguf_get_str(const ko_gguf *g, const char *key, ko_gguf_str *v) {
    const ko_gguf_kv *kv = ko_gguf_find(g, key);
    if (!kv || kv->type != KO_GGUF_STRING) return -1;
    *v = str_at(kv->data);
    return 0;
}

/* Byte size of the (already validated) value of type t at p. */
static uint64_t value_size(ko_gguf_type t, const uint8_t *p) {
    int fs = kv_fixed_size(t);
    if (fs > 0) return (uint64_t)fs;
    if (t == KO_GGUF_STRING) return 8 + rd_le(p, 8);
    ko_gguf_type et = (ko_gguf_type)rd_le(p, 4);
    uint64_t n = rd_le(p + 4, 8), sz = 12;
    int efs = kv_fixed_size(et);
    if (efs > 0) return sz + n * (uint64_t)efs;
    for (uint64_t i = 0; i < n; i++) sz += value_size(et, p + sz);
    return sz;
}

/* Address of element i of an array kv, or NULL if out of range / not an array. */
static const uint8_t *elem(const ko_gguf_kv *kv, uint64_t i) {
    if (kv->type != KO_GGUF_ARRAY || i >= kv->arr_n) return NULL;
    int efs = kv_fixed_size(kv->arr_type);
    if (efs > 0) return kv->data + i * (uint64_t)efs;
    if (kv->elem_off) return kv->data + kv->elem_off[i];
    const uint8_t *p = kv->data;
    for (uint64_t k = 0; k < i; k++) p += value_size(kv->arr_type, p);
    return p;
}

int ko_gguf_arr_str(const ko_gguf_kv *kv, uint64_t i, ko_gguf_str *v) {
    const uint8_t *p = elem(kv, i);
    if (!p || kv->arr_type != KO_GGUF_STRING) return -1;
    *v = str_at(p);
    return 0;
}

int ko_gguf_arr_f64(const ko_gguf_kv *kv, uint64_t i, double *v) {
    const uint8_t *p = elem(kv, i);
    return p ? scalar_f64(kv->arr_type, p, v) : -1;
}

int ko_gguf_arr_i64(const ko_gguf_kv *kv, uint64_t i, int64_t *v) {
    const uint8_t *p = elem(kv, i);
    int64_t s;
    uint64_t u;
    bool neg;
    if (!p) return -1;
    if (kv->arr_type == KO_GGUF_BOOL) {
        *v = p[0] != 0;
        return 0;
    }
    if (scalar_int(kv->arr_type, p, &s, &u, &neg)) return -1;
    if (!is_signed(kv->arr_type) && u > (uint64_t)INT64_MAX) return -1;
    *v = s;
    return 0;
}

int ko_gguf_arr_arr(const ko_gguf_kv *kv, uint64_t i, ko_gguf_kv *v) {
    const uint8_t *p = elem(kv, i);
    if (!p || kv->arr_type != KO_GGUF_ARRAY) return -1;
    memset(v, 0, sizeof *v);
    v->key.p = "";
    v->type = KO_GGUF_ARRAY;
    v->arr_type = (ko_gguf_type)rd_le(p, 4);
    v->arr_n = rd_le(p + 4, 8);
    v->data = p + 12;
    return 0;
}

int64_t ko_gguf_tensor_numel(const ko_gguf_tensor *t) {
    return (int64_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
}

/* ---- dequantisation ----
 * Each block decoder writes blck floats. The arithmetic follows gguf-py's numpy code operation for
 * operation in float32 (e.g. Q4_K: (d*sc)*q - (dmin*m)), so results are bit-identical to it; the
 * build uses ISO C (no FMA contraction), which keeps each product rounded as numpy rounds it. */

static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);            /* inf / nan */
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (man << 13);    /* normal: rebias 15 -> 127 */
    } else if (man == 0) {
        bits = sign;                                        /* +-0 */
    } else {                                                /* subnormal: normalise */
        int e = -1;
        do { man <<= 1; e++; } while (!(man & 0x400));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ff) << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static float rd_f16(const uint8_t *p) { return f16_to_f32((uint16_t)(p[0] | p[1] << 8)); }

static float rd_f32(const uint8_t *p) {
    uint32_t b = (uint32_t)rd_le(p, 4);
    float f;
    memcpy(&f, &b, 4);
    return f;
}

static void dq_f32(const uint8_t *b, float *y) { y[0] = rd_f32(b); }
static void dq_f16(const uint8_t *b, float *y) { y[0] = rd_f16(b); }
static void dq_bf16(const uint8_t *b, float *y) {
    uint32_t bits = (uint32_t)(b[0] | b[1] << 8) << 16;
    memcpy(y, &bits, 4);
}

/* Q8_0: f16 d, 32 x int8. */
static void dq_q8_0(const uint8_t *b, float *y) {
    float d = rd_f16(b);
    for (int j = 0; j < 32; j++) y[j] = (float)(int8_t)b[2 + j] * d;
}

/* Q4_0: f16 d, 16 bytes; low nibbles are elements 0..15, high nibbles 16..31; value (q - 8) * d. */
static void dq_q4_0(const uint8_t *b, float *y) {
    float d = rd_f16(b);
    for (int j = 0; j < 16; j++) {
        y[j] = d * (float)((b[2 + j] & 0xf) - 8);
        y[j + 16] = d * (float)((b[2 + j] >> 4) - 8);
    }
}

/* Q4_1: f16 d, f16 m, 16 bytes of nibbles as Q4_0; value d * q + m. */
static void dq_q4_1(const uint8_t *b, float *y) {
    float d = rd_f16(b), m = rd_f16(b + 2);
    for (int j = 0; j < 16; j++) {
        y[j] = d * (float)(b[4 + j] & 0xf) + m;
        y[j + 16] = d * (float)(b[4 + j] >> 4) + m;
    }
}

/* Q5_0: f16 d, u32 qh (bit j = fifth bit of element j), 16 bytes of nibbles as Q4_0; (q - 16) * d.
 * Q5_1: f16 d, f16 m, qh, nibbles; d * q + m. */
static void dq_q5_0(const uint8_t *b, float *y) {
    float d = rd_f16(b);
    uint32_t qh = (uint32_t)rd_le(b + 2, 4);
    for (int j = 0; j < 16; j++) {
        y[j] = d * (float)((int)((b[6 + j] & 0xf) | ((qh >> j) & 1) << 4) - 16);
        y[j + 16] = d * (float)((int)((b[6 + j] >> 4) | ((qh >> (j + 16)) & 1) << 4) - 16);
    }
}

static void dq_q5_1(const uint8_t *b, float *y) {
    float d = rd_f16(b), m = rd_f16(b + 2);
    uint32_t qh = (uint32_t)rd_le(b + 4, 4);
    for (int j = 0; j < 16; j++) {
        y[j] = d * (float)((b[8 + j] & 0xf) | ((qh >> j) & 1) << 4) + m;
        y[j + 16] = d * (float)((b[8 + j] >> 4) | ((qh >> (j + 16)) & 1) << 4) + m;
    }
}

/* K-quants' 12 bytes of 6-bit scales and mins for 8 sub-blocks: bytes 0-3 hold scales 0-3 (low 6
 * bits) and the top 2 bits of scales 4-7; bytes 4-7 the same for mins; bytes 8-11 the low 4 bits of
 * scales 4-7 (low nibble) and mins 4-7 (high nibble). */
static void k_scale_min(const uint8_t *s, int j, float *sc, float *mn) {
    if (j < 4) {
        *sc = (float)(s[j] & 63);
        *mn = (float)(s[j + 4] & 63);
    } else {
        *sc = (float)((s[j + 4] & 0xf) | ((s[j - 4] >> 6) << 4));
        *mn = (float)((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
    }
}

/* Q4_K: f16 d, f16 dmin, 12 bytes scales, 128 bytes: 4 chunks of 32 bytes, each chunk's low nibbles
 * are sub-block 2c and high nibbles sub-block 2c+1 (32 elements each). */
static void dq_q4_k(const uint8_t *b, float *y) {
    float d = rd_f16(b), dmin = rd_f16(b + 2);
    const uint8_t *q = b + 16;
    for (int s = 0; s < 8; s++) {
        float sc, mn;
        k_scale_min(b + 4, s, &sc, &mn);
        float dl = d * sc, ml = dmin * mn;
        const uint8_t *c = q + (s / 2) * 32;
        int sh = (s & 1) * 4;
        for (int l = 0; l < 32; l++) y[s * 32 + l] = dl * (float)((c[l] >> sh) & 0xf) - ml;
    }
}

/* Q5_K: as Q4_K plus 32 bytes qh after the scales: bit s of qh[l] is the fifth bit of element l of
 * sub-block s. */
static void dq_q5_k(const uint8_t *b, float *y) {
    float d = rd_f16(b), dmin = rd_f16(b + 2);
    const uint8_t *qh = b + 16, *q = b + 48;
    for (int s = 0; s < 8; s++) {
        float sc, mn;
        k_scale_min(b + 4, s, &sc, &mn);
        float dl = d * sc, ml = dmin * mn;
        const uint8_t *c = q + (s / 2) * 32;
        int sh = (s & 1) * 4;
        for (int l = 0; l < 32; l++) {
            int v = ((c[l] >> sh) & 0xf) | (((qh[l] >> s) & 1) << 4);
            y[s * 32 + l] = dl * (float)v - ml;
        }
    }
}

/* Q6_K: 128 bytes ql (low 4 bits), 64 bytes qh (high 2 bits), 16 int8 scales (one per 16 elements),
 * f16 d. Element v = 128h + r: low bits from ql[64h + r%64] (nibble r/64), high bits from
 * qh[32h + r%32] (bits 2*(r/32)); value (d * scale[v/16]) * (q - 32). */
static void dq_q6_k(const uint8_t *b, float *y) {
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc = (const int8_t *)(b + 192);
    float d = rd_f16(b + 208);
    for (int v = 0; v < 256; v++) {
        int h = v / 128, r = v % 128;
        int lo = (ql[64 * h + r % 64] >> (4 * (r / 64))) & 0xf;
        int hi = (qh[32 * h + r % 32] >> (2 * (r / 32))) & 3;
        y[v] = (d * (float)sc[v / 16]) * (float)((lo | hi << 4) - 32);
    }
}

typedef void (*dq_fn)(const uint8_t *block, float *y);
static dq_fn dq_of(uint32_t t) {
    switch (t) {
    case 0: return dq_f32;
    case 1: return dq_f16;
    case 30: return dq_bf16;
    case 8: return dq_q8_0;
    case 2: return dq_q4_0;
    case 3: return dq_q4_1;
    case 6: return dq_q5_0;
    case 7: return dq_q5_1;
    case 12: return dq_q4_k;
    case 13: return dq_q5_k;
    case 14: return dq_q6_k;
    default: return NULL;
    }
}

bool ko_gguf_can_dequant(uint32_t t) { return dq_of(t) != NULL; }

int ko_gguf_dequant_raw(uint32_t type, const uint8_t *src, int64_t n, float *dst, ko_err *e) {
    dq_fn f = dq_of(type);
    const gtype *ty = gtype_of(type);
    if (!f)
        return ko_fail(e, "ggml type %s (%u) cannot be dequantised (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, "
                          "Q5_0, Q5_1, Q4_K, Q5_K, Q6_K)", ko_gguf_type_name(type), type);
    if (n < 0 || n % ty->blck) return ko_fail(e, "%lld elements is not a whole number of %s blocks", (long long)n, ty->name);
    for (int64_t k = 0; k < n / ty->blck; k++) f(src + k * ty->size, dst + k * ty->blck);
    return 0;
}

int ko_gguf_dequant(const ko_gguf_tensor *t, float *dst, ko_err *e) {
    char nb[64];
    if (ko_gguf_dequant_raw(t->type, t->data, ko_gguf_tensor_numel(t), dst, e))
        return ko_fail_prefix(e, "tensor '%s'", shown(t->name, nb));
    return 0;
}
