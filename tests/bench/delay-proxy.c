/*
 * tests/bench/delay-proxy.c - a loopback TCP proxy that delays traffic, for
 * the round-trip figures of the benchmark (tests/bench/run.sh).
 *
 * Owns: relaying each accepted connection to 127.0.0.1:TARGET and holding
 * every chunk it reads, in each direction, for exactly DELAY_MS
 * milliseconds before writing it on (a timestamped queue per direction,
 * one poll() loop per connection, one process per connection). A client
 * that needs N round trips therefore takes N * 2 * DELAY_MS longer than
 * without the proxy; the kernel here has no netem, so this stands in.
 * The connection's TCP handshake happens before accept() and cannot be
 * delayed, so the server's first chunk is held 2 * DELAY_MS longer: the
 * connect round trip is counted like the others.
 *
 * Usage: delay-proxy PORTFILE TARGET_PORT DELAY_MS
 * The listening port (random, 127.0.0.1) is written to PORTFILE by rename
 * once it listens. Runs until SIGTERM; sessions die with it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct chunk {
    struct chunk *next;
    long long due_us;
    size_t len, off;
    char data[];
};

struct direction {
    int from, to;
    struct chunk *head, *tail;
    int eof;            /* source closed; shut down `to` once drained */
    int done;
};

static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static long delay_ms;
static int greeting_pending = 1;    /* the server's first chunk not seen yet */

/* Reads what is available on d->from into a new queued chunk. */
static int dir_read(struct direction *d, int from_server)
{
    char buf[65536];
    ssize_t n = read(d->from, buf, sizeof buf);
    if (n < 0)
        return errno == EINTR || errno == EAGAIN ? 0 : -1;
    if (n == 0) {
        d->eof = 1;
        return 0;
    }
    struct chunk *c = malloc(sizeof *c + (size_t)n);
    if (!c)
        return -1;
    c->next = NULL;
    c->due_us = now_us() + delay_ms * 1000;
    if (from_server && greeting_pending) {
        /* The TCP handshake is not relayed (the kernel completes it before
         * accept), so charge its round trip here: the server's first bytes
         * arrive 1.5 round trips after connect(), as on a real link. */
        c->due_us += 2 * delay_ms * 1000;
        greeting_pending = 0;
    }
    c->len = (size_t)n;
    c->off = 0;
    memcpy(c->data, buf, (size_t)n);
    if (d->tail)
        d->tail->next = c;
    else
        d->head = c;
    d->tail = c;
    return 0;
}

/* Writes every chunk that is due; blocking writes (loopback, small data). */
static int dir_flush(struct direction *d)
{
    long long t = now_us();
    while (d->head && d->head->due_us <= t) {
        struct chunk *c = d->head;
        while (c->off < c->len) {
            ssize_t w = write(d->to, c->data + c->off, c->len - c->off);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                return -1;
            }
            c->off += (size_t)w;
        }
        d->head = c->next;
        if (!d->head)
            d->tail = NULL;
        free(c);
    }
    if (d->eof && !d->head && !d->done) {
        shutdown(d->to, SHUT_WR);
        d->done = 1;
    }
    return 0;
}

static void relay(int client, int server)
{
    struct direction dirs[2] = {
        { .from = client, .to = server },
        { .from = server, .to = client },
    };
    while (!(dirs[0].done && dirs[1].done)) {
        struct pollfd pfd[2];
        int timeout = -1;
        for (int i = 0; i < 2; i++) {
            pfd[i].fd = dirs[i].eof ? -1 : dirs[i].from;
            pfd[i].events = POLLIN;
            pfd[i].revents = 0;
            if (dirs[i].head) {
                long long wait = (dirs[i].head->due_us - now_us() + 999) / 1000;
                if (wait < 0)
                    wait = 0;
                if (timeout < 0 || wait < timeout)
                    timeout = (int)wait;
            }
        }
        if (poll(pfd, 2, timeout) < 0 && errno != EINTR)
            return;
        for (int i = 0; i < 2; i++) {
            if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
                if (dir_read(&dirs[i], i == 1) < 0)
                    return;
            if (dir_flush(&dirs[i]) < 0)
                return;
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: delay-proxy PORTFILE TARGET_PORT DELAY_MS\n");
        return 2;
    }
    int target = atoi(argv[2]);
    delay_ms = atol(argv[3]);
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t sl = sizeof sa;
    if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ls, 128) < 0
        || getsockname(ls, (struct sockaddr *)&sa, &sl) < 0) {
        perror("delay-proxy: listen");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    char tmpname[4096];
    snprintf(tmpname, sizeof tmpname, "%s.tmp", argv[1]);
    FILE *pf = fopen(tmpname, "w");
    if (!pf || fprintf(pf, "%d\n", ntohs(sa.sin_port)) < 0 || fclose(pf) != 0
        || rename(tmpname, argv[1]) < 0) {
        perror("delay-proxy: port file");
        return 1;
    }
    for (;;) {
        int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            perror("delay-proxy: accept");
            return 1;
        }
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        pid_t pid = fork();
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            close(ls);
            struct sockaddr_in ta = { .sin_family = AF_INET, .sin_port = htons((unsigned short)target),
                                      .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
            int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (s < 0 || connect(s, (struct sockaddr *)&ta, sizeof ta) < 0)
                _exit(1);
            int one = 1;
            setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            relay(c, s);
            _exit(0);
        }
        close(c);
    }
}
