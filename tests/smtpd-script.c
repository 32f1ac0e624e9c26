/*
 * smtpd-script.c - the scripted SMTP test server used by tests/runcases.py.
 *
 * It owns: listening on a random loopback port, telling the harness the
 * port (the --port-file appears atomically: that is the readiness signal),
 * serving connections one at a time, logging EVERY byte received exactly
 * to --log, recording events (connection numbers, protocol violations such
 * as "NOT PIPELINED") to --events, and answering from a script.
 *
 * The script language is documented in tests/data/README. It does not own
 * any judgement: comparing what was received with what was expected is the
 * harness's job.
 *
 * I/O goes through `struct sio` (read/write function pointers) so a TLS
 * layer (GnuTLS server side, next issue) can slot in under the same code.
 *
 * Usage: smtpd-script --script FILE --log FILE --port-file FILE
 *                     [--events FILE] [--tls-cert FILE --tls-key FILE]
 */
#include <autoconfig.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_LINE    65536     /* a command line longer than this is cut */
#define READ_CHUNK  16384

/* ---------------------------------------------------------------- rules */

enum rule_kind {
    RK_REPLY,        /* reply KEY text (lines, CRLF appended) */
    RK_RAW,          /* raw-reply KEY bytes (sent exactly) */
    RK_CLOSE,        /* close-after KEY */
    RK_SILENT,       /* silent-after KEY */
    RK_SEND_AFTER,   /* send-after KEY text (lines, CRLF appended) */
    RK_RAW_AFTER,    /* raw-after KEY bytes */
    RK_DELAY,        /* delay-reply KEY ms */
};

struct rule {
    enum rule_kind kind;
    char key[32];    /* upper-case command word, "." or "CONNECT" */
    int nth;         /* 0 = every occurrence, else the nth in the connection */
    int conn;        /* 0 = every connection, else that connection number */
    char *data;      /* bytes (escapes decoded) */
    size_t len;
    long ms;
};

struct script {
    struct rule *rules;
    size_t nrules;
    bool require_pipelining;
    int max_connections;       /* 0 = unlimited */
};

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("smtpd-script: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static void *xrealloc_or_die(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        die("out of memory");
    return q;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode \r \n \t \0 \\ \xNN; returns a new buffer and its length. */
static char *decode_escapes(const char *s, size_t *lenp, const char *where)
{
    size_t n = strlen(s);
    char *out = xrealloc_or_die(NULL, n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\' || i + 1 >= n) {
            out[o++] = s[i];
            continue;
        }
        char c = s[++i];
        switch (c) {
        case 'r': out[o++] = '\r'; break;
        case 'n': out[o++] = '\n'; break;
        case 't': out[o++] = '\t'; break;
        case '0': out[o++] = '\0'; break;
        case '\\': out[o++] = '\\'; break;
        case 'x':
            if (i + 2 < n + 0 && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
                out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
                i += 2;
                break;
            }
            die("%s: bad \\x escape", where);
            break;
        default:
            die("%s: unknown escape \\%c", where, c);
        }
    }
    out[o] = '\0';
    *lenp = o;
    return out;
}

/* Turn "a\nb" (already decoded) into "a\r\nb\r\n". */
static char *lines_to_crlf(const char *s, size_t len, size_t *outlen)
{
    char *out = xrealloc_or_die(NULL, len * 2 + 3);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\n') {
            out[o++] = '\r';
            out[o++] = '\n';
        } else {
            out[o++] = s[i];
        }
    }
    out[o++] = '\r';
    out[o++] = '\n';
    out[o] = '\0';
    *outlen = o;
    return out;
}

