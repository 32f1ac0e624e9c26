/*
 * fuzz-oauth2-redirect.c - fuzz target: the request a browser (or any
 * local program) sends to the loopback redirect of `smtpfwd --authorize`
 * (oauth2_parse_redirect, src/oauth2-authorize.c).
 *
 * Input: the octets of a request head (any octets). They are copied into
 * a buffer of exactly that size, so that a read past the end shows up
 * under AddressSanitizer. Properties checked:
 *  - the answer is -1, 0 or 1; with -1 or 0 nothing is kept, with 1 a
 *    non-empty code or error is;
 *  - nothing kept is longer than the input;
 *  - only the first line counts: a line without its line end gives the
 *    same answer with "\r\nHeader: ..." after it;
 *  - a redirect made again from what was kept (every byte
 *    percent-encoded, in another order) gives the same values.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oauth2.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool equal(const struct oauth2_redirect *x, const struct oauth2_redirect *y)
{
    return same(x->code, y->code) && same(x->state, y->state) && same(x->error, y->error)
           && same(x->error_description, y->error_description);
}

static void put_param(struct buf *b, const char *name, const char *value)
{
    if (!value)
        return;
    buf_printf(b, "&%s=", name);
    for (const unsigned char *p = (const unsigned char *)value; *p; p++)
        buf_printf(b, "%%%02X", *p);
}

static size_t len_of(const char *s)
{
    return s ? strlen(s) : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *req = malloc(size ? size : 1);
    if (size)
        memcpy(req, data, size);
    struct oauth2_redirect rd;
    int kind = oauth2_parse_redirect(req, size, &rd);
    if (kind < -1 || kind > 1)
        abort();
    bool none = !rd.code && !rd.state && !rd.error && !rd.error_description;
    if (kind != 1 && !none)
        abort();
    if (kind == 1 && !(rd.code && rd.code[0]) && !(rd.error && rd.error[0]))
        abort();
    if (len_of(rd.code) > size || len_of(rd.state) > size || len_of(rd.error) > size
        || len_of(rd.error_description) > size)
        abort();

    /* the first line only */
    if (!memchr(req, '\n', size) && (size == 0 || req[size - 1] != '\r')) {
        static const char more[] = "\r\nHost: 127.0.0.1\r\nX: GET /?code=z&state=z HTTP/1.1\r\n";
        char *longer = malloc(size + sizeof more - 1);
        if (size)
            memcpy(longer, req, size);
        memcpy(longer + size, more, sizeof more - 1);
        struct oauth2_redirect rd2;
        if (oauth2_parse_redirect(longer, size + sizeof more - 1, &rd2) != kind
            || !equal(&rd, &rd2))
            abort();
        oauth2_redirect_free(&rd2);
        free(longer);
    }

    /* made again from what was kept */
    if (kind == 1) {
        struct buf b = BUF_INIT;
        buf_puts(&b, "GET /?x=1");
        put_param(&b, "error_description", rd.error_description);
        put_param(&b, "state", rd.state);
        put_param(&b, "error", rd.error);
        put_param(&b, "code", rd.code);
        buf_puts(&b, " HTTP/1.1\r\n\r\n");
        struct oauth2_redirect rd3;
        if (oauth2_parse_redirect(b.data, b.len, &rd3) != 1 || !equal(&rd, &rd3))
            abort();
        oauth2_redirect_free(&rd3);
        secure_wipe(b.data, b.len);
        buf_free(&b);
    }
    oauth2_redirect_free(&rd);
    if (!none && (rd.code || rd.state || rd.error || rd.error_description))
        abort();
    free(req);
    return 0;
}
