/*
 * oauth2.c - the OAuth2 life cycle of an account (see oauth2.h): the
 * provider presets, resolving an account's client settings, the access
 * token for a delivery (the cache, else a refresh under the lock, with
 * rotation of the refresh token), the results of the token endpoint's
 * errors, and the small pure pieces the flows share (random strings,
 * the PKCE challenge, URLs with a query, the JSON helpers, the parsers
 * of an endpoint's answer and of a server's 334 error report).
 *
 * Owns: the presets' endpoints and scopes, the rules for an account's
 * oauth2_* settings, the refresh grant, the JSON reading of everything
 * OAuth2 (through json-dl.h).
 *
 * Must not: talk HTTP (oauth2-http.c) or touch a token file or the
 * keyring (oauth2-store.c); log or keep a token, a client secret or a
 * code longer than needed (wiped with secret_free / secure_wipe).
 */
#include <config.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "i18n.h"
#include "log.h"
#include "oauth2.h"
#include "oauth2-int.h"
#include "result.h"
#include "secret.h"
#include "smtprc.h"
#include "util.h"
#if SMTPFWD_OAUTH2
# include "json-dl.h"
#endif
#include "gnutls-dl.h"

/* ------------------------------------------------------------------ */
/* presets                                                             */

static const struct oauth2_preset presets[] = {
    {
        .name = "gmail",
        .auth_endpoint = "https://accounts.google.com/o/oauth2/v2/auth",
        .token_endpoint = "https://oauth2.googleapis.com/token",
        .device_endpoint = NULL,   /* Google has no device flow for the mail scope */
        .scope = "https://mail.google.com/",
        .redirect_host = "127.0.0.1",
        .scope_on_refresh = false,
        .secret_required = true,   /* Google's desktop clients have one, and must send it */
    },
    {
        .name = "microsoft",
        .auth_endpoint = "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
        .token_endpoint = "https://login.microsoftonline.com/common/oauth2/v2.0/token",
        .device_endpoint = "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode",
        .scope = "https://outlook.office.com/SMTP.Send offline_access",
        .redirect_host = "localhost",   /* the portal registers http://localhost */
        .scope_on_refresh = true,
    },
    {
        .name = "generic",
        .redirect_host = "127.0.0.1",
    },
};

static const struct oauth2_preset *preset_by_name(const char *name)
{
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (name && strcmp(presets[i].name, name) == 0)
            return &presets[i];
    return NULL;
}

bool oauth2_enabled(const struct account *a)
{
    return a && a->oauth2_provider != NULL;
}

/* ------------------------------------------------------------------ */
/* URLs and keys                                                       */

char *oauth2_url_host(const char *url)
{
    return util_https_url_host(url);
}

char *oauth2_key(const char *user, const char *host)
{
    struct buf b = BUF_INIT;
    char *raw = xasprintf("%s@%s", user, host);
    for (const unsigned char *p = (const unsigned char *)raw; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            strchr("._@+-", *p))
            buf_putc(&b, (char)*p);
        else
            buf_printf(&b, "%%%02X", *p);
    }
    free(raw);
    return buf_steal(&b);
}

/* RFC 3986 unreserved characters stay, every other byte is %XX. */
static void put_query_value(struct buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p))
            buf_putc(b, (char)*p);
        else
            buf_printf(b, "%%%02X", *p);
    }
}

char *oauth2_url_with_query(const char *url, const struct oauth2_field *f, size_t nf)
{
    struct buf b = BUF_INIT;
    buf_puts(&b, url);
    char sep = strchr(url, '?') ? '&' : '?';
    for (size_t i = 0; i < nf; i++) {
        if (!f[i].value)
            continue;
        buf_putc(&b, sep);
        sep = '&';
        put_query_value(&b, f[i].name);
        buf_putc(&b, '=');
        put_query_value(&b, f[i].value);
    }
    return buf_steal(&b);
}

/* ------------------------------------------------------------------ */
/* random strings and PKCE                                             */

