/*
 * idn.h - internationalized domain names through libidn2. The header is
 * the same with or without libidn2; without it, names are passed through
 * unchanged when ASCII and refused otherwise.
 *
 * Only conversions: which name needs one is the caller's decision.
 */
#ifndef SMTPFWD_IDN_H
#define SMTPFWD_IDN_H

#include "result.h"

/* Convert a host name to its ASCII (A-label) form for DNS and TLS.
 * Returns a new string, or NULL with r set: RC_DATAERR when the name
 * cannot be converted, RC_LOCALTEMP when libidn2 cannot be loaded. */
char *idn_host_to_ascii(const char *host, struct result *r);

/* Convert the domain of an address to A-labels when the server lacks
 * SMTPUTF8 and the local part is ASCII. Returns a new string, or NULL
 * with r set (classes as above). */
char *idn_address_to_ascii(const char *addr, struct result *r);

#endif
