/* tok_encode.c — ko_tokenizer_encode: HF's encode_single_sequence + post-processing (see the
 * pipeline in tok_internal.h). All scratch is local, so concurrent callers are safe. */
#include <stdlib.h>
#include <string.h>

#include "engine/tokenizer/tok_internal.h"

int ko_tokenizer_encode(const ko_tokenizer *t, const char *text, size_t len, bool add_special_tokens,
                        ko_ids *out, ko_err *e) {
    out->n = 0;
    long bad = ko_utf8_invalid_at(text, len);
    if (bad >= 0) return ko_fail(e, "tokenizer: the text is not valid UTF-8 (at byte %ld)", bad);

    tk_splits a = {0}, b = {0};
    ko_buf norm = {0};
    int rc = 0;
    /* 1. non-normalized added tokens out of the raw text */
    tk_split_added(t, &t->trie_raw, text, len, true, &a);
    /* 2. normalize the rest, piece by piece, and take the normalized added tokens out of it */
    for (int i = 0; rc == 0 && i < a.n; i++) {
        const tk_split *sp = &a.v[i];
        if (sp->id >= 0) {
            tk_splits_add(&b, "", 0, sp->id, false);
            continue;
        }
        rc = tk_normalize(t, a.text.p + sp->off, sp->len, &norm, e);
        if (rc == 0) tk_split_added(t, &t->trie_norm, norm.p, norm.n, sp->first, &b);
    }
    /* 3. pre-tokenize (the result lands back in b), 4. the model per pre-token */
    if (rc == 0) rc = tk_pretokenize(t, &b, &a, e);
    bool tpl = add_special_tokens && t->n_tpl > 0;
    int k = 0;
    for (; tpl && t->tpl[k] >= 0; k++) tk_ids_push(out, t->tpl[k]); /* a template always holds the -1 */
    for (int i = 0; rc == 0 && i < b.n; i++) {
        const tk_split *sp = &b.v[i];
        if (sp->id >= 0) tk_ids_push(out, sp->id);
        else rc = tk_bpe(t, b.text.p + sp->off, sp->len, out, e);
    }
    /* 5. the rest of the template (after the sequence) */
    for (k++; tpl && k < t->n_tpl; k++) tk_ids_push(out, t->tpl[k]);
    tk_splits_free(&a);
    tk_splits_free(&b);
    ko_buf_free(&norm);
    if (rc < 0) out->n = 0;
    return rc;
}
