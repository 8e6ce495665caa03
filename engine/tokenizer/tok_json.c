/* tok_json.c — reads HF tokenizer.json (cJSON) into the tokenizer: model (BPE), added tokens,
 * normalizer, pre-tokenizer, post-processor, decoder; and tokenizer_config.json's bos/eos/add_bos.
 * Anything it does not implement is refused by name, never silently ignored. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "engine/tokenizer/tok_internal.h"

#define MAX_IDS (1 << 24) /* far above any real vocabulary; bounds what a bad file can allocate */

/* The elements of an array already checked to be one (cJSON_ArrayForEach also takes NULL). */
#define EACH(x, array) for (x = (array)->child; x; x = x->next)

static const cJSON *item(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }

static bool get_bool(const cJSON *o, const char *k, bool def) {
    const cJSON *v = item(o, k);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

/* A string member, or NULL when absent or null; a member of another type is an error. */
static int get_str(const cJSON *o, const char *k, const char **out, const char *what, ko_err *e) {
    const cJSON *v = item(o, k);
    *out = NULL;
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsString(v)) return ko_fail(e, "%s: \"%s\" must be a string", what, k);
    *out = v->valuestring;
    return 0;
}

static const char *type_of(const cJSON *o) {
    const cJSON *v = item(o, "type");
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int get_id(const cJSON *v, int32_t *id, const char *what, ko_err *e) {
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble >= MAX_IDS ||
        v->valuedouble != (double)(int32_t)v->valuedouble)
        return ko_fail(e, "%s: token id must be an integer in [0, %d)", what, MAX_IDS);
    *id = (int32_t)v->valuedouble;
    return 0;
}

