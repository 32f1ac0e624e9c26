/*
 * test-socks.c - unit tests for socks.[ch]: the bytes of the greeting,
 * of RFC 1929 and of CONNECT (a name as ATYP 3, IP literals as ATYP 1
 * and 4), the parsers of the proxy's answers (every ATYP of a reply,
 * every REP code and its class, truncated input asking for exactly the
 * bytes missing, garbage), and the driver over a socket pair: the bytes
 * a proxy sends after its reply stay unread, a proxy that closes early
 * or says nothing within the deadline.
 */
#include <config.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "socks.h"
#include "tap.h"

static bool bytes_eq(const struct buf *b, const void *want, size_t n)
{
    return b->len == n && memcmp(b->data, want, n) == 0;
}

static void test_requests(void)
{
    struct buf b = BUF_INIT;
    socks_greeting(&b, false);
    tap_ok(bytes_eq(&b, "\x05\x01\x00", 3), "greeting: no authentication only");
    buf_reset(&b);
    socks_greeting(&b, true);
    tap_ok(bytes_eq(&b, "\x05\x02\x00\x02", 4), "greeting: none and username/password");

    buf_reset(&b);
    tap_int(socks_auth_request(&b, "alice", "pw"), 0, "auth request built");
    tap_ok(bytes_eq(&b, "\x01\x05" "alice" "\x02" "pw", 10), "auth request bytes");
    buf_reset(&b);
    tap_int(socks_auth_request(&b, "", "pw"), -1, "empty user refused");
    tap_int(socks_auth_request(&b, "u", ""), -1, "empty password refused");
    char longs[300];
    memset(longs, 'x', sizeof longs - 1);
    longs[sizeof longs - 1] = '\0';
    tap_int(socks_auth_request(&b, longs, "pw"), -1, "user over 255 octets refused");
    tap_int(socks_auth_request(&b, "u", longs), -1, "password over 255 octets refused");
    tap_int((long long)b.len, 0, "nothing appended on refusal");

    buf_reset(&b);
    tap_int(socks_connect_request(&b, "smtp.example.org", 465), SOCKS_ATYP_DOMAIN,
            "a name goes as a domain name");
    tap_ok(bytes_eq(&b, "\x05\x01\x00\x03\x10" "smtp.example.org" "\x01\xd1", 23),
           "CONNECT bytes for a name");
    buf_reset(&b);
    tap_int(socks_connect_request(&b, "192.0.2.7", 25), SOCKS_ATYP_IPV4, "IPv4 literal");
    tap_ok(bytes_eq(&b, "\x05\x01\x00\x01\xc0\x00\x02\x07\x00\x19", 10), "CONNECT IPv4 bytes");
    buf_reset(&b);
    tap_int(socks_connect_request(&b, "[2001:db8::1]", 587), SOCKS_ATYP_IPV6,
            "bracketed IPv6 literal");
    tap_ok(b.len == 4 + 16 + 2 && (unsigned char)b.data[4] == 0x20 &&
           (unsigned char)b.data[5] == 0x01 && (unsigned char)b.data[19] == 0x01 &&
           (unsigned char)b.data[20] == 0x02 && (unsigned char)b.data[21] == 0x4b,
           "CONNECT IPv6 bytes");
    buf_reset(&b);
    tap_int(socks_connect_request(&b, "::1", 25), SOCKS_ATYP_IPV6, "bare IPv6 literal");
    buf_reset(&b);
    tap_int(socks_connect_request(&b, "", 25), -1, "empty name refused");
    tap_int(socks_connect_request(&b, longs, 25), -1, "name over 255 octets refused");
    tap_int(socks_connect_request(&b, "a.test", 0), -1, "port 0 refused");
    tap_int(socks_connect_request(&b, "a.test", 65536), -1, "port 65536 refused");
    tap_int(socks_connect_request(&b, "[a.test]", 25), -1, "brackets around a name refused");
    buf_free(&b);
}

static void test_method(void)
{
    enum result_class cls;
    const char *why;
    tap_int(socks_parse_method((const unsigned char *)"\x05\x00", false, &cls, &why),
            SOCKS_METHOD_NONE, "method 00 accepted");
    tap_int(socks_parse_method((const unsigned char *)"\x05\x02", true, &cls, &why),
            SOCKS_METHOD_USERPASS, "method 02 accepted when offered");
    tap_int(socks_parse_method((const unsigned char *)"\x05\x02", false, &cls, &why), -1,
            "method 02 refused when not offered");
    tap_int(cls, RC_PROTOCOL, "... as a protocol error");
    tap_int(socks_parse_method((const unsigned char *)"\x05\xff", false, &cls, &why), -1,
            "FF: no acceptable method");
    tap_int(cls, RC_NOPERM, "... RC_NOPERM");
    tap_ok(strstr(why, "proxy_user") != NULL, "... with the hint to set proxy_user");
    tap_int(socks_parse_method((const unsigned char *)"\x05\xff", true, &cls, &why), -1,
            "FF after offering username/password");
    tap_int(cls, RC_NOPERM, "... RC_NOPERM");
    tap_int(socks_parse_method((const unsigned char *)"\x04\x00", false, &cls, &why), -1,
            "version 4 refused");
    tap_int(cls, RC_PROTOCOL, "... RC_PROTOCOL");
    tap_int(socks_parse_method((const unsigned char *)"\x05\x01", false, &cls, &why), -1,
            "GSSAPI (not offered) refused");

    tap_int(socks_parse_auth((const unsigned char *)"\x01\x00"), 0, "RFC 1929 success");
    tap_int(socks_parse_auth((const unsigned char *)"\x01\x01"), 1, "RFC 1929 failure");
    tap_int(socks_parse_auth((const unsigned char *)"\x01\xff"), 1, "any non-zero status fails");
    tap_int(socks_parse_auth((const unsigned char *)"\x05\x00"), -1, "wrong version: garbage");
}

