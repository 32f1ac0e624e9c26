/*
 * flush.c - delivering the spool (queue.h: queue_flush and
 * queue_flush_detached): scanning each account's spool, choosing the due
 * entries, one delivery session per account for all of them, recording
 * each recipient's outcome, backoff with jitter, expiry, and the
 * delivery status notifications (bounce.c builds them; they are sent
 * from here through the same account, with the null sender).
 *
 * Owns: the order of state changes that makes a flush safe to kill at
 * any point. Each entry is locked (queue_entry_open) for its whole
 * delivery. Right after each entry's transaction (deliver_session's
 * done callback, before the next message is sent) its new state is
 * written durably (queue_entry_update) before the entry is moved to
 * failed/ or removed; a fully delivered entry is removed (its unlink is the durable
 * record) and only rewritten when that fails. A notification is marked
 * "bounce: pending" durably before it is sent and "bounce: sent" after
 * the server's 250, so a crash in between may send it twice, never lose
 * it. A crash between a message's final "." reply and the update may
 * deliver that message twice (at least once, never lost); nothing else may.
 *
 * Must not: know the entry format (queue.c), speak SMTP (deliver.c),
 * decide exit statuses (result.c).
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bounce.h"
#include "smtprc.h"
#include "deliver.h"
#include "envelope.h"
#include "i18n.h"
#include "message.h"
#include "log.h"
#include "queue.h"

/* Each entry is held open (and locked) until its session ends, so the
 * number of entries one connection can carry is bounded by the open-file
 * limit: the flush raises its soft limit to the hard one and keeps this
 * many descriptors for everything else. More entries than fit go out in
 * further sessions of the same flush. */
#define FLUSH_FD_RESERVE 64
#define FLUSH_BATCH_MIN 64
#define FLUSH_BATCH_MAX 65536
/* tmp/ files older than this are leftovers of a killed process. */
#define FLUSH_TMP_MAX_AGE 3600
/* First retry after a failed attempt; doubles with every attempt. */
#define FLUSH_FIRST_BACKOFF 60.0

struct flush_run;

struct flush_item {
    struct flush_run *run;
    const char *dir;                /* the spool it lives in (not owned) */
    const struct account *a;        /* the entry's account */
    int fd;                         /* open and locked; -1 once closed */
    struct queue_entry e;
    /* the delivery of its pending recipients */
    struct envelope env;            /* strings borrowed from e; rcpts array owned */
    size_t *idx;                    /* env.rcpts[j] is e.rcpts[idx[j]] */
    struct message msg;
    struct delivery d;
    bool attempted;
    bool recorded;                  /* the outcome was written (flush_delivered) */
    bool finished;                  /* removed or moved: nothing left to do */
    /* its notification */
    struct envelope benv;
    char *brcpt[1];
    struct message bmsg;
    struct delivery bd;
};

struct flush_stats {
    const struct account *a;
    size_t n, delivered, deferred, failed;
};

struct flush_run {
    const struct config *cfg;
    time_t now;
    bool force;
    enum result_class worst;        /* worst local failure */
    size_t batch_max;               /* entries per session (open files) */
    struct flush_stats *stats;      /* one per account seen */
    size_t nstats;
    const char *unsynced;           /* spool whose new/ had removals not yet synced */
};

static void flush_local_failure(struct flush_run *run, struct result *r)
{
    if (r->msg)
        log_error("%s", r->msg);
    if (run->worst == RC_OK)
        run->worst = r->cls != RC_OK ? r->cls : RC_IOERR;
    result_clear(r);
}

static struct flush_stats *flush_stats_for(struct flush_run *run, const struct account *a)
{
    for (size_t i = 0; i < run->nstats; i++)
        if (run->stats[i].a == a)
            return &run->stats[i];
    run->stats = xrealloc(run->stats, (run->nstats + 1) * sizeof *run->stats);
    struct flush_stats *s = &run->stats[run->nstats++];
    memset(s, 0, sizeof *s);
    s->a = a;
    return s;
}

/* ------------------------------------------------------------ timing */

/* Wait before the next attempt: min(cap, 60 s * 2^(attempts-1)) with
 * +-20 % jitter, never above cap, at least one second. */
