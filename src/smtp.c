/*
 * smtp.c - the SMTP/LMTP client state machine (see smtp.h).
 *
 * Owns: the state enum and its name table, entering a state (which sends
 * that state's command: smtp_enter -> smtp_send_state), handling each
 * reply by switching on the state (smtp_handle_reply), strict reply
 * parsing, capabilities, the pipelined MAIL/RCPT/DATA group, the
 * dot-stuffed body, and the classification of every refusal.
 *
 * Must not: touch a socket (everything goes through conn.[ch]), or send
 * anything after a fatal error (network, timeout, protocol, 421).
 */
#include <autoconfig.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "i18n.h"
#include "idn.h"
#include "log.h"
#include "smtp.h"

enum smtp_state {
    SMTP_GREETING,
    SMTP_EHLO,
    SMTP_HELO,
    SMTP_STARTTLS,
    SMTP_AUTH,
    SMTP_READY,
    SMTP_MAIL,
    SMTP_RCPT,
    SMTP_DATA,
    SMTP_BODY,
    SMTP_DOT,
    SMTP_RSET,
    SMTP_QUIT,
    SMTP_CLOSED,
};

static const char *const smtp_state_names[] = {
    [SMTP_GREETING] = "GREETING",
    [SMTP_EHLO] = "EHLO",
    [SMTP_HELO] = "HELO",
    [SMTP_STARTTLS] = "STARTTLS",
    [SMTP_AUTH] = "AUTH",
    [SMTP_READY] = "READY",
    [SMTP_MAIL] = "MAIL",
    [SMTP_RCPT] = "RCPT",
    [SMTP_DATA] = "DATA",
    [SMTP_BODY] = "BODY",
    [SMTP_DOT] = "DOT",
    [SMTP_RSET] = "RSET",
    [SMTP_QUIT] = "QUIT",
    [SMTP_CLOSED] = "CLOSED",
};

/* RFC 5321 4.5.3.2 timeouts, seconds. */
#define SMTP_TMO_GREETING 300
#define SMTP_TMO_COMMAND  300
#define SMTP_TMO_DATA     120
#define SMTP_TMO_BLOCK    180
#define SMTP_TMO_DOT      600
#define SMTP_TMO_QUIT     10     /* ours: QUIT must not hold us up */

#define SMTP_BODY_CHUNK   (256 * 1024)

/* The transaction in progress. */
struct smtp_txn {
    struct smtp_message *m;
    char *sender;             /* as sent (A-labels when converted) */
    char **rcpts;             /* as sent */
    bool pipelined;           /* MAIL, RCPTs and DATA went out together */
    bool use_smtputf8;
    bool mail_ok;
    size_t next_rcpt;         /* whose RCPT reply is read next */
    size_t naccepted;
    size_t next_dot;          /* LMTP: next accepted recipient to get a "." reply */
    size_t ndot;              /* LMTP: "." replies read */
    bool empty_data;          /* 354 although nobody was accepted: send "." only */
};

struct smtp_session {
    struct conn *c;
    struct smtp_params p;
    enum smtp_state state;
    bool alive;
    bool quit_sent;
    struct smtp_caps caps;
    char *greeting;
    struct smtp_reply last;
    struct smtp_reply decisive;   /* last reply that decided something (for logs) */
    struct smtp_txn *t;
    char line[SMTP_MAX_LINE + 3];
};

/* ---------------------------------------------------------------- */
/* small helpers */

/* A printable, bounded copy of untrusted bytes for messages. */
static char *smtp_escape(const char *s, size_t len, size_t max)
{
    struct buf b = BUF_INIT;
    size_t n = len > max ? max : len;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\\')
            buf_puts(&b, "\\\\");
        else if (ch < 0x20 || ch >= 0x7f)
            buf_printf(&b, "\\x%02x", ch);
        else
            buf_putc(&b, (char)ch);
    }
    if (len > max)
        buf_puts(&b, "...");
    return buf_steal(&b);
}

/* The reply on one line, for messages ("550-a 550 b"). */
static char *smtp_reply_oneline(const struct smtp_reply *rep)
{
    char *t = xstrdup(rep->text ? rep->text : "");
    for (char *p = t; *p; p++)
        if (*p == '\n')
            *p = ' ';
    return t;
}

/* Keep the earliest failure: move src into dst unless dst already has one. */
static void smtp_keep_first(struct result *dst, struct result *src)
{
    if (src->cls == RC_OK)
        return;
    if (dst->cls == RC_OK)
        result_move(dst, src);
    else
        result_clear(src);
}

static int smtp_timeout_ms(const struct smtp_session *s, int default_s)
{
    int t = default_s;
    if (s->p.timeout_s > 0 && s->p.timeout_s < t)
        t = s->p.timeout_s;
    return t * 1000;
}

