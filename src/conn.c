/*
 * conn.c - the code that touches sockets (see conn.h; socks.c speaks SOCKS5
 * on the one conn_open_proxied() connected to a proxy).
 *
 * Owns: name resolution and connecting (Happy Eyeballs as RFC 8305
 * describes it: the families alternating, a new non-blocking attempt
 * every 250 ms while the earlier ones keep going, the first to succeed
 * wins, one deadline for all, one poll() on every pending socket), the
 * output buffer with its explicit flush points, the input buffer for
 * line reads, and the timeouts of every wait; the connection through a
 * SOCKS5 proxy (the proxy connected as any host, then socks.c's
 * negotiation on its socket within the same deadline, the messages and
 * the TLS cache naming the smarthost). All bytes go through
 * conn_io_send() and conn_io_recv(): the raw fd, or the GnuTLS session
 * of tls.[ch] once conn_start_tls() has succeeded; nothing above this
 * file changes when TLS is on.
 *
 * Must not: know anything about SMTP beyond "a reply is a line", or
 * raise SIGPIPE (send() with MSG_NOSIGNAL).
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "conn.h"
#include "i18n.h"
#include "log.h"
#include "socks.h"
#include "tls.h"

#define CONN_OUTBUF (64 * 1024)
#define CONN_INBUF  (16 * 1024)

struct conn {
    int fd;
    bool is_socket;        /* send()/sendmsg() usable (else write/writev) */
    char *peer;            /* "ADDR port N" */
    char *tls_peer;        /* the TLS cache's name of the server; NULL: peer */
    char *out;             /* CONN_OUTBUF bytes */
    size_t outlen;
    char *in;              /* CONN_INBUF bytes */
    size_t inpos, inlen;   /* unread bytes are in[inpos..inlen) */
    bool eof;
    bool out_secret;       /* out holds a credential: wipe it once sent */
    bool tcp;              /* a TCP connection: acknowledge at once */
    struct tls_session *tls;   /* NULL until conn_start_tls() */
};

/* Acknowledge what arrives next at once instead of after the kernel's
 * delayed-ACK timer (40 ms on Linux).  A server that writes a reply in
 * two small segments with Nagle's algorithm on (Postfix sends the TLS
 * 1.3 session tickets and the EHLO reply that way) holds the second one
 * until the first is acknowledged; a client that is only waiting would
 * otherwise stall for the whole timer.  The kernel leaves quick-ack mode
 * again by itself, so this is renewed after every flush and before every
 * wait for input.  Failure changes nothing but timing. */
static void conn_quickack(const struct conn *c)
{
#ifdef TCP_QUICKACK
    if (c->tcp) {
        int one = 1;
        (void)setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
    }
#else
    (void)c;
#endif
}

/* ---- the two I/O primitives (GnuTLS slots in here) ---- */

/* Send from iov; returns bytes sent or -1 with errno (EAGAIN = wait). */
static ssize_t conn_io_send(struct conn *c, struct iovec *iov, int iovcnt)
{
    if (c->tls) {
        /* One record per call (at most 16 KiB); the caller loops. */
        (void)iovcnt;
        return tls_session_send(c->tls, iov[0].iov_base, iov[0].iov_len);
    }
    if (c->is_socket) {
        struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)iovcnt };
        ssize_t n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
        if (n >= 0 || errno != ENOTSOCK)
            return n;
        c->is_socket = false;
    }
    return writev(c->fd, iov, iovcnt);
}

/* Receive up to n bytes; returns bytes, 0 at EOF, -1 with errno. */
static ssize_t conn_io_recv(struct conn *c, void *buf, size_t n)
{
    if (c->tls)
        return tls_session_recv(c->tls, buf, n);
    return read(c->fd, buf, n);
}

/* What to poll for after EAGAIN: GnuTLS may need the other direction. */
static short conn_io_events(const struct conn *c, short plain)
{
    if (!c->tls)
        return plain;
    return tls_session_wants_write(c->tls) ? POLLOUT : POLLIN;
}