static int behavior(const cJSON *o, tk_behavior *b, const char *what, ko_err *e) {
    static const char *const names[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"};
    const char *s;
    if (get_str(o, "behavior", &s, what, e) < 0) return -1;
    if (!s) {
        *b = TK_ISOLATED;
        return 0;
    }
    for (int i = 0; i < 5; i++)
        if (strcmp(s, names[i]) == 0) {
            *b = (tk_behavior)i;
            return 0;
        }
    return ko_fail(e, "%s: unknown behavior '%s'", what, TK_P(s));
}

/* Metaspace's replacement and prepend_scheme, shared by the pre-tokenizer and the decoder. */
static int metaspace_opts(const cJSON *o, char repl[8], int *repl_n, tk_prepend *pp, const char *what, ko_err *e) {
    const char *r, *sch;
    if (get_str(o, "replacement", &r, what, e) < 0 || get_str(o, "prepend_scheme", &sch, what, e) < 0) return -1;
    if (!r) r = "\xe2\x96\x81";
    int32_t cp;
    size_t rn = strlen(r);
    if (rn == 0 || rn > 4 || (size_t)tk_utf8_dec(r, rn, &cp) != rn)
        return ko_fail(e, "%s: replacement must be one character", what);
    memcpy(repl, r, rn);
    *repl_n = (int)rn;
    if (!sch || strcmp(sch, "always") == 0) *pp = TK_PREPEND_ALWAYS; /* HF's default */
    else if (strcmp(sch, "first") == 0) *pp = TK_PREPEND_FIRST;
    else if (strcmp(sch, "never") == 0) *pp = TK_PREPEND_NEVER;
    else return ko_fail(e, "%s: unknown prepend_scheme '%s'", what, TK_P(sch));
    /* the legacy add_prefix_space: HF ignores true and refuses false unless the scheme is "never" */
    if (!get_bool(o, "add_prefix_space", true) && *pp != TK_PREPEND_NEVER)
        return ko_fail(e, "%s: add_prefix_space false needs prepend_scheme \"never\"", what);
    return 0;
}

/* ---- normalizers ---------------------------------------------------------------------------- */

static int add_norm(ko_tokenizer *t, const cJSON *o, int depth, ko_err *e) {
    const char *ty = type_of(o);
    if (!ty) return ko_fail(e, "tokenizer.json: normalizer without a \"type\"");
    if (strcmp(ty, "Sequence") == 0) {
        const cJSON *a = item(o, "normalizers"), *x;
        if (!cJSON_IsArray(a) || depth > 8) return ko_fail(e, "tokenizer.json: normalizer Sequence needs a \"normalizers\" list");
        EACH(x, a) if (add_norm(t, x, depth + 1, e) < 0) return -1;
        return 0;
    }
    static const struct { const char *name; tk_norm_type type; } T[] = {
        {"NFC", TK_NFC}, {"NFD", TK_NFD}, {"NFKC", TK_NFKC}, {"NFKD", TK_NFKD}, {"Lowercase", TK_LOWER},
        {"Strip", TK_STRIP}, {"Replace", TK_REPLACE}, {"Prepend", TK_PREPEND}};
    int k = -1;
    for (int i = 0; i < (int)(sizeof T / sizeof T[0]); i++)
        if (strcmp(ty, T[i].name) == 0) k = i;
    if (k < 0)
        return ko_fail(e, "tokenizer.json: unknown normalizer type '%s' (supported: NFC, NFD, NFKC, NFKD, "
                          "Lowercase, Strip, Replace, Prepend, Sequence)", TK_P(ty));
    t->norm = ko_xrealloc(t->norm, (size_t)(t->n_norm + 1) * sizeof *t->norm);
    tk_norm *nm = &t->norm[t->n_norm++];
    memset(nm, 0, sizeof *nm);
    nm->type = T[k].type;
    const char *s = NULL;
    switch (nm->type) {
    case TK_STRIP:
        nm->left = get_bool(o, "strip_left", true);
        nm->right = get_bool(o, "strip_right", true);
        break;
    case TK_REPLACE:
        if (tk_pattern_from_json(item(o, "pattern"), &nm->pat, "tokenizer.json: normalizer Replace", e) < 0) return -1;
        if (get_str(o, "content", &s, "tokenizer.json: normalizer Replace", e) < 0) return -1;
        if (!s) return ko_fail(e, "tokenizer.json: normalizer Replace needs \"content\"");
        break;
    case TK_PREPEND:
        if (get_str(o, "prepend", &s, "tokenizer.json: normalizer Prepend", e) < 0) return -1;
        if (!s) return ko_fail(e, "tokenizer.json: normalizer Prepend needs \"prepend\"");
        break;
    default: break;
    }
    if (s) {
        nm->str_n = strlen(s);
        nm->str = ko_xstrndup(s, nm->str_n);
    }
    return 0;
}

/* ---- pre-tokenizers --------------------------------------------------------------------------- */

/* HF Whitespace's pattern. */
/* HF's regex is Oniguruma's, whose Unicode \w also takes marks and the joiners (ZWNJ, ZWJ), which
 * PCRE2's \w does not: spelled out. */
static const char WS_RE[] = "[\\w\\p{M}\\x{200C}\\x{200D}]+|[^\\w\\p{M}\\x{200C}\\x{200D}\\s]+";

static int add_pre(ko_tokenizer *t, const cJSON *o, int depth, ko_err *e) {
    const char *ty = type_of(o);
    const char *what = "tokenizer.json: pre-tokenizer";
    if (!ty) return ko_fail(e, "%s without a \"type\"", what);
    if (strcmp(ty, "Sequence") == 0) {
        const cJSON *a = item(o, "pretokenizers"), *x;
        if (!cJSON_IsArray(a) || depth > 8) return ko_fail(e, "%s Sequence needs a \"pretokenizers\" list", what);
        EACH(x, a) if (add_pre(t, x, depth + 1, e) < 0) return -1;
        return 0;
    }
    static const struct { const char *name; tk_pre_type type; } T[] = {
        {"Split", TK_P_SPLIT}, {"ByteLevel", TK_P_BYTELEVEL}, {"Metaspace", TK_P_METASPACE},
        {"Whitespace", TK_P_WHITESPACE}, {"WhitespaceSplit", TK_P_WSPLIT}, {"Digits", TK_P_DIGITS},
        {"Punctuation", TK_P_PUNCT}};
    int k = -1;
    for (int i = 0; i < (int)(sizeof T / sizeof T[0]); i++)
        if (strcmp(ty, T[i].name) == 0) k = i;
    if (k < 0)
        return ko_fail(e, "%s: unknown type '%s' (supported: Split, ByteLevel, Metaspace, Whitespace, "
                          "WhitespaceSplit, Digits, Punctuation, Sequence)", what, TK_P(ty));
    t->pre = ko_xrealloc(t->pre, (size_t)(t->n_pre + 1) * sizeof *t->pre);
    tk_pre *p = &t->pre[t->n_pre++];
    memset(p, 0, sizeof *p);
    p->type = T[k].type;
    switch (p->type) {
    case TK_P_SPLIT:
        p->invert = get_bool(o, "invert", false);
        if (behavior(o, &p->behavior, what, e) < 0) return -1;
        return tk_pattern_from_json(item(o, "pattern"), &p->pat, "tokenizer.json: pre-tokenizer Split", e);
    case TK_P_BYTELEVEL:
        p->add_prefix_space = get_bool(o, "add_prefix_space", true);
        p->use_regex = get_bool(o, "use_regex", true);
        return p->use_regex ? tk_pre_builtin_regex(p, TK_GPT2_RE, e) : 0;
    case TK_P_METASPACE:
        p->split = get_bool(o, "split", true);
        return metaspace_opts(o, p->repl, &p->repl_n, &p->prepend, what, e);
    case TK_P_WHITESPACE: return tk_pre_builtin_regex(p, WS_RE, e);
    case TK_P_DIGITS: p->individual = get_bool(o, "individual_digits", false); return 0;
    case TK_P_PUNCT: return behavior(o, &p->behavior, what, e);
    case TK_P_WSPLIT: break; /* no options */
    }
    return 0;
}

/* ---- decoders ------------------------------------------------------------------------------- */

static int add_dec(ko_tokenizer *t, const cJSON *o, int depth, ko_err *e) {
    const char *ty = type_of(o);
    const char *what = "tokenizer.json: decoder";
    if (!ty) return ko_fail(e, "%s without a \"type\"", what);
    if (strcmp(ty, "Sequence") == 0) {
        const cJSON *a = item(o, "decoders"), *x;
        if (!cJSON_IsArray(a) || depth > 8) return ko_fail(e, "%s Sequence needs a \"decoders\" list", what);
        EACH(x, a) if (add_dec(t, x, depth + 1, e) < 0) return -1;
        return 0;
    }
    static const struct { const char *name; tk_dec_type type; } T[] = {
        {"ByteLevel", TK_D_BYTELEVEL}, {"Metaspace", TK_D_METASPACE}, {"Replace", TK_D_REPLACE},
        {"ByteFallback", TK_D_BYTEFALLBACK}, {"Fuse", TK_D_FUSE}, {"Strip", TK_D_STRIP}};
    int k = -1;
    for (int i = 0; i < (int)(sizeof T / sizeof T[0]); i++)
        if (strcmp(ty, T[i].name) == 0) k = i;
    if (k < 0)
        return ko_fail(e, "%s: unknown type '%s' (supported: ByteLevel, Metaspace, Replace, ByteFallback, "
                          "Fuse, Strip, Sequence)", what, TK_P(ty));
    t->dec = ko_xrealloc(t->dec, (size_t)(t->n_dec + 1) * sizeof *t->dec);
    tk_dec *d = &t->dec[t->n_dec++];
    memset(d, 0, sizeof *d);
    d->type = T[k].type;
    const char *s;
    switch (d->type) {
    case TK_D_METASPACE: return metaspace_opts(o, d->repl, &d->repl_n, &d->prepend, what, e);
    case TK_D_REPLACE:
        if (tk_pattern_from_json(item(o, "pattern"), &d->pat, "tokenizer.json: decoder Replace", e) < 0) return -1;
        if (get_str(o, "content", &s, what, e) < 0) return -1;
        if (!s) return ko_fail(e, "%s Replace needs \"content\"", what);
        d->content_n = strlen(s);
        d->content = ko_xstrndup(s, d->content_n);
        return 0;
    case TK_D_STRIP: {
        if (get_str(o, "content", &s, what, e) < 0) return -1;
        const cJSON *a = item(o, "start"), *b = item(o, "stop");
        if (!s || !cJSON_IsNumber(a) || !cJSON_IsNumber(b) || a->valuedouble < 0 || b->valuedouble < 0 ||
            a->valuedouble > 1e6 || b->valuedouble > 1e6)
            return ko_fail(e, "%s Strip needs \"content\", \"start\" and \"stop\"", what);
        int n = tk_utf8_dec(s, strlen(s), &d->strip_cp);
        if (s[0] == 0 || s[n] != 0) return ko_fail(e, "%s Strip: content must be one character", what);
        d->start = (int)a->valuedouble;
        d->stop = (int)b->valuedouble;
        return 0;
    }
    default: return 0;
    }
}

/* ---- post-processor --------------------------------------------------------------------------- */

static void tpl_push(ko_tokenizer *t, int32_t id) {
    t->tpl = ko_xrealloc(t->tpl, (size_t)(t->n_tpl + 1) * sizeof *t->tpl);
    t->tpl[t->n_tpl++] = id;
}

static int add_post(ko_tokenizer *t, const cJSON *o, int depth, bool *seen_seq, ko_err *e) {
    const char *ty = type_of(o);
    const char *what = "tokenizer.json: post_processor";
    if (!ty) return ko_fail(e, "%s without a \"type\"", what);
    if (strcmp(ty, "ByteLevel") == 0) return 0; /* offsets only */
    if (strcmp(ty, "Sequence") == 0) {
        const cJSON *a = item(o, "processors"), *x;
        if (!cJSON_IsArray(a) || depth > 8) return ko_fail(e, "%s Sequence needs a \"processors\" list", what);
        EACH(x, a) if (add_post(t, x, depth + 1, seen_seq, e) < 0) return -1;
        return 0;
    }
    if (*seen_seq) return ko_fail(e, "%s: more than one template", what);
    *seen_seq = true;
    if (strcmp(ty, "BertProcessing") == 0 || strcmp(ty, "RobertaProcessing") == 0) {
        int32_t cls = -1, sep = -1;
        const cJSON *c = item(o, "cls"), *s = item(o, "sep");
        if (!cJSON_IsArray(c) || !cJSON_IsArray(s) || get_id(cJSON_GetArrayItem(c, 1), &cls, what, e) < 0 ||
            get_id(cJSON_GetArrayItem(s, 1), &sep, what, e) < 0)
            return ko_fail(e, "%s %s needs \"cls\" and \"sep\" as [token, id]", what, ty);
        tpl_push(t, cls);
        tpl_push(t, -1);
        tpl_push(t, sep);
        return 0;
    }
    if (strcmp(ty, "TemplateProcessing") != 0)
        return ko_fail(e, "%s: unknown type '%s' (supported: TemplateProcessing, BertProcessing, "
                          "RobertaProcessing, ByteLevel, Sequence)", what, TK_P(ty));
    const cJSON *single = item(o, "single"), *specials = item(o, "special_tokens"), *x;
    if (!cJSON_IsArray(single)) return ko_fail(e, "%s TemplateProcessing needs a \"single\" list", what);
    bool have_seq = false;
    EACH(x, single) {
        const cJSON *sp = item(x, "SpecialToken"), *sq = item(x, "Sequence");
        if (sq) {
            if (have_seq) return ko_fail(e, "%s: \"single\" has two sequences", what);
            have_seq = true;
            tpl_push(t, -1);
            continue;
        }
        const cJSON *name = item(sp, "id");
        if (!cJSON_IsString(name)) return ko_fail(e, "%s: template items must be SpecialToken or Sequence", what);
        const cJSON *def = item(specials, name->valuestring), *ids = item(def, "ids"), *id;
        if (!cJSON_IsArray(ids)) return ko_fail(e, "%s: special token '%s' is not defined", what, TK_P(name->valuestring));
        EACH(id, ids) {
            int32_t v = -1;
            if (get_id(id, &v, what, e) < 0) return -1;
            tpl_push(t, v);
        }
    }
    if (!have_seq) return ko_fail(e, "%s: \"single\" has no sequence", what);
    return 0;
}

/* ---- model ------------------------------------------------------------------------------------ */

/* The vocab, gathered first: the id space is known only once the added tokens are counted too. */
typedef struct vocab_acc { ko_buf s; uint32_t *off, *len; int32_t *id; int n, cap; int32_t max_id; } vocab_acc;

static void vocab_entry(void *ctx, const char *s, size_t n, int32_t id) {
    vocab_acc *v = ctx;
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 4096;
        v->off = ko_xrealloc(v->off, (size_t)v->cap * sizeof *v->off);
        v->len = ko_xrealloc(v->len, (size_t)v->cap * sizeof *v->len);
        v->id = ko_xrealloc(v->id, (size_t)v->cap * sizeof *v->id);
    }
    v->off[v->n] = (uint32_t)v->s.n;
    v->len[v->n] = (uint32_t)n;
    v->id[v->n++] = id;
    ko_buf_put(&v->s, s, n);
    if (id > v->max_id) v->max_id = id;
}

