/*
 * smtp.c - the SMTP/LMTP client state machine (see smtp.h; the states
 * are listed in smtp-int.h).
 *
 * Owns: the table of states (name, reply timeout, whether more replies
 * may follow, whether a 3xx is expected, whether the reply counts for
 * smtp_last_reply), entering a state, which sends what it needs
 * (smtp_enter -> smtp_send_state, the one sending function), handling
 * each reply by switching on the state (smtp_handle_reply, the one
 * handling function), capabilities, STARTTLS, the pipelined MAIL/RCPT/DATA or
 * BDAT LAST group, and the classification of every refusal.
 *
 * Delegates: the AUTH states to smtp-auth.c, the message data to
 * smtp-data.c, the envelope lines and their checks to smtp-envelope.c,
 * reading one reply (framing, limits, masking) to smtp-read.c.
 *
 * Must not: touch a socket (everything goes through conn.[ch]), or send
 * anything after a fatal error (network, timeout, protocol, 421).
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "i18n.h"
#include "log.h"
#include "mask.h"
#include "reply.h"
#include "smtp-int.h"
#include "tls.h"

/* How a state's reply is taken before its handler sees it. */
enum smtp_more {
    SMTP_MORE_NO,             /* nothing may follow the reply: extra bytes are a protocol error */
    SMTP_MORE_YES,            /* more replies may be in flight */
    SMTP_MORE_IF_PIPELINED,   /* ... when the transaction is pipelined */
};

struct smtp_state_info {
    const char *name;         /* in the trace "smtp: OLD -> NEW" and in messages */
    int timeout_s;            /* RFC 5321 4.5.3.2 default for its reply */
    enum smtp_more more;
    bool intermediate;        /* a 3xx reply goes to the handler (else: unexpected) */
    bool decisive;            /* its reply counts for smtp_last_reply() */
};

static const struct smtp_state_info smtp_states[] = {
    [SMTP_GREETING] = { "GREETING", SMTP_TMO_GREETING, SMTP_MORE_NO, false, true },
    [SMTP_EHLO] = { "EHLO", SMTP_TMO_COMMAND, SMTP_MORE_NO, false, true },
    [SMTP_HELO] = { "HELO", SMTP_TMO_COMMAND, SMTP_MORE_NO, false, true },
    [SMTP_STARTTLS] = { "STARTTLS", SMTP_TMO_COMMAND, SMTP_MORE_YES, false, true },
    [SMTP_AUTH] = { "AUTH", SMTP_TMO_COMMAND, SMTP_MORE_YES, true, true },
    [SMTP_AUTH_STEP] = { "AUTH_STEP", SMTP_TMO_COMMAND, SMTP_MORE_YES, true, true },
    [SMTP_AUTH_CANCEL] = { "AUTH_CANCEL", SMTP_TMO_COMMAND, SMTP_MORE_YES, true, true },
    [SMTP_READY] = { "READY", SMTP_TMO_COMMAND, SMTP_MORE_YES, false, true },
    [SMTP_READY_AUTH] = { "READY_AUTH", SMTP_TMO_COMMAND, SMTP_MORE_YES, false, true },
    [SMTP_AUTH_GROUP] = { "AUTH_GROUP", SMTP_TMO_COMMAND, SMTP_MORE_YES, true, true },
    [SMTP_AUTH_SKIP_MAIL] = { "AUTH_SKIP_MAIL", SMTP_TMO_COMMAND, SMTP_MORE_IF_PIPELINED,
                              true, false },
    [SMTP_AUTH_SKIP_RCPT] = { "AUTH_SKIP_RCPT", SMTP_TMO_COMMAND, SMTP_MORE_IF_PIPELINED,
                              true, false },
    [SMTP_AUTH_SKIP_DATA] = { "AUTH_SKIP_DATA", SMTP_TMO_DATA, SMTP_MORE_IF_PIPELINED,
                              true, false },
    [SMTP_PIPELINE] = { "PIPELINE", SMTP_TMO_COMMAND, SMTP_MORE_YES, false, true },
    [SMTP_MAIL] = { "MAIL", SMTP_TMO_COMMAND, SMTP_MORE_IF_PIPELINED, false, true },
    [SMTP_RCPT] = { "RCPT", SMTP_TMO_COMMAND, SMTP_MORE_IF_PIPELINED, false, true },
    [SMTP_SKIP_RCPT] = { "SKIP_RCPT", SMTP_TMO_COMMAND, SMTP_MORE_IF_PIPELINED, false, false },
    [SMTP_DATA] = { "DATA", SMTP_TMO_DATA, SMTP_MORE_IF_PIPELINED, true, true },
    [SMTP_SKIP_DATA] = { "SKIP_DATA", SMTP_TMO_DATA, SMTP_MORE_IF_PIPELINED, true, false },
    [SMTP_EMPTY_DOT] = { "EMPTY_DOT", SMTP_TMO_DOT, SMTP_MORE_YES, false, false },
    [SMTP_BODY] = { "BODY", SMTP_TMO_BLOCK, SMTP_MORE_YES, false, true },
    [SMTP_DOT] = { "DOT", SMTP_TMO_DOT, SMTP_MORE_YES, false, true },
    [SMTP_BDAT] = { "BDAT", SMTP_TMO_DOT, SMTP_MORE_YES, false, true },
    [SMTP_SKIP_BDAT] = { "SKIP_BDAT", SMTP_TMO_DOT, SMTP_MORE_YES, false, false },
    [SMTP_RSET] = { "RSET", SMTP_TMO_COMMAND, SMTP_MORE_NO, false, false },
    [SMTP_QUIT] = { "QUIT", SMTP_TMO_QUIT, SMTP_MORE_YES, false, false },
    [SMTP_BYE] = { "BYE", SMTP_TMO_COMMAND, SMTP_MORE_YES, false, true },
    [SMTP_CLOSED] = { "CLOSED", SMTP_TMO_COMMAND, SMTP_MORE_YES, false, true },
};
_Static_assert(sizeof smtp_states / sizeof smtp_states[0] == SMTP_CLOSED + 1,
               "one row per state, SMTP_CLOSED last");

