/*
 * convert-parse.c - reading the structure of a message for conversion
 * (see convert-int.h): lines, what a range of octets holds, header
 * sections split into fields, Content-Type (type, subtype, boundary) and
 * Content-Transfer-Encoding.
 *
 * Pure functions on memory: nothing is written or decided here; the
 * walker (convert-mime.c) decides what changes.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "convert-int.h"
#include "message.h"

/* ------------------------------------------------------------- lines */

/* The line at pos in [pos, end): returns where the next one starts;
 * *ce is the end of its content (before CRLF or LF). */
size_t convert_next_line(const char *m, size_t pos, size_t end, size_t *ce)
{
    const char *nl = memchr(m + pos, '\n', end - pos);
    if (!nl) {
        *ce = end;
        return end;
    }
    size_t i = (size_t)(nl - m);
    *ce = i > pos && m[i - 1] == '\r' ? i - 1 : i;
    return i + 1;
}

void convert_scan_range(const char *m, size_t start, size_t end, struct convert_scan *s)
{
    *s = (struct convert_scan){ false, false, true };
    size_t pos = start;
    while (pos < end) {
        size_t ce, next = convert_next_line(m, pos, end, &ce);
        if (ce - pos > CONVERT_LINE_MAX)
            s->long_line = true;
        pos = next;
    }
    for (size_t i = start; i < end; i++)
        if ((unsigned char)m[i] >= 0x80) {
            s->has_8bit = true;
            break;
        }
    if (s->has_8bit)
        s->utf8 = convert_utf8_valid(m + start, end - start);
}

static bool is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

static bool field_is(const char *m, const struct convert_field *f, const char *name)
{
    size_t len = message_field_name_len(m + f->start, f->len);
    return len == strlen(name) && ascii_strncasecmp(m + f->start, name, len) == 0;
}

/* ------------------------------------------------- Content-* values */

static size_t skip_cfws(const char *s, size_t i, size_t n)
{
    int depth = 0;
    while (i < n) {
        char c = s[i];
        if (depth) {
            if (c == '\\')
                i++;
            else if (c == '(')
                depth++;
            else if (c == ')')
                depth--;
        } else if (c == '(') {
            depth = 1;
        } else if (!(c == ' ' || c == '\t' || c == '\r' || c == '\n')) {
            break;
        }
        i++;
    }
    return i < n ? i : n;
}

static bool is_token_char(unsigned char c)
{
    return c > 32 && c != 127 && !strchr("()<>@,;:\\\"/[]?=", c);
}

static size_t token_end(const char *s, size_t i, size_t n)
{
    while (i < n && is_token_char((unsigned char)s[i]))
        i++;
    return i;
}

static void copy_lower(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
    ascii_lower(dst);
}

/* The value of a field (after its colon). */
void convert_field_value(const char *m, const struct convert_field *f, size_t *vs, size_t *vn)
{
    const char *colon = memchr(m + f->start, ':', f->len);
    size_t off = colon ? (size_t)(colon - (m + f->start)) + 1 : f->len;
    *vs = f->start + off;
    *vn = f->len - off;
}

