#include "evaluator/options.h"

#include "engine/model/model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { ARG_STR, ARG_INT, ARG_UINT, ARG_DOUBLE, ARG_FLAG, ARG_BATCH } arg_kind;

typedef struct flag {
    const char *name;            /* with underscores */
    arg_kind kind;
    size_t offset;
    const char *metavar, *help;
} flag;

#define OFF(f) offsetof(ko_options, f)
static const flag FLAGS[] = {
    {"model", ARG_STR, OFF(model), "M", "model folder, .gguf file, or name (KOEVAL_MODELS, HF cache)"},
    {"tasks", ARG_STR, OFF(tasks), "T", "comma-separated tasks or groups: kobest_all (alias kobest), kobest_boolq, kobest_copa, kobest_wic, kobest_hellaswag, kobest_sentineg"},
    {"num_fewshot", ARG_INT, OFF(num_fewshot), "N", "few-shot examples per prompt (default 0)"},
    {"fewshot_seed", ARG_UINT, OFF(fewshot_seed), "S", "seed of lm-eval's few-shot sampler (default 1234)"},
    {"limit", ARG_DOUBLE, OFF(limit), "N", "evaluate only the first N documents of each task (N < 1: that fraction, as lm-eval)"},
    {"batch_size", ARG_BATCH, OFF(batch_size), "auto|N", "tokens per packed batch (auto: from free memory)"},
    {"device", ARG_STR, OFF(device), "D", "cuda, cuda:K or cpu (default: cuda when available)"},
    {"dtype", ARG_STR, OFF(dtype), "T", "auto, bfloat16, float16 or float32 (default auto, as lm-eval's dtype=auto: the checkpoint's torch_dtype; a GGUF is float32; the cpu backend computes float32 only)"},
    {"softmax_dtype", ARG_STR, OFF(softmax_dtype), "T", "lm-eval's softmax_dtype: the dtype of the log-softmax and of each request's sum (default auto: the compute dtype, as lm-eval; float32 for lm-eval's softmax_dtype=float32)"},
    {"max_model_len", ARG_INT, OFF(max_model_len), "N", "context length; longer requests are left-truncated like lm-eval"},
    {"gpu_memory_utilization", ARG_DOUBLE, OFF(gpu_memory_utilization), "F", "fraction of GPU memory to use (default 0.9)"},
    {"output_path", ARG_STR, OFF(output_path), "DIR", "write results JSON and Markdown (and samples) here"},
    {"log_samples", ARG_FLAG, OFF(log_samples), NULL, "also write per-task samples JSONL"},
    {"bootstrap_iters", ARG_INT, OFF(bootstrap_iters), "N", "bootstrap resamples for the F1 stderr (default 100000; 0: no stderr, like lm-eval)"},
    {"data_dir", ARG_STR, OFF(data_dir), "DIR", "KoBEST data (TSV or HF JSONL layout); default KOEVAL_DATA, HF cache, ../shared"},
    {"tokenizer", ARG_STR, OFF(tokenizer), "PATH", "tokenize: tokenizer.json(.gz), its folder, or a .gguf"},
    {"add_special_tokens", ARG_FLAG, OFF(add_special_tokens), NULL, "tokenize: add BOS/EOS like HF's add_special_tokens=True"},
    {"threads", ARG_INT, OFF(threads), "N", "CPU threads (default: all cores)"},
    {"verbose", ARG_FLAG, OFF(verbose), NULL, "progress and engine details on stderr"},
};
#define N_FLAGS (int)(sizeof FLAGS / sizeof FLAGS[0])

static const char *const COMMANDS[] = {"run", "requests", "tokenize"};

void ko_options_usage(FILE *f) {
    fputs("usage: koeval [run] --model M --tasks T [options]\n"
          "       koeval requests --tasks T [--num_fewshot N] [--limit N] [--data_dir D]\n"
          "       koeval tokenize --tokenizer PATH [--add_special_tokens]  < JSONL {\"text\":...}\n"
          "\noptions (lm-eval's names; --name-with-dashes and --name=value also work):\n",
          f);
    for (int i = 0; i < N_FLAGS; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", FLAGS[i].name, FLAGS[i].metavar ? " " : "",
                 FLAGS[i].metavar ? FLAGS[i].metavar : "");
        fprintf(f, "  %-34s %s\n", left, FLAGS[i].help);
    }
    fputs("  --help                             this text\n"
          "\nexit codes: 0 ok, 1 bad input (data, model, files), 2 bad command line, 3 out of memory,\n"
          "            4 engine/device not available\n",
          f);
}

static int parse_num(const char *flag_name, const char *v, arg_kind kind, void *dst, ko_err *e) {
    char *end;
    errno = 0;
    if (kind == ARG_DOUBLE) {
        double d = strtod(v, &end);
        if (errno || end == v || *end) return ko_fail(e, "--%s: not a number: '%s'", flag_name, v);
        *(double *)dst = d;
        return 0;
    }
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < 0 || x > 2147483647LL)
        return ko_fail(e, "--%s: not a non-negative integer: '%s'", flag_name, v);
    if (kind == ARG_UINT) *(unsigned *)dst = (unsigned)x;
    else *(int *)dst = (int)x;
    return 0;
}