static long flush_backoff(const struct account *a, int attempts)
{
    double cap = a->queue_max_backoff > 0 ? (double)a->queue_max_backoff : 3600.0;
    double wait = FLUSH_FIRST_BACKOFF;
    for (int i = 1; i < attempts && wait < cap; i++)
        wait *= 2;
    if (wait > cap)
        wait = cap;
    uint32_t rnd;
    random_bytes(&rnd, sizeof rnd);
    wait *= 0.8 + 0.4 * ((double)rnd / 4294967295.0);
    if (wait > cap)
        wait = cap;
    return wait < 1 ? 1 : (long)wait;
}

static bool flush_expired(const struct flush_item *it, time_t now)
{
    return it->a->queue_lifetime > 0 && it->e.created + (time_t)it->a->queue_lifetime < now;
}

/* "5 days", "90 minutes", ... for a lifetime in seconds. */
static char *flush_duration(long s)
{
    if (s % 86400 == 0)
        return xasprintf(ngettext("%ld day", "%ld days", (unsigned long)(s / 86400)), s / 86400);
    if (s % 3600 == 0)
        return xasprintf(ngettext("%ld hour", "%ld hours", (unsigned long)(s / 3600)), s / 3600);
    if (s % 60 == 0)
        return xasprintf(ngettext("%ld minute", "%ld minutes", (unsigned long)(s / 60)), s / 60);
    return xasprintf(ngettext("%ld second", "%ld seconds", (unsigned long)s), s);
}

static bool flush_any(const struct queue_entry *e, enum queue_rcpt_state st)
{
    for (size_t i = 0; i < e->nrcpts; i++)
        if (e->rcpts[i].state == st)
            return true;
    return false;
}

static void flush_set(char **dst, const char *value)
{
    char *v = value ? xstrdup(value) : NULL;
    free(*dst);
    *dst = v;
}

/* Every recipient still pending fails: the entry outlived queue_lifetime. */
static void flush_expire(struct flush_item *it)
{
    char *dur = flush_duration(it->a->queue_lifetime);
    char *text = xasprintf(_("expired after %s in the queue"), dur);
    free(dur);
    for (size_t i = 0; i < it->e.nrcpts; i++) {
        struct queue_rcpt *q = &it->e.rcpts[i];
        if (q->state != QRCPT_PENDING)
            continue;
        q->state = QRCPT_FAILED;
        if (!q->error)
            q->error = xstrdup(it->e.last_error ? it->e.last_error : text);
    }
    char *last = it->e.last_error
                     ? xasprintf(_("%s; last error: %s"), text, it->e.last_error)
                     : xstrdup(text);
    free(it->e.last_error);
    it->e.last_error = last;
    free(text);
}

/* ------------------------------------------------------- the items */

static void flush_item_free(struct flush_item *it)
{
    deliver_free(&it->d);
    deliver_free(&it->bd);
    if (it->bmsg.fd >= 0)
        message_free(&it->bmsg);
    free(it->env.rcpts);
    it->env.rcpts = NULL;
    free(it->idx);
    it->idx = NULL;
    if (it->fd >= 0)
        close(it->fd);
    it->fd = -1;
    queue_entry_free(&it->e);
}

static void flush_delivered(struct delivery *d, void *arg);

/* Prepare the delivery of the entry's pending recipients. */
static void flush_prepare(struct flush_item *it)
{
    struct queue_entry *e = &it->e;
    it->env.sender = e->sender;
    it->env.rcpts = xcalloc(e->nrcpts ? e->nrcpts : 1, sizeof *it->env.rcpts);
    it->idx = xcalloc(e->nrcpts ? e->nrcpts : 1, sizeof *it->idx);
    for (size_t i = 0; i < e->nrcpts; i++) {
        if (e->rcpts[i].state != QRCPT_PENDING)
            continue;
        it->idx[it->env.nrcpts] = i;
        it->env.rcpts[it->env.nrcpts++] = e->rcpts[i].addr;
    }
    it->env.dsn_notify = e->dsn_notify;
    it->env.dsn_return = e->dsn_return;
    it->env.dsn_envid = e->dsn_envid;
    it->msg.fd = it->fd;
    it->msg.offset = e->body_offset;
    it->msg.size = e->size;
    it->msg.has_8bit = e->body_8bit;
    it->d.env = &it->env;
    it->d.msg = &it->msg;
    it->d.done = flush_delivered;
    it->d.done_arg = it;
    it->attempted = true;
}

