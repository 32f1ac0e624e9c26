/*
 * conn-listen.c - the loopback listener of conn.h: the sockets of a
 * small local HTTP endpoint (the redirect of an OAuth2 authorization,
 * RFC 8252 section 7.3) on 127.0.0.1 and, when asked and available, ::1,
 * on one port the kernel picks; accepting its clients and reading the
 * head of each one's request, all of them at once, until one deadline.
 *
 * Owns: the listening sockets, the clients accepted but not yet handed
 * over (each with its bytes so far and its own deadline), and the one
 * poll() over all of them. A client whose head is complete leaves as a
 * struct conn (conn_from_fd) for the caller's reply, so that writing
 * goes through conn.c's buffered I/O like every other connection.
 *
 * Must not: know HTTP beyond "a head ends with an empty line", parse a
 * request, log what a client sent (a request can carry an authorization
 * code), or listen on anything but a loopback address.
 */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "conn.h"
#include "i18n.h"
#include "log.h"

/* Clients served at once: a browser opens a few speculative connections
 * and sends its request on one of them. When all slots are taken the
 * oldest client is dropped. */
#define LISTEN_MAX_CLIENTS 16
/* How long one client may take to send its request head. */
#define LISTEN_CLIENT_MS (10 * 1000)
#define LISTEN_PORT_TRIES 8

struct listen_client {
    int fd;                      /* -1: free slot */
    char *head;                  /* max_head + 1 bytes */
    size_t len;
    long long deadline_ms;
    long long since_ms;          /* when it was accepted (oldest dropped first) */
};

struct conn_listener {
    int fd[2];                   /* 127.0.0.1, ::1 (-1: none) */
    int port;
    struct listen_client client[LISTEN_MAX_CLIENTS];
};

/* A listening socket on the loopback address of family af, port (0: any).
 * Returns the fd, or -1 with errno. */
static int listen_socket(int af, int port)
{
    int fd = socket(af, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    int rc;
    if (af == AF_INET) {
        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        rc = bind(fd, (struct sockaddr *)&sin, sizeof sin);
    } else {
        int one = 1;
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6,
                                     .sin6_port = htons((uint16_t)port),
                                     .sin6_addr = IN6ADDR_LOOPBACK_INIT };
        rc = bind(fd, (struct sockaddr *)&sin6, sizeof sin6);
    }
    if (rc != 0 || listen(fd, LISTEN_MAX_CLIENTS) != 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

/* The port fd is bound to, or -1. */
static int listen_port(int fd)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    if (getsockname(fd, (struct sockaddr *)&sin, &len) != 0 || sin.sin_family != AF_INET)
        return -1;
    return ntohs(sin.sin_port);
}

int conn_listen_loopback(bool ipv6_too, struct conn_listener **out, struct result *r)
{
    *out = NULL;
    for (int attempt = 0; attempt < LISTEN_PORT_TRIES; attempt++) {
        int fd4 = listen_socket(AF_INET, 0);
        if (fd4 < 0) {
            result_set(r, RC_OSERR, _("cannot listen on 127.0.0.1: %s"), strerror(errno));
            return -1;
        }
        int port = listen_port(fd4);
        if (port <= 0) {
            result_set(r, RC_OSERR, _("cannot listen on 127.0.0.1: %s"), strerror(errno));
            close(fd4);
            return -1;
        }
        int fd6 = -1;
        if (ipv6_too) {
            fd6 = listen_socket(AF_INET6, port);
            if (fd6 < 0 && errno == EADDRINUSE) {
                /* Someone has this port on ::1: another port for both. */
                close(fd4);
                continue;
            }
            if (fd6 < 0)
                log_debug(1, _("not listening on ::1: %s"), strerror(errno));
        }
        struct conn_listener *l = xcalloc(1, sizeof *l);
        l->fd[0] = fd4;
        l->fd[1] = fd6;
        l->port = port;
        for (size_t i = 0; i < LISTEN_MAX_CLIENTS; i++)
            l->client[i].fd = -1;
        log_debug(1, fd6 >= 0 ? _("listening on 127.0.0.1 and ::1 port %d")
                              : _("listening on 127.0.0.1 port %d"), port);
        *out = l;
        return 0;
    }
    result_set(r, RC_TEMPFAIL, _("cannot find a free port on both 127.0.0.1 and ::1"));
    return -1;
}

int conn_listener_port(const struct conn_listener *l)
{
    return l->port;
}

static void client_drop(struct listen_client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    if (c->head)
        secure_wipe(c->head, c->len);
    free(c->head);
    c->head = NULL;
    c->len = 0;
}

/* Accept every client waiting on fd into free slots (the oldest client
 * makes room when none is free). */
static void accept_clients(struct conn_listener *l, int fd, size_t max_head,
                           long long deadline_ms)
{
    for (;;) {
        int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd < 0)
            return;   /* EAGAIN: no more; anything else: try again at the next poll */
        struct listen_client *slot = NULL;
        for (size_t i = 0; i < LISTEN_MAX_CLIENTS; i++) {
            struct listen_client *c = &l->client[i];
            if (c->fd < 0) {
                slot = c;
                break;
            }
            if (!slot || c->since_ms < slot->since_ms)
                slot = c;
        }
        if (slot->fd >= 0) {
            log_debug(1, _("too many local connections; dropping the oldest"));
            client_drop(slot);
        }
        long long now = clock_now_ms();
        slot->fd = cfd;
        slot->head = xmalloc(max_head + 1);
        slot->len = 0;
        slot->since_ms = now;
        slot->deadline_ms = now + LISTEN_CLIENT_MS < deadline_ms ? now + LISTEN_CLIENT_MS
                                                                 : deadline_ms;
    }
}

