/*
 * smtp-auth.c - AUTH (RFC 4954) in the SMTP client state machine: the
 * states AUTH, AUTH_STEP, AUTH_CANCEL, READY_AUTH, AUTH_GROUP and
 * AUTH_SKIP_* (smtp-int.h). smtp.c's smtp_send_state and
 * smtp_handle_reply hand these states to smtp_auth_send and
 * smtp_auth_handle.
 *
 * Owns: choosing the mechanism and starting GNU SASL through sasl.[ch]
 * (with channel binding data under TLS), the AUTH line and its initial
 * response, the answers to each 334, cancelling with "*", the failure
 * every later message of the session reports, and the masking of every
 * credential line sent.
 *
 * Must not: touch a socket (conn.[ch] only), show a credential in the
 * transcript, or keep one after it is sent (buffers are wiped).
 *
 * The exchange: smtp_auth_begin (after EHLO, and after STARTTLS + EHLO)
 * chooses the mechanism and computes the initial response; entering AUTH
 * sends "AUTH MECH [initial-response]" (an empty one as "="); each 334 is
 * answered from sasl_step in AUTH_STEP; 235 leads on to READY; a local
 * SASL failure cancels with "*" (AUTH_CANCEL), whose reply leads to QUIT.
 *
 * Pipelining: with PIPELINING and a single-step mechanism that carries
 * everything in its initial response (sasl_pipelinable: PLAIN, EXTERNAL),
 * AUTH is not sent on its own: the session rests in READY_AUTH and AUTH
 * leads the first message's MAIL/RCPT.../DATA group, one write for all
 * (AUTH_GROUP). RFC 2920 3.1 only requires a command whose outcome
 * changes what the client must do next (EHLO, DATA, VRFY, EXPN, TURN,
 * QUIT, NOOP) to end a group; AUTH with an initial response has exactly
 * one reply (235, 535, 454 ...) and no 334 can legitimately follow for
 * these mechanisms, so nothing behind it can be misread as SASL data,
 * and RFC 4954 4 lets a client pipeline AUTH this way. PLAIN and
 * EXTERNAL have no security layer, so the commands behind AUTH are read
 * in the same framing. Real servers agree: Postfix, Exim and Dovecot
 * read the group command by command. If AUTH fails, the server refuses
 * the rest (530 "authentication required" or 503): those replies are
 * read and ignored (AUTH_SKIP_MAIL, AUTH_SKIP_RCPT, AUTH_SKIP_DATA), the
 * result is the AUTH refusal, and a server that answers the pipelined
 * DATA with 354 anyway gets no body: the connection is closed, which
 * aborts the transaction. A 334 in reply to a pipelined AUTH means the
 * server took our MAIL line as SASL data: the connection is closed.
 *
 * Bearer tokens (OAUTHBEARER, XOAUTH2): a 334 after the initial response
 * is the server's error report, base64 JSON (RFC 7628 3.2.2; Google's
 * XOAUTH2 sends the same shape with an HTTP-like "status"). Its status
 * (oauth2_challenge_status) is kept, masked and escaped, for the failure
 * message; the report is answered (an empty line for XOAUTH2, %x01 for
 * OAUTHBEARER) and the server's 5xx follows. When the token came from
 * smtpfwd's own cache (params.refresh_token set) and the server refuses
 * it with a 5xx that can be about the token (not 500-504, 534, 538),
 * the callback fetches a new token and AUTH starts again from
 * smtp_auth_begin in the same session (AUTH_STEP or AUTH -> AUTH): at
 * most once, since the callback is used up when called. When it cannot
 * fetch one, its failure (a temporary one stays RC_TEMPFAIL) is the
 * session's, and QUIT follows.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "i18n.h"
#include "log.h"
#include "mask.h"
#include "oauth2.h"
#include "reply.h"
#include "sasl.h"
#include "smtp-int.h"
#include "tls.h"
#include "util.h"

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

/* RFC 5321 4.5.3.1.4: a command line, CRLF included. */
#define SMTP_COMMAND_LINE_MAX 512

/* "AUTH MECH IR" with its CRLF fits in a command line (an empty initial
 * response is sent as "="). */
static bool smtp_auth_ir_fits(const char *mech, const char *ir)
{
    size_t irlen = *ir ? strlen(ir) : 1;
    return strlen("AUTH ") + strlen(mech) + 1 + irlen + 2 <= SMTP_COMMAND_LINE_MAX;
}

/* "AUTH MECH [initial-response]", queued. */
static int smtp_auth_command(struct smtp_session *s, int tmo, struct result *r)
{
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
    return rc;
}