/* KEY[#N][@C] */
static void parse_key(const char *word, struct rule *ru, const char *where)
{
    char buf[64];
    if (strlen(word) >= sizeof buf)
        die("%s: key too long", where);
    strcpy(buf, word);
    char *at = strchr(buf, '@');
    if (at) {
        *at = '\0';
        ru->conn = atoi(at + 1);
        if (ru->conn <= 0)
            die("%s: bad connection number", where);
    }
    char *hash = strchr(buf, '#');
    if (hash) {
        *hash = '\0';
        ru->nth = atoi(hash + 1);
        if (ru->nth <= 0)
            die("%s: bad occurrence number", where);
    }
    if (!buf[0] || strlen(buf) >= sizeof ru->key)
        die("%s: bad command key", where);
    for (char *p = buf; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    strcpy(ru->key, buf);
}

static struct rule *add_rule(struct script *sc, enum rule_kind kind)
{
    sc->rules = xrealloc_or_die(sc->rules, (sc->nrules + 1) * sizeof *sc->rules);
    struct rule *ru = &sc->rules[sc->nrules++];
    memset(ru, 0, sizeof *ru);
    ru->kind = kind;
    return ru;
}

/* Split "word rest" and return rest (may be ""). */
static char *split_word(char *s, char **rest)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *w = s;
    while (*s && *s != ' ' && *s != '\t')
        s++;
    if (*s) {
        *s++ = '\0';
        while (*s == ' ' || *s == '\t')
            s++;
    }
    *rest = s;
    return w;
}

static void set_text(struct rule *ru, const char *text, bool lines, const char *where)
{
    size_t n;
    char *d = decode_escapes(text, &n, where);
    if (lines) {
        ru->data = lines_to_crlf(d, n, &ru->len);
        free(d);
    } else {
        ru->data = d;
        ru->len = n;
    }
}

static void load_script(const char *path, struct script *sc)
{
    memset(sc, 0, sizeof *sc);
    if (!path)
        return;
    FILE *f = fopen(path, "r");
    if (!f)
        die("cannot open script %s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int lineno = 0;
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        char where[512];
        snprintf(where, sizeof where, "%s:%d", path, lineno);
        char *rest;
        char *cmd = split_word(line, &rest);
        if (!cmd[0] || cmd[0] == '#')
            continue;
        if (strcmp(cmd, "greeting") == 0 || strcmp(cmd, "raw-greeting") == 0) {
            struct rule *ru = add_rule(sc, cmd[0] == 'r' ? RK_RAW : RK_REPLY);
            strcpy(ru->key, "CONNECT");
            set_text(ru, rest, ru->kind == RK_REPLY, where);
        } else if (strcmp(cmd, "ehlo") == 0) {
            struct rule *ru = add_rule(sc, RK_REPLY);
            strcpy(ru->key, "EHLO");
            set_text(ru, rest, true, where);
        } else if (strcmp(cmd, "reply") == 0 || strcmp(cmd, "raw-reply") == 0
                   || strcmp(cmd, "send-after") == 0 || strcmp(cmd, "raw-after") == 0) {
            enum rule_kind k = strcmp(cmd, "reply") == 0 ? RK_REPLY
                             : strcmp(cmd, "raw-reply") == 0 ? RK_RAW
                             : strcmp(cmd, "send-after") == 0 ? RK_SEND_AFTER : RK_RAW_AFTER;
            char *text;
            char *key = split_word(rest, &text);
            if (!key[0])
                die("%s: %s needs a command key", where, cmd);
            struct rule *ru = add_rule(sc, k);
            parse_key(key, ru, where);
            set_text(ru, text, k == RK_REPLY || k == RK_SEND_AFTER, where);
        } else if (strcmp(cmd, "close-after") == 0 || strcmp(cmd, "silent-after") == 0) {
            char *text;
            char *key = split_word(rest, &text);
            if (!key[0])
                die("%s: %s needs a command key", where, cmd);
            struct rule *ru = add_rule(sc, cmd[0] == 'c' ? RK_CLOSE : RK_SILENT);
            parse_key(key, ru, where);
        } else if (strcmp(cmd, "delay-reply") == 0) {
            char *text;
            char *key = split_word(rest, &text);
            if (!key[0] || !text[0])
                die("%s: delay-reply KEY MS", where);
            struct rule *ru = add_rule(sc, RK_DELAY);
            parse_key(key, ru, where);
            ru->ms = atol(text);
        } else if (strcmp(cmd, "require-pipelining") == 0) {
            sc->require_pipelining = true;
        } else if (strcmp(cmd, "max-connections") == 0) {
            sc->max_connections = atoi(rest);
            if (sc->max_connections <= 0)
                die("%s: bad max-connections", where);
        } else {
            die("%s: unknown directive '%s'", where, cmd);
        }
    }
    free(line);
    fclose(f);
}

