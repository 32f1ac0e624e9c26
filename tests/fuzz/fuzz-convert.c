/*
 * fuzz-convert.c - fuzz target for the MIME walker of message conversion
 * (src/convert-mime.c, convert_message) and the encoders under it.
 *
 * Input: any bytes. They are first made canonical as intake makes a
 * message (CR, LF and CRLF become CRLF, NUL octets are dropped, a last
 * line gets its CRLF), then converted for each of the four targets (with
 * and without 8BITMIME, with and without SMTPUTF8; the 7-bit one also as
 * -B 7BIT). Properties, each an abort():
 *   - the outcome is 0, or -1 with RC_DATAERR and a sentence; a refusal
 *     writes nothing and leaves no summary;
 *   - "not converted" writes nothing; "converted" writes a message with
 *     a summary;
 *   - what is sent (the output, or the input when not converted) has
 *     CRLF line ends only and no line over 998 octets, and is 7-bit
 *     ASCII for a target without 8BITMIME and SMTPUTF8;
 *   - the facts say what is sent: no 8-bit octet at all -> body_8bit
 *     and header_utf8 are false; 8-bit octets after the top-level header
 *     -> body_8bit;
 *   - converting what is sent again for the same target changes nothing
 *     and gives the same facts.
 * Header fields that must change are convert_header_field()'s; while
 * that is the placeholder that sends every field as it is (detected at
 * start), inputs with an 8-bit or over-long header-like line are exempt
 * from the 7-bit and line-length properties.
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "convert-int.h"
#include "util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool header_encoder_real;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    struct buf b = BUF_INIT;
    struct result r = RESULT_INIT;
    static const char probe[] = "Subject: \xc3\xa9t\xc3\xa9";
    header_encoder_real = convert_header_field(&b, probe, sizeof probe - 1, false, &r) == 1;
    buf_free(&b);
    result_clear(&r);
    return 0;
}

static int buf_sink(void *ctx, const char *p, size_t n, struct result *r)
{
    (void)r;
    buf_append(ctx, p, n);
    return 0;
}

static void canonicalize(const uint8_t *d, size_t n, struct buf *out)
{
    for (size_t i = 0; i < n; i++) {
        if (d[i] == 0)
            continue;
        if (d[i] == '\r') {
            if (i + 1 < n && d[i + 1] == '\n')
                i++;
            buf_append(out, "\r\n", 2);
        } else if (d[i] == '\n') {
            buf_append(out, "\r\n", 2);
        } else {
            buf_putc(out, (char)d[i]);
        }
    }
    if (out->len && out->data[out->len - 1] != '\n')
        buf_append(out, "\r\n", 2);
}

/* Whether some line that could be part of a header field (one with a
 * colon, or a continuation) has 8-bit octets or more than 998. */
static bool header_like_trouble(const char *p, size_t n)
{
    size_t pos = 0;
    while (pos < n) {
        const char *nl = memchr(p + pos, '\n', n - pos);
        size_t end = nl ? (size_t)(nl - p) : n;
        size_t len = end > pos && p[end - 1] == '\r' ? end - 1 - pos : end - pos;
        const char *s = p + pos;
        bool like = len && (s[0] == ' ' || s[0] == '\t' || memchr(s, ':', len));
        bool bad = len > CONVERT_LINE_MAX;
        for (size_t i = 0; i < len && !bad; i++)
            bad = (unsigned char)s[i] >= 0x80;
        if (like && bad)
            return true;
        pos = nl ? end + 1 : n;
    }
    return false;
}

static void check_sent(const char *p, size_t n, bool seven, bool exempt)
{
    size_t col = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\n') {
            if (i == 0 || p[i - 1] != '\r')
                abort();                        /* bare LF */
            col = 0;
            continue;
        }
        if (c == '\r') {
            if (i + 1 >= n || p[i + 1] != '\n')
                abort();                        /* bare CR */
            continue;
        }
        if (++col > CONVERT_LINE_MAX && !exempt)
            abort();
        if (c >= 0x80 && seven && !exempt)
            abort();
    }
    if (n && (n < 2 || p[n - 2] != '\r' || p[n - 1] != '\n'))
        abort();
}

static bool any_8bit(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] >= 0x80)
            return true;
    return false;
}

/* Where the top-level header section ends in p: after its empty line, or
 * at the first line that is not a header field. */
static size_t top_header_end(const char *p, size_t n)
{
    size_t pos = 0;
    while (pos < n) {
        const char *nl = memchr(p + pos, '\n', n - pos);
        size_t next = nl ? (size_t)(nl - p) + 1 : n;
        size_t len = next - pos - (nl ? 2 : 0);
        if (len == 0)
            return next;
        const char *s = p + pos;
        if (!(s[0] == ' ' || s[0] == '\t')) {
            size_t i = 0;
            while (i < len && (unsigned char)s[i] > 32 && (unsigned char)s[i] < 127 && s[i] != ':')
                i++;
            size_t name = i;
            while (i < len && (s[i] == ' ' || s[i] == '\t'))
                i++;
            if (name == 0 || i >= len || s[i] != ':')
                return pos;
        }
        pos = next;
    }
    return n;
}

static void one(const char *msg, size_t n, bool e8, bool u8, bool force, bool exempt)
{
    struct convert_target t = { e8, u8 };
    struct buf out = BUF_INIT;
    struct convert_sink sink = { buf_sink, &out };
    struct convert_facts f = CONVERT_FACTS_INIT;
    struct result r = RESULT_INIT;
    int rc = convert_message(msg, n, &t, force, &sink, &f, &r);
    if (rc != 0) {
        if (rc != -1 || r.cls != RC_DATAERR || !r.msg || !*r.msg || f.converted || f.summary ||
            out.len)
            abort();
        result_clear(&r);
        buf_free(&out);
        return;
    }
    if (r.cls != RC_OK)
        abort();
    if (!f.converted && (out.len || f.summary))
        abort();
    if (f.converted && (!f.summary || !*f.summary))
        abort();
    const char *sent = f.converted ? out.data : msg;
    size_t sn = f.converted ? out.len : n;
    if (!sent)
        sent = "";
    check_sent(sent, sn, !e8 && !u8, exempt);
    if (!any_8bit(sent, sn) && (f.body_8bit || f.header_utf8))
        abort();
    size_t hend = top_header_end(sent, sn);
    if (any_8bit(sent + hend, sn - hend) && !f.body_8bit)
        abort();

    if (f.converted) {
        struct buf again = BUF_INIT;
        struct convert_sink sink2 = { buf_sink, &again };
        struct convert_facts g = CONVERT_FACTS_INIT;
        if (convert_message(out.data, out.len, &t, force, &sink2, &g, &r) != 0 || g.converted ||
            again.len || g.body_8bit != f.body_8bit || g.header_utf8 != f.header_utf8)
            abort();
        convert_facts_free(&g);
        buf_free(&again);
    }
    convert_facts_free(&f);
    buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct buf msg = BUF_INIT;
    canonicalize(data, size, &msg);
    const char *p = msg.data ? msg.data : "";
    bool exempt = !header_encoder_real && header_like_trouble(p, msg.len);
    one(p, msg.len, false, false, false, exempt);
    one(p, msg.len, false, false, true, exempt);
    one(p, msg.len, true, false, false, exempt);
    one(p, msg.len, false, true, false, exempt);
    one(p, msg.len, true, true, false, exempt);
    buf_free(&msg);
    return 0;
}
