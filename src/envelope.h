/*
 * envelope.h - who the message is from and to on the SMTP level.
 *
 * Sender: -f/-r when given and the account allows from override (or has
 * no `from`); else the account's `from` with %U (user), %H (host name),
 * %C (canonical host name), %M (mail domain) expanded; else
 * user@hostname. "<>" or "" is the null sender.
 *
 * Recipients: every command-line argument is an address list; with -t the
 * header recipients are added (duplicates removed, order kept). A
 * recipient without '@' is looked up in the account's aliases file
 * (`default:` as fallback); without an alias it is qualified with the mail
 * domain: the domain of the account's `from`, else the account's
 * `domain`, else the host name. Every resulting address is validated
 * (address_validate_envelope) before any connection.
 *
 * DSN: -N/-R/-V override dsn_notify/dsn_return of the account; "off"
 * and "never" handling as in msmtp ("never" is sent as NOTIFY=NEVER).
 */
#ifndef SMTPFWD_ENVELOPE_H
#define SMTPFWD_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include "result.h"

struct options;
struct account;
struct message;

struct envelope {
    char *sender;             /* "" = null sender; owned */
    char **rcpts;             /* owned, validated, deduplicated */
    size_t nrcpts;
    char *dsn_notify;         /* e.g. "FAILURE,DELAY", "NEVER", or NULL; owned */
    char *dsn_return;         /* "FULL", "HDRS", or NULL; owned */
    char *dsn_envid;          /* xtext-encoded later by smtp.c; owned or NULL */
    char *mail_domain;        /* domain used to qualify bare names; owned */
};

/* The envelope sender only (needed before intake to select the account
 * and build From:). Returns a new string ("" for null sender) or NULL
 * with r set (invalid -f: RC_DATAERR). */
char *envelope_sender(const struct options *o, const struct account *a, struct result *r);

/* The mail domain for qualification and Message-ID; caller frees. */
char *envelope_mail_domain(const struct account *a);

/* Build the whole envelope. m may be NULL when no message was read.
 * Errors: RC_USAGE "no recipients", RC_DATAERR invalid address, RC_CONFIG
 * aliases file problems. */
int envelope_build(const struct options *o, const struct account *a,
                   const struct message *m, struct envelope *env, struct result *r);

void envelope_free(struct envelope *env);

/* Expand %U %H %C %M and %% in a `from` pattern; caller frees. */
char *envelope_expand_from(const char *pattern, const char *mail_domain);

#endif
