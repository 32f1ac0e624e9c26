/*
 * oauth2.h - the OAuth2 life cycle of an account whose bearer token
 * (auth oauthbearer / xoauth2) smtpfwd obtains itself: the account sets
 * oauth2_provider (gmail, microsoft: presets of endpoints and scope;
 * generic: everything from the oauth2_* settings).
 *
 *   - once, interactively: oauth2_authorize() (--authorize [ACCOUNT]):
 *     the authorization-code flow with PKCE (RFC 7636) and a loopback
 *     redirect (RFC 8252: a listener on 127.0.0.1, a random port, the
 *     `state` checked), or the device flow (RFC 8628, --device). The
 *     refresh token is stored in the keyring (libsecret) or a 0600 file
 *     under $XDG_DATA_HOME/smtpfwd/oauth2/ (oauth2_token_store);
 *   - every delivery: oauth2_token() gives the access token, from a 0600
 *     cache under $XDG_CACHE_HOME/smtpfwd/oauth2/ while it is valid, else
 *     fetched with the refresh token (and cached with its expiry);
 *   - when the server refuses a token that came from the cache, the
 *     caller asks once more with refresh set, in the same SMTP session.
 *
 * HTTPS goes through libcurl (GnuTLS flavour, certificate verification
 * always on) and JSON through json-c, both loaded at run time only when
 * a token must be fetched or read (curl-dl.h, json-dl.h). Nothing here
 * runs for an account without oauth2_provider. The files: oauth2.c (the
 * life cycle), oauth2-http.c (libcurl), oauth2-json.c (json-c),
 * oauth2-store.c (token files, keyring, cache, lock),
 * oauth2-authorize.c (the authorization flows).
 *
 * Errors (class of r): no refresh token stored, or the provider refused
 * it (invalid_grant: revoked or expired) -> RC_NOPERM, with a message
 * that says to run `smtpfwd --authorize ACCOUNT`; the endpoint cannot be
 * reached, times out, or answers 5xx/429 -> RC_TEMPFAIL (worth a retry:
 * the message is spooled); the endpoint's certificate fails verification
 * -> RC_NOPERM; missing or contradictory settings (no client id, a
 * generic provider without a token endpoint, an endpoint that is not
 * https://, auth not oauthbearer/xoauth2) -> RC_CONFIG naming FILE:LINE
 * of the account; invalid_client / unauthorized_client -> RC_CONFIG;
 * an answer that is not the JSON it must be -> RC_PROTOCOL; libcurl or
 * json-c cannot be loaded -> RC_LOCALTEMP (exit 75 and worth a retry,
 * like GnuTLS missing: the system must be repaired; built without them:
 * RC_UNAVAILABLE).
 *
 * Must not: log or print a token, a code, a code verifier or a client
 * secret (-v shows the endpoint and the outcome only); keep one in memory
 * longer than needed (wiped with secret_free); read or write a token file
 * that is not a regular file owned by the user with mode 0600.
 */
#ifndef SMTPFWD_OAUTH2_H
#define SMTPFWD_OAUTH2_H

#include <stdbool.h>
#include <stddef.h>

#include "result.h"

struct account;

/* The account gets its token from smtpfwd's OAuth2 (oauth2_provider set). */
bool oauth2_enabled(const struct account *a);

/* The access token for a delivery. refresh false: the cached token when
 * it is valid for at least another minute (*from_cache true), else a new
 * one from the token endpoint with the stored refresh token (*from_cache
 * false). refresh true: never the cache (the server refused the cached
 * one). A new token is written to the cache; a new refresh token sent
 * with it (rotation) replaces the stored one. Concurrent runs refresh one
 * at a time (a lock beside the cache; the second reads the first's token).
 * Returns the token (caller secret_free()s it) or NULL with r set (see
 * the classes above). from_cache may be NULL. */
char *oauth2_token(const struct account *a, bool refresh, bool *from_cache, struct result *r);

/* --authorize: run the authorization flow for the account (device: the
 * device flow instead of the loopback redirect) and store the refresh
 * token; the instructions (the URL to open, or the URL and the user
 * code) go to standard output, and the outcome ("authorized; refresh
 * token stored in the keyring / in FILE"). Waits at most timeout_s
 * seconds for the user (0: 300). Returns 0 or -1 with r set: the user or
 * the provider denied access -> RC_NOPERM; no answer in time ->
 * RC_TEMPFAIL; otherwise as oauth2_token(). */
int oauth2_authorize(const struct account *a, bool device, int timeout_s, struct result *r);

/* ---- Pure pieces, for the unit tests and the fuzz targets ---- */

/* What a token endpoint (or the device endpoint) answered. Every string
 * is owned and wiped by oauth2_response_free(). */
struct oauth2_response {
    char *access_token;
    char *refresh_token;
    long long expires_in;        /* seconds; -1 = not given */
    char *error;                 /* "invalid_grant", "authorization_pending", ... */
    char *error_description;
    /* device endpoint (RFC 8628 3.2) */
    char *device_code;
    char *user_code;
    char *verification_uri;      /* verification_uri, or Google's verification_url */
    char *verification_uri_complete;
    long long interval;          /* seconds; -1 = not given */
};

/* Parse a token or device endpoint answer (HTTP status and JSON body of
 * len bytes, not NUL-terminated). Returns 0 with *out filled (an error
 * answer, with out->error set, is still 0), or -1 with r set
 * (RC_PROTOCOL: not a JSON object, a member of the wrong type, a 2xx
 * without access_token / device_code). */
int oauth2_parse_response(long http_status, const char *body, size_t len, bool device,
                          struct oauth2_response *out, struct result *r);
void oauth2_response_free(struct oauth2_response *resp);

/* What the browser brought to the loopback listener: the request line
 * and header of one HTTP request. */
struct oauth2_redirect {
    char *code;                  /* secret: wiped by oauth2_redirect_free */
    char *state;
    char *error;                 /* "access_denied", ... */
    char *error_description;
};

/* Parse "GET /PATH?QUERY HTTP/1.x" (the first line of req, len bytes,
 * ending at the first LF or at len; the rest of the request is ignored)
 * into its code, state, error and error_description query parameters
 * (percent-decoded, '+' a space; other parameters are ignored). The
 * redirect URI's path is "/": only there is a code or an error looked
 * for, and an empty code or error counts as none. Returns 1 when it is a
 * redirect (code or error present; state may be missing: the caller
 * checks it), 0 when it is another request (a browser asking for
 * /favicon.ico; out empty), -1 (out empty) when it is not a GET request
 * line in origin form (a control byte or a second space in it, another
 * method, no HTTP/1.x) or its query is broken (one of the four
 * parameters given twice, a bad %XX, %00). out's strings are freed (the
 * code wiped) by oauth2_redirect_free; out is always initialized. */
int oauth2_parse_redirect(const char *req, size_t len, struct oauth2_redirect *out);
void oauth2_redirect_free(struct oauth2_redirect *rd);

/* The status member of the JSON error report a server sends in its 334
 * challenge to OAUTHBEARER (RFC 7628 3.2.2: "invalid_token", ...) or
 * XOAUTH2 (Google: "400", "401"), from the base64 challenge text.
 * Returns it (caller frees) or NULL when the challenge is not such a
 * report. */
char *oauth2_challenge_status(const char *b64);

#endif
