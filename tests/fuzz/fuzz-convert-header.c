/*
 * fuzz-convert-header.c - fuzz target for convert_header_field()
 * (src/convert-header.c, src/convert-words.c): one header field of a
 * message, as the MIME walker hands it over, written for a server.
 *
 * Input: byte 0 chooses SMTPUTF8 (bit 0) and the field name (the other
 * bits, from the list below; past its end the field is the rest of the
 * input, name and all); the rest is the value. A CR or LF of the input
 * becomes a fold (CRLF and a space, unless a space or tab follows), as in
 * a field of a message after intake.
 *
 * Properties, checked with abort():
 *   - 0: the field is appended as it is, with CRLF; it had no line over
 *     998 octets, and without SMTPUTF8 no 8-bit octet;
 *   - 0 or 1: what is appended ends in CRLF, has no line over 998
 *     octets, no CR or LF but in CRLF, every line after the first starts
 *     with white space; it starts with the field's name and colon;
 *   - 1 without SMTPUTF8: what is appended is 7-bit;
 *   - 1: converting it again changes nothing (returns 0);
 *   - 1 for an unstructured field whose value has no "=?": decoding the
 *     encoded-words (tests/unit/ew-decode.h) gives the unfolded value
 *     back, white space at its ends aside;
 *   - 1 for an address field whose value has no "=?" and that
 *     address_parse_list() reads: it reads the written one too, with the
 *     same mailboxes (8-bit domains as idn_address_to_ascii() gives them)
 *     and the same display names once decoded (runs of white space as
 *     one space, none next to a parenthesis), but for the address that
 *     address.c reads as a display name in "a@b <c@d>";
 *   - -1: nothing appended, r is RC_DATAERR (or RC_LOCALTEMP when
 *     libidn2 cannot be loaded) with a one-line message;
 *   - linear time (the 10 s limit of the runs), no leak (ASan).
 */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/ew-decode.h"
#include "address.h"
#include "convert-int.h"
#include "idn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { if (!(cond)) { \
        fprintf(stderr, "fuzz-convert-header: property failed at line %d: %s\n", __LINE__, \
                #cond); \
        abort(); } } while (0)

enum kind { UNSTRUCTURED, ADDRESSES, OTHER };
static const struct {
    const char *name;
    enum kind kind;
} names[] = {
    { "Subject", UNSTRUCTURED }, { "From", ADDRESSES }, { "To", ADDRESSES },
    { "Cc", ADDRESSES }, { "Reply-To", ADDRESSES }, { "Content-Type", OTHER },
    { "Content-Disposition", OTHER }, { "Message-ID", OTHER }, { "References", OTHER },
    { "Date", OTHER }, { "X-Long", UNSTRUCTURED }, { "Comments", UNSTRUCTURED },
    { "Keywords", OTHER }, { "ARC-Seal", OTHER }, { "Received", OTHER },
    { "Sender", ADDRESSES }, { "Resent-To", ADDRESSES }, { "In-Reply-To", OTHER },
    { "Content-Description", UNSTRUCTURED }, { "Bcc", ADDRESSES }, { "Return-Path", OTHER },
    { "Mail-Followup-To", ADDRESSES },
};
#define NNAMES (sizeof names / sizeof names[0])

static bool is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

static bool has(const char *s, size_t n, const char *what)
{
    size_t l = strlen(what);
    for (size_t i = 0; i + l <= n; i++)
        if (memcmp(s + i, what, l) == 0)
            return true;
    return false;
}

/* s[0..n) without white space at its ends */
static void trim(const char **s, size_t *n)
{
    while (*n > 0 && is_wsp((*s)[0])) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && is_wsp((*s)[*n - 1]))
        (*n)--;
}

/* s with runs of white space as one space, none at the ends nor next
 * to a parenthesis (where an encoded-word in a comment may get one);
 * NULL stays NULL. Caller frees. */
static char *squeeze(const char *s)
{
    if (!s)
        return NULL;
    struct buf b = BUF_INIT;
    bool ws = false;
    for (; *s; s++) {
        if (is_wsp(*s)) {
            ws = true;
            continue;
        }
        if (ws && b.len > 0 && *s != '(' && *s != ')' && b.data[b.len - 1] != '(' &&
            b.data[b.len - 1] != ')')
            buf_putc(&b, ' ');
        ws = false;
        buf_putc(&b, *s);
    }
    return buf_steal(&b);
}

static bool same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The address list of the original value v[0..vn) and of the written
 * field o[0..on) (name, colon, value, CRLF) hold the same mailboxes. */