/* base64url without padding (RFC 4648 section 5) of n bytes. */
static char *base64url(const void *data, size_t n)
{
    char *s = base64_encode(data, n);
    char *o = s;
    for (char *p = s; *p && *p != '='; p++)
        *o++ = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    *o = '\0';
    return s;
}

char *oauth2_random_string(size_t nbytes)
{
    unsigned char *raw = xmalloc(nbytes ? nbytes : 1);
    random_bytes(raw, nbytes);
    char *s = base64url(raw, nbytes);
    secure_wipe(raw, nbytes);
    free(raw);
    return s;
}

char *oauth2_pkce_challenge(const char *verifier, struct result *r)
{
    if (gnutls_dl_load(r) != 0)
        return NULL;
    unsigned char digest[32];
    if (gnutls_hash_fast(GNUTLS_DIG_SHA256, verifier, strlen(verifier), digest) < 0) {
        result_set(r, RC_SOFTWARE, _("cannot compute the SHA-256 digest of the PKCE verifier"));
        return NULL;
    }
    return base64url(digest, sizeof digest);
}

/* ------------------------------------------------------------------ */
/* the client                                                          */

/* "FILE:LINE: account NAME" for messages about the account's settings. */
#define ACCT_FMT "%s:%d: account %s"
#define ACCT_ARGS(a) (a)->file ? (a)->file : "-", (a)->line, (a)->name ? (a)->name : "?"

void oauth2_client_free(struct oauth2_client *cl)
{
    free(cl->client_id);
    secret_free(cl->client_secret);
    free(cl->scope);
    free(cl->auth_endpoint);
    free(cl->token_endpoint);
    free(cl->device_endpoint);
    free(cl->trust_file);
    free(cl->key);
    memset(cl, 0, sizeof *cl);
}

/* An endpoint: the account's setting, else the preset's; must be https://
 * with a host. *out NULL when neither has one. */
static int resolve_endpoint(const struct account *a, const char *setting, const char *own,
                            const char *preset, char **out, struct result *r)
{
    const char *url = own ? own : preset;
    *out = NULL;
    if (!url)
        return 0;
    char *host = oauth2_url_host(url);
    if (!host) {
        result_set(r, RC_CONFIG,
                   _(ACCT_FMT ": %s must be an https:// URL with a host name (it is \"%s\")"),
                   ACCT_ARGS(a), setting, url);
        return -1;
    }
    free(host);
    *out = xstrdup(url);
    return 0;
}

/* Everything of oauth2_client_init but the client secret (which may run
 * a command: only when an endpoint is about to be asked). */
