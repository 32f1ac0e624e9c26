/*
 * autoconfig-xml.c - reading a Thunderbird autoconfig document
 * ("clientConfig", config-v1.1.xml) through libxml2 (xml-dl.h, loaded on
 * first use): its emailProvider's domains and its outgoingServer
 * elements of type smtp (ac_parse_document), the choice among them
 * (ac_pick_server) and the username placeholders (ac_substitute).
 *
 * Owns: what the document's elements mean for an smtpfwd account.
 *
 * Must not: let libxml2 touch the network (XML_PARSE_NONET), load a DTD
 * or substitute entities (no XML_PARSE_NOENT / DTDLOAD / DTDATTR; a
 * document with a DOCTYPE is refused, and the text of entity
 * references is never read), or print what it finds without the
 * caller's escaping.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "autoconfig.h"
#include "i18n.h"
#include "util.h"
#if HAVE_LIBXML2
# include "xml-dl.h"
#endif

void ac_document_free(struct ac_document *doc)
{
    for (size_t i = 0; i < doc->nservers; i++) {
        struct ac_server *s = &doc->servers[i];
        free(s->hostname);
        free(s->socket_word);
        free(s->auth_word);
        free(s->username);
    }
    memset(doc, 0, sizeof *doc);
}

static int socket_rank(enum ac_socket s)
{
    return s == AC_SOCKET_SSL ? 0 : s == AC_SOCKET_STARTTLS ? 1 : s == AC_SOCKET_PLAIN ? 2 : 3;
}

static int auth_rank(enum ac_auth a)
{
    return a == AC_AUTH_PASSWORD || a == AC_AUTH_OAUTH2 ? 0 : a == AC_AUTH_NONE ? 1 : 2;
}

int ac_pick_server(const struct ac_document *doc)
{
    int best = -1;
    for (size_t i = 0; i < doc->nservers; i++) {
        const struct ac_server *s = &doc->servers[i];
        if (!s->hostname || !*s->hostname || s->socket == AC_SOCKET_OTHER)
            continue;
        if (best < 0)
            best = (int)i;
        else {
            const struct ac_server *b = &doc->servers[best];
            int ds = socket_rank(s->socket) - socket_rank(b->socket);
            if (ds < 0 || (ds == 0 && auth_rank(s->auth) < auth_rank(b->auth)))
                best = (int)i;
        }
    }
    return best;
}

char *ac_substitute(const char *tmpl, const char *address, const char *local,
                    const char *domain)
{
    static const struct {
        const char *name;
        int which;
    } ph[] = { { "%EMAILADDRESS%", 0 }, { "%EMAILLOCALPART%", 1 }, { "%EMAILDOMAIN%", 2 } };
    struct buf b = BUF_INIT;
    const char *p = tmpl;
    while (*p) {
        size_t k;
        for (k = 0; k < sizeof ph / sizeof ph[0]; k++)
            if (strncmp(p, ph[k].name, strlen(ph[k].name)) == 0)
                break;
        if (k < sizeof ph / sizeof ph[0]) {
            buf_puts(&b, ph[k].which == 0 ? address : ph[k].which == 1 ? local : domain);
            p += strlen(ph[k].name);
        } else {
            buf_putc(&b, *p++);
        }
    }
    return buf_steal(&b);
}

#if HAVE_LIBXML2

/* The element's name is name (no namespace games: the format has none). */
static bool is_elem(const xmlNode *n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && n->name
           && strcmp((const char *)n->name, name) == 0;
}

/* The text of an element: its text and CDATA children only (entity
 * references are not followed), trimmed; caller frees. Capped: a
 * value of the format is short. */
static char *text_of(const xmlNode *n)
{
    struct buf b = BUF_INIT;
    for (const xmlNode *c = n->children; c; c = c->next)
        if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content
            && b.len < 1024)
            buf_puts(&b, (const char *)c->content);
    char *s = buf_steal(&b);
    char *start = s;
    while (*start == ' ' || *start == '\t' || *start == '\r' || *start == '\n')
        start++;
    size_t len = strlen(start);
    while (len && (start[len - 1] == ' ' || start[len - 1] == '\t' || start[len - 1] == '\r'
                   || start[len - 1] == '\n'))
        len--;
    char *out = xstrndup(start, len);
    free(s);
    return out;
}

/* The value of attribute name, or NULL; caller frees. */
static char *attr_of(const xmlNode *n, const char *name)
{
    for (const xmlAttr *a = n->properties; a; a = a->next) {
        if (a->name && strcmp((const char *)a->name, name) == 0) {
            struct buf b = BUF_INIT;
            for (const xmlNode *c = a->children; c; c = c->next)
                if (c->type == XML_TEXT_NODE && c->content)
                    buf_puts(&b, (const char *)c->content);
            return buf_steal(&b);
        }
    }
    return NULL;
}

static enum ac_auth auth_kind(const char *w)
{
    if (ascii_strcasecmp(w, "password-cleartext") == 0
        || ascii_strcasecmp(w, "password-encrypted") == 0 || ascii_strcasecmp(w, "plain") == 0
        || ascii_strcasecmp(w, "secure") == 0)
        return AC_AUTH_PASSWORD;
    if (ascii_strcasecmp(w, "OAuth2") == 0)
        return AC_AUTH_OAUTH2;
    if (ascii_strcasecmp(w, "none") == 0 || ascii_strcasecmp(w, "client-IP-address") == 0)
        return AC_AUTH_NONE;
    if (ascii_strcasecmp(w, "TLS-client-cert") == 0)
        return AC_AUTH_CERT;
    return AC_AUTH_OTHER;
}

