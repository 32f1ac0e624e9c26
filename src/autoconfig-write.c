/*
 * autoconfig-write.c - `--configure ADDRESS --write`: appending the
 * account block to a configuration file safely (autoconfig_write, see
 * autoconfig-int.h).
 *
 * Owns: the rules of the append: never an account of a name the file
 * has already (the file is parsed with the real parser first); the old
 * content kept in FILE~; the new content parsed again before it is
 * written; a temporary file in the same directory, mode 0600 (or the
 * old file's mode when that is stricter), fsync'd and renamed over the
 * file, the directory fsync'd; a symbolic link written through (its
 * target is replaced, the link stays).
 *
 * Must not: change a file that is not a regular file owned by the user,
 * leave a temporary file behind, or change the file when anything fails.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "autoconfig-int.h"
#include "i18n.h"
#include "log.h"
#include "smtprc.h"
#include "util.h"

#define CONFIG_MAX (16 * 1024 * 1024)

/* util_replace_file with the failure as r. */
static int replace_file(const char *path, const char *text, size_t len, mode_t mode,
                        struct result *r)
{
    if (util_replace_file(path, text, len, mode) != 0) {
        result_set(r, RC_CANTCREAT, _("cannot write %s: %s"), path, strerror(errno));
        return -1;
    }
    return 0;
}

int autoconfig_write(const char *path, const char *account, const char *block,
                     struct result *r)
{
    char *target = NULL;
    struct file_data old = FILE_DATA_INIT;
    struct config *cfg = NULL;
    char *backup = NULL;
    struct buf text = BUF_INIT;
    int rc = -1;
    struct stat st;
    bool exists = lstat(path, &st) == 0;
    int lstat_errno = exists ? 0 : errno;

    if (exists && S_ISLNK(st.st_mode)) {
        /* Written through: the link (a dotfiles repository's) stays and
         * its target gets the account. */
        target = realpath(path, NULL);
        if (!target) {
            result_set(r, RC_CANTCREAT, _("%s is a symbolic link that leads nowhere (%s); "
                                          "not written"), path, strerror(errno));
            goto out;
        }
        exists = lstat(target, &st) == 0;
        lstat_errno = exists ? 0 : errno;
    } else {
        target = xstrdup(path);
    }
    if (!exists && lstat_errno != ENOENT) {
        result_set(r, RC_CANTCREAT, _("cannot write %s: %s"), target, strerror(lstat_errno));
        goto out;
    }
    mode_t mode = 0600;
    if (exists) {
        if (!S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
            result_set(r, RC_CANTCREAT, _("%s is not a regular file of yours; not written"),
                       target);
            goto out;
        }
        int rd = util_read_file(target, CONFIG_MAX, true, &old);
        if (rd != 0) {
            char *why = util_read_file_error(target, rd, errno, CONFIG_MAX);
            result_set(r, RC_CANTCREAT, "%s", why);
            free(why);
            goto out;
        }
        mode = st.st_mode & 0600;     /* the old mode when it is stricter */
        if (old.data && memchr(old.data, '\0', old.len)) {
            result_set(r, RC_CONFIG, _("%s holds a NUL byte; not written"), target);
            goto out;
        }
        cfg = config_new();
        if (config_parse_string(cfg, old.data ? old.data : "", target, r) != 0)
            goto out;
        if (config_find(cfg, account)) {
            result_set(r, RC_CANTCREAT, _("%s has an account %s already; it is left as it is "
                                          "(remove or rename that account, or copy the block "
                                          "printed without --write)"), target, account);
            goto out;
        }
        config_free(cfg);
        cfg = NULL;
    }
    if (old.len) {
        buf_append(&text, old.data, old.len);
        if (old.data[old.len - 1] != '\n')
            buf_putc(&text, '\n');
        buf_putc(&text, '\n');
    }
    buf_puts(&text, block);
    /* What is written must read back (and hold the account). */
    cfg = config_new();
    struct result pr = RESULT_INIT;
    if (config_parse_string(cfg, text.data, target, &pr) != 0 || !config_find(cfg, account)) {
        result_set(r, RC_SOFTWARE, _("the account block for %s does not parse (%s); not "
                                     "written"), target, pr.msg ? pr.msg : account);
        result_clear(&pr);
        goto out;
    }
    if (exists) {
        backup = xasprintf("%s~", target);
        if (replace_file(backup, old.data ? old.data : "", old.len, mode, r) != 0)
            goto out;
    }
    if (replace_file(target, text.data, text.len, mode, r) != 0)
        goto out;
    if (backup)
        log_debug(0, _("wrote account %s to %s (the old content is in %s)"), account, target,
                  backup);
    else
        log_debug(0, _("wrote account %s to the new file %s"), account, target);
    rc = 0;
out:
    if (text.data)
        secure_wipe(text.data, text.cap);
    buf_free(&text);
    util_file_free(&old);
    config_free(cfg);
    free(backup);
    free(target);
    return rc;
}
