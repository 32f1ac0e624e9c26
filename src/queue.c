/*
 * queue.c - the spool on disk (queue.h): where it lives, new entry ids,
 * what may be trusted in it (owner and mode of its directories and
 * entries, regular files only), durable enqueue and rewrite with maildir
 * discipline (tmp/ + O_EXCL, fsync, rename into new/, fsync of new/), the
 * per-entry flock, and moving entries to failed/. The user commands that
 * inspect or change the spool (-bp/mailq, --queue-json, --queue-remove,
 * --queue-retry) are in queue-admin.c.
 *
 * It does not deliver: queue_flush and queue_flush_detached live in
 * flush.c, bounces in bounce.c. It never prints.
 */
#include <config.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "smtprc.h"
#include "envelope.h"
#include "i18n.h"
#include "message.h"
#include "log.h"
#include "queue.h"
#include "queue-int.h"

#define QUEUE_ENVELOPE_MAX (16 * 1024 * 1024)  /* a bigger envelope is corrupt */
#define QUEUE_COPY_BLOCK (256 * 1024)

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
static char *new_id(void)
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
static int rename_noreplace(const char *from, const char *to)
{
#if defined(RENAME_NOREPLACE) && defined(__GLIBC__) \
    && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 28))
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -1;
#endif
    return rename(from, to);
}

/* Copy len bytes from in at offset off to the current position of out. */
static int copy_range(int in, long long off, int out, long long len)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 27))
    loff_t pos = off;
    while (len > 0) {
        ssize_t n = copy_file_range(in, &pos, out, NULL, (size_t)(len > (1 << 30) ? (1 << 30) : len), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0) {
                errno = EIO;   /* source shorter than it claims */
                return -1;
            }
            if (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP
                || errno == EBADF || errno == EPERM)
                break;         /* fall back to read/write */
            return -1;
        }
        len -= n;
    }
    if (len == 0)
        return 0;
    off = pos;
#endif
    char *block = xmalloc(QUEUE_COPY_BLOCK);
    int rc = 0;
    while (len > 0) {
        size_t want = len > QUEUE_COPY_BLOCK ? QUEUE_COPY_BLOCK : (size_t)len;
        ssize_t n = pread(in, block, want, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            rc = -1;
            break;
        }
        if (write_all(out, block, (size_t)n) != 0) {
            rc = -1;
            break;
        }
        off += n;
        len -= n;
    }
    int saved = errno;
    free(block);
    errno = saved;
    return rc;
}

/* ---- reading, locking and rewriting entries ---------------------------- */

/* Read the envelope part of an open entry (up to the empty line, or the
 * whole file when shorter). Caller frees *out. */
static int read_envelope(int fd, char **out, size_t *outlen)
{
    struct buf b = BUF_INIT;
    char block[8192];
    off_t off = 0;
    for (;;) {
        ssize_t n = pread(fd, block, sizeof block, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int saved = errno;
            buf_free(&b);
            errno = saved;
            return -1;
        }
        if (n == 0)
            break;
        size_t before = b.len;
        buf_append(&b, block, (size_t)n);
        off += n;
        size_t from = before > 0 ? before - 1 : 0;
        if (memmem(b.data + from, b.len - from, "\n\n", 2) || (b.len >= 1 && b.data[0] == '\n')
            || b.len > QUEUE_ENVELOPE_MAX)
            break;
    }
    *outlen = b.len;
    *out = b.data ? buf_steal(&b) : xstrdup("");
    return 0;
}

/* DIR for DIR/new/ID: the path with its last two components removed. */
static char *spool_of_path(const char *path)
{
    char *s = xstrdup(path);
    for (int i = 0; i < 2; i++) {
        char *slash = strrchr(s, '/');
        if (!slash) {
            free(s);
            return xstrdup(".");
        }
        *slash = '\0';
    }
    if (!*s) {
        free(s);
        return xstrdup("/");
    }
    return s;
}

