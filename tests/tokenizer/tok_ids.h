/* tok_ids.h — shared by the tokenizer tests: ids against a JSON list of golden ids. */
#ifndef KO_TEST_TOK_IDS_H
#define KO_TEST_TOK_IDS_H
#include <cjson/cJSON.h>
#include <stdbool.h>

#include "engine/tokenizer/tokenizer.h"

static inline bool ids_equal(const ko_ids *a, const cJSON *ref) {
    if (!cJSON_IsArray(ref) || cJSON_GetArraySize(ref) != a->n) return false;
    int i = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, ref) if ((int)x->valuedouble != a->ids[i++]) return false;
    return true;
}
#endif
