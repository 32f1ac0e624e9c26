/*
 * flush.c - delivering the spool (flush.h: flush_queue and
 * flush_queue_detached): scanning each account's spool, choosing the due
 * entries, one delivery session per account for all of them, recording
 * each attempt by the queue's policy (queue_record_attempt), expiry, and the
 * delivery status notifications (bounce.c builds them; they are sent
 * from here through the same account, with the null sender).
 *
 * Owns: the order of state changes that makes a flush safe to kill at
 * any point. Each entry is locked (queue_scan_next with QUEUE_OPEN_LOCK)
 * for its whole delivery. Right after each entry's transaction
 * (deliver_session's done callback, before the next message is sent) its
 * new state is written durably (queue_handle_update) before the entry is
 * moved to failed/ or removed; a fully delivered entry is removed (its
 * unlink is the durable record) and only rewritten when that fails. A notification is marked
 * "bounce: pending" durably before it is sent and "bounce: sent" after
 * the server's 250, so a crash in between may send it twice, never lose
 * it. A crash between a message's final "." reply and the update may
 * deliver that message twice (at least once, never lost); nothing else may.
 *
 * Must not: know the entry format (queue-entry.c) or touch the spool's
 * files (it reaches entries through queue.h's handles and scans), decide
 * what an attempt means (queue_record_attempt), speak SMTP (deliver.c),
 * decide exit statuses (result.c).
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bounce.h"
#include "smtprc.h"
#include "deliver.h"
#include "envelope.h"
#include "failover.h"
#include "flush.h"
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

struct flush_run;

struct flush_item {
    struct flush_run *run;
    const struct queue_spool *spool;    /* the spool it lives in (not owned) */
    const struct account *a;        /* the entry's account */
    struct queue_entry_handle *h;   /* open and locked; NULL once closed */
    struct queue_entry e;
    /* the delivery of its pending recipients */
    struct envelope env;            /* strings borrowed from e; rcpts array owned */
    size_t *idx;                    /* env.rcpts[j] is e.rcpts[idx[j]] */
    struct message msg;
    struct delivery d;
    bool attempted;
    bool recorded;                  /* the outcome was recorded and written (flush_delivered) */
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
    const struct queue_spool *unsynced; /* spool with removals not yet synced */
    struct failover_conns *fallback_conns; /* the fallback accounts' connections of the
                                           account's session in progress, or NULL */
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
    queue_handle_close(it->h);
    it->h = NULL;
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
    queue_handle_message(it->h, e, &it->msg);
    it->d.env = &it->env;
    it->d.msg = &it->msg;
    it->d.done = flush_delivered;
    it->d.done_arg = it;
    it->attempted = true;
}

/* Write the entry's state durably; a failure is a local failure. */
static int flush_update(struct flush_run *run, struct flush_item *it)
{
    struct result r = RESULT_INIT;
    if (queue_handle_update(it->h, &it->e, &r) == 0)
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
    struct result r = RESULT_INIT;
    if (queue_spool_sync(run->unsynced, &r) != 0)
        flush_local_failure(run, &r);
    run->unsynced = NULL;
}

/* No recipient is pending and no notification is due: move the entry to
 * failed/ (some recipient failed: kept for the user) or remove it. */
static void flush_finish(struct flush_run *run, struct flush_item *it, bool updated)
{
    struct flush_stats *st = flush_stats_for(run, it->a);
    struct result r = RESULT_INIT;
    if (queue_entry_any(&it->e, QRCPT_FAILED)) {
        if (!updated)
            (void)flush_update(run, it);
        if (queue_handle_move_failed(it->h, &r) != 0)
            flush_local_failure(run, &r);
        st->failed++;
        return;
    }
    if (run->unsynced && run->unsynced != it->spool)
        flush_sync_removals(run);
    if (queue_handle_remove(it->h, false, &r) != 0) {
        flush_local_failure(run, &r);
        /* At least record who has it, so nobody gets it twice. */
        if (!updated)
            (void)flush_update(run, it);
    } else {
        run->unsynced = it->spool;
    }
    st->delivered++;
}

/* Some recipient is still pending (the attempt was recorded with its
 * next attempt, queue_record_attempt): keep it. */
