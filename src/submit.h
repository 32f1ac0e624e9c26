/*
 * submit.h - one message through the pipeline after intake: the account
 * and its intake options (before the message is read), then the envelope,
 * the spool or a delivery, keeping a failed delivery in the spool when
 * the account's policy says so, and the log line. Both ways a message
 * comes in use it: standard input (main.c) and each message of an SMTP
 * session on standard input (smtpd.c).
 *
 * Must not: read the message (intake does), parse the command line (cli
 * does), or decide exit statuses (result_exit_status does, from the class).
 */
#ifndef SMTPFWD_SUBMIT_H
#define SMTPFWD_SUBMIT_H

#include <stdbool.h>
#include <stddef.h>

#include "cli.h"
#include "envelope.h"
#include "intake.h"
#include "message.h"
#include "result.h"

struct config;
struct account;
struct failover_conns;

/* The configuration of a run and the account of its current message. */
struct submit {
    const struct options *o;        /* the command line; not owned */
    struct config *cfg;             /* owned */
    const struct account *a;        /* owned by cfg; NULL before submit_account() */
    char *sender;                   /* the envelope sender for a ("" = null); owned */
    char *from_value;               /* From: value to add, or NULL; owned */
    char *mail_domain;              /* owned */
    struct intake_opts io;          /* intake options for a (points into this struct) */
    /* Keep the smarthost connection open after a message for the next
     * one of the same account (set by smtpd; closed by submit_free, or
     * when the next message has another account or it was lost). */
    bool keep_open;
    struct deliver_conn *conn;      /* owned; NULL when none is open */
    /* With keep_open, the connections to fallback accounts (failover.h)
     * kept for the next messages too; owned; NULL until one is used. */
    struct failover_conns *fallback_conns;
    /* Accounts the command line's settings were applied to (once each:
     * a kept connection may still point to the strings they replace). */
    const struct account **applied;
    size_t napplied;
    /* A detached flush of the spool was started (once per run: a -bs
     * session of many messages starts one, not one per message). */
    bool flush_started;
};

/* What became of one message, for a caller that answers for it (smtpd). */
struct submit_outcome {
    int status;                     /* the exit status this message means (0: delivered
                                       or durably queued) */
    bool queued;                    /* it is in the spool (-odq, queue always, or kept
                                       after a failed delivery) */
    size_t nrcpts;                  /* envelope recipients */
    size_t ndelivered;              /* recipients the smarthost took */
    char *refused;                  /* the recipients refused for good or for now, as
                                       "<addr> CODE text; ..." on one line, or NULL; owned */
    char *reply;                    /* the smarthost's reply that refused the whole
                                       message, on one line, or NULL; owned */
    int code;                       /* its code (or of the last reply), 0 if none */
    char *why;                      /* the delivery's failure in our words, on one
                                       line, or NULL; owned */
};

/* Start s for the command line o: read the configuration (or, with
 * --host, make it of the settings alone). Returns 0, or -1 with r set
 * (RC_CONFIG, RC_USAGE); s is to be freed with submit_free() either way. */
int submit_init(struct submit *s, const struct options *o, struct result *r);

/* The account called account (NULL: by from, else "default"; with
 * --host: the one account), with the command line's settings applied.
 * Returns it (owned by s->cfg), or NULL with r set (RC_CONFIG no account
 * fits; RC_USAGE a bad setting). Does not change s->a. */
const struct account *submit_select(struct submit *s, const char *account, const char *from,
                                    struct result *r);

/* Choose the account for a message whose sender is from (-f, MAIL FROM;
 * NULL: none given): -a wins, else the account whose `from` fits, else
 * "default"; apply the command line's settings to it; compute the sender,
 * the From: value and s->io. Returns 0, or -1 with r set (RC_CONFIG no
 * account fits; RC_DATAERR invalid sender; RC_USAGE a bad setting). */
int submit_account(struct submit *s, const char *from, struct result *r);

/* The message msg (read with s->io) through the rest of the pipeline
 * with the envelope req: envelope_build, then the spool (-odq, queue
 * always) or a delivery (kept in the spool after a failure worth it),
 * the log line, a detached flush when the spool has entries. Fills out
 * (free with submit_outcome_free) when not NULL. Returns the exit
 * status; a failure before delivery (envelope, spool) is left in r for
 * the caller to report; delivery failures are reported on stderr by
 * deliver. */
int submit_message(struct submit *s, const struct envelope_request *req,
                   const struct message *msg, struct submit_outcome *out, struct result *r);

/* Free what out owns and zero it. */
void submit_outcome_free(struct submit_outcome *out);

/* Free what s owns; QUIT on a connection kept open. */
void submit_free(struct submit *s);

#endif
