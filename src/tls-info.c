/*
 * tls-info.c - the text tls.c shows about a TLS session and its server
 * certificate (see tls-info.h): fingerprints as "AA:BB:...", the
 * protocol version name, and the --serverinfo description (cipher suite,
 * subject and issuer DNs, validity dates, fingerprints).
 *
 * Must not: verify anything (tls.c does), or fail: what cannot be read
 * is shown as "?".
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gnutls-dl.h"
#include "tls.h"
#include "tls-info.h"
#include "util.h"

char *tls_hex_colons(const unsigned char *b, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    char *s = xmalloc(n ? n * 3 : 1);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (i)
            s[j++] = ':';
        s[j++] = hex[b[i] >> 4];
        s[j++] = hex[b[i] & 15];
    }
    s[j] = '\0';
    return s;
}

const gnutls_datum_t *tls_leaf_cert(gnutls_session_t s)
{
    unsigned n = 0;
    const gnutls_datum_t *certs = gnutls_certificate_get_peers(s, &n);
    return certs && n > 0 ? certs : NULL;
}

static char *tls_time_text(time_t t)
{
    struct tm tm;
    char s[64];
    if (t == (time_t)-1 || !gmtime_r(&t, &tm) || strftime(s, sizeof s, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
        return xstrdup("?");
    return xstrdup(s);
}

static char *tls_fingerprint_text(gnutls_x509_crt_t crt, gnutls_digest_algorithm_t alg)
{
    unsigned char d[64];
    size_t n = sizeof d;
    if (gnutls_x509_crt_get_fingerprint(crt, alg, d, &n) < 0)
        return xstrdup("?");
    return tls_hex_colons(d, n);
}

const char *tls_version_name(gnutls_session_t s)
{
    const char *v = gnutls_protocol_get_name(gnutls_protocol_get_version(s));
    return v ? v : "TLS";
}

void tls_info_fill(gnutls_session_t s, struct tls_info *info)
{
    memset(info, 0, sizeof *info);
    info->version = xstrdup(tls_version_name(s));
    const char *suite = NULL;
#if GNUTLS_VERSION_NUMBER >= 0x030703
    suite = gnutls_ciphersuite_get(s);
#endif
    if (suite) {
        info->cipher = xstrdup(suite);
    } else {
        char *desc = gnutls_session_get_desc(s);
        info->cipher = xstrdup(desc ? desc : "?");
        gnutls_free(desc);
    }
    const gnutls_datum_t *leaf = tls_leaf_cert(s);
    gnutls_x509_crt_t crt;
    if (leaf && gnutls_x509_crt_init(&crt) == 0) {
        if (gnutls_x509_crt_import(crt, leaf, GNUTLS_X509_FMT_DER) == 0) {
            gnutls_datum_t dn = { NULL, 0 };
            if (gnutls_x509_crt_get_dn3(crt, &dn, 0) == 0)
                info->subject = xstrndup((const char *)dn.data, dn.size);
            gnutls_free(dn.data);
            dn.data = NULL;
            if (gnutls_x509_crt_get_issuer_dn3(crt, &dn, 0) == 0)
                info->issuer = xstrndup((const char *)dn.data, dn.size);
            gnutls_free(dn.data);
            info->not_before = tls_time_text(gnutls_x509_crt_get_activation_time(crt));
            info->not_after = tls_time_text(gnutls_x509_crt_get_expiration_time(crt));
            info->sha256 = tls_fingerprint_text(crt, GNUTLS_DIG_SHA256);
            info->sha1 = tls_fingerprint_text(crt, GNUTLS_DIG_SHA1);
        }
        gnutls_x509_crt_deinit(crt);
    }
    char **unknown[] = { &info->subject, &info->issuer, &info->not_before, &info->not_after,
                         &info->sha256, &info->sha1 };
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
        if (!*unknown[i])
            *unknown[i] = xstrdup("?");
}
