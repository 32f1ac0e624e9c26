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
 * The caller's wishes come as a struct envelope_request of plain values,
 * never as the command line's struct options (this module does not know
 * where the request came from).
 *
 * DSN: -N/-R/-V override dsn_notify/dsn_return of the account; "off"
 * and "never" handling as in msmtp ("never" is sent as NOTIFY=NEVER).
 */
#ifndef SMTPFWD_ENVELOPE_H
#define SMTPFWD_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include "result.h"

struct account;
struct message;

/* What the caller asks for, as plain values (main.c fills it from the
 * command line; an SMTP server from MAIL FROM and RCPT TO). Nothing is
 * owned: the strings must outlive the calls that take the request. The
 * error messages about the DSN values name -N, -R and -V. */
struct envelope_request {
    const char *from;           /* sender as given ("<>" or "" = null sender;
                                   angles allowed), or NULL: the account's */
    char *const *recipients;    /* each an RFC 5322 address LIST, as given */
    size_t nrecipients;
    bool read_recipients;       /* -t: add the message's header recipients */
    const char *dsn_notify;     /* never|success,failure,delay, or NULL: the account's */
    const char *dsn_return;     /* full|hdrs|headers, or NULL: the account's */
    const char *dsn_envid;      /* ENVID, or NULL */
};

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
 * and build From:): from (a request's `from`, may be NULL) when the
 * account allows it, else the account's. Returns a new string ("" for
 * null sender) or NULL with r set (invalid from: RC_DATAERR; invalid
 * account `from`: RC_CONFIG). */
char *envelope_sender(const char *from, const struct account *a, struct result *r);

/* The mail domain for qualification and Message-ID; caller frees. */
char *envelope_mail_domain(const struct account *a);

/* Build the whole envelope for req (NULL: nothing asked, the account's
 * values) into env (initialized here; free with envelope_free() after
 * success, already freed after a failure). m may be NULL when no message
 * was read. Errors: RC_USAGE "no recipients" or an invalid DSN value,
 * RC_DATAERR invalid address, RC_CONFIG aliases file problems or an
 * invalid account value. */
int envelope_build(const struct envelope_request *req, const struct account *a,
                   const struct message *m, struct envelope *env, struct result *r);

/* Free what env owns and zero it; twice is fine. */
void envelope_free(struct envelope *env);

/* Expand %U %H %C %M and %% in a `from` pattern (mail_domain NULL: %M
 * is the host name); caller frees. */
char *envelope_expand_from(const char *pattern, const char *mail_domain);

#endif
