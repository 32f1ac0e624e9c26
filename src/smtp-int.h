/*
 * smtp-int.h - private to the SMTP client (smtp.c and smtp-auth.c): the
 * state enum, the session and transaction structures, and the helpers
 * both files use. Nothing outside src/smtp*.c includes this header; the
 * public interface is smtp.h.
 *
 * Every state is the reply the session waits for (or, for the send-only
 * states PIPELINE and BODY, a step that sends and moves on at once).
 * Entering a state sends what it needs (smtp_enter -> smtp_send_state);
 * its reply is handled by switching on the state (smtp_handle_reply).
 * A transaction's mode (pipelined, chunked) is fixed when it starts; what
 * happens during it is a state, never a flag.
 */
#ifndef SMTPFWD_SMTP_INT_H
#define SMTPFWD_SMTP_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "mask.h"
#include "result.h"
#include "smtp.h"

struct sasl_session;

enum smtp_state {
    SMTP_GREETING,        /* connected; the greeting is awaited */
    SMTP_EHLO,            /* EHLO (LHLO) sent */
    SMTP_HELO,            /* HELO sent after EHLO got 5xx */
    SMTP_STARTTLS,        /* STARTTLS sent */
    SMTP_AUTH,            /* AUTH sent on its own (smtp-auth.c) */
    SMTP_AUTH_STEP,       /* a SASL response to a 334 sent */
    SMTP_AUTH_CANCEL,     /* "*" sent: its reply ends the exchange */
    SMTP_READY,           /* idle: a message may start */
    SMTP_READY_AUTH,      /* idle; AUTH leads the first message's group */
    SMTP_AUTH_GROUP,      /* AUTH, MAIL, RCPT..., DATA sent in one write */
    SMTP_AUTH_SKIP_MAIL,  /* AUTH refused: the group's replies are ignored */
    SMTP_AUTH_SKIP_RCPT,
    SMTP_AUTH_SKIP_DATA,
    SMTP_PIPELINE,        /* send-only: MAIL, RCPT..., DATA or BDAT LAST */
    SMTP_MAIL,            /* MAIL sent (alone, or first of a group) */
    SMTP_RCPT,            /* RCPT sent for t->next_rcpt */
    SMTP_SKIP_RCPT,       /* pipelined RCPT behind a refused MAIL */
    SMTP_DATA,            /* DATA sent, someone accepted */
    SMTP_SKIP_DATA,       /* pipelined DATA behind a refused MAIL or RCPTs */
    SMTP_EMPTY_DOT,       /* "." sent after a 354 in SKIP_DATA */
    SMTP_BODY,            /* send-only: the dot-stuffed message, then DOT */
    SMTP_DOT,             /* end of data sent */
    SMTP_BDAT,            /* BDAT LAST and the message sent */
    SMTP_SKIP_BDAT,       /* BDAT LAST behind a refused MAIL or RCPTs */
    SMTP_RSET,            /* RSET sent after a failed transaction */
    SMTP_QUIT,            /* QUIT sent; its reply is awaited */
    SMTP_BYE,             /* QUIT sent after the last message; not awaited */
    SMTP_CLOSED,          /* nothing more can be sent */
};

/* RFC 5321 4.5.3.2 timeouts, seconds. */
#define SMTP_TMO_GREETING 300
#define SMTP_TMO_COMMAND  300
#define SMTP_TMO_DATA     120
#define SMTP_TMO_BLOCK    180
#define SMTP_TMO_DOT      600
#define SMTP_TMO_QUIT     10     /* ours: QUIT must not hold us up */

/* The transaction in progress. */
struct smtp_txn {
    struct smtp_message *m;
    char *sender;             /* as sent (A-labels when converted) */
    char **rcpts;             /* as sent */
    bool pipelined;           /* mode: MAIL, RCPTs and DATA go out together */
    bool chunked;             /* mode: ... and BDAT LAST with the message instead of DATA */
    bool use_smtputf8;
    size_t next_rcpt;         /* whose RCPT reply is read next */
    size_t naccepted;
    size_t next_dot;          /* LMTP: next accepted recipient to get a "." reply */
    size_t ndot;              /* LMTP: "." replies read */
};

struct smtp_session {
    struct conn *c;
    struct smtp_params p;
    enum smtp_state state;
    struct smtp_caps caps;
    char *greeting;
    struct smtp_reply last;
    struct smtp_reply decisive;   /* last reply that decided something (for logs) */
    struct smtp_txn *t;
    /* AUTH (smtp-auth.c) */
    const char *auth_mech;        /* chosen mechanism (static string), NULL = none */
    struct sasl_session *sasl;    /* while the exchange runs */
    char *auth_ir;                /* base64 initial response until sent (secret) */
    char *auth_response;          /* base64 response to a 334 until sent (secret) */
    char *auth_status;            /* the status of a bearer token's error report
                                     (334), masked and escaped, or NULL */
    struct result auth_fail;      /* AUTH refused: every message fails with this */
    struct mask_list masks;       /* credentials hidden in every reply line */
    char *challenge;              /* a 334's first line as sent, unmasked: for SASL only */
    char line[REPLY_MAX_LINE + 3];
};