/* The most specific rule of a kind for this key, occurrence and connection. */
static const struct rule *find_rule(const struct script *sc, enum rule_kind kind,
                                    const char *key, int nth, int conn)
{
    const struct rule *best = NULL;
    int best_score = -1;
    for (size_t i = 0; i < sc->nrules; i++) {
        const struct rule *ru = &sc->rules[i];
        if (ru->kind != kind && !(kind == RK_REPLY && ru->kind == RK_RAW))
            continue;
        if (strcmp(ru->key, key) != 0)
            continue;
        if (ru->nth && ru->nth != nth)
            continue;
        if (ru->conn && ru->conn != conn)
            continue;
        int score = (ru->nth ? 2 : 0) + (ru->conn ? 1 : 0);
        if (score >= best_score) {
            best = ru;
            best_score = score;
        }
    }
    return best;
}

/* ------------------------------------------------------------------ I/O */

/* A connection's byte stream. TLS (next issue) replaces read/write. */
struct sio {
    int fd;
    ssize_t (*read)(struct sio *, void *, size_t);
    ssize_t (*write)(struct sio *, const void *, size_t);
    void *tls;
};

static ssize_t plain_read(struct sio *s, void *buf, size_t n)
{
    return read(s->fd, buf, n);
}

static ssize_t plain_write(struct sio *s, const void *buf, size_t n)
{
    return write(s->fd, buf, n);
}

static volatile sig_atomic_t terminating;
static int sig_pipe[2] = { -1, -1 };

static void on_term(int sig)
{
    (void)sig;
    int saved = errno;
    terminating = 1;
    if (sig_pipe[1] >= 0) {
        char c = 't';
        ssize_t ignored = write(sig_pipe[1], &c, 1);
        (void)ignored;
    }
    errno = saved;
}

static int log_fd = -1;
static FILE *events;

static void event(const char *fmt, ...)
{
    if (!events)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(events, fmt, ap);
    va_end(ap);
    fputc('\n', events);
    fflush(events);
}

static void log_bytes(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(log_fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            die("cannot write log: %s", strerror(errno));
        }
        p += w;
        n -= (size_t)w;
    }
}

struct session {
    struct sio io;
    const struct script *sc;
    int conn_no;
    char *buf;              /* received, not yet processed */
    size_t len, cap;
    bool eof;               /* client closed (or error) */
    bool closed;            /* we closed / will close */
    bool silent;            /* never answer again */
    bool in_data;
    bool pipelining_offered; /* the EHLO reply listed PIPELINING */
    int data_match;         /* progress through "\r\n.\r\n" */
    struct { char key[32]; int n; } counts[64];
    size_t ncounts;
};

static int bump_count(struct session *s, const char *key)
{
    for (size_t i = 0; i < s->ncounts; i++)
        if (strcmp(s->counts[i].key, key) == 0)
            return ++s->counts[i].n;
    if (s->ncounts < sizeof s->counts / sizeof s->counts[0]) {
        snprintf(s->counts[s->ncounts].key, sizeof s->counts[0].key, "%s", key);
        s->counts[s->ncounts].n = 1;
        s->ncounts++;
        return 1;
    }
    return 1;
}

/* Wait up to timeout_ms (-1 = forever) for data and append it to the
 * buffer (and the log). Returns 1 if data came, 0 on timeout, -1 on EOF
 * or error. When terminating, waits at most 1 s for the (dead) client. */
