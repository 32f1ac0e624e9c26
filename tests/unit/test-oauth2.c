/*
 * test-oauth2.c - unit tests for the OAuth2 core (oauth2.c,
 * oauth2-json.c, oauth2-http.c, oauth2-store.c): the parser of a token
 * or device endpoint's answer on valid and hostile input, the status of
 * a server's 334 error report (RFC 7628 and Google shapes), the KEY of
 * the token files, URL hosts and queries, PKCE (RFC 7636's example),
 * the cache validity arithmetic, the results of the token endpoint's
 * errors, the checks of an account's oauth2_* settings, the token files
 * (formats, modes, refusals of files that are not regular, not 0600),
 * and oauth2_post / oauth2_token against a real HTTPS server (python3
 * with the test CA's certificates: transport and HTTP failures as
 * result classes, the form on the wire, the cache, refresh, rotation).
 *
 * The keyring is never reached: every account here has
 * oauth2_token_store file (tests/keyring.sh covers libsecret).
 */
#define _GNU_SOURCE 1
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "oauth2.h"
#include "oauth2-int.h"
#include "smtprc.h"
#include "tap.h"
#include "testutil.h"
#include "util.h"

static const char *tmpdir;

static bool contains(const char *s, const char *part)
{
    return s && strstr(s, part) != NULL;
}

/* ---- the answer of an endpoint ---- */

static int parse(long status, const char *body, bool device, struct oauth2_response *out,
                 struct result *r)
{
    return oauth2_parse_response(status, body, strlen(body), device, out, r);
}

static void parse_refused(long status, const char *body, bool device, const char *what)
{
    struct oauth2_response resp;
    struct result r = RESULT_INIT;
    int rc = parse(status, body, device, &resp, &r);
    tap_ok(rc == -1 && r.cls == RC_PROTOCOL, what);
    if (rc == 0)
        printf("#   accepted: access_token %s error %s\n",
               resp.access_token ? resp.access_token : "NULL", resp.error ? resp.error : "NULL");
    if (rc == 0)
        oauth2_response_free(&resp);
    result_clear(&r);
}

static void test_parse_response(void)
{
    struct oauth2_response resp;
    struct result r = RESULT_INIT;

    int rc = parse(200, "{\"access_token\":\"ya29.a-b_c\",\"token_type\":\"Bearer\","
                        "\"expires_in\":3599,\"refresh_token\":\"1//rt\",\"scope\":\"x\"}",
                   false, &resp, &r);
    tap_int(rc, 0, "a token answer is accepted");
    tap_str(resp.access_token, "ya29.a-b_c", "its access_token");
    tap_str(resp.refresh_token, "1//rt", "its refresh_token");
    tap_int(resp.expires_in, 3599, "its expires_in");
    tap_ok(resp.error == NULL && resp.interval == -1, "no error, no interval");
    oauth2_response_free(&resp);

    rc = parse(200, " \n{\"access_token\":\"t\",\"expires_in\":\"3600\"}\r\n", false, &resp, &r);
    tap_int(rc, 0, "expires_in as a string of digits, white space around the object");
    tap_int(resp.expires_in, 3600, "its value");
    tap_ok(resp.refresh_token == NULL, "no refresh_token: NULL");
    oauth2_response_free(&resp);

    rc = parse(200, "{\"access_token\":\"t\"}", false, &resp, &r);
    tap_ok(rc == 0 && resp.expires_in == -1, "no expires_in: -1");
    oauth2_response_free(&resp);

    rc = parse(400, "{\"error\":\"invalid_grant\",\"error_description\":\"Token has been "
                    "expired or revoked.\"}", false, &resp, &r);
    tap_int(rc, 0, "an error answer (HTTP 400) is 0");
    tap_str(resp.error, "invalid_grant", "its error");
    tap_str(resp.error_description, "Token has been expired or revoked.",
            "its error_description");
    oauth2_response_free(&resp);

    rc = parse(200, "{\"device_code\":\"dc\",\"user_code\":\"ABCD-EFGH\",\"verification_url\":"
                    "\"https://www.google.com/device\",\"expires_in\":1800,\"interval\":5}",
               true, &resp, &r);
    tap_int(rc, 0, "a device answer with Google's verification_url");
    tap_str(resp.verification_uri, "https://www.google.com/device", "verification_uri from it");
    tap_int(resp.interval, 5, "its interval");
    tap_str(resp.user_code, "ABCD-EFGH", "its user_code");
    oauth2_response_free(&resp);

    rc = parse(200, "{\"device_code\":\"dc\",\"user_code\":\"U\",\"verification_uri\":\"https://"
                    "a.example/d\",\"verification_uri_complete\":\"https://a.example/d?c=U\"}",
               true, &resp, &r);
    tap_ok(rc == 0 && resp.verification_uri_complete &&
           strcmp(resp.verification_uri, "https://a.example/d") == 0,
           "a device answer with RFC 8628's names");
    oauth2_response_free(&resp);
    result_clear(&r);

    parse_refused(200, "{\"token_type\":\"Bearer\"}", false, "200 without access_token");
    parse_refused(400, "{\"message\":\"no\"}", false, "400 without error");
    parse_refused(302, "{\"access_token\":\"t\"}", false, "a redirect is not an answer");
    parse_refused(200, "<html>sign in</html>", false, "HTML");
    parse_refused(200, "", false, "an empty body");
    parse_refused(200, "[\"access_token\",\"t\"]", false, "an array");
    parse_refused(200, "\"t\"", false, "a string");
    parse_refused(200, "{\"access_token\":\"t\"", false, "a truncated object");
    parse_refused(200, "{\"access_token\":\"t\"}{\"access_token\":\"u\"}", false,
                  "two objects");
    parse_refused(200, "{\"access_token\":\"t\"} x", false, "garbage after the object");
    parse_refused(200, "{\"access_token\":42}", false, "a number as access_token");
    parse_refused(200, "{\"access_token\":\"\"}", false, "an empty access_token");
    parse_refused(200, "{\"access_token\":\"a\\u0000b\"}", false, "a NUL in access_token");
    parse_refused(200, "{\"access_token\":\"a\\r\\nb\"}", false, "CR LF in access_token");
    parse_refused(200, "{\"access_token\":\"a\\u0001b\"}", false, "^A in access_token");
    parse_refused(200, "{\"access_token\":\"\\u00e9t\\u00e9\"}", false,
                  "non-ASCII in access_token");
    parse_refused(200, "{\"access_token\":\"t\",\"expires_in\":-5}", false,
                  "a negative expires_in");
    parse_refused(200, "{\"access_token\":\"t\",\"expires_in\":99999999999}", false,
                  "an expires_in beyond ten years");
    parse_refused(200, "{\"access_token\":\"t\",\"expires_in\":\"12a\"}", false,
                  "expires_in with a letter");
    parse_refused(200, "{\"access_token\":\"t\",\"expires_in\":1.5}", false,
                  "a fractional expires_in");
    parse_refused(200, "{\"access_token\":\"t\",\"refresh_token\":{}}", false,
                  "an object as refresh_token");
    parse_refused(400, "{\"error\":[\"invalid_grant\"]}", false, "an array as error");
    parse_refused(200, "{\"device_code\":\"dc\",\"verification_uri\":\"https://x\"}", true,
                  "a device answer without user_code");
    parse_refused(200, "{\"access_token\":\"t\"}", true, "a token answer where a device "
                  "answer is due");
    parse_refused(200, "{'access_token':'t'}", false, "single quotes (not strict JSON)");

    /* nesting beyond the depth limit */
    struct buf deep = BUF_INIT;
    buf_puts(&deep, "{\"access_token\":\"t\",\"x\":");
    for (int i = 0; i < 100; i++)
        buf_puts(&deep, "[");
    for (int i = 0; i < 100; i++)
        buf_puts(&deep, "]");
    buf_puts(&deep, "}");
    parse_refused(200, deep.data, false, "arrays nested 100 deep");
    buf_free(&deep);

    /* a long token is fine */
    struct buf big = BUF_INIT;
    buf_puts(&big, "{\"access_token\":\"");
    for (int i = 0; i < 8000; i++)
        buf_putc(&big, (char)('a' + i % 26));
    buf_puts(&big, "\"}");
    rc = parse(200, big.data, false, &resp, &r);
    tap_ok(rc == 0 && strlen(resp.access_token) == 8000, "an 8000-byte access token");
    if (rc == 0)
        oauth2_response_free(&resp);
    buf_free(&big);
}

