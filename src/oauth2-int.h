/*
 * oauth2-int.h - private to oauth2*.c: the resolved client settings of
 * an account (presets applied), the HTTPS exchange with an endpoint, and
 * the refresh token store, shared by the token life cycle (oauth2.c,
 * oauth2-http.c, oauth2-store.c) and the authorization flows
 * (oauth2-authorize.c).
 */
#ifndef SMTPFWD_OAUTH2_INT_H
#define SMTPFWD_OAUTH2_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "oauth2.h"
#include "result.h"

struct account;

/* A provider preset (oauth2_provider). NULL members: none (generic). */
struct oauth2_preset {
    const char *name;            /* "gmail", "microsoft", "generic" */
    const char *auth_endpoint;
    const char *token_endpoint;
    const char *device_endpoint; /* NULL: the provider has no device flow for mail */
    const char *scope;
    const char *redirect_host;   /* host of the loopback redirect URI: "127.0.0.1"
                                    or "localhost" (what the provider accepts) */
    bool scope_on_refresh;       /* send scope with grant_type=refresh_token */
};

/* An account's OAuth2 client, every setting resolved (the account's own
 * oauth2_* setting, else the preset's). Strings are owned; client_secret
 * is wiped by oauth2_client_free. */
struct oauth2_client {
    const struct account *a;     /* not owned */
    const struct oauth2_preset *preset;
    char *client_id;
    char *client_secret;         /* NULL: a public client (PKCE only) */
    char *scope;
    char *auth_endpoint;
    char *token_endpoint;
    char *device_endpoint;
    char *trust_file;            /* NULL: the system's CA certificates */
    char *key;                   /* names the stored tokens: "USER@TOKEN-ENDPOINT-HOST",
                                    file-name safe (%XX for anything else) */
};

/* Resolve the account's settings (oauth2_client_secret_eval is run
 * here). need: which endpoint the caller will use ('t' token, 'a'
 * authorization + token, 'd' device + token); a missing one is
 * RC_CONFIG naming the account's FILE:LINE and the setting. Returns 0 or
 * -1 with r set. */
int oauth2_client_init(struct oauth2_client *cl, const struct account *a, char need,
                       struct result *r);
void oauth2_client_free(struct oauth2_client *cl);

/* One form field of a POST (application/x-www-form-urlencoded; values
 * are encoded by oauth2_post). secret: never shown, wiped after use. */
struct oauth2_field {
    const char *name;
    const char *value;
};

/* POST the fields to url (https only; verification on with cl's trust
 * file; timeout_s for the whole exchange, 0 = 30 s) and parse the answer
 * with oauth2_parse_response. -v logs "oauth2: POST URL" and the HTTP
 * status, never a field or the body. Returns 0 with *out filled (also for
 * an error answer: out->error set), or -1 with r set: cannot connect,
 * timeout, HTTP 5xx/429 -> RC_TEMPFAIL; certificate -> RC_NOPERM; other
 * non-JSON answers -> RC_PROTOCOL; libcurl missing -> RC_TEMPFAIL. */
int oauth2_post(const struct oauth2_client *cl, const char *url, const struct oauth2_field *f,
                size_t nf, bool device, int timeout_s, struct oauth2_response *out,
                struct result *r);

/* The result of an answer with out->error set from the token endpoint,
 * as r: invalid_grant -> RC_NOPERM ("... run: smtpfwd --authorize
 * ACCOUNT"); invalid_client, unauthorized_client, invalid_scope ->
 * RC_CONFIG; anything else -> RC_NOPERM, quoting error and
 * error_description (escaped). */
void oauth2_error_result(const struct oauth2_client *cl, const struct oauth2_response *resp,
                         struct result *r);

/* After an authorization: store the refresh token (keyring or file per
 * oauth2_token_store) and cache the access token with its expiry. *where
 * is set to a translated description of where the refresh token went
 * ("the keyring", or the file's path; caller frees). Returns 0 or -1
 * with r set. */
int oauth2_store_tokens(const struct oauth2_client *cl, const struct oauth2_response *resp,
                        char **where, struct result *r);

/* Random bytes from the kernel (getrandom), base64url without padding:
 * for the PKCE verifier and `state`. Caller frees. */
char *oauth2_random_string(size_t nbytes);

/* The PKCE S256 challenge of a verifier: BASE64URL(SHA-256(verifier))
 * without padding (RFC 7636 4.2; SHA-256 through GnuTLS). Caller frees;
 * NULL with r set when GnuTLS cannot be loaded. */
char *oauth2_pkce_challenge(const char *verifier, struct result *r);

/* url with the query parameters appended, percent-encoded (RFC 3986
 * unreserved characters kept). Caller frees. */
char *oauth2_url_with_query(const char *url, const struct oauth2_field *f, size_t nf);

#endif
