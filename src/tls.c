/*
 * tls.c - GnuTLS underneath conn.c (see tls.h).
 *
 * Owns: the per-connection certificate credentials (trust store, CRL,
 * client certificate), priorities, SNI, the non-blocking handshake bounded
 * by poll, verification (chain + validity + host name through
 * gnutls_session_set_verify_cert, re-checked with
 * gnutls_certificate_verify_peers3 so the reason can be reported),
 * fingerprint pinning, the certcheck-off warning, record I/O with
 * send()/recv() conventions, channel binding data, and close_notify.
 * The session cache is tls-cache.c's, the text of the session
 * description for --serverinfo tls-info.c's; waits go through clock.h.
 *
 * Must not: know anything about SMTP, load the system trust store when
 * the handshake does not need it (fingerprint pinned, own trust file,
 * certcheck off), or let any application data out before verification
 * has succeeded.
 */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <gnutls/crypto.h>

#include "clock.h"
#include "gnutls-dl.h"
#include "i18n.h"
#include "log.h"
#include "tls.h"
#include "tls-cache.h"
#include "tls-info.h"

/* GnuTLS' defaults, TLS 1.2 at least, and X25519 moved to the front of
 * the key-exchange groups: the client's first key share is then the one
 * servers pick, and X25519 costs a third of the CPU of P-256 (measured
 * with callgrind: 0.4 against 1.4 million instructions per handshake).
 * The other groups stay offered in GnuTLS' order. */
#define TLS_DEFAULT_PRIORITIES \
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-GROUP-ALL:+GROUP-X25519:+GROUP-ALL"
#define TLS_BYE_WAIT_MS 200

struct tls_session {
    gnutls_session_t s;
    gnutls_certificate_credentials_t cred;
    int fd;
    int last_err;             /* last GnuTLS error code of send/recv */
    bool established;         /* handshake done and verified: close_notify on close */
    bool offered_resume;      /* a cached session was offered to the server */
    bool client_cert;         /* the account has a client certificate */
    char *cache_path;         /* the session cache file, or NULL (no caching) */
};

/* ---------------------------------------------------------------- */
/* configuration */

void tls_info_free(struct tls_info *info)
{
    if (!info)
        return;
    free(info->version);
    free(info->cipher);
    free(info->subject);
    free(info->issuer);
    free(info->not_before);
    free(info->not_after);
    free(info->sha256);
    free(info->sha1);
    memset(info, 0, sizeof *info);
}

static bool tls_is_ip_literal(const char *host)
{
    unsigned char tmp[16];
    return inet_pton(AF_INET, host, tmp) == 1 || inet_pton(AF_INET6, host, tmp) == 1;
}

/* "AA:bb:..." -> bytes. Returns the byte count (20 or 32) or -1. */
static int tls_parse_fingerprint(const char *s, unsigned char out[32])
{
    int n = 0;
    for (const char *p = s; *p;) {
        int hi = hex_digit_value(p[0]);
        int lo = hi < 0 ? -1 : hex_digit_value(p[1]);
        if (hi < 0 || lo < 0 || n == 32)
            return -1;
        out[n++] = (unsigned char)(hi << 4 | lo);
        p += 2;
        if (*p == ':' && p[1])
            p++;
        else if (*p)
            return -1;
    }
    return n == 20 || n == 32 ? n : -1;
}

/* The name the messages use for the server. */
static const char *tls_name(const struct tls_config *cfg, const char *peer)
{
    /* TRANSLATORS: a host name in "TLS handshake with %s failed" and others. */
    return cfg->host && *cfg->host ? cfg->host : peer ? peer : _("the server");
}

/* A certificate, CRL or key file larger than this is refused (a system
 * CA bundle is well under 1 MiB). */
#define TLS_FILE_MAX ((size_t)16 * 1024 * 1024)

/* GnuTLS also takes PKCS #11 and TPM URLs where a file is named: those
 * are not files and go to GnuTLS by name. */
static bool tls_is_url(const char *name)
{
    return strncmp(name, "pkcs11:", 7) == 0 || strncmp(name, "tpmkey:", 7) == 0;
}

/* What tls_load_pem gives GnuTLS. */
enum tls_pem {
    TLS_PEM_TRUST,       /* tls_trust_file: trust anchors */
    TLS_PEM_CRL,         /* tls_crl_file */
    TLS_PEM_CERT_KEY,    /* tls_cert_file and tls_key_file: the client certificate */
};

