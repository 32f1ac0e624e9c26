/*
 * gnutls-dl.h - GnuTLS loaded at run time, only when a connection uses TLS.
 *
 * smtpfwd is not linked against libgnutls: loading it (and p11-kit,
 * nettle, hogweed, gmp, libtasn1, libunistring) and running its
 * constructor costs more than a whole plain delivery. gnutls_dl_load()
 * dlopen()s GNUTLS_SONAME (found by configure) the first time a TLS
 * session starts and fills a table of function pointers; the macros
 * below make every gnutls_xxx() call of a file that includes this header
 * (instead of <gnutls/gnutls.h>) go through that table, so tls.c is
 * written as if it were linked normally.
 *
 * Rules for a user of this header:
 *   - include it instead of the GnuTLS headers, and after them nothing
 *     else from GnuTLS;
 *   - call gnutls_dl_load() before the first GnuTLS call a path can
 *     make (tls_session_start does); every other GnuTLS call then runs
 *     with a session that exists, so GnuTLS is loaded;
 *   - a function not listed in GNUTLS_DL_FUNCTIONS is a link error
 *     (undefined reference): add it to the list and give it a #define
 *     below (the preprocessor cannot make one from the list; a check at
 *     the end of this file fails to compile when the two disagree), not
 *     to the link line.
 *   - constants, enums and types need nothing.
 *
 * Must not: be included by anything that runs before a TLS connection
 * is wanted and calls GnuTLS there (--version prints the compile-time
 * GNUTLS_VERSION instead).
 */
#ifndef SMTPFWD_GNUTLS_DL_H
#define SMTPFWD_GNUTLS_DL_H

#include <stdbool.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <gnutls/crypto.h>

#include "dl.h"
#include "result.h"

/* Every GnuTLS function smtpfwd calls (X-macro: the table, the dlsym()
 * loop and the consistency check below are made from it).
 * Unused entries are harmless; a missing one in the run-time library
 * makes gnutls_dl_load() fail with its name. */
#define GNUTLS_DL_FUNCTIONS(X) \
    X(gnutls_alert_get) \
    X(gnutls_alert_get_name) \
    X(gnutls_alert_send) \
    X(gnutls_bye) \
    X(gnutls_certificate_allocate_credentials) \
    X(gnutls_certificate_client_get_request_status) \
    X(gnutls_certificate_free_credentials) \
    X(gnutls_certificate_get_peers) \
    X(gnutls_certificate_set_x509_crl_file) \
    X(gnutls_certificate_set_x509_crl_mem) \
    X(gnutls_certificate_set_x509_key_file2) \
    X(gnutls_certificate_set_x509_key_mem2) \
    X(gnutls_certificate_set_x509_system_trust) \
    X(gnutls_certificate_set_x509_trust_file) \
    X(gnutls_certificate_set_x509_trust_mem) \
    X(gnutls_certificate_verification_status_print) \
    X(gnutls_certificate_verify_peers2) \
    X(gnutls_certificate_verify_peers3) \
    X(gnutls_check_version) \
    X(gnutls_ciphersuite_get) \
    X(gnutls_credentials_set) \
    X(gnutls_deinit) \
    X(gnutls_dh_set_prime_bits) \
    X(gnutls_error_is_fatal) \
    X(gnutls_handshake) \
    X(gnutls_hash_fast) \
    X(gnutls_init) \
    X(gnutls_priority_set_direct) \
    X(gnutls_protocol_get_name) \
    X(gnutls_protocol_get_version) \
    X(gnutls_record_check_pending) \
    X(gnutls_record_get_direction) \
    X(gnutls_record_get_max_size) \
    X(gnutls_record_recv) \
    X(gnutls_record_send) \
    X(gnutls_server_name_set) \
    X(gnutls_session_channel_binding) \
    X(gnutls_session_ext_master_secret_status) \
    X(gnutls_session_get_data2) \
    X(gnutls_session_get_desc) \
    X(gnutls_session_get_flags) \
    X(gnutls_session_get_verify_cert_status) \
    X(gnutls_session_is_resumed) \
    X(gnutls_session_set_data) \
    X(gnutls_session_set_verify_cert) \
    X(gnutls_strerror) \
    X(gnutls_transport_set_int2) \
    X(gnutls_x509_crt_deinit) \
    X(gnutls_x509_crt_get_activation_time) \
    X(gnutls_x509_crt_get_dn3) \
    X(gnutls_x509_crt_get_expiration_time) \
    X(gnutls_x509_crt_get_fingerprint) \
    X(gnutls_x509_crt_get_issuer_dn3) \
    X(gnutls_x509_crt_import) \
    X(gnutls_x509_crt_init)