int queue_parse_open_file(int fd, const char *path, struct queue_entry *e, struct result *r)
{
    struct stat st;
    char *text = NULL;
    size_t len = 0;
    if (fstat(fd, &st) != 0 || read_envelope(fd, &text, &len) != 0) {
        result_set(r, RC_IOERR, _("cannot read the spool entry %s: %s"), path, strerror(errno));
        return -1;
    }
    int rc = queue_entry_parse(text, len, (long long)st.st_size, e, r);
    free(text);
    if (rc == 0) {
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        if (strcmp(base, e->id) != 0) {
            queue_entry_free(e);
            result_set(r, RC_DATAERR, _("corrupt spool entry: %s"),
                       _("the id does not match the file name"));
            return -1;
        }
    }
    return rc;
}

int queue_entry_open(const char *path, int *fd, struct queue_entry *e, struct result *r)
{
    memset(e, 0, sizeof *e);
    /* 1: delivered or moved by someone else meanwhile. Refused entries
     * (not ours, not safe) are left alone: never moved aside. */
    int orc = queue_open_entry_file(path, fd, r);
    if (orc != 0)
        return orc;
    if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
        int saved = errno;
        close(*fd);
        *fd = -1;
        if (saved == EWOULDBLOCK || saved == EAGAIN || saved == EINTR)
            return 1;
        result_set(r, RC_IOERR, _("cannot lock the spool entry %s: %s"), path, strerror(saved));
        return -1;
    }
    /* The file we locked must still be the one at path: an update by
     * another process renames a new (locked) file over it, a finished
     * delivery unlinks it. Either way it is not ours to deliver. */
    struct stat fst, pst;
    if (fstat(*fd, &fst) != 0 || lstat(path, &pst) != 0 || fst.st_ino != pst.st_ino
        || fst.st_dev != pst.st_dev || !S_ISREG(fst.st_mode)) {
        close(*fd);
        *fd = -1;
        return 1;
    }
    struct result pr = RESULT_INIT;
    if (queue_parse_open_file(*fd, path, e, &pr) == 0)
        return 0;

    if (pr.cls == RC_DATAERR) {
        /* Keep it aside for the user; it is never delivered. */
        char *spool = spool_of_path(path);
        const char *base = strrchr(path, '/');
        char *aside = xasprintf("%s/failed/%s.corrupt", spool, base ? base + 1 : path);
        if (rename(path, aside) == 0) {
            char *fdir = xasprintf("%s/failed", spool);
            (void)queue_fsync_dir(fdir);
            free(fdir);
            result_set(r, RC_DATAERR, _("%s; it was moved to %s"), pr.msg, aside);
        } else {
            result_set(r, RC_DATAERR, _("%s; it could not be moved to %s: %s"), pr.msg, aside,
                       strerror(errno));
        }
        free(aside);
        free(spool);
        result_clear(&pr);
    } else {
        result_move(r, &pr);
    }
    close(*fd);
    *fd = -1;
    return -1;
}

/* Write a complete entry (envelope of e, message from in_fd at in_off)
 * into DIR/tmp under a fresh name, fsync it and lock it. *tmp_path
 * receives its path; *out_fd the open, locked descriptor. On failure
 * nothing is left in tmp/. */
static int write_tmp_entry(const char *dir, struct queue_entry *e, int in_fd, long long in_off,
                           char **tmp_path, int *out_fd, struct result *r)
{
    char *path = NULL;
    int fd = -1;
    for (int tries = 0; tries < 100 && fd < 0; tries++) {
        free(path);
        char *tid = new_id();
        path = xasprintf("%s/tmp/%s", dir, tid);
        free(tid);
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        result_set(r, RC_CANTCREAT, _("cannot create a file in the spool directory %s/tmp: %s"),
                   dir, strerror(errno));
        free(path);
        return -1;
    }
    char *text = queue_entry_format(e);
    size_t tlen = strlen(text);
    int rc = write_all(fd, text, tlen);
    free(text);
    if (rc == 0)
        rc = copy_range(in_fd, in_off, fd, e->size);
    if (rc == 0)
        rc = fsync(fd);
    if (rc == 0)
        rc = flock(fd, LOCK_EX | LOCK_NB);
    if (rc != 0) {
        result_set(r, RC_IOERR, _("cannot write to the spool directory %s/tmp: %s"), dir,
                   strerror(errno));
        close(fd);
        unlink(path);
        free(path);
        return -1;
    }
    e->body_offset = (long long)tlen;
    *tmp_path = path;
    *out_fd = fd;
    return 0;
}

