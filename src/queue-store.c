/*
 * queue-store.c - the entries on disk (queue.h, "Storage"): the entry
 * handle (an open entry file, its lock, its place), scanning and finding
 * entries, reading and parsing them without ever blocking, durable
 * writes with maildir discipline (tmp/ + O_EXCL, fsync, rename into new/,
 * fsync of new/), moving entries to failed/ and removing them.
 *
 * With queue-spool.c it owns every path, directory and file descriptor of
 * the spool: no other module opens, lists, renames or removes anything
 * in it. It does not decide what an attempt means (queue.c), know the
 * text of an entry (queue-entry.c) or deliver (flush.c); it never prints.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "i18n.h"
#include "message.h"
#include "queue.h"
#include "queue-int.h"
#include "util.h"

#define QUEUE_ENVELOPE_MAX (16 * 1024 * 1024)  /* a bigger envelope is corrupt */
#define QUEUE_COPY_BLOCK (256 * 1024)

struct queue_entry_handle {
    const struct queue_spool *spool;    /* not owned */
    enum queue_area area;
    char *id;
    int fd;                             /* open; locked when opened with QUEUE_OPEN_LOCK */
};

static const char *area_name(enum queue_area area)
{
    return area == QUEUE_FAILED ? "failed" : "new";
}

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

/* Parse the entry open on fd (path for messages); 0 or -1 with r set
 * (RC_DATAERR: corrupt, the id included; RC_IOERR). */
static int parse_open_file(int fd, const char *path, struct queue_entry *e, struct result *r)
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

/* Open the entry file path of spool dir, take a non-blocking exclusive
 * lock held until close(*fd), and parse it: 0, 1 when another process
 * holds the lock or the entry vanished or was replaced meanwhile, -1
 * with r set (a corrupt entry is moved to failed/ID.corrupt; a refused
 * one is left where it is). */
static int open_locked(const char *dir, const char *path, int *fd, struct queue_entry *e,
                       struct result *r)
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
    if (parse_open_file(*fd, path, e, &pr) == 0)
        return 0;

    if (pr.cls == RC_DATAERR) {
        /* Keep it aside for the user; it is never delivered. */
        const char *base = strrchr(path, '/');
        char *aside = xasprintf("%s/failed/%s.corrupt", dir, base ? base + 1 : path);
        if (rename(path, aside) == 0) {
            char *fdir = xasprintf("%s/failed", dir);
            (void)queue_fsync_dir(fdir);
            free(fdir);
            result_set(r, RC_DATAERR, _("%s; it was moved to %s"), pr.msg, aside);
        } else {
            result_set(r, RC_DATAERR, _("%s; it could not be moved to %s: %s"), pr.msg, aside,
                       strerror(errno));
        }
        free(aside);
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
        char *tid = queue_new_id();
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

/* ---- entries: open, scan, find ------------------------------------------ */

/* Open entry id of s's area: locked (QUEUE_OPEN_LOCK, open_locked) or
 * only for reading. 0 with *h and *e, 1 to be skipped (locked by another
 * process, vanished; without the lock also a corrupt or unreadable
 * entry: listing never moves anything), -1 with r set. */
static int entry_open(const struct queue_spool *s, enum queue_area area, const char *id,
                      unsigned flags, struct queue_entry_handle **h, struct queue_entry *e,
                      struct result *r)
{
    char *path = xasprintf("%s/%s/%s", s->dir, area_name(area), id);
    int fd = -1, rc;
    *h = NULL;
    if (flags & QUEUE_OPEN_LOCK) {
        rc = open_locked(s->dir, path, &fd, e, r);
    } else {
        rc = queue_open_entry_file(path, &fd, r);
        if (rc == 0) {
            struct result pr = RESULT_INIT;
            if (parse_open_file(fd, path, e, &pr) != 0) {
                result_clear(&pr);
                rc = 1;
            }
        }
    }
    free(path);
    if (rc != 0) {
        if (fd >= 0)
            close(fd);
        return rc;
    }
    *h = xcalloc(1, sizeof **h);
    (*h)->spool = s;
    (*h)->area = area;
    (*h)->id = xstrdup(id);
    (*h)->fd = fd;
    return 0;
}

struct queue_scan {
    const struct queue_spool *spool;
    enum queue_area area;
    unsigned flags;
    char **names;
    size_t n, next;
};

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

struct queue_scan *queue_scan_start(const struct queue_spool *s, enum queue_area area,
                                    unsigned flags, struct result *r)
{
    char *adir = xasprintf("%s/%s", s->dir, area_name(area));
    DIR *d = opendir(adir);
    if (!d && errno != ENOENT) {
        result_set(r, RC_IOERR, _("cannot read the spool directory %s: %s"), adir,
                   strerror(errno));
        free(adir);
        return NULL;
    }
    free(adir);
    struct queue_scan *sc = xcalloc(1, sizeof *sc);
    sc->spool = s;
    sc->area = area;
    sc->flags = flags;
    size_t cap = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        /* A listing shows entries only; a delivery takes every file and
         * sets aside what is not an entry. */
        if (!(flags & QUEUE_OPEN_LOCK) && !queue_id_valid(de->d_name))
            continue;
        if (sc->n == cap) {
            cap = cap ? 2 * cap : 32;
            sc->names = xrealloc(sc->names, cap * sizeof *sc->names);
        }
        sc->names[sc->n++] = xstrdup(de->d_name);
    }
    if (d)
        closedir(d);
    if (sc->n > 1)
        qsort(sc->names, sc->n, sizeof *sc->names, cmp_names);
    return sc;
}

