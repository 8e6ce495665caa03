/* gguf_model.c — ko_gguf_model_load (loader.h): a .gguf file through gguf_hf (HF config + HF-named
 * f32 tensors, as transformers loads the file) into the shared architecture table (arch.c). */
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model/gguf_hf.h"
#include "engine/model/loader.h"

/* tokenizer.json (or .json.gz) beside the file wins over the GGUF's own vocabulary. */
static char *tokenizer_beside(const char *path) {
    static const char *const names[] = {"tokenizer.json", "tokenizer.json.gz"};
    char *copy = ko_xstrdup(path);
    const char *dir = dirname(copy);
    char *found = NULL;
    for (int i = 0; i < 2 && !found; i++) {
        char *p = ko_xasprintf("%s/%s", dir, names[i]);
        if (ko_file_exists(p)) found = p;
        else free(p);
    }
    free(copy);
    return found ? found : ko_xstrdup(path);
}

int ko_gguf_model_load(const char *path, ko_model *m, ko_err *e) {
    ko_gguf_hf *h;
    if (ko_gguf_hf_open(path, &h, e) != 0) return -1;
    ko_model_keep(m, h, ko_gguf_hf_close);
    if (ko_model_from_hf(m, ko_gguf_hf_config(h), ko_gguf_hf_lookup, h, e) != 0) return ko_fail_prefix(e, "%s", path);
    ko_gguf_hf_release_file(h);   /* every tensor is dequantised now; the tokenizer reopens the file */
    m->tokenizer_path = tokenizer_beside(path);
    return 0;
}
