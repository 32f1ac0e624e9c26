/*
 * smtpd.c - the -bs session (see smtpd.h): SMTP on standard input and
 * output, one message at a time through intake and submit.
 *
 * Owns: the table of states (name, which commands each accepts), the
 * one function that handles a command in a state (smtpd_handle), the
 * data states (DATA lines with dot-unstuffing, BDAT chunks of exactly n
 * octets), reading fd 0 through a buffer with the idle timeout, the
 * replies (collected, written to fd 1 in one write whenever no complete
 * input is left: RFC 2920), and the reply to the end of data.
 *
 * Line ends: CRLF or a bare LF end a command line or a DATA line (the
 * clients are local programs; what goes on to the smarthost is made
 * canonical by intake and dot-stuffed by smtp.c in any case).
 *
 * Must not: write anything but replies to fd 1, deliver or queue a
 * message itself (submit does), or deliver a message whose data did not
 * end properly (end of input or timeout inside DATA or BDAT).
 */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "address.h"
#include "clock.h"
#include "i18n.h"
#include "intake.h"
#include "log.h"
#include "smtpd.h"
#include "smtprc.h"
#include "submit.h"

#define SMTPD_INBUF (64 * 1024)
/* Longest reply text taken from elsewhere (a smarthost's words). */
#define SMTPD_TEXT_MAX 400

enum smtpd_state {
    SMTPD_START,        /* greeted, no HELO/EHLO yet */
    SMTPD_READY,        /* after HELO/EHLO or a finished message */
    SMTPD_MAILED,       /* MAIL FROM accepted, no recipient yet */
    SMTPD_RCPTED,       /* at least one recipient */
    SMTPD_DATA_LINES,   /* after 354: message lines until "." */
    SMTPD_CHUNKED,      /* after a BDAT chunk that was not LAST */
    SMTPD_BDAT_CHUNK,   /* reading the octets of a BDAT chunk */
    SMTPD_BDAT_SKIP,    /* reading and discarding a refused BDAT chunk */
    SMTPD_DONE,         /* QUIT, end of input or timeout */
};

static const char *const smtpd_state_names[] = {
    [SMTPD_START] = "START", [SMTPD_READY] = "READY", [SMTPD_MAILED] = "MAILED",
    [SMTPD_RCPTED] = "RCPTED", [SMTPD_DATA_LINES] = "DATA_LINES", [SMTPD_CHUNKED] = "CHUNKED",
    [SMTPD_BDAT_CHUNK] = "BDAT_CHUNK", [SMTPD_BDAT_SKIP] = "BDAT_SKIP", [SMTPD_DONE] = "DONE",
};

struct smtpd {
    enum smtpd_state state;
    const struct options *o;
    struct submit sub;
    bool config_ok;
    struct result config_err;       /* why the configuration failed, if it did */
    char *host;                     /* the name in the replies; owned */
    int timeout_ms;
    /* input */
    char in[SMTPD_INBUF];
    size_t pos, len;
    bool eof;
    bool timed_out;
    /* output */
    struct buf out;
    bool write_failed;
    /* the transaction */
    char *sender;                   /* MAIL FROM path ("" null sender); owned */
    char *ret, *envid, *notify;     /* DSN parameters; owned */
    char **rcpts;                   /* owned */
    size_t nrcpts;
    struct intake *intake;
    unsigned long long received;    /* octets of data taken */
    unsigned long long chunk_left;  /* of the current BDAT chunk */
    bool chunk_last;
    enum smtpd_state skip_return;   /* the state after a refused chunk */
    bool at_line_start;
    /* the session */
    int status;                     /* worst status so far */
    size_t refused;                 /* commands answered 500 or 501 */
    size_t messages;                /* messages that reached the end of their data */
};

static void smtpd_enter(struct smtpd *s, enum smtpd_state st)
{
    if (s->state != st)
        log_debug(2, "smtpd: %s -> %s", smtpd_state_names[s->state], smtpd_state_names[st]);
    s->state = st;
}