static int client_resolve(struct oauth2_client *cl, const struct account *a, char need,
                          struct result *r)
{
    memset(cl, 0, sizeof *cl);
    cl->a = a;
    cl->preset = preset_by_name(a->oauth2_provider);
    if (!cl->preset) {
        result_set(r, RC_CONFIG, _(ACCT_FMT ": oauth2_provider must be gmail, microsoft or "
                                   "generic"), ACCT_ARGS(a));
        return -1;
    }
    if (!a->auth || (strcmp(a->auth, "oauthbearer") != 0 && strcmp(a->auth, "xoauth2") != 0)) {
        result_set(r, RC_CONFIG, _(ACCT_FMT ": oauth2_provider needs \"auth oauthbearer\" or "
                                   "\"auth xoauth2\" (auth is %s)"),
                   ACCT_ARGS(a), a->auth ? a->auth : "off");
        return -1;
    }
    if (!a->user || !*a->user) {
        result_set(r, RC_CONFIG, _(ACCT_FMT ": oauth2_provider needs \"user\" (the mail "
                                   "address the token is for)"), ACCT_ARGS(a));
        return -1;
    }
    if (!a->oauth2_client_id || !*a->oauth2_client_id) {
        result_set(r, RC_CONFIG, _(ACCT_FMT ": oauth2_provider needs \"oauth2_client_id\" (the "
                                   "id of the application you registered with the provider)"),
                   ACCT_ARGS(a));
        return -1;
    }
    const struct oauth2_preset *p = cl->preset;
    if (p->secret_required && !a->oauth2_client_secret && !a->oauth2_client_secret_eval) {
        result_set(r, RC_CONFIG, _(ACCT_FMT ": oauth2_provider %s needs \"oauth2_client_secret\" "
                                   "(or \"oauth2_client_secret_eval\"): the provider shows it "
                                   "with the client id"), ACCT_ARGS(a), p->name);
        return -1;
    }
    if (resolve_endpoint(a, "oauth2_token_endpoint", a->oauth2_token_endpoint,
                         p->token_endpoint, &cl->token_endpoint, r) != 0 ||
        resolve_endpoint(a, "oauth2_auth_endpoint", a->oauth2_auth_endpoint, p->auth_endpoint,
                         &cl->auth_endpoint, r) != 0 ||
        resolve_endpoint(a, "oauth2_device_endpoint", a->oauth2_device_endpoint,
                         p->device_endpoint, &cl->device_endpoint, r) != 0)
        return -1;
    const char *missing = !cl->token_endpoint ? "oauth2_token_endpoint"
                        : need == 'a' && !cl->auth_endpoint ? "oauth2_auth_endpoint"
                        : need == 'd' && !cl->device_endpoint ? "oauth2_device_endpoint" : NULL;
    if (missing && need == 'd' && strcmp(p->name, "generic") != 0) {
        result_set(r, RC_CONFIG, _(ACCT_FMT ": the %s provider has no device flow for mail; "
                                   "run --authorize without --device"), ACCT_ARGS(a), p->name);
        return -1;
    }
    if (missing) {
        result_set(r, RC_CONFIG, _(ACCT_FMT ": oauth2_provider %s needs \"%s\""), ACCT_ARGS(a),
                   p->name, missing);
        return -1;
    }
    cl->client_id = xstrdup(a->oauth2_client_id);
    const char *scope = a->oauth2_scope ? a->oauth2_scope : p->scope;
    cl->scope = scope ? xstrdup(scope) : NULL;
    if (a->oauth2_tls_trust_file && strcmp(a->oauth2_tls_trust_file, "system") != 0)
        cl->trust_file = xstrdup(a->oauth2_tls_trust_file);
    char *host = oauth2_url_host(cl->token_endpoint);
    cl->key = oauth2_key(a->user, host);
    free(host);
    return 0;
}

/* The client secret: oauth2_client_secret, else the output of
 * oauth2_client_secret_eval, else none (a public client). */
static int client_secret(struct oauth2_client *cl, struct result *r)
{
    const struct account *a = cl->a;
    if (cl->client_secret || (!a->oauth2_client_secret && !a->oauth2_client_secret_eval))
        return 0;
    if (a->oauth2_client_secret) {
        cl->client_secret = xstrdup(a->oauth2_client_secret);
        return 0;
    }
    struct result er = RESULT_INIT;
    cl->client_secret = secret_passwordeval(a->oauth2_client_secret_eval, &er);
    if (!cl->client_secret) {
        result_set(r, er.cls, _(ACCT_FMT ": oauth2_client_secret_eval: %s"), ACCT_ARGS(a),
                   er.msg);
        result_clear(&er);
        return -1;
    }
    return 0;
}

