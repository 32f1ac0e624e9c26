/*
 * ew-decode.h - what a recipient does with a header field that
 * convert_header_field() wrote, for the unit test and the fuzz target:
 * the shape of its lines, and an RFC 2047 decoder of its own (written
 * apart from src/convert-words.c, so that a mistake there shows up as a
 * difference, not twice the same).
 */
#ifndef SMTPFWD_EW_DECODE_H
#define SMTPFWD_EW_DECODE_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* True when s[0..n) is a well-formed written field: it ends in CRLF, no
 * line has more than 998 octets, there is no CR or LF but in CRLF, and
 * every line after the first starts with a space or a tab (a fold). */
static inline bool ewd_lines_ok(const char *s, size_t n)
{
    if (n < 2 || s[n - 2] != '\r' || s[n - 1] != '\n')
        return false;
    size_t line = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r') {
            if (i + 1 >= n || s[i + 1] != '\n')
                return false;
            i++;
            if (i + 1 < n && s[i + 1] != ' ' && s[i + 1] != '\t')
                return false;
            line = 0;
            continue;
        }
        if (s[i] == '\n' || ++line > 998)
            return false;
    }
    return true;
}

/* s[0..n) without its CRLFs (unfolded), NUL-terminated; caller frees. */
static inline char *ewd_unfold(const char *s, size_t n, size_t *len)
{
    char *o = xmalloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n') {
            i++;
            continue;
        }
        o[k++] = s[i];
    }
    o[k] = '\0';
    *len = k;
    return o;
}

static inline int ewd_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* If s[i..n) starts an encoded-word, decode its text into o and return
 * its length, else 0; *bad set for a word over 75 characters or text
 * that does not decode. */
static inline size_t ewd_word(const char *s, size_t i, size_t n, struct buf *o, bool *bad)
{
    if (i + 2 > n || s[i] != '=' || s[i + 1] != '?')
        return 0;
    size_t j = i + 2;
    while (j < n && s[j] != '?' && s[j] != ' ' && s[j] != '\t')
        j++;
    if (j + 3 > n || s[j] != '?' || s[j + 2] != '?')
        return 0;
    char enc = s[j + 1];
    size_t t0 = j + 3, t1 = t0;
    while (t1 + 1 < n && !(s[t1] == '?' && s[t1 + 1] == '='))
        t1++;
    if (t1 + 1 >= n)
        return 0;
    size_t end = t1 + 2;
    if (end - i > 75)
        *bad = true;
    if (enc == 'Q' || enc == 'q') {
        for (size_t k = t0; k < t1; k++) {
            if (s[k] == '_') {
                buf_putc(o, ' ');
            } else if (s[k] == '=' && k + 2 < t1 && ewd_hex(s[k + 1]) >= 0 &&
                       ewd_hex(s[k + 2]) >= 0) {
                buf_putc(o, (char)(ewd_hex(s[k + 1]) * 16 + ewd_hex(s[k + 2])));
                k += 2;
            } else if ((unsigned char)s[k] <= 0x20 || (unsigned char)s[k] >= 0x7f ||
                       s[k] == '=' || s[k] == '?') {
                *bad = true;
            } else {
                buf_putc(o, s[k]);
            }
        }
    } else if (enc == 'B' || enc == 'b') {
        char *t = xstrndup(s + t0, t1 - t0);
        size_t len = 0;
        char *d = base64_decode(t, &len);
        if (!d)
            *bad = true;
        else
            buf_append(o, d, len);
        free(d);
        free(t);
    } else {
        return 0;
    }
    return end - i;
}

/* Decode the encoded-words of unfolded text s[0..n) the way a reader
 * does: an encoded-word starts after white space, "(" or the start and
 * ends before white space, ")" or the end; white space between two of
 * them goes. Returns the text (caller frees; NUL-terminated, its length
 * in *len), *bad set as ewd_word. */
static inline char *ewd_decode(const char *s, size_t n, size_t *len, bool *bad)
{
    struct buf o = BUF_INIT;
    size_t pending_ws = 0, ws_at = 0;
    bool last_ew = false;
    size_t i = 0;
    while (i < n) {
        if (s[i] == ' ' || s[i] == '\t') {
            if (pending_ws == 0)
                ws_at = i;
            pending_ws++;
            i++;
            continue;
        }
        bool start_ok = i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t' || s[i - 1] == '(';
        struct buf w = BUF_INIT;
        bool wbad = false;
        size_t l = start_ok ? ewd_word(s, i, n, &w, &wbad) : 0;
        if (l > 0 && i + l < n && s[i + l] != ' ' && s[i + l] != '\t' && s[i + l] != ')')
            l = 0;
        if (l > 0) {
            if (!last_ew)
                buf_append(&o, s + ws_at, pending_ws);
            buf_append(&o, w.data, w.len);
            if (wbad)
                *bad = true;
            i += l;
            last_ew = true;
        } else {
            buf_append(&o, s + ws_at, pending_ws);
            buf_putc(&o, s[i]);
            i++;
            last_ew = false;
        }
        buf_free(&w);
        pending_ws = 0;
    }
    buf_append(&o, s + ws_at, pending_ws);
    *len = o.len;
    return buf_steal(&o);
}

#endif