int smtp_auth_send(struct smtp_session *s, struct result *r)
{
    int tmo = smtp_state_timeout(s, s->state);
    int rc;
    switch (s->state) {
    case SMTP_AUTH:
        rc = smtp_auth_command(s, tmo, r);
        break;
    case SMTP_AUTH_GROUP:
        rc = smtp_auth_command(s, tmo, r);
        if (rc == 0)
            rc = smtp_queue_mail_group(s, tmo, r);
        break;
    case SMTP_AUTH_STEP:
        rc = smtp_cmd_secret(s, s->auth_response, s->auth_response, "********", tmo, r);
        secret_free(s->auth_response);
        s->auth_response = NULL;
        break;
    case SMTP_AUTH_CANCEL:
        rc = smtp_cmd(s, "*", tmo, r);
        break;
    default:
        return 0;
    }
    return rc == 0 ? conn_flush(s->c, tmo, r) : -1;
}

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

/* A bearer-token mechanism: a 334 after its initial response is the
 * server's error report, and a refused token may be refreshed. */
static bool smtp_auth_bearer(const struct smtp_session *s)
{
    return s->auth_mech && (strcmp(s->auth_mech, "OAUTHBEARER") == 0
                            || strcmp(s->auth_mech, "XOAUTH2") == 0);
}

/* Keep the status of the error report in the 334 just read (NULL when
 * it is not one), with the credentials masked and escaped for display. */
static void smtp_auth_note_report(struct smtp_session *s)
{
    free(s->auth_status);
    s->auth_status = NULL;
    char *st = s->challenge ? oauth2_challenge_status(s->challenge) : NULL;
    if (!st)
        return;
    size_t n = mask_apply(&s->masks, st, strlen(st));
    s->auth_status = reply_escape(st, n, 100);
    free(st);
}

/* A 5xx refusal of AUTH that can be about the token: not a syntax or
 * command error (500-504), "mechanism too weak" (534) or "encryption
 * required" (538), which a new token does not change. */
static bool smtp_auth_token_refused(int code)
{
    return code / 100 == 5 && (code < 500 || code > 504) && code != 534 && code != 538;
}

/* The server refused a bearer token that came from the cache (refusal
 * says how): ask the callback for a new one, once (it is used up here),
 * and start AUTH again with it. When no token comes, the callback's
 * failure is the session's and QUIT follows. */
static int smtp_auth_retry(struct smtp_session *s, struct result *refusal, struct result *r)
{
    const char *(*refresh)(void *, struct result *) = s->p.refresh_token;
    struct result ar = RESULT_INIT;
    s->p.refresh_token = NULL;
    /* The SASL session points to the old token, which the callback wipes. */
    sasl_finish(s->sasl);
    s->sasl = NULL;
    free(s->auth_status);
    s->auth_status = NULL;
    log_debug(1, _("%s; fetching a new token to try again"), refusal->msg);
    const char *token = refresh(s->p.refresh_arg, &ar);
    if (!token) {
        struct result fr = RESULT_INIT;
        if (ar.cls == RC_OK)
            result_set(&ar, RC_SOFTWARE, _("internal error: no token and no reason"));
        result_set(&fr, ar.cls, _("%s; a new token could not be fetched: %s"), refusal->msg,
                   ar.msg);
        result_clear(&ar);
        result_clear(refusal);
        smtp_auth_failed(s, &fr, r);
        return smtp_enter(s, SMTP_QUIT, r);
    }
    result_clear(refusal);
    s->p.password = token;
    mask_add_password(&s->masks, token);
    if (smtp_auth_begin(s, &ar) == 0)
        return 0;
    if (s->state == SMTP_CLOSED) {
        smtp_keep_first(r, &ar);
        return -1;
    }
    smtp_auth_failed(s, &ar, r);
    return smtp_enter(s, SMTP_QUIT, r);
}

