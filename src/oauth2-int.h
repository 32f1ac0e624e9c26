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
    bool secret_required;        /* the token endpoint refuses a client without
                                    its client_secret (Google, even with PKCE) */
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
 * RC_CONFIG naming the account's FILE:LINE and the setting; so is a
 * preset whose provider needs the client secret (gmail) without
 * oauth2_client_secret or oauth2_client_secret_eval. Returns 0 or -1
 * with r set. */
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
 * non-JSON answers, or larger than 1 MiB -> RC_PROTOCOL; no CA
 * certificates (none installed, or oauth2_tls_trust_file unreadable) ->
 * RC_CONFIG; libcurl cannot be loaded -> RC_LOCALTEMP (built without:
 * RC_UNAVAILABLE). Messages start with the URL. The request body and
 * the answer are wiped. */
int oauth2_post(const struct oauth2_client *cl, const char *url, const struct oauth2_field *f,
                size_t nf, bool device, int timeout_s, struct oauth2_response *out,
                struct result *r);

/* The result of an answer with out->error set from the token endpoint,
 * as r: invalid_grant -> RC_NOPERM ("... run: smtpfwd --authorize
 * ACCOUNT"); invalid_client, unauthorized_client, invalid_scope ->
 * RC_CONFIG (naming FILE:LINE of the account); temporarily_unavailable,
 * server_error -> RC_TEMPFAIL; anything else -> RC_NOPERM. The message
 * quotes error and error_description (escaped). */
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

/* ---- oauth2.c: JSON (json-c, loaded through json-dl.h) ---- */

struct json_object;

/* Parse len bytes (not NUL-terminated) as one JSON object (nothing but
 * white space after it, at most 32 levels deep). json-c must be loaded
 * (json_dl_load). Returns the object (free with oauth2_json_free) or
 * NULL when the text is not a JSON object. */
struct json_object *oauth2_json_parse(const char *text, size_t len);
/* Wipe every string member of the object (they may be tokens), then
 * free it. NULL is fine. */
void oauth2_json_free(struct json_object *o);
/* Member name of o as a string: 1 with *out set (caller secret_free()s
 * it), 0 when absent or null, -1 when it has another type or holds a NUL
 * byte. */
int oauth2_json_string(struct json_object *o, const char *name, char **out);
/* Member name of o as a non-negative integer (a JSON integer, or a
 * string of decimal digits as some providers send): 1 with *out set, 0
 * when absent or null, -1 otherwise. */
int oauth2_json_uint(struct json_object *o, const char *name, long long *out);
/* Append s to b as a JSON string (quotes, \", \\ and \u00XX for control
 * characters; other bytes as they are). */
struct buf;
void oauth2_json_put_string(struct buf *b, const char *s);

/* The host of an https:// URL, lower case, without user info and port
 * (an IPv6 literal without its brackets). Caller frees; NULL when url is
 * not https:// with a host. */
char *oauth2_url_host(const char *url);
/* The KEY of the token files: USER@HOST with every byte outside
 * [A-Za-z0-9._@+-] written as %XX. Caller frees. */
char *oauth2_key(const char *user, const char *host);

/* ---- oauth2-store.c: the refresh token store, the access token cache ---- */

/* An access token in the cache is used while it is valid for at least
 * this many more seconds; one the provider gives without expires_in is
 * kept this long. */
#define OAUTH2_CACHE_MARGIN 60
#define OAUTH2_DEFAULT_LIFETIME 600

/* Whether a cached token that expires at expires_at (UNIX seconds) may
 * still be used at now. */
bool oauth2_cache_fresh(long long expires_at, long long now);

/* Where a refresh token is kept. */
enum oauth2_store_kind {
    OAUTH2_STORE_PER_SETTING = 0,   /* oauth2_token_store decides (auto, keyring, file) */
    OAUTH2_STORE_KEYRING,
    OAUTH2_STORE_FILE,
};

/* The stored refresh token: the keyring (not with oauth2_token_store
 * file), then the file. Returns it (caller secret_free()s it) with
 * *kind telling where it was, or NULL with r set: none stored ->
 * RC_NOPERM ("... run: smtpfwd --authorize ACCOUNT"); a file that is
 * not a regular file owned by the user with mode 0600, or not the JSON
 * it must be -> RC_CONFIG naming it (and the chmod to run). */
char *oauth2_refresh_token_load(const struct oauth2_client *cl, enum oauth2_store_kind *kind,
                                struct result *r);

/* Store the refresh token rt in kind (OAUTH2_STORE_PER_SETTING: per
 * oauth2_token_store; auto = the keyring when it works, else the file).
 * *where (may be NULL) is set to a translated description ("the
 * keyring" or the file's path; caller frees). Returns 0 or -1 with r
 * set (RC_UNAVAILABLE: keyring store asked for and not working;
 * RC_CANTCREAT / RC_IOERR: the file cannot be written; RC_CONFIG: its
 * directory is not the user's own). */
int oauth2_refresh_token_save(const struct oauth2_client *cl, const char *rt,
                              enum oauth2_store_kind kind, char **where, struct result *r);

/* The cached access token when it is fresh at now (caller secret_free()s
 * it, *expires_at set); NULL with r untouched when there is none or it
 * is stale; NULL with r set (RC_CONFIG) when the file is refused. */
char *oauth2_cache_get(const struct oauth2_client *cl, long long now, long long *expires_at,
                       struct result *r);
/* Write the access token and its expiry to the cache (atomic, 0600).
 * Returns 0 or -1 with r set. */
int oauth2_cache_put(const struct oauth2_client *cl, const char *token, long long expires_at,
                     struct result *r);
/* Take the lock beside the cache (KEY.lock, flock), waiting at most
 * 120 s for another smtpfwd. Returns its descriptor (release with
 * oauth2_cache_unlock) or -1 with r set (RC_TEMPFAIL: still held;
 * RC_CANTCREAT: cannot be created). */
int oauth2_cache_lock(const struct oauth2_client *cl, struct result *r);
void oauth2_cache_unlock(int fd);

#endif
