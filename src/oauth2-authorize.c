/*
 * oauth2-authorize.c - `smtpfwd --authorize [ACCOUNT]`: the one
 * interactive step of the OAuth2 life cycle (oauth2.h), which ends with
 * the account's refresh token stored.
 *
 * Owns: the authorization-code flow with PKCE S256 (RFC 7636) and a
 * loopback redirect (RFC 8252 7.3: a listener on 127.0.0.1, and ::1 when
 * the provider's redirect host is "localhost", on a random port; the
 * redirect URI is http://HOST:PORT/; a request with a wrong or missing
 * `state` gets a 400 page and the wait goes on); the parsing of what the
 * browser brings (oauth2_parse_redirect, pure); the small HTTP answers;
 * the device flow (RFC 8628: the device endpoint, the instructions, the
 * polling of the token endpoint at the provider's interval, slow_down,
 * authorization_pending, access_denied, expired_token); the instructions
 * on standard output; the one deadline (--authorize-timeout).
 *
 * Must not: touch a socket itself (conn.h does), speak HTTPS or JSON
 * (oauth2_post), store a token (oauth2_store_tokens), or show a code, a
 * code verifier, a token or a client secret anywhere: of what providers
 * and browsers send only the error texts and the device flow's
 * instructions (where to go, the user code) are shown, and escaped.
 */
#include <config.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "conn.h"
#include "i18n.h"
#include "log.h"
#include "oauth2-int.h"
#include "smtprc.h"
#if SMTPFWD_OAUTH2
# include "curl-dl.h"
# include "json-dl.h"
#endif

#define AUTHORIZE_TIMEOUT_S 300
#define AUTHORIZE_TIMEOUT_MAX_S (24 * 60 * 60)
#define DEVICE_INTERVAL_S 5      /* RFC 8628 3.2: when the provider names none */
#define SLOW_DOWN_S 5            /* RFC 8628 3.5 */
#define REQUEST_HEAD_MAX (64 * 1024)
#define REPLY_TIMEOUT_MS (5 * 1000)

/* ---- oauth2_parse_redirect (pure) ---- */

/* Percent-decode s[0..n) as a query component ('+' is a space, as HTML
 * forms and providers write it). NULL when the encoding is broken or
 * decodes to a NUL byte. */
static char *query_decode(const char *s, size_t n)
{
    char *out = xmalloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            out[k++] = ' ';
        } else if (s[i] != '%') {
            out[k++] = s[i];
        } else {
            int hi = i + 2 < n ? hex_digit_value(s[i + 1]) : -1;
            int lo = i + 2 < n ? hex_digit_value(s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                secure_wipe(out, k);
                free(out);
                return NULL;
            }
            out[k++] = (char)(hi * 16 + lo);
            i += 2;
        }
    }
    out[k] = '\0';
    return out;
}

/* The slot of a parameter oauth2_redirect keeps, or NULL. */
static char **redirect_slot(struct oauth2_redirect *rd, const char *name)
{
    if (strcmp(name, "code") == 0)
        return &rd->code;
    if (strcmp(name, "state") == 0)
        return &rd->state;
    if (strcmp(name, "error") == 0)
        return &rd->error;
    if (strcmp(name, "error_description") == 0)
        return &rd->error_description;
    return NULL;
}

/* Parse the query q[0..n) into rd. Returns 0, or -1 when it is broken or
 * names one of rd's parameters twice. */
static int redirect_query(const char *q, size_t n, struct oauth2_redirect *rd)
{
    size_t i = 0;
    while (i <= n) {
        const char *amp = memchr(q + i, '&', n - i);
        size_t end = amp ? (size_t)(amp - q) : n;
        const char *eq = memchr(q + i, '=', end - i);
        size_t name_end = eq ? (size_t)(eq - q) : end;
        if (end > i) {
            char *name = query_decode(q + i, name_end - i);
            if (!name)
                return -1;
            char **slot = redirect_slot(rd, name);
            free(name);
            if (slot) {
                char *value = eq ? query_decode(eq + 1, end - name_end - 1) : xstrdup("");
                if (!value || *slot) {
                    secret_free(value);
                    return -1;
                }
                *slot = value;
            }
        }
        i = end + 1;
    }
    return 0;
}

