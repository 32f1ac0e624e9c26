/*
 * envelope.c - the SMTP envelope (see envelope.h): the sender (-f/-r or
 * the account's `from` with %U %H %C %M expanded, or user@host), the
 * recipients (command-line address lists plus -t header recipients,
 * aliases, qualification of bare names, deduplication, validation), and
 * the DSN parameters (-N/-R/-V or the account's dsn_notify/dsn_return).
 *
 * Owns no I/O except through config_alias_lookup(); never prints. Every
 * address that leaves this module has passed address_validate_envelope()
 * and is in Unicode NFC (envelope_nfc: the one place addresses are
 * normalized, after aliases and qualification, for every way a message
 * comes in), so that a decomposed and a precomposed spelling are the same
 * address on the wire, in the spool and in the duplicate check.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "smtprc.h"
#include "envelope.h"
#include "i18n.h"
#include "message.h"
#include "unistring-dl.h"

/* ENVID limit (RFC 3461 4.4: 100 characters). */
#define ENVID_MAX 100

char *envelope_expand_from(const char *pattern, const char *mail_domain)
{
    struct buf b = BUF_INIT;
    for (const char *p = pattern; *p; p++) {
        if (*p != '%' || p[1] == '\0') {
            buf_putc(&b, *p);
            continue;
        }
        p++;
        switch (*p) {
        case 'U':
            buf_puts(&b, util_user_name());
            break;
        case 'H':
        case 'C':
            buf_puts(&b, util_host_name());
            break;
        case 'M':
            buf_puts(&b, mail_domain ? mail_domain : util_host_name());
            break;
        case '%':
            buf_putc(&b, '%');
            break;
        default:   /* unknown: kept as written */
            buf_putc(&b, '%');
            buf_putc(&b, *p);
            break;
        }
    }
    return buf_steal(&b);
}

/* The domain %M stands for: msmtp's `maildomain`, else the account's
 * `domain`, else NULL, meaning the host name: envelope_expand_from() looks
 * it up only when the text has a %M, so that a run whose sender is known
 * does not pay for the canonical host name lookup (getaddrinfo). */
static const char *percent_m_domain(const struct account *a)
{
    if (a && a->maildomain && *a->maildomain)
        return a->maildomain;
    if (a && a->domain && *a->domain)
        return a->domain;
    return NULL;
}

char *envelope_mail_domain(const struct account *a)
{
    if (a && a->from && *a->from) {
        char *from = envelope_expand_from(a->from, percent_m_domain(a));
        char *bare = address_strip_angles(from);
        const char *d = address_domain(bare);
        char *out = d && *d ? xstrdup(d) : NULL;
        free(bare);
        free(from);
        if (out)
            return out;
    }
    const char *d = percent_m_domain(a);
    return xstrdup(d ? d : util_host_name());
}

/* Replace the validated address *addr by its NFC form (nothing is loaded
 * for an ASCII address). 0, or -1 with r set (unistring_nfc's classes). */
static int envelope_nfc(char **addr, struct result *r)
{
    char *nfc = unistring_nfc(*addr, *addr, r);
    if (!nfc)
        return -1;
    free(*addr);
    *addr = nfc;
    return 0;
}

/* True if mailbox has a domain part. */
static bool has_domain(const char *mailbox)
{
    return address_domain(mailbox) != NULL;
}

char *envelope_sender(const char *from, const struct account *a, struct result *r)
{
    bool use_option = from && (!a || a->allow_from_override || !a->from || !*a->from);
    char *sender;

    if (use_option) {
        sender = address_strip_angles(from);
        if (address_validate_envelope(sender, true, r) != 0) {
            free(sender);
            return NULL;
        }
    } else if (a && a->from && *a->from) {
        char *expanded = envelope_expand_from(a->from, percent_m_domain(a));
        sender = address_strip_angles(expanded);
        free(expanded);
        struct result why = RESULT_INIT;
        if (address_validate_envelope(sender, true, &why) != 0) {
            result_set(r, RC_CONFIG, _("account %s (%s:%d): from: %s"), a->name ? a->name : "?",
                       a->file ? a->file : "?", a->line, why.msg);
            result_clear(&why);
            free(sender);
            return NULL;
        }
    } else {
        sender = xasprintf("%s@%s", util_user_name(), util_host_name());
        if (address_validate_envelope(sender, true, r) != 0) {
            free(sender);
            return NULL;
        }
    }

    /* a bare name ("root", as cronie passes it) is qualified like a recipient */
    if (*sender && !has_domain(sender)) {
        char *domain = envelope_mail_domain(a);
        char *q = xasprintf("%s@%s", sender, domain);
        free(domain);
        free(sender);
        sender = q;
        if (address_validate_envelope(sender, true, r) != 0) {
            free(sender);
            return NULL;
        }
    }
    if (envelope_nfc(&sender, r) != 0) {
        free(sender);
        return NULL;
    }
    return sender;
}