/* ---------------------------------------------------------------- */
/* small helpers */

/* The reply on one line, for messages ("550-a 550 b"). */
char *smtp_reply_oneline(const struct smtp_reply *rep)
{
    char *t = xstrdup(rep->text ? rep->text : "");
    for (char *p = t; *p; p++)
        if (*p == '\n')
            *p = ' ';
    return t;
}

/* Keep the earliest failure: move src into dst unless dst already has one. */
void smtp_keep_first(struct result *dst, struct result *src)
{
    if (src->cls == RC_OK)
        return;
    if (dst->cls == RC_OK)
        result_move(dst, src);
    else
        result_clear(src);
}

static int smtp_timeout_ms(const struct smtp_session *s, int default_s)
{
    int t = default_s;
    if (s->p.timeout_s > 0 && s->p.timeout_s < t)
        t = s->p.timeout_s;
    return t * 1000;
}

int smtp_state_timeout(const struct smtp_session *s, enum smtp_state st)
{
    return smtp_timeout_ms(s, smtp_states[st].timeout_s);
}

/* ---------------------------------------------------------------- */
/* sending */

void smtp_lost(struct smtp_session *s)
{
    if (s->state != SMTP_CLOSED)
        log_debug(2, _("smtp: %s -> %s"), smtp_states[s->state].name,
                  smtp_states[SMTP_CLOSED].name);
    s->state = SMTP_CLOSED;
}

/* Queue one command line (CRLF added) and show it in the transcript. */
int smtp_cmd(struct smtp_session *s, const char *line, int timeout_ms, struct result *r)
{
    log_transcript('>', line, strlen(line));
    size_t n = strlen(line);
    if (conn_write(s->c, line, n, timeout_ms, r) != 0)
        return -1;
    return conn_write(s->c, "\r\n", 2, timeout_ms, r);
}

/* A pipelined transaction's MAIL, every RCPT and DATA, queued (not flushed):
 * the whole group leaves in one write (RFC 2920). With CHUNKING the group
 * ends in BDAT LAST and the message instead of DATA (RFC 3030 4.2): the
 * whole transaction is one write for a small message. Nothing follows the
 * end of the message before its reply (see SMTP_BYE). */
