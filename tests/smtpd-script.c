/*
 * smtpd-script.c - the scripted SMTP test server used by tests/runcases.py.
 *
 * It owns: listening on a random loopback port (or on --address and
 * --port, e.g. an IPv6 address for the connection tests), telling the harness the
 * port (the --port-file appears atomically: that is the readiness signal),
 * serving connections one at a time, logging EVERY byte received exactly
 * to --log, recording events (connection numbers, protocol violations such
 * as "NOT PIPELINED") to --events, and answering from a script.
 *
 * The script language is documented in tests/data/README. It does not own
 * any judgement: comparing what was received with what was expected is the
 * harness's job.
 *
 * I/O goes through `struct sio` (read/write function pointers); TLS
 * (GnuTLS server side: STARTTLS, implicit TLS, priorities, client
 * certificates) slots in under the same code, so --log always holds the
 * DECRYPTED bytes the client sent (the handshake itself is not logged).
 * Authentication is checked with GNU SASL server sessions (every mechanism
 * GNU SASL has, with tls-unique / tls-exporter channel binding for
 * SCRAM-*-PLUS); XOAUTH2 and OAUTHBEARER, which GNU SASL cannot serve, are
 * checked here. Without GNU SASL only XOAUTH2/OAUTHBEARER work.
 * BDAT (RFC 3030 CHUNKING) is always understood: "BDAT n [LAST]" is
 * followed by exactly n octets of message data, logged like everything
 * else, and answered per chunk; `chunking` advertises it.
 * `check-data` reports (as events) what a strict server would find in a
 * message against its BODY= and SMTPUTF8 declarations: smtpd-data.c.
 *
 * Usage: smtpd-script --script FILE --log FILE --port-file FILE [--listen-fd FD]
 *                     [--address ADDR] [--port N]
 *                     [--events FILE] [--tls-cert FILE --tls-key FILE]
 */
#include <config.h>

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

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#ifdef HAVE_LIBGSASL
#include <gsasl.h>
#endif

#include "smtpd-data.h"

#define MAX_LINE    65536     /* a command line longer than this is cut */
#define READ_CHUNK  16384

/* ---------------------------------------------------------------- rules */