int oauth2_parse_redirect(const char *req, size_t len, struct oauth2_redirect *out)
{
    memset(out, 0, sizeof *out);
    const char *nl = memchr(req, '\n', len);
    size_t n = nl ? (size_t)(nl - req) : len;
    if (n > 0 && req[n - 1] == '\r')
        n--;
    /* "GET SP origin-form SP HTTP/1.x": no control byte, no other space */
    static const char version[] = " HTTP/1.";
    size_t vlen = sizeof version - 1;
    if (n < 4 + 1 + vlen + 1 || memcmp(req, "GET /", 5) != 0
        || memcmp(req + n - vlen - 1, version, vlen) != 0
        || req[n - 1] < '0' || req[n - 1] > '9')
        return -1;
    const char *target = req + 4;
    size_t tlen = n - 4 - vlen - 1;
    for (size_t i = 0; i < tlen; i++) {
        unsigned char c = (unsigned char)target[i];
        if (c <= ' ' || c == 0x7f)
            return -1;
    }
    /* The redirect URI's path is "/": any other path is something else
     * the browser asks for (/favicon.ico). */
    const char *q = memchr(target, '?', tlen);
    size_t plen = q ? (size_t)(q - target) : tlen;
    if (plen != 1 || !q)
        return 0;
    if (redirect_query(q + 1, tlen - plen - 1, out) != 0) {
        oauth2_redirect_free(out);
        return -1;
    }
    /* An empty code or error counts as none. */
    if (out->code && !out->code[0]) {
        secret_free(out->code);
        out->code = NULL;
    }
    if (out->error && !out->error[0]) {
        free(out->error);
        out->error = NULL;
    }
    if (!out->code && !out->error) {
        oauth2_redirect_free(out);
        return 0;
    }
    return 1;
}

void oauth2_redirect_free(struct oauth2_redirect *rd)
{
    secret_free(rd->code);
    free(rd->state);
    free(rd->error);
    free(rd->error_description);
    memset(rd, 0, sizeof *rd);
}

/* ---- what is shown ---- */

/* s as text safe for a terminal or a message: control bytes as \xNN.
 * Caller frees. */
static char *shown(const char *s)
{
    struct buf b = BUF_INIT;
    buf_put_escaped(&b, s, strlen(s), 0);
    return buf_steal(&b);
}

/* Append the field name=value to f[*n] unless value is NULL (a setting
 * the account does not have: no scope, a public client's secret). */
static void field_add(struct oauth2_field *f, size_t *n, const char *name, const char *value)
{
    if (value)
        f[(*n)++] = (struct oauth2_field){ name, value };
}

/* The provider's own extra parameters of the authorization request. */
static size_t provider_extras(const struct oauth2_client *cl, struct oauth2_field *f)
{
    const char *name = cl->preset ? cl->preset->name : "";
    size_t n = 0;
    if (strcmp(name, "gmail") == 0) {
        /* Google gives a refresh token only with offline access, and
         * again on a later authorization only after the consent screen. */
        f[n++] = (struct oauth2_field){ "access_type", "offline" };
        f[n++] = (struct oauth2_field){ "prompt", "consent" };
    }
    if (strcmp(name, "gmail") == 0 || strcmp(name, "microsoft") == 0)
        field_add(f, &n, "login_hint", cl->a->user);
    return n;
}

/* RC_NOPERM for an error the provider reported (error_description
 * may be NULL), escaped. */
static void denied(const char *error, const char *description, struct result *r)
{
    char *e = shown(error);
    char *d = description ? shown(description) : NULL;
    if (d)
        result_set(r, RC_NOPERM, _("the authorization was refused: %s (%s)"), e, d);
    else
        result_set(r, RC_NOPERM, _("the authorization was refused: %s"), e);
    free(e);
    free(d);
}

