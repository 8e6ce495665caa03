/* fuzz_datasets.c — libFuzzer target for the dataset readers (TSV and JSONL) via ko_dataset_parse.
 *
 * The first byte picks the case: bit 0 the layout (0 TSV, 1 JSONL), bits 1-3 the dataset (mod 5),
 * bits 4-5 the split; the rest is the file's content. Besides the sanitizers, it checks what callers
 * rely on: a loaded doc has every field, a label in range, and serialises; an error is one line.
 * Built and run by scripts/fuzz.sh (`make fuzz`). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/datasets.h"

static const char *const NAMES[] = {"boolq", "copa", "wic", "hellaswag", "sentineg"};
static const int N_LABELS[] = {2, 2, 2, 4, 2};
static const char *const SPLITS[] = {"train", "validation", "test", "test_originated"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    unsigned sel = data[0];
    int name = (int)((sel >> 1) % 5);
    ko_data_format fmt = (sel & 1) ? KO_DATA_JSONL : KO_DATA_TSV;
    ko_dataset ds;
    ko_err e = {{0}};
    if (ko_dataset_parse(NAMES[name], SPLITS[(sel >> 4) & 3], fmt, "fuzz", (const char *)data + 1, size - 1, &ds,
                         &e) != 0) {
        if (e.msg[0] == 0 || strchr(e.msg, '\n')) abort(); /* errors are one non-empty line */
        return 0;
    }
    ko_buf b = {0};
    for (int i = 0; i < ds.n_docs; i++) {
        const ko_docrow *d = &ds.docs[i];
        if (d->label < 0 || d->label >= N_LABELS[name]) abort();
        for (int k = 0; k < d->n; k++)
            if (!d->names[k] || !d->values[k] || ko_utf8_invalid_at(d->values[k], strlen(d->values[k])) >= 0) abort();
        ko_docrow_to_json(d, &b);
    }
    ko_buf_free(&b);
    ko_dataset_free(&ds);
    return 0;
}