enum rule_kind {
    RK_REPLY,        /* reply KEY text (lines, CRLF appended) */
    RK_RAW,          /* raw-reply KEY bytes (sent exactly) */
    RK_CLOSE,        /* close-after KEY */
    RK_SILENT,       /* silent-after KEY */
    RK_HANGUP,       /* hangup-after KEY: reply, then close */
    RK_SEND_AFTER,   /* send-after KEY text (lines, CRLF appended) */
    RK_RAW_AFTER,    /* raw-after KEY bytes */
    RK_DELAY,        /* delay-reply KEY ms */
    RK_DRIP,         /* drip-reply KEY ms: the reply one byte every ms */
    RK_SLOW_LINES,   /* slow-lines KEY ms: the reply one line every ms */
    RK_ENDLESS,      /* endless-reply KEY text: text again and again */
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

struct user {
    char *name, *secret;       /* password, or the OAuth2 token */
};

struct script {
    struct rule *rules;
    size_t nrules;
    bool require_pipelining;
    bool require_auth_pipelining;  /* AUTH must come with MAIL...DATA */
    bool strict_pipelining;    /* refuse input sent ahead without PIPELINING */
    bool refuse_after_data;    /* refuse a message with input sent behind its end */
    bool check_data;           /* check each message's data against BODY= and
                                  SMTPUTF8 (events "MAIL: ...", "DATA: ...") */
    int max_connections;       /* 0 = unlimited */
    /* TLS */
    char *tls_cert, *tls_key;  /* override --tls-cert / --tls-key */
    char *tls_priority;        /* NULL = GnuTLS defaults */
    char *tls_client_ca;       /* tls-client-cert CAFILE: ask for one */
    bool starttls;             /* offer and handle STARTTLS */
    bool implicit_tls;         /* handshake right after accept */
    bool tls_cut_handshake;    /* read the ClientHello, then close */
    bool tls_client_required;  /* tls-client-cert-required: fail without one */
    /* CHUNKING */
    bool chunking;             /* advertise CHUNKING in the default EHLO reply */
    long long bdat_cut;        /* bdat-cut N: close after N octets of a chunk; -1 = never */
    /* AUTH */
    char *auth_mechs;          /* "PLAIN LOGIN ..." (uppercase) or NULL */
    bool auth_requires_tls;    /* AUTH offered and accepted only under TLS */
    bool require_auth;         /* MAIL/RCPT/DATA before AUTH -> 530 */
    struct user *users;
    size_t nusers;
    long scram_iterations;     /* > 0: SCRAM answered with this i= (hostile) */
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
    sc->bdat_cut = -1;
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
        } else if (strcmp(cmd, "close-after") == 0 || strcmp(cmd, "silent-after") == 0
                   || strcmp(cmd, "hangup-after") == 0) {
            char *text;
            char *key = split_word(rest, &text);
            if (!key[0])
                die("%s: %s needs a command key", where, cmd);
            struct rule *ru = add_rule(sc, cmd[0] == 'c' ? RK_CLOSE
                                           : cmd[0] == 's' ? RK_SILENT : RK_HANGUP);
            parse_key(key, ru, where);
        } else if (strcmp(cmd, "delay-reply") == 0) {
            char *text;
            char *key = split_word(rest, &text);
            if (!key[0] || !text[0])
                die("%s: delay-reply KEY MS", where);
            struct rule *ru = add_rule(sc, RK_DELAY);
            parse_key(key, ru, where);
            ru->ms = atol(text);
        } else if (strcmp(cmd, "drip-reply") == 0 || strcmp(cmd, "slow-lines") == 0) {
            char *text;
            char *key = split_word(rest, &text);
            if (!key[0] || !text[0])
                die("%s: %s KEY MS", where, cmd);
            struct rule *ru = add_rule(sc, cmd[0] == 'd' ? RK_DRIP : RK_SLOW_LINES);
            parse_key(key, ru, where);
            ru->ms = atol(text);
        } else if (strcmp(cmd, "endless-reply") == 0) {
            char *text;
            char *key = split_word(rest, &text);
            if (!key[0] || !text[0])
                die("%s: endless-reply KEY TEXT", where);
            struct rule *ru = add_rule(sc, RK_ENDLESS);
            parse_key(key, ru, where);
            set_text(ru, text, true, where);
        } else if (strcmp(cmd, "auth-flood") == 0) {
            /* auth-flood LINES WORDS: the EHLO reply is LINES lines
             * "250-AUTH" of WORDS distinct mechanism names each, then
             * "250 PIPELINING". */
            char *text;
            char *lines = split_word(rest, &text);
            long nl = atol(lines), nw = atol(text);
            if (nl <= 0 || nw <= 0 || nl > 10000 || nw > 1000)
                die("%s: auth-flood LINES WORDS", where);
            struct rule *ru = add_rule(sc, RK_REPLY);
            strcpy(ru->key, "EHLO");
            size_t dcap = 64 + (size_t)nl * ((size_t)nw * 6 + 16);
            char *d = xrealloc_or_die(NULL, dcap);
            size_t len = (size_t)snprintf(d, dcap, "250-mx.test\r\n");
            for (long i = 0; i < nl; i++) {
                len += (size_t)snprintf(d + len, dcap - len, "250-AUTH");
                for (long j = 0; j < nw; j++) {
                    /* five base-36 digits: up to 60 million distinct names */
                    static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
                    long k = i * nw + j;
                    char name[6];
                    for (int q = 4; q >= 0; q--, k /= 36)
                        name[q] = digits[k % 36];
                    len += (size_t)snprintf(d + len, dcap - len, " %.5s", name);
                }
                len += (size_t)snprintf(d + len, dcap - len, "\r\n");
            }
            len += (size_t)snprintf(d + len, dcap - len, "250 PIPELINING\r\n");
            ru->data = d;
            ru->len = len;
        } else if (strcmp(cmd, "scram-iterations") == 0) {
            sc->scram_iterations = atol(rest);
            if (sc->scram_iterations <= 0)
                die("%s: bad scram-iterations", where);
        } else if (strcmp(cmd, "require-pipelining") == 0) {
            sc->require_pipelining = true;
        } else if (strcmp(cmd, "strict-pipelining") == 0) {
            sc->strict_pipelining = true;
        } else if (strcmp(cmd, "refuse-after-data") == 0) {
            sc->refuse_after_data = true;
        } else if (strcmp(cmd, "check-data") == 0) {
            sc->check_data = true;
        } else if (strcmp(cmd, "chunking") == 0) {
            sc->chunking = true;
        } else if (strcmp(cmd, "bdat-cut") == 0) {
            char *end;
            sc->bdat_cut = strtoll(rest, &end, 10);
            if (!rest[0] || *end || sc->bdat_cut < 0)
                die("%s: bdat-cut N (octets)", where);
        } else if (strcmp(cmd, "require-auth-pipelining") == 0) {
            sc->require_auth_pipelining = true;
        } else if (strcmp(cmd, "starttls") == 0) {
            sc->starttls = true;
        } else if (strcmp(cmd, "implicit-tls") == 0) {
            sc->implicit_tls = true;
        } else if (strcmp(cmd, "tls-cut-handshake") == 0) {
            sc->tls_cut_handshake = true;
        } else if (strcmp(cmd, "tls-client-cert-required") == 0) {
            sc->tls_client_required = true;
        } else if (strcmp(cmd, "tls-priority") == 0 || strcmp(cmd, "tls-cert") == 0
                   || strcmp(cmd, "tls-key") == 0 || strcmp(cmd, "tls-client-cert") == 0) {
            if (!rest[0])
                die("%s: %s needs an argument", where, cmd);
            char **slot = strcmp(cmd, "tls-priority") == 0 ? &sc->tls_priority
                        : strcmp(cmd, "tls-cert") == 0 ? &sc->tls_cert
                        : strcmp(cmd, "tls-key") == 0 ? &sc->tls_key : &sc->tls_client_ca;
            free(*slot);
            *slot = strdup(rest);
            if (!*slot)
                die("out of memory");
        } else if (strcmp(cmd, "auth") == 0) {
            if (!rest[0])
                die("%s: auth needs mechanisms", where);
            free(sc->auth_mechs);
            sc->auth_mechs = strdup(rest);
            if (!sc->auth_mechs)
                die("out of memory");
            for (char *p = sc->auth_mechs; *p; p++)
                *p = (char)toupper((unsigned char)*p);
        } else if (strcmp(cmd, "auth-requires-tls") == 0) {
            sc->auth_requires_tls = true;
        } else if (strcmp(cmd, "require-auth") == 0) {
            sc->require_auth = true;
        } else if (strcmp(cmd, "user") == 0) {
            char *secret;
            char *name = split_word(rest, &secret);
            if (!name[0] || !secret[0])
                die("%s: user NAME SECRET", where);
            sc->users = xrealloc_or_die(sc->users, (sc->nusers + 1) * sizeof *sc->users);
            size_t sn;
            sc->users[sc->nusers].name = strdup(name);
            sc->users[sc->nusers].secret = decode_escapes(secret, &sn, where);
            if (!sc->users[sc->nusers].name)
                die("out of memory");
            sc->nusers++;
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

/* A connection's byte stream. TLS replaces read/write. */
struct sio {
    int fd;
    ssize_t (*read)(struct sio *, void *, size_t);
    ssize_t (*write)(struct sio *, const void *, size_t);
    gnutls_session_t tls;       /* NULL until a handshake succeeded */
};

static ssize_t plain_read(struct sio *s, void *buf, size_t n)
{
    return read(s->fd, buf, n);
}

static ssize_t plain_write(struct sio *s, const void *buf, size_t n)
{
    return write(s->fd, buf, n);
}

/* GnuTLS errors: AGAIN/INTERRUPTED become EINTR (retry); a client that
 * closes without close_notify is an ordinary EOF (0). */
static ssize_t tls_read(struct sio *s, void *buf, size_t n)
{
    ssize_t r = gnutls_record_recv(s->tls, buf, n);
    if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
        errno = EINTR;
        return -1;
    }
    if (r == GNUTLS_E_PREMATURE_TERMINATION)
        return 0;
    if (r < 0) {
        errno = EIO;
        return -1;
    }
    return r;
}

static ssize_t tls_write(struct sio *s, const void *buf, size_t n)
{
    ssize_t r = gnutls_record_send(s->tls, buf, n);
    if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
        errno = EINTR;
        return -1;
    }
    if (r < 0) {
        errno = EPIPE;
        return -1;
    }
    return r;
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

static void data_event(const char *text)
{
    event("%s", text);
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
    bool authenticated;     /* AUTH succeeded in this (TLS) session */
    int data_match;         /* progress through "\r\n.\r\n" */
    int rcpts_ok;           /* RCPTs accepted in this transaction */
    bool bdat_last;         /* the chunk being answered ended the message */
    long long bdat_size;    /* its size */
    long long bdat_total;   /* octets in the message's chunks so far */
    const char *line;       /* the command line being answered (no CRLF) */
    size_t line_len;
    char *cb_unique;        /* base64 channel binding data, or NULL */
    char *cb_exporter;
    struct { char key[32]; int n; } counts[64];
    size_t ncounts;
    struct data_check dc;   /* check-data: the transaction so far */
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
        /* Decrypted bytes GnuTLS already holds do not show up in poll. */
        bool pending = s->io.tls && gnutls_record_check_pending(s->io.tls) > 0;
        int r = pending ? 1 : poll(p, terminating ? 1 : 2, t);
        if (pending)
            p[0].revents = POLLIN;
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

static void send_str(struct session *s, const char *str)
{
    send_bytes(s, str, strlen(str));
}

/* Sleep, but stop early when told to terminate (the client is gone). */
static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (!terminating && nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* ------------------------------------------------------------------ TLS */

static gnutls_certificate_credentials_t tls_creds;   /* NULL: no certificate */

static void session_reset_tls_state(struct session *s)
{
    free(s->cb_unique);
    free(s->cb_exporter);
    s->cb_unique = s->cb_exporter = NULL;
}

/* Base64 (no line breaks) of n bytes; malloc'd. The test server has its
 * own base64, on purpose: it checks what smtpfwd encodes, so it must not
 * share smtpfwd's code (a defect there would cancel out here). */
static char *base64_encode(const unsigned char *p, size_t n)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = xrealloc_or_die(NULL, (n + 2) / 3 * 4 + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

/* Strict base64 decoding; returns a malloc'd NUL-terminated buffer (the
 * length in *outlen) or NULL when the input is not base64. */
static char *base64_decode(const char *in, size_t len, size_t *outlen)
{
    if (len % 4)
        return NULL;
    char *out = xrealloc_or_die(NULL, len / 4 * 3 + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        for (int k = 0; k < 4; k++) {
            char c = in[i + k];
            const char *tab = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            const char *q = c ? strchr(tab, c) : NULL;
            if (q)
                v[k] = (int)(q - tab);
            else if (c == '=' && i + 4 == len && k >= 2 && (k == 3 || in[i + 3] == '='))
                v[k] = -1;
            else {
                free(out);
                return NULL;
            }
        }
        out[o++] = (char)((v[0] << 2) | (v[1] >> 4));
        if (v[2] >= 0)
            out[o++] = (char)(((v[1] & 15) << 4) | (v[2] >> 2));
        if (v[3] >= 0)
            out[o++] = (char)(((v[2] & 3) << 6) | v[3]);
    }
    out[o] = '\0';
    *outlen = o;
    return out;
}

/* tls-client-cert: describe the client's certificate in an event. */
static void client_cert_event(struct session *s)
{
    unsigned int n = 0;
    const gnutls_datum_t *certs = gnutls_certificate_get_peers(s->io.tls, &n);
    if (!certs || n == 0) {
        event("TLS client certificate absent");
        return;
    }
    unsigned int status = 0;
    int r = gnutls_certificate_verify_peers2(s->io.tls, &status);
    gnutls_x509_crt_t crt;
    gnutls_datum_t dn = { NULL, 0 };
    if (gnutls_x509_crt_init(&crt) == 0) {
        if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) == 0)
            gnutls_x509_crt_get_dn3(crt, &dn, 0);
        gnutls_x509_crt_deinit(crt);
    }
    event("TLS client certificate %s %s", dn.data ? (const char *)dn.data : "?",
          r == 0 && status == 0 ? "verified" : "NOT verified");
    gnutls_free(dn.data);
}

/* Read (without logging: it is the handshake) the client's first TLS
 * bytes for up to 2 s, then give up on the connection. */
static void cut_handshake(struct session *s)
{
    char junk[4096];
    struct pollfd p = { s->io.fd, POLLIN, 0 };
    if (poll(&p, 1, 2000) > 0) {
        ssize_t n = read(s->io.fd, junk, sizeof junk);
        (void)n;
    }
    event("TLS handshake cut");
    s->closed = true;
    s->eof = true;
}

/* tls-client-cert-required and the client sent no certificate: tell it
 * with the alert OpenSSL-based servers (Postfix, ...) send -
 * certificate_required under TLS 1.3, handshake_failure before - then
 * read what the client still sends until it closes (at most 2 s), so
 * that closing does not reset the connection before the alert arrives. */
static void refuse_without_client_cert(struct session *s, gnutls_session_t t)
{
    gnutls_alert_description_t a = gnutls_protocol_get_version(t) == GNUTLS_TLS1_3
                                       ? GNUTLS_A_CERTIFICATE_REQUIRED
                                       : GNUTLS_A_HANDSHAKE_FAILURE;
    (void)gnutls_alert_send(t, GNUTLS_AL_FATAL, a);
    (void)shutdown(s->io.fd, SHUT_WR);
    char junk[4096];
    struct pollfd p = { s->io.fd, POLLIN, 0 };
    while (poll(&p, 1, 2000) > 0 && read(s->io.fd, junk, sizeof junk) > 0)
        ;
}

/* Handshake on the connection. Returns 0, or -1 (connection unusable: the
 * session is marked closed and EOF so nothing more is read or logged). */
static int start_tls(struct session *s)
{
    const struct script *sc = s->sc;
    if (sc->tls_cut_handshake) {
        cut_handshake(s);
        return -1;
    }
    /* What comes first: a TLS handshake record (0x16), nothing (the
     * client gave up, e.g. on bytes injected after our 220), or plaintext
     * (logged: it is what the client sent). */
    struct pollfd pf = { s->io.fd, POLLIN, 0 };
    if (poll(&pf, 1, 10000) > 0) {
        unsigned char first;
        ssize_t n = recv(s->io.fd, &first, 1, MSG_PEEK);
        if (n == 0) {
            event("TLS handshake: client closed without a ClientHello");
            s->closed = s->eof = true;
            return -1;
        }
        if (n == 1 && first != 0x16) {
            char buf[4096];
            n = read(s->io.fd, buf, sizeof buf);
            if (n > 0)
                log_bytes(buf, (size_t)n);
            event("TLS handshake: plaintext instead of a ClientHello");
            s->closed = s->eof = true;
            return -1;
        }
    }
    gnutls_session_t t;
    if (gnutls_init(&t, GNUTLS_SERVER) < 0)
        die("gnutls_init failed");
    const char *errpos = NULL;
    int r = sc->tls_priority ? gnutls_priority_set_direct(t, sc->tls_priority, &errpos)
                             : gnutls_set_default_priority(t);
    if (r < 0)
        die("bad tls-priority \"%s\": %s", sc->tls_priority ? sc->tls_priority : "",
            gnutls_strerror(r));
    gnutls_credentials_set(t, GNUTLS_CRD_CERTIFICATE, tls_creds);
    if (sc->tls_client_ca)
        gnutls_certificate_server_set_request(t, sc->tls_client_required ? GNUTLS_CERT_REQUIRE
                                                                         : GNUTLS_CERT_REQUEST);
    gnutls_transport_set_int(t, s->io.fd);
    gnutls_handshake_set_timeout(t, 10000);
    do {
        r = gnutls_handshake(t);
    } while (r < 0 && !gnutls_error_is_fatal(r) && !terminating);
    if (r < 0 && (r == GNUTLS_E_CERTIFICATE_REQUIRED || r == GNUTLS_E_NO_CERTIFICATE_FOUND))
        refuse_without_client_cert(s, t);
    if (r < 0) {
        if (r == GNUTLS_E_WARNING_ALERT_RECEIVED || r == GNUTLS_E_FATAL_ALERT_RECEIVED)
            event("TLS handshake failed: %s: %s", gnutls_strerror(r),
                  gnutls_alert_get_name(gnutls_alert_get(t)));
        else
            event("TLS handshake failed: %s", gnutls_strerror(r));
        gnutls_deinit(t);
        s->closed = true;
        s->eof = true;
        return -1;
    }
    s->io.tls = t;
    s->io.read = tls_read;
    s->io.write = tls_write;
    event("TLS established %s", gnutls_protocol_get_name(gnutls_protocol_get_version(t)));
    if (sc->tls_client_ca)
        client_cert_event(s);
    session_reset_tls_state(s);
    gnutls_datum_t cb;
    if (gnutls_session_channel_binding(t, GNUTLS_CB_TLS_UNIQUE, &cb) == 0) {
        s->cb_unique = base64_encode(cb.data, cb.size);
        gnutls_free(cb.data);
    }
#if GNUTLS_VERSION_NUMBER >= 0x030702
    if (gnutls_session_channel_binding(t, GNUTLS_CB_TLS_EXPORTER, &cb) == 0) {
        s->cb_exporter = base64_encode(cb.data, cb.size);
        gnutls_free(cb.data);
    }
#endif
    return 0;
}

static void end_tls(struct session *s)
{
    if (s->io.tls) {
        if (!s->eof)
            gnutls_bye(s->io.tls, GNUTLS_SHUT_WR);
        gnutls_deinit(s->io.tls);
        s->io.tls = NULL;
    }
    session_reset_tls_state(s);
}

/* ----------------------------------------------------------------- AUTH */

/* The next line from the client (a SASL response), without CR LF.
 * Returns a malloc'd string, or NULL at EOF. */
static char *read_line(struct session *s)
{
    for (;;) {
        char *nl = s->len ? memchr(s->buf, '\n', s->len) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - s->buf);
            size_t keep = n && s->buf[n - 1] == '\r' ? n - 1 : n;
            char *line = xrealloc_or_die(NULL, keep + 1);
            memcpy(line, s->buf, keep);
            line[keep] = '\0';
            consume(s, n + 1);
            return line;
        }
        if (s->len >= MAX_LINE || fill(s, -1) < 0)
            return NULL;
    }
}

