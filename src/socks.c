/*
 * socks.c - the SOCKS5 client (see socks.h): the requests and the
 * parsers of the proxy's answers as pure functions, and the driver that
 * runs them on the socket conn.c connected to the proxy.
 *
 * Owns: the bytes of RFC 1928 (greeting, method choice, CONNECT, reply)
 * and RFC 1929 (username/password), the meaning of every REP code, and
 * the one deadline of a negotiation. Must not: resolve a name (the proxy
 * does), read past an answer (what follows belongs to the SMTP session),
 * log or keep the password, or know about SMTP and TLS.
 */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "i18n.h"
#include "log.h"
#include "socks.h"

/* ---- the pure part ---- */

void socks_greeting(struct buf *out, bool with_auth)
{
    buf_putc(out, SOCKS_VERSION);
    if (with_auth) {
        buf_putc(out, 2);
        buf_putc(out, SOCKS_METHOD_NONE);
        buf_putc(out, SOCKS_METHOD_USERPASS);
    } else {
        buf_putc(out, 1);
        buf_putc(out, SOCKS_METHOD_NONE);
    }
}

int socks_parse_method(const unsigned char *p, bool offered_auth, enum result_class *cls,
                       const char **why)
{
    *cls = RC_PROTOCOL;
    if (p[0] != SOCKS_VERSION) {
        *why = N_("not a SOCKS5 answer (wrong version)");
        return -1;
    }
    if (p[1] == SOCKS_METHOD_NONE)
        return SOCKS_METHOD_NONE;
    if (p[1] == SOCKS_METHOD_USERPASS && offered_auth)
        return SOCKS_METHOD_USERPASS;
    if (p[1] == SOCKS_METHOD_REFUSED) {
        *cls = RC_NOPERM;
        *why = offered_auth ? N_("the proxy accepts none of the authentication methods "
                                 "offered (none, username/password)")
                            : N_("the proxy wants authentication; set proxy_user (and "
                                 "proxy_password or proxy_passwordeval)");
        return -1;
    }
    *why = N_("the proxy chose an authentication method that was not offered");
    return -1;
}

int socks_auth_request(struct buf *out, const char *user, const char *password)
{
    size_t ul = user ? strlen(user) : 0, pl = password ? strlen(password) : 0;
    if (ul == 0 || ul > 255 || pl == 0 || pl > 255)
        return -1;
    buf_putc(out, 1);
    buf_putc(out, (char)ul);
    buf_append(out, user, ul);
    buf_putc(out, (char)pl);
    buf_append(out, password, pl);
    return 0;
}

int socks_parse_auth(const unsigned char *p)
{
    if (p[0] != 1)
        return -1;
    return p[1] == 0 ? 0 : 1;
}

int socks_connect_request(struct buf *out, const char *host, int port)
{
    if (!host || port < 1 || port > 65535)
        return -1;
    size_t hl = strlen(host);
    unsigned char addr[16];
    int atyp;
    char lit[64];
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']' && hl - 2 < sizeof lit) {
        memcpy(lit, host + 1, hl - 2);
        lit[hl - 2] = '\0';
    } else if (hl < sizeof lit) {
        memcpy(lit, host, hl + 1);
    } else {
        lit[0] = '\0';
    }
    if (inet_pton(AF_INET, lit, addr) == 1) {
        atyp = SOCKS_ATYP_IPV4;
    } else if (inet_pton(AF_INET6, lit, addr) == 1) {
        atyp = SOCKS_ATYP_IPV6;
    } else {
        if (hl == 0 || hl > 255 || host[0] == '[')
            return -1;
        atyp = SOCKS_ATYP_DOMAIN;
    }
    buf_putc(out, SOCKS_VERSION);
    buf_putc(out, 1);           /* CONNECT */
    buf_putc(out, 0);           /* RSV */
    buf_putc(out, (char)atyp);
    if (atyp == SOCKS_ATYP_IPV4) {
        buf_append(out, addr, 4);
    } else if (atyp == SOCKS_ATYP_IPV6) {
        buf_append(out, addr, 16);
    } else {
        buf_putc(out, (char)hl);
        buf_append(out, host, hl);
    }
    buf_putc(out, (char)(port >> 8));
    buf_putc(out, (char)(port & 0xff));
    return atyp;
}

