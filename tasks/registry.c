/* registry.c — task and group names, loading a task's config (embedded JSON, tasks/configs/) and
 * describing it for results (config JSON, version). */
#include <stdlib.h>
#include <string.h>

#include "tasks/embedded.h"
#include "tasks/task_impl.h"
#include "tasks/template.h"

/* Embedded files --------------------------------------------------------------------------------- */

static const ko_embedded_file *find_file(const char *name) {
    for (int i = 0; i < ko_task_config_files_n; i++)
        if (!strcmp(ko_task_config_files[i].name, name)) return &ko_task_config_files[i];
    return NULL;
}

static int parse_file(const ko_embedded_file *f, cJSON **out, ko_err *e) {
    *out = cJSON_ParseWithLength(f->data, f->len);
    if (!*out || !cJSON_IsObject(*out)) {
        cJSON_Delete(*out);
        return ko_fail(e, "task config %s.json: not a JSON object", f->name);
    }
    return 0;
}

/* Group file's task list (array of strings) or NULL when the file is a task config. */
static const cJSON *group_tasks(const cJSON *cfg) {
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(cfg, "group");
    const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(cfg, "task");
    return cJSON_IsString(g) && cJSON_IsArray(tasks) ? tasks : NULL;
}

/* Names: every task and group file name plus the groups' aliases (built once, static storage). */
static const char **known_names;
static int n_known;

int ko_tasks_known(const char *const **names) {
    if (!known_names) {
        int cap = ko_task_config_files_n + 8;
        known_names = ko_xmalloc(sizeof(char *) * (size_t)cap);
        for (int i = 0; i < ko_task_config_files_n; i++) {
            known_names[n_known++] = ko_task_config_files[i].name;
            cJSON *cfg = cJSON_ParseWithLength(ko_task_config_files[i].data, ko_task_config_files[i].len);
            const cJSON *al, *aliases = cJSON_GetObjectItemCaseSensitive(cfg, "aliases");
            cJSON_ArrayForEach(al, aliases) {
                if (!cJSON_IsString(al)) continue;
                if (n_known == cap) known_names = ko_xrealloc(known_names, sizeof(char *) * (size_t)(cap *= 2));
                known_names[n_known++] = ko_xstrdup(al->valuestring);
            }
            cJSON_Delete(cfg);
        }
    }
    *names = known_names;
    return n_known;
}

/* The file that defines `name` (a task, a group, or a group's alias). */
static const ko_embedded_file *resolve(const char *name) {
    const ko_embedded_file *f = find_file(name);
    if (f) return f;
    for (int i = 0; i < ko_task_config_files_n; i++) {
        cJSON *cfg = cJSON_ParseWithLength(ko_task_config_files[i].data, ko_task_config_files[i].len);
        const cJSON *al, *aliases = cJSON_GetObjectItemCaseSensitive(cfg, "aliases");
        cJSON_ArrayForEach(al, aliases)
            if (cJSON_IsString(al) && !strcmp(al->valuestring, name)) f = &ko_task_config_files[i];
        cJSON_Delete(cfg);
        if (f) return f;
    }
    return NULL;
}

static int unknown_task(const char *name, ko_err *e) {
    const char *const *names;
    int n = ko_tasks_known(&names);
    const char *near = ko_nearest(name, names, n);
    if (near) return ko_fail(e, "unknown task \"%s\" (did you mean \"%s\"?)", name, near);
    return ko_fail(e, "unknown task \"%s\" (known: kobest_all, kobest_boolq, kobest_copa, kobest_hellaswag, "
                      "kobest_sentineg, kobest_wic)", name);
}

static void add_unique(char ***names, int *n, const char *name) {
    for (int i = 0; i < *n; i++)
        if (!strcmp((*names)[i], name)) return;
    *names = ko_xrealloc(*names, sizeof(char *) * (size_t)(*n + 1));
    (*names)[(*n)++] = ko_xstrdup(name);
}

static int expand_one(const char *name, char ***names, int *n, int depth, ko_err *e) {
    const ko_embedded_file *f = resolve(name);
    if (!f) return unknown_task(name, e);
    cJSON *cfg;
    if (parse_file(f, &cfg, e) < 0) return -1;
    const cJSON *tasks = group_tasks(cfg), *t;
    int rc = 0;
    if (!tasks) add_unique(names, n, f->name);
    else if (depth > 8) rc = ko_fail(e, "task group %s: nested too deeply", f->name);
    else
        cJSON_ArrayForEach(t, tasks) {
            if (!cJSON_IsString(t)) { rc = ko_fail(e, "task group %s.json: \"task\" must list names", f->name); break; }
            if ((rc = expand_one(t->valuestring, names, n, depth + 1, e)) < 0) break;
        }
    cJSON_Delete(cfg);
    return rc;
}