static void check_addresses(const char *v, size_t vn, const char *o, size_t on, bool smtputf8)
{
    size_t l1, l2;
    char *u1 = ewd_unfold(v, vn, &l1), *u2 = ewd_unfold(o, on, &l2);
    struct addr_list a = ADDR_LIST_INIT, b = ADDR_LIST_INIT;
    struct result r = RESULT_INIT;
    if (strlen(u1) == l1 && address_parse_list(u1, &a, &r) == 0) {
        const char *colon = strchr(u2, ':');
        CHECK(colon != NULL);
        if (address_parse_list(colon + 1, &b, &r) != 0)
            fprintf(stderr, "written: [%s]: %s\n", colon + 1, r.msg);
        CHECK(r.cls == RC_OK);
        CHECK(a.n == b.n);
        for (size_t i = 0; i < a.n; i++) {
            char *want = NULL;
            if (convert_words_need_8bit(a.v[i].mailbox, strlen(a.v[i].mailbox), smtputf8)) {
                struct result ir = RESULT_INIT;
                want = idn_address_to_ascii(a.v[i].mailbox, &ir);
                result_clear(&ir);
            } else {
                want = xstrdup(a.v[i].mailbox);
            }
            if (want && strcmp(want, b.v[i].mailbox) != 0) {
                fprintf(stderr, "mailbox [%s] written [%s]\n", want, b.v[i].mailbox);
                CHECK(!"the same mailbox");
            }
            free(want);
            /* "a@b <c@d>": address.c takes the first address for a display
             * name; here it stays an address (its domain converted) */
            if (a.v[i].display && strchr(a.v[i].display, '@'))
                continue;
            char *d1 = squeeze(a.v[i].display), *d2 = NULL;
            if (b.v[i].display) {
                size_t dl;
                bool bad = false;
                char *dec = ewd_decode(b.v[i].display, strlen(b.v[i].display), &dl, &bad);
                CHECK(!bad);
                d2 = squeeze(dec);
                free(dec);
            }
            if (!same(d1, d2)) {
                fprintf(stderr, "display [%s] written and decoded [%s]\n", d1 ? d1 : "(none)",
                        d2 ? d2 : "(none)");
                CHECK(!"the same display name");
            }
            free(d1);
            free(d2);
        }
    }
    result_clear(&r);
    addr_list_free(&a);
    addr_list_free(&b);
    free(u1);
    free(u2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 8192)
        return 0;
    bool smtputf8 = data[0] & 1;
    size_t which = data[0] >> 1;
    struct buf field = BUF_INIT;
    size_t value_at = 0;
    if (which < NNAMES) {
        buf_puts(&field, names[which].name);
        buf_putc(&field, ':');
        value_at = field.len;
    }
    for (size_t i = 1; i < size; i++) {
        char c = (char)data[i];
        if (c == '\r' || c == '\n') {
            if (c == '\r' && i + 1 < size && data[i + 1] == '\n')
                i++;
            buf_puts(&field, "\r\n");
            if (i + 1 >= size || !is_wsp((char)data[i + 1]))
                buf_putc(&field, ' ');
            continue;
        }
        buf_putc(&field, c);
    }
    const char *f = field.data ? field.data : "";
    size_t n = field.len;

    struct buf out = BUF_INIT;
    buf_puts(&out, "X: y\r\n");
    struct result r = RESULT_INIT;
    int rc = convert_header_field(&out, f, n, smtputf8, &r);
    const char *o = out.data + 6;
    size_t on = out.len - 6;
    CHECK(rc == -1 || rc == 0 || rc == 1);
    if (rc == -1) {
        CHECK(on == 0 && memcmp(out.data, "X: y\r\n", 6) == 0);
        CHECK(r.cls == RC_DATAERR || r.cls == RC_LOCALTEMP);
        CHECK(r.msg && !strchr(r.msg, '\r') && !strchr(r.msg, '\n'));
    } else {
        CHECK(r.cls == RC_OK);
        CHECK(ewd_lines_ok(o, on));
        const char *colon = memchr(f, ':', n);
        if (colon)
            CHECK(on > (size_t)(colon - f) && memcmp(o, f, (size_t)(colon - f) + 1) == 0);
    }
    if (rc == 0) {
        CHECK(on == n + 2 && memcmp(o, f, n) == 0);
        size_t line = 0;
        for (size_t i = 0; i < n; i++) {
            CHECK(smtputf8 || (unsigned char)f[i] < 0x80);
            line = (f[i] == '\r' || f[i] == '\n') ? 0 : line + 1;
            CHECK(line <= CONVERT_LINE_MAX);
        }
    }
    if (rc == 1) {
        for (size_t i = 0; i < on; i++)
            CHECK(smtputf8 || (unsigned char)o[i] < 0x80);
        /* once is enough */
        struct buf again = BUF_INIT;
        struct result r2 = RESULT_INIT;
        CHECK(convert_header_field(&again, o, on - 2, smtputf8, &r2) == 0);
        buf_free(&again);
        result_clear(&r2);
        /* a reader gets the text back */
        if (which < NNAMES && names[which].kind == ADDRESSES && !has(f, n, "=?"))
            check_addresses(f + value_at, n - value_at, o, on, smtputf8);
        if (which < NNAMES && names[which].kind == UNSTRUCTURED && !has(f, n, "=?")) {
            size_t ul, vl, dl;
            char *u = ewd_unfold(o, on, &ul);
            char *v = ewd_unfold(f + value_at, n - value_at, &vl);
            const char *ucolon = memchr(u, ':', ul);
            CHECK(ucolon != NULL);
            bool bad = false;
            char *d = ewd_decode(ucolon + 1, ul - (size_t)(ucolon + 1 - u), &dl, &bad);
            CHECK(!bad);
            const char *ds = d, *vs = v;
            trim(&ds, &dl);
            trim(&vs, &vl);
            if (dl != vl || memcmp(ds, vs, dl) != 0) {
                fprintf(stderr, "decoded: [%.*s]\noriginal: [%.*s]\n", (int)dl, ds, (int)vl, vs);
                CHECK(!"the decoded text is the original");
            }
            free(d);
            free(u);
            free(v);
        }
    }
    result_clear(&r);
    buf_free(&out);
    buf_free(&field);
    return 0;
}