/* Read a file named by the setting `what` (util_read_file: a FIFO or a
 * device is refused instead of blocking or being read without end);
 * secret for a private key, wiped when freed. Returns 0, or -1 with r
 * set (RC_CONFIG). */
static int tls_read_file(const char *path, const char *what, bool secret, struct file_data *f,
                         struct result *r)
{
    int rc = util_read_file(path, TLS_FILE_MAX, secret, f);
    if (rc == 0)
        return 0;
    char *msg = util_read_file_error(path, rc, errno, TLS_FILE_MAX);
    result_set(r, RC_CONFIG, "%s (%s)", msg, what);
    free(msg);
    return -1;
}

/* Load the PEM file path (and for TLS_PEM_CERT_KEY the key file
 * key_path) into t->cred: read with tls_read_file and given to GnuTLS
 * from memory, or a PKCS #11/TPM URL given to GnuTLS by name. The GnuTLS
 * functions are called by name in each case (each name is a macro that
 * reads the gnutls-dl table). Returns 0, or -1 with r set (RC_CONFIG:
 * unreadable file, or GnuTLS refuses its content; a trust file without
 * any certificate is refused too). */
static int tls_load_pem(struct tls_session *t, enum tls_pem kind, const char *path,
                        const char *key_path, struct result *r)
{
    static const char *const setting[] = {
        [TLS_PEM_TRUST] = "tls_trust_file",
        [TLS_PEM_CRL] = "tls_crl_file",
        [TLS_PEM_CERT_KEY] = "tls_cert_file",
    };
    const gnutls_x509_crt_fmt_t pem = GNUTLS_X509_FMT_PEM;
    int e;
    if (tls_is_url(path) || (kind == TLS_PEM_CERT_KEY && tls_is_url(key_path))) {
        switch (kind) {
        case TLS_PEM_TRUST:
            e = gnutls_certificate_set_x509_trust_file(t->cred, path, pem);
            break;
        case TLS_PEM_CRL:
            e = gnutls_certificate_set_x509_crl_file(t->cred, path, pem);
            break;
        default:
            e = gnutls_certificate_set_x509_key_file2(t->cred, path, key_path, pem, NULL, 0);
            break;
        }
    } else {
        struct file_data f, k = { 0 };
        if (tls_read_file(path, setting[kind], false, &f, r) != 0)
            return -1;
        if (kind == TLS_PEM_CERT_KEY
            && tls_read_file(key_path, "tls_key_file", true, &k, r) != 0) {
            util_file_free(&f);
            return -1;
        }
        gnutls_datum_t d = { (unsigned char *)f.data, (unsigned)f.len };
        gnutls_datum_t kd = { (unsigned char *)k.data, (unsigned)k.len };
        switch (kind) {
        case TLS_PEM_TRUST:
            e = gnutls_certificate_set_x509_trust_mem(t->cred, &d, pem);
            break;
        case TLS_PEM_CRL:
            e = gnutls_certificate_set_x509_crl_mem(t->cred, &d, pem);
            break;
        default:
            e = gnutls_certificate_set_x509_key_mem2(t->cred, &d, &kd, pem, NULL, 0);
            break;
        }
        if (kind == TLS_PEM_CERT_KEY)
            util_file_free(&k);
        util_file_free(&f);
    }
    if (e > 0 || (e == 0 && kind != TLS_PEM_TRUST))
        return 0;
    const char *why = e == 0 ? _("no certificate found in it") : gnutls_strerror(e);
    switch (kind) {
    case TLS_PEM_TRUST:
        result_set(r, RC_CONFIG, _("cannot load the TLS trust file %s: %s"), path, why);
        break;
    case TLS_PEM_CRL:
        result_set(r, RC_CONFIG, _("cannot load the TLS CRL file %s: %s"), path, why);
        break;
    default:
        result_set(r, RC_CONFIG, _("cannot load the TLS client certificate %s and key %s: %s"),
                   path, key_path, why);
        break;
    }
    return -1;
}

/* Load the trust anchors (and CRL) that chain verification needs into
 * t->cred: tls_trust_file, else the system store. */
