/*
 * unistring-dl.c - NFC through libunistring (see unistring-dl.h): loads
 * it with dlopen() the first time a non-ASCII string must be normalized
 * and owns the table of the entry points used. Never unloaded
 * (smtpfwd is short-lived).
 *
 * Owns: the list of symbols handed to dl_load(), the messages when it
 * fails, and the one call of u8_normalize().
 *
 * Must not: call libunistring by its real names (the program is not
 * linked against it), or load it for an ASCII string.
 */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#if HAVE_LIBUNISTRING
# include <uninorm.h>
#endif

#include "dl.h"
#include "i18n.h"
#include "unistring-dl.h"
#include "util.h"

#if HAVE_LIBUNISTRING
# ifndef LIBUNISTRING_SONAME
#  define LIBUNISTRING_SONAME "libunistring.so.2"
# endif
/* uninorm_nfc is a data symbol: its address is the normalization form. */
# define UNISTRING_DL_FUNCTIONS(X) \
    X(u8_normalize) \
    X(uninorm_nfc)

static struct unistring_dl_table {
    UNISTRING_DL_FUNCTIONS(DL_MEMBER)
} unistring_dl;
static bool unistring_dl_ok;

/* Loads libunistring once; 0, or -1 with r set naming the library. A
 * failure is not kept. RC_LOCALTEMP: the address is fine, this system
 * lacks the library (as idn.c says for libidn2). */
static int unistring_dl_load(const char *what, struct result *r)
{
    if (unistring_dl_ok)
        return 0;
    char *purpose = xasprintf(_("cannot normalize \"%s\" to Unicode NFC"), what);
    const struct dl_lib l = { LIBUNISTRING_SONAME, "libunistring", purpose, RC_LOCALTEMP };
    struct unistring_dl_table dl_table;
    memset(&dl_table, 0, sizeof dl_table);
    const struct dl_sym syms[] = { UNISTRING_DL_FUNCTIONS(DL_SYM) };
    void *h = dl_load(&l, syms, sizeof syms / sizeof syms[0], r);
    free(purpose);
    if (!h)
        return -1;
    unistring_dl = dl_table;
    unistring_dl_ok = true;
    return 0;
}

/* From here on the names go through the table. */
# define u8_normalize (*unistring_dl.u8_normalize)
# define uninorm_nfc (*unistring_dl.uninorm_nfc)
UNISTRING_DL_FUNCTIONS(DL_CHECK_DEFINED)
#endif

bool unistring_dl_loaded(void)
{
#if HAVE_LIBUNISTRING
    return unistring_dl_ok;
#else
    return false;
#endif
}

const char *unistring_dl_soname(void)
{
#if HAVE_LIBUNISTRING
    return LIBUNISTRING_SONAME;
#else
    return NULL;
#endif
}

char *unistring_nfc(const char *s, const char *what, struct result *r)
{
    size_t n = strlen(s);
    if (ascii_only(s, n))
        return xstrdup(s);
#if HAVE_LIBUNISTRING
    if (unistring_dl_load(what, r) != 0)
        return NULL;
    size_t len = 0;
    errno = 0;
    uint8_t *out = u8_normalize(UNINORM_NFC, (const uint8_t *)s, n, NULL, &len);
    if (!out) {
        int err = errno;
        result_set(r, err == EILSEQ ? RC_DATAERR : RC_OSERR,
                   _("cannot normalize \"%s\" to Unicode NFC: %s"), what,
                   err == EILSEQ ? _("not valid UTF-8") : strerror(err));
        return NULL;
    }
    char *copy = xstrndup((const char *)out, len);
    free(out);
    return copy;
#else
    (void)what;
    (void)r;
    return xstrdup(s);
#endif
}
