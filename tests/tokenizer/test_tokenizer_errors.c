/* test_tokenizer_errors.c — bad tokenizer files and bad text give one clear error line (never a
 * crash): malformed or truncated JSON, unknown component types, invalid regexes, merges outside the
 * vocab, unsupported options, bad GGUF vocabularies, invalid UTF-8. */
#include <unistd.h>

#include "engine/tokenizer/tokenizer.h"
#include "tests/test.h"

static char dir[] = "/tmp/ko_tok_errXXXXXX";

/* A minimal valid tokenizer.json with one part replaced: "%s" slots are model, normalizer,
 * pre_tokenizer, post_processor, decoder. */
static char *json(const char *model, const char *norm, const char *pre, const char *post, const char *dec) {
    return ko_xasprintf("{\"added_tokens\": [{\"id\": 3, \"content\": \"<s>\", \"special\": true}], "
                        "\"normalizer\": %s, \"pre_tokenizer\": %s, \"post_processor\": %s, \"decoder\": %s, "
                        "\"model\": %s}",
                        norm, pre, post, dec, model);
}

#define MODEL_OK "{\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [\"a b\"]}"

/* Loads `text` as a tokenizer.json and expects an error mentioning `want`. */
static void expect_load_error(const char *name, const char *text, size_t n, const char *want) {
    char *path = ko_xasprintf("%s/%s.json", dir, name);
    ko_err e = {{0}};
    CHECK(ko_write_file_atomic(path, text, n, &e) == 0, "%s", e.msg);
    ko_tokenizer *t = NULL;
    int rc = ko_tokenizer_load(path, &t, &e);
    CHECK(rc == -1 && t == NULL, "%s: loaded", name);
    CHECK(e.msg[0] && !strchr(e.msg, '\n'), "%s: not one line: %s", name, e.msg);
    CHECK(strstr(e.msg, want) != NULL, "%s: \"%s\" lacks \"%s\"", name, e.msg, want);
    ko_tokenizer_free(t);
    free(path);
}

static void expect_json_error(const char *name, char *text, const char *want) {
    expect_load_error(name, text, strlen(text), want);
    free(text);
}

/* A GGUF v3 file with no tensors and the given string/array metadata. */
typedef struct gw { ko_buf b; int n_kv; } gw;
static void put_u64(ko_buf *b, uint64_t v) { ko_buf_put(b, &v, 8); }
static void put_u32(ko_buf *b, uint32_t v) { ko_buf_put(b, &v, 4); }
static void put_str(ko_buf *b, const char *s) {
    put_u64(b, strlen(s));
    ko_buf_put(b, s, strlen(s));
}
static void kv_str(gw *g, const char *k, const char *v) {
    put_str(&g->b, k);
    put_u32(&g->b, 8);
    put_str(&g->b, v);
    g->n_kv++;
}
static void kv_strs(gw *g, const char *k, const char *const *v, int n) {
    put_str(&g->b, k);
    put_u32(&g->b, 9);
    put_u32(&g->b, 8);
    put_u64(&g->b, (uint64_t)n);
    for (int i = 0; i < n; i++) put_str(&g->b, v[i]);
    g->n_kv++;
}
static void kv_u32(gw *g, const char *k, uint32_t type, uint32_t v) { /* type 4 uint32, 7 bool (one byte) */
    put_str(&g->b, k);
    put_u32(&g->b, type);
    if (type == 7) ko_buf_put(&g->b, &(uint8_t){(uint8_t)v}, 1);
    else put_u32(&g->b, v);
    g->n_kv++;
}
static void kv_u32s(gw *g, const char *k, const uint32_t *v, int n) {
    put_str(&g->b, k);
    put_u32(&g->b, 9);
    put_u32(&g->b, 4);
    put_u64(&g->b, (uint64_t)n);
    for (int i = 0; i < n; i++) put_u32(&g->b, v[i]);
    g->n_kv++;
}
static void gguf_file(gw *g, ko_buf *f) {
    ko_buf_put(f, "GGUF", 4);
    put_u32(f, 3);
    put_u64(f, 0);
    put_u64(f, (uint64_t)g->n_kv);
    ko_buf_put(f, g->b.p, g->b.n);
}
static void expect_gguf_error(const char *name, gw *g, const char *want) {
    ko_buf f = {0};
    gguf_file(g, &f);
    char *path = ko_xasprintf("%s/%s.gguf", dir, name);
    ko_err e = {{0}};
    CHECK(ko_write_file_atomic(path, f.p, f.n, &e) == 0, "%s", e.msg);
    ko_tokenizer *t = NULL;
    int rc = ko_tokenizer_load(path, &t, &e);
    CHECK(rc == -1 && t == NULL, "%s: loaded", name);
    CHECK(e.msg[0] && !strchr(e.msg, '\n'), "%s: not one line: %s", name, e.msg);
    CHECK(strstr(e.msg, want) != NULL, "%s: \"%s\" lacks \"%s\"", name, e.msg, want);
    ko_tokenizer_free(t);
    free(path);
    ko_buf_free(&f);
    ko_buf_free(&g->b);
}


/* One bad part per case, in a file that is otherwise MODEL_OK with the other parts null; a
 * component NULL keeps "null". The error must name what is wrong. */
typedef struct bad_part { const char *name, *model, *norm, *pre, *post, *dec, *want; } bad_part;
#define SEQ10(k, inner) "{\"type\": \"Sequence\", \"" k "\": [{\"type\": \"Sequence\", \"" k "\": [{\"type\": \"Sequence\", \"" k \
    "\": [{\"type\": \"Sequence\", \"" k "\": [{\"type\": \"Sequence\", \"" k "\": [{\"type\": \"Sequence\", \"" k           \
    "\": [{\"type\": \"Sequence\", \"" k "\": [{\"type\": \"Sequence\", \"" k "\": [{\"type\": \"Sequence\", \"" k           \
    "\": [{\"type\": \"Sequence\", \"" k "\": [" inner "]}]}]}]}]}]}]}]}]}]}"
