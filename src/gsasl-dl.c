/*
 * gsasl-dl.c - loads GNU SASL with dlopen() the first time AUTH needs one
 * of its mechanisms, and owns the table of its entry points (see
 * gsasl-dl.h). Never unloaded (GNU SASL keeps global state; smtpfwd is
 * short-lived).
 *
 * Must not: call GNU SASL by its real names (built without the macros;
 * the program is not linked against it).
 */
#include <config.h>

#if HAVE_LIBGSASL

#include <string.h>

#define GSASL_DL_NO_MACROS
#include "dl.h"
#include "gsasl-dl.h"
#include "i18n.h"

#ifndef GSASL_SONAME
# define GSASL_SONAME "libgsasl.so.18"
#endif

struct gsasl_dl_table gsasl_dl;
static bool gsasl_dl_ok;

const char *gsasl_dl_soname(void)
{
    return GSASL_SONAME;
}

bool gsasl_dl_loaded(void)
{
    return gsasl_dl_ok;
}

int gsasl_dl_load(struct result *r)
{
    if (gsasl_dl_ok)
        return 0;
    /* Missing or unusable: the system's problem (see gnutls-dl.c). */
    const struct dl_lib l = { GSASL_SONAME, "GNU SASL", _("cannot initialize GNU SASL"),
                              RC_LOCALTEMP };
    struct gsasl_dl_table dl_table;
    memset(&dl_table, 0, sizeof dl_table);
    const struct dl_sym syms[] = { GSASL_DL_FUNCTIONS(DL_SYM) };
    if (!dl_load(&l, syms, sizeof syms / sizeof syms[0], r))
        return -1;
    gsasl_dl = dl_table;
    gsasl_dl_ok = true;
    return 0;
}

#else
typedef int gsasl_dl_iso_c_needs_a_declaration;
#endif
