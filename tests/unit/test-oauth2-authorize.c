/*
 * test-oauth2-authorize.c - unit tests for oauth2_parse_redirect (the
 * request line a browser brings to the loopback redirect of
 * --authorize): the redirect with a code or an error, percent-decoding,
 * other pages, and every malformed line refused; and oauth2_authorize
 * without a provider to talk to: the accounts it refuses before anything
 * happens, and the browser flow's wait with a scripted browser in a child
 * process (the instructions printed, a wrong state and another page
 * answered while the wait goes on, the provider's error= ending it).
 */
#include <config.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "oauth2.h"
#include "smtprc.h"
#include "tap.h"
#include "testutil.h"

/* Parse the NUL-terminated req (its strlen bytes). */
static int parse(const char *req, struct oauth2_redirect *rd)
{
    return oauth2_parse_redirect(req, strlen(req), rd);
}

static void expect_none(const struct oauth2_redirect *rd, const char *what)
{
    char name[160];
    snprintf(name, sizeof name, "%s: nothing kept", what);
    tap_ok(!rd->code && !rd->state && !rd->error && !rd->error_description, name);
}

/* req parses as kind (0 or -1), with nothing kept. */
static void expect_kind(const char *req, int kind, const char *what)
{
    struct oauth2_redirect rd;
    tap_int(parse(req, &rd), kind, what);
    expect_none(&rd, what);
    oauth2_redirect_free(&rd);
}

static void test_redirects(void)
{
    struct oauth2_redirect rd;

    tap_int(parse("GET /?code=4%2F0Ab-cd_e.f~g&state=Zm9v-YmFy_ HTTP/1.1\r\n"
                  "Host: 127.0.0.1:43210\r\nUser-Agent: x\r\n\r\n", &rd),
            1, "code and state: a redirect");
    tap_str(rd.code, "4/0Ab-cd_e.f~g", "code percent-decoded");
    tap_str(rd.state, "Zm9v-YmFy_", "state");
    tap_ok(rd.error == NULL && rd.error_description == NULL, "no error");
    oauth2_redirect_free(&rd);
    expect_none(&rd, "after free");

    /* Google adds scope and authuser; Microsoft session_state */
    tap_int(parse("GET /?state=s1&code=c1&scope=https%3A%2F%2Fmail.google.com%2F&authuser=0"
                  "&scope=again&session_state=x HTTP/1.1\r\n\r\n", &rd),
            1, "other parameters ignored, even twice");
    tap_str(rd.code, "c1", "code among others");
    tap_str(rd.state, "s1", "state before code");
    oauth2_redirect_free(&rd);

    tap_int(parse("GET /?error=access_denied&error_description=The+user+said+%22no%22%0A"
                  "&state=s2 HTTP/1.1\r\n\r\n", &rd),
            1, "error: a redirect");
    tap_str(rd.error, "access_denied", "error");
    tap_str(rd.error_description, "The user said \"no\"\n", "description: + and %XX decoded");
    tap_str(rd.state, "s2", "state with the error");
    tap_ok(rd.code == NULL, "no code with the error");
    oauth2_redirect_free(&rd);

    tap_int(parse("GET /?code=only HTTP/1.0", &rd), 1, "no state: still a redirect (the "
            "caller refuses it), HTTP/1.0 without CRLF");
    tap_str(rd.code, "only", "code without state");
    tap_ok(rd.state == NULL, "state missing");
    oauth2_redirect_free(&rd);

    tap_int(parse("GET /?co%64e=x&state=&code%3D=y HTTP/1.1\n", &rd), 1,
            "names percent-decoded, bare LF");
    tap_str(rd.code, "x", "\"co%64e\" is code");
    tap_str(rd.state, "", "empty state kept as empty");
    oauth2_redirect_free(&rd);

    tap_int(parse("GET /?state=s&code=a%2Bb+c%c3%a9 HTTP/1.1\r\n", &rd), 1, "UTF-8 and plus");
    tap_str(rd.code, "a+b c\xc3\xa9", "%2B is a plus, + a space, %c3%a9 two bytes");
    oauth2_redirect_free(&rd);

    tap_int(parse("GET /?code&state=s HTTP/1.1\r\n", &rd), 0, "code without '=': empty, none");
    expect_none(&rd, "code without '='");
    tap_int(parse("GET /?code=&error=&state=s HTTP/1.1\r\n", &rd), 0, "empty code and error");
    expect_none(&rd, "empty code and error");
    tap_int(parse("GET /?a=1&&b&=&state=s&code=z& HTTP/1.1\r\n", &rd), 1,
            "empty pieces of the query");
    tap_str(rd.code, "z", "code after empty pieces");
    oauth2_redirect_free(&rd);

    /* only the first line counts, and only len bytes of it */
    const char *two = "GET /?code=c HTTP/1.1\r\nX: GET /?code=d&state=s HTTP/1.1\r\n";
    tap_int(oauth2_parse_redirect(two, strlen(two), &rd), 1, "first line only");
    tap_str(rd.code, "c", "code of the first line");
    tap_ok(rd.state == NULL, "state of the second line not taken");
    oauth2_redirect_free(&rd);
    const char *cut = "GET /?code=abc&state=xyz HTTP/1.1";
    tap_int(oauth2_parse_redirect(cut, strlen(cut) - 1, &rd), -1, "len cuts the version");
    expect_none(&rd, "cut version");
    tap_int(oauth2_parse_redirect(cut, 20, &rd), -1, "len cuts the target");
}