/* Record the session's outcome in the entry. */
static void flush_apply(struct flush_item *it, const struct delivery *d)
{
    struct queue_entry *e = &it->e;
    const struct result *mr = &d->result;
    for (size_t j = 0; j < it->env.nrcpts; j++) {
        struct queue_rcpt *q = &e->rcpts[it->idx[j]];
        const struct smtp_rcpt *sr = d->rcpts ? &d->rcpts[j] : NULL;
        enum rcpt_status st = sr ? sr->status : RCPT_PENDING;
        if (st == RCPT_DELIVERED) {
            q->state = QRCPT_DELIVERED;
            flush_set(&q->error, NULL);
        } else if (st == RCPT_PERMFAIL) {
            q->state = QRCPT_FAILED;
            flush_set(&q->error, sr->reply);
        } else if (st == RCPT_TEMPFAIL) {
            flush_set(&q->error, sr->reply);
        } else if (mr->cls == RC_DATAERR) {
            /* The message itself was refused (5xx to MAIL, DATA or the
             * end of data, or it cannot be sent at all): permanent. */
            q->state = QRCPT_FAILED;
            flush_set(&q->error, d->reply ? d->reply : mr->msg);
        }
    }
    if (mr->cls != RC_OK)
        flush_set(&e->last_error, mr->msg);
    else if (!flush_any(e, QRCPT_PENDING))
        flush_set(&e->last_error, NULL);
}

/* Write the entry's state durably; a failure is a local failure. */
static int flush_update(struct flush_run *run, struct flush_item *it)
{
    struct result r = RESULT_INIT;
    if (queue_entry_update(it->dir, &it->e, &it->fd, &r) == 0)
        return 0;
    flush_local_failure(run, &r);
    return -1;
}

/* Make the removals of delivered entries durable: one fsync of new/ per
 * batch instead of one per message (a removal lost to a power failure
 * means the message goes out again, never that it is lost). */
static void flush_sync_removals(struct flush_run *run)
{
    if (!run->unsynced)
        return;
    char *ndir = xasprintf("%s/new", run->unsynced);
    if (queue_fsync_dir(ndir) != 0) {
        struct result r = RESULT_INIT;
        result_set(&r, RC_IOERR, _("cannot sync the spool directory %s: %s"), ndir,
                   strerror(errno));
        flush_local_failure(run, &r);
    }
    free(ndir);
    run->unsynced = NULL;
}

/* No recipient is pending and no notification is due: move the entry to
 * failed/ (some recipient failed: kept for the user) or remove it. */
static void flush_finish(struct flush_run *run, struct flush_item *it, bool updated)
{
    struct flush_stats *st = flush_stats_for(run, it->a);
    struct result r = RESULT_INIT;
    if (flush_any(&it->e, QRCPT_FAILED)) {
        if (!updated)
            (void)flush_update(run, it);
        if (queue_entry_move_failed(it->dir, &it->e, &r) != 0)
            flush_local_failure(run, &r);
        st->failed++;
        return;
    }
    if (run->unsynced && run->unsynced != it->dir)
        flush_sync_removals(run);
    if (queue_entry_remove(it->dir, &it->e, &r) != 0) {
        flush_local_failure(run, &r);
        /* At least record who has it, so nobody gets it twice. */
        if (!updated)
            (void)flush_update(run, it);
    } else {
        run->unsynced = it->dir;
    }
    st->delivered++;
}

/* Some recipient is still pending: back off and keep it. */
static void flush_defer(struct flush_run *run, struct flush_item *it)
{
    if (it->attempted || it->e.bounce == QBOUNCE_PENDING) {
        it->e.attempts++;
        it->e.next_attempt = run->now + flush_backoff(it->a, it->e.attempts);
    }
    (void)flush_update(run, it);
    flush_stats_for(run, it->a)->deferred++;
}

/* One delivery session for queued mail. A flush runs from cron or a timer
 * while the network may be down: failures that keep the message in the
 * spool (temporary ones) or turn into a bounce (permanent refusals) are
 * not errors of this run, so their diagnostics are shown only with -v.
 * A broken account (configuration, TLS verification, authentication,
 * protocol) needs its owner and is shown. */
static void flush_session(const struct account *a, struct delivery *d, size_t n)
{
    if (log_verbose() == 0)
        log_hold();
    enum result_class cls = deliver_session(a, d, n);
    log_release(cls == RC_CONFIG || cls == RC_NOPERM || cls == RC_UNAVAILABLE
                || cls == RC_PROTOCOL || cls == RC_SOFTWARE || cls == RC_LOCALTEMP);
}

