/* tok_load.c — ko_tokenizer_load: finds the tokenizer (tokenizer.json(.gz), its folder, a GGUF with
 * or without a tokenizer.json beside it), the token string table, the derived lookups, and free. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/tokenizer/tok_internal.h"

#define BLOCK (1u << 20)

void tk_set_tokens(ko_tokenizer *t, int n_ids) {
    t->n_ids = n_ids;
    t->tok = ko_xcalloc((size_t)n_ids + 1, sizeof *t->tok);
    t->tok_len = ko_xcalloc((size_t)n_ids + 1, sizeof *t->tok_len);
    t->vocab.str = (const char *const *)t->tok;
    t->vocab.len = t->tok_len;
}

static char *new_block(ko_tokenizer *t, size_t n) {
    t->blocks = ko_xrealloc(t->blocks, (size_t)(t->n_blocks + 1) * sizeof *t->blocks);
    return t->blocks[t->n_blocks++] = ko_xmalloc(n);
}

void tk_set_token(ko_tokenizer *t, int32_t id, const char *s, size_t n) {
    char *p;
    if (n + 1 > BLOCK / 4) { /* a long token gets a block of its own */
        p = new_block(t, n + 1);
    } else {
        if (!t->cur_block || t->block_used + n + 1 > BLOCK) {
            t->cur_block = new_block(t, BLOCK);
            t->block_used = 0;
        }
        p = t->cur_block + t->block_used;
        t->block_used += n + 1;
    }
    memcpy(p, s, n);
    p[n] = 0;
    t->tok[id] = p;
    t->tok_len[id] = (uint32_t)n;
}

int tk_finish(ko_tokenizer *t, ko_err *e) {
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        t->byte_id[b] = tk_strmap_get(&t->vocab, name, 6);
    }
    t->cp_id = ko_xmalloc(TK_CP_TABLE * sizeof *t->cp_id);
    for (int32_t c = 0; c < TK_CP_TABLE; c++) t->cp_id[c] = -1;
    for (int32_t id = 0; id < t->n_ids; id++) {
        int32_t cp;
        if (t->tok[id] && t->tok_len[id] && t->tok_len[id] <= 4 &&
            (uint32_t)tk_utf8_dec(t->tok[id], t->tok_len[id], &cp) == t->tok_len[id] && cp < TK_CP_TABLE)
            t->cp_id[cp] = tk_strmap_get(&t->vocab, t->tok[id], t->tok_len[id]); /* the map's choice */
    }
    t->added_of = ko_xmalloc(((size_t)t->n_ids + 1) * sizeof *t->added_of);
    for (int i = 0; i <= t->n_ids; i++) t->added_of[i] = -1;
    for (int i = 0; i < t->n_added; i++)
        if (t->added_of[t->added[i].id] < 0) t->added_of[t->added[i].id] = i;
    if (tk_added_normalize(t, e) < 0) return -1;
    tk_trie_build(&t->trie_raw, t->added, t->n_added, false);
    tk_trie_build(&t->trie_norm, t->added, t->n_added, true);
    return 0;
}

void ko_tokenizer_free(ko_tokenizer *t) {
    if (!t) return;
    for (int i = 0; i < t->n_blocks; i++) free(t->blocks[i]);
    free(t->blocks);
    free(t->tok);
    free(t->tok_len);
    tk_strmap_free(&t->vocab);
    tk_mergemap_free(&t->merges);
    free(t->cont_prefix);
    free(t->end_suffix);
    for (int i = 0; i < t->n_added; i++) free(t->added[i].content);
    free(t->added);
    free(t->added_of);
    free(t->cp_id);
    tk_trie_free(&t->trie_raw);
    tk_trie_free(&t->trie_norm);
    for (int i = 0; i < t->n_norm; i++) tk_norm_free(&t->norm[i]);
    free(t->norm);
    for (int i = 0; i < t->n_pre; i++) tk_pre_free(&t->pre[i]);
    free(t->pre);
    for (int i = 0; i < t->n_dec; i++) tk_dec_free(&t->dec[i]);
    free(t->dec);
    free(t->tpl);
    free(t);
}

