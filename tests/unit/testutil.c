/*
 * testutil.c - helpers the unit tests share: the temporary directory,
 * removing a tree, writing a file (see testutil.h). C library only.
 */
#define _GNU_SOURCE 1
#include <config.h>

#include "testutil.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir_buf[256];

const char *tu_tmpdir(const char *name)
{
    snprintf(dir_buf, sizeof dir_buf, "/tmp/test-%s-XXXXXX", name);
    if (!mkdtemp(dir_buf)) {
        printf("Bail out! cannot create %s: %s\n", dir_buf, strerror(errno));
        exit(99);
    }
    return dir_buf;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    if (remove(path) != 0 && errno != ENOENT) {
        printf("# cannot remove %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

int tu_rmtree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0 && errno == ENOENT)
        return 0;
    if (nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0) {
        printf("# cannot remove %s\n", path);
        return -1;
    }
    return 0;
}

char *tu_write_bytes(const char *dir, const char *name, const void *data, size_t n, mode_t mode)
{
    size_t len = strlen(dir) + 1 + strlen(name) + 1;
    char *path = malloc(len);
    if (!path) {
        printf("Bail out! out of memory\n");
        exit(99);
    }
    snprintf(path, len, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0 || chmod(path, mode) != 0) {
        printf("Bail out! cannot write %s: %s\n", path, strerror(errno));
        exit(99);
    }
    return path;
}

char *tu_write_file(const char *dir, const char *name, const char *text, mode_t mode)
{
    return tu_write_bytes(dir, name, text, strlen(text), mode);
}