/* A host name as it may appear in a configuration line. */
static bool host_ok(const char *h)
{
    if (!*h || strlen(h) > 253)
        return false;
    for (const char *p = h; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
              || *p == '-' || *p == '.' || *p == '_'))
            return false;
    return true;
}

static void read_server(const xmlNode *srv, struct ac_server *s)
{
    memset(s, 0, sizeof *s);
    s->socket = AC_SOCKET_OTHER;
    s->auth = AC_AUTH_OTHER;
    for (const xmlNode *c = srv->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        char *t = NULL;
        if (is_elem(c, "hostname") && !s->hostname) {
            t = text_of(c);
            if (host_ok(t)) {
                s->hostname = t;
                t = NULL;
            }
        } else if (is_elem(c, "port") && !s->port) {
            t = text_of(c);
            char *end;
            long v = strtol(t, &end, 10);
            if (*t >= '0' && *t <= '9' && *end == '\0' && v > 0 && v < 65536)
                s->port = (unsigned)v;
        } else if (is_elem(c, "socketType") && !s->socket_word) {
            t = text_of(c);
            s->socket = ascii_strcasecmp(t, "SSL") == 0        ? AC_SOCKET_SSL
                        : ascii_strcasecmp(t, "STARTTLS") == 0 ? AC_SOCKET_STARTTLS
                        : ascii_strcasecmp(t, "plain") == 0    ? AC_SOCKET_PLAIN
                                                               : AC_SOCKET_OTHER;
            s->socket_word = t;
            t = NULL;
        } else if (is_elem(c, "authentication")) {
            /* Several are allowed, in order of preference: the first one
             * smtpfwd can use wins. */
            t = text_of(c);
            enum ac_auth k = auth_kind(t);
            if (!s->auth_word || (s->auth == AC_AUTH_OTHER && k != AC_AUTH_OTHER)) {
                free(s->auth_word);
                s->auth_word = t;
                s->auth = k;
                t = NULL;
            }
        } else if (is_elem(c, "username") && !s->username) {
            t = text_of(c);
            s->username = t;
            t = NULL;
        }
        free(t);
    }
    if (!s->auth_word) {
        s->auth = AC_AUTH_NONE;
    }
}

int ac_parse_document(const char *data, size_t len, const char *domain, struct ac_document *doc,
                      struct result *r)
{
    memset(doc, 0, sizeof *doc);
    if (xml_dl_load(r) != 0)
        return -1;
    if (len > 16 * 1024 * 1024 || len > (size_t)0x7fffffff) {
        result_set(r, RC_PROTOCOL, _("the document is too large"));
        return -1;
    }
    /* Refused before libxml2 sees it: no internal subset means no
     * entity declarations to expand, however the parser treats them. */
    static const char doctype[] = "<!DOCTYPE";
    for (size_t i = 0; i + sizeof doctype - 1 <= len; i++)
        if (data[i] == '<' && memcmp(data + i, doctype, sizeof doctype - 1) == 0) {
            result_set(r, RC_PROTOCOL, _("the document has a DOCTYPE (refused: an autoconfig "
                                         "document needs none)"));
            return -1;
        }
    xmlDoc *d = xmlReadMemory(data, (int)len, "config-v1.1.xml", NULL,
                              XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING
                                  | XML_PARSE_NOCDATA);
    if (!d) {
        result_set(r, RC_PROTOCOL, _("the document is not well-formed XML"));
        return -1;
    }
    int rc = -1;
    const xmlNode *root = xmlDocGetRootElement(d);
    if (d->intSubset || d->extSubset) {
        result_set(r, RC_PROTOCOL, _("the document has a DOCTYPE (refused: an autoconfig "
                                     "document needs none)"));
    } else if (!is_elem(root, "clientConfig")) {
        result_set(r, RC_PROTOCOL, _("the document is not a clientConfig document"));
    } else {
        rc = 0;
        for (const xmlNode *p = root->children; p; p = p->next) {
            if (!is_elem(p, "emailProvider"))
                continue;
            for (const xmlNode *c = p->children; c; c = c->next) {
                if (is_elem(c, "domain")) {
                    char *t = text_of(c);
                    if (ascii_strcasecmp(t, domain) == 0)
                        doc->domain_listed = true;
                    free(t);
                } else if (is_elem(c, "outgoingServer") && doc->nservers < AC_SERVERS_MAX) {
                    char *type = attr_of(c, "type");
                    if (type && ascii_strcasecmp(type, "smtp") == 0)
                        read_server(c, &doc->servers[doc->nservers++]);
                    free(type);
                }
            }
        }
    }
    xmlFreeDoc(d);
    return rc;
}

#else /* !HAVE_LIBXML2 */

int ac_parse_document(const char *data, size_t len, const char *domain, struct ac_document *doc,
                      struct result *r)
{
    (void)data, (void)len, (void)domain;
    memset(doc, 0, sizeof *doc);
    result_set(r, RC_UNAVAILABLE, _("this smtpfwd was built without libxml2: autoconfig "
                                    "documents cannot be read"));
    return -1;
}

#endif
