/*
 * conn.h - the code that touches sockets: TCP connect to the
 * addresses of a host (Happy Eyeballs, RFC 8305) within one timeout,
 * buffered non-blocking I/O with explicit flush points, reads bounded by
 * a deadline the caller computes once per reply (poll), and the TLS
 * upgrade through tls.[ch] underneath the same read/write calls, so
 * smtp.c never changes when TLS is on; and a loopback listener for a
 * browser's redirect (conn-listen.c, at the end of this header).
 *
 * Writes are buffered until conn_flush() (or until the buffer is full, in
 * which case the full buffer is written): a pipelined group of SMTP
 * commands leaves in one write(). TCP_NODELAY is set on every connection.
 *
 * Every failure is classified: refused/unreachable/timeout/reset ->
 * RC_TEMPFAIL; unknown host -> RC_NOHOST; DNS try-again -> RC_TEMPFAIL;
 * through a SOCKS5 proxy, the proxy's answers as socks.h says.
 */
#ifndef SMTPFWD_CONN_H
#define SMTPFWD_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include "result.h"

struct conn;

/* Connect to host:port or to a local socket path when socket_path is set.
 * The addresses getaddrinfo returns are tried with the families
 * alternating, starting with the first one's; while an attempt has had
 * no answer for 250 ms (or as soon as it fails) the next one starts too,
 * the earlier ones keep going, and the first connection made is kept
 * (the others are closed). source_ip binds every attempt; an address of
 * another family than source_ip is not tried. timeout_ms bounds the whole
 * connect phase after name resolution (all attempts together); -v says
 * which address is tried and which one connected. Returns 0 and *out
 * (conn_peer() names the address that connected), or -1 with r set: the
 * error names every address tried and why it failed. */
int conn_open(const char *host, int port, const char *socket_path,
              const char *source_ip, int timeout_ms, struct conn **out,
              struct result *r);

/* A SOCKS5 proxy to connect through (socks.h). */
struct conn_proxy {
    const char *host;       /* the proxy's name or address: resolved here */
    int port;
    const char *user;       /* NULL: no authentication offered */
    const char *password;   /* with user; the caller wipes it */
};

/* Connect to host:port through the SOCKS5 proxy px: the proxy's name is
 * resolved and connected as conn_open() does (Happy Eyeballs, source_ip
 * binds it), then the proxy is asked to CONNECT to host as it is given
 * (a name is never resolved here: the proxy does; the caller passes an
 * IDN in A-labels). timeout_ms bounds the whole of it: one deadline for
 * the connection to the proxy and the negotiation. conn_peer() says
 * "HOST port N via SOCKS5 proxy ADDR port P"; a TLS session on it is
 * cached under the host's name and port, never the proxy's address.
 * Returns 0 and *out, or -1 with r set (classes in socks.h, and those of
 * conn_open() for the connection to the proxy, the message then naming
 * the proxy). */
int conn_open_proxied(const struct conn_proxy *px, const char *host, int port,
                      const char *source_ip, int timeout_ms, struct conn **out,
                      struct result *r);

/* Wrap an already connected fd (used by tests and by -bs). */
struct conn *conn_from_fd(int fd);

/* Queue n bytes for sending. Large writes are passed straight to the
 * socket after flushing what is queued. Returns 0 or -1 with r set. */
int conn_write(struct conn *c, const void *data, size_t n, int timeout_ms, struct result *r);
/* Send everything queued. Returns 0 or -1 with r set. */
int conn_flush(struct conn *c, int timeout_ms, struct result *r);

/* The output queued since the last flush contains a credential (an AUTH
 * response): the buffer is wiped as soon as it has been sent. */
void conn_mark_secret(struct conn *c);

/* One deadline shared by every wait of one reply (all its lines) or one
 * handshake, so that a peer that drip-feeds bytes cannot stretch the
 * wait: at_ms is on the monotonic clock, span_ms the timeout it was made
 * from (named in the timeout message). */
struct conn_deadline {
    long long at_ms;
    int span_ms;
};

/* The deadline timeout_ms from now (timeout_ms <= 0: 60 seconds). */
struct conn_deadline conn_deadline_in(int timeout_ms);

/* Read one line (up to and including LF) into buf, waiting until the
 * deadline at most (the caller reuses the same deadline for every line
 * of a reply). *len receives the line length without the CRLF/LF. A line
 * longer than bufsize-1 is an error (RC_PROTOCOL, "over-long reply
 * line"). EOF before a full line is RC_TEMPFAIL ("connection closed by
 * server"). Reaching the deadline is RC_TEMPFAIL naming the deadline's
 * span. The line is NUL-terminated. */
