/*
 * convert-words.c - the writing side of a rewritten header field (see
 * convert-int.h): the folding writer, RFC 2047 encoded-words, words of
 * text that must or must not be encoded, RFC 2231 percent-encoding (the
 * UTF-8 checks are convert-encode.c's, over util's utf8_decode).
 *
 * Owns: where a line is folded (before white space, at most 78
 * characters where the text allows, 76 on a line with an encoded-word,
 * never over 998 octets, never a bare CR or LF; a run of white space
 * longer than a line is cut by folds of its own), the Q or B choice and
 * the cutting of encoded-words (text that fits in one encoded-word but
 * not in the rest of the line goes whole after a fold, never cut in
 * two).
 * Must not: know field names or the syntax of a field (convert-header.c
 * does), allocate per octet, or go back over what it wrote: every
 * function here is linear in its input.
 *
 * Q or B, the fixed rule: count the octets of the run that Q must escape
 * in its context (a space is "_", not an escape); Q when they are at most
 * a third of the octets, else B. Text that is mostly ASCII stays readable;
 * text in a script outside Latin takes B, which is shorter for it.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert-int.h"

static bool is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_fws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

size_t convert_utf8_char(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    size_t len;
    return utf8_decode(s, n, &len) < 0 ? 0 : len;
}

bool convert_words_need_8bit(const char *p, size_t n, bool smtputf8)
{
    bool has8 = false;
    for (size_t i = 0; i < n && !has8; i++)
        has8 = (unsigned char)p[i] >= 0x80;
    return has8 && (!smtputf8 || !convert_utf8_valid(p, n));
}

/* ---- the folding writer -------------------------------------------- */

/* Write count characters of white space ws (CR and LF skipped) starting
 * after the first skip of them; a line reaching CONVERT_LINE_MAX is
 * folded before the next one. */
static void put_ws(struct convert_writer *w, const char *ws, size_t wl, size_t skip,
                   size_t count, bool hard_fold)
{
    for (size_t i = 0; i < wl && count > 0; i++) {
        if (!is_wsp(ws[i]))
            continue;
        if (skip > 0) {
            skip--;
            continue;
        }
        if (hard_fold && w->col >= CONVERT_LINE_MAX) {
            buf_puts(w->out, "\r\n");
            w->col = 0;
            w->line_ew = false;
        }
        buf_putc(w->out, ws[i]);
        w->col++;
        count--;
    }
}

int convert_writer_put(struct convert_writer *w, const char *ws, size_t wl, bool may_insert,
                       const char *t, size_t tl)
{
    size_t wc = 0;
    for (size_t i = 0; i < wl; i++)
        if (is_wsp(ws[i]))
            wc++;
    if (wc == 0 && wl > 0) {
        ws = " ";
        wl = wc = 1;
    }
    if (tl == 0) {
        w->glue = 0;
        if (w->col + wc <= CONVERT_LINE_MAX)
            put_ws(w, ws, wl, 0, wc, false);
        w->after_ew = false;
        return 0;
    }
    if (wc == 0 && w->after_ew && t[0] != ')' && t[0] != ',' && t[0] != ';') {
        ws = " ";
        wl = wc = 1;
    }
    size_t need = w->col + wc + tl, glued = need + w->glue;
    w->glue = 0;
    bool can_fold = wc > 0 || may_insert;
    size_t soft = w->line_ew ? CONVERT_EW_LINE : CONVERT_LINE_SOFT;
    bool fold = can_fold && ((w->line_text && glued > soft) || glued > CONVERT_LINE_MAX);
    if (!fold) {
        if (need > CONVERT_LINE_MAX)
            return -1;
        put_ws(w, ws, wl, 0, wc, false);
        buf_append(w->out, t, tl);
        w->col = need;
    } else {
        if (wc == 0) {
            ws = " ";
            wl = wc = 1;
        }
        if (tl + 1 > CONVERT_LINE_MAX)
            return -1;
        /* the white space goes to the new line, as much of it as fits
         * there with the text; the rest ends the line being written */
        size_t keep = wc;
        if (keep + tl > CONVERT_LINE_MAX)
            keep = CONVERT_LINE_MAX - tl;
        put_ws(w, ws, wl, 0, wc - keep, true);
        buf_puts(w->out, "\r\n");
        w->col = 0;
        w->line_ew = false;
        put_ws(w, ws, wl, wc - keep, keep, false);
        buf_append(w->out, t, tl);
        w->col += tl;
    }
    w->line_text = true;
    w->after_ew = false;
    return 0;
}

/* ---- encoded-words ------------------------------------------------- */