/* ---- the 334 error report ---- */

static void status_is(const char *json, const char *want, const char *what)
{
    char *b64 = base64_encode(json, strlen(json));
    char *got = oauth2_challenge_status(b64);
    tap_str(got, want, what);
    free(got);
    free(b64);
}

static void test_challenge_status(void)
{
    status_is("{\"status\":\"invalid_token\",\"scope\":\"example_scope\","
              "\"openid-configuration\":\"https://example.com/.well-known/openid-configuration\"}",
              "invalid_token", "RFC 7628 3.2.2's report");
    status_is("{\"status\":\"401\",\"schemes\":\"bearer mac\",\"scope\":\"https://mail.google.com/\"}",
              "401", "Google's XOAUTH2 report");
    status_is("{\"status\":400,\"schemes\":\"Bearer\"}", "400", "a numeric status");
    status_is("{\"schemes\":\"Bearer\"}", NULL, "no status member");
    status_is("{\"status\":\"bad\\nline\"}", NULL, "a status with a line break");
    status_is("{\"status\":[\"401\"]}", NULL, "an array as status");
    status_is("not json", NULL, "base64 of text that is not JSON");
    status_is("", NULL, "an empty challenge");
    char *got = oauth2_challenge_status("eyJzdGF0dXMiOiI0MDEifQ");
    tap_str(got, "401", "base64 without its padding");
    free(got);
    got = oauth2_challenge_status("!!!notbase64");
    tap_str(got, NULL, "not base64");
    free(got);
    got = oauth2_challenge_status(NULL);
    tap_str(got, NULL, "NULL");
    free(got);
}

/* ---- keys, URLs, PKCE, randomness ---- */

static void key_is(const char *user, const char *host, const char *want, const char *what)
{
    char *k = oauth2_key(user, host);
    tap_str(k, want, what);
    free(k);
}

static void host_is(const char *url, const char *want, const char *what)
{
    char *h = oauth2_url_host(url);
    tap_str(h, want, what);
    free(h);
}