static const struct user *find_user(const struct script *sc, const char *name)
{
    for (size_t i = 0; name && i < sc->nusers; i++)
        if (strcmp(sc->users[i].name, name) == 0)
            return &sc->users[i];
    return NULL;
}

static bool mech_offered(const struct script *sc, const char *mech)
{
    if (!sc->auth_mechs)
        return false;
    size_t ml = strlen(mech);
    for (const char *p = sc->auth_mechs; *p;) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, " ");
        if (n && n == ml && strncasecmp(p, mech, n) == 0)
            return true;
        p += n;
    }
    return false;
}

static void send_str(struct session *s, const char *str);

/* Send "334 challenge" and read the response. Returns the response
 * (malloc'd) or NULL at EOF. */
static char *challenge(struct session *s, const char *b64)
{
    send_str(s, "334 ");
    send_str(s, b64);
    send_str(s, "\r\n");
    return read_line(s);
}

/* XOAUTH2 ("user=U\1auth=Bearer T\1\1") and OAUTHBEARER (RFC 7628:
 * "n,a=U,\1host=...\1port=...\1auth=Bearer T\1\1"): GNU SASL has no server
 * side for them. Returns true when the token is a user's secret. */
static bool check_bearer(const struct script *sc, const char *mech, const char *msg,
                         size_t len)
{
    char user[256] = "";
    const char *kv = msg;
    const char *end = msg + len;
    if (strcmp(mech, "OAUTHBEARER") == 0) {
        /* gs2 header: "n,a=USER," or "n,,"; then kvpairs */
        if (len < 3 || (msg[0] != 'n' && msg[0] != 'y') || msg[1] != ',')
            return false;
        const char *p = msg + 2;
        const char *comma = memchr(p, ',', (size_t)(end - p));
        if (!comma)
            return false;
        if (comma - p > 2 && p[0] == 'a' && p[1] == '=' && (size_t)(comma - p - 2) < sizeof user) {
            memcpy(user, p + 2, (size_t)(comma - p - 2));
            user[comma - p - 2] = '\0';
        }
        kv = comma + 1;
        if (kv >= end || *kv != '\1')
            return false;
        kv++;
    }
    /* kvpairs: key=value\1 ... \1 (the message ends with \1\1) */
    if (len < 2 || end[-1] != '\1' || end[-2] != '\1')
        return false;
    const char *token = NULL;
    size_t token_len = 0;
    while (kv < end && *kv != '\1') {
        const char *sep = memchr(kv, '\1', (size_t)(end - kv));
        if (!sep)
            return false;
        size_t n = (size_t)(sep - kv);
        if (n > 5 && memcmp(kv, "user=", 5) == 0 && n - 5 < sizeof user) {
            memcpy(user, kv + 5, n - 5);
            user[n - 5] = '\0';
        } else if (n > 12 && memcmp(kv, "auth=Bearer ", 12) == 0) {
            token = kv + 12;
            token_len = n - 12;
        }
        kv = sep + 1;
    }
    if (kv != end - 1 || !token)
        return false;
    const struct user *u = find_user(sc, user);
    return u && strlen(u->secret) == token_len && memcmp(u->secret, token, token_len) == 0;
}