static void test_other_pages(void)
{
    expect_kind("GET /favicon.ico HTTP/1.1\r\nHost: x\r\n\r\n", 0, "favicon: another page");
    expect_kind("GET /favicon.ico?code=c&state=s HTTP/1.1\r\n", 0,
                "code on another path: not the redirect");
    expect_kind("GET / HTTP/1.1\r\n", 0, "the root without a query");
    expect_kind("GET /? HTTP/1.1\r\n", 0, "empty query");
    expect_kind("GET /?state=s HTTP/1.1\r\n", 0, "state alone");
    expect_kind("GET /?error_description=x&state=s HTTP/1.1\r\n", 0,
                "a description without error");
    expect_kind("GET //?code=c HTTP/1.1\r\n", 0, "path \"//\"");
}

static void test_malformed(void)
{
    expect_kind("", -1, "empty");
    expect_kind("\r\n", -1, "empty line");
    expect_kind("POST /?code=c&state=s HTTP/1.1\r\n", -1, "POST");
    expect_kind("get /?code=c&state=s HTTP/1.1\r\n", -1, "lower-case method");
    expect_kind("HEAD /?code=c HTTP/1.1\r\n", -1, "HEAD");
    expect_kind("GET http://127.0.0.1:1/?code=c HTTP/1.1\r\n", -1, "absolute form");
    expect_kind("GET * HTTP/1.1\r\n", -1, "asterisk form");
    expect_kind("GET /?code=c HTTP/2\r\n", -1, "HTTP/2");
    expect_kind("GET /?code=c HTTP/1.x\r\n", -1, "version not a digit");
    expect_kind("GET /?code=c\r\n", -1, "HTTP/0.9 (no version)");
    expect_kind("GET  /?code=c HTTP/1.1\r\n", -1, "two spaces");
    expect_kind("GET /?code=c d HTTP/1.1\r\n", -1, "space in the target");
    expect_kind("GET /?code=c\td HTTP/1.1\r\n", -1, "tab in the target");
    expect_kind("GET /?code=c\x7f HTTP/1.1\r\n", -1, "DEL in the target");
    expect_kind("GET /?code=c HTTP/1.1 \r\n", -1, "space after the version");
    expect_kind("GET /?code=c&code=d&state=s HTTP/1.1\r\n", -1, "code twice");
    expect_kind("GET /?code=c&state=s&state=s HTTP/1.1\r\n", -1, "state twice");
    expect_kind("GET /?error=a&error=b&state=s HTTP/1.1\r\n", -1, "error twice");
    expect_kind("GET /?code=&code=c&state=s HTTP/1.1\r\n", -1, "code twice, once empty");
    expect_kind("GET /?code=%zz&state=s HTTP/1.1\r\n", -1, "bad percent digits");
    expect_kind("GET /?code=c%4&state=s HTTP/1.1\r\n", -1, "percent cut short");
    expect_kind("GET /?state=s&code=c% HTTP/1.1\r\n", -1, "percent at the end");
    expect_kind("GET /?code=a%00b&state=s HTTP/1.1\r\n", -1, "%00");
    expect_kind("GET /?co%zzde=c HTTP/1.1\r\n", -1, "bad percent in a name");
    struct oauth2_redirect rd;
    tap_int(parse("GET /?x=%00%zz&code=c HTTP/1.1\r\n", &rd), 1,
            "the value of another parameter is not looked at");
    tap_str(rd.code, "c", "code beside a broken other value");
    oauth2_redirect_free(&rd);
    const char nul[] = "GET /?code=a\0b&state=s HTTP/1.1\r\n";
    tap_int(oauth2_parse_redirect(nul, sizeof nul - 1, &rd), -1, "NUL byte in the line");
    expect_none(&rd, "NUL byte");
}

