/*
 * test-bounce.c - unit tests for bounce.c: the RFC 3464 notification built
 * from a spool entry in a temporary directory: MIME structure, the
 * delivery-status fields per failed recipient, the original headers and
 * never the original body, CRLF everywhere, hostile values, failures;
 * the RFC 6533 form for internationalized mail (a non-ASCII envelope
 * address or 8-bit header fields) and the RFC 3464 form otherwise.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bounce.h"
#include "intake.h"
#include "queue.h"
#include "tap.h"
#include "testutil.h"
#include "util.h"

static const char *tmpdir;

/* Write an entry (envelope from e, then msg) and return its fd; sets
 * e->body_offset and e->size. */
static int write_entry(struct queue_entry *e, const char *msg)
{
    e->size = (long long)strlen(msg);
    char *env = queue_entry_format(e);
    e->body_offset = (long long)strlen(env);
    char *path = xasprintf("%s/%s", tmpdir, e->id);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0 && (write_all(fd, env, strlen(env)) != 0 || write_all(fd, msg, strlen(msg)) != 0)) {
        close(fd);
        fd = -1;
    }
    free(env);
    free(path);
    return fd;
}

static char *read_all(int fd, long long *len)
{
    struct buf b = BUF_INIT;
    char block[4096];
    off_t off = 0;
    ssize_t n;
    while ((n = pread(fd, block, sizeof block, off)) > 0) {
        buf_append(&b, block, (size_t)n);
        off += n;
    }
    *len = (long long)b.len;
    return buf_steal(&b);
}

static bool crlf_only(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
            return false;
        if (s[i] == '\r' && (i + 1 >= n || s[i + 1] != '\n'))
            return false;
    }
    return n >= 2 && s[n - 2] == '\r' && s[n - 1] == '\n';
}

