/*
 * curl-dl.c - loads libcurl with dlopen() the first time an OAuth2 token
 * or an autoconfig document must be fetched, and owns the table of its entry points (see
 * curl-dl.h). Never unloaded (libcurl keeps global state; smtpfwd is
 * short-lived).
 *
 * Owns: the list of symbols handed to dl_load(), the run-time version
 * check, and the messages when either fails.
 *
 * Must not: call libcurl by its real names (built without the macros;
 * the program is not linked against it).
 */
#include <config.h>

#if HAVE_LIBCURL

#include <dlfcn.h>
#include <string.h>

#define CURL_DL_NO_MACROS
#include "curl-dl.h"
#include "dl.h"
#include "i18n.h"

#ifndef LIBCURL_SONAME
# define LIBCURL_SONAME "libcurl-gnutls.so.4"
#endif

struct curl_dl_table curl_dl;
static bool curl_dl_ok;

const char *curl_dl_soname(void)
{
    return LIBCURL_SONAME;
}

bool curl_dl_loaded(void)
{
    return curl_dl_ok;
}

int curl_dl_load(struct result *r)
{
    return curl_dl_load_for(NULL, r);
}

int curl_dl_load_for(const char *purpose, struct result *r)
{
    if (curl_dl_ok)
        return 0;
    if (!purpose)
        purpose = _("cannot fetch an OAuth2 token");
    /* Missing or unusable: the system's problem (see gnutls-dl.c). */
    const struct dl_lib l = { LIBCURL_SONAME, "libcurl", purpose, RC_LOCALTEMP };
    struct curl_dl_table dl_table;
    memset(&dl_table, 0, sizeof dl_table);
    const struct dl_sym syms[] = { CURL_DL_FUNCTIONS(DL_SYM) };
    void *h = dl_load(&l, syms, sizeof syms / sizeof syms[0], r);
    if (!h)
        return -1;
    /* The options compiled into https.c are those of the libcurl
     * smtpfwd was built with; an older run-time library may lack them
     * (they would be refused one by one at run time). */
    const curl_version_info_data *v = dl_table.curl_version_info(CURLVERSION_NOW);
    if (!v || v->version_num < 0x073d00) {   /* 7.61.0 */
        result_set(r, RC_LOCALTEMP,
                   _("%s: %s is libcurl %s, older than 7.61.0; install a newer libcurl"),
                   purpose, LIBCURL_SONAME, v && v->version ? v->version : "?");
        dlclose(h);
        return -1;
    }
    curl_dl = dl_table;
    curl_dl_ok = true;
    return 0;
}

#else
typedef int curl_dl_iso_c_needs_a_declaration;
#endif
