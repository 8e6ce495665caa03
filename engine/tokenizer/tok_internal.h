/* tok_internal.h — the tokenizer's inner parts, shared by the files of engine/tokenizer/.
 *
 * The pipeline is HF `tokenizers`' own (tokenizer/mod.rs encode_single_sequence):
 *   added tokens split out of the raw text (non-normalized ones) -> each remaining piece normalized
 *   -> normalized added tokens split out -> pre-tokenizer splits -> BPE per split -> post-processor.
 * Everything below is read-only after load, so encode/decode are safe for concurrent callers: all
 * scratch memory is per call or per thread (BPE symbol/heap arrays, the word cache, PCRE2 match
 * data: small thread-local buffers kept for the thread's life).
 *
 * Known differences from HF, none reachable with the four real tokenizers (gemma3, llama2,
 * llama3, qwen3):
 *  - HF keeps full offset alignments; koeval keeps only "this split starts at original offset 0",
 *    which is what Metaspace prepend_scheme "first" asks. A normalizer that removes or replaces the
 *    text's first characters (Strip, Replace at the start) or expands one into several that a later
 *    pre-tokenizer splits apart changes HF's answer there and not koeval's.
 *  - A GGUF does not say which added tokens HF calls "special": control tokens are taken as
 *    special (decode with skip_special_tokens only).
 *  - Not implemented (refused by name at load): models other than BPE, BPE dropout, truncation,
 *    the Bert/Precompiled/StripAccents/NMT normalizers, the Bert/CharDelimiter/UnicodeScripts
 *    pre-tokenizers, WordPiece/CTC decoders. */
#ifndef KO_TOK_INTERNAL_H
#define KO_TOK_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "engine/tokenizer/tokenizer.h"

/* ---- hash maps (tok_map.c) --------------------------------------------------------------- */

/* string -> id, the strings owned elsewhere (the tokenizer's id->string table). */
typedef struct tk_strslot { uint32_t hash; int32_t id; } tk_strslot;   /* id -1: empty */
typedef struct tk_strmap {
    tk_strslot *slot;
    uint32_t mask;
    int n;
    const char *const *str;   /* id -> string (NUL-terminated), */
    const uint32_t *len;      /* id -> byte length: set by the owner */
} tk_strmap;
void tk_strmap_init(tk_strmap *m, int expected);
void tk_strmap_free(tk_strmap *m);
/* Inserts id (its key is str[id]); an existing equal key is replaced (HF: last one wins). */
void tk_strmap_put(tk_strmap *m, int32_t id);
int32_t tk_strmap_get(const tk_strmap *m, const char *s, size_t n);
uint64_t tk_hash_bytes(const char *s, size_t n);

/* (left id, right id) -> (rank, merged id): the BPE merges. */
typedef struct tk_merge { uint64_t key; uint32_t rank; int32_t id; } tk_merge;
typedef struct tk_mergemap {
    tk_merge *slot;    /* key 0 = empty; keys are stored +1 so (0,0) is representable */
    uint32_t mask;
    int n;
} tk_mergemap;
void tk_mergemap_init(tk_mergemap *m, int expected);
void tk_mergemap_free(tk_mergemap *m);
void tk_mergemap_put(tk_mergemap *m, int32_t a, int32_t b, uint32_t rank, int32_t id);
const tk_merge *tk_mergemap_get(const tk_mergemap *m, int32_t a, int32_t b);

/* ---- UTF-8 and character classes (tok_utf8.c) --------------------------------------------- */

/* Decodes the code point starting s[0..n), which must be valid UTF-8 (every text reaching the tokenizer
 * is validated first: input text, tokenizer.json, GGUF tokens); returns its byte length. */
int tk_utf8_dec(const char *s, size_t n, int32_t *cp);
int tk_utf8_enc(int32_t cp, char out[4]);
bool tk_is_whitespace(int32_t cp);     /* Rust char::is_whitespace (White_Space) */
bool tk_is_punct(int32_t cp);          /* ASCII punctuation or Unicode P* (HF Punctuation) */
bool tk_is_word(int32_t cp);           /* Rust regex's Unicode \w (HF single_word's test) */
/* GPT-2's byte <-> printable character table (ByteLevel). */
int32_t tk_byte2cp(uint8_t b);
int tk_cp2byte(int32_t cp);            /* -1 when cp is not in the table */
/* A name from the input fit for a one-line error: control characters as '?', cut to ~60 bytes. */
#define TK_PRINTABLE 64
const char *tk_printable(const char *s, size_t n, char buf[TK_PRINTABLE]);
#define TK_P(s) tk_printable((s), strlen(s), (char[TK_PRINTABLE]){0})
/* Appends s[0..n) with invalid UTF-8 replaced like Rust's String::from_utf8_lossy. */
void tk_put_lossy(ko_buf *b, const char *s, size_t n);

