/*
 * deliver.c - one delivery session (see deliver.h): account -> connection
 * -> SMTP session -> one or more messages, then the per-recipient and
 * per-message classification, the diagnostics on stderr and the log line
 * of every attempt.
 *
 * Must not: touch a socket or speak SMTP itself (conn.[ch], smtp.[ch]),
 * or decide exit statuses (result_exit_status does, from the class).
 *
 * Classification of one message:
 *   every recipient delivered                  -> RC_OK
 *   else some recipient refused with 5xx        -> RC_NOUSER
 *   else some recipient refused with 4xx        -> RC_TEMPFAIL
 *   else the class of the transaction's failure (connection, MAIL, DATA,
 *   end of data, ...).
 * The session's class is the first message's class among the most
 * severe ones, where any permanent or local failure outranks RC_TEMPFAIL
 * (a caller that must act on one message must act).
 */
#include <autoconfig.h>

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "conn.h"
#include "deliver.h"
#include "envelope.h"
#include "i18n.h"
#include "idn.h"
#include "intake.h"
#include "log.h"

static char *deliver_oneline(const char *text)
{
    char *t = xstrdup(text ? text : "");
    for (char *p = t; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    return t;
}

/* A failure that applies to the whole session (nothing could be sent). */
static int deliver_check_account(const struct account *a, struct result *r)
{
    if (!a->host && !a->socket) {
        result_set(r, RC_CONFIG, _("no host set for account %s"), a->name);
        return -1;
    }
    if (a->tls) {
        result_set(r, RC_UNAVAILABLE,
                   _("TLS is not implemented yet in this version; set \"tls off\" for "
                     "account %s"), a->name);
        return -1;
    }
    if (a->auth && strcmp(a->auth, "off") != 0) {
        result_set(r, RC_UNAVAILABLE,
                   _("authentication is not implemented yet in this version; set \"auth off\" "
                     "for account %s"), a->name);
        return -1;
    }
    if (a->proxy_host) {
        result_set(r, RC_UNAVAILABLE,
                   _("proxy_host is not implemented yet in this version; remove it from "
                     "account %s to connect directly"), a->name);
        return -1;
    }
    return 0;
}

static void deliver_log(const struct account *a, const struct delivery *d,
                        const struct smtp_reply *last)
{
    char *smtpmsg = last && last->text ? deliver_oneline(last->text) : NULL;
    struct log_attempt la = {
        .account = a->name,
        .host = a->socket ? a->socket : a->host,
        .tls = false,
        .auth = NULL,
        .user = a->user,
        .from = d->env->sender,
        .recipients = (const char *const *)d->env->rcpts,
        .nrecipients = d->env->nrcpts,
        .mailsize = d->msg ? d->msg->size : -1,
        .smtpstatus = last ? last->code : 0,
        .smtpmsg = smtpmsg,
        .errormsg = d->result.cls != RC_OK ? d->result.msg : NULL,
        .exitcode = result_exit_status(d->result.cls),
    };
    log_attempt_write(&la, a->logfile, a->logfile_time_format, a->syslog);
    free(smtpmsg);
}

/* Send d over s and classify the outcome into d->result. */
static void deliver_one(struct smtp_session *s, struct delivery *d, bool last)
{
    struct smtp_message m = {
        .sender = d->env->sender,
        .rcpts = d->rcpts,
        .nrcpts = d->env->nrcpts,
        .fd = d->msg->fd,
        .size = d->msg->size,
        .body_8bit = d->msg->has_8bit,
        .smtputf8 = false,      /* smtp.c looks at the addresses itself */
        .dsn_notify = d->env->dsn_notify,
        .dsn_return = d->env->dsn_return,
        .dsn_envid = d->env->dsn_envid,
        .last = last,
    };
    struct result mr = RESULT_INIT;
    int rc = smtp_send_message(s, &m, &mr);

    size_t delivered = 0, perm = 0, temp = 0;
    for (size_t i = 0; i < m.nrcpts; i++) {
        const struct smtp_rcpt *rc_i = &d->rcpts[i];
        if (rc_i->status == RCPT_DELIVERED) {
            delivered++;
        } else if (rc_i->status == RCPT_PERMFAIL || rc_i->status == RCPT_TEMPFAIL) {
            if (rc_i->status == RCPT_PERMFAIL)
                perm++;
            else
                temp++;
            char *q = deliver_oneline(rc_i->reply);
            log_error(_("recipient %s refused: %s"), rc_i->addr, q);
            free(q);
        }
    }

    enum result_class cls;
    if (delivered == m.nrcpts && rc == 0)
        cls = RC_OK;
    else if (perm > 0)
        cls = RC_NOUSER;
    else if (temp > 0)
        cls = RC_TEMPFAIL;
    else
        cls = mr.cls != RC_OK ? mr.cls : RC_SOFTWARE;

    if (cls != RC_OK) {
        if (mr.cls != RC_OK)
            result_set(&d->result, cls, "%s", mr.msg);
        else
            result_set(&d->result, cls,
                       _("the message was not delivered to %zu of %zu recipients"),
                       m.nrcpts - delivered, m.nrcpts);
        log_error("%s", d->result.msg);
    }
    result_clear(&mr);
    free(m.final_reply);
}

static int deliver_rank(enum result_class cls)
{
    if (cls == RC_OK)
        return 0;
    if (cls == RC_TEMPFAIL)
        return 1;
    return 2;
}

enum result_class deliver_session(const struct account *a, struct delivery *d, size_t n)
{
    struct result sr = RESULT_INIT;   /* session-level failure */
    struct conn *c = NULL;
    struct smtp_session *s = NULL;
    char *host = NULL;

    for (size_t i = 0; i < n; i++) {
        result_clear(&d[i].result);
        size_t nr = d[i].env->nrcpts;
        d[i].rcpts = xcalloc(nr ? nr : 1, sizeof *d[i].rcpts);
        for (size_t j = 0; j < nr; j++)
            d[i].rcpts[j].addr = d[i].env->rcpts[j];
    }

    if (deliver_check_account(a, &sr) == 0 && !a->socket)
        host = idn_host_to_ascii(a->host, &sr);
    if (sr.cls == RC_OK) {
        int connect_ms = (a->timeout > 0 ? a->timeout : 60) * 1000;
        (void)conn_open(host, config_port(a), a->socket, a->source_ip, connect_ms, &c, &sr);
    }
    if (sr.cls == RC_OK) {
        struct smtp_params p = {
            .helo_domain = a->domain && *a->domain ? a->domain : "localhost",
            .timeout_s = a->timeout > 0 ? a->timeout : 0,
            .lmtp = a->protocol && ascii_strcasecmp(a->protocol, "lmtp") == 0,
        };
        s = smtp_new(c, &p);
        (void)smtp_open(s, &sr);
    }

    if (sr.cls != RC_OK) {
        /* Nothing was sent: every message shares the session's failure,
         * reported once on stderr. */
        log_error("%s", sr.msg);
        for (size_t i = 0; i < n; i++) {
            result_set(&d[i].result, sr.cls, "%s", sr.msg);
            deliver_log(a, &d[i], s ? smtp_last_reply(s) : NULL);
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            if (!smtp_alive(s)) {
                result_set(&d[i].result, RC_TEMPFAIL,
                           _("the message was not sent: the connection to %s was lost"),
                           conn_peer(c));
                log_error("%s", d[i].result.msg);
            } else {
                deliver_one(s, &d[i], i + 1 == n);
            }
            deliver_log(a, &d[i], smtp_last_reply(s));
        }
    }

    if (s) {
        smtp_quit(s);
        smtp_free(s);
    }
    conn_close(c);
    free(host);

    enum result_class worst = sr.cls;
    for (size_t i = 0; i < n; i++)
        if (deliver_rank(d[i].result.cls) > deliver_rank(worst))
            worst = d[i].result.cls;
    result_clear(&sr);
    return worst;
}

void deliver_free(struct delivery *d)
{
    if (!d)
        return;
    if (d->rcpts && d->env)
        for (size_t i = 0; i < d->env->nrcpts; i++)
            free(d->rcpts[i].reply);
    free(d->rcpts);
    d->rcpts = NULL;
    result_clear(&d->result);
}
