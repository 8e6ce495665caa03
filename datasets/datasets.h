/* datasets.h — stage 1: rows from the KoBEST files -> documents with Hugging Face field names.
 *
 * Two layouts are read:
 *  - the KoBEST data repository's TSVs: <dir>/{BoolQ,COPA,WiC,HellaSwag,SentiNeg}/{train,dev,test}.tsv
 *    (columns mapped to the HF names lm-eval uses);
 *  - the Hugging Face `skt/kobest_v1` JSONL layout: <dir>/<name>/<split>.jsonl (or .json, JSON lines;
 *    cJSON).
 * Dataset names are the HF config names: boolq, copa, wic, hellaswag, sentineg. Splits: train,
 * validation, test (+ test_originated for sentineg).
 *
 * TSVs are read the way the HF builder read them, with pandas.read_csv(sep="\t") semantics
 * (datasets/tsv.h says why that is not libcsv); columns are found by header name. A file that pandas
 * would refuse or read differently (invalid UTF-8, a row with the wrong number of fields, an empty or
 * "NA"-like value, a label outside the task's range) is an error naming the file and row.
 */
#ifndef KO_DATASETS_H
#define KO_DATASETS_H

#include "common/ko.h"

/* One document: ordered (field, value) pairs, values as text exactly as in the data (labels too,
 * as their decimal text, e.g. "0"/"1"), plus the label as an int for convenience. */
typedef struct ko_docrow {
    int n;
    char **names;   /* HF field names, e.g. "paragraph", "question", "label" */
    char **values;  /* UTF-8, NUL-terminated */
    int label;
} ko_docrow;

typedef struct ko_dataset {
    char *name;     /* "boolq" */
    char *split;    /* "test" */
    char *path;     /* the file it came from */
    int n_docs;
    ko_docrow *docs;
} ko_dataset;

/* The value of `field` in doc d, or NULL. */
const char *ko_docrow_get(const ko_docrow *d, const char *field);

/* Appends doc d as one JSON object: HF field names in HF order, text as JSON strings (UTF-8 kept),
 * the label as a number, Python json.dumps separators: {"paragraph": "...", "label": 1}. */
void ko_docrow_to_json(const ko_docrow *d, ko_buf *out);

/* Finds the data folder: explicit dir, else $KOEVAL_DATA, else the HF hub cache
 * ($HF_DATASETS_CACHE / $HF_HUB_CACHE / $HF_HOME/hub / ~/.cache/huggingface/hub:
 * datasets--skt--kobest_v1/snapshots/(any)/), else ../shared/datasets/kobest_v1 beside the checkout
 * (relative to the binary's folder). Returns a malloc'd path; on failure the error says where it
 * looked and how to get the data. */
int ko_dataset_locate(const char *explicit_dir, char **out_dir, ko_err *e);

/* Loads one split of one dataset from dir (either layout). Errors name the file and row. */
int ko_dataset_load(const char *dir, const char *name, const char *split, ko_dataset *out, ko_err *e);
void ko_dataset_free(ko_dataset *ds);

/* The same from memory: data[0..n) is the content of a file in the given layout; path names it in
 * errors. ko_dataset_load reads the file and calls this. */
typedef enum { KO_DATA_TSV, KO_DATA_JSONL } ko_data_format;
int ko_dataset_parse(const char *name, const char *split, ko_data_format fmt, const char *path, const char *data,
                     size_t n, ko_dataset *out, ko_err *e);

#endif
