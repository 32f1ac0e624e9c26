/*
 * test-reply.c - unit tests for the SMTP reply level: the strict reply
 * line parser, xtext, the capped EHLO capability parser, and one check
 * of the session that no server can provoke: a message file shorter than
 * its recorded size under CHUNKING (against a one-purpose peer in a child).
 *
 * Whole sessions against a scripted server (greeting, capabilities,
 * malformed replies, pipelining, dot-stuffing, refusals, LMTP, AUTH,
 * CHUNKING, timeouts and disconnects) are data-file cases run with
 * tests/smtpd-script (tests/data/README).
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conn.h"
#include "reply.h"
#include "result.h"
#include "smtp.h"
#include "tap.h"
#include "util.h"

static bool has(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

/* ---------------------------------------------------------------- */
/* reply line parser */

static void check_line_ok(const char *line, int want_code, bool want_more, const char *want_text)
{
    struct result r = RESULT_INIT;
    int code;
    bool more;
    const char *text;
    char what[256];
    int rc = reply_parse_line(line, strlen(line), &code, &more, &text, &r);
    snprintf(what, sizeof what, "valid line \"%s\"", line);
    tap_ok(rc == 0 && code == want_code && more == want_more && text
           && strcmp(text, want_text) == 0, what);
    result_clear(&r);
}

static void check_line_bad(const char *line, size_t len, const char *label, const char *quote)
{
    struct result r = RESULT_INIT;
    int code;
    bool more;
    const char *text;
    char what[256];
    int rc = reply_parse_line(line, len, &code, &more, &text, &r);
    snprintf(what, sizeof what, "invalid line rejected: %s", label);
    tap_ok(rc == -1 && r.cls == RC_PROTOCOL, what);
    if (quote) {
        snprintf(what, sizeof what, "message quotes the line: %s", label);
        tap_ok(has(r.msg, quote), what);
        if (!has(r.msg, quote))
            printf("#   message: %s\n", r.msg ? r.msg : "(null)");
    }
    result_clear(&r);
}

static void test_parse(void)
{
    check_line_ok("250 OK", 250, false, "OK");
    check_line_ok("250-PIPELINING", 250, true, "PIPELINING");
    check_line_ok("250", 250, false, "");
    check_line_ok("250 ", 250, false, "");
    check_line_ok("554 5.7.1 tab\there", 554, false, "5.7.1 tab\there");
    check_line_ok("250 h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x93\xa7", 250, false,
                  "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x93\xa7");
    check_line_ok("599 x", 599, false, "x");

    check_line_bad("150 continue", 12, "1xx", "150 continue");
    check_line_bad("600 x", 5, "6xx", NULL);
    check_line_bad("099 x", 5, "0xx", NULL);
    check_line_bad("25", 2, "too short", NULL);
    check_line_bad("", 0, "empty", NULL);
    check_line_bad("2a0 x", 5, "letter in code", NULL);
    check_line_bad("250x", 4, "no separator", NULL);
    check_line_bad("250\tx", 5, "tab separator", NULL);
    check_line_bad("250 a\x01" "b", 7, "control char", "250 a\\x01b");
    check_line_bad("250 a\x7f", 6, "DEL", NULL);
    check_line_bad("250 a\rb", 7, "CR inside", "\\x0d");
    check_line_bad("250 a\0b", 7, "NUL inside", "\\x00");
    check_line_bad("250 \xff", 5, "invalid UTF-8", "\\xff");
    check_line_bad("250 \xc0\xaf", 6, "overlong UTF-8", NULL);
    check_line_bad("250 \xed\xa0\x80", 7, "UTF-16 surrogate", NULL);
    check_line_bad("250 \xc3", 5, "truncated UTF-8", NULL);
    check_line_bad("250 \xc2\x85", 6, "C1 control (NEL)", NULL);
    check_line_bad("\x1b[31m250 x", 10, "escape sequence", "\\x1b");

    char *longl = xmalloc(REPLY_MAX_LINE + 2);
    memcpy(longl, "250 ", 4);
    memset(longl + 4, 'a', REPLY_MAX_LINE - 4);
    longl[REPLY_MAX_LINE] = '\0';
    struct result r = RESULT_INIT;
    int code;
    bool more;
    const char *text;
    tap_ok(reply_parse_line(longl, REPLY_MAX_LINE, &code, &more, &text, &r) == 0,
           "line of exactly REPLY_MAX_LINE octets accepted");
    longl[REPLY_MAX_LINE] = 'a';
    longl[REPLY_MAX_LINE + 1] = '\0';
    check_line_bad(longl, REPLY_MAX_LINE + 1, "one octet over REPLY_MAX_LINE", NULL);
    free(longl);
    result_clear(&r);
}

