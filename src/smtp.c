/*
 * smtp.c - the SMTP/LMTP client state machine (see smtp.h).
 *
 * Owns: the state enum and its name table, entering a state (which sends
 * that state's command: smtp_enter -> smtp_send_state), handling each
 * reply by switching on the state (smtp_handle_reply), strict reply
 * parsing, capabilities, the pipelined MAIL/RCPT/DATA group, the
 * dot-stuffed body, the pipelined MAIL/RCPT/BDAT LAST group with the raw
 * message (CHUNKING, RFC 3030), and the classification of every refusal.
 *
 * Must not: touch a socket (everything goes through conn.[ch]), or send
 * anything after a fatal error (network, timeout, protocol, 421).
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "i18n.h"
#include "idn.h"
#include "log.h"
#include "mask.h"
#include "reply.h"
#include "sasl.h"
#include "tls.h"
#include "smtp.h"

enum smtp_state {
    SMTP_GREETING,
    SMTP_EHLO,
    SMTP_HELO,
    SMTP_STARTTLS,
    SMTP_AUTH,
    SMTP_READY,
    SMTP_MAIL,
    SMTP_RCPT,
    SMTP_DATA,
    SMTP_BODY,
    SMTP_DOT,
    SMTP_BDAT,
    SMTP_RSET,
    SMTP_QUIT,
    SMTP_BYE,
    SMTP_CLOSED,
};

static const char *const smtp_state_names[] = {
    [SMTP_GREETING] = "GREETING",
    [SMTP_EHLO] = "EHLO",
    [SMTP_HELO] = "HELO",
    [SMTP_STARTTLS] = "STARTTLS",
    [SMTP_AUTH] = "AUTH",
    [SMTP_READY] = "READY",
    [SMTP_MAIL] = "MAIL",
    [SMTP_RCPT] = "RCPT",
    [SMTP_DATA] = "DATA",
    [SMTP_BODY] = "BODY",
    [SMTP_DOT] = "DOT",
    [SMTP_BDAT] = "BDAT",
    [SMTP_RSET] = "RSET",
    [SMTP_QUIT] = "QUIT",
    [SMTP_BYE] = "BYE",
    [SMTP_CLOSED] = "CLOSED",
};

/* RFC 5321 4.5.3.2 timeouts, seconds. */
#define SMTP_TMO_GREETING 300
#define SMTP_TMO_COMMAND  300
#define SMTP_TMO_DATA     120
#define SMTP_TMO_BLOCK    180
#define SMTP_TMO_DOT      600
#define SMTP_TMO_QUIT     10     /* ours: QUIT must not hold us up */

#define SMTP_BODY_CHUNK   (256 * 1024)

/* The transaction in progress. */
struct smtp_txn {
    struct smtp_message *m;
    char *sender;             /* as sent (A-labels when converted) */
    char **rcpts;             /* as sent */
    bool pipelined;           /* MAIL, RCPTs and DATA went out together */
    bool chunked;             /* ... and BDAT LAST with the message instead of DATA */
    bool use_smtputf8;
    bool mail_ok;
    size_t next_rcpt;         /* whose RCPT reply is read next */
    size_t naccepted;
    size_t next_dot;          /* LMTP: next accepted recipient to get a "." reply */
    size_t ndot;              /* LMTP: "." replies read */
    bool empty_data;          /* 354 although nobody was accepted: send "." only */
    bool with_auth;           /* the group went out behind a pipelined AUTH */
};

struct smtp_session {
    struct conn *c;
    struct smtp_params p;
    enum smtp_state state;
    bool alive;
    bool quit_sent;
    struct smtp_caps caps;
    char *greeting;
    struct smtp_reply last;
    struct smtp_reply decisive;   /* last reply that decided something (for logs) */
    struct smtp_txn *t;
    /* AUTH (see the AUTH section below) */
    const char *auth_mech;        /* chosen mechanism (static string), NULL = none */
    struct sasl_session *sasl;    /* while the exchange runs */
    bool auth_pending;            /* AUTH goes out with the first MAIL group */
    bool auth_cancelled;          /* "*" sent; its reply ends the exchange */
    char *auth_ir;                /* base64 initial response until sent (secret) */
    struct result auth_fail;      /* AUTH refused: every message fails with this */
    struct mask_list masks;       /* credentials hidden in every reply line */
    char *challenge;              /* a 334's first line as sent, unmasked: for SASL only */
    char line[SMTP_MAX_LINE + 3];
};

/* ---------------------------------------------------------------- */
/* small helpers */

/* A printable, bounded copy of untrusted bytes for messages. */
static char *smtp_escape(const char *s, size_t len, size_t max)
{
    return reply_escape(s, len, max);
}

/* The reply on one line, for messages ("550-a 550 b"). */
static char *smtp_reply_oneline(const struct smtp_reply *rep)
{
    char *t = xstrdup(rep->text ? rep->text : "");
    for (char *p = t; *p; p++)
        if (*p == '\n')
            *p = ' ';
    return t;
}

