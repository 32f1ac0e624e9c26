/*
 * tls.h - GnuTLS underneath conn.c: credentials, verification, pinning,
 * client certificates, channel binding data, session description.
 * Only conn.c calls the session functions; deliver.c and serverinfo fill
 * a struct tls_config from the account (tls_config_from_account).
 *
 * Verification (DESIGN.md contract 5): by default the chain is checked
 * against the system trust store (loaded only when a handshake needs it),
 * or against tls_trust_file; validity dates and the host name
 * (tls_host_override, else the host) are checked; SNI is sent for names
 * (not IP literals). tls_fingerprint pins the server certificate (SHA-256,
 * or SHA-1 as msmtp allows) and replaces chain verification.
 * tls_certcheck off skips verification and prints a warning on every use.
 * TLS 1.2 is the minimum unless tls_priorities says otherwise.
 */
#ifndef SMTPFWD_TLS_H
#define SMTPFWD_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include "result.h"

struct account;

struct tls_config {
    const char *host;            /* name to verify and send as SNI */
    bool certcheck;              /* false: no verification (warned) */
    const char *trust_file;      /* NULL or "system": the system store */
    const char *crl_file;
    const char *fingerprint;     /* "AA:BB:..." or NULL */
    const char *cert_file;       /* client certificate (PEM or PKCS#11 URL) */
    const char *key_file;
    const char *priorities;      /* GnuTLS priority string or NULL */
    int min_dh_prime_bits;       /* 0 = GnuTLS default */
};

struct tls_info {
    char *version;               /* "TLS1.3" */
    char *cipher;                /* "TLS_AES_256_GCM_SHA384" or GnuTLS' description */
    char *subject, *issuer;      /* DNs of the server certificate */
    char *not_before, *not_after;/* "2026-11-22 12:00:00 UTC" */
    char *sha256;                /* "AA:BB:..." fingerprint of the server certificate */
    char *sha1;
};
void tls_info_free(struct tls_info *info);

/* Fill cfg from the account (pointers into a; host = tls_host_override
 * or host). */
void tls_config_from_account(struct tls_config *cfg, const struct account *a);

#endif