static bool auth_bearer(struct session *s, const char *mech, const char *initial)
{
    char *resp = NULL;
    if (!initial || !initial[0] || strcmp(initial, "=") == 0) {
        resp = challenge(s, "");
        if (!resp)
            return false;
        initial = resp;
    }
    size_t n;
    char *msg = base64_decode(initial, strlen(initial), &n);
    bool ok = msg && check_bearer(s->sc, mech, msg, n);
    free(msg);
    free(resp);
    if (!ok) {
        /* RFC 7628 3.2.2 / Google: an error challenge, the client answers
         * (AQ== or an empty line), then the final failure reply. */
        char *ack = challenge(s, "eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==");
        free(ack);
    }
    return ok;
}

#ifdef HAVE_LIBGSASL
static Gsasl *sasl_ctx;

static int sasl_callback(Gsasl *ctx, Gsasl_session *sctx, Gsasl_property prop)
{
    (void)ctx;
    struct session *s = gsasl_session_hook_get(sctx);
    const struct user *u = find_user(s->sc, gsasl_property_fast(sctx, GSASL_AUTHID));
    switch (prop) {
    case GSASL_PASSWORD:
        if (!u)
            return GSASL_NO_CALLBACK;
        return gsasl_property_set(sctx, GSASL_PASSWORD, u->secret);
    case GSASL_VALIDATE_SIMPLE: {
        const char *pw = gsasl_property_fast(sctx, GSASL_PASSWORD);
        const char *authz = gsasl_property_fast(sctx, GSASL_AUTHZID);
        if (authz && authz[0] && !(u && strcmp(authz, u->name) == 0))
            return GSASL_AUTHENTICATION_ERROR;
        return u && pw && strcmp(pw, u->secret) == 0 ? GSASL_OK : GSASL_AUTHENTICATION_ERROR;
    }
    case GSASL_VALIDATE_EXTERNAL:
        return s->io.tls ? GSASL_OK : GSASL_AUTHENTICATION_ERROR;
    case GSASL_CB_TLS_UNIQUE:
        return s->cb_unique ? gsasl_property_set(sctx, prop, s->cb_unique) : GSASL_NO_CALLBACK;
    case GSASL_CB_TLS_EXPORTER:
        return s->cb_exporter ? gsasl_property_set(sctx, prop, s->cb_exporter)
                              : GSASL_NO_CALLBACK;
    default:
        return GSASL_NO_CALLBACK;
    }
}

