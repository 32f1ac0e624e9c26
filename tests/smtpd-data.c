/*
 * smtpd-data.c - the `check-data` checks of tests/smtpd-script.c (see
 * smtpd-data.h): the message data of a transaction against the
 * declarations of its MAIL command and the EHLO reply. It owns no I/O
 * and no judgement: it reports what it finds.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtpd-data.h"

static bool has_8bit(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] >= 0x80)
            return true;
    return false;
}

/* Whether word (case-insensitive) is one of the space-separated words of
 * p[0..n) after its first word; a word ends at a space, '=' or the end. */
static bool has_word(const char *p, size_t n, const char *word, size_t wl)
{
    for (size_t i = 1; i + wl <= n; i++) {
        if (p[i - 1] != ' ' || strncasecmp(p + i, word, wl) != 0)
            continue;
        if (i + wl == n || p[i + wl] == ' ')
            return true;
    }
    return false;
}

/* RFC 3629 UTF-8: no overlong form, no surrogate, nothing above U+10FFFF. */
static bool utf8_valid(const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        size_t k;
        unsigned min, v;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            k = 1, min = 0x80, v = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 2, min = 0x800, v = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3, min = 0x10000, v = c & 0x07;
        } else {
            return false;
        }
        if (i + k >= n)
            return false;
        for (size_t j = 1; j <= k; j++) {
            if ((p[i + j] & 0xc0) != 0x80)
                return false;
            v = (v << 6) | (p[i + j] & 0x3f);
        }
        if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
            return false;
        i += k + 1;
    }
    return true;
}

void data_check_ehlo(struct data_check *c, const char *reply, size_t n)
{
    c->offered_8bitmime = memmem(reply, n, "8BITMIME", 8) != NULL;
    c->offered_smtputf8 = memmem(reply, n, "SMTPUTF8", 8) != NULL;
}

void data_check_reset(struct data_check *c)
{
    c->body_8bitmime = c->smtputf8 = c->envelope_8bit = false;
    c->len = 0;
    c->mid_line = false;
}

void data_check_mail(struct data_check *c, const char *line, size_t n, data_check_event ev)
{
    data_check_reset(c);
    c->body_8bitmime = has_word(line, n, "BODY=8BITMIME", 13);
    c->smtputf8 = has_word(line, n, "SMTPUTF8", 8);
    c->envelope_8bit = has_8bit(line, n);
    if (c->body_8bitmime && !c->offered_8bitmime)
        ev("MAIL: BODY=8BITMIME not offered");
    if (c->smtputf8 && !c->offered_smtputf8)
        ev("MAIL: SMTPUTF8 not offered");
}

void data_check_rcpt(struct data_check *c, const char *line, size_t n)
{
    c->envelope_8bit |= has_8bit(line, n);
}

static void append(struct data_check *c, const char *p, size_t n)
{
    if (c->cap - c->len < n) {
        size_t cap = c->cap * 2 + n + 4096;
        char *m = realloc(c->msg, cap);
        if (!m) {
            fprintf(stderr, "smtpd-script: out of memory\n");
            exit(1);
        }
        c->msg = m;
        c->cap = cap;
    }
    memcpy(c->msg + c->len, p, n);
    c->len += n;
}

void data_check_feed(struct data_check *c, const char *p, size_t n, bool stuffed)
{
    if (!stuffed) {
        append(c, p, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        /* The dot doubled at the start of a line is not the message's. */
        if (!c->mid_line && p[i] == '.') {
            c->mid_line = true;
            continue;
        }
        append(c, p + i, 1);
        c->mid_line = p[i] != '\n';
    }
}

void data_check_end(struct data_check *c, data_check_event ev)
{
    const char *m = c->msg ? c->msg : "";
    size_t n = c->len;
    /* The header section: up to the first empty line (or all of it). */
    size_t hlen = n;
    bool long_line = false;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && m[i] != '\n')
            continue;
        size_t end = i;
        if (end > start && m[end - 1] == '\r')
            end--;
        if (end - start > 998)
            long_line = true;
        if (end == start && hlen == n && i < n)
            hlen = start;
        start = i + 1;
    }
    bool any8 = has_8bit(m, n);
    bool head8 = has_8bit(m, hlen);
    if (any8 && !c->body_8bitmime)
        ev("DATA: 8-bit data without BODY=8BITMIME");
    if (!any8 && c->body_8bitmime)
        ev("DATA: BODY=8BITMIME for 7-bit data");
    if (head8 && !c->smtputf8)
        ev("DATA: 8-bit header field without SMTPUTF8");
    if (head8 && c->smtputf8 && !utf8_valid((const unsigned char *)m, hlen))
        ev("DATA: header section not valid UTF-8");
    if (c->smtputf8 && !head8 && !c->envelope_8bit)
        ev("DATA: SMTPUTF8 for an ASCII envelope and header");
    if (long_line)
        ev("DATA: line over 998 octets");
    data_check_reset(c);
}

void data_check_free(struct data_check *c)
{
    free(c->msg);
    memset(c, 0, sizeof *c);
}