static void test_xtext(void)
{
    char *x = smtp_xtext("abc-123@example.org");
    tap_str(x, "abc-123@example.org", "xtext: plain characters unchanged");
    free(x);
    x = smtp_xtext("a+b=c d");
    tap_str(x, "a+2Bb+3Dc+20d", "xtext: '+', '=', space encoded");
    free(x);
    x = smtp_xtext("\xc3\xa9\r\n~!");
    tap_str(x, "+C3+A9+0D+0A~!", "xtext: non-ASCII and controls encoded, ~ and ! kept");
    free(x);
    x = smtp_xtext("");
    tap_str(x, "", "xtext: empty");
    free(x);
}

/* What an EHLO reply can make the parser keep is capped, and the work is
 * linear: a reply with thousands of distinct mechanisms costs no more
 * than reading it. */
static void test_caps_limits(void)
{
    struct smtp_caps caps = { 0 };
    reply_parse_caps(&caps, "250-mx.test\n250-AUTH PLAIN X-ABCDEFGHIJKLMNOPQRSTUVWXYZ B@D "
                            "login\t=\n250-AUTH LOGIN cram-md5\n250 SIZE 99999999999999999999");
    tap_str(caps.auth, "PLAIN LOGIN CRAM-MD5",
            "caps: mechanism names longer than 20 or with other characters are skipped");
    tap_ok(caps.size && caps.size_max == 0, "caps: an absurd SIZE means no announced limit");
    reply_caps_clear(&caps);

    struct buf b = BUF_INIT;
    buf_puts(&b, "250-mx.test");
    for (int i = 0; i < 2000; i++) {
        buf_puts(&b, "\n250-AUTH");
        for (int j = 0; j < 300; j++)
            buf_printf(&b, " M%d_%d", i, j);
    }
    buf_puts(&b, "\n250 PIPELINING");
    reply_parse_caps(&caps, b.data);
    tap_int(caps.nauth, REPLY_MAX_AUTH_MECHS, "caps: at most REPLY_MAX_AUTH_MECHS mechanisms kept");
    size_t words = 0;
    for (const char *p = caps.auth; p && *p; p++)
        words += *p == ' ';
    tap_int((long long)words + 1, REPLY_MAX_AUTH_MECHS, "  ... and that many in the list");
    tap_ok(caps.auth_words <= REPLY_MAX_AUTH_WORDS, "caps: AUTH words looked at are capped");
    tap_int(caps.ncaplines, REPLY_MAX_CAP_LINES, "caps: keyword lines looked at are capped");
    tap_ok(!caps.pipelining, "  ... so a keyword after the cap is not seen");
    /* the same again: the counts carry over until reply_caps_clear */
    reply_parse_caps(&caps, b.data);
    tap_int(caps.nauth, REPLY_MAX_AUTH_MECHS, "caps: a second EHLO reply adds nothing past the caps");
    reply_caps_clear(&caps);
    tap_ok(caps.auth == NULL && caps.nauth == 0 && caps.ncaplines == 0,
           "reply_caps_clear resets the counts");
    buf_free(&b);
}

/* ---------------------------------------------------------------- */
/* a message file shorter than its recorded size */