/* Count a message's status into the session's: a failure no retry cures
 * outranks one worth a retry (the status of RC_TEMPFAIL). */
static void smtpd_count(struct smtpd *s, int status)
{
    int temp = result_exit_status(RC_TEMPFAIL);
    if (status != 0 && (s->status == 0 || (s->status == temp && status != temp)))
        s->status = status;
}

static void reply(struct smtpd *s, const char *fmt, ...) ATTR_PRINTF(2, 3);
static void reply(struct smtpd *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *line = xvasprintf(fmt, ap);
    va_end(ap);
    log_debug(1, "-bs --> %s", line);
    buf_puts(&s->out, line);
    buf_puts(&s->out, "\r\n");
    free(line);
}

static void flush_replies(struct smtpd *s)
{
    if (s->out.len == 0)
        return;
    if (!s->write_failed && write_all(1, s->out.data, s->out.len) != 0) {
        log_error(_("-bs: cannot write to standard output: %s"), strerror(errno));
        s->write_failed = true;
    }
    buf_reset(&s->out);
}

/* More input: flush the replies first (the client may wait for them),
 * then wait up to the idle timeout. Returns false at end of input,
 * timeout or error (s->eof set). */
static bool fill(struct smtpd *s)
{
    flush_replies(s);
    if (s->eof)
        return false;
    if (s->pos > 0) {
        memmove(s->in, s->in + s->pos, s->len - s->pos);
        s->len -= s->pos;
        s->pos = 0;
    }
    if (s->len == sizeof s->in)
        return true;
    long long deadline = clock_now_ms() + s->timeout_ms;
    for (;;) {
        int w = clock_wait_fd(0, POLLIN, deadline);
        if (w == 0) {
            s->eof = s->timed_out = true;
            return false;
        }
        ssize_t n = w < 0 ? -1 : read(0, s->in + s->len, sizeof s->in - s->len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0) {
            if (n < 0)
                log_error(_("-bs: cannot read standard input: %s"), strerror(errno));
            s->eof = true;
            return false;
        }
        s->len += (size_t)n;
        return true;
    }
}

static void reset_transaction(struct smtpd *s)
{
    free(s->sender);
    free(s->ret);
    free(s->envid);
    free(s->notify);
    s->sender = s->ret = s->envid = s->notify = NULL;
    for (size_t i = 0; i < s->nrcpts; i++)
        free(s->rcpts[i]);
    free(s->rcpts);
    s->rcpts = NULL;
    s->nrcpts = 0;
    if (s->intake)
        intake_abort(s->intake, NULL);
    s->intake = NULL;
    s->received = 0;
}

static char *span_dup(struct smtpd_span sp)
{
    return xstrndup(sp.p, sp.len);
}

static bool span_is(struct smtpd_span sp, const char *word)
{
    return sp.len == strlen(word) && ascii_strncasecmp(sp.p, word, sp.len) == 0;
}

/* RFC 3461 xtext to octets; NULL when it is not xtext. */
static char *xtext_decode(struct smtpd_span sp)
{
    struct buf b = BUF_INIT;
    for (size_t i = 0; i < sp.len; i++) {
        if (sp.p[i] != '+') {
            buf_putc(&b, sp.p[i]);
            continue;
        }
        if (sp.len - i >= 3) {
            int hi = hex_digit_value(sp.p[i + 1]);
            int lo = hex_digit_value(sp.p[i + 2]);
            if (hi >= 0 && lo >= 0 && (hi << 4 | lo) != 0) {
                buf_putc(&b, (char)(hi << 4 | lo));
                i += 2;
                continue;
            }
        }
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b);
}

/* NOTIFY=NEVER or a list of SUCCESS, FAILURE, DELAY. */
static bool notify_ok(struct smtpd_span v)
{
    if (span_is(v, "NEVER"))
        return true;
    size_t i = 0;
    while (i <= v.len) {
        size_t j = i;
        while (j < v.len && v.p[j] != ',')
            j++;
        struct smtpd_span w = { v.p + i, j - i };
        if (!span_is(w, "SUCCESS") && !span_is(w, "FAILURE") && !span_is(w, "DELAY"))
            return false;
        i = j + 1;
    }
    return true;
}