int socks_parse_reply(const unsigned char *p, size_t n, size_t *need, struct socks_reply *out,
                      const char **why)
{
    *why = NULL;
    if (n >= 1 && p[0] != SOCKS_VERSION) {
        *why = N_("not a SOCKS5 reply (wrong version)");
        return -1;
    }
    if (n >= 3 && p[2] != 0) {
        *why = N_("malformed SOCKS5 reply (reserved byte not zero)");
        return -1;
    }
    if (n < 5) {
        *need = 5;
        return 0;
    }
    size_t alen;
    switch (p[3]) {
    case SOCKS_ATYP_IPV4: alen = 4; break;
    case SOCKS_ATYP_IPV6: alen = 16; break;
    case SOCKS_ATYP_DOMAIN:
        alen = 1 + (size_t)p[4];
        if (p[4] == 0) {
            *why = N_("malformed SOCKS5 reply (empty bound address)");
            return -1;
        }
        break;
    default:
        *why = N_("malformed SOCKS5 reply (unknown address type)");
        return -1;
    }
    *need = 4 + alen + 2;
    if (n < *need)
        return 0;
    memset(out, 0, sizeof *out);
    out->rep = p[1];
    out->atyp = p[3];
    const unsigned char *a = p + 4;
    if (p[3] == SOCKS_ATYP_IPV4) {
        inet_ntop(AF_INET, a, out->bound, sizeof out->bound);
    } else if (p[3] == SOCKS_ATYP_IPV6) {
        inet_ntop(AF_INET6, a, out->bound, sizeof out->bound);
    } else {
        /* Printable text only, cut to fit: the name is only shown. */
        size_t k = 0;
        for (size_t i = 0; i < p[4] && k + 1 < sizeof out->bound; i++) {
            unsigned char ch = a[1 + i];
            out->bound[k++] = ch > 0x20 && ch < 0x7f ? (char)ch : '?';
        }
        out->bound[k] = '\0';
    }
    out->bound_port = (p[4 + alen] << 8) | p[4 + alen + 1];
    return 1;
}

const char *socks_rep_text(int rep, enum result_class *cls)
{
    *cls = RC_TEMPFAIL;
    switch (rep) {
    case 0: *cls = RC_OK; return N_("succeeded");
    case 1: return N_("general SOCKS server failure");
    case 2: *cls = RC_UNAVAILABLE; return N_("connection not allowed by ruleset");
    case 3: return N_("network unreachable");
    case 4: return N_("host unreachable");
    case 5: return N_("connection refused");
    case 6: return N_("TTL expired");
    case 7: *cls = RC_UNAVAILABLE; return N_("command not supported");
    case 8: *cls = RC_UNAVAILABLE; return N_("address type not supported");
    default: *cls = RC_PROTOCOL; return N_("unknown reply code");
    }
}

/* ---- the driver ---- */

struct socks_io {
    int fd;
    const struct socks_request *q;
    long long deadline;
    int span_ms;
};

/* Send all of data. Returns 0, or -1 with r set (RC_TEMPFAIL). */
static int socks_send(struct socks_io *io, const void *data, size_t n, struct result *r)
{
    const char *p = data;
    while (n > 0) {
        ssize_t k = send(io->fd, p, n, MSG_NOSIGNAL);
        if (k > 0) {
            p += k;
            n -= (size_t)k;
            continue;
        }
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int w = clock_wait_fd(io->fd, POLLOUT, io->deadline);
            if (w > 0)
                continue;
            if (w == 0) {
                char *t = clock_describe_ms(io->span_ms);
                result_set(r, RC_TEMPFAIL,
                           _("SOCKS5 proxy %s: timed out after %s sending the request to "
                             "connect to %s port %d"), io->q->proxy, t, io->q->host,
                           io->q->port);
                free(t);
                return -1;
            }
        }
        result_set(r, RC_TEMPFAIL, _("SOCKS5 proxy %s: cannot send to it: %s"), io->q->proxy,
                   strerror(errno));
        return -1;
    }
    return 0;
}

/* Read until *have reaches want (exactly: nothing beyond). Returns 1
 * done, 0 end of file first (*have says how far), -1 with r set. */
static int socks_recv(struct socks_io *io, unsigned char *buf, size_t *have, size_t want,
                      struct result *r)
{
    while (*have < want) {
        ssize_t k = read(io->fd, buf + *have, want - *have);
        if (k > 0) {
            *have += (size_t)k;
            continue;
        }
        if (k == 0)
            return 0;
        if (errno == EINTR)
            continue;
        if (errno == ECONNRESET)
            return 0;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int w = clock_wait_fd(io->fd, POLLIN, io->deadline);
            if (w > 0)
                continue;
            if (w == 0) {
                char *t = clock_describe_ms(io->span_ms);
                result_set(r, RC_TEMPFAIL,
                           _("SOCKS5 proxy %s did not answer within %s (connecting to %s "
                             "port %d)"), io->q->proxy, t, io->q->host, io->q->port);
                free(t);
                return -1;
            }
        }
        result_set(r, RC_TEMPFAIL, _("SOCKS5 proxy %s: cannot read from it: %s"),
                   io->q->proxy, strerror(errno));
        return -1;
    }
    return 1;
}