int oauth2_client_init(struct oauth2_client *cl, const struct account *a, char need,
                       struct result *r)
{
    if (client_resolve(cl, a, need, r) != 0 || client_secret(cl, r) != 0) {
        oauth2_client_free(cl);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* the token endpoint's errors                                         */

/* s escaped for a message (an endpoint's words are untrusted). */
static void put_quoted(struct buf *b, const char *s)
{
    buf_put_escaped(b, s, strnlen(s, 512), ESCAPE_NAMED);
}

void oauth2_error_result(const struct oauth2_client *cl, const struct oauth2_response *resp,
                         struct result *r)
{
    const struct account *a = cl->a;
    struct buf what = BUF_INIT;
    put_quoted(&what, resp->error ? resp->error : "?");
    if (resp->error_description) {
        buf_puts(&what, ": ");
        put_quoted(&what, resp->error_description);
    }
    const char *e = resp->error ? resp->error : "";
    if (strcmp(e, "invalid_grant") == 0) {
        result_set(r, RC_NOPERM,
                   _("the OAuth2 provider refused the refresh token of account %s (%s): it was "
                     "revoked or has expired; run: smtpfwd --authorize %s"),
                   a->name, what.data, a->name);
    } else if (strcmp(e, "invalid_client") == 0 || strcmp(e, "unauthorized_client") == 0) {
        result_set(r, RC_CONFIG,
                   _(ACCT_FMT ": the OAuth2 provider refused the client (%s); check "
                     "oauth2_client_id and oauth2_client_secret"), ACCT_ARGS(a), what.data);
    } else if (strcmp(e, "temporarily_unavailable") == 0 || strcmp(e, "server_error") == 0) {
        result_set(r, RC_TEMPFAIL, _("the OAuth2 provider cannot answer account %s now (%s); "
                                     "try again later"), a->name, what.data);
    } else if (strcmp(e, "invalid_scope") == 0) {
        result_set(r, RC_CONFIG, _(ACCT_FMT ": the OAuth2 provider refused the scope (%s); "
                                   "check oauth2_scope"), ACCT_ARGS(a), what.data);
    } else {
        result_set(r, RC_NOPERM, _("the OAuth2 provider refused the request of account %s (%s)"),
                   a->name, what.data);
    }
    buf_free(&what);
}

/* ------------------------------------------------------------------ */
/* the access token                                                    */

#if SMTPFWD_OAUTH2

/* A new access token with the stored refresh token; a new refresh token
 * in the answer replaces the stored one. Caller holds the lock. */
static char *refresh_grant(struct oauth2_client *cl, struct result *r)
{
    const struct account *a = cl->a;
    enum oauth2_store_kind kind;
    char *rt = oauth2_refresh_token_load(cl, &kind, r);
    if (!rt || client_secret(cl, r) != 0) {
        secret_free(rt);
        return NULL;
    }
    struct oauth2_field f[5] = {
        { "grant_type", "refresh_token" },
        { "refresh_token", rt },
        { "client_id", cl->client_id },
    };
    size_t nf = 3;
    if (cl->client_secret)
        f[nf++] = (struct oauth2_field){ "client_secret", cl->client_secret };
    if (cl->scope && cl->preset->scope_on_refresh)
        f[nf++] = (struct oauth2_field){ "scope", cl->scope };
    log_debug(1, _("oauth2: refreshing the access token of account %s"), a->name);
    long long now = (long long)time(NULL);
    struct oauth2_response resp;
    char *token = NULL;
    if (oauth2_post(cl, cl->token_endpoint, f, nf, false, 0, &resp, r) != 0) {
        secret_free(rt);
        return NULL;
    }
    if (resp.error) {
        oauth2_error_result(cl, &resp, r);
    } else {
        if (resp.refresh_token && strcmp(resp.refresh_token, rt) != 0) {
            struct result sr = RESULT_INIT;
            if (oauth2_refresh_token_save(cl, resp.refresh_token, kind, NULL, &sr) != 0)
                log_warning(_("cannot keep the new refresh token of account %s (%s); the next "
                              "refresh may need: smtpfwd --authorize %s"), a->name, sr.msg,
                            a->name);
            else
                log_debug(1, _("oauth2: stored the new refresh token of account %s"), a->name);
            result_clear(&sr);
        }
        long long life = resp.expires_in >= 0 ? resp.expires_in : OAUTH2_DEFAULT_LIFETIME;
        struct result cr = RESULT_INIT;
        if (oauth2_cache_put(cl, resp.access_token, now + life, &cr) != 0)
            log_warning("%s", cr.msg);
        result_clear(&cr);
        token = xstrdup(resp.access_token);
    }
    oauth2_response_free(&resp);
    secret_free(rt);
    return token;
}

/* The cached token when fresh (r set only when the file is refused). */
static char *from_cache(const struct oauth2_client *cl, struct result *r)
{
    long long now = (long long)time(NULL), exp = 0;
    char *tok = oauth2_cache_get(cl, now, &exp, r);
    if (tok)
        log_debug(1, _("oauth2: access token of account %s from the cache (valid for %lld more "
                       "seconds)"), cl->a->name, exp - now);
    return tok;
}

/* The token when refresh is false and the cache has a fresh one, else
 * a new one; *cached says which. */
static char *cache_or_refresh(struct oauth2_client *cl, bool refresh, bool *cached,
                              struct result *r)
{
    char *tok = NULL;
    if (!refresh && ((tok = from_cache(cl, r)) != NULL || r->cls != RC_OK)) {
        *cached = tok != NULL;
        return tok;
    }
    int lock = oauth2_cache_lock(cl, r);
    if (lock < 0)
        return NULL;
    /* Another run may have refreshed while this one waited. */
    if (!refresh && ((tok = from_cache(cl, r)) != NULL || r->cls != RC_OK))
        *cached = tok != NULL;
    else
        tok = refresh_grant(cl, r);
    oauth2_cache_unlock(lock);
    return tok;
}

char *oauth2_token(const struct account *a, bool refresh, bool *cached, struct result *r)
{
    bool from = false;
    struct oauth2_client cl;
    char *tok = NULL;
    if (client_resolve(&cl, a, 't', r) == 0 && json_dl_load(r) == 0)
        tok = cache_or_refresh(&cl, refresh, &from, r);
    oauth2_client_free(&cl);
    if (cached)
        *cached = from;
    return tok;
}

int oauth2_store_tokens(const struct oauth2_client *cl, const struct oauth2_response *resp,
                        char **where, struct result *r)
{
    if (where)
        *where = NULL;
    if (!resp->refresh_token) {
        result_set(r, RC_PROTOCOL,
                   _("the OAuth2 provider sent no refresh token for account %s; check that the "
                     "scope asks for one (Microsoft: offline_access) and authorize again"),
                   cl->a->name);
        return -1;
    }
    long long now = (long long)time(NULL);
    int lock = oauth2_cache_lock(cl, r);
    if (lock < 0)
        return -1;
    int rc = oauth2_refresh_token_save(cl, resp->refresh_token, OAUTH2_STORE_PER_SETTING, where,
                                       r);
    if (rc == 0 && resp->access_token) {
        long long life = resp->expires_in >= 0 ? resp->expires_in : OAUTH2_DEFAULT_LIFETIME;
        struct result cr = RESULT_INIT;
        if (oauth2_cache_put(cl, resp->access_token, now + life, &cr) != 0)
            log_warning("%s", cr.msg);
        result_clear(&cr);
    }
    oauth2_cache_unlock(lock);
    return rc;
}

#else /* !SMTPFWD_OAUTH2 */

static void built_without(const struct account *a, struct result *r)
{
    result_set(r, RC_UNAVAILABLE,
               _(ACCT_FMT ": oauth2_provider is set, but this smtpfwd was built without OAuth2 "
                 "support (libcurl and json-c)"), ACCT_ARGS(a));
}

char *oauth2_token(const struct account *a, bool refresh, bool *cached, struct result *r)
{
    (void)refresh;
    if (cached)
        *cached = false;
    built_without(a, r);
    return NULL;
}

int oauth2_store_tokens(const struct oauth2_client *cl, const struct oauth2_response *resp,
                        char **where, struct result *r)
{
    (void)resp;
    if (where)
        *where = NULL;
    built_without(cl->a, r);
    return -1;
}

#endif