/* One GNU SASL server exchange. */
static bool auth_gsasl(struct session *s, const char *mech, const char *initial)
{
    Gsasl_session *sctx;
    if (gsasl_server_start(sasl_ctx, mech, &sctx) != GSASL_OK) {
        event("AUTH %s not supported by GNU SASL", mech);
        return false;
    }
    gsasl_session_hook_set(sctx, s);
    gsasl_property_set(sctx, GSASL_SERVICE, "smtp");
    gsasl_property_set(sctx, GSASL_HOSTNAME, "mx.test");
    char *input = xrealloc_or_die(NULL, 1);
    input[0] = '\0';
    if (initial && strcmp(initial, "=") != 0) {
        free(input);
        input = strdup(initial);
        if (!input)
            die("out of memory");
    }
    bool first = true;
    bool ok = false;
    if (strcmp(mech, "LOGIN") == 0 && initial && strcmp(initial, "=") != 0) {
        /* "AUTH LOGIN base64(user)" (what many clients send): GNU SASL's
         * LOGIN server always asks for the user name first; skip that. */
        char *skip = NULL;
        if (gsasl_step64(sctx, "", &skip) == GSASL_NEEDS_MORE)
            first = false;
        gsasl_free(skip);
    }
    for (;;) {
        char *out = NULL;
        int rc;
        /* Without an initial response, mechanisms where the client speaks
         * first get an empty challenge. */
        if (first && !initial && strcmp(mech, "CRAM-MD5") != 0 && strcmp(mech, "DIGEST-MD5") != 0
            && strcmp(mech, "LOGIN") != 0) {
            rc = GSASL_NEEDS_MORE;
            out = strdup("");
        } else {
            rc = gsasl_step64(sctx, input, &out);
        }
        first = false;
        free(input);
        input = NULL;
        if (rc == GSASL_NEEDS_MORE) {
            input = challenge(s, out ? out : "");
            gsasl_free(out);
            if (!input)
                break;
            if (strcmp(input, "*") == 0) {
                event("AUTH %s cancelled", mech);
                break;
            }
            continue;
        }
        if (rc == GSASL_OK) {
            ok = true;
            if (out && out[0]) {
                /* Additional data with success (SCRAM's v=): a last 334;
                 * the client answers with an empty line (RFC 4954 4). */
                char *ack = challenge(s, out);
                ok = ack && ack[0] == '\0';
                free(ack);
            }
        }
        gsasl_free(out);
        break;
    }
    free(input);
    gsasl_finish(sctx);
    return ok;
}
#endif

/* scram-iterations N: a hostile SCRAM server. The server-first-message
 * echoes the client's nonce (so that it passes the client's checks) with
 * a salt and the iteration count N; whatever the client answers then is
 * refused. Returns false (never authenticates). */
static bool auth_scram_hostile(struct session *s, const char *initial)
{
    char *first = initial ? strdup(initial) : challenge(s, "");
    if (!first)
        return false;
    size_t n = 0;
    char *cf = base64_decode(first, strlen(first), &n);
    free(first);
    const char *r = cf ? strstr(cf, ",r=") : NULL;
    if (!r) {
        free(cf);
        return false;
    }
    r += 3;
    size_t rl = strcspn(r, ",");
    char msg[512];
    snprintf(msg, sizeof msg, "r=%.*sHOSTILEnonce,s=c2FsdHNhbHQ=,i=%ld", (int)rl, r,
             s->sc->scram_iterations);
    free(cf);
    char *b64 = base64_encode((const unsigned char *)msg, strlen(msg));
    event("SCRAM iterations %ld sent", s->sc->scram_iterations);
    char *answer = challenge(s, b64);
    free(b64);
    if (answer && strcmp(answer, "*") == 0)
        event("AUTH cancelled");
    free(answer);
    return false;
}

/* AUTH MECH [initial-response], with the SASL exchange. */
static void handle_auth(struct session *s)
{
    char mech[64] = "";
    const char *p = s->line + 4;
    while (*p == ' ')
        p++;
    size_t n = strcspn(p, " ");
    if (n == 0 || n >= sizeof mech) {
        send_str(s, "501 5.5.4 syntax: AUTH mechanism [initial-response]\r\n");
        return;
    }
    for (size_t i = 0; i < n; i++)
        mech[i] = (char)toupper((unsigned char)p[i]);
    mech[n] = '\0';
    p += n;
    while (*p == ' ')
        p++;
    char *initial = *p ? strdup(p) : NULL;
    if (*p && !initial)
        die("out of memory");
    if (s->authenticated) {
        send_str(s, "503 5.5.1 already authenticated\r\n");
    } else if (s->sc->auth_requires_tls && !s->io.tls) {
        event("AUTH %s before TLS", mech);
        send_str(s, "538 5.7.11 encryption required for requested authentication mechanism\r\n");
    } else if (!mech_offered(s->sc, mech)) {
        event("AUTH %s not offered", mech);
        send_str(s, "504 5.5.4 unrecognized authentication type\r\n");
    } else {
        bool ok;
        if (strcmp(mech, "XOAUTH2") == 0 || strcmp(mech, "OAUTHBEARER") == 0) {
            ok = auth_bearer(s, mech, initial);
        } else if (s->sc->scram_iterations > 0 && strncmp(mech, "SCRAM-", 6) == 0) {
            ok = auth_scram_hostile(s, initial);
        } else {
#ifdef HAVE_LIBGSASL
            ok = auth_gsasl(s, mech, initial);
#else
            event("AUTH %s needs GNU SASL", mech);
            ok = false;
#endif
        }
        event("AUTH %s %s", mech, ok ? "ok" : "fail");
        if (s->eof) {
            free(initial);
            s->closed = true;
            return;
        }
        s->authenticated = ok;
        send_str(s, ok ? "235 2.7.0 authentication successful\r\n"
                       : "535 5.7.8 authentication credentials invalid\r\n");
    }
    free(initial);
}

