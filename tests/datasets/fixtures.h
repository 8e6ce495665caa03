/* fixtures.h — small files written by the dataset tests into a fresh folder under /tmp. */
#ifndef KO_TEST_FIXTURES_H
#define KO_TEST_FIXTURES_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/ko.h"

/* A new empty folder /tmp/koeval-<tag>-XXXXXX (malloc'd). */
static char *fx_tmpdir(const char *tag) {
    char *d = ko_xasprintf("/tmp/koeval-%s-XXXXXX", tag);
    if (!mkdtemp(d)) {
        perror("mkdtemp");
        exit(1);
    }
    return d;
}

/* Writes dir/rel (creating its folder) with n bytes of data. */
static void fx_write(const char *dir, const char *rel, const char *data, size_t n) {
    char *path = ko_xasprintf("%s/%s", dir, rel);
    char *slash = strrchr(path, '/');
    *slash = 0;
    ko_err e;
    if (ko_mkdirs(path, &e)) {
        printf("%s\n", e.msg);
        exit(1);
    }
    *slash = '/';
    if (ko_write_file_atomic(path, data, n, &e)) {
        printf("%s\n", e.msg);
        exit(1);
    }
    free(path);
}

static void fx_write_str(const char *dir, const char *rel, const char *text) { fx_write(dir, rel, text, strlen(text)); }

/* rm -rf of a folder this test made under /tmp. */
static void fx_rmdir(char *dir) {
    if (strncmp(dir, "/tmp/koeval-", 12) == 0) {
        char *cmd = ko_xasprintf("rm -rf '%s'", dir);
        if (system(cmd) != 0) printf("could not remove %s\n", dir);
        free(cmd);
    }
    free(dir);
}
#endif
