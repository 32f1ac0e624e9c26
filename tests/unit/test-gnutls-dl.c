/*
 * test-gnutls-dl.c - unit tests for src/gnutls-dl.c: GnuTLS is not
 * loaded until gnutls_dl_load(), which fills every table entry once,
 * checks the version, and makes the gnutls_xxx macros call the library.
 * This program does not link GnuTLS itself (only libsmtpfwd.a).
 */
#include <config.h>

#include <dlfcn.h>
#include <string.h>

#include "gnutls-dl.h"
#include "result.h"
#include "tap.h"

/* The table holds only pointers: count the NULL ones (the names of the
 * members are macros in this file, so they are not spelled out). */
static size_t null_slots(void)
{
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)&gnutls_dl;
    for (size_t i = 0; i < sizeof gnutls_dl / sizeof(void *); i++) {
        void *slot;
        memcpy(&slot, p + i * sizeof slot, sizeof slot);
        n += slot == NULL;
    }
    return n;
}

/* Is GnuTLS mapped into this process? (RTLD_NOLOAD loads nothing.) */
static int mapped(void)
{
    void *h = dlopen(GNUTLS_SONAME, RTLD_NOW | RTLD_NOLOAD);
    if (!h)
        return 0;
    dlclose(h);
    return 1;
}

int main(void)
{
    struct result r = RESULT_INIT;

    tap_ok(!gnutls_dl_loaded(), "not loaded at start");
    tap_ok(!mapped(), "GnuTLS is not mapped before gnutls_dl_load");
    tap_int(null_slots(), sizeof gnutls_dl / sizeof(void *), "table empty before loading");
    tap_str(gnutls_dl_soname(), GNUTLS_SONAME, "soname is the configured one");

    tap_int(gnutls_dl_load(&r), 0, "gnutls_dl_load succeeds");
    tap_int(r.cls, RC_OK, "no failure recorded");
    tap_ok(gnutls_dl_loaded(), "loaded afterwards");
    tap_ok(mapped(), "GnuTLS is mapped afterwards");

    /* every table entry is filled */
    tap_int(null_slots(), 0, "every function pointer and the gnutls_free variable are filled");

    /* the macros call into the library */
    const char *v = gnutls_check_version(NULL);
    tap_ok(v != NULL && gnutls_check_version(GNUTLS_VERSION) != NULL,
           "run-time version not older than the compile-time one");
    tap_ok(gnutls_check_version("999.0.0") == NULL, "a future version is refused");
    tap_ok(strlen(gnutls_strerror(GNUTLS_E_AGAIN)) > 0, "gnutls_strerror through the table");

    gnutls_datum_t out = { NULL, 0 };
    int e = gnutls_certificate_verification_status_print(GNUTLS_CERT_EXPIRED, GNUTLS_CRT_X509,
                                                          &out, 0);
    tap_ok(e == 0 && out.data != NULL && strstr((char *)out.data, "expired") != NULL,
           "status_print allocates a text");
    gnutls_free(out.data);
    tap_ok(out.data == NULL, "gnutls_free sets its argument to NULL");
    gnutls_free(out.data);    /* freeing NULL again is harmless */
    tap_ok(out.data == NULL, "gnutls_free of NULL");

    /* a second load is a no-op and keeps the same table */
    struct gnutls_dl_table before = gnutls_dl;
    tap_int(gnutls_dl_load(&r), 0, "second gnutls_dl_load succeeds");
    tap_ok(memcmp(&before, &gnutls_dl, sizeof before) == 0, "table unchanged by a second load");

    /* a real session through the table */
    gnutls_session_t s;
    tap_int(gnutls_init(&s, GNUTLS_CLIENT | GNUTLS_NO_SIGNAL), 0, "gnutls_init through the table");
    gnutls_deinit(s);

    result_clear(&r);
    return tap_done();
}