static ko_tokenizer *tk_new(void) {
    ko_tokenizer *t = ko_xcalloc(1, sizeof *t);
    t->unk = t->bos = t->eos = -1;
    static uint32_t next_gen;
    t->gen = __atomic_add_fetch(&next_gen, 1, __ATOMIC_RELAXED); /* never 0: 0 marks an empty cache slot */
    return t;
}

static bool has_suffix(const char *s, const char *suf) {
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && strcmp(s + n - k, suf) == 0;
}

/* dir/name or dir/name.gz, whichever exists (malloc'd), or NULL. */
static char *find_in(const char *dir, const char *name) {
    char *p = ko_xasprintf("%s/%s", dir, name);
    if (ko_file_exists(p)) return p;
    free(p);
    p = ko_xasprintf("%s/%s.gz", dir, name);
    if (ko_file_exists(p)) return p;
    free(p);
    return NULL;
}

static char *dir_of(const char *path) {
    const char *sl = strrchr(path, '/');
    return sl ? ko_xstrndup(path, (size_t)(sl - path)) : ko_xstrdup(".");
}

static bool is_gguf(const char *path) {
    if (has_suffix(path, ".gguf")) return true;
    FILE *f = fopen(path, "rb");
    char m[4] = {0};
    bool yes = f && fread(m, 1, 4, f) == 4 && memcmp(m, "GGUF", 4) == 0;
    if (f) fclose(f);
    return yes;
}

int tk_load_json_file(ko_tokenizer *t, const char *json_path, ko_err *e) {
    ko_buf text = {0}, cfg = {0};
    char *dir = dir_of(json_path);
    char *cfg_path = find_in(dir, "tokenizer_config.json");
    int rc = ko_read_file(json_path, &text, e);
    if (rc == 0 && cfg_path) rc = ko_read_file(cfg_path, &cfg, e);
    if (rc == 0) {
        rc = tk_load_json(t, text.p, text.n, cfg_path ? cfg.p : NULL, e);
        if (rc < 0) ko_fail_prefix(e, "%s", json_path);
    }
    ko_buf_free(&text);
    ko_buf_free(&cfg);
    free(cfg_path);
    free(dir);
    return rc;
}

int ko_tokenizer_load(const char *path, ko_tokenizer **out, ko_err *e) {
    *out = NULL;
    char *json = NULL;
    bool gguf = false;
    if (ko_dir_exists(path)) {
        json = find_in(path, "tokenizer.json");
        if (!json) return ko_fail(e, "tokenizer: %s: the folder holds no tokenizer.json", path);
    } else if (!ko_file_exists(path)) {
        return ko_fail(e, "tokenizer: %s: no such file", path);
    } else if (is_gguf(path)) {
        char *dir = dir_of(path);
        json = find_in(dir, "tokenizer.json"); /* an HF tokenizer beside the GGUF wins */
        free(dir);
        gguf = !json;
    } else {
        json = ko_xstrdup(path);
    }
    ko_tokenizer *t = tk_new();
    int rc = gguf ? tk_load_gguf(t, path, e) : tk_load_json_file(t, json, e);
    free(json);
    if (rc < 0) {
        ko_tokenizer_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

int ko_tokenizer_load_json(const char *json, size_t n, ko_tokenizer **out, ko_err *e) {
    ko_tokenizer *t = tk_new();
    *out = NULL;
    if (tk_load_json(t, json, n, NULL, e) < 0) {
        ko_tokenizer_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

int ko_tokenizer_vocab_size(const ko_tokenizer *t) { return t->n_ids; }
int ko_tokenizer_bos(const ko_tokenizer *t) { return t->bos; }
int ko_tokenizer_eos(const ko_tokenizer *t) { return t->eos; }
bool ko_tokenizer_adds_bos(const ko_tokenizer *t) { return t->add_bos; }
