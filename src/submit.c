/*
 * submit.c - one message through the pipeline after intake (see
 * submit.h): account choice, intake options, envelope, the spool or a
 * delivery, the spool after a failed delivery, the log line.
 *
 * Must not: read the message or standard input, speak SMTP, or map
 * classes to exit statuses other than through result_exit_status().
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "address.h"
#include "deliver.h"
#include "failover.h"
#include "flush.h"
#include "i18n.h"
#include "log.h"
#include "queue.h"
#include "smtprc.h"
#include "submit.h"
#include "util.h"

int submit_init(struct submit *s, const struct options *o, struct result *r)
{
    memset(s, 0, sizeof *s);
    s->o = o;
    if (o->host_only)
        return config_from_settings(o->settings, o->nsettings, &s->cfg, r);
    return config_load(o->config_file, &s->cfg, r);
}

/* The From: header value to add for sender, with a display name when one
 * is known; NULL when no From: should be added. */
static char *from_header_value(const struct options *o, const struct account *a,
                               const char *sender)
{
    if (a->set_from_header == HDR_OFF || !*sender)
        return NULL;
    return address_format_mailbox(o->full_name ? o->full_name : a->from_full_name, sender);
}

const struct account *submit_select(struct submit *s, const char *account, const char *from,
                                    struct result *r)
{
    const struct options *o = s->o;
    if (o->host_only)
        return s->cfg->accounts[0];
    char *bare = from ? address_strip_angles(from) : NULL;
    const struct account *a = config_select(s->cfg, account, bare && *bare ? bare : NULL, r);
    free(bare);
    if (!a || o->nsettings == 0)
        return a;
    for (size_t i = 0; i < s->napplied; i++)
        if (s->applied[i] == a)
            return a;
    if (config_apply_settings(s->cfg, a->name, o->settings, o->nsettings, r) != 0)
        return NULL;
    s->applied = xrealloc(s->applied, (s->napplied + 1) * sizeof *s->applied);
    s->applied[s->napplied++] = a;
    return a;
}

int submit_account(struct submit *s, const char *from, struct result *r)
{
    const struct options *o = s->o;
    free(s->sender);
    free(s->from_value);
    free(s->mail_domain);
    s->sender = s->from_value = s->mail_domain = NULL;
    s->a = NULL;
    const struct account *a = submit_select(s, o->account, from, r);
    if (!a)
        return -1;
    s->sender = envelope_sender(from, a, r);
    if (!s->sender)
        return -1;
    s->a = a;
    s->mail_domain = envelope_mail_domain(a);
    s->from_value = from_header_value(o, a, s->sender);
    s->io = (struct intake_opts){
        .dot_ends = !o->ignore_dots && isatty(0),
        .remove_bcc = a->remove_bcc_headers,
        .undisclosed = a->undisclosed_recipients,
        .collect_rcpts = o->read_recipients,
        .add_from = s->from_value,
        .force_from = a->set_from_header == HDR_ON,
        .add_date = a->set_date_header != HDR_OFF,
        .msgid_domain = a->set_msgid_header != HDR_OFF ? s->mail_domain : NULL,
        /* Only the command line forces it: a -bs client's BODY=7BIT is
         * its own declaration about the data, and changes nothing. */
        .force_7bit = o->body_type && strcmp(o->body_type, "7BIT") == 0,
    };
    return 0;
}

/* After a failed direct delivery with the spool on: keep the message
 * when the spool's policy says so (queue_enqueue_attempt) and start a
 * flush for the bounce of refused recipients. Returns the exit status:
 * 0 once durably queued (*id set, caller frees), else the original
 * status (the caller still owns the message), reporting both errors. */
static int queue_after_failure(const struct account *a, const struct config *cfg,
                               const struct envelope *env, const struct message *msg,
                               const struct delivery *d, int status, char **id)
{
    struct result qr = RESULT_INIT;
    bool bounce_due = false;
    int rc = queue_enqueue_attempt(a, env, msg, d, id, &bounce_due, &qr);
    if (rc < 0)
        log_error(_("the message could not be queued either: %s"), qr.msg);
    result_clear(&qr);
    if (rc != 0)
        return status;
    if (bounce_due)
        flush_queue_detached(cfg, a->name);
    return 0;
}

/* The message is in the spool: silent for cron and other programs (their
 * standard error is mailed or logged as a failure), one line for a person
 * at a terminal, who would otherwise learn of it days later. */
static void tell_queued(const char *id, const struct delivery *d)
{
    if (isatty(2))
        log_error(_("the message was queued as %s (%s); it will be retried; see it with "
                    "mailq or smtpfwd -bp"),
                  id, d->result.msg ? d->result.msg : _("not delivered"));
    else
        log_debug(1, _("message queued as %s; it will be retried"), id);
}

/* One line of a server's reply ("CODE text" lines) for a reply of ours:
 * line ends become " / ", CRs go, other control and 8-bit bytes are
 * escaped (buf_put_escaped, a run at a time). */
static void put_oneline(struct buf *b, const char *text)
{
    const char *p = text;
    while (*p) {
        size_t n = strcspn(p, "\r\n");
        buf_put_escaped(b, p, n, ESCAPE_8BIT);
        p += n;
        if (*p == '\n' && p[1])
            buf_puts(b, " / ");
        if (*p)
            p++;
    }
}

