/*
 * convert-encode.c - the body encodings of message conversion and the
 * UTF-8 check (see convert-int.h): quoted-printable of one line,
 * base64 in lines, the lenient decoders used to re-encode a part that is
 * already encoded, and RFC 3629 well-formedness.
 *
 * Pure functions on memory: no I/O, no knowledge of MIME structure
 * (the walker in convert-mime.c decides what to encode and where).
 */
#include <config.h>

#include <string.h>

#include "convert-int.h"

/* Characters of an encoded quoted-printable line, soft break included. */
#define QP_LINE_MAX 76

static const char hex_upper[] = "0123456789ABCDEF";

/* Whether octet c at position i of the line [0, n) must be written =XX;
 * soft_end: the line continues (a soft break follows its last octet). */
static bool qp_must_encode(unsigned char c, size_t i, size_t n, bool soft_end)
{
    if (c == '=' || c >= 0x7f)
        return true;
    if (c < 0x20 && c != '\t')
        return true;
    if ((c == ' ' || c == '\t') && i + 1 == n && !soft_end)
        return true;
    return false;
}

void convert_qp_encode(struct buf *out, const char *line, size_t n, bool soft_end)
{
    size_t col = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)line[i];
        bool enc = qp_must_encode(c, i, n, soft_end);
        size_t k = enc ? 3 : 1;
        bool last = i + 1 == n && !soft_end;
        if (col + k > (last ? QP_LINE_MAX : QP_LINE_MAX - 1)) {
            buf_append(out, "=\r\n", 3);
            col = 0;
        }
        /* No encoded line starts with "--", so that none can look like a
         * boundary line (after a soft break any '-' is encoded: what
         * follows is on the next line). */
        if (c == '-' && col == 0 && !enc && (i > 0 || (i + 1 < n && line[i + 1] == '-'))) {
            enc = true;
            k = 3;
        }
        if (enc) {
            char e[3] = { '=', hex_upper[c >> 4], hex_upper[c & 15] };
            buf_append(out, e, 3);
        } else {
            buf_putc(out, (char)c);
        }
        col += k;
    }
    if (soft_end)
        buf_putc(out, '=');
    buf_append(out, "\r\n", 2);
}

void convert_qp_line(struct buf *out, const char *line, size_t n)
{
    convert_qp_encode(out, line, n, false);
}

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void convert_base64(struct buf *out, const void *p, size_t n)
{
    const unsigned char *s = p;
    size_t col = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16;
        size_t left = n - i;
        if (left > 1)
            v |= (unsigned)s[i + 1] << 8;
        if (left > 2)
            v |= s[i + 2];
        char q[4] = {
            b64_alphabet[(v >> 18) & 63], b64_alphabet[(v >> 12) & 63],
            left > 1 ? b64_alphabet[(v >> 6) & 63] : '=',
            left > 2 ? b64_alphabet[v & 63] : '=',
        };
        buf_append(out, q, 4);
        col += 4;
        if (col == 76) {
            buf_append(out, "\r\n", 2);
            col = 0;
        }
    }
    if (col)
        buf_append(out, "\r\n", 2);
}

void convert_b64_decode(struct convert_b64_state *st, struct buf *out, const char *p, size_t n)
{
    for (size_t i = 0; i < n && !st->ended; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '=') {
            st->ended = true;
            break;
        }
        int v = base64_digit_value((char)c);
        if (v < 0)
            continue;                           /* line ends, blanks, garbage */
        st->bits = (st->bits << 6) | (unsigned)v;
        if (++st->count == 4) {
            char o[3] = { (char)(st->bits >> 16), (char)(st->bits >> 8), (char)st->bits };
            buf_append(out, o, 3);
            st->bits = 0;
            st->count = 0;
        }
    }
}

void convert_b64_decode_end(struct convert_b64_state *st, struct buf *out)
{
    if (st->count == 2) {
        buf_putc(out, (char)(st->bits >> 4));
    } else if (st->count == 3) {
        char o[2] = { (char)(st->bits >> 10), (char)(st->bits >> 2) };
        buf_append(out, o, 2);
    }
    st->bits = 0;
    st->count = 0;
}

bool convert_qp_decode_line(struct buf *out, const char *line, size_t n)
{
    while (n && (line[n - 1] == ' ' || line[n - 1] == '\t'))
        n--;                                    /* transport padding */
    bool soft = n && line[n - 1] == '=';
    if (soft)
        n--;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (line[i] == '=' && i + 2 < n && (hi = hex_digit_value(line[i + 1])) >= 0 &&
            (lo = hex_digit_value(line[i + 2])) >= 0) {
            buf_putc(out, (char)(hi << 4 | lo));
            i += 2;
        } else {
            buf_putc(out, line[i]);                 /* lenient: kept as it is */
        }
    }
    return soft;
}

bool convert_utf8_valid(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if ((unsigned char)p[i] < 0x80) {
            i++;
            continue;
        }
        size_t len;
        if (utf8_decode(p + i, n - i, &len) < 0)
            return false;
        i += len;
    }
    return true;
}