/* The default EHLO reply: the README's defaults, plus STARTTLS (starttls,
 * before TLS) and AUTH (auth, unless auth-requires-tls without TLS). */
static char *default_ehlo(const struct session *s)
{
    const struct script *sc = s->sc;
    size_t cap = 256 + (sc->auth_mechs ? strlen(sc->auth_mechs) : 0);
    char *r = xrealloc_or_die(NULL, cap);
    snprintf(r, cap, "250-mx.test greets you\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
             "250-SIZE 10240000\r\n250-DSN\r\n%s%s%s%s%s250 ENHANCEDSTATUSCODES\r\n",
             sc->chunking ? "250-CHUNKING\r\n" : "",
             sc->starttls && !s->io.tls ? "250-STARTTLS\r\n" : "",
             sc->auth_mechs && (s->io.tls || !sc->auth_requires_tls) ? "250-AUTH " : "",
             sc->auth_mechs && (s->io.tls || !sc->auth_requires_tls) ? sc->auth_mechs : "",
             sc->auth_mechs && (s->io.tls || !sc->auth_requires_tls) ? "\r\n" : "");
    return r;
}

/* Default replies (README: "Defaults"); EHLO's is default_ehlo(). */
static const char *default_reply(const char *key)
{
    if (strcmp(key, "CONNECT") == 0)
        return "220 mx.test ESMTP smtpd-script ready\r\n";
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

/* The default reply to a BDAT chunk (README: "CHUNKING"). */
static char *default_bdat(const struct session *s)
{
    char *r = xrealloc_or_die(NULL, 128);
    if (s->rcpts_ok == 0)
        snprintf(r, 128, "554 5.5.1 no valid recipients\r\n");
    else if (s->bdat_last)
        snprintf(r, 128, "250 2.0.0 queued as 1234 (%lld octets)\r\n", s->bdat_total);
    else
        snprintf(r, 128, "250 2.0.0 %lld octets received\r\n", s->bdat_size);
    return r;
}

/* Send a reply as a rule says: all at once, one byte every d->ms
 * (drip-reply), or one line every d->ms (slow-lines). The pauses end
 * early when the server is told to stop; a client that went away ends
 * the sending (send_bytes marks the session closed). */
static void send_paced(struct session *s, const char *p, size_t n, const struct rule *d)
{
    if (!d) {
        send_bytes(s, p, n);
        return;
    }
    size_t i = 0;
    while (i < n && !s->closed && !terminating) {
        size_t step = 1;
        if (d->kind == RK_SLOW_LINES) {
            const char *nl = memchr(p + i, '\n', n - i);
            step = nl ? (size_t)(nl - (p + i)) + 1 : n - i;
        }
        if (i > 0)
            sleep_ms(d->ms);
        send_bytes(s, p + i, step);
        i += step;
    }
}

/* endless-reply: the text again and again until the client goes away or
 * the server is told to stop (SIGPIPE is ignored: a write error ends it). */
static void send_endless(struct session *s, const struct rule *ru)
{
    event("endless reply");
    while (!s->closed && !terminating)
        send_bytes(s, ru->data, ru->len);
    s->closed = true;
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
    const struct rule *endless = find_rule(sc, RK_ENDLESS, key, nth, s->conn_no);
    if (endless) {
        send_endless(s, endless);
        return;
    }
    const struct rule *pace = find_rule(sc, RK_DRIP, key, nth, s->conn_no);
    if (!pace)
        pace = find_rule(sc, RK_SLOW_LINES, key, nth, s->conn_no);
    const struct rule *ru = find_rule(sc, RK_REPLY, key, nth, s->conn_no);
    bool is_starttls = strcmp(key, "STARTTLS") == 0;
    bool is_ehlo = strcmp(key, "EHLO") == 0;
    if (!ru && strcmp(key, "AUTH") == 0 && sc->auth_mechs) {
        handle_auth(s);
        return;
    }
    if (!ru && sc->require_auth && !s->authenticated
        && (strcmp(key, "MAIL") == 0 || strcmp(key, "RCPT") == 0 || strcmp(key, "DATA") == 0
            || strcmp(key, "BDAT") == 0)) {
        event("%s before AUTH", key);
        send_str(s, "530 5.7.0 authentication required\r\n");
        return;
    }
    char *dynamic = NULL;
    const char *reply;
    if (ru)
        reply = ru->data;
    else if (is_ehlo)
        reply = dynamic = default_ehlo(s);
    else if (strcmp(key, "BDAT") == 0)
        reply = dynamic = default_bdat(s);
    else if (is_starttls && sc->starttls && !s->io.tls)
        reply = "220 2.0.0 ready to start TLS\r\n";
    else if (is_starttls && s->io.tls)
        reply = "503 5.5.1 TLS already active\r\n";
    else
        reply = default_reply(key);
    size_t rlen = ru ? ru->len : strlen(reply);
    /* An LMTP server's LHLO reply offers extensions as EHLO's does. */
    if (is_ehlo || strcmp(key, "LHLO") == 0) {
        s->pipelining_offered = memmem(reply, rlen, "PIPELINING", 10) != NULL;
        data_check_ehlo(&s->dc, reply, rlen);
    }
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
        send_paced(s, reply, rlen, pace);
    }
    if (strcmp(key, "DATA") == 0 && rlen >= 3 && memcmp(reply, "354", 3) == 0) {
        s->in_data = true;
        s->data_match = 2;   /* DATA\r\n counts as the leading CRLF */
    }
    if (strcmp(key, "QUIT") == 0 && rlen >= 1 && reply[0] == '2')
        s->closed = true;
    if (find_rule(sc, RK_HANGUP, key, nth, s->conn_no))
        s->closed = true;
    /* The transaction, for BDAT's default reply. */
    if (strcmp(key, "MAIL") == 0 || strcmp(key, "RSET") == 0 || strcmp(key, ".") == 0
        || (strcmp(key, "BDAT") == 0 && (s->bdat_last || reply[0] != '2'))) {
        s->rcpts_ok = 0;
        s->bdat_total = 0;
    } else if (strcmp(key, "RCPT") == 0 && rlen >= 1 && reply[0] == '2') {
        s->rcpts_ok++;
    }
    if (is_starttls && sc->starttls && !s->io.tls && rlen >= 3 && memcmp(reply, "220", 3) == 0
        && !s->closed) {
        /* RFC 3207: nothing may follow STARTTLS before the handshake. */
        if (s->len > 0) {
            event("PIPELINED AFTER STARTTLS");
            s->len = 0;
        }
        if (start_tls(s) == 0) {
            s->authenticated = false;      /* RFC 3207 4.2: forget everything */
            s->pipelining_offered = false;
        }
    }
    free(dynamic);
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

/* On MAIL with require-pipelining (AUTH with require-auth-pipelining):
 * the rest of the group (…DATA\r\n) must already be on its way. Wait up
 * to 2 s without answering; record "NOT PIPELINED" (label "AUTH NOT
 * PIPELINED") if it does not come. */
/* A complete "BDAT ..." command line is in the buffer. */
static bool buffer_has_bdat(const struct session *s)
{
    for (size_t i = 0; i + 5 <= s->len; i++) {
        if ((i == 0 || s->buf[i - 1] == '\n') && strncasecmp(s->buf + i, "BDAT ", 5) == 0
            && memchr(s->buf + i, '\n', s->len - i))
            return true;
    }
    return false;
}

static void check_pipelined_as(struct session *s, const char *label)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (!buffer_has(s, "DATA\r\n") && !buffer_has(s, "data\r\n") && !buffer_has_bdat(s)) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long elapsed = (now.tv_sec - start.tv_sec) * 1000L
                     + (now.tv_nsec - start.tv_nsec) / 1000000L;
        if (elapsed >= 2000 || fill(s, (int)(2000 - elapsed)) < 0) {
            event("%s", label);
            return;
        }
    }
}

