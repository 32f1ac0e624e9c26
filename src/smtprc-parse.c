/*
 * smtprc-parse.c - msmtprc semantics (see smtprc.h): the table of every
 * command (msmtp 1.8's list, smtpfwd's spool commands, smtpfwd's
 * maildomain) with its validation (the EHLO name check after %H
 * expansion, fingerprints in their canonical form), the obsolete
 * spellings msmtp still accepts, account memory and inheritance through
 * per-field set masks; and msmtp's command-line settings, applied through
 * the same table and validation (errors then RC_USAGE, naming the
 * option). The syntax of a file (lines, quoting, comments, `defaults`,
 * `account`, `eval`) is smtprc-syntax.c's, which calls
 * config_setting_apply() for every setting line.
 *
 * It owns struct account memory (creation, copying, freeing). It never
 * opens files (smtprc.c does), never prints except one warning for an
 * ignored obsolete command, and wipes every buffer that may hold a
 * password.
 */
#include <config.h>

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtprc-parse.h"
#include "i18n.h"
#include "log.h"
#include "sasl.h"
#include "util.h"

/* ------------------------------------------------------------------ */
/* The command table: one entry per setting, in the order of doc/ARCHITECTURE.md's
 * command list (which is also the --pretend order). The index is the
 * bit in set_mask. */

static const char *const protocol_choices[] = { "smtp", "lmtp", NULL };
static const char *const dsn_return_choices[] = { "off", "headers", "full", NULL };
static const char *const oauth2_provider_choices[] = { "gmail", "microsoft", "generic", NULL };
static const char *const oauth2_store_choices[] = { "auto", "keyring", "file", NULL };

