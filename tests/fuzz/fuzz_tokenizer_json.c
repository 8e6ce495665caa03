/* fuzz_tokenizer_json.c — libFuzzer target for the tokenizer.json loader (ko_tokenizer_load_json).
 * The input is the file's text. A file that loads must then encode and decode a few strings
 * without trouble, with every id in range; an error is one non-empty line. Built and run by
 * scripts/fuzz.sh (`make fuzz`). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/tokenizer/tokenizer.h"

static const char *const TEXTS[] = {"", "a", "Hello world", " ab  ba\n\t", "<s>x</s>", "한국어 12345", "\xf0\x9f\x98\x80!"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ko_tokenizer *t;
    ko_err e = {{0}};
    if (ko_tokenizer_load_json((const char *)data, size, &t, &e) != 0) {
        if (e.msg[0] == 0 || strchr(e.msg, '\n')) abort();
        return 0;
    }
    ko_ids ids = {0};
    ko_buf out = {0};
    int n = ko_tokenizer_vocab_size(t);
    for (size_t i = 0; i < sizeof TEXTS / sizeof TEXTS[0]; i++)
        for (int sp = 0; sp < 2; sp++) {
            if (ko_tokenizer_encode(t, TEXTS[i], strlen(TEXTS[i]), sp, &ids, &e) != 0) {
                if (e.msg[0] == 0 || strchr(e.msg, '\n')) abort();
                continue;
            }
            for (int k = 0; k < ids.n; k++)
                if (ids.ids[k] < 0 || ids.ids[k] >= n) abort();
            out.n = 0;
            if (ko_tokenizer_decode(t, ids.ids, ids.n, sp, &out, &e) != 0) abort();
        }
    ko_ids_free(&ids);
    ko_buf_free(&out);
    ko_tokenizer_free(t);
    return 0;
}