static void handle_mail(struct smtpd *s, const struct smtpd_command *c)
{
    bool seen_size = false, seen_body = false, seen_utf8 = false;
    for (size_t i = 0; i < c->nparams; i++) {
        const struct smtpd_param *p = &c->params[i];
        if (span_is(p->key, "SIZE") && p->value.p && !seen_size) {
            seen_size = true;
            unsigned long long n = 0;
            for (size_t k = 0; k < p->value.len; k++) {
                if (p->value.p[k] < '0' || p->value.p[k] > '9') {
                    reply(s, "501 5.5.4 SIZE= takes a number of octets");
                    return;
                }
                if (n <= SMTPD_SIZE_DEFAULT)    /* past the limit: no overflow */
                    n = n * 10 + (unsigned)(p->value.p[k] - '0');
            }
            if (n > SMTPD_SIZE_DEFAULT) {
                reply(s, "552 5.3.4 the message is larger than %ld octets", SMTPD_SIZE_DEFAULT);
                return;
            }
        } else if (span_is(p->key, "BODY") && p->value.p && !seen_body
                   && (span_is(p->value, "7BIT") || span_is(p->value, "8BITMIME"))) {
            /* The client's word about its data: it forces nothing (only
             * -B 7BIT on the command line does); what goes on is
             * decided from the data at each delivery. */
            seen_body = true;
        } else if (span_is(p->key, "SMTPUTF8") && !p->value.p && !seen_utf8) {
            seen_utf8 = true;
        } else if (span_is(p->key, "RET") && p->value.p && !s->ret
                   && (span_is(p->value, "FULL") || span_is(p->value, "HDRS"))) {
            s->ret = span_dup(p->value);
        } else if (span_is(p->key, "ENVID") && p->value.p && !s->envid
                   && (s->envid = xtext_decode(p->value)) != NULL) {
            ;
        } else {
            reply(s, "555 5.5.4 MAIL parameter not recognized or bad: %.*s",
                  (int)p->key.len, p->key.p);
            free(s->ret);
            free(s->envid);
            s->ret = s->envid = NULL;
            return;
        }
    }
    char *path = span_dup(c->arg);
    struct result r = RESULT_INIT;
    /* The account of this message: -a, else the sender's (-f, else MAIL FROM). */
    const char *from = s->o->from ? s->o->from : path;
    if (!s->config_ok) {
        reply(s, "451 4.3.5 %s", s->config_err.msg ? s->config_err.msg : "configuration error");
        smtpd_count(s, result_exit_status(s->config_err.cls));
    } else if (submit_account(&s->sub, *from ? from : "<>", &r) != 0) {
        log_error("%s", r.msg);
        if (r.cls == RC_DATAERR) {
            reply(s, "553 5.1.7 %s", r.msg);
        } else {
            reply(s, "451 4.3.5 %s", r.msg);
            smtpd_count(s, result_exit_status(r.cls));
        }
    } else {
        s->sender = path;
        path = NULL;
        reply(s, "250 2.1.0 sender ok");
        smtpd_enter(s, SMTPD_MAILED);
    }
    if (!s->sender) {
        free(s->ret);
        free(s->envid);
        s->ret = s->envid = NULL;
    }
    result_clear(&r);
    free(path);
}

