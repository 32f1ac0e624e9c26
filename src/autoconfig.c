/*
 * autoconfig.c - `smtpfwd --configure ADDRESS [--write]` (see
 * autoconfig.h): the order of the lookups (DNS SRV, then the two
 * autoconfig URLs), the account block printed or written, what was
 * tried and why each failed, and the exit status.
 *
 * Owns: the account block (the smtprc keywords it uses, the comments
 * saying where each fact came from), the OAuth2 provider of a known
 * host, the list of attempts.
 *
 * Must not: parse DNS or XML itself (autoconfig-srv.c,
 * autoconfig-xml.c), call libcurl (https.c), or write a file
 * (autoconfig-write.c).
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoconfig.h"
#include "autoconfig-int.h"
#include "https.h"
#include "i18n.h"
#include "idn.h"
#include "log.h"
#include "result.h"
#include "smtprc.h"
#include "util.h"

#define AC_HTTP_TIMEOUT 20            /* seconds per document */
#define AC_MAX_DOCUMENT (1024 * 1024) /* bytes of a document */

/* One run: the address and what has been tried. */
struct ac_run {
    const char *address;
    char *local;                  /* the local part */
    char *domain;                 /* the domain as given, lowercased when ASCII */
    char *ace;                    /* the domain in A-labels, lowercased */
    struct buf tried;             /* "  - WHAT: WHY\n" lines */
    bool tempfail;                /* some lookup failed for now */
};

static void tried(struct ac_run *run, const char *what, const char *why, bool temporary)
{
    buf_printf(&run->tried, "  - %s: %s\n", what, why);
    if (temporary)
        run->tempfail = true;
}

/* A value for a configuration line: as it is when it is one word of
 * printable characters, else in double quotes with \" and \\. */
static void put_value(struct buf *b, const char *v)
{
    bool plain = *v != '\0' && *v != '"';
    for (const unsigned char *p = (const unsigned char *)v; *p && plain; p++)
        plain = *p > ' ' && *p != 0x7f && *p != '#' && *p != '\\';
    if (plain) {
        buf_puts(b, v);
        return;
    }
    buf_putc(b, '"');
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\')
            buf_putc(b, '\\');
        if ((unsigned char)*p >= ' ' && *p != 0x7f)
            buf_putc(b, *p);
    }
    buf_putc(b, '"');
}

/* The OAuth2 preset of a server known to need it, or NULL. */
static const char *known_oauth2_provider(const char *host)
{
    static const struct {
        const char *suffix;
        const char *provider;
    } known[] = {
        { "gmail.com", "gmail" },
        { "googlemail.com", "gmail" },
        { "google.com", "gmail" },
        { "office365.com", "microsoft" },
        { "outlook.com", "microsoft" },
        { "hotmail.com", "microsoft" },
        { "live.com", "microsoft" },
    };
    size_t hl = strlen(host);
    while (hl && host[hl - 1] == '.')
        hl--;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        size_t sl = strlen(known[i].suffix);
        if (hl >= sl && ascii_strncasecmp(host + hl - sl, known[i].suffix, sl) == 0
            && (hl == sl || host[hl - sl - 1] == '.'))
            return known[i].provider;
    }
    return NULL;
}

/* What goes into the block. */
struct ac_choice {
    const char *host;
    unsigned port;
    bool implicit_tls;           /* port 465 style */
    bool plain;                  /* no TLS at all */
    enum ac_auth auth;
    const char *user;            /* NULL: the address */
};