static void test_keys_and_urls(void)
{
    key_is("me@example.com", "oauth2.googleapis.com", "me@example.com@oauth2.googleapis.com",
           "KEY of a plain address");
    key_is("a b/c%d", "h", "a%20b%2Fc%25d@h", "space, slash and percent escaped");
    key_is("..", "h", "..@h", "dots kept");
    key_is("J\xc3\xbcrgen+tag_x-y", "h", "J%C3%BCrgen+tag_x-y@h", "UTF-8 bytes escaped");
    key_is("x\ny", "h", "x%0Ay@h", "a line break escaped");

    host_is("https://Login.MicrosoftOnline.COM/common/oauth2/v2.0/token",
            "login.microsoftonline.com", "host in lower case");
    host_is("https://127.0.0.1:8443/token", "127.0.0.1", "port dropped");
    host_is("https://user:pw@h.example/x", "h.example", "user info dropped");
    host_is("https://[::1]:8443/t", "::1", "IPv6 literal");
    host_is("HTTPS://h.example?x=1", "h.example", "scheme in upper case, query at once");
    host_is("http://h.example/", NULL, "http:// refused");
    host_is("https:///path", NULL, "no host");
    host_is("https://[::1/t", NULL, "unclosed IPv6 literal");
    host_is("ftp://h", NULL, "another scheme");

    struct oauth2_field f[] = {
        { "client_id", "abc.apps" },
        { "redirect_uri", "http://127.0.0.1:5000/" },
        { "scope", "https://outlook.office.com/SMTP.Send offline_access" },
        { "skip", NULL },
        { "state", "a~b_c-d.e" },
    };
    char *u = oauth2_url_with_query("https://a.example/auth", f, 5);
    tap_str(u, "https://a.example/auth?client_id=abc.apps&redirect_uri=http%3A%2F%2F127.0.0.1"
               "%3A5000%2F&scope=https%3A%2F%2Foutlook.office.com%2FSMTP.Send%20offline_access"
               "&state=a~b_c-d.e", "query encoded, NULL value left out");
    free(u);
    u = oauth2_url_with_query("https://a.example/auth?tenant=x", f, 1);
    tap_str(u, "https://a.example/auth?tenant=x&client_id=abc.apps",
            "appended to an existing query");
    free(u);

    struct result r = RESULT_INIT;
    char *c = oauth2_pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", &r);
    tap_str(c, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "RFC 7636 appendix B's challenge");
    if (!c)
        printf("#   %s\n", r.msg ? r.msg : "");
    free(c);
    result_clear(&r);

    char *a = oauth2_random_string(32), *b = oauth2_random_string(32);
    tap_int((long long)strlen(a), 43, "32 random bytes: 43 base64url characters");
    tap_ok(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
           strlen(a), "only base64url characters, no padding");
    tap_ok(strcmp(a, b) != 0, "two random strings differ");
    free(a);
    free(b);
}

static void test_cache_arithmetic(void)
{
    long long now = 1700000000;
    tap_ok(oauth2_cache_fresh(now + 3600, now), "an hour left: fresh");
    tap_ok(oauth2_cache_fresh(now + 60, now), "exactly 60 s left: fresh");
    tap_ok(!oauth2_cache_fresh(now + 59, now), "59 s left: stale");
    tap_ok(!oauth2_cache_fresh(now, now), "expiring now: stale");
    tap_ok(!oauth2_cache_fresh(now - 10, now), "expired: stale");
}

/* ---- accounts ---- */

static struct config *cfg;

/* The account of configuration text (a fresh struct config each time;
 * the previous one is freed). */
static const struct account *account_of(const char *text)
{
    if (cfg)
        config_free(cfg);
    cfg = config_new();
    struct result r = RESULT_INIT;
    if (config_parse_string(cfg, text, "test.rc", &r) != 0) {
        printf("Bail out! configuration refused: %s\n", r.msg);
        exit(99);
    }
    const struct account *a = config_find(cfg, "acct");
    if (!a) {
        printf("Bail out! no account acct\n");
        exit(99);
    }
    return a;
}

#define ACCT "account acct\nhost smtp.example\nuser me@example.com\n"

static void init_refused(const char *text, char need, enum result_class cls, const char *part,
                         const char *what)
{
    struct oauth2_client cl;
    struct result r = RESULT_INIT;
    int rc = oauth2_client_init(&cl, account_of(text), need, &r);
    tap_ok(rc == -1 && r.cls == cls && contains(r.msg, part) && contains(r.msg, "test.rc:1"),
           what);
    if (rc == 0)
        oauth2_client_free(&cl);
    else if (!contains(r.msg, part) || r.cls != cls)
        printf("#   class %d: %s\n", r.cls, r.msg);
    result_clear(&r);
}