static void handle_rcpt(struct smtpd *s, const struct smtpd_command *c)
{
    struct smtpd_span notify = { NULL, 0 };
    for (size_t i = 0; i < c->nparams; i++) {
        const struct smtpd_param *p = &c->params[i];
        if (span_is(p->key, "NOTIFY") && p->value.p && !notify.p && notify_ok(p->value)) {
            notify = p->value;
        } else if (span_is(p->key, "ORCPT") && p->value.p) {
            ;   /* accepted; the smarthost gets the recipient as given */
        } else {
            reply(s, "555 5.5.4 RCPT parameter not recognized or bad: %.*s",
                  (int)p->key.len, p->key.p);
            return;
        }
    }
    if (c->arg.len == 0) {
        reply(s, "501 5.1.3 a recipient cannot be empty");
        return;
    }
    if (s->nrcpts >= SMTPD_RCPTS_MAX) {
        reply(s, "452 4.5.3 too many recipients");
        return;
    }
    char *addr = span_dup(c->arg);
    struct result r = RESULT_INIT;
    if (address_validate_envelope(addr, false, &r) != 0) {
        reply(s, "553 5.1.3 %s", r.msg);
        result_clear(&r);
        free(addr);
        return;
    }
    if (notify.p) {
        char *n = span_dup(notify);
        if (s->notify && ascii_strcasecmp(s->notify, n) != 0) {
            reply(s, "504 5.5.4 NOTIFY must be the same for every recipient of a message");
            free(n);
            free(addr);
            return;
        }
        free(s->notify);
        s->notify = n;
    }
    s->rcpts = xrealloc(s->rcpts, (s->nrcpts + 1) * sizeof *s->rcpts);
    s->rcpts[s->nrcpts++] = addr;
    reply(s, "250 2.1.5 recipient ok");
    smtpd_enter(s, SMTPD_RCPTED);
}

static void start_data(struct smtpd *s)
{
    s->sub.io.dot_ends = false;
    s->sub.io.collect_rcpts = false;
    s->intake = intake_begin(&s->sub.io);
    s->received = 0;
}

/* Append text (a smarthost's words or ours) to a reply line, bounded. */
static void put_text(struct buf *b, const char *text)
{
    size_t n = strlen(text);
    buf_append(b, text, n > SMTPD_TEXT_MAX ? SMTPD_TEXT_MAX : n);
    if (n > SMTPD_TEXT_MAX)
        buf_puts(b, "...");
}

/* The end of a message's data: the message through the pipeline, and the
 * one reply that tells the client what became of it (smtpd.h, smtpfwd(1)). */
static void end_of_data(struct smtpd *s)
{
    struct message msg = { .fd = -1 };
    struct result r = RESULT_INIT;
    struct intake *in = s->intake;
    s->intake = NULL;
    struct buf b = BUF_INIT;
    int status;
    if (s->received > SMTPD_SIZE_DEFAULT) {
        intake_abort(in, NULL);
        buf_printf(&b, "552 5.3.4 the message is larger than %ld octets", SMTPD_SIZE_DEFAULT);
        status = result_exit_status(RC_DATAERR);
    } else if (intake_end(in, &msg, &r) != 0) {
        buf_puts(&b, r.cls == RC_DATAERR ? "554 5.6.0 " : "451 4.3.0 ");
        put_text(&b, r.msg);
        log_error("%s", r.msg);
        status = result_exit_status(r.cls);
    } else {
        struct envelope_request req = {
            .from = s->o->from ? s->o->from : (*s->sender ? s->sender : "<>"),
            .recipients = s->rcpts,
            .nrecipients = s->nrcpts,
            .dsn_notify = s->notify ? s->notify : s->o->dsn_notify,
            .dsn_return = s->ret ? s->ret : s->o->dsn_return,
            .dsn_envid = s->envid ? s->envid : s->o->dsn_envid,
        };
        struct submit_outcome out;
        status = submit_message(&s->sub, &req, &msg, &out, &r);
        if (r.cls != RC_OK)
            log_error("%s", r.msg);
        if (status == 0 && out.queued) {
            buf_puts(&b, "250 2.0.0 queued: the message is in the spool and will be retried");
        } else if (status == 0) {
            buf_printf(&b, "250 2.0.0 delivered to %zu recipient%s", out.ndelivered,
                       out.ndelivered == 1 ? "" : "s");
        } else if (out.ndelivered > 0) {
            /* Some recipients have it: a failure reply would make the
             * client send it again to them. The status still counts. */
            buf_printf(&b, "250 2.0.0 delivered to %zu of %zu; refused: ", out.ndelivered,
                       out.nrcpts);
            put_text(&b, out.refused ? out.refused : "?");
        } else {
            bool temp = status == result_exit_status(RC_TEMPFAIL);
            buf_puts(&b, temp ? "451 4.0.0 not delivered: " : "554 5.0.0 not delivered: ");
            /* Every recipient refused: name them; else the reply that
             * refused the message. */
            bool nouser = status == result_exit_status(RC_NOUSER) && out.refused;
            const char *why = nouser ? out.refused : out.reply ? out.reply
                              : out.why ? out.why : r.msg;
            put_text(&b, why ? why : _("see the diagnostics on standard error"));
        }
        submit_outcome_free(&out);
    }
    smtpd_count(s, status);
    s->messages++;
    reply(s, "%s", b.data);
    buf_free(&b);
    result_clear(&r);
    message_free(&msg);
    reset_transaction(s);
    smtpd_enter(s, SMTPD_READY);
}

