/*
 * deliver.c - one delivery session (see deliver.h): account -> connection
 * -> SMTP session -> one or more messages, then the per-recipient and
 * per-message classification, the diagnostics on stderr and the log line
 * of every attempt. It maps the SMTP client's recipient states
 * (smtp.h) to its own outcome (deliver.h): no other module reads them.
 * The connection goes through the account's SOCKS5 proxy when it has
 * one (conn_open_proxied; the proxy user's password is fetched just
 * before and wiped right after). The credential of a session is the
 * password (secret.h) or, for an account with oauth2_provider, the
 * access token (oauth2.h); a token
 * from the cache comes with the callback that replaces it once when the
 * server refuses it (smtp_params.refresh_token). A message that may need
 * converting (convert_may_need: 8-bit, a long or unknown longest line,
 * -B 7BIT) is sent as convert_for_server makes it for the capabilities
 * this server offered; one that cannot be converted is refused on its
 * own (nothing is sent for it, the connection stays for the next one).
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
 * severe ones, where any failure that no retry cures outranks those
 * worth a retry (result_worth_retry)
 * (a caller that must act on one message must act).
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "account-tls.h"
#include "smtprc.h"
#include "conn.h"
#include "convert.h"
#include "deliver.h"
#include "envelope.h"
#include "i18n.h"
#include "idn.h"
#include "message.h"
#include "log.h"
#include "oauth2.h"
#include "sasl.h"
#include "secret.h"
#include "smtp.h"
#include "tls.h"

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
    return 0;
}

/* The account authenticates ("auth" set and not "off"). */
static bool deliver_auth_on(const struct account *a)
{
    return a->auth && *a->auth && strcmp(a->auth, "off") != 0;
}

/* Before connecting: the password when authentication may need one
 * (every mechanism but external and gssapi); for an account with
 * oauth2_provider, the access token from smtpfwd's OAuth2 (*from_cache:
 * it came from the cache, so a refusal is worth one refresh). Returns 0
 * with *out set (NULL when none is needed), or -1 with r set (a
 * temporary failure to get a token is RC_TEMPFAIL, spooled as any
 * other). *out is wiped with secret_free after the session. */
static int deliver_get_password(const struct account *a, char **out, bool *from_cache,
                                struct result *r)
{
    *out = NULL;
    *from_cache = false;
    if (!deliver_auth_on(a) || !sasl_needs_password(a->auth))
        return 0;
    if (!a->user || !*a->user) {
        result_set(r, RC_CONFIG,
                   _("account %s uses authentication (auth %s) but sets no user; set "
                     "\"user\" in the account, or \"auth off\""), a->name, a->auth);
        return -1;
    }
    if (oauth2_enabled(a))
        *out = oauth2_token(a, false, from_cache, r);
    else
        *out = secret_get_password(a, r);
    return *out ? 0 : -1;
}

bool deliver_may_fall_back(enum result_class cls, int rcpt_code, bool data_taken)
{
    if (rcpt_code / 100 == 4)
        return true;
    if (rcpt_code / 100 == 5)
        return false;
    return cls == RC_TEMPFAIL && !data_taken;
}

void deliver_log_attempt(const struct account *primary, const struct delivery *d)
{
    const struct account *a = d->via ? d->via : primary;
    struct log_attempt la = {
        .account = a->name,
        .fallback_for = d->via ? primary->name : NULL,
        .host = a->socket ? a->socket : a->host,
        .tls = d->tls,
        .auth = deliver_auth_on(a) ? a->auth : NULL,
        .user = a->user,
        .from = d->env->sender,
        .recipients = (const char *const *)d->env->rcpts,
        .nrecipients = d->env->nrcpts,
        .mailsize = d->msg ? d->msg->size : -1,
        .smtpstatus = d->last_code,
        .smtpmsg = d->last_text,
        .errormsg = d->result.cls != RC_OK ? d->result.msg : NULL,
        .queued = d->queued_id,
        .exitcode = result_exit_status(d->result.cls),
    };
    /* The message's account's log, whichever account made the attempt. */
    log_attempt_write(&la, primary->logfile, primary->logfile_time_format, primary->syslog);
}