typedef struct merge_acc { ko_tokenizer *t; size_t plen; ko_buf cat; } merge_acc;

static int merge_entry(void *ctx, const char *a, size_t an, const char *b, size_t bn, uint32_t rank, ko_err *e) {
    merge_acc *m = ctx;
    int32_t ia = tk_strmap_get(&m->t->vocab, a, an), ib = tk_strmap_get(&m->t->vocab, b, bn);
    m->cat.n = 0;
    ko_buf_put(&m->cat, a, an);
    if (bn >= m->plen) ko_buf_put(&m->cat, b + m->plen, bn - m->plen); /* b without the subword prefix */
    int32_t im = tk_strmap_get(&m->t->vocab, m->cat.p, m->cat.n);
    if (ia < 0 || ib < 0 || im < 0 || bn < m->plen)
        return ko_fail(e, "tokenizer.json: merge %u uses a token that is not in the vocab", rank);
    tk_mergemap_put(&m->t->merges, ia, ib, rank, im); /* a repeated pair: the later rank wins, as in HF */
    return 0;
}

static int load_model(ko_tokenizer *t, const cJSON *m, const tk_big *big, const cJSON *added, ko_err *e) {
    const char *ty = type_of(m);
    const cJSON *x;
    if (ty && strcmp(ty, "BPE") != 0)
        return ko_fail(e, "tokenizer.json: unknown model type '%s' (supported: BPE)", TK_P(ty));
    if (!big) return ko_fail(e, "tokenizer.json: model needs \"vocab\" (object) and \"merges\" (list)");
    const cJSON *dropout = item(m, "dropout");
    if (dropout && !cJSON_IsNull(dropout) && !(cJSON_IsNumber(dropout) && dropout->valuedouble == 0))
        return ko_fail(e, "tokenizer.json: BPE dropout is not supported (encoding would be random)");
    vocab_acc v = {.max_id = -1};
    int rc = tk_scan_vocab(big, vocab_entry, &v, e);
    int32_t id = -1;
    cJSON_ArrayForEach(x, added) {
        if (rc == 0 && (rc = get_id(item(x, "id"), &id, "tokenizer.json: added_tokens", e)) == 0 && id > v.max_id)
            v.max_id = id;
    }
    if (rc == 0) {
        tk_set_tokens(t, v.max_id + 1);
        tk_strmap_init(&t->vocab, v.n);
        for (int i = 0; rc == 0 && i < v.n; i++) {
            if (t->tok[v.id[i]]) rc = ko_fail(e, "tokenizer.json: vocab: id %d is used twice", (int)v.id[i]);
            else tk_set_token(t, v.id[i], v.s.p + v.off[i], v.len[i]);
        }
        for (id = 0; id <= v.max_id; id++)
            if (t->tok[id]) tk_strmap_put(&t->vocab, id);
    }
    ko_buf_free(&v.s);
    free(v.off);
    free(v.len);
    free(v.id);
    if (rc < 0) return -1;

    const char *unk, *pre, *suf;
    if (get_str(m, "unk_token", &unk, "tokenizer.json: model", e) < 0 ||
        get_str(m, "continuing_subword_prefix", &pre, "tokenizer.json: model", e) < 0 ||
        get_str(m, "end_of_word_suffix", &suf, "tokenizer.json: model", e) < 0)
        return -1;
    t->unk = unk ? tk_strmap_get(&t->vocab, unk, strlen(unk)) : -1;
    t->unk_missing = unk && t->unk < 0;
    t->cont_prefix = pre ? ko_xstrdup(pre) : NULL;
    t->end_suffix = suf ? ko_xstrdup(suf) : NULL;
    t->byte_fallback = get_bool(m, "byte_fallback", false);
    t->ignore_merges = get_bool(m, "ignore_merges", false);
    t->fuse_unk = get_bool(m, "fuse_unk", false);

    merge_acc ma = {t, pre ? strlen(pre) : 0, {0}};
    tk_mergemap_init(&t->merges, (int)((big->merges_end - big->merges) / 12)); /* ~bytes per merge: no regrowth */
    rc = tk_scan_merges(big, merge_entry, &ma, e);
    ko_buf_free(&ma.cat);
    return rc;
}