static void put_block(struct buf *b, const struct ac_run *run, const struct ac_choice *c,
                      const char *account)
{
    if (c->plain)
        buf_printf(b, "# %s\n# %s\n", _("WARNING: this server is offered WITHOUT TLS: the "
                                        "password and every message would cross the network "
                                        "readable by anyone on the way."),
                   _("Prefer another server of your provider if there is one."));
    const char *provider = known_oauth2_provider(c->host);
    bool oauth2 = c->auth == AC_AUTH_OAUTH2 || provider;
    buf_puts(b, "account ");
    buf_puts(b, account);
    buf_puts(b, "\nhost ");
    buf_puts(b, c->host);
    buf_printf(b, "\nport %u\n", c->port);
    buf_printf(b, "tls %s\n", c->plain ? "off" : "on");
    if (!c->plain)
        buf_printf(b, "tls_starttls %s\n", c->implicit_tls ? "off" : "on");
    switch (c->auth) {
    case AC_AUTH_NONE:
        if (!oauth2) {
            buf_puts(b, "auth off\n");
            break;
        }
        /* fall through */
    default:
        if (oauth2) {
            buf_puts(b, "auth xoauth2\n");
            buf_printf(b, "oauth2_provider %s\n", provider ? provider : "generic");
        } else if (c->auth == AC_AUTH_CERT) {
            buf_printf(b, "auth off\n# %s\n", _("the server wants a client certificate: set "
                                                 "tls_cert_file and tls_key_file"));
            break;
        } else {
            buf_puts(b, "auth on\n");
            if (c->plain)
                buf_printf(b, "# %s\n# %s\n", _("without TLS, auth on uses only mechanisms "
                                                "that do not reveal the password (SCRAM, "
                                                "CRAM-MD5);"),
                           _("PLAIN or LOGIN here would also need allow_plaintext_auth on "
                             "(smtprc(5))"));
        }
        buf_puts(b, "user ");
        put_value(b, c->user ? c->user : run->address);
        buf_putc(b, '\n');
        break;
    }
    buf_puts(b, "from ");
    put_value(b, run->address);
    buf_putc(b, '\n');
    if (oauth2) {
        buf_printf(b, "# %s\n# %s\n", _("OAuth2: register an application with the provider and "
                                       "set oauth2_client_id"),
                   _("(and oauth2_client_secret when it has one; see smtprc(5)), then sign "
                     "in once with:"));
        buf_printf(b, "#   smtpfwd --authorize %s\n", account);
        if (!provider)
            buf_printf(b, "# %s\n", _("this provider has no preset: set oauth2_auth_endpoint "
                                      "and oauth2_token_endpoint"));
    }
}

/* ---- DNS ---- */

/* Try one SRV name; true when it gave a server (block written). */
static bool try_srv(struct ac_run *run, bool implicit, struct buf *block, const char *account)
{
    char *name = xasprintf("%s._tcp.%s", implicit ? "_submissions" : "_submission", run->ace);
    char *what = xasprintf(_("DNS SRV %s"), name);
    struct srv_record recs[SRV_MAX];
    size_t n = 0;
    char *why = NULL;
    log_debug(1, "configure: SRV %s", name);
    enum srv_outcome o = srv_lookup(name, recs, SRV_MAX, &n, &why);
    bool ok = false;
    if (o == SRV_FOUND) {
        /* A "." target among others is skipped; the first usable one
         * (lowest priority, highest weight) is used. */
        size_t best = n;
        for (size_t i = 0; i < n && best == n; i++)
            if (recs[i].target[0] && recs[i].port)
                best = i;
        if (best == n) {
            tried(run, what, _("no usable record (no target or port 0)"), false);
        } else {
            buf_printf(block, "# %s\n", what);
            buf_printf(block, "#   %s\n", _("from the record below (priority, weight, port, "
                                            "target):"));
            buf_printf(block, "#   %u %u %u %s.\n", recs[best].priority, recs[best].weight,
                       recs[best].port, recs[best].target);
            for (size_t i = 0; i < n; i++)
                if (i != best && recs[i].target[0])
                    buf_printf(block, "# %s %u %u %u %s.\n", _("alternative:"),
                               recs[i].priority, recs[i].weight, recs[i].port,
                               recs[i].target);
            buf_printf(block, "# %s\n", _("RFC 6186 gives no user name: the address is the "
                                          "usual one"));
            const struct ac_choice c = {
                .host = recs[best].target, .port = recs[best].port, .implicit_tls = implicit,
                .auth = AC_AUTH_PASSWORD,
            };
            put_block(block, run, &c, account);
            ok = true;
        }
    } else {
        tried(run, what, why, o == SRV_TEMPFAIL);
        if (o == SRV_DECLINED)
            log_warning(_("%s: %s"), what, why);
    }
    srv_free(recs, n);
    free(why);
    free(what);
    free(name);
    return ok;
}

