/* encode.h — requests (text) -> engine documents (token ids), exactly as lm-eval 0.4.13's HF model
 * does it (api/model.py TemplateLM.loglikelihood + _encode_pair, models/huggingface.py tok_encode and
 * _loglikelihood_tokens):
 *
 *  - trailing whitespace of the context moves to the front of every continuation;
 *  - context_enc = encode(context), whole_enc = encode(context + continuation),
 *    continuation_enc = whole_enc[len(context_enc):];
 *  - encode adds the tokenizer's special tokens (HF's add_special_tokens default), except when the
 *    string already starts with the decoded prefix token (BOS, else EOS);
 *  - an empty context becomes [prefix token] and the continuation is encoded without special tokens
 *    (unless it already starts with the prefix token, which then serves as the context);
 *  - a (context, continuation) pair longer than max_len + 1 tokens is left-truncated to its last
 *    max_len + 1 tokens; such a document is scored choice by choice, each with its own context.
 */
#ifndef KO_ENCODE_H
#define KO_ENCODE_H

#include "engine/engine.h"
#include "engine/tokenizer/tokenizer.h"
#include "tasks/tasks.h"

/* One request document's tokens. */
typedef struct ko_encdoc {
    ko_ids ctx;                  /* context_enc */
    int n_choices;
    ko_ids *cont;                /* [n_choices] continuation_enc */
    const int32_t **cont_ptr;    /* [n_choices] cont[i].ids, the shape ko_doc wants */
    int *n_cont;                 /* [n_choices] */
} ko_encdoc;

/* Encodes n documents (using up to n_threads threads; 0 = all cores). On failure the error names
 * the task and doc_id. enc is [n], filled; free with ko_encdocs_free. */
int ko_encode_docs(const ko_tokenizer *tok, const char *task, const ko_reqdoc *docs, int n,
                   int n_threads, ko_encdoc *enc, ko_err *e);
void ko_encdocs_free(ko_encdoc *enc, int n);

/* Turns encoded documents into engine documents under max_len, writing the results into res
 * ([n] docresults whose ll / is_greedy arrays hold n_choices each). Appends to *out / *n_out
 * (ko_xrealloc'd). Fails when a continuation alone exceeds max_len (lm-eval asserts there). */
int ko_plan_docs(const ko_encdoc *enc, ko_docresult *res, int n, int max_len, ko_doc **out, int *n_out,
                 ko_err *e);

#endif