/* deliver_session calls this as soon as the entry's transaction is over,
 * before the next one starts: the outcome is written at once, so a kill
 * later in the session cannot make this message go out twice. */
static void flush_delivered(struct delivery *d, void *arg)
{
    struct flush_item *it = arg;
    flush_apply(it, d);
    it->recorded = true;
    if (flush_any(&it->e, QRCPT_PENDING)) {
        flush_defer(it->run, it);
        d->queued_id = it->e.id;        /* the log line says it stays */
    } else if (!flush_any(&it->e, QRCPT_FAILED)) {
        flush_finish(it->run, it, false);
        it->finished = true;
    } else {
        (void)flush_update(it->run, it);
    }
}

/* The notification could not be sent. A permanent refusal (the sender's
 * address is refused) or an expired entry gives up: the entry goes to
 * failed/ with the reason. Otherwise it is retried later. */
static void flush_bounce_failed(struct flush_run *run, struct flush_item *it)
{
    enum result_class cls = it->bd.result.cls;
    char *text = xasprintf(_("the delivery status notification to <%s> was not sent: %s"),
                           it->e.sender, it->bd.result.msg ? it->bd.result.msg : "");
    free(it->e.last_error);
    it->e.last_error = text;
    if (cls == RC_NOUSER || cls == RC_DATAERR || flush_expired(it, run->now)) {
        flush_finish(run, it, false);
        return;
    }
    it->e.attempts++;
    it->e.next_attempt = run->now + flush_backoff(it->a, it->e.attempts);
    (void)flush_update(run, it);
    flush_stats_for(run, it->a)->deferred++;
}

/* Build the entry's notification and mark it "bounce: pending" durably.
 * Returns true when it is ready to be sent. */
static bool flush_prepare_bounce(struct flush_run *run, struct flush_item *it,
                                 const char *mail_domain)
{
    it->e.bounce = QBOUNCE_PENDING;
    if (flush_update(run, it) != 0)
        return false;
    struct result r = RESULT_INIT;
    if (bounce_build_domain(&it->e, it->fd, util_host_name(), mail_domain, &it->bmsg, &r) != 0) {
        flush_local_failure(run, &r);
        return false;
    }
    it->brcpt[0] = it->e.sender;
    it->benv.sender = "";
    it->benv.rcpts = it->brcpt;
    it->benv.nrcpts = 1;
    it->bd.env = &it->benv;
    it->bd.msg = &it->bmsg;
    return true;
}

/* Everything for one account: one session for the due entries, then one
 * for the notifications that became due. */
static void flush_account(struct flush_run *run, const struct account *a,
                          struct flush_item **items, size_t n)
{
    struct delivery *d = xcalloc(n, sizeof *d);
    size_t nd = 0;

    for (size_t i = 0; i < n; i++) {
        struct flush_item *it = items[i];
        flush_stats_for(run, a)->n++;
        if (flush_expired(it, run->now))
            flush_expire(it);
        if (flush_any(&it->e, QRCPT_PENDING))
            flush_prepare(it);
    }
    /* deliver_session fills an array of deliveries; copy in and out. */
    for (size_t i = 0; i < n; i++)
        if (items[i]->attempted)
            d[nd++] = items[i]->d;
    if (nd > 0)
        flush_session(a, d, nd);
    for (size_t i = 0, k = 0; i < n; i++) {
        if (!items[i]->attempted)
            continue;
        items[i]->d = d[k++];
        if (!items[i]->recorded)
            flush_apply(items[i], &items[i]->d);
    }

    char *mail_domain = envelope_mail_domain(a);
    size_t nb = 0;
    for (size_t i = 0; i < n; i++) {
        struct flush_item *it = items[i];
        if (it->finished || (it->recorded && flush_any(&it->e, QRCPT_PENDING))) {
            flush_item_free(it);
            continue;
        }
        if (flush_any(&it->e, QRCPT_PENDING)) {
            flush_defer(run, it);
            flush_item_free(it);
            continue;
        }
        bool need_bounce = flush_any(&it->e, QRCPT_FAILED) && it->e.sender && *it->e.sender
                           && it->e.bounce != QBOUNCE_SENT;
        if (!need_bounce) {
            flush_finish(run, it, it->recorded);
            flush_item_free(it);
            continue;
        }
        if (!flush_prepare_bounce(run, it, mail_domain)) {
            flush_stats_for(run, a)->deferred++;
            flush_item_free(it);
            continue;
        }
        d[nb++] = it->bd;
    }
    free(mail_domain);