/* ---- oauth2_authorize ---- */

static struct config *cfg;

/* The account "acct" of configuration text. */
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
/* Endpoints nobody answers at (the discard port): nothing may reach them. */
#define GENERIC ACCT "auth xoauth2\noauth2_provider generic\noauth2_client_id cid\n" \
    "oauth2_auth_endpoint https://127.0.0.1:9/authorize\n" \
    "oauth2_token_endpoint https://127.0.0.1:9/token\n"

static void authorize_refused(const char *text, bool device, enum result_class cls,
                              const char *want, const char *what)
{
    struct result r = RESULT_INIT;
    char name[160];
    snprintf(name, sizeof name, "%s: refused", what);
    tap_int(oauth2_authorize(account_of(text), device, 30, &r), -1, name);
    snprintf(name, sizeof name, "%s: class", what);
    tap_int(r.cls, cls, name);
    snprintf(name, sizeof name, "%s: message", what);
    tap_str(r.msg, want, name);
    result_clear(&r);
}

static void test_authorize_refusals(void)
{
    authorize_refused(ACCT "auth plain\npassword x\n", false, RC_CONFIG,
                      "test.rc:1: account acct has no oauth2_provider, so there is nothing to "
                      "authorize: smtpfwd gets a token itself only for an account with "
                      "oauth2_provider (see smtprc(5), OAUTH2)",
                      "no oauth2_provider");
#if SMTPFWD_OAUTH2
    authorize_refused(ACCT "auth xoauth2\noauth2_provider gmail\noauth2_client_id cid\n"
                      "oauth2_client_secret s\n", true, RC_USAGE,
                      "the provider of account acct (gmail) offers no device flow for mail; "
                      "authorize in a web browser instead: smtpfwd --authorize acct",
                      "gmail --device");
    authorize_refused(GENERIC, true, RC_CONFIG,
                      "test.rc:1: account acct has no oauth2_device_endpoint for --device; set "
                      "it, or authorize in a web browser: smtpfwd --authorize acct",
                      "generic --device without a device endpoint");
#else
    /* before anything is printed or asked of the user */
    authorize_refused(GENERIC, false, RC_UNAVAILABLE,
                      "test.rc:1: account acct: this smtpfwd was built without OAuth2 support "
                      "(libcurl and json-c), so it cannot authorize",
                      "built without OAuth2");
#endif
}

#if SMTPFWD_OAUTH2
/* The value of query parameter name in url (percent-encoded as it is),
 * or NULL. Caller frees. */
static char *query_param(const char *url, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = strchr(url, '?'); p && *p; p = strchr(p + 1, '&')) {
        if (strncmp(p + 1, name, n) == 0 && p[1 + n] == '=') {
            const char *v = p + 2 + n;
            return strndup(v, strcspn(v, "& \n"));
        }
    }
    return NULL;
}

/* The scripted browser (a child process): sends one request to
 * 127.0.0.1:port and writes "STATUS-LINE\n" of the answer to fd out. */
static void browser_get(int port, const char *target, int out)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char buf[2048];
    size_t len = 0;
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
        int n = snprintf(buf, sizeof buf, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n",
                         target, port);
        if (write(fd, buf, (size_t)n) == n) {
            ssize_t k;
            struct pollfd p = { .fd = fd, .events = POLLIN };
            while (len < sizeof buf - 1 && poll(&p, 1, 20000) > 0
                   && (k = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
                len += (size_t)k;
        }
    }
    if (fd >= 0)
        close(fd);
    buf[len] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    dprintf(out, "%s\n", buf);
}

/* The child: waits for the instructions in the file at path (the parent's
 * standard output), then plays the browser: a wrong state, a favicon, and
 * the provider's refusal with the right state. */
static void browser(const char *path, int out)
{
    char text[8192] = "";
    const char *mark = "comes back to http://127.0.0.1:";
    for (int tries = 0; tries < 2000 && !strstr(text, mark); tries++) {
        FILE *f = fopen(path, "r");
        if (f) {
            size_t n = fread(text, 1, sizeof text - 1, f);
            text[n] = '\0';
            fclose(f);
        }
        if (!strstr(text, mark))
            poll(NULL, 0, 10);
    }
    const char *at = strstr(text, mark);
    char *url = strstr(text, "  https://") ? strndup(strstr(text, "  https://") + 2,
                                                     strcspn(strstr(text, "  https://") + 2, "\n"))
                                           : NULL;
    char *state = url ? query_param(url, "state") : NULL;
    if (!at || !state) {
        dprintf(out, "no instructions\n");
        _exit(1);
    }
    int port = atoi(at + strlen(mark));
    char target[512];
    snprintf(target, sizeof target, "/?code=c1&state=%s-wrong", state);
    browser_get(port, target, out);
    browser_get(port, "/favicon.ico", out);
    snprintf(target, sizeof target,
             "/?error=access_denied&error_description=no%%1b%%5B31m+way&state=%s", state);
    browser_get(port, target, out);
    free(url);
    free(state);
    _exit(0);
}

