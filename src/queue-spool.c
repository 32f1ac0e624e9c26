/*
 * queue-spool.c - the spool directories (queue.h, "Storage"): where a
 * spool lives, which spools a configuration has, what may be trusted in
 * one (owner and mode of its directories and entries, regular files
 * only), new entry ids, fsync of a directory, and the leftovers of
 * killed processes in tmp/.
 *
 * It reads no entry and writes none: the entry files, their locks and
 * durable writes are queue-store.c's. It prints nothing but debug lines.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "i18n.h"
#include "log.h"
#include "queue.h"
#include "queue-int.h"
#include "smtprc.h"

#define QUEUE_TMP_MAX_AGE 3600      /* tmp/ files older: leftovers of a killed process */

/* ---- what may be trusted in a spool ----------------------------------- */

/* A spool is one user's: whatever is in it is delivered with that user's
 * account. So its directories must belong to the user (or to root, who
 * can write anywhere anyway) and be writable by nobody else, the sticky
 * bit notwithstanding: in a sticky shared directory others can still
 * create entries, FIFOs and links that every run would have to refuse.
 * Every entry must be a regular file (not a FIFO, which would block the
 * open, not a link), owned by the running user (root included: root
 * delivering a user's entries would send that user's mail with root's
 * account, the same attack the other way round), and writable by nobody
 * else. What fails these rules is refused with RC_CONFIG and left where
 * it is: never delivered, listed as ours, moved or removed. */

/* "it is a named pipe (FIFO), not a regular file", ... (translated). */
static const char *file_type_reason(mode_t mode)
{
    if (S_ISLNK(mode))
        return _("it is a symbolic link");
    if (S_ISFIFO(mode))
        return _("it is a named pipe (FIFO), not a regular file");
    if (S_ISDIR(mode))
        return _("it is a directory, not a regular file");
    if (S_ISSOCK(mode))
        return _("it is a socket, not a regular file");
    if (S_ISCHR(mode) || S_ISBLK(mode))
        return _("it is a device, not a regular file");
    return _("it is not a regular file");
}

static void refuse_entry(struct result *r, const char *path, const char *why, const char *what_to_do)
{
    result_set(r, RC_CONFIG, _("refusing the spool entry %s: %s; it is neither delivered nor "
                               "removed: %s"), path, why, what_to_do);
}

/* Refuse an entry of the wrong type, owner or mode (RC_CONFIG); 0 if it
 * may be trusted. */
static int check_entry_stat(const char *path, const struct stat *st, struct result *r)
{
    if (!S_ISREG(st->st_mode)) {
        refuse_entry(r, path, file_type_reason(st->st_mode),
                     _("remove it or move it out of the spool"));
        return -1;
    }
    if (st->st_uid != geteuid()) {
        char *why = xasprintf(_("it belongs to uid %ld, not to you (uid %ld)"),
                              (long)st->st_uid, (long)geteuid());
        refuse_entry(r, path, why, _("only its owner may send it; remove it if nobody should"));
        free(why);
        return -1;
    }
    if (st->st_mode & (S_IWGRP | S_IWOTH)) {
        char *why = xasprintf(_("it is writable by its group or by others (mode %04o)"),
                              (unsigned)(st->st_mode & 07777));
        refuse_entry(r, path, why,
                     _("remove it, or if it is yours, make it writable only by you "
                       "(chmod go-w)"));
        free(why);
        return -1;
    }
    return 0;
}

int queue_open_entry_file(const char *path, int *fd, struct result *r)
{
    struct stat lst, st;
    *fd = -1;
    /* Look before opening: a FIFO or a device is never opened at all. */
    if (lstat(path, &lst) != 0) {
        if (errno == ENOENT)
            return 1;
        result_set(r, RC_IOERR, _("cannot open the spool entry %s: %s"), path, strerror(errno));
        return -1;
    }
    if (check_entry_stat(path, &lst, r) != 0)
        return -1;
    /* It may have been replaced since: never follow a link, never wait
     * for a writer, and look again at what was opened. */
    *fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
    if (*fd < 0) {
        int err = errno;
        if (err == ENOENT)
            return 1;
        if (err == ELOOP)
            refuse_entry(r, path, file_type_reason(S_IFLNK),
                         _("remove it or move it out of the spool"));
        else
            result_set(r, RC_IOERR, _("cannot open the spool entry %s: %s"), path,
                       strerror(err));
        return -1;
    }
    if (fstat(*fd, &st) != 0) {
        result_set(r, RC_IOERR, _("cannot read the spool entry %s: %s"), path, strerror(errno));
    } else if (check_entry_stat(path, &st, r) == 0) {
        int fl = fcntl(*fd, F_GETFL);
        if (fl >= 0)
            (void)fcntl(*fd, F_SETFL, fl & ~O_NONBLOCK);
        return 0;
    }
    close(*fd);
    *fd = -1;
    return -1;
}