static int tls_load_trust(struct tls_session *t, const struct tls_config *cfg, struct result *r)
{
    if (cfg->trust_file && *cfg->trust_file && strcmp(cfg->trust_file, "system") != 0) {
        if (tls_load_pem(t, TLS_PEM_TRUST, cfg->trust_file, NULL, r) != 0)
            return -1;
    } else {
        int e = gnutls_certificate_set_x509_system_trust(t->cred);
        if (e <= 0) {
            result_set(r, RC_CONFIG,
                       _("cannot load the system's trusted certificates (%s): "
                         "install them (on Debian: the ca-certificates package), or "
                         "set tls_trust_file or tls_fingerprint"),
                       e == 0 ? _("none found") : gnutls_strerror(e));
            return -1;
        }
    }
    if (cfg->crl_file && *cfg->crl_file)
        return tls_load_pem(t, TLS_PEM_CRL, cfg->crl_file, NULL, r);
    return 0;
}

/* Set up credentials and the session as cfg says (nothing is sent). */
static int tls_setup(struct tls_session *t, const struct tls_config *cfg, bool *verify_chain,
                     struct result *r)
{
    int e;
    *verify_chain = false;
    if ((e = gnutls_certificate_allocate_credentials(&t->cred)) < 0
        || (e = gnutls_init(&t->s, GNUTLS_CLIENT | GNUTLS_NO_SIGNAL)) < 0) {
        result_set(r, RC_SOFTWARE, _("cannot initialize TLS: %s"), gnutls_strerror(e));
        return -1;
    }

    bool pinned = cfg->fingerprint && *cfg->fingerprint;
    *verify_chain = !pinned && cfg->certcheck;
    /* A cached session from an earlier connection under the same settings
     * (see tls_cache_path) is offered first; when the server resumes it,
     * no certificate is sent or verified and the trust store is not
     * needed.  When it is not resumed, the trust store is loaded and the
     * chain verified after the handshake (tls_verify), before any
     * application data. */
    t->offered_resume = tls_cache_offer(t->s, t->cache_path);
    if (*verify_chain && !t->offered_resume && tls_load_trust(t, cfg, r) != 0)
        return -1;

    bool has_cert = cfg->cert_file && *cfg->cert_file;
    bool has_key = cfg->key_file && *cfg->key_file;
    if (has_cert != has_key) {
        result_set(r, RC_CONFIG,
                   _("a TLS client certificate needs both tls_cert_file and tls_key_file"));
        return -1;
    }
    if (has_cert && tls_load_pem(t, TLS_PEM_CERT_KEY, cfg->cert_file, cfg->key_file, r) != 0)
        return -1;

    const char *prio = cfg->priorities && *cfg->priorities ? cfg->priorities
                                                            : TLS_DEFAULT_PRIORITIES;
    const char *errpos = NULL;
    e = gnutls_priority_set_direct(t->s, prio, &errpos);
    if (e < 0) {
        if (e == GNUTLS_E_INVALID_REQUEST && errpos)
            result_set(r, RC_CONFIG, _("invalid tls_priorities \"%s\" at \"%s\""), prio, errpos);
        else
            result_set(r, RC_CONFIG, _("invalid tls_priorities \"%s\": %s"), prio,
                       gnutls_strerror(e));
        return -1;
    }
    if ((e = gnutls_credentials_set(t->s, GNUTLS_CRD_CERTIFICATE, t->cred)) < 0) {
        result_set(r, RC_SOFTWARE, _("cannot initialize TLS: %s"), gnutls_strerror(e));
        return -1;
    }
    if (cfg->min_dh_prime_bits > 0)
        gnutls_dh_set_prime_bits(t->s, (unsigned)cfg->min_dh_prime_bits);
    if (cfg->host && *cfg->host && !tls_is_ip_literal(cfg->host)) {
        e = gnutls_server_name_set(t->s, GNUTLS_NAME_DNS, cfg->host, strlen(cfg->host));
        if (e < 0) {
            result_set(r, RC_CONFIG, _("cannot use %s as TLS server name: %s"), cfg->host,
                       gnutls_strerror(e));
            return -1;
        }
    }
    if (*verify_chain && !t->offered_resume)
        gnutls_session_set_verify_cert(t->s, cfg->host && *cfg->host ? cfg->host : NULL, 0);
    gnutls_transport_set_int(t->s, t->fd);
    return 0;
}

/* ---------------------------------------------------------------- */
/* handshake */

/* Wait for the direction GnuTLS needs. 1 ready, 0 timeout, -1 error. */
static int tls_wait(const struct tls_session *t, long long deadline)
{
    return clock_wait_fd(t->fd, gnutls_record_get_direction(t->s) ? POLLOUT : POLLIN, deadline);
}

