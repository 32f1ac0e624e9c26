/*
 * tests/bench/sink.c - a fast SMTP sink for the benchmark (tests/bench/run.sh).
 *
 * Owns: accepting SMTP sessions on a random loopback port and discarding
 * every message as fast as loopback can carry it, so that the benchmark
 * measures the client and not the server. It is not a test server: it
 * checks nothing and logs no bytes (tests/smtpd-script does that).
 *
 * Usage: sink [-C] [-P] [-7] PORTFILE STATSFILE
 *   -C  advertise CHUNKING (BDAT is always understood)
 *   -P  do not advertise PIPELINING
 *   -7  do not advertise 8BITMIME (a client must send 7-bit data)
 * The port is written to PORTFILE (atomically, by rename) once the socket
 * listens. SINK_WORKERS processes, forked before the first connection,
 * accept and serve connections one after the other, so that no fork lies
 * between a client's connect and its greeting (forking per connection
 * cost 1.6 ms of every small message's wall time here, all of it the
 * server's). Commands are answered in
 * groups: replies are written only when no complete command line is left
 * in the input, so a pipelined group gets its replies in one write. DATA
 * is read with 1 MiB reads and scanned for CRLF.CRLF with memmem(), also
 * across read boundaries. On SIGTERM (or SIGINT) the sink stops
 * accepting (shutdown of the listening socket ends every worker's
 * accept), waits (at most 10 s) for open sessions to end, writes
 * "connections N\nmessages N\nbytes N\n" to STATSFILE and exits 0.
 * Counters live in a shared anonymous mapping updated atomically.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE (1024 * 1024)
#define SINK_WORKERS 8
#define MAX_LINE 65536

struct counters {
    unsigned long connections;
    unsigned long messages;
    unsigned long long bytes;
};

static struct counters *stats;
static int opt_chunking, opt_pipelining = 1, opt_8bitmime = 1;
static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static int write_all_fd(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

struct out {
    char data[8192];
    size_t len;
};

static void out_add(struct out *o, const char *s)
{
    size_t n = strlen(s);
    if (o->len + n <= sizeof o->data) {
        memcpy(o->data + o->len, s, n);
        o->len += n;
    }
}

enum mode { MODE_CMD, MODE_DATA, MODE_BDAT };

/* One SMTP session on fd; returns when the client quits or closes. */
static void serve(int fd)
{
    static char buf[BUF_SIZE];
    static const char eod[] = "\r\n.\r\n";
    struct out out = { .len = 0 };
    size_t len = 0, pos = 0;
    enum mode mode = MODE_CMD;
    char carry[8];              /* last bytes of the data seen so far */
    size_t carry_len = 0;
    unsigned long long bdat_left = 0;
    int bdat_last = 0, quit = 0;
    unsigned long long bytes = 0;

    out_add(&out, "220 sink ESMTP\r\n");
    if (write_all_fd(fd, out.data, out.len) < 0)
        return;
    out.len = 0;
    while (!quit) {
        ssize_t n = read(fd, buf + len, sizeof buf - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        while (pos < len && !quit) {
            if (mode == MODE_DATA) {
                /* The terminator may straddle the previous read: look in
                 * carry + the first 4 new bytes, then in the new bytes. */
                char join[16];
                size_t head = len - pos < 4 ? len - pos : 4;
                size_t end = 0;
                int found = 0;
                memcpy(join, carry, carry_len);
                memcpy(join + carry_len, buf + pos, head);
                char *hit = memmem(join, carry_len + head, eod, 5);
                if (hit) {
                    end = pos + (size_t)(hit - join) + 5 - carry_len;
                    found = 1;
                } else {
                    hit = memmem(buf + pos, len - pos, eod, 5);
                    if (hit) {
                        end = (size_t)(hit - buf) + 5;
                        found = 1;
                    }
                }
                if (found) {
                    bytes += end - pos;
                    pos = end;
                    mode = MODE_CMD;
                    __atomic_fetch_add(&stats->messages, 1, __ATOMIC_RELAXED);
                    out_add(&out, "250 2.0.0 queued\r\n");
                } else {
                    size_t total = carry_len + (len - pos);
                    size_t keep = total < 4 ? total : 4;
                    char tmp[16];
                    memcpy(tmp, carry, carry_len);
                    if (len - pos >= 4) {
                        memcpy(carry, buf + len - 4, 4);
                    } else {
                        memcpy(tmp + carry_len, buf + pos, len - pos);
                        memcpy(carry, tmp + total - keep, keep);
                    }
                    carry_len = keep;
                    bytes += len - pos;
                    pos = len;
                }
                continue;
            }
            if (mode == MODE_BDAT) {
                size_t take = len - pos;
                if (take > bdat_left)
                    take = (size_t)bdat_left;
                pos += take;
                bdat_left -= take;
                bytes += take;
                if (bdat_left == 0) {
                    mode = MODE_CMD;
                    if (bdat_last)
                        __atomic_fetch_add(&stats->messages, 1, __ATOMIC_RELAXED);
                    out_add(&out, "250 2.0.0 ok\r\n");
                }
                continue;
            }
            char *nl = memchr(buf + pos, '\n', len - pos);
            if (!nl) {
                if (len - pos > MAX_LINE)
                    quit = 1;
                break;
            }
            char *line = buf + pos;
            size_t llen = (size_t)(nl - line);
            pos += llen + 1;
            if (llen > 0 && line[llen - 1] == '\r')
                llen--;
            if (llen >= 4 && (strncasecmp(line, "EHLO", 4) == 0)) {
                out_add(&out, "250-sink\r\n");
                if (opt_pipelining)
                    out_add(&out, "250-PIPELINING\r\n");
                if (opt_8bitmime)
                    out_add(&out, "250-8BITMIME\r\n");
                out_add(&out, "250-SIZE 1000000000\r\n");
                if (opt_chunking)
                    out_add(&out, "250-CHUNKING\r\n");
                out_add(&out, "250 ENHANCEDSTATUSCODES\r\n");
            } else if (llen >= 4 && strncasecmp(line, "DATA", 4) == 0) {
                out_add(&out, "354 go ahead\r\n");
                mode = MODE_DATA;
                memcpy(carry, "\r\n", 2);   /* DATA is followed by a line start */
                carry_len = 2;
            } else if (llen >= 5 && strncasecmp(line, "BDAT ", 5) == 0) {
                char tmp[64];
                size_t tl = llen < sizeof tmp - 1 ? llen : sizeof tmp - 1;
                memcpy(tmp, line, tl);
                tmp[tl] = '\0';
                char *endp;
                bdat_left = strtoull(tmp + 5, &endp, 10);
                bdat_last = strstr(endp, "LAST") != NULL || strstr(endp, "last") != NULL;
                if (bdat_left == 0) {
                    if (bdat_last)
                        __atomic_fetch_add(&stats->messages, 1, __ATOMIC_RELAXED);
                    out_add(&out, "250 2.0.0 ok\r\n");
                } else {
                    mode = MODE_BDAT;
                }
            } else if (llen >= 4 && strncasecmp(line, "QUIT", 4) == 0) {
                out_add(&out, "221 2.0.0 bye\r\n");
                quit = 1;
            } else if (llen >= 4 && (strncasecmp(line, "MAIL", 4) == 0
                                     || strncasecmp(line, "RCPT", 4) == 0
                                     || strncasecmp(line, "RSET", 4) == 0
                                     || strncasecmp(line, "NOOP", 4) == 0
                                     || strncasecmp(line, "HELO", 4) == 0)) {
                out_add(&out, "250 2.0.0 ok\r\n");
            } else {
                out_add(&out, "502 5.5.1 not implemented\r\n");
            }
        }
        if (pos == len) {
            pos = len = 0;
        } else if (pos > 0) {
            memmove(buf, buf + pos, len - pos);
            len -= pos;
            pos = 0;
        }
        if (out.len > 0 && (mode != MODE_CMD || !memchr(buf, '\n', len) || quit)) {
            if (write_all_fd(fd, out.data, out.len) < 0)
                break;
            out.len = 0;
        }
    }
    __atomic_fetch_add(&stats->bytes, bytes, __ATOMIC_RELAXED);
}

/* One worker: accept and serve connections until the listening socket is
 * shut down. Signals are the parent's business. */
static void sink_worker(int ls)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    for (;;) {
        int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            _exit(0);
        }
        __atomic_fetch_add(&stats->connections, 1, __ATOMIC_RELAXED);
        int one = 1;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        serve(c);
        close(c);
    }
}

