/*
 * socks.h - the client side of a SOCKS5 proxy (RFC 1928) with
 * username/password authentication (RFC 1929), for conn.c.
 *
 * Two parts. The pure part builds the requests and parses the proxy's
 * answers from bytes in memory (no I/O, no allocation in the parsers:
 * unit-tested and fuzzed, since the proxy is a peer we do not trust).
 * The driver, socks_negotiate(), runs the whole exchange on a socket
 * that conn.c has connected to the proxy, within one deadline, and reads
 * exactly the bytes of each answer: whatever the proxy passes along after
 * its reply (the smarthost's greeting, in the same packet) stays in the
 * socket for conn's own buffer.
 *
 * The smarthost's name is sent as it is given (ATYP 3, a domain name:
 * the proxy resolves it; the caller has made an IDN its A-labels), an IP
 * literal as ATYP 1 or 4. Nothing here resolves a name.
 *
 * Must not: resolve a name, know about SMTP or TLS, log or keep the
 * password (the buffers that held it are wiped).
 */
#ifndef SMTPFWD_SOCKS_H
#define SMTPFWD_SOCKS_H

#include <stdbool.h>
#include <stddef.h>

#include "result.h"
#include "util.h"

#define SOCKS_VERSION 5
#define SOCKS_METHOD_NONE 0x00
#define SOCKS_METHOD_USERPASS 0x02
#define SOCKS_METHOD_REFUSED 0xff

#define SOCKS_ATYP_IPV4 0x01
#define SOCKS_ATYP_DOMAIN 0x03
#define SOCKS_ATYP_IPV6 0x04

/* The longest CONNECT reply: 4 + 1 + 255 (domain) + 2. */
#define SOCKS_REPLY_MAX 262

/* ---- the pure part ---- */

/* The greeting (VER, NMETHODS, METHODS): no authentication, and
 * username/password too when with_auth. Appends to out. */
void socks_greeting(struct buf *out, bool with_auth);

/* The proxy's method choice (exactly 2 bytes at p). Returns the method
 * (SOCKS_METHOD_NONE, or SOCKS_METHOD_USERPASS when offered_auth), or -1
 * with *cls and *why set: 0xFF (no acceptable method) -> RC_NOPERM; a
 * method not offered, or a version other than 5 -> RC_PROTOCOL. *why is
 * an untranslated constant (N_()); the caller translates it. */
int socks_parse_method(const unsigned char *p, bool offered_auth, enum result_class *cls,
                       const char **why);

/* The RFC 1929 request (VER 1, ULEN, UNAME, PLEN, PASSWD) appended to
 * out (the caller wipes it after sending). Returns 0, or -1 when the user
 * or the password is empty or longer than 255 octets. */
int socks_auth_request(struct buf *out, const char *user, const char *password);

/* The answer to it (exactly 2 bytes at p): 0 when STATUS is 0 (accepted),
 * 1 when the proxy refused the user (RC_NOPERM for the caller), -1 when
 * the version is not 1 (garbage). */
int socks_parse_auth(const unsigned char *p);

/* CONNECT to host port (1..65535): ATYP 1 for an IPv4 literal, 4 for an
 * IPv6 literal (with or without brackets), else 3 with the name as it is
 * (1..255 octets). Appends to out; returns the ATYP used, or -1 when the
 * name cannot be sent (empty, too long, or holding a NUL). */
int socks_connect_request(struct buf *out, const char *host, int port);

/* The parsed reply to CONNECT. */
struct socks_reply {
    int rep;                /* REP: 0 succeeded */
    int atyp;               /* ATYP of the bound address */
    char bound[256];        /* BND.ADDR as text (a domain name escaped
                               with buf_put_escaped rules: printable) */
    int bound_port;         /* BND.PORT */
};

/* Parse a CONNECT reply from the first n bytes at p. Returns:
 *   1   a complete, well-formed reply of *need bytes (out filled; the
 *       bytes after it are not the reply's);
 *   0   more bytes are needed: the reply is at least *need bytes long
 *       (always > n);
 *  -1   garbage (version not 5, RSV not 0, an unknown ATYP, an empty
 *       domain name): *why says which (N_() constant), class RC_PROTOCOL.
 * A reply with REP != 0 that is otherwise well-formed returns 1: the
 * caller maps out->rep with socks_rep_text(). Linear, never reads past
 * p[n-1]. */
int socks_parse_reply(const unsigned char *p, size_t n, size_t *need, struct socks_reply *out,
                      const char **why);

/* What a REP code means (RFC 1928 6), and its class: 1 general failure,
 * 3 network unreachable, 4 host unreachable, 5 connection refused, 6 TTL
 * expired -> RC_TEMPFAIL; 2 not allowed by ruleset, 7 command not
 * supported, 8 address type not supported -> RC_UNAVAILABLE; any other
 * -> RC_PROTOCOL ("unknown reply code"). Returns the N_() text. */
const char *socks_rep_text(int rep, enum result_class *cls);

/* ---- the driver ---- */

struct socks_request {
    const char *proxy;      /* for messages: "127.0.0.1 port 1080" */
    const char *host;       /* the smarthost as it is sent (A-labels) */
    int port;
    const char *user;       /* NULL: offer no authentication */
    const char *password;   /* with user; never logged */
};

/* Negotiate a CONNECT through the proxy on fd (connected, non-blocking)
 * before deadline_ms (clock_now_ms() time; span_ms names it in a timeout
 * message). -v says each step (the authentication only as "authenticating
 * as USER"). Returns 0 when the proxy has connected to the target, or -1
 * with r set, naming the proxy and the target:
 *   proxy closed the connection, timeout, I/O error -> RC_TEMPFAIL;
 *   REP codes as socks_rep_text();
 *   no acceptable method, user refused            -> RC_NOPERM;
 *   garbage, wrong version, a truncated answer    -> RC_PROTOCOL;
 *   a name or credentials that cannot be sent     -> RC_CONFIG. */
int socks_negotiate(int fd, const struct socks_request *q, long long deadline_ms, int span_ms,
                    struct result *r);

#endif
