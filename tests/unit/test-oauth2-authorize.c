/*
 * test-oauth2-authorize.c - unit tests for oauth2_parse_redirect (the
 * request line a browser brings to the loopback redirect of
 * --authorize): the redirect with a code or an error, percent-decoding,
 * other pages, and every malformed line refused.
 */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include "oauth2.h"
#include "tap.h"

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

int main(void)
{
    test_redirects();
    test_other_pages();
    test_malformed();
    return tap_done();
}