/* The table: one pointer per function, plus the address of GnuTLS'
 * gnutls_free variable (a pointer to its deallocator, read at each call).
 * All NULL until gnutls_dl_load() succeeds. */
struct gnutls_dl_table {
    GNUTLS_DL_FUNCTIONS(DL_MEMBER)
    __typeof__(gnutls_free) *gnutls_free_var;
};
extern struct gnutls_dl_table gnutls_dl;

/* Loads GnuTLS once per process: dlopen(GNUTLS_SONAME, RTLD_NOW |
 * RTLD_LOCAL), every symbol of the list, and a run-time version not
 * older than the one compiled against. Returns 0, or -1 with r set
 * (RC_LOCALTEMP: the system must be repaired; the message can wait in
 * the spool) naming the
 * library file and what is missing; nothing is kept from a failed
 * attempt, so a later call tries again. */
int gnutls_dl_load(struct result *r);

/* True once gnutls_dl_load() has succeeded in this process. */
bool gnutls_dl_loaded(void);

/* The file name loaded (GNUTLS_SONAME), for messages and tests. */
const char *gnutls_dl_soname(void);

/* From here on, gnutls_xxx names the table entry. gnutls-dl.c defines
 * GNUTLS_DL_NO_MACROS: it only handles the table by name. */