/* The reply timeout for a state. */
static int smtp_state_timeout(const struct smtp_session *s, enum smtp_state st)
{
    switch (st) {
    case SMTP_GREETING: return smtp_timeout_ms(s, SMTP_TMO_GREETING);
    case SMTP_DATA:     return smtp_timeout_ms(s, SMTP_TMO_DATA);
    case SMTP_BODY:     return smtp_timeout_ms(s, SMTP_TMO_BLOCK);
    case SMTP_DOT:      return smtp_timeout_ms(s, SMTP_TMO_DOT);
    case SMTP_QUIT:     return smtp_timeout_ms(s, SMTP_TMO_QUIT);
    default:            return smtp_timeout_ms(s, SMTP_TMO_COMMAND);
    }
}

static bool smtp_is_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return false;
    return true;
}

/* ---------------------------------------------------------------- */
/* reply parsing */

/* Length of the valid UTF-8 sequence at p (n bytes left) that is not a
 * C1 control character, or 0. p[0] >= 0x80. */
static size_t smtp_utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        need = 1;
        if (c == 0xc2)
            lo = 0xa0;          /* U+0080..U+009F are C1 controls */
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 2;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 3;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (n < need + 1)
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i <= need; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return need + 1;
}

static int smtp_bad_line(const char *line, size_t len, const char *why, struct result *r)
{
    char *q = smtp_escape(line, len, 200);
    result_set(r, RC_PROTOCOL, _("the server sent an invalid reply line (%s): \"%s\""), why, q);
    free(q);
    return -1;
}

int smtp_parse_reply_line(const char *line, size_t len, int *code, bool *more,
                          const char **text, struct result *r)
{
    *code = 0;
    *more = false;
    *text = NULL;
    if (len > SMTP_MAX_LINE)
        return smtp_bad_line(line, len, _("line too long"), r);
    if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9'
        || line[2] < '0' || line[2] > '9')
        return smtp_bad_line(line, len, _("no valid reply code"), r);
    if (len > 3 && line[3] != ' ' && line[3] != '-')
        return smtp_bad_line(line, len, _("unexpected character after the reply code"), r);
    const unsigned char *p = (const unsigned char *)line;
    for (size_t i = 4; i < len;) {
        if (p[i] >= 0x80) {
            size_t n = smtp_utf8_len(p + i, len - i);
            if (n == 0)
                return smtp_bad_line(line, len, _("invalid UTF-8 or control character"), r);
            i += n;
            continue;
        }
        if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f)
            return smtp_bad_line(line, len, _("control character"), r);
        i++;
    }
    *code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    *more = len > 3 && line[3] == '-';
    *text = len > 3 ? line + 4 : line + 3;
    return 0;
}

/* "x.y.z" at the start of text with x matching the reply class. */
static void smtp_parse_enhanced(const char *text, int code, char out[16])
{
    out[0] = '\0';
    const char *p = text;
    if (*p != '0' + code / 100 || p[1] != '.')
        return;
    p += 2;
    for (int part = 0; part < 2; part++) {
        int digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 4) {
            p++;
            digits++;
        }
        if (digits < 1 || digits > 3)
            return;
        if (part == 0) {
            if (*p != '.')
                return;
            p++;
        }
    }
    if (*p != '\0' && *p != ' ' && *p != '\t')
        return;
    size_t n = (size_t)(p - text);
    memcpy(out, text, n);
    out[n] = '\0';
}

/* Read one complete reply into s->last. Failures go to r (first kept). */
static int smtp_read_reply(struct smtp_session *s, int timeout_ms, struct result *r)
{
    struct result lr = RESULT_INIT;
    struct buf text = BUF_INIT;
    int first = 0;
    size_t nlines = 0;

    free(s->last.text);
    s->last.text = NULL;
    s->last.code = 0;
    s->last.enhanced[0] = '\0';
    s->last.nlines = 0;

    for (;;) {
        size_t len = 0;
        if (conn_read_line(s->c, s->line, sizeof s->line, &len, timeout_ms, &lr) != 0) {
            if (lr.cls == RC_PROTOCOL) {
                char *q = smtp_escape(s->line, len, 200);
                result_replace(&lr, RC_PROTOCOL,
                               _("the server sent an over-long reply line (more than %d "
                                 "octets): \"%s\""), SMTP_MAX_LINE, q);
                free(q);
            }
            goto fail;
        }
        log_transcript('<', s->line, len);
        int code;
        bool more;
        const char *t;
        if (smtp_parse_reply_line(s->line, len, &code, &more, &t, &lr) != 0)
            goto fail;
        if (nlines == 0) {
            first = code;
            smtp_parse_enhanced(t, code, s->last.enhanced);
        } else if (code != first) {
            char *q = smtp_escape(s->line, len, 200);
            result_set(&lr, RC_PROTOCOL,
                       _("the server sent a multi-line reply with different codes (%d, "
                         "then \"%s\")"), first, q);
            free(q);
            goto fail;
        }
        if (nlines == SMTP_MAX_LINES) {
            result_set(&lr, RC_PROTOCOL,
                       _("the server sent a reply of more than %d lines"), SMTP_MAX_LINES);
            goto fail;
        }
        if (nlines)
            buf_putc(&text, '\n');
        buf_append(&text, s->line, len);
        nlines++;
        if (!more)
            break;
    }
    s->last.code = first;
    s->last.nlines = nlines;
    s->last.text = buf_steal(&text);
    return 0;

fail:
    buf_free(&text);
    s->last.enhanced[0] = '\0';
    smtp_keep_first(r, &lr);
    return -1;
}

