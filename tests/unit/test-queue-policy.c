/*
 * test-queue-policy.c - unit tests for the spool's one policy for what a
 * delivery attempt means (queue.h): queue_backoff (cap, doubling,
 * jitter bounds), queue_record_attempt (each recipient outcome, the
 * message refused as a whole, the index map of a flush, last error,
 * attempts and next attempt) and queue_enqueue_attempt (what a failed
 * direct delivery leaves in the spool, and when it leaves nothing).
 * Prints TAP.
 */
#include <config.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "deliver.h"
#include "envelope.h"
#include "message.h"
#include "queue.h"
#include "result.h"
#include "smtprc.h"
#include "tap.h"
#include "util.h"

static char tmpdir[] = "/tmp/test-queue-policy-XXXXXX";

static struct config *make_config(const char *spool, const char *max_backoff)
{
    struct config *cfg = config_new();
    struct result r = RESULT_INIT;
    char *text = xasprintf("account work\nhost mail.example.org\nqueue_dir %s\n%s%s%s",
                           spool, max_backoff ? "queue_max_backoff " : "",
                           max_backoff ? max_backoff : "", max_backoff ? "\n" : "");
    if (config_parse_string(cfg, text, "t.rc", &r) != 0)
        printf("# config: %s\n", r.msg);
    result_clear(&r);
    free(text);
    return cfg;
}

/* n calls of queue_backoff(a, attempts) all within [lo, hi]. */
static bool backoff_within(const struct account *a, int attempts, long lo, long hi)
{
    for (int i = 0; i < 200; i++) {
        long w = queue_backoff(a, attempts);
        if (w < lo || w > hi) {
            printf("# backoff(%d) = %ld, not in [%ld, %ld]\n", attempts, w, lo, hi);
            return false;
        }
    }
    return true;
}

static void test_backoff(void)
{
    struct config *cfg = make_config(tmpdir, NULL);
    const struct account *a = config_find(cfg, "work");
    tap_ok(backoff_within(a, 1, 48, 72), "first retry: 60 s +-20 %");
    tap_ok(backoff_within(a, 3, 192, 288), "third: 240 s +-20 %");
    tap_ok(backoff_within(a, 30, 2880, 3600), "capped at an hour by default, never above");
    config_free(cfg);
    cfg = make_config(tmpdir, "100");
    a = config_find(cfg, "work");
    tap_ok(backoff_within(a, 10, 80, 100), "queue_max_backoff caps it, jitter never above");
    config_free(cfg);
    cfg = make_config(tmpdir, "1");
    a = config_find(cfg, "work");
    tap_ok(backoff_within(a, 1, 1, 1), "at least one second");
    config_free(cfg);
}

static char *addrs[3] = { "a@example.org", "b@example.org", "c@example.org" };

/* An entry of the three addresses, all pending, errors as given. */
static void make_entry(struct queue_entry *e, const char *err0, const char *err1,
                       const char *err2)
{
    memset(e, 0, sizeof *e);
    e->id = xstrdup("ID1");
    e->account = xstrdup("work");
    e->sender = xstrdup("me@example.org");
    e->nrcpts = 3;
    e->rcpts = xcalloc(3, sizeof *e->rcpts);
    const char *errs[3] = { err0, err1, err2 };
    for (size_t i = 0; i < 3; i++) {
        e->rcpts[i].addr = xstrdup(addrs[i]);
        e->rcpts[i].error = errs[i] ? xstrdup(errs[i]) : NULL;
    }
    e->last_error = xstrdup("old");
}

/* A delivery of n recipients with the given outcomes and replies, and
 * the message's class and error (msg NULL: none). */
static void make_delivery(struct delivery *d, struct envelope *env, size_t n,
                          const enum deliver_outcome *out, const char *const *replies,
                          enum result_class cls, const char *msg, const char *reply)
{
    memset(d, 0, sizeof *d);
    memset(env, 0, sizeof *env);
    env->sender = (char *)"me@example.org";
    env->rcpts = addrs;
    env->nrcpts = n;
    d->env = env;
    d->rcpts = xcalloc(n, sizeof *d->rcpts);
    for (size_t i = 0; i < n; i++) {
        d->rcpts[i].outcome = out[i];
        d->rcpts[i].answered = out[i] != DELIVERY_UNANSWERED;
        d->rcpts[i].reply = replies[i] ? xstrdup(replies[i]) : NULL;
    }
    if (cls != RC_OK)
        result_set(&d->result, cls, "%s", msg ? msg : "");
    d->reply = reply ? xstrdup(reply) : NULL;
}

