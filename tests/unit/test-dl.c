/*
 * test-dl.c - unit tests for src/dl.c, the shared run-time loader, and
 * for its two lazy users besides GnuTLS (test-gnutls-dl.c): GNU SASL
 * (gsasl-dl.c) and libidn2 (idn.c). A missing library, a missing symbol
 * (nothing kept, the slots NULL again), success; GNU SASL and libidn2
 * not mapped until a run needs them. This program links neither
 * library (only libsmtpfwd.a), so "mapped" means "loaded by smtpfwd".
 */
#include <config.h>

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "dl.h"
#include "idn.h"
#include "result.h"
#include "tap.h"
#ifdef HAVE_LIBGSASL
# include "gsasl-dl.h"
#endif

/* Is SONAME mapped into this process? (RTLD_NOLOAD loads nothing.) */
static int mapped(const char *soname)
{
    void *h = dlopen(soname, RTLD_NOW | RTLD_NOLOAD);
    if (!h)
        return 0;
    dlclose(h);
    return 1;
}

/* NULL pointers in a table of n bytes (the member names are macros in
 * this file, so they are not spelled out). */
static size_t null_slots(const void *table, size_t n)
{
    size_t nulls = 0;
    const unsigned char *p = table;
    for (size_t i = 0; i < n / sizeof(void *); i++) {
        void *slot;
        memcpy(&slot, p + i * sizeof slot, sizeof slot);
        nulls += slot == NULL;
    }
    return nulls;
}

static int contains(const char *s, const char *part)
{
    return s != NULL && strstr(s, part) != NULL;
}

static void test_loader(void)
{
    struct result r = RESULT_INIT;
    void *a = NULL, *b = NULL;
    struct dl_sym syms[] = { { "strlen", &a }, { "smtpfwd_no_such_symbol_x", &b } };

    /* a library that does not exist */
    struct dl_lib missing = { "libsmtpfwd-no-such-lib.so.9", "Nothing", "cannot test",
                              RC_SOFTWARE };
    tap_ok(dl_load(&missing, syms, 1, &r) == NULL, "missing library: NULL");
    tap_int(r.cls, RC_SOFTWARE, "missing library: the class given");
    tap_ok(contains(r.msg, "cannot test: cannot load the Nothing library "
                           "libsmtpfwd-no-such-lib.so.9: "), "missing library: message");
    tap_ok(a == NULL, "missing library: slot untouched");
    result_clear(&r);

    /* a library without one of the symbols: the one found is dropped */
    struct dl_lib libc = { "libc.so.6", "C", "cannot test", RC_DATAERR };
    tap_ok(dl_load(&libc, syms, 2, &r) == NULL, "missing symbol: NULL");
    tap_int(r.cls, RC_DATAERR, "missing symbol: the class given");
    tap_ok(contains(r.msg, "cannot test: libc.so.6 has no symbol smtpfwd_no_such_symbol_x ("),
           "missing symbol: message names the file and the symbol");
    tap_ok(contains(r.msg, "it is not a usable C library"), "missing symbol: names the library");
    tap_ok(a == NULL && b == NULL, "missing symbol: every slot NULL again");
    result_clear(&r);

    /* success: the slot calls the real function; a retry works */
    void *h = dl_load(&libc, syms, 1, &r);
    tap_ok(h != NULL, "success: a handle");
    tap_int(r.cls, RC_OK, "success: no failure recorded");
    size_t (*len)(const char *) = (size_t (*)(const char *))a;
    tap_int(len ? (long long)len("hello") : -1, 5, "success: the slot is the function");
    if (h)
        dlclose(h);

    /* nothing to look up is not an error */
    h = dl_load(&libc, syms, 0, &r);
    tap_ok(h != NULL && r.cls == RC_OK, "empty symbol list loads");
    if (h)
        dlclose(h);
    result_clear(&r);
}

static void test_gsasl(void)
{
#ifdef HAVE_LIBGSASL
    struct result r = RESULT_INIT;
    tap_ok(!gsasl_dl_loaded(), "GNU SASL not loaded at start");
    tap_ok(!mapped(gsasl_dl_soname()), "GNU SASL not mapped at start");
    tap_int(null_slots(&gsasl_dl, sizeof gsasl_dl), sizeof gsasl_dl / sizeof(void *),
            "GNU SASL table empty at start");
    tap_str(gsasl_dl_soname(), GSASL_SONAME, "GNU SASL soname is the configured one");
    tap_int(gsasl_dl_load(&r), 0, "gsasl_dl_load succeeds");
    tap_int(r.cls, RC_OK, "gsasl_dl_load: no failure");
    tap_ok(gsasl_dl_loaded() && mapped(gsasl_dl_soname()), "GNU SASL mapped afterwards");
    tap_int(null_slots(&gsasl_dl, sizeof gsasl_dl), 0, "every GNU SASL entry filled");
    tap_ok(contains(gsasl_strerror(GSASL_OK), "success") ||
           contains(gsasl_strerror(GSASL_OK), "Success"), "gsasl_strerror through the table");
    Gsasl *ctx = NULL;
    tap_int(gsasl_init(&ctx), GSASL_OK, "gsasl_init through the table");
    tap_ok(gsasl_client_support_p(ctx, "PLAIN"), "PLAIN supported through the table");
    gsasl_done(ctx);
    struct gsasl_dl_table before = gsasl_dl;
    tap_int(gsasl_dl_load(&r), 0, "second gsasl_dl_load succeeds");
    tap_ok(memcmp(&before, &gsasl_dl, sizeof before) == 0, "GNU SASL table unchanged");
    result_clear(&r);
#else
    tap_ok(1, "built without GNU SASL");
#endif
}

static void test_idn(void)
{
#ifdef HAVE_LIBIDN2
    struct result r = RESULT_INIT;
    char *s = idn_host_to_ascii("smtp.example.org", &r);
    tap_str(s, "smtp.example.org", "ASCII host passes through");
    free(s);
    s = idn_address_to_ascii("a@b.example", &r);
    tap_str(s, "a@b.example", "ASCII address passes through");
    free(s);
    tap_ok(!mapped(LIBIDN2_SONAME), "ASCII names do not load libidn2");
    s = idn_address_to_ascii("b\xc3\xbc@x.example", &r);
    tap_ok(s == NULL && r.cls == RC_DATAERR, "non-ASCII local part refused");
    tap_ok(!mapped(LIBIDN2_SONAME), "a non-ASCII local part does not load libidn2");
    free(s);
    result_clear(&r);
    s = idn_host_to_ascii("b\xc3\xbc" "cher.example", &r);
    tap_str(s, "xn--bcher-kva.example", "non-ASCII host converted");
    tap_ok(mapped(LIBIDN2_SONAME), "a non-ASCII host loads libidn2");
    free(s);
    s = idn_host_to_ascii("bad\xff\xfe.example", &r);
    tap_ok(s == NULL && r.cls == RC_DATAERR && contains(r.msg, "to ASCII: "),
           "invalid UTF-8 refused after loading");
    free(s);
    result_clear(&r);
#else
    tap_ok(1, "built without libidn2");
#endif
}

int main(void)
{
    test_loader();
    test_idn();     /* before GNU SASL is mapped: nothing else brings libidn2 */
    test_gsasl();
    return tap_done();
}
