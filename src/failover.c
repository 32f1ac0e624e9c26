/*
 * failover.c - smarthost failover (see failover.h): the recipients an
 * attempt left for now, before the server could take the message, go
 * through the account's fallback accounts in turn; the outcomes add up
 * into the message's one struct delivery.
 *
 * Must not: speak SMTP or open connections itself (deliver.c), touch the
 * spool (queue.c records the merged outcome, with the message's own
 * account), or decide exit statuses (result.c).
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "deliver.h"
#include "envelope.h"
#include "failover.h"
#include "i18n.h"
#include "log.h"
#include "smtprc.h"
#include "util.h"

bool failover_sender_allowed(const struct account *f, const char *sender)
{
    struct result r = RESULT_INIT;
    char *s = envelope_sender(sender ? sender : "", f, &r);
    bool ok = s && strcmp(s, sender ? sender : "") == 0;
    free(s);
    result_clear(&r);
    return ok;
}

/* One connection (open, or failed and kept so that its failure is
 * shared) per fallback account used so far; accounts[i] is conns[i]'s. */
struct failover_conns {
    const struct account **accounts;    /* not owned */
    struct deliver_conn **conns;        /* owned; NULL once dropped */
    size_t n;
};

struct failover_conns *failover_conns_new(void)
{
    return xcalloc(1, sizeof(struct failover_conns));
}

void failover_conns_close(struct failover_conns *fc)
{
    if (!fc)
        return;
    for (size_t i = 0; i < fc->n; i++)
        (void)deliver_close(fc->conns[i]);
    free(fc->accounts);
    free(fc->conns);
    free(fc);
}

/* fc's index of f, or fc->n. */
static size_t failover_index(const struct failover_conns *fc, const struct account *f)
{
    size_t i = 0;
    while (i < fc->n && fc->accounts[i] != f)
        i++;
    return i;
}

/* fc holds an open connection to f that looks usable. */
static bool failover_has_usable(const struct failover_conns *fc, const struct account *f)
{
    size_t i = failover_index(fc, f);
    return i < fc->n && deliver_conn_usable(fc->conns[i], f);
}

/* Close fc's connection to f, if any. */
static void failover_drop(struct failover_conns *fc, const struct account *f)
{
    size_t i = failover_index(fc, f);
    if (i < fc->n && fc->conns[i]) {
        (void)deliver_close(fc->conns[i]);
        fc->conns[i] = NULL;
    }
}

/* The connection to f for the next message: fc's when it is usable or
 * could not be opened (its failure is shared), else a new one (kept in
 * fc). */
static struct deliver_conn *failover_conn(struct failover_conns *fc, const struct account *f)
{
    size_t i = failover_index(fc, f);
    if (i == fc->n) {
        fc->accounts = xrealloc(fc->accounts, (fc->n + 1) * sizeof *fc->accounts);
        fc->conns = xrealloc(fc->conns, (fc->n + 1) * sizeof *fc->conns);
        fc->accounts[i] = f;
        fc->conns[i] = NULL;
        fc->n++;
    }
    struct deliver_conn **dc = &fc->conns[i];
    if (*dc && !deliver_conn_failed(*dc, f) && !deliver_conn_usable(*dc, f)) {
        (void)deliver_close(*dc);
        *dc = NULL;
    }
    if (!*dc)
        *dc = deliver_open(f);
    return *dc;
}

/* The recipients of d that are left for a fallback account. */
static size_t failover_left(const struct delivery *d)
{
    size_t n = 0;
    for (size_t i = 0; d->rcpts && i < d->env->nrcpts; i++)
        n += d->rcpts[i].may_fall_back;
    return n;
}

/* d's outcome again from its recipients (see failover.h). */
static void failover_settle(struct delivery *d)
{
    size_t n = d->env->nrcpts, delivered = 0, perm = 0;
    for (size_t i = 0; i < n; i++) {
        delivered += d->rcpts[i].outcome == DELIVERY_DELIVERED;
        perm += d->rcpts[i].outcome == DELIVERY_PERMANENT;
    }
    if (delivered == n) {
        result_clear(&d->result);
        free(d->reply);
        d->reply = NULL;
    } else if (perm > 0 && d->result.cls != RC_NOUSER) {
        result_set(&d->result, RC_NOUSER,
                   _("the message was not delivered to %zu of %zu recipients"),
                   n - delivered, n);
    }
}

/* Merge attempt fd (through f, for d's recipients idx[0..fd->env->nrcpts))
 * into d. */