int queue_scan_next(struct queue_scan *sc, struct queue_entry_handle **h,
                    struct queue_entry *e, struct result *r)
{
    while (sc->next < sc->n) {
        int rc = entry_open(sc->spool, sc->area, sc->names[sc->next++], sc->flags, h, e, r);
        if (rc == 0)
            return 1;
        if (rc < 0)
            return -1;
    }
    return 0;
}

void queue_scan_end(struct queue_scan *sc)
{
    if (!sc)
        return;
    for (size_t i = 0; i < sc->n; i++)
        free(sc->names[i]);
    free(sc->names);
    free(sc);
}

int queue_entry_find(struct queue_spool *const *spools, size_t n, const char *id,
                     unsigned flags, struct queue_entry_handle **h, struct queue_entry *e,
                     struct result *r)
{
    *h = NULL;
    if (!queue_id_valid(id))
        return 2;
    for (size_t i = 0; i < n; i++) {
        for (enum queue_area area = QUEUE_NEW; area <= QUEUE_FAILED; area++) {
            char *path = xasprintf("%s/%s/%s", spools[i]->dir, area_name(area), id);
            struct stat st;
            bool found = lstat(path, &st) == 0 && S_ISREG(st.st_mode);
            free(path);
            if (found)
                return entry_open(spools[i], area, id, flags, h, e, r);
        }
    }
    return 2;
}

/* ---- what is done with an open entry ------------------------------------ */

enum queue_area queue_handle_area(const struct queue_entry_handle *h)
{
    return h->area;
}

void queue_handle_message(const struct queue_entry_handle *h, const struct queue_entry *e,
                          struct message *m)
{
    m->fd = h->fd;
    m->offset = e->body_offset;
    m->size = e->size;
    m->has_8bit = e->body_8bit;
    m->force_7bit = e->body_7bit;
    m->longest_line = e->longest_line;
}

void queue_handle_close(struct queue_entry_handle *h)
{
    if (!h)
        return;
    if (h->fd >= 0)
        close(h->fd);
    free(h->id);
    free(h);
}

/* Remove path and make that durable with an fsync of dir when sync is
 * set; a file already gone is fine. */