/* This message's attempt is over: keep what its log line needs, let the
 * caller record the outcome (done), then write the line unless the
 * caller will. */
static void deliver_finish(const struct account *a, struct delivery *d,
                           const struct smtp_reply *last, bool tls)
{
    free(d->last_text);
    d->last_code = last ? last->code : 0;
    d->last_text = last && last->text ? deliver_oneline(last->text) : NULL;
    d->tls = tls;
    if (d->done)
        d->done(d, d->done_arg);
    if (!d->log_later)
        deliver_log_attempt(a, d);
}

/* Through the account's SOCKS5 proxy to host (A-labels): the proxy
 * user's password is fetched just before and wiped right after the
 * negotiation. */
static int deliver_connect_proxied(const struct account *a, const char *host, int ms,
                                   struct conn **out, struct result *r)
{
    struct conn_proxy px = {
        .host = a->proxy_host,
        .port = config_proxy_port(a),
        .user = a->proxy_user && *a->proxy_user ? a->proxy_user : NULL,
    };
    char *pw = NULL;
    if (px.user && !(pw = secret_get_proxy_password(a, r)))
        return -1;
    px.password = pw;
    int rc = conn_open_proxied(&px, host, config_port(a), a->source_ip, ms, out, r);
    secret_free(pw);
    return rc;
}

/* Connect to a checked account (deliver_check_account), directly or
 * through its SOCKS5 proxy (the smarthost's name is then never resolved
 * here), and with implicit TLS (tls on, tls_starttls off) do the
 * handshake right away, before the greeting. Returns 0 and *out, or -1
 * with r set (*out may then hold a connection that the caller closes). */
static int deliver_connect(const struct account *a, const struct tls_config *tlscfg,
                           struct conn **out, struct result *r)
{
    char *host = NULL;
    *out = NULL;
    if (!a->socket && !(host = idn_host_to_ascii(a->host, r)))
        return -1;
    int ms = (a->timeout > 0 ? a->timeout : 60) * 1000;
    int rc = a->proxy_host ? deliver_connect_proxied(a, host, ms, out, r)
                           : conn_open(host, config_port(a), a->socket, a->source_ip, ms, out, r);
    free(host);
    if (rc == 0 && a->tls && !a->tls_starttls)
        rc = conn_start_tls(*out, tlscfg, ms, r);
    return rc;
}

/* Recipients the server accepted at RCPT but whose message was then
 * refused share the message's fate, with the reply that decided it: the
 * reply to the end of data (4xx: temporary, 5xx: permanent), or a 5xx to
 * DATA. Their RCPT reply ("250 recipient ok") is no reason for anything.
 * Others (the connection was lost, ...) stay as they are: the message's
 * own result speaks for them. */
static void deliver_settle_accepted(struct smtp_message *m, const struct result *mr,
                                    const struct smtp_reply *lr)
{
    int code = 0;
    const char *text = NULL;
    if (m->final_code >= 400) {
        code = m->final_code;
        text = m->final_reply;
    } else if (mr->cls == RC_DATAERR && lr && lr->code >= 500) {
        code = lr->code;
        text = lr->text;
    }
    if (code == 0)
        return;
    for (size_t i = 0; i < m->nrcpts; i++) {
        struct smtp_rcpt *rc = &m->rcpts[i];
        if (rc->status != RCPT_ACCEPTED)
            continue;
        rc->status = code / 100 == 4 ? RCPT_TEMPFAIL : RCPT_PERMFAIL;
        rc->code = code;
        free(rc->reply);
        rc->reply = xstrdup(text ? text : "");
    }
}

/* The SMTP client's word for each recipient, as this module's outcome
 * (the only place that reads smtp.h's recipient states); the replies
 * move into d. */