static int fill(struct session *s, int timeout_ms)
{
    if (s->eof)
        return -1;
    for (;;) {
        int t = timeout_ms;
        if (terminating && (t < 0 || t > 1000))
            t = 1000;
        struct pollfd p[2] = { { s->io.fd, POLLIN, 0 }, { sig_pipe[0], POLLIN, 0 } };
        int r = poll(p, terminating ? 1 : 2, t);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            die("poll: %s", strerror(errno));
        }
        if (r == 0) {
            if (terminating && timeout_ms != 0) {
                s->eof = true;   /* shutting down: give up on a silent client */
                return -1;
            }
            return 0;
        }
        if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;            /* only the signal pipe: loop, now terminating */
        if (s->cap - s->len < READ_CHUNK) {
            s->cap = s->cap * 2 + READ_CHUNK;
            s->buf = xrealloc_or_die(s->buf, s->cap);
        }
        ssize_t n = s->io.read(&s->io, s->buf + s->len, READ_CHUNK);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0) {
            s->eof = true;
            return -1;
        }
        log_bytes(s->buf + s->len, (size_t)n);
        s->len += (size_t)n;
        return 1;
    }
}

static void consume(struct session *s, size_t n)
{
    memmove(s->buf, s->buf + n, s->len - n);
    s->len -= n;
}

static void send_bytes(struct session *s, const char *p, size_t n)
{
    while (n > 0 && !s->closed) {
        ssize_t w = s->io.write(&s->io, p, n);
        if (w < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            s->closed = true;   /* client went away; keep going quietly */
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

/* Sleep, but stop early when told to terminate (the client is gone). */
static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (!terminating && nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Default replies (README: "Defaults"). */
static const char *default_reply(const char *key)
{
    if (strcmp(key, "CONNECT") == 0)
        return "220 mx.test ESMTP smtpd-script ready\r\n";
    if (strcmp(key, "EHLO") == 0)
        return "250-mx.test greets you\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
               "250-SIZE 10240000\r\n250-DSN\r\n250 ENHANCEDSTATUSCODES\r\n";
    if (strcmp(key, "HELO") == 0)
        return "250 mx.test\r\n";
    if (strcmp(key, "MAIL") == 0)
        return "250 2.1.0 sender ok\r\n";
    if (strcmp(key, "RCPT") == 0)
        return "250 2.1.5 recipient ok\r\n";
    if (strcmp(key, "DATA") == 0)
        return "354 end data with <CR><LF>.<CR><LF>\r\n";
    if (strcmp(key, ".") == 0)
        return "250 2.0.0 queued as 1234\r\n";
    if (strcmp(key, "RSET") == 0 || strcmp(key, "NOOP") == 0)
        return "250 2.0.0 ok\r\n";
    if (strcmp(key, "QUIT") == 0)
        return "221 2.0.0 bye\r\n";
    return "502 5.5.2 command not recognized\r\n";
}

/* React to one event KEY (a command word, "." or "CONNECT"). */
static void respond(struct session *s, const char *key)
{
    int nth = bump_count(s, key);
    const struct script *sc = s->sc;
    if (s->silent || s->closed)
        return;
    if (find_rule(sc, RK_CLOSE, key, nth, s->conn_no)) {
        s->closed = true;
        return;
    }
    if (find_rule(sc, RK_SILENT, key, nth, s->conn_no)) {
        s->silent = true;
        return;
    }
    const struct rule *d = find_rule(sc, RK_DELAY, key, nth, s->conn_no);
    if (d)
        sleep_ms(d->ms);
    const struct rule *ru = find_rule(sc, RK_REPLY, key, nth, s->conn_no);
    const char *reply = ru ? ru->data : default_reply(key);
    size_t rlen = ru ? ru->len : strlen(reply);
    if (strcmp(key, "EHLO") == 0)
        s->pipelining_offered = memmem(reply, rlen, "PIPELINING", 10) != NULL;
    const struct rule *after = find_rule(sc, RK_SEND_AFTER, key, nth, s->conn_no);
    if (!after)
        after = find_rule(sc, RK_RAW_AFTER, key, nth, s->conn_no);
    if (after) {
        /* Reply and injected bytes leave in one write, so that the client
         * has both in hand when it reads the reply (deterministic tests). */
        char *both = malloc(rlen + after->len);
        if (both) {
            memcpy(both, reply, rlen);
            memcpy(both + rlen, after->data, after->len);
            send_bytes(s, both, rlen + after->len);
            free(both);
        } else {
            send_bytes(s, reply, rlen);
            send_bytes(s, after->data, after->len);
        }
    } else {
        send_bytes(s, reply, rlen);
    }
    if (strcmp(key, "DATA") == 0 && rlen >= 3 && memcmp(reply, "354", 3) == 0) {
        s->in_data = true;
        s->data_match = 2;   /* DATA\r\n counts as the leading CRLF */
    }
    if (strcmp(key, "QUIT") == 0 && rlen >= 1 && reply[0] == '2')
        s->closed = true;
}

/* Advance the "\r\n.\r\n" matcher over the buffer; returns the number of
 * bytes that belong to the data (including the terminator) when the end
 * was found, else 0 (and consumes nothing: caller keeps the state). */
static size_t scan_data(struct session *s, size_t *scanned)
{
    for (size_t i = *scanned; i < s->len; i++) {
        char c = s->buf[i];
        int m = s->data_match;
        if (m == 0)
            m = c == '\r' ? 1 : 0;
        else if (m == 1)
            m = c == '\n' ? 2 : c == '\r' ? 1 : 0;
        else if (m == 2)
            m = c == '.' ? 3 : c == '\r' ? 1 : 0;
        else if (m == 3)
            m = c == '\r' ? 4 : 0;
        else /* m == 4 */ {
            if (c == '\n') {
                s->data_match = 0;
                *scanned = 0;
                return i + 1;
            }
            m = c == '\r' ? 1 : 0;
        }
        s->data_match = m;
    }
    *scanned = s->len;
    return 0;
}

static void command_key(const char *line, size_t n, char *key, size_t keysz)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < keysz; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c == ' ' || c == '\r' || c == '\n' || c == ':' || c == '\t')
            break;
        key[k++] = (char)toupper(c);
    }
    key[k] = '\0';
    if (k == 0)
        snprintf(key, keysz, "%s", "(EMPTY)");
}

static bool buffer_has(const struct session *s, const char *needle)
{
    size_t nl = strlen(needle);
    if (s->len < nl)
        return false;
    for (size_t i = 0; i + nl <= s->len; i++)
        if (memcmp(s->buf + i, needle, nl) == 0)
            return true;
    return false;
}

/* On MAIL with require-pipelining: the rest of the group (…DATA\r\n)
 * must already be on its way. Wait up to 2 s without answering. */
static void check_pipelined(struct session *s)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (!buffer_has(s, "DATA\r\n") && !buffer_has(s, "data\r\n")) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long elapsed = (now.tv_sec - start.tv_sec) * 1000L
                     + (now.tv_nsec - start.tv_nsec) / 1000000L;
        if (elapsed >= 2000 || fill(s, (int)(2000 - elapsed)) < 0) {
            event("NOT PIPELINED");
            return;
        }
    }
}