int smtp_queue_mail_group(struct smtp_session *s, int tmo, struct result *r)
{
    struct smtp_txn *t = s->t;
    char *cmd = smtp_mail_command(s, t);
    int rc = smtp_cmd(s, cmd, tmo, r);
    free(cmd);
    for (size_t i = 0; rc == 0 && i < t->m->nrcpts; i++) {
        cmd = smtp_rcpt_command(s, t, i);
        rc = smtp_cmd(s, cmd, tmo, r);
        free(cmd);
    }
    if (rc == 0 && !t->chunked)
        rc = smtp_cmd(s, "DATA", tmo, r);
    if (rc == 0 && t->chunked)
        rc = smtp_send_chunk(s, r);
    return rc;
}

/* Send what the state just entered needs: one command and a flush, a
 * whole pipelined group (PIPELINE, and AUTH_GROUP in smtp-auth.c), the
 * body, or nothing when the command already left with a group. */
static int smtp_send_state(struct smtp_session *s, struct result *r)
{
    struct smtp_txn *t = s->t;
    int tmo = smtp_state_timeout(s, s->state);
    char *cmd = NULL;
    int rc = 0;

    switch (s->state) {
    case SMTP_GREETING:
    case SMTP_READY:
    case SMTP_READY_AUTH:
    case SMTP_CLOSED:
        return 0;
    case SMTP_AUTH_SKIP_MAIL:
    case SMTP_AUTH_SKIP_RCPT:
    case SMTP_AUTH_SKIP_DATA:
    case SMTP_SKIP_RCPT:
    case SMTP_SKIP_DATA:
    case SMTP_BDAT:
    case SMTP_SKIP_BDAT:
        return 0;               /* sent with the pipelined group */
    case SMTP_EHLO:
        cmd = xasprintf("%s %s", s->p.lmtp ? "LHLO" : "EHLO", s->p.helo_domain);
        break;
    case SMTP_HELO:
        cmd = xasprintf("HELO %s", s->p.helo_domain);
        break;
    case SMTP_STARTTLS:
        cmd = xstrdup("STARTTLS");
        break;
    case SMTP_AUTH:
    case SMTP_AUTH_STEP:
    case SMTP_AUTH_CANCEL:
    case SMTP_AUTH_GROUP:
        return smtp_auth_send(s, r);
    case SMTP_PIPELINE:
        if (t->chunked)
            t->m->data_taken = true;    /* BDAT LAST and the message go in this write */
        rc = smtp_queue_mail_group(s, tmo, r);
        if (rc == 0)
            rc = conn_flush(s->c, tmo, r);
        return rc == 0 ? smtp_enter(s, SMTP_MAIL, r) : -1;
    case SMTP_MAIL:
        if (t->pipelined)
            return 0;
        cmd = smtp_mail_command(s, t);
        break;
    case SMTP_RCPT:
        if (t->pipelined)
            return 0;
        cmd = smtp_rcpt_command(s, t, t->next_rcpt);
        break;
    case SMTP_DATA:
        if (t->pipelined)
            return 0;
        cmd = xstrdup("DATA");
        break;
    case SMTP_BODY:
        t->m->data_taken = true;
        if (smtp_send_body(s, r) != 0)
            return -1;
        return smtp_enter(s, SMTP_DOT, r);
    case SMTP_DOT:
    case SMTP_EMPTY_DOT:
        rc = smtp_cmd(s, ".", tmo, r);
        return rc == 0 ? conn_flush(s->c, smtp_state_timeout(s, SMTP_BODY), r) : -1;
    case SMTP_RSET:
        cmd = xstrdup("RSET");
        break;
    case SMTP_QUIT:
        cmd = xstrdup("QUIT");
        break;
    case SMTP_BYE:
        /* The last message's end of data was answered: QUIT, and no
         * waiting for its 221 (the answer that mattered has come). */
        {
            struct result ignored = RESULT_INIT;    /* too late to matter */
            if (smtp_cmd(s, "QUIT", tmo, &ignored) == 0)
                (void)conn_flush(s->c, tmo, &ignored);
            result_clear(&ignored);
        }
        smtp_lost(s);
        return 0;
    }
    rc = smtp_cmd(s, cmd, tmo, r);
    free(cmd);
    return rc == 0 ? conn_flush(s->c, tmo, r) : -1;
}