#define OFF(m) offsetof(struct account, m)
const struct config_field config_fields[] = {
    { "host", CF_STR, OFF(host), CF_NEED_ARG | CF_CONNECTION, NULL, NULL },
    { "port", CF_PORT, OFF(port), CF_CONNECTION, NULL, NULL },
    { "source_ip", CF_STR, OFF(source_ip), CF_CONNECTION, NULL, NULL },
    { "proxy_host", CF_STR, OFF(proxy_host), CF_CONNECTION, NULL, NULL },
    { "proxy_port", CF_PORT, OFF(proxy_port), CF_CONNECTION, NULL, NULL },
    { "socket", CF_PATH, OFF(socket), CF_CONNECTION, NULL, NULL },
    { "timeout", CF_TIMEOUT, OFF(timeout), CF_NEED_ARG | CF_CONNECTION, NULL, NULL },
    { "protocol", CF_CHOICE, OFF(protocol), CF_NEED_ARG | CF_CONNECTION, protocol_choices, NULL },
    { "domain", CF_EHLO, OFF(domain), CF_CONNECTION, NULL, NULL },
    { "from", CF_STR, OFF(from), 0, NULL, NULL },
    { "from_full_name", CF_STR, OFF(from_full_name), 0, NULL, NULL },
    { "allow_from_override", CF_BOOL, OFF(allow_from_override), 0, NULL, NULL },
    { "dsn_notify", CF_DSN_NOTIFY, OFF(dsn_notify), CF_NEED_ARG, NULL, NULL },
    { "dsn_return", CF_CHOICE, OFF(dsn_return), CF_NEED_ARG, dsn_return_choices, NULL },
    { "auth", CF_AUTH, OFF(auth), CF_CONNECTION, NULL, "on" },
    { "user", CF_STR, OFF(user), CF_CONNECTION, NULL, NULL },
    { "password", CF_SECRET, OFF(password), CF_CONNECTION, NULL, NULL },
    { "passwordeval", CF_STR, OFF(passwordeval), CF_CONNECTION, NULL, NULL },
    { "ntlmdomain", CF_STR, OFF(ntlmdomain), CF_CONNECTION, NULL, NULL },
    { "allow_plaintext_auth", CF_BOOL, OFF(allow_plaintext_auth), CF_CONNECTION, NULL, NULL },
    { "oauth2_provider", CF_CHOICE, OFF(oauth2_provider), CF_CONNECTION, oauth2_provider_choices, NULL },
    { "oauth2_client_id", CF_STR, OFF(oauth2_client_id), CF_CONNECTION, NULL, NULL },
    { "oauth2_client_secret", CF_SECRET, OFF(oauth2_client_secret), CF_CONNECTION, NULL, NULL },
    { "oauth2_client_secret_eval", CF_STR, OFF(oauth2_client_secret_eval), CF_CONNECTION, NULL, NULL },
    { "oauth2_scope", CF_STR, OFF(oauth2_scope), CF_CONNECTION, NULL, NULL },
    { "oauth2_auth_endpoint", CF_STR, OFF(oauth2_auth_endpoint), CF_CONNECTION, NULL, NULL },
    { "oauth2_token_endpoint", CF_STR, OFF(oauth2_token_endpoint), CF_CONNECTION, NULL, NULL },
    { "oauth2_device_endpoint", CF_STR, OFF(oauth2_device_endpoint), CF_CONNECTION, NULL, NULL },
    { "oauth2_tls_trust_file", CF_TRUST, OFF(oauth2_tls_trust_file), CF_CONNECTION, NULL, NULL },
    { "oauth2_token_store", CF_CHOICE, OFF(oauth2_token_store), CF_CONNECTION, oauth2_store_choices, NULL },
    { "tls", CF_BOOL, OFF(tls), CF_CONNECTION, NULL, NULL },
    { "tls_starttls", CF_BOOL, OFF(tls_starttls), CF_CONNECTION, NULL, NULL },
    { "tls_trust_file", CF_TRUST, OFF(tls_trust_file), CF_CONNECTION, NULL, NULL },
    { "tls_crl_file", CF_PATH, OFF(tls_crl_file), CF_CONNECTION, NULL, NULL },
    { "tls_fingerprint", CF_FPR, OFF(tls_fingerprint), CF_CONNECTION, NULL, NULL },
    { "tls_key_file", CF_PATH, OFF(tls_key_file), CF_CONNECTION, NULL, NULL },
    { "tls_cert_file", CF_PATH, OFF(tls_cert_file), CF_CONNECTION, NULL, NULL },
    { "tls_certcheck", CF_BOOL, OFF(tls_certcheck), CF_CONNECTION, NULL, NULL },
    { "tls_priorities", CF_STR, OFF(tls_priorities), CF_CONNECTION, NULL, NULL },
    { "tls_host_override", CF_STR, OFF(tls_host_override), CF_CONNECTION, NULL, NULL },
    { "tls_min_dh_prime_bits", CF_POSINT, OFF(tls_min_dh_prime_bits), CF_CONNECTION, NULL, NULL },
    { "set_from_header", CF_HDR3, OFF(set_from_header), CF_NEED_ARG, NULL, NULL },
    { "set_date_header", CF_HDR2, OFF(set_date_header), CF_NEED_ARG, NULL, NULL },
    { "set_msgid_header", CF_HDR2, OFF(set_msgid_header), CF_NEED_ARG, NULL, NULL },
    { "set_to_header", CF_STR, OFF(set_to_header), 0, NULL, NULL },
    { "remove_bcc_headers", CF_BOOL, OFF(remove_bcc_headers), 0, NULL, NULL },
    { "undisclosed_recipients", CF_BOOL, OFF(undisclosed_recipients), 0, NULL, NULL },
    { "logfile", CF_PATH, OFF(logfile), 0, NULL, NULL },
    { "logfile_time_format", CF_STR, OFF(logfile_time_format), 0, NULL, NULL },
    { "syslog", CF_SYSLOG, OFF(syslog), 0, NULL, NULL },
    { "aliases", CF_PATH, OFF(aliases), 0, NULL, NULL },
    { "queue", CF_QUEUE, OFF(queue), CF_NEED_ARG, NULL, NULL },
    { "queue_dir", CF_PATH, OFF(queue_dir), 0, NULL, NULL },
    { "queue_lifetime", CF_DURATION, OFF(queue_lifetime), CF_NEED_ARG, NULL, NULL },
    { "queue_max_backoff", CF_DURATION, OFF(queue_max_backoff), CF_NEED_ARG, NULL, NULL },
    { "maildomain", CF_STR, OFF(maildomain), 0, NULL, NULL },
    { "chunking", CF_BOOL, OFF(chunking), CF_CONNECTION, NULL, NULL },
    { "tls_session_cache", CF_BOOL, OFF(tls_session_cache), CF_CONNECTION, NULL, NULL },
    { "fallback", CF_STR, OFF(fallback), 0, NULL, NULL },
    { "proxy_user", CF_STR, OFF(proxy_user), CF_CONNECTION, NULL, NULL },
    { "proxy_password", CF_SECRET, OFF(proxy_password), CF_CONNECTION, NULL, NULL },
    { "proxy_passwordeval", CF_STR, OFF(proxy_passwordeval), CF_CONNECTION, NULL, NULL },
};
#undef OFF
const size_t config_nfields = sizeof config_fields / sizeof config_fields[0];
_Static_assert(sizeof config_fields / sizeof config_fields[0] <= 64,
               "set_mask has one bit per setting");