static void timed_out(const struct oauth2_client *cl, int timeout_s, bool device,
                      struct result *r)
{
    char *t = clock_describe_ms(timeout_s * 1000);
    result_set(r, RC_TEMPFAIL,
               device ? _("no authorization within %s; run smtpfwd --authorize --device %s "
                          "again (--authorize-timeout=SECONDS waits longer)")
                      : _("no answer from the browser within %s; run smtpfwd --authorize %s "
                          "again (--authorize-timeout=SECONDS waits longer)"),
               t, cl->a->name);
    free(t);
}

/* Store what the token endpoint answered and say where it went. */
static int store(const struct oauth2_client *cl, const struct oauth2_response *resp,
                 struct result *r)
{
    char *where = NULL;
    if (oauth2_store_tokens(cl, resp, &where, r) != 0)
        return -1;
    printf(_("Authorized: the refresh token of account %s is stored in %s.\n"), cl->a->name,
           where);
    free(where);
    fflush(stdout);
    return 0;
}

/* ---- the loopback redirect ---- */

/* Answer the browser with a small plain-text page and close. */
static void http_reply(struct conn *c, const char *status, const char *text)
{
    struct result r = RESULT_INIT;
    char *msg = xasprintf("HTTP/1.1 %s\r\n"
                          "Content-Type: text/plain; charset=utf-8\r\n"
                          "Content-Length: %zu\r\n"
                          "Cache-Control: no-store\r\n"
                          "Referrer-Policy: no-referrer\r\n"
                          "Connection: close\r\n"
                          "\r\n"
                          "%s\n",
                          status, strlen(text) + 1, text);
    if (conn_write(c, msg, strlen(msg), REPLY_TIMEOUT_MS, &r) != 0
        || conn_flush(c, REPLY_TIMEOUT_MS, &r) != 0)
        log_debug(1, "%s", r.msg);
    result_clear(&r);
    free(msg);
    conn_close(c);
}

/* Trade the code for tokens (RFC 6749 4.1.3, RFC 7636 4.5). */
static int exchange_code(const struct oauth2_client *cl, const char *code,
                         const char *redirect_uri, const char *verifier, struct result *r)
{
    struct oauth2_field f[6] = {
        { "grant_type", "authorization_code" },
        { "code", code },
        { "redirect_uri", redirect_uri },
        { "client_id", cl->client_id },
        { "code_verifier", verifier },
    };
    size_t nf = 5;
    field_add(f, &nf, "client_secret", cl->client_secret);
    struct oauth2_response resp;
    if (oauth2_post(cl, cl->token_endpoint, f, nf, false, 0, &resp, r) != 0)
        return -1;
    int rc = -1;
    if (resp.error)
        oauth2_error_result(cl, &resp, r);
    else
        rc = store(cl, &resp, r);
    oauth2_response_free(&resp);
    return rc;
}

struct browser_flow {
    const struct oauth2_client *cl;
    char *verifier;               /* secret */
    char *state;
    char *redirect_uri;
};

/* One request the browser sent. Returns 1 when the flow is over (r set
 * on failure), 0 to wait for the next request. */
static int browser_request(const struct browser_flow *bf, struct conn *c, const char *head,
                           size_t len, struct result *r)
{
    struct oauth2_redirect rd;
    int kind = oauth2_parse_redirect(head, len, &rd);
    if (kind < 0) {
        log_debug(1, _("oauth2: a local request that is not a redirect: 400"));
        http_reply(c, "400 Bad Request", _("smtpfwd: this is not a request smtpfwd expects."));
        return 0;
    }
    if (kind == 0) {
        log_debug(1, _("oauth2: a local request for another page: 404"));
        http_reply(c, "404 Not Found", _("smtpfwd: not found."));
        return 0;
    }
    if (!rd.state || strcmp(rd.state, bf->state) != 0) {
        log_warning(_("ignored a redirect with a wrong or missing state (not the answer to "
                      "this authorization); still waiting"));
        http_reply(c, "400 Bad Request",
                   _("smtpfwd: this answer does not belong to the authorization smtpfwd is "
                     "waiting for (wrong or missing state). Start again from the address "
                     "smtpfwd printed."));
        oauth2_redirect_free(&rd);
        return 0;
    }
    if (rd.error) {
        denied(rd.error, rd.error_description, r);
        http_reply(c, "403 Forbidden",
                   _("smtpfwd: the authorization was refused; see the terminal."));
    } else {
        log_debug(1, _("oauth2: the browser brought an authorization code"));
        if (exchange_code(bf->cl, rd.code, bf->redirect_uri, bf->verifier, r) == 0)
            http_reply(c, "200 OK", _("smtpfwd: authorized, you may close this window."));
        else
            http_reply(c, "500 Internal Server Error",
                       _("smtpfwd: the authorization failed; see the terminal."));
    }
    oauth2_redirect_free(&rd);
    return 1;
}