static int load_added(ko_tokenizer *t, const cJSON *added, ko_err *e) {
    const cJSON *x;
    if (!added || cJSON_IsNull(added)) return 0; /* else a list: tk_load_json checked */
    t->added = ko_xcalloc((size_t)cJSON_GetArraySize(added) + 1, sizeof *t->added);
    EACH(x, added) {
        tk_added *a = &t->added[t->n_added];
        const char *c;
        if (get_str(x, "content", &c, "tokenizer.json: added_tokens", e) < 0) return -1;
        if (!c) return ko_fail(e, "tokenizer.json: added_tokens: an entry has no \"content\"");
        (void)get_id(item(x, "id"), &a->id, "", e); /* checked by load_model */
        a->n = strlen(c);
        a->content = ko_xstrndup(c, a->n);
        a->special = get_bool(x, "special", false);
        a->normalized = get_bool(x, "normalized", !a->special);
        a->lstrip = get_bool(x, "lstrip", false);
        a->rstrip = get_bool(x, "rstrip", false);
        a->single_word = get_bool(x, "single_word", false);
        t->n_added++;
    }
    return 0;
}

/* The id of a token named in tokenizer_config.json ("<bos>" or {"content": "<bos>"}); -1 if none. */
static int32_t config_token(const ko_tokenizer *t, const cJSON *v) {
    if (cJSON_IsObject(v)) v = item(v, "content");
    if (!cJSON_IsString(v)) return -1;
    size_t n = strlen(v->valuestring);
    for (int i = 0; i < t->n_added; i++)
        if (t->added[i].n == n && memcmp(t->added[i].content, v->valuestring, n) == 0) return t->added[i].id;
    return tk_strmap_get(&t->vocab, v->valuestring, n);
}