/* ------------------------------------------------------------------ */
/* DSN                                                                 */

/* Check a NOTIFY value: "never" alone, or a comma list of success,
 * failure, delay (case-insensitive, no empty items). Returns the
 * uppercased value with duplicates removed, or NULL. */
static char *dsn_notify_canonical(const char *value)
{
    static const char *const words[] = { "success", "failure", "delay" };
    if (ascii_strcasecmp(value, "never") == 0)
        return xstrdup("NEVER");
    bool seen[3] = { false, false, false };
    struct buf b = BUF_INIT;
    const char *p = value;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        size_t w;
        for (w = 0; w < 3; w++)
            if (n == strlen(words[w]) && ascii_strncasecmp(p, words[w], n) == 0)
                break;
        if (w == 3) {
            buf_free(&b);
            return NULL;
        }
        if (!seen[w]) {
            seen[w] = true;
            if (b.len)
                buf_putc(&b, ',');
            for (const char *c = words[w]; *c; c++)
                buf_putc(&b, (char)(*c - 'a' + 'A'));
        }
        if (!e)
            break;
        p = e + 1;
    }
    return buf_steal(&b);
}

static char *dsn_return_canonical(const char *value)
{
    if (ascii_strcasecmp(value, "full") == 0)
        return xstrdup("FULL");
    if (ascii_strcasecmp(value, "hdrs") == 0 || ascii_strcasecmp(value, "headers") == 0)
        return xstrdup("HDRS");
    return NULL;
}

static bool envid_ok(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > ENVID_MAX)
        return false;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f)
            return false;
    return true;
}

static int build_dsn(const struct envelope_request *o, const struct account *a,
                     struct envelope *env, struct result *r)
{
    const char *notify = o ? o->dsn_notify : NULL;
    const char *ret = o ? o->dsn_return : NULL;

    if (notify) {
        env->dsn_notify = dsn_notify_canonical(notify);
        if (!env->dsn_notify) {
            result_set(r, RC_USAGE,
                       _("invalid -N argument \"%s\": use \"never\" or a comma-separated "
                         "list of success, failure and delay"), notify);
            return -1;
        }
    } else if (a && a->dsn_notify && ascii_strcasecmp(a->dsn_notify, "off") != 0) {
        env->dsn_notify = dsn_notify_canonical(a->dsn_notify);
        if (!env->dsn_notify) {
            result_set(r, RC_CONFIG,
                       _("account %s: invalid dsn_notify \"%s\": use off, never, or a "
                         "comma-separated list of success, failure and delay"),
                       a->name ? a->name : "?", a->dsn_notify);
            return -1;
        }
    }

    if (ret) {
        env->dsn_return = dsn_return_canonical(ret);
        if (!env->dsn_return) {
            result_set(r, RC_USAGE, _("invalid -R argument \"%s\": use full or hdrs"), ret);
            return -1;
        }
    } else if (a && a->dsn_return && ascii_strcasecmp(a->dsn_return, "off") != 0) {
        env->dsn_return = dsn_return_canonical(a->dsn_return);
        if (!env->dsn_return) {
            result_set(r, RC_CONFIG,
                       _("account %s: invalid dsn_return \"%s\": use off, headers or full"),
                       a->name ? a->name : "?", a->dsn_return);
            return -1;
        }
    }

