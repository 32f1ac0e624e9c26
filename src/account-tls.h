/*
 * account-tls.h - where the account meets the TLS session: an account's
 * tls_* settings as the struct tls_config that tls.[ch] takes.
 *
 * tls.[ch] does not know the account (smtprc.h); smtprc does not know
 * GnuTLS. This is the one place that translates between them, for
 * deliver.c (delivery and --serverinfo).
 */
#ifndef SMTPFWD_ACCOUNT_TLS_H
#define SMTPFWD_ACCOUNT_TLS_H

#include "tls.h"

struct account;

/* Fill cfg from the account a: pointers into a (a must outlive cfg);
 * host = tls_host_override when set, else host. Never fails. */
void account_tls_config(struct tls_config *cfg, const struct account *a);

#endif
