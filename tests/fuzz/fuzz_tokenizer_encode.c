/* fuzz_tokenizer_encode.c — libFuzzer target for encode and decode on real tokenizers: gemma3 and
 * llama3 from $KOEVAL_SHARED (or ../shared) and the synthetic ones in tests/tokenizer/goldens
 * (every normalizer, pre-tokenizer and decoder koeval has). The first byte picks the tokenizer and
 * add_special_tokens, the rest is the text (often invalid UTF-8: that must be a clean error).
 * Checks: ids in range, decode works, the result of decode re-encodes without error. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/tokenizer/tokenizer.h"

static ko_tokenizer *toks[8];
static int n_toks;

static void load(const char *path) {
    ko_err e;
    if (ko_tokenizer_load(path, &toks[n_toks], &e) == 0) n_toks++;
    else fprintf(stderr, "fuzz_tokenizer_encode: skipping %s: %s\n", path, e.msg);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const char *sh = getenv("KOEVAL_SHARED");
    char p[4096];
    static const char *const real[] = {"gemma3", "llama3", "qwen3", "llama2"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/tokenizers/%s/tokenizer.json.gz", sh ? sh : "../shared", real[i]);
        load(p);
    }
    static const char *const synth[] = {"synth_a", "synth_b", "synth_c", "synth_d"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "tests/tokenizer/goldens/%s.json.gz", synth[i]);
        load(p);
    }
    if (n_toks == 0) abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const ko_tokenizer *t = toks[(data[0] >> 1) % n_toks];
    bool sp = data[0] & 1;
    ko_ids ids = {0};
    ko_buf out = {0};
    ko_err e = {{0}};
    if (ko_tokenizer_encode(t, (const char *)data + 1, size - 1, sp, &ids, &e) != 0) {
        if (e.msg[0] == 0 || strchr(e.msg, '\n')) abort();
        return 0;
    }
    int n = ko_tokenizer_vocab_size(t);
    for (int k = 0; k < ids.n; k++)
        if (ids.ids[k] < 0 || ids.ids[k] >= n) abort();
    if (ko_tokenizer_decode(t, ids.ids, ids.n, !sp, &out, &e) != 0) abort();
    if (ko_tokenizer_encode(t, out.p, out.n, false, &ids, &e) != 0) abort(); /* decode gives valid UTF-8 */
    ko_ids_free(&ids);
    ko_buf_free(&out);
    return 0;
}
