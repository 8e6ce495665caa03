/* locate.c — where the KoBEST data lives (see ko_dataset_locate in datasets.h). */
#include "datasets/datasets.h"

#include <dirent.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HOW_TO_GET                                                                                      \
    "get the TSVs with `git clone https://github.com/SKT-LSL/KoBEST_datarepo` and pass --data_dir "     \
    "KoBEST_datarepo/v1.0 (or set KOEVAL_DATA), or run lm-eval once on kobest so that the Hugging Face " \
    "hub cache holds skt/kobest_v1"

/* A folder holds KoBEST if a test split is there in either layout. */
static bool has_data(const char *dir) {
    static const char *const probes[] = {"BoolQ/test.tsv", "COPA/test.tsv", "WiC/test.tsv", "HellaSwag/test.tsv",
                                         "SentiNeg/test.tsv", "boolq/test.jsonl", "copa/test.jsonl", "wic/test.jsonl",
                                         "hellaswag/test.jsonl", "sentineg/test.jsonl", "boolq/test.json"};
    for (size_t i = 0; i < sizeof probes / sizeof *probes; i++) {
        char *p = ko_xasprintf("%s/%s", dir, probes[i]);
        bool ok = ko_file_exists(p);
        free(p);
        if (ok) return true;
    }
    return false;
}

/* Records a place looked at, for the error message. */
static void looked(ko_buf *where, const char *dir) {
    ko_buf_printf(where, "%s%s", where->n ? ", " : "", dir);
}

static int found(const char *dir, char **out_dir) {
    char *real = realpath(dir, NULL);
    *out_dir = real ? real : ko_xstrdup(dir);
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* <hub>/datasets--skt--kobest_v1/snapshots/<any>/ with data; the newest-named snapshot first. */
static bool from_hub(const char *hub, ko_buf *where, char **out_dir) {
    char *snaps = ko_xasprintf("%s/datasets--skt--kobest_v1/snapshots", hub);
    looked(where, snaps);
    DIR *d = opendir(snaps);
    char **names = NULL;
    int n = 0;
    for (struct dirent *de; d && (de = readdir(d));) {
        if (de->d_name[0] == '.') continue;
        names = ko_xrealloc(names, (size_t)(n + 1) * sizeof *names);
        names[n++] = ko_xasprintf("%s/%s", snaps, de->d_name);
    }
    if (d) closedir(d);
    if (n > 1) qsort(names, (size_t)n, sizeof *names, cmp_str);
    bool ok = false;
    for (int i = n - 1; i >= 0 && !ok; i--)
        if (has_data(names[i])) ok = found(names[i], out_dir) == 0;
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    free(snaps);
    return ok;
}

static int explicit_place(const char *dir, const char *how, char **out_dir, ko_err *e) {
    if (has_data(dir)) return found(dir, out_dir);
    if (!ko_dir_exists(dir)) return ko_fail(e, "%s (%s): no such folder; %s", dir, how, HOW_TO_GET);
    return ko_fail(e, "%s (%s): no KoBEST data there (expected BoolQ/test.tsv ... or boolq/test.jsonl ...); %s", dir,
                   how, HOW_TO_GET);
}

int ko_dataset_locate(const char *explicit_dir, char **out_dir, ko_err *e) {
    *out_dir = NULL;
    if (explicit_dir && *explicit_dir) return explicit_place(explicit_dir, "from --data_dir", out_dir, e);
    const char *env = getenv("KOEVAL_DATA");
    if (env && *env) return explicit_place(env, "from KOEVAL_DATA", out_dir, e);

    ko_buf where = {0};
    const char *home = getenv("HOME"), *hf_home = getenv("HF_HOME");
    char *hubs[4] = {
        getenv("HF_DATASETS_CACHE") ? ko_xstrdup(getenv("HF_DATASETS_CACHE")) : NULL,
        getenv("HF_HUB_CACHE") ? ko_xstrdup(getenv("HF_HUB_CACHE")) : NULL,
        hf_home ? ko_xasprintf("%s/hub", hf_home) : NULL,
        home ? ko_xasprintf("%s/.cache/huggingface/hub", home) : NULL,
    };
    bool ok = false;
    for (int i = 0; i < 4 && !ok; i++)
        if (hubs[i]) ok = from_hub(hubs[i], &where, out_dir);
    for (int i = 0; i < 4; i++) free(hubs[i]);

    if (!ok) { /* ../shared/datasets/kobest_v1 beside the checkout the binary lives in */
        char exe[4096];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n > 0) {
            exe[n] = 0;
            char *beside = ko_xasprintf("%s/../shared/datasets/kobest_v1", dirname(exe));
            looked(&where, beside);
            if (has_data(beside)) ok = found(beside, out_dir) == 0;
            free(beside);
        }
    }
    int rc = ok ? 0 : ko_fail(e, "KoBEST data not found (looked in %s); %s", where.p ? where.p : "nowhere", HOW_TO_GET);
    ko_buf_free(&where);
    return rc;
}