static void fill_outcome(struct submit_outcome *out, const struct delivery *d)
{
    struct buf refused = BUF_INIT;
    out->nrcpts = d->env->nrcpts;
    for (size_t i = 0; d->rcpts && i < d->env->nrcpts; i++) {
        const struct deliver_rcpt *rc = &d->rcpts[i];
        if (rc->outcome == DELIVERY_DELIVERED) {
            out->ndelivered++;
        } else if (rc->outcome != DELIVERY_UNANSWERED && rc->answered && rc->reply) {
            if (refused.len)
                buf_puts(&refused, "; ");
            buf_printf(&refused, "<%s> ", d->env->rcpts[i]);
            put_oneline(&refused, rc->reply);
        }
    }
    out->refused = refused.len ? buf_steal(&refused) : NULL;
    buf_free(&refused);
    if (d->reply) {
        struct buf b = BUF_INIT;
        put_oneline(&b, d->reply);
        out->reply = buf_steal(&b);
    }
    out->code = d->last_code;
    if (d->result.msg) {
        struct buf b = BUF_INIT;
        put_oneline(&b, d->result.msg);
        out->why = buf_steal(&b);
    }
}

int submit_message(struct submit *s, const struct envelope_request *req,
                   const struct message *msg, struct submit_outcome *out, struct result *r)
{
    const struct account *a = s->a;
    struct envelope env = { 0 };
    struct submit_outcome dummy;
    if (!out)
        out = &dummy;
    memset(out, 0, sizeof *out);
    int status = 0;

    if (envelope_build(req, a, msg, &env, r) != 0) {
        status = result_exit_status(r->cls);
        goto done;
    }
    out->nrcpts = env.nrcpts;
    if (s->o->queue_only || a->queue == QUEUE_ALWAYS) {
        char *id = NULL;
        if (queue_enqueue(a, &env, msg, NULL, &id, r) != 0) {
            status = result_exit_status(r->cls);
            goto done;
        }
        log_debug(1, _("queued as %s"), id);
        out->queued = true;
        free(id);
        goto done;
    }

    /* The log line waits for the decision about the spool (queued=). */
    struct delivery d = { .env = &env, .msg = msg, .log_later = true };
    /* A kept connection of another account, or lost: close it. One of
     * this account that could not be opened stays: the messages after
     * it share its failure at once (they go to the spool or are
     * refused), as the messages of one flush do. */
    bool failed = deliver_conn_failed(s->conn, a);
    if (s->conn && !failed && !deliver_conn_usable(s->conn, a)) {
        deliver_close(s->conn);
        s->conn = NULL;
    }
    bool reused = s->conn != NULL && !failed;
    /* With the spool on, a failure that ends in the spool must not make
     * noise (cron mails whatever reaches stderr): diagnostics are held and
     * shown only when the message was not queued, or with -v. Over a
     * kept connection they are held too, for the case below. */
    bool hold = (a->queue != QUEUE_OFF || reused) && log_verbose() == 0;
    if (hold)
        log_hold();
    if (!s->conn)
        s->conn = deliver_open(a);
    deliver_send(s->conn, &d, !s->keep_open);
    if (reused && deliver_unanswered(&d)) {
        /* The server closed the kept connection while it was idle (it
         * may do so at any time): nothing of this message reached it, so
         * it goes again over a new connection, without the noise. */
        log_release(false);
        if (hold)
            log_hold();
        log_debug(1, _("the kept connection was closed by the server; connecting again"));
        deliver_free(&d);
        d = (struct delivery){ .env = &env, .msg = msg, .log_later = true };
        deliver_close(s->conn);
        s->conn = deliver_open(a);
        deliver_send(s->conn, &d, !s->keep_open);
    }
    /* Recipients left for now before the server could take the message
     * go through the account's fallback accounts (each its own
     * connection; a connection kept open stays the account's own). */
    if (s->keep_open && a->fallback && !s->fallback_conns)
        s->fallback_conns = failover_conns_new();
    bool fell_back = failover_deliver(s->cfg, a, &d, s->keep_open ? s->fallback_conns : NULL);
    enum result_class cls = d.result.cls;
    if (!s->keep_open) {
        deliver_close(s->conn);
        s->conn = NULL;
    }
    status = result_exit_status(cls);
    char *id = NULL;
    if (cls != RC_OK && a->queue != QUEUE_OFF)
        status = queue_after_failure(a, s->cfg, &env, msg, &d, status, &id);
    /* Held diagnostics are shown when the message was not queued, unless
     * a fallback account delivered it: it ended well (the log line has
     * the smarthost's failure). */
    log_release(id == NULL && !(fell_back && cls == RC_OK));
    d.queued_id = id;
    deliver_log_attempt(a, &d);
    fill_outcome(out, &d);
    out->queued = id != NULL;
    if (id)
        tell_queued(id, &d);
    free(id);
    if (cls == RC_OK && a->queue != QUEUE_OFF && !s->flush_started && queue_has_entries(a)) {
        flush_queue_detached(s->cfg, a->name);
        s->flush_started = true;
    }
    deliver_free(&d);
done:
    out->status = status;
    envelope_free(&env);
    if (out == &dummy)
        submit_outcome_free(out);
    return status;
}

void submit_outcome_free(struct submit_outcome *out)
{
    free(out->refused);
    free(out->reply);
    free(out->why);
    memset(out, 0, sizeof *out);
}

void submit_free(struct submit *s)
{
    deliver_close(s->conn);
    failover_conns_close(s->fallback_conns);
    free(s->applied);
    free(s->sender);
    free(s->from_value);
    free(s->mail_domain);
    config_free(s->cfg);
    memset(s, 0, sizeof *s);
}