#ifndef GNUTLS_DL_NO_MACROS
#define gnutls_alert_get (*gnutls_dl.gnutls_alert_get)
#define gnutls_alert_get_name (*gnutls_dl.gnutls_alert_get_name)
#define gnutls_alert_send (*gnutls_dl.gnutls_alert_send)
#define gnutls_bye (*gnutls_dl.gnutls_bye)
#define gnutls_certificate_allocate_credentials (*gnutls_dl.gnutls_certificate_allocate_credentials)
#define gnutls_certificate_client_get_request_status (*gnutls_dl.gnutls_certificate_client_get_request_status)
#define gnutls_certificate_free_credentials (*gnutls_dl.gnutls_certificate_free_credentials)
#define gnutls_certificate_get_peers (*gnutls_dl.gnutls_certificate_get_peers)
#define gnutls_certificate_set_x509_crl_file (*gnutls_dl.gnutls_certificate_set_x509_crl_file)
#define gnutls_certificate_set_x509_crl_mem (*gnutls_dl.gnutls_certificate_set_x509_crl_mem)
#define gnutls_certificate_set_x509_key_file2 (*gnutls_dl.gnutls_certificate_set_x509_key_file2)
#define gnutls_certificate_set_x509_key_mem2 (*gnutls_dl.gnutls_certificate_set_x509_key_mem2)
#define gnutls_certificate_set_x509_system_trust (*gnutls_dl.gnutls_certificate_set_x509_system_trust)
#define gnutls_certificate_set_x509_trust_file (*gnutls_dl.gnutls_certificate_set_x509_trust_file)
#define gnutls_certificate_set_x509_trust_mem (*gnutls_dl.gnutls_certificate_set_x509_trust_mem)
#define gnutls_certificate_verification_status_print (*gnutls_dl.gnutls_certificate_verification_status_print)
#define gnutls_certificate_verify_peers2 (*gnutls_dl.gnutls_certificate_verify_peers2)
#define gnutls_certificate_verify_peers3 (*gnutls_dl.gnutls_certificate_verify_peers3)
#define gnutls_check_version (*gnutls_dl.gnutls_check_version)
#define gnutls_ciphersuite_get (*gnutls_dl.gnutls_ciphersuite_get)
#define gnutls_credentials_set (*gnutls_dl.gnutls_credentials_set)
#define gnutls_deinit (*gnutls_dl.gnutls_deinit)
#define gnutls_dh_set_prime_bits (*gnutls_dl.gnutls_dh_set_prime_bits)
#define gnutls_error_is_fatal (*gnutls_dl.gnutls_error_is_fatal)
#define gnutls_handshake (*gnutls_dl.gnutls_handshake)
#define gnutls_hash_fast (*gnutls_dl.gnutls_hash_fast)
#define gnutls_init (*gnutls_dl.gnutls_init)
#define gnutls_priority_set_direct (*gnutls_dl.gnutls_priority_set_direct)
#define gnutls_protocol_get_name (*gnutls_dl.gnutls_protocol_get_name)
#define gnutls_protocol_get_version (*gnutls_dl.gnutls_protocol_get_version)
#define gnutls_record_check_pending (*gnutls_dl.gnutls_record_check_pending)
#define gnutls_record_get_direction (*gnutls_dl.gnutls_record_get_direction)
#define gnutls_record_get_max_size (*gnutls_dl.gnutls_record_get_max_size)
#define gnutls_record_recv (*gnutls_dl.gnutls_record_recv)
#define gnutls_record_send (*gnutls_dl.gnutls_record_send)
#define gnutls_server_name_set (*gnutls_dl.gnutls_server_name_set)
#define gnutls_session_channel_binding (*gnutls_dl.gnutls_session_channel_binding)
#define gnutls_session_ext_master_secret_status (*gnutls_dl.gnutls_session_ext_master_secret_status)
#define gnutls_session_get_data2 (*gnutls_dl.gnutls_session_get_data2)
#define gnutls_session_get_desc (*gnutls_dl.gnutls_session_get_desc)
#define gnutls_session_get_flags (*gnutls_dl.gnutls_session_get_flags)
#define gnutls_session_get_verify_cert_status (*gnutls_dl.gnutls_session_get_verify_cert_status)
#define gnutls_session_is_resumed (*gnutls_dl.gnutls_session_is_resumed)
#define gnutls_session_set_data (*gnutls_dl.gnutls_session_set_data)
#define gnutls_session_set_verify_cert (*gnutls_dl.gnutls_session_set_verify_cert)
#define gnutls_strerror (*gnutls_dl.gnutls_strerror)
#define gnutls_transport_set_int2 (*gnutls_dl.gnutls_transport_set_int2)
#define gnutls_x509_crt_deinit (*gnutls_dl.gnutls_x509_crt_deinit)
#define gnutls_x509_crt_get_activation_time (*gnutls_dl.gnutls_x509_crt_get_activation_time)
#define gnutls_x509_crt_get_dn3 (*gnutls_dl.gnutls_x509_crt_get_dn3)
#define gnutls_x509_crt_get_expiration_time (*gnutls_dl.gnutls_x509_crt_get_expiration_time)
#define gnutls_x509_crt_get_fingerprint (*gnutls_dl.gnutls_x509_crt_get_fingerprint)
#define gnutls_x509_crt_get_issuer_dn3 (*gnutls_dl.gnutls_x509_crt_get_issuer_dn3)
#define gnutls_x509_crt_import (*gnutls_dl.gnutls_x509_crt_import)
#define gnutls_x509_crt_init (*gnutls_dl.gnutls_x509_crt_init)
/* gnutls_free is a variable (a pointer to GnuTLS' deallocator), which
 * gnutls.h also turns into a function-like macro that sets its argument
 * to NULL for GnuTLS' own build. Here: read the variable at each call,
 * and set the (lvalue) argument to NULL, so a datum freed twice or
 * reused after the free holds NULL, not a dangling pointer. */
#undef gnutls_free
#define gnutls_free(p) ((*gnutls_dl.gnutls_free_var)((void *)(p)), (p) = NULL)

/* The two lists must agree: a #define without a table entry fails to
 * compile (no such member); a table entry without a #define fails here. */
GNUTLS_DL_FUNCTIONS(DL_CHECK_DEFINED)
#endif

#endif