/* The reply to AUTH, to a SASL response, or to a pipelined AUTH. */
static int smtp_auth_reply(struct smtp_session *s, struct result *r)
{
    int code = s->last.code;
    bool group = s->state == SMTP_AUTH_GROUP;
    struct result ar = RESULT_INIT;

    if (code == 334 && group) {
        char *q = smtp_reply_oneline(&s->last);
        result_set(&ar, RC_PROTOCOL,
                   _("the server asked for more AUTH %s data after the initial response, "
                     "taking the pipelined commands as SASL data: %s"), s->auth_mech, q);
        free(q);
        smtp_auth_failed(s, &ar, r);
        return -1;
    }
    if (code == 334 && s->state == SMTP_AUTH && s->auth_response) {
        /* The initial response too long for the AUTH line (see
         * smtp_auth_begin) answers this first challenge. */
        return smtp_enter(s, SMTP_AUTH_STEP, r);
    }
    if (code == 334) {
        if (smtp_auth_bearer(s))
            smtp_auth_note_report(s);
        char *challenge = smtp_challenge(s);
        int rc = sasl_step(s->sasl, challenge, &s->auth_response, &ar);
        free(challenge);
        if (rc < 0) {
            /* Cancel the exchange (RFC 4954 4); the server answers 501. */
            secret_free(s->auth_response);
            s->auth_response = NULL;
            smtp_auth_failed(s, &ar, r);
            return smtp_enter(s, SMTP_AUTH_CANCEL, r);
        }
        return smtp_enter(s, SMTP_AUTH_STEP, r);
    }
    if (code == 235) {
        if (sasl_check_success(s->sasl, &ar) != 0) {
            smtp_auth_failed(s, &ar, r);
            return smtp_enter(s, group ? SMTP_AUTH_SKIP_MAIL : SMTP_QUIT, r);
        }
        sasl_finish(s->sasl);
        s->sasl = NULL;
        log_debug(1, _("authenticated with %s"), s->auth_mech);
        return smtp_enter(s, group ? SMTP_MAIL : SMTP_READY, r);
    }
    char *q = smtp_reply_oneline(&s->last);
    if ((code / 100 == 4 || code / 100 == 5) && s->auth_status)
        result_set(&ar, code / 100 == 4 ? RC_TEMPFAIL : RC_NOPERM,
                   _("authentication failed: %s (the server reports the token as \"%s\")"), q,
                   s->auth_status);
    else if (code / 100 == 4 || code / 100 == 5)
        result_set(&ar, code / 100 == 4 ? RC_TEMPFAIL : RC_NOPERM,
                   _("authentication failed: %s"), q);
    else
        result_set(&ar, RC_PROTOCOL, _("unexpected reply to AUTH %s: %s"), s->auth_mech, q);
    free(q);
    if (!group && s->p.refresh_token && smtp_auth_bearer(s) && smtp_auth_token_refused(code))
        return smtp_auth_retry(s, &ar, r);
    smtp_auth_failed(s, &ar, r);
    /* Pipelined: read and ignore the replies to MAIL, RCPT... and DATA. */
    return smtp_enter(s, group ? SMTP_AUTH_SKIP_MAIL : SMTP_QUIT, r);
}

int smtp_auth_handle(struct smtp_session *s, struct result *r)
{
    struct smtp_txn *t = s->t;
    switch (s->state) {
    case SMTP_AUTH:
    case SMTP_AUTH_STEP:
    case SMTP_AUTH_GROUP:
        return smtp_auth_reply(s, r);
    case SMTP_AUTH_CANCEL:
        return smtp_enter(s, SMTP_QUIT, r);
    case SMTP_AUTH_SKIP_MAIL:
        return smtp_enter(s, SMTP_AUTH_SKIP_RCPT, r);
    case SMTP_AUTH_SKIP_RCPT:
        if (++t->next_rcpt < t->m->nrcpts)
            return smtp_enter(s, SMTP_AUTH_SKIP_RCPT, r);
        return smtp_enter(s, SMTP_AUTH_SKIP_DATA, r);
    case SMTP_AUTH_SKIP_DATA:
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

bool smtp_auth_wanted(const struct smtp_session *s)
{
    return s->p.auth && *s->p.auth && ascii_strcasecmp(s->p.auth, "off") != 0;
}

int smtp_auth_begin(struct smtp_session *s, struct result *r)
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
    bool plus = sasl_needs_channel_binding(mech);
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
    if (s->auth_ir && !smtp_auth_ir_fits(mech, s->auth_ir)) {
        /* RFC 4954 4: an initial response that would make the AUTH line
         * longer than a command line may be (RFC 5321 4.5.3.1.4: 512
         * octets with CRLF) MUST NOT be sent with it: it answers the
         * server's first (empty) 334 instead. An access token as long
         * as a JWT is that long. */
        s->auth_response = s->auth_ir;
        s->auth_ir = NULL;
    }
    if (s->caps.pipelining && s->auth_ir && sasl_pipelinable(mech))
        return smtp_enter(s, SMTP_READY_AUTH, r);
    if (smtp_enter(s, SMTP_AUTH, r) != 0) {
        smtp_lost(s);
        return -1;
    }
    return 0;
}

void smtp_auth_free(struct smtp_session *s)
{
    sasl_finish(s->sasl);
    secret_free(s->auth_ir);
    secret_free(s->auth_response);
    result_clear(&s->auth_fail);
    free(s->auth_status);
    s->auth_status = NULL;
    s->sasl = NULL;
    s->auth_ir = s->auth_response = NULL;
}