static size_t longest_line(const char *s)
{
    size_t best = 0, cur = 0;
    for (; *s; s++) {
        if (*s == '\r' || *s == '\n') {
            cur = 0;
            continue;
        }
        if (++cur > best)
            best = cur;
    }
    return best;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* The text between "--B\r\n" number k (1-based) and the next boundary. */
static char *part(const char *s, const char *boundary, int k)
{
    char *delim = xasprintf("\r\n--%s", boundary);
    const char *p = s;
    for (int i = 0; i < k && p; i++) {
        p = strstr(p, delim);
        if (p)
            p += strlen(delim);
    }
    char *out = NULL;
    if (p && strncmp(p, "\r\n", 2) == 0) {
        p += 2;
        const char *end = strstr(p, delim);
        out = end ? xstrndup(p, (size_t)(end - p)) : NULL;
    }
    free(delim);
    return out;
}

static void init_entry(struct queue_entry *e, const char *id)
{
    memset(e, 0, sizeof *e);
    e->id = xstrdup(id);
    e->account = xstrdup("work");
    e->created = 1700000000;
    e->sender = xstrdup("alice@example.org");
    e->attempts = 3;
    e->next_attempt = 1700000600;
    e->bounce = QBOUNCE_PENDING;
}

static void add_rcpt(struct queue_entry *e, const char *addr, enum queue_rcpt_state st,
                     const char *err)
{
    e->rcpts = xrealloc(e->rcpts, (e->nrcpts + 1) * sizeof *e->rcpts);
    e->rcpts[e->nrcpts].addr = xstrdup(addr);
    e->rcpts[e->nrcpts].state = st;
    e->rcpts[e->nrcpts].error = err ? xstrdup(err) : NULL;
    e->nrcpts++;
}

static const char original[] =
    "From: Alice <alice@example.org>\r\n"
    "To: bob@example.net, carol@example.com\r\n"
    "Subject: quarterly numbers\r\n"
    "Message-ID: <orig.1@example.org>\r\n"
    "X-Folded: first\r\n"
    " second\r\n"
    "\r\n"
    "SECRET BODY LINE one\r\n"
    "Subject: not a header, body\r\n";

static void test_structure(void)
{
    struct queue_entry e;
    init_entry(&e, "A1");
    add_rcpt(&e, "bob@example.net", QRCPT_FAILED, "550 5.1.1 <bob@example.net>: no such user");
    add_rcpt(&e, "carol@example.com", QRCPT_DELIVERED, NULL);
    add_rcpt(&e, "dave@example.com", QRCPT_FAILED, "554-5.7.1 policy\n554 5.7.1 rejected");
    e.dsn_envid = xstrdup("ENV42");
    int fd = write_entry(&e, original);
    tap_ok(fd >= 0, "entry written");

    struct message m;
    struct result r = RESULT_INIT;
    int rc = bounce_build_domain(&e, fd, "mx.example.org", "example.org", &m, &r);
    tap_int(rc, 0, "bounce built");
    tap_ok(r.cls == RC_OK, "no failure recorded");
    long long len = 0;
    char *s = rc == 0 ? read_all(m.fd, &len) : xstrdup("");
    tap_int(len, m.size, "size matches the file");
    tap_ok(crlf_only(s, (size_t)len), "CRLF everywhere, final CRLF");
    tap_ok(!m.has_8bit, "ASCII notification is not 8-bit");
    tap_ok(longest_line(s) <= 998, "no line longer than 998");
    tap_int((long long)m.longest_line, (long long)longest_line(s),
            "the longest-line fact is the notification's (what convert reads)");

    char *hdrend = strstr(s, "\r\n\r\n");
    char *hdr = hdrend ? xstrndup(s, (size_t)(hdrend - s + 2)) : xstrdup("");
    tap_ok(strstr(hdr, "From: Mail Delivery System <MAILER-DAEMON@example.org>\r\n") != NULL,
           "From: MAILER-DAEMON at the mail domain");
    tap_ok(strstr(hdr, "\r\nTo: <alice@example.org>\r\n") != NULL, "To: the original sender");
    tap_ok(strstr(hdr, "\r\nSubject: Undelivered Mail Returned to Sender\r\n") != NULL,
           "Subject");
    tap_ok(strstr(hdr, "\r\nDate: ") != NULL, "Date");
    tap_ok(strstr(hdr, "\r\nMessage-ID: <") != NULL && strstr(hdr, "@example.org>\r\n"),
           "Message-ID in the mail domain");
    tap_ok(strstr(hdr, "\r\nAuto-Submitted: auto-replied\r\n") != NULL, "Auto-Submitted");
    tap_ok(strstr(hdr, "\r\nMIME-Version: 1.0\r\n") != NULL, "MIME-Version");
    tap_ok(strstr(hdr, "Content-Type: multipart/report; report-type=delivery-status;") != NULL,
           "multipart/report with report-type=delivery-status");
    const char *bp = strstr(hdr, "boundary=\"");
    char *boundary = NULL;
    if (bp) {
        bp += strlen("boundary=\"");
        const char *q = strchr(bp, '"');
        boundary = q ? xstrndup(bp, (size_t)(q - bp)) : NULL;
    }
    tap_ok(boundary && strlen(boundary) > 10, "boundary parameter");
    if (!boundary)
        boundary = xstrdup("none");
    char *delim = xasprintf("\r\n--%s\r\n", boundary);
    char *closing = xasprintf("\r\n--%s--\r\n", boundary);
    tap_int((long long)count(s, delim), 3, "three body parts");
    tap_ok(len > 0 && strlen(closing) <= (size_t)len
               && strcmp(s + len - strlen(closing), closing) == 0,
           "closing boundary ends the message");

    char *p1 = part(s, boundary, 1), *p2 = part(s, boundary, 2), *p3 = part(s, boundary, 3);
    static const char p1head[] = "Content-Description: Notification\r\n"
                                 "Content-Type: text/plain; charset=utf-8\r\n";
    tap_ok(p1 && strncmp(p1, p1head, strlen(p1head)) == 0, "part 1 is text/plain");
    tap_ok(p1 && strstr(p1, "<bob@example.net>: 550 5.1.1") != NULL,
           "part 1 names the refused recipient with the reply");
    tap_ok(p1 && strstr(p1, "carol@example.com") == NULL, "part 1 does not list the delivered");
    tap_ok(p2 && strstr(p2, "Content-Type: message/delivery-status\r\n\r\n") != NULL,
           "part 2 is message/delivery-status");
    tap_ok(p2 && strstr(p2, "\r\nReporting-MTA: dns; mx.example.org\r\n") != NULL,
           "Reporting-MTA");
    tap_ok(p2 && strstr(p2, "\r\nOriginal-Envelope-Id: ENV42\r\n") != NULL,
           "Original-Envelope-Id from dsn-envid");
    tap_ok(p2 && strstr(p2, "\r\nArrival-Date: ") != NULL, "Arrival-Date");
    tap_ok(p2 && strstr(p2, "\r\n\r\nFinal-Recipient: rfc822; bob@example.net\r\n"
                            "Action: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 "
                            "5.1.1 <bob@example.net>: no such user\r\n") != NULL,
           "bob's per-recipient fields");
    tap_ok(p2 && strstr(p2, "\r\n\r\nFinal-Recipient: rfc822; dave@example.com\r\n"
                            "Action: failed\r\nStatus: 5.7.1\r\nDiagnostic-Code: smtp; 554-5.7.1 "
                            "policy 554 5.7.1 rejected\r\n") != NULL,
           "multi-line reply joined on one line");
    tap_ok(p2 && strstr(p2, "carol") == NULL, "delivered recipient not reported");
    tap_int(p2 ? (long long)count(p2, "Final-Recipient:") : -1, 2, "one block per failed");
    tap_ok(p3 && strstr(p3, "Content-Type: text/rfc822-headers\r\n\r\n") != NULL,
           "part 3 is text/rfc822-headers");
    tap_ok(p3 && strstr(p3, "Subject: quarterly numbers\r\n") != NULL
               && strstr(p3, "Message-ID: <orig.1@example.org>\r\n") != NULL
               && strstr(p3, "X-Folded: first\r\n second\r\n") != NULL,
           "original headers included, folding kept");
    tap_ok(strstr(s, "SECRET BODY") == NULL && strstr(s, "not a header, body") == NULL,
           "no original body");

    free(p1);
    free(p2);
    free(p3);
    free(delim);
    free(closing);
    free(boundary);
    free(hdr);
    free(s);
    if (rc == 0)
        message_free(&m);
    close(fd);
    queue_entry_free(&e);
}

static void test_statuses_and_hostile(void)
{
    struct queue_entry e;
    init_entry(&e, "B2");
    add_rcpt(&e, "t@example.net", QRCPT_FAILED, "451 4.3.0 try again later");
    add_rcpt(&e, "u@example.net", QRCPT_FAILED, "452 mailbox full");
    add_rcpt(&e, "v@example.net", QRCPT_FAILED, "expired after 5 days in the queue");
    add_rcpt(&e, "w@example.net", QRCPT_FAILED, "550 bad\r\nX-Injected: yes\r\n\r\n.\r\n");
    char *longerr = xmalloc(3100);
    memcpy(longerr, "550 ", 4);
    memset(longerr + 4, 'x', 3000);
    longerr[3004] = '\0';
    add_rcpt(&e, "y@example.net", QRCPT_FAILED, longerr);
    free(longerr);
    add_rcpt(&e, "z@example.net", QRCPT_PENDING, NULL);
    add_rcpt(&e, "j\xc3\xb6rg@example.net", QRCPT_FAILED, NULL);
    free(e.last_error);
    e.last_error = xstrdup("last one\nEvil: header");
    /* Only headers, no empty line and no body: all of it is the header. */
    int fd = write_entry(&e, "Subject: only headers\r\nX-A: b\r\n");
    struct message m;
    struct result r = RESULT_INIT;
    int rc = bounce_build(&e, fd, "host.example", &m, &r);
    tap_int(rc, 0, "hostile entry: built");
    long long len = 0;
    char *s = rc == 0 ? read_all(m.fd, &len) : xstrdup("");
    tap_ok(crlf_only(s, (size_t)len), "hostile: CRLF everywhere");
    tap_ok(longest_line(s) <= 998, "hostile: long reply folded below 998");
    tap_ok(strstr(s, "From: Mail Delivery System <MAILER-DAEMON@host.example>\r\n") != NULL,
           "bounce_build: From in the reporting host's domain");
    tap_ok(strstr(s, "Final-Recipient: rfc822; t@example.net\r\nAction: failed\r\n"
                     "Status: 4.3.0\r\n") != NULL,
           "4xx with enhanced code keeps it");
    tap_ok(strstr(s, "Final-Recipient: rfc822; u@example.net\r\nAction: failed\r\n"
                     "Status: 4.4.7\r\n") != NULL,
           "4xx without enhanced code: 4.4.7 (expired)");
    tap_ok(strstr(s, "Final-Recipient: rfc822; v@example.net\r\nAction: failed\r\n"
                     "Status: 5.0.0\r\nDiagnostic-Code: X-Local; expired after") != NULL,
           "our own text: X-Local diagnostic");
    tap_ok(strstr(s, "\r\nX-Injected") == NULL && strstr(s, "\r\n.\r\n") == NULL,
           "CR/LF in a reply cannot inject lines");
    tap_ok(strstr(s, "\r\nEvil:") == NULL, "CR/LF in last-error cannot inject lines");
    tap_ok(strstr(s, "z@example.net") == NULL, "pending recipient not reported");
    tap_ok(strstr(s, "Final-Recipient: utf-8; j\xc3\xb6rg@example.net\r\n") != NULL,
           "non-ASCII address uses the utf-8 address type");
    tap_ok(m.has_8bit, "8-bit content flagged");
    tap_ok(strstr(s, "Subject: only headers\r\nX-A: b\r\n") != NULL,
           "headers-only message copied");
    free(s);
    if (rc == 0)
        message_free(&m);
    close(fd);
    queue_entry_free(&e);

    /* A first line that is not a header field: nothing is copied. */
    init_entry(&e, "C3");
    add_rcpt(&e, "bob@example.net", QRCPT_FAILED, "550 no");
    fd = write_entry(&e, "just a body line\r\nSubject: x\r\n");
    rc = bounce_build(&e, fd, "h", &m, &r);
    s = rc == 0 ? read_all(m.fd, &len) : xstrdup("");
    tap_ok(rc == 0 && strstr(s, "just a body") == NULL && strstr(s, "Subject: x") == NULL,
           "body without headers is not copied");
    free(s);
    if (rc == 0)
        message_free(&m);
    close(fd);
    queue_entry_free(&e);
}

/* Build the bounce of e (whose message is msg) and return its text, or
 * "" when it could not be built (a failed check says so). */
static char *build_text(struct queue_entry *e, const char *msg, struct message *m)
{
    int fd = write_entry(e, msg);
    struct result r = RESULT_INIT;
    int rc = bounce_build_domain(e, fd, "mx.example.org", "example.org", m, &r);
    char *what = xasprintf("%s: built, CRLF everywhere", e->id);
    long long len = 0;
    char *s = rc == 0 ? read_all(m->fd, &len) : xstrdup("");
    tap_ok(rc == 0 && crlf_only(s, (size_t)len), what);
    free(what);
    result_clear(&r);
    if (fd >= 0)
        close(fd);
    return s;
}

/* The boundary of the notification s ("none" when missing); caller frees. */
static char *boundary_of(const char *s)
{
    const char *bp = strstr(s, "boundary=\"");
    if (!bp)
        return xstrdup("none");
    bp += strlen("boundary=\"");
    const char *q = strchr(bp, '"');
    return q ? xstrndup(bp, (size_t)(q - bp)) : xstrdup("none");
}

static void test_global(void)
{
    /* A recipient with a non-ASCII local part and domain. */
    struct queue_entry e;
    struct message m;
    init_entry(&e, "G1");
    add_rcpt(&e, "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a",
             QRCPT_FAILED, "550 5.1.1 unknown user");
    add_rcpt(&e, "bob@example.net", QRCPT_FAILED, "550 5.1.1 no such user");
    char *s = build_text(&e, original, &m);
    char *boundary = boundary_of(s);
    char *p1 = part(s, boundary, 1), *p2 = part(s, boundary, 2), *p3 = part(s, boundary, 3);
    tap_ok(strstr(s, "Content-Type: multipart/report; report-type=global-delivery-status;\r\n")
               != NULL, "UTF-8 recipient: report-type=global-delivery-status");
    tap_ok(p1 && strstr(p1, "Content-Type: text/plain; charset=utf-8\r\n"
                            "Content-Transfer-Encoding: 8bit\r\n\r\n") != NULL
               && strstr(p1, "<\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf"
                             "\xe5\x91\x8a>: 550 5.1.1 unknown user\r\n") != NULL,
           "UTF-8 recipient: the text names it in UTF-8, 8bit");
    tap_ok(p2 && strncmp(p2, "Content-Description: Delivery report\r\n"
                             "Content-Type: message/global-delivery-status\r\n"
                             "Content-Transfer-Encoding: 8bit\r\n\r\nReporting-MTA: ",
                         strlen("Content-Description: Delivery report\r\n"
                                "Content-Type: message/global-delivery-status\r\n"
                                "Content-Transfer-Encoding: 8bit\r\n\r\nReporting-MTA: ")) == 0,
           "UTF-8 recipient: message/global-delivery-status, 8bit");
    tap_ok(p2 && strstr(p2, "\r\n\r\nFinal-Recipient: utf-8; \xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b"
                            "\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a\r\nAction: failed\r\n"
                            "Status: 5.1.1\r\n") != NULL,
           "UTF-8 recipient: Final-Recipient: utf-8; the address as it is");
    tap_ok(p2 && strstr(p2, "\r\n\r\nFinal-Recipient: rfc822; bob@example.net\r\n") != NULL,
           "an ASCII recipient beside it keeps rfc822");
    tap_ok(p3 && strncmp(p3, "Content-Description: Undelivered Message Headers\r\n"
                             "Content-Type: message/global-headers\r\n\r\nFrom: Alice",
                         strlen("Content-Description: Undelivered Message Headers\r\n"
                                "Content-Type: message/global-headers\r\n\r\nFrom: Alice")) == 0,
           "UTF-8 recipient: message/global-headers (ASCII: no 8bit)");
    tap_ok(strstr(s, "SECRET BODY") == NULL, "global: no original body");
    tap_ok(m.has_8bit, "global: 8-bit flagged");
    free(p1);
    free(p2);
    free(p3);
    free(boundary);
    free(s);
    message_free(&m);
    queue_entry_free(&e);

    /* ASCII addresses, 8-bit octets in the original header section. */
    init_entry(&e, "G2");
    add_rcpt(&e, "bob@example.net", QRCPT_FAILED, "550 5.1.1 no such user");
    s = build_text(&e, "From: alice@example.org\r\nSubject: Gr\xc3\xbc\xc3\x9f" "e\r\n\r\n"
                       "K\xc3\xb6rper\r\n", &m);
    boundary = boundary_of(s);
    p1 = part(s, boundary, 1);
    p2 = part(s, boundary, 2);
    p3 = part(s, boundary, 3);
    tap_ok(strstr(s, "report-type=global-delivery-status;") != NULL,
           "8-bit header: report-type=global-delivery-status");
    tap_ok(p1 && strstr(p1, "Content-Transfer-Encoding: 7bit\r\n\r\n") != NULL,
           "8-bit header: an ASCII text stays 7bit");
    tap_ok(p2 && strstr(p2, "Content-Type: message/global-delivery-status\r\n\r\n") != NULL
               && strstr(p2, "Final-Recipient: rfc822; bob@example.net\r\n") != NULL,
           "8-bit header: an ASCII status part without 8bit, rfc822 address type");
    tap_ok(p3 && strstr(p3, "Content-Type: message/global-headers\r\n"
                            "Content-Transfer-Encoding: 8bit\r\n\r\n"
                            "From: alice@example.org\r\nSubject: Gr\xc3\xbc\xc3\x9f" "e\r\n")
               != NULL, "8-bit header: message/global-headers, 8bit, copied as they are");
    tap_ok(strstr(s, "K\xc3\xb6rper") == NULL, "8-bit header: no original body");
    free(p1);
    free(p2);
    free(p3);
    free(boundary);
    free(s);
    message_free(&m);
    queue_entry_free(&e);

    /* Only the sender is non-ASCII: the notification goes to it. */
    init_entry(&e, "G3");
    free(e.sender);
    e.sender = xstrdup("j\xc3\xb6rg@b\xc3\xbc" "cher.example");
    add_rcpt(&e, "bob@example.net", QRCPT_FAILED, "550 5.1.1 no such user");
    s = build_text(&e, original, &m);
    tap_ok(strstr(s, "\r\nTo: <j\xc3\xb6rg@b\xc3\xbc" "cher.example>\r\n") != NULL
               && strstr(s, "report-type=global-delivery-status;") != NULL
               && strstr(s, "Content-Type: message/global-headers\r\n\r\n") != NULL,
           "UTF-8 sender: To: it, the RFC 6533 form");
    free(s);
    message_free(&m);
    queue_entry_free(&e);

    /* All ASCII, with an 8-bit body: the RFC 3464 form. */
    init_entry(&e, "G4");
    add_rcpt(&e, "bob@example.net", QRCPT_FAILED, "550 5.1.1 no such user");
    s = build_text(&e, "Subject: x\r\n\r\nK\xc3\xb6rper\r\n", &m);
    tap_ok(strstr(s, "report-type=delivery-status;") != NULL
               && strstr(s, "Content-Type: message/delivery-status\r\n\r\n") != NULL
               && strstr(s, "Content-Type: text/rfc822-headers\r\n\r\n") != NULL
               && strstr(s, "global") == NULL && !m.has_8bit,
           "ASCII envelope and header, 8-bit body: RFC 3464 as before, all ASCII");
    free(s);
    message_free(&m);
    queue_entry_free(&e);
}

static void test_refusals(void)
{
    struct queue_entry e;
    struct message m;
    struct result r = RESULT_INIT;
    init_entry(&e, "D4");
    free(e.sender);
    e.sender = xstrdup("");
    add_rcpt(&e, "bob@example.net", QRCPT_FAILED, "550 no");
    int fd = write_entry(&e, original);
    int rc = bounce_build(&e, fd, "h", &m, &r);
    tap_ok(rc == -1 && r.cls == RC_SOFTWARE && r.msg && strstr(r.msg, "null sender"),
           "never for the null sender");
    tap_int(m.fd, -1, "no file for the null sender");
    result_clear(&r);
    close(fd);
    queue_entry_free(&e);

    init_entry(&e, "E5");
    add_rcpt(&e, "bob@example.net", QRCPT_DELIVERED, NULL);
    add_rcpt(&e, "eve@example.net", QRCPT_PENDING, "451 later");
    fd = write_entry(&e, original);
    rc = bounce_build(&e, fd, "h", &m, &r);
    tap_ok(rc == -1 && r.cls == RC_SOFTWARE, "nothing failed: refused");
    result_clear(&r);
    close(fd);

    /* Unreadable entry file. */
    e.rcpts[1].state = QRCPT_FAILED;
    rc = bounce_build(&e, -1, "h", &m, &r);
    tap_ok(rc == -1 && r.cls == RC_IOERR && r.msg && strstr(r.msg, "E5"),
           "read error is RC_IOERR naming the entry");
    tap_int(m.fd, -1, "no file after a read error");
    result_clear(&r);

    /* Temporary directory that cannot be used. */
    fd = write_entry(&e, original);
    const char *old = getenv("TMPDIR");
    char *saved = old ? xstrdup(old) : NULL;
    setenv("TMPDIR", "/nonexistent/dir", 1);
    rc = bounce_build(&e, fd, "h", &m, &r);
    tap_ok(rc == -1 && r.cls == RC_CANTCREAT, "no temporary file: RC_CANTCREAT");
    if (saved)
        setenv("TMPDIR", saved, 1);
    else
        unsetenv("TMPDIR");
    free(saved);
    result_clear(&r);
    close(fd);
    queue_entry_free(&e);
}

int main(void)
{
    tmpdir = tu_tmpdir("bounce");
    test_structure();
    test_statuses_and_hostile();
    test_global();
    test_refusals();
    tu_rmtree(tmpdir);
    return tap_done();
}