/* Enter state st: trace the transition and send what st needs. */
int smtp_enter(struct smtp_session *s, enum smtp_state st, struct result *r)
{
    log_debug(2, _("smtp: %s -> %s"), smtp_states[s->state].name, smtp_states[st].name);
    s->state = st;
    return smtp_send_state(s, r);
}

/* ---------------------------------------------------------------- */
/* handling replies */

/* A failure quoting the last reply: 4xx -> RC_TEMPFAIL, else perm_class. */
static void smtp_refused(struct smtp_session *s, enum result_class perm_class,
                         const char *what, struct result *r)
{
    char *q = smtp_reply_oneline(&s->last);
    result_set(r, s->last.code / 100 == 4 ? RC_TEMPFAIL : perm_class, "%s: %s", what, q);
    free(q);
}

int smtp_unexpected(struct smtp_session *s, struct result *r)
{
    char *q = smtp_reply_oneline(&s->last);
    result_set(r, RC_PROTOCOL, _("unexpected reply from the server in state %s: %s"),
               smtp_states[s->state].name, q);
    free(q);
    return -1;
}

static void smtp_all_refused(struct smtp_session *s, struct result *r)
{
    const struct smtp_message *m = s->t->m;
    struct buf b = BUF_INIT;
    bool temp = false;
    for (size_t i = 0; i < m->nrcpts; i++) {
        if (m->rcpts[i].status == RCPT_TEMPFAIL)
            temp = true;
        if (b.len)
            buf_puts(&b, "; ");
        buf_printf(&b, "<%s>: %s", m->rcpts[i].addr,
                   m->rcpts[i].reply ? m->rcpts[i].reply : "");
    }
    for (char *p = b.data; p && *p; p++)
        if (*p == '\n')
            *p = ' ';
    result_set(r, temp ? RC_TEMPFAIL : RC_NOUSER,
               _("the server refused every recipient: %s"), b.data ? b.data : "");
    buf_free(&b);
}

/* Whether the transaction in progress carries the session's last message. */
static bool smtp_last_message(const struct smtp_session *s)
{
    return s->t && s->t->m->last;
}

/* Where to go after a failed transaction: RSET, or for the last message
 * straight to QUIT (nothing is left to reset for). */
static enum smtp_state smtp_after_failure(const struct smtp_session *s)
{
    return smtp_last_message(s) ? SMTP_BYE : SMTP_RSET;
}

/* Where to go after a message was accepted. */
static enum smtp_state smtp_after_success(const struct smtp_session *s)
{
    return smtp_last_message(s) ? SMTP_BYE : SMTP_READY;
}

static void smtp_set_rcpt(struct smtp_rcpt *rc, const struct smtp_reply *rep)
{
    int cls = rep->code / 100;
    rc->status = cls == 2 ? RCPT_ACCEPTED : cls == 4 ? RCPT_TEMPFAIL : RCPT_PERMFAIL;
    rc->code = rep->code;
    free(rc->reply);
    rc->reply = xstrdup(rep->text ? rep->text : "");
}

/* The reply to the end of the message ("." or BDAT LAST): the
 * message's final status for every accepted recipient. */
static int smtp_handle_final(struct smtp_session *s, struct result *r)
{
    struct smtp_message *m = s->t->m;
    m->final_code = s->last.code;
    free(m->final_reply);
    m->final_reply = xstrdup(s->last.text);
    if (s->last.code / 100 == 2) {
        for (size_t i = 0; i < m->nrcpts; i++)
            if (m->rcpts[i].status == RCPT_ACCEPTED)
                m->rcpts[i].status = RCPT_DELIVERED;
        return smtp_enter(s, smtp_after_success(s), r);
    }
    smtp_refused(s, RC_DATAERR, _("the server refused the message"), r);
    return smtp_enter(s, smtp_after_failure(s), r);
}