int main(int argc, char **argv)
{
    int opt;
    while ((opt = getopt(argc, argv, "CP7")) != -1) {
        if (opt == '7')
            opt_8bitmime = 0;
        else if (opt == 'C')
            opt_chunking = 1;
        else if (opt == 'P')
            opt_pipelining = 0;
        else
            return 2;
    }
    if (argc - optind != 2) {
        fprintf(stderr, "usage: sink [-C] [-P] [-7] PORTFILE STATSFILE\n");
        return 2;
    }
    const char *portfile = argv[optind], *statsfile = argv[optind + 1];

    stats = mmap(NULL, sizeof *stats, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (stats == MAP_FAILED) {
        perror("sink: mmap");
        return 1;
    }
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t sl = sizeof sa;
    if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ls, 512) < 0
        || getsockname(ls, (struct sockaddr *)&sa, &sl) < 0) {
        perror("sink: listen");
        return 1;
    }
    struct sigaction act = { .sa_handler = on_stop };
    sigemptyset(&act.sa_mask);
    sigaction(SIGTERM, &act, NULL);     /* no SA_RESTART: accept() returns EINTR */
    sigaction(SIGINT, &act, NULL);
    signal(SIGPIPE, SIG_IGN);

    char tmpname[4096];
    snprintf(tmpname, sizeof tmpname, "%s.tmp", portfile);
    FILE *pf = fopen(tmpname, "w");
    if (!pf || fprintf(pf, "%d\n", ntohs(sa.sin_port)) < 0 || fclose(pf) != 0
        || rename(tmpname, portfile) < 0) {
        perror("sink: port file");
        return 1;
    }

    for (int w = 0; w < SINK_WORKERS; w++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("sink: fork");
            return 1;
        }
        if (pid == 0)
            sink_worker(ls);
    }
    while (!stop_requested)
        pause();
    /* Blocked accept() calls return (EINVAL) in every worker; a session in
     * progress is finished first. */
    shutdown(ls, SHUT_RD);
    close(ls);
    /* Let open sessions finish (bounded), then report. */
    time_t deadline = time(NULL) + 10;
    for (;;) {
        pid_t p = waitpid(-1, NULL, WNOHANG);
        if (p < 0)
            break;
        if (p == 0) {
            if (time(NULL) > deadline)
                break;          /* the sessions die with us (PDEATHSIG) */
            usleep(10000);
        }
    }
    FILE *sf = fopen(statsfile, "w");
    if (!sf)
        return 1;
    fprintf(sf, "connections %lu\nmessages %lu\nbytes %llu\n",
            __atomic_load_n(&stats->connections, __ATOMIC_RELAXED),
            __atomic_load_n(&stats->messages, __ATOMIC_RELAXED),
            __atomic_load_n(&stats->bytes, __ATOMIC_RELAXED));
    return fclose(sf) == 0 ? 0 : 1;
}