static int authorize_browser(const struct oauth2_client *cl, long long deadline, int timeout_s,
                             struct result *r)
{
    const char *host = cl->preset && cl->preset->redirect_host ? cl->preset->redirect_host
                                                               : "127.0.0.1";
    struct browser_flow bf = { .cl = cl };
    struct conn_listener *l = NULL;
    char *challenge = NULL, *url = NULL;
    int rc = -1;

    bf.verifier = oauth2_random_string(32);
    bf.state = oauth2_random_string(16);
    challenge = oauth2_pkce_challenge(bf.verifier, r);
    if (!challenge || conn_listen_loopback(strcmp(host, "localhost") == 0, &l, r) != 0)
        goto out;
    bf.redirect_uri = xasprintf("http://%s:%d/", host, conn_listener_port(l));

    struct oauth2_field f[10] = {
        { "response_type", "code" },
        { "client_id", cl->client_id },
        { "redirect_uri", bf.redirect_uri },
        { "state", bf.state },
        { "code_challenge", challenge },
        { "code_challenge_method", "S256" },
    };
    size_t nf = 6;
    field_add(f, &nf, "scope", cl->scope);
    nf += provider_extras(cl, f + nf);
    url = oauth2_url_with_query(cl->auth_endpoint, f, nf);
    char *wait = clock_describe_ms(timeout_s * 1000);
    printf(_("To authorize smtpfwd to send mail with account %s, open this address\n"
             "in a web browser on this computer and sign in:\n"
             "\n"
             "  %s\n"
             "\n"
             "The browser then comes back to %s, where smtpfwd waits\n"
             "for it (at most %s). Working over ssh? Forward the port first:\n"
             "ssh -L %d:%s:%d HOST\n"),
           cl->a->name, url, bf.redirect_uri, wait, conn_listener_port(l), "127.0.0.1",
           conn_listener_port(l));
    free(wait);
    fflush(stdout);

    for (;;) {
        struct conn *c;
        char *head;
        size_t len;
        int got = conn_listener_next(l, deadline, REQUEST_HEAD_MAX, &c, &head, &len, r);
        if (got < 0)
            break;
        if (got == 0) {
            timed_out(cl, timeout_s, false, r);
            break;
        }
        int done = browser_request(&bf, c, head, len, r);
        secure_wipe(head, len);
        free(head);
        if (done) {
            rc = r->cls == RC_OK ? 0 : -1;
            break;
        }
    }
out:
    conn_listener_close(l);
    secret_free(bf.verifier);
    free(bf.state);
    free(bf.redirect_uri);
    free(challenge);
    free(url);
    return rc;
}

/* ---- the device flow ---- */

/* Sleep until at_ms on the monotonic clock. */
static void sleep_until(long long at_ms)
{
    int ms;
    while ((ms = clock_ms_left(at_ms)) > 0)
        (void)poll(NULL, 0, ms);
}