static int remove_file(const char *path, const char *dir, bool sync, struct result *r)
{
    int rc = unlink(path);
    if (rc != 0 && errno == ENOENT)
        rc = 0;
    if (rc == 0 && sync)
        rc = queue_fsync_dir(dir);
    if (rc != 0)
        result_set(r, RC_IOERR, _("cannot remove the spool entry %s: %s"), path,
                   strerror(errno));
    return rc;
}

int queue_handle_remove(struct queue_entry_handle *h, bool sync, struct result *r)
{
    char *adir = xasprintf("%s/%s", h->spool->dir, area_name(h->area));
    char *path = xasprintf("%s/%s", adir, h->id);
    int rc = remove_file(path, adir, sync, r);
    free(path);
    free(adir);
    return rc;
}

int queue_handle_update(struct queue_entry_handle *h, struct queue_entry *e, struct result *r)
{
    const char *dir = h->spool->dir;
    char *tmp_path = NULL;
    int nfd = -1;
    long long old_off = e->body_offset;
    if (write_tmp_entry(dir, e, h->fd, old_off, &tmp_path, &nfd, r) != 0) {
        e->body_offset = old_off;
        return -1;
    }
    char *path = xasprintf("%s/new/%s", dir, h->id);
    char *newdir = xasprintf("%s/new", dir);
    int rc = rename(tmp_path, path);
    if (rc != 0) {
        result_set(r, RC_IOERR, _("cannot replace the spool entry %s: %s"), path,
                   strerror(errno));
        unlink(tmp_path);
        close(nfd);
        e->body_offset = old_off;
    } else {
        close(h->fd);
        h->fd = nfd;
        if (queue_fsync_dir(newdir) != 0) {
            result_set(r, RC_IOERR, _("cannot sync the spool directory %s: %s"), newdir,
                       strerror(errno));
            rc = -1;
        } else if (h->area == QUEUE_FAILED) {
            /* Back in new/: the copy in failed/ goes. */
            h->area = QUEUE_NEW;
            char *fdir = xasprintf("%s/failed", dir);
            char *fpath = xasprintf("%s/%s", fdir, h->id);
            rc = remove_file(fpath, fdir, true, r);
            free(fpath);
            free(fdir);
        }
    }
    free(newdir);
    free(path);
    free(tmp_path);
    return rc;
}

int queue_handle_move_failed(struct queue_entry_handle *h, struct result *r)
{
    const char *dir = h->spool->dir;
    char *from = xasprintf("%s/new/%s", dir, h->id);
    char *to = xasprintf("%s/failed/%s", dir, h->id);
    char *fdir = xasprintf("%s/failed", dir);
    char *ndir = xasprintf("%s/new", dir);
    int rc = rename(from, to);
    if (rc != 0) {
        result_set(r, RC_IOERR, _("cannot move the spool entry %s to %s: %s"), from, fdir,
                   strerror(errno));
    } else if (queue_fsync_dir(fdir) != 0 || queue_fsync_dir(ndir) != 0) {
        result_set(r, RC_IOERR, _("cannot sync the spool directory %s: %s"), dir,
                   strerror(errno));
        rc = -1;
    }
    if (rc == 0)
        h->area = QUEUE_FAILED;
    free(from);
    free(to);
    free(fdir);
    free(ndir);
    return rc;
}

/* ---- a new entry -------------------------------------------------------- */

int queue_store_add(const struct account *a, struct queue_entry *e, const struct message *m,
                    char **id, struct result *r)
{
    *id = NULL;
    char *dir = queue_dir(a, true, r);
    if (!dir)
        return -1;
    int rc = -1;
    char *tmp_path = NULL, *new_path = NULL;
    int fd = -1;
    for (int tries = 0; tries < 10; tries++) {
        free(e->id);
        e->id = queue_new_id();
        if (write_tmp_entry(dir, e, m->fd, m->offset, &tmp_path, &fd, r) != 0)
            goto out;
        new_path = xasprintf("%s/new/%s", dir, e->id);
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
        *id = xstrdup(e->id);
    }
    free(newdir);
out:
    free(tmp_path);
    free(new_path);
    free(dir);
    return rc;
}

