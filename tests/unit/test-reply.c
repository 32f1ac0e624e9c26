/*
 * test-reply.c - unit tests for the SMTP library level: the strict reply
 * line parser, xtext, and whole sessions driven over a socketpair
 * against a tiny scripted peer in a forked child (greeting, EHLO
 * capabilities, malformed replies, pipelining in one write, dot-stuffing
 * across read-chunk boundaries, partial refusal, QUIT after ".", LMTP,
 * timeouts and disconnects).
 */
#include <config.h>

#include <errno.h>
#include <poll.h>
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

/* ---------------------------------------------------------------- */
/* the scripted peer */

/* Peer actions: 'S' send arg; 'L' read arg[0]-'0' more lines; 'C' one
 * read() whose size is reported (pipelining check); 'D' read through the
 * end of data "\r\n.\r\n"; 'E' read to EOF; 'W' wait arg ms. */
struct act {
    char op;
    const char *arg;
};
#define ACT_END { 0, NULL }

struct peer {
    pid_t pid;
    int rfd;
};

static const char GREET[] = "220 test.example ESMTP\r\n";

static int peer_read(int fd, struct buf *got)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (poll(&p, 1, 10000) <= 0)
        return -1;
    char tmp[65536];
    ssize_t n = read(fd, tmp, sizeof tmp);
    if (n > 0)
        buf_append(got, tmp, (size_t)n);
    return (int)n;
}

static size_t count_lines(const struct buf *b, size_t from)
{
    size_t n = 0;
    for (size_t i = from; i < b->len; i++)
        if (b->data[i] == '\n')
            n++;
    return n;
}

static void peer_child(int fd, const struct act *acts, int out)
{
    struct buf got = BUF_INIT;
    size_t consumed = 0;
    long long chunk = -1;
    for (const struct act *a = acts; a->op; a++) {
        switch (a->op) {
        case 'S':
            if (write_all(fd, a->arg, strlen(a->arg)) != 0)
                goto done;
            break;
        case 'W':
            usleep((useconds_t)atoi(a->arg) * 1000);
            break;
        case 'L': {
            size_t want = (size_t)atoi(a->arg);
            while (count_lines(&got, consumed) < want)
                if (peer_read(fd, &got) <= 0)
                    goto done;
            for (size_t k = 0; k < want; k++)
                consumed = (size_t)((char *)memchr(got.data + consumed, '\n',
                                                   got.len - consumed) - got.data) + 1;
            break;
        }
        case 'C': {
            size_t before = got.len;
            if (got.len == consumed && peer_read(fd, &got) <= 0)
                goto done;
            chunk = (long long)(got.len - before);
            if (got.len - consumed > (size_t)chunk)
                chunk = (long long)(got.len - consumed);
            consumed = got.len;
            break;
        }
        case 'D':
            for (;;) {
                char *e = got.data ? memmem(got.data + consumed, got.len - consumed,
                                            "\r\n.\r\n", 5) : NULL;
                if (e) {
                    consumed = (size_t)(e - got.data) + 5;
                    break;
                }
                if (peer_read(fd, &got) <= 0)
                    goto done;
            }
            break;
        case 'E':
            while (peer_read(fd, &got) > 0)
                ;
            break;
        }
    }
done:
    dprintf(out, "%lld\n", chunk);
    if (got.len)
        (void)write_all(out, got.data, got.len);
}

static struct conn *peer_start(const struct act *acts, struct peer *p)
{
    int sv[2], pp[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0 || pipe(pp) != 0) {
        perror("socketpair/pipe");
        exit(99);
    }
    fflush(stdout);
    p->pid = fork();
    if (p->pid == 0) {
        close(sv[0]);
        close(pp[0]);
        peer_child(sv[1], acts, pp[1]);
        _exit(0);
    }
    close(sv[1]);
    close(pp[1]);
    p->rfd = pp[0];
    return conn_from_fd(sv[0]);
}

/* Close our end, collect what the peer received. *chunk gets the size
 * of the 'C' read (-1 if none). Caller frees. */
static char *peer_finish(struct peer *p, struct conn *c, long long *chunk)
{
    conn_close(c);
    struct buf b = BUF_INIT;
    char tmp[65536];
    ssize_t n;
    while ((n = read(p->rfd, tmp, sizeof tmp)) > 0)
        buf_append(&b, tmp, (size_t)n);
    close(p->rfd);
    int st;
    waitpid(p->pid, &st, 0);
    char *data = buf_steal(&b);
    char *nl = strchr(data, '\n');
    long long ch = atoll(data);
    if (chunk)
        *chunk = ch;
    char *rest = xstrdup(nl ? nl + 1 : "");
    free(data);
    return rest;
}

static int message_file(const char *content, size_t len)
{
    char path[] = "/tmp/test-reply-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        perror("mkstemp");
        exit(99);
    }
    unlink(path);
    if (write_all(fd, content, len) != 0)
        exit(99);
    return fd;
}

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

/* ---------------------------------------------------------------- */
/* sessions */

static const struct smtp_params PARAMS = { .helo_domain = "client.example", .timeout_s = 5 };

