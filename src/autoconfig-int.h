/*
 * autoconfig-int.h - private to autoconfig*.c: the DNS lookup of one
 * SRV name and the safe append of --write.
 */
#ifndef SMTPFWD_AUTOCONFIG_INT_H
#define SMTPFWD_AUTOCONFIG_INT_H

#include <stddef.h>

#include "autoconfig.h"
#include "result.h"

/* What a lookup of one SRV name came to. */
enum srv_outcome {
    SRV_FOUND,       /* records in out */
    SRV_NOTHING,     /* NXDOMAIN or no SRV record (NODATA) */
    SRV_DECLINED,    /* one record with target ".": decidedly not offered */
    SRV_TEMPFAIL,    /* SERVFAIL, timeout, no name server, a malformed answer */
};

/* Look up the SRV records of name (an A-label name) with the system's
 * resolver (res_query). SRV_FOUND: *n records in out (freed with
 * srv_free); otherwise *why (caller frees) says what happened. */
enum srv_outcome srv_lookup(const char *name, struct srv_record *out, size_t max, size_t *n,
                            char **why);

/* --write: append block (whose account is account) to path (a new file
 * is created 0600). Refuses (RC_CANTCREAT) when the file has an account
 * of that name already (RC_CANTCREAT, the file unchanged); keeps the old content in PATH~; writes a
 * temporary file in the same directory, fsyncs it and renames it over
 * the file (a symbolic link is written through: its target is
 * replaced). Says on stderr what was written where. Returns 0 or -1
 * with r set: the account exists, or the file does not parse (RC_CONFIG
 * from the parser: fix it first); it is not a regular file or not the
 * user's -> RC_CANTCREAT; writing failed -> RC_CANTCREAT / RC_IOERR. */
int autoconfig_write(const char *path, const char *account, const char *block,
                     struct result *r);

#endif
