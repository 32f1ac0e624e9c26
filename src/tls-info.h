/*
 * tls-info.h - session and certificate text, shared by tls.c and
 * tls-info.c only (other modules use tls.h: tls_session_info,
 * tls_session_version). GnuTLS is loaded (a session exists) whenever
 * these are called.
 */
#ifndef SMTPFWD_TLS_INFO_H
#define SMTPFWD_TLS_INFO_H

#include <stddef.h>

#include <gnutls/gnutls.h>

struct tls_info;

/* n bytes as upper-case hex pairs joined by ':' ("AA:BB:..."); "" for
 * n 0. Caller frees. */
char *tls_hex_colons(const unsigned char *b, size_t n);

/* The server's leaf certificate (DER) on session s, or NULL when it sent
 * none (or the session was resumed). Owned by GnuTLS, valid as long as s. */
const gnutls_datum_t *tls_leaf_cert(gnutls_session_t s);

/* The negotiated protocol version name ("TLS1.3"), or "TLS"; static. */
const char *tls_version_name(gnutls_session_t s);

/* Fill info (every field allocated, "?" for what cannot be read; free
 * with tls_info_free) from session s: version, cipher suite (or GnuTLS'
 * session description), and the leaf certificate's subject, issuer,
 * validity dates and SHA-256/SHA-1 fingerprints. */
void tls_info_fill(gnutls_session_t s, struct tls_info *info);

#endif