static void device_instructions(const struct oauth2_client *cl,
                                const struct oauth2_response *dev, int timeout_s)
{
    char *uri = shown(dev->verification_uri ? dev->verification_uri : "");
    char *code = shown(dev->user_code ? dev->user_code : "");
    printf(_("To authorize smtpfwd to send mail with account %s, open\n"
             "\n"
             "  %s\n"
             "\n"
             "in a web browser (on any device), sign in and enter the code\n"
             "\n"
             "  %s\n"
             "\n"),
           cl->a->name, uri, code);
    if (dev->verification_uri_complete) {
        char *complete = shown(dev->verification_uri_complete);
        printf(_("(or open %s, which holds the code)\n\n"), complete);
        free(complete);
    }
    char *wait = clock_describe_ms(timeout_s * 1000);
    printf(_("smtpfwd waits for it at most %s.\n"), wait);
    free(wait);
    fflush(stdout);
    free(uri);
    free(code);
}

/* An error answer during the device flow. Microsoft refuses the device
 * flow of an app registration that does not allow public client flows
 * with invalid_client (AADSTS7000218): say where that is switched on. */
static void device_error(const struct oauth2_client *cl, const struct oauth2_response *resp,
                         struct result *r)
{
    if (cl->preset && strcmp(cl->preset->name, "microsoft") == 0 && resp->error
        && strcmp(resp->error, "invalid_client") == 0 && !cl->client_secret) {
        char *d = shown(resp->error_description ? resp->error_description : "");
        result_set(r, RC_CONFIG,
                   _("%s:%d: account %s: Microsoft refused the client for the device flow "
                     "(invalid_client: %s); in the app registration set Authentication, "
                     "\"Allow public client flows\" to Yes, or authorize in a web browser: "
                     "smtpfwd --authorize %s"),
                   cl->a->file ? cl->a->file : "?", cl->a->line, cl->a->name, d, cl->a->name);
        free(d);
        return;
    }
    oauth2_error_result(cl, resp, r);
}

/* Seconds left before deadline for an exchange with the token endpoint,
 * at least 1 and at most oauth2_post's own default. */
static int post_timeout(long long deadline)
{
    int left = clock_ms_left(deadline) / 1000 + 1;
    return left < 30 ? left : 30;
}

static int authorize_device(const struct oauth2_client *cl, long long deadline, int timeout_s,
                            struct result *r)
{
    struct oauth2_field f[3] = {
        { "client_id", cl->client_id },
    };
    size_t nf = 1;
    field_add(f, &nf, "scope", cl->scope);
    field_add(f, &nf, "client_secret", cl->client_secret);
    struct oauth2_response dev;
    if (oauth2_post(cl, cl->device_endpoint, f, nf, true, post_timeout(deadline), &dev, r) != 0)
        return -1;
    if (dev.error) {
        device_error(cl, &dev, r);
        oauth2_response_free(&dev);
        return -1;
    }
    if (!dev.verification_uri || !dev.user_code) {
        result_set(r, RC_PROTOCOL, _("the device endpoint %s did not say where to enter "
                                     "which code (no verification_uri or user_code)"),
                   cl->device_endpoint);
        oauth2_response_free(&dev);
        return -1;
    }
    device_instructions(cl, &dev, timeout_s);