/* ---------------------------------------------------------------- */
/* capabilities */

static void smtp_add_auth_mechs(struct smtp_caps *caps, const char *p, const char *end)
{
    struct buf b = BUF_INIT;
    if (caps->auth)
        buf_puts(&b, caps->auth);
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        const char *w = p;
        while (p < end && *p != ' ' && *p != '\t')
            p++;
        if (p == w)
            break;
        char *mech = xstrndup(w, (size_t)(p - w));
        for (char *q = mech; *q; q++)
            if (*q >= 'a' && *q <= 'z')
                *q = (char)(*q - 'a' + 'A');
        bool dup = false;
        if (b.data) {
            size_t ml = strlen(mech);
            for (const char *q = b.data; *q;) {
                const char *e = strchr(q, ' ');
                size_t l = e ? (size_t)(e - q) : strlen(q);
                if (l == ml && memcmp(q, mech, ml) == 0)
                    dup = true;
                q += l;
                if (*q == ' ')
                    q++;
            }
        }
        if (!dup) {
            if (b.len)
                buf_putc(&b, ' ');
            buf_puts(&b, mech);
        }
        free(mech);
    }
    free(caps->auth);
    caps->auth = b.len ? buf_steal(&b) : NULL;
    buf_free(&b);
}

/* k (kl bytes) is the keyword name, case-insensitively. */
static bool smtp_keyword_is(const char *k, size_t kl, const char *name)
{
    return kl == strlen(name) && ascii_strncasecmp(k, name, kl) == 0;
}

/* One EHLO keyword line (text after "250-"). */
static void smtp_parse_cap(struct smtp_caps *caps, const char *p, const char *end)
{
    const char *k = p;
    while (p < end && *p != ' ' && *p != '=')
        p++;
    size_t kl = (size_t)(p - k);
    if (smtp_keyword_is(k, kl, "PIPELINING")) {
        caps->pipelining = true;
    } else if (smtp_keyword_is(k, kl, "SIZE")) {
        caps->size = true;
        caps->size_max = 0;
        while (p < end && *p == ' ')
            p++;
        unsigned long long v = 0;
        bool ok = p < end;
        for (; p < end && *p >= '0' && *p <= '9'; p++) {
            if (v > (~0ULL - 9) / 10) {
                ok = false;
                break;
            }
            v = v * 10 + (unsigned)(*p - '0');
        }
        if (ok && (p == end || *p == ' '))
            caps->size_max = v;
    } else if (smtp_keyword_is(k, kl, "8BITMIME")) {
        caps->eightbitmime = true;
    } else if (smtp_keyword_is(k, kl, "SMTPUTF8")) {
        caps->smtputf8 = true;
    } else if (smtp_keyword_is(k, kl, "DSN")) {
        caps->dsn = true;
    } else if (smtp_keyword_is(k, kl, "STARTTLS")) {
        caps->starttls = true;
    } else if (smtp_keyword_is(k, kl, "ENHANCEDSTATUSCODES")) {
        caps->enhancedstatuscodes = true;
    } else if (smtp_keyword_is(k, kl, "CHUNKING")) {
        caps->chunking = true;
    } else if (smtp_keyword_is(k, kl, "AUTH")) {
        if (p < end)
            p++;                /* ' ' or '=' */
        smtp_add_auth_mechs(caps, p, end);
    }
}

static void smtp_parse_caps(struct smtp_caps *caps, const char *text)
{
    const char *line = strchr(text, '\n');   /* the first line is the greeting */
    while (line) {
        line++;
        const char *end = strchr(line, '\n');
        const char *stop = end ? end : line + strlen(line);
        if (stop - line > 4)
            smtp_parse_cap(caps, line + 4, stop);
        line = end;
    }
}

/* ---------------------------------------------------------------- */
/* sending */

static void smtp_lost(struct smtp_session *s)
{
    if (s->state != SMTP_CLOSED)
        log_debug(2, _("smtp: %s -> %s"), smtp_state_names[s->state],
                  smtp_state_names[SMTP_CLOSED]);
    s->state = SMTP_CLOSED;
    s->alive = false;
}

