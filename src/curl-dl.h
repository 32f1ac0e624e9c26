/*
 * curl-dl.h - libcurl (GnuTLS flavour) loaded at run time, only when an
 * OAuth2 token must be fetched from a token endpoint or --configure
 * fetches an autoconfig document (https.c).
 *
 * smtpfwd is not linked against libcurl: a plain delivery must not pay
 * for loading it (and the libraries it brings). curl_dl_load() dlopen()s
 * LIBCURL_SONAME (found by configure: libcurl-gnutls.so.4 on Debian)
 * through dl_load() and fills a table of function pointers; the macros
 * below make every curl_xxx() call of a file that includes this header
 * (instead of <curl/curl.h>) go through that table, as gnutls-dl.h does
 * for GnuTLS.
 *
 * Rules for a user: include it instead of <curl/curl.h>; call
 * curl_dl_load() before the first libcurl call (https_fetch does). A
 * function not in CURL_DL_FUNCTIONS is a link error: add it to the list
 * and give it a #define below. curl.h's type-checking macros for
 * curl_easy_setopt/curl_easy_getinfo are turned off here (they would
 * hide the table entries, and curl.h's own same-name macros are
 * removed); pass long, pointer and curl_off_t arguments of the right
 * type yourself.
 *
 * Only with HAVE_LIBCURL.
 */
#ifndef SMTPFWD_CURL_DL_H
#define SMTPFWD_CURL_DL_H

#include <stdbool.h>

#define CURL_DISABLE_TYPECHECK 1
/* CURLOPT_PROTOCOLS is the fallback for a run-time libcurl older than
 * 7.85 (oauth2-http.c). */
#define CURL_DISABLE_DEPRECATION 1
#include <curl/curl.h>

#include "dl.h"
#include "result.h"

#define CURL_DL_FUNCTIONS(X) \
    X(curl_easy_cleanup) \
    X(curl_easy_escape) \
    X(curl_easy_getinfo) \
    X(curl_easy_init) \
    X(curl_easy_perform) \
    X(curl_easy_setopt) \
    X(curl_easy_strerror) \
    X(curl_free) \
    X(curl_slist_append) \
    X(curl_slist_free_all) \
    X(curl_version_info)

/* All NULL until curl_dl_load() succeeds. */
struct curl_dl_table {
    CURL_DL_FUNCTIONS(DL_MEMBER)
};
extern struct curl_dl_table curl_dl;

/* Loads libcurl once per process. Returns 0, or -1 with r set
 * (RC_LOCALTEMP, "cannot fetch an OAuth2 token: ..." naming the file and
 * what is missing: the system must be repaired, the message can wait in
 * the spool); nothing is kept from a failure, a later call retries. */
int curl_dl_load(struct result *r);

/* The same, the failure worded with purpose (translated, "cannot fetch
 * an OAuth2 token"; NULL: that one) instead of OAuth2's. */
int curl_dl_load_for(const char *purpose, struct result *r);

/* True once curl_dl_load() has succeeded in this process. */
bool curl_dl_loaded(void);

/* The file name loaded (LIBCURL_SONAME), for messages and tests. */
const char *curl_dl_soname(void);

#ifndef CURL_DL_NO_MACROS
/* curl.h makes these two function-like macros (to count arguments). */
#undef curl_easy_getinfo
#undef curl_easy_setopt
#define curl_easy_cleanup (*curl_dl.curl_easy_cleanup)
#define curl_easy_escape (*curl_dl.curl_easy_escape)
#define curl_easy_getinfo (*curl_dl.curl_easy_getinfo)
#define curl_easy_init (*curl_dl.curl_easy_init)
#define curl_easy_perform (*curl_dl.curl_easy_perform)
#define curl_easy_setopt (*curl_dl.curl_easy_setopt)
#define curl_easy_strerror (*curl_dl.curl_easy_strerror)
#define curl_free (*curl_dl.curl_free)
#define curl_slist_append (*curl_dl.curl_slist_append)
#define curl_slist_free_all (*curl_dl.curl_slist_free_all)
#define curl_version_info (*curl_dl.curl_version_info)
CURL_DL_FUNCTIONS(DL_CHECK_DEFINED)
#endif

#endif
