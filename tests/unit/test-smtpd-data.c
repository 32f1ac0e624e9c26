/*
 * test-smtpd-data.c - unit tests for the test server's check-data
 * (tests/smtpd-data.c): the events it reports for a transaction, so that
 * the data cases of message conversion can trust them. Each check is
 * shown firing and staying quiet; DATA is fed dot-stuffed and in pieces,
 * BDAT as it is.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd-data.h"
#include "tap.h"
#include "util.h"

static struct buf events = BUF_INIT;

static void on_event(const char *text)
{
    buf_puts(&events, text);
    buf_putc(&events, '\n');
}

/* The events of one transaction: EHLO reply, MAIL line, one RCPT, then
 * the data (stuffed: fed one octet at a time, as it may arrive). */
static char *run(const char *ehlo, const char *mail, const char *rcpt, const char *data,
                 bool stuffed)
{
    struct data_check c;
    memset(&c, 0, sizeof c);
    events.len = 0;
    data_check_ehlo(&c, ehlo, strlen(ehlo));
    data_check_mail(&c, mail, strlen(mail), on_event);
    data_check_rcpt(&c, rcpt, strlen(rcpt));
    size_t n = strlen(data);
    if (stuffed)
        for (size_t i = 0; i < n; i++)
            data_check_feed(&c, data + i, 1, true);
    else
        data_check_feed(&c, data, n, false);
    data_check_end(&c, on_event);
    data_check_free(&c);
    return xstrndup(events.data ? events.data : "", events.len);
}

static void check(const char *ehlo, const char *mail, const char *rcpt, const char *data,
                  bool stuffed, const char *want, const char *what)
{
    char *got = run(ehlo, mail, rcpt, data, stuffed);
    tap_str(got, want, what);
    free(got);
}