/* Queue one command line (CRLF added) and show it in the transcript. */
static int smtp_cmd(struct smtp_session *s, const char *line, int timeout_ms, struct result *r)
{
    log_transcript('>', line, strlen(line));
    size_t n = strlen(line);
    if (conn_write(s->c, line, n, timeout_ms, r) != 0)
        return -1;
    return conn_write(s->c, "\r\n", 2, timeout_ms, r);
}

static char *smtp_mail_command(const struct smtp_session *s, const struct smtp_txn *t)
{
    const struct smtp_message *m = t->m;
    struct buf b = BUF_INIT;
    buf_printf(&b, "MAIL FROM:<%s>", t->sender);
    if (s->caps.size)
        buf_printf(&b, " SIZE=%lld", m->size);
    if (m->body_8bit && s->caps.eightbitmime)
        buf_puts(&b, " BODY=8BITMIME");
    if (t->use_smtputf8)
        buf_puts(&b, " SMTPUTF8");
    if (s->caps.dsn && m->dsn_return)
        buf_printf(&b, " RET=%s", m->dsn_return);
    if (s->caps.dsn && m->dsn_envid) {
        char *x = smtp_xtext(m->dsn_envid);
        buf_printf(&b, " ENVID=%s", x);
        free(x);
    }
    return buf_steal(&b);
}

static char *smtp_rcpt_command(const struct smtp_session *s, const struct smtp_txn *t, size_t i)
{
    struct buf b = BUF_INIT;
    buf_printf(&b, "RCPT TO:<%s>", t->rcpts[i]);
    if (s->caps.dsn && t->m->dsn_notify)
        buf_printf(&b, " NOTIFY=%s", t->m->dsn_notify);
    return buf_steal(&b);
}

/* Stream the message file, dot-stuffed, in large writes. */
static int smtp_send_body(struct smtp_session *s, struct result *r)
{
    const struct smtp_message *m = s->t->m;
    int tmo = smtp_state_timeout(s, SMTP_BODY);
    char *in = xmalloc(SMTP_BODY_CHUNK);
    char *out = xmalloc(2 * SMTP_BODY_CHUNK + 2);
    off_t off = 0;
    bool bol = true;            /* at the beginning of a line */
    long long total = 0;
    int rc = 0;

    for (;;) {
        ssize_t n = pread(m->fd, in, SMTP_BODY_CHUNK, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            result_set(r, RC_IOERR, _("cannot read the message file: %s"), strerror(errno));
            rc = -1;
            break;
        }
        if (n == 0)
            break;
        off += n;
        size_t olen = 0;
        const char *p = in, *end = in + n;
        while (p < end) {
            if (bol && *p == '.')
                out[olen++] = '.';
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *stop = nl ? nl + 1 : end;
            memcpy(out + olen, p, (size_t)(stop - p));
            olen += (size_t)(stop - p);
            bol = nl != NULL;
            p = stop;
        }
        if (conn_write(s->c, out, olen, tmo, r) != 0) {
            rc = -1;
            break;
        }
        total += (long long)olen;
    }
    if (rc == 0 && !bol) {
        /* The canonical file always ends in CRLF; never let a body end
         * without one, or "." would not be a line of its own. */
        rc = conn_write(s->c, "\r\n", 2, tmo, r);
        total += 2;
    }
    free(in);
    free(out);
    if (rc == 0)
        log_debug(1, _("(%lld bytes of message data)"), total);
    return rc;
}

static int smtp_enter(struct smtp_session *s, enum smtp_state st, struct result *r);

/* Send what state st needs. */
static int smtp_send_state(struct smtp_session *s, struct result *r)
{
    struct smtp_txn *t = s->t;
    int tmo = smtp_state_timeout(s, s->state);
    char *cmd = NULL;
    int rc = 0;

    switch (s->state) {
    case SMTP_GREETING:
    case SMTP_READY:
    case SMTP_CLOSED:
        return 0;
    case SMTP_EHLO:
        cmd = xasprintf("%s %s", s->p.lmtp ? "LHLO" : "EHLO", s->p.helo_domain);
        break;
    case SMTP_HELO:
        cmd = xasprintf("HELO %s", s->p.helo_domain);
        break;
    case SMTP_STARTTLS:
        result_set(r, RC_UNAVAILABLE, _("STARTTLS is not supported in this version"));
        return -1;
    case SMTP_AUTH:
        result_set(r, RC_UNAVAILABLE, _("authentication is not supported in this version"));
        return -1;
    case SMTP_MAIL:
        cmd = smtp_mail_command(s, t);
        rc = smtp_cmd(s, cmd, tmo, r);
        free(cmd);
        if (rc == 0 && t->pipelined) {
            /* The whole group in one write (RFC 2920). */
            for (size_t i = 0; rc == 0 && i < t->m->nrcpts; i++) {
                cmd = smtp_rcpt_command(s, t, i);
                rc = smtp_cmd(s, cmd, tmo, r);
                free(cmd);
            }
            if (rc == 0)
                rc = smtp_cmd(s, "DATA", tmo, r);
        }
        return rc == 0 ? conn_flush(s->c, tmo, r) : -1;
    case SMTP_RCPT:
        if (t->pipelined)
            return 0;
        cmd = smtp_rcpt_command(s, t, t->next_rcpt);
        break;
    case SMTP_DATA:
        if (t->pipelined)
            return 0;
        cmd = xstrdup("DATA");
        break;
    case SMTP_BODY:
        if (smtp_send_body(s, r) != 0)
            return -1;
        return smtp_enter(s, SMTP_DOT, r);
    case SMTP_DOT:
        rc = smtp_cmd(s, ".", tmo, r);
        if (rc == 0 && t->m->last && !t->empty_data) {
            rc = smtp_cmd(s, "QUIT", tmo, r);
            s->quit_sent = true;
        }
        return rc == 0 ? conn_flush(s->c, smtp_state_timeout(s, SMTP_BODY), r) : -1;
    case SMTP_RSET:
        cmd = xstrdup("RSET");
        break;
    case SMTP_QUIT:
        cmd = xstrdup("QUIT");
        s->quit_sent = true;
        break;
    }
    rc = smtp_cmd(s, cmd, tmo, r);
    free(cmd);
    return rc == 0 ? conn_flush(s->c, tmo, r) : -1;
}