    /* (an interval past the longest wait only means no poll at all) */
    long long interval = dev.interval > 0 ? dev.interval : DEVICE_INTERVAL_S;
    if (interval > AUTHORIZE_TIMEOUT_MAX_S)
        interval = AUTHORIZE_TIMEOUT_MAX_S;
    struct oauth2_field poll_f[4] = {
        { "grant_type", "urn:ietf:params:oauth:grant-type:device_code" },
        { "device_code", dev.device_code },
        { "client_id", cl->client_id },
    };
    size_t npf = 3;
    field_add(poll_f, &npf, "client_secret", cl->client_secret);
    int rc = -1;
    for (;;) {
        long long next = clock_now_ms() + interval * 1000;
        if (next > deadline) {
            sleep_until(deadline);
            timed_out(cl, timeout_s, true, r);
            break;
        }
        sleep_until(next);
        struct oauth2_response resp;
        if (oauth2_post(cl, cl->token_endpoint, poll_f, npf, false, post_timeout(deadline),
                        &resp, r) != 0)
            break;
        const char *e = resp.error;
        bool granted = !e;
        if (granted) {
            rc = store(cl, &resp, r);
        } else if (strcmp(e, "authorization_pending") == 0) {
            log_debug(1, _("oauth2: authorization pending"));
        } else if (strcmp(e, "slow_down") == 0) {
            if (interval < AUTHORIZE_TIMEOUT_MAX_S)
                interval += SLOW_DOWN_S;
            log_debug(1, ngettext("oauth2: asked to slow down; polling every %lld second",
                                  "oauth2: asked to slow down; polling every %lld seconds",
                                  (unsigned long)interval), interval);
        } else if (strcmp(e, "access_denied") == 0
                   || strcmp(e, "authorization_declined") == 0) {
            /* RFC 8628's word, and Microsoft's */
            denied(e, resp.error_description, r);
        } else if (strcmp(e, "expired_token") == 0) {
            result_set(r, RC_TEMPFAIL, _("the code expired before the authorization was "
                                         "given; run smtpfwd --authorize --device %s again"),
                       cl->a->name);
        } else {
            device_error(cl, &resp, r);
        }
        oauth2_response_free(&resp);
        if (granted || r->cls != RC_OK)
            break;
    }
    oauth2_response_free(&dev);
    return rc;
}

/* ---- --authorize ---- */

/* Before anything is asked of the user: the libraries that will trade
 * the code for tokens are built in and can be loaded (else the user
 * would sign in for nothing). */
static int libraries_ready(const struct account *a, struct result *r)
{
#if SMTPFWD_OAUTH2
    (void)a;
    return curl_dl_load(r) == 0 && json_dl_load(r) == 0 ? 0 : -1;
#else
    result_set(r, RC_UNAVAILABLE,
               _("%s:%d: account %s: this smtpfwd was built without OAuth2 support "
                 "(libcurl and json-c), so it cannot authorize"),
               a->file ? a->file : "?", a->line, a->name);
    return -1;
#endif
}

/* The account has no device flow to use: say what to do instead. */
static void no_device_flow(const struct oauth2_client *cl, struct result *r)
{
    if (cl->preset && strcmp(cl->preset->name, "generic") != 0)
        result_set(r, RC_USAGE,
                   _("the provider of account %s (%s) offers no device flow for mail; "
                     "authorize in a web browser instead: smtpfwd --authorize %s"),
                   cl->a->name, cl->preset->name, cl->a->name);
    else
        result_set(r, RC_CONFIG,
                   _("%s:%d: account %s has no oauth2_device_endpoint for --device; set it, "
                     "or authorize in a web browser: smtpfwd --authorize %s"),
                   cl->a->file ? cl->a->file : "?", cl->a->line, cl->a->name, cl->a->name);
}

int oauth2_authorize(const struct account *a, bool device, int timeout_s, struct result *r)
{
    if (!oauth2_enabled(a)) {
        result_set(r, RC_CONFIG,
                   _("%s:%d: account %s has no oauth2_provider, so there is nothing to "
                     "authorize: smtpfwd gets a token itself only for an account with "
                     "oauth2_provider (see smtprc(5), OAUTH2)"),
                   a->file ? a->file : "?", a->line, a->name);
        return -1;
    }
    if (libraries_ready(a, r) != 0)
        return -1;
    if (timeout_s <= 0)
        timeout_s = AUTHORIZE_TIMEOUT_S;
    if (timeout_s > AUTHORIZE_TIMEOUT_MAX_S)
        timeout_s = AUTHORIZE_TIMEOUT_MAX_S;
    long long deadline = clock_now_ms() + (long long)timeout_s * 1000;
    struct oauth2_client cl;
    if (oauth2_client_init(&cl, a, device ? 't' : 'a', r) != 0)
        return -1;
    int rc;
    if (device && !cl.device_endpoint) {
        no_device_flow(&cl, r);
        rc = -1;
    } else {
        rc = device ? authorize_device(&cl, deadline, timeout_s, r)
                    : authorize_browser(&cl, deadline, timeout_s, r);
    }
    oauth2_client_free(&cl);
    return rc;
}