/* ---- splits: the pieces text is cut into --------------------------------------------------- */

typedef struct tk_split {
    uint32_t off, len;   /* into the owning text buffer */
    int32_t id;          /* an added token's id, or -1: text still to be tokenized */
    bool first;          /* starts at offset 0 of the original text (Metaspace prepend "first") */
} tk_split;

typedef struct tk_splits {
    ko_buf text;
    tk_split *v;
    int n, cap;
} tk_splits;
void tk_splits_add(tk_splits *s, const char *p, size_t n, int32_t id, bool first);
void tk_splits_reset(tk_splits *s);
void tk_splits_free(tk_splits *s);

/* How a split pattern's matches are kept (HF SplitDelimiterBehavior). */
typedef enum { TK_REMOVED, TK_ISOLATED, TK_MERGED_PREV, TK_MERGED_NEXT, TK_CONTIGUOUS } tk_behavior;

/* A range of a piece with whether it is a match of the pattern. */
typedef struct tk_range { uint32_t a, b; bool match; } tk_range;
typedef struct tk_ranges { tk_range *v; int n, cap; } tk_ranges;
void tk_ranges_add(tk_ranges *r, uint32_t a, uint32_t b, bool match);

/* A pattern: literal string or PCRE2 regex (HF's Split / Replace "pattern"). */
typedef struct tk_pattern {
    char *lit;               /* literal (when re == NULL) */
    size_t lit_n;
    pcre2_code *re;
} tk_pattern;
int tk_pattern_from_json(const void *json, tk_pattern *p, const char *what, ko_err *e);
int tk_pattern_compile(tk_pattern *p, const char *re, size_t n, const char *what, ko_err *e);
void tk_pattern_free(tk_pattern *p);
/* Matches of p over s[0..n) as covering ranges (HF Pattern::find_matches). Thread-safe. */
int tk_pattern_find(const tk_pattern *p, const char *s, size_t n, tk_ranges *out, ko_err *e);

/* ---- normalizers (tok_normalize.c) --------------------------------------------------------- */

typedef enum { TK_NFC, TK_NFD, TK_NFKC, TK_NFKD, TK_LOWER, TK_STRIP, TK_REPLACE, TK_PREPEND } tk_norm_type;
typedef struct tk_norm {
    tk_norm_type type;
    tk_pattern pat;          /* Replace */
    char *str;               /* Replace content, Prepend prepend */
    size_t str_n;
    bool left, right;        /* Strip */
} tk_norm;

/* ---- pre-tokenizers (tok_pretok.c) --------------------------------------------------------- */

/* GPT-2's split pattern (ByteLevel with use_regex). */
#define TK_GPT2_RE "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

typedef enum { TK_P_SPLIT, TK_P_BYTELEVEL, TK_P_METASPACE, TK_P_WHITESPACE, TK_P_WSPLIT, TK_P_DIGITS,
               TK_P_PUNCT } tk_pre_type;
typedef enum { TK_PREPEND_ALWAYS, TK_PREPEND_FIRST, TK_PREPEND_NEVER } tk_prepend;
typedef struct tk_pre {
    tk_pre_type type;
    tk_pattern pat;          /* Split; ByteLevel's and Whitespace's built-in regexes */
    tk_behavior behavior;
    bool invert;
    bool add_prefix_space, use_regex;   /* ByteLevel */
    char repl[8];            /* Metaspace replacement (UTF-8) */
    int repl_n;
    tk_prepend prepend;
    bool split;              /* Metaspace split */
    bool individual;         /* Digits */
} tk_pre;

/* ---- decoders (tok_decode.c) --------------------------------------------------------------- */

typedef enum { TK_D_BYTELEVEL, TK_D_METASPACE, TK_D_REPLACE, TK_D_BYTEFALLBACK, TK_D_FUSE, TK_D_STRIP
} tk_dec_type;
typedef struct tk_dec {
    tk_dec_type type;
    tk_pattern pat;          /* Replace */
    char *content;
    size_t content_n;
    char repl[8];            /* Metaspace */
    int repl_n;
    tk_prepend prepend;
    int32_t strip_cp;        /* Strip */
    int start, stop;
} tk_dec;

/* ---- added tokens (tok_added.c) ------------------------------------------------------------ */

typedef struct tk_added {
    int32_t id;
    char *content;
    size_t n;
    bool special, normalized, lstrip, rstrip, single_word;
} tk_added;

/* A byte trie for leftmost-longest matching (HF uses aho-corasick LeftmostLongest). */
typedef struct tk_trie {
    tk_mergemap edges;       /* (node, byte) -> child node, reusing the pair map */
    int32_t *term;           /* node -> index into the added table, or -1 */
    int n_nodes, cap;
    uint8_t first[32];       /* bit set of first bytes, a fast reject */
} tk_trie;

