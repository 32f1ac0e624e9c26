/*
 * bounce.c - RFC 3464 delivery status notifications (see bounce.h): the
 * multipart/report built for a queue entry whose recipients failed
 * permanently or expired, written in canonical CRLF form to a private
 * temporary file so that deliver_session can send it like any message.
 * When the original was internationalized mail (a non-ASCII envelope
 * address, or 8-bit octets in its header section) it is the RFC 6533
 * form instead: report-type=global-delivery-status, the status as
 * message/global-delivery-status with utf-8 address types, the headers as
 * message/global-headers, 8-bit parts marked 8bit.
 *
 * Owns: the notification's headers, its three parts, the per-recipient
 * Status / Diagnostic-Code fields, the extraction of the original header
 * section (never the original body), the choice of the RFC 3464 or the
 * RFC 6533 form.
 * Must not: send anything, change the entry, or decide whether a
 * notification is due (flush.c does: never for the null sender, never
 * twice).
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bounce.h"
#include "i18n.h"
#include "intake.h"
#include "message.h"
#include "queue.h"

/* Longest original header section copied into the notification. */
#define BOUNCE_MAX_HEADERS (256 * 1024)
/* Fold header fields and wrap text near this width. */
#define BOUNCE_WIDTH 76

/* RFC 5322 date in local time with fixed English names (not locale). */

/* A copy of s on one line: CR, LF, TAB and other control bytes become
 * spaces, runs of spaces collapse, leading/trailing spaces go. */
static char *bounce_oneline(const char *s)
{
    struct buf b = BUF_INIT;
    bool space = false;
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p < 0x20 || *p == 0x7f || *p == ' ') {
            space = true;
            continue;
        }
        if (space && b.len)
            buf_putc(&b, ' ');
        space = false;
        buf_putc(&b, (char)*p);
    }
    return buf_steal(&b);
}

/* Append text word by word, breaking lines near BOUNCE_WIDTH; every new
 * line starts with indent (" " folds a header field). col is the column
 * where text starts. Words longer than a line are cut at 900 octets so
 * no line can exceed RFC 5322's 998. */
static void bounce_wrap(struct buf *b, const char *text, size_t col, const char *indent)
{
    const char *p = text;
    bool first = true;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        size_t n = strcspn(p, " ");
        if (n > 900)
            n = 900;
        if (!first && col + 1 + n > BOUNCE_WIDTH) {
            buf_puts(b, "\r\n");
            buf_puts(b, indent);
            col = strlen(indent);
        } else if (!first) {
            buf_putc(b, ' ');
            col++;
        }
        buf_append(b, p, n);
        col += n;
        p += n;
        first = false;
    }
    buf_puts(b, "\r\n");
}

static void bounce_field(struct buf *b, const char *name, const char *value)
{
    char *v = bounce_oneline(value);
    buf_printf(b, "%s:", name);
    if (*v) {
        buf_putc(b, ' ');
        bounce_wrap(b, v, strlen(name) + 2, " ");
    } else {
        buf_puts(b, "\r\n");
    }
    free(v);
}

/* The reply code at the start of err (a server reply "550 5.1.1 text" or
 * "550-..." joined lines), or 0 when err is not a server reply. When an
 * enhanced status code of the same class follows, it is copied to enh. */
static int bounce_reply_code(const char *err, char *enh, size_t enhsize)
{
    enh[0] = '\0';
    if (!err || !(err[0] >= '2' && err[0] <= '5') || !(err[1] >= '0' && err[1] <= '9')
        || !(err[2] >= '0' && err[2] <= '9') || !(err[3] == ' ' || err[3] == '-'
                                                  || err[3] == '\0'))
        return 0;
    int code = (err[0] - '0') * 100 + (err[1] - '0') * 10 + (err[2] - '0');
    if (err[3] == '\0')
        return code;
    const char *p = err + 4;
    size_t n = 0;
    int parts = 0, digits = 0;
    if (*p != err[0])
        return code;
    while (p[n] && p[n] != ' ') {
        if (p[n] >= '0' && p[n] <= '9') {
            if (++digits > 3)
                return code;
        } else if (p[n] == '.' && digits > 0) {
            parts++;
            digits = 0;
        } else {
            return code;
        }
        n++;
    }
    if (parts == 2 && digits > 0 && n < enhsize) {
        memcpy(enh, p, n);
        enh[n] = '\0';
    }
    return code;
}

