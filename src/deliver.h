/*
 * deliver.h - one delivery session: connect to the account's smarthost,
 * open SMTP, send one or more messages over that one connection, close,
 * and classify each result per recipient as this module's own outcome
 * (enum deliver_outcome: delivered / temporary / permanent / unanswered,
 * with the server's words); callers never see the SMTP client's states. Reports every refused recipient with the server's words,
 * writes the log line for each attempt, and computes the failure class
 * that decides the exit status (doc/ARCHITECTURE.md).
 */
#ifndef SMTPFWD_DELIVER_H
#define SMTPFWD_DELIVER_H

#include <stdbool.h>
#include <stdio.h>

#include "result.h"

struct account;
struct convert_target;
struct envelope;
struct message;
struct smtp_caps;

/* What became of one recipient of a message after an attempt. */
enum deliver_outcome {
    DELIVERY_UNANSWERED = 0,        /* no final word: never sent, never answered, or
                                       accepted at RCPT before the transaction failed
                                       (the message's result speaks for it) */
    DELIVERY_DELIVERED,             /* the server took the message for it */
    DELIVERY_TEMPORARY,             /* refused for now (4xx): worth a retry */
    DELIVERY_PERMANENT,             /* refused for good (5xx) */
};

struct deliver_rcpt {
    enum deliver_outcome outcome;
    bool answered;                  /* the server replied to its RCPT */
    char *reply;                    /* the server's words that decided the outcome
                                       (one reply, "CODE text" lines), or NULL; owned */
    bool may_fall_back;             /* not delivered, and the server cannot have taken
                                       the message for it: it may go through a fallback
                                       account (deliver_may_fall_back) */
};

struct delivery {
    const struct envelope *env;     /* not owned */
    const struct message *msg;      /* not owned */
    struct deliver_rcpt *rcpts;     /* filled by deliver_session; owned, one per env->rcpts */
    struct result result;           /* this message's outcome */
    char *reply;                    /* the server's reply that refused the whole message
                                       ("CODE text" lines), or NULL; owned */
    /* Optional: called once this message's outcome is known (its result,
     * rcpts and reply are set), before the next message is sent, so the
     * caller can record it durably at once (the spool does). */
    void (*done)(struct delivery *d, void *arg);
    void *done_arg;
    /* The log line (logfile, syslog) of this attempt. deliver_session
     * writes it after the done callback, unless log_later is set: then
     * the caller writes it with deliver_log_attempt once it has decided
     * what becomes of the message. queued_id (not owned; set by the
     * caller or the done callback) is the spool entry that keeps the
     * message after this attempt: the line's queued= key. */
    bool log_later;
    const char *queued_id;
    int last_code;                  /* the last reply's code, 0 if none */
    char *last_text;                /* its text on one line, or NULL; owned */
    bool tls;                       /* the attempt used TLS */
    bool unreached;                 /* the session could not be opened (connection,
                                       greeting, TLS, AUTH...): nothing of the
                                       message was sent */
    /* The account of the last attempt when it was a fallback account of
     * the one the message belongs to (failover.h), or NULL: the log line
     * then names it with fallback-for= the message's account. Not owned. */
    const struct account *via;
};

/* Whether a recipient that an attempt did not deliver may be given to a
 * fallback account, from what the attempt says about it: cls is the
 * class of the failure that concerns it (the session's when nothing could
 * be sent, else the message's), rcpt_code the reply to its RCPT (0: none
 * came), data_taken whether the message data left while the server may
 * have taken it. Yes for a 4xx to its own RCPT (the server refused it
 * before any data); no for a 5xx to it; else yes only when cls is
 * RC_TEMPFAIL and no data may have been taken (connection, greeting,
 * EHLO, STARTTLS, AUTH, MAIL, DATA refused for now or lost before the
 * data). Never after the data left: a lost reply to the end of data may
 * hide a delivery. Pure. */
bool deliver_may_fall_back(enum result_class cls, int rcpt_code, bool data_taken);

/* Deliver n messages through account a over one connection. Each
 * d[i].result is set. Returns the overall class (worst of the messages;
 * RC_OK only if every message went to every recipient). Diagnostics for
 * each failure (and each refused recipient, quoting the server) are
 * printed on stderr. */
enum result_class deliver_session(const struct account *a, struct delivery *d, size_t n);

/* One connection kept open across messages (SMTP on standard input
 * sends each message as its data ends): deliver_open connects and opens
 * the SMTP session (a failure is reported on stderr once and kept: every
 * message sent over it gets that result); deliver_send sends one message
 * and sets d->result, d->rcpts and the log line as deliver_session does
 * (last: QUIT follows its final reply); deliver_close sends QUIT when
 * still open, frees, and returns the session-level class (RC_OK when it
 * opened). deliver_session is open, send each, close. */
struct deliver_conn;
struct deliver_conn *deliver_open(const struct account *a);
void deliver_send(struct deliver_conn *dc, struct delivery *d, bool last);
enum result_class deliver_close(struct deliver_conn *dc);

/* Whether dc (may be NULL) can take another message for account a: the
 * same account, opened, alive, and the server has not spoken or closed
 * while it was idle. */
bool deliver_conn_usable(const struct deliver_conn *dc, const struct account *a);

/* Whether dc (may be NULL) is account a's connection that could not be
 * opened: the messages after it share that failure at once instead of
 * each waiting for the same failure again (as the messages of one
 * deliver_session do). */
bool deliver_conn_failed(const struct deliver_conn *dc, const struct account *a);

/* Whether the server said nothing at all about d (no recipient answered,
 * no reply refused it) and the attempt failed for now: over a connection
 * kept open, the server had closed it while idle, and sending the
 * message again over a new connection cannot duplicate it. */
bool deliver_unanswered(const struct delivery *d);

/* --serverinfo: connect as for a delivery (TLS as configured, no AUTH, no
 * mail), print the greeting, capabilities, TLS session (version, cipher,
 * certificate subject, issuer, validity, SHA-256 fingerprint) and the
 * AUTH mechanisms to out, then QUIT. Returns the class (RC_OK on success),
 * printing the failure on stderr. */
enum result_class deliver_serverinfo(const struct account *a, FILE *out);

/* What the server in front of us takes, for message conversion
 * (convert.h): 8-bit bodies when it offered 8BITMIME, UTF-8 in header
 * fields when it offered SMTPUTF8, and neither when force_7bit (-B 7BIT:
 * the message goes as 7-bit ASCII whatever the server offers). Pure. */
void deliver_convert_target(const struct smtp_caps *caps, bool force_7bit,
                            struct convert_target *t);

/* Write the log line of d's attempt (see log_later above) for a
 * message of account a: to a's logfile and syslog, naming d->via (with
 * fallback-for=a) when the attempt went through a fallback account. */
void deliver_log_attempt(const struct account *a, const struct delivery *d);

/* Free what deliver_session allocated in d. */
void deliver_free(struct delivery *d);

#endif