static int smtp_handle_dot_lmtp(struct smtp_session *s, struct result *r)
{
    struct smtp_txn *t = s->t;
    struct smtp_message *m = t->m;
    while (t->next_dot < m->nrcpts && m->rcpts[t->next_dot].status != RCPT_ACCEPTED)
        t->next_dot++;
    if (t->next_dot < m->nrcpts) {
        struct smtp_rcpt *rc = &m->rcpts[t->next_dot++];
        smtp_set_rcpt(rc, &s->last);
        if (rc->status == RCPT_ACCEPTED)
            rc->status = RCPT_DELIVERED;
    }
    m->final_code = s->last.code;
    free(m->final_reply);
    m->final_reply = xstrdup(s->last.text);
    if (++t->ndot < t->naccepted)
        return 0;               /* more per-recipient replies to come */
    bool any = false, temp = false;
    for (size_t i = 0; i < m->nrcpts; i++) {
        any |= m->rcpts[i].status == RCPT_DELIVERED;
        temp |= m->rcpts[i].status == RCPT_TEMPFAIL;
    }
    if (!any) {
        char *q = smtp_reply_oneline(&s->last);
        result_set(r, temp ? RC_TEMPFAIL : RC_DATAERR,
                   _("the server refused the message for every recipient: %s"), q);
        free(q);
        return smtp_enter(s, smtp_after_failure(s), r);
    }
    return smtp_enter(s, smtp_after_success(s), r);
}

/* STARTTLS is required and not done yet. */
static bool smtp_needs_starttls(const struct smtp_session *s)
{
    return s->p.starttls && !conn_is_tls(s->c);
}

/* After a successful EHLO: STARTTLS when required and not done yet
 * (no downgrade: not offered -> RC_UNAVAILABLE, only QUIT is sent), else
 * on to READY. */
static int smtp_after_ehlo(struct smtp_session *s, struct result *r)
{
    if (smtp_needs_starttls(s)) {
        if (!s->caps.starttls) {
            result_set(r, RC_UNAVAILABLE,
                       _("the server does not offer STARTTLS; refusing to continue without "
                         "TLS (set \"tls off\" to send in plain text)"));
            return smtp_enter(s, SMTP_QUIT, r);
        }
        return smtp_enter(s, SMTP_STARTTLS, r);
    }
    return smtp_enter(s, SMTP_READY, r);
}

/* The reply to STARTTLS: 220 -> handshake, then EHLO again. */
static int smtp_handle_starttls(struct smtp_session *s, struct result *r)
{
    int cls = s->last.code / 100;
    if (s->last.code != 220) {
        if (cls == 2)
            return smtp_unexpected(s, r);
        smtp_refused(s, RC_UNAVAILABLE, _("the server refused STARTTLS"), r);
        return smtp_enter(s, SMTP_QUIT, r);
    }
    if (conn_pending(s->c) > 0) {
        result_set(r, RC_PROTOCOL,
                   _("the server sent data after its reply to STARTTLS (possible command "
                     "injection); aborting"));
        return -1;
    }
    if (!s->p.tls) {
        result_set(r, RC_SOFTWARE, _("internal error: STARTTLS without a TLS configuration"));
        return -1;
    }
    if (conn_start_tls(s->c, s->p.tls, smtp_state_timeout(s, SMTP_STARTTLS), r) != 0)
        return -1;
    reply_caps_clear(&s->caps);
    return smtp_enter(s, SMTP_EHLO, r);
}

/* After the last RCPT reply: the end of the group (BDAT or DATA, or
 * their skipped forms when nobody was accepted), or RSET when nothing
 * more went out. */
static enum smtp_state smtp_after_rcpts(const struct smtp_session *s)
{
    const struct smtp_txn *t = s->t;
    if (t->chunked)
        return t->naccepted > 0 ? SMTP_BDAT : SMTP_SKIP_BDAT;
    if (t->naccepted > 0)
        return SMTP_DATA;
    return t->pipelined ? SMTP_SKIP_DATA : SMTP_RSET;
}

/* Consume s->last for the current state and choose the next state.
 * Transaction failures are recorded in r and lead to RSET; -1 means the
 * connection is unusable (fatal). */