static void deliver_export_rcpts(struct delivery *d, struct smtp_message *m)
{
    for (size_t i = 0; i < m->nrcpts; i++) {
        struct smtp_rcpt *rc = &m->rcpts[i];
        struct deliver_rcpt *out = &d->rcpts[i];
        switch (rc->status) {
        case RCPT_DELIVERED: out->outcome = DELIVERY_DELIVERED; break;
        case RCPT_TEMPFAIL:  out->outcome = DELIVERY_TEMPORARY; break;
        case RCPT_PERMFAIL:  out->outcome = DELIVERY_PERMANENT; break;
        case RCPT_PENDING:
        case RCPT_ACCEPTED:  out->outcome = DELIVERY_UNANSWERED; break;
        }
        out->answered = rc->status != RCPT_PENDING;
        free(out->reply);
        out->reply = rc->reply;         /* moved: the SMTP copy is freed below */
        rc->reply = NULL;
    }
}

void deliver_convert_target(const struct smtp_caps *caps, bool force_7bit,
                            struct convert_target *t)
{
    t->eightbitmime = !force_7bit && caps->eightbitmime;
    t->smtputf8 = !force_7bit && caps->smtputf8;
}

/* The data to send d's message to the server of s (host names it for
 * -v) into *out: converted when it may need it (convert.h), else the
 * message's own file without a call. Returns 0, or -1 with d->result set
 * and said on stderr: the message cannot be converted (RC_DATAERR, the
 * converter's sentence) or a local failure. */
static int deliver_convert(struct smtp_session *s, struct delivery *d, const char *host,
                           struct convert_output *out)
{
    const struct message *msg = d->msg;
    if (!convert_may_need(msg)) {
        out->fd = msg->fd;
        out->offset = msg->offset;
        out->size = msg->size;
        out->body_8bit = msg->has_8bit;
        return 0;
    }
    struct convert_target t;
    deliver_convert_target(smtp_caps(s), msg->force_7bit, &t);
    struct result cr = RESULT_INIT;
    if (convert_for_server(msg, &t, NULL, out, &cr) != 0) {
        result_set(&d->result, cr.cls != RC_OK ? cr.cls : RC_SOFTWARE, "%s",
                   cr.msg ? cr.msg : _("the message could not be converted"));
        log_error("%s", d->result.msg);
        result_clear(&cr);
        convert_output_free(out);
        return -1;
    }
    if (out->summary)
        log_debug(1, _("converted for %s: %s"), host, out->summary);
    return 0;
}

/* Send d over s and classify the outcome into d->result. Returns false
 * when nothing was sent for it (it could not be converted). */