/* Keep the earliest failure: move src into dst unless dst already has one. */
static void smtp_keep_first(struct result *dst, struct result *src)
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

/* The reply timeout for a state. */
static int smtp_state_timeout(const struct smtp_session *s, enum smtp_state st)
{
    switch (st) {
    case SMTP_GREETING: return smtp_timeout_ms(s, SMTP_TMO_GREETING);
    case SMTP_DATA:     return smtp_timeout_ms(s, SMTP_TMO_DATA);
    case SMTP_BODY:     return smtp_timeout_ms(s, SMTP_TMO_BLOCK);
    case SMTP_DOT:      return smtp_timeout_ms(s, SMTP_TMO_DOT);
    case SMTP_BDAT:     return smtp_timeout_ms(s, SMTP_TMO_DOT);
    case SMTP_QUIT:     return smtp_timeout_ms(s, SMTP_TMO_QUIT);
    default:            return smtp_timeout_ms(s, SMTP_TMO_COMMAND);
    }
}

static bool smtp_is_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return false;
    return true;
}

/* Hide the credentials in a line the server sent (its text only: the
 * code stays as sent), before it becomes text anywhere. */
static size_t smtp_mask_line(const struct smtp_session *s, char *line, size_t len)
{
    if (len <= 4)
        return len;
    return 4 + mask_apply(&s->masks, line + 4, len - 4);
}

/* Read one complete reply into s->last, all of its lines within
 * timeout_ms (one deadline for the reply: a server that sends it slowly
 * line by line or byte by byte gets no more time). Failures go to r
 * (first kept). */
static int smtp_read_reply(struct smtp_session *s, int timeout_ms, struct result *r)
{
    struct result lr = RESULT_INIT;
    struct buf text = BUF_INIT;
    int first = 0;
    size_t nlines = 0;
    struct conn_deadline deadline = conn_deadline_in(timeout_ms);

    free(s->last.text);
    s->last.text = NULL;
    s->last.code = 0;
    s->last.enhanced[0] = '\0';
    s->last.nlines = 0;

    for (;;) {
        size_t len = 0;
        if (conn_read_line(s->c, s->line, sizeof s->line, &len, &deadline, &lr) != 0) {
            if (lr.cls == RC_PROTOCOL) {
                len = smtp_mask_line(s, s->line, len);
                char *q = smtp_escape(s->line, len, 200);
                result_replace(&lr, RC_PROTOCOL,
                               _("the server sent an over-long reply line (more than %d "
                                 "octets): \"%s\""), SMTP_MAX_LINE, q);
                free(q);
            }
            goto fail;
        }
        if (nlines == 0) {
            /* SASL gets the challenge as the server sent it: masking
             * could alter a nonce that happens to contain what looks
             * like a secret. Only sasl_step sees this copy. */
            free(s->challenge);
            s->challenge = len >= 4 && memcmp(s->line, "334", 3) == 0
                           ? xstrndup(s->line + 4, len - 4) : NULL;
        }
        len = smtp_mask_line(s, s->line, len);
        log_transcript('<', s->line, len);
        int code;
        bool more;
        const char *t;
        if (smtp_parse_reply_line(s->line, len, &code, &more, &t, &lr) != 0)
            goto fail;
        if (nlines == 0) {
            first = code;
            reply_parse_enhanced(t, code, s->last.enhanced);
        } else if (code != first) {
            char *q = smtp_escape(s->line, len, 200);
            result_set(&lr, RC_PROTOCOL,
                       _("the server sent a multi-line reply with different codes (%d, "
                         "then \"%s\")"), first, q);
            free(q);
            goto fail;
        }
        if (nlines == SMTP_MAX_LINES) {
            result_set(&lr, RC_PROTOCOL,
                       _("the server sent a reply of more than %d lines"), SMTP_MAX_LINES);
            goto fail;
        }
        if (text.len + len + 1 > SMTP_MAX_REPLY) {
            result_set(&lr, RC_PROTOCOL,
                       _("the server sent a reply of more than %d octets"), SMTP_MAX_REPLY);
            goto fail;
        }
        if (nlines)
            buf_putc(&text, '\n');
        buf_append(&text, s->line, len);
        nlines++;
        if (!more)
            break;
    }
    s->last.code = first;
    s->last.nlines = nlines;
    s->last.text = buf_steal(&text);
    return 0;

fail:
    buf_free(&text);
    s->last.enhanced[0] = '\0';
    smtp_keep_first(r, &lr);
    return -1;
}

/* ---------------------------------------------------------------- */
/* sending */

static void smtp_lost(struct smtp_session *s)
{
    if (s->state != SMTP_CLOSED)
        log_debug(2, _("smtp: %s -> %s"), smtp_state_names[s->state],
                  smtp_state_names[SMTP_CLOSED]);
    s->state = SMTP_CLOSED;
    s->alive = false;
}