/* Enter state st: trace the transition and send what st needs. */
static int smtp_enter(struct smtp_session *s, enum smtp_state st, struct result *r)
{
    log_debug(2, _("smtp: %s -> %s"), smtp_state_names[s->state], smtp_state_names[st]);
    s->state = st;
    return smtp_send_state(s, r);
}

/* ---------------------------------------------------------------- */
/* handling replies */

/* A failure quoting the last reply: 4xx -> RC_TEMPFAIL, else perm_class. */
static void smtp_refused(struct smtp_session *s, enum result_class perm_class,
                         const char *what, struct result *r)
{
    char *q = smtp_reply_oneline(&s->last);
    result_set(r, s->last.code / 100 == 4 ? RC_TEMPFAIL : perm_class, "%s: %s", what, q);
    free(q);
}

static int smtp_unexpected(struct smtp_session *s, struct result *r)
{
    char *q = smtp_reply_oneline(&s->last);
    result_set(r, RC_PROTOCOL, _("unexpected reply from the server in state %s: %s"),
               smtp_state_names[s->state], q);
    free(q);
    return -1;
}

static void smtp_all_refused(struct smtp_session *s, struct result *r)
{
    const struct smtp_message *m = s->t->m;
    struct buf b = BUF_INIT;
    bool temp = false;
    for (size_t i = 0; i < m->nrcpts; i++) {
        if (m->rcpts[i].status == RCPT_TEMPFAIL)
            temp = true;
        if (b.len)
            buf_puts(&b, "; ");
        buf_printf(&b, "<%s>: %s", m->rcpts[i].addr,
                   m->rcpts[i].reply ? m->rcpts[i].reply : "");
    }
    for (char *p = b.data; p && *p; p++)
        if (*p == '\n')
            *p = ' ';
    result_set(r, temp ? RC_TEMPFAIL : RC_NOUSER,
               _("the server refused every recipient: %s"), b.data ? b.data : "");
    buf_free(&b);
}

/* Where to go after a failed transaction. */
static enum smtp_state smtp_after_failure(const struct smtp_session *s)
{
    return s->quit_sent ? SMTP_CLOSED : SMTP_RSET;
}

static void smtp_set_rcpt(struct smtp_rcpt *rc, const struct smtp_reply *rep)
{
    int cls = rep->code / 100;
    rc->status = cls == 2 ? RCPT_ACCEPTED : cls == 4 ? RCPT_TEMPFAIL : RCPT_PERMFAIL;
    rc->code = rep->code;
    free(rc->reply);
    rc->reply = xstrdup(rep->text ? rep->text : "");
}

static int smtp_handle_dot_lmtp(struct smtp_session *s, struct result *r)
{
    struct smtp_txn *t = s->t;
    struct smtp_message *m = t->m;
    while (t->next_dot < m->nrcpts && m->rcpts[t->next_dot].status != RCPT_ACCEPTED)
        t->next_dot++;
    if (t->next_dot < m->nrcpts) {
        struct smtp_rcpt *rc = &m->rcpts[t->next_dot++];
        smtp_set_rcpt(rc, &s->last);
        if (rc->status == RCPT_ACCEPTED)
            rc->status = RCPT_DELIVERED;
    }
    m->final_code = s->last.code;
    free(m->final_reply);
    m->final_reply = xstrdup(s->last.text);
    if (++t->ndot < t->naccepted)
        return 0;               /* more per-recipient replies to come */
    bool any = false, temp = false;
    for (size_t i = 0; i < m->nrcpts; i++) {
        any |= m->rcpts[i].status == RCPT_DELIVERED;
        temp |= m->rcpts[i].status == RCPT_TEMPFAIL;
    }
    if (!any) {
        char *q = smtp_reply_oneline(&s->last);
        result_set(r, temp ? RC_TEMPFAIL : RC_DATAERR,
                   _("the server refused the message for every recipient: %s"), q);
        free(q);
        return smtp_enter(s, smtp_after_failure(s), r);
    }
    return smtp_enter(s, s->quit_sent ? SMTP_CLOSED : SMTP_READY, r);
}