static bool deliver_one(struct smtp_session *s, struct delivery *d, const char *host, bool last)
{
    struct convert_output out = CONVERT_OUTPUT_INIT;
    if (deliver_convert(s, d, host, &out) != 0)
        return false;
    size_t nr = d->env->nrcpts;
    struct smtp_rcpt *rcpts = xcalloc(nr ? nr : 1, sizeof *rcpts);
    for (size_t i = 0; i < nr; i++)
        rcpts[i].addr = d->env->rcpts[i];
    struct smtp_message m = {
        .sender = d->env->sender,
        .rcpts = rcpts,
        .nrcpts = d->env->nrcpts,
        .fd = out.fd,
        .offset = out.offset,
        .size = out.size,
        .body_8bit = out.body_8bit,
        /* UTF-8 left in header fields; smtp.c adds the addresses */
        .smtputf8 = out.header_utf8,
        .dsn_notify = d->env->dsn_notify,
        .dsn_return = d->env->dsn_return,
        .dsn_envid = d->env->dsn_envid,
        .last = last,
    };
    struct result mr = RESULT_INIT;
    int rc = smtp_send_message(s, &m, &mr);
    const struct smtp_reply *lr = smtp_last_reply(s);
    free(d->reply);
    d->reply = rc != 0 && lr && lr->code >= 400 && lr->text ? xstrdup(lr->text) : NULL;

    size_t delivered = 0, perm = 0, temp = 0;
    for (size_t i = 0; i < m.nrcpts; i++) {
        const struct smtp_rcpt *rc_i = &m.rcpts[i];
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

    /* The message itself refused (5xx to MAIL, DATA or the end of data)
     * says more than the refusals of single recipients next to it. */
    enum result_class cls;
    if (delivered == m.nrcpts && rc == 0)
        cls = RC_OK;
    else if (mr.cls == RC_DATAERR)
        cls = RC_DATAERR;
    else if (perm > 0)
        cls = RC_NOUSER;
    else if (temp > 0)
        cls = RC_TEMPFAIL;
    else
        cls = mr.cls != RC_OK ? mr.cls : RC_SOFTWARE;
    for (size_t i = 0; i < m.nrcpts; i++)
        d->rcpts[i].may_fall_back = m.rcpts[i].status != RCPT_DELIVERED
                                    && deliver_may_fall_back(cls, m.rcpts[i].rcpt_code,
                                                             m.data_taken);
    deliver_settle_accepted(&m, &mr, lr);
    deliver_export_rcpts(d, &m);

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
    for (size_t i = 0; i < nr; i++)
        free(rcpts[i].reply);
    free(rcpts);
    convert_output_free(&out);
    return true;
}

static int deliver_rank(enum result_class cls)
{
    if (cls == RC_OK)
        return 0;
    if (result_worth_retry(cls))
        return 1;
    return 2;
}

/* One connection to an account's smarthost, open (SMTP session READY)
 * or failed (sr says why: every message sent over it shares that). */
struct deliver_conn {
    const struct account *a;
    struct conn *c;
    struct smtp_session *s;
    char *password;                   /* secret (or the OAuth2 access token): wiped
                                         when closed or replaced */
    struct tls_config tlscfg;         /* the session points to it */
    struct result sr;                 /* session-level failure */
};

/* The SMTP session's refresh_token callback (smtp.h) for an access
 * token that came from the cache and was refused: a new one from the
 * token endpoint replaces the connection's (the old one is wiped).
 * Returns it (owned by dc), or NULL with r set. */
static const char *deliver_refresh_token(void *arg, struct result *r)
{
    struct deliver_conn *dc = arg;
    char *token = oauth2_token(dc->a, true, NULL, r);
    if (!token)
        return NULL;
    secret_free(dc->password);
    dc->password = token;
    return token;
}

struct deliver_conn *deliver_open(const struct account *a)
{
    struct deliver_conn *dc = xcalloc(1, sizeof *dc);
    bool from_cache = false;
    dc->a = a;
    if (deliver_check_account(a, &dc->sr) == 0)
        (void)deliver_get_password(a, &dc->password, &from_cache, &dc->sr);

    account_tls_config(&dc->tlscfg, a);
    if (dc->sr.cls == RC_OK)
        (void)deliver_connect(a, &dc->tlscfg, &dc->c, &dc->sr);
    if (dc->sr.cls == RC_OK) {
        struct smtp_params p = {
            .starttls = a->tls && a->tls_starttls,
            .tls = &dc->tlscfg,
            .helo_domain = a->domain && *a->domain ? a->domain : "localhost",
            .timeout_s = a->timeout > 0 ? a->timeout : 0,
            .lmtp = a->protocol && ascii_strcasecmp(a->protocol, "lmtp") == 0,
            .auth = deliver_auth_on(a) ? a->auth : NULL,
            .user = a->user,
            .password = dc->password,
            .ntlmdomain = a->ntlmdomain,
            .allow_plaintext_auth = a->allow_plaintext_auth,
            .refresh_token = from_cache ? deliver_refresh_token : NULL,
            .refresh_arg = dc,
            .chunking = a->chunking,
        };
        dc->s = smtp_new(dc->c, &p);
        (void)smtp_open(dc->s, &dc->sr);
    }
    /* Nothing can be sent: reported once; every message shares it. */
    if (dc->sr.cls != RC_OK)
        log_error("%s", dc->sr.msg);
    return dc;
}

bool deliver_conn_usable(const struct deliver_conn *dc, const struct account *a)
{
    return dc && dc->a == a && dc->sr.cls == RC_OK && smtp_alive(dc->s)
           && conn_idle_intact(dc->c);
}

bool deliver_conn_failed(const struct deliver_conn *dc, const struct account *a)
{
    return dc && dc->a == a && dc->sr.cls != RC_OK;
}

void deliver_send(struct deliver_conn *dc, struct delivery *d, bool last)
{
    result_clear(&d->result);
    size_t nr = d->env->nrcpts;
    d->rcpts = xcalloc(nr ? nr : 1, sizeof *d->rcpts);
    if (dc->sr.cls != RC_OK) {
        result_set(&d->result, dc->sr.cls, "%s", dc->sr.msg);
        d->unreached = true;
        for (size_t i = 0; i < nr; i++)
            d->rcpts[i].may_fall_back = deliver_may_fall_back(dc->sr.cls, 0, false);
        deliver_finish(dc->a, d, dc->s ? smtp_last_reply(dc->s) : NULL,
                       dc->c && conn_is_tls(dc->c));
        return;
    }
    bool sent = true;
    if (!smtp_alive(dc->s)) {
        result_set(&d->result, RC_TEMPFAIL,
                   _("the message was not sent: the connection to %s was lost"),
                   conn_peer(dc->c));
        log_error("%s", d->result.msg);
        for (size_t i = 0; i < nr; i++)
            d->rcpts[i].may_fall_back = true;
    } else {
        sent = deliver_one(dc->s, d, dc->a->socket ? dc->a->socket : dc->a->host, last);
    }
    /* A message refused before anything was sent for it: no reply of the
     * server decided it (its log line quotes none). */
    deliver_finish(dc->a, d, sent ? smtp_last_reply(dc->s) : NULL, conn_is_tls(dc->c));
}

bool deliver_unanswered(const struct delivery *d)
{
    if (d->result.cls != RC_TEMPFAIL || d->reply)
        return false;
    for (size_t i = 0; i < d->env->nrcpts; i++)
        if (d->rcpts && d->rcpts[i].answered)
            return false;
    return true;
}

enum result_class deliver_close(struct deliver_conn *dc)
{
    if (!dc)
        return RC_OK;
    if (dc->s) {
        smtp_quit(dc->s);
        smtp_free(dc->s);
    }
    conn_close(dc->c);
    secret_free(dc->password);
    enum result_class cls = dc->sr.cls;
    result_clear(&dc->sr);
    free(dc);
    return cls;
}

enum result_class deliver_session(const struct account *a, struct delivery *d, size_t n)
{
    struct deliver_conn *dc = deliver_open(a);
    for (size_t i = 0; i < n; i++)
        deliver_send(dc, &d[i], i + 1 == n);
    enum result_class worst = deliver_close(dc);
    for (size_t i = 0; i < n; i++)
        if (deliver_rank(d[i].result.cls) > deliver_rank(worst))
            worst = d[i].result.cls;
    return worst;
}

/* Each line of a reply without its "CODE-"/"CODE " prefix, indented. */
static void deliver_print_reply_lines(FILE *out, const char *text)
{
    const char *p = text ? text : "";
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        size_t skip = n >= 4 ? 4 : n;
        fprintf(out, "    %.*s\n", (int)(n - skip), p + skip);
        p += n;
        if (*p == '\n')
            p++;
    }
}