static void failover_merge(struct delivery *d, struct delivery *fd, const size_t *idx)
{
    for (size_t j = 0; j < fd->env->nrcpts; j++) {
        struct deliver_rcpt *to = &d->rcpts[idx[j]];
        struct deliver_rcpt *from = &fd->rcpts[j];
        bool take = from->outcome == DELIVERY_DELIVERED
                    || (from->outcome == DELIVERY_PERMANENT && fd->result.cls != RC_DATAERR);
        if (take) {
            to->outcome = from->outcome;
            to->answered = true;
            free(to->reply);
            to->reply = from->reply;
            from->reply = NULL;
            to->may_fall_back = false;
        } else {
            /* A fallback that could not be used at all (its own
             * configuration, certificate, credentials: nothing was
             * sent), or that refused the message as a whole (5xx to
             * MAIL, DATA, the end of data), says nothing about the
             * message: the next fallback may take it. */
            to->may_fall_back = from->may_fall_back || fd->unreached
                                || fd->result.cls == RC_DATAERR;
        }
    }
}

/* One attempt through fallback account f for d's recipients that may
 * fall back; its outcome is merged into d, its log facts kept in *fd
 * (freed by the caller). */
static void failover_try(const struct account *f, struct delivery *d, struct delivery *fd,
                         struct envelope *sub, size_t *idx, struct failover_conns *fc)
{
    *sub = *d->env;             /* strings borrowed */
    sub->rcpts = xcalloc(d->env->nrcpts ? d->env->nrcpts : 1, sizeof *sub->rcpts);
    sub->nrcpts = 0;
    for (size_t i = 0; i < d->env->nrcpts; i++) {
        if (!d->rcpts[i].may_fall_back)
            continue;
        idx[sub->nrcpts] = i;
        sub->rcpts[sub->nrcpts++] = d->env->rcpts[i];
    }
    *fd = (struct delivery){ .env = sub, .msg = d->msg, .log_later = true, .via = f };
    if (fc) {
        bool reused = failover_has_usable(fc, f);
        deliver_send(failover_conn(fc, f), fd, false);
        if (reused && deliver_unanswered(fd)) {
            /* The server closed the kept connection while it was idle:
             * nothing of the message reached it; once more over a new
             * one. */
            log_debug(1, _("the kept connection was closed by the server; connecting again"));
            deliver_free(fd);
            *fd = (struct delivery){ .env = sub, .msg = d->msg, .log_later = true, .via = f };
            failover_drop(fc, f);
            deliver_send(failover_conn(fc, f), fd, false);
        }
    } else {
        struct deliver_conn *dc = deliver_open(f);
        deliver_send(dc, fd, true);
        (void)deliver_close(dc);
    }
    failover_merge(d, fd, idx);
    free(d->last_text);
    d->last_code = fd->last_code;
    d->last_text = fd->last_text ? xstrdup(fd->last_text) : NULL;
    d->tls = fd->tls;
    d->via = f;
}

static void failover_free_try(struct delivery *fd, struct envelope *sub)
{
    if (!fd->env)
        return;
    deliver_free(fd);
    free(sub->rcpts);
    memset(fd, 0, sizeof *fd);
    memset(sub, 0, sizeof *sub);
}

bool failover_deliver(const struct config *cfg, const struct account *a, struct delivery *d,
                      struct failover_conns *fc)
{
    if (!a->fallback || !d->rcpts || d->result.cls == RC_OK || failover_left(d) == 0)
        return false;
    size_t nnames;
    char **names = config_fallback_names(a->fallback, &nnames);
    size_t *idx = xcalloc(d->env->nrcpts ? d->env->nrcpts : 1, sizeof *idx);
    struct delivery fd = { 0 };
    struct envelope sub = { 0 };
    char *why = xstrdup(d->result.msg ? d->result.msg : "");
    bool tried = false;

    for (size_t k = 0; k < nnames && failover_left(d) > 0; k++) {
        const struct account *f = config_find(cfg, names[k]);
        if (!f || f == a)
            continue;           /* unknown: refused by config_load; itself: skipped */
        if (!failover_sender_allowed(f, d->env->sender)) {
            log_warning_unheld(_("fallback account %s skipped: it does not send as <%s> "
                                 "(its \"from\" and allow_from_override)"),
                               f->name, d->env->sender);
            continue;
        }
        /* The attempt before this one gets its own log line. */
        if (!tried)
            deliver_log_attempt(a, d);
        else
            deliver_log_attempt(a, &fd);
        log_debug(1, _("%s; trying fallback account %s"), why, f->name);
        failover_free_try(&fd, &sub);
        failover_try(f, d, &fd, &sub, idx, fc);
        tried = true;
        free(why);
        why = xstrdup(fd.result.msg ? fd.result.msg : "");
    }
    if (tried)
        failover_settle(d);
    failover_free_try(&fd, &sub);
    for (size_t k = 0; k < nnames; k++)
        free(names[k]);
    free(names);
    free(idx);
    free(why);
    return tried;
}