#define BPE(rest) "{\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [\"a b\"]" rest "}"
static const bad_part BAD_PARTS[] = {
    /* model */
    {"unk_type", BPE(", \"unk_token\": 3"), 0, 0, 0, 0, "tokenizer.json: model: \"unk_token\" must be a string"},
    {"prefix_type", BPE(", \"continuing_subword_prefix\": 3"), 0, 0, 0, 0, "\"continuing_subword_prefix\" must be a string"},
    {"suffix_type", BPE(", \"end_of_word_suffix\": []"), 0, 0, 0, 0, "\"end_of_word_suffix\" must be a string"},
    {"dropout_str", BPE(", \"dropout\": \"0.1\""), 0, 0, 0, 0, "BPE dropout is not supported"},
    {"merge_left_oov", "{\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"ab\": 1}, \"merges\": [\"c a\"]}", 0, 0, 0, 0,
     "merge 0 uses a token that is not in the vocab"},
    {"merge_right_oov", "{\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"ab\": 1}, \"merges\": [\"a c\"]}", 0, 0, 0, 0,
     "merge 0 uses a token that is not in the vocab"},
    /* with continuing_subword_prefix "##" the right part must carry it */
    {"merge_no_prefix", "{\"type\": \"BPE\", \"continuing_subword_prefix\": \"##\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, "
                        "\"merges\": [\"a b\"]}", 0, 0, 0, 0, "merge 0 uses a token that is not in the vocab"},
    /* normalizers */
    {"norm_del", 0, "{\"type\": \"N\x7f" "C\"}", 0, 0, 0, "unknown normalizer type 'N?C'"},
    {"norm_60", 0, "{\"type\": \"" "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefgh" "\"}", 0, 0, 0,
     "type 'abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefgh' ("},
    {"norm_seq_list", 0, "{\"type\": \"Sequence\", \"normalizers\": 3}", 0, 0, 0, "normalizer Sequence needs a \"normalizers\" list"},
    {"norm_seq_deep", 0, SEQ10("normalizers", "{\"type\": \"NFC\"}"), 0, 0, 0, "normalizer Sequence needs a \"normalizers\" list"},
    {"norm_seq_item", 0, "{\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"NFC\"}, {\"type\": \"NFX\"}]}", 0, 0, 0,
     "unknown normalizer type 'NFX'"},
    {"replace_pattern", 0, "{\"type\": \"Replace\", \"pattern\": \"a\", \"content\": \"b\"}", 0, 0, 0,
     "normalizer Replace: pattern must be"},
    {"replace_content_type", 0, "{\"type\": \"Replace\", \"pattern\": {\"String\": \"a\"}, \"content\": 1}", 0, 0, 0,
     "normalizer Replace: \"content\" must be a string"},
    {"replace_no_content", 0, "{\"type\": \"Replace\", \"pattern\": {\"String\": \"a\"}}", 0, 0, 0,
     "normalizer Replace needs \"content\""},
    {"prepend_type", 0, "{\"type\": \"Prepend\", \"prepend\": true}", 0, 0, 0, "normalizer Prepend: \"prepend\" must be a string"},
    {"prepend_missing", 0, "{\"type\": \"Prepend\"}", 0, 0, 0, "normalizer Prepend needs \"prepend\""},
    /* pre-tokenizers */
    {"pre_notype", 0, 0, "{\"type\": 3}", 0, 0, "pre-tokenizer without a \"type\""},
    {"pre_seq_list", 0, 0, "{\"type\": \"Sequence\"}", 0, 0, "pre-tokenizer Sequence needs a \"pretokenizers\" list"},
    {"pre_seq_deep", 0, 0, SEQ10("pretokenizers", "{\"type\": \"Digits\"}"), 0, 0, "pre-tokenizer Sequence needs a \"pretokenizers\" list"},
    {"pre_seq_item", 0, 0, "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Digits\"}, {\"type\": \"Bert\"}]}", 0, 0,
     "unknown type 'Bert'"},
    {"behavior_type", 0, 0, "{\"type\": \"Split\", \"pattern\": {\"String\": \" \"}, \"behavior\": 3}", 0, 0,
     "pre-tokenizer: \"behavior\" must be a string"},
    {"punct_behavior", 0, 0, "{\"type\": \"Punctuation\", \"behavior\": \"Both\"}", 0, 0, "unknown behavior 'Both'"},
    {"metaspace_repl_type", 0, 0, "{\"type\": \"Metaspace\", \"replacement\": 3}", 0, 0, "\"replacement\" must be a string"},
    {"metaspace_scheme_type", 0, 0, "{\"type\": \"Metaspace\", \"prepend_scheme\": 3}", 0, 0, "\"prepend_scheme\" must be a string"},
    /* HF 0.23.3 refuses these too ("add_prefix_space does not match declared prepend_scheme") */
    {"metaspace_apx_false", 0, 0, "{\"type\": \"Metaspace\", \"add_prefix_space\": false}", 0, 0,
     "add_prefix_space false needs prepend_scheme \"never\""},
    {"metaspace_apx_false_first", 0, 0, 0, 0, "{\"type\": \"Metaspace\", \"add_prefix_space\": false, \"prepend_scheme\": \"first\"}",
     "add_prefix_space false needs prepend_scheme \"never\""},
    {"metaspace_repl_empty", 0, 0, "{\"type\": \"Metaspace\", \"replacement\": \"\"}", 0, 0, "replacement must be one character"},
    {"metaspace_repl_long", 0, 0, "{\"type\": \"Metaspace\", \"replacement\": \"abcde\"}", 0, 0, "replacement must be one character"},
    /* post-processors */
    {"post_notype", 0, 0, 0, "{}", 0, "post_processor without a \"type\""},
    {"post_seq_deep", 0, 0, 0, SEQ10("processors", "{\"type\": \"ByteLevel\"}"), 0, "\"processors\" list"},
    {"post_seq_item", 0, 0, 0, "{\"type\": \"Sequence\", \"processors\": [{\"type\": \"ByteLevel\"}, {\"type\": \"Magic\"}]}", 0,
     "unknown type 'Magic'"},
    {"post_two", 0, 0, 0, "{\"type\": \"Sequence\", \"processors\": [{\"type\": \"BertProcessing\", \"cls\": [\"a\", 0], "
                           "\"sep\": [\"b\", 1]}, {\"type\": \"RobertaProcessing\", \"cls\": [\"a\", 0], \"sep\": [\"b\", 1]}]}", 0,
     "more than one template"},
    {"bert_sep", 0, 0, 0, "{\"type\": \"BertProcessing\", \"cls\": [\"a\", 0], \"sep\": \"b\"}", 0, "needs \"cls\" and \"sep\""},
    {"bert_cls_id", 0, 0, 0, "{\"type\": \"RobertaProcessing\", \"cls\": [\"a\", -1], \"sep\": [\"b\", 1]}", 0,
     "RobertaProcessing needs \"cls\" and \"sep\""},
    {"bert_sep_id", 0, 0, 0, "{\"type\": \"BertProcessing\", \"cls\": [\"a\", 0], \"sep\": [\"b\", 0.5]}", 0,
     "BertProcessing needs \"cls\" and \"sep\""},
    {"tpl_single", 0, 0, 0, "{\"type\": \"TemplateProcessing\", \"single\": \"$A\"}", 0, "TemplateProcessing needs a \"single\" list"},
    {"tpl_two_seq", 0, 0, 0, "{\"type\": \"TemplateProcessing\", \"single\": [{\"Sequence\": {\"id\": \"A\"}}, "
                             "{\"Sequence\": {\"id\": \"B\"}}]}", 0, "\"single\" has two sequences"},
    {"tpl_empty", 0, 0, 0, "{\"type\": \"TemplateProcessing\", \"single\": []}", 0, "\"single\" has no sequence"},
    {"tpl_item", 0, 0, 0, "{\"type\": \"TemplateProcessing\", \"single\": [{\"Text\": \"x\"}]}", 0,
     "template items must be SpecialToken or Sequence"},
    {"tpl_no_seq", 0, 0, 0, "{\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<s>\"}}], "
                            "\"special_tokens\": {\"<s>\": {\"ids\": [3]}}}", 0, "\"single\" has no sequence"},
    {"tpl_bad_id", 0, 0, 0, "{\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<s>\"}}, "
                            "{\"Sequence\": {\"id\": \"A\"}}], \"special_tokens\": {\"<s>\": {\"ids\": [3, 1e9]}}}", 0,
     "token id must be an integer"},
    /* decoders */
    {"dec_notype", 0, 0, 0, 0, "{\"type\": null}", "decoder without a \"type\""},
    {"dec_seq_list", 0, 0, 0, 0, "{\"type\": \"Sequence\", \"decoders\": {}}", "decoder Sequence needs a \"decoders\" list"},
    {"dec_seq_deep", 0, 0, 0, 0, SEQ10("decoders", "{\"type\": \"Fuse\"}"), "decoder Sequence needs a \"decoders\" list"},
    {"dec_seq_item", 0, 0, 0, 0, "{\"type\": \"Sequence\", \"decoders\": [{\"type\": \"Fuse\"}, {\"type\": \"CTC\"}]}",
     "unknown type 'CTC'"},
    {"dec_replace_pattern", 0, 0, 0, 0, "{\"type\": \"Replace\", \"pattern\": {}, \"content\": \" \"}",
     "decoder Replace: pattern must be"},
    {"dec_replace_content", 0, 0, 0, 0, "{\"type\": \"Replace\", \"pattern\": {\"String\": \"a\"}, \"content\": 0}",
     "decoder: \"content\" must be a string"},
    {"dec_replace_nocontent", 0, 0, 0, 0, "{\"type\": \"Replace\", \"pattern\": {\"String\": \"a\"}}", "decoder Replace needs \"content\""},
    {"dec_metaspace_scheme", 0, 0, 0, 0, "{\"type\": \"Metaspace\", \"prepend_scheme\": \"maybe\"}", "unknown prepend_scheme 'maybe'"},
    {"strip_content_type", 0, 0, 0, 0, "{\"type\": \"Strip\", \"content\": 1, \"start\": 1, \"stop\": 0}",
     "decoder: \"content\" must be a string"},
    {"strip_no_content", 0, 0, 0, 0, "{\"type\": \"Strip\", \"start\": 1, \"stop\": 0}", "Strip needs"},
    {"strip_no_start", 0, 0, 0, 0, "{\"type\": \"Strip\", \"content\": \" \", \"stop\": 0}", "Strip needs"},
    {"strip_no_stop", 0, 0, 0, 0, "{\"type\": \"Strip\", \"content\": \" \", \"start\": 0}", "Strip needs"},
    {"strip_neg_start", 0, 0, 0, 0, "{\"type\": \"Strip\", \"content\": \" \", \"start\": -1, \"stop\": 0}", "Strip needs"},
    {"strip_neg_stop", 0, 0, 0, 0, "{\"type\": \"Strip\", \"content\": \" \", \"start\": 0, \"stop\": -1}", "Strip needs"},
    {"strip_big_start", 0, 0, 0, 0, "{\"type\": \"Strip\", \"content\": \" \", \"start\": 2e6, \"stop\": 0}", "Strip needs"},
    {"strip_big_stop", 0, 0, 0, 0, "{\"type\": \"Strip\", \"content\": \" \", \"start\": 0, \"stop\": 2e6}", "Strip needs"},
    {"strip_empty", 0, 0, 0, 0, "{\"type\": \"Strip\", \"content\": \"\", \"start\": 1, \"stop\": 0}", "Strip: content must be one character"},
    {"strip_two", 0, 0, 0, 0, "{\"type\": \"Strip\", \"content\": \"ab\", \"start\": 1, \"stop\": 0}", "Strip: content must be one character"},
};

