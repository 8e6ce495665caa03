/* safetensors.h — inside engine/model only: Hugging Face safetensors checkpoints, one file or a
 * sharded set (model.safetensors.index.json), memory-mapped and validated before anything is trusted.
 *
 * Validation follows the reference reader (the `safetensors` crate that transformers loads through):
 * an 8-byte little-endian header length N <= 100 MB and 8 + N <= file size; the header is UTF-8 JSON
 * object (trailing spaces allowed); every entry has a known dtype, a shape of non-negative integers and
 * data_offsets [begin, end]; sorted by offset the entries tile the data section exactly (no gap, no
 * overlap, the last one ends at the end of the file); shape x dtype size == end - begin. It costs
 * O(header): the weights themselves are never read, copied or converted.
 */
#ifndef KO_SAFETENSORS_H
#define KO_SAFETENSORS_H

#include "engine/model/model.h"

typedef struct ko_st ko_st;

/* A checkpoint folder: model.safetensors.index.json (sharded) if present, else model.safetensors. */
int ko_st_open_dir(const char *dir, ko_st **out, ko_err *e);
/* One .safetensors file. */
int ko_st_open_file(const char *path, ko_st **out, ko_err *e);
/* One file image already in memory (the fuzzer, tests): buf must outlive the ko_st. `name` is what the
 * errors call it. */
int ko_st_open_mem(const char *name, const void *buf, size_t len, ko_st **out, ko_err *e);
/* Releases the mappings (void * so that it can be handed to ko_model_keep). NULL is fine. */
void ko_st_close(void *st);

int ko_st_n_tensors(const ko_st *st);
/* Name, dtype string ("BF16", "I64", ...) and shape of tensor i (in file order, shards in order). */
const char *ko_st_name(const ko_st *st, int i);
const char *ko_st_dtype_str(const ko_st *st, int i);
int ko_st_shape(const ko_st *st, int i, int64_t shape[8]);   /* returns ndim (<= 8 stored) */

/* A ko_tensor_lookup (loader.h) over the checkpoint. The name is an HF text-model name
 * ("model.layers.0.self_attn.q_proj.weight", "lm_head.weight"); it is tried as is, then under the
 * multimodal prefixes of Gemma3ForConditionalGeneration checkpoints: "language_model." + name (hub
 * originals: language_model.model.*, language_model.lm_head.weight) and "model.language_model." +
 * the rest of a "model." name (transformers >= 4.52 saves). Returns 1 when absent; -1 (named file and
 * tensor) when present with a dtype other than F32/F16/BF16 or more than 4 dimensions. data points
 * into the mapping; a tensor whose bytes are not aligned to its element size (files written by other
 * tools than the safetensors crate) is copied once into aligned memory owned by the ko_st. */
int ko_st_lookup(void *st, const char *hf_name, ko_tensor *out, ko_err *e);

/* An I32 tensor of 1 or 2 dimensions (GPTQ's qweight, qzeros, g_idx), found by the same names as
 * ko_st_lookup: 1 when absent, -1 (named) when it has another dtype or rank. shape[1] is 1 for a
 * vector; data is 4-byte aligned, little-endian as in the file. */
typedef struct ko_st_i32 {
    const char *name;            /* as stored (owned by st) */
    int ndim;
    int64_t shape[2];
    const int32_t *data;
} ko_st_i32;
int ko_st_lookup_i32(ko_st *st, const char *hf_name, ko_st_i32 *out, ko_err *e);

#endif