/* Parse p whole, and every prefix of it: a prefix must ask for more
 * bytes (and for no more than the reply has), never succeed. */
static int parse_all_prefixes(const unsigned char *p, size_t n, struct socks_reply *out,
                              const char **why, bool *prefixes_ok)
{
    size_t need = 0;
    *prefixes_ok = true;
    for (size_t k = 0; k < n; k++) {
        struct socks_reply tmp;
        int rc = socks_parse_reply(p, k, &need, &tmp, why);
        if (rc == 1 || (rc == 0 && (need <= k || need > n)))
            *prefixes_ok = false;
        if (rc < 0)
            return rc;
    }
    int rc = socks_parse_reply(p, n, &need, out, why);
    if (rc == 1 && need != n)
        *prefixes_ok = false;
    return rc;
}

static void test_reply(void)
{
    struct socks_reply r;
    const char *why;
    bool ok;

    static const unsigned char v4[] = { 5, 0, 0, 1, 10, 1, 2, 3, 0x04, 0x38 };
    tap_int(parse_all_prefixes(v4, sizeof v4, &r, &why, &ok), 1, "IPv4 reply parsed");
    tap_ok(ok, "IPv4: every prefix asks for the bytes missing");
    tap_str(r.bound, "10.1.2.3", "IPv4 bound address");
    tap_int(r.bound_port, 1080, "bound port");
    tap_int(r.rep, 0, "REP 0");

    unsigned char v6[22] = { 5, 0, 0, 4 };
    v6[19] = 1;
    v6[20] = 0;
    v6[21] = 25;
    tap_int(parse_all_prefixes(v6, sizeof v6, &r, &why, &ok), 1, "IPv6 reply parsed");
    tap_ok(ok, "IPv6: every prefix asks for the bytes missing");
    tap_str(r.bound, "::1", "IPv6 bound address");
    tap_int(r.bound_port, 25, "IPv6 bound port");

    static const unsigned char dom[] = { 5, 0, 0, 3, 5, 'p', 'r', '\x01', 'x', 'y', 0, 80 };
    tap_int(parse_all_prefixes(dom, sizeof dom, &r, &why, &ok), 1, "domain reply parsed");
    tap_ok(ok, "domain: every prefix asks for the bytes missing");
    tap_str(r.bound, "pr?xy", "a control byte in the bound name is not kept");
    tap_int(r.bound_port, 80, "domain bound port");

    /* Bytes after the reply are not the reply's. */
    static const unsigned char more[] = { 5, 0, 0, 1, 1, 2, 3, 4, 0, 25, '2', '2', '0', ' ' };
    size_t need = 0;
    tap_int(socks_parse_reply(more, sizeof more, &need, &r, &why), 1, "reply with bytes after");
    tap_int((long long)need, 10, "... its length excludes them");

    static const unsigned char badver[] = { 4, 0, 0, 1, 1, 2, 3, 4, 0, 25 };
    tap_int(socks_parse_reply(badver, 1, &need, &r, &why), -1, "wrong version seen at once");
    static const unsigned char rsv[] = { 5, 0, 1, 1, 1, 2, 3, 4, 0, 25 };
    tap_int(socks_parse_reply(rsv, sizeof rsv, &need, &r, &why), -1, "RSV not zero refused");
    static const unsigned char atyp[] = { 5, 0, 0, 2, 1, 2, 3, 4, 0, 25 };
    tap_int(socks_parse_reply(atyp, sizeof atyp, &need, &r, &why), -1, "unknown ATYP refused");
    static const unsigned char empty[] = { 5, 0, 0, 3, 0, 0, 25 };
    tap_int(socks_parse_reply(empty, sizeof empty, &need, &r, &why), -1,
            "empty bound domain refused");
    static const unsigned char http[] = "HTTP/1.0 400 Bad Request\r\n";
    tap_int(socks_parse_reply(http, sizeof http - 1, &need, &r, &why), -1, "HTTP is garbage");
    tap_ok(why != NULL, "garbage says why");

    /* A refusal is a well-formed reply; its meaning comes from REP. */
    static const unsigned char refused[] = { 5, 5, 0, 1, 0, 0, 0, 0, 0, 0 };
    tap_int(socks_parse_reply(refused, sizeof refused, &need, &r, &why), 1, "REP 5 parsed");
    tap_int(r.rep, 5, "REP 5 kept");

    static const struct {
        int rep;
        enum result_class cls;
    } classes[] = {
        { 0, RC_OK }, { 1, RC_TEMPFAIL }, { 2, RC_UNAVAILABLE }, { 3, RC_TEMPFAIL },
        { 4, RC_TEMPFAIL }, { 5, RC_TEMPFAIL }, { 6, RC_TEMPFAIL }, { 7, RC_UNAVAILABLE },
        { 8, RC_UNAVAILABLE }, { 9, RC_PROTOCOL }, { 255, RC_PROTOCOL },
    };
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++) {
        enum result_class cls;
        const char *t = socks_rep_text(classes[i].rep, &cls);
        char what[64];
        snprintf(what, sizeof what, "REP %d: its class", classes[i].rep);
        tap_ok(cls == classes[i].cls && t && *t, what);
    }
}