/* Whole files: the top level, added tokens, and the vocab/merges scanner (tok_jsonscan.c). */
static const struct { const char *name, *text, *want; } BAD_FILES[] = {
    {"top_array", "[]", "no \"model\" object"},
    {"model_array", "{\"model\": []}", "no \"model\" object"},
    {"added_id_type", "{\"added_tokens\": [{\"id\": \"3\", \"content\": \"x\"}], \"model\": " BPE("") "}", "token id must be an integer"},
    {"added_id_neg", "{\"added_tokens\": [{\"id\": -1, \"content\": \"x\"}], \"model\": " BPE("") "}", "token id must be an integer"},
    {"added_id_big", "{\"added_tokens\": [{\"id\": 16777216, \"content\": \"x\"}], \"model\": " BPE("") "}", "token id must be an integer"},
    {"added_content_type", "{\"added_tokens\": [{\"id\": 3, \"content\": 3}], \"model\": " BPE("") "}", "\"content\" must be a string"},
    {"utf8_outside_vocab", "{\"added_tokens\": [{\"id\": 3, \"content\": \"\xc3\"}], \"model\": " BPE("") "}", "not valid UTF-8 (at byte 40)"},
    /* the scanner's vocab: entries it must refuse */
    {"vocab_key_not_string", "{\"model\": {\"vocab\": {a: 0}, \"merges\": []}}", "invalid JSON"},
    {"vocab_no_colon", "{\"model\": {\"vocab\": {\"a\" 0}, \"merges\": []}}", "invalid JSON"},
    {"vocab_id_float", "{\"model\": {\"vocab\": {\"a\": 0.5}, \"merges\": []}}", "vocab: token id must be an integer"},
    {"vocab_id_exp", "{\"model\": {\"vocab\": {\"a\": 1e3}, \"merges\": []}}", "vocab: token id must be an integer"},
    {"vocab_id_huge", "{\"model\": {\"vocab\": {\"a\": 99999999999}, \"merges\": []}}", "vocab: token id must be an integer"},
    {"vocab_id_letters", "{\"model\": {\"vocab\": {\"a\": 0x}, \"merges\": []}}", "vocab: bad entry"},
    {"vocab_no_comma", "{\"model\": {\"vocab\": {\"a\": 0 \"b\": 1}, \"merges\": []}}", "invalid JSON"},
    {"vocab_trailing_comma", "{\"model\": {\"vocab\": {\"a\": 0,}, \"merges\": []}}", "invalid JSON"},
    {"vocab_ctrl", "{\"model\": {\"vocab\": {\"a\tb\": 0}, \"merges\": []}}", "vocab: bad entry"},
    {"vocab_bad_hex", "{\"model\": {\"vocab\": {\"\\u00zz\": 0}, \"merges\": []}}", "vocab: bad entry"},
    {"vocab_short_hex", "{\"model\": {\"vocab\": {\"\\u00\": 0}, \"merges\": []}}", "vocab: bad entry"},
    {"vocab_pair_no_low", "{\"model\": {\"vocab\": {\"\\ud83d\\u0041\": 0}, \"merges\": []}}", "vocab: bad entry"},
    {"vocab_pair_high_high", "{\"model\": {\"vocab\": {\"\\ud83d\\ud83d\": 0}, \"merges\": []}}", "vocab: bad entry"},
    {"vocab_pair_cut", "{\"model\": {\"vocab\": {\"\\ud83d\": 0}, \"merges\": []}}", "vocab: bad entry"},
    /* hex digits in every case, escapes of every kind */
    {"vocab_escapes_ok_merge_bad", "{\"model\": {\"vocab\": {\"\\u00E9\\u00e9\\/\\b\\f\\r\": 0}, \"merges\": [\"x\"]}}",
     "merge 0 is not two tokens"},
    /* merges */
    {"merges_two_spaces", "{\"model\": {\"vocab\": {\"a\": 0}, \"merges\": [\"a a a\"]}}", "merge 0 is not two tokens"},
    {"merges_pair_no_comma", "{\"model\": {\"vocab\": {\"a\": 0}, \"merges\": [[\"a\" \"a\"]]}}", "invalid JSON"},
    {"merges_pair_three", "{\"model\": {\"vocab\": {\"a\": 0}, \"merges\": [[\"a\", \"a\", \"a\"]]}}", "merge 0 must be"},
    {"merges_no_comma", "{\"model\": {\"vocab\": {\"a\": 0, \"aa\": 1}, \"merges\": [\"a a\" \"a a\"]}}", "invalid JSON"},
    {"merges_trailing_comma", "{\"model\": {\"vocab\": {\"a\": 0, \"aa\": 1}, \"merges\": [\"a a\",]}}", "invalid JSON"},
    /* shapes the scanner leaves to cJSON */
    {"vocab_list", "{\"model\": {\"vocab\": [], \"merges\": []}}", "model needs \"vocab\""},
    {"merges_object", "{\"model\": {\"vocab\": {}, \"merges\": {}}}", "model needs \"vocab\""},
    {"no_vocab", "{\"model\": {\"merges\": []}}", "model needs \"vocab\""},
    {"deep", "{\"x\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]], "
             "\"model\": " BPE("") "}", ""},
    {"unterminated_skip", "{\"x\": \"abc, \"model\": " BPE("") "}", "invalid JSON"},
    {"key_not_string", "{x: 1, \"model\": " BPE("") "}", "invalid JSON"},
    {"member_no_comma", "{\"x\": 1 \"model\": " BPE("") "}", "invalid JSON"},
    {"member_cut", "{\"x\": 1", "invalid JSON"},
    {"obj_no_colon", "{\"x\": {\"a\" 1}, \"model\": " BPE("") "}", "invalid JSON"},
    {"obj_cut", "{\"x\": {\"a\": 1", "invalid JSON"},
    {"arr_no_comma", "{\"x\": [1 2], \"model\": " BPE("") "}", "invalid JSON"},
    {"bad_value", "{\"x\": ], \"model\": " BPE("") "}", "invalid JSON"},
    {"unterminated_end", "{\"x\": \"abc", "invalid JSON"},
    {"key_backslash_end", "{\"ab\\", "invalid JSON"},
    {"key_cut", "{\"a\"", "invalid JSON"},
    {"key_no_colon", "{\"a\" 1}", "invalid JSON"},
    {"empty_object", "{}", "no \"model\" object"},
    {"open_brace", "{", "invalid JSON"},
    {"no_model", "{\"x\": 1}", "no \"model\" object"},
    {"model_number", "{\"model\": 3}", "no \"model\" object"},
    {"array_cut", "{\"x\": [", "invalid JSON"},
    {"object_cut_after_key", "{\"x\": {\"a\"", "invalid JSON"},
    {"merges_short_hex", "{\"model\": {\"vocab\": {\"a\": 0}, \"merges\": [\"\\u\"]}}", "merge 0 must be"},
    {"vocab_pair_newline", "{\"model\": {\"vocab\": {\"\\ud83d\\n\": 0}, \"merges\": []}}", "vocab: bad entry"},
    {"vocab_pair_bad_hex", "{\"model\": {\"vocab\": {\"\\ud83d\\uzzzz\": 0}, \"merges\": []}}", "vocab: bad entry"},
    {"vocab_pair_above", "{\"model\": {\"vocab\": {\"\\ud83d\\ue000\": 0}, \"merges\": []}}", "vocab: bad entry"},
    {"vocab_lone_low2", "{\"model\": {\"vocab\": {\"\\udfff\": 0}, \"merges\": []}}", "vocab: bad entry"},
    {"long_type_name", "{\"normalizer\": {\"type\": \"ThisNormalizerNameIsFarTooLongToBeShownInFullInOneErrorLineOfTheLoaderReally\"}, "
                       "\"model\": " BPE("") "}", "unknown normalizer type 'ThisNormalizerNameIsFarTooLongToBeShownInFullInOneErrorLineO...'"},
    {"bad_config_added", "{\"added_tokens\": null, \"decoder\": null, \"model\": " BPE("") ", \"truncation\": 1}", "truncation"},
};