static int smtp_handle_reply(struct smtp_session *s, struct result *r)
{
    struct smtp_txn *t = s->t;
    int code = s->last.code;
    int cls = code / 100;

    if (code == 421 && s->state != SMTP_QUIT) {
        char *q = smtp_reply_oneline(&s->last);
        result_set(r, RC_TEMPFAIL, _("the server closed the connection: %s"), q);
        free(q);
        return -1;
    }
    if (cls == 3 && !smtp_states[s->state].intermediate)
        return smtp_unexpected(s, r);

    switch (s->state) {
    case SMTP_GREETING:
        if (code == 220) {
            free(s->greeting);
            s->greeting = xstrdup(s->last.text);
            return smtp_enter(s, SMTP_EHLO, r);
        }
        if (cls == 2)
            return smtp_unexpected(s, r);
        smtp_refused(s, RC_UNAVAILABLE, _("the server refused the connection"), r);
        return smtp_enter(s, SMTP_QUIT, r);
    case SMTP_EHLO:
        if (cls == 2) {
            reply_caps_clear(&s->caps);     /* after STARTTLS: forget the old ones */
            reply_parse_caps(&s->caps, s->last.text);
            s->caps.esmtp = true;
            return smtp_after_ehlo(s, r);
        }
        if (cls == 5 && !s->p.lmtp && smtp_needs_starttls(s)) {
            smtp_refused(s, RC_UNAVAILABLE,
                         _("the server refused EHLO, so STARTTLS cannot be used; refusing "
                           "to continue without TLS"), r);
            return smtp_enter(s, SMTP_QUIT, r);
        }
        if (cls == 5 && !s->p.lmtp)
            return smtp_enter(s, SMTP_HELO, r);
        smtp_refused(s, RC_UNAVAILABLE,
                     s->p.lmtp ? _("the server refused LHLO") : _("the server refused EHLO"), r);
        return smtp_enter(s, SMTP_QUIT, r);
    case SMTP_HELO:
        if (cls == 2)
            return smtp_enter(s, SMTP_READY, r);
        smtp_refused(s, RC_UNAVAILABLE, _("the server refused HELO"), r);
        return smtp_enter(s, SMTP_QUIT, r);
    case SMTP_STARTTLS:
        return smtp_handle_starttls(s, r);
    case SMTP_AUTH:
    case SMTP_AUTH_STEP:
    case SMTP_AUTH_CANCEL:
    case SMTP_AUTH_GROUP:
    case SMTP_AUTH_SKIP_MAIL:
    case SMTP_AUTH_SKIP_RCPT:
    case SMTP_AUTH_SKIP_DATA:
        return smtp_auth_handle(s, r);
    case SMTP_MAIL:
        if (cls == 2)
            return smtp_enter(s, SMTP_RCPT, r);
        t->m->data_taken = false;       /* no transaction: a chunk sent is refused */
        {
            char *what = xasprintf(_("the server refused the sender <%s>"), t->sender);
            smtp_refused(s, RC_DATAERR, what, r);
            free(what);
        }
        return smtp_enter(s, t->pipelined ? SMTP_SKIP_RCPT : SMTP_RSET, r);
    case SMTP_RCPT: {
        struct smtp_rcpt *rc = &t->m->rcpts[t->next_rcpt];
        smtp_set_rcpt(rc, &s->last);
        rc->rcpt_code = s->last.code;
        if (rc->status == RCPT_ACCEPTED)
            t->naccepted++;
        if (++t->next_rcpt < t->m->nrcpts)
            return smtp_enter(s, SMTP_RCPT, r);
        if (t->naccepted == 0) {
            t->m->data_taken = false;   /* nobody to take a chunk sent for */
            smtp_all_refused(s, r);
        }
        return smtp_enter(s, smtp_after_rcpts(s), r);
    }
    case SMTP_SKIP_RCPT:
        if (++t->next_rcpt < t->m->nrcpts)
            return smtp_enter(s, SMTP_SKIP_RCPT, r);
        return smtp_enter(s, smtp_after_rcpts(s), r);
    case SMTP_DATA:
        if (code == 354)
            return smtp_enter(s, SMTP_BODY, r);
        if (cls == 2 || cls == 3)
            return smtp_unexpected(s, r);
        smtp_refused(s, RC_DATAERR, _("the server refused the DATA command"), r);
        return smtp_enter(s, SMTP_RSET, r);
    case SMTP_SKIP_DATA:
        /* Pipelined DATA after a failure: its reply is ignored; a 354
         * gets an empty message (".") and the server refuses it. */
        return smtp_enter(s, code == 354 ? SMTP_EMPTY_DOT : SMTP_RSET, r);
    case SMTP_EMPTY_DOT:
        return smtp_enter(s, SMTP_RSET, r);
    case SMTP_DOT:
        if (s->p.lmtp)
            return smtp_handle_dot_lmtp(s, r);
        return smtp_handle_final(s, r);
    case SMTP_BDAT:
        if (code != 500 && code != 502)
            return smtp_handle_final(s, r);
        /* 500/502: the server offers CHUNKING but does not take BDAT. */
        t->m->final_code = code;
        free(t->m->final_reply);
        t->m->final_reply = xstrdup(s->last.text);
        smtp_refused(s, RC_DATAERR,
                     _("the server refused the BDAT command although it offers CHUNKING "
                       "(\"chunking off\" for the account sends with DATA instead)"), r);
        return smtp_enter(s, smtp_after_failure(s), r);
    case SMTP_SKIP_BDAT:
        /* MAIL or every RCPT was refused (already reported): the server
         * refuses the chunk too (554, RFC 3030 2). */
        return smtp_enter(s, smtp_after_failure(s), r);
    case SMTP_RSET:
        if (cls == 2)
            return smtp_enter(s, SMTP_READY, r);
        return smtp_enter(s, SMTP_QUIT, r);
    case SMTP_QUIT:
        return smtp_enter(s, SMTP_CLOSED, r);
    case SMTP_READY:
    case SMTP_READY_AUTH:
    case SMTP_PIPELINE:
    case SMTP_BODY:
    case SMTP_BYE:
    case SMTP_CLOSED:
        return smtp_unexpected(s, r);
    }
    return smtp_unexpected(s, r);
}