/* strerror(err), or the TLS library's text for a TLS error. */
static const char *conn_io_strerror(const struct conn *c, int err)
{
    if (c->tls && err == EPROTO)
        return tls_session_error(c->tls);
    return strerror(err);
}

/* ---- writing ---- */

static void conn_write_failed(struct conn *c, int err, struct result *r)
{
    if (err == EPIPE || err == ECONNRESET)
        result_set(r, RC_TEMPFAIL, _("connection closed by the server while sending to %s"),
                   c->peer);
    else
        result_set(r, RC_TEMPFAIL, _("cannot send data to %s: %s"), c->peer,
                   conn_io_strerror(c, err));
}

/* Write all of the iovecs (modified in place), waiting at most
 * timeout_ms for each bit of progress. */
static int conn_send_all(struct conn *c, struct iovec *iov, int iovcnt, int timeout_ms,
                         struct result *r)
{
    while (iovcnt > 0) {
        if (iov[0].iov_len == 0) {
            iov++;
            iovcnt--;
            continue;
        }
        ssize_t n = conn_io_send(c, iov, iovcnt);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                conn_write_failed(c, errno, r);
                return -1;
            }
            int w = clock_wait_fd(c->fd, conn_io_events(c, POLLOUT), clock_now_ms() + timeout_ms);
            if (w < 0) {
                conn_write_failed(c, errno, r);
                return -1;
            }
            if (w == 0) {
                char *t = clock_describe_ms(timeout_ms);
                result_set(r, RC_TEMPFAIL, _("timed out after %s sending data to %s"), t,
                           c->peer);
                free(t);
                return -1;
            }
            continue;
        }
        size_t done = (size_t)n;
        while (iovcnt > 0 && done >= iov[0].iov_len) {
            done -= iov[0].iov_len;
            iov++;
            iovcnt--;
        }
        if (iovcnt > 0) {
            iov[0].iov_base = (char *)iov[0].iov_base + done;
            iov[0].iov_len -= done;
        }
    }
    return 0;
}

int conn_write(struct conn *c, const void *data, size_t n, int timeout_ms, struct result *r)
{
    if (c->outlen + n <= CONN_OUTBUF) {
        memcpy(c->out + c->outlen, data, n);
        c->outlen += n;
        return 0;
    }
    /* Does not fit: what is queued and the new data leave together. */
    struct iovec iov[2] = {
        { .iov_base = c->out, .iov_len = c->outlen },
        { .iov_base = (void *)data, .iov_len = n },
    };
    int rc = conn_send_all(c, iov, 2, timeout_ms, r);
    c->outlen = 0;
    return rc;
}

int conn_flush(struct conn *c, int timeout_ms, struct result *r)
{
    if (c->outlen == 0)
        return 0;
    struct iovec iov = { .iov_base = c->out, .iov_len = c->outlen };
    int rc = conn_send_all(c, &iov, 1, timeout_ms, r);
    conn_quickack(c);
    if (c->out_secret) {
        secure_wipe(c->out, c->outlen);
        c->out_secret = false;
    }
    c->outlen = 0;
    return rc;
}

void conn_mark_secret(struct conn *c)
{
    c->out_secret = true;
}

/* ---- reading ---- */

/* Refill the input buffer (it is empty). Returns 0 (data or EOF
 * recorded in c->eof) or -1 with r set. */
static int conn_fill(struct conn *c, const struct conn_deadline *dl, struct result *r)
{
    c->inpos = c->inlen = 0;
    for (;;) {
        ssize_t n = conn_io_recv(c, c->in, CONN_INBUF);
        if (n > 0) {
            c->inlen = (size_t)n;
            return 0;
        }
        if (n == 0) {
            c->eof = true;
            return 0;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            if (errno == ECONNRESET) {
                c->eof = true;
                return 0;
            }
            if (c->tls && errno == EPROTO && tls_session_refusal(c->tls, c->peer, r) != 0)
                return -1;
            result_set(r, RC_TEMPFAIL, _("cannot read from %s: %s"), c->peer,
                       conn_io_strerror(c, errno));
            return -1;
        }
        conn_quickack(c);
        int w = clock_wait_fd(c->fd, conn_io_events(c, POLLIN), dl->at_ms);
        if (w < 0) {
            result_set(r, RC_TEMPFAIL, _("cannot read from %s: %s"), c->peer, strerror(errno));
            return -1;
        }
        if (w == 0) {
            char *t = clock_describe_ms(dl->span_ms);
            result_set(r, RC_TEMPFAIL, _("timed out after %s waiting for the server's reply"), t);
            free(t);
            return -1;
        }
    }
}

