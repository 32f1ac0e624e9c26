/*
 * smtp-envelope.c - the envelope of an SMTP transaction as it goes on the
 * wire (see smtp-int.h): the checks made before anything is sent (size
 * against SIZE, DSN offered, addresses free of control characters and
 * angle brackets), the choice of SMTPUTF8 or IDNA A-labels for non-ASCII
 * addresses, the MAIL FROM and RCPT TO lines with their parameters
 * (SIZE, BODY, SMTPUTF8, RET, ENVID, NOTIFY) and xtext (RFC 3461).
 *
 * Owns: struct smtp_txn's sender and recipients as sent.
 *
 * Must not: send anything or read replies (smtp.c does), or change an
 * address beyond its IDNA conversion.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "i18n.h"
#include "idn.h"
#include "reply.h"
#include "smtp-int.h"
#include "util.h"

char *smtp_mail_command(const struct smtp_session *s, const struct smtp_txn *t)
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

char *smtp_rcpt_command(const struct smtp_session *s, const struct smtp_txn *t, size_t i)
{
    struct buf b = BUF_INIT;
    buf_printf(&b, "RCPT TO:<%s>", t->rcpts[i]);
    if (s->caps.dsn && t->m->dsn_notify)
        buf_printf(&b, " NOTIFY=%s", t->m->dsn_notify);
    return buf_steal(&b);
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
            char *q = reply_escape(addr, strlen(addr), 200);
            result_set(r, RC_DATAERR, _("invalid envelope address \"%s\""), q);
            free(q);
            return NULL;
        }
    }
    if (ascii_only(addr, strlen(addr)) || utf8)
        return xstrdup(addr);
    if (smtp_local_nonascii(addr)) {
        result_set(r, RC_DATAERR,
                   _("cannot send to or from <%s>: the server does not support SMTPUTF8"),
                   addr);
        return NULL;
    }
    return idn_address_to_ascii(addr, r);
}

void smtp_txn_free(struct smtp_txn *t)
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
int smtp_prepare(struct smtp_session *s, struct smtp_txn *t, struct result *r)
{
    struct smtp_message *m = t->m;
    if (m->nrcpts == 0) {
        result_set(r, RC_USAGE, _("no recipients"));
        return -1;
    }
    if (s->caps.size_max > 0 && m->size > 0
        && (unsigned long long)m->size > s->caps.size_max) {
        result_set(r, RC_DATAERR,
                   ngettext("message size %lld exceeds the server's limit of %llu byte",
                            "message size %lld exceeds the server's limit of %llu bytes",
                            (unsigned long)s->caps.size_max),
                   m->size, s->caps.size_max);
        return -1;
    }
    if ((m->dsn_notify || m->dsn_return || m->dsn_envid) && !s->caps.dsn) {
        result_set(r, RC_UNAVAILABLE,
                   _("delivery status notifications were requested, but the server does "
                     "not support DSN"));
        return -1;
    }
    bool nonascii = m->smtputf8 || !ascii_only(m->sender, strlen(m->sender));
    for (size_t i = 0; i < m->nrcpts; i++)
        nonascii |= !ascii_only(m->rcpts[i].addr, strlen(m->rcpts[i].addr));
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