/* ---- the tokenizer --------------------------------------------------------------------------- */

#define TK_CP_TABLE 0x30000 /* BMP and the planes with emoji and CJK extensions */

struct ko_tokenizer {
    /* id -> token string (model vocab and added tokens); NULL where an id has none */
    char **tok;
    uint32_t *tok_len;
    int n_ids;
    char **blocks;           /* token strings live in these 1 MiB blocks */
    int n_blocks;
    char *cur_block;
    size_t block_used;
    tk_strmap vocab;         /* the model's vocab */
    tk_mergemap merges;
    bool byte_fallback, ignore_merges, fuse_unk;
    int32_t unk;             /* -1: none */
    bool unk_missing;        /* unk_token named but absent from the vocab: an error when needed */
    char *cont_prefix, *end_suffix;   /* continuing_subword_prefix, end_of_word_suffix (may be "") */
    int32_t byte_id[256];    /* <0xNN> ids for byte_fallback, -1 when absent */
    int32_t *cp_id;          /* code point -> id of that one-character token (or -1), below TK_CP_TABLE */
    uint32_t gen;            /* unique per loaded tokenizer: tags the per-thread word cache */

    tk_added *added;
    int n_added;
    int32_t *added_of;       /* id -> index in added[], or -1 */
    tk_trie trie_raw, trie_norm;   /* non-normalized / normalized added tokens */

    tk_norm *norm;
    int n_norm;
    tk_pre *pre;
    int n_pre;
    tk_dec *dec;
    int n_dec;
    bool has_decoder;

    int32_t *tpl;            /* TemplateProcessing "single": ids, with -1 marking the sequence */
    int n_tpl;

    int32_t bos, eos;
    bool add_bos;
};

/* tok_load.c / tok_json.c / tok_gguf.c */
int tk_load_json(ko_tokenizer *t, const char *text, size_t n, const char *cfg, ko_err *e);
int tk_load_json_file(ko_tokenizer *t, const char *json_path, ko_err *e);
int tk_load_gguf(ko_tokenizer *t, const char *path, ko_err *e);
void tk_set_tokens(ko_tokenizer *t, int n_ids);
void tk_set_token(ko_tokenizer *t, int32_t id, const char *s, size_t n);
int tk_finish(ko_tokenizer *t, ko_err *e);   /* byte ids, tries, special flags */

/* tok_jsonscan.c: model.vocab and model.merges scanned without a cJSON tree. tk_scan_big finds
 * them and copies the text into rest with them emptied; returns 1, or 0 (rest = text) when the
 * file does not have the usual shape (cJSON then reports what is wrong with it). */
typedef struct tk_big { const char *vocab, *vocab_end, *merges, *merges_end; } tk_big;
typedef void (*tk_vocab_fn)(void *ctx, const char *s, size_t n, int32_t id);
typedef int (*tk_merge_fn)(void *ctx, const char *a, size_t an, const char *b, size_t bn, uint32_t rank, ko_err *e);
int tk_scan_big(const char *text, size_t n, tk_big *big, ko_buf *rest);
int tk_scan_vocab(const tk_big *big, tk_vocab_fn fn, void *ctx, ko_err *e);
int tk_scan_merges(const tk_big *big, tk_merge_fn fn, void *ctx, ko_err *e);

/* tok_normalize.c */
int tk_normalize(const ko_tokenizer *t, const char *s, size_t n, ko_buf *out, ko_err *e);
void tk_norm_free(tk_norm *n);

/* tok_pretok.c: runs every pre-tokenizer over in's pending splits; result in out. */
int tk_pretokenize(const ko_tokenizer *t, tk_splits *in, tk_splits *out, ko_err *e);
void tk_pre_free(tk_pre *p);
int tk_pre_builtin_regex(tk_pre *p, const char *re, ko_err *e);

/* tok_added.c */
void tk_trie_build(tk_trie *tr, const tk_added *added, int n, bool normalized);
/* Replaces the content of normalized added tokens by its normalized form (once, at load). */
int tk_added_normalize(ko_tokenizer *t, ko_err *e);
void tk_trie_free(tk_trie *tr);
/* Splits s[0..n) around the trie's tokens (HF AddedVocabulary::split_with_indices). */
void tk_split_added(const ko_tokenizer *t, const tk_trie *tr, const char *s, size_t n, bool first,
                    tk_splits *out);

/* tok_bpe.c: appends the ids of one pre-token. */
int tk_bpe(const ko_tokenizer *t, const char *s, size_t n, ko_ids *out, ko_err *e);

/* tok_decode.c */
void tk_dec_free(tk_dec *d);

void tk_ids_push(ko_ids *v, int32_t id);

#endif
