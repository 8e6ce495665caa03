/* loader.h — inside engine/model only: the seam between the file formats (safetensors.c, gguf_model.c)
 * and the architecture table (arch.c) that turns "an HF config + tensors by HF name" into a ko_model.
 *
 * Every format reduces itself to the same two things:
 *  - a config as Hugging Face's config.json would hold it (cJSON; for multimodal checkpoints such as
 *    Gemma3ForConditionalGeneration the loader passes the whole file and arch.c reads text_config),
 *  - a lookup from HF tensor names ("model.layers.0.self_attn.q_proj.weight", without any
 *    "language_model." prefix: the lookup resolves prefixes itself) to host tensors, shape in HF
 *    order ([out_features, in_features] for linear weights).
 * arch.c then fills ko_config from the table of differences, asks for every tensor the architecture
 * needs, checks each shape, and fills ko_model. GGUF files first translate their metadata keys and
 * tensor names (and value conventions, e.g. Gemma's norm weights stored as 1+w) into these HF terms.
 */
#ifndef KO_LOADER_H
#define KO_LOADER_H

#include <cjson/cJSON.h>

#include "engine/model/model.h"

/* Returns 0 and fills *out when the tensor exists; 1 when it is absent (not an error: optional
 * tensors such as biases or an untied lm_head); -1 with e filled on a real error. */
typedef int (*ko_tensor_lookup)(void *ctx, const char *hf_name, ko_tensor *out, ko_err *e);

/* Fills m->cfg, m->embed, m->final_norm, m->lm_head, m->layers from the config and the tensors.
 * Validates: known model_type/architectures, positive sizes, every required tensor present with
 * exactly the expected shape, one dtype across weights. The tensors' memory stays owned by the
 * caller (kept alive through m->priv). */
int ko_model_from_hf(ko_model *m, const cJSON *config, ko_tensor_lookup lookup, void *ctx, ko_err *e);

/* Hands a resource (a mapping, a dequantised buffer) to the model: ko_model_free calls
 * free_fn(ptr), in reverse order of keeping (model.c). */
void ko_model_keep(ko_model *m, void *ptr, void (*free_fn)(void *));

/* The GGUF side of ko_model_load (gguf_model.c): path is a .gguf file. */
int ko_gguf_model_load(const char *path, ko_model *m, ko_err *e);

#endif