static void test_client_init(void)
{
    struct oauth2_client cl;
    struct result r = RESULT_INIT;
    int rc = oauth2_client_init(&cl, account_of(ACCT "auth xoauth2\noauth2_provider microsoft\n"
                                                "oauth2_client_id cid\n"), 'd', &r);
    tap_int(rc, 0, "microsoft preset");
    if (rc == 0) {
        tap_str(cl.token_endpoint, "https://login.microsoftonline.com/common/oauth2/v2.0/token",
                "its token endpoint");
        tap_str(cl.device_endpoint,
                "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode",
                "its device endpoint");
        tap_str(cl.scope, "https://outlook.office.com/SMTP.Send offline_access", "its scope");
        tap_str(cl.preset->redirect_host, "localhost", "its redirect host");
        tap_ok(cl.preset->scope_on_refresh, "scope sent on refresh");
        tap_str(cl.key, "me@example.com@login.microsoftonline.com", "its KEY");
        tap_ok(cl.client_secret == NULL && cl.trust_file == NULL,
               "no client secret, the system's CAs");
        oauth2_client_free(&cl);
    }

    rc = oauth2_client_init(&cl, account_of(ACCT "auth oauthbearer\noauth2_provider gmail\n"
                                            "oauth2_client_id cid\n"
                                            "oauth2_client_secret_eval \"printf 's3 cret\\n'\"\n"
                                            "oauth2_scope https://mail.google.com/ x\n"),
                            'a', &r);
    tap_int(rc, 0, "gmail preset");
    if (rc == 0) {
        tap_str(cl.auth_endpoint, "https://accounts.google.com/o/oauth2/v2/auth",
                "its authorization endpoint");
        tap_str(cl.token_endpoint, "https://oauth2.googleapis.com/token", "its token endpoint");
        tap_str(cl.client_secret, "s3 cret", "client secret from oauth2_client_secret_eval");
        tap_str(cl.scope, "https://mail.google.com/ x", "oauth2_scope overrides the preset");
        tap_str(cl.preset->redirect_host, "127.0.0.1", "its redirect host");
        oauth2_client_free(&cl);
    }

    init_refused(ACCT "auth oauthbearer\noauth2_provider gmail\noauth2_client_id cid\n"
                 "oauth2_client_secret s\n", 'd', RC_CONFIG, "no device flow",
                 "gmail has no device flow");
    init_refused(ACCT "auth oauthbearer\noauth2_provider gmail\noauth2_client_id cid\n", 't',
                 RC_CONFIG, "oauth2_client_secret", "gmail needs the client secret");
    init_refused(ACCT "auth plain\noauth2_provider gmail\noauth2_client_id cid\n", 't',
                 RC_CONFIG, "auth oauthbearer", "auth plain with oauth2_provider");
    init_refused(ACCT "oauth2_provider gmail\noauth2_client_id cid\n", 't', RC_CONFIG,
                 "auth xoauth2", "no auth with oauth2_provider");
    init_refused("account acct\nhost h\nauth xoauth2\noauth2_provider gmail\n"
                 "oauth2_client_id cid\n", 't', RC_CONFIG, "\"user\"", "no user");
    init_refused(ACCT "auth xoauth2\noauth2_provider gmail\n", 't', RC_CONFIG,
                 "oauth2_client_id", "no client id");
    init_refused(ACCT "auth xoauth2\noauth2_provider generic\noauth2_client_id c\n", 't',
                 RC_CONFIG, "oauth2_token_endpoint", "generic without a token endpoint");
    init_refused(ACCT "auth xoauth2\noauth2_provider generic\noauth2_client_id c\n"
                 "oauth2_token_endpoint https://t.example/token\n", 'a', RC_CONFIG,
                 "oauth2_auth_endpoint", "generic without the authorization endpoint");
    init_refused(ACCT "auth xoauth2\noauth2_provider generic\noauth2_client_id c\n"
                 "oauth2_token_endpoint https://t.example/token\n", 'd', RC_CONFIG,
                 "oauth2_device_endpoint", "generic without the device endpoint");
    init_refused(ACCT "auth xoauth2\noauth2_provider generic\noauth2_client_id c\n"
                 "oauth2_token_endpoint http://t.example/token\n", 't', RC_CONFIG, "https://",
                 "an http:// token endpoint");
    init_refused(ACCT "auth xoauth2\noauth2_provider microsoft\noauth2_client_id c\n"
                 "oauth2_auth_endpoint http://t.example/auth\n", 't', RC_CONFIG,
                 "oauth2_auth_endpoint", "an http:// override of a preset");
    init_refused(ACCT "auth xoauth2\noauth2_provider gmail\noauth2_client_id c\n"
                 "oauth2_client_secret_eval \"exit 3\"\n", 't', RC_CONFIG,
                 "oauth2_client_secret_eval", "a failing oauth2_client_secret_eval");
}

static void test_error_result(void)
{
    const struct account *a = account_of(ACCT "auth xoauth2\noauth2_provider gmail\n"
                                         "oauth2_client_id cid\noauth2_client_secret s\n");
    struct oauth2_client cl;
    struct result r = RESULT_INIT;
    if (oauth2_client_init(&cl, a, 't', &r) != 0) {
        printf("Bail out! %s\n", r.msg);
        exit(99);
    }
    struct oauth2_response resp = { .expires_in = -1, .interval = -1 };
    resp.error = xstrdup("invalid_grant");
    resp.error_description = xstrdup("Token has been expired or revoked.");
    oauth2_error_result(&cl, &resp, &r);
    tap_ok(r.cls == RC_NOPERM && contains(r.msg, "run: smtpfwd --authorize acct") &&
           contains(r.msg, "Token has been expired or revoked."),
           "invalid_grant: RC_NOPERM, run --authorize");
    result_clear(&r);
    free(resp.error);
    resp.error = xstrdup("invalid_client");
    oauth2_error_result(&cl, &resp, &r);
    tap_ok(r.cls == RC_CONFIG && contains(r.msg, "test.rc:1") &&
           contains(r.msg, "oauth2_client_id"), "invalid_client: RC_CONFIG at FILE:LINE");
    result_clear(&r);
    free(resp.error);
    resp.error = xstrdup("invalid_scope");
    oauth2_error_result(&cl, &resp, &r);
    tap_ok(r.cls == RC_CONFIG && contains(r.msg, "oauth2_scope"), "invalid_scope: RC_CONFIG");
    result_clear(&r);
    free(resp.error);
    resp.error = xstrdup("temporarily_unavailable");
    oauth2_error_result(&cl, &resp, &r);
    tap_ok(r.cls == RC_TEMPFAIL, "temporarily_unavailable: temporary");
    result_clear(&r);
    free(resp.error);
    resp.error = xstrdup("server_error");
    oauth2_error_result(&cl, &resp, &r);
    tap_ok(r.cls == RC_TEMPFAIL, "server_error: temporary");
    result_clear(&r);
    free(resp.error);
    free(resp.error_description);
    resp.error = xstrdup("access_denied");
    resp.error_description = xstrdup("no\r\nInjected: \x1b[31m");
    oauth2_error_result(&cl, &resp, &r);
    tap_ok(r.cls == RC_NOPERM && !strchr(r.msg, '\n') && !strchr(r.msg, '\r') &&
           !strchr(r.msg, '\x1b') && contains(r.msg, "access_denied"),
           "another error: RC_NOPERM, its words escaped");
    result_clear(&r);
    oauth2_response_free(&resp);
    oauth2_client_free(&cl);
}

/* ---- token files ---- */

static char *data_dir, *cache_dir;

/* The client of a generic account whose token endpoint is url, store
 * file. */
static int client_for(const char *url, const char *trust, struct oauth2_client *cl)
{
    char *text = xasprintf(ACCT "auth xoauth2\noauth2_provider generic\noauth2_client_id "
                           "cid 1\noauth2_client_secret s&c=\noauth2_token_store file\n"
                           "oauth2_token_endpoint %s\n%s%s\n", url,
                           trust ? "oauth2_tls_trust_file " : "", trust ? trust : "");
    struct result r = RESULT_INIT;
    int rc = oauth2_client_init(cl, account_of(text), 't', &r);
    if (rc != 0)
        printf("#   %s\n", r.msg);
    result_clear(&r);
    free(text);
    return rc;
}

