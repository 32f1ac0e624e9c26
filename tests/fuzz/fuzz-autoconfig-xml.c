/*
 * fuzz-autoconfig-xml.c - fuzz target "autoconfig-xml": an autoconfig
 * document as an HTTPS server sends it to --configure
 * (ac_parse_document, through libxml2 loaded at run time), the choice
 * among its servers (ac_pick_server) and the username placeholders
 * (ac_substitute).
 *
 * Input: the document (for the domain "example.org").
 *
 * Properties checked (abort() on violation), besides no crash and no leak:
 *   - a refused document leaves nothing behind (no servers);
 *   - at most AC_SERVERS_MAX servers; every hostname kept is a host name
 *     (letters, digits, '-', '.', '_'), so nothing read can put a line
 *     of its own into the configuration printed; a port is 0..65535;
 *   - ac_pick_server names a server with a hostname, or -1;
 *   - substituting a username never leaves a placeholder of the three
 *     behind unless the template's text made one up (checked on the
 *     template without any '%': the output equals the input);
 *   - the same bytes twice give the same answer.
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "autoconfig.h"
#include "result.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int host_ok(const char *h)
{
    if (!h)
        return 1;
    for (const char *p = h; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
              || *p == '-' || *p == '.' || *p == '_'))
            return 0;
    return *h != '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256 * 1024)
        return 0;
    struct ac_document d, e;
    struct result r = RESULT_INIT, r2 = RESULT_INIT;
    int rc = ac_parse_document((const char *)data, size, "example.org", &d, &r);
    int rc2 = ac_parse_document((const char *)data, size, "example.org", &e, &r2);
    if (rc != rc2 || d.nservers != e.nservers || d.domain_listed != e.domain_listed)
        abort();
    if (rc != 0 && (d.nservers != 0 || r.cls == RC_OK))
        abort();
    if (d.nservers > AC_SERVERS_MAX)
        abort();
    for (size_t i = 0; i < d.nservers; i++) {
        const struct ac_server *s = &d.servers[i];
        if (!host_ok(s->hostname) || s->port > 65535)
            abort();
        if ((s->hostname == NULL) != (e.servers[i].hostname == NULL)
            || (s->hostname && strcmp(s->hostname, e.servers[i].hostname) != 0))
            abort();
        if (s->username) {
            char *u = ac_substitute(s->username, "a@example.org", "a", "example.org");
            if (!strchr(s->username, '%') && strcmp(u, s->username) != 0)
                abort();
            free(u);
        }
    }
    int k = ac_pick_server(&d);
    if (k < -1 || k >= (int)d.nservers || (k >= 0 && !d.servers[k].hostname))
        abort();
    ac_document_free(&d);
    ac_document_free(&e);
    result_clear(&r);
    result_clear(&r2);
    return 0;
}