static void serve(struct session *s)
{
    respond(s, "CONNECT");
    size_t scanned = 0;
    while (!s->closed) {
        if (s->in_data) {
            size_t end = scan_data(s, &scanned);
            if (end) {
                consume(s, end);
                s->in_data = false;
                respond(s, ".");
                continue;
            }
            if (fill(s, -1) < 0) {
                event("EOF in DATA");
                return;
            }
            continue;
        }
        char *nl = s->len ? memchr(s->buf, '\n', s->len) : NULL;
        if (!nl && s->len < MAX_LINE) {
            if (fill(s, -1) < 0) {
                if (s->len > 0)
                    event("EOF after incomplete line");
                return;
            }
            continue;
        }
        size_t n = nl ? (size_t)(nl - s->buf) + 1 : s->len;
        char key[32];
        command_key(s->buf, n, key, sizeof key);
        if (!nl)
            event("line too long");
        consume(s, n);
        /* A client must wait for each reply unless PIPELINING was offered. */
        if (s->len > 0 && !s->pipelining_offered && !s->silent)
            event("PIPELINED WITHOUT PIPELINING after %s", key);
        if (strcmp(key, "MAIL") == 0 && s->sc->require_pipelining && !s->silent)
            check_pipelined(s);
        respond(s, key);
    }
}

