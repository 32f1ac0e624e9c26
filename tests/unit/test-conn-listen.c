/*
 * test-conn-listen.c - unit tests for the loopback listener of conn.h
 * (conn-listen.c), with real sockets on 127.0.0.1 (and ::1 when the
 * system has it): the head of a request handed over with its connection
 * for the reply, a silent client not holding up the others, the size
 * cap, a client that closes early, the deadline.
 */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "conn.h"
#include "tap.h"

/* Deadlines here are safety nets: every wait ends as soon as the thing
 * awaited happens. */
#define SAFETY_MS (20 * 1000)

/* A blocking client connected to the listener's port on 127.0.0.1 (or
 * ::1), or -1. */
static int client(int port, bool v6)
{
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int rc;
    if (v6) {
        struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port),
                                  .sin6_addr = IN6ADDR_LOOPBACK_INIT };
        rc = connect(fd, (struct sockaddr *)&a, sizeof a);
    } else {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        rc = connect(fd, (struct sockaddr *)&a, sizeof a);
    }
    if (rc != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void send_str(int fd, const char *s)
{
    size_t n = strlen(s);
    if (write(fd, s, n) != (ssize_t)n)
        tap_ok(0, "client write");
}

/* Everything the peer sends until it closes (at most cap - 1 bytes), or
 * NULL when it does not close. */
static char *read_all(int fd, size_t cap)
{
    char *b = calloc(1, cap);
    size_t len = 0;
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, SAFETY_MS) <= 0 || len == cap - 1) {
            free(b);
            return NULL;
        }
        ssize_t n = read(fd, b + len, cap - 1 - len);
        if (n < 0 && errno == ECONNRESET)
            n = 0;
        if (n < 0) {
            free(b);
            return NULL;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    b[len] = '\0';
    return b;
}

/* Wait for the next head; kind is conn_listener_next's return. */
static int next(struct conn_listener *l, size_t max, struct conn **c, char **head, size_t *len)
{
    struct result r = RESULT_INIT;
    int kind = conn_listener_next(l, clock_now_ms() + SAFETY_MS, max, c, head, len, &r);
    if (kind < 0)
        printf("# %s\n", r.msg ? r.msg : "?");
    result_clear(&r);
    return kind;
}

/* The next head is want (len bytes); the connection is closed unanswered. */
static void expect_head(struct conn_listener *l, size_t max, const char *want, const char *what)
{
    struct conn *c = NULL;
    char *head = NULL;
    size_t len = 0;
    char name[160];
    snprintf(name, sizeof name, "%s: handed over", what);
    tap_int(next(l, max, &c, &head, &len), 1, name);
    snprintf(name, sizeof name, "%s: the head", what);
    tap_str(head, want, name);
    snprintf(name, sizeof name, "%s: its length", what);
    tap_int((long long)len, (long long)strlen(want), name);
    conn_close(c);
    free(head);
}

static void test_requests(void)
{
    struct result r = RESULT_INIT;
    struct conn_listener *l = NULL;
    tap_int(conn_listen_loopback(false, &l, &r), 0, "listening on 127.0.0.1");
    if (!l)
        return;
    int port = conn_listener_port(l);
    tap_ok(port > 0 && port < 65536, "a port");

    /* A silent client first (a browser's speculative connection), then
     * the one with the request: the request is handed over. */
    int idle = client(port, false);
    int a = client(port, false);
    tap_ok(idle >= 0 && a >= 0, "two clients connected");
    const char *req = "GET /?code=c&state=s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    send_str(a, "GET /?code=c&sta");
    send_str(a, req + strlen("GET /?code=c&sta"));
    struct conn *c = NULL;
    char *head = NULL;
    size_t len = 0;
    tap_int(next(l, 4096, &c, &head, &len), 1, "a head while another client is silent");
    tap_str(head, req, "the head, whole, from two writes");
    tap_int((long long)len, (long long)strlen(req), "its length");
    struct result wr = RESULT_INIT;
    const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    tap_int(conn_write(c, reply, sizeof reply - 1, 1000, &wr), 0, "reply written");
    tap_int(conn_flush(c, 1000, &wr), 0, "reply flushed");
    conn_close(c);
    free(head);
    char *got = read_all(a, 256);
    tap_str(got, reply, "the client gets the reply, then the end");
    free(got);
    close(a);

    /* A first line longer than the cap: dropped; the next client is
     * served. A long head with a short first line: cut at the cap. */
    int big = client(port, false);
    send_str(big, "GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    int cutc = client(port, false);
    send_str(cutc, "GET /x HTTP/1.1\r\nCookie: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    expect_head(l, 32, "GET /x HTTP/1.1\r\nCookie: aaaaaaa", "a head cut at the cap (32 bytes)");
    got = read_all(big, 64);
    tap_str(got, "", "the client with the over-long first line is closed unanswered");
    free(got);
    close(big);
    close(cutc);

    /* A client that sends a line and closes: its head is handed over;
     * one that closes without a line is dropped. */
    int none = client(port, false);
    send_str(none, "GET /");
    shutdown(none, SHUT_WR);
    int half = client(port, false);
    send_str(half, "GET /favicon.ico HTTP/1.0\r\n");
    shutdown(half, SHUT_WR);
    expect_head(l, 4096, "GET /favicon.ico HTTP/1.0\r\n", "a line and the end of input");
    close(none);
    close(half);

    /* The silent client is still there and still silent: the deadline. */
    tap_int(conn_listener_next(l, clock_now_ms() + 50, 4096, &c, &head, &len, &r), 0,
            "nothing more: the deadline");
    tap_ok(c == NULL && head == NULL && len == 0, "nothing handed over at the deadline");
    close(idle);
    conn_listener_close(l);

    tap_int(client(port, false), -1, "closed: nobody listens on the port any more");
}

static void test_ipv6(void)
{
    struct result r = RESULT_INIT;
    int probe = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
    bool have = probe >= 0 && bind(probe, (struct sockaddr *)&a, sizeof a) == 0;
    if (probe >= 0)
        close(probe);
    if (!have) {
        printf("ok %d # SKIP no IPv6 loopback\n", ++tap_n);
        return;
    }
    struct conn_listener *l = NULL;
    tap_int(conn_listen_loopback(true, &l, &r), 0, "listening on 127.0.0.1 and ::1");
    if (!l)
        return;
    int port = conn_listener_port(l);
    int fd6 = client(port, true);
    int fd4 = client(port, false);
    tap_ok(fd6 >= 0, "::1 on the same port");
    tap_ok(fd4 >= 0, "127.0.0.1 as well");
    send_str(fd6, "GET /six HTTP/1.1\r\n\r\n");
    expect_head(l, 4096, "GET /six HTTP/1.1\r\n\r\n", "a request over ::1");
    close(fd6);
    close(fd4);
    conn_listener_close(l);
}

int main(void)
{
    test_requests();
    test_ipv6();
    return tap_done();
}