/* One recipient's block of the message/delivery-status part (or of the
 * message/global-delivery-status part: a non-ASCII address has the
 * address type utf-8 of RFC 6533 3, written as it is). */
static void bounce_recipient(struct buf *b, const struct queue_rcpt *q)
{
    char enh[16];
    int code = bounce_reply_code(q->error, enh, sizeof enh);
    char *addr = bounce_oneline(q->addr);
    bool ascii = ascii_only(addr, strlen(addr));
    buf_printf(b, "\r\nFinal-Recipient: %s; %s\r\n", ascii ? "rfc822" : "utf-8", addr);
    buf_puts(b, "Action: failed\r\n");
    const char *status;
    if (enh[0])
        status = enh;
    else if (code / 100 == 5)
        status = "5.0.0";
    else if (code / 100 == 4)
        status = "4.4.7";       /* still refused temporarily when it expired */
    else
        status = "5.0.0";
    buf_printf(b, "Status: %s\r\n", status);
    if (q->error && *q->error) {
        char *v = xasprintf(code ? "smtp; %s" : "X-Local; %s", q->error);
        bounce_field(b, "Diagnostic-Code", v);
        free(v);
    }
    free(addr);
}

/* Does this line (without CRLF) start a header field? */
static bool bounce_is_field(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && p[i] != ':') {
        unsigned char c = (unsigned char)p[i];
        if (c <= 32 || c >= 127)
            return false;
        i++;
    }
    return i > 0 && i < n;
}

/* Append the original header section (up to the empty line that ends it,
 * or the first line that is not a header field) to b. */
static int bounce_copy_headers(const struct queue_entry *e, int fd, struct buf *b,
                               struct result *r)
{
    struct buf h = BUF_INIT;
    char block[8192];
    long long off = e->body_offset;
    long long end = e->size >= 0 ? e->body_offset + e->size : -1;
    bool eof = false;
    size_t pos = 0;             /* start of the next unexamined line in h */
    bool done = false, first = true;

    while (!done) {
        const char *nl = h.data && pos < h.len ? memchr(h.data + pos, '\n', h.len - pos) : NULL;
        if (!nl) {
            if (eof || h.len >= BOUNCE_MAX_HEADERS)
                break;
            size_t want = sizeof block;
            if (end >= 0 && off + (long long)want > end)
                want = (size_t)(end - off);
            ssize_t got = want ? pread(fd, block, want, (off_t)off) : 0;
            if (got < 0 && errno == EINTR)
                continue;
            if (got < 0) {
                int err = errno;
                result_set(r, RC_IOERR, _("cannot read queue entry %s: %s"), e->id,
                           strerror(err));
                buf_free(&h);
                return -1;
            }
            if (got == 0)
                eof = true;
            buf_append(&h, block, (size_t)got);
            off += got;
            continue;
        }
        size_t len = (size_t)(nl - (h.data + pos));
        size_t text = len > 0 && h.data[pos + len - 1] == '\r' ? len - 1 : len;
        const char *line = h.data + pos;
        bool cont = !first && text > 0 && (line[0] == ' ' || line[0] == '\t');
        if (text == 0 || !(cont || bounce_is_field(line, text))) {
            done = true;
            break;
        }
        buf_append(b, line, text);
        buf_puts(b, "\r\n");
        pos += len + 1;
        first = false;
    }
    buf_free(&h);
    return 0;
}

/* A private temporary file (unlinked, 0600) in $TMPDIR or /tmp. */
static int bounce_tmpfile(struct result *r)
{
    char *err = NULL;
    int fd = util_open_tmp(NULL, &err);
    if (fd < 0) {
        result_set(r, RC_CANTCREAT, "%s", err);
        free(err);
    }
    return fd;
}

static char *bounce_random_hex(size_t nbytes)
{
    unsigned char rnd[32];
    if (nbytes > sizeof rnd)
        nbytes = sizeof rnd;
    random_bytes(rnd, nbytes);
    struct buf b = BUF_INIT;
    for (size_t i = 0; i < nbytes; i++)
        buf_printf(&b, "%02x", rnd[i]);
    return buf_steal(&b);
}