    if (nb > 0)
        flush_session(a, d, nb);
    for (size_t i = 0, k = 0; i < n && k < nb; i++) {
        struct flush_item *it = items[i];
        if (it->fd < 0 || !it->bd.env)
            continue;
        it->bd = d[k++];
        if (it->bd.result.cls == RC_OK) {
            it->e.bounce = QBOUNCE_SENT;
            bool updated = flush_update(run, it) == 0;
            flush_finish(run, it, updated);
        } else {
            flush_bounce_failed(run, it);
        }
        flush_item_free(it);
    }
    free(d);
}

/* Deliver the batch, grouped by account (in order of first appearance). */
static void flush_batch(struct flush_run *run, struct flush_item *batch, size_t n)
{
    struct flush_item **group = xcalloc(n ? n : 1, sizeof *group);
    bool *done = xcalloc(n ? n : 1, sizeof *done);
    for (size_t i = 0; i < n; i++) {
        if (done[i])
            continue;
        size_t ng = 0;
        for (size_t j = i; j < n; j++) {
            if (!done[j] && batch[j].a == batch[i].a) {
                group[ng++] = &batch[j];
                done[j] = true;
            }
        }
        flush_account(run, batch[i].a, group, ng);
    }
    flush_sync_removals(run);
    for (size_t i = 0; i < n; i++)
        flush_item_free(&batch[i]);     /* normally already closed */
    free(group);
    free(done);
}

/* ----------------------------------------------------------- the spool */

/* Remove files left in DIR/tmp by killed processes. */
static void flush_clean_tmp(const char *dir, time_t now)
{
    char *tdir = xasprintf("%s/tmp", dir);
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
            && st.st_mtime + FLUSH_TMP_MAX_AGE < now) {
            if (unlinkat(dirfd(d), de->d_name, 0) == 0)
                log_debug(1, _("removed the leftover spool file %s/%s"), tdir, de->d_name);
        }
    }
    closedir(d);
    free(tdir);
}

static int flush_cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entry names in DIR/new, oldest first (ids start with the time).
 * Returns 0 (a missing directory is an empty spool) or -1 with r set. */
static int flush_list(const char *dir, char ***names, size_t *n, struct result *r)
{
    *names = NULL;
    *n = 0;
    char *ndir = xasprintf("%s/new", dir);
    DIR *d = opendir(ndir);
    if (!d) {
        int err = errno;
        if (err != ENOENT)
            result_set(r, RC_IOERR, _("cannot read the spool directory %s: %s"), ndir,
                       strerror(err));
        free(ndir);
        return err == ENOENT ? 0 : -1;
    }
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 32;
            *names = xrealloc(*names, cap * sizeof **names);
        }
        (*names)[(*n)++] = xstrdup(de->d_name);
    }
    closedir(d);
    free(ndir);
    if (*n > 1)
        qsort(*names, *n, sizeof **names, flush_cmp_names);
    return 0;
}