    if (o && o->dsn_envid) {
        if (!envid_ok(o->dsn_envid)) {
            result_set(r, RC_USAGE,
                       _("invalid -V argument: the envelope id must be 1 to 100 printable "
                         "ASCII characters without spaces"));
            return -1;
        }
        env->dsn_envid = xstrdup(o->dsn_envid);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Recipients                                                          */

/* Validate mailbox, normalize it (NFC) and append it to *v unless seen
 * already holds it. 0, or -1 with r set. */
static int add_unique(char ***v, size_t *n, struct addr_list *seen, const char *mailbox,
                      struct result *r)
{
    if (address_validate_envelope(mailbox, false, r) != 0)
        return -1;
    char *nfc = xstrdup(mailbox);
    if (envelope_nfc(&nfc, r) != 0) {
        free(nfc);
        return -1;
    }
    if (addr_list_contains(seen, nfc)) {
        free(nfc);
        return 0;
    }
    addr_list_add(seen, NULL, nfc);
    *v = xrealloc(*v, (*n + 1) * sizeof **v);
    (*v)[(*n)++] = nfc;
    return 0;
}

/* Resolve one parsed mailbox: aliases and qualification for bare names. */
static int resolve_one(const struct account *a, const char *mailbox, const char *mail_domain,
                       struct envelope *env, struct addr_list *seen, struct result *r)
{
    if (has_domain(mailbox))
        return add_unique(&env->rcpts, &env->nrcpts, seen, mailbox, r);
    struct addr_list expansion = ADDR_LIST_INIT;
    int found = 0;
    if (a && a->aliases && *a->aliases) {
        found = config_alias_lookup(a->aliases, mailbox, &expansion, r);
        if (found < 0) {
            addr_list_free(&expansion);
            return -1;
        }
    }
    int rc = 0;
    if (found == 0) {
        char *q = xasprintf("%s@%s", mailbox, mail_domain);
        rc = add_unique(&env->rcpts, &env->nrcpts, seen, q, r);
        free(q);
    } else {
        /* expansions are not looked up again (as msmtp) */
        for (size_t i = 0; i < expansion.n && rc == 0; i++) {
            const char *x = expansion.v[i].mailbox;
            if (has_domain(x)) {
                rc = add_unique(&env->rcpts, &env->nrcpts, seen, x, r);
            } else {
                char *q = xasprintf("%s@%s", x, mail_domain);
                rc = add_unique(&env->rcpts, &env->nrcpts, seen, q, r);
                free(q);
            }
        }
    }
    addr_list_free(&expansion);
    return rc;
}

void envelope_free(struct envelope *env)
{
    if (!env)
        return;
    free(env->sender);
    for (size_t i = 0; i < env->nrcpts; i++)
        free(env->rcpts[i]);
    free(env->rcpts);
    free(env->dsn_notify);
    free(env->dsn_return);
    free(env->dsn_envid);
    free(env->mail_domain);
    memset(env, 0, sizeof *env);
}

int envelope_build(const struct envelope_request *o, const struct account *a,
                   const struct message *m, struct envelope *env, struct result *r)
{
    struct addr_list given = ADDR_LIST_INIT, seen = ADDR_LIST_INIT;

    memset(env, 0, sizeof *env);
    env->mail_domain = envelope_mail_domain(a);
    env->sender = envelope_sender(o ? o->from : NULL, a, r);
    if (!env->sender)
        goto fail;
    if (build_dsn(o, a, env, r) != 0)
        goto fail;

    for (size_t i = 0; o && i < o->nrecipients; i++)
        if (address_parse_list(o->recipients[i], &given, r) != 0)
            goto fail;
    if (o && o->read_recipients && m)
        for (size_t i = 0; i < m->rcpts.n; i++)
            addr_list_add(&given, NULL, m->rcpts.v[i].mailbox);

    for (size_t i = 0; i < given.n; i++)
        if (resolve_one(a, given.v[i].mailbox, env->mail_domain, env, &seen, r) != 0)
            goto fail;

    if (env->nrcpts == 0) {
        if (o && o->read_recipients)
            result_set(r, RC_USAGE,
                       _("no recipients given: none on the command line and none in the "
                         "To, Cc or Bcc header of the message (-t)"));
        else
            result_set(r, RC_USAGE,
                       _("no recipients given: name them on the command line, or use -t "
                         "to take them from the To, Cc and Bcc header fields"));
        goto fail;
    }

    addr_list_free(&given);
    addr_list_free(&seen);
    return 0;

fail:
    addr_list_free(&given);
    addr_list_free(&seen);
    envelope_free(env);
    return -1;
}