/* Open a session against acts; returns smtp_open's status. */
static int open_session(const struct act *acts, const struct smtp_params *p, struct peer *pe,
                        struct conn **c, struct smtp_session **s, struct result *r)
{
    *c = peer_start(acts, pe);
    *s = smtp_new(*c, p ? p : &PARAMS);
    return smtp_open(*s, r);
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

static void test_greeting_caps(void)
{
    static const struct act acts[] = {
        { 'S', "220-test.example ESMTP\r\n220-second line\r\n220 ready\r\n" },
        { 'L', "1" },
        { 'S', "250-test.example hello\r\n250-pipelining\r\n250-Size 1000\r\n"
               "250-AUTH=LOGIN\r\n250-auth plain login Cram-MD5\r\n250-8BITMIME\r\n"
               "250-DSN\r\n250-SMTPUTF8\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n"
               "250-SIZEX\r\n250 CHUNKING\r\n" },
        { 'E', NULL },
        ACT_END,
    };
    struct peer pe;
    struct conn *c;
    struct smtp_session *s;
    struct result r = RESULT_INIT;
    int rc = open_session(acts, NULL, &pe, &c, &s, &r);
    tap_int(rc, 0, "multi-line greeting and EHLO accepted");
    const struct smtp_caps *caps = smtp_caps(s);
    tap_ok(caps->esmtp, "caps: esmtp");
    tap_ok(caps->pipelining, "caps: PIPELINING (lowercase)");
    tap_ok(caps->size && caps->size_max == 1000, "caps: SIZE 1000 (mixed case)");
    tap_str(caps->auth, "LOGIN PLAIN CRAM-MD5", "caps: AUTH= and AUTH merged, uppercased, deduplicated");
    tap_ok(caps->eightbitmime && caps->dsn && caps->smtputf8 && caps->starttls
           && caps->enhancedstatuscodes && caps->chunking, "caps: the other keywords");
    tap_ok(has(smtp_greeting(s), "220-test.example ESMTP\n220-second line\n220 ready"),
           "greeting text kept with all lines");
    smtp_free(s);
    char *got = peer_finish(&pe, c, NULL);
    tap_str(got, "EHLO client.example\r\n", "client sent EHLO with the helo domain");
    free(got);
    result_clear(&r);
}

struct bad_case {
    const char *label;
    const char *greeting;     /* sent first */
    const char *ehlo_reply;   /* sent after EHLO, or NULL */
    const char *quote;        /* must appear in the message */
};

static void test_malformed(void)
{
    static char many[ (REPLY_MAX_LINES + 2) * 8 + 64 ];
    size_t o = 0;
    for (int i = 0; i < REPLY_MAX_LINES + 1; i++)
        o += (size_t)sprintf(many + o, "250-x%d\r\n", i % 10);
    sprintf(many + o, "250 end\r\n");

    static char longline[REPLY_MAX_LINE + 64];
    memcpy(longline, "250-", 4);
    memset(longline + 4, 'z', REPLY_MAX_LINE + 10);
    memcpy(longline + 4 + REPLY_MAX_LINE + 10, "\r\n250 ok\r\n", 11);

    const struct bad_case cases[] = {
        { "bad code in greeting", "22O hello\r\n", NULL, "22O hello" },
        { "1xx greeting", "120 wait\r\n", NULL, "120 wait" },
        { "mixed codes in multi-line", GREET, "250-a\r\n251 b\r\n", "251 b" },
        { "control character", GREET, "250-a\r\n250 b\x07\r\n", "\\x07" },
        { "over-long line", GREET, longline, "zzzz" },
        { "too many lines", GREET, many, "256 lines" },
        { "garbage after code", GREET, "250+ok\r\n", "250+ok" },
        { "greeting 250 instead of 220", "250 hi\r\n", NULL, "250 hi" },
        { "two replies where one is due", "220 hi\r\n220 again\r\n", NULL, NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct bad_case *bc = &cases[i];
        struct act acts[] = {
            { 'S', bc->greeting },
            { bc->ehlo_reply ? 'L' : 'E', "1" },
            { 'S', bc->ehlo_reply ? bc->ehlo_reply : "" },
            { 'E', NULL },
            ACT_END,
        };
        struct peer pe;
        struct conn *c;
        struct smtp_session *s;
        struct result r = RESULT_INIT;
        if (!bc->ehlo_reply)
            acts[2].op = 0;
        int rc = open_session(acts, NULL, &pe, &c, &s, &r);
        char what[160];
        snprintf(what, sizeof what, "malformed (%s): RC_PROTOCOL", bc->label);
        tap_ok(rc == -1 && r.cls == RC_PROTOCOL, what);
        if (rc != -1 || r.cls != RC_PROTOCOL)
            printf("#   rc=%d cls=%d msg=%s\n", rc, r.cls, r.msg ? r.msg : "");
        if (bc->quote) {
            snprintf(what, sizeof what, "malformed (%s): message quotes the reply", bc->label);
            tap_ok(has(r.msg, bc->quote), what);
            if (!has(r.msg, bc->quote))
                printf("#   msg=%s\n", r.msg ? r.msg : "");
        }
        snprintf(what, sizeof what, "malformed (%s): session is dead", bc->label);
        tap_ok(!smtp_alive(s), what);
        smtp_quit(s);
        smtp_free(s);
        char *got = peer_finish(&pe, c, NULL);
        snprintf(what, sizeof what, "malformed (%s): nothing sent after the bad reply", bc->label);
        tap_ok(!has(got, "QUIT") && !has(got, "MAIL"), what);
        free(got);
        result_clear(&r);
    }
}

static const char EHLO_PIPE[] =
    "250-test.example\r\n250-PIPELINING\r\n250-SIZE 100000000\r\n250-8BITMIME\r\n"
    "250 ENHANCEDSTATUSCODES\r\n";

static void test_pipelining_partial(void)
{
    static const struct act acts[] = {
        { 'S', GREET },
        { 'L', "1" },
        { 'S', EHLO_PIPE },
        { 'C', NULL },
        { 'S', "250 2.1.0 ok\r\n250 2.1.5 ok\r\n"
               "550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown\r\n"
               "250 2.1.5 ok\r\n354 go ahead\r\n" },
        { 'D', NULL },
        { 'S', "250 2.0.0 queued as ABC\r\n" },
        { 'E', NULL },
        ACT_END,
    };
    const char body[] = "Subject: hi\r\n\r\n.leading dot\r\nmiddle . dot\r\n..two\r\n.\r\nend\r\n";
    int fd = message_file(body, sizeof body - 1);
    struct peer pe;
    struct conn *c;
    struct smtp_session *s;
    struct result r = RESULT_INIT;
    int rc = open_session(acts, NULL, &pe, &c, &s, &r);
    tap_int(rc, 0, "pipelining: session opened");
    struct smtp_rcpt rcpts[3] = {
        { .addr = "a@example.org" }, { .addr = "nobody@example.org" }, { .addr = "b@example.org" },
    };
    struct smtp_message m = {
        .sender = "me@example.org", .rcpts = rcpts, .nrcpts = 3, .fd = fd,
        .size = (long long)sizeof body - 1, .body_8bit = true, .last = true,
    };
    rc = smtp_send_message(s, &m, &r);
    tap_int(rc, 0, "partial refusal: message accepted for the others");
    tap_int(rcpts[0].status, RCPT_DELIVERED, "partial refusal: first recipient delivered");
    tap_int(rcpts[1].status, RCPT_PERMFAIL, "partial refusal: refused recipient is PERMFAIL");
    tap_int(rcpts[1].code, 550, "partial refusal: refused recipient keeps its code");
    tap_ok(has(rcpts[1].reply, "Recipient address rejected: User unknown"),
           "partial refusal: refused recipient keeps the server's words");
    tap_int(rcpts[2].status, RCPT_DELIVERED, "partial refusal: third recipient delivered");
    tap_int(m.final_code, 250, "final reply code");
    tap_ok(has(m.final_reply, "queued as ABC"), "final reply text");
    tap_ok(!smtp_alive(s), "QUIT went after the last message's reply: session closed");
    smtp_quit(s);
    smtp_free(s);
    long long chunk;
    char *got = peer_finish(&pe, c, &chunk);
    char *group = xasprintf("MAIL FROM:<me@example.org> SIZE=%zu BODY=8BITMIME\r\n"
                            "RCPT TO:<a@example.org>\r\nRCPT TO:<nobody@example.org>\r\n"
                            "RCPT TO:<b@example.org>\r\nDATA\r\n", sizeof body - 1);
    tap_int(chunk, (long long)strlen(group),
            "pipelining: MAIL, RCPTs and DATA arrived in one read, before any reply");
    char *want = xasprintf("EHLO client.example\r\n%s"
                           "Subject: hi\r\n\r\n..leading dot\r\nmiddle . dot\r\n...two\r\n"
                           "..\r\nend\r\n.\r\nQUIT\r\n", group);
    tap_str(got, want, "bytes on the wire: group, stuffed body, dot and QUIT together");
    free(want);
    free(group);
    free(got);
    for (int i = 0; i < 3; i++)
        free(rcpts[i].reply);
    free(m.final_reply);
    close(fd);
    result_clear(&r);
}

/* Reference stuffing, byte by byte. */
static char *stuff_ref(const char *in, size_t n, size_t *outlen)
{
    struct buf b = BUF_INIT;
    bool bol = true;
    for (size_t i = 0; i < n; i++) {
        if (bol && in[i] == '.')
            buf_putc(&b, '.');
        buf_putc(&b, in[i]);
        bol = in[i] == '\n';
    }
    *outlen = b.len;
    return buf_steal(&b);
}

static void test_dot_stuffing_chunks(void)
{
    const size_t CH = 256 * 1024;
    size_t n = 3 * CH + 1000;
    char *body = xmalloc(n);
    /* lines of 'x' ending in CRLF, with special lines placed at the chunk
     * boundaries */
    size_t o = 0;
    while (o < n) {
        size_t line = 70 + (o / 71) % 13;
        for (size_t k = 0; k < line && o < n; k++)
            body[o++] = 'x';
        if (o < n) body[o++] = '\r';
        if (o < n) body[o++] = '\n';
    }
    /* boundary 1: a line ends exactly at CH, the next starts with '.' */
    body[CH - 2] = '\r';
    body[CH - 1] = '\n';
    memcpy(body + CH, ".starts chunk 2\r\n", 17);
    /* boundary 2: CRLF split across it, then '.' */
    body[2 * CH - 1] = '\r';
    body[2 * CH] = '\n';
    memcpy(body + 2 * CH + 1, ".after split crlf\r\n", 19);
    /* boundary 3: a '.' right after the boundary but mid-line: not stuffed */
    memcpy(body + 3 * CH - 3, "mid", 3);
    body[3 * CH] = '.';
    body[0] = '.';
    memcpy(body + n - 5, "\r\n.\r\n", 5);   /* a lone dot line at the very end */
    int fd = message_file(body, n);

    static const struct act acts[] = {
        { 'S', GREET }, { 'L', "1" }, { 'S', EHLO_PIPE },
        { 'L', "3" }, { 'S', "250 ok\r\n250 ok\r\n354 go\r\n" },
        { 'D', NULL }, { 'S', "250 ok\r\n" },
        { 'L', "1" }, { 'S', "221 bye\r\n" },
        { 'E', NULL }, ACT_END,
    };
    struct peer pe;
    struct conn *c;
    struct smtp_session *s;
    struct result r = RESULT_INIT;
    open_session(acts, NULL, &pe, &c, &s, &r);
    struct smtp_rcpt rcpts[1] = { { .addr = "a@example.org" } };
    struct smtp_message m = { .sender = "", .rcpts = rcpts, .nrcpts = 1, .fd = fd,
                              .size = (long long)n, .last = false };
    int rc = smtp_send_message(s, &m, &r);
    tap_int(rc, 0, "large body: delivered");
    tap_ok(smtp_alive(s), "not the last message: session still usable");
    smtp_quit(s);
    tap_ok(!smtp_alive(s), "after smtp_quit: closed");
    smtp_free(s);
    char *got = peer_finish(&pe, c, NULL);
    size_t slen;
    char *stuffed = stuff_ref(body, n, &slen);
    const char *start = strstr(got, "DATA\r\n");
    bool same = start && strlen(start + 6) == slen + 9
                && memcmp(start + 6, stuffed, slen) == 0
                && strcmp(start + 6 + slen, ".\r\nQUIT\r\n") == 0;
    tap_ok(same, "dot-stuffing across 256 KiB chunk boundaries matches the reference");
    tap_ok(has(got, "MAIL FROM:<> SIZE="), "null sender sent as <>");
    free(stuffed);
    free(got);
    free(body);
    free(rcpts[0].reply);
    free(m.final_reply);
    close(fd);
    result_clear(&r);
}

static const char EHLO_PLAIN[] = "250-test.example\r\n250 SIZE\r\n";

/* A transaction against a non-pipelining server; returns the peer's bytes. */
static char *run_txn(const struct act *acts, const struct smtp_params *p,
                     struct smtp_message *m, int *rc, struct result *r, bool *alive,
                     struct smtp_reply *last)
{
    struct peer pe;
    struct conn *c;
    struct smtp_session *s;
    int orc = open_session(acts, p, &pe, &c, &s, r);
    if (orc != 0) {
        *rc = -2;
    } else {
        *rc = smtp_send_message(s, m, r);
    }
    if (alive)
        *alive = smtp_alive(s);
    if (last) {
        const struct smtp_reply *lr = smtp_last_reply(s);
        *last = *lr;
        last->text = lr->text ? xstrdup(lr->text) : NULL;
    }
    smtp_quit(s);
    smtp_free(s);
    return peer_finish(&pe, c, NULL);
}

static void free_rcpts(struct smtp_rcpt *r, size_t n, struct smtp_message *m)
{
    for (size_t i = 0; i < n; i++) {
        free(r[i].reply);
        r[i].reply = NULL;
    }
    free(m->final_reply);
    m->final_reply = NULL;
}

static void test_no_pipelining(void)
{
    static const struct act acts[] = {
        { 'S', GREET }, { 'L', "1" }, { 'S', EHLO_PLAIN },
        { 'C', NULL }, { 'S', "250 ok\r\n" },
        { 'L', "1" }, { 'S', "250 ok\r\n" },
        { 'L', "1" }, { 'S', "354 go\r\n" },
        { 'D', NULL }, { 'S', "250 ok\r\n" },
        { 'L', "1" }, { 'S', "221 bye\r\n" },
        { 'E', NULL }, ACT_END,
    };
    const char body[] = "x\r\n";
    int fd = message_file(body, 3);
    struct smtp_rcpt rcpts[1] = { { .addr = "a@example.org" } };
    struct smtp_message m = { .sender = "me@example.org", .rcpts = rcpts, .nrcpts = 1,
                              .fd = fd, .size = 3, .body_8bit = true };
    int rc;
    struct result r = RESULT_INIT;
    struct peer pe;
    struct conn *c;
    struct smtp_session *s;
    open_session(acts, NULL, &pe, &c, &s, &r);
    rc = smtp_send_message(s, &m, &r);
    tap_int(rc, 0, "no pipelining: delivered");
    smtp_quit(s);
    smtp_free(s);
    long long chunk;
    char *got = peer_finish(&pe, c, &chunk);
    tap_int(chunk, (long long)strlen("MAIL FROM:<me@example.org> SIZE=3\r\n"),
            "no pipelining: MAIL sent alone (and no BODY=8BITMIME without 8BITMIME)");
    tap_str(got, "EHLO client.example\r\nMAIL FROM:<me@example.org> SIZE=3\r\n"
                 "RCPT TO:<a@example.org>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n",
            "no pipelining: one command at a time, QUIT after a non-last message");
    free(got);
    free_rcpts(rcpts, 1, &m);
    close(fd);
    result_clear(&r);
}

static void test_refusals(void)
{
    const char body[] = "x\r\n";
    int fd = message_file(body, 3);
    int rc;
    bool alive;
    struct smtp_reply last;

    /* all refused, pipelined: DATA's 554 ignored, RSET sent */
    {
        static const struct act acts[] = {
            { 'S', GREET }, { 'L', "1" }, { 'S', EHLO_PIPE },
            { 'L', "4" },
            { 'S', "250 ok\r\n550 5.1.1 no such user\r\n553 5.1.3 bad\r\n554 5.5.1 no valid recipients\r\n" },
            { 'L', "1" }, { 'S', "250 reset\r\n" },
            { 'L', "1" }, { 'S', "221 bye\r\n" },
            { 'E', NULL }, ACT_END,
        };
        struct smtp_rcpt rcpts[2] = { { .addr = "x@example.org" }, { .addr = "y@example.org" } };
        struct smtp_message m = { .sender = "me@example.org", .rcpts = rcpts, .nrcpts = 2,
                                  .fd = fd, .size = 3 };
        struct result r = RESULT_INIT;
        char *got = run_txn(acts, NULL, &m, &rc, &r, &alive, &last);
        tap_ok(rc == -1 && r.cls == RC_NOUSER, "all refused with 5xx: RC_NOUSER");
        tap_ok(has(r.msg, "550 5.1.1 no such user") && has(r.msg, "553 5.1.3 bad"),
               "all refused: the message quotes every refusal");
        tap_ok(has(got, "DATA\r\nRSET\r\nQUIT\r\n"), "all refused: RSET after the ignored DATA reply");
        tap_ok(!has(got, "x\r\n.\r\n"), "all refused: no body sent");
        tap_int(last.code, 553, "last decisive reply is the refusal, not RSET/QUIT/DATA");
        free(last.text);
        free(got);
        free_rcpts(rcpts, 2, &m);
        result_clear(&r);
    }
    /* all refused, one of them 4xx: RC_TEMPFAIL */
    {
        static const struct act acts[] = {
            { 'S', GREET }, { 'L', "1" }, { 'S', EHLO_PLAIN },
            { 'L', "1" }, { 'S', "250 ok\r\n" },
            { 'L', "1" }, { 'S', "550 no\r\n" },
            { 'L', "1" }, { 'S', "450 later\r\n" },
            { 'L', "1" }, { 'S', "250 reset\r\n" },
            { 'L', "1" }, { 'S', "221 bye\r\n" },
            { 'E', NULL }, ACT_END,
        };
        struct smtp_rcpt rcpts[2] = { { .addr = "x@example.org" }, { .addr = "y@example.org" } };
        struct smtp_message m = { .sender = "me@example.org", .rcpts = rcpts, .nrcpts = 2,
                                  .fd = fd, .size = 3 };
        struct result r = RESULT_INIT;
        char *got = run_txn(acts, NULL, &m, &rc, &r, &alive, NULL);
        tap_ok(rc == -1 && r.cls == RC_TEMPFAIL, "all refused, one 4xx: RC_TEMPFAIL");
        tap_ok(rcpts[1].status == RCPT_TEMPFAIL && rcpts[1].code == 450, "4xx recipient is TEMPFAIL");
        tap_ok(has(got, "RCPT TO:<y@example.org>\r\nRSET\r\n") && !has(got, "DATA"),
               "no pipelining: no DATA when nobody was accepted, RSET instead");
        free(got);
        free_rcpts(rcpts, 2, &m);
        result_clear(&r);
    }
    /* MAIL refused */
    {
        static const struct act acts[] = {
            { 'S', GREET }, { 'L', "1" }, { 'S', EHLO_PLAIN },
            { 'L', "1" }, { 'S', "553 5.1.8 sender rejected\r\n" },
            { 'L', "1" }, { 'S', "250 reset\r\n" },
            { 'L', "1" }, { 'S', "221 bye\r\n" },
            { 'E', NULL }, ACT_END,
        };
        struct smtp_rcpt rcpts[1] = { { .addr = "x@example.org" } };
        struct smtp_message m = { .sender = "me@example.org", .rcpts = rcpts, .nrcpts = 1,
                                  .fd = fd, .size = 3 };
        struct result r = RESULT_INIT;
        char *got = run_txn(acts, NULL, &m, &rc, &r, &alive, NULL);
        tap_ok(rc == -1 && r.cls == RC_DATAERR, "MAIL 5xx: RC_DATAERR");
        tap_ok(has(r.msg, "553 5.1.8 sender rejected") && has(r.msg, "me@example.org"),
               "MAIL refused: message names the sender and quotes the server");
        tap_ok(has(got, "SIZE=3\r\nRSET\r\n") && !has(got, "RCPT"), "MAIL refused: RSET, no RCPT");
        tap_ok(alive, "MAIL refused: session still usable after RSET");
        free(got);
        free_rcpts(rcpts, 1, &m);
        result_clear(&r);
    }
    /* end of data refused */
    {
        static const struct act acts[] = {
            { 'S', GREET }, { 'L', "1" }, { 'S', EHLO_PIPE },
            { 'L', "3" }, { 'S', "250 ok\r\n250 ok\r\n354 go\r\n" },
            { 'D', NULL }, { 'S', "554 5.7.1 rejected as spam\r\n" },
            { 'E', NULL }, ACT_END,
        };
        struct smtp_rcpt rcpts[1] = { { .addr = "x@example.org" } };
        struct smtp_message m = { .sender = "me@example.org", .rcpts = rcpts, .nrcpts = 1,
                                  .fd = fd, .size = 3, .last = true };
        struct result r = RESULT_INIT;
        char *got = run_txn(acts, NULL, &m, &rc, &r, &alive, &last);
        tap_ok(rc == -1 && r.cls == RC_DATAERR, "end of data 5xx: RC_DATAERR");
        tap_str(r.msg, "the server refused the message: 554 5.7.1 rejected as spam",
                "end of data refused: message quotes the server");
        tap_int(rcpts[0].status, RCPT_ACCEPTED, "end of data refused: recipient not delivered");
        tap_str(last.enhanced, "5.7.1", "enhanced status code parsed");
        tap_ok(has(got, ".\r\nQUIT\r\n") && !has(got, "RSET"),
               "end of data refused with QUIT already sent: no RSET");
        free(last.text);
        free(got);
        free_rcpts(rcpts, 1, &m);
        result_clear(&r);
    }
    /* 421 at MAIL */
    {
        static const struct act acts[] = {
            { 'S', GREET }, { 'L', "1" }, { 'S', EHLO_PLAIN },
            { 'L', "1" }, { 'S', "421 4.3.2 shutting down\r\n" },
            { 'E', NULL }, ACT_END,
        };
        struct smtp_rcpt rcpts[1] = { { .addr = "x@example.org" } };
        struct smtp_message m = { .sender = "me@example.org", .rcpts = rcpts, .nrcpts = 1,
                                  .fd = fd, .size = 3 };
        struct result r = RESULT_INIT;
        char *got = run_txn(acts, NULL, &m, &rc, &r, &alive, NULL);
        tap_ok(rc == -1 && r.cls == RC_TEMPFAIL && has(r.msg, "421 4.3.2 shutting down"),
               "421: RC_TEMPFAIL quoting the server");
        tap_ok(!alive, "421: connection considered closed");
        tap_ok(!has(got, "RSET") && !has(got, "QUIT"), "421: nothing more sent");
        free(got);
        free_rcpts(rcpts, 1, &m);
        result_clear(&r);
    }
    /* DATA 4xx */
    {
        static const struct act acts[] = {
            { 'S', GREET }, { 'L', "1" }, { 'S', EHLO_PLAIN },
            { 'L', "1" }, { 'S', "250 ok\r\n" },
            { 'L', "1" }, { 'S', "250 ok\r\n" },
            { 'L', "1" }, { 'S', "451 try later\r\n" },
            { 'L', "1" }, { 'S', "250 reset\r\n" },
            { 'L', "1" }, { 'S', "221 bye\r\n" },
            { 'E', NULL }, ACT_END,
        };
        struct smtp_rcpt rcpts[1] = { { .addr = "x@example.org" } };
        struct smtp_message m = { .sender = "me@example.org", .rcpts = rcpts, .nrcpts = 1,
                                  .fd = fd, .size = 3 };
        struct result r = RESULT_INIT;
        char *got = run_txn(acts, NULL, &m, &rc, &r, &alive, NULL);
        tap_ok(rc == -1 && r.cls == RC_TEMPFAIL && has(r.msg, "451 try later"),
               "DATA 4xx: RC_TEMPFAIL");
        tap_ok(has(got, "DATA\r\nRSET\r\n"), "DATA refused: RSET");
        free(got);
        free_rcpts(rcpts, 1, &m);
        result_clear(&r);
    }
    close(fd);
}

static void test_checks_before_mail(void)
{
    const char body[] = "x\r\n";
    int fd = message_file(body, 3);
    int rc;
    static const struct act acts[] = {
        { 'S', GREET }, { 'L', "1" },
        { 'S', "250-test.example\r\n250 SIZE 2\r\n" },
        { 'L', "1" }, { 'S', "221 bye\r\n" },
        { 'E', NULL }, ACT_END,
    };
    struct smtp_rcpt rcpts[1] = { { .addr = "x@example.org" } };
    struct smtp_message m = { .sender = "me@example.org", .rcpts = rcpts, .nrcpts = 1,
                              .fd = fd, .size = 3 };
    struct result r = RESULT_INIT;
    char *got = run_txn(acts, NULL, &m, &rc, &r, NULL, NULL);
    tap_ok(rc == -1 && r.cls == RC_DATAERR, "SIZE exceeded: RC_DATAERR");
    tap_str(r.msg, "message size 3 exceeds the server's limit of 2 bytes", "SIZE exceeded: message");
    tap_ok(!has(got, "MAIL"), "SIZE exceeded: no MAIL sent");
    free(got);
    result_clear(&r);

    m.size = 2;
    m.dsn_notify = "FAILURE";
    got = run_txn(acts, NULL, &m, &rc, &r, NULL, NULL);
    tap_ok(rc == -1 && r.cls == RC_UNAVAILABLE, "DSN asked, not offered: RC_UNAVAILABLE");
    tap_ok(!has(got, "MAIL"), "DSN not offered: no MAIL sent");
    free(got);
    result_clear(&r);

    m.dsn_notify = NULL;
    m.sender = "j\xc3\xb6rg@example.org";
    got = run_txn(acts, NULL, &m, &rc, &r, NULL, NULL);
    tap_ok(rc == -1 && r.cls == RC_DATAERR && has(r.msg, "SMTPUTF8"),
           "non-ASCII local part without SMTPUTF8: RC_DATAERR");
    tap_ok(!has(got, "MAIL"), "SMTPUTF8 missing: no MAIL sent");
    free(got);
    result_clear(&r);

    m.sender = "me@example.org";
    rcpts[0].addr = "x@example.org>\r\nRCPT TO:<evil@example.org";
    got = run_txn(acts, NULL, &m, &rc, &r, NULL, NULL);
    tap_ok(rc == -1 && r.cls == RC_DATAERR, "CR/LF in an address: RC_DATAERR");
    tap_ok(!has(got, "MAIL") && !has(got, "evil"), "CR/LF in an address: nothing sent");
    free(got);
    result_clear(&r);
    close(fd);
}

static void test_params(void)
{
    const char body[] = "x\r\n";
    int fd = message_file(body, 3);
    int rc;
    static const struct act acts[] = {
        { 'S', GREET }, { 'L', "1" },
        { 'S', "250-test.example\r\n250-DSN\r\n250-SMTPUTF8\r\n250-8BITMIME\r\n250-SIZE\r\n250 PIPELINING\r\n" },
        { 'L', "3" }, { 'S', "250 ok\r\n250 ok\r\n354 go\r\n" },
        { 'D', NULL }, { 'S', "250 ok\r\n" },
        { 'E', NULL }, ACT_END,
    };
    struct smtp_rcpt rcpts[1] = { { .addr = "\xc3\xbc@example.org" } };
    struct smtp_message m = { .sender = "me@example.org", .rcpts = rcpts, .nrcpts = 1,
                              .fd = fd, .size = 3, .body_8bit = true, .dsn_notify = "FAILURE,DELAY",
                              .dsn_return = "HDRS", .dsn_envid = "id+1 x", .last = true };
    struct result r = RESULT_INIT;
    char *got = run_txn(acts, NULL, &m, &rc, &r, NULL, NULL);
    tap_int(rc, 0, "DSN/SMTPUTF8/8BITMIME message delivered");
    tap_ok(has(got, "MAIL FROM:<me@example.org> SIZE=3 BODY=8BITMIME SMTPUTF8 RET=HDRS "
                    "ENVID=id+2B1+20x\r\n"), "MAIL parameters: SIZE BODY SMTPUTF8 RET ENVID(xtext)");
    tap_ok(has(got, "RCPT TO:<\xc3\xbc@example.org> NOTIFY=FAILURE,DELAY\r\n"), "RCPT NOTIFY=");
    if (!has(got, "NOTIFY"))
        printf("#   got: %s\n", got);
    free(got);
    free_rcpts(rcpts, 1, &m);
    result_clear(&r);
    close(fd);
}

static void test_open_failures(void)
{
    /* EHLO 5xx -> HELO */
    {
        static const struct act acts[] = {
            { 'S', GREET }, { 'L', "1" }, { 'S', "502 5.5.2 what?\r\n" },
            { 'L', "1" }, { 'S', "250 hello\r\n" },
            { 'E', NULL }, ACT_END,
        };
        struct peer pe;
        struct conn *c;
        struct smtp_session *s;
        struct result r = RESULT_INIT;
        int rc = open_session(acts, NULL, &pe, &c, &s, &r);
        tap_int(rc, 0, "EHLO 502: HELO fallback works");
        tap_ok(!smtp_caps(s)->esmtp && !smtp_caps(s)->pipelining, "HELO: no ESMTP capabilities");
        smtp_free(s);
        char *got = peer_finish(&pe, c, NULL);
        tap_str(got, "EHLO client.example\r\nHELO client.example\r\n", "EHLO then HELO sent");
        free(got);
    }
    /* EHLO 4xx -> tempfail */
    {
        static const struct act acts[] = {
            { 'S', GREET }, { 'L', "1" }, { 'S', "451 busy\r\n" },
            { 'L', "1" }, { 'S', "221 bye\r\n" }, { 'E', NULL }, ACT_END,
        };
        struct peer pe;
        struct conn *c;
        struct smtp_session *s;
        struct result r = RESULT_INIT;
        int rc = open_session(acts, NULL, &pe, &c, &s, &r);
        tap_ok(rc == -1 && r.cls == RC_TEMPFAIL && has(r.msg, "451 busy"), "EHLO 4xx: RC_TEMPFAIL");
        smtp_quit(s);
        smtp_free(s);
        char *got = peer_finish(&pe, c, NULL);
        tap_ok(!has(got, "HELO"), "EHLO 4xx: no HELO fallback");
        free(got);
        result_clear(&r);
    }
    /* greeting 554 */
    {
        static const struct act acts[] = {
            { 'S', "554 5.7.1 go away\r\n" }, { 'L', "1" }, { 'S', "221 bye\r\n" },
            { 'E', NULL }, ACT_END,
        };
        struct peer pe;
        struct conn *c;
        struct smtp_session *s;
        struct result r = RESULT_INIT;
        int rc = open_session(acts, NULL, &pe, &c, &s, &r);
        tap_ok(rc == -1 && r.cls == RC_UNAVAILABLE && has(r.msg, "554 5.7.1 go away"),
               "greeting 554: RC_UNAVAILABLE quoting it");
        smtp_quit(s);
        smtp_free(s);
        char *got = peer_finish(&pe, c, NULL);
        tap_str(got, "QUIT\r\n", "greeting 554: QUIT, no EHLO");
        free(got);
        result_clear(&r);
    }
    /* greeting 421 */
    {
        static const struct act acts[] = { { 'S', "421 not now\r\n" }, { 'E', NULL }, ACT_END };
        struct peer pe;
        struct conn *c;
        struct smtp_session *s;
        struct result r = RESULT_INIT;
        int rc = open_session(acts, NULL, &pe, &c, &s, &r);
        tap_ok(rc == -1 && r.cls == RC_TEMPFAIL, "greeting 421: RC_TEMPFAIL");
        smtp_free(s);
        free(peer_finish(&pe, c, NULL));
        result_clear(&r);
    }
    /* silence: timeout */
    {
        static const struct act acts[] = { { 'E', NULL }, ACT_END };
        struct smtp_params p = { .helo_domain = "h", .timeout_s = 1 };
        struct peer pe;
        struct conn *c;
        struct smtp_session *s;
        struct result r = RESULT_INIT;
        int rc = open_session(acts, &p, &pe, &c, &s, &r);
        tap_ok(rc == -1 && r.cls == RC_TEMPFAIL, "silent server: RC_TEMPFAIL");
        tap_str(r.msg, "timed out after 1 second waiting for the server's reply",
                "silent server: message says how long was waited");
        smtp_free(s);
        free(peer_finish(&pe, c, NULL));
        result_clear(&r);
    }
    /* EOF before any line, and mid-line */
    {
        static const struct act acts1[] = { ACT_END };
        static const struct act acts2[] = { { 'S', "220 hal" }, ACT_END };
        const struct act *all[] = { acts1, acts2 };
        for (int i = 0; i < 2; i++) {
            struct peer pe;
            struct conn *c;
            struct smtp_session *s;
            struct result r = RESULT_INIT;
            int rc = open_session(all[i], NULL, &pe, &c, &s, &r);
            tap_ok(rc == -1 && r.cls == RC_TEMPFAIL
                   && has(r.msg, "connection closed by the server"),
                   i ? "EOF mid-line: RC_TEMPFAIL, connection closed"
                     : "EOF before greeting: RC_TEMPFAIL, connection closed");
            smtp_free(s);
            free(peer_finish(&pe, c, NULL));
            result_clear(&r);
        }
    }
}

static void test_lmtp(void)
{
    const char body[] = "x\r\n";
    int fd = message_file(body, 3);
    static const struct act acts[] = {
        { 'S', GREET }, { 'L', "1" }, { 'S', "250-lmtp\r\n250 PIPELINING\r\n" },
        { 'L', "5" },
        { 'S', "250 ok\r\n250 ok\r\n550 no\r\n250 ok\r\n354 go\r\n" },
        { 'D', NULL }, { 'S', "250 2.0.0 a ok\r\n452 4.2.2 c over quota\r\n" },
        { 'E', NULL }, ACT_END,
    };
    struct smtp_params p = { .helo_domain = "h", .timeout_s = 5, .lmtp = true };
    struct smtp_rcpt rcpts[3] = { { .addr = "a@x" }, { .addr = "b@x" }, { .addr = "c@x" } };
    struct smtp_message m = { .sender = "s@x", .rcpts = rcpts, .nrcpts = 3, .fd = fd, .size = 3,
                              .last = true };
    int rc;
    struct result r = RESULT_INIT;
    char *got = run_txn(acts, &p, &m, &rc, &r, NULL, NULL);
    tap_int(rc, 0, "LMTP: accepted for at least one recipient");
    tap_ok(rcpts[0].status == RCPT_DELIVERED, "LMTP: a delivered by its own reply");
    tap_ok(rcpts[1].status == RCPT_PERMFAIL, "LMTP: b refused at RCPT");
    tap_ok(rcpts[2].status == RCPT_TEMPFAIL && rcpts[2].code == 452
           && has(rcpts[2].reply, "over quota"), "LMTP: c failed by its own reply after the dot");
    tap_ok(has(got, "LHLO h\r\n"), "LMTP: LHLO");
    free(got);
    free_rcpts(rcpts, 3, &m);
    result_clear(&r);
    close(fd);
}

/* ---------------------------------------------------------------- */
/* AUTH: pipelined AUTH PLAIN, multi-step LOGIN, refusals,
 * cancellation, and the masked -v transcript. */

#include <fcntl.h>

#include "log.h"

static const char EHLO_AUTH_PIPE[] =
    "250-test.example\r\n250-PIPELINING\r\n250-SIZE\r\n250 AUTH PLAIN LOGIN CRAM-MD5\r\n";
static const char EHLO_AUTH[] = "250-test.example\r\n250 AUTH PLAIN LOGIN\r\n";
/* base64("\0user\0pass"), base64("user"), base64("pass") */
#define B64_PLAIN "AHVzZXIAcGFzcw=="
#define B64_USER "dXNlcg=="
#define B64_PASS "cGFzcw=="

static const struct smtp_params AUTH_PARAMS = {
    .helo_domain = "client.example", .timeout_s = 5, .auth = "plain", .user = "user",
    .password = "pass", .allow_plaintext_auth = true,
};

/* Capture what fd 2 receives between stderr_begin and stderr_end. */
static int stderr_begin(int *saved)
{
    char path[] = "/tmp/test-reply-err-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        exit(99);
    unlink(path);
    fflush(stderr);
    *saved = dup(2);
    dup2(fd, 2);
    return fd;
}

static char *stderr_end(int fd, int saved)
{
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    struct buf b = BUF_INIT;
    char tmp[4096];
    ssize_t n;
    lseek(fd, 0, SEEK_SET);
    while ((n = read(fd, tmp, sizeof tmp)) > 0)
        buf_append(&b, tmp, (size_t)n);
    close(fd);
    return buf_steal(&b);
}

static void test_auth_pipelined(void)
{
    static const struct act acts[] = {
        { 'S', GREET }, { 'L', "1" }, { 'S', EHLO_AUTH_PIPE },
        { 'C', NULL },
        { 'S', "235 2.7.0 Authentication successful\r\n250 2.1.0 ok\r\n250 2.1.5 ok\r\n"
               "354 go ahead\r\n" },
        { 'D', NULL }, { 'S', "250 2.0.0 queued\r\n" }, { 'E', NULL }, ACT_END,
    };
    const char body[] = "Subject: hi\r\n\r\nbody\r\n";
    int fd = message_file(body, sizeof body - 1);
    struct peer pe;
    struct conn *c;
    struct smtp_session *s;
    struct result r = RESULT_INIT;
    int saved;
    int efd = stderr_begin(&saved);
    log_set_verbose(1);
    int rc = open_session(acts, &AUTH_PARAMS, &pe, &c, &s, &r);
    tap_int(rc, 0, "AUTH PLAIN pipelined: smtp_open succeeds without waiting for AUTH");
    struct smtp_rcpt rcpts[1] = { { .addr = "a@example.org" } };
    struct smtp_message m = {
        .sender = "me@example.org", .rcpts = rcpts, .nrcpts = 1, .fd = fd,
        .size = (long long)sizeof body - 1, .last = true,
    };
    rc = smtp_send_message(s, &m, &r);
    log_set_verbose(0);
    char *err = stderr_end(efd, saved);
    tap_int(rc, 0, "AUTH PLAIN pipelined: message accepted");
    tap_int(rcpts[0].status, RCPT_DELIVERED, "AUTH PLAIN pipelined: recipient delivered");
    smtp_quit(s);
    smtp_free(s);
    long long chunk;
    char *got = peer_finish(&pe, c, &chunk);
    char *group = xasprintf("AUTH PLAIN " B64_PLAIN "\r\nMAIL FROM:<me@example.org> SIZE=%zu\r\n"
                            "RCPT TO:<a@example.org>\r\nDATA\r\n", sizeof body - 1);
    tap_int(chunk, (long long)strlen(group),
            "AUTH PLAIN pipelined: AUTH, MAIL, RCPT and DATA arrived in one write");
    char *want = xasprintf("EHLO client.example\r\n%sSubject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n",
                           group);
    tap_str(got, want, "AUTH PLAIN pipelined: bytes on the wire");
    tap_ok(has(err, "--> AUTH PLAIN ********\n"), "transcript: AUTH PLAIN line masked");
    tap_ok(!has(err, B64_PLAIN) && !has(err, "pass"), "transcript: no credentials");
    tap_ok(has(err, "<-- 235 2.7.0"), "transcript: server reply shown");
    free(err);
    free(want);
    free(group);
    free(got);
    free_rcpts(rcpts, 1, &m);
    close(fd);
    result_clear(&r);
}

static void test_auth_login(void)
{
    static const struct act acts[] = {
        { 'S', GREET }, { 'L', "1" }, { 'S', EHLO_AUTH },
        { 'L', "1" }, { 'S', "334 VXNlcm5hbWU6\r\n" },
        { 'L', "1" }, { 'S', "334 UGFzc3dvcmQ6\r\n" },
        { 'L', "1" }, { 'S', "235 2.7.0 ok\r\n" },
        { 'L', "1" }, { 'S', "221 bye\r\n" }, { 'E', NULL }, ACT_END,
    };
    struct smtp_params p = AUTH_PARAMS;
    p.auth = "login";
    struct peer pe;
    struct conn *c;
    struct smtp_session *s;
    struct result r = RESULT_INIT;
    int saved;
    int efd = stderr_begin(&saved);
    log_set_verbose(1);
    int rc = open_session(acts, &p, &pe, &c, &s, &r);
    log_set_verbose(0);
    char *err = stderr_end(efd, saved);
    tap_int(rc, 0, "AUTH LOGIN: two challenges answered, 235");
    tap_ok(smtp_alive(s), "AUTH LOGIN: session usable");
    smtp_quit(s);
    smtp_free(s);
    char *got = peer_finish(&pe, c, NULL);
    tap_str(got, "EHLO client.example\r\nAUTH LOGIN\r\n" B64_USER "\r\n" B64_PASS "\r\nQUIT\r\n",
            "AUTH LOGIN: bytes on the wire");
    tap_ok(has(err, "--> AUTH LOGIN\n"), "transcript: AUTH LOGIN shown");
    tap_ok(has(err, "<-- 334 UGFzc3dvcmQ6\n"), "transcript: challenges shown");
    tap_ok(has(err, "--> ********\n"), "transcript: responses masked");
    tap_ok(!has(err, B64_USER) && !has(err, B64_PASS), "transcript: no credentials");
    free(err);
    free(got);
    result_clear(&r);
}

/* AUTH refused at smtp_open (no pipelining): class and quoted reply. */
static void auth_refused(const char *reply, enum result_class want, const char *quote,
                         const char *what)
{
    const struct act acts[] = {
        { 'S', GREET }, { 'L', "1" }, { 'S', EHLO_AUTH },
        { 'L', "1" }, { 'S', reply },
        { 'L', "1" }, { 'S', "221 bye\r\n" }, { 'E', NULL }, ACT_END,
    };
    struct peer pe;
    struct conn *c;
    struct smtp_session *s;
    struct result r = RESULT_INIT;
    int rc = open_session(acts, &AUTH_PARAMS, &pe, &c, &s, &r);
    char *t = xasprintf("%s: smtp_open fails", what);
    tap_int(rc, -1, t);
    free(t);
    t = xasprintf("%s: class", what);
    tap_int(r.cls, want, t);
    free(t);
    t = xasprintf("%s: the server's reply is quoted", what);
    tap_ok(has(r.msg, quote), t);
    free(t);
    t = xasprintf("%s: smtp_last_reply is the AUTH reply", what);
    tap_ok(has(smtp_last_reply(s)->text, quote), t);
    free(t);
    /* no mail may go out afterwards */
    struct smtp_rcpt rcpts[1] = { { .addr = "a@example.org" } };
    struct smtp_message m = { .sender = "me@example.org", .rcpts = rcpts, .nrcpts = 1,
                              .fd = -1, .size = 10, .last = true };
    struct result r2 = RESULT_INIT;
    t = xasprintf("%s: a message after the refusal fails the same way", what);
    tap_ok(smtp_send_message(s, &m, &r2) == -1 && r2.cls == want, t);
    free(t);
    smtp_quit(s);
    smtp_free(s);
    char *got = peer_finish(&pe, c, NULL);
    t = xasprintf("%s: AUTH then QUIT, nothing else", what);
    tap_str(got, "EHLO client.example\r\nAUTH PLAIN " B64_PLAIN "\r\nQUIT\r\n", t);
    free(t);
    free(got);
    free_rcpts(rcpts, 1, &m);
    result_clear(&r);
    result_clear(&r2);
}

static void test_auth_pipelined_refused(bool data_354)
{
    const struct act acts[] = {
        { 'S', GREET }, { 'L', "1" }, { 'S', EHLO_AUTH_PIPE },
        { 'L', "4" },
        { 'S', data_354 ? "535 5.7.8 Error: authentication failed\r\n250 2.1.0 ok\r\n"
                          "250 2.1.5 ok\r\n354 go ahead\r\n"
                        : "535 5.7.8 Error: authentication failed\r\n"
                          "530 5.7.0 Authentication required\r\n"
                          "503 5.5.1 Error: need MAIL command\r\n"
                          "503 5.5.1 Error: need RCPT command\r\n" },
        { 'E', NULL }, ACT_END,
    };
    const char body[] = "Subject: secret body\r\n\r\nbody\r\n";
    int fd = message_file(body, sizeof body - 1);
    struct smtp_rcpt rcpts[1] = { { .addr = "a@example.org" } };
    struct smtp_message m = {
        .sender = "me@example.org", .rcpts = rcpts, .nrcpts = 1, .fd = fd,
        .size = (long long)sizeof body - 1, .last = true,
    };
    int rc;
    bool alive;
    struct smtp_reply last;
    struct result r = RESULT_INIT;
    char *got = run_txn(acts, &AUTH_PARAMS, &m, &rc, &r, &alive, &last);
    const char *what = data_354 ? "pipelined AUTH refused, DATA 354" : "pipelined AUTH refused";
    char *t = xasprintf("%s: message fails with RC_NOPERM", what);
    tap_ok(rc == -1 && r.cls == RC_NOPERM, t);
    free(t);
    t = xasprintf("%s: the AUTH reply is quoted", what);
    tap_ok(has(r.msg, "535 5.7.8 Error: authentication failed"), t);
    free(t);
    t = xasprintf("%s: last reply is the 535", what);
    tap_int(last.code, 535, t);
    free(t);
    t = xasprintf("%s: recipient not delivered", what);
    tap_ok(rcpts[0].status != RCPT_DELIVERED, t);
    free(t);
    t = xasprintf("%s: no body sent", what);
    tap_ok(!has(got, "secret body") && !has(got, "\r\n.\r\n"), t);
    free(t);
    if (data_354) {
        tap_ok(!alive, "pipelined AUTH refused, DATA 354: connection closed");
    } else {
        tap_ok(has(got, "DATA\r\nQUIT\r\n"), "pipelined AUTH refused: QUIT after draining");
    }
    free(last.text);
    free(got);
    free_rcpts(rcpts, 1, &m);
    close(fd);
    result_clear(&r);
}

static void test_auth_other(void)
{
    /* 334 after the client is done: "*" cancels, protocol error. */
    {
        static const struct act acts[] = {
            { 'S', GREET }, { 'L', "1" }, { 'S', EHLO_AUTH },
            { 'L', "1" }, { 'S', "334 \r\n" },
            { 'L', "1" }, { 'S', "501 5.7.0 cancelled\r\n" },
            { 'L', "1" }, { 'S', "221 bye\r\n" }, { 'E', NULL }, ACT_END,
        };
        struct peer pe;
        struct conn *c;
        struct smtp_session *s;
        struct result r = RESULT_INIT;
        int rc = open_session(acts, &AUTH_PARAMS, &pe, &c, &s, &r);
        tap_ok(rc == -1 && r.cls == RC_PROTOCOL, "334 after PLAIN is complete: protocol error");
        smtp_quit(s);
        smtp_free(s);
        char *got = peer_finish(&pe, c, NULL);
        tap_str(got, "EHLO client.example\r\nAUTH PLAIN " B64_PLAIN "\r\n*\r\nQUIT\r\n",
                "334 after PLAIN is complete: \"*\" cancels, then QUIT");
        free(got);
        result_clear(&r);
    }
    /* No AUTH capability. */
    {
        static const struct act acts[] = {
            { 'S', GREET }, { 'L', "1" }, { 'S', EHLO_PLAIN },
            { 'L', "1" }, { 'S', "221 bye\r\n" }, { 'E', NULL }, ACT_END,
        };
        struct peer pe;
        struct conn *c;
        struct smtp_session *s;
        struct result r = RESULT_INIT;
        int rc = open_session(acts, &AUTH_PARAMS, &pe, &c, &s, &r);
        tap_ok(rc == -1 && r.cls == RC_UNAVAILABLE, "no AUTH offered: RC_UNAVAILABLE");
        tap_ok(has(r.msg, "does not offer authentication"), "no AUTH offered: message");
        smtp_quit(s);
        smtp_free(s);
        char *got = peer_finish(&pe, c, NULL);
        tap_str(got, "EHLO client.example\r\nQUIT\r\n", "no AUTH offered: nothing but QUIT");
        free(got);
        result_clear(&r);
    }
    /* PLAIN without TLS and without allow_plaintext_auth: nothing sent. */
    {
        static const struct act acts[] = {
            { 'S', GREET }, { 'L', "1" }, { 'S', EHLO_AUTH },
            { 'L', "1" }, { 'S', "221 bye\r\n" }, { 'E', NULL }, ACT_END,
        };
        struct smtp_params p = AUTH_PARAMS;
        p.allow_plaintext_auth = false;
        struct peer pe;
        struct conn *c;
        struct smtp_session *s;
        struct result r = RESULT_INIT;
        int rc = open_session(acts, &p, &pe, &c, &s, &r);
        tap_ok(rc == -1 && r.cls == RC_CONFIG, "PLAIN without TLS: configuration error");
        tap_ok(has(r.msg, "allow_plaintext_auth"), "PLAIN without TLS: names the setting");
        smtp_quit(s);
        smtp_free(s);
        char *got = peer_finish(&pe, c, NULL);
        tap_str(got, "EHLO client.example\r\nQUIT\r\n", "PLAIN without TLS: no AUTH sent");
        free(got);
        result_clear(&r);
    }
}

/* CHUNKING (RFC 3030): with PIPELINING and params.chunking, MAIL, RCPT,
 * "BDAT n LAST" and the raw message leave in one write; the BDAT reply is
 * the final status, and QUIT follows it (never in the same write). */
static const char EHLO_CHUNK[] =
    "250-test.example\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 8BITMIME\r\n";
static const struct smtp_params CHUNK_PARAMS = {
    .helo_domain = "client.example", .timeout_s = 5, .chunking = true,
};

static void chunk_txn(const char *replies, long long size_delta, bool answered, int want_rc,
                      enum result_class want_cls, const char *want_msg, const char *label)
{
    /* The peer reads the group, answers, and (when the BDAT was
     * answered) reads the QUIT that must follow; then it closes. */
    const struct act answered_acts[] = {
        { 'S', GREET }, { 'L', "1" }, { 'S', EHLO_CHUNK },
        { 'C', NULL }, { 'S', replies }, { 'L', "1" }, ACT_END,
    };
    const struct act lost_acts[] = {
        { 'S', GREET }, { 'L', "1" }, { 'S', EHLO_CHUNK },
        { 'C', NULL }, { 'S', replies }, ACT_END,
    };
    const struct act *acts = answered ? answered_acts : lost_acts;
    char w[512];
    const char body[] = "Subject: c\r\n\r\n.lead\r\n.\r\n..\r\nend\r\n";
    int fd = message_file(body, sizeof body - 1);
    struct peer pe;
    struct conn *c;
    struct smtp_session *s;
    struct result r = RESULT_INIT;
    int rc = open_session(acts, &CHUNK_PARAMS, &pe, &c, &s, &r);
    snprintf(w, sizeof w, "%s: session opened", label);
    tap_int(rc, 0, w);
    struct smtp_rcpt rcpts[1] = { { .addr = "a@example.org" } };
    struct smtp_message m = {
        .sender = "me@example.org", .rcpts = rcpts, .nrcpts = 1, .fd = fd,
        .size = (long long)sizeof body - 1 + size_delta, .last = true,
    };
    rc = smtp_send_message(s, &m, &r);
    snprintf(w, sizeof w, "%s: smtp_send_message returns %d", label, want_rc);
    tap_int(rc, want_rc, w);
    snprintf(w, sizeof w, "%s: result class", label);
    tap_int(r.cls, want_cls, w);
    if (want_msg) {
        snprintf(w, sizeof w, "%s: message says \"%s\" (%s)", label, want_msg,
                 r.msg ? r.msg : "(none)");
        tap_ok(has(r.msg, want_msg), w);
    }
    if (want_rc == 0) {
        snprintf(w, sizeof w, "%s: recipient delivered", label);
        tap_int(rcpts[0].status, RCPT_DELIVERED, w);
        snprintf(w, sizeof w, "%s: final code from the BDAT reply", label);
        tap_int(m.final_code, 250, w);
    } else if (size_delta == 0) {
        snprintf(w, sizeof w, "%s: recipient not delivered", label);
        tap_ok(rcpts[0].status != RCPT_DELIVERED, w);
    }
    snprintf(w, sizeof w, "%s: session closed (QUIT after the BDAT reply, or lost)", label);
    tap_ok(!smtp_alive(s), w);
    smtp_quit(s);
    smtp_free(s);
    long long chunk;
    char *got = peer_finish(&pe, c, &chunk);
    if (size_delta == 0) {
        const char *group = "EHLO client.example\r\n"
                            "MAIL FROM:<me@example.org>\r\nRCPT TO:<a@example.org>\r\n"
                            "BDAT 33 LAST\r\nSubject: c\r\n\r\n.lead\r\n.\r\n..\r\nend\r\n";
        char *want = xasprintf("%s%s", group, answered ? "QUIT\r\n" : "");
        snprintf(w, sizeof w, "%s: exact bytes: no dot-stuffing, no final dot, %s", label,
                 answered ? "QUIT after the reply" : "no QUIT");
        tap_str(got, want, w);
        snprintf(w, sizeof w, "%s: MAIL, RCPT, BDAT and the message in one read, QUIT not in it",
                 label);
        tap_int(chunk, (long long)strlen(group) - 21, w);
        free(want);
    } else {
        snprintf(w, sizeof w, "%s: no QUIT after a short chunk (it would be data)", label);
        tap_ok(strstr(got, "QUIT") == NULL, w);
    }
    free(got);
    free(rcpts[0].reply);
    free(m.final_reply);
    close(fd);
    result_clear(&r);
}

static void test_chunking(void)
{
    chunk_txn("250 ok\r\n250 ok\r\n250 2.0.0 queued\r\n", 0, true, 0, RC_OK, NULL, "BDAT ok");
    chunk_txn("250 ok\r\n250 ok\r\n452 4.3.1 insufficient storage\r\n", 0, true, -1,
              RC_TEMPFAIL, "452 4.3.1 insufficient storage", "BDAT 452");
    chunk_txn("250 ok\r\n250 ok\r\n554 5.7.1 rejected\r\n", 0, true, -1, RC_DATAERR,
              "554 5.7.1 rejected", "BDAT 554");
    chunk_txn("250 ok\r\n250 ok\r\n502 5.5.2 command not recognized\r\n", 0, true, -1,
              RC_DATAERR, "chunking off", "BDAT 502");
    chunk_txn("250 ok\r\n550 5.1.1 no such user\r\n554 5.5.1 no valid recipients\r\n", 0, true,
              -1, RC_NOUSER, "no such user", "BDAT after every RCPT refused");
    chunk_txn("250 ok\r\n250 ok\r\n", 0, false, -1, RC_TEMPFAIL, NULL,
              "connection lost after BDAT");
    chunk_txn("", 5, false, -1, RC_IOERR, "recorded size", "file shorter than its size");
}

int main(void)
{
    test_parse();
    test_xtext();
    test_greeting_caps();
    test_caps_limits();
    test_malformed();
    test_pipelining_partial();
    test_dot_stuffing_chunks();
    test_no_pipelining();
    test_refusals();
    test_checks_before_mail();
    test_params();
    test_open_failures();
    test_lmtp();
    test_auth_pipelined();
    test_auth_login();
    auth_refused("535 5.7.8 Error: authentication failed\r\n", RC_NOPERM,
                 "535 5.7.8 Error: authentication failed", "AUTH 535");
    auth_refused("454 4.7.0 Temporary authentication failure\r\n", RC_TEMPFAIL,
                 "454 4.7.0 Temporary authentication failure", "AUTH 454");
    test_auth_pipelined_refused(false);
    test_auth_pipelined_refused(true);
    test_auth_other();
    test_chunking();
    return tap_done();
}