static bool q_plain(unsigned char c, enum convert_ew_context ctx)
{
    if (ctx == CONVERT_EW_TEXT)
        return c > 0x20 && c < 0x7f && c != '=' && c != '?' && c != '_';
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '!' || c == '*' || c == '+' || c == '-' || c == '/';
}

static size_t q_cost(unsigned char c, enum convert_ew_context ctx)
{
    return (c == ' ' || q_plain(c, ctx)) ? 1 : 3;
}

static void q_put(struct buf *b, unsigned char c, enum convert_ew_context ctx)
{
    static const char hex[] = "0123456789ABCDEF";
    if (c == ' ') {
        buf_putc(b, '_');
    } else if (q_plain(c, ctx)) {
        buf_putc(b, (char)c);
    } else {
        char e[3] = { '=', hex[c >> 4], hex[c & 15] };
        buf_append(b, e, 3);
    }
}

int convert_writer_encoded(struct convert_writer *w, const char *ws, size_t wl, bool may_insert,
                           const char *s, size_t m, enum convert_ew_context ctx)
{
    bool utf8 = convert_utf8_valid(s, m);
    size_t escapes = 0;
    for (size_t i = 0; i < m; i++)
        if (q_cost((unsigned char)s[i], ctx) > 1)
            escapes++;
    bool q = escapes * 3 <= m;
    char prefix[24];
    snprintf(prefix, sizeof prefix, "=?%s?%c?", utf8 ? "utf-8" : "unknown-8bit", q ? 'Q' : 'B');
    size_t over = strlen(prefix) + 2;
    /* room for at least one character of 4 octets, Q-escaped */
    size_t least = over + 12;
    struct buf word = BUF_INIT;
    size_t pos = 0;
    bool first = true;
    int rc = 0;
    /* an encoded-word is a word of its own: white space before it unless
     * it opens a comment (RFC 2047 5) */
    if (wl == 0 && w->out->len > 0) {
        char last = w->out->data[w->out->len - 1];
        if (last != ' ' && last != '\t' && last != '(' && last != '\n') {
            ws = " ";
            wl = 1;
        }
    }
    while (pos < m) {
        const char *pws = first ? ws : " ";
        size_t pwl = first ? wl : 1;
        bool pins = first ? may_insert : true;
        size_t wc = 0;
        for (size_t i = 0; i < pwl; i++)
            if (is_wsp(pws[i]))
                wc++;
        if (wc == 0 && pwl > 0)
            wc = 1;
        if (wc == 0 && w->after_ew)
            wc = 1;
        size_t avail = CONVERT_EW_MAX;
        /* What is left, as one encoded-word: when it fits in one but not
         * in the rest of this line, it goes whole after a fold rather
         * than cut in two (readers differ on the space between two
         * encoded-words of one display name). */
        size_t whole = over;
        if (q) {
            for (size_t j = pos; j < m; j++)
                whole += q_cost((unsigned char)s[j], ctx);
        } else {
            whole += 4 * ((m - pos + 2) / 3);
        }
        bool fold_whole = whole <= CONVERT_EW_MAX && (wc > 0 || pins)
                          && w->col + wc + whole > CONVERT_EW_LINE;
        if (fold_whole) {
            /* avail stays CONVERT_EW_MAX: convert_writer_put folds first */
        } else if (w->col + wc + least <= CONVERT_EW_LINE) {
            size_t room = CONVERT_EW_LINE - w->col - wc;
            if (room < avail)
                avail = room;
        } else if (wc == 0 && !pins) {
            /* no place to fold before it: what the line has left */
            size_t room = w->col < CONVERT_LINE_MAX ? CONVERT_LINE_MAX - w->col : 0;
            if (room < avail)
                avail = room;
            if (avail < least) {
                rc = -1;
                break;
            }
        }
        size_t take = 0, cost = 0;
        while (pos + take < m) {
            size_t cl = convert_utf8_char(s + pos + take, m - pos - take);
            if (cl == 0)
                cl = 1;
            size_t nc;
            if (q) {
                nc = cost;
                for (size_t j = 0; j < cl; j++)
                    nc += q_cost((unsigned char)s[pos + take + j], ctx);
            } else {
                nc = 4 * ((take + cl + 2) / 3);
            }
            if (over + nc > avail)
                break;
            take += cl;
            cost = nc;
        }
        buf_reset(&word);
        buf_puts(&word, prefix);
        if (q) {
            for (size_t j = 0; j < take; j++)
                q_put(&word, (unsigned char)s[pos + j], ctx);
        } else {
            char *b64 = base64_encode(s + pos, take);
            buf_puts(&word, b64);
            free(b64);
        }
        buf_puts(&word, "?=");
        if (convert_writer_put(w, pws, pwl, pins, word.data, word.len) != 0) {
            rc = -1;
            break;
        }
        w->after_ew = true;
        w->line_ew = true;
        pos += take;
        first = false;
    }
    buf_free(&word);
    return rc;
}

