/* gptq.h — inside engine/model only: GPTQ checkpoints (config.json quantization_config with
 * quant_method "gptq"), dequantised once on load into ordinary [out_features, in_features] weights.
 *
 * A GPTQ linear layer "<prefix>" is stored as (the layout GPTQModel / AutoGPTQ write and transformers
 * loads through optimum + GPTQModel; pf = 32 / bits values per int32, low bits first):
 *   <prefix>.qweight  I32 [in / pf, out]        packed along the input dimension
 *   <prefix>.qzeros   I32 [groups, out / pf]    packed along the output dimension
 *   <prefix>.scales   F16 (or BF16, F32) [groups, out]
 *   <prefix>.g_idx    I32 [in], optional        the group of each input row (default i / group_size)
 * and the weight is W[o][i] = scales[g][o] * (q[i][o] - z[g][o]) with g = g_idx[i], computed as
 * GPTQModel's torch kernel computes it (TorchQuantLinear.dequantize_weight: the integer difference
 * times the scale, in the scales' dtype: one rounding of the exact product). Format "gptq" (v1)
 * stores every zero minus 1: GPTQModel's v1 -> v2 conversion adds 1 to each field of the packed
 * int32 word at once (0x11111111 for 4 bits, carries included), and so does this loader. */
#ifndef KO_GPTQ_H
#define KO_GPTQ_H

#include <cjson/cJSON.h>

#include "engine/model/model.h"
#include "engine/model/safetensors.h"

typedef struct ko_gptq_params {
    int bits;                    /* 2, 4 or 8 */
    int group_size;              /* > 0, or -1: one group over all inputs */
    bool desc_act;               /* act-order: g_idx is required */
    bool v1;                     /* format "gptq": stored zeros are zero - 1 */
} ko_gptq_params;

/* Reads config.json's quantization_config with transformers' GPTQConfig defaults (group_size 128,
 * desc_act false, format "gptq"; "checkpoint_format" is the older name of "format"). Returns 0 with
 * *quantized false when there is none; 0 with *quantized true and *p for GPTQ of 2, 4 or 8 bits;
 * -1 and one line for anything else (AWQ, bitsandbytes, 3 bits, marlin format, ...). */
int ko_gptq_params_from(const cJSON *config, ko_gptq_params *p, bool *quantized, ko_err *e);

/* Dequantises one layer (named `prefix` in errors) after checking every shape against qweight's
 * [in / pf, out] and every g_idx value; g_idx may be NULL. On success *out is a malloc'd
 * [out, in] tensor of scales' dtype (free out->data). The work is split by ranges of outputs over
 * the online CPUs (at most 32; one thread for a small layer); the bytes do not depend on it. */
int ko_gptq_dequant(const ko_gptq_params *p, const char *prefix, const ko_st_i32 *qweight,
                    const ko_st_i32 *qzeros, const ko_tensor *scales, const ko_st_i32 *g_idx,
                    ko_tensor *out, ko_err *e);

/* The same on exactly n_threads threads (at most 32 and out_features), 0 as ko_gptq_dequant
 * chooses: for the test that the split changes no byte and for its benchmark. */
int ko_gptq_dequant_threads(const ko_gptq_params *p, const char *prefix, const ko_st_i32 *qweight,
                            const ko_st_i32 *qzeros, const ko_tensor *scales, const ko_st_i32 *g_idx,
                            int n_threads, ko_tensor *out, ko_err *e);

/* A ko_tensor_lookup (loader.h) over a GPTQ checkpoint: a name present in st is handed out as
 * ko_st_lookup does (unquantized layers, embeddings, norms, biases); "<prefix>.weight" absent but
 * "<prefix>.qweight" present is dequantised (the buffer owned by the ko_gptq); a layer with only
 * part of its GPTQ tensors is an error. */
typedef struct ko_gptq ko_gptq;
ko_gptq *ko_gptq_new(const ko_gptq_params *p, ko_st *st);
int ko_gptq_lookup(void *g, const char *hf_name, ko_tensor *out, ko_err *e);
void ko_gptq_free(void *g);   /* frees the dequantised buffers, not st */

#endif