/* Consume s->last for the current state and choose the next state.
 * Transaction failures are recorded in r and lead to RSET; -1 means the
 * connection is unusable (fatal). */
static int smtp_handle_reply(struct smtp_session *s, struct result *r)
{
    struct smtp_txn *t = s->t;
    int code = s->last.code;
    int cls = code / 100;

    if (code == 421 && s->state != SMTP_QUIT) {
        char *q = smtp_reply_oneline(&s->last);
        result_set(r, RC_TEMPFAIL, _("the server closed the connection: %s"), q);
        free(q);
        return -1;
    }
    if (cls == 3 && s->state != SMTP_DATA && s->state != SMTP_AUTH)
        return smtp_unexpected(s, r);

    switch (s->state) {
    case SMTP_GREETING:
        if (code == 220) {
            free(s->greeting);
            s->greeting = xstrdup(s->last.text);
            return smtp_enter(s, SMTP_EHLO, r);
        }
        if (cls == 2)
            return smtp_unexpected(s, r);
        smtp_refused(s, RC_UNAVAILABLE, _("the server refused the connection"), r);
        return smtp_enter(s, SMTP_QUIT, r);
    case SMTP_EHLO:
        if (cls == 2) {
            smtp_parse_caps(&s->caps, s->last.text);
            s->caps.esmtp = true;
            return smtp_enter(s, SMTP_READY, r);
        }
        if (cls == 5 && !s->p.lmtp)
            return smtp_enter(s, SMTP_HELO, r);
        smtp_refused(s, RC_UNAVAILABLE,
                     s->p.lmtp ? _("the server refused LHLO") : _("the server refused EHLO"), r);
        return smtp_enter(s, SMTP_QUIT, r);
    case SMTP_HELO:
        if (cls == 2)
            return smtp_enter(s, SMTP_READY, r);
        smtp_refused(s, RC_UNAVAILABLE, _("the server refused HELO"), r);
        return smtp_enter(s, SMTP_QUIT, r);
    case SMTP_STARTTLS:
    case SMTP_AUTH:
        return smtp_unexpected(s, r);
    case SMTP_MAIL: {
        if (cls == 2) {
            t->mail_ok = true;
        } else {
            char *what = xasprintf(_("the server refused the sender <%s>"), t->sender);
            smtp_refused(s, RC_DATAERR, what, r);
            free(what);
        }
        if (t->mail_ok || t->pipelined)
            return smtp_enter(s, SMTP_RCPT, r);
        return smtp_enter(s, SMTP_RSET, r);
    }
    case SMTP_RCPT: {
        if (t->mail_ok) {
            struct smtp_rcpt *rc = &t->m->rcpts[t->next_rcpt];
            smtp_set_rcpt(rc, &s->last);
            if (rc->status == RCPT_ACCEPTED)
                t->naccepted++;
        }
        t->next_rcpt++;
        if (t->next_rcpt < t->m->nrcpts)
            return smtp_enter(s, SMTP_RCPT, r);
        if (t->mail_ok && t->naccepted == 0)
            smtp_all_refused(s, r);
        if (t->pipelined || t->naccepted > 0)
            return smtp_enter(s, SMTP_DATA, r);
        return smtp_enter(s, SMTP_RSET, r);
    }
    case SMTP_DATA:
        if (!t->mail_ok || t->naccepted == 0) {
            /* Pipelined DATA after a failure: its reply is ignored. */
            if (code == 354) {
                t->empty_data = true;
                return smtp_enter(s, SMTP_DOT, r);
            }
            return smtp_enter(s, SMTP_RSET, r);
        }
        if (code == 354)
            return smtp_enter(s, SMTP_BODY, r);
        if (cls == 2 || cls == 3)
            return smtp_unexpected(s, r);
        smtp_refused(s, RC_DATAERR, _("the server refused the DATA command"), r);
        return smtp_enter(s, SMTP_RSET, r);
    case SMTP_BODY:
        return smtp_unexpected(s, r);
    case SMTP_DOT:
        if (t->empty_data)
            return smtp_enter(s, SMTP_RSET, r);
        if (s->p.lmtp)
            return smtp_handle_dot_lmtp(s, r);
        t->m->final_code = code;
        free(t->m->final_reply);
        t->m->final_reply = xstrdup(s->last.text);
        if (cls == 2) {
            for (size_t i = 0; i < t->m->nrcpts; i++)
                if (t->m->rcpts[i].status == RCPT_ACCEPTED)
                    t->m->rcpts[i].status = RCPT_DELIVERED;
            return smtp_enter(s, s->quit_sent ? SMTP_CLOSED : SMTP_READY, r);
        }
        smtp_refused(s, RC_DATAERR, _("the server refused the message"), r);
        return smtp_enter(s, smtp_after_failure(s), r);
    case SMTP_RSET:
        if (cls == 2)
            return smtp_enter(s, SMTP_READY, r);
        return smtp_enter(s, SMTP_QUIT, r);
    case SMTP_QUIT:
        s->alive = false;
        return smtp_enter(s, SMTP_CLOSED, r);
    case SMTP_READY:
    case SMTP_CLOSED:
        return smtp_unexpected(s, r);
    }
    return smtp_unexpected(s, r);
}