/* The driver against a "proxy" that has written its whole part in
 * advance into the other end of a socket pair. */
static int drive(const void *answers, size_t n, bool close_after, const char *user,
                 int timeout_ms, struct result *r, int *peer_out)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return -2;
    fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
    if (n && write(sv[1], answers, n) != (ssize_t)n)
        return -2;
    if (close_after)
        shutdown(sv[1], SHUT_WR);
    struct socks_request q = { "proxy.test port 1080", "smtp.example.org", 25, user,
                               user ? "secret" : NULL };
    int rc = socks_negotiate(sv[0], &q, clock_now_ms() + timeout_ms, timeout_ms, r);
    *peer_out = sv[1];
    close(sv[0]);
    return rc;
}

static void test_driver(void)
{
    struct result r = RESULT_INIT;
    int peer;
    static const unsigned char ok_then_greeting[] =
        "\x05\x00" "\x05\x00\x00\x01\x7f\x00\x00\x01\x04\x38" "220 hi\r\n";
    int sv[2];
    /* The greeting after the reply stays in the socket. */
    tap_int(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0, "socket pair");
    fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
    tap_ok(write(sv[1], ok_then_greeting, sizeof ok_then_greeting - 1) ==
               (ssize_t)(sizeof ok_then_greeting - 1), "proxy's answers written");
    struct socks_request q = { "proxy.test port 1080", "smtp.example.org", 25, NULL, NULL };
    tap_int(socks_negotiate(sv[0], &q, clock_now_ms() + 5000, 5000, &r), 0, "negotiated");
    char rest[16] = "";
    ssize_t k = read(sv[0], rest, sizeof rest - 1);
    tap_ok(k == 8 && memcmp(rest, "220 hi\r\n", 8) == 0, "the greeting is left for SMTP");
    unsigned char sent[64];
    k = read(sv[1], sent, sizeof sent);
    tap_ok(k == 3 + 4 + 1 + 16 + 2 && memcmp(sent, "\x05\x01\x00", 3) == 0 &&
           memcmp(sent + 3, "\x05\x01\x00\x03\x10smtp.example.org", 21) == 0,
           "greeting and CONNECT with the name sent");
    close(sv[0]);
    close(sv[1]);

    result_clear(&r);
    tap_int(drive("", 0, true, NULL, 5000, &r, &peer), -1, "closed at once");
    tap_int(r.cls, RC_TEMPFAIL, "... RC_TEMPFAIL");
    tap_ok(r.msg && strstr(r.msg, "proxy.test port 1080") && strstr(r.msg, "smtp.example.org"),
           "... naming the proxy and the target");
    close(peer);
    result_clear(&r);
    tap_int(drive("\x05\x00\x05\x00\x00\x01\x7f", 7, true, NULL, 5000, &r, &peer), -1,
            "truncated reply");
    tap_int(r.cls, RC_PROTOCOL, "... RC_PROTOCOL");
    close(peer);
    result_clear(&r);
    tap_int(drive("\x05\x00\x05\x04", 4, true, NULL, 5000, &r, &peer), -1,
            "refusal cut after REP");
    tap_int(r.cls, RC_TEMPFAIL, "... REP 4 still counts: RC_TEMPFAIL");
    close(peer);
    result_clear(&r);
    tap_int(drive("\x05\x02\x01\x01", 4, true, "alice", 5000, &r, &peer), -1,
            "user refused");
    tap_int(r.cls, RC_NOPERM, "... RC_NOPERM");
    tap_ok(r.msg && strstr(r.msg, "alice") && !strstr(r.msg, "secret"),
           "... naming the user, not the password");
    close(peer);
    result_clear(&r);
    tap_int(drive("\x05", 1, false, NULL, 50, &r, &peer), -1, "silent after one byte");
    tap_int(r.cls, RC_TEMPFAIL, "... the deadline: RC_TEMPFAIL");
    close(peer);
    result_clear(&r);
}

int main(void)
{
    test_requests();
    test_method();
    test_reply();
    test_driver();
    return tap_done();
}
