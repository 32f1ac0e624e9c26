/*
 * smtp.h - the SMTP client state machine. It talks only to conn.[ch];
 * it never touches a socket.
 *
 * One enum of states (smtp-int.h) with one table of names and reply
 * rules (smtp.c); smtp_send_state() sends what a state needs (a command
 * or a pipelined group), smtp_handle_reply() consumes the reply for that
 * state and chooses the next one; every transition is traced at -v -v as
 * "smtp: OLD -> NEW". What happens during a transaction (a refused MAIL,
 * a refused AUTH in front of the group, ...) is a state, not a flag.
 *
 * Session: GREETING -> EHLO (-> HELO when EHLO gets 5xx/502/500) [->
 * STARTTLS -> EHLO again -> AUTH] -> READY; then per message: MAIL,
 * RCPT..., DATA (with PIPELINING: the whole group in one write; without
 * it, every command waits for its reply, RFC 5321), body (dot-stuffed
 * from the canonical file, large writes), "." -> READY; RSET after a
 * failed transaction. After the reply to the last message's end of data
 * (success or failure) comes BYE: QUIT is written and its 221 is not
 * waited for. QUIT never leaves in the same write as "." or BDAT LAST:
 * servers that defend against SMTP smuggling refuse a message with
 * anything pipelined behind its end, and servers without PIPELINING
 * refuse anything sent ahead of a reply.
 *
 * With CHUNKING and PIPELINING offered and params.chunking set, DATA,
 * body and "." are replaced by "BDAT <size> LAST" and the message file
 * as stored (no dot-stuffing), in the same write as MAIL and RCPT: MAIL,
 * RCPT..., BDAT (its reply is the final status, as the reply to "." is)
 * -> READY (or BYE). A group led by a pipelined AUTH keeps DATA, so that
 * no message data leaves before the credentials are accepted.
 *
 * Replies are parsed strictly: three digits, then ' ' or '-', at most
 * REPLY_MAX_LINE octets per line, REPLY_MAX_LINES lines and REPLY_MAX_OCTETS
 * octets per reply, the same code on every line, printable text;
 * anything else is RC_PROTOCOL. All the lines of one reply must arrive
 * within one timeout (one deadline per reply, whatever the pace).
 * Every reply line has the session's credentials masked (mask.h) before
 * it is shown, logged or kept: the password and its base64 forms from
 * the start, and each credential line once it has been sent.
 */
#ifndef SMTPFWD_SMTP_H
#define SMTPFWD_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include "reply.h"
#include "result.h"

struct conn;

struct tls_config;

struct smtp_params {
    const char *helo_domain;  /* EHLO/HELO argument */
    int timeout_s;            /* 0 = RFC 5321 4.5.3.2 defaults; else caps every
                                 reply (all its lines) and the TLS handshake */
    bool lmtp;                /* protocol lmtp: LHLO, per-recipient data replies */

    /* TLS: starttls set -> after EHLO, STARTTLS is required
     * (not offered -> RC_UNAVAILABLE, bytes pipelined behind its 220 ->
     * RC_PROTOCOL), conn_start_tls(tls), then EHLO again. For implicit
     * TLS the caller starts TLS on the conn before smtp_open. */
    bool starttls;
    const struct tls_config *tls;   /* not owned; needed when starttls */

    /* AUTH: auth is the account's `auth` ("off"/NULL = none,
     * "on" = strongest offered, or a mechanism name). password may be
     * NULL for mechanisms that need none (external, gssapi). */
    const char *auth;
    const char *user;
    const char *password;           /* not owned; never logged */
    const char *ntlmdomain;
    bool allow_plaintext_auth;      /* PLAIN/LOGIN without TLS explicitly allowed */
    /* Bearer tokens (auth oauthbearer/xoauth2) that smtpfwd's OAuth2
     * took from its cache: when the server refuses the token (a JSON
     * error report in a 334, then a 5xx; or a 5xx to AUTH; not 500-504,
     * 534 or 538, which no new token changes), refresh_token is called
     * once and AUTH is tried again in the same session with the token it
     * returns (owned by the callee, valid until smtp_free; the old one,
     * which the callee may wipe, is no longer used; NULL with r set:
     * that failure is the session's). NULL: no second try. */
    const char *(*refresh_token)(void *arg, struct result *r);
    void *refresh_arg;
    bool chunking;                  /* account `chunking`: BDAT when CHUNKING and
                                       PIPELINING are offered (not for LMTP) */
};

/* Per-recipient outcome of one transaction. */
enum rcpt_status { RCPT_PENDING = 0, RCPT_ACCEPTED, RCPT_DELIVERED, RCPT_TEMPFAIL, RCPT_PERMFAIL };

struct smtp_rcpt {
    const char *addr;         /* not owned */
    enum rcpt_status status;
    int code;                 /* reply code that decided it (0 = none) */
    int rcpt_code;            /* the reply code to its RCPT (0 = none came) */
    char *reply;              /* that reply's text; owned */
};

