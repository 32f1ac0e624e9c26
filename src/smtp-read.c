/*
 * smtp-read.c - reading one SMTP reply from the connection (see
 * smtp-int.h): all of its lines within one deadline, each line checked
 * by reply_parse_line, the same code on every line, at most
 * REPLY_MAX_LINES lines and REPLY_MAX_OCTETS octets, the session's
 * credentials masked in every line before it is shown, logged or kept,
 * and the first line of a 334 kept unmasked for SASL only.
 *
 * Must not: touch a socket (conn_read_line only), decide what a reply
 * means (smtp.c's handlers do), or let an unmasked line reach the
 * transcript or a message.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "i18n.h"
#include "log.h"
#include "mask.h"
#include "reply.h"
#include "smtp-int.h"
#include "util.h"

/* Hide the credentials in a line the server sent (its text only: the
 * code stays as sent), before it becomes text anywhere. */
static size_t smtp_mask_line(const struct smtp_session *s, char *line, size_t len)
{
    if (len <= 4)
        return len;
    return 4 + mask_apply(&s->masks, line + 4, len - 4);
}

/* r (set or not) becomes RC_PROTOCOL quoting the (masked) line, cut to
 * 200 bytes: an over-long line (n = the limit), or a line whose code
 * differs from the first line's (n = that code). */
static void smtp_bad_line(struct result *r, bool over_long, int n, const char *line,
                          size_t len)
{
    char *q = reply_escape(line, len, 200);
    if (over_long)
        result_replace(r, RC_PROTOCOL,
                       _("the server sent an over-long reply line (more than %d octets): "
                         "\"%s\""), n, q);
    else
        result_replace(r, RC_PROTOCOL,
                       _("the server sent a multi-line reply with different codes (%d, then "
                         "\"%s\")"), n, q);
    free(q);
}

/* Read one complete reply into s->last, all of its lines within
 * timeout_ms (one deadline for the reply: a server that sends it slowly
 * line by line or byte by byte gets no more time). Failures go to r
 * (first kept). */
int smtp_read_reply(struct smtp_session *s, int timeout_ms, struct result *r)
{
    struct result lr = RESULT_INIT;
    struct buf text = BUF_INIT;
    int first = 0;
    size_t nlines = 0;
    struct conn_deadline deadline = conn_deadline_in(timeout_ms);

    free(s->last.text);
    s->last.text = NULL;
    s->last.code = 0;
    s->last.enhanced[0] = '\0';
    s->last.nlines = 0;

    for (;;) {
        size_t len = 0;
        if (conn_read_line(s->c, s->line, sizeof s->line, &len, &deadline, &lr) != 0) {
            if (lr.cls == RC_PROTOCOL) {
                len = smtp_mask_line(s, s->line, len);
                smtp_bad_line(&lr, true, REPLY_MAX_LINE, s->line, len);
            }
            goto fail;
        }
        if (nlines == 0) {
            /* SASL gets the challenge as the server sent it: masking
             * could alter a nonce that happens to contain what looks
             * like a secret. Only sasl_step sees this copy. */
            free(s->challenge);
            s->challenge = len >= 4 && memcmp(s->line, "334", 3) == 0
                           ? xstrndup(s->line + 4, len - 4) : NULL;
        }
        len = smtp_mask_line(s, s->line, len);
        log_transcript('<', s->line, len);
        int code;
        bool more;
        const char *t;
        if (reply_parse_line(s->line, len, &code, &more, &t, &lr) != 0)
            goto fail;
        if (nlines == 0) {
            first = code;
            reply_parse_enhanced(t, code, s->last.enhanced);
        } else if (code != first) {
            smtp_bad_line(&lr, false, first, s->line, len);
            goto fail;
        }
        if (nlines == REPLY_MAX_LINES) {
            result_set(&lr, RC_PROTOCOL,
                       _("the server sent a reply of more than %d lines"), REPLY_MAX_LINES);
            goto fail;
        }
        if (text.len + len + 1 > REPLY_MAX_OCTETS) {
            result_set(&lr, RC_PROTOCOL,
                       _("the server sent a reply of more than %d octets"), REPLY_MAX_OCTETS);
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