static char *refresh_path(const char *key)
{
    return xasprintf("%s/smtpfwd/oauth2/%s", data_dir, key);
}

static char *cache_path(const char *key)
{
    return xasprintf("%s/smtpfwd/oauth2/%s", cache_dir, key);
}

static char *slurp(const char *path)
{
    struct file_data fd = FILE_DATA_INIT;
    if (util_read_file(path, 1 << 20, false, &fd) != 0)
        return NULL;
    char *s = xstrdup(fd.data ? fd.data : "");
    util_file_free(&fd);
    return s;
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 ? st.st_mode & 07777 : 0;
}

static void load_refused(struct oauth2_client *cl, enum result_class cls, const char *part,
                         const char *what)
{
    enum oauth2_store_kind kind;
    struct result r = RESULT_INIT;
    char *rt = oauth2_refresh_token_load(cl, &kind, &r);
    tap_ok(!rt && r.cls == cls && contains(r.msg, part), what);
    if (rt || !contains(r.msg, part))
        printf("#   got %s, class %d: %s\n", rt ? rt : "NULL", r.cls, r.msg ? r.msg : "");
    secret_free(rt);
    result_clear(&r);
}

static void test_store(void)
{
    struct oauth2_client cl;
    if (client_for("https://Tok.Example:8443/token", NULL, &cl) != 0) {
        tap_ok(0, "the store's account");
        return;
    }
    tap_str(cl.key, "me@example.com@tok.example", "KEY with the host in lower case");
    char *rpath = refresh_path(cl.key), *cpath = cache_path(cl.key);
    char *dir = xasprintf("%s/smtpfwd/oauth2", data_dir);

    load_refused(&cl, RC_NOPERM, "smtpfwd --authorize acct", "no refresh token: --authorize");

    char *where = NULL;
    struct result r = RESULT_INIT;
    const char *odd = "r\"t\\1\x01/\xc3\xa9";
    int rc = oauth2_refresh_token_save(&cl, odd, OAUTH2_STORE_PER_SETTING, &where, &r);
    tap_int(rc, 0, "refresh token stored (oauth2_token_store file)");
    tap_str(where, rpath, "where: the file");
    free(where);
    tap_int(mode_of(rpath), 0600, "the file has mode 0600");
    tap_int(mode_of(dir), 0700, "its directory has mode 0700");
    char *text = slurp(rpath);
    char *want_prefix = xasprintf("{\"refresh_token\": \"r\\\"t\\\\1\\u0001/\xc3\xa9\", "
                                  "\"token_endpoint\": \"https://Tok.Example:8443/token\", "
                                  "\"client_id\": \"cid 1\", \"stored\": ");
    tap_ok(text && strncmp(text, want_prefix, strlen(want_prefix)) == 0,
           "the file's JSON: refresh_token escaped, token_endpoint, client_id, stored");
    if (text && strncmp(text, want_prefix, strlen(want_prefix)) != 0)
        printf("#   %s", text);
    free(want_prefix);
    free(text);

    enum oauth2_store_kind kind;
    char *rt = oauth2_refresh_token_load(&cl, &kind, &r);
    tap_str(rt, odd, "read back");
    tap_ok(kind == OAUTH2_STORE_FILE, "from the file");
    secret_free(rt);
    result_clear(&r);

    /* hand-written, as the tests of the delivery write them */
    chmod(rpath, 0644);
    load_refused(&cl, RC_CONFIG, "chmod 600", "a 0644 file is refused with the chmod to run");
    chmod(rpath, 0400);
    load_refused(&cl, RC_CONFIG, "mode 0400", "a 0400 file is refused");
    chmod(rpath, 0600);
    char *moved = xasprintf("%s.real", rpath);
    rename(rpath, moved);
    if (symlink(moved, rpath) == 0)
        load_refused(&cl, RC_CONFIG, "not a regular file", "a symbolic link is refused");
    unlink(rpath);
    mkdir(rpath, 0700);
    load_refused(&cl, RC_CONFIG, "not a regular file", "a directory is refused");
    rmdir(rpath);
    if (mkfifo(rpath, 0600) == 0)
        load_refused(&cl, RC_CONFIG, "not a regular file", "a FIFO is refused (and not opened)");
    unlink(rpath);
    free(tu_write_file(dir, cl.key, "{\"refresh_token\": 5}", 0600));
    load_refused(&cl, RC_CONFIG, "not a valid OAuth2 token file", "a number as refresh_token");
    free(tu_write_file(dir, cl.key, "refresh_token=abc\n", 0600));
    load_refused(&cl, RC_CONFIG, "not a valid OAuth2 token file", "not JSON");
    free(tu_write_file(dir, cl.key, "{\"refresh_token\": \"hand-made\"}\n", 0600));
    rt = oauth2_refresh_token_load(&cl, &kind, &r);
    tap_str(rt, "hand-made", "a hand-written file with refresh_token only");
    secret_free(rt);
    result_clear(&r);
    unlink(moved);
    free(moved);

    /* the cache */
    long long now = (long long)time(NULL), exp = 0;
    char *tok = oauth2_cache_get(&cl, now, &exp, &r);
    tap_ok(!tok && r.cls == RC_OK, "no cache: nothing, no error");
    rc = oauth2_cache_put(&cl, "at.1", now + 3600, &r);
    tap_int(rc, 0, "cache written");
    tap_int(mode_of(cpath), 0600, "the cache file has mode 0600");
    text = slurp(cpath);
    char *want = xasprintf("{\"access_token\": \"at.1\", \"expires_at\": %lld}\n", now + 3600);
    tap_str(text, want, "the cache file's JSON");
    free(want);
    free(text);
    tok = oauth2_cache_get(&cl, now, &exp, &r);
    tap_str(tok, "at.1", "the cached token");
    tap_int(exp, now + 3600, "its expiry");
    secret_free(tok);
    tok = oauth2_cache_get(&cl, now + 3600 - 59, &exp, &r);
    tap_ok(!tok && r.cls == RC_OK, "59 s before its expiry: not used");
    char *cdir = xasprintf("%s/smtpfwd/oauth2", cache_dir);
    free(tu_write_file(cdir, cl.key, "{\"access_token\": \"x\", \"expires_at\": \"9999999999\"}",
                       0640));
    tok = oauth2_cache_get(&cl, now, &exp, &r);
    tap_ok(!tok && r.cls == RC_CONFIG && contains(r.msg, "chmod 600"),
           "a 0640 cache file is refused");
    result_clear(&r);
    chmod(cpath, 0600);
    tok = oauth2_cache_get(&cl, now, &exp, &r);
    tap_str(tok, "x", "expires_at as a string of digits");
    secret_free(tok);
    free(tu_write_file(cdir, cl.key, "{\"access_token\": \"x\"}", 0600));
    tok = oauth2_cache_get(&cl, now, &exp, &r);
    tap_ok(!tok && r.cls == RC_CONFIG, "a cache file without expires_at is refused");
    result_clear(&r);
    free(cdir);

    int lock = oauth2_cache_lock(&cl, &r);
    tap_ok(lock >= 0, "the lock is taken");
    char *lpath = xasprintf("%s.lock", cpath);
    tap_int(mode_of(lpath), 0600, "the lock file has mode 0600");
    oauth2_cache_unlock(lock);
    free(lpath);

    free(dir);
    free(rpath);
    free(cpath);
    oauth2_client_free(&cl);
}