static void check_pipelined(struct session *s)
{
    check_pipelined_as(s, "NOT PIPELINED");
}

/* Parse "BDAT n [LAST]" (line without CRLF). Returns 0 or -1. */
static int parse_bdat(const char *line, long long *size, bool *last)
{
    const char *p = line + 4;
    if (*p != ' ')
        return -1;
    while (*p == ' ')
        p++;
    if (!isdigit((unsigned char)*p))
        return -1;
    long long n = 0;
    for (; isdigit((unsigned char)*p); p++) {
        if (n > (1LL << 40))
            return -1;
        n = n * 10 + (*p - '0');
    }
    *last = false;
    while (*p == ' ')
        p++;
    if (strncasecmp(p, "LAST", 4) == 0) {
        *last = true;
        p += 4;
        while (*p == ' ')
            p++;
    }
    if (*p)
        return -1;
    *size = n;
    return 0;
}

/* Read the n octets of a BDAT chunk (they are logged as they come) and
 * drop them from the buffer. Returns 0, or -1 when the client went away
 * (event "EOF in BDAT") or bdat-cut closed the connection. */
static int read_chunk(struct session *s, long long n)
{
    long long got = 0;
    while (got < n) {
        if (s->len == 0 && fill(s, -1) < 0) {
            event("EOF in BDAT");
            return -1;
        }
        size_t take = s->len;
        if ((long long)take > n - got)
            take = (size_t)(n - got);
        if (s->sc->bdat_cut >= 0 && got + (long long)take >= s->sc->bdat_cut) {
            event("BDAT cut after %lld octets", s->sc->bdat_cut);
            s->closed = true;
            return -1;
        }
        if (s->sc->check_data)
            data_check_feed(&s->dc, s->buf, take, false);
        consume(s, take);
        got += (long long)take;
    }
    return 0;
}

/* Input that arrived before our reply to KEY. Without PIPELINING nothing
 * may be sent ahead of a reply (RFC 5321 4.1.1, RFC 2920), and nothing may
 * follow the end of a message before its reply (servers that defend
 * against SMTP smuggling refuse that). Records the events; with
 * strict-pipelining or refuse-after-data, answers as the servers that
 * enforce these rules do and returns true: KEY is not answered normally. */
static bool refuse_ahead(struct session *s, const char *key, bool end_of_data)
{
    if (s->len == 0 || s->silent || s->closed)
        return false;
    bool unpipelined = !s->pipelining_offered;
    if (unpipelined)
        event("PIPELINED WITHOUT PIPELINING after %s", key);
    if (end_of_data)
        event("PIPELINED AFTER END OF DATA");
    if (unpipelined && s->sc->strict_pipelining) {
        bump_count(s, key);
        send_str(s, "500 5.5.1 Invalid command: Pipelining not supported\r\n");
        s->closed = true;
        return true;
    }
    if (end_of_data && s->sc->refuse_after_data) {
        bump_count(s, key);
        send_str(s, "503 5.5.0 command pipelined after end of DATA: message refused\r\n");
        s->rcpts_ok = 0;
        s->bdat_total = 0;
        return true;
    }
    return false;
}