/* Whether more replies are legitimately in flight after the one just read. */
static bool smtp_expect_more(const struct smtp_session *s)
{
    switch (s->state) {
    case SMTP_MAIL:
    case SMTP_RCPT:
    case SMTP_DATA:
        return s->t && s->t->pipelined;
    case SMTP_GREETING:
    case SMTP_EHLO:
    case SMTP_HELO:
    case SMTP_RSET:
        return false;
    default:
        return true;            /* "." + QUIT, LMTP, ... */
    }
}

/* Remember s->last for smtp_last_reply() unless it is a reply that
 * decides nothing (RSET, QUIT, replies drained after a failure). */
static void smtp_note_decisive(struct smtp_session *s)
{
    const struct smtp_txn *t = s->t;
    if (s->state == SMTP_RSET || s->state == SMTP_QUIT)
        return;
    if (t && (s->state == SMTP_RCPT || s->state == SMTP_DATA)
        && (!t->mail_ok || (s->state == SMTP_DATA && t->naccepted == 0)))
        return;
    free(s->decisive.text);
    s->decisive = s->last;
    s->decisive.text = xstrdup(s->last.text ? s->last.text : "");
}

/* Read and handle replies until READY or CLOSED. Failures go to r;
 * returns -1 when the connection became unusable. */
static int smtp_run(struct smtp_session *s, struct result *r)
{
    while (s->state != SMTP_READY && s->state != SMTP_CLOSED) {
        if (smtp_read_reply(s, smtp_state_timeout(s, s->state), r) != 0) {
            smtp_lost(s);
            return -1;
        }
        if (!smtp_expect_more(s) && conn_pending(s->c) > 0) {
            char *q = smtp_reply_oneline(&s->last);
            result_set(r, RC_PROTOCOL,
                       _("the server sent unexpected data after its reply \"%s\""), q);
            free(q);
            smtp_lost(s);
            return -1;
        }
        smtp_note_decisive(s);
        if (smtp_handle_reply(s, r) != 0) {
            smtp_lost(s);
            return -1;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- */
/* public interface */

struct smtp_session *smtp_new(struct conn *c, const struct smtp_params *p)
{
    struct smtp_session *s = xcalloc(1, sizeof *s);
    s->c = c;
    s->p = *p;
    if (!s->p.helo_domain || !*s->p.helo_domain)
        s->p.helo_domain = "localhost";
    s->state = SMTP_GREETING;
    s->alive = true;
    return s;
}

int smtp_open(struct smtp_session *s, struct result *r)
{
    struct result lr = RESULT_INIT;
    if (s->state != SMTP_GREETING) {
        result_set(r, RC_SOFTWARE, _("internal error: SMTP session opened twice"));
        return -1;
    }
    (void)smtp_run(s, &lr);
    if (lr.cls != RC_OK) {
        smtp_keep_first(r, &lr);
        return -1;
    }
    return 0;
}

const struct smtp_caps *smtp_caps(const struct smtp_session *s)
{
    return &s->caps;
}

const char *smtp_greeting(const struct smtp_session *s)
{
    return s->greeting;
}

const struct smtp_reply *smtp_last_reply(const struct smtp_session *s)
{
    return &s->decisive;
}

bool smtp_alive(const struct smtp_session *s)
{
    return s->alive && s->state != SMTP_CLOSED;
}

/* Local part of addr has a byte >= 0x80. */
static bool smtp_local_nonascii(const char *addr)
{
    const char *at = strrchr(addr, '@');
    size_t n = at ? (size_t)(at - addr) : strlen(addr);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)addr[i] >= 0x80)
            return true;
    return false;
}

/* The address as it goes on the wire, or NULL with r set. */
static char *smtp_wire_address(const char *addr, bool utf8, struct result *r)
{
    for (const char *p = addr; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch < 0x20 || ch == 0x7f || ch == '<' || ch == '>') {
            char *q = smtp_escape(addr, strlen(addr), 200);
            result_set(r, RC_DATAERR, _("invalid envelope address \"%s\""), q);
            free(q);
            return NULL;
        }
    }
    if (smtp_is_ascii(addr) || utf8)
        return xstrdup(addr);
    if (smtp_local_nonascii(addr)) {
        result_set(r, RC_DATAERR,
                   _("cannot send to or from <%s>: the server does not support SMTPUTF8"),
                   addr);
        return NULL;
    }
    return idn_address_to_ascii(addr, r);
}

