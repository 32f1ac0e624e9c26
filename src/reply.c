/*
 * reply.c - SMTP reply and capability parsing (see reply.h): the strict
 * reply-line parser (three digits, ' ' or '-', printable text or
 * valid UTF-8 without C1 controls, bounded length), enhanced status codes,
 * and the EHLO keywords.
 *
 * Must not: do I/O or keep state; everything here is a pure function of
 * its arguments so the parsers can be unit-tested and fuzzed alone.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "i18n.h"
#include "reply.h"

char *reply_escape(const char *s, size_t len, size_t max)
{
    struct buf b = BUF_INIT;
    buf_put_escaped(&b, s, len > max ? max : len, ESCAPE_BACKSLASH | ESCAPE_8BIT);
    if (len > max)
        buf_puts(&b, "...");
    return buf_steal(&b);
}


/* Length of the valid UTF-8 sequence at p (n bytes left) that is not a
 * C1 control character, or 0. p[0] >= 0x80. */
static size_t reply_utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        need = 1;
        if (c == 0xc2)
            lo = 0xa0;          /* U+0080..U+009F are C1 controls */
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 2;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 3;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (n < need + 1)
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i <= need; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return need + 1;
}

static int reply_bad_line(const char *line, size_t len, const char *why, struct result *r)
{
    char *q = reply_escape(line, len, 200);
    result_set(r, RC_PROTOCOL, _("the server sent an invalid reply line (%s): \"%s\""), why, q);
    free(q);
    return -1;
}

int reply_parse_line(const char *line, size_t len, int *code, bool *more,
                     const char **text, struct result *r)
{
    *code = 0;
    *more = false;
    *text = NULL;
    if (len > REPLY_MAX_LINE)
        return reply_bad_line(line, len, _("line too long"), r);
    if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9'
        || line[2] < '0' || line[2] > '9')
        return reply_bad_line(line, len, _("no valid reply code"), r);
    if (len > 3 && line[3] != ' ' && line[3] != '-')
        return reply_bad_line(line, len, _("unexpected character after the reply code"), r);
    const unsigned char *p = (const unsigned char *)line;
    for (size_t i = 4; i < len;) {
        if (p[i] >= 0x80) {
            size_t n = reply_utf8_len(p + i, len - i);
            if (n == 0)
                return reply_bad_line(line, len, _("invalid UTF-8 or control character"), r);
            i += n;
            continue;
        }
        if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f)
            return reply_bad_line(line, len, _("control character"), r);
        i++;
    }
    *code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    *more = len > 3 && line[3] == '-';
    *text = len > 3 ? line + 4 : line + 3;
    return 0;
}

/* "x.y.z" at the start of text with x matching the reply class. */
void reply_parse_enhanced(const char *text, int code, char out[16])
{
    out[0] = '\0';
    const char *p = text;
    if (*p != '0' + code / 100 || p[1] != '.')
        return;
    p += 2;
    for (int part = 0; part < 2; part++) {
        int digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 4) {
            p++;
            digits++;
        }
        if (digits < 1 || digits > 3)
            return;
        if (part == 0) {
            if (*p != '.')
                return;
            p++;
        }
    }
    if (*p != '\0' && *p != ' ' && *p != '\t')
        return;
    size_t n = (size_t)(p - text);
    memcpy(out, text, n);
    out[n] = '\0';
}


/* A SASL mechanism name (RFC 4422 3.1): 1 to 20 of A-Z 0-9 - _
 * (lower case accepted here and upper-cased by the caller). */
static bool reply_mech_name_ok(const char *w, size_t n)
{
    if (n == 0 || n > REPLY_MAX_MECH_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = w[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
              || c == '-' || c == '_'))
            return false;
    }
    return true;
}

/* Whether the space-separated list holds the mechanism m (n bytes,
 * upper case). The list has at most REPLY_MAX_AUTH_MECHS short names:
 * bounded work per word. */
static bool reply_mech_listed(const char *list, const char *m, size_t n)
{
    for (const char *q = list; q && *q;) {
        const char *e = strchr(q, ' ');
        size_t l = e ? (size_t)(e - q) : strlen(q);
        if (l == n && memcmp(q, m, n) == 0)
            return true;
        q = e ? e + 1 : q + l;
    }
    return false;
}