static void flush_defer(struct flush_run *run, struct flush_item *it)
{
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
    /* The recipients left for now before the account's smarthost could
     * take the message go through its fallback accounts, as in a first
     * attempt; the entry keeps its own account (the spool's policy
     * records the merged outcome). A smarthost that could not be reached
     * is tried once per session: the entries after the first share its
     * failure (deliver_session); the fallback accounts' connections are
     * kept for the session's other entries in the same way. */
    (void)failover_deliver(it->run->cfg, it->a, d, it->run->fallback_conns);
    queue_record_attempt(&it->e, it->a, d, it->idx, it->run->now);
    it->recorded = true;
    if (queue_entry_any(&it->e, QRCPT_PENDING)) {
        flush_defer(it->run, it);
        d->queued_id = it->e.id;        /* the log line says it stays */
    } else if (!queue_entry_any(&it->e, QRCPT_FAILED)) {
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
    queue_schedule_retry(&it->e, it->a, run->now);
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
    struct message orig;
    queue_handle_message(it->h, &it->e, &orig);
    if (bounce_build_domain(&it->e, orig.fd, util_host_name(), mail_domain, &it->bmsg, &r) != 0) {
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
        if (queue_entry_any(&it->e, QRCPT_PENDING))
            flush_prepare(it);
    }
    /* deliver_session fills an array of deliveries; copy in and out. */
    for (size_t i = 0; i < n; i++)
        if (items[i]->attempted)
            d[nd++] = items[i]->d;
    if (nd > 0) {
        run->fallback_conns = a->fallback ? failover_conns_new() : NULL;
        flush_session(a, d, nd);
        failover_conns_close(run->fallback_conns);
        run->fallback_conns = NULL;
    }
    for (size_t i = 0, k = 0; i < n; i++) {
        if (!items[i]->attempted)
            continue;
        items[i]->d = d[k++];
        /* Not recorded by the done callback: recorded here, stored below. */
        if (!items[i]->recorded)
            queue_record_attempt(&items[i]->e, a, &items[i]->d, items[i]->idx, run->now);
    }

    char *mail_domain = envelope_mail_domain(a);
    size_t nb = 0;
    for (size_t i = 0; i < n; i++) {
        struct flush_item *it = items[i];
        if (it->finished || (it->recorded && queue_entry_any(&it->e, QRCPT_PENDING))) {
            flush_item_free(it);
            continue;
        }
        if (queue_entry_any(&it->e, QRCPT_PENDING)) {
            flush_defer(run, it);
            flush_item_free(it);
            continue;
        }
        bool need_bounce = queue_entry_any(&it->e, QRCPT_FAILED) && it->e.sender && *it->e.sender
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
        if (!it->h || !it->bd.env)
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

/* An entry that cannot be used. Corrupt entries are set aside by the
 * scan: that is handled. Refused ones (not ours, not safe) stay and
 * need their owner, like any other local failure. */
static void flush_entry_failure(struct flush_run *run, struct result *r)
{
    if (r->cls == RC_DATAERR) {
        log_warning("%s", r->msg ? r->msg : "");
        result_clear(r);
    } else {
        flush_local_failure(run, r);
    }
}

/* Open the entries of one spool and deliver the due ones. */
static void flush_spool(struct flush_run *run, const struct queue_spool *spool,
                        const char *only, struct flush_item *batch, size_t *nbatch)
{
    struct result r = RESULT_INIT;
    queue_spool_clean(spool, run->now);
    struct queue_scan *sc = queue_scan_start(spool, QUEUE_NEW, QUEUE_OPEN_LOCK, &r);
    if (!sc) {
        flush_local_failure(run, &r);
        return;
    }
    for (;;) {
        struct flush_item *it = &batch[*nbatch];
        memset(it, 0, sizeof *it);
        it->msg.fd = -1;
        it->bmsg.fd = -1;
        it->spool = spool;
        it->run = run;
        int rc = queue_scan_next(sc, &it->h, &it->e, &r);
        if (rc == 0)
            break;
        if (rc < 0) {
            flush_entry_failure(run, &r);
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
                        it->e.id, it->e.account, queue_spool_name(spool));
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
    queue_scan_end(sc);
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

/* A spool that cannot be found or is refused (queue_spools). */
static void flush_refused(struct result *r, void *arg)
{
    flush_local_failure(arg, r);
}

enum result_class flush_queue(const struct config *cfg, const char *account, bool force)
{
    struct flush_run run = { .cfg = cfg, .now = time(NULL), .force = force };
    const struct account *only = NULL;
    if (account) {
        only = config_find(cfg, account);
        if (!only) {
            log_error(_("no account named %s in the configuration"), account);
            return RC_CONFIG;
        }
    }

    /* The distinct spools (accounts usually share the default one). */
    size_t nspools = 0;
    struct queue_spool **spools = queue_spools(cfg, only, 0, &nspools, flush_refused, &run);

    run.batch_max = flush_batch_max();
    struct flush_item *batch = xcalloc(run.batch_max, sizeof *batch);
    size_t nbatch = 0;
    for (size_t i = 0; i < nspools; i++) {
        flush_spool(&run, spools[i], account, batch, &nbatch);
        /* Items point at their spool: deliver before moving on. */
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
    queue_spools_free(spools, nspools);
    return run.worst;
}

void flush_queue_detached(const struct config *cfg, const char *account)
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
        (void)flush_queue(cfg, account, false);
        _exit(0);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
}