/* GnuTLS' explanation of a verification status, without trailing space. */
static char *tls_status_text(unsigned status)
{
    gnutls_datum_t out = { NULL, 0 };
    char *s;
    if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &out, 0) < 0)
        s = xasprintf(_("verification status 0x%x"), status);
    else
        s = xstrndup((const char *)out.data, out.size);
    gnutls_free(out.data);
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

static void tls_verify_failed(const char *name, unsigned status, struct result *r)
{
    char *why = tls_status_text(status);
    result_set(r, RC_NOPERM, _("TLS certificate verification failed for %s: %s"), name, why);
    free(why);
}

/* Is the fatal alert a the server's refusal of our client certificate:
 * it requires one we did not send, or does not accept the one we sent?
 * certificate_required (TLS 1.3) says so by itself; the older alerts
 * (handshake_failure is what OpenSSL-based servers send under TLS 1.2)
 * only when the server asked for a certificate in this handshake. */
static bool tls_alert_refuses_client_cert(const struct tls_session *t,
                                          gnutls_alert_description_t a)
{
    switch (a) {
    case GNUTLS_A_CERTIFICATE_REQUIRED:
        return true;
    case GNUTLS_A_HANDSHAKE_FAILURE:
    case GNUTLS_A_BAD_CERTIFICATE:
    case GNUTLS_A_UNSUPPORTED_CERTIFICATE:
    case GNUTLS_A_CERTIFICATE_REVOKED:
    case GNUTLS_A_CERTIFICATE_EXPIRED:
    case GNUTLS_A_CERTIFICATE_UNKNOWN:
    case GNUTLS_A_UNKNOWN_CA:
    case GNUTLS_A_ACCESS_DENIED:
        return gnutls_certificate_client_get_request_status(t->s) != 0;
    default:
        return false;
    }
}

/* r = the server refused the session for want of an acceptable client
 * certificate: RC_NOPERM, like any refused credential (no retry helps). */
static void tls_client_cert_refused(const struct tls_session *t, const char *name,
                                    const char *alert, struct result *r)
{
    if (t->client_cert)
        result_set(r, RC_NOPERM,
                   _("TLS handshake with %s failed: the server refused the client certificate "
                     "(it sent the alert \"%s\"); check tls_cert_file and tls_key_file"),
                   name, alert);
    else
        result_set(r, RC_NOPERM,
                   _("TLS handshake with %s failed: the server requires a client certificate "
                     "(it sent the alert \"%s\"); set tls_cert_file and tls_key_file for "
                     "this account"), name, alert);
}

int tls_session_refusal(const struct tls_session *t, const char *name, struct result *r)
{
    if (t->last_err != GNUTLS_E_FATAL_ALERT_RECEIVED)
        return 0;
    gnutls_alert_description_t a = gnutls_alert_get(t->s);
    if (!tls_alert_refuses_client_cert(t, a))
        return 0;
    const char *an = gnutls_alert_get_name(a);
    tls_client_cert_refused(t, name, an ? an : "?", r);
    return -1;
}

/* Tell the server its certificate was refused, with the alert that
 * names the reason (RFC 8446 6.2); best effort, nothing is waited for. */
static void tls_refuse_certificate(struct tls_session *t)
{
    unsigned status = gnutls_session_get_verify_cert_status(t->s);
    gnutls_alert_description_t a = GNUTLS_A_BAD_CERTIFICATE;
    if (status & (GNUTLS_CERT_SIGNER_NOT_FOUND | GNUTLS_CERT_SIGNER_NOT_CA))
        a = GNUTLS_A_UNKNOWN_CA;
    else if (status & (GNUTLS_CERT_EXPIRED | GNUTLS_CERT_NOT_ACTIVATED))
        a = GNUTLS_A_CERTIFICATE_EXPIRED;
    else if (status & GNUTLS_CERT_REVOKED)
        a = GNUTLS_A_CERTIFICATE_REVOKED;
    (void)gnutls_alert_send(t->s, GNUTLS_AL_FATAL, a);
}