/* ---- autoconfig ---- */

static bool try_document(struct ac_run *run, const char *url, struct buf *block,
                         const char *account)
{
    const struct https_request rq = {
        .url = url,
        .purpose = _("cannot fetch an autoconfig document"),
        .log_prefix = "configure",
        .timeout_s = AC_HTTP_TIMEOUT,
        .max_body = AC_MAX_DOCUMENT,
    };
    struct https_answer ans;
    struct result r = RESULT_INIT;
    bool ok = false;
    if (https_fetch(&rq, &ans, &r) != 0) {
        /* the message starts with the URL: show only the rest */
        const char *why = r.msg;
        size_t ul = strlen(url);
        if (strncmp(why, url, ul) == 0 && why[ul] == ':' && why[ul + 1] == ' ')
            why += ul + 2;
        /* no such host or nothing listening: no autoconfig server there,
         * the usual case, not a failure to retry */
        tried(run, url, why, (r.cls == RC_TEMPFAIL && !ans.unreachable) || r.cls == RC_LOCALTEMP);
        result_clear(&r);
        return false;
    }
    if (ans.status != 200) {
        char *why = xasprintf(_("HTTP status %ld"), ans.status);
        tried(run, url, why, ans.status >= 500 || ans.status == 429);
        free(why);
        https_answer_free(&ans);
        return false;
    }
    struct ac_document doc;
    if (ac_parse_document(ans.body.data, ans.body.len, run->ace, &doc, &r) != 0) {
        tried(run, url, r.msg, r.cls == RC_LOCALTEMP);
        result_clear(&r);
    } else if (!doc.domain_listed) {
        char *why = xasprintf(_("the document does not list %s among its domains"), run->ace);
        tried(run, url, why, false);
        free(why);
    } else if (doc.nservers == 0) {
        tried(run, url, _("the document names no smtp outgoing server"), false);
    } else {
        int k = ac_pick_server(&doc);
        if (k < 0) {
            tried(run, url, _("the document names no usable smtp outgoing server"), false);
        } else {
            const struct ac_server *s = &doc.servers[k];
            char *user = s->username ? ac_substitute(s->username, run->address, run->local,
                                                     run->domain) : NULL;
            unsigned port = s->port ? s->port : s->socket == AC_SOCKET_SSL ? 465 : 587;
            buf_printf(block, "# %s %s\n", _("from"), url);
            buf_printf(block, "#   %s %s:%u, %s, %s\n", _("server"), s->hostname, port,
                       s->socket_word ? s->socket_word : "?",
                       s->auth_word ? s->auth_word : "none");
            for (size_t i = 0; i < doc.nservers; i++)
                if ((int)i != k && doc.servers[i].hostname)
                    buf_printf(block, "# %s %s:%u, %s, %s\n", _("alternative:"),
                               doc.servers[i].hostname, doc.servers[i].port,
                               doc.servers[i].socket_word ? doc.servers[i].socket_word : "?",
                               doc.servers[i].auth_word ? doc.servers[i].auth_word : "none");
            const struct ac_choice c = {
                .host = s->hostname, .port = port,
                .implicit_tls = s->socket == AC_SOCKET_SSL,
                .plain = s->socket == AC_SOCKET_PLAIN, .auth = s->auth, .user = user,
            };
            put_block(block, run, &c, account);
            free(user);
            ok = true;
        }
    }
    ac_document_free(&doc);
    https_answer_free(&ans);
    return ok;
}