int conn_read_line(struct conn *c, char *buf, size_t bufsize, size_t *len,
                   const struct conn_deadline *deadline, struct result *r);

/* Bytes already received and buffered but not yet consumed. Used to
 * detect data pipelined by a server where it must not be (after its
 * reply to STARTTLS) and by the tests' pipelining checks. */
size_t conn_pending(const struct conn *c);

/* True when a connection kept open between messages is still quiet:
 * nothing buffered, nothing to read and no end of file or error on the
 * socket (a server that timed us out has sent 421 or closed). Never
 * blocks. */
bool conn_idle_intact(const struct conn *c);

/* The peer's address as text ("127.0.0.1 port 2525"; through a proxy
 * "smtp.example.org port 465 via SOCKS5 proxy 127.0.0.1 port 1080"),
 * for messages. */
const char *conn_peer(const struct conn *c);

/* True when TLS is active on the connection. */
bool conn_is_tls(const struct conn *c);

struct tls_config;
struct tls_info;

/* Start TLS on the connection (implicit TLS right after connect, or after
 * the server's 220 to STARTTLS) and verify the server as cfg says.
 * Returns 0, or -1 with r set: verification failures -> RC_NOPERM with
 * the reason GnuTLS gives; handshake broken by the network or a timeout
 * -> RC_TEMPFAIL; no protocol version or cipher in common ->
 * RC_UNAVAILABLE; other TLS protocol failures -> RC_PROTOCOL; unusable
 * local TLS settings -> RC_CONFIG (details in tls.h). */
int conn_start_tls(struct conn *c, const struct tls_config *cfg, int timeout_ms,
                   struct result *r);

/* Channel binding data for SCRAM-*-PLUS: type is "tls-exporter" (TLS 1.3
 * and 1.2 with extended master secret) or "tls-unique" (TLS 1.2). Appends
 * the raw bytes to out and returns 0; -1 when unavailable (no error
 * message: the caller falls back to a mechanism without binding). */
int conn_channel_binding(const struct conn *c, const char *type, struct buf *out);

/* Describe the TLS session (for --serverinfo). Returns 0 and fills info
 * (free with tls_info_free), or -1 when TLS is not active. */
int conn_tls_info(const struct conn *c, struct tls_info *info);

/* Close and free; NULL is fine. Never blocks for long. */
void conn_close(struct conn *c);

/* ---- The loopback listener (conn-listen.c) ----
 *
 * A local endpoint for a browser (the redirect of an OAuth2
 * authorization, RFC 8252 7.3): 127.0.0.1 on a port the kernel picks,
 * and ::1 on the same port when asked and the system has IPv6 loopback.
 * Clients are served at once (a browser opens speculative connections
 * that never send anything), each with 10 seconds to send its request
 * head; nothing a client sends is logged. */
struct conn_listener;

/* Listen on 127.0.0.1 (and ::1 when ipv6_too and possible; a ::1 that
 * cannot be had is left out, -v says why). Returns 0 and *out (free with
 * conn_listener_close), or -1 with r set: no socket -> RC_OSERR; no port
 * free on both addresses -> RC_TEMPFAIL. */
int conn_listen_loopback(bool ipv6_too, struct conn_listener **out, struct result *r);

/* The port the listener has. */
int conn_listener_port(const struct conn_listener *l);

/* Wait until some client has sent the head of a request (up to an empty
 * line; at most max_head bytes, in which case the head is cut there but
 * holds at least the whole first line), or until deadline_ms (the
 * monotonic clock, clock_now_ms()). Clients that close, send a first line
 * longer than max_head or take too long are dropped without a word.
 * Returns 1 with *c (the client's connection for the reply: conn_write,
 * conn_flush, then conn_close) and *head (len bytes plus a NUL; it may
 * hold secrets: the caller wipes it with secure_wipe(*head, *len) and
 * frees it); 0 when the deadline passed; -1 with r set when waiting
 * itself fails (RC_OSERR). */
int conn_listener_next(struct conn_listener *l, long long deadline_ms, size_t max_head,
                       struct conn **c, char **head, size_t *len, struct result *r);

/* Close the listening sockets and every client not handed out; NULL is
 * fine. */
void conn_listener_close(struct conn_listener *l);

#endif