/* Classify a failed handshake (see tls.h). */
static void tls_handshake_failed(const struct tls_session *t, const char *name, int e,
                                 struct result *r)
{
    switch (e) {
    case GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR:
        tls_verify_failed(name, gnutls_session_get_verify_cert_status(t->s), r);
        return;
    case GNUTLS_E_PREMATURE_TERMINATION:
    case GNUTLS_E_UNEXPECTED_PACKET_LENGTH:
        result_set(r, RC_TEMPFAIL,
                   _("TLS handshake with %s failed: the connection was closed by the server"),
                   name);
        return;
    case GNUTLS_E_PUSH_ERROR:
    case GNUTLS_E_PULL_ERROR:
        result_set(r, RC_TEMPFAIL, _("TLS handshake with %s failed: %s"), name,
                   gnutls_strerror(e));
        return;
    case GNUTLS_E_FATAL_ALERT_RECEIVED: {
        gnutls_alert_description_t a = gnutls_alert_get(t->s);
        const char *an = gnutls_alert_get_name(a);
        if (tls_alert_refuses_client_cert(t, a)) {
            tls_client_cert_refused(t, name, an ? an : "?", r);
            return;
        }
        bool incompatible = a == GNUTLS_A_PROTOCOL_VERSION || a == GNUTLS_A_HANDSHAKE_FAILURE
                            || a == GNUTLS_A_INSUFFICIENT_SECURITY;
        result_set(r, incompatible ? RC_UNAVAILABLE : RC_PROTOCOL,
                   _("TLS handshake with %s failed: the server sent the alert \"%s\""), name,
                   an ? an : "?");
        return;
    }
    case GNUTLS_E_UNSUPPORTED_VERSION_PACKET:
    case GNUTLS_E_NO_CIPHER_SUITES:
    case GNUTLS_E_UNKNOWN_CIPHER_SUITE:
    case GNUTLS_E_INSUFFICIENT_SECURITY:
    case GNUTLS_E_NO_COMMON_KEY_SHARE:
    case GNUTLS_E_UNSUPPORTED_SIGNATURE_ALGORITHM:
    case GNUTLS_E_DH_PRIME_UNACCEPTABLE:
    case GNUTLS_E_UNKNOWN_PK_ALGORITHM:
        result_set(r, RC_UNAVAILABLE,
                   _("TLS handshake with %s failed: %s (the server offers no protocol "
                     "version or algorithm that tls_priorities allows)"),
                   name, gnutls_strerror(e));
        return;
    default:
        result_set(r, RC_PROTOCOL, _("TLS handshake with %s failed: %s"), name,
                   gnutls_strerror(e));
        return;
    }
}

static void tls_warn_certcheck_off(const struct tls_config *cfg)
{
    if (cfg->account)
        log_warning(_("TLS certificate verification is off for account %s: the "
                      "connection can be intercepted"), cfg->account);
    else
        log_warning(_("TLS certificate verification is off: the connection can be "
                      "intercepted"));
}