int queue_enqueue_after(const struct account *a, const struct envelope *env,
                        const struct message *m, const struct queue_initial *init, char **id,
                        struct result *r)
{
    *id = NULL;
    char *dir = queue_dir(a, true, r);
    if (!dir)
        return -1;
    time_t now = time(NULL);
    struct queue_entry e = {
        .account = xstrdup(a->name),
        .created = now,
        .sender = xstrdup(env->sender ? env->sender : ""),
        .attempts = init ? init->attempts : 0,
        .next_attempt = now + (init && init->retry_after > 0 ? init->retry_after : 0),
        .last_error = init && init->last_error ? xstrdup(init->last_error) : NULL,
        .dsn_notify = env->dsn_notify ? xstrdup(env->dsn_notify) : NULL,
        .dsn_return = env->dsn_return ? xstrdup(env->dsn_return) : NULL,
        .dsn_envid = env->dsn_envid ? xstrdup(env->dsn_envid) : NULL,
        .body_8bit = m->has_8bit,
        .size = m->size,
        .bounce = QBOUNCE_NONE,
    };
    e.rcpts = xcalloc(env->nrcpts ? env->nrcpts : 1, sizeof *e.rcpts);
    bool pending = false;
    for (size_t i = 0; i < env->nrcpts; i++) {
        enum queue_rcpt_state st = init && init->states ? init->states[i] : QRCPT_PENDING;
        if (st == QRCPT_DELIVERED)
            continue;
        /* One line per address (a second one makes the entry corrupt);
         * the envelope has removed duplicates already. */
        bool dup = false;
        for (size_t j = 0; j < e.nrcpts && !dup; j++)
            dup = strcmp(e.rcpts[j].addr, env->rcpts[i]) == 0;
        if (dup)
            continue;
        struct queue_rcpt *q = &e.rcpts[e.nrcpts++];
        q->addr = xstrdup(env->rcpts[i]);
        q->state = st == QRCPT_FAILED ? QRCPT_FAILED : QRCPT_PENDING;
        if (init && init->errors && init->errors[i])
            q->error = xstrdup(init->errors[i]);
        if (q->state == QRCPT_FAILED && *e.sender)
            e.bounce = QBOUNCE_PENDING;
        pending |= q->state == QRCPT_PENDING;
    }
    int rc = -1;
    if (e.nrcpts == 0 || (!pending && e.bounce == QBOUNCE_NONE)) {
        result_set(r, RC_SOFTWARE, _("nothing to queue: no recipient is left to deliver"));
        goto out;
    }

