/*
 * tls.h - GnuTLS underneath conn.c: credentials, verification, pinning,
 * client certificates, channel binding data, session description.
 * Only conn.c calls the session functions; deliver.c fills a struct
 * tls_config from the account through account-tls.h: this module does
 * not know the account.
 *
 * Verification (doc/ARCHITECTURE.md contract 5): by default the chain is checked
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
    const char *account;         /* account name, for the certcheck-off warning (may be NULL) */
    bool session_cache;          /* resume sessions across runs (tls_session_cache) */
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

/*
 * The session (used by conn.c only). Failure classes of tls_session_start:
 *   configuration (bad tls_priorities, unreadable trust/CRL/key/cert
 *   file, bad fingerprint, no system trust store)     -> RC_CONFIG
 *   certificate verification failed (chain, validity, host name, CRL;
 *   the text is GnuTLS' own), fingerprint mismatch      -> RC_NOPERM
 *   handshake broken by the network: EOF, reset, push/pull errors,
 *   timeout                                             -> RC_TEMPFAIL
 *   the two sides have no protocol version, cipher suite or group in
 *   common (the server sent a protocol_version, handshake_failure or
 *   insufficient_security alert, or offered only what we refuse, e.g.
 *   a TLS 1.1-only server): a permanent incompatibility  -> RC_UNAVAILABLE
 *   the server refuses the session for want of an acceptable client
 *   certificate (alert certificate_required; or handshake_failure,
 *   bad_certificate, unknown_ca, access_denied, ... after it asked for
 *   a certificate)                                      -> RC_NOPERM
 *   any other alert or TLS protocol error               -> RC_PROTOCOL
 * Nothing but the TLS handshake itself is sent before verification is
 * complete, so no credential can leave before a failure is reported.
 */
struct tls_session;

/* Handshake on the connected, non-blocking fd (not owned) within
 * timeout_ms, then verify as cfg says. peer names the server in
 * messages. Returns 0 and *out, or -1 with r set. */
int tls_session_start(int fd, const struct tls_config *cfg, const char *peer,
                      int timeout_ms, struct tls_session **out, struct result *r);

/* Record I/O with send()/recv() conventions: bytes transferred, 0 at EOF
 * (recv only; a missing close_notify also counts as EOF), or -1 with
 * errno: EAGAIN (wait: tls_session_wants_write says for what), EINTR,
 * ECONNRESET (connection broken), EPROTO (TLS error: tls_session_error
 * gives the text). On EAGAIN from send, call again with the same data. */
long tls_session_send(struct tls_session *t, const void *data, size_t n);
long tls_session_recv(struct tls_session *t, void *buf, size_t n);
/* Decrypted bytes GnuTLS holds that a poll() on the fd would not show. */
size_t tls_session_pending(const struct tls_session *t);
/* After EAGAIN: true when GnuTLS waits to write, false to read. */
bool tls_session_wants_write(const struct tls_session *t);
/* Text of the last TLS error seen by send/recv (static string). */
const char *tls_session_error(const struct tls_session *t);
/* After EPROTO from send/recv: when the last error is the server's
 * fatal alert refusing the client certificate (under TLS 1.3 a server
 * checks it after the client's side of the handshake is over, so the
 * alert comes with the first read), set r to RC_NOPERM with a message
 * naming name and saying what to set, and return -1; else return 0. */
int tls_session_refusal(const struct tls_session *t, const char *name, struct result *r);

/* Channel binding data (see conn_channel_binding). Appends to out and
 * returns 0, or -1 when the type is unknown or unavailable. */
struct buf;
int tls_session_channel_binding(const struct tls_session *t, const char *type,
                                struct buf *out);
/* Describe the session (see conn_tls_info). Returns 0 or -1. */
int tls_session_info(const struct tls_session *t, struct tls_info *info);
/* The negotiated protocol version name ("TLS1.3"), static. */
const char *tls_session_version(const struct tls_session *t);

/* Send close_notify best-effort (never waits more than a moment) and
 * free everything. NULL is fine. */
void tls_session_close(struct tls_session *t);

#endif