static void deliver_print_tls(FILE *out, const struct tls_info *ti)
{
    fprintf(out, "%s\n", _("TLS session parameters:"));
    fprintf(out, "    %s %s\n", _("Protocol version:"), ti->version);
    fprintf(out, "    %s %s\n", _("Cipher suite:"), ti->cipher);
    fprintf(out, "%s\n", _("TLS certificate information:"));
    fprintf(out, "    %s %s\n", _("Subject:"), ti->subject);
    fprintf(out, "    %s %s\n", _("Issuer:"), ti->issuer);
    fprintf(out, "    %s\n", _("Validity:"));
    fprintf(out, "        %s %s\n", _("Activation time:"), ti->not_before);
    fprintf(out, "        %s %s\n", _("Expiration time:"), ti->not_after);
    fprintf(out, "    %s\n", _("Fingerprints:"));
    fprintf(out, "        SHA256: %s\n", ti->sha256);
    fprintf(out, "        SHA1 (deprecated): %s\n", ti->sha1);
}

static void deliver_print_caps(FILE *out, const struct smtp_caps *caps)
{
    fprintf(out, "%s\n", _("Capabilities:"));
    if (!caps->esmtp) {
        fprintf(out, "    %s\n", _("none (the server does not speak ESMTP)"));
        return;
    }
    if (caps->size) {
        if (caps->size_max > 0) {
            char *t = xasprintf(ngettext("Maximum message size is %llu byte = %.2f MiB",
                                         "Maximum message size is %llu bytes = %.2f MiB",
                                         (unsigned long)caps->size_max),
                                caps->size_max, (double)caps->size_max / (1024.0 * 1024.0));
            fprintf(out, "    SIZE %llu:\n        %s\n", caps->size_max, t);
            free(t);
        } else {
            fprintf(out, "    SIZE:\n        %s\n", _("Maximum message size is unlimited"));
        }
    }
    if (caps->pipelining)
        fprintf(out, "    PIPELINING:\n        %s\n",
                _("Support for command grouping for faster transmission"));
    if (caps->eightbitmime)
        fprintf(out, "    8BITMIME:\n        %s\n", _("Support for 8-bit message bodies"));
    if (caps->smtputf8)
        fprintf(out, "    SMTPUTF8:\n        %s\n",
                _("Support for internationalized (UTF-8) addresses"));
    if (caps->dsn)
        fprintf(out, "    DSN:\n        %s\n", _("Support for Delivery Status Notifications"));
    if (caps->enhancedstatuscodes)
        fprintf(out, "    ENHANCEDSTATUSCODES:\n        %s\n",
                _("Support for enhanced status codes in replies"));
    if (caps->chunking)
        fprintf(out, "    CHUNKING:\n        %s\n",
                _("Support for sending the message in chunks (BDAT)"));
    if (caps->starttls)
        fprintf(out, "    STARTTLS:\n        %s\n",
                _("Support for TLS encryption via the STARTTLS command"));
    if (caps->auth)
        fprintf(out, "    AUTH:\n        %s\n        %s\n",
                _("Supported authentication methods:"), caps->auth);
}

