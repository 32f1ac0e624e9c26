/*
 * fuzz-socks.c - fuzz target "socks": what a SOCKS5 proxy answers, fed to
 * socks.h's parsers (the proxy is a peer we do not trust).
 *
 * Input: the bytes of a CONNECT reply, possibly followed by more (what a
 * proxy passes along after it). The first two bytes are also given to the
 * method and RFC 1929 parsers.
 *
 * Properties checked (abort() on violation), besides no crash and no
 * read past the input:
 *   - a complete reply says its length, at least 8 (a one-octet name) and at most
 *     SOCKS_REPLY_MAX, within the input; the bytes after it never change
 *     the result (parsing exactly the reply gives the same reply);
 *   - an incomplete one asks for more bytes than it was given, never more
 *     than SOCKS_REPLY_MAX, and feeding it that many (when the input has
 *     them) never asks for more again with the same answer;
 *   - every prefix of a complete reply is incomplete, never garbage: the
 *     parser decides from the bytes it has, not from where input stops;
 *   - the bound address is printable text; REP always has a class.
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "socks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct socks_reply r, r2;
    const char *why;
    size_t need = 0;

    if (size >= 2) {
        enum result_class cls;
        int m = socks_parse_method(data, size % 2 == 0, &cls, &why);
        if (m < 0 && (cls != RC_NOPERM && cls != RC_PROTOCOL))
            abort();
        if (m >= 0 && m != SOCKS_METHOD_NONE && m != SOCKS_METHOD_USERPASS)
            abort();
        int a = socks_parse_auth(data);
        if (a < -1 || a > 1)
            abort();
    }

    int rc = socks_parse_reply(data, size, &need, &r, &why);
    if (rc < 0) {
        if (!why)
            abort();
        return 0;
    }
    if (rc == 0) {
        if (need <= size || need > SOCKS_REPLY_MAX)
            abort();
        return 0;
    }
    if (need < 8 || need > SOCKS_REPLY_MAX || need > size)
        abort();
    size_t need2 = 0;
    if (socks_parse_reply(data, need, &need2, &r2, &why) != 1 || need2 != need)
        abort();
    if (r.rep != r2.rep || r.atyp != r2.atyp || r.bound_port != r2.bound_port ||
        strcmp(r.bound, r2.bound) != 0)
        abort();
    for (size_t k = 0; k < need; k++) {
        size_t nk = 0;
        struct socks_reply rk;
        if (socks_parse_reply(data, k, &nk, &rk, &why) != 0 || nk <= k || nk > need)
            abort();
    }
    for (const char *p = r.bound; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            abort();
    enum result_class cls;
    const char *t = socks_rep_text(r.rep, &cls);
    if (!t || !*t || (r.rep == 0) != (cls == RC_OK))
        abort();
    return 0;
}
