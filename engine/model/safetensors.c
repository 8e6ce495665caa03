/* safetensors.c — safetensors checkpoints: mmap, strict header validation, name lookup (safetensors.h). */
#include "engine/model/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/model/arch.h"
#include "engine/model/loader.h"

/* The reference reader's limit on the header (safetensors crate: MAX_HEADER_SIZE). */
#define MAX_HEADER ((uint64_t)100000000)
/* JSON numbers are doubles in cJSON: integers beyond 2^53 are not exact, so they are refused. */
#define MAX_EXACT ((double)(1ULL << 53))

/* Element sizes in bits of every dtype the safetensors format names (sub-byte ones included, so that
 * a file holding them still validates). `ko` is the model dtype it maps to, -1 when it has none. */
static const struct {
    const char *name;
    int bits;
    int ko;
} DTYPES[] = {
    {"F32", 32, KO_F32}, {"F16", 16, KO_F16}, {"BF16", 16, KO_BF16}, {"F64", 64, -1},    {"I64", 64, -1},
    {"U64", 64, -1},     {"I32", 32, -1},     {"U32", 32, -1},       {"I16", 16, -1},    {"U16", 16, -1},
    {"I8", 8, -1},       {"U8", 8, -1},       {"BOOL", 8, -1},       {"F8_E4M3", 8, -1}, {"F8_E5M2", 8, -1},
    {"E8M0", 8, -1},     {"F8_E8M0", 8, -1},  {"F6_E2M3", 6, -1},    {"F6_E3M2", 6, -1}, {"F4", 4, -1},
    {"C64", 64, -1},
};
#define N_DTYPES ((int)(sizeof DTYPES / sizeof *DTYPES))

typedef struct st_file {
    char *path;                  /* as named in errors */
    const uint8_t *base;         /* the whole file */
    size_t size;
    bool mapped;
} st_file;

typedef struct st_entry {
    char *name;
    int dtype;                   /* index into DTYPES */
    int ndim;                    /* real number of dimensions */
    int64_t shape[8];            /* the first 8 */
    uint64_t begin, end;         /* relative to the data section */
    int file;
} st_entry;

struct ko_st {
    st_file *files;
    int n_files;
    st_entry *ents;
    int n_ents, cap_ents;
    int *slots;                  /* open-addressing hash of names -> entry index, -1 empty */
    size_t n_slots;
    void **copies;               /* aligned copies made by ko_st_lookup */
    int n_copies;
};

/* ---- name hash ---- */

static uint64_t hash_name(const char *s) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ULL;
    return h;
}

static int find_entry(const ko_st *st, const char *name) {
    if (!st->n_slots) return -1;
    for (size_t i = hash_name(name) & (st->n_slots - 1);; i = (i + 1) & (st->n_slots - 1)) {
        int k = st->slots[i];
        if (k < 0) return -1;
        if (strcmp(st->ents[k].name, name) == 0) return k;
    }
}

/* Indexes entries [from, n_ents); fails on a name seen before (in this file or an earlier shard). */
static int index_entries(ko_st *st, int from, ko_err *e) {
    if ((size_t)st->n_ents * 2 > st->n_slots) {
        size_t n = 64;
        while (n < (size_t)st->n_ents * 2) n *= 2;
        free(st->slots);
        st->slots = ko_xmalloc(n * sizeof *st->slots);
        st->n_slots = n;
        for (size_t i = 0; i < n; i++) st->slots[i] = -1;
        from = 0;
    }
    for (int k = from; k < st->n_ents; k++) {
        size_t i = hash_name(st->ents[k].name) & (st->n_slots - 1);
        for (; st->slots[i] >= 0; i = (i + 1) & (st->n_slots - 1)) {
            const st_entry *o = &st->ents[st->slots[i]];
            if (strcmp(o->name, st->ents[k].name) == 0) {
                if (o->file == st->ents[k].file)
                    return ko_fail(e, "%s: tensor '%s' is listed twice in the header", st->files[o->file].path, o->name);
                return ko_fail(e, "tensor '%s' is in both %s and %s", o->name, st->files[o->file].path,
                               st->files[st->ents[k].file].path);
            }
        }
        st->slots[i] = k;
    }
    return 0;
}

/* ---- header parsing ---- */

static uint64_t le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* A JSON number that is an exact non-negative integer. */
static bool json_uint(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return false;
    double d = v->valuedouble;
    if (!(d >= 0) || d > MAX_EXACT || d != (double)(uint64_t)d) return false;
    *out = (uint64_t)d;
    return true;
}