/* The server side of test_chunking_short_file, in a child: the greeting,
 * the EHLO reply once EHLO has arrived, then nothing; everything the
 * client sent is passed on through out when the client has closed. */
static void short_file_server(int fd, int out)
{
    static const char greeting[] = "220 test.example ESMTP\r\n";
    static const char ehlo[] = "250-test.example\r\n250-PIPELINING\r\n250-CHUNKING\r\n"
                               "250 8BITMIME\r\n";
    struct buf got = BUF_INIT;
    char tmp[4096];
    ssize_t n;
    bool answered = false;
    if (write_all(fd, greeting, sizeof greeting - 1) != 0)
        _exit(1);
    while ((n = read(fd, tmp, sizeof tmp)) > 0) {
        buf_append(&got, tmp, (size_t)n);
        if (!answered && memchr(got.data, '\n', got.len)) {
            answered = true;
            if (write_all(fd, ehlo, sizeof ehlo - 1) != 0)
                _exit(1);
        }
    }
    if (got.len)
        (void)write_all(out, got.data, got.len);
    _exit(0);
}

/* With CHUNKING the size is announced in "BDAT n LAST" before the file is
 * read: a file that has shrunk since cannot keep that promise. No server
 * can make the file shrink, so this is no data-file case. */
static void test_chunking_short_file(void)
{
    int sv[2], pp[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0 || pipe(pp) != 0) {
        perror("socketpair/pipe");
        exit(99);
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(99);
    }
    if (pid == 0) {
        close(sv[0]);
        close(pp[0]);
        short_file_server(sv[1], pp[1]);
    }
    close(sv[1]);
    close(pp[1]);

    const char body[] = "Subject: c\r\n\r\n.lead\r\n.\r\n..\r\nend\r\n";
    char path[] = "/tmp/test-reply-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || write_all(fd, body, sizeof body - 1) != 0)
        exit(99);
    unlink(path);

    static const struct smtp_params params = {
        .helo_domain = "client.example", .timeout_s = 5, .chunking = true,
    };
    struct conn *c = conn_from_fd(sv[0]);
    struct smtp_session *s = smtp_new(c, &params);
    struct result r = RESULT_INIT;
    tap_int(smtp_open(s, &r), 0, "file shorter than its size: session opened");
    struct smtp_rcpt rcpts[1] = { { .addr = "a@example.org" } };
    struct smtp_message m = {
        .sender = "me@example.org", .rcpts = rcpts, .nrcpts = 1, .fd = fd,
        .size = (long long)sizeof body - 1 + 5, .last = true,
    };
    tap_int(smtp_send_message(s, &m, &r), -1, "file shorter than its size: smtp_send_message fails");
    tap_int(r.cls, RC_IOERR, "file shorter than its size: RC_IOERR");
    tap_ok(has(r.msg, "recorded size"), "file shorter than its size: the message says so");
    if (!has(r.msg, "recorded size"))
        printf("#   msg=%s\n", r.msg ? r.msg : "(none)");
    tap_ok(!smtp_alive(s), "file shorter than its size: session closed");
    smtp_quit(s);
    smtp_free(s);
    conn_close(c);

    struct buf got = BUF_INIT;
    char tmp[4096];
    ssize_t n;
    while ((n = read(pp[0], tmp, sizeof tmp)) > 0)
        buf_append(&got, tmp, (size_t)n);
    close(pp[0]);
    waitpid(pid, NULL, 0);
    char *text = buf_steal(&got);
    tap_str(text, "EHLO client.example\r\n",
            "file shorter than its size: the unsent group (MAIL, RCPT, BDAT) is dropped with the connection");
    tap_ok(!has(text, "QUIT"), "file shorter than its size: no QUIT after the short chunk (it would be data)");
    free(text);
    free(rcpts[0].reply);
    free(m.final_reply);
    close(fd);
    result_clear(&r);
}

int main(void)
{
    test_parse();
    test_xtext();
    test_caps_limits();
    test_chunking_short_file();
    return tap_done();
}