/* Whether more replies are legitimately in flight after the one just read. */
static bool smtp_expect_more(const struct smtp_session *s)
{
    switch (smtp_states[s->state].more) {
    case SMTP_MORE_NO:
        return false;
    case SMTP_MORE_IF_PIPELINED:
        return s->t && s->t->pipelined;
    case SMTP_MORE_YES:
        break;
    }
    return true;
}

/* Remember s->last for smtp_last_reply() unless it is a reply that
 * decides nothing (RSET, QUIT, replies read and ignored after a failure). */
static void smtp_note_decisive(struct smtp_session *s)
{
    if (!smtp_states[s->state].decisive)
        return;
    free(s->decisive.text);
    s->decisive = s->last;
    s->decisive.text = xstrdup(s->last.text ? s->last.text : "");
}

/* The states in which the session waits for its caller. */
static bool smtp_resting(enum smtp_state st)
{
    return st == SMTP_READY || st == SMTP_READY_AUTH || st == SMTP_CLOSED;
}

/* Read and handle replies until the session rests. Failures go to r;
 * returns -1 when the connection became unusable. */
static int smtp_run(struct smtp_session *s, struct result *r)
{
    while (!smtp_resting(s->state)) {
        if (smtp_read_reply(s, smtp_state_timeout(s, s->state), r) != 0) {
            smtp_lost(s);
            return -1;
        }
        if (!smtp_expect_more(s) && conn_pending(s->c) > 0) {
            char *q = smtp_reply_oneline(&s->last);
            result_set(r, RC_PROTOCOL,
                       _("the server sent unexpected data after its reply \"%s\""), q);
            free(q);
            smtp_lost(s);
            return -1;
        }
        smtp_note_decisive(s);
        if (smtp_handle_reply(s, r) != 0) {
            smtp_lost(s);
            return -1;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- */
/* public interface */

struct smtp_session *smtp_new(struct conn *c, const struct smtp_params *p)
{
    struct smtp_session *s = xcalloc(1, sizeof *s);
    s->c = c;
    s->p = *p;
    if (!s->p.helo_domain || !*s->p.helo_domain)
        s->p.helo_domain = "localhost";
    s->state = SMTP_GREETING;
    mask_add_password(&s->masks, p->password);
    return s;
}

int smtp_open(struct smtp_session *s, struct result *r)
{
    struct result lr = RESULT_INIT;
    if (s->state != SMTP_GREETING) {
        result_set(r, RC_SOFTWARE, _("internal error: SMTP session opened twice"));
        return -1;
    }
    (void)smtp_run(s, &lr);
    if (lr.cls == RC_OK && smtp_auth_wanted(s) && s->state == SMTP_READY
        && smtp_auth_begin(s, &lr) == 0)
        (void)smtp_run(s, &lr);
    if (lr.cls != RC_OK) {
        smtp_keep_first(r, &lr);
        return -1;
    }
    return 0;
}

const struct smtp_caps *smtp_caps(const struct smtp_session *s)
{
    return &s->caps;
}

const char *smtp_greeting(const struct smtp_session *s)
{
    return s->greeting;
}

const struct smtp_reply *smtp_last_reply(const struct smtp_session *s)
{
    return &s->decisive;
}

bool smtp_alive(const struct smtp_session *s)
{
    return s->state != SMTP_CLOSED;
}

int smtp_send_message(struct smtp_session *s, struct smtp_message *m, struct result *r)
{
    struct result lr = RESULT_INIT;
    for (size_t i = 0; i < m->nrcpts; i++) {
        m->rcpts[i].status = RCPT_PENDING;
        m->rcpts[i].code = 0;
        m->rcpts[i].rcpt_code = 0;
        free(m->rcpts[i].reply);
        m->rcpts[i].reply = NULL;
    }
    m->final_code = 0;
    free(m->final_reply);
    m->final_reply = NULL;
    m->data_taken = false;

    if (s->auth_fail.cls != RC_OK) {
        result_set(r, s->auth_fail.cls, "%s", s->auth_fail.msg);
        return -1;
    }
    if (s->state != SMTP_READY && s->state != SMTP_READY_AUTH) {
        result_set(r, RC_TEMPFAIL, _("the connection to the server is not usable any more"));
        return -1;
    }
    struct smtp_txn *t = xcalloc(1, sizeof *t);
    t->m = m;
    t->pipelined = s->caps.pipelining;
    if (smtp_prepare(s, t, &lr) != 0) {
        smtp_txn_free(t);
        smtp_keep_first(r, &lr);
        return -1;
    }
    s->t = t;
    bool with_auth = s->state == SMTP_READY_AUTH;   /* AUTH leads this group */
    /* BDAT only pipelined: without PIPELINING, DATA costs no more round
     * trips than lock-step BDAT. LMTP keeps DATA. Behind a pipelined AUTH
     * the group ends in DATA, so that the message is never sent before
     * the server accepted the credentials (a refused BDAT's chunk would
     * already be on the wire); the next messages use BDAT. */
    t->chunked = t->pipelined && s->caps.chunking && s->p.chunking && !s->p.lmtp
                 && !with_auth && m->size >= 0;   /* BDAT needs the exact size */
    enum smtp_state first = with_auth ? SMTP_AUTH_GROUP
                            : t->pipelined ? SMTP_PIPELINE : SMTP_MAIL;
    if (smtp_enter(s, first, &lr) != 0)
        smtp_lost(s);
    else
        (void)smtp_run(s, &lr);
    s->t = NULL;
    smtp_txn_free(t);
    if (lr.cls != RC_OK) {
        smtp_keep_first(r, &lr);
        return -1;
    }
    return 0;
}

void smtp_quit(struct smtp_session *s)
{
    if (!s)
        return;
    if (smtp_alive(s)) {
        struct result lr = RESULT_INIT;
        if (smtp_enter(s, SMTP_QUIT, &lr) == 0)
            (void)smtp_run(s, &lr);
        result_clear(&lr);
    }
    if (s->state != SMTP_CLOSED)
        smtp_lost(s);
}

void smtp_free(struct smtp_session *s)
{
    if (!s)
        return;
    free(s->caps.auth);
    free(s->greeting);
    free(s->last.text);
    free(s->decisive.text);
    smtp_auth_free(s);
    mask_list_free(&s->masks);
    free(s->challenge);
    free(s);
}