/* A state that takes commands: does it have a transaction? */
static bool in_transaction(enum smtpd_state st)
{
    return st == SMTPD_MAILED || st == SMTPD_RCPTED || st == SMTPD_CHUNKED;
}

/* The one function that handles a command in a state. */
static void smtpd_handle(struct smtpd *s, const struct smtpd_command *c)
{
    switch (c->verb) {
    case SMTPD_HELO:
    case SMTPD_EHLO:
        reset_transaction(s);
        if (c->verb == SMTPD_HELO) {
            reply(s, "250 %s", s->host);
        } else {
            reply(s, "250-%s", s->host);
            reply(s, "250-PIPELINING");
            reply(s, "250-8BITMIME");
            reply(s, "250-SMTPUTF8");
            reply(s, "250-SIZE %ld", SMTPD_SIZE_DEFAULT);
            reply(s, "250-DSN");
            reply(s, "250-ENHANCEDSTATUSCODES");
            reply(s, "250 CHUNKING");
        }
        smtpd_enter(s, SMTPD_READY);
        return;
    case SMTPD_MAIL:
        if (s->state == SMTPD_START)
            reply(s, "503 5.5.1 send HELO or EHLO first");
        else if (s->state != SMTPD_READY)
            reply(s, "503 5.5.1 MAIL already given (RSET to start again)");
        else
            handle_mail(s, c);
        return;
    case SMTPD_RCPT:
        if (s->state != SMTPD_MAILED && s->state != SMTPD_RCPTED)
            reply(s, "503 5.5.1 %s", s->state == SMTPD_CHUNKED ? "RCPT during BDAT"
                                                               : "send MAIL first");
        else
            handle_rcpt(s, c);
        return;
    case SMTPD_DATA:
        if (s->state != SMTPD_RCPTED) {
            reply(s, "503 5.5.1 %s", s->state == SMTPD_MAILED ? "no valid recipients"
                                     : s->state == SMTPD_CHUNKED ? "DATA during BDAT"
                                     : "send MAIL and RCPT first");
            return;
        }
        start_data(s);
        s->at_line_start = true;
        reply(s, "354 send the message, end with a line holding only \".\"");
        smtpd_enter(s, SMTPD_DATA_LINES);
        return;
    case SMTPD_BDAT:
        s->chunk_left = c->bdat_size;
        s->chunk_last = c->bdat_last;
        if (s->state != SMTPD_RCPTED && s->state != SMTPD_CHUNKED) {
            s->skip_return = s->state;
            smtpd_enter(s, SMTPD_BDAT_SKIP);
            return;
        }
        if (s->state == SMTPD_RCPTED)
            start_data(s);
        smtpd_enter(s, SMTPD_BDAT_CHUNK);
        return;
    case SMTPD_RSET:
        reset_transaction(s);
        reply(s, "250 2.0.0 reset");
        if (s->state != SMTPD_START)
            smtpd_enter(s, SMTPD_READY);
        return;
    case SMTPD_NOOP:
        reply(s, "250 2.0.0 ok");
        return;
    case SMTPD_HELP:
        reply(s, "214 2.0.0 commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP HELP VRFY QUIT");
        return;
    case SMTPD_VRFY:
        reply(s, "252 2.5.2 cannot verify, but will take the message and try to deliver it");
        return;
    case SMTPD_QUIT:
        reset_transaction(s);
        reply(s, "221 2.0.0 %s closing", s->host);
        smtpd_enter(s, SMTPD_DONE);
        return;
    }
}

