/* options.h — koeval's command line: lm-eval's flag names (underscores; dashes accepted too). */
#ifndef KO_OPTIONS_H
#define KO_OPTIONS_H

#include <stdio.h>

#include "common/ko.h"

typedef struct ko_options {
    const char *command;         /* "run" (default), "requests", "tokenize" */
    const char *model;
    const char *tasks;
    int num_fewshot;             /* -1 = task default (0 for kobest) */
    unsigned fewshot_seed;       /* 1234 */
    double limit;                /* 0 = all; < 1: a fraction of each split (lm-eval) */
    int batch_size;              /* 0 = auto */
    const char *device;          /* NULL = auto */
    const char *dtype;           /* NULL = auto */
    const char *softmax_dtype;   /* NULL = auto (the compute dtype) */
    int max_model_len;           /* 0 = model's */
    double gpu_memory_utilization; /* 0.9 */
    const char *output_path;
    bool log_samples;
    const char *data_dir;
    const char *tokenizer;       /* tokenize: --tokenizer PATH */
    bool add_special_tokens;     /* tokenize */
    int bootstrap_iters;         /* lm-eval's --bootstrap_iters (100000); 0 = no stderr at all */
    int threads;                 /* CPU threads, 0 = all */
    bool verbose;
} ko_options;

/* Parses argv into o. On a usage error fills e (one line, with the nearest valid flag) and returns
 * -1; `--help` sets *help. */
int ko_options_parse(int argc, char **argv, ko_options *o, bool *help, ko_err *e);
void ko_options_usage(FILE *f);

#endif
