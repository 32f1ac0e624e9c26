/*
 * idn.c - internationalized domain names (see idn.h): host names and
 * address domains to their ASCII (A-label) form through libidn2.
 *
 * ASCII names are always passed through unchanged (libidn2 would refuse
 * harmless names such as "_dmarc.example" or lowercase them). Without
 * libidn2 a non-ASCII name is refused with a message saying why. This is
 * the only file that calls libidn2; it loads it with dlopen() (dl.h) the
 * first time a name has a non-ASCII byte, so ASCII-only runs never map
 * libidn2 or libunistring.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>
#ifdef HAVE_LIBIDN2
# include <idn2.h>
#endif

#include "address.h"
#include "dl.h"
#include "i18n.h"
#include "idn.h"

#ifdef HAVE_LIBIDN2
/* libidn2 (and libunistring with it) is loaded with dlopen() only when a
 * name really has a non-ASCII byte: smtpfwd is not linked against it. */
# ifndef LIBIDN2_SONAME
#  define LIBIDN2_SONAME "libidn2.so.0"
# endif
# define IDN_DL_FUNCTIONS(X) \
    X(idn2_free) \
    X(idn2_strerror) \
    X(idn2_to_ascii_8z)

static struct idn_dl_table {
    IDN_DL_FUNCTIONS(DL_MEMBER)
} idn_dl;
static bool idn_dl_ok;

/* Loads libidn2 once; 0, or -1 with r set naming the library. A
 * failure is not kept. RC_LOCALTEMP, not RC_DATAERR: the name is fine,
 * this system lacks the library; the message waits in the spool (a
 * flush would bounce it as a permanent failure otherwise). */
static int idn_dl_load(const char *what, struct result *r)
{
    if (idn_dl_ok)
        return 0;
    char *purpose = xasprintf(_("cannot convert the domain of \"%s\" to ASCII"), what);
    const struct dl_lib l = { LIBIDN2_SONAME, "libidn2", purpose, RC_LOCALTEMP };
    struct idn_dl_table dl_table;
    memset(&dl_table, 0, sizeof dl_table);
    const struct dl_sym syms[] = { IDN_DL_FUNCTIONS(DL_SYM) };
    void *h = dl_load(&l, syms, sizeof syms / sizeof syms[0], r);
    free(purpose);
    if (!h)
        return -1;
    idn_dl = dl_table;
    idn_dl_ok = true;
    return 0;
}

/* From here on the names call through the table. */
# define idn2_free (*idn_dl.idn2_free)
# define idn2_strerror (*idn_dl.idn2_strerror)
# define idn2_to_ascii_8z (*idn_dl.idn2_to_ascii_8z)
IDN_DL_FUNCTIONS(DL_CHECK_DEFINED)
#endif

/* Convert a non-ASCII domain; NULL with r set on failure. what is the
 * text quoted in the message (the host name or the whole address). */
static char *domain_to_ascii(const char *domain, const char *what, struct result *r)
{
#ifdef HAVE_LIBIDN2
    if (idn_dl_load(what, r) != 0)
        return NULL;
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
    if (ascii_only(host, strlen(host)))
        return xstrdup(host);
    return domain_to_ascii(host, host, r);
}

char *idn_address_to_ascii(const char *addr, struct result *r)
{
    if (ascii_only(addr, strlen(addr)))
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