static void smtp_txn_free(struct smtp_txn *t)
{
    if (!t)
        return;
    free(t->sender);
    if (t->rcpts)
        for (size_t i = 0; i < t->m->nrcpts; i++)
            free(t->rcpts[i]);
    free(t->rcpts);
    free(t);
}

/* Checks made before anything is sent; fills t->sender and t->rcpts. */
static int smtp_prepare(struct smtp_session *s, struct smtp_txn *t, struct result *r)
{
    struct smtp_message *m = t->m;
    if (m->nrcpts == 0) {
        result_set(r, RC_USAGE, _("no recipients"));
        return -1;
    }
    if (s->caps.size_max > 0 && m->size > 0
        && (unsigned long long)m->size > s->caps.size_max) {
        result_set(r, RC_DATAERR, _("message size %lld exceeds the server's limit of %llu bytes"),
                   m->size, s->caps.size_max);
        return -1;
    }
    if ((m->dsn_notify || m->dsn_return || m->dsn_envid) && !s->caps.dsn) {
        result_set(r, RC_UNAVAILABLE,
                   _("delivery status notifications were requested, but the server does "
                     "not support DSN"));
        return -1;
    }
    bool nonascii = m->smtputf8 || !smtp_is_ascii(m->sender);
    for (size_t i = 0; i < m->nrcpts; i++)
        nonascii |= !smtp_is_ascii(m->rcpts[i].addr);
    t->use_smtputf8 = nonascii && s->caps.smtputf8;
    t->sender = smtp_wire_address(m->sender, t->use_smtputf8, r);
    if (!t->sender)
        return -1;
    t->rcpts = xcalloc(m->nrcpts, sizeof *t->rcpts);
    for (size_t i = 0; i < m->nrcpts; i++) {
        t->rcpts[i] = smtp_wire_address(m->rcpts[i].addr, t->use_smtputf8, r);
        if (!t->rcpts[i])
            return -1;
    }
    return 0;
}

int smtp_send_message(struct smtp_session *s, struct smtp_message *m, struct result *r)
{
    struct result lr = RESULT_INIT;
    for (size_t i = 0; i < m->nrcpts; i++) {
        m->rcpts[i].status = RCPT_PENDING;
        m->rcpts[i].code = 0;
        free(m->rcpts[i].reply);
        m->rcpts[i].reply = NULL;
    }
    m->final_code = 0;
    free(m->final_reply);
    m->final_reply = NULL;

    if (!smtp_alive(s) || s->state != SMTP_READY) {
        result_set(r, RC_TEMPFAIL, _("the connection to the server is not usable any more"));
        return -1;
    }
    struct smtp_txn *t = xcalloc(1, sizeof *t);
    t->m = m;
    t->pipelined = s->caps.pipelining;
    if (smtp_prepare(s, t, &lr) != 0) {
        smtp_txn_free(t);
        smtp_keep_first(r, &lr);
        return -1;
    }
    s->t = t;
    if (smtp_enter(s, SMTP_MAIL, &lr) != 0)
        smtp_lost(s);
    else
        (void)smtp_run(s, &lr);
    s->t = NULL;
    smtp_txn_free(t);
    if (lr.cls != RC_OK) {
        smtp_keep_first(r, &lr);
        return -1;
    }
    return 0;
}

void smtp_quit(struct smtp_session *s)
{
    if (!s)
        return;
    if (smtp_alive(s) && !s->quit_sent) {
        struct result lr = RESULT_INIT;
        if (smtp_enter(s, SMTP_QUIT, &lr) == 0)
            (void)smtp_run(s, &lr);
        result_clear(&lr);
    }
    if (s->state != SMTP_CLOSED)
        smtp_lost(s);
    s->alive = false;
}

void smtp_free(struct smtp_session *s)
{
    if (!s)
        return;
    free(s->caps.auth);
    free(s->greeting);
    free(s->last.text);
    free(s->decisive.text);
    free(s);
}

char *smtp_xtext(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    struct buf b = BUF_INIT;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p >= '!' && *p <= '~' && *p != '+' && *p != '=') {
            buf_putc(&b, (char)*p);
        } else {
            buf_putc(&b, '+');
            buf_putc(&b, hex[*p >> 4]);
            buf_putc(&b, hex[*p & 15]);
        }
    }
    return buf_steal(&b);
}
