/*
 * gnutls-dl.c - loads GnuTLS with dlopen() the first time a connection
 * uses TLS, and owns the table of GnuTLS entry points (see gnutls-dl.h).
 *
 * Owns: the list of symbols handed to dl_load() (every listed function
 * and the gnutls_free variable), the run-time version check,
 * and the messages when any of it fails. The library is never unloaded
 * (GnuTLS keeps global state and an atexit deinit; smtpfwd is
 * short-lived), as secret.c does for libsecret.
 *
 * Must not: call GnuTLS by its real symbol names (this file is built
 * without the macros and the program is not linked against GnuTLS), or
 * load anything before gnutls_dl_load() is called.
 */
#include <config.h>

#include <dlfcn.h>
#include <stddef.h>
#include <string.h>

#define GNUTLS_DL_NO_MACROS
#include "dl.h"
#include "gnutls-dl.h"
#include "i18n.h"
#include "result.h"

#ifndef GNUTLS_SONAME
# define GNUTLS_SONAME "libgnutls.so.30"
#endif

struct gnutls_dl_table gnutls_dl;
static bool gnutls_dl_ok;

const char *gnutls_dl_soname(void)
{
    return GNUTLS_SONAME;
}

bool gnutls_dl_loaded(void)
{
    return gnutls_dl_ok;
}

int gnutls_dl_load(struct result *r)
{
    if (gnutls_dl_ok)
        return 0;
    /* A library that cannot be loaded is this system's problem, not the
     * message's: RC_LOCALTEMP, so the spool keeps the message until the
     * system is repaired. */
    const struct dl_lib l = { GNUTLS_SONAME, "GnuTLS", _("cannot initialize TLS"),
                              RC_LOCALTEMP };
    struct gnutls_dl_table dl_table;
    memset(&dl_table, 0, sizeof dl_table);
    const struct dl_sym syms[] = {
        GNUTLS_DL_FUNCTIONS(DL_SYM)
        { "gnutls_free", (void **)&dl_table.gnutls_free_var },
    };
    void *h = dl_load(&l, syms, sizeof syms / sizeof syms[0], r);
    if (!h)
        return -1;
    if (!*dl_table.gnutls_free_var) {
        result_set(r, RC_LOCALTEMP,
                   _("cannot initialize TLS: %s has no deallocator in gnutls_free; it is not a "
                     "usable GnuTLS library"), GNUTLS_SONAME);
        dlclose(h);
        return -1;
    }
    /* The structures and flags compiled into tls.c are those of
     * GNUTLS_VERSION: an older run-time library may lack them. */
    if (!dl_table.gnutls_check_version(GNUTLS_VERSION)) {
        const char *have = dl_table.gnutls_check_version(NULL);
        result_set(r, RC_LOCALTEMP,
                   _("cannot initialize TLS: %s is GnuTLS %s, older than GnuTLS %s which "
                     "smtpfwd was built with; install GnuTLS %s or later"),
                   GNUTLS_SONAME, have ? have : "?", GNUTLS_VERSION, GNUTLS_VERSION);
        dlclose(h);
        return -1;
    }
    gnutls_dl = dl_table;
    gnutls_dl_ok = true;
    return 0;
}