/* Queue one command line (CRLF added) and show it in the transcript. */
static int smtp_cmd(struct smtp_session *s, const char *line, int timeout_ms, struct result *r)
{
    log_transcript('>', line, strlen(line));
    size_t n = strlen(line);
    if (conn_write(s->c, line, n, timeout_ms, r) != 0)
        return -1;
    return conn_write(s->c, "\r\n", 2, timeout_ms, r);
}

static char *smtp_mail_command(const struct smtp_session *s, const struct smtp_txn *t)
{
    const struct smtp_message *m = t->m;
    struct buf b = BUF_INIT;
    buf_printf(&b, "MAIL FROM:<%s>", t->sender);
    if (s->caps.size)
        buf_printf(&b, " SIZE=%lld", m->size);
    if (m->body_8bit && s->caps.eightbitmime)
        buf_puts(&b, " BODY=8BITMIME");
    if (t->use_smtputf8)
        buf_puts(&b, " SMTPUTF8");
    if (s->caps.dsn && m->dsn_return)
        buf_printf(&b, " RET=%s", m->dsn_return);
    if (s->caps.dsn && m->dsn_envid) {
        char *x = smtp_xtext(m->dsn_envid);
        buf_printf(&b, " ENVID=%s", x);
        free(x);
    }
    return buf_steal(&b);
}

static char *smtp_rcpt_command(const struct smtp_session *s, const struct smtp_txn *t, size_t i)
{
    struct buf b = BUF_INIT;
    buf_printf(&b, "RCPT TO:<%s>", t->rcpts[i]);
    if (s->caps.dsn && t->m->dsn_notify)
        buf_printf(&b, " NOTIFY=%s", t->m->dsn_notify);
    return buf_steal(&b);
}

/* Read up to n bytes of the message file at off (EINTR retried).
 * Returns the count (0 at the end of the file) or -1 with r set. */
static ssize_t smtp_read_message(const struct smtp_message *m, char *buf, size_t n, off_t off,
                                 struct result *r)
{
    ssize_t got;
    do
        got = pread(m->fd, buf, n, off);
    while (got < 0 && errno == EINTR);
    if (got < 0)
        result_set(r, RC_IOERR, _("cannot read the message file: %s"), strerror(errno));
    return got;
}

/* Stream the message file, dot-stuffed, in large writes. */
static int smtp_send_body(struct smtp_session *s, struct result *r)
{
    const struct smtp_message *m = s->t->m;
    int tmo = smtp_state_timeout(s, SMTP_BODY);
    char *in = xmalloc(SMTP_BODY_CHUNK);
    char *out = xmalloc(2 * SMTP_BODY_CHUNK + 2);
    off_t off = (off_t)m->offset;   /* a queue entry's message follows its envelope */
    bool bol = true;            /* at the beginning of a line */
    long long total = 0;
    int rc = 0;

    for (;;) {
        ssize_t n = smtp_read_message(m, in, SMTP_BODY_CHUNK, off, r);
        if (n < 0) {
            rc = -1;
            break;
        }
        if (n == 0)
            break;
        off += n;
        size_t olen = 0;
        const char *p = in, *end = in + n;
        while (p < end) {
            if (bol && *p == '.')
                out[olen++] = '.';
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *stop = nl ? nl + 1 : end;
            memcpy(out + olen, p, (size_t)(stop - p));
            olen += (size_t)(stop - p);
            bol = nl != NULL;
            p = stop;
        }
        if (conn_write(s->c, out, olen, tmo, r) != 0) {
            rc = -1;
            break;
        }
        total += (long long)olen;
    }
    if (rc == 0 && !bol) {
        /* The canonical file always ends in CRLF; never let a body end
         * without one, or "." would not be a line of its own. */
        rc = conn_write(s->c, "\r\n", 2, tmo, r);
        total += 2;
    }
    free(in);
    free(out);
    if (rc == 0)
        log_debug(1, _("(%lld bytes of message data)"), total);
    return rc;
}

/* CHUNKING (RFC 3030): "BDAT <size> LAST" and the message file exactly
 * as stored (canonical CRLF, no dot-stuffing, no final "."), queued in
 * large writes; the caller flushes. One chunk carries the whole message:
 * its size is known from the intake or spool file. A file shorter than
 * its recorded size is a local I/O error; the connection must then be
 * dropped (the server is still waiting for the missing octets). */
static int smtp_send_chunk(struct smtp_session *s, struct result *r)
{
    const struct smtp_message *m = s->t->m;
    int tmo = smtp_state_timeout(s, SMTP_BODY);
    long long size = m->size;
    char *cmd = xasprintf("BDAT %lld LAST", size);
    int rc = smtp_cmd(s, cmd, tmo, r);
    free(cmd);
    if (rc != 0)
        return -1;
    char *in = xmalloc(SMTP_BODY_CHUNK);
    off_t off = (off_t)m->offset;
    long long left = size;
    while (rc == 0 && left > 0) {
        size_t want = left < SMTP_BODY_CHUNK ? (size_t)left : SMTP_BODY_CHUNK;
        ssize_t n = smtp_read_message(m, in, want, off, r);
        if (n < 0) {
            rc = -1;
        } else if (n == 0) {
            result_set(r, RC_IOERR,
                       _("cannot read the message file: it ends %lld bytes before its "
                         "recorded size of %lld bytes"), left, size);
            rc = -1;
        } else {
            off += n;
            left -= n;
            rc = conn_write(s->c, in, (size_t)n, tmo, r);
        }
    }
    free(in);
    if (rc == 0)
        log_debug(1, _("(%lld bytes of message data)"), size);
    return rc;
}