/* The human-readable part's text (CRLF lines). */
static void bounce_human(struct buf *b, const struct queue_entry *e, const char *host,
                         const char *arrival)
{
    char *t = xasprintf(_("This is the mail delivery agent smtpfwd on host %s."), host);
    bounce_wrap(b, t, 0, "");
    free(t);
    buf_puts(b, "\r\n");
    t = xasprintf(_("Your message (queued on %s with id %s) could not be delivered to one "
                    "or more recipients. The details follow; the headers of your message "
                    "are attached below."), arrival, e->id);
    bounce_wrap(b, t, 0, "");
    free(t);
    buf_puts(b, "\r\n");
    for (size_t i = 0; i < e->nrcpts; i++) {
        const struct queue_rcpt *q = &e->rcpts[i];
        if (q->state != QRCPT_FAILED)
            continue;
        char *addr = bounce_oneline(q->addr);
        char *err = bounce_oneline(q->error && *q->error ? q->error
                                                          : _("no reason was recorded"));
        t = xasprintf("<%s>: %s", addr, err);
        bounce_wrap(b, t, 0, "    ");
        free(t);
        free(addr);
        free(err);
    }
    if (e->last_error && *e->last_error) {
        buf_puts(b, "\r\n");
        char *err = bounce_oneline(e->last_error);
        t = xasprintf(_("Last error: %s"), err);
        bounce_wrap(b, t, 0, "    ");
        free(t);
        free(err);
    }
}