static bool is_string_type(enum config_ftype t)
{
    switch (t) {
    case CF_STR: case CF_PATH: case CF_TRUST: case CF_SECRET: case CF_CHOICE: case CF_AUTH:
    case CF_DSN_NOTIFY: case CF_SYSLOG: case CF_FPR: case CF_EHLO:
        return true;
    default:
        return false;
    }
}

static char **str_at(struct account *a, const struct config_field *f)
{
    return (char **)((char *)a + f->off);
}

static const struct config_field *field_by_name(const char *name)
{
    for (size_t i = 0; i < config_nfields; i++)
        if (strcmp(config_fields[i].name, name) == 0)
            return &config_fields[i];
    return NULL;
}

static unsigned long long field_bit(const struct config_field *f)
{
    return 1ULL << (unsigned)(f - config_fields);
}

/* ------------------------------------------------------------------ */
/* Accounts */

struct account *config_account_new(void)
{
    struct account *a = xcalloc(1, sizeof *a);
    a->allow_from_override = true;
    a->set_from_header = HDR_AUTO;
    a->set_date_header = HDR_AUTO;
    a->set_msgid_header = HDR_AUTO;
    a->remove_bcc_headers = true;
    a->tls = true;
    a->tls_starttls = true;
    a->tls_certcheck = true;
    a->chunking = true;
    a->tls_session_cache = true;
    a->queue = QUEUE_ON_FAILURE;
    a->queue_lifetime = 5L * 24 * 3600;
    a->queue_max_backoff = 3600;
    return a;
}

void config_account_free(struct account *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < config_nfields; i++) {
        if (!is_string_type(config_fields[i].type))
            continue;
        char **p = str_at(a, &config_fields[i]);
        if (config_fields[i].type == CF_SECRET)
            secret_free(*p);
        else
            free(*p);
        *p = NULL;
    }
    free(a->name);
    free(a->file);
    free(a);
}

/* Copy field f from src to dst (deep), replacing dst's value. */
static void copy_field(struct account *dst, const struct account *src, const struct config_field *f)
{
    if (is_string_type(f->type)) {
        char **d = str_at(dst, f);
        char *const *s = (char *const *)((const char *)src + f->off);
        if (f->type == CF_SECRET)
            secret_free(*d);
        else
            free(*d);
        *d = *s ? xstrdup(*s) : NULL;
        return;
    }
    size_t size;
    switch (f->type) {
    case CF_BOOL: size = sizeof(bool); break;
    case CF_HDR3: case CF_HDR2: size = sizeof(enum hdr_mode); break;
    case CF_QUEUE: size = sizeof(enum queue_mode); break;
    case CF_DURATION: size = sizeof(long); break;
    default: size = sizeof(int); break;
    }
    memcpy((char *)dst + f->off, (const char *)src + f->off, size);
}

/* Override dst with every setting src has set explicitly. */
void config_account_inherit(struct account *dst, const struct account *src)
{
    for (size_t i = 0; i < config_nfields; i++) {
        if (src->set_mask & (1ULL << i))
            copy_field(dst, src, &config_fields[i]);
    }
    dst->set_mask |= src->set_mask;
}

struct account *config_account_copy(const struct account *src)
{
    struct account *a = config_account_new();
    config_account_inherit(a, src);
    a->set_mask = src->set_mask;
    return a;
}

struct config *config_new(void)
{
    return xcalloc(1, sizeof(struct config));
}

void config_free(struct config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->naccounts; i++)
        config_account_free(cfg->accounts[i]);
    free(cfg->accounts);
    free(cfg->user_file);
    free(cfg->system_file);
    free(cfg);
}

const struct account *config_find(const struct config *cfg, const char *name)
{
    if (!cfg || !name)
        return NULL;
    size_t i = config_find_index(cfg, name);
    return i == SIZE_MAX ? NULL : cfg->accounts[i];
}