static int smtp_enter(struct smtp_session *s, enum smtp_state st, struct result *r);

/* MAIL, and with PIPELINING every RCPT and DATA, queued (not flushed):
 * the whole group leaves in one write (RFC 2920). With CHUNKING the group
 * ends in BDAT LAST and the message instead of DATA (RFC 3030 4.2): the
 * whole transaction is one write for a small message. Nothing follows the
 * end of the message before its reply (see SMTP_BYE). */
static int smtp_queue_mail_group(struct smtp_session *s, struct smtp_txn *t, int tmo,
                                 struct result *r)
{
    char *cmd = smtp_mail_command(s, t);
    int rc = smtp_cmd(s, cmd, tmo, r);
    free(cmd);
    if (rc == 0 && t->pipelined) {
        for (size_t i = 0; rc == 0 && i < t->m->nrcpts; i++) {
            cmd = smtp_rcpt_command(s, t, i);
            rc = smtp_cmd(s, cmd, tmo, r);
            free(cmd);
        }
        if (rc == 0 && !t->chunked)
            rc = smtp_cmd(s, "DATA", tmo, r);
        if (rc == 0 && t->chunked)
            rc = smtp_send_chunk(s, r);
    }
    return rc;
}

/* ---------------------------------------------------------------- */
/* AUTH (RFC 4954): sending
 *
 * The exchange runs in state AUTH: smtp_auth_begin (after EHLO, and after
 * STARTTLS + EHLO) chooses the mechanism and computes the initial
 * response; entering AUTH sends "AUTH MECH [initial-response]" (an empty
 * one as "="); each 334 is answered from sasl_step; 235 leads on. Lines
 * that carry credentials appear masked in the -v transcript and their
 * buffers are wiped.
 *
 * Pipelining: with PIPELINING and a single-step mechanism that carries
 * everything in its initial response (PLAIN, EXTERNAL), AUTH is not sent
 * on its own: it leads the first message's MAIL/RCPT.../DATA group, one
 * write for all. RFC 2920 3.1 only requires a command whose outcome
 * changes what the client must do next (EHLO, DATA, VRFY, EXPN, TURN,
 * QUIT, NOOP) to end a group; AUTH with an initial response has exactly
 * one reply (235, 535, 454 ...) and no 334 can legitimately follow for
 * these mechanisms, so nothing behind it can be misread as SASL data,
 * and RFC 4954 4 lets a client pipeline AUTH this way. PLAIN and
 * EXTERNAL have no security layer, so the commands behind AUTH are read
 * in the same framing. Real servers agree: Postfix, Exim and Dovecot
 * read the group command by command. If AUTH fails, the server refuses
 * the rest (530 "authentication required" or 503): those replies are
 * read and ignored, the result is the AUTH refusal, and a server that
 * answers the pipelined DATA with 354 anyway gets no body: the
 * connection is closed, which aborts the transaction. A 334 in reply to
 * a pipelined AUTH means the server took our MAIL line as SASL data: the
 * connection is closed. */

/* Queue a line that carries credentials; the transcript shows `shown`.
 * secret (the credential part of line) is hidden from now on in
 * whatever the server sends back. */
static int smtp_cmd_secret(struct smtp_session *s, const char *line, const char *secret,
                           const char *shown, int tmo, struct result *r)
{
    mask_add(&s->masks, secret);
    log_transcript('>', shown, strlen(shown));
    conn_mark_secret(s->c);
    if (conn_write(s->c, line, strlen(line), tmo, r) != 0)
        return -1;
    return conn_write(s->c, "\r\n", 2, tmo, r);
}

static int smtp_send_auth(struct smtp_session *s, struct result *r)
{
    int tmo = smtp_state_timeout(s, SMTP_AUTH);
    int rc;
    if (s->auth_ir) {
        char *line = xasprintf("AUTH %s %s", s->auth_mech, *s->auth_ir ? s->auth_ir : "=");
        char *shown = xasprintf("AUTH %s ********", s->auth_mech);
        rc = smtp_cmd_secret(s, line, s->auth_ir, shown, tmo, r);
        secret_free(s->auth_ir);
        s->auth_ir = NULL;
        free(shown);
        secret_free(line);
    } else {
        char *line = xasprintf("AUTH %s", s->auth_mech);
        rc = smtp_cmd(s, line, tmo, r);
        free(line);
    }
    if (rc == 0 && s->t)
        rc = smtp_queue_mail_group(s, s->t, tmo, r);
    return rc == 0 ? conn_flush(s->c, tmo, r) : -1;
}