int ko_options_parse(int argc, char **argv, ko_options *o, bool *help, ko_err *e) {
    memset(o, 0, sizeof *o);
    o->command = "run";
    o->num_fewshot = -1;
    o->fewshot_seed = 1234;
    o->gpu_memory_utilization = 0.9;
    o->bootstrap_iters = 100000;
    *help = false;
    int i = 1;
    if (i < argc && argv[i][0] != '-') {
        const char *c = argv[i];
        int k;
        for (k = 0; k < 3; k++)
            if (strcmp(c, COMMANDS[k]) == 0) break;
        if (k == 3) {
            const char *near = ko_nearest(c, COMMANDS, 3);
            return near ? ko_fail(e, "unknown command '%s' (did you mean '%s'?)", c, near)
                        : ko_fail(e, "unknown command '%s' (commands: run, requests, tokenize)", c);
        }
        o->command = COMMANDS[k];
        i++;
    }
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            *help = true;
            return 0;
        }
        if (strncmp(a, "--", 2) != 0) return ko_fail(e, "unexpected argument '%s'", a);
        char name[64];
        const char *eq = strchr(a + 2, '=');
        size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        if (len >= sizeof name) len = sizeof name - 1;
        for (size_t k = 0; k < len; k++) name[k] = a[2 + k] == '-' ? '_' : a[2 + k];
        name[len] = 0;
        const flag *f = NULL;
        for (int k = 0; k < N_FLAGS; k++)
            if (strcmp(FLAGS[k].name, name) == 0) f = &FLAGS[k];
        if (!f) {
            const char *names[N_FLAGS];
            for (int k = 0; k < N_FLAGS; k++) names[k] = FLAGS[k].name;
            const char *near = ko_nearest(name, names, N_FLAGS);
            return near ? ko_fail(e, "unknown flag '--%s' (did you mean '--%s'?)", name, near)
                        : ko_fail(e, "unknown flag '--%s' (see --help)", name);
        }
        char *dst = (char *)o + f->offset;
        if (f->kind == ARG_FLAG) {
            if (eq) return ko_fail(e, "--%s takes no value", f->name);
            *(bool *)dst = true;
            continue;
        }
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v) return ko_fail(e, "--%s needs a value (%s)", f->name, f->metavar);
        if (f->kind == ARG_STR) {
            *(const char **)dst = v;
        } else if (f->kind == ARG_BATCH) {
            if (strcmp(v, "auto") == 0) *(int *)dst = 0;
            else if (parse_num(f->name, v, ARG_INT, dst, e)) return -1;
            else if (*(int *)dst == 0) return ko_fail(e, "--batch_size: must be 'auto' or a positive integer");
        } else if (parse_num(f->name, v, f->kind, dst, e)) {
            return -1;
        }
    }
    if (o->limit < 0 || (o->limit >= 1 && o->limit != (double)(long long)o->limit) || o->limit > 2147483647.0)
        return ko_fail(e, "--limit: must be a document count or a fraction below 1, got %g", o->limit);
    if (o->gpu_memory_utilization <= 0 || o->gpu_memory_utilization > 1)
        return ko_fail(e, "--gpu_memory_utilization: must be in (0, 1], got %g", o->gpu_memory_utilization);
    if (o->dtype && strcmp(o->dtype, "bfloat16") && strcmp(o->dtype, "float16") && strcmp(o->dtype, "float32") &&
        strcmp(o->dtype, "auto"))
        return ko_fail(e, "--dtype: unknown dtype '%s' (bfloat16, float16, float32)", o->dtype);
    if (o->dtype && strcmp(o->dtype, "auto") == 0) o->dtype = NULL;
    ko_dtype sd;
    if (o->softmax_dtype && strcmp(o->softmax_dtype, "auto") && ko_dtype_parse(o->softmax_dtype, &sd))
        return ko_fail(e, "--softmax_dtype: unknown dtype '%s' (auto, bfloat16, float16, float32)", o->softmax_dtype);
    if (o->softmax_dtype && strcmp(o->softmax_dtype, "auto") == 0) o->softmax_dtype = NULL;
    if (o->device && strcmp(o->device, "cpu") && strcmp(o->device, "cuda") && strncmp(o->device, "cuda:", 5))
        return ko_fail(e, "--device: unknown device '%s' (cpu, cuda, cuda:K)", o->device);
    if (o->device && strncmp(o->device, "cuda:", 5) == 0) {
        const char *k = o->device + 5;
        if (!*k || strspn(k, "0123456789") != strlen(k))
            return ko_fail(e, "--device: '%s' is not cuda:K with K a device number", o->device);
    }
    return 0;
}
