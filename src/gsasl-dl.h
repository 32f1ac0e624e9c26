/*
 * gsasl-dl.h - GNU SASL loaded at run time, only when AUTH uses one of
 * its mechanisms (not for XOAUTH2/OAUTHBEARER, which sasl.c builds
 * itself, and not for runs without AUTH).
 *
 * smtpfwd is not linked against libgsasl (it brings libidn, libntlm and
 * libgssglue: ~0.6 ms per run). gsasl_dl_load() dlopen()s GSASL_SONAME
 * (found by configure) through dl_load() and fills a table; the macros
 * below make every gsasl_xxx() call of a file that includes this header
 * (instead of <gsasl.h>) go through it, as gnutls-dl.h does for GnuTLS.
 *
 * Rules for a user: include it instead of <gsasl.h>; call
 * gsasl_dl_load() before gsasl_init() (sasl.c's sasl_context does);
 * every other call needs a context, so runs after it. A function not in
 * GSASL_DL_FUNCTIONS is a link error: add it there and below.
 *
 * Only with HAVE_LIBGSASL.
 */
#ifndef SMTPFWD_GSASL_DL_H
#define SMTPFWD_GSASL_DL_H

#include <stdbool.h>

#include <gsasl.h>

#include "dl.h"
#include "result.h"

#define GSASL_DL_FUNCTIONS(X) \
    X(gsasl_callback_set) \
    X(gsasl_client_start) \
    X(gsasl_client_support_p) \
    X(gsasl_done) \
    X(gsasl_finish) \
    X(gsasl_free) \
    X(gsasl_init) \
    X(gsasl_property_set) \
    X(gsasl_session_hook_get) \
    X(gsasl_session_hook_set) \
    X(gsasl_step64) \
    X(gsasl_strerror)

/* All NULL until gsasl_dl_load() succeeds. */
struct gsasl_dl_table {
    GSASL_DL_FUNCTIONS(DL_MEMBER)
};
extern struct gsasl_dl_table gsasl_dl;

/* Loads GNU SASL once per process. Returns 0, or -1 with r set
 * (RC_LOCALTEMP, "cannot initialize GNU SASL: ...") naming the file and
 * what is missing; nothing is kept from a failure, a later call retries. */
int gsasl_dl_load(struct result *r);

/* True once gsasl_dl_load() has succeeded in this process. */
bool gsasl_dl_loaded(void);

/* The file name loaded (GSASL_SONAME). */
const char *gsasl_dl_soname(void);

#ifndef GSASL_DL_NO_MACROS
#define gsasl_callback_set (*gsasl_dl.gsasl_callback_set)
#define gsasl_client_start (*gsasl_dl.gsasl_client_start)
#define gsasl_client_support_p (*gsasl_dl.gsasl_client_support_p)
#define gsasl_done (*gsasl_dl.gsasl_done)
#define gsasl_finish (*gsasl_dl.gsasl_finish)
#define gsasl_free (*gsasl_dl.gsasl_free)
#define gsasl_init (*gsasl_dl.gsasl_init)
#define gsasl_property_set (*gsasl_dl.gsasl_property_set)
#define gsasl_session_hook_get (*gsasl_dl.gsasl_session_hook_get)
#define gsasl_session_hook_set (*gsasl_dl.gsasl_session_hook_set)
#define gsasl_step64 (*gsasl_dl.gsasl_step64)
#define gsasl_strerror (*gsasl_dl.gsasl_strerror)
GSASL_DL_FUNCTIONS(DL_CHECK_DEFINED)
#endif

#endif