/* ---- words of text ------------------------------------------------- */

static bool is_atext(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL) || c >= 0x80;
}

static bool comment_special(char c)
{
    return c == '(' || c == ')' || c == '\\';
}

/* The length a word takes when it goes as it is. */
static size_t plain_len(const char *p, size_t n, enum convert_ew_context ctx)
{
    size_t l = n;
    if (ctx == CONVERT_EW_COMMENT)
        for (size_t i = 0; i < n; i++)
            if (comment_special(p[i]))
                l++;
    return l;
}

static bool word_must_encode(const char *p, size_t n, enum convert_ew_context ctx,
                             bool smtputf8)
{
    if (convert_words_need_8bit(p, n, smtputf8))
        return true;
    if (plain_len(p, n, ctx) + 1 > CONVERT_LINE_MAX)
        return true;
    if (ctx == CONVERT_EW_PHRASE)
        for (size_t i = 0; i < n; i++)
            if (!is_atext((unsigned char)p[i]))
                return true;
    return false;
}

int convert_writer_words(struct convert_writer *w, const char *text, size_t m,
                         enum convert_ew_context ctx, bool smtputf8, bool space_first,
                         bool may_insert)
{
    struct buf run = BUF_INIT, plain = BUF_INIT;
    size_t i = 0;
    bool first = true;
    int rc = 0;
    while (i < m && rc == 0) {
        size_t ws0 = i;
        while (i < m && is_fws(text[i]))
            i++;
        const char *ws = text + ws0;
        size_t wl = i - ws0;
        if (i == m) {
            rc = convert_writer_put(w, ws, wl, false, "", 0);
            break;
        }
        size_t w0 = i;
        while (i < m && !is_fws(text[i]))
            i++;
        bool ins = first && may_insert;
        if (!word_must_encode(text + w0, i - w0, ctx, smtputf8)) {
            const char *t = text + w0;
            size_t tl = i - w0;
            if (ctx == CONVERT_EW_COMMENT && plain_len(t, tl, ctx) != tl) {
                buf_reset(&plain);
                for (size_t j = 0; j < tl; j++) {
                    if (comment_special(t[j]))
                        buf_putc(&plain, '\\');
                    buf_putc(&plain, t[j]);
                }
                t = plain.data;
                tl = plain.len;
            }
            rc = convert_writer_put(w, ws, wl, ins, t, tl);
            first = false;
            continue;
        }
        /* a run: this word and the adjacent ones that must be encoded,
         * with the white space between them (CR and LF dropped) */
        buf_reset(&run);
        buf_append(&run, text + w0, i - w0);
        for (;;) {
            size_t j = i;
            while (j < m && is_fws(text[j]))
                j++;
            size_t k = j;
            while (k < m && !is_fws(text[k]))
                k++;
            if (j == m || !word_must_encode(text + j, k - j, ctx, smtputf8))
                break;
            size_t before = run.len;
            for (size_t x = i; x < j; x++)
                if (is_wsp(text[x]))
                    buf_putc(&run, text[x]);
            if (run.len == before)
                buf_putc(&run, ' ');
            buf_append(&run, text + j, k - j);
            i = k;
        }
        if (wl == 0 && first && space_first) {
            ws = " ";
            wl = 1;
        }
        rc = convert_writer_encoded(w, ws, wl, ins, run.data, run.len, ctx);
        first = false;
    }
    buf_free(&run);
    buf_free(&plain);
    return rc;
}

/* ---- RFC 2231 ------------------------------------------------------ */

/* attribute-char (RFC 2231 7): printable ASCII but SPACE, "*", "'", "%"
 * and the tspecials of RFC 2045. */
static bool attribute_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && !strchr("*'%()<>@,;:\\\"/[]?=", c);
}

void convert_rfc2231_pct(struct buf *b, const char *v, size_t n, bool keep_quote)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == '\r' || c == '\n')
            continue;
        if (attribute_char(c) || (keep_quote && (c == '\'' || c == '%'))) {
            buf_putc(b, (char)c);
        } else {
            char e[3] = { '%', hex[c >> 4], hex[c & 15] };
            buf_append(b, e, 3);
        }
    }
}