int main(void) {
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    /* the good one loads, so every failure below is the one change's */
    char *ok = json(MODEL_OK, "null", "null", "null", "null");
    char *ok_path = ko_xasprintf("%s/ok.json", dir);
    ko_err e = {{0}};
    ko_tokenizer *t = NULL;
    CHECK(ko_write_file_atomic(ok_path, ok, strlen(ok), &e) == 0 && ko_tokenizer_load(ok_path, &t, &e) == 0, "%s", e.msg);
    ko_ids ids = {0};
    if (t) {
        CHECK(ko_tokenizer_encode(t, "ab<s>", 5, false, &ids, &e) == 0 && ids.n == 2 && ids.ids[0] == 2 && ids.ids[1] == 3,
              "ab<s>: %d ids", ids.n);
        /* invalid UTF-8 text */
        CHECK(ko_tokenizer_encode(t, "a\xff", 2, false, &ids, &e) == -1 && strstr(e.msg, "UTF-8") && !strchr(e.msg, '\n'),
              "%s", e.msg);
        CHECK(ko_tokenizer_encode(t, "\xed\xa0\x80", 3, false, &ids, &e) == -1, "a surrogate passed");
        CHECK(ko_tokenizer_bos(t) == -1 && !ko_tokenizer_adds_bos(t), "no config: no bos");
    }
    ko_tokenizer_free(t);

    expect_load_error("malformed", "{\"model\": ", 10, "invalid JSON");
    expect_load_error("truncated", ok, strlen(ok) / 2, "invalid JSON");
    expect_load_error("empty", "", 0, "invalid JSON");
    expect_load_error("not_object", "[1, 2]", 6, "no \"model\"");
    expect_json_error("model_type", json("{\"type\": \"WordPiece\", \"vocab\": {}}", "null", "null", "null", "null"),
                      "unknown model type 'WordPiece'");
    expect_json_error("no_merges", json("{\"type\": \"BPE\", \"vocab\": {}}", "null", "null", "null", "null"), "\"merges\"");
    expect_json_error("norm_type", json(MODEL_OK, "{\"type\": \"BertNormalizer\"}", "null", "null", "null"),
                      "unknown normalizer type 'BertNormalizer'");
    /* names from the file are shown without their control characters (one line) */
    expect_json_error("norm_newline", json(MODEL_OK, "{\"type\": \"NF\\nC\"}", "null", "null", "null"),
                      "unknown normalizer type 'NF?C'");
    expect_json_error("norm_notype", json(MODEL_OK, "{}", "null", "null", "null"), "normalizer without a \"type\"");
    expect_json_error("pre_type", json(MODEL_OK, "null", "{\"type\": \"UnicodeScripts\"}", "null", "null"),
                      "unknown type 'UnicodeScripts'");
    expect_json_error("post_type", json(MODEL_OK, "null", "null", "{\"type\": \"Magic\"}", "null"), "unknown type 'Magic'");
    expect_json_error("dec_type", json(MODEL_OK, "null", "null", "null", "{\"type\": \"WordPiece\"}"),
                      "unknown type 'WordPiece'");
    expect_json_error("bad_regex",
                      json(MODEL_OK, "null", "{\"type\": \"Split\", \"pattern\": {\"Regex\": \"(a\"}, \"behavior\": \"Isolated\"}",
                           "null", "null"),
                      "invalid regex");
    expect_json_error("bad_regex_norm",
                      json(MODEL_OK, "{\"type\": \"Replace\", \"pattern\": {\"Regex\": \"[\"}, \"content\": \"x\"}", "null",
                           "null", "null"),
                      "invalid regex");
    expect_json_error("bad_behavior",
                      json(MODEL_OK, "null", "{\"type\": \"Split\", \"pattern\": {\"String\": \" \"}, \"behavior\": \"Sideways\"}",
                           "null", "null"),
                      "unknown behavior 'Sideways'");
    expect_json_error("bad_pattern", json(MODEL_OK, "null", "{\"type\": \"Split\", \"pattern\": 3}", "null", "null"),
                      "pattern must be");
    expect_json_error("bad_scheme", json(MODEL_OK, "null", "{\"type\": \"Metaspace\", \"prepend_scheme\": \"sometimes\"}",
                                         "null", "null"),
                      "unknown prepend_scheme 'sometimes'");
    expect_json_error("merge_oov",
                      json("{\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a b\"]}", "null", "null", "null", "null"),
                      "not in the vocab");
    expect_json_error("merge_form",
                      json("{\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a\"]}", "null", "null", "null", "null"),
                      "merge 0");
    expect_json_error("merge_pair",
                      json("{\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [[\"a\"]]}", "null", "null", "null", "null"),
                      "merge 0");
    expect_json_error("vocab_id", json("{\"type\": \"BPE\", \"vocab\": {\"a\": -1}, \"merges\": []}", "null", "null", "null", "null"),
                      "token id");
    expect_json_error("vocab_dup", json("{\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 0}, \"merges\": []}", "null", "null",
                                        "null", "null"),
                      "used twice");
    expect_json_error("dropout", json("{\"type\": \"BPE\", \"dropout\": 0.1, \"vocab\": {}, \"merges\": []}", "null", "null",
                                      "null", "null"),
                      "dropout");
    expect_json_error("template", json(MODEL_OK, "null", "null",
                                       "{\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<x>\"}}, "
                                       "{\"Sequence\": {\"id\": \"A\"}}], \"special_tokens\": {}}",
                                       "null"),
                      "'<x>' is not defined");
    expect_json_error("strip", json(MODEL_OK, "null", "null", "null", "{\"type\": \"Strip\", \"content\": \" \"}"),
                      "Strip needs");
    {
        char *j = ko_xasprintf("{\"truncation\": {\"max_length\": 4}, \"model\": %s}", MODEL_OK);
        expect_json_error("truncation", j, "truncation");
        j = ko_xasprintf("{\"added_tokens\": {}, \"model\": %s}", MODEL_OK);
        expect_json_error("added_not_list", j, "\"added_tokens\" must be a list");
        j = ko_xasprintf("{\"added_tokens\": [{\"id\": 1.5, \"content\": \"x\"}], \"model\": %s}", MODEL_OK);
        expect_json_error("added_id", j, "token id must be an integer");
        j = ko_xasprintf("{\"added_tokens\": [{\"id\": 1}], \"model\": %s}", MODEL_OK);
        expect_json_error("added_content", j, "no \"content\"");
    }
    /* the vocab and merges scanner */
    expect_json_error("vocab_escape", json("{\"type\": \"BPE\", \"vocab\": {\"\\x\": 0}, \"merges\": []}", "null", "null", "null", "null"),
                      "");
    expect_json_error("vocab_lone_low", json("{\"type\": \"BPE\", \"vocab\": {\"\\udc00\": 0}, \"merges\": []}", "null", "null",
                                             "null", "null"),
                      "");
    expect_json_error("vocab_lone_high", json("{\"type\": \"BPE\", \"vocab\": {\"\\ud800x\": 0}, \"merges\": []}", "null",
                                              "null", "null", "null"),
                      "");
    expect_json_error("vocab_utf8", json("{\"type\": \"BPE\", \"vocab\": {\"\xff\": 0}, \"merges\": []}", "null", "null", "null",
                                         "null"),
                      "not valid UTF-8");
    expect_json_error("vocab_value", json("{\"type\": \"BPE\", \"vocab\": {\"a\": \"0\"}, \"merges\": []}", "null", "null",
                                          "null", "null"),
                      "token id");
    expect_json_error("merge_type", json("{\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [[\"a\", 1]]}", "null", "null",
                                         "null", "null"),
                      "merge 0");
    expect_json_error("merge_num", json("{\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [7]}", "null", "null", "null",
                                        "null"),
                      "merge 0");
    expect_json_error("metaspace_repl", json(MODEL_OK, "null", "{\"type\": \"Metaspace\", \"replacement\": \"ab\"}", "null",
                                             "null"),
                      "one character");
    expect_json_error("bert_cls", json(MODEL_OK, "null", "null", "{\"type\": \"BertProcessing\", \"sep\": [\"b\", 1]}", "null"),
                      "needs \"cls\" and \"sep\"");
    expect_json_error("post_seq", json(MODEL_OK, "null", "null", "{\"type\": \"Sequence\"}", "null"), "\"processors\" list");
    { /* a surrogate pair in the vocab is one character; from memory (ko_tokenizer_load_json) */
        char *j = json("{\"type\": \"BPE\", \"vocab\": {\"\\ud83d\\ude00\": 0, \"\\n\\t\\\"\": 1}, \"merges\": []}",
                       "null", "null", "null", "null");
        CHECK(ko_tokenizer_load_json(j, strlen(j), &t, &e) == 0, "%s", e.msg);
        if (t) {
            CHECK(ko_tokenizer_encode(t, "\xf0\x9f\x98\x80", 4, false, &ids, &e) == 0 && ids.n == 1 && ids.ids[0] == 0,
                  "emoji: %d ids", ids.n);
            /* no unk_token: characters outside the vocab are dropped (HF: [] for this one) */
            CHECK(ko_tokenizer_encode(t, "\n\t\"", 3, false, &ids, &e) == 0 && ids.n == 0, "no unk: %d ids", ids.n);
        }
        ko_tokenizer_free(t);
        CHECK(ko_tokenizer_load_json("{", 1, &t, &e) == -1 && strstr(e.msg, "invalid JSON"), "%s", e.msg);
        free(j);
    }
    { /* unk_token named but absent: an error once a character needs it */
        char *j = json("{\"type\": \"BPE\", \"unk_token\": \"<unk>\", \"vocab\": {\"a\": 0}, \"merges\": []}", "null", "null",
                       "null", "null");
        char *p = ko_xasprintf("%s/unk.json", dir);
        CHECK(ko_write_file_atomic(p, j, strlen(j), &e) == 0 && ko_tokenizer_load(p, &t, &e) == 0, "%s", e.msg);
        if (t) CHECK(ko_tokenizer_encode(t, "ax", 2, false, &ids, &e) == -1 && strstr(e.msg, "unk_token"), "%s", e.msg);
        ko_tokenizer_free(t);
        free(p);
        free(j);
    }
    /* HF tokenizers 0.23.3 on edge cases: a Split on the empty string cuts between every character
     * ("abab" -> [0, 1, 0, 1], no merge), and a vocab key given twice keeps its last id */
    {
        char *j = json(MODEL_OK, "null", "{\"type\": \"Split\", \"pattern\": {\"String\": \"\"}, \"behavior\": \"Isolated\"}",
                       "null", "null");
        CHECK(ko_tokenizer_load_json(j, strlen(j), &t, &e) == 0, "%s", e.msg);
        static const int32_t want[] = {0, 1, 0, 1};
        if (t)
            CHECK(ko_tokenizer_encode(t, "abab", 4, false, &ids, &e) == 0 && ids.n == 4 && memcmp(ids.ids, want, sizeof want) == 0,
                  "empty split: %d ids", ids.n);
        ko_tokenizer_free(t);
        free(j);
        j = json("{\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"a\": 1}, \"merges\": []}", "null", "null", "null", "null");
        CHECK(ko_tokenizer_load_json(j, strlen(j), &t, &e) == 0, "%s", e.msg);
        if (t) CHECK(ko_tokenizer_encode(t, "a", 1, false, &ids, &e) == 0 && ids.n == 1 && ids.ids[0] == 1, "dup key: %d", ids.ids[0]);
        ko_tokenizer_free(t);
        free(j);
    }
    /* unk with and without fuse_unk (ids from HF tokenizers 0.23.3) */
    for (int fuse = 0; fuse < 2; fuse++) {
        char *j = ko_xasprintf("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"<unk>\": 0, \"a\": 1}, \"merges\": [], "
                               "\"unk_token\": \"<unk>\", \"fuse_unk\": %s}}", fuse ? "true" : "false");
        CHECK(ko_tokenizer_load_json(j, strlen(j), &t, &e) == 0, "%s", e.msg);
        static const int32_t want[2][5] = {{1, 0, 0, 1, 0}, {1, 0, 1, 0}};
        if (t) {
            CHECK(ko_tokenizer_encode(t, "axyaz", 5, false, &ids, &e) == 0 && ids.n == 5 - fuse &&
                      memcmp(ids.ids, want[fuse], (size_t)ids.n * sizeof *ids.ids) == 0,
                  "fuse_unk %d: %d ids", fuse, ids.n);
        }
        ko_tokenizer_free(t);
        free(j);
    }
    /* a regex that backtracks past PCRE2's match limit: an error, never a hang or a wrong split
     * (when encoding, when normalizing an added token at load, when decoding) */
    {
        char bomb[64];
        memset(bomb, 'a', 40);
        strcpy(bomb + 40, "b");
        char *j = json(MODEL_OK, "null", "{\"type\": \"Split\", \"pattern\": {\"Regex\": \"(a+)+$\"}, "
                       "\"behavior\": \"Isolated\"}", "null", "null");
        CHECK(ko_tokenizer_load_json(j, strlen(j), &t, &e) == 0, "%s", e.msg);
        if (t)
            CHECK(ko_tokenizer_encode(t, bomb, strlen(bomb), false, &ids, &e) == -1 && ids.n == 0 &&
                      strcmp(e.msg, "regex: match limit exceeded") == 0, "%s", e.msg);
        ko_tokenizer_free(t);
        free(j);
        j = ko_xasprintf("{\"added_tokens\": [{\"id\": 3, \"content\": \"%s\", \"normalized\": true}], "
                         "\"normalizer\": {\"type\": \"Replace\", \"pattern\": {\"Regex\": \"(a+)+$\"}, \"content\": \"x\"}, "
                         "\"model\": %s}", bomb, MODEL_OK);
        expect_json_error("added_norm_limit", j, "regex: match limit exceeded");
        j = ko_xasprintf("{\"decoder\": {\"type\": \"Replace\", \"pattern\": {\"Regex\": \"(a+)+$\"}, \"content\": \"x\"}, "
                         "\"model\": {\"type\": \"BPE\", \"vocab\": {\"%s\": 0, \"a\": 1}, \"merges\": []}}", bomb);
        CHECK(ko_tokenizer_load_json(j, strlen(j), &t, &e) == 0, "%s", e.msg);
        ko_buf out = {0};
        if (t) {
            int32_t one = 1, big[2] = {0, 0};
            CHECK(ko_tokenizer_decode(t, &one, 1, false, &out, &e) == 0 && strcmp(out.p, "x") == 0, "%s", e.msg); /* "a" replaced */
            out.n = 0;
            CHECK(ko_tokenizer_decode(t, big, 2, false, &out, &e) == -1 && out.n == 0 &&
                      strcmp(e.msg, "regex: match limit exceeded") == 0, "%s", e.msg);
        }
        ko_buf_free(&out);
        ko_tokenizer_free(t);
        free(j);
    }
    /* a vocab token longer than a quarter of a string block (256 KiB) gets a block of its own; with
     * ignore_merges the whole word is looked up first */
    {
        size_t n = 300000;
        char *tok = ko_xmalloc(n + 1);
        memset(tok, 'a', n);
        tok[n] = 0;
        char *j = ko_xasprintf("{\"model\": {\"type\": \"BPE\", \"ignore_merges\": true, \"vocab\": {\"a\": 0, \"b\": 1, "
                               "\"ab\": 2, \"%s\": 3}, \"merges\": [\"a b\"]}}", tok);
        CHECK(ko_tokenizer_load_json(j, strlen(j), &t, &e) == 0, "%s", e.msg);
        ko_buf out = {0};
        if (t) {
            CHECK(ko_tokenizer_encode(t, tok, n, false, &ids, &e) == 0 && ids.n == 1 && ids.ids[0] == 3, "%d ids", ids.n);
            int32_t id = 3;
            CHECK(ko_tokenizer_decode(t, &id, 1, false, &out, &e) == 0 && out.n == n && strcmp(out.p, tok) == 0, "decode");
        }
        ko_buf_free(&out);
        ko_tokenizer_free(t);
        free(j);
        free(tok);
    }
    for (size_t i = 0; i < sizeof BAD_PARTS / sizeof BAD_PARTS[0]; i++) {
        const bad_part *b = &BAD_PARTS[i];
        expect_json_error(b->name, json(b->model ? b->model : MODEL_OK, b->norm ? b->norm : "null", b->pre ? b->pre : "null",
                                        b->post ? b->post : "null", b->dec ? b->dec : "null"),
                          b->want);
    }
    for (size_t i = 0; i < sizeof BAD_FILES / sizeof BAD_FILES[0]; i++)
        expect_load_error(BAD_FILES[i].name, BAD_FILES[i].text, strlen(BAD_FILES[i].text), BAD_FILES[i].want);
    /* files of unusual but valid shape load: merges before vocab, CR/tab white space, an escaped
     * quote in a member the scanner skips, an empty vocab, a model without "type" (BPE), dropout 0,
     * escapes in every spelling (\u hex in both cases, a character past the surrogates) */
    {
        static const char *const OK_FILES[] = {
            "{\"model\": {\"merges\": [\"a b\"], \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}}}",
            "{\r\n\t\"x\": \"q\\\"q\",\r\n\t\"model\":\t{\"type\": \"BPE\", \"dropout\": 0, \"vocab\":\r{\"a\"\n:\t0,\r\"b\": 1, \"ab\": 2 },"
            "\n\"merges\": [ [\"a\" , \"b\" ] ]}\r\n}",
            "{\"model\": {\"vocab\": {\"\\u0061\": 0, \"\\u0062\": 1, \"\\u0061\\u0062\": 2, \"\\uE000\\ue001\": 3}, \"merges\": [\"a b\"]}}",
            "{\"added_tokens\": null, \"model\": " BPE("") "}",
            "{\"added_tokens\": [], \"model\": " BPE("") "}",
            /* a special token of the template with no ids adds nothing */
            "{\"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<s>\"}}, "
            "{\"Sequence\": {\"id\": \"A\"}}], \"special_tokens\": {\"<s>\": {\"ids\": []}}}, \"model\": " BPE("") "}",
        };
        for (int k = 0; k < 6; k++) {
            CHECK(ko_tokenizer_load_json(OK_FILES[k], strlen(OK_FILES[k]), &t, &e) == 0, "ok file %d: %s", k, e.msg);
            if (t)
                CHECK(ko_tokenizer_encode(t, "abba", 4, k == 5, &ids, &e) == 0 && ids.n == 3 && ids.ids[0] == 2 &&
                          ids.ids[1] == 1 && ids.ids[2] == 0, "ok file %d: %d ids", k, ids.n);
            ko_tokenizer_free(t);
        }
        static const char EMPTY[] = "{\"model\": {\"vocab\": { }, \"merges\": [ ]}}";
        CHECK(ko_tokenizer_load_json(EMPTY, strlen(EMPTY), &t, &e) == 0, "%s", e.msg);
        if (t) CHECK(ko_tokenizer_encode(t, "ab", 2, false, &ids, &e) == 0 && ids.n == 0, "empty vocab: %d ids", ids.n);
        ko_tokenizer_free(t);
        /* a backslash before a NUL byte is no escape */
        static const char NUL[] = "{\"model\": {\"vocab\": {\"\\\0\": 0}, \"merges\": []}}";
        CHECK(ko_tokenizer_load_json(NUL, sizeof NUL - 1, &t, &e) == -1 && strstr(e.msg, "vocab: bad entry"), "%s", e.msg);
    }
    /* a normalizer that fails on the text (the regex limit) stops the encoding there */
    {
        char *j = json(MODEL_OK, "{\"type\": \"Replace\", \"pattern\": {\"Regex\": \"(a+)+$\"}, \"content\": \"x\"}", "null", "null", "null");
        CHECK(ko_tokenizer_load_json(j, strlen(j), &t, &e) == 0, "%s", e.msg);
        if (t)
            CHECK(ko_tokenizer_encode(t, "b<s>aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", 43, false, &ids, &e) == -1 && ids.n == 0 &&
                      strcmp(e.msg, "regex: match limit exceeded") == 0, "%s", e.msg);
        ko_tokenizer_free(t);
        free(j);
    }
    /* paths */
    CHECK(ko_tokenizer_load("/nonexistent/tokenizer.json", &t, &e) == -1 && strstr(e.msg, "no such file"), "%s", e.msg);
    CHECK(ko_tokenizer_load(dir, &t, &e) == -1 && strstr(e.msg, "holds no tokenizer.json"), "%s", e.msg);
    char *cfg = ko_xasprintf("%s/tokenizer_config.json", dir);
    CHECK(ko_write_file_atomic(cfg, "{", 1, &e) == 0, "%s", e.msg);
    CHECK(ko_tokenizer_load(ok_path, &t, &e) == -1 && strstr(e.msg, "tokenizer_config.json"), "%s", e.msg);
    CHECK(ko_write_file_atomic(cfg, "[]", 2, &e) == 0, "%s", e.msg);
    CHECK(ko_tokenizer_load(ok_path, &t, &e) == -1 && strstr(e.msg, "tokenizer_config.json: invalid JSON"), "%s", e.msg);
    CHECK(ko_write_file_atomic(cfg, "{\"bos_token\": {\"content\": \"<s>\"}, \"eos_token\": \"b\", \"add_bos_token\": true}",
                               75, &e) == 0, "%s", e.msg);
    CHECK(ko_tokenizer_load(ok_path, &t, &e) == 0, "%s", e.msg);
    if (t) {
        CHECK_EQ_INT(ko_tokenizer_bos(t), 3);
        CHECK_EQ_INT(ko_tokenizer_eos(t), 1);
        CHECK(ko_tokenizer_adds_bos(t), "add_bos_token");
    }
    ko_tokenizer_free(t);
    unlink(cfg);
    free(cfg);

    /* a relative path with no folder (the config is looked for in "."), a name shorter than
     * ".gguf", a file shorter than a GGUF magic, broken gzip for the json and for the config */
    {
        char cwd[4096];
        CHECK(getcwd(cwd, sizeof cwd) != NULL && chdir(dir) == 0, "chdir");
        CHECK(ko_write_file_atomic("t", ok, strlen(ok), &e) == 0 && ko_tokenizer_load("t", &t, &e) == 0, "%s", e.msg);
        ko_tokenizer_free(t);
        CHECK(ko_write_file_atomic("s", "{}", 2, &e) == 0 && ko_tokenizer_load("s", &t, &e) == -1 &&
                  strstr(e.msg, "no \"model\" object"), "%s", e.msg);
        CHECK(ko_write_file_atomic("bad.json.gz", "\x1f\x8b\x08\x00garbage", 12, &e) == 0 &&
                  ko_tokenizer_load("bad.json.gz", &t, &e) == -1 && strchr(e.msg, '\n') == NULL, "%s", e.msg);
        CHECK(ko_write_file_atomic("tokenizer_config.json.gz", "\x1f\x8b\x08\x00garbage", 12, &e) == 0 &&
                  ko_tokenizer_load("t", &t, &e) == -1 && strstr(e.msg, "tokenizer_config.json: invalid JSON"), "%s", e.msg);
        unlink("tokenizer_config.json.gz");
        CHECK(chdir(cwd) == 0, "chdir back");
    }
    /* an empty token in the vocab is no one-character token */
    {
        static const char EMPTY_TOK[] = "{\"model\": {\"vocab\": {\"\": 0, \"a\": 1}, \"merges\": []}}";
        CHECK(ko_tokenizer_load_json(EMPTY_TOK, strlen(EMPTY_TOK), &t, &e) == 0, "%s", e.msg);
        if (t) CHECK(ko_tokenizer_encode(t, "a", 1, false, &ids, &e) == 0 && ids.n == 1 && ids.ids[0] == 1, "%d ids", ids.n);
        ko_tokenizer_free(t);
    }

    /* GGUF vocabularies */
    static const char *const toks[] = {"a", "b", "ab"};
    gw g = {0};
    kv_str(&g, "tokenizer.ggml.model", "bert");
    kv_strs(&g, "tokenizer.ggml.tokens", toks, 3);
    expect_gguf_error("gguf_model", &g, "tokenizer.ggml.model 'bert' is not supported");
    g = (gw){0};
    kv_str(&g, "tokenizer.ggml.model", "lamma");
    kv_strs(&g, "tokenizer.ggml.tokens", toks, 3);
    expect_gguf_error("gguf_model5", &g, "tokenizer.ggml.model 'lamma' is not supported");
    /* the pre-tokenizer names without their own regex (GPT-2's) and with NFC (qwen2) */
    for (int k = 0; k < 2; k++) {
        static const char *const ab_merge[] = {"a b"};
        g = (gw){0};
        kv_str(&g, "tokenizer.ggml.model", "gpt2");
        kv_str(&g, "tokenizer.ggml.pre", k ? "qwen2" : "gpt-2");
        kv_strs(&g, "tokenizer.ggml.tokens", toks, 3);
        kv_strs(&g, "tokenizer.ggml.merges", ab_merge, 1);
        ko_buf f = {0};
        gguf_file(&g, &f);
        char *path = ko_xasprintf("%s/bpe%d.gguf", dir, k);
        CHECK(ko_write_file_atomic(path, f.p, f.n, &e) == 0 && ko_tokenizer_load(path, &t, &e) == 0, "%s", e.msg);
        if (t) CHECK(ko_tokenizer_encode(t, "abab", 4, false, &ids, &e) == 0 && ids.n == 2 && ids.ids[0] == 2 && ids.ids[1] == 2,
                     "bpe %d: %d ids", k, ids.n);
        ko_tokenizer_free(t);
        free(path);
        ko_buf_free(&f);
        ko_buf_free(&g.b);
    }
    g = (gw){0};
    kv_str(&g, "tokenizer.ggml.model", "gpt2");
    kv_str(&g, "tokenizer.ggml.pre", "falcon");
    expect_gguf_error("gguf_pre", &g, "tokenizer.ggml.pre 'falcon' is not supported");
    g = (gw){0};
    kv_str(&g, "tokenizer.ggml.model", "gpt2");
    kv_strs(&g, "tokenizer.ggml.tokens", toks, 3);
    expect_gguf_error("gguf_nomerges", &g, "tokenizer.ggml.merges");
    g = (gw){0};
    static const char *const bad_merge[] = {"a c"};
    kv_str(&g, "tokenizer.ggml.model", "gpt2");
    kv_strs(&g, "tokenizer.ggml.tokens", toks, 3);
    kv_strs(&g, "tokenizer.ggml.merges", bad_merge, 1);
    expect_gguf_error("gguf_badmerge", &g, "merge 0");
    g = (gw){0};
    kv_str(&g, "tokenizer.ggml.model", "llama");
    kv_strs(&g, "tokenizer.ggml.tokens", toks, 3);
    expect_gguf_error("gguf_noscores", &g, "tokenizer.ggml.scores");
    g = (gw){0};
    kv_str(&g, "tokenizer.ggml.model", "llama");
    expect_gguf_error("gguf_notokens", &g, "tokenizer.ggml.tokens");
    g = (gw){0};
    static const char *const bad_utf8[] = {"a", "\xff"};
    kv_str(&g, "tokenizer.ggml.model", "llama");
    kv_strs(&g, "tokenizer.ggml.tokens", bad_utf8, 2);
    expect_gguf_error("gguf_utf8", &g, "not valid UTF-8");
    g = (gw){0};
    kv_str(&g, "tokenizer.ggml.model", "llama");
    kv_strs(&g, "tokenizer.ggml.tokens", toks, 3);
    kv_strs(&g, "tokenizer.ggml.token_type", toks, 2);
    expect_gguf_error("gguf_types", &g, "one type per token");
    expect_load_error("gguf_truncated.gguf", "GGUF\x03", 5, "");
    /* tokens, types, scores, merges of the wrong shape */
    static const uint32_t nums[] = {1, 1, 1};
    static const char *const merges_bad[][1] = {{"ab"}, {"c b"}, {"b a"}};
    for (int k = 0; k < 3; k++) {
        g = (gw){0};
        kv_str(&g, "tokenizer.ggml.model", "llama");
        if (k == 0) kv_str(&g, "tokenizer.ggml.tokens", "a");
        if (k == 1) kv_u32s(&g, "tokenizer.ggml.tokens", nums, 3);
        if (k == 2) kv_strs(&g, "tokenizer.ggml.tokens", toks, 0);
        expect_gguf_error("gguf_tokens_shape", &g, "tokenizer.ggml.tokens: missing or not a list of strings");
    }
    g = (gw){0};
    kv_str(&g, "tokenizer.ggml.model", "llama");
    kv_strs(&g, "tokenizer.ggml.tokens", toks, 3);
    kv_str(&g, "tokenizer.ggml.token_type", "a");
    expect_gguf_error("gguf_types_scalar", &g, "not one type per token");
    for (int k = 0; k < 2; k++) {
        g = (gw){0};
        kv_str(&g, "tokenizer.ggml.model", "llama");
        kv_strs(&g, "tokenizer.ggml.tokens", toks, 3);
        if (k == 0) kv_str(&g, "tokenizer.ggml.scores", "a");
        if (k == 1) kv_u32s(&g, "tokenizer.ggml.scores", nums, 2);
        expect_gguf_error("gguf_scores_shape", &g, "tokenizer.ggml.scores: missing or not one score per token");
    }
    g = (gw){0};
    kv_str(&g, "tokenizer.ggml.model", "gpt2");
    expect_gguf_error("gguf_bpe_notokens", &g, "tokenizer.ggml.tokens: missing");
    for (int k = 0; k < 2; k++) {
        g = (gw){0};
        kv_str(&g, "tokenizer.ggml.model", "gpt2");
        kv_strs(&g, "tokenizer.ggml.tokens", toks, 3);
        if (k == 0) kv_str(&g, "tokenizer.ggml.merges", "a b");
        if (k == 1) kv_u32s(&g, "tokenizer.ggml.merges", nums, 1);
        expect_gguf_error("gguf_merges_shape", &g, "tokenizer.ggml.merges: missing or not a list of strings");
    }
    for (int k = 0; k < 3; k++) { /* no space; left part unknown; the pair's concatenation unknown */
        g = (gw){0};
        kv_str(&g, "tokenizer.ggml.model", "gpt2");
        kv_strs(&g, "tokenizer.ggml.tokens", toks, 3);
        kv_strs(&g, "tokenizer.ggml.merges", merges_bad[k], 1);
        expect_gguf_error("gguf_merge_bad", &g, "merge 0 is not two tokens of the vocab");
    }
    /* bos/eos metadata: add_eos appends eos after the sequence; an id past the vocab is no token;
     * a flag that is not a bool keeps its default (llama: add_bos true) */
    for (int k = 0; k < 4; k++) { /* 3: add_eos without an eos id adds nothing */
        static const char *const spm_toks[] = {"<unk>", "<s>", "</s>", "\xe2\x96\x81" "a", "a"};
        static const uint32_t spm_types[] = {2, 3, 3, 1, 1};
        static const uint32_t zero[5] = {0};
        g = (gw){0};
        kv_str(&g, "tokenizer.ggml.model", "llama");
        kv_strs(&g, "tokenizer.ggml.tokens", spm_toks, 5);
        kv_u32s(&g, "tokenizer.ggml.token_type", spm_types, 5);
        kv_u32s(&g, "tokenizer.ggml.scores", zero, 5);
        kv_u32(&g, "tokenizer.ggml.bos_token_id", 4, k == 1 ? 99 : 1);
        if (k < 3) kv_u32(&g, "tokenizer.ggml.eos_token_id", 4, 2);
        if (k == 0) kv_u32(&g, "tokenizer.ggml.add_bos_token", 7, 0);
        if (k == 2) kv_u32(&g, "tokenizer.ggml.add_bos_token", 4, 0);
        if (k == 3) kv_u32(&g, "tokenizer.ggml.add_bos_token", 7, 0);
        kv_u32(&g, "tokenizer.ggml.add_eos_token", 7, k != 2);
        ko_buf f = {0};
        gguf_file(&g, &f);
        char *path = ko_xasprintf("%s/spm%d.gguf", dir, k);
        CHECK(ko_write_file_atomic(path, f.p, f.n, &e) == 0 && ko_tokenizer_load(path, &t, &e) == 0, "%s", e.msg);
        static const int32_t want[4][3] = {{4, 2}, {4, 2}, {1, 4}, {4}}; /* "a": no "▁" token, so no "▁a" */
        if (t)
            CHECK(ko_tokenizer_encode(t, "a", 1, true, &ids, &e) == 0 && ids.n == 2 - (k == 3) && ids.ids[0] == want[k][0] &&
                      ids.ids[ids.n - 1] == want[k][ids.n - 1], "spm %d: %d ids: %d %d", k, ids.n, ids.ids[0], ids.ids[1]);
        if (t) CHECK_EQ_INT(ko_tokenizer_bos(t), k == 1 ? -1 : 1);
        ko_tokenizer_free(t);
        free(path);
        ko_buf_free(&f);
        ko_buf_free(&g.b);
    }
    /* arrays of the wrong element type (count right): the entries cannot be read as types / scores */
    g = (gw){0};
    kv_str(&g, "tokenizer.ggml.model", "llama");
    kv_strs(&g, "tokenizer.ggml.tokens", toks, 3);
    kv_strs(&g, "tokenizer.ggml.token_type", toks, 3);
    expect_gguf_error("gguf_type_strs", &g, "tokenizer.ggml.tokens: entry 0 unreadable");
    g = (gw){0};
    kv_str(&g, "tokenizer.ggml.model", "llama");
    kv_strs(&g, "tokenizer.ggml.tokens", toks, 3);
    kv_strs(&g, "tokenizer.ggml.scores", toks, 3);
    expect_gguf_error("gguf_score_strs", &g, "tokenizer.ggml.scores: entry 0 unreadable");

    ko_ids_free(&ids);
    free(ok);
    free(ok_path);
    char *rm = ko_xasprintf("rm -rf %s", dir);
    CHECK(system(rm) == 0, "cleanup");
    free(rm);
    TEST_END();
}