static void serve(struct session *s)
{
    respond(s, "CONNECT");
    size_t scanned = 0;
    while (!s->closed) {
        if (s->in_data) {
            size_t end = scan_data(s, &scanned);
            if (end) {
                if (s->sc->check_data) {
                    /* The data without its final ".\r\n" (the CRLF before
                     * it ends the last line). */
                    data_check_feed(&s->dc, s->buf, end - 3, true);
                    data_check_end(&s->dc, data_event);
                }
                consume(s, end);
                s->in_data = false;
                if (!refuse_ahead(s, ".", true))
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
        size_t keep = n;
        while (keep > 0 && (s->buf[keep - 1] == '\n' || s->buf[keep - 1] == '\r'))
            keep--;
        char *line = xrealloc_or_die(NULL, keep + 1);
        memcpy(line, s->buf, keep);
        line[keep] = '\0';
        consume(s, n);
        if (strcmp(key, "BDAT") == 0 && !s->silent) {
            long long size;
            bool last;
            if (parse_bdat(line, &size, &last) != 0) {
                event("BAD BDAT");
                send_str(s, "501 5.5.4 syntax: BDAT size [LAST]\r\n");
                free(line);
                continue;
            }
            if (read_chunk(s, size) != 0) {
                free(line);
                return;
            }
            s->bdat_size = size;
            s->bdat_last = last;
            s->bdat_total += size;
            if (last && s->sc->check_data)
                data_check_end(&s->dc, data_event);
        }
        /* A client must wait for each reply unless PIPELINING was offered,
         * and for the reply to the end of a message in any case. */
        if (refuse_ahead(s, key, strcmp(key, "BDAT") == 0 && s->bdat_last)) {
            free(line);
            continue;
        }
        if (s->sc->check_data && strcmp(key, "MAIL") == 0)
            data_check_mail(&s->dc, line, keep, data_event);
        else if (s->sc->check_data && strcmp(key, "RCPT") == 0)
            data_check_rcpt(&s->dc, line, keep);
        else if (strcmp(key, "RSET") == 0)
            data_check_reset(&s->dc);
        if (strcmp(key, "MAIL") == 0 && s->sc->require_pipelining && !s->silent)
            check_pipelined(s);
        if (strcmp(key, "AUTH") == 0 && s->sc->require_auth_pipelining && !s->silent)
            check_pipelined_as(s, "AUTH NOT PIPELINED");
        s->line = line;
        s->line_len = keep;
        respond(s, key);
        s->line = NULL;
        free(line);
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
    if (!sc->implicit_tls || start_tls(&s) == 0)
        serve(&s);
    if (s.silent && !s.eof) {
        s.len = 0;
        drain(&s);
    } else if (s.closed && !s.eof) {
        /* Log what is already buffered in the kernel, without waiting. */
        while (fill(&s, 0) > 0)
            s.len = 0;
    }
    end_tls(&s);
    free(s.buf);
    data_check_free(&s.dc);
    close(fd);
}

int main(int argc, char **argv)
{
    const char *script_path = NULL, *log_path = NULL, *port_path = NULL, *events_path = NULL;
    const char *cert_path = NULL, *key_path = NULL;
    const char *listen_addr = "127.0.0.1";
    int listen_fd = -1, listen_port = 0;
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
        else if (strcmp(a, "--tls-cert") == 0 && v)
            cert_path = argv[++i];
        else if (strcmp(a, "--tls-key") == 0 && v)
            key_path = argv[++i];
        else if (strcmp(a, "--listen-fd") == 0 && v)
            listen_fd = atoi(argv[++i]);
        else if (strcmp(a, "--address") == 0 && v)
            listen_addr = argv[++i];
        else if (strcmp(a, "--port") == 0 && v)
            listen_port = atoi(argv[++i]);
        else
            die("usage: smtpd-script --script FILE --log FILE --port-file FILE [--events FILE]"
                " [--tls-cert FILE --tls-key FILE] [--listen-fd FD | --address ADDR"
                " --port N]");
    }
    if (!log_path || !port_path)
        die("--log and --port-file are required");

    struct script sc;
    load_script(script_path, &sc);
    if (sc.tls_cert)
        cert_path = sc.tls_cert;
    if (sc.tls_key)
        key_path = sc.tls_key;

    if (gnutls_global_init() < 0)
        die("gnutls_global_init failed");
    if (sc.starttls || sc.implicit_tls) {
        if (!cert_path || !key_path)
            die("starttls/implicit-tls need --tls-cert and --tls-key (or tls-cert/tls-key)");
        int r = gnutls_certificate_allocate_credentials(&tls_creds);
        if (r >= 0)
            r = gnutls_certificate_set_x509_key_file(tls_creds, cert_path, key_path,
                                                     GNUTLS_X509_FMT_PEM);
        if (r < 0)
            die("cannot load %s / %s: %s", cert_path, key_path, gnutls_strerror(r));
        if (sc.tls_client_ca) {
            r = gnutls_certificate_set_x509_trust_file(tls_creds, sc.tls_client_ca,
                                                       GNUTLS_X509_FMT_PEM);
            if (r < 0)
                die("cannot load %s: %s", sc.tls_client_ca, gnutls_strerror(r));
        }
    }
#ifdef HAVE_LIBGSASL
    if (gsasl_init(&sasl_ctx) != GSASL_OK)
        die("gsasl_init failed");
    gsasl_callback_set(sasl_ctx, sasl_callback);
#endif

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

    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    int one = 1;
    int lfd = listen_fd;
    if (lfd >= 0) {
        /* --listen-fd: a socket the harness already bound (multi-step
         * cases keep one port while the server is down between steps). */
        fcntl(lfd, F_SETFD, FD_CLOEXEC);
        if (listen(lfd, 16) < 0)
            die("listen on fd %d: %s", lfd, strerror(errno));
    } else {
        /* --address: numeric IPv4 or IPv6 (default 127.0.0.1). */
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        if (listen_port < 0 || listen_port > 65535)
            die("bad --port %d", listen_port);
        if (inet_pton(AF_INET, listen_addr, &s4->sin_addr) == 1) {
            s4->sin_family = AF_INET;
            s4->sin_port = htons((unsigned short)listen_port);
            sl = sizeof *s4;
        } else if (inet_pton(AF_INET6, listen_addr, &s6->sin6_addr) == 1) {
            s6->sin6_family = AF_INET6;
            s6->sin6_port = htons((unsigned short)listen_port);
            sl = sizeof *s6;
        } else {
            die("bad --address %s (a numeric IPv4 or IPv6 address)", listen_addr);
        }
        lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (lfd < 0)
            die("socket: %s", strerror(errno));
        setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (ss.ss_family == AF_INET6)
            setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        if (bind(lfd, (struct sockaddr *)&ss, sl) < 0 || listen(lfd, 16) < 0)
            die("bind/listen on %s port %d: %s", listen_addr, listen_port, strerror(errno));
    }
    sl = sizeof ss;
    if (getsockname(lfd, (struct sockaddr *)&ss, &sl) < 0)
        die("getsockname: %s", strerror(errno));
    int bound_port = ss.ss_family == AF_INET6
                         ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                         : ntohs(((struct sockaddr_in *)&ss)->sin_port);

    /* Readiness: the port file appears atomically. */
    size_t plen = strlen(port_path);
    char *tmp = xrealloc_or_die(NULL, plen + 5);
    memcpy(tmp, port_path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    FILE *pf = fopen(tmp, "w");
    if (!pf || fprintf(pf, "%d\n", bound_port) < 0 || fclose(pf) != 0)
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
    for (size_t i = 0; i < sc.nusers; i++) {
        free(sc.users[i].name);
        free(sc.users[i].secret);
    }
    free(sc.users);
    free(sc.tls_cert);
    free(sc.tls_key);
    free(sc.tls_priority);
    free(sc.tls_client_ca);
    free(sc.auth_mechs);
    if (tls_creds)
        gnutls_certificate_free_credentials(tls_creds);
#ifdef HAVE_LIBGSASL
    gsasl_done(sasl_ctx);
#endif
    gnutls_global_deinit();
    return 0;
}