static void test_authorize_browser_wait(void)
{
    const char *dir = tu_tmpdir("oauth2-authorize");
    char *outpath = tu_write_file(dir, "stdout", "", 0600);
    int pipefd[2];
    if (pipe(pipefd) != 0) {
        printf("Bail out! pipe\n");
        exit(99);
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(pipefd[0]);
        browser(outpath, pipefd[1]);
    }
    close(pipefd[1]);

    /* the parent's standard output goes to the file while it waits */
    const struct account *a = account_of(GENERIC "oauth2_scope mail send\n");
    int saved = dup(1);
    FILE *f = fopen(outpath, "w");
    dup2(fileno(f), 1);
    struct result r = RESULT_INIT;
    int rc = oauth2_authorize(a, false, 60, &r);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    fclose(f);

    tap_int(rc, -1, "browser flow: the provider's error ends it");
    tap_int(r.cls, RC_NOPERM, "browser flow: error=access_denied is RC_NOPERM");
    tap_str(r.msg, "the authorization was refused: access_denied (no\\x1b[31m way)",
            "browser flow: the provider's words, escaped");
    result_clear(&r);
    char replies[1024];
    size_t n = 0;
    ssize_t k;
    while (n < sizeof replies - 1 && (k = read(pipefd[0], replies + n, sizeof replies - 1 - n)) > 0)
        n += (size_t)k;
    replies[n] = '\0';
    close(pipefd[0]);
    int status = -1;
    waitpid(pid, &status, 0);
    tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "browser flow: the browser saw it all");
    tap_str(replies, "HTTP/1.1 400 Bad Request\nHTTP/1.1 404 Not Found\nHTTP/1.1 403 Forbidden\n",
            "browser flow: 400 for a wrong state, 404 for another page, 403 for the refusal");

    /* what was printed: the URL with every parameter the flow needs */
    struct file_data fd;
    char *text = NULL;
    if (util_read_file(outpath, 1 << 20, false, &fd) == 0) {
        text = strndup(fd.data, fd.len);
        util_file_free(&fd);
    }
    const char *u = text ? strstr(text, "  https://127.0.0.1:9/authorize?") : NULL;
    tap_ok(u != NULL, "the authorization URL is printed");
    char *url = u ? strndup(u + 2, strcspn(u + 2, "\n")) : strdup("");
    static const char *const want[][2] = {
        { "response_type", "code" },
        { "client_id", "cid" },
        { "scope", "mail%20send" },
        { "code_challenge_method", "S256" },
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char *v = query_param(url, want[i][0]);
        char what[96];
        snprintf(what, sizeof what, "URL: %s", want[i][0]);
        tap_str(v, want[i][1], what);
        free(v);
    }
    char *state = query_param(url, "state");
    char *challenge = query_param(url, "code_challenge");
    char *redirect = query_param(url, "redirect_uri");
    tap_ok(state && strlen(state) == 22, "URL: a state of 16 random bytes");
    tap_ok(challenge && strlen(challenge) == 43, "URL: an S256 challenge (32 bytes)");
    tap_ok(redirect && strncmp(redirect, "http%3A%2F%2F127.0.0.1%3A", 25) == 0
               && strcmp(redirect + strlen(redirect) - 3, "%2F") == 0,
           "URL: redirect_uri http://127.0.0.1:PORT/");
    tap_ok(!query_param(url, "access_type") && !query_param(url, "login_hint"),
           "URL: no provider extras for generic");
    tap_ok(text && !strstr(text, "code_verifier"), "no code verifier printed");
    free(state);
    free(challenge);
    free(redirect);
    free(url);
    free(text);
    free(outpath);
    tu_rmtree(dir);
}
#endif

int main(void)
{
    test_redirects();
    test_other_pages();
    test_malformed();
    test_authorize_refusals();
#if SMTPFWD_OAUTH2
    test_authorize_browser_wait();
#endif
    if (cfg)
        config_free(cfg);
    return tap_done();
}