/* The next comma-separated, space-trimmed name of a --tasks spec (in place), or NULL at the end. */
static char *spec_next(char **save, char *copy) {
    for (char *tok = strtok_r(copy, ",", save); tok; tok = strtok_r(NULL, ",", save)) {
        while (*tok == ' ') tok++;
        size_t len = strlen(tok);
        while (len && tok[len - 1] == ' ') tok[--len] = 0;
        if (len) return tok;
    }
    return NULL;
}

int ko_tasks_expand(const char *spec, char ***names, int *n, ko_err *e) {
    *names = NULL;
    *n = 0;
    char *copy = ko_xstrdup(spec ? spec : "");
    int rc = 0;
    for (char *save = NULL, *tok = spec_next(&save, copy); tok; tok = spec_next(&save, NULL))
        if ((rc = expand_one(tok, names, n, 0, e)) < 0) break;
    free(copy);
    if (rc == 0 && *n == 0) rc = ko_fail(e, "no tasks given (try --tasks kobest_all)");
    if (rc < 0) {
        for (int i = 0; i < *n; i++) free((*names)[i]);
        free(*names);
        *names = NULL;
        *n = 0;
    }
    return rc;
}

char *ko_tasks_group_name(const char *spec) {
    char *copy = ko_xstrdup(spec ? spec : ""), *group = NULL;
    for (char *save = NULL, *tok = spec_next(&save, copy); tok && !group; tok = spec_next(&save, NULL)) {
        const ko_embedded_file *f = resolve(tok);
        cJSON *cfg;
        ko_err e;
        if (!f || parse_file(f, &cfg, &e) < 0) continue;
        if (group_tasks(cfg)) {
            const cJSON *lm = cJSON_GetObjectItemCaseSensitive(cfg, "lm_eval_group");
            group = ko_xstrdup(cJSON_IsString(lm) ? lm->valuestring : f->name);
        }
        cJSON_Delete(cfg);
    }
    free(copy);
    return group;
}

/* Loading a task ----------------------------------------------------------------------------------- */

