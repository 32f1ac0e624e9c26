/*
 * gnutls-dl.c - loads GnuTLS with dlopen() the first time a connection
 * uses TLS, and owns the table of GnuTLS entry points (see gnutls-dl.h).
 *
 * Owns: the dlopen() of GNUTLS_SONAME, the dlsym() of every listed
 * function and of the gnutls_free variable, the run-time version check,
 * and the messages when any of it fails. The library is never unloaded
 * (GnuTLS keeps global state and an atexit deinit; smtpfwd is
 * short-lived), as secret.c does for libsecret.
 *
 * Must not: call GnuTLS by its real symbol names (this file is built
 * without the macros and the program is not linked against GnuTLS), or
 * load anything before gnutls_dl_load() is called.
 */
#include <autoconfig.h>

#include <dlfcn.h>
#include <stddef.h>
#include <string.h>

#define GNUTLS_DL_NO_MACROS
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

/* Looks up one symbol; 0, or -1 with r naming it. */
static int gnutls_dl_sym(void *h, const char *name, void **slot, struct result *r)
{
    (void)dlerror();
    *slot = dlsym(h, name);
    if (*slot)
        return 0;
    const char *e = dlerror();
    result_set(r, RC_SOFTWARE,
               _("cannot initialize TLS: %s has no symbol %s (%s); it is not a usable GnuTLS "
                 "library"),
               GNUTLS_SONAME, name, e ? e : _("not found"));
    return -1;
}

int gnutls_dl_load(struct result *r)
{
    if (gnutls_dl_ok)
        return 0;
    (void)dlerror();
    void *h = dlopen(GNUTLS_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        result_set(r, RC_SOFTWARE,
                   _("cannot initialize TLS: cannot load the GnuTLS library %s: %s"),
                   GNUTLS_SONAME, e ? e : _("dlopen failed"));
        return -1;
    }

    struct gnutls_dl_table t;
    memset(&t, 0, sizeof t);
    struct { const char *name; void **slot; } syms[] = {
#define GNUTLS_DL_ENTRY(name) { #name, (void **)&t.name },
        GNUTLS_DL_FUNCTIONS(GNUTLS_DL_ENTRY)
#undef GNUTLS_DL_ENTRY
        { "gnutls_free", (void **)&t.gnutls_free_var },
    };
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        if (gnutls_dl_sym(h, syms[i].name, syms[i].slot, r) != 0) {
            dlclose(h);
            return -1;
        }
    }
    if (!*t.gnutls_free_var) {
        result_set(r, RC_SOFTWARE,
                   _("cannot initialize TLS: %s has no deallocator in gnutls_free; it is not a "
                     "usable GnuTLS library"), GNUTLS_SONAME);
        dlclose(h);
        return -1;
    }
    /* The structures and flags compiled into tls.c are those of
     * GNUTLS_VERSION: an older run-time library may lack them. */
    if (!t.gnutls_check_version(GNUTLS_VERSION)) {
        const char *have = t.gnutls_check_version(NULL);
        result_set(r, RC_SOFTWARE,
                   _("cannot initialize TLS: %s is GnuTLS %s, older than GnuTLS %s which "
                     "smtpfwd was built with; install GnuTLS %s or later"),
                   GNUTLS_SONAME, have ? have : "?", GNUTLS_VERSION, GNUTLS_VERSION);
        dlclose(h);
        return -1;
    }
    gnutls_dl = t;
    gnutls_dl_ok = true;
    return 0;
}