/* ---- smtp.c, for smtp-auth.c ---- */

/* Enter state st: trace "OLD -> NEW" and send what st needs. Returns 0,
 * or -1 with r set when sending failed (the connection is unusable). */
int smtp_enter(struct smtp_session *s, enum smtp_state st, struct result *r);

/* The session cannot be used any more: state CLOSED (traced). */
void smtp_lost(struct smtp_session *s);

/* The reply timeout of state st, in milliseconds. */
int smtp_state_timeout(const struct smtp_session *s, enum smtp_state st);

/* Queue one command line (CRLF added), shown in the transcript. Returns
 * 0 or -1 with r set. */
int smtp_cmd(struct smtp_session *s, const char *line, int timeout_ms, struct result *r);

/* Queue (not flush) the MAIL, RCPT... and DATA or BDAT LAST group of the
 * transaction in progress. Returns 0 or -1 with r set. */
int smtp_queue_mail_group(struct smtp_session *s, int timeout_ms, struct result *r);

/* The last reply on one line ("550-a 550 b"), newly allocated. */
char *smtp_reply_oneline(const struct smtp_reply *rep);

/* Keep the earliest failure: move src into dst unless dst has one. */
void smtp_keep_first(struct result *dst, struct result *src);

/* r = RC_PROTOCOL quoting the last reply and naming the state; -1. */
int smtp_unexpected(struct smtp_session *s, struct result *r);

/* ---- smtp-read.c, for smtp.c ---- */

/* Read one complete reply into s->last (replacing it), all of its lines
 * within timeout_ms; s->challenge gets the first line of a 334 as sent.
 * Returns 0, or -1 with r set (the first failure kept): network or
 * timeout -> RC_TEMPFAIL from conn.[ch], a malformed, over-long or
 * mixed-code reply -> RC_PROTOCOL quoting it (masked). */
int smtp_read_reply(struct smtp_session *s, int timeout_ms, struct result *r);

/* ---- smtp-envelope.c, for smtp.c ---- */

/* Checks made before anything is sent (no recipients -> RC_USAGE, size
 * above SIZE -> RC_DATAERR, DSN not offered -> RC_UNAVAILABLE, bad or
 * unconvertible address -> RC_DATAERR); fills t->use_smtputf8,
 * t->sender and t->rcpts (owned by t). Returns 0 or -1 with r set. */
int smtp_prepare(struct smtp_session *s, struct smtp_txn *t, struct result *r);

/* The MAIL FROM line / the RCPT TO line for recipient i, with the
 * parameters the server offers; newly allocated. */
char *smtp_mail_command(const struct smtp_session *s, const struct smtp_txn *t);
char *smtp_rcpt_command(const struct smtp_session *s, const struct smtp_txn *t, size_t i);

/* Free t and what it owns (not t->m). NULL is fine. */
void smtp_txn_free(struct smtp_txn *t);

/* ---- smtp-data.c, for smtp.c ---- */

/* Queue the message file of the transaction in progress, dot-stuffed, in
 * large writes (the caller sends "." and flushes). Returns 0 or -1 with
 * r set (RC_IOERR reading the file, or the connection's failure). */
int smtp_send_body(struct smtp_session *s, struct result *r);

/* Queue "BDAT <size> LAST" and the message file as stored (no flush).
 * Returns 0 or -1 with r set (RC_IOERR also when the file is shorter
 * than its recorded size: the connection must then be dropped). */
int smtp_send_chunk(struct smtp_session *s, struct result *r);

/* ---- smtp-auth.c, for smtp.c ---- */

/* Whether the account asks for AUTH at all. */
bool smtp_auth_wanted(const struct smtp_session *s);

/* In state READY after EHLO (or after a refused bearer token was
 * replaced by a new one, in the state of the refusal): choose the
 * mechanism, start the SASL client, compute the initial response, then
 * enter AUTH, or READY_AUTH when AUTH can lead the first message's group.
 * Returns 0, or -1 with r set (local failures leave the state as it was,
 * for a polite QUIT; a failed send leaves it CLOSED). */
int smtp_auth_begin(struct smtp_session *s, struct result *r);

/* Send what an AUTH state needs (AUTH, AUTH_STEP, AUTH_CANCEL,
 * AUTH_GROUP). Returns 0 or -1 with r set. */
int smtp_auth_send(struct smtp_session *s, struct result *r);

/* Handle the reply in an AUTH state (including AUTH_SKIP_*) and choose
 * the next state. Returns 0, or -1 with r set when the connection must
 * be dropped. */
int smtp_auth_handle(struct smtp_session *s, struct result *r);

/* Free what the AUTH exchange holds (wiping the secrets). */
void smtp_auth_free(struct smtp_session *s);

#endif