static const char *get_str(const cJSON *cfg, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int require_str(ko_task *t, const char *key, const char **out, ko_err *e) {
    *out = get_str(t->cfg, key);
    if (!*out) return ko_fail(e, "task config %s.json: missing string \"%s\"", t->name, key);
    return 0;
}

static int load_metrics(ko_task *t, ko_err *e) {
    const cJSON *m, *list = cJSON_GetObjectItemCaseSensitive(t->cfg, "metric_list");
    if (!cJSON_IsArray(list)) return ko_fail(e, "task config %s.json: missing \"metric_list\"", t->name);
    t->metrics = ko_xcalloc((size_t)cJSON_GetArraySize(list) + 1, sizeof(char *));
    cJSON_ArrayForEach(m, list) {
        const char *name = get_str(m, "metric");
        if (!name) return ko_fail(e, "task config %s.json: a metric_list entry has no \"metric\"", t->name);
        t->metrics[t->n_metrics++] = name;
    }
    return 0;
}

static int check_templates(ko_task *t, ko_err *e) {
    const cJSON *c;
    if (ko_template_check(t->doc_to_text, t->maps, e) < 0 || ko_template_check(t->doc_to_target, t->maps, e) < 0)
        return ko_fail_prefix(e, "task config %s.json", t->name);
    if (!cJSON_IsArray(t->doc_to_choice) || cJSON_GetArraySize(t->doc_to_choice) < 1)
        return ko_fail(e, "task config %s.json: \"doc_to_choice\" must be a non-empty list of templates", t->name);
    cJSON_ArrayForEach(c, t->doc_to_choice) {
        if (!cJSON_IsString(c)) return ko_fail(e, "task config %s.json: \"doc_to_choice\" must list strings", t->name);
        if (ko_template_check(c->valuestring, t->maps, e) < 0) return ko_fail_prefix(e, "task config %s.json", t->name);
    }
    return 0;
}

static int load_fields(ko_task *t, ko_err *e) {
    const char *out_type;
    if (require_str(t, "task", &out_type, e) < 0) return -1;
    if (strcmp(out_type, t->name))
        return ko_fail(e, "task config %s.json: \"task\" is \"%s\", not the file's name", t->name, out_type);
    if (require_str(t, "output_type", &out_type, e) < 0) return -1;
    if (strcmp(out_type, "multiple_choice"))
        return ko_fail(e, "task config %s.json: output_type \"%s\" is not supported (only multiple_choice)", t->name, out_type);
    if (require_str(t, "dataset_name", &t->dataset_name, e) < 0 || require_str(t, "test_split", &t->test_split, e) < 0 ||
        require_str(t, "doc_to_text", &t->doc_to_text, e) < 0 || require_str(t, "doc_to_target", &t->doc_to_target, e) < 0)
        return -1;
    t->training_split = get_str(t->cfg, "training_split");
    t->validation_split = get_str(t->cfg, "validation_split");
    t->fewshot_split = get_str(t->cfg, "fewshot_split");
    t->description = get_str(t->cfg, "description");
    t->target_delimiter = get_str(t->cfg, "target_delimiter");
    t->fewshot_delimiter = get_str(t->cfg, "fewshot_delimiter");
    if (!t->description) t->description = "";          /* lm-eval TaskConfig defaults */
    if (!t->target_delimiter) t->target_delimiter = " ";
    if (!t->fewshot_delimiter) t->fewshot_delimiter = "\n\n";
    t->doc_to_choice = cJSON_GetObjectItemCaseSensitive(t->cfg, "doc_to_choice");
    t->maps = cJSON_GetObjectItemCaseSensitive(t->cfg, "maps");
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(t->cfg, "metadata");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(md, "version");
    t->version = cJSON_IsNumber(v) ? v->valuedouble : 0.0;
    if (check_templates(t, e) < 0) return -1;
    return load_metrics(t, e);
}

int ko_task_load(const char *name, ko_task **out, ko_err *e) {
    *out = NULL;
    const ko_embedded_file *f = find_file(name);
    if (!f) return unknown_task(name, e);
    ko_task *t = ko_xcalloc(1, sizeof *t);
    t->name = ko_xstrdup(name);
    if (parse_file(f, &t->cfg, e) < 0) { ko_task_free(t); return -1; }
    if (group_tasks(t->cfg)) {
        ko_task_free(t);
        return ko_fail(e, "%s is a group of tasks, not a task (expand it with ko_tasks_expand)", name);
    }
    if (load_fields(t, e) < 0) { ko_task_free(t); return -1; }
    *out = t;
    return 0;
}

void ko_task_free(ko_task *t) {
    if (!t) return;
    ko_task_requests_free(t);
    free(t->metrics);
    cJSON_Delete(t->cfg);
    free(t->name);
    free(t);
}

const char *ko_task_name(const ko_task *t) { return t->name; }
double ko_task_version(const ko_task *t) { return t->version; }

int ko_task_metric_names(const ko_task *t, const char *const **names) {
    *names = t->metrics;
    return t->n_metrics;
}

/* The config as lm-eval reports it in results["configs"][task]: the config file's fields (less the
 * koeval-only "_comment" and "maps"), plus num_fewshot, fewshot_seed and lm-eval's defaults. */
cJSON *ko_task_config_json(const ko_task *t, int num_fewshot, unsigned fewshot_seed) {
    cJSON *o = cJSON_CreateObject(), *it;
    cJSON_ArrayForEach(it, t->cfg) {
        if (!strcmp(it->string, "_comment") || !strcmp(it->string, "maps") || !strcmp(it->string, "metadata")) continue;
        cJSON_AddItemToObject(o, it->string, cJSON_Duplicate(it, true));
    }
    if (!cJSON_GetObjectItemCaseSensitive(o, "description")) cJSON_AddStringToObject(o, "description", t->description);
    if (!cJSON_GetObjectItemCaseSensitive(o, "target_delimiter")) cJSON_AddStringToObject(o, "target_delimiter", t->target_delimiter);
    if (!cJSON_GetObjectItemCaseSensitive(o, "fewshot_delimiter")) cJSON_AddStringToObject(o, "fewshot_delimiter", t->fewshot_delimiter);
    cJSON_AddNumberToObject(o, "num_fewshot", num_fewshot < 0 ? 0 : num_fewshot);
    cJSON_AddNumberToObject(o, "repeats", 1);
    cJSON_AddBoolToObject(o, "should_decontaminate", false);
    cJSON *md = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(t->cfg, "metadata"), true);
    if (!md) md = cJSON_CreateObject();
    cJSON_AddNumberToObject(md, "fewshot_seed", fewshot_seed);
    cJSON_AddItemToObject(o, "metadata", md);
    return o;
}