struct smtp_message {
    const char *sender;       /* "" = null sender */
    struct smtp_rcpt *rcpts;  /* caller-owned array, filled in */
    size_t nrcpts;
    int fd;                   /* canonical message file (read with pread) */
    long long offset;         /* where the message starts in fd (0 = at the start) */
    long long size;
    bool body_8bit;           /* 8-bit data: BODY=8BITMIME when offered */
    bool smtputf8;            /* UTF-8 in the header fields sent: SMTPUTF8 when
                                 offered (non-ASCII addresses ask for it too) */
    const char *dsn_notify;   /* NOTIFY= value or NULL */
    const char *dsn_return;   /* RET= value or NULL */
    const char *dsn_envid;    /* ENVID= value (xtext-encoded here) or NULL */
    bool last;                /* the session's last message: QUIT after its final reply */
    /* out */
    int final_code;           /* reply to the end of data (0 = never reached) */
    char *final_reply;        /* owned */
    bool data_taken;          /* the message data left while the server may have
                                 taken it: after a 354, or a BDAT chunk written,
                                 unless the server then refused MAIL or every RCPT */
};

struct smtp_session;

/* Create a session over c (not owned). */
struct smtp_session *smtp_new(struct conn *c, const struct smtp_params *p);

/* Read the greeting and introduce ourselves (EHLO, HELO fallback), then
 * STARTTLS and AUTH when the parameters ask for them. Returns 0, or -1
 * with r set: 4xx/421 -> RC_TEMPFAIL, 5xx greeting -> RC_UNAVAILABLE,
 * malformed -> RC_PROTOCOL, network -> RC_TEMPFAIL; STARTTLS not offered
 * -> RC_UNAVAILABLE, data behind its 220 -> RC_PROTOCOL, certificate
 * refused -> RC_NOPERM; AUTH not offered or no usable mechanism ->
 * RC_UNAVAILABLE, plaintext mechanism refused or no user -> RC_CONFIG,
 * authentication refused (5xx) -> RC_NOPERM, 454/4xx -> RC_TEMPFAIL
 * (the status of a bearer token's error report quoted); a refused
 * bearer token replaced through refresh_token -> AUTH again, and when no
 * new token comes, that callback's class (RC_TEMPFAIL stays temporary).
 * An AUTH PLAIN/EXTERNAL with initial response on a PIPELINING server is
 * deferred and sent with the first message's MAIL group. */
int smtp_open(struct smtp_session *s, struct result *r);

/* The server's capabilities after smtp_open (valid until smtp_free). */
const struct smtp_caps *smtp_caps(const struct smtp_session *s);
/* The server's greeting text (valid until smtp_free). */
const char *smtp_greeting(const struct smtp_session *s);

/* Send one message. Fills every rcpts[i].status and the final reply.
 * Returns 0 when the server accepted the message for at least one
 * recipient (check each recipient for refusals), or -1 with r set when
 * the message was not accepted for anyone:
 *   all recipients refused -> RC_NOUSER (5xx) / RC_TEMPFAIL (any 4xx);
 *   MAIL 5xx -> RC_DATAERR; MAIL 4xx -> RC_TEMPFAIL;
 *   size above the announced SIZE -> RC_DATAERR, nothing sent;
 *   DATA/end of data/BDAT 5xx -> RC_DATAERR; 4xx -> RC_TEMPFAIL;
 *   (BDAT refused with 500/502 -> RC_DATAERR naming `chunking off`);
 *   network errors and timeouts -> RC_TEMPFAIL; bad replies -> RC_PROTOCOL.
 * After a failed transaction on a live connection, RSET is sent (its
 * reply is read) so the session can be used again or closed cleanly. */
int smtp_send_message(struct smtp_session *s, struct smtp_message *m, struct result *r);

/* Send QUIT and (unless it was already sent with the last message) wait
 * briefly for its reply; errors are ignored. */
void smtp_quit(struct smtp_session *s);

/* True if the connection is still usable for another command. */
bool smtp_alive(const struct smtp_session *s);

/* The last reply that decided something (replies to RSET and QUIT, and
 * replies drained after a failed pipelined command, do not count); code 0
 * and text NULL before the first one; valid until the next call on s.
 * For log lines (smtpstatus=, smtpmsg=). */
const struct smtp_reply *smtp_last_reply(const struct smtp_session *s);

void smtp_free(struct smtp_session *s);

/* Dot-stuffing (RFC 5321 4.5.2) of message data that arrives in pieces:
 * what is carried from one piece to the next. Start from
 * SMTP_DOT_STATE_INIT. */
struct smtp_dot_state {
    bool mid_line;            /* the data so far does not end in LF */
};
#define SMTP_DOT_STATE_INIT { .mid_line = false }

/* Copy n bytes of message data from in to out, doubling every '.' that
 * begins a line (a line begins at the start of the data and after each
 * LF), and update *st. out (not overlapping in) must have room for 2 * n
 * bytes. Returns the number of bytes written. Pure: no I/O, no
 * allocation, no failure. */
size_t smtp_dot_stuff(struct smtp_dot_state *st, const char *in, size_t n, char *out);

/* The end of the stuffed data: writes CRLF to out (room for 2 bytes)
 * when the data so far does not end in a line end, so that the final "."
 * is a line of its own; returns 2, or 0 when nothing is needed (empty
 * data, or data ending in LF). */
size_t smtp_dot_stuff_end(const struct smtp_dot_state *st, char *out);

/* Encode s as RFC 3461 xtext into a new string. */
char *smtp_xtext(const char *s);

#endif
