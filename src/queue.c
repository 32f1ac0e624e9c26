/*
 * queue.c - putting messages into the spool (queue.h): an entry built
 * from an envelope (queue_enqueue, queue_enqueue_after), and the one
 * policy for what a delivery attempt means for an entry: each
 * recipient's state and error, the message refused as a whole, when a
 * failed direct delivery is kept, and the backoff with jitter
 * (queue_record_attempt, queue_enqueue_attempt, queue_backoff).
 *
 * It touches no file itself (queue-store.c stores the entries it builds),
 * does not deliver (flush.c) and never prints.
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deliver.h"
#include "envelope.h"
#include "i18n.h"
#include "message.h"
#include "queue.h"
#include "queue-int.h"
#include "smtprc.h"

int queue_enqueue_after(const struct account *a, const struct envelope *env,
                        const struct message *m, const struct queue_initial *init, char **id,
                        struct result *r)
{
    *id = NULL;
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
        .body_7bit = m->force_7bit,
        .longest_line = m->longest_line,
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

    rc = queue_store_add(a, &e, m, id, r);
out:
    queue_entry_free(&e);
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


/* ---- what an attempt means for the spool ------------------------------ */

#define QUEUE_FIRST_BACKOFF 60.0    /* first retry; doubles with every attempt */
#define QUEUE_DEFAULT_MAX_BACKOFF 3600.0

long queue_backoff(const struct account *a, int attempts)
{
    double cap = a->queue_max_backoff > 0 ? (double)a->queue_max_backoff
                                          : QUEUE_DEFAULT_MAX_BACKOFF;
    double wait = QUEUE_FIRST_BACKOFF;
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

void queue_schedule_retry(struct queue_entry *e, const struct account *a, time_t now)
{
    e->attempts++;
    e->next_attempt = now + queue_backoff(a, e->attempts);
}

/* What attempt d means for its recipient j, whose entry had the error
 * old_error (NULL: none): the new state, and in *error the text it keeps
 * (borrowed from d or old_error; NULL: none). A recipient the server
 * never gave a final word for shares the message's fate: when the
 * message itself was refused (RC_DATAERR: a 5xx to MAIL, DATA or the end
 * of data, or it cannot be sent at all), no retry can cure it and it
 * fails with the refusing reply; otherwise it stays pending and keeps
 * its error. */
static enum queue_rcpt_state queue_outcome(const struct delivery *d, size_t j,
                                           const char *old_error, const char **error)
{
    enum deliver_outcome o = d->rcpts ? d->rcpts[j].outcome : DELIVERY_UNANSWERED;
    const char *reply = d->rcpts ? d->rcpts[j].reply : NULL;
    switch (o) {
    case DELIVERY_DELIVERED:
        *error = NULL;
        return QRCPT_DELIVERED;
    case DELIVERY_PERMANENT:
        *error = reply;
        return QRCPT_FAILED;
    case DELIVERY_TEMPORARY:
        *error = reply;
        return QRCPT_PENDING;
    case DELIVERY_UNANSWERED:
        break;
    }
    if (d->result.cls == RC_DATAERR) {
        *error = d->reply ? d->reply : d->result.msg;
        return QRCPT_FAILED;
    }
    *error = old_error;
    return QRCPT_PENDING;
}

void queue_record_attempt(struct queue_entry *e, const struct account *a,
                          const struct delivery *d, const size_t *idx, time_t now)
{
    for (size_t j = 0; j < d->env->nrcpts; j++) {
        struct queue_rcpt *q = &e->rcpts[idx ? idx[j] : j];
        const char *error;
        q->state = queue_outcome(d, j, q->error, &error);
        char *copy = error ? xstrdup(error) : NULL;
        free(q->error);
        q->error = copy;
    }
    bool pending = queue_entry_any(e, QRCPT_PENDING);
    if (d->result.cls != RC_OK || !pending) {
        char *last = d->result.cls != RC_OK && d->result.msg ? xstrdup(d->result.msg) : NULL;
        free(e->last_error);
        e->last_error = last;
    }
    if (pending)
        queue_schedule_retry(e, a, now);
}

int queue_enqueue_attempt(const struct account *a, const struct envelope *env,
                          const struct message *m, const struct delivery *d, char **id,
                          bool *bounce_due, struct result *r)
{
    size_t n = env->nrcpts, delivered = 0, perm = 0, temp = 0, answered = 0;
    enum queue_rcpt_state *states = xcalloc(n ? n : 1, sizeof *states);
    const char **errors = xcalloc(n ? n : 1, sizeof *errors);
    for (size_t i = 0; i < n; i++) {
        /* A new entry has no error of its own yet: the message's. */
        states[i] = queue_outcome(d, i, d->result.msg, &errors[i]);
        delivered += states[i] == QRCPT_DELIVERED;
        perm += states[i] == QRCPT_FAILED;
        temp += d->rcpts && d->rcpts[i].outcome == DELIVERY_TEMPORARY;
        answered += d->rcpts && d->rcpts[i].answered;
    }
    /* Keep it when some recipient may still be reached later: the whole
     * message failed in a way a retry may cure (result_worth_retry, the
     * one rule), or recipients were refused temporarily; or when only
     * some recipients were refused permanently (they get a bounce, the
     * others were delivered or are retried). */
    size_t left = n - delivered - perm;
    bool keep = result_worth_retry(d->result.cls) || temp > 0
                || (perm > 0 && perm < n && (*env->sender || left > 0));
    int rc = 1;
    *id = NULL;
    *bounce_due = false;
    if (keep) {
        struct queue_initial init = {
            .states = states, .errors = errors, .last_error = d->result.msg, .attempts = 1,
        };
        /* The server answered for the recipients and asked us to wait:
         * back off as after any attempt. It was not reached at all: due
         * at the next flush (timer, network hook). */
        if (answered > 0)
            init.retry_after = queue_backoff(a, init.attempts);
        rc = queue_enqueue_after(a, env, m, &init, id, r);
        *bounce_due = rc == 0 && perm > 0;
    }
    free(states);
    free(errors);
    return rc;
}