/* The proxy closed the connection after have bytes of an answer. */
static void socks_closed(struct socks_io *io, size_t have, struct result *r)
{
    if (have == 0)
        result_set(r, RC_TEMPFAIL,
                   _("SOCKS5 proxy %s closed the connection without answering (connecting "
                     "to %s port %d)"), io->q->proxy, io->q->host, io->q->port);
    else
        result_set(r, RC_PROTOCOL,
                   _("SOCKS5 proxy %s sent a truncated answer (%zu bytes) and closed the "
                     "connection (connecting to %s port %d)"), io->q->proxy, have,
                   io->q->host, io->q->port);
}

static int socks_garbage(struct socks_io *io, enum result_class cls, const char *why,
                         struct result *r)
{
    result_set(r, cls, _("SOCKS5 proxy %s (connecting to %s port %d): %s"), io->q->proxy,
               io->q->host, io->q->port, _(why));
    return -1;
}

static int socks_authenticate(struct socks_io *io, struct result *r)
{
    struct buf req = BUF_INIT;
    if (socks_auth_request(&req, io->q->user, io->q->password) != 0) {
        buf_free(&req);
        result_set(r, RC_CONFIG,
                   _("SOCKS5 proxy %s: proxy_user and the proxy password must each be 1 to "
                     "255 octets"), io->q->proxy);
        return -1;
    }
    log_debug(1, _("SOCKS5: authenticating as %s"), io->q->user);
    int rc = socks_send(io, req.data, req.len, r);
    secure_wipe(req.data, req.cap);
    buf_free(&req);
    if (rc != 0)
        return -1;
    unsigned char ans[2];
    size_t have = 0;
    rc = socks_recv(io, ans, &have, 2, r);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        socks_closed(io, have, r);
        return -1;
    }
    int st = socks_parse_auth(ans);
    if (st < 0)
        return socks_garbage(io, RC_PROTOCOL,
                             N_("not an answer to username/password authentication"), r);
    if (st > 0) {
        result_set(r, RC_NOPERM, _("SOCKS5 proxy %s refused user %s (status %d)"),
                   io->q->proxy, io->q->user, ans[1]);
        return -1;
    }
    log_debug(1, _("SOCKS5: user %s accepted"), io->q->user);
    return 0;
}

int socks_negotiate(int fd, const struct socks_request *q, long long deadline_ms, int span_ms,
                    struct result *r)
{
    struct socks_io io = { fd, q, deadline_ms, span_ms };
    bool with_auth = q->user && *q->user;
    struct buf b = BUF_INIT;
    socks_greeting(&b, with_auth);
    log_debug(1, with_auth ? _("SOCKS5: offering no authentication and username/password")
                           : _("SOCKS5: offering no authentication"));
    int rc = socks_send(&io, b.data, b.len, r);
    buf_free(&b);
    if (rc != 0)
        return -1;

    unsigned char ans[SOCKS_REPLY_MAX];
    size_t have = 0;
    rc = socks_recv(&io, ans, &have, 2, r);
    if (rc <= 0) {
        if (rc == 0)
            socks_closed(&io, have, r);
        return -1;
    }
    enum result_class cls;
    const char *why = NULL;
    int method = socks_parse_method(ans, with_auth, &cls, &why);
    if (method < 0)
        return socks_garbage(&io, cls, why, r);
    if (method == SOCKS_METHOD_USERPASS && socks_authenticate(&io, r) != 0)
        return -1;

    int atyp = socks_connect_request(&b, q->host, q->port);
    if (atyp < 0) {
        buf_free(&b);
        result_set(r, RC_CONFIG, _("the host name %s cannot be sent to a SOCKS5 proxy"),
                   q->host);
        return -1;
    }
    log_debug(1, atyp == SOCKS_ATYP_DOMAIN ? _("SOCKS5: CONNECT %s port %d (the proxy "
                                               "resolves the name)")
                                           : _("SOCKS5: CONNECT %s port %d"),
              q->host, q->port);
    rc = socks_send(&io, b.data, b.len, r);
    buf_free(&b);
    if (rc != 0)
        return -1;

    have = 0;
    struct socks_reply rep;
    size_t need = 5;
    for (;;) {
        rc = socks_recv(&io, ans, &have, need, r);
        if (rc < 0)
            return -1;
        int pr = socks_parse_reply(ans, have, &need, &rep, &why);
        if (pr < 0)
            return socks_garbage(&io, RC_PROTOCOL, why, r);
        if (pr > 0)
            break;
        if (rc == 0) {
            /* Closed early: a refusal may still be clear from its first
             * two bytes. */
            if (have >= 2 && ans[1] != 0)
                break;
            socks_closed(&io, have, r);
            return -1;
        }
    }
    int code = ans[1];
    const char *text = socks_rep_text(code, &cls);
    if (cls != RC_OK) {
        result_set(r, cls, _("SOCKS5 proxy %s cannot connect to %s port %d: %s (reply %d)"),
                   q->proxy, q->host, q->port, _(text), code);
        return -1;
    }
    log_debug(1, _("SOCKS5: connected to %s port %d (the proxy's address: %s port %d)"),
              q->host, q->port, rep.bound, rep.bound_port);
    return 0;
}
