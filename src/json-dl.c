/*
 * json-dl.c - loads json-c with dlopen() the first time OAuth2 data must
 * be read, and owns the table of its entry points (see json-dl.h).
 * Never unloaded (smtpfwd is short-lived).
 *
 * Owns: the list of symbols handed to dl_load() and the messages when it
 * fails.
 *
 * Must not: call json-c by its real names (built without the macros; the
 * program is not linked against it).
 */
#include <config.h>

#if HAVE_JSONC

#include <string.h>

#define JSON_DL_NO_MACROS
#include "dl.h"
#include "i18n.h"
#include "json-dl.h"

#ifndef JSONC_SONAME
# define JSONC_SONAME "libjson-c.so.5"
#endif

struct json_dl_table json_dl;
static bool json_dl_ok;

const char *json_dl_soname(void)
{
    return JSONC_SONAME;
}

bool json_dl_loaded(void)
{
    return json_dl_ok;
}

int json_dl_load(struct result *r)
{
    if (json_dl_ok)
        return 0;
    /* Missing or unusable: the system's problem (see gnutls-dl.c). */
    const struct dl_lib l = { JSONC_SONAME, "json-c", _("cannot read OAuth2 data"),
                              RC_LOCALTEMP };
    struct json_dl_table dl_table;
    memset(&dl_table, 0, sizeof dl_table);
    const struct dl_sym syms[] = { JSON_DL_FUNCTIONS(DL_SYM) };
    if (!dl_load(&l, syms, sizeof syms / sizeof syms[0], r))
        return -1;
    json_dl = dl_table;
    json_dl_ok = true;
    return 0;
}

#else
typedef int json_dl_iso_c_needs_a_declaration;
#endif