/* Send what state st needs. */
static int smtp_send_state(struct smtp_session *s, struct result *r)
{
    struct smtp_txn *t = s->t;
    int tmo = smtp_state_timeout(s, s->state);
    char *cmd = NULL;
    int rc = 0;

    switch (s->state) {
    case SMTP_GREETING:
    case SMTP_READY:
    case SMTP_CLOSED:
        return 0;
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
        return smtp_send_auth(s, r);
    case SMTP_MAIL:
        if (t->with_auth)
            return 0;           /* already sent behind AUTH */
        rc = smtp_queue_mail_group(s, t, tmo, r);
        return rc == 0 ? conn_flush(s->c, tmo, r) : -1;
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
        if (smtp_send_body(s, r) != 0)
            return -1;
        return smtp_enter(s, SMTP_DOT, r);
    case SMTP_BDAT:
        return 0;               /* sent with the MAIL group */
    case SMTP_DOT:
        rc = smtp_cmd(s, ".", tmo, r);
        return rc == 0 ? conn_flush(s->c, smtp_state_timeout(s, SMTP_BODY), r) : -1;
    case SMTP_RSET:
        cmd = xstrdup("RSET");
        break;
    case SMTP_QUIT:
        cmd = xstrdup("QUIT");
        s->quit_sent = true;
        break;
    case SMTP_BYE:
        /* The last message's end of data was answered: QUIT, and no
         * waiting for its 221 (the answer that mattered has come). */
        {
            struct result ignored = RESULT_INIT;    /* too late to matter */
            s->quit_sent = true;
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
static int smtp_enter(struct smtp_session *s, enum smtp_state st, struct result *r)
{
    log_debug(2, _("smtp: %s -> %s"), smtp_state_names[s->state], smtp_state_names[st]);
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

static int smtp_unexpected(struct smtp_session *s, struct result *r)
{
    char *q = smtp_reply_oneline(&s->last);
    result_set(r, RC_PROTOCOL, _("unexpected reply from the server in state %s: %s"),
               smtp_state_names[s->state], q);
    free(q);
    return -1;
}

/* ---------------------------------------------------------------- */
/* AUTH: replies */

/* Record an AUTH failure for the session (every later message fails
 * with it) and in r (the first failure is kept). */
static void smtp_auth_failed(struct smtp_session *s, struct result *ar, struct result *r)
{
    result_set(&s->auth_fail, ar->cls, "%s", ar->msg ? ar->msg : "");
    smtp_keep_first(r, ar);
    sasl_finish(s->sasl);
    s->sasl = NULL;
}

/* The base64 challenge of the 334 reply just read: its first line after
 * "334 ", as the server sent it (see smtp_read_reply). */
static char *smtp_challenge(const struct smtp_session *s)
{
    return xstrdup(s->challenge ? s->challenge : "");
}

static int smtp_handle_auth(struct smtp_session *s, struct result *r)
{
    int code = s->last.code;
    int tmo = smtp_state_timeout(s, SMTP_AUTH);
    struct result ar = RESULT_INIT;

    if (s->auth_cancelled)
        return smtp_enter(s, SMTP_QUIT, r);     /* the reply to "*" */
    if (code == 334 && s->t) {
        char *q = smtp_reply_oneline(&s->last);
        result_set(&ar, RC_PROTOCOL,
                   _("the server asked for more AUTH %s data after the initial response, "
                     "taking the pipelined commands as SASL data: %s"), s->auth_mech, q);
        free(q);
        smtp_auth_failed(s, &ar, r);
        return -1;
    }
    if (code == 334) {
        char *challenge = smtp_challenge(s);
        char *out = NULL;
        int rc = sasl_step(s->sasl, challenge, &out, &ar);
        free(challenge);
        if (rc < 0) {
            /* Cancel the exchange (RFC 4954 4); the server answers 501. */
            smtp_auth_failed(s, &ar, r);
            s->auth_cancelled = true;
            if (smtp_cmd(s, "*", tmo, r) != 0)
                return -1;
            return conn_flush(s->c, tmo, r);
        }
        rc = smtp_cmd_secret(s, out, out, "********", tmo, r);
        secret_free(out);
        return rc == 0 ? conn_flush(s->c, tmo, r) : -1;
    }
    if (code == 235) {
        if (sasl_check_success(s->sasl, &ar) != 0) {
            smtp_auth_failed(s, &ar, r);
            return smtp_enter(s, s->t ? SMTP_MAIL : SMTP_QUIT, r);
        }
        sasl_finish(s->sasl);
        s->sasl = NULL;
        log_debug(1, _("authenticated with %s"), s->auth_mech);
        return smtp_enter(s, s->t ? SMTP_MAIL : SMTP_READY, r);
    }
    char *q = smtp_reply_oneline(&s->last);
    if (code / 100 == 4 || code / 100 == 5)
        result_set(&ar, code / 100 == 4 ? RC_TEMPFAIL : RC_NOPERM,
                   _("authentication failed: %s"), q);
    else
        result_set(&ar, RC_PROTOCOL, _("unexpected reply to AUTH %s: %s"), s->auth_mech, q);
    free(q);
    smtp_auth_failed(s, &ar, r);
    /* Pipelined: read and ignore the replies to MAIL, RCPT... and DATA. */
    return smtp_enter(s, s->t ? SMTP_MAIL : SMTP_QUIT, r);
}

/* Replies to a MAIL/RCPT/DATA group that followed a refused AUTH. */
static int smtp_drain_after_auth(struct smtp_session *s, struct result *r)
{
    struct smtp_txn *t = s->t;
    switch (s->state) {
    case SMTP_MAIL:
        return smtp_enter(s, SMTP_RCPT, r);
    case SMTP_RCPT:
        if (++t->next_rcpt < t->m->nrcpts)
            return smtp_enter(s, SMTP_RCPT, r);
        return smtp_enter(s, SMTP_DATA, r);
    case SMTP_DATA:
        if (s->last.code == 354) {
            /* The server wants the body although we are not
             * authenticated: closing the connection is the only way to
             * abort DATA without sending it. */
            char *q = smtp_reply_oneline(&s->last);
            result_set(r, RC_PROTOCOL,
                       _("the server accepted DATA after refusing authentication: %s"), q);
            free(q);
            return -1;
        }
        return smtp_enter(s, SMTP_QUIT, r);
    default:
        return smtp_unexpected(s, r);
    }
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
    if (t && t->with_auth && s->auth_fail.cls != RC_OK && s->state != SMTP_AUTH)
        return smtp_drain_after_auth(s, r);
    if (cls == 3 && s->state != SMTP_DATA && s->state != SMTP_AUTH)
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
        return smtp_handle_auth(s, r);
    case SMTP_MAIL: {
        if (cls == 2) {
            t->mail_ok = true;
        } else {
            char *what = xasprintf(_("the server refused the sender <%s>"), t->sender);
            smtp_refused(s, RC_DATAERR, what, r);
            free(what);
        }
        if (t->mail_ok || t->pipelined)
            return smtp_enter(s, SMTP_RCPT, r);
        return smtp_enter(s, SMTP_RSET, r);
    }
    case SMTP_RCPT: {
        if (t->mail_ok) {
            struct smtp_rcpt *rc = &t->m->rcpts[t->next_rcpt];
            smtp_set_rcpt(rc, &s->last);
            if (rc->status == RCPT_ACCEPTED)
                t->naccepted++;
        }
        t->next_rcpt++;
        if (t->next_rcpt < t->m->nrcpts)
            return smtp_enter(s, SMTP_RCPT, r);
        if (t->mail_ok && t->naccepted == 0)
            smtp_all_refused(s, r);
        if (t->chunked)
            return smtp_enter(s, SMTP_BDAT, r);
        if (t->pipelined || t->naccepted > 0)
            return smtp_enter(s, SMTP_DATA, r);
        return smtp_enter(s, SMTP_RSET, r);
    }
    case SMTP_DATA:
        if (!t->mail_ok || t->naccepted == 0) {
            /* Pipelined DATA after a failure: its reply is ignored. */
            if (code == 354) {
                t->empty_data = true;
                return smtp_enter(s, SMTP_DOT, r);
            }
            return smtp_enter(s, SMTP_RSET, r);
        }
        if (code == 354)
            return smtp_enter(s, SMTP_BODY, r);
        if (cls == 2 || cls == 3)
            return smtp_unexpected(s, r);
        smtp_refused(s, RC_DATAERR, _("the server refused the DATA command"), r);
        return smtp_enter(s, SMTP_RSET, r);
    case SMTP_BODY:
        return smtp_unexpected(s, r);
    case SMTP_DOT:
        if (t->empty_data)
            return smtp_enter(s, SMTP_RSET, r);
        if (s->p.lmtp)
            return smtp_handle_dot_lmtp(s, r);
        return smtp_handle_final(s, r);
    case SMTP_BDAT:
        if (!t->mail_ok || t->naccepted == 0) {
            /* MAIL or every RCPT was refused (already reported): the
             * server refuses the chunk too (554, RFC 3030 2). */
            return smtp_enter(s, smtp_after_failure(s), r);
        }
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
    case SMTP_RSET:
        if (cls == 2)
            return smtp_enter(s, SMTP_READY, r);
        return smtp_enter(s, SMTP_QUIT, r);
    case SMTP_QUIT:
        s->alive = false;
        return smtp_enter(s, SMTP_CLOSED, r);
    case SMTP_READY:
    case SMTP_BYE:
    case SMTP_CLOSED:
        return smtp_unexpected(s, r);
    }
    return smtp_unexpected(s, r);
}

/* Whether more replies are legitimately in flight after the one just read. */
static bool smtp_expect_more(const struct smtp_session *s)
{
    switch (s->state) {
    case SMTP_MAIL:
    case SMTP_RCPT:
    case SMTP_DATA:
        return s->t && s->t->pipelined;
    case SMTP_GREETING:
    case SMTP_EHLO:
    case SMTP_HELO:
    case SMTP_RSET:
        return false;
    default:
        return true;            /* LMTP's replies to ".", AUTH exchanges, ... */
    }
}

/* Remember s->last for smtp_last_reply() unless it is a reply that
 * decides nothing (RSET, QUIT, replies drained after a failure). */
static void smtp_note_decisive(struct smtp_session *s)
{
    const struct smtp_txn *t = s->t;
    if (s->state == SMTP_RSET || s->state == SMTP_QUIT)
        return;
    if (t && t->with_auth && s->auth_fail.cls != RC_OK)
        return;                 /* drained behind a refused AUTH */
    bool data = s->state == SMTP_DATA || s->state == SMTP_BDAT;
    if (t && (s->state == SMTP_RCPT || data)
        && (!t->mail_ok || (data && t->naccepted == 0)))
        return;
    free(s->decisive.text);
    s->decisive = s->last;
    s->decisive.text = xstrdup(s->last.text ? s->last.text : "");
}

/* Read and handle replies until READY or CLOSED. Failures go to r;
 * returns -1 when the connection became unusable. */
static int smtp_run(struct smtp_session *s, struct result *r)
{
    while (s->state != SMTP_READY && s->state != SMTP_CLOSED) {
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
    s->alive = true;
    mask_add_password(&s->masks, p->password);
    return s;
}

static bool smtp_auth_wanted(const struct smtp_session *s)
{
    return s->p.auth && *s->p.auth && ascii_strcasecmp(s->p.auth, "off") != 0;
}

/* After EHLO (and STARTTLS + EHLO): choose the mechanism, start the SASL
 * client and compute the initial response, then send AUTH now, or keep
 * it for the first MAIL group (see "AUTH: sending"). Local failures
 * (no AUTH offered, no usable mechanism, plaintext refused, missing
 * user) leave the session READY so the caller can QUIT politely. */
static int smtp_auth_begin(struct smtp_session *s, struct result *r)
{
    bool tls = conn_is_tls(s->c);
    struct buf cb = BUF_INIT;
    const char *cb_type = NULL;
    if (tls) {
        /* tls-unique exists for TLS 1.2 only (GnuTLS refuses it under
         * 1.3, where RFC 9266 makes tls-exporter the binding): asking
         * for tls-unique first gives tls-exporter with TLS 1.3 and
         * tls-unique with 1.2, which servers predating RFC 9266 expect. */
        if (conn_channel_binding(s->c, "tls-unique", &cb) == 0 && cb.len > 0) {
            cb_type = "tls-unique";
        } else {
            buf_reset(&cb);
            if (conn_channel_binding(s->c, "tls-exporter", &cb) == 0 && cb.len > 0)
                cb_type = "tls-exporter";
        }
    }
    const char *mech = sasl_choose(s->p.auth, s->caps.auth, tls, cb_type != NULL,
                                   s->p.allow_plaintext_auth, r);
    size_t ml = mech ? strlen(mech) : 0;
    bool plus = ml > 5 && strcmp(mech + ml - 5, "-PLUS") == 0;
    struct sasl_creds creds = {
        .user = s->p.user,
        .password = s->p.password,
        .authzid = NULL,
        .service = "smtp",
        .hostname = s->p.tls ? s->p.tls->host : NULL,
        .realm = s->p.ntlmdomain,
        .cb_data = plus ? (const unsigned char *)cb.data : NULL,
        .cb_len = plus ? cb.len : 0,
        .cb_type = plus ? cb_type : NULL,
    };
    if (mech)
        s->sasl = sasl_start(mech, &creds, r);
    buf_free(&cb);
    if (!s->sasl)
        return -1;
    s->auth_mech = mech;
    if (sasl_has_initial_response(mech) && sasl_step(s->sasl, "", &s->auth_ir, r) < 0) {
        sasl_finish(s->sasl);
        s->sasl = NULL;
        return -1;
    }
    if (s->caps.pipelining && s->auth_ir
        && (strcmp(mech, "PLAIN") == 0 || strcmp(mech, "EXTERNAL") == 0)) {
        s->auth_pending = true;
        return 0;
    }
    if (smtp_enter(s, SMTP_AUTH, r) != 0) {
        smtp_lost(s);
        return -1;
    }
    return 0;
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
    return s->alive && s->state != SMTP_CLOSED;
}

/* Local part of addr has a byte >= 0x80. */
static bool smtp_local_nonascii(const char *addr)
{
    const char *at = strrchr(addr, '@');
    size_t n = at ? (size_t)(at - addr) : strlen(addr);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)addr[i] >= 0x80)
            return true;
    return false;
}

/* The address as it goes on the wire, or NULL with r set. */
static char *smtp_wire_address(const char *addr, bool utf8, struct result *r)
{
    for (const char *p = addr; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch < 0x20 || ch == 0x7f || ch == '<' || ch == '>') {
            char *q = smtp_escape(addr, strlen(addr), 200);
            result_set(r, RC_DATAERR, _("invalid envelope address \"%s\""), q);
            free(q);
            return NULL;
        }
    }
    if (smtp_is_ascii(addr) || utf8)
        return xstrdup(addr);
    if (smtp_local_nonascii(addr)) {
        result_set(r, RC_DATAERR,
                   _("cannot send to or from <%s>: the server does not support SMTPUTF8"),
                   addr);
        return NULL;
    }
    return idn_address_to_ascii(addr, r);
}

static void smtp_txn_free(struct smtp_txn *t)
{
    if (!t)
        return;
    free(t->sender);
    if (t->rcpts)
        for (size_t i = 0; i < t->m->nrcpts; i++)
            free(t->rcpts[i]);
    free(t->rcpts);
    free(t);
}

/* Checks made before anything is sent; fills t->sender and t->rcpts. */
static int smtp_prepare(struct smtp_session *s, struct smtp_txn *t, struct result *r)
{
    struct smtp_message *m = t->m;
    if (m->nrcpts == 0) {
        result_set(r, RC_USAGE, _("no recipients"));
        return -1;
    }
    if (s->caps.size_max > 0 && m->size > 0
        && (unsigned long long)m->size > s->caps.size_max) {
        result_set(r, RC_DATAERR, _("message size %lld exceeds the server's limit of %llu bytes"),
                   m->size, s->caps.size_max);
        return -1;
    }
    if ((m->dsn_notify || m->dsn_return || m->dsn_envid) && !s->caps.dsn) {
        result_set(r, RC_UNAVAILABLE,
                   _("delivery status notifications were requested, but the server does "
                     "not support DSN"));
        return -1;
    }
    bool nonascii = m->smtputf8 || !smtp_is_ascii(m->sender);
    for (size_t i = 0; i < m->nrcpts; i++)
        nonascii |= !smtp_is_ascii(m->rcpts[i].addr);
    t->use_smtputf8 = nonascii && s->caps.smtputf8;
    t->sender = smtp_wire_address(m->sender, t->use_smtputf8, r);
    if (!t->sender)
        return -1;
    t->rcpts = xcalloc(m->nrcpts, sizeof *t->rcpts);
    for (size_t i = 0; i < m->nrcpts; i++) {
        t->rcpts[i] = smtp_wire_address(m->rcpts[i].addr, t->use_smtputf8, r);
        if (!t->rcpts[i])
            return -1;
    }
    return 0;
}

int smtp_send_message(struct smtp_session *s, struct smtp_message *m, struct result *r)
{
    struct result lr = RESULT_INIT;
    for (size_t i = 0; i < m->nrcpts; i++) {
        m->rcpts[i].status = RCPT_PENDING;
        m->rcpts[i].code = 0;
        free(m->rcpts[i].reply);
        m->rcpts[i].reply = NULL;
    }
    m->final_code = 0;
    free(m->final_reply);
    m->final_reply = NULL;

    if (s->auth_fail.cls != RC_OK) {
        result_set(r, s->auth_fail.cls, "%s", s->auth_fail.msg);
        return -1;
    }
    if (!smtp_alive(s) || s->state != SMTP_READY) {
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
    t->with_auth = s->auth_pending;     /* AUTH leads this group */
    s->auth_pending = false;
    /* BDAT only pipelined: without PIPELINING, DATA costs no more round
     * trips than lock-step BDAT. LMTP keeps DATA. Behind a pipelined AUTH
     * the group ends in DATA, so that the message is never sent before
     * the server accepted the credentials (a refused BDAT's chunk would
     * already be on the wire); the next messages use BDAT. */
    t->chunked = t->pipelined && s->caps.chunking && s->p.chunking && !s->p.lmtp
                 && !t->with_auth && m->size >= 0;   /* BDAT needs the exact size */
    if (smtp_enter(s, t->with_auth ? SMTP_AUTH : SMTP_MAIL, &lr) != 0)
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
    if (smtp_alive(s) && !s->quit_sent) {
        struct result lr = RESULT_INIT;
        if (smtp_enter(s, SMTP_QUIT, &lr) == 0)
            (void)smtp_run(s, &lr);
        result_clear(&lr);
    }
    if (s->state != SMTP_CLOSED)
        smtp_lost(s);
    s->alive = false;
}

void smtp_free(struct smtp_session *s)
{
    if (!s)
        return;
    free(s->caps.auth);
    free(s->greeting);
    free(s->last.text);
    free(s->decisive.text);
    sasl_finish(s->sasl);
    secret_free(s->auth_ir);
    result_clear(&s->auth_fail);
    mask_list_free(&s->masks);
    free(s->challenge);
    free(s);
}

char *smtp_xtext(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    struct buf b = BUF_INIT;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p >= '!' && *p <= '~' && *p != '+' && *p != '=') {
            buf_putc(&b, (char)*p);
        } else {
            buf_putc(&b, '+');
            buf_putc(&b, hex[*p >> 4]);
            buf_putc(&b, hex[*p & 15]);
        }
    }
    return buf_steal(&b);
}