/* The mechanisms of one AUTH line, added to caps->auth. What the server
 * controls is capped: names longer than RFC 4422 allows or with other
 * characters are skipped, at most REPLY_MAX_AUTH_WORDS words are looked
 * at per session and at most REPLY_MAX_AUTH_MECHS distinct names kept,
 * so the work is linear in the line's length. */
static void reply_add_auth_mechs(struct smtp_caps *caps, const char *p, const char *end)
{
    struct buf b = BUF_INIT;
    if (caps->auth)
        buf_puts(&b, caps->auth);
    while (p < end && caps->auth_words < REPLY_MAX_AUTH_WORDS
           && caps->nauth < REPLY_MAX_AUTH_MECHS) {
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        const char *w = p;
        while (p < end && *p != ' ' && *p != '\t')
            p++;
        size_t n = (size_t)(p - w);
        if (n == 0)
            break;
        caps->auth_words++;
        if (!reply_mech_name_ok(w, n))
            continue;
        char mech[REPLY_MAX_MECH_LEN + 1];
        for (size_t i = 0; i < n; i++)
            mech[i] = (w[i] >= 'a' && w[i] <= 'z') ? (char)(w[i] - 'a' + 'A') : w[i];
        mech[n] = '\0';
        if (reply_mech_listed(b.data, mech, n))
            continue;
        if (b.len)
            buf_putc(&b, ' ');
        buf_append(&b, mech, n);
        caps->nauth++;
    }
    free(caps->auth);
    caps->auth = b.len ? buf_steal(&b) : NULL;
    buf_free(&b);
}

/* k (kl bytes) is the keyword name, case-insensitively. */
static bool reply_keyword_is(const char *k, size_t kl, const char *name)
{
    return kl == strlen(name) && ascii_strncasecmp(k, name, kl) == 0;
}

/* One EHLO keyword line (text after "250-"). */
static void reply_parse_cap(struct smtp_caps *caps, const char *p, const char *end)
{
    const char *k = p;
    while (p < end && *p != ' ' && *p != '=')
        p++;
    size_t kl = (size_t)(p - k);
    if (reply_keyword_is(k, kl, "PIPELINING")) {
        caps->pipelining = true;
    } else if (reply_keyword_is(k, kl, "SIZE")) {
        caps->size = true;
        caps->size_max = 0;
        while (p < end && *p == ' ')
            p++;
        unsigned long long v = 0;
        bool ok = p < end;
        for (; p < end && *p >= '0' && *p <= '9'; p++) {
            if (v > (~0ULL - 9) / 10) {
                ok = false;
                break;
            }
            v = v * 10 + (unsigned)(*p - '0');
        }
        if (ok && (p == end || *p == ' '))
            caps->size_max = v;
    } else if (reply_keyword_is(k, kl, "8BITMIME")) {
        caps->eightbitmime = true;
    } else if (reply_keyword_is(k, kl, "SMTPUTF8")) {
        caps->smtputf8 = true;
    } else if (reply_keyword_is(k, kl, "DSN")) {
        caps->dsn = true;
    } else if (reply_keyword_is(k, kl, "STARTTLS")) {
        caps->starttls = true;
    } else if (reply_keyword_is(k, kl, "ENHANCEDSTATUSCODES")) {
        caps->enhancedstatuscodes = true;
    } else if (reply_keyword_is(k, kl, "CHUNKING")) {
        caps->chunking = true;
    } else if (reply_keyword_is(k, kl, "AUTH")) {
        if (p < end)
            p++;                /* ' ' or '=' */
        reply_add_auth_mechs(caps, p, end);
    }
}

void reply_parse_caps(struct smtp_caps *caps, const char *text)
{
    const char *line = strchr(text, '\n');   /* the first line is the greeting */
    while (line && caps->ncaplines < REPLY_MAX_CAP_LINES) {
        line++;
        const char *end = strchr(line, '\n');
        const char *stop = end ? end : line + strlen(line);
        caps->ncaplines++;
        if (stop - line > 4)
            reply_parse_cap(caps, line + 4, stop);
        line = end;
    }
}

void reply_caps_clear(struct smtp_caps *caps)
{
    free(caps->auth);
    memset(caps, 0, sizeof *caps);
}