struct conn_deadline conn_deadline_in(int timeout_ms)
{
    if (timeout_ms <= 0)
        timeout_ms = 60 * 1000;
    return (struct conn_deadline){ .at_ms = clock_now_ms() + timeout_ms, .span_ms = timeout_ms };
}

int conn_read_line(struct conn *c, char *buf, size_t bufsize, size_t *len,
                   const struct conn_deadline *deadline, struct result *r)
{
    size_t have = 0;
    *len = 0;
    if (bufsize)
        buf[0] = '\0';
    for (;;) {
        if (c->inpos == c->inlen) {
            if (!c->eof && conn_fill(c, deadline, r) != 0)
                return -1;
            if (c->eof) {
                result_set(r, RC_TEMPFAIL, _("connection closed by the server"));
                return -1;
            }
        }
        const char *start = c->in + c->inpos;
        size_t avail = c->inlen - c->inpos;
        const char *nl = memchr(start, '\n', avail);
        size_t take = nl ? (size_t)(nl - start) + 1 : avail;
        if (bufsize == 0 || have + take > bufsize - 1) {
            size_t room = bufsize > have + 1 ? bufsize - 1 - have : 0;
            if (room > take)
                room = take;
            memcpy(buf + have, start, room);
            have += room;
            if (bufsize)
                buf[have] = '\0';
            *len = have;
            result_set(r, RC_PROTOCOL, _("over-long reply line from %s"), c->peer);
            return -1;
        }
        memcpy(buf + have, start, take);
        have += take;
        c->inpos += take;
        if (nl)
            break;
    }
    /* strip LF and one CR before it */
    have--;
    if (have > 0 && buf[have - 1] == '\r')
        have--;
    buf[have] = '\0';
    *len = have;
    return 0;
}

size_t conn_pending(const struct conn *c)
{
    return c->inlen - c->inpos + (c->tls ? tls_session_pending(c->tls) : 0);
}

/* ---- connecting ---- */

static struct conn *conn_new(int fd, bool is_socket, char *peer)
{
    struct conn *c = xcalloc(1, sizeof *c);
    c->fd = fd;
    c->is_socket = is_socket;
    c->peer = peer;
    c->out = xmalloc(CONN_OUTBUF);
    c->in = xmalloc(CONN_INBUF);
    return c;
}

