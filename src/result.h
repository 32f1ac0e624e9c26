/*
 * result.h - failure classes and the single mapping to exit statuses.
 *
 * Every function that can fail takes a `struct result *r` and, on failure,
 * returns -1 after filling it with result_set(): a class and a translated
 * sentence that names what failed and, when a server spoke, quotes its
 * reply. result_exit_status() is the only place that turns a class into a
 * sysexits(3) status (DESIGN.md, "The contract", table 2).
 */
#ifndef SMTPFWD_RESULT_H
#define SMTPFWD_RESULT_H

#include "util.h"

enum result_class {
    R_OK = 0,         /* 0  EX_OK */
    R_USAGE,          /* 64 EX_USAGE: bad command line, no recipients */
    R_DATAERR,        /* 65 EX_DATAERR: invalid address or message; 5xx for the message */
    R_NOUSER,         /* 67 EX_NOUSER: recipients permanently refused */
    R_NOHOST,         /* 68 EX_NOHOST: host name does not resolve */
    R_UNAVAILABLE,    /* 69 EX_UNAVAILABLE: required service missing */
    R_SOFTWARE,       /* 70 EX_SOFTWARE: internal error */
    R_OSERR,          /* 71 EX_OSERR */
    R_CANTCREAT,      /* 73 EX_CANTCREAT */
    R_IOERR,          /* 74 EX_IOERR */
    R_TEMPFAIL,       /* 75 EX_TEMPFAIL: transient, message not queued */
    R_PROTOCOL,       /* 76 EX_PROTOCOL: server broke the protocol */
    R_NOPERM,         /* 77 EX_NOPERM: auth refused, certificate failed */
    R_CONFIG,         /* 78 EX_CONFIG: configuration error */
};

struct result {
    enum result_class cls;
    char *msg;        /* owned, translated, no trailing newline; NULL if R_OK */
};
#define RESULT_INIT { R_OK, NULL }

/* Record a failure. If r already holds a failure, the first one is kept
 * (the earliest cause is the one to report) and this call only frees
 * its own formatting. fmt is already translated by the caller. */
void result_set(struct result *r, enum result_class cls, const char *fmt, ...)
    ATTR_PRINTF(3, 4);
/* Replace whatever r holds (used when a later step reclassifies). */
void result_replace(struct result *r, enum result_class cls, const char *fmt, ...)
    ATTR_PRINTF(3, 4);
/* Free the message and reset to R_OK. */
void result_clear(struct result *r);
/* Move src into dst (dst cleared first), leaving src R_OK. */
void result_move(struct result *dst, struct result *src);

/* The one mapping: class -> sysexits status. */
int result_exit_status(enum result_class cls);
/* "EX_OK", "EX_TEMPFAIL", ... for an exit status (for log lines). */
const char *result_status_name(int status);

#endif
