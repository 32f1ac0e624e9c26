/*
 * json-dl.h - json-c loaded at run time, only when an OAuth2 answer, a
 * token file or a server's OAuth2 error report must be read.
 *
 * smtpfwd is not linked against json-c. json_dl_load() dlopen()s
 * JSONC_SONAME (found by configure: libjson-c.so.5) through dl_load()
 * and fills a table; the macros below make every json_xxx() call of a
 * file that includes this header (instead of <json.h>) go through it, as
 * gnutls-dl.h does for GnuTLS.
 *
 * Rules for a user: include it instead of the json-c headers; call
 * json_dl_load() before the first json-c call. A function not in
 * JSON_DL_FUNCTIONS is a link error: add it to the list and give it a
 * #define below.
 *
 * Only with HAVE_JSONC.
 */
#ifndef SMTPFWD_JSON_DL_H
#define SMTPFWD_JSON_DL_H

#include <stdbool.h>

#include <json.h>

#include "dl.h"
#include "result.h"

#define JSON_DL_FUNCTIONS(X) \
    X(json_c_version_num) \
    X(json_object_get_int64) \
    X(json_object_get_string) \
    X(json_object_get_string_len) \
    X(json_object_get_type) \
    X(json_object_iter_begin) \
    X(json_object_iter_end) \
    X(json_object_iter_equal) \
    X(json_object_iter_next) \
    X(json_object_iter_peek_value) \
    X(json_object_object_get_ex) \
    X(json_object_put) \
    X(json_tokener_free) \
    X(json_tokener_get_error) \
    X(json_tokener_get_parse_end) \
    X(json_tokener_new_ex) \
    X(json_tokener_parse_ex) \
    X(json_tokener_set_flags)

/* All NULL until json_dl_load() succeeds. */
struct json_dl_table {
    JSON_DL_FUNCTIONS(DL_MEMBER)
};
extern struct json_dl_table json_dl;

/* Loads json-c once per process. Returns 0, or -1 with r set
 * (RC_LOCALTEMP, "cannot read OAuth2 data: ..." naming the file and what
 * is missing); nothing is kept from a failure, a later call retries. */
int json_dl_load(struct result *r);

/* True once json_dl_load() has succeeded in this process. */
bool json_dl_loaded(void);

/* The file name loaded (JSONC_SONAME), for messages and tests. */
const char *json_dl_soname(void);

#ifndef JSON_DL_NO_MACROS
#define json_c_version_num (*json_dl.json_c_version_num)
#define json_object_get_int64 (*json_dl.json_object_get_int64)
#define json_object_get_string (*json_dl.json_object_get_string)
#define json_object_get_string_len (*json_dl.json_object_get_string_len)
#define json_object_get_type (*json_dl.json_object_get_type)
#define json_object_iter_begin (*json_dl.json_object_iter_begin)
#define json_object_iter_end (*json_dl.json_object_iter_end)
#define json_object_iter_equal (*json_dl.json_object_iter_equal)
#define json_object_iter_next (*json_dl.json_object_iter_next)
#define json_object_iter_peek_value (*json_dl.json_object_iter_peek_value)
#define json_object_object_get_ex (*json_dl.json_object_object_get_ex)
#define json_object_put (*json_dl.json_object_put)
#define json_tokener_free (*json_dl.json_tokener_free)
#define json_tokener_get_error (*json_dl.json_tokener_get_error)
#define json_tokener_get_parse_end (*json_dl.json_tokener_get_parse_end)
#define json_tokener_new_ex (*json_dl.json_tokener_new_ex)
#define json_tokener_parse_ex (*json_dl.json_tokener_parse_ex)
#define json_tokener_set_flags (*json_dl.json_tokener_set_flags)
JSON_DL_FUNCTIONS(DL_CHECK_DEFINED)
#endif

#endif
