/*
 * idn.c - internationalized domain names (see idn.h): host names and
 * address domains to their ASCII (A-label) form through libidn2.
 *
 * ASCII names are always passed through unchanged (libidn2 would refuse
 * harmless names such as "_dmarc.example" or lowercase them). Without
 * libidn2 a non-ASCII name is refused with a message saying why. This is
 * the only file that knows whether libidn2 is built in.
 */
#include <autoconfig.h>

#include <stdlib.h>
#include <string.h>
#ifdef HAVE_LIBIDN2
# include <idn2.h>
#endif

#include "address.h"
#include "i18n.h"
#include "idn.h"

static bool is_ascii(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p >= 0x80)
            return false;
    return true;
}

/* Convert a non-ASCII domain; NULL with r set on failure. what is the
 * text quoted in the message (the host name or the whole address). */
static char *domain_to_ascii(const char *domain, const char *what, struct result *r)
{
#ifdef HAVE_LIBIDN2
    char *out = NULL;
    int rc = idn2_to_ascii_8z(domain, &out, IDN2_NONTRANSITIONAL);
    if (rc != IDN2_OK) {
        idn2_free(out);
        out = NULL;
        int rc2 = idn2_to_ascii_8z(domain, &out, IDN2_TRANSITIONAL);
        if (rc2 != IDN2_OK) {
            idn2_free(out);
            result_set(r, RC_DATAERR, _("cannot convert the domain of \"%s\" to ASCII: %s"),
                       what, idn2_strerror(rc));
            return NULL;
        }
    }
    char *copy = xstrdup(out);
    idn2_free(out);
    return copy;
#else
    (void)domain;
    result_set(r, RC_DATAERR,
               _("cannot convert the domain of \"%s\" to ASCII: smtpfwd was built "
                 "without libidn2"), what);
    return NULL;
#endif
}

char *idn_host_to_ascii(const char *host, struct result *r)
{
    if (is_ascii(host))
        return xstrdup(host);
    return domain_to_ascii(host, host, r);
}

char *idn_address_to_ascii(const char *addr, struct result *r)
{
    if (is_ascii(addr))
        return xstrdup(addr);
    const char *domain = address_domain(addr);
    size_t local_len = domain ? (size_t)(domain - 1 - addr) : strlen(addr);
    for (size_t i = 0; i < local_len; i++) {
        if ((unsigned char)addr[i] >= 0x80) {
            result_set(r, RC_DATAERR,
                       _("the address \"%s\" has a non-ASCII local part and the server "
                         "does not support SMTPUTF8"), addr);
            return NULL;
        }
    }
    /* only the domain is non-ASCII here */
    char *ascii = domain_to_ascii(domain, addr, r);
    if (!ascii)
        return NULL;
    char *out = xasprintf("%.*s@%s", (int)local_len, addr, ascii);
    free(ascii);
    return out;
}