/* One command line from the buffer. Returns false when more input is
 * needed (and there is none). */
static bool command_step(struct smtpd *s)
{
    char *start = s->in + s->pos;
    char *nl = memchr(start, '\n', s->len - s->pos);
    if (!nl) {
        if (s->len - s->pos > SMTPD_LINE_MAX) {
            /* Too long: throw it away up to its line end, then say so. */
            bool found = false;
            while (!found) {
                nl = memchr(s->in + s->pos, '\n', s->len - s->pos);
                if (nl) {
                    s->pos = (size_t)(nl + 1 - s->in);
                    found = true;
                } else {
                    s->pos = s->len;
                    if (!fill(s))
                        return false;
                }
            }
            log_debug(1, "-bs <-- (a line over %d octets)", SMTPD_LINE_MAX);
            reply(s, "500 5.5.2 line too long (the limit is %d octets)", SMTPD_LINE_MAX);
            s->refused++;
            return true;
        }
        if (fill(s))
            return true;
        if (s->pos == s->len)
            return false;
        /* The input ended in the middle of a line: take it as a line. */
        start = s->in + s->pos;
        nl = s->in + s->len;
        s->pos--;       /* the missing LF */
    }
    size_t n = (size_t)(nl - start);
    s->pos += n + 1;
    if (n > 0 && start[n - 1] == '\r')
        n--;
    if (log_verbose() > 0) {
        struct buf b = BUF_INIT;
        buf_put_escaped(&b, start, n, ESCAPE_NAMED);
        log_debug(1, "-bs <-- %s", b.data ? b.data : "");
        buf_free(&b);
    }
    struct smtpd_command c;
    switch (smtpd_parse_command(start, n, &c)) {
    case SMTPD_PARSE_OK:
        smtpd_handle(s, &c);
        break;
    case SMTPD_PARSE_TOO_LONG:
        reply(s, "500 5.5.2 line too long (the limit is %d octets)", SMTPD_LINE_MAX);
        s->refused++;
        break;
    case SMTPD_PARSE_UNKNOWN:
        reply(s, "500 5.5.2 command not recognized");
        s->refused++;
        break;
    case SMTPD_PARSE_SYNTAX:
        reply(s, "501 5.5.4 syntax error: %s", c.why);
        s->refused++;
        break;
    }
    return true;
}

static void feed(struct smtpd *s, const char *p, size_t n)
{
    s->received += n;
    if (s->received <= SMTPD_SIZE_DEFAULT)
        intake_feed(s->intake, p, n);
}

/* DATA lines: undo dot-stuffing, end at a line holding only ".". */
static bool data_step(struct smtpd *s)
{
    size_t avail = s->len - s->pos;
    char *p = s->in + s->pos;
    if (avail == 0)
        return fill(s);
    if (s->at_line_start && p[0] == '.') {
        /* Enough to decide: ".\n", ".\r\n" end the data, else the dot goes. */
        if (avail < 2 || (p[1] == '\r' && avail < 3))
            return fill(s);
        if (p[1] == '\n' || (p[1] == '\r' && p[2] == '\n')) {
            s->pos += p[1] == '\n' ? 2 : 3;
            end_of_data(s);
            return true;
        }
        s->pos++;
        s->at_line_start = false;
        return true;
    }
    char *nl = memchr(p, '\n', avail);
    size_t n = nl ? (size_t)(nl - p) + 1 : avail;
    feed(s, p, n);
    s->pos += n;
    s->at_line_start = nl != NULL;
    return true;
}

