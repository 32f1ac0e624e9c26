/*
 * account-tls.c - an account's TLS settings as a struct tls_config (see
 * account-tls.h). Owns that translation only: no I/O, no GnuTLS.
 */
#include <config.h>

#include <string.h>

#include "account-tls.h"
#include "smtprc.h"

void account_tls_config(struct tls_config *cfg, const struct account *a)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->host = a->tls_host_override && *a->tls_host_override ? a->tls_host_override : a->host;
    cfg->certcheck = a->tls_certcheck;
    cfg->trust_file = a->tls_trust_file;
    cfg->crl_file = a->tls_crl_file;
    cfg->fingerprint = a->tls_fingerprint;
    cfg->cert_file = a->tls_cert_file;
    cfg->key_file = a->tls_key_file;
    cfg->priorities = a->tls_priorities;
    cfg->min_dh_prime_bits = a->tls_min_dh_prime_bits;
    cfg->account = a->name;
    cfg->session_cache = a->tls_session_cache;
}