/* The head in c is complete: an empty line ends it, or it fills the
 * buffer with at least its first line, or the client has stopped sending
 * after a first line. Only the bytes from `from` on (and the three
 * before them) are new since the last look. */
static bool head_complete(const struct listen_client *c, size_t from, size_t max_head, bool eof)
{
    const char *h = c->head;
    size_t start = from > 3 ? from - 3 : 0;
    if (c->len - start >= 2 && (memmem(h + start, c->len - start, "\n\r\n", 3)
                                || memmem(h + start, c->len - start, "\n\n", 2)))
        return true;
    if ((c->len == max_head || eof) && memchr(h, '\n', c->len))
        return true;
    return false;
}

/* Read what client c has sent. Returns 1 when its head is complete, 0
 * to wait for more, -1 when it is to be dropped. */
static int client_read(struct listen_client *c, size_t max_head)
{
    for (;;) {
        if (c->len == max_head)
            return -1;   /* full without a first line (else it was complete) */
        ssize_t n = read(c->fd, c->head + c->len, max_head - c->len);
        if (n > 0) {
            size_t from = c->len;
            c->len += (size_t)n;
            if (head_complete(c, from, max_head, false))
                return 1;
            continue;
        }
        if (n == 0)
            return head_complete(c, c->len, max_head, true) ? 1 : -1;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        return -1;
    }
}

int conn_listener_next(struct conn_listener *l, long long deadline_ms, size_t max_head,
                       struct conn **out, char **head, size_t *len, struct result *r)
{
    *out = NULL;
    *head = NULL;
    *len = 0;
    if (max_head < 16)
        max_head = 16;
    for (;;) {
        struct pollfd pfd[2 + LISTEN_MAX_CLIENTS];
        struct listen_client *who[2 + LISTEN_MAX_CLIENTS];
        size_t np = 0;
        long long now = clock_now_ms();
        long long until = deadline_ms;
        for (size_t i = 0; i < 2; i++) {
            if (l->fd[i] >= 0) {
                who[np] = NULL;
                pfd[np++] = (struct pollfd){ .fd = l->fd[i], .events = POLLIN };
            }
        }
        for (size_t i = 0; i < LISTEN_MAX_CLIENTS; i++) {
            struct listen_client *c = &l->client[i];
            if (c->fd < 0)
                continue;
            if (now >= c->deadline_ms) {
                log_debug(1, _("a local connection sent no complete request in time; "
                               "closing it"));
                client_drop(c);
                continue;
            }
            if (c->deadline_ms < until)
                until = c->deadline_ms;
            who[np] = c;
            pfd[np++] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
        }
        if (now >= deadline_ms)
            return 0;
        int k = poll(pfd, np, clock_ms_left(until));
        if (k < 0) {
            if (errno == EINTR)
                continue;
            result_set(r, RC_OSERR, _("cannot wait for local connections: %s"),
                       strerror(errno));
            return -1;
        }
        for (size_t i = 0; i < np; i++) {
            if (!pfd[i].revents)
                continue;
            struct listen_client *c = who[i];
            if (!c) {
                accept_clients(l, pfd[i].fd, max_head, deadline_ms);
                continue;
            }
            int rc = client_read(c, max_head);
            if (rc < 0) {
                client_drop(c);
            } else if (rc > 0) {
                c->head[c->len] = '\0';
                *out = conn_from_fd(c->fd);
                *head = c->head;
                *len = c->len;
                c->fd = -1;
                c->head = NULL;
                c->len = 0;
                return 1;
            }
        }
    }
}

void conn_listener_close(struct conn_listener *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < 2; i++)
        if (l->fd[i] >= 0)
            close(l->fd[i]);
    for (size_t i = 0; i < LISTEN_MAX_CLIENTS; i++)
        client_drop(&l->client[i]);
    free(l);
}