static void parse_content_type(const char *m, const struct convert_field *f, struct convert_entity *e)
{
    size_t vs, vn;
    convert_field_value(m, f, &vs, &vn);
    const char *s = m + vs;
    size_t i = skip_cfws(s, 0, vn);
    size_t t0 = i, t1 = token_end(s, i, vn);
    i = skip_cfws(s, t1, vn);
    if (t1 == t0 || i >= vn || s[i] != '/')
        return;                                 /* unreadable: text/plain */
    i = skip_cfws(s, i + 1, vn);
    size_t s0 = i, s1 = token_end(s, i, vn);
    if (s1 == s0)
        return;
    copy_lower(e->type, sizeof e->type, s + t0, t1 - t0);
    copy_lower(e->subtype, sizeof e->subtype, s + s0, s1 - s0);
    i = s1;
    for (;;) {
        while (i < vn && s[i] != ';')
            i++;                                /* lenient: skip what is not a parameter */
        if (i >= vn)
            break;
        i = skip_cfws(s, i + 1, vn);
        size_t n0 = i, n1 = token_end(s, i, vn);
        i = skip_cfws(s, n1, vn);
        if (i >= vn || s[i] != '=')
            continue;
        i = skip_cfws(s, i + 1, vn);
        struct buf val = BUF_INIT;
        if (i < vn && s[i] == '"') {
            for (i++; i < vn && s[i] != '"'; i++) {
                if (s[i] == '\\' && i + 1 < vn)
                    i++;
                if (s[i] != '\r' && s[i] != '\n')
                    buf_putc(&val, s[i]);
            }
            if (i < vn)
                i++;
        } else {
            size_t v1 = token_end(s, i, vn);
            buf_append(&val, s + i, v1 - i);
            i = v1;
        }
        if (n1 - n0 == 8 && ascii_strncasecmp(s + n0, "boundary", 8) == 0 && !e->boundary &&
            val.len) {
            e->boundary = buf_steal(&val);
            for (const char *p = e->boundary; *p; p++)
                if ((unsigned char)*p >= 0x80)
                    e->boundary_8bit = true;
        }
        buf_free(&val);
    }
}

static enum convert_cte parse_cte(const char *m, const struct convert_field *f)
{
    size_t vs, vn;
    convert_field_value(m, f, &vs, &vn);
    const char *s = m + vs;
    size_t i = skip_cfws(s, 0, vn);
    size_t j = token_end(s, i, vn);
    static const struct { const char *name; enum convert_cte cte; } names[] = {
        { "7bit", CTE_7BIT }, { "8bit", CTE_8BIT }, { "binary", CTE_BINARY },
        { "quoted-printable", CTE_QP }, { "base64", CTE_BASE64 },
    };
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        if (j - i == strlen(names[k].name) && ascii_strncasecmp(s + i, names[k].name, j - i) == 0)
            return names[k].cte;
    return j == i ? CTE_NONE : CTE_OTHER;
}

/* ------------------------------------------------------ header section */

static void add_field(struct convert_entity *e, size_t start, size_t len)
{
    if (e->nf == e->capf) {
        e->capf = e->capf ? 2 * e->capf : 16;
        e->f = xrealloc(e->f, e->capf * sizeof *e->f);
    }
    e->f[e->nf++] = (struct convert_field){ start, len };
}

/* Split e's header section into fields and read its MIME fields. */
void convert_parse_header(const char *m, struct convert_entity *e)
{
    size_t pos = e->start;
    e->cte_field = e->ct_field = -1;
    e->bstart = e->end;
    while (pos < e->end) {
        size_t ce, next = convert_next_line(m, pos, e->end, &ce);
        if (ce == pos) {
            e->blank = true;
            e->bstart = next;
            break;
        }
        if (is_wsp(m[pos]) && e->nf) {
            struct convert_field *f = &e->f[e->nf - 1];
            f->len = ce - f->start;
        } else if (is_wsp(m[pos]) || message_field_name_len(m + pos, ce - pos)) {
            add_field(e, pos, ce - pos);
        } else {
            e->bstart = pos;                    /* not a header field: the body */
            break;
        }
        pos = next;
    }
    for (size_t i = 0; i < e->nf; i++) {
        const struct convert_field *f = &e->f[i];
        if (field_is(m, f, "Content-Type") && e->ct_field < 0) {
            e->ct_field = (long)i;
            e->has_ct = true;
            parse_content_type(m, f, e);
        } else if (field_is(m, f, "Content-Transfer-Encoding") && e->cte_field < 0) {
            e->cte_field = (long)i;
            e->cte = parse_cte(m, f);
        } else if (field_is(m, f, "MIME-Version")) {
            e->has_mv = true;
        } else if (e->top && !e->signer && field_is(m, f, "DKIM-Signature")) {
            e->signer = "DKIM-Signature";
        } else if (e->top && !e->signer && field_is(m, f, "ARC-Message-Signature")) {
            e->signer = "ARC-Message-Signature";
        }
    }
    if (!e->type[0]) {
        strcpy(e->type, e->digest_child ? "message" : "text");
        strcpy(e->subtype, e->digest_child ? "rfc822" : "plain");
    }
}