/* After the handshake: pin or verify as cfg says. */
static int tls_verify(struct tls_session *t, const struct tls_config *cfg, const char *name,
                      bool verify_chain, bool resumed, struct result *r)
{
    if (resumed) {
        /* The server proved it holds the secret of a session that was
         * verified under these very settings (the cache key covers them);
         * a resumed handshake carries no certificate to check again.
         * The certcheck-off warning is still due. */
        if (!verify_chain && !(cfg->fingerprint && *cfg->fingerprint))
            tls_warn_certcheck_off(cfg);
        return 0;
    }
    if (cfg->fingerprint && *cfg->fingerprint) {
        unsigned char want[32], got[32];
        int n = tls_parse_fingerprint(cfg->fingerprint, want);
        if (n < 0) {
            result_set(r, RC_CONFIG,
                       _("invalid tls_fingerprint \"%s\": expected 32 (SHA-256) or 20 (SHA-1) "
                         "hex pairs separated by ':'"), cfg->fingerprint);
            return -1;
        }
        const gnutls_datum_t *leaf = tls_leaf_cert(t->s);
        if (!leaf) {
            result_set(r, RC_NOPERM, _("TLS certificate verification failed for %s: the "
                                       "server sent no certificate"), name);
            return -1;
        }
        gnutls_digest_algorithm_t alg = n == 32 ? GNUTLS_DIG_SHA256 : GNUTLS_DIG_SHA1;
        if (gnutls_hash_fast(alg, leaf->data, leaf->size, got) < 0) {
            result_set(r, RC_SOFTWARE, _("cannot compute a certificate fingerprint"));
            return -1;
        }
        if (memcmp(want, got, (size_t)n) != 0) {
            char *g = tls_hex_colons(got, (size_t)n);
            char *w = tls_hex_colons(want, (size_t)n);
            result_set(r, RC_NOPERM,
                       _("TLS certificate verification failed for %s: the server's %s "
                         "fingerprint %s does not match tls_fingerprint %s"),
                       name, n == 32 ? "SHA-256" : "SHA-1", g, w);
            free(g);
            free(w);
            return -1;
        }
        return 0;
    }
    if (!verify_chain) {
        tls_warn_certcheck_off(cfg);
        return 0;
    }
    unsigned n_peer = 0;
    if (!gnutls_certificate_get_peers(t->s, &n_peer) || n_peer == 0) {
        result_set(r, RC_NOPERM, _("TLS certificate verification failed for %s: the server "
                                   "sent no certificate"), name);
        return -1;
    }
    unsigned status = 0;
    if (!t->offered_resume) {
        /* The handshake verified the chain, its validity and the host
         * name (gnutls_session_set_verify_cert) and failed when they were
         * wrong; its result is kept, so nothing is verified twice. */
        status = gnutls_session_get_verify_cert_status(t->s);
    } else {
        /* A cached session was offered and refused: the handshake ran
         * without automatic verification, so verify now, before any
         * application data, with the trust store loaded only now. */
        if (tls_load_trust(t, cfg, r) != 0)
            return -1;
        int e = cfg->host && *cfg->host
                    ? gnutls_certificate_verify_peers3(t->s, cfg->host, &status)
                    : gnutls_certificate_verify_peers2(t->s, &status);
        if (e < 0) {
            result_set(r, RC_NOPERM, _("TLS certificate verification failed for %s: %s"), name,
                       gnutls_strerror(e));
            return -1;
        }
    }
    if (status != 0) {
        tls_verify_failed(name, status, r);
        return -1;
    }
    return 0;
}

int tls_session_start(int fd, const struct tls_config *cfg, const char *peer,
                      int timeout_ms, struct tls_session **out, struct result *r)
{
    *out = NULL;
    if (gnutls_dl_load(r) != 0)
        return -1;
    struct tls_session *t = xcalloc(1, sizeof *t);
    t->fd = fd;
    t->client_cert = cfg->cert_file && *cfg->cert_file;
    const char *name = tls_name(cfg, peer);
    bool verify_chain = false;
    if (timeout_ms <= 0)
        timeout_ms = 60 * 1000;

    t->cache_path = tls_cache_path(cfg, peer);
    if (tls_setup(t, cfg, &verify_chain, r) != 0) {
        tls_session_close(t);
        return -1;
    }
    long long deadline = clock_now_ms() + timeout_ms;
    int e;
    for (;;) {
        e = gnutls_handshake(t->s);
        if (e == GNUTLS_E_SUCCESS)
            break;
        int w = 1;
        if (e == GNUTLS_E_AGAIN)
            w = tls_wait(t, deadline);
        else if (gnutls_error_is_fatal(e) == 0)
            w = clock_now_ms() < deadline ? 1 : 0;   /* interrupted, warning alert */
        else
            break;
        if (w > 0)
            continue;
        if (w == 0) {
            char *d = clock_describe_ms(timeout_ms);
            result_set(r, RC_TEMPFAIL, _("TLS handshake with %s timed out after %s"), name, d);
            free(d);
        } else {
            result_set(r, RC_TEMPFAIL, _("TLS handshake with %s failed: %s"), name,
                       strerror(errno));
        }
        tls_session_close(t);
        return -1;
    }
    if (e != GNUTLS_E_SUCCESS) {
        tls_handshake_failed(t, name, e, r);
        /* GnuTLS sends an alert for the errors it detects in the
         * protocol, but not when our verification callback refuses the
         * certificate: the side that detects an error must say so (RFC
         * 8446 6.2), so that the server logs why instead of a broken
         * connection. Nothing is waited for. */
        if (e == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR)
            tls_refuse_certificate(t);
        tls_session_close(t);
        return -1;
    }
    bool resumed = gnutls_session_is_resumed(t->s) != 0;
    if (t->offered_resume)
        log_debug(2, resumed ? _("TLS session with %s resumed from the cache")
                             : _("TLS session with %s not resumed: full handshake"), name);
    if (tls_verify(t, cfg, name, verify_chain, resumed, r) != 0) {
        tls_refuse_certificate(t);
        tls_session_close(t);
        return -1;
    }
    char *desc = gnutls_session_get_desc(t->s);
    log_debug(2, _("TLS session with %s: %s"), name, desc ? desc : "?");
    gnutls_free(desc);
    t->established = true;
    *out = t;
    return 0;
}