/* BDAT chunks: exactly chunk_left octets. */
static bool chunk_step(struct smtpd *s)
{
    if (s->chunk_left > 0) {
        if (s->pos == s->len && !fill(s))
            return false;
        size_t n = s->len - s->pos;
        if (n > s->chunk_left)
            n = (size_t)s->chunk_left;
        if (s->state == SMTPD_BDAT_CHUNK)
            feed(s, s->in + s->pos, n);
        s->pos += n;
        s->chunk_left -= n;
        return true;
    }
    if (s->state == SMTPD_BDAT_SKIP) {
        reply(s, "503 5.5.1 send MAIL and RCPT first");
        smtpd_enter(s, s->skip_return);
        return true;
    }
    if (s->chunk_last) {
        end_of_data(s);
    } else {
        reply(s, "250 2.0.0 %llu octets received", s->received);
        smtpd_enter(s, SMTPD_CHUNKED);
    }
    return true;
}

int smtpd_run(const struct options *o)
{
    struct smtpd *s = xcalloc(1, sizeof *s);
    s->o = o;
    s->timeout_ms = SMTPD_TIMEOUT_DEFAULT * 1000;
    if (submit_init(&s->sub, o, &s->config_err) == 0) {
        s->config_ok = true;
        s->sub.keep_open = true;
        /* The idle timeout and the name in the replies (the account's
         * `domain`, its own name in SMTP): the account of -a / -f, else
         * "default". */
        struct result r = RESULT_INIT;
        const struct account *a = submit_select(&s->sub, o->account, o->from, &r);
        if (a && a->timeout > 0)
            s->timeout_ms = a->timeout * 1000;
        if (a && a->domain && *a->domain)
            s->host = xstrdup(a->domain);
        result_clear(&r);
    } else {
        log_error("%s", s->config_err.msg);
    }
    if (!s->host)
        s->host = xstrdup(util_host_name());
    reply(s, "220 %s ESMTP smtpfwd", s->host);
    while (s->state != SMTPD_DONE && !s->write_failed) {
        bool more;
        switch (s->state) {
        case SMTPD_DATA_LINES:
            more = data_step(s);
            break;
        case SMTPD_BDAT_CHUNK:
        case SMTPD_BDAT_SKIP:
            more = chunk_step(s);
            break;
        default:
            more = command_step(s);
            break;
        }
        if (!more)
            break;
    }
    if (s->state != SMTPD_DONE) {
        bool in_data = s->intake != NULL || s->state == SMTPD_BDAT_SKIP;
        if (s->timed_out) {
            char *t = clock_describe_ms(s->timeout_ms);
            log_error(_("-bs: nothing from the client for %s; the session ends (the "
                        "account's timeout)"), t);
            free(t);
            reply(s, "421 4.4.2 %s idle for too long, closing", s->host);
        }
        if (in_data) {
            log_error(_("-bs: the input ended inside a message's data; that message is "
                        "not delivered"));
            smtpd_count(s, result_exit_status(RC_TEMPFAIL));
        } else if (in_transaction(s->state)) {
            log_debug(1, "-bs: the input ended after MAIL without data");
        } else if (!s->timed_out && s->refused > 0 && s->messages == 0) {
            /* Most likely a message piped to a command line with -bs by
             * mistake: its writer must not believe it was sent. */
            log_error(ngettext("-bs: the input was not an SMTP session (%zu command refused, "
                               "no message, no QUIT); nothing was sent. To pipe a message to "
                               "smtpfwd, leave out -bs",
                               "-bs: the input was not an SMTP session (%zu commands refused, "
                               "no message, no QUIT); nothing was sent. To pipe a message to "
                               "smtpfwd, leave out -bs", (unsigned long)s->refused),
                      s->refused);
            smtpd_count(s, result_exit_status(RC_USAGE));
        }
    }
    flush_replies(s);
    int status = s->write_failed ? result_exit_status(RC_IOERR) : s->status;
    reset_transaction(s);
    buf_free(&s->out);
    result_clear(&s->config_err);
    submit_free(&s->sub);
    free(s->host);
    free(s);
    return status;
}
