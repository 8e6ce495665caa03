/* gguf.h — GGUF v3 reader: metadata, tensor infos, memory-mapped data; validated before trusted.
 * Used by the model loader and by the tokenizer (GGUF vocabularies). */
#ifndef KO_GGUF_H
#define KO_GGUF_H

#include "common/ko.h"

typedef enum ko_gguf_type {
    KO_GGUF_UINT8 = 0, KO_GGUF_INT8 = 1, KO_GGUF_UINT16 = 2, KO_GGUF_INT16 = 3, KO_GGUF_UINT32 = 4,
    KO_GGUF_INT32 = 5, KO_GGUF_FLOAT32 = 6, KO_GGUF_BOOL = 7, KO_GGUF_STRING = 8, KO_GGUF_ARRAY = 9,
    KO_GGUF_UINT64 = 10, KO_GGUF_INT64 = 11, KO_GGUF_FLOAT64 = 12
} ko_gguf_type;

typedef struct ko_gguf ko_gguf;

typedef struct ko_gguf_str { const char *p; uint64_t n; } ko_gguf_str;  /* not NUL-terminated */

typedef struct ko_gguf_kv {
    ko_gguf_str key;
    ko_gguf_type type;
    ko_gguf_type arr_type;       /* for arrays */
    uint64_t arr_n;
    const uint8_t *data;         /* raw value bytes in the mapping (array: first element) */
    const uint64_t *elem_off;    /* arrays of strings/arrays: byte offset of element i from data, so
                                    element access is O(1); NULL for fixed-size elements and for the
                                    inner arrays ko_gguf_arr_arr returns (those are walked) */
} ko_gguf_kv;

typedef struct ko_gguf_tensor {
    ko_gguf_str name;
    uint32_t n_dims;
    uint64_t ne[4];              /* GGUF order: ne[0] is the fastest-varying dimension */
    uint32_t type;               /* ggml type: 0 F32, 1 F16, 2 Q4_0, 3 Q4_1, 8 Q8_0, 12 Q4_K, 13 Q5_K, 14 Q6_K, 30 BF16 */
    const uint8_t *data;
    uint64_t nbytes;
} ko_gguf_tensor;

/* Maps and validates the whole file (header, every metadata value, tensor infos, data layout).
 * Only version 3 (little-endian) is supported. Errors name the file: "<path>: <why>". */
int ko_gguf_open(const char *path, ko_gguf **out, ko_err *e);
/* Same over bytes already in memory (tests, fuzzing): data must outlive the handle; name is what
 * errors call it. */
int ko_gguf_open_mem(const void *data, size_t n, const char *name, ko_gguf **out, ko_err *e);
void ko_gguf_close(ko_gguf *g);
const ko_gguf_kv *ko_gguf_find(const ko_gguf *g, const char *key);
int ko_gguf_n_kv(const ko_gguf *g);
const ko_gguf_kv *ko_gguf_kv_at(const ko_gguf *g, int i);
int ko_gguf_n_tensors(const ko_gguf *g);
const ko_gguf_tensor *ko_gguf_tensor_at(const ko_gguf *g, int i);
const ko_gguf_tensor *ko_gguf_find_tensor(const ko_gguf *g, const char *name);

/* Typed metadata getters: return 0 and set *v, or -1 (absent / wrong type). */
int ko_gguf_get_u64(const ko_gguf *g, const char *key, uint64_t *v);   /* any integer type */
int ko_gguf_get_f64(const ko_gguf *g, const char *key, double *v);     /* any float or int type */
int ko_gguf_get_str(const ko_gguf *g, const char *key, ko_gguf_str *v);
/* Array element access (strings and numbers); index checked against arr_n. */
int ko_gguf_arr_str(const ko_gguf_kv *kv, uint64_t i, ko_gguf_str *v);
int ko_gguf_arr_f64(const ko_gguf_kv *kv, uint64_t i, double *v);
int ko_gguf_arr_i64(const ko_gguf_kv *kv, uint64_t i, int64_t *v);
/* Element i of an array of arrays, as a kv (key empty, type KO_GGUF_ARRAY). */
int ko_gguf_arr_arr(const ko_gguf_kv *kv, uint64_t i, ko_gguf_kv *v);

const char *ko_gguf_path(const ko_gguf *g);
uint32_t ko_gguf_alignment(const ko_gguf *g);    /* general.alignment, default 32 */
uint64_t ko_gguf_data_offset(const ko_gguf *g);  /* file offset of the tensor data section */
/* "Q4_K", "F32", ...; "?" for numbers ggml does not define. */
const char *ko_gguf_type_name(uint32_t ggml_type);
int64_t ko_gguf_tensor_numel(const ko_gguf_tensor *t);
/* True when ko_gguf_dequant handles the type. */
bool ko_gguf_can_dequant(uint32_t ggml_type);

/* Dequantises a whole tensor to f32 (dst holds ne[0]*ne[1]*... floats), in GGUF element order
 * (ne[0] fastest), bit-for-bit what the `gguf` Python package's gguf.quants.dequantize gives. */
int ko_gguf_dequant(const ko_gguf_tensor *t, float *dst, ko_err *e);
/* The same over raw blocks: n floats (a multiple of the type's block size) from src. */
int ko_gguf_dequant_raw(uint32_t ggml_type, const uint8_t *src, int64_t n, float *dst, ko_err *e);

#endif