static void test_record(void)
{
    struct config *cfg = make_config(tmpdir, NULL);
    const struct account *a = config_find(cfg, "work");
    time_t now = 1700000000;
    struct queue_entry e;
    struct delivery d;
    struct envelope env;

    /* One of each. */
    make_entry(&e, "x", NULL, NULL);
    enum deliver_outcome o1[3] = { DELIVERY_DELIVERED, DELIVERY_PERMANENT, DELIVERY_TEMPORARY };
    const char *r1[3] = { "250 ok", "550 5.1.1 no such user", "451 4.7.1 later" };
    make_delivery(&d, &env, 3, o1, r1, RC_NOUSER, "not delivered to 2 of 3", NULL);
    queue_record_attempt(&e, a, &d, NULL, now);
    tap_int(e.rcpts[0].state, QRCPT_DELIVERED, "delivered recipient: delivered");
    tap_ok(e.rcpts[0].error == NULL, "its old error is cleared");
    tap_int(e.rcpts[1].state, QRCPT_FAILED, "5xx recipient: failed");
    tap_str(e.rcpts[1].error, "550 5.1.1 no such user", "with the server's words");
    tap_int(e.rcpts[2].state, QRCPT_PENDING, "4xx recipient: stays pending");
    tap_str(e.rcpts[2].error, "451 4.7.1 later", "with the server's words");
    tap_str(e.last_error, "not delivered to 2 of 3", "last error: the message's");
    tap_int(e.attempts, 1, "the attempt is counted while something is pending");
    tap_ok(e.next_attempt >= now + 48 && e.next_attempt <= now + 72,
           "next attempt backs off from now");
    deliver_free(&d);
    queue_entry_free(&e);

    /* The message itself refused: recipients without a word of their own
     * fail with the refusing reply; a 4xx recipient still waits. */
    make_entry(&e, "451 old", "451 old", NULL);
    enum deliver_outcome o2[3] = { DELIVERY_UNANSWERED, DELIVERY_TEMPORARY, DELIVERY_UNANSWERED };
    const char *r2[3] = { NULL, "450 4.2.0 busy", NULL };
    make_delivery(&d, &env, 3, o2, r2, RC_DATAERR, "the server refused the message: 554 no",
                  "554 5.7.1 no");
    queue_record_attempt(&e, a, &d, NULL, now);
    tap_int(e.rcpts[0].state, QRCPT_FAILED, "message refused: an unanswered recipient fails");
    tap_str(e.rcpts[0].error, "554 5.7.1 no", "with the reply that refused the message");
    tap_int(e.rcpts[1].state, QRCPT_PENDING, "message refused: a 4xx recipient stays pending");
    tap_str(e.rcpts[1].error, "450 4.2.0 busy", "with its own reply");
    tap_int(e.rcpts[2].state, QRCPT_FAILED, "second unanswered recipient fails too");
    deliver_free(&d);
    queue_entry_free(&e);

    make_entry(&e, NULL, NULL, NULL);
    e.rcpts[1].state = e.rcpts[2].state = QRCPT_DELIVERED;
    enum deliver_outcome o3[1] = { DELIVERY_UNANSWERED };
    const char *r3[1] = { NULL };
    make_delivery(&d, &env, 1, o3, r3, RC_DATAERR, "message size exceeds the limit", NULL);
    queue_record_attempt(&e, a, &d, NULL, now);
    tap_int(e.rcpts[0].state, QRCPT_FAILED, "message that cannot be sent at all: failed");
    tap_str(e.rcpts[0].error, "message size exceeds the limit", "with the message's error");
    tap_int(e.attempts, 0, "nothing pending: no attempt scheduled");
    deliver_free(&d);
    queue_entry_free(&e);

    /* A failure worth a retry: unanswered recipients wait, keeping the
     * error they had; the index map of a flush (only 0 and 2 tried). */
    make_entry(&e, "451 old", "kept", NULL);
    e.attempts = 2;
    e.rcpts[1].state = QRCPT_FAILED;
    enum deliver_outcome o4[2] = { DELIVERY_UNANSWERED, DELIVERY_UNANSWERED };
    const char *r4[2] = { NULL, NULL };
    size_t idx[2] = { 0, 2 };
    make_delivery(&d, &env, 2, o4, r4, RC_TEMPFAIL, "connection refused", NULL);
    queue_record_attempt(&e, a, &d, idx, now);
    tap_int(e.rcpts[0].state, QRCPT_PENDING, "connection refused: pending");
    tap_str(e.rcpts[0].error, "451 old", "keeps its own error");
    tap_ok(e.rcpts[2].error == NULL, "one without an error gets none");
    tap_int(e.rcpts[1].state, QRCPT_FAILED, "a recipient not tried is untouched");
    tap_str(e.rcpts[1].error, "kept", "with its error");
    tap_str(e.last_error, "connection refused", "last error updated");
    tap_int(e.attempts, 3, "attempts counted on");
    tap_ok(e.next_attempt >= now + 192 && e.next_attempt <= now + 288,
           "backoff doubles with the attempts");
    deliver_free(&d);
    queue_entry_free(&e);

    /* Everything delivered: the last error goes, nothing is scheduled. */
    make_entry(&e, "451 old", NULL, NULL);
    enum deliver_outcome o5[3] = { DELIVERY_DELIVERED, DELIVERY_DELIVERED, DELIVERY_DELIVERED };
    const char *r5[3] = { NULL, NULL, NULL };
    make_delivery(&d, &env, 3, o5, r5, RC_OK, NULL, NULL);
    queue_record_attempt(&e, a, &d, NULL, now);
    tap_ok(e.last_error == NULL, "all delivered: the last error is cleared");
    tap_int(e.attempts, 0, "and no attempt is scheduled");
    tap_ok(e.rcpts[0].error == NULL, "nor any recipient error kept");
    deliver_free(&d);
    queue_entry_free(&e);
    config_free(cfg);
}

