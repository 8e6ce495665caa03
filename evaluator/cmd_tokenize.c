/* cmd_tokenize.c — `koeval tokenize --tokenizer PATH [--add_special_tokens]`: JSONL {"text": ...} on
 * stdin, JSONL {"ids": [...]} on stdout in the same order. The output is written only when every
 * line encoded: a bad line gives one error line naming it and no output at all. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/tokenizer/tokenizer.h"
#include "evaluator/commands.h"

/* Encodes one JSONL line into out. */
static int one_line(const ko_tokenizer *t, const char *line, size_t n, bool add_special, ko_ids *ids, ko_buf *out,
                    ko_err *e) {
    cJSON *j = cJSON_ParseWithLength(line, n);
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(j, "text");
    int rc;
    if (!j) rc = ko_fail(e, "invalid JSON");
    else if (!cJSON_IsString(text)) rc = ko_fail(e, "expected an object with a string \"text\"");
    else rc = ko_tokenizer_encode(t, text->valuestring, strlen(text->valuestring), add_special, ids, e);
    if (rc == 0) {
        ko_buf_puts(out, "{\"ids\": [");
        for (int i = 0; i < ids->n; i++) ko_buf_printf(out, i ? ", %d" : "%d", (int)ids->ids[i]);
        ko_buf_puts(out, "]}\n");
    }
    cJSON_Delete(j);
    return rc;
}

int ko_cmd_tokenize(const ko_options *o) {
    if (!o->tokenizer) {
        fputs("koeval: tokenize: --tokenizer PATH is required\n", stderr);
        return KO_EXIT_USAGE;
    }
    ko_err e;
    ko_tokenizer *t;
    if (ko_tokenizer_load(o->tokenizer, &t, &e) < 0) {
        fprintf(stderr, "koeval: %s\n", e.msg);
        return KO_EXIT_ERROR;
    }
    ko_buf out = {0};
    ko_ids ids = {0};
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long no = 0;
    int rc = 0;
    while (rc == 0 && (n = getline(&line, &cap, stdin)) >= 0) {
        no++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
        if (n == 0) continue; /* blank lines carry no request */
        if (one_line(t, line, (size_t)n, o->add_special_tokens, &ids, &out, &e) < 0)
            rc = ko_fail_prefix(&e, "tokenize: stdin line %ld", no);
    }
    if (rc == 0 && ferror(stdin)) rc = ko_fail(&e, "tokenize: reading stdin: %s", strerror(errno));
    if (rc == 0 && (fwrite(out.p, 1, out.n, stdout) != out.n || fflush(stdout) != 0))
        rc = ko_fail(&e, "tokenize: writing the output: %s", strerror(errno));
    if (rc < 0) fprintf(stderr, "koeval: %s\n", e.msg);
    free(line);
    ko_ids_free(&ids);
    ko_buf_free(&out);
    ko_tokenizer_free(t);
    return rc < 0 ? KO_EXIT_ERROR : KO_EXIT_OK;
}