/* Keep reading (and logging) after we decided to stop answering, so the
 * log holds every byte the client sent, until EOF. */
static void drain(struct session *s)
{
    while (fill(s, -1) > 0)
        s->len = 0;
}

static void run_connection(int fd, const struct script *sc, int conn_no)
{
    struct session s;
    memset(&s, 0, sizeof s);
    s.io.fd = fd;
    s.io.read = plain_read;
    s.io.write = plain_write;
    s.sc = sc;
    s.conn_no = conn_no;
    event("connection %d", conn_no);
    serve(&s);
    if (s.silent && !s.eof) {
        s.len = 0;
        drain(&s);
    } else if (s.closed && !s.eof) {
        /* Log what is already buffered in the kernel, without waiting. */
        while (fill(&s, 0) > 0)
            s.len = 0;
    }
    free(s.buf);
    close(fd);
}

int main(int argc, char **argv)
{
    const char *script_path = NULL, *log_path = NULL, *port_path = NULL, *events_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--script") == 0 && v)
            script_path = argv[++i];
        else if (strcmp(a, "--log") == 0 && v)
            log_path = argv[++i];
        else if (strcmp(a, "--port-file") == 0 && v)
            port_path = argv[++i];
        else if (strcmp(a, "--events") == 0 && v)
            events_path = argv[++i];
        else if ((strcmp(a, "--tls-cert") == 0 || strcmp(a, "--tls-key") == 0) && v)
            die("TLS is not built into this server yet (%s)", a);
        else
            die("usage: smtpd-script --script FILE --log FILE --port-file FILE [--events FILE]");
    }
    if (!log_path || !port_path)
        die("--log and --port-file are required");

    struct script sc;
    load_script(script_path, &sc);

    log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0)
        die("cannot open %s: %s", log_path, strerror(errno));
    if (events_path) {
        events = fopen(events_path, "a");
        if (!events)
            die("cannot open %s: %s", events_path, strerror(errno));
    }

    if (pipe(sig_pipe) < 0)
        die("pipe: %s", strerror(errno));
    fcntl(sig_pipe[0], F_SETFL, O_NONBLOCK);
    fcntl(sig_pipe[1], F_SETFL, O_NONBLOCK);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0)
        die("socket: %s", strerror(errno));
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = 0;
    if (bind(lfd, (struct sockaddr *)&sin, sizeof sin) < 0 || listen(lfd, 16) < 0)
        die("bind/listen: %s", strerror(errno));
    socklen_t sl = sizeof sin;
    if (getsockname(lfd, (struct sockaddr *)&sin, &sl) < 0)
        die("getsockname: %s", strerror(errno));

    /* Readiness: the port file appears atomically. */
    size_t plen = strlen(port_path);
    char *tmp = xrealloc_or_die(NULL, plen + 5);
    memcpy(tmp, port_path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    FILE *pf = fopen(tmp, "w");
    if (!pf || fprintf(pf, "%d\n", ntohs(sin.sin_port)) < 0 || fclose(pf) != 0)
        die("cannot write %s: %s", tmp, strerror(errno));
    if (rename(tmp, port_path) < 0)
        die("cannot rename %s: %s", tmp, strerror(errno));
    free(tmp);

    int served = 0;
    while (!sc.max_connections || served < sc.max_connections) {
        struct pollfd p[2] = { { lfd, POLLIN, 0 }, { sig_pipe[0], POLLIN, 0 } };
        /* After SIGTERM, serve only connections already queued. */
        int r = poll(p, terminating ? 1 : 2, terminating ? 0 : -1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            die("poll: %s", strerror(errno));
        }
        if (r == 0)
            break;
        if (!(p[0].revents & POLLIN))
            continue;
        int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            die("accept: %s", strerror(errno));
        }
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        run_connection(cfd, &sc, ++served);
    }
    close(lfd);
    if (events)
        fclose(events);
    close(log_fd);
    for (size_t i = 0; i < sc.nrules; i++)
        free(sc.rules[i].data);
    free(sc.rules);
    return 0;
}