/* ---- over HTTPS ---- */

/* A python3 HTTPS server (the test CA's server.pem) answering each path
 * as its name says, logging "PATH ACCEPT BODY" per request to LOG. */
static const char server_py[] =
    "import http.server, ssl, sys, time\n"
    "certs, log, portfile = sys.argv[1:4]\n"
    "n = {'rotate': 0}\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def do_POST(self):\n"
    "        body = self.rfile.read(int(self.headers.get('Content-Length', 0))).decode()\n"
    "        with open(log, 'a') as f:\n"
    "            f.write('%s %s %s\\n' % (self.path, self.headers.get('Accept'), body))\n"
    "        p = self.path\n"
    "        if p == '/slow':\n"
    "            time.sleep(5)\n"
    "        if p == '/one':\n"
    "            time.sleep(1)\n"
    "        code, out, extra = 200, b'{\"access_token\":\"at-ok\",\"expires_in\":3600}', {}\n"
    "        if p == '/rotate':\n"
    "            n['rotate'] += 1\n"
    "            out = ('{\"access_token\":\"at-r%d\",\"refresh_token\":\"rt-r%d\"}' % (n['rotate'], n['rotate'])).encode()\n"
    "        elif p == '/revoked':\n"
    "            code, out = 400, b'{\"error\":\"invalid_grant\",\"error_description\":\"revoked\"}'\n"
    "        elif p in ('/500', '/429'):\n"
    "            code, out = int(p[1:]), b'{\"error\":\"temporarily_unavailable\"}'\n"
    "        elif p == '/html':\n"
    "            code, out = 404, b'<html>not found</html>'\n"
    "        elif p == '/big':\n"
    "            out = b'{\"access_token\":\"' + b'a' * (2 << 20) + b'\"}'\n"
    "        elif p == '/redirect':\n"
    "            code, out, extra = 302, b'', {'Location': 'https://127.0.0.1:1/token'}\n"
    "        self.send_response(code)\n"
    "        for k, v in extra.items():\n"
    "            self.send_header(k, v)\n"
    "        self.send_header('Content-Type', 'application/json')\n"
    "        self.send_header('Content-Length', str(len(out)))\n"
    "        self.end_headers()\n"
    "        self.wfile.write(out)\n"
    "    def log_message(self, *a):\n"
    "        pass\n"
    "s = http.server.HTTPServer(('127.0.0.1', 0), H)\n"
    "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
    "ctx.load_cert_chain(certs + '/server.pem', certs + '/server-key.pem')\n"
    "s.socket = ctx.wrap_socket(s.socket, server_side=True)\n"
    "open(portfile + '.tmp', 'w').write(str(s.server_address[1]))\n"
    "import os; os.rename(portfile + '.tmp', portfile)\n"
    "s.serve_forever()\n";

static pid_t server_pid;
static char *certs, *server_log;
static int server_port;

/* Where the server's standard error goes. */
static const char *server_log_err(void)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/server.err", tmpdir);
    return path;
}

/* Start the server; false (with a reason printed) when it cannot run
 * here (no python3, no certtool). */