enum result_class deliver_serverinfo(const struct account *a, FILE *out)
{
    struct result sr = RESULT_INIT;
    struct conn *c = NULL;
    struct smtp_session *s = NULL;
    struct tls_config tlscfg;
    account_tls_config(&tlscfg, a);
    /* A resumed session shows no certificate: always a full handshake. */
    tlscfg.session_cache = false;

    if (deliver_check_account(a, &sr) == 0 && deliver_connect(a, &tlscfg, &c, &sr) == 0) {
        struct smtp_params p = {
            .helo_domain = a->domain && *a->domain ? a->domain : "localhost",
            .timeout_s = a->timeout > 0 ? a->timeout : 0,
            .lmtp = a->protocol && ascii_strcasecmp(a->protocol, "lmtp") == 0,
            .starttls = a->tls && a->tls_starttls,
            .tls = &tlscfg,
        };
        s = smtp_new(c, &p);
        (void)smtp_open(s, &sr);
    }
    if (sr.cls == RC_OK) {
        if (a->socket)
            fprintf(out, _("SMTP server at %s:"), a->socket);
        else
            fprintf(out, _("SMTP server at %s (%s):"), a->host, conn_peer(c));
        fputc('\n', out);
        deliver_print_reply_lines(out, smtp_greeting(s));
        struct tls_info ti;
        if (conn_tls_info(c, &ti) == 0) {
            deliver_print_tls(out, &ti);
            tls_info_free(&ti);
        }
        deliver_print_caps(out, smtp_caps(s));
        if (!conn_is_tls(c) && smtp_caps(s)->starttls)
            fprintf(out, "%s\n", _("This server might advertise more or other capabilities "
                                   "when TLS is active."));
        if (fflush(out) != 0 || ferror(out))
            result_set(&sr, RC_IOERR, _("cannot write the server information"));
    }
    if (sr.cls != RC_OK)
        log_error("%s", sr.msg);
    if (s) {
        smtp_quit(s);
        smtp_free(s);
    }
    conn_close(c);
    enum result_class cls = sr.cls;
    result_clear(&sr);
    return cls;
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
    free(d->reply);
    d->reply = NULL;
    free(d->last_text);
    d->last_text = NULL;
    result_clear(&d->result);
}