/* ADDRESS: one '@' separating a non-empty local part from a domain of
 * printable characters. */
static int split_address(struct ac_run *run, struct result *r)
{
    const char *a = run->address;
    const char *at = strrchr(a, '@');
    bool ok = at && at != a && at[1] != '\0' && at[1] != '[';
    for (const unsigned char *p = (const unsigned char *)a; *p && ok; p++)
        ok = *p > ' ' && *p != 0x7f && *p != '<' && *p != '>' && *p != '"' && *p != '\\';
    for (const char *p = at ? at + 1 : ""; *p && ok; p++)
        ok = *p != '@' && *p != '/' && *p != '?' && *p != '#' && *p != ':';
    if (!ok) {
        result_set(r, RC_USAGE, _("--configure needs a mail address such as alice@example.org, "
                                  "not \"%s\""), a);
        return -1;
    }
    run->local = xstrndup(a, (size_t)(at - a));
    run->domain = xstrdup(at + 1);
    if (ascii_only(run->domain, strlen(run->domain)))
        ascii_lower(run->domain);
    while (*run->domain && run->domain[strlen(run->domain) - 1] == '.')
        run->domain[strlen(run->domain) - 1] = '\0';
    struct result ir = RESULT_INIT;
    run->ace = *run->domain ? idn_host_to_ascii(run->domain, &ir) : NULL;
    if (!run->ace || !strchr(run->ace, '.') || strlen(run->ace) > 253) {
        result_set(r, RC_USAGE, _("--configure: \"%s\" is not a domain of a mail address%s%s"),
                   run->domain, ir.msg ? ": " : "", ir.msg ? ir.msg : "");
        result_clear(&ir);
        return -1;
    }
    ascii_lower(run->ace);
    return 0;
}

int autoconfig_run(const char *address, bool write, const char *config_file,
                   struct result *r)
{
    struct ac_run run = { .address = address, .tried = BUF_INIT };
    struct buf block = BUF_INIT;
    if (split_address(&run, r) != 0)
        goto out;
    const char *account = run.ace;
    buf_printf(&block, "# smtpfwd --configure %s\n", address);
    bool found = try_srv(&run, true, &block, account) || try_srv(&run, false, &block, account);
    if (!found) {
        char *esc = https_escape(address);
        char *u1 = xasprintf("https://autoconfig.%s/mail/config-v1.1.xml?emailaddress=%s",
                             run.ace, esc);
        char *u2 = xasprintf("https://%s/.well-known/autoconfig/mail/config-v1.1.xml", run.ace);
        found = try_document(&run, u1, &block, account)
                || try_document(&run, u2, &block, account);
        free(esc);
        free(u1);
        free(u2);
    }
    if (!found) {
        result_set(r, run.tempfail ? RC_TEMPFAIL : RC_UNAVAILABLE,
                   _("--configure: found no submission server for %s; tried:\n%s%s"), address,
                   run.tried.data ? run.tried.data : "",
                   run.tempfail ? _("some lookups failed for now: try again later")
                                : _("set up the account by hand (see smtprc(5))"));
        goto out;
    }
    if (run.tried.len)
        log_debug(1, "configure: tried before:\n%s", run.tried.data);
    if (!write) {
        fputs(block.data, stdout);
        if (fflush(stdout) != 0)
            result_set(r, RC_IOERR, _("cannot write to standard output"));
        goto out;
    }
    char *path = config_file ? xstrdup(config_file) : config_user_file_path();
    autoconfig_write(path, account, block.data, r);
    free(path);
out:
    buf_free(&block);
    buf_free(&run.tried);
    free(run.local);
    free(run.domain);
    free(run.ace);
    return r->cls == RC_OK ? 0 : -1;
}