/* Open the entries of one spool and deliver the due ones. */
static void flush_dir(struct flush_run *run, const char *dir, const char *only,
                      struct flush_item *batch, size_t *nbatch)
{
    struct result r = RESULT_INIT;
    char **names;
    size_t n;
    if (queue_dir_check(dir, &r) != 0) {
        flush_local_failure(run, &r);
        return;
    }
    flush_clean_tmp(dir, run->now);
    if (flush_list(dir, &names, &n, &r) != 0) {
        flush_local_failure(run, &r);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char *path = xasprintf("%s/new/%s", dir, names[i]);
        struct flush_item *it = &batch[*nbatch];
        memset(it, 0, sizeof *it);
        it->fd = -1;
        it->msg.fd = -1;
        it->bmsg.fd = -1;
        it->dir = dir;
        it->run = run;
        int rc = queue_entry_open(path, &it->fd, &it->e, &r);
        free(path);
        if (rc == 1)
            continue;           /* another flush has it, or it is gone */
        if (rc != 0) {
            /* Corrupt entries are set aside by queue_entry_open: that is
             * handled. Refused ones (not ours, not safe) stay and need
             * their owner, like any other local failure. */
            if (r.cls == RC_DATAERR) {
                log_warning("%s", r.msg ? r.msg : "");
                result_clear(&r);
            } else {
                flush_local_failure(run, &r);
            }
            continue;
        }
        if (only && strcmp(it->e.account, only) != 0) {
            flush_item_free(it);
            continue;
        }
        it->a = config_find(run->cfg, it->e.account);
        if (!it->a) {
            log_warning(_("spool entry %s is for account %s, which is not in the "
                          "configuration any more; it stays in %s"),
                        it->e.id, it->e.account, dir);
            flush_item_free(it);
            continue;
        }
        bool due = run->force || it->e.next_attempt <= run->now;
        if (!due && !flush_expired(it, run->now)) {
            flush_item_free(it);
            continue;
        }
        if (++*nbatch == run->batch_max) {
            flush_batch(run, batch, *nbatch);
            *nbatch = 0;
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* How many entries one session may hold open: the soft open-file limit,
 * raised to the hard limit, less a reserve. */
static size_t flush_batch_max(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return FLUSH_BATCH_MIN;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < rl.rlim_max) {
        struct rlimit raised = rl;
        raised.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > FLUSH_BATCH_MAX * 2
                              ? FLUSH_BATCH_MAX * 2 : rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
            rl = raised;
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > FLUSH_BATCH_MAX + FLUSH_FD_RESERVE)
        return FLUSH_BATCH_MAX;
    if (rl.rlim_cur < FLUSH_BATCH_MIN + FLUSH_FD_RESERVE)
        return FLUSH_BATCH_MIN;
    return (size_t)rl.rlim_cur - FLUSH_FD_RESERVE;
}

enum result_class queue_flush(const struct config *cfg, const char *account, bool force)
{
    struct flush_run run = { .cfg = cfg, .now = time(NULL), .force = force };
    struct result r = RESULT_INIT;
    const struct account *only = NULL;
    if (account) {
        only = config_find(cfg, account);
        if (!only) {
            log_error(_("no account named %s in the configuration"), account);
            return RC_CONFIG;
        }
    }

    /* The distinct spools (accounts usually share the default one). */
    char **dirs = xcalloc(cfg->naccounts + 1, sizeof *dirs);
    size_t ndirs = 0;
    for (size_t i = 0; i < cfg->naccounts; i++) {
        const struct account *a = cfg->accounts[i];
        if (only && a != only)
            continue;
        char *dir = queue_dir_path(a, &r);   /* checked by flush_dir */
        if (!dir) {
            flush_local_failure(&run, &r);
            continue;
        }
        bool seen = false;
        for (size_t j = 0; j < ndirs && !seen; j++)
            seen = strcmp(dirs[j], dir) == 0;
        if (seen)
            free(dir);
        else
            dirs[ndirs++] = dir;
    }

    run.batch_max = flush_batch_max();
    struct flush_item *batch = xcalloc(run.batch_max, sizeof *batch);
    size_t nbatch = 0;
    for (size_t i = 0; i < ndirs; i++) {
        flush_dir(&run, dirs[i], account, batch, &nbatch);
        /* Items point at their directory: deliver before moving on. */
        if (nbatch > 0)
            flush_batch(&run, batch, nbatch);
        nbatch = 0;
    }
    free(batch);

    for (size_t i = 0; i < run.nstats; i++) {
        const struct flush_stats *s = &run.stats[i];
        log_debug(1, ngettext("flushed %zu message for account %s: %zu delivered, "
                              "%zu deferred, %zu failed",
                              "flushed %zu messages for account %s: %zu delivered, "
                              "%zu deferred, %zu failed", (unsigned long)s->n),
                  s->n, s->a->name, s->delivered, s->deferred, s->failed);
    }
    free(run.stats);
    for (size_t i = 0; i < ndirs; i++)
        free(dirs[i]);
    free(dirs);
    return run.worst;
}

void queue_flush_detached(const struct config *cfg, const char *account)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        log_warning(_("cannot start a background flush of the spool: %s"), strerror(errno));
        return;
    }
    if (pid == 0) {
        (void)setsid();
        pid_t grandchild = fork();
        if (grandchild != 0)
            _exit(grandchild < 0 ? 1 : 0);
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            (void)dup2(null, 0);
            (void)dup2(null, 1);
            (void)dup2(null, 2);
        }
        /* Nothing the caller handed us may keep a pipe of his open. */
        long max = sysconf(_SC_OPEN_MAX);
        if (max < 0 || max > 65536)
            max = 65536;
        for (int fd = 3; fd < max; fd++)
            (void)close(fd);
        log_set_verbose(0);
        (void)queue_flush(cfg, account, false);
        _exit(0);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
}
