/*
 * sasl.h - SMTP authentication through GNU SASL: mechanism choice,
 * credentials callbacks, initial responses, channel binding.
 * The header is the same with or without GNU SASL; without it only
 * "auth off" works and every other value is RC_UNAVAILABLE.
 *
 * What smtpfwd knows about each mechanism (its `auth` value, initial
 * response, pipelining, password, TLS, channel binding, the "auth on"
 * order) is one table in sasl.c; the functions below answer from it.
 *
 * Choice (auth on): the strongest mechanism both sides offer, in this
 * order: SCRAM-SHA-256-PLUS, SCRAM-SHA-1-PLUS (when channel binding data
 * is available), SCRAM-SHA-256, SCRAM-SHA-1, PLAIN, CRAM-MD5, LOGIN.
 * Without TLS only mechanisms that do not reveal the password
 * (SCRAM-*, CRAM-MD5) are chosen; a forced PLAIN or LOGIN over a
 * connection without TLS needs allow_plaintext_auth.
 */
#ifndef SMTPFWD_SASL_H
#define SMTPFWD_SASL_H

#include <stdbool.h>
#include <stddef.h>
#include "result.h"

struct sasl_session;

struct sasl_creds {
    const char *user;
    const char *password;        /* not owned; may be NULL (external, gssapi) */
    const char *authzid;         /* NULL */
    const char *service;         /* "smtp" */
    const char *hostname;        /* server name, for GSSAPI/DIGEST */
    const char *realm;           /* ntlmdomain, or NULL */
    const unsigned char *cb_data;/* channel binding data or NULL; not owned */
    size_t cb_len;
    const char *cb_type;         /* "tls-exporter" or "tls-unique" */
};

/* Choose the mechanism. configured is the account's `auth` ("on" or a
 * lowercase mechanism name); server_mechs the AUTH capability (space
 * separated, any case, may be NULL). Returns a static uppercase name, or
 * NULL with r set: server offers no AUTH -> RC_UNAVAILABLE; forced
 * mechanism not offered / not supported by GNU SASL -> RC_UNAVAILABLE;
 * plaintext refused -> RC_CONFIG naming allow_plaintext_auth. */
const char *sasl_choose(const char *configured, const char *server_mechs, bool tls,
                        bool have_channel_binding, bool allow_plaintext_auth,
                        struct result *r);

/* True if mech (uppercase) may send an initial response on the AUTH
 * line (PLAIN, EXTERNAL, SCRAM-*, OAUTHBEARER, XOAUTH2, GSSAPI). */
bool sasl_has_initial_response(const char *mech);

/* Start a client session. Returns NULL with r set (RC_SOFTWARE /
 * RC_UNAVAILABLE) on failure. */
struct sasl_session *sasl_start(const char *mech, const struct sasl_creds *creds,
                                struct result *r);

/* One step: in is the server's base64 challenge ("" for the initial
 * response), *out receives the base64 response (caller frees with
 * secret_free). Returns 1 when more steps are needed, 0 when the client
 * side is done, -1 with r set (RC_NOPERM for a server that fails
 * verification in SCRAM or asks for more than SASL_SCRAM_MAX_ITERATIONS,
 * RC_PROTOCOL for malformed challenges). */
int sasl_step(struct sasl_session *s, const char *in, char **out, struct result *r);

/* The most SCRAM iterations (the server-first-message's i=) accepted.
 * RFC 5802 5.1 and RFC 7677 4 ask for at least 4096, which is what
 * Dovecot, Cyrus SASL and PostgreSQL use; 100000 leaves room for servers
 * that raise it (costs about 0.1 s of SHA-256 on a small machine), and
 * stops a server that would make the client hash for minutes. A larger
 * count is refused before GNU SASL sees the challenge (RC_NOPERM). */
#define SASL_SCRAM_MAX_ITERATIONS 100000

/* The iteration count of a SCRAM server-first-message, given as the
 * base64 challenge: 1 and *iterations set (saturated at ULLONG_MAX) when
 * it has an "i=" attribute of digits, 0 when it has none (or not
 * digits), -1 when the challenge is not base64. Exposed for the tests. */
int sasl_scram_iterations(const char *challenge, unsigned long long *iterations);

/* Called when the server answers 235: 0 if that is acceptable, -1 with
 * r set (RC_PROTOCOL) when a mechanism with mutual authentication
 * (SCRAM-*, GSSAPI) has not yet verified the server. */
int sasl_check_success(const struct sasl_session *s, struct result *r);

/* True if mech sends the password (or a bearer token) readably: PLAIN,
 * LOGIN, OAUTHBEARER, XOAUTH2. Such a mechanism needs TLS unless
 * allow_plaintext_auth is set. */
bool sasl_reveals_password(const char *mech);

/* True if AUTH mech with its initial response may lead the first
 * message's pipelined MAIL group: one step carrying everything, no 334
 * possible (PLAIN, EXTERNAL). Any case; unknown or NULL -> false. */
bool sasl_pipelinable(const char *mech);

/* True if mech needs TLS channel binding data (the -PLUS mechanisms).
 * Any case; unknown or NULL -> false. */
bool sasl_needs_channel_binding(const char *mech);

/* True if the account's `auth` value (a mechanism in any case, or "on")
 * may need a password: false only for a mechanism that needs none
 * (EXTERNAL, GSSAPI). */
bool sasl_needs_password(const char *auth);

/* The values `auth` accepts, NULL-terminated and lowercase: "on", "off",
 * then every mechanism in the table's order. Static (built from the
 * table on the first call); never freed. */
const char *const *sasl_auth_values(void);

void sasl_finish(struct sasl_session *s);

#endif