/* Open the queued entry id of sp and return it parsed in *e (0). */
static int open_queued(struct queue_spool *sp, const char *id, struct queue_entry *e)
{
    struct queue_entry_handle *h = NULL;
    struct result r = RESULT_INIT;
    int rc = queue_entry_find(&sp, 1, id ? id : "none", 0, &h, e, &r);
    if (rc != 0)
        printf("# open %s: %s\n", id ? id : "none", r.msg ? r.msg : "not found");
    result_clear(&r);
    queue_handle_close(h);
    return rc;
}

static void test_enqueue_attempt(void)
{
    char *spool = xasprintf("%s/spool", tmpdir);
    struct config *cfg = make_config(spool, NULL);
    const struct account *a = config_find(cfg, "work");
    struct result sr = RESULT_INIT;
    struct queue_spool *sp = queue_spool_of(a, true, &sr);
    tap_ok(sp != NULL, "the spool");
    result_clear(&sr);
    const char *text = "Subject: t\r\n\r\nhello\r\n";
    char *path = xasprintf("%s/msg", tmpdir);
    struct message m = { .fd = -1 };
    m.fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (write_all(m.fd, text, strlen(text)) != 0)
        printf("# cannot write the message\n");
    m.size = (long long)strlen(text);
    struct delivery d;
    struct envelope env;
    struct queue_entry e;
    struct result r = RESULT_INIT;
    char *id = NULL;
    bool bounce = true;

    /* The server was not reached: every recipient waits, due at once. */
    enum deliver_outcome o1[2] = { DELIVERY_UNANSWERED, DELIVERY_UNANSWERED };
    const char *r1[2] = { NULL, NULL };
    make_delivery(&d, &env, 2, o1, r1, RC_TEMPFAIL, "connection refused", NULL);
    time_t before = time(NULL);
    tap_int(queue_enqueue_attempt(a, &env, &m, &d, &id, &bounce, &r), 0,
            "server not reached: queued");
    tap_ok(!bounce, "no bounce due");
    tap_int(open_queued(sp, id, &e), 0, "the entry opens");
    tap_int((long long)e.nrcpts, 2, "both recipients kept");
    tap_int(e.rcpts[0].state, QRCPT_PENDING, "pending");
    tap_str(e.rcpts[1].error, "connection refused", "with the message's error");
    tap_int(e.attempts, 1, "one attempt counted");
    tap_ok(e.next_attempt <= time(NULL) && e.next_attempt >= before,
           "due at the next flush");
    queue_entry_free(&e);
    free(id);
    deliver_free(&d);

    /* The server answered: one delivered (left out), one 4xx. */
    enum deliver_outcome o2[2] = { DELIVERY_DELIVERED, DELIVERY_TEMPORARY };
    const char *r2[2] = { "250 ok", "451 4.7.1 later" };
    make_delivery(&d, &env, 2, o2, r2, RC_TEMPFAIL, "not delivered to 1 of 2", NULL);
    before = time(NULL);
    tap_int(queue_enqueue_attempt(a, &env, &m, &d, &id, &bounce, &r), 0, "4xx: queued");
    tap_int(open_queued(sp, id, &e), 0, "the entry opens");
    tap_int((long long)e.nrcpts, 1, "the delivered recipient is left out");
    tap_str(e.rcpts[0].addr, "b@example.org", "the one refused for now is kept");
    tap_str(e.rcpts[0].error, "451 4.7.1 later", "with the server's words");
    tap_ok(e.next_attempt >= before + 48 && e.next_attempt <= time(NULL) + 72,
           "answered: backs off like any attempt (60 s +-20 %)");
    queue_entry_free(&e);
    free(id);
    deliver_free(&d);

    /* The message itself refused (5xx to DATA) next to a 4xx recipient:
     * the unanswered one fails for good (bounce), the 4xx one waits. */
    enum deliver_outcome o3[2] = { DELIVERY_UNANSWERED, DELIVERY_TEMPORARY };
    const char *r3[2] = { NULL, "450 4.2.0 busy" };
    make_delivery(&d, &env, 2, o3, r3, RC_DATAERR, "the server refused the DATA command",
                  "554 5.7.1 no");
    tap_int(queue_enqueue_attempt(a, &env, &m, &d, &id, &bounce, &r), 0,
            "message refused beside a 4xx recipient: queued");
    tap_ok(bounce, "a bounce is due");
    tap_int(open_queued(sp, id, &e), 0, "the entry opens");
    tap_int(e.rcpts[0].state, QRCPT_FAILED, "the unanswered recipient failed");
    tap_str(e.rcpts[0].error, "554 5.7.1 no", "with the refusing reply");
    tap_int(e.rcpts[1].state, QRCPT_PENDING, "the 4xx recipient waits");
    tap_int(e.bounce, QBOUNCE_PENDING, "bounce pending");
    queue_entry_free(&e);
    free(id);
    deliver_free(&d);

    /* Nothing worth keeping: the caller keeps the message. */
    enum deliver_outcome o4[2] = { DELIVERY_UNANSWERED, DELIVERY_UNANSWERED };
    const char *r4[2] = { NULL, NULL };
    make_delivery(&d, &env, 2, o4, r4, RC_DATAERR, "the server refused the sender", NULL);
    id = (char *)"x";
    tap_int(queue_enqueue_attempt(a, &env, &m, &d, &id, &bounce, &r), 1,
            "message refused (65): not queued");
    tap_ok(id == NULL && !bounce, "no id, no bounce");
    deliver_free(&d);
    enum deliver_outcome o5[2] = { DELIVERY_PERMANENT, DELIVERY_PERMANENT };
    const char *r5[2] = { "550 no", "550 no" };
    make_delivery(&d, &env, 2, o5, r5, RC_NOUSER, "every recipient refused", NULL);
    tap_int(queue_enqueue_attempt(a, &env, &m, &d, &id, &bounce, &r), 1,
            "every recipient refused (67): not queued");
    deliver_free(&d);
    /* One delivered, one refused: only a bounce is left, and the null
     * sender gets none. */
    enum deliver_outcome o6[2] = { DELIVERY_DELIVERED, DELIVERY_PERMANENT };
    const char *r6[2] = { "250 ok", "550 no" };
    make_delivery(&d, &env, 2, o6, r6, RC_NOUSER, "not delivered to 1 of 2", NULL);
    env.sender = (char *)"";
    tap_int(queue_enqueue_attempt(a, &env, &m, &d, &id, &bounce, &r), 1,
            "partly refused, null sender: nothing to keep");
    env.sender = (char *)"me@example.org";
    tap_int(queue_enqueue_attempt(a, &env, &m, &d, &id, &bounce, &r), 0,
            "partly refused: kept for the bounce");
    tap_ok(bounce, "a bounce is due");
    free(id);
    deliver_free(&d);
    tap_ok(r.cls == RC_OK, "no error along the way");

    close(m.fd);
    unlink(path);
    free(path);
    queue_spool_free(sp);
    config_free(cfg);
    free(spool);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        printf("Bail out! cannot create %s\n", tmpdir);
        return 1;
    }
    test_backoff();
    test_record();
    test_enqueue_attempt();
    char *cmd = xasprintf("rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", tmpdir);
    free(cmd);
    return tap_done();
}