int tk_load_json(ko_tokenizer *t, const char *text, size_t n, const char *cfg, ko_err *e) {
    /* JSON is UTF-8 (HF reads it into a Rust str): checked once here, so every string taken from
     * the file (tokens, patterns, contents) is valid UTF-8 */
    long bad = ko_utf8_invalid_at(text, n);
    if (bad >= 0) return ko_fail(e, "tokenizer.json: not valid UTF-8 (at byte %ld)", bad);
    tk_big big;
    ko_buf rest = {0};
    bool have_big = tk_scan_big(text, n, &big, &rest) == 1;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(rest.p, rest.n, &end, 0);
    if (!j) {
        size_t at = end && end >= rest.p ? (size_t)(end - rest.p) : 0;
        ko_buf_free(&rest);
        return ko_fail(e, "tokenizer.json: invalid JSON near byte %zu", at);
    }
    int rc = -1;
    const cJSON *added = item(j, "added_tokens"), *m = item(j, "model"), *v;
    bool seen_seq = false;
    if (!cJSON_IsObject(j) || !cJSON_IsObject(m)) {
        ko_fail(e, "tokenizer.json: no \"model\" object");
        goto done;
    }
    if (added && !cJSON_IsNull(added) && !cJSON_IsArray(added)) {
        ko_fail(e, "tokenizer.json: \"added_tokens\" must be a list");
        goto done;
    }
    v = item(j, "truncation");
    if (v && !cJSON_IsNull(v)) {
        ko_fail(e, "tokenizer.json: truncation is not supported (it would cut the ids)");
        goto done;
    }
    if (load_model(t, m, have_big ? &big : NULL, added, e) < 0 || load_added(t, added, e) < 0) goto done;
    if ((v = item(j, "normalizer")) && !cJSON_IsNull(v) && add_norm(t, v, 0, e) < 0) goto done;
    if ((v = item(j, "pre_tokenizer")) && !cJSON_IsNull(v) && add_pre(t, v, 0, e) < 0) goto done;
    if ((v = item(j, "post_processor")) && !cJSON_IsNull(v) && add_post(t, v, 0, &seen_seq, e) < 0) goto done;
    if ((v = item(j, "decoder")) && !cJSON_IsNull(v)) {
        t->has_decoder = true;
        if (add_dec(t, v, 0, e) < 0) goto done;
    }
    if (tk_finish(t, e) < 0) goto done;
    rc = 0;
    if (cfg) { /* tokenizer_config.json: optional; a broken one is an error, not a silent default */
        cJSON *c = cJSON_Parse(cfg);
        if (!c || !cJSON_IsObject(c)) {
            rc = ko_fail(e, "tokenizer_config.json: invalid JSON");
        } else {
            t->bos = config_token(t, item(c, "bos_token"));
            t->eos = config_token(t, item(c, "eos_token"));
            t->add_bos = get_bool(c, "add_bos_token", false);
        }
        cJSON_Delete(c);
    }
done:
    cJSON_Delete(j);
    ko_buf_free(&rest);
    return rc;
}