static void fmt_shape(const st_entry *t, char *buf, size_t n) {
    size_t k = 0;
    k += (size_t)snprintf(buf + k, n - k, "[");
    for (int d = 0; d < t->ndim && d < 8 && k < n; d++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    if (t->ndim > 8 && k < n) k += (size_t)snprintf(buf + k, n - k, ", ...");
    if (k < n) snprintf(buf + k, n - k, "]");
}

/* One header entry -> st_entry (appended); data_size is the data section's length. */
static int parse_entry(ko_st *st, int file, const cJSON *it, uint64_t data_size, ko_err *e) {
    const char *path = st->files[file].path, *name = it->string;
    if (!cJSON_IsObject(it)) return ko_fail(e, "%s: tensor '%s': header entry is not an object", path, name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(it, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(it, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(it, "data_offsets");
    if (!cJSON_IsString(dt)) return ko_fail(e, "%s: tensor '%s': no \"dtype\" string", path, name);
    int dtype = -1;
    for (int i = 0; i < N_DTYPES && dtype < 0; i++)
        if (strcmp(DTYPES[i].name, dt->valuestring) == 0) dtype = i;
    if (dtype < 0) return ko_fail(e, "%s: tensor '%s': unknown dtype '%.40s'", path, name, dt->valuestring);
    if (!cJSON_IsArray(sh)) return ko_fail(e, "%s: tensor '%s': no \"shape\" array", path, name);
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2)
        return ko_fail(e, "%s: tensor '%s': \"data_offsets\" is not a [begin, end] pair", path, name);

    st_entry t = {.dtype = dtype, .file = file};
    uint64_t numel = 1;
    bool overflow = false;
    for (const cJSON *d = sh->child; d; d = d->next) {
        uint64_t v;
        if (!json_uint(d, &v))
            return ko_fail(e, "%s: tensor '%s': shape holds something other than a non-negative integer", path, name);
        if (t.ndim < 8) t.shape[t.ndim] = (int64_t)v;
        t.ndim++;
        if (v && numel > UINT64_MAX / v) overflow = true;
        numel *= v;
    }
    if (!json_uint(off->child, &t.begin) || !json_uint(off->child->next, &t.end))
        return ko_fail(e, "%s: tensor '%s': data_offsets are not non-negative integers", path, name);
    if (t.end < t.begin)
        return ko_fail(e, "%s: tensor '%s': data_offsets [%llu, %llu] end before they begin", path, name,
                       (unsigned long long)t.begin, (unsigned long long)t.end);
    if (t.end > data_size)
        return ko_fail(e, "%s: tensor '%s': data_offsets [%llu, %llu] go beyond the data section (%llu bytes)", path,
                       name, (unsigned long long)t.begin, (unsigned long long)t.end, (unsigned long long)data_size);
    uint64_t bits = (uint64_t)DTYPES[dtype].bits;
    char shp[160];
    fmt_shape(&t, shp, sizeof shp);
    if (overflow || numel > UINT64_MAX / bits)
        return ko_fail(e, "%s: tensor '%s': shape %s is too large", path, name, shp);
    if ((numel * bits) % 8)
        return ko_fail(e, "%s: tensor '%s': shape %s of %s does not fill whole bytes", path, name, shp,
                       DTYPES[dtype].name);
    if (numel * bits / 8 != t.end - t.begin)
        return ko_fail(e, "%s: tensor '%s': shape %s x %s = %llu bytes, but data_offsets [%llu, %llu] hold %llu", path,
                       name, shp, DTYPES[dtype].name, (unsigned long long)(numel * bits / 8),
                       (unsigned long long)t.begin, (unsigned long long)t.end,
                       (unsigned long long)(t.end - t.begin));
    t.name = ko_xstrdup(name);
    if (st->n_ents == st->cap_ents) {
        st->cap_ents = st->cap_ents ? st->cap_ents * 2 : 64;
        st->ents = ko_xrealloc(st->ents, (size_t)st->cap_ents * sizeof *st->ents);
    }
    st->ents[st->n_ents++] = t;
    return 0;
}

static const st_entry *sort_base;
static int cmp_offsets(const void *a, const void *b) {
    const st_entry *x = &sort_base[*(const int *)a], *y = &sort_base[*(const int *)b];
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

/* Sorted by offset, entries [from, n_ents) must tile [0, data_size) exactly, as the reference requires. */
static int check_tiling(ko_st *st, int from, uint64_t data_size, const char *path, ko_err *e) {
    int n = st->n_ents - from;
    int *ord = ko_xmalloc((size_t)(n ? n : 1) * sizeof *ord);
    for (int i = 0; i < n; i++) ord[i] = from + i;
    sort_base = st->ents;
    if (n > 1) qsort(ord, (size_t)n, sizeof *ord, cmp_offsets);
    uint64_t at = 0;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        const st_entry *t = &st->ents[ord[i]];
        if (t->begin < at)
            rc = ko_fail(e, "%s: tensors '%s' and '%s' overlap (data_offsets [%llu, %llu] and [%llu, %llu])", path,
                         st->ents[ord[i - 1]].name, t->name, (unsigned long long)st->ents[ord[i - 1]].begin,
                         (unsigned long long)st->ents[ord[i - 1]].end, (unsigned long long)t->begin,
                         (unsigned long long)t->end);
        else if (t->begin > at)
            rc = ko_fail(e, "%s: tensor '%s': data_offsets begin at %llu, but the previous tensor ends at %llu "
                            "(unused bytes between tensors)", path, t->name, (unsigned long long)t->begin,
                         (unsigned long long)at);
        at = t->end;
    }
    free(ord);
    if (rc == 0 && at != data_size)
        rc = ko_fail(e, "%s: the tensors cover %llu of the %llu data bytes (the file has bytes no tensor uses)", path,
                     (unsigned long long)at, (unsigned long long)data_size);
    return rc;
}

/* Validates file `file` (already in st->files) and appends its entries. */
static int parse_file(ko_st *st, int file, ko_err *e) {
    const st_file *f = &st->files[file];
    if (f->size < 8)
        return ko_fail(e, "%s: %zu bytes is too short for a safetensors file (the header length alone is 8)", f->path,
                       f->size);
    uint64_t n = le64(f->base);
    if (n > MAX_HEADER)
        return ko_fail(e, "%s: header length %llu is over the 100 MB limit (not a safetensors file?)", f->path,
                       (unsigned long long)n);
    if (n > f->size - 8)
        return ko_fail(e, "%s: header length %llu goes beyond the end of the file (%zu bytes)", f->path,
                       (unsigned long long)n, f->size);
    const char *h = (const char *)f->base + 8;
    long bad = ko_utf8_invalid_at(h, (size_t)n);
    if (bad >= 0) return ko_fail(e, "%s: header is not valid UTF-8 (at header byte %ld)", f->path, bad);
    if (n == 0 || h[0] != '{') return ko_fail(e, "%s: header does not start with '{'", f->path);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(h, (size_t)n, &end, 0);
    if (!root) {
        long at = end && end >= h && end <= h + n ? (long)(end - h) : -1;
        return ko_fail(e, "%s: header is not valid JSON (near header byte %ld)", f->path, at);
    }
    for (const char *p = end; p < h + n; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            cJSON_Delete(root);
            return ko_fail(e, "%s: header has bytes after its JSON object (at header byte %ld)", f->path,
                           (long)(p - h));
        }
    int rc = 0, from = st->n_ents;
    uint64_t data_size = f->size - 8 - n;
    if (!cJSON_IsObject(root)) rc = ko_fail(e, "%s: header is not a JSON object", f->path);
    for (const cJSON *it = root->child; it && rc == 0; it = it->next) {
        if (strcmp(it->string, "__metadata__") == 0) {
            bool ok = cJSON_IsObject(it);
            for (const cJSON *m = ok ? it->child : NULL; m && ok; m = m->next) ok = cJSON_IsString(m);
            if (!ok) rc = ko_fail(e, "%s: __metadata__ is not a map of strings", f->path);
            continue;
        }
        rc = parse_entry(st, file, it, data_size, e);
    }
    cJSON_Delete(root);
    if (rc == 0) rc = check_tiling(st, from, data_size, f->path, e);
    if (rc == 0) rc = index_entries(st, from, e);
    return rc;
}

/* ---- opening ---- */

static int add_file(ko_st *st, const char *path) {
    st->files = ko_xrealloc(st->files, (size_t)(st->n_files + 1) * sizeof *st->files);
    st->files[st->n_files] = (st_file){.path = ko_xstrdup(path)};
    return st->n_files++;
}

static int map_file(ko_st *st, const char *path, ko_err *e) {
    int k = add_file(st, path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ko_fail(e, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return ko_fail(e, "%s: not a regular file", path);
    }
    st_file *f = &st->files[k];
    f->size = (size_t)sb.st_size;
    if (f->size >= 8) {
        void *p = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int err = errno;
            close(fd);
            return ko_fail(e, "%s: cannot mmap %zu bytes: %s", path, f->size, strerror(err));
        }
        f->base = p;
        f->mapped = true;
    }
    close(fd);
    return parse_file(st, k, e);
}

int ko_st_open_mem(const char *name, const void *buf, size_t len, ko_st **out, ko_err *e) {
    ko_st *st = ko_xcalloc(1, sizeof *st);
    int k = add_file(st, name);
    st->files[k].base = buf;
    st->files[k].size = len;
    if (parse_file(st, k, e) != 0) {
        ko_st_close(st);
        return ko_err_one_line(e);
    }
    *out = st;
    return 0;
}

int ko_st_open_file(const char *path, ko_st **out, ko_err *e) {
    ko_st *st = ko_xcalloc(1, sizeof *st);
    if (map_file(st, path, e) != 0) {
        ko_st_close(st);
        return ko_err_one_line(e);
    }
    *out = st;
    return 0;
}

/* A shard's file name from the index: a plain name inside the folder, nothing else. */
static bool plain_name(const char *s) {
    return s[0] && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

static int open_sharded(ko_st *st, const char *dir, const char *index, ko_err *e) {
    ko_buf b = {0};
    if (ko_read_file(index, &b, e) != 0) return -1;
    cJSON *root = cJSON_ParseWithLength(b.p ? b.p : "", b.n);
    ko_buf_free(&b);
    if (!root) return ko_fail(e, "%s: not valid JSON", index);
    int rc = 0;
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(wm) || !wm->child) rc = ko_fail(e, "%s: no \"weight_map\" object with entries", index);
    /* Shards in order of first mention; each mapped and validated once. */
    char **shards = NULL;
    int n_shards = 0;
    for (const cJSON *it = wm ? wm->child : NULL; it && rc == 0; it = it->next) {
        if (!cJSON_IsString(it) || !plain_name(it->valuestring)) {
            rc = ko_fail(e, "%s: weight_map['%s'] is not a file name in the folder", index, it->string);
            break;
        }
        bool seen = false;
        for (int i = 0; i < n_shards && !seen; i++) seen = strcmp(shards[i], it->valuestring) == 0;
        if (seen) continue;
        shards = ko_xrealloc(shards, (size_t)(n_shards + 1) * sizeof *shards);
        shards[n_shards++] = it->valuestring;
        char *p = ko_xasprintf("%s/%s", dir, it->valuestring);
        if (!ko_file_exists(p))
            rc = ko_fail(e, "%s: shard %s (named in weight_map) is missing", index, it->valuestring);
        else
            rc = map_file(st, p, e);
        free(p);
    }
    /* Every listed tensor must be in the shard the index names. */
    for (const cJSON *it = wm ? wm->child : NULL; it && rc == 0; it = it->next) {
        int k = find_entry(st, it->string);
        const char *want = it->valuestring;
        if (k < 0)
            rc = ko_fail(e, "%s: tensor '%s' is listed in %s but is not there", index, it->string, want);
        else {
            const char *got = strrchr(st->files[st->ents[k].file].path, '/');
            got = got ? got + 1 : st->files[st->ents[k].file].path;
            if (strcmp(got, want) != 0)
                rc = ko_fail(e, "%s: tensor '%s' is listed in %s but is in %s", index, it->string, want, got);
        }
    }
    free(shards);
    cJSON_Delete(root);
    return rc;
}

int ko_st_open_dir(const char *dir, ko_st **out, ko_err *e) {
    ko_st *st = ko_xcalloc(1, sizeof *st);
    char *index = ko_xasprintf("%s/model.safetensors.index.json", dir);
    char *single = ko_xasprintf("%s/model.safetensors", dir);
    char *bin = ko_xasprintf("%s/pytorch_model.bin", dir);
    int rc;
    if (ko_file_exists(index))
        rc = open_sharded(st, dir, index, e);
    else if (ko_file_exists(single))
        rc = map_file(st, single, e);
    else if (ko_file_exists(bin))
        rc = ko_fail(e, "%s: only PyTorch weights (pytorch_model.bin), which koeval does not read: convert them to "
                        "safetensors", dir);
    else
        rc = ko_fail(e, "%s: no model.safetensors or model.safetensors.index.json", dir);
    free(index);
    free(single);
    free(bin);
    if (rc != 0) {
        ko_st_close(st);
        return ko_err_one_line(e);
    }
    *out = st;
    return 0;
}

void ko_st_close(void *p) {
    ko_st *st = p;
    if (!st) return;
    for (int i = 0; i < st->n_files; i++) {
        if (st->files[i].mapped) munmap((void *)st->files[i].base, st->files[i].size);
        free(st->files[i].path);
    }
    for (int i = 0; i < st->n_ents; i++) free(st->ents[i].name);
    for (int i = 0; i < st->n_copies; i++) free(st->copies[i]);
    free(st->files);
    free(st->ents);
    free(st->slots);
    free(st->copies);
    free(st);
}

/* ---- queries ---- */

int ko_st_n_tensors(const ko_st *st) { return st->n_ents; }
const char *ko_st_name(const ko_st *st, int i) { return st->ents[i].name; }
const char *ko_st_dtype_str(const ko_st *st, int i) { return DTYPES[st->ents[i].dtype].name; }
int ko_st_shape(const ko_st *st, int i, int64_t shape[8]) {
    const st_entry *t = &st->ents[i];
    for (int d = 0; d < t->ndim && d < 8; d++) shape[d] = t->shape[d];
    return t->ndim < 8 ? t->ndim : 8;
}

static int find_prefixed(const ko_st *st, const char *name) {
    int k = find_entry(st, name);
    if (k >= 0) return k;
    char *alt = ko_xasprintf("language_model.%s", name);
    k = find_entry(st, alt);
    free(alt);
    if (k < 0 && strncmp(name, "model.", 6) == 0) {
        alt = ko_xasprintf("model.language_model.%s", name + 6);
        k = find_entry(st, alt);
        free(alt);
    }
    return k;
}

/* Tensor k's bytes, aligned to esz (copied once into memory owned by st when the file's are not). */
static const void *entry_data(ko_st *st, const st_entry *t, size_t esz) {
    const st_file *f = &st->files[t->file];
    const uint8_t *data = f->base + 8 + le64(f->base) + t->begin;
    size_t nbytes = (size_t)(t->end - t->begin);
    if ((uintptr_t)data % esz) {
        /* Not produced by the safetensors crate (it aligns); copy once rather than hand out misaligned
         * pointers the engines would read as uint16_t / float / int32_t. */
        void *copy = ko_xmalloc(nbytes ? nbytes : 1);
        memcpy(copy, data, nbytes);
        st->copies = ko_xrealloc(st->copies, (size_t)(st->n_copies + 1) * sizeof *st->copies);
        st->copies[st->n_copies++] = copy;
        data = copy;
    }
    return data;
}

static const char *file_base(const ko_st *st, const st_entry *t) {
    const char *path = st->files[t->file].path, *base = strrchr(path, '/');
    return base ? base + 1 : path;
}

int ko_st_lookup(void *ctx, const char *hf_name, ko_tensor *out, ko_err *e) {
    ko_st *st = ctx;
    int k = find_prefixed(st, hf_name);
    if (k < 0) return 1;
    const st_entry *t = &st->ents[k];
    if (t->ndim > 4) {
        ko_fail(e, "%s: tensor '%s' has %d dimensions (at most 4)", file_base(st, t), t->name, t->ndim);
        return ko_err_one_line(e);
    }
    if (DTYPES[t->dtype].ko < 0) {
        ko_fail(e, "%s: tensor '%s' is %s; model weights must be BF16, F16 or F32", file_base(st, t), t->name,
                DTYPES[t->dtype].name);
        return ko_err_one_line(e);
    }
    memset(out, 0, sizeof *out);
    out->dtype = (ko_dtype)DTYPES[t->dtype].ko;
    out->ndim = t->ndim;
    for (int d = 0; d < t->ndim; d++) out->shape[d] = t->shape[d];
    out->data = entry_data(st, t, ko_dtype_size(out->dtype));
    return 0;
}

int ko_st_lookup_i32(ko_st *st, const char *hf_name, ko_st_i32 *out, ko_err *e) {
    int k = find_prefixed(st, hf_name);
    if (k < 0) return 1;
    const st_entry *t = &st->ents[k];
    if (strcmp(DTYPES[t->dtype].name, "I32") != 0 || t->ndim < 1 || t->ndim > 2) {
        char shp[160];
        fmt_shape(t, shp, sizeof shp);
        ko_fail(e, "%s: tensor '%s' is %s %s; expected I32 with 1 or 2 dimensions", file_base(st, t), t->name,
                DTYPES[t->dtype].name, shp);
        return ko_err_one_line(e);
    }
    out->name = t->name;
    out->ndim = t->ndim;
    out->shape[0] = t->shape[0];
    out->shape[1] = t->ndim > 1 ? t->shape[1] : 1;
    out->data = entry_data(st, t, 4);
    return 0;
}