static char *conn_addr_text(const struct sockaddr *sa, socklen_t len)
{
    if (sa->sa_family == AF_UNIX) {
        const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
        if (len > offsetof(struct sockaddr_un, sun_path) && un->sun_path[0])
            return xstrndup(un->sun_path, len - offsetof(struct sockaddr_un, sun_path));
        return xstrdup(_("local socket"));
    }
    char host[NI_MAXHOST], serv[NI_MAXSERV];
    if (getnameinfo(sa, len, host, sizeof host, serv, sizeof serv,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        return xstrdup(_("unknown address"));
    return xasprintf(_("%s port %s"), host, serv);
}

struct conn *conn_from_fd(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char *peer;
    bool is_socket = true;
    if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0) {
        peer = conn_addr_text((struct sockaddr *)&ss, len);
    } else {
        is_socket = errno != ENOTSOCK;
        peer = xasprintf(_("file descriptor %d"), fd);
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        (void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    return conn_new(fd, is_socket, peer);
}

/* Non-blocking connect of fd to sa within timeout_ms.
 * Returns 0, or an errno value (ETIMEDOUT on timeout). */
static int conn_connect_fd(int fd, const struct sockaddr *sa, socklen_t len, int timeout_ms)
{
    if (connect(fd, sa, len) == 0)
        return 0;
    if (errno != EINPROGRESS && errno != EINTR)
        return errno;
    int w = clock_wait_fd(fd, POLLOUT, clock_now_ms() + timeout_ms);
    if (w < 0)
        return errno;
    if (w == 0)
        return ETIMEDOUT;
    int err = 0;
    socklen_t elen = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
        return errno;
    return err;
}

static int conn_open_unix(const char *path, int timeout_ms, struct conn **out, struct result *r)
{
    struct sockaddr_un un = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof un.sun_path) {
        result_set(r, RC_CONFIG, _("socket path %s is too long"), path);
        return -1;
    }
    strcpy(un.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        result_set(r, RC_OSERR, _("cannot create a socket: %s"), strerror(errno));
        return -1;
    }
    int err = conn_connect_fd(fd, (struct sockaddr *)&un, sizeof un, timeout_ms);
    if (err != 0) {
        close(fd);
        if (err == ETIMEDOUT) {
            char *t = clock_describe_ms(timeout_ms);
            result_set(r, RC_TEMPFAIL, _("cannot connect to socket %s: timed out after %s"),
                       path, t);
            free(t);
        } else {
            result_set(r, RC_TEMPFAIL, _("cannot connect to socket %s: %s"), path,
                       strerror(err));
        }
        return -1;
    }
    *out = conn_new(fd, true, xstrdup(path));
    return 0;
}

/* Bind fd to source_ip (numeric) for the given family. Returns 0 or an
 * errno value; EAFNOSUPPORT when the source is of another family. */
static int conn_bind_source(int fd, int family, const char *source_ip)
{
    struct addrinfo hints = { .ai_family = family, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_NUMERICHOST | AI_PASSIVE };
    struct addrinfo *res = NULL;
    if (getaddrinfo(source_ip, NULL, &hints, &res) != 0 || !res)
        return EAFNOSUPPORT;
    int err = bind(fd, res->ai_addr, res->ai_addrlen) == 0 ? 0 : errno;
    freeaddrinfo(res);
    return err;
}

/* ---- Happy Eyeballs (RFC 8305) ----
 *
 * The addresses getaddrinfo returns (already sorted by the system's
 * RFC 6724 rules) are reordered so that the families alternate, starting
 * with the family of the first one (RFC 8305 section 4). The first
 * attempt starts at once; while attempts are pending and neither has
 * succeeded nor failed within the Connection Attempt Delay, the next one
 * starts as well, the earlier ones keep going (section 5). An attempt
 * that fails starts the next one at once. The first connection that
 * succeeds is kept and every other attempt is closed. All of it is
 * bounded by one deadline, the caller's timeout. */

#define CONN_ATTEMPT_DELAY_MS 250

enum attempt_state {
    ATT_UNTRIED,
    ATT_PENDING,          /* non-blocking connect in progress on fd */
    ATT_FAILED,           /* err: socket() or connect() failed */
    ATT_SOURCE_FAILED,    /* err: source_ip could not be bound */
    ATT_TIMED_OUT,        /* still pending at the deadline */
};

struct conn_attempt {
    const struct addrinfo *ai;
    char *numeric;        /* the address alone, for the error message */
    char *text;           /* "ADDR port N" for -v and conn_peer() */
    enum attempt_state state;
    int fd;
    int err;
};

/* The attempts in RFC 8305 order (see above); *n receives their number. */
static struct conn_attempt *conn_attempts_order(const struct addrinfo *res, size_t *n)
{
    size_t total = 0;
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next)
        total++;
    struct conn_attempt *at = xcalloc(total, sizeof *at);
    const struct addrinfo **first = xcalloc(total, sizeof *first);
    const struct addrinfo **other = xcalloc(total, sizeof *other);
    size_t nf = 0, no = 0;
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family == res->ai_family)
            first[nf++] = ai;
        else
            other[no++] = ai;
    }
    size_t k = 0;
    for (size_t i = 0, j = 0; i < nf || j < no;) {
        if (i < nf)
            at[k++].ai = first[i++];
        if (j < no)
            at[k++].ai = other[j++];
    }
    free(first);
    free(other);
    for (size_t i = 0; i < total; i++) {
        char host[NI_MAXHOST];
        at[i].fd = -1;
        at[i].state = ATT_UNTRIED;
        at[i].text = conn_addr_text(at[i].ai->ai_addr, at[i].ai->ai_addrlen);
        at[i].numeric = getnameinfo(at[i].ai->ai_addr, at[i].ai->ai_addrlen, host,
                                    sizeof host, NULL, 0, NI_NUMERICHOST) == 0
                            ? xstrdup(host) : xstrdup(_("unknown address"));
    }
    *n = total;
    return at;
}