static bool server_start(void)
{
    const char *srcdir = getenv("top_srcdir");
    char *script = tu_write_file(tmpdir, "server.py", server_py, 0600);
    certs = xasprintf("%s/certs", tmpdir);
    server_log = xasprintf("%s/server.log", tmpdir);
    char *portfile = xasprintf("%s/port", tmpdir);
    char *cmd = xasprintf("sh '%s/tests/certs.sh' '%s' >/dev/null 2>&1", srcdir ? srcdir : "..",
                          certs);
    int st = system(cmd);
    free(cmd);
    bool ok = false;
    if (st != 0) {
        printf("# no test certificates (tests/certs.sh: %d; needs certtool)\n", st);
    } else if ((server_pid = fork()) == 0) {
        /* its tracebacks (a client that hung up) are not the test's output */
        int err = open(server_log_err(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (err >= 0)
            dup2(err, 2);
        execlp("python3", "python3", script, certs, server_log, portfile, (char *)NULL);
        _exit(127);
    } else if (server_pid > 0) {
        for (int i = 0; i < 200 && !ok; i++) {   /* a safety net, not a measure */
            char *p = slurp(portfile);
            if (p) {
                server_port = atoi(p);
                ok = server_port > 0;
                free(p);
            } else if (waitpid(server_pid, &st, WNOHANG) == server_pid) {
                printf("# python3 could not run the HTTPS server\n");
                server_pid = 0;
                break;
            } else {
                struct timespec t = { 0, 50 * 1000 * 1000 };
                nanosleep(&t, NULL);
            }
        }
    }
    free(portfile);
    free(script);
    return ok;
}

static void server_stop(void)
{
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
    }
}

/* Lines of the server's log that start with path. */
static int requests(const char *path)
{
    char *text = slurp(server_log);
    int n = 0;
    size_t len = strlen(path);
    for (char *l = text; l && *l; ) {
        if (strncmp(l, path, len) == 0 && l[len] == ' ')
            n++;
        char *nl = strchr(l, '\n');
        l = nl ? nl + 1 : l + strlen(l);
    }
    free(text);
    return n;
}

static void post_is(const char *path, const char *trust, enum result_class cls,
                    const char *part, const char *what)
{
    char *url = xasprintf("https://127.0.0.1:%d%s", server_port, path);
    struct oauth2_client cl;
    if (client_for(url, trust, &cl) != 0) {
        tap_ok(0, what);
        free(url);
        return;
    }
    struct oauth2_field f[] = { { "grant_type", "refresh_token" } };
    struct oauth2_response resp;
    struct result r = RESULT_INIT;
    int rc = oauth2_post(&cl, url, f, 1, false, strcmp(path, "/slow") == 0 ? 1 : 0, &resp, &r);
    tap_ok(rc == -1 && r.cls == cls && contains(r.msg, part), what);
    if (rc == 0)
        oauth2_response_free(&resp);
    else if (r.cls != cls || !contains(r.msg, part))
        printf("#   class %d: %s\n", r.cls, r.msg);
    result_clear(&r);
    oauth2_client_free(&cl);
    free(url);
}

static void test_https(void)
{
    if (!server_start()) {
        printf("ok %d # SKIP oauth2_post and oauth2_token over HTTPS\n", ++tap_n);
        return;
    }
    char *ca = xasprintf("%s/ca.pem", certs), *other = xasprintf("%s/otherca.pem", certs);
    char *url = xasprintf("https://127.0.0.1:%d/ok", server_port);
    struct oauth2_client cl;
    if (client_for(url, ca, &cl) == 0) {
        struct oauth2_field f[] = {
            { "grant_type", "refresh_token" },
            { "refresh_token", "a b&c=d/e+f" },
            { "client_id", cl.client_id },
            { "client_secret", cl.client_secret },
        };
        struct oauth2_response resp;
        struct result r = RESULT_INIT;
        int rc = oauth2_post(&cl, url, f, 4, false, 0, &resp, &r);
        tap_int(rc, 0, "POST to a trusted server");
        if (rc == 0) {
            tap_str(resp.access_token, "at-ok", "its access token");
            tap_int(resp.expires_in, 3600, "its expires_in");
            oauth2_response_free(&resp);
        } else {
            printf("#   %s\n", r.msg);
        }
        result_clear(&r);
        char *log = slurp(server_log);
        tap_str(log, "/ok application/json grant_type=refresh_token&refresh_token=a%20b%26c%3Dd"
                     "%2Fe%2Bf&client_id=cid%201&client_secret=s%26c%3D\n",
                "the form on the wire, values encoded, Accept: application/json");
        free(log);
        oauth2_client_free(&cl);
    }
    free(url);

    post_is("/500", ca, RC_TEMPFAIL, "HTTP 500", "HTTP 500: temporary");
    post_is("/429", ca, RC_TEMPFAIL, "HTTP 429", "HTTP 429: temporary");
    post_is("/html", ca, RC_PROTOCOL, "not a JSON object", "404 with HTML: protocol");
    post_is("/big", ca, RC_PROTOCOL, "larger than 1024 KiB", "an answer over 1 MiB: protocol");
    post_is("/redirect", ca, RC_PROTOCOL, "HTTP 302", "a redirect is not followed");
    post_is("/slow", ca, RC_TEMPFAIL, "no answer within 1 seconds", "no answer in time: temporary");
    post_is("/ok", other, RC_NOPERM, "certificate", "an untrusted certificate: RC_NOPERM");
    char *missing = xasprintf("%s/none.pem", certs);
    post_is("/ok", missing, RC_CONFIG, "oauth2_tls_trust_file", "a missing trust file: config");
    free(missing);

    /* nothing listens on a port of a closed socket */
    struct oauth2_client c2;
    if (client_for("https://127.0.0.1:1/token", ca, &c2) == 0) {
        struct oauth2_response resp;
        struct result r = RESULT_INIT;
        int rc = oauth2_post(&c2, "https://127.0.0.1:1/token", NULL, 0, false, 5, &resp, &r);
        tap_ok(rc == -1 && r.cls == RC_TEMPFAIL, "connection refused: temporary");
        result_clear(&r);
        rc = oauth2_post(&c2, "http://127.0.0.1:1/token", NULL, 0, false, 5, &resp, &r);
        tap_ok(rc == -1 && r.cls == RC_CONFIG, "http:// is never asked");
        result_clear(&r);
        oauth2_client_free(&c2);
    }

    /* oauth2_token: the cache, the refresh, rotation, revocation */
    char *text;
    url = xasprintf("https://127.0.0.1:%d/rotate", server_port);
    if (client_for(url, ca, &cl) == 0) {
        const struct account *a = cl.a;
        char *dir = xasprintf("%s/smtpfwd/oauth2", data_dir);
        util_make_dirs(dir);
        char *rpath = tu_write_file(dir, cl.key, "{\"refresh_token\": \"rt-0\"}", 0600);
        struct result r = RESULT_INIT;
        bool cached = true;
        char *tok = oauth2_token(a, false, &cached, &r);
        tap_str(tok, "at-r1", "oauth2_token refreshes without a cache");
        tap_ok(!cached, "not from the cache");
        secret_free(tok);
        char *text = slurp(rpath);
        tap_ok(contains(text, "\"refresh_token\": \"rt-r1\""), "the rotated refresh token is "
               "stored");
        free(text);
        tok = oauth2_token(a, false, &cached, &r);
        tap_str(tok, "at-r1", "the second call has the cached token");
        tap_ok(cached, "from the cache");
        tap_int(requests("/rotate"), 1, "one request to the token endpoint for both");
        secret_free(tok);
        tok = oauth2_token(a, true, &cached, &r);
        tap_str(tok, "at-r2", "refresh true: a new token");
        tap_ok(!cached && requests("/rotate") == 2, "fetched");
        secret_free(tok);
        char *log = slurp(server_log);
        tap_ok(contains(log, "/rotate application/json grant_type=refresh_token&refresh_token="
                             "rt-r1&client_id=cid%201&client_secret=s%26c%3D\n"),
               "the second refresh sends the rotated token, no scope (generic)");
        free(log);
        free(rpath);
        free(dir);
        oauth2_client_free(&cl);
    }
    free(url);

    /* two runs at once: one refresh, the other waits for the lock and
     * takes the token from the cache (the server answers /one after a
     * second, so that both are usually running together) */
    text = xasprintf("account acct\nhost h\nuser two@example.com\nauth xoauth2\n"
                     "oauth2_provider generic\noauth2_client_id c\n"
                     "oauth2_token_store file\noauth2_tls_trust_file %s\n"
                     "oauth2_token_endpoint https://127.0.0.1:%d/one\n", ca, server_port);
    const struct account *two = account_of(text);
    free(text);
    {
        char *dir = xasprintf("%s/smtpfwd/oauth2", data_dir);
        free(tu_write_file(dir, "two@example.com@127.0.0.1", "{\"refresh_token\": \"t\"}", 0600));
        pid_t kids[2];
        for (int i = 0; i < 2; i++) {
            if ((kids[i] = fork()) == 0) {
                struct result r = RESULT_INIT;
                char *tok = oauth2_token(two, false, NULL, &r);
                _exit(tok && strcmp(tok, "at-ok") == 0 ? 0 : 1);
            }
        }
        int ok = 0;
        for (int i = 0; i < 2; i++) {
            int st;
            if (kids[i] > 0 && waitpid(kids[i], &st, 0) == kids[i] && WIFEXITED(st) &&
                WEXITSTATUS(st) == 0)
                ok++;
        }
        tap_int(ok, 2, "two runs at once both have the token");
        tap_int(requests("/one"), 1, "... from one refresh");
        free(dir);
    }

    /* the microsoft preset sends its scope on refresh; a public client
     * sends no client_secret */
    text = xasprintf("account acct\nhost h\nuser ms@example.com\nauth xoauth2\n"
                           "oauth2_provider microsoft\noauth2_client_id pub\n"
                           "oauth2_token_store file\noauth2_tls_trust_file %s\n"
                           "oauth2_token_endpoint https://127.0.0.1:%d/ms\n", ca, server_port);
    const struct account *ms = account_of(text);
    free(text);
    {
        char *dir = xasprintf("%s/smtpfwd/oauth2", data_dir);
        free(tu_write_file(dir, "ms@example.com@127.0.0.1", "{\"refresh_token\": \"m\"}", 0600));
        struct result r = RESULT_INIT;
        char *tok = oauth2_token(ms, false, NULL, &r);
        tap_str(tok, "at-ok", "microsoft preset with its token endpoint overridden");
        secret_free(tok);
        result_clear(&r);
        char *log = slurp(server_log);
        tap_ok(contains(log, "/ms application/json grant_type=refresh_token&refresh_token=m&"
                             "client_id=pub&scope=https%3A%2F%2Foutlook.office.com%2FSMTP.Send"
                             "%20offline_access\n"), "its scope is sent on refresh");
        free(log);
        free(dir);
    }

    url = xasprintf("https://127.0.0.1:%d/revoked", server_port);
    if (client_for(url, ca, &cl) == 0) {
        struct result r = RESULT_INIT;
        char *dir = xasprintf("%s/smtpfwd/oauth2", data_dir);
        free(tu_write_file(dir, cl.key, "{\"refresh_token\": \"rt-0\"}", 0600));
        /* refresh: the cache holds the token of /rotate (same KEY) */
        char *tok = oauth2_token(cl.a, true, NULL, &r);
        tap_ok(!tok && r.cls == RC_NOPERM && contains(r.msg, "smtpfwd --authorize acct"),
               "a revoked refresh token: RC_NOPERM, run --authorize");
        if (tok || r.cls != RC_NOPERM)
            printf("#   class %d: %s\n", r.cls, r.msg ? r.msg : "");
        result_clear(&r);
        free(dir);
        oauth2_client_free(&cl);
    }
    free(url);
    free(ca);
    free(other);
    server_stop();
}

int main(void)
{
#if !SMTPFWD_OAUTH2
    printf("1..0 # SKIP built without OAuth2 (configure --without-libcurl or --without-json-c)\n");
    return 0;
#endif
    tmpdir = tu_tmpdir("oauth2");
    data_dir = xasprintf("%s/data", tmpdir);
    cache_dir = xasprintf("%s/cache", tmpdir);
    setenv("XDG_DATA_HOME", data_dir, 1);
    setenv("XDG_CACHE_HOME", cache_dir, 1);
    umask(022);

    test_parse_response();
    test_challenge_status();
    test_keys_and_urls();
    test_cache_arithmetic();
    test_client_init();
    test_error_result();
    test_store();
    test_https();

    if (cfg)
        config_free(cfg);
    free(data_dir);
    free(cache_dir);
    free(certs);
    free(server_log);
    tu_rmtree(tmpdir);
    return tap_done();
}