/* Check one spool directory (the spool or one of its subdirectories); a
 * missing one is fine (created when needed, empty until then), and so is
 * something else than a directory here: creating, reading or listing
 * through it fails with its own error (it cannot hold entries). */
static int check_dir(const char *path, struct result *r)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;
        result_set(r, RC_IOERR, _("cannot read the spool directory %s: %s"), path,
                   strerror(errno));
        return -1;
    }
    char *why = NULL;
    const char *what_to_do = _("make it writable only by you (chmod go-w)");
    if (!S_ISDIR(st.st_mode)) {
        return 0;
    } else if (st.st_uid != geteuid() && st.st_uid != 0) {
        why = xasprintf(_("it belongs to uid %ld, neither to you (uid %ld) nor to root"),
                        (long)st.st_uid, (long)geteuid());
        what_to_do = _("set queue_dir to a directory of your own");
    } else if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        why = xasprintf(_("it is writable by its group or by others (mode %04o)"),
                        (unsigned)(st.st_mode & 07777));
    }
    if (!why)
        return 0;
    result_set(r, RC_CONFIG, _("refusing the spool directory %s: %s; nothing in it is "
                               "delivered, listed or queued: %s"), path, why, what_to_do);
    free(why);
    return -1;
}

int queue_dir_check(const char *dir, struct result *r)
{
    static const char *const subs[] = { "tmp", "new", "failed" };
    if (check_dir(dir, r) != 0)
        return -1;
    for (size_t i = 0; i < 3; i++) {
        char *sub = xasprintf("%s/%s", dir, subs[i]);
        int rc = check_dir(sub, r);
        free(sub);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* ---- paths and ids ---------------------------------------------------- */

char *queue_dir_path(const struct account *a, struct result *r)
{
    char *dir = NULL;
    char *state = NULL;
    if (a && a->queue_dir && *a->queue_dir)
        dir = xstrdup(a->queue_dir);
    else if ((state = util_state_dir()) != NULL)
        dir = xasprintf("%s/queue", state);
    free(state);
    if (!dir) {
        result_set(r, RC_CONFIG,
                   _("cannot find the spool directory: the user has no home directory; "
                     "set queue_dir in the configuration"));
        return NULL;
    }
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        dir[--len] = '\0';
    return dir;
}

char *queue_dir(const struct account *a, bool create, struct result *r)
{
    char *dir = queue_dir_path(a, r);
    if (!dir)
        return NULL;
    if (queue_dir_check(dir, r) != 0) {
        free(dir);
        return NULL;
    }
    if (!create)
        return dir;

    static const char *const subs[] = { "tmp", "new", "failed" };
    for (size_t i = 0; i < 3; i++) {
        char *sub = xasprintf("%s/%s", dir, subs[i]);
        int rc = mkdir(sub, 0700);
        if (rc != 0 && errno == ENOENT)
            rc = util_make_dirs(sub);
        if (rc != 0 && errno != EEXIST) {
            result_set(r, RC_CANTCREAT, _("cannot create the spool directory %s: %s"), sub,
                       strerror(errno));
            free(sub);
            free(dir);
            return NULL;
        }
        free(sub);
    }
    /* What was just made is ours; what already existed is checked again
     * in case it appeared meanwhile. */
    if (queue_dir_check(dir, r) != 0) {
        free(dir);
        return NULL;
    }
    return dir;
}

/* A new id: seconds and microseconds in hex (so ids sort by time), then
 * random letters and digits. */
char *queue_new_id(void)
{
    static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    struct timeval tv;
    unsigned char rnd[8];
    char tail[sizeof rnd + 1];
    gettimeofday(&tv, NULL);
    random_bytes(rnd, sizeof rnd);
    for (size_t i = 0; i < sizeof rnd; i++)
        tail[i] = alnum[rnd[i] % 62];
    tail[sizeof rnd] = '\0';
    return xasprintf("%09llX%05lX%s", (unsigned long long)tv.tv_sec,
                     (unsigned long)tv.tv_usec, tail);
}

int queue_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

/* rename() that refuses to replace an existing entry where the system
 * can say so. */
/* ---- spools ------------------------------------------------------------ */

static struct queue_spool *spool_new(char *dir)
{
    struct queue_spool *s = xcalloc(1, sizeof *s);
    s->dir = dir;
    return s;
}

struct queue_spool *queue_spool_of(const struct account *a, bool create, struct result *r)
{
    char *dir = queue_dir(a, create, r);
    return dir ? spool_new(dir) : NULL;
}

void queue_spool_free(struct queue_spool *s)
{
    if (!s)
        return;
    free(s->dir);
    free(s);
}

const char *queue_spool_name(const struct queue_spool *s)
{
    return s->dir;
}

struct queue_spool **queue_spools(const struct config *cfg, const struct account *only,
                                  unsigned flags, size_t *n,
                                  void (*refused)(struct result *r, void *arg), void *arg)
{
    size_t max = cfg->naccounts + 1;
    struct queue_spool **v = xcalloc(max, sizeof *v);
    dev_t *devs = xcalloc(max, sizeof *devs);
    ino_t *inos = xcalloc(max, sizeof *inos);
    size_t nseen = 0;
    *n = 0;
    for (size_t i = 0; i < max; i++) {
        const struct account *a = i < cfg->naccounts ? cfg->accounts[i] : NULL;
        if (i == cfg->naccounts && !(flags & QUEUE_SPOOLS_DEFAULT))
            break;
        if (a && only && a != only)
            continue;
        struct result r = RESULT_INIT;
        char *dir = queue_dir_path(a, &r);
        if (!dir) {
            if (!(flags & QUEUE_SPOOLS_EXISTING))
                refused(&r, arg);
            result_clear(&r);
            continue;
        }
        /* The same spool under two names is one spool. */
        struct stat st;
        bool exists = stat(dir, &st) == 0;
        if ((flags & QUEUE_SPOOLS_EXISTING) && (!exists || !S_ISDIR(st.st_mode))) {
            free(dir);
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < nseen && !dup; j++)
            dup = exists && devs[j] == st.st_dev && inos[j] == st.st_ino;
        for (size_t j = 0; j < *n && !dup; j++)
            dup = strcmp(v[j]->dir, dir) == 0;
        if (dup) {
            free(dir);
            continue;
        }
        if (exists) {
            devs[nseen] = st.st_dev;
            inos[nseen++] = st.st_ino;
        }
        if (queue_dir_check(dir, &r) != 0) {
            refused(&r, arg);
            result_clear(&r);
            free(dir);
            continue;
        }
        v[(*n)++] = spool_new(dir);
    }
    free(devs);
    free(inos);
    return v;
}

void queue_spools_free(struct queue_spool **spools, size_t n)
{
    for (size_t i = 0; i < n; i++)
        queue_spool_free(spools[i]);
    free(spools);
}

void queue_spool_clean(const struct queue_spool *s, time_t now)
{
    char *tdir = xasprintf("%s/tmp", s->dir);
    DIR *d = opendir(tdir);
    if (!d) {
        free(tdir);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        /* Only our own leftovers: never remove another user's file. */
        if (S_ISREG(st.st_mode) && st.st_uid == geteuid()
            && st.st_mtime + QUEUE_TMP_MAX_AGE < now) {
            if (unlinkat(dirfd(d), de->d_name, 0) == 0)
                log_debug(1, _("removed the leftover spool file %s/%s"), tdir, de->d_name);
        }
    }
    closedir(d);
    free(tdir);
}

int queue_spool_sync(const struct queue_spool *s, struct result *r)
{
    char *ndir = xasprintf("%s/new", s->dir);
    int rc = queue_fsync_dir(ndir);
    if (rc != 0)
        result_set(r, RC_IOERR, _("cannot sync the spool directory %s: %s"), ndir,
                   strerror(errno));
    free(ndir);
    return rc;
}

bool queue_has_entries(const struct account *a)
{
    struct result r = RESULT_INIT;
    char *dir = queue_dir(a, false, &r);
    result_clear(&r);
    if (!dir)
        return false;
    char *ndir = xasprintf("%s/new", dir);
    free(dir);
    DIR *d = opendir(ndir);
    free(ndir);
    if (!d)
        return false;
    bool found = false;
    struct dirent *de;
    while (!found && (de = readdir(d)) != NULL)
        found = de->d_name[0] != '.';
    closedir(d);
    return found;
}