static void conn_attempt_fail(struct conn_attempt *a, enum attempt_state state, int err)
{
    if (a->fd >= 0)
        close(a->fd);
    a->fd = -1;
    a->state = state;
    a->err = err;
    if (state == ATT_FAILED)
        log_debug(1, _("cannot connect to %s: %s"), a->text, strerror(err));
}

/* Start the attempt a. Returns 1 connected at once, 0 pending, -1 failed
 * (a->state says why). */
static int conn_attempt_start(struct conn_attempt *a, const char *host, const char *source_ip)
{
    const struct addrinfo *ai = a->ai;
    a->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                   ai->ai_protocol);
    if (a->fd < 0) {
        conn_attempt_fail(a, ATT_FAILED, errno);
        return -1;
    }
    if (source_ip) {
        int err = conn_bind_source(a->fd, ai->ai_family, source_ip);
        if (err != 0) {
            if (err == EAFNOSUPPORT)
                log_debug(1, _("not trying %s: cannot use source address %s"), a->text,
                          source_ip);
            else
                log_debug(1, _("not trying %s: cannot use source address %s: %s"), a->text,
                          source_ip, strerror(err));
            conn_attempt_fail(a, ATT_SOURCE_FAILED, err);
            return -1;
        }
    }
    log_debug(1, _("connecting to %s (%s)"), host, a->text);
    if (connect(a->fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return 1;
    if (errno != EINPROGRESS && errno != EINTR) {
        conn_attempt_fail(a, ATT_FAILED, errno);
        return -1;
    }
    a->state = ATT_PENDING;
    return 0;
}

/* The result of a pending attempt that poll() reported: 1 connected,
 * -1 failed (recorded in a). */
static int conn_attempt_finish(struct conn_attempt *a, short revents)
{
    int err = 0;
    socklen_t elen = sizeof err;
    if (getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
        err = errno;
    if (err == 0 && !(revents & POLLOUT))
        err = ECONNRESET;   /* hung up without an error: never usable */
    if (err != 0) {
        conn_attempt_fail(a, ATT_FAILED, err);
        return -1;
    }
    return 1;
}

/* Every attempt that failed, for the error message: "ADDR: why; ...".
 * When host is the one address itself, only the reason. */
static char *conn_attempts_describe(const struct conn_attempt *at, size_t n, const char *host,
                                    const char *source_ip, int timeout_ms)
{
    struct buf b = BUF_INIT;
    size_t untried = 0, listed = 0;
    bool only_host = n == 1 && strcmp(at[0].numeric, host) == 0;
    for (size_t i = 0; i < n; i++) {
        const struct conn_attempt *a = &at[i];
        if (a->state == ATT_UNTRIED) {
            untried++;
            continue;
        }
        if (listed++)
            buf_puts(&b, "; ");
        if (!only_host)
            buf_printf(&b, "%s: ", a->numeric);
        if (a->state == ATT_TIMED_OUT) {
            char *t = clock_describe_ms(timeout_ms);
            buf_printf(&b, _("timed out after %s"), t);
            free(t);
        } else if (a->state == ATT_SOURCE_FAILED && a->err == EAFNOSUPPORT) {
            buf_printf(&b, _("cannot use source address %s"), source_ip);
        } else if (a->state == ATT_SOURCE_FAILED) {
            buf_printf(&b, _("cannot use source address %s: %s"), source_ip,
                       strerror(a->err));
        } else {
            buf_puts(&b, strerror(a->err));
        }
    }
    if (untried) {
        if (listed)
            buf_puts(&b, "; ");
        buf_printf(&b, ngettext("%zu more address not tried", "%zu more addresses not tried",
                                untried), untried);
    }
    return buf_steal(&b);
}

static int conn_open_tcp(const char *host, int port, const char *source_ip, int timeout_ms,
                         struct conn **out, struct result *r)
{
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_ADDRCONFIG };
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, portstr, &hints, &res);
    if (gai != 0) {
        enum result_class cls = RC_TEMPFAIL;
        if (gai == EAI_NONAME
#ifdef EAI_NODATA
            || gai == EAI_NODATA
#endif
#ifdef EAI_ADDRFAMILY
            || gai == EAI_ADDRFAMILY
#endif
            )
            cls = RC_NOHOST;
        result_set(r, cls, _("cannot resolve host %s: %s"), host,
                   gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
        return -1;
    }

    size_t n;
    struct conn_attempt *at = conn_attempts_order(res, &n);
    struct pollfd *pfd = xcalloc(n, sizeof *pfd);
    size_t *pidx = xcalloc(n, sizeof *pidx);
    long long deadline = clock_now_ms() + timeout_ms;
    long long next_start = 0;   /* no attempt starts before this time */
    size_t next = 0;            /* the next untried attempt */
    size_t npending = 0;
    size_t last_pending = 0;    /* the pending attempt started last */
    long winner = -1;

    while (winner < 0) {
        long long now = clock_now_ms();
        if (now >= deadline) {
            for (size_t i = 0; i < next; i++)
                if (at[i].state == ATT_PENDING)
                    conn_attempt_fail(&at[i], ATT_TIMED_OUT, ETIMEDOUT);
            break;
        }
        /* Start the next attempt when none is pending, or when the
         * pending ones have had their Connection Attempt Delay; one that
         * fails at once is followed by the next at once. */
        while (next < n && (npending == 0 || now >= next_start)) {
            if (npending > 0)
                log_debug(1, _("no answer from %s yet; trying the next address as well"),
                          at[last_pending].text);
            size_t i = next++;
            int rc = conn_attempt_start(&at[i], host, source_ip);
            if (rc > 0) {
                winner = (long)i;
                break;
            }
            if (rc == 0) {
                last_pending = i;
                npending++;
                next_start = now + CONN_ATTEMPT_DELAY_MS;
                break;
            }
        }
        if (winner >= 0 || npending == 0)
            break;

        long long until = deadline;
        if (next < n && next_start < until)
            until = next_start;
        size_t np = 0;
        for (size_t i = 0; i < next; i++) {
            if (at[i].state == ATT_PENDING) {
                pfd[np] = (struct pollfd){ .fd = at[i].fd, .events = POLLOUT };
                pidx[np++] = i;
            }
        }
        int k = poll(pfd, np, clock_ms_left(until));
        if (k < 0) {
            if (errno == EINTR)
                continue;
            int err = errno;
            for (size_t i = 0; i < np; i++)
                conn_attempt_fail(&at[pidx[i]], ATT_FAILED, err);
            npending = 0;
            continue;
        }
        /* Ready ones in the order they were started: the earliest
         * success wins. */
        for (size_t i = 0; i < np; i++) {
            if (!pfd[i].revents)
                continue;
            struct conn_attempt *a = &at[pidx[i]];
            if (conn_attempt_finish(a, pfd[i].revents) > 0) {
                winner = (long)pidx[i];
                break;
            }
            npending--;
            next_start = 0;     /* a failure starts the next attempt at once */
        }
    }

    int rc = -1;
    if (winner >= 0) {
        struct conn_attempt *w = &at[winner];
        log_debug(1, _("connected to %s"), w->text);
        int one = 1;
        (void)setsockopt(w->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        *out = conn_new(w->fd, true, w->text);
        (*out)->tcp = true;
        w->fd = -1;
        w->text = NULL;
        rc = 0;
    } else {
        char *why = conn_attempts_describe(at, n, host, source_ip, timeout_ms);
        result_set(r, RC_TEMPFAIL, _("cannot connect to %s port %d: %s"), host, port, why);
        free(why);
    }
    for (size_t i = 0; i < n; i++) {
        if (at[i].fd >= 0)
            close(at[i].fd);
        free(at[i].text);
        free(at[i].numeric);
    }
    free(at);
    free(pfd);
    free(pidx);
    freeaddrinfo(res);
    return rc;
}

int conn_open(const char *host, int port, const char *socket_path,
              const char *source_ip, int timeout_ms, struct conn **out,
              struct result *r)
{
    *out = NULL;
    if (timeout_ms <= 0)
        timeout_ms = 60 * 1000;
    if (socket_path)
        return conn_open_unix(socket_path, timeout_ms, out, r);
    return conn_open_tcp(host, port, source_ip, timeout_ms, out, r);
}

int conn_open_proxied(const struct conn_proxy *px, const char *host, int port,
                      const char *source_ip, int timeout_ms, struct conn **out,
                      struct result *r)
{
    *out = NULL;
    if (timeout_ms <= 0)
        timeout_ms = 60 * 1000;
    long long deadline = clock_now_ms() + timeout_ms;
    struct result pr = RESULT_INIT;
    struct conn *c = NULL;
    if (conn_open_tcp(px->host, px->port, source_ip, timeout_ms, &c, &pr) != 0) {
        result_set(r, pr.cls, _("cannot reach the SOCKS5 proxy for %s port %d: %s"), host,
                   port, pr.msg);
        result_clear(&pr);
        return -1;
    }
    log_debug(1, _("SOCKS5: connected to the proxy %s port %d (%s)"), px->host, px->port,
              c->peer);
    struct socks_request q = {
        .proxy = c->peer, .host = host, .port = port,
        .user = px->user, .password = px->password,
    };
    /* The connection to the proxy took its share of the one deadline;
     * socks_negotiate() reports reaching it like any other timeout. */
    if (socks_negotiate(c->fd, &q, deadline, timeout_ms, r) != 0) {
        conn_close(c);
        return -1;
    }
    char *via = xasprintf(_("%s port %d via SOCKS5 proxy %s"), host, port, c->peer);
    c->tls_peer = xasprintf("%s port %d", host, port);
    free(c->peer);
    c->peer = via;
    *out = c;
    return 0;
}

bool conn_idle_intact(const struct conn *c)
{
    if (c->eof || c->inpos < c->inlen)
        return false;
    struct pollfd p = { .fd = c->fd, .events = POLLIN };
    int n;
    do
        n = poll(&p, 1, 0);
    while (n < 0 && errno == EINTR);
    return n == 0;
}

const char *conn_peer(const struct conn *c)
{
    return c->peer;
}

bool conn_is_tls(const struct conn *c)
{
    return c && c->tls != NULL;
}

int conn_start_tls(struct conn *c, const struct tls_config *cfg, int timeout_ms,
                   struct result *r)
{
    if (c->tls) {
        result_set(r, RC_SOFTWARE, _("internal error: TLS started twice on the connection to %s"),
                   c->peer);
        return -1;
    }
    if (c->inpos < c->inlen) {
        /* Never let plaintext bytes count as if they came through TLS. */
        result_set(r, RC_PROTOCOL,
                   _("the server sent data before the TLS handshake (possible command "
                     "injection); aborting"));
        return -1;
    }
    if (timeout_ms <= 0)
        timeout_ms = 60 * 1000;
    if (conn_flush(c, timeout_ms, r) != 0)
        return -1;
    c->eof = false;
    return tls_session_start(c->fd, cfg, c->tls_peer ? c->tls_peer : c->peer, timeout_ms,
                             &c->tls, r);
}

int conn_channel_binding(const struct conn *c, const char *type, struct buf *out)
{
    if (!c || !c->tls || !type)
        return -1;
    return tls_session_channel_binding(c->tls, type, out);
}

int conn_tls_info(const struct conn *c, struct tls_info *info)
{
    if (!c || !c->tls)
        return -1;
    return tls_session_info(c->tls, info);
}

void conn_close(struct conn *c)
{
    if (!c)
        return;
    tls_session_close(c->tls);
    if (c->fd >= 0)
        close(c->fd);
    free(c->peer);
    free(c->tls_peer);
    if (c->out_secret)
        secure_wipe(c->out, c->outlen);
    free(c->out);
    free(c->in);
    free(c);
}
