/* resolve.c — --model NAME -> a model folder or .gguf file (ko_model_resolve in model.h). No network:
 * only the local places below, in order, each recorded for the error message. */
#include "engine/model/model.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "engine/model/arch.h"

static bool is_gguf(const char *s) {
    size_t n = strlen(s);
    return n >= 5 && strcasecmp(s + n - 5, ".gguf") == 0;
}

static void looked(ko_buf *where, const char *fmt, const char *a, const char *b) {
    if (where->n) ko_buf_puts(where, ", ");
    ko_buf_printf(where, fmt, a, b);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The model inside a folder: the folder itself when it has config.json, else its only .gguf file.
 * 1 = found, 0 = not a model, -1 = several .gguf files (e says which). */
static int model_in_dir(const char *dir, char **out, ko_err *e) {
    char *cfg = ko_xasprintf("%s/config.json", dir);
    bool hf = ko_file_exists(cfg);
    free(cfg);
    if (hf) {
        *out = ko_xstrdup(dir);
        return 1;
    }
    DIR *d = opendir(dir);
    char **ggufs = NULL;
    int n = 0;
    for (struct dirent *de; d && (de = readdir(d));) {
        if (de->d_name[0] == '.' || !is_gguf(de->d_name)) continue;
        ggufs = ko_xrealloc(ggufs, (size_t)(n + 1) * sizeof *ggufs);
        ggufs[n++] = ko_xstrdup(de->d_name);
    }
    if (d) closedir(d);
    int rc = 0;
    if (n == 1) {
        *out = ko_xasprintf("%s/%s", dir, ggufs[0]);
        rc = 1;
    } else if (n > 1) {
        qsort(ggufs, (size_t)n, sizeof *ggufs, cmp_str);
        ko_buf b = {0};
        for (int i = 0; i < n; i++) ko_buf_printf(&b, "%s%s", i ? ", " : "", ggufs[i]);
        ko_fail(e, "%s holds several GGUF files (%s): pass the path of the one to load", dir, b.p);
        ko_buf_free(&b);
        rc = -1;
    }
    for (int i = 0; i < n; i++) free(ggufs[i]);
    free(ggufs);
    return rc;
}

/* A candidate path: a folder (model_in_dir) or a .gguf file. */
static int try_path(const char *p, char **out, ko_err *e) {
    if (ko_dir_exists(p)) return model_in_dir(p, out, e);
    if (is_gguf(p) && ko_file_exists(p)) {
        *out = ko_xstrdup(p);
        return 1;
    }
    return 0;
}

/* One hub repository folder (models--ORG--NAME): refs/main's snapshot first, then the newest. */
static int from_repo(const char *repo, char **out, ko_err *e) {
    char *ref = ko_xasprintf("%s/refs/main", repo);
    ko_buf b = {0};
    ko_err ignore;
    int rc = 0;
    if (ko_file_exists(ref) && ko_read_file(ref, &b, &ignore) == 0 && b.n > 0 && b.n < 100) {
        while (b.n && (b.p[b.n - 1] == '\n' || b.p[b.n - 1] == '\r' || b.p[b.n - 1] == ' ')) b.p[--b.n] = 0;
        if (!strchr(b.p, '/') && strcmp(b.p, "..") != 0) {
            char *snap = ko_xasprintf("%s/snapshots/%s", repo, b.p);
            rc = try_path(snap, out, e);
            free(snap);
        }
    }
    ko_buf_free(&b);
    free(ref);
    if (rc != 0) return rc;
    char *snaps = ko_xasprintf("%s/snapshots", repo);
    DIR *d = opendir(snaps);
    char *best = NULL;
    double best_t = -1;
    for (struct dirent *de; d && (de = readdir(d));) {
        if (de->d_name[0] == '.') continue;
        char *p = ko_xasprintf("%s/%s", snaps, de->d_name);
        char *found = NULL;
        struct stat sb;
        int r = try_path(p, &found, e);
        if (r < 0) {
            rc = -1;
        } else if (r > 0 && stat(p, &sb) == 0) {
            double t = (double)sb.st_mtim.tv_sec + 1e-9 * (double)sb.st_mtim.tv_nsec;
            if (t > best_t) {
                free(best);
                best = found;
                found = NULL;
                best_t = t;
            }
        }
        free(found);
        free(p);
        if (rc < 0) break;
    }
    if (d) closedir(d);
    free(snaps);
    if (rc < 0 || !best) {
        free(best);
        return rc;
    }
    *out = best;
    return 1;
}

/* <hub>/models--ORG--NAME; without an ORG, every models--*--NAME (one must match). */
static int from_hub(const char *hub, const char *name, ko_buf *where, char **out, ko_err *e) {
    const char *slash = strchr(name, '/');
    if (slash) {
        if (strchr(slash + 1, '/')) return 0;
        char *repo = ko_xasprintf("%s/models--%.*s--%s", hub, (int)(slash - name), name, slash + 1);
        looked(where, "%s/snapshots/%s", repo, "*");
        int rc = ko_dir_exists(repo) ? from_repo(repo, out, e) : 0;
        free(repo);
        return rc;
    }
    looked(where, "%s/models--*--%s", hub, name);
    DIR *d = opendir(hub);
    char *match = NULL;
    int rc = 0;
    size_t nn = strlen(name);
    for (struct dirent *de; d && (de = readdir(d)) && rc >= 0;) {
        const char *s = de->d_name;
        size_t n = strlen(s);
        if (strncmp(s, "models--", 8) != 0 || n < 8 + nn) continue;
        const char *tail = s + n - nn;
        /* models--NAME (a repository without an organisation) or models--ORG--NAME */
        bool hit = strcmp(tail, name) == 0 && (n == 8 + nn || (n >= 8 + 1 + 2 + nn && strncmp(tail - 2, "--", 2) == 0));
        if (!hit) continue;
        if (match) {
            rc = ko_fail(e, "model '%s' is ambiguous in %s: %s and %s; pass ORG/NAME", name, hub, match, s);
            break;
        }
        match = ko_xstrdup(s);
    }
    if (d) closedir(d);
    if (rc == 0 && match) {
        char *repo = ko_xasprintf("%s/%s", hub, match);
        rc = from_repo(repo, out, e);
        free(repo);
    }
    free(match);
    return rc;
}

int ko_model_resolve(const char *name, char **path, ko_err *e) {
    *path = NULL;
    if (!name || !*name) return ko_fail(e, "--model: empty model name");
    struct stat sb;
    if (stat(name, &sb) == 0) {
        /* a folder: itself (HF) or the one .gguf inside it; without either, ko_model_load says why */
        int rc = S_ISDIR(sb.st_mode) ? model_in_dir(name, path, e) : 0;
        if (rc < 0) return ko_err_one_line(e);
        if (rc > 0) return 0;
        if (S_ISDIR(sb.st_mode) || is_gguf(name)) {
            *path = ko_xstrdup(name);
            return 0;
        }
        return ko_fail(e, "%s: a file, but not a .gguf: pass the model's folder (config.json + safetensors) or a "
                          ".gguf file", name);
    }
    /* An explicit path that does not exist is not a name to look up. */
    if (name[0] == '/' || strncmp(name, "./", 2) == 0 || strncmp(name, "../", 3) == 0)
        return ko_fail(e, "%s: no such file or folder", name);

    ko_buf where = {0};
    looked(&where, "./%s%s", name, "");
    int rc = 0;
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;

    /* $KOEVAL_MODELS: a colon-separated list of folders holding models by name. */
    const char *km = getenv("KOEVAL_MODELS");
    if (!km || !*km) looked(&where, "$KOEVAL_MODELS%s%s", " (unset)", "");
    char *list = ko_xstrdup(km ? km : "");
    for (char *save = NULL, *dir = strtok_r(list, ":", &save); dir && rc == 0; dir = strtok_r(NULL, ":", &save)) {
        const char *cands[3] = {name, base != name ? base : NULL, NULL};
        for (int i = 0; i < 2 && rc == 0; i++) {
            if (!cands[i]) continue;
            char *p = ko_xasprintf("%s/%s", dir, cands[i]);
            looked(&where, "%s%s", p, "");
            rc = try_path(p, path, e);
            free(p);
            if (rc == 0 && !is_gguf(cands[i])) {
                p = ko_xasprintf("%s/%s.gguf", dir, cands[i]);
                rc = try_path(p, path, e);
                free(p);
            }
        }
    }
    free(list);

    /* The Hugging Face cache, as huggingface_hub lays it out. */
    const char *env_hub = getenv("HF_HUB_CACHE"), *env_home = getenv("HF_HOME"), *home = getenv("HOME");
    char *hubs[3] = {env_hub && *env_hub ? ko_xstrdup(env_hub) : NULL,
                     env_home && *env_home ? ko_xasprintf("%s/hub", env_home) : NULL,
                     home && *home ? ko_xasprintf("%s/.cache/huggingface/hub", home) : NULL};
    for (int i = 0; i < 3 && rc == 0; i++) {
        if (!hubs[i]) continue;
        bool dup = false;
        for (int j = 0; j < i; j++) dup = dup || (hubs[j] && strcmp(hubs[j], hubs[i]) == 0);
        if (!dup) rc = from_hub(hubs[i], name, &where, path, e);
    }
    for (int i = 0; i < 3; i++) free(hubs[i]);

    if (rc == 0) ko_fail(e, "model '%s' not found (no network lookups); looked in: %s", name, where.p);
    ko_buf_free(&where);
    return rc > 0 ? 0 : ko_err_one_line(e);
}