size_t config_find_index(const struct config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->naccounts; i++)
        if (strcmp(cfg->accounts[i]->name, name) == 0)
            return i;
    return SIZE_MAX;
}

/* ------------------------------------------------------------------ */
/* Values */

static int parse_uint(const char *s, long max, long *out)
{
    long v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        if (v > (max - (*s - '0')) / 10)
            return -1;
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return 0;
}

static int parse_duration(const char *s, long *out)
{
    size_t n = strlen(s);
    long mult = 1;
    char *num;
    if (n == 0)
        return -1;
    switch (s[n - 1]) {
    case 's': mult = 1; n--; break;
    case 'm': mult = 60; n--; break;
    case 'h': mult = 3600; n--; break;
    case 'd': mult = 86400; n--; break;
    default: break;
    }
    num = xstrndup(s, n);
    long v;
    int rc = parse_uint(num, LONG_MAX / mult, &v);
    free(num);
    if (rc != 0 || v == 0)
        return -1;
    *out = v * mult;
    return 0;
}

/* A certificate fingerprint as hex pairs separated by ':' (msmtp), or as
 * one run of hex digits (certtool, openssl without -c), in either case,
 * optionally after "sha256:" or "sha1:"; SHA-256 (32 bytes) or SHA-1
 * (20 bytes). Returns the canonical "AB:CD:..." form, or NULL with *why
 * set to a hint (NULL for the generic one). */
static char *fingerprint_canonical(const char *s, const char **why)
{
    static const char digits[] = "0123456789ABCDEF";
    unsigned char bytes[32];
    size_t n = 0;
    size_t want = 0;

    *why = NULL;
    if (ascii_startswith_ci(s, "sha256:")) {
        s += 7;
        want = 32;
    } else if (ascii_startswith_ci(s, "sha1:")) {
        s += 5;
        want = 20;
    }
    bool colons = strchr(s, ':') != NULL;
    while (*s) {
        int hi = hex_digit_value(s[0]);
        int lo = hi < 0 ? -1 : hex_digit_value(s[1]);
        if (lo < 0 || n == sizeof bytes)
            return NULL;
        bytes[n++] = (unsigned char)(hi << 4 | lo);
        s += 2;
        if (colons && *s == ':' && s[1] != '\0')
            s++;
        else if (colons && *s != '\0')
            return NULL;
    }
    if (n == 16 && !want) {
        *why = _("MD5 fingerprints are not accepted; use the SHA-256 fingerprint that "
                 "smtpfwd --serverinfo prints");
        return NULL;
    }
    if ((n != 32 && n != 20) || (want && n != want))
        return NULL;
    char *out = xmalloc(n * 3);
    for (size_t i = 0; i < n; i++) {
        out[3 * i] = digits[bytes[i] >> 4];
        out[3 * i + 1] = digits[bytes[i] & 15];
        out[3 * i + 2] = i + 1 < n ? ':' : '\0';
    }
    return out;
}

/* The argument of EHLO/LHLO (RFC 5321 4.1.1.1): a host name of letters,
 * digits, '-' and '_' in dot-separated non-empty labels ('_' is not in
 * the RFC but in many real host names), or an address literal such as
 * [192.0.2.1] or [IPv6:2001:db8::1]. */
static bool valid_ehlo_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 255)
        return false;
    if (s[0] == '[') {
        if (n < 3 || s[n - 1] != ']')
            return false;
        for (size_t i = 1; i + 1 < n; i++)
            if (s[i] <= ' ' || s[i] > '~' || s[i] == '[' || s[i] == ']' || s[i] == '\\')
                return false;
        return true;
    }
    bool label_start = true;
    for (const char *p = s; *p; p++) {
        if (*p == '.') {
            if (label_start)
                return false;
            label_start = true;
            continue;
        }
        if (!isascii((unsigned char)*p) || !(isalnum((unsigned char)*p) || *p == '-' || *p == '_'))
            return false;
        label_start = false;
    }
    return !label_start;
}

/* `domain` with msmtp's %H and %C (this host's name, fully qualified when
 * the resolver knows it) and %% expanded; other % sequences stay (and are
 * then refused by valid_ehlo_name). Caller frees. */
static char *expand_host_name(const char *s)
{
    struct buf b = BUF_INIT;
    buf_puts(&b, "");
    for (; *s; s++) {
        if (s[0] == '%' && (s[1] == 'H' || s[1] == 'C')) {
            buf_puts(&b, util_host_name());
            s++;
        } else if (s[0] == '%' && s[1] == '%') {
            buf_putc(&b, '%');
            s++;
        } else {
            buf_putc(&b, *s);
        }
    }
    return buf_steal(&b);
}