int main(void)
{
    const char *all = "250-mx.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n";
    const char *none = "250-mx.test\r\n250 PIPELINING\r\n";
    const char *rcpt = "RCPT TO:<a@x.test>";

    check(all, "MAIL FROM:<a@x.test>", rcpt, "Subject: s\r\n\r\nascii\r\n", true, "",
          "7-bit data, nothing declared: nothing to say");
    check(all, "MAIL FROM:<a@x.test> BODY=8BITMIME", rcpt, "Subject: s\r\n\r\nh\xc3\xa9\r\n",
          true, "", "8-bit body with BODY=8BITMIME: nothing to say");
    check(all, "MAIL FROM:<a@x.test>", rcpt, "Subject: s\r\n\r\nh\xc3\xa9\r\n", true,
          "DATA: 8-bit data without BODY=8BITMIME\n", "8-bit body without BODY=8BITMIME");
    check(all, "MAIL FROM:<a@x.test> BODY=8BITMIME", rcpt, "Subject: s\r\n\r\nascii\r\n", true,
          "DATA: BODY=8BITMIME for 7-bit data\n", "BODY=8BITMIME on 7-bit data");
    check(none, "MAIL FROM:<a@x.test> body=8bitmime SMTPUTF8", rcpt,
          "Subject: h\xc3\xa9\r\n\r\nx\r\n", true,
          "MAIL: BODY=8BITMIME not offered\nMAIL: SMTPUTF8 not offered\n",
          "parameters that were not offered (any case)");
    check(all, "MAIL FROM:<a@x.test> BODY=8BITMIME", rcpt, "Subject: h\xc3\xa9\r\n\r\nx\r\n",
          true, "DATA: 8-bit header field without SMTPUTF8\n", "UTF-8 header without SMTPUTF8");
    check(all, "MAIL FROM:<a@x.test> BODY=8BITMIME SMTPUTF8", rcpt,
          "Subject: h\xc3\xa9\r\n\r\nx\r\n", true, "", "UTF-8 header with SMTPUTF8");
    check(all, "MAIL FROM:<a@x.test> BODY=8BITMIME SMTPUTF8", rcpt,
          "Subject: h\xe9\r\n\r\nx\r\n", true, "DATA: header section not valid UTF-8\n",
          "Latin-1 header with SMTPUTF8");
    check(all, "MAIL FROM:<a@x.test> BODY=8BITMIME SMTPUTF8", rcpt,
          "Subject: \xed\xa0\x80\r\n\r\nx\r\n", true, "DATA: header section not valid UTF-8\n",
          "a UTF-16 surrogate in UTF-8 is not valid");
    check(all, "MAIL FROM:<a@x.test> BODY=8BITMIME", rcpt,
          "Subject: s\r\n\r\nh\xe9 in the body only\r\n", true, "",
          "8-bit in the body is not the header's");
    check(all, "MAIL FROM:<a@x.test> SMTPUTF8", rcpt, "Subject: s\r\n\r\nx\r\n", true,
          "DATA: SMTPUTF8 for an ASCII envelope and header\n", "SMTPUTF8 not needed");
    check(all, "MAIL FROM:<j\xc3\xb6rg@x.test> SMTPUTF8", rcpt, "Subject: s\r\n\r\nx\r\n", true,
          "", "SMTPUTF8 for a UTF-8 sender");
    check(all, "MAIL FROM:<a@x.test> SMTPUTF8", "RCPT TO:<j\xc3\xb6rg@x.test>",
          "Subject: s\r\n\r\nx\r\n", true, "", "SMTPUTF8 for a UTF-8 recipient");

    /* Line lengths: the message's, without CRLF and the doubled dot. */
    struct buf b = BUF_INIT;
    buf_puts(&b, "Subject: s\r\n\r\n");
    for (int i = 0; i < 998; i++)
        buf_putc(&b, 'x');
    buf_puts(&b, "\r\n");
    char *ok998 = xstrndup(b.data, b.len);
    check(all, "MAIL FROM:<a@x.test>", rcpt, ok998, true, "", "a line of 998 octets is fine");
    b.len -= 2;
    buf_puts(&b, "x\r\n");
    char *long999 = xstrndup(b.data, b.len);
    check(all, "MAIL FROM:<a@x.test>", rcpt, long999, true, "DATA: line over 998 octets\n",
          "a line of 999 octets is not");
    check(all, "MAIL FROM:<a@x.test>", rcpt, long999, false, "DATA: line over 998 octets\n",
          "the same in BDAT");
    /* 998 octets beginning with a dot: 999 on the wire, stuffed. */
    size_t body = strlen("Subject: s\r\n\r\n");
    char *dotted = xstrdup(ok998);
    dotted[body] = '.';
    struct buf st = BUF_INIT;
    buf_puts(&st, "Subject: s\r\n\r\n.");
    buf_puts(&st, dotted + body);
    char *stuffed = xstrndup(st.data, st.len);
    check(all, "MAIL FROM:<a@x.test>", rcpt, stuffed, true, "",
          "the doubled dot of a stuffed line is not counted");
    check(all, "MAIL FROM:<a@x.test>", rcpt, stuffed, false, "DATA: line over 998 octets\n",
          "the same octets in BDAT (not stuffed) are a line of 999");
    check(all, "MAIL FROM:<a@x.test>", rcpt, "Subject: s\r\n\r\n..\r\nh\xc3\xa9\r\n", true,
          "DATA: 8-bit data without BODY=8BITMIME\n", "a stuffed line is undone, the rest read");

    /* The header section ends at the first empty line. */
    check(all, "MAIL FROM:<a@x.test> BODY=8BITMIME", rcpt,
          "Subject: s\r\n\r\nX-Not-A-Header: h\xc3\xa9\r\n", false, "",
          "a header-like line in the body is the body's");
    check(all, "MAIL FROM:<a@x.test> BODY=8BITMIME", rcpt, "Subject: h\xc3\xa9", false,
          "DATA: 8-bit header field without SMTPUTF8\n",
          "a message without a body is all header");

    free(ok998);
    free(long999);
    free(dotted);
    free(stuffed);
    buf_free(&b);
    buf_free(&st);
    buf_free(&events);
    return tap_done();
}
