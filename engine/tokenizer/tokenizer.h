/* tokenizer.h — text <-> token ids, token-for-token equal to Hugging Face `tokenizers`.
 * Loads tokenizer.json (optionally .gz; + tokenizer_config.json beside it) or a GGUF vocabulary. */
#ifndef KO_TOKENIZER_H
#define KO_TOKENIZER_H

#include "common/ko.h"

typedef struct ko_tokenizer ko_tokenizer;

typedef struct ko_ids {
    int32_t *ids;
    int n, cap;
} ko_ids;
void ko_ids_free(ko_ids *v);

/* path: tokenizer.json, tokenizer.json.gz, a folder holding one, or a .gguf file (a tokenizer.json
 * beside the GGUF wins). */
int ko_tokenizer_load(const char *path, ko_tokenizer **out, ko_err *e);
void ko_tokenizer_free(ko_tokenizer *t);
/* The same from a tokenizer.json already in memory (no tokenizer_config.json). */
int ko_tokenizer_load_json(const char *json, size_t n, ko_tokenizer **out, ko_err *e);

/* Encodes text (must be valid UTF-8) like HF `Tokenizer.encode(text, add_special_tokens=...)`;
 * appends to out (out->n is reset to 0 first). Thread-safe: the tokenizer is read-only after load
 * and all scratch is per call or per thread (a few small thread-local buffers, never freed). */
int ko_tokenizer_encode(const ko_tokenizer *t, const char *text, size_t len, bool add_special_tokens,
                        ko_ids *out, ko_err *e);
/* Decodes like HF `Tokenizer.decode(ids, skip_special_tokens=...)`; result appended to out. */
int ko_tokenizer_decode(const ko_tokenizer *t, const int32_t *ids, int n, bool skip_special_tokens,
                        ko_buf *out, ko_err *e);

int ko_tokenizer_vocab_size(const ko_tokenizer *t);
/* bos/eos ids from tokenizer_config.json / GGUF metadata; -1 when none. */
int ko_tokenizer_bos(const ko_tokenizer *t);
int ko_tokenizer_eos(const ko_tokenizer *t);
/* tokenizer_config.json's add_bos_token (false when absent). */
bool ko_tokenizer_adds_bos(const ko_tokenizer *t);

#endif
