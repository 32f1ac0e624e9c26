/*
 * result.h - failure classes and the single mapping to exit statuses.
 *
 * (Names are RC_*, not R_*: unistd.h already defines R_OK.)
 *
 * Every function that can fail takes a `struct result *r` and, on failure,
 * returns -1 after filling it with result_set(): a class and a translated
 * sentence that names what failed and, when a server spoke, quotes its
 * reply. result_exit_status() is the only place that turns a class into a
 * sysexits(3) status (doc/ARCHITECTURE.md, "The contract", table 2).
 */
#ifndef SMTPFWD_RESULT_H
#define SMTPFWD_RESULT_H

#include "util.h"

enum result_class {
    RC_OK = 0,         /* 0  EX_OK */
    RC_USAGE,          /* 64 EX_USAGE: bad command line, no recipients */
    RC_DATAERR,        /* 65 EX_DATAERR: invalid address or message; 5xx for the message */
    RC_NOUSER,         /* 67 EX_NOUSER: recipients permanently refused */
    RC_NOHOST,         /* 68 EX_NOHOST: host name does not resolve */
    RC_UNAVAILABLE,    /* 69 EX_UNAVAILABLE: required service missing */
    RC_SOFTWARE,       /* 70 EX_SOFTWARE: internal error */
    RC_OSERR,          /* 71 EX_OSERR */
    RC_CANTCREAT,      /* 73 EX_CANTCREAT */
    RC_IOERR,          /* 74 EX_IOERR */
    RC_TEMPFAIL,       /* 75 EX_TEMPFAIL: transient, message not queued */
    RC_LOCALTEMP,      /* 75 EX_TEMPFAIL: this system cannot send now (a library
                          loaded at run time is missing or unusable); the
                          message can go once the system is repaired */
    RC_PROTOCOL,       /* 76 EX_PROTOCOL: server broke the protocol */
    RC_NOPERM,         /* 77 EX_NOPERM: auth refused, certificate failed */
    RC_CONFIG,         /* 78 EX_CONFIG: configuration error */
};

struct result {
    enum result_class cls;
    char *msg;        /* owned, translated, no trailing newline; NULL if RC_OK */
};
#define RESULT_INIT { RC_OK, NULL }

/* Record a failure. If r already holds a failure, the first one is kept
 * (the earliest cause is the one to report) and this call only frees
 * its own formatting. fmt is already translated by the caller. */
void result_set(struct result *r, enum result_class cls, const char *fmt, ...)
    ATTR_PRINTF(3, 4);
/* Replace whatever r holds (used when a later step reclassifies). */
void result_replace(struct result *r, enum result_class cls, const char *fmt, ...)
    ATTR_PRINTF(3, 4);
/* Free the message and reset to RC_OK. */
void result_clear(struct result *r);
/* Move src into dst (dst cleared first), leaving src RC_OK. */
void result_move(struct result *dst, struct result *src);

/* The one mapping: class -> sysexits status. */
int result_exit_status(enum result_class cls);

/* The one rule for the spool: true when a later attempt of the same
 * message may succeed without anyone changing the message, the
 * configuration or the server (RC_TEMPFAIL: the network, the server's
 * 4xx; RC_LOCALTEMP: a library of this system, once repaired). Only
 * these failures put a message in the spool after a failed direct
 * delivery; every other class fails at once with its own exit status,
 * because no retry can cure it: configuration and usage errors,
 * certificate verification, refused authentication or client
 * certificate (RC_NOPERM), a service the server does not offer
 * (RC_UNAVAILABLE: no STARTTLS, no AUTH, no common TLS version; a
 * mismatch between the account and the server, not a passing state),
 * a server that breaks the protocol, refused messages and recipients,
 * internal errors. */
bool result_worth_retry(enum result_class cls);
/* "EX_OK", "EX_TEMPFAIL", ... for an exit status (for log lines). */
const char *result_status_name(int status);

#endif
