/* gguf_hf.h — inside engine/model only: a GGUF file seen in Hugging Face terms, the way transformers
 * loads it (AutoModelForCausalLM.from_pretrained(dir, gguf_file=...): modeling_gguf_pytorch_utils.py
 * and integrations/ggml.py, transformers 5.x), which is what lm-eval's HF backend runs on a GGUF.
 *
 *  - config: the GGUF's {arch}.* and tokenizer.ggml.*_token_id keys renamed to config.json keys, only
 *    those transformers maps (everything else then takes the config class's default in arch.c, as in
 *    transformers: e.g. rope scaling and Gemma 2 soft-capping keys of the GGUF are NOT applied);
 *    model_type from general.architecture (gemma3 -> gemma3_text; llama named "mistral" -> mistral);
 *    tie_word_embeddings when there is no output.weight; vocab_size from {arch}.vocab_size or the
 *    token list.
 *  - tensors by HF name, dequantised to f32 in HF layout (shape = reversed GGUF ne), with llama.cpp's
 *    conversion undone as transformers undoes it: Gemma 2/3 norm weights (stored as 1+w) minus 1 in
 *    float32; llama q/k rows un-permuted (llama.cpp interleaves the two RoPE halves of each head).
 */
#ifndef KO_GGUF_HF_H
#define KO_GGUF_HF_H

#include <cjson/cJSON.h>

#include "engine/model/gguf.h"
#include "engine/model/model.h"

typedef struct ko_gguf_hf ko_gguf_hf;

/* Opens and validates the file and builds the config. Errors name the file. */
int ko_gguf_hf_open(const char *path, ko_gguf_hf **out, ko_err *e);
const cJSON *ko_gguf_hf_config(const ko_gguf_hf *h);
/* A ko_tensor_lookup (loader.h) over the handle: 0 and *out (f32, owned by the handle, the same
 * buffer on every call for a name), 1 when the GGUF has no such tensor, -1 on error. */
int ko_gguf_hf_lookup(void *h, const char *hf_name, ko_tensor *out, ko_err *e);
/* The GGUF name an HF name maps to (NULL if none); buf holds at least 128 bytes. */
const char *ko_gguf_hf_name(const ko_gguf_hf *h, const char *hf_name, char *buf, size_t cap);
/* Unmaps the file; tensors already looked up stay valid. */
void ko_gguf_hf_release_file(ko_gguf_hf *h);
/* Frees the handle and every tensor it returned. */
void ko_gguf_hf_close(void *h);

#endif
