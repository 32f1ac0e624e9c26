/*
 * smtp-data.c - the message data of an SMTP transaction (see smtp-int.h):
 * the dot-stuffed body after DATA's 354 (RFC 5321 4.5.2), the pure
 * dot-stuffing function it uses (smtp.h, unit-tested), and the message
 * file as stored behind "BDAT <size> LAST" (RFC 3030).
 *
 * Owns: reading the canonical message file (pread from the message's
 * offset, never moving the descriptor's position) and queueing it in
 * large writes on the connection.
 *
 * Must not: touch a socket (conn.[ch] only), send the end of data "."
 * (smtp.c's DOT state does), or change the message beyond dot-stuffing.
 */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "i18n.h"
#include "log.h"
#include "smtp-int.h"
#include "util.h"

#define SMTP_BODY_CHUNK   (256 * 1024)

/* Read up to n bytes of the message file at off (EINTR retried).
 * Returns the count (0 at the end of the file) or -1 with r set. */
static ssize_t smtp_read_message(const struct smtp_message *m, char *buf, size_t n, off_t off,
                                 struct result *r)
{
    ssize_t got;
    do
        got = pread(m->fd, buf, n, off);
    while (got < 0 && errno == EINTR);
    if (got < 0)
        result_set(r, RC_IOERR, _("cannot read the message file: %s"), strerror(errno));
    return got;
}

size_t smtp_dot_stuff(struct smtp_dot_state *st, const char *in, size_t n, char *out)
{
    size_t olen = 0;
    const char *p = in, *end = in + n;
    while (p < end) {
        if (!st->mid_line && *p == '.')
            out[olen++] = '.';
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl + 1 : end;
        memcpy(out + olen, p, (size_t)(stop - p));
        olen += (size_t)(stop - p);
        st->mid_line = nl == NULL;
        p = stop;
    }
    return olen;
}

size_t smtp_dot_stuff_end(const struct smtp_dot_state *st, char *out)
{
    if (!st->mid_line)
        return 0;
    out[0] = '\r';
    out[1] = '\n';
    return 2;
}

int smtp_send_body(struct smtp_session *s, struct result *r)
{
    const struct smtp_message *m = s->t->m;
    int tmo = smtp_state_timeout(s, SMTP_BODY);
    char *in = xmalloc(SMTP_BODY_CHUNK);
    char *out = xmalloc(2 * SMTP_BODY_CHUNK);
    off_t off = (off_t)m->offset;   /* a queue entry's message follows its envelope */
    struct smtp_dot_state st = SMTP_DOT_STATE_INIT;
    long long total = 0;
    int rc = 0;

    for (;;) {
        ssize_t n = smtp_read_message(m, in, SMTP_BODY_CHUNK, off, r);
        if (n < 0) {
            rc = -1;
            break;
        }
        if (n == 0)
            break;
        off += n;
        size_t olen = smtp_dot_stuff(&st, in, (size_t)n, out);
        if (conn_write(s->c, out, olen, tmo, r) != 0) {
            rc = -1;
            break;
        }
        total += (long long)olen;
    }
    /* The canonical file always ends in CRLF; never let a body end
     * without one, or "." would not be a line of its own. */
    size_t olen = rc == 0 ? smtp_dot_stuff_end(&st, out) : 0;
    if (olen > 0) {
        rc = conn_write(s->c, out, olen, tmo, r);
        total += (long long)olen;
    }
    free(in);
    free(out);
    if (rc == 0)
        log_debug(1, ngettext("(%lld byte of message data)", "(%lld bytes of message data)",
                              (unsigned long)total), total);
    return rc;
}

/* CHUNKING (RFC 3030): "BDAT <size> LAST" and the message file exactly
 * as stored (canonical CRLF, no dot-stuffing, no final "."), queued in
 * large writes; the caller flushes. One chunk carries the whole message:
 * its size is known from the intake or spool file. A file shorter than
 * its recorded size is a local I/O error; the connection must then be
 * dropped (the server is still waiting for the missing octets). */
int smtp_send_chunk(struct smtp_session *s, struct result *r)
{
    const struct smtp_message *m = s->t->m;
    int tmo = smtp_state_timeout(s, SMTP_BODY);
    long long size = m->size;
    char *cmd = xasprintf("BDAT %lld LAST", size);
    int rc = smtp_cmd(s, cmd, tmo, r);
    free(cmd);
    if (rc != 0)
        return -1;
    char *in = xmalloc(SMTP_BODY_CHUNK);
    off_t off = (off_t)m->offset;
    long long left = size;
    while (rc == 0 && left > 0) {
        size_t want = left < SMTP_BODY_CHUNK ? (size_t)left : SMTP_BODY_CHUNK;
        ssize_t n = smtp_read_message(m, in, want, off, r);
        if (n < 0) {
            rc = -1;
        } else if (n == 0) {
            result_set(r, RC_IOERR,
                       _("cannot read the message file: it ends %lld bytes before its "
                         "recorded size of %lld bytes"), left, size);
            rc = -1;
        } else {
            off += n;
            left -= n;
            rc = conn_write(s->c, in, (size_t)n, tmo, r);
        }
    }
    free(in);
    if (rc == 0)
        log_debug(1, ngettext("(%lld byte of message data)", "(%lld bytes of message data)",
                              (unsigned long)size), size);
    return rc;
}
