/*
 * fuzz-reply.c - fuzz target: what a server sends back, as the SMTP
 * client parses it (src/reply.c), and the masking of credentials in it
 * (src/mask.c).
 *
 * Input: the bytes a server would send, lines ending in LF (a CR before
 * it is dropped, as conn.c does). Each line goes through
 * reply_parse_line and, when accepted, reply_parse_enhanced; the
 * accepted lines joined with "\n" (as smtp.c keeps a reply) go through
 * reply_parse_caps; the whole input goes through reply_escape and
 * mask_apply. An input whose first byte is 0xff is instead repeated (its
 * first 100 bytes) as 2,000 lines of one EHLO reply, so that parsing that
 * is not linear shows up as a libFuzzer timeout (20 times the 100 lines
 * looked at: quadratic work would be 400 times that of a normal reply;
 * 254 lines took 18 s of CPU before the parser was made linear). Properties checked:
 *  - an accepted line has a code of 200..599, "more" exactly when the
 *    fourth byte is '-', and its text inside the line; a refused one is
 *    RC_PROTOCOL with a message free of control characters;
 *  - an enhanced code is "" or "C.D.D" with C the reply's class, at
 *    most 3 digits per part;
 *  - the capabilities stay within REPLY_MAX_CAP_LINES lines,
 *    REPLY_MAX_AUTH_WORDS words and REPLY_MAX_AUTH_MECHS mechanisms, each
 *    an upper-case RFC 4422 name, listed once;
 *  - reply_escape's output has only printable ASCII and unescapes back
 *    to the input (up to its bound);
 *  - masking never lengthens the text and leaves no registered secret
 *    in it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mask.h"
#include "reply.h"
#include "result.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool printable_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
            return false;
    return true;
}

/* reply_escape: printable, and its escapes decode back to the input. */
static void check_escape(const char *in, size_t len, size_t max)
{
    char *e = reply_escape(in, len, max);
    if (!printable_ascii(e))
        abort();
    size_t n = len > max ? max : len;
    size_t j = 0;
    const char *p = e;
    while (*p && j <= n) {
        char c;
        if (p[0] == '\\' && p[1] == '\\') {
            c = '\\';
            p += 2;
        } else if (p[0] == '\\' && p[1] == 'x' && p[2] && p[3]) {
            int hi = hex_digit_value(p[2]), lo = hex_digit_value(p[3]);
            if (hi < 0 || lo < 0)
                abort();
            c = (char)(hi * 16 + lo);
            p += 4;
        } else if (j == n && strcmp(p, "...") == 0) {
            break;
        } else {
            c = *p++;
        }
        if (j >= n || c != in[j])
            abort();
        j++;
    }
    if (j != n || (len > max && strcmp(p, "...") != 0))
        abort();
    free(e);
}

static void check_enhanced(const char *text, int code)
{
    char out[16];
    reply_parse_enhanced(text, code, out);
    if (!out[0])
        return;
    if (out[0] != '0' + code / 100 || out[1] != '.' || strlen(out) > 11
        || strncmp(out, text, strlen(out)) != 0)
        abort();
    int parts = 1, digits = 0;
    for (const char *p = out + 2; *p; p++) {
        if (*p == '.') {
            if (digits < 1 || digits > 3)
                abort();
            parts++;
            digits = 0;
        } else if (*p >= '0' && *p <= '9') {
            digits++;
        } else {
            abort();
        }
    }
    if (parts != 2 || digits < 1 || digits > 3)   /* "C." then "D.D" */
        abort();
}