    char *tmp_path = NULL, *new_path = NULL;
    int fd = -1;
    for (int tries = 0; tries < 10; tries++) {
        free(e.id);
        e.id = new_id();
        if (write_tmp_entry(dir, &e, m->fd, m->offset, &tmp_path, &fd, r) != 0)
            goto out;
        new_path = xasprintf("%s/new/%s", dir, e.id);
        if (rename_noreplace(tmp_path, new_path) == 0)
            break;
        int saved = errno;
        close(fd);
        fd = -1;
        unlink(tmp_path);
        free(tmp_path);
        free(new_path);
        tmp_path = new_path = NULL;
        if (saved != EEXIST) {
            result_set(r, RC_CANTCREAT, _("cannot move a file into the spool directory %s/new: %s"),
                       dir, strerror(saved));
            goto out;
        }
    }
    if (fd < 0) {
        result_set(r, RC_CANTCREAT, _("cannot find a free name in the spool directory %s/new"),
                   dir);
        goto out;
    }
    close(fd);
    char *newdir = xasprintf("%s/new", dir);
    if (queue_fsync_dir(newdir) != 0) {
        /* Not durable: take it back so that exit 75 keeps its meaning. */
        result_set(r, RC_IOERR, _("cannot sync the spool directory %s: %s"), newdir,
                   strerror(errno));
        unlink(new_path);
    } else {
        rc = 0;
        *id = xstrdup(e.id);
    }
    free(newdir);
    free(tmp_path);
    free(new_path);
out:
    queue_entry_free(&e);
    free(dir);
    return rc;
}

int queue_enqueue(const struct account *a, const struct envelope *env, const struct message *m,
                  const bool *done, char **id, struct result *r)
{
    if (!done)
        return queue_enqueue_after(a, env, m, NULL, id, r);
    enum queue_rcpt_state *states = xcalloc(env->nrcpts ? env->nrcpts : 1, sizeof *states);
    for (size_t i = 0; i < env->nrcpts; i++)
        states[i] = done[i] ? QRCPT_DELIVERED : QRCPT_PENDING;
    struct queue_initial init = { .states = states };
    int rc = queue_enqueue_after(a, env, m, &init, id, r);
    free(states);
    return rc;
}

int queue_entry_update(const char *dir, struct queue_entry *e, int *fd, struct result *r)
{
    char *tmp_path = NULL;
    int nfd = -1;
    long long old_off = e->body_offset;
    if (write_tmp_entry(dir, e, *fd, old_off, &tmp_path, &nfd, r) != 0) {
        e->body_offset = old_off;
        return -1;
    }
    char *path = xasprintf("%s/new/%s", dir, e->id);
    char *newdir = xasprintf("%s/new", dir);
    int rc = rename(tmp_path, path);
    if (rc != 0) {
        result_set(r, RC_IOERR, _("cannot replace the spool entry %s: %s"), path,
                   strerror(errno));
        unlink(tmp_path);
        close(nfd);
        e->body_offset = old_off;
    } else {
        close(*fd);
        *fd = nfd;
        if (queue_fsync_dir(newdir) != 0) {
            result_set(r, RC_IOERR, _("cannot sync the spool directory %s: %s"), newdir,
                       strerror(errno));
            rc = -1;
        }
    }
    free(newdir);
    free(path);
    free(tmp_path);
    return rc;
}

int queue_entry_move_failed(const char *dir, const struct queue_entry *e, struct result *r)
{
    char *from = xasprintf("%s/new/%s", dir, e->id);
    char *to = xasprintf("%s/failed/%s", dir, e->id);
    char *fdir = xasprintf("%s/failed", dir);
    char *ndir = xasprintf("%s/new", dir);
    int rc = rename(from, to);
    if (rc != 0)
        result_set(r, RC_IOERR, _("cannot move the spool entry %s to %s: %s"), from, fdir,
                   strerror(errno));
    else if (queue_fsync_dir(fdir) != 0 || queue_fsync_dir(ndir) != 0) {
        result_set(r, RC_IOERR, _("cannot sync the spool directory %s: %s"), dir,
                   strerror(errno));
        rc = -1;
    }
    free(from);
    free(to);
    free(fdir);
    free(ndir);
    return rc;
}

int queue_entry_remove(const char *dir, const struct queue_entry *e, struct result *r)
{
    char *path = xasprintf("%s/new/%s", dir, e->id);
    int rc = unlink(path);
    if (rc != 0 && errno == ENOENT)
        rc = 0;
    if (rc != 0)
        result_set(r, RC_IOERR, _("cannot remove the spool entry %s: %s"), path,
                   strerror(errno));
    free(path);
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
