/*
 * autoconfig.h - `smtpfwd --configure ADDRESS [--write]`: find the
 * submission server of a mail address and print (or append to the
 * configuration file) a ready account block.
 *
 * Order of the lookups: DNS SRV records (RFC 6186 / RFC 8314)
 * _submissions._tcp.DOMAIN (implicit TLS, preferred), then
 * _submission._tcp.DOMAIN (STARTTLS); when DNS has nothing, the
 * Thunderbird autoconfig document over HTTPS from
 * https://autoconfig.DOMAIN/mail/config-v1.1.xml?emailaddress=ADDRESS,
 * then https://DOMAIN/.well-known/autoconfig/mail/config-v1.1.xml.
 * The files: autoconfig.c (the order, the account block, the exit
 * status), autoconfig-srv.c (res_query and the SRV answer parser),
 * autoconfig-xml.c (the clientConfig document through libxml2,
 * xml-dl.h), autoconfig-write.c (--write: the safe append).
 *
 * Must not: follow a redirect, accept a certificate that fails
 * verification, use anything but https:// for a document, expand an
 * XML entity or load anything an XML document names (XXE).
 */
#ifndef SMTPFWD_AUTOCONFIG_H
#define SMTPFWD_AUTOCONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "result.h"

/* --configure ADDRESS: prints the account block on standard output, or
 * with write appends it to config_file (-C), else to the user's file of
 * smtprc.c's lookup (created when there is none). Returns 0, or -1 with
 * r set: RC_USAGE when ADDRESS is not an address; RC_UNAVAILABLE when
 * nothing was found (r's message lists what was tried and why each
 * failed), RC_TEMPFAIL when nothing was found and some lookup failed
 * for now (SERVFAIL, a timeout, a server that could not be reached);
 * RC_IOERR when standard output cannot be written; with write: RC_CANTCREAT when an account of that name exists already
 * or the file cannot be written, RC_CONFIG when it does not parse. */
int autoconfig_run(const char *address, bool write, const char *config_file,
                   struct result *r);

/* ---- Pure pieces, for the unit tests and the fuzz targets ---- */

/* One SRV record (RFC 2782). target is owned, in presentation form
 * without the final dot ("" for the root, "."). */
struct srv_record {
    unsigned priority, weight, port;
    char *target;
};

#define SRV_MAX 16   /* records kept from one answer */

/* Parse a DNS answer (len octets of msg, as res_query returns it) for
 * SRV records of class IN in its answer section (other types, CNAMEs
 * included, are skipped), following name compression with every offset
 * checked and no loop. At most max records are kept, sorted (priority
 * ascending, then weight descending, then target and port: a stable,
 * deterministic order). Returns the number kept, or -1 when the message
 * is malformed (truncated, a bad label, a pointer out of bounds or
 * forward, a record that overruns its length, a response bit missing).
 * The records are freed with srv_free. */
int srv_parse_answer(const unsigned char *msg, size_t len, struct srv_record *out, size_t max);
void srv_free(struct srv_record *recs, size_t n);

/* One outgoing server of an autoconfig document. Strings owned. */
enum ac_socket { AC_SOCKET_SSL, AC_SOCKET_STARTTLS, AC_SOCKET_PLAIN, AC_SOCKET_OTHER };
enum ac_auth {
    AC_AUTH_PASSWORD,    /* password-cleartext, password-encrypted, plain, secure */
    AC_AUTH_OAUTH2,      /* OAuth2 */
    AC_AUTH_NONE,        /* none, client-IP-address */
    AC_AUTH_CERT,        /* TLS-client-cert */
    AC_AUTH_OTHER,       /* NTLM, GSAPI, smtp-after-pop, ... */
};
struct ac_server {
    char *hostname;
    unsigned port;            /* 0 = not given */
    enum ac_socket socket;
    char *socket_word;        /* as written */
    enum ac_auth auth;        /* the best of the authentication elements */
    char *auth_word;          /* as written */
    char *username;           /* with placeholders, or NULL */
};

#define AC_SERVERS_MAX 8

/* What a document says: the smtp outgoing servers (up to
 * AC_SERVERS_MAX, in document order) and whether emailProvider's domain
 * list names the domain asked for. */
struct ac_document {
    struct ac_server servers[AC_SERVERS_MAX];
    size_t nservers;
    bool domain_listed;
};

/* Read a clientConfig document (len octets, not NUL-terminated) for
 * domain (the A-label form, compared without case). No network, no
 * entity expansion, no DTD. Returns 0 with *doc filled (nservers may be
 * 0: the document names no smtp server), or -1 with r set (RC_PROTOCOL:
 * not well-formed XML, the root not clientConfig; RC_LOCALTEMP: libxml2
 * cannot be loaded; RC_UNAVAILABLE: built without it). doc is freed
 * with ac_document_free even on failure. */
int ac_parse_document(const char *data, size_t len, const char *domain, struct ac_document *doc,
                      struct result *r);
void ac_document_free(struct ac_document *doc);

/* The index of the server to use: SSL before STARTTLS before plain,
 * then the better authentication (password or OAuth2 before the others),
 * then document order; -1 when none has a hostname. */
int ac_pick_server(const struct ac_document *doc);

/* The username template with %EMAILADDRESS%, %EMAILLOCALPART% and
 * %EMAILDOMAIN% replaced; other text copied as it is. Caller frees. */
char *ac_substitute(const char *tmpl, const char *address, const char *local,
                    const char *domain);

#endif