int bounce_build_domain(const struct queue_entry *e, int entry_fd, const char *reporting_host,
                        const char *mail_domain, struct message *m, struct result *r)
{
    memset(m, 0, sizeof *m);
    m->fd = -1;
    if (!e->sender || !*e->sender) {
        result_set(r, RC_SOFTWARE,
                   _("no delivery status notification is sent for queue entry %s: its "
                     "sender is the null sender"), e->id);
        return -1;
    }
    size_t nfailed = 0;
    for (size_t i = 0; i < e->nrcpts; i++)
        nfailed += e->rcpts[i].state == QRCPT_FAILED;
    if (nfailed == 0) {
        result_set(r, RC_SOFTWARE,
                   _("no delivery status notification is due for queue entry %s: no "
                     "recipient failed"), e->id);
        return -1;
    }
    const char *host = reporting_host && *reporting_host ? reporting_host : "localhost";
    const char *domain = mail_domain && *mail_domain ? mail_domain : host;

    /* The original headers first: whether they have 8-bit octets decides
     * the form, like the envelope's addresses. */
    struct buf headers = BUF_INIT;
    if (bounce_copy_headers(e, entry_fd, &headers, r) != 0) {
        buf_free(&headers);
        return -1;
    }
    bool global = !ascii_only(headers.data ? headers.data : "", headers.len)
                  || !ascii_only(e->sender, strlen(e->sender));
    for (size_t i = 0; i < e->nrcpts; i++)
        global |= !ascii_only(e->rcpts[i].addr, strlen(e->rcpts[i].addr));

    struct buf b = BUF_INIT;
    char *boundary = bounce_random_hex(16);
    char *now = intake_date(time(NULL));
    char *arrival = intake_date(e->created);
    char *msgid_rnd = bounce_random_hex(16);
    char *sender = bounce_oneline(e->sender);
    char *hostline = bounce_oneline(host);
    char *dom = bounce_oneline(domain);

    buf_printf(&b, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n", dom);
    buf_printf(&b, "To: <%s>\r\n", sender);
    buf_puts(&b, "Subject: Undelivered Mail Returned to Sender\r\n");
    buf_printf(&b, "Date: %s\r\n", now);
    buf_printf(&b, "Message-ID: <%s.bounce@%s>\r\n", msgid_rnd, dom);
    buf_puts(&b, "Auto-Submitted: auto-replied\r\n");
    buf_puts(&b, "MIME-Version: 1.0\r\n");
    buf_printf(&b, "Content-Type: multipart/report; report-type=%s;\r\n"
                   " boundary=\"=_smtpfwd_%s\"\r\n",
               global ? "global-delivery-status" : "delivery-status", boundary);
    buf_puts(&b, "\r\nThis is a MIME-encapsulated message.\r\n");

    /* 1: human-readable */
    struct buf human = BUF_INIT;
    bounce_human(&human, e, hostline, arrival);
    bool human8 = !ascii_only(human.data ? human.data : "", human.len);
    buf_printf(&b, "\r\n--=_smtpfwd_%s\r\n", boundary);
    buf_puts(&b, "Content-Description: Notification\r\n");
    buf_puts(&b, "Content-Type: text/plain; charset=utf-8\r\n");
    buf_printf(&b, "Content-Transfer-Encoding: %s\r\n\r\n", human8 ? "8bit" : "7bit");
    buf_append(&b, human.data ? human.data : "", human.len);
    buf_free(&human);

    /* 2: message/delivery-status (RFC 6533: message/global-delivery-status) */
    struct buf status = BUF_INIT;
    buf_printf(&status, "Reporting-MTA: dns; %s\r\n", hostline);
    buf_printf(&status, "X-Smtpfwd-Queue-ID: %s\r\n", e->id);
    if (e->dsn_envid && *e->dsn_envid) {
        char *envid = bounce_oneline(e->dsn_envid);
        buf_printf(&status, "Original-Envelope-Id: %s\r\n", envid);
        free(envid);
    }
    buf_printf(&status, "Arrival-Date: %s\r\n", arrival);
    for (size_t i = 0; i < e->nrcpts; i++)
        if (e->rcpts[i].state == QRCPT_FAILED)
            bounce_recipient(&status, &e->rcpts[i]);
    buf_printf(&b, "\r\n--=_smtpfwd_%s\r\n", boundary);
    buf_puts(&b, "Content-Description: Delivery report\r\n");
    buf_printf(&b, "Content-Type: message/%sdelivery-status\r\n", global ? "global-" : "");
    if (global && !ascii_only(status.data, status.len))
        buf_puts(&b, "Content-Transfer-Encoding: 8bit\r\n");
    buf_puts(&b, "\r\n");
    buf_append(&b, status.data, status.len);
    buf_free(&status);

    /* 3: the original headers, never the body */
    buf_printf(&b, "\r\n--=_smtpfwd_%s\r\n", boundary);
    buf_puts(&b, "Content-Description: Undelivered Message Headers\r\n");
    buf_printf(&b, "Content-Type: %s\r\n", global ? "message/global-headers"
                                                   : "text/rfc822-headers");
    if (global && !ascii_only(headers.data ? headers.data : "", headers.len))
        buf_puts(&b, "Content-Transfer-Encoding: 8bit\r\n");
    buf_puts(&b, "\r\n");
    buf_append(&b, headers.data ? headers.data : "", headers.len);
    buf_free(&headers);
    buf_printf(&b, "\r\n--=_smtpfwd_%s--\r\n", boundary);

    free(boundary);
    free(now);
    free(arrival);
    free(msgid_rnd);
    free(sender);
    free(hostline);
    free(dom);

    int fd = bounce_tmpfile(r);
    if (fd >= 0 && write_all(fd, b.data, b.len) != 0) {
        int err = errno;
        result_set(r, RC_IOERR, _("cannot write the delivery status notification: %s"),
                   strerror(err));
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        buf_free(&b);
        return -1;
    }
    m->fd = fd;
    m->size = (long long)b.len;
    m->has_8bit = !ascii_only(b.data, b.len);
    /* the facts convert_may_need reads: a long line copied from the
     * original header section is converted like any other */
    for (size_t i = 0, start = 0; i < b.len; i++)
        if (b.data[i] == '\n') {
            size_t len = i - start - (i > start && b.data[i - 1] == '\r');
            if (len > m->longest_line)
                m->longest_line = len;
            start = i + 1;
        }
    m->has_from = m->has_date = m->has_msgid = true;
    buf_free(&b);
    return 0;
}

int bounce_build(const struct queue_entry *e, int entry_fd, const char *reporting_host,
                 struct message *m, struct result *r)
{
    return bounce_build_domain(e, entry_fd, reporting_host, NULL, m, r);
}