/* ---------------------------------------------------------------- */
/* record I/O */

static long tls_io_result(struct tls_session *t, ssize_t n, bool reading)
{
    if (n >= 0)
        return (long)n;
    t->last_err = (int)n;
    switch (n) {
    case GNUTLS_E_AGAIN:
        errno = EAGAIN;
        return -1;
    case GNUTLS_E_INTERRUPTED:
    case GNUTLS_E_WARNING_ALERT_RECEIVED:
    case GNUTLS_E_REHANDSHAKE:     /* a client may ignore it (RFC 5246 7.4.1.1) */
        errno = EINTR;
        return -1;
    case GNUTLS_E_PREMATURE_TERMINATION:
        if (reading)
            return 0;
        errno = ECONNRESET;
        return -1;
    case GNUTLS_E_PUSH_ERROR:
    case GNUTLS_E_PULL_ERROR:
        errno = ECONNRESET;
        return -1;
    default:
        errno = EPROTO;
        return -1;
    }
}

long tls_session_send(struct tls_session *t, const void *data, size_t n)
{
    return tls_io_result(t, gnutls_record_send(t->s, data, n), false);
}

long tls_session_recv(struct tls_session *t, void *buf, size_t n)
{
    return tls_io_result(t, gnutls_record_recv(t->s, buf, n), true);
}

size_t tls_session_pending(const struct tls_session *t)
{
    return gnutls_record_check_pending(t->s);
}

bool tls_session_wants_write(const struct tls_session *t)
{
    return gnutls_record_get_direction(t->s) == 1;
}

const char *tls_session_error(const struct tls_session *t)
{
    if (t->last_err == GNUTLS_E_FATAL_ALERT_RECEIVED) {
        const char *an = gnutls_alert_get_name(gnutls_alert_get(t->s));
        if (an)
            return an;
    }
    return gnutls_strerror(t->last_err);
}

const char *tls_session_version(const struct tls_session *t)
{
    return tls_version_name(t->s);
}

/* ---------------------------------------------------------------- */
/* channel binding, description (tls-info.c) */

int tls_session_channel_binding(const struct tls_session *t, const char *type,
                                struct buf *out)
{
    gnutls_channel_binding_t cb;
    gnutls_protocol_t v = gnutls_protocol_get_version(t->s);
    if (strcmp(type, "tls-unique") == 0) {
        if (v != GNUTLS_TLS1_2)
            return -1;
        cb = GNUTLS_CB_TLS_UNIQUE;
    } else if (strcmp(type, "tls-exporter") == 0) {
#if GNUTLS_VERSION_NUMBER >= 0x030702
        if (v != GNUTLS_TLS1_3 && !gnutls_session_ext_master_secret_status(t->s))
            return -1;
        cb = GNUTLS_CB_TLS_EXPORTER;
#else
        return -1;
#endif
    } else {
        return -1;
    }
    gnutls_datum_t d = { NULL, 0 };
    if (gnutls_session_channel_binding(t->s, cb, &d) < 0 || !d.data || d.size == 0) {
        gnutls_free(d.data);
        return -1;
    }
    buf_append(out, d.data, d.size);
    gnutls_free(d.data);
    return 0;
}

int tls_session_info(const struct tls_session *t, struct tls_info *info)
{
    tls_info_fill(t->s, info);
    return 0;
}

/* ---------------------------------------------------------------- */
/* closing */

void tls_session_close(struct tls_session *t)
{
    if (!t)
        return;
    if (t->s && t->established) {
        tls_cache_store(t->s, t->cache_path, t->offered_resume);
        /* close_notify, best effort: one retry after a short wait */
        int e = gnutls_bye(t->s, GNUTLS_SHUT_WR);
        if (e == GNUTLS_E_AGAIN || e == GNUTLS_E_INTERRUPTED) {
            if (tls_wait(t, clock_now_ms() + TLS_BYE_WAIT_MS) > 0)
                (void)gnutls_bye(t->s, GNUTLS_SHUT_WR);
        }
    }
    if (t->s)
        gnutls_deinit(t->s);
    if (t->cred)
        gnutls_certificate_free_credentials(t->cred);
    free(t->cache_path);
    free(t);
}
