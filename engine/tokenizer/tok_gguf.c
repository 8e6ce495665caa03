/* tok_gguf.c — GGUF vocabularies: waits for the GGUF reader (engine/model/gguf.c). */
#include "engine/tokenizer/tok_internal.h"

int tk_load_gguf(ko_tokenizer *t, const char *path, ko_err *e) {
    (void)t;
    return ko_fail(e, "tokenizer: %s: GGUF vocabularies need the GGUF reader, not in this build yet", path);
}
