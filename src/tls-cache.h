/*
 * tls-cache.h - TLS session resumption across runs (tls_session_cache),
 * for tls.c only.
 *
 * A session is kept per server address and verification policy in
 * $XDG_CACHE_HOME/smtpfwd/tls-sessions/ (util_cache_dir): one file named
 * by a hash of everything that decides whether a session may be trusted
 * (peer, host name, certcheck, trust file, CRL, pin, client certificate
 * and key, priorities, minimum DH prime size; files by identity and
 * modification time), so a session verified under one policy is never
 * resumed under another. Files are 0600, owned by the user, at most a day
 * old and 64 KiB; anything else is ignored. Every failure here only costs
 * a full handshake: nothing is reported as an error.
 *
 * GnuTLS calls go through gnutls-dl.h: tls.c has loaded GnuTLS before it
 * calls any of these.
 */
#ifndef SMTPFWD_TLS_CACHE_H
#define SMTPFWD_TLS_CACHE_H

#include <stdbool.h>

#include <gnutls/gnutls.h>

struct tls_config;

/* The cache file for this server address (peer, as conn_peer names it)
 * and these settings, or NULL when cfg->session_cache is off or there is
 * no cache directory. The caller frees it. */
char *tls_cache_path(const struct tls_config *cfg, const char *peer);

/* Offer the session kept in path (NULL: none) to the server on s, before
 * the handshake. Returns true when one was offered. A file that is not
 * ours, too old, too large or invalid is ignored (-v -v says why). */
bool tls_cache_offer(gnutls_session_t s, const char *path);

/* After a verified handshake on s: keep the session in path (NULL: do
 * nothing) when the server gave something to resume with (a TLS 1.3
 * ticket, or a TLS 1.2 ticket or session id), written to a temporary
 * file and renamed into place; remove the kept one when it was offered
 * (offered) and the server did not resume it. Best effort. */
void tls_cache_store(gnutls_session_t s, const char *path, bool offered);

#endif