static bool valid_dsn_notify(const char *s)
{
    if (ascii_strcasecmp(s, "off") == 0 || ascii_strcasecmp(s, "never") == 0)
        return true;
    const char *p = s;
    unsigned seen = 0;
    static const char *const words[] = { "success", "failure", "delay" };
    for (;;) {
        size_t n = strcspn(p, ",");
        size_t i;
        for (i = 0; i < 3; i++)
            if (n == strlen(words[i]) && ascii_strncasecmp(p, words[i], n) == 0)
                break;
        if (i == 3 || (seen & (1u << i)))
            return false;
        seen |= 1u << i;
        if (p[n] == '\0')
            return true;
        p += n + 1;
    }
}

static char *syslog_value(const char *arg)
{
    if (*arg == '\0' || ascii_strcasecmp(arg, "on") == 0)
        return xstrdup("LOG_USER");
    if (ascii_strcasecmp(arg, "LOG_USER") == 0 || ascii_strcasecmp(arg, "LOG_MAIL") == 0
        || (ascii_strncasecmp(arg, "LOG_LOCAL", 9) == 0 && arg[9] >= '0' && arg[9] <= '7'
            && arg[10] == '\0')) {
        char *v = xstrdup(arg);
        for (char *p = v; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        return v;
    }
    return NULL;
}

/* Record an error of the text being parsed: "FILE:LINE: " before the
 * message and RC_CONFIG for a file; the message alone and RC_USAGE for
 * settings from the command line. Returns -1. */
static int parse_error(struct parse_ctx *c, int line, struct result *r, const char *fmt, ...)
    ATTR_PRINTF(4, 5);
static int parse_error(struct parse_ctx *c, int line, struct result *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = xvasprintf(fmt, ap);
    va_end(ap);
    if (c->file)
        result_set(r, RC_CONFIG, "%s:%d: %s", c->file, line, msg);
    else
        result_set(r, RC_USAGE, "%s", msg);
    free(msg);
    return -1;
}

static int bad_value(struct parse_ctx *c, int line, const char *cmd, const char *arg,
                     const char *hint, struct result *r)
{
    if (hint)
        return parse_error(c, line, r, _("invalid %s \"%s\" (%s)"), cmd, arg, hint);
    return parse_error(c, line, r, _("invalid %s \"%s\""), cmd, arg);
}

static int needs_argument(struct parse_ctx *c, int line, const char *cmd, struct result *r)
{
    if (c->file)
        return parse_error(c, line, r, _("command \"%s\" needs an argument"), cmd);
    return parse_error(c, line, r, _("option %s needs an argument"), cmd);
}

static void set_string(struct account *a, const struct config_field *f, char *value)
{
    char **p = str_at(a, f);
    if (f->type == CF_SECRET)
        secret_free(*p);
    else
        free(*p);
    *p = value;
}

/* Apply one setting command (from the table) to the current block. */
static int apply_field(struct parse_ctx *c, int line, const struct config_field *f, const char *cmd,
                       const char *arg, struct result *r)
{
    struct account *a = c->cur;
    void *p = (char *)a + f->off;
    long v;

    if (*arg == '\0' && (f->flags & CF_NEED_ARG))
        return needs_argument(c, line, cmd, r);
    if (f->flags & CF_CONNECTION)
        c->connection_set = true;
    switch (f->type) {
    case CF_STR:
        set_string(a, f, *arg ? xstrdup(arg) : NULL);
        break;
    case CF_SECRET:
        set_string(a, f, *arg ? xstrdup(arg) : NULL);
        if (c->depth == 0 && *arg)
            c->saw_password = true;
        break;
    case CF_PATH:
        set_string(a, f, *arg ? util_expand_home(arg) : NULL);
        break;
    case CF_TRUST:
        set_string(a, f, !*arg ? NULL : strcmp(arg, "system") == 0 ? xstrdup(arg)
                                                                    : util_expand_home(arg));
        break;
    case CF_BOOL:
        if (*arg == '\0' || ascii_strcasecmp(arg, "on") == 0)
            *(bool *)p = true;
        else if (ascii_strcasecmp(arg, "off") == 0)
            *(bool *)p = false;
        else
            return bad_value(c, line, cmd, arg, _("expected on or off"), r);
        break;
    case CF_PORT:
        if (*arg == '\0')
            v = 0;
        else if (parse_uint(arg, 65535, &v) != 0 || v < 1)
            return bad_value(c, line, cmd, arg, _("expected a number from 1 to 65535"), r);
        *(int *)p = (int)v;
        break;
    case CF_TIMEOUT:
        if (ascii_strcasecmp(arg, "off") == 0)
            v = 0;
        else if (parse_uint(arg, INT_MAX, &v) != 0 || v < 1)
            return bad_value(c, line, cmd, arg, _("expected off or a number of seconds"), r);
        *(int *)p = (int)v;
        break;
    case CF_POSINT:
        if (*arg == '\0')
            v = 0;
        else if (parse_uint(arg, INT_MAX, &v) != 0 || v < 1)
            return bad_value(c, line, cmd, arg, _("expected a positive number"), r);
        *(int *)p = (int)v;
        break;
    case CF_HDR3:
    case CF_HDR2:
        if (ascii_strcasecmp(arg, "auto") == 0)
            *(enum hdr_mode *)p = HDR_AUTO;
        else if (ascii_strcasecmp(arg, "on") == 0)
            *(enum hdr_mode *)p = f->type == CF_HDR3 ? HDR_ON : HDR_AUTO;
        else if (ascii_strcasecmp(arg, "off") == 0)
            *(enum hdr_mode *)p = HDR_OFF;
        else
            return bad_value(c, line, cmd, arg,
                             f->type == CF_HDR3 ? _("expected auto, on or off")
                                               : _("expected auto or off"), r);
        break;
    case CF_CHOICE:
    case CF_AUTH: {
        const char *const *choices = f->type == CF_AUTH ? sasl_auth_values() : f->choices;
        if (*arg == '\0') {
            set_string(a, f, f->empty ? xstrdup(f->empty) : NULL);
            break;
        }
        size_t i;
        for (i = 0; choices[i]; i++)
            if (ascii_strcasecmp(arg, choices[i]) == 0)
                break;
        if (!choices[i]) {
            struct buf hint = BUF_INIT;
            buf_puts(&hint, _("expected one of:"));
            for (i = 0; choices[i]; i++)
                buf_printf(&hint, " %s", choices[i]);
            bad_value(c, line, cmd, arg, hint.data, r);
            buf_free(&hint);
            return -1;
        }
        set_string(a, f, xstrdup(choices[i]));
        break;
    }
    case CF_DSN_NOTIFY:
        if (!valid_dsn_notify(arg))
            return bad_value(c, line, cmd, arg,
                             _("expected off, never, or a list of success, failure, delay"), r);
        set_string(a, f, xstrdup(arg));
        ascii_lower(*str_at(a, f));
        break;
    case CF_SYSLOG:
        if (ascii_strcasecmp(arg, "off") == 0) {
            set_string(a, f, NULL);
        } else {
            char *s = syslog_value(arg);
            if (!s)
                return bad_value(c, line, cmd, arg,
                                 _("expected on, off, LOG_USER, LOG_MAIL or LOG_LOCAL0 to LOG_LOCAL7"),
                                 r);
            set_string(a, f, s);
        }
        break;
    case CF_FPR: {
        const char *why = NULL;
        char *fpr = *arg ? fingerprint_canonical(arg, &why) : NULL;
        if (*arg && !fpr)
            return bad_value(c, line, cmd, arg,
                             why ? why : _("expected a SHA256 (32) or SHA1 (20) fingerprint as "
                                           "hex pairs separated by ':', or as one run of hex "
                                           "digits"),
                             r);
        set_string(a, f, fpr);
        break;
    }
    case CF_EHLO: {
        char *name = *arg ? expand_host_name(arg) : NULL;
        if (name && !valid_ehlo_name(name)) {
            int rc = strcmp(name, arg) == 0
                         ? bad_value(c, line, cmd, arg,
                                     _("expected a host name such as mail.example.org, or an "
                                       "address literal such as [192.0.2.1]"), r)
                         : parse_error(c, line, r,
                                       _("invalid %s \"%s\" (it stands for \"%s\", which is "
                                         "not a host name)"), cmd, arg, name);
            free(name);
            return rc;
        }
        set_string(a, f, name);
        break;
    }
    case CF_QUEUE:
        if (ascii_strcasecmp(arg, "off") == 0)
            *(enum queue_mode *)p = QUEUE_OFF;
        else if (ascii_strcasecmp(arg, "on-failure") == 0)
            *(enum queue_mode *)p = QUEUE_ON_FAILURE;
        else if (ascii_strcasecmp(arg, "always") == 0)
            *(enum queue_mode *)p = QUEUE_ALWAYS;
        else
            return bad_value(c, line, cmd, arg, _("expected off, on-failure or always"), r);
        break;
    case CF_DURATION:
        if (parse_duration(arg, &v) != 0)
            return bad_value(c, line, cmd, arg,
                             _("expected a positive number with an optional s, m, h or d suffix"),
                             r);
        *(long *)p = v;
        break;
    }
    a->set_mask |= field_bit(f);
    return 0;
}

/* Obsolete spellings msmtp still accepts, mapped onto current settings. */
static const char *const obsolete_names[] = {
    "tls_nocertcheck", "tls_nostarttls", "tls_force_sslv3", "connect_timeout", "keepbcc",
    "auto_from", "add_missing_from_header", "add_missing_date_header"
};

/* cmd is the obsolete command's name; shown is what the user wrote (the
 * command, or the option on the command line). */
static int obsolete_command(struct parse_ctx *c, int line, const char *cmd, const char *shown,
                            const char *arg, struct result *r)
{
    bool on = *arg == '\0' || ascii_strcasecmp(arg, "on") == 0;
    bool off = ascii_strcasecmp(arg, "off") == 0;

    if (strcmp(cmd, "connect_timeout") == 0)
        return apply_field(c, line, field_by_name("timeout"), shown, arg, r);
    if (!on && !off)
        return bad_value(c, line, shown, arg, _("expected on or off"), r);
    if (strcmp(cmd, "tls_nocertcheck") == 0)
        return apply_field(c, line, field_by_name("tls_certcheck"), shown, on ? "off" : "on", r);
    if (strcmp(cmd, "tls_nostarttls") == 0)
        return apply_field(c, line, field_by_name("tls_starttls"), shown, on ? "off" : "on", r);
    if (strcmp(cmd, "keepbcc") == 0)
        return apply_field(c, line, field_by_name("remove_bcc_headers"), shown, on ? "off" : "on",
                           r);
    if (strcmp(cmd, "add_missing_from_header") == 0)
        return apply_field(c, line, field_by_name("set_from_header"), shown, on ? "auto" : "off",
                           r);
    if (strcmp(cmd, "add_missing_date_header") == 0)
        return apply_field(c, line, field_by_name("set_date_header"), shown, on ? "auto" : "off",
                           r);
    if (strcmp(cmd, "auto_from") == 0)
        return on ? apply_field(c, line, field_by_name("from"), shown, "%U@%M", r) : 0;
    /* tls_force_sslv3 */
    if (c->file)
        log_warning(_("%s:%d: command \"%s\" is obsolete and ignored"), c->file, line, shown);
    else
        log_warning(_("option %s is obsolete and ignored"), shown);
    return 0;
}

static bool is_obsolete(const char *cmd)
{
    for (size_t i = 0; i < sizeof obsolete_names / sizeof obsolete_names[0]; i++)
        if (strcmp(cmd, obsolete_names[i]) == 0)
            return true;
    return false;
}

bool config_is_setting(const char *cmd)
{
    return field_by_name(cmd) || is_obsolete(cmd);
}

/* One setting command (from the table, or an obsolete spelling) applied
 * to the current block; shown names it in messages. Returns 1 when cmd
 * is not a setting at all (nothing done), else 0 or -1 with r set. */
int config_setting_apply(struct parse_ctx *c, int line, const char *cmd, const char *shown,
                         const char *arg, struct result *r)
{
    const struct config_field *f = field_by_name(cmd);
    if (f)
        return apply_field(c, line, f, shown, arg, r);
    if (is_obsolete(cmd))
        return obsolete_command(c, line, cmd, shown, arg, r);
    return 1;
}

/* ------------------------------------------------------------------ */
/* Settings that depend on each other */

/* What the OAuth2 endpoints must be (tokens and client secrets travel
 * to them): https:// with a host, as oauth2.c reads them. */
static bool valid_https_url(const char *url)
{
    char *host = util_https_url_host(url);
    free(host);
    return host != NULL;
}

/* The mechanisms an OAuth2 access token is for. */
static bool auth_takes_bearer_token(const char *auth)
{
    return auth && (strcmp(auth, "oauthbearer") == 0 || strcmp(auth, "xoauth2") == 0);
}

static int account_error(const struct account *a, bool command_line, struct result *r,
                         const char *fmt, ...) ATTR_PRINTF(4, 5);
static int account_error(const struct account *a, bool command_line, struct result *r,
                         const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = xvasprintf(fmt, ap);
    va_end(ap);
    if (command_line)
        result_set(r, RC_USAGE, _("account %s, with the command-line options: %s"), a->name,
                   msg);
    else
        result_set(r, RC_CONFIG, _("%s:%d: account %s: %s"), a->file ? a->file : "", a->line,
                   a->name, msg);
    free(msg);
    return -1;
}

int config_account_check(const struct account *a, bool command_line, struct result *r)
{
    if (a->proxy_host && a->socket)
        return account_error(a, command_line, r,
                             _("socket and proxy_host cannot be used together (a local "
                               "socket is not reached through a proxy)"));
    if (a->proxy_password && a->proxy_passwordeval)
        return account_error(a, command_line, r,
                             _("set proxy_password or proxy_passwordeval, not both"));
    if (!a->oauth2_provider)
        return 0;       /* the oauth2_* settings are not used */
    if (!auth_takes_bearer_token(a->auth))
        return account_error(a, command_line, r,
                             _("oauth2_provider needs \"auth oauthbearer\" or \"auth "
                               "xoauth2\" (auth is %s)"),
                             a->auth ? a->auth : "off");
    const struct {
        const char *name;
        const char *url;
    } endpoints[] = {
        { "oauth2_auth_endpoint", a->oauth2_auth_endpoint },
        { "oauth2_token_endpoint", a->oauth2_token_endpoint },
        { "oauth2_device_endpoint", a->oauth2_device_endpoint },
    };
    for (size_t i = 0; i < sizeof endpoints / sizeof endpoints[0]; i++)
        if (endpoints[i].url && !valid_https_url(endpoints[i].url))
            return account_error(a, command_line, r,
                                 _("%s must be an https:// URL with a host name (it is "
                                   "\"%s\")"), endpoints[i].name, endpoints[i].url);
    if (a->oauth2_client_secret && a->oauth2_client_secret_eval)
        return account_error(a, command_line, r,
                             _("set oauth2_client_secret or oauth2_client_secret_eval, not "
                               "both"));
    return 0;
}

/* ------------------------------------------------------------------ */
/* Settings from the command line (msmtp's long options) */

/* A queued message is delivered later with the account's settings from
 * the file: when the command line changed how to connect, the message
 * must not wait in the spool for a connection it did not ask for. */
static int apply_settings(struct account *a, const struct config_setting *s, size_t n,
                          struct result *r)
{
    struct parse_ctx c = { NULL, NULL, NULL, a, false, 0, false, false };
    for (size_t i = 0; i < n; i++) {
        int rc = config_setting_apply(&c, 0, s[i].command, s[i].option, s[i].value, r);
        if (rc > 0)
            result_set(r, RC_SOFTWARE, _("option %s names no configuration command"),
                       s[i].option);
        if (rc != 0)
            return -1;
    }
    if (c.connection_set)
        a->queue = QUEUE_OFF;
    return config_account_check(a, true, r);
}

int config_apply_settings(struct config *cfg, const char *name, const struct config_setting *s,
                          size_t n, struct result *r)
{
    size_t i = config_find_index(cfg, name);
    if (i == SIZE_MAX) {
        result_set(r, RC_SOFTWARE, _("account \"%s\" not found"), name);
        return -1;
    }
    return apply_settings(cfg->accounts[i], s, n, r);
}

int config_from_settings(const struct config_setting *s, size_t n, struct config **out,
                         struct result *r)
{
    struct account *a = config_account_new();
    a->name = xstrdup(CONFIG_COMMAND_LINE);
    a->file = xstrdup(CONFIG_COMMAND_LINE);
    a->queue = QUEUE_OFF;
    *out = NULL;
    if (apply_settings(a, s, n, r) != 0) {
        config_account_free(a);
        return -1;
    }
    struct config *cfg = config_new();
    cfg->accounts = xcalloc(1, sizeof *cfg->accounts);
    cfg->accounts[0] = a;
    cfg->naccounts = 1;
    *out = cfg;
    return 0;
}