static void check_caps(const struct smtp_caps *caps)
{
    if (caps->ncaplines > REPLY_MAX_CAP_LINES || caps->auth_words > REPLY_MAX_AUTH_WORDS
        || caps->nauth > REPLY_MAX_AUTH_MECHS)
        abort();
    if (!caps->auth) {
        if (caps->nauth != 0)
            abort();
        return;
    }
    unsigned count = 0;
    for (const char *p = caps->auth; *p;) {
        size_t n = strcspn(p, " ");
        if (n == 0 || n > REPLY_MAX_MECH_LEN)
            abort();
        for (size_t i = 0; i < n; i++)
            if (!((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '-'
                  || p[i] == '_'))
                abort();
        /* listed once */
        for (const char *q = p + n; *q;) {
            q += *q == ' ';
            size_t m = strcspn(q, " ");
            if (m == n && memcmp(p, q, n) == 0)
                abort();
            q += m;
        }
        count++;
        p += n;
        if (*p == ' ')
            p++;
    }
    if (count != caps->nauth)
        abort();
}

static void check_mask(const char *in, size_t len)
{
    static struct mask_list m = MASK_LIST_INIT;
    if (m.n == 0) {
        mask_add_password(&m, "s3cr3t-pw");
        mask_add(&m, "AGFsaWNlAHMzY3IzdC1wdw==");
        mask_add(&m, "YWxpY2U=");
    }
    char *t = xmalloc(len + 1);
    memcpy(t, in, len);
    t[len] = '\0';
    size_t n = mask_apply(&m, t, len);
    if (n > len)
        abort();
    for (size_t k = 0; k < m.n; k++) {
        size_t sl = strlen(m.items[k]);
        for (size_t i = 0; i + sl <= n; i++)
            if (memcmp(t + i, m.items[k], sl) == 0)
                abort();
    }
    free(t);
}

/* 2,000 copies of the input (its first 100 bytes: 200 KB at most) as
 * keyword lines of one EHLO reply. */
static void check_linear(const uint8_t *data, size_t size)
{
    if (size > 100)
        size = 100;
    char line[5 + 100];
    memcpy(line, "\n250-", 5);
    for (size_t k = 0; k < size; k++)
        line[5 + k] = data[k] == '\n' || data[k] == '\0' ? ' ' : (char)data[k];
    struct buf b = BUF_INIT;
    buf_puts(&b, "250-mx.example");
    for (int i = 0; i < 2000; i++)
        buf_append(&b, line, 5 + size);
    struct smtp_caps caps = { 0 };
    reply_parse_caps(&caps, b.data);
    check_caps(&caps);
    reply_caps_clear(&caps);
    buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 0 && data[0] == 0xff) {
        check_linear(data + 1, size - 1);
        return 0;
    }
    const char *in = (const char *)data;
    struct buf joined = BUF_INIT;
    size_t start = 0;
    while (start < size) {
        const char *nl = memchr(in + start, '\n', size - start);
        size_t end = nl ? (size_t)(nl - in) : size;
        size_t len = end - start;
        if (len > 0 && in[start + len - 1] == '\r')
            len--;
        char *line = xmalloc(len + 1);
        memcpy(line, in + start, len);
        line[len] = '\0';
        int code;
        bool more;
        const char *text;
        struct result r = RESULT_INIT;
        if (reply_parse_line(line, len, &code, &more, &text, &r) == 0) {
            if (code < 200 || code > 599 || r.cls != RC_OK)
                abort();
            if (more != (len > 3 && line[3] == '-'))
                abort();
            if (text < line || text > line + len)
                abort();
            check_enhanced(text, code);
            if (joined.len)
                buf_putc(&joined, '\n');
            buf_append(&joined, line, len);
        } else {
            if (r.cls != RC_PROTOCOL || !r.msg || !printable_ascii(r.msg))
                abort();
        }
        result_clear(&r);
        free(line);
        start = end + 1;
    }
    struct smtp_caps caps = { 0 };
    reply_parse_caps(&caps, joined.data ? joined.data : "");
    check_caps(&caps);
    reply_caps_clear(&caps);
    buf_free(&joined);

    check_escape(in, size, size);
    check_escape(in, size, 200);
    check_mask(in, size);
    return 0;
}
