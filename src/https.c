/*
 * https.c - one HTTPS exchange through libcurl (see https.h): the handle
 * and its options, the body read into memory under a cap, and what a
 * transfer failure means as a result class.
 *
 * Owns: every libcurl call of the program; the transport policy (https
 * only, no redirects, verification always on, one timeout, a size cap,
 * no signals).
 *
 * Must not: show a request body or an answer's body (-v shows the method,
 * the URL and the HTTP status only); know what is fetched (OAuth2 or
 * autoconfig: the callers word their own purposes).
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "https.h"
#include "i18n.h"
#include "log.h"
#include "result.h"
#include "util.h"
#if HAVE_LIBCURL
# include "curl-dl.h"
#endif

#define HTTPS_TIMEOUT_DEFAULT 30          /* seconds for the whole exchange */
#define HTTPS_MAX_BODY (1024 * 1024)      /* bytes of an answer's body */

char *https_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = xmalloc(3 * n + 1), *o = out;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
            || c == '-' || c == '.' || c == '_' || c == '~') {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = '\0';
    return out;
}

void https_answer_free(struct https_answer *a)
{
    if (a->secret)
        secure_wipe(a->body.data, a->body.cap);
    buf_free(&a->body);
    a->status = 0;
}

#if HAVE_LIBCURL

/* The body being read, up to max bytes. */
struct sink {
    struct buf body;
    size_t max;
    bool secret;
    bool too_big;
};

/* libcurl's write callback: grows the body, or stops the transfer
 * (returning less than given) past the cap. A secret buffer that grows
 * is wiped before its old memory is freed. */
static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
    struct sink *s = arg;
    size_t len = size * n;
    if (len > s->max - s->body.len) {
        s->too_big = true;
        return 0;
    }
    if (s->body.len + len + 1 > s->body.cap) {
        struct buf bigger = BUF_INIT;
        size_t want = s->body.cap ? s->body.cap * 2 : 4096;
        while (want < s->body.len + len + 1)
            want *= 2;
        bigger.data = xmalloc(want);
        bigger.cap = want;
        if (s->body.len)
            memcpy(bigger.data, s->body.data, s->body.len);
        bigger.len = s->body.len;
        bigger.data[bigger.len] = '\0';
        if (s->secret)
            secure_wipe(s->body.data, s->body.cap);
        buf_free(&s->body);
        s->body = bigger;
    }
    buf_append(&s->body, data, len);
    return len;
}

/* The failure of a transfer as a result (the words escaped: they may
 * quote what a server sent). */
static void transfer_failed(const struct https_request *rq, CURLcode rc, const char *detail,
                            int timeout_s, const struct sink *s, struct result *r)
{
    const char *url = rq->url;
    const char *words = detail && *detail ? detail : curl_easy_strerror(rc);
    struct buf d = BUF_INIT;
    buf_put_escaped(&d, words, strlen(words), ESCAPE_NAMED);
    switch (rc) {
    case CURLE_WRITE_ERROR:
        if (s->too_big) {
            result_set(r, RC_PROTOCOL, _("%s: the answer is larger than %zu KiB"), url,
                       s->max / 1024);
            break;
        }
        result_set(r, RC_IOERR, _("%s: %s"), url, d.data);
        break;
    case CURLE_PEER_FAILED_VERIFICATION:
        result_set(r, RC_NOPERM, _("%s: the server's certificate failed verification: %s"), url,
                   d.data);
        break;
    case CURLE_SSL_CACERT_BADFILE:
        if (rq->trust_file)
            result_set(r, RC_CONFIG, _("%s: cannot use %s %s: %s"), url,
                       rq->trust_setting ? rq->trust_setting : _("the trust file"),
                       rq->trust_file, d.data);
        else if (rq->trust_setting)
            result_set(r, RC_CONFIG,
                       _("%s: no CA certificates to verify the server with (%s); install the "
                         "ca-certificates package or set %s"), url, d.data, rq->trust_setting);
        else
            result_set(r, RC_CONFIG,
                       _("%s: no CA certificates to verify the server with (%s); install the "
                         "ca-certificates package"), url, d.data);
        break;
    case CURLE_UNSUPPORTED_PROTOCOL:
        result_set(r, RC_CONFIG, _("%s: %s (only https:// URLs are used)"), url, d.data);
        break;
    case CURLE_OPERATION_TIMEDOUT:
        result_set(r, RC_TEMPFAIL, _("%s: no answer within %d seconds"), url, timeout_s);
        break;
    default:
        /* cannot resolve, cannot connect, the connection or the TLS
         * handshake broken: worth a retry */
        result_set(r, RC_TEMPFAIL, _("%s: %s"), url, d.data);
        break;
    }
    buf_free(&d);
}

/* Set every option of the exchange; false when libcurl refuses one
 * (r set). */
static bool set_options(CURL *h, const struct https_request *rq, struct curl_slist *headers,
                        int timeout_s, char *errbuf, struct sink *s, struct result *r)
{
    CURLcode rc = CURLE_OK;
#define SET(opt, val) do { if (rc == CURLE_OK) rc = curl_easy_setopt(h, opt, val); } while (0)
    SET(CURLOPT_URL, rq->url);
    SET(CURLOPT_ERRORBUFFER, errbuf);
    SET(CURLOPT_NOSIGNAL, 1L);
    if (rq->post_body) {
        SET(CURLOPT_POSTFIELDS, rq->post_body);
        SET(CURLOPT_POSTFIELDSIZE, (long)strlen(rq->post_body));
    } else {
        SET(CURLOPT_HTTPGET, 1L);
    }
    if (headers)
        SET(CURLOPT_HTTPHEADER, headers);
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    SET(CURLOPT_TIMEOUT_MS, (long)timeout_s * 1000L);
    SET(CURLOPT_WRITEFUNCTION, on_data);
    SET(CURLOPT_WRITEDATA, s);
    SET(CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
    if (rq->trust_file) {
        SET(CURLOPT_CAINFO, rq->trust_file);
        SET(CURLOPT_CAPATH, (char *)NULL);   /* the file only, not also the system's */
    }
    if (rc == CURLE_OK) {
        /* https only (7.85 and later take the string; older ones the bits) */
#ifdef CURLOPT_PROTOCOLS_STR
        if (curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK)
#endif
            rc = curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS);
    }
#undef SET
    if (rc != CURLE_OK) {
        result_set(r, RC_LOCALTEMP, _("%s: libcurl refuses an option (%s)"), rq->purpose,
                   curl_easy_strerror(rc));
        return false;
    }
    return true;
}

int https_fetch(const struct https_request *rq, struct https_answer *out, struct result *r)
{
    memset(out, 0, sizeof *out);
    out->secret = rq->secret;
    if (!ascii_startswith_ci(rq->url, "https://")) {
        result_set(r, RC_CONFIG, _("%s: not an https:// URL"), rq->url);
        return -1;
    }
    int timeout_s = rq->timeout_s > 0 ? rq->timeout_s : HTTPS_TIMEOUT_DEFAULT;
    if (curl_dl_load_for(rq->purpose, r) != 0)
        return -1;
    CURL *h = curl_easy_init();
    if (!h) {
        result_set(r, RC_LOCALTEMP, _("%s: libcurl cannot start"), rq->purpose);
        return -1;
    }
    struct curl_slist *headers = NULL;
    bool oom = false;
    for (size_t i = 0; rq->headers && rq->headers[i] && !oom; i++) {
        struct curl_slist *more = curl_slist_append(headers, rq->headers[i]);
        if (more)
            headers = more;
        else
            oom = true;
    }
    struct sink s = { BUF_INIT, rq->max_body ? rq->max_body : HTTPS_MAX_BODY, rq->secret, false };
    char errbuf[CURL_ERROR_SIZE] = "";
    int result = -1;
    if (oom) {
        result_set(r, RC_OSERR, _("%s: out of memory"), rq->purpose);
    } else if (set_options(h, rq, headers, timeout_s, errbuf, &s, r)) {
        log_debug(1, "%s: %s %s", rq->log_prefix ? rq->log_prefix : "https",
                  rq->post_body ? "POST" : "GET", rq->url);
        CURLcode rc = curl_easy_perform(h);
        long status = 0;
        if (rc != CURLE_OK) {
            transfer_failed(rq, rc, errbuf, timeout_s, &s, r);
            out->unreachable = rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_CONNECT;
        } else if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK) {
            result_set(r, RC_PROTOCOL, _("%s: no HTTP status"), rq->url);
        } else {
            log_debug(1, "%s: HTTP %ld", rq->log_prefix ? rq->log_prefix : "https", status);
            out->status = status;
            if (!s.body.data) {
                s.body.data = xcalloc(1, 1);
                s.body.cap = 1;
            }
            out->body = s.body;
            s.body = (struct buf)BUF_INIT;
            result = 0;
        }
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    if (s.secret)
        secure_wipe(s.body.data, s.body.cap);
    buf_free(&s.body);
    return result;
}

#else /* !HAVE_LIBCURL */

int https_fetch(const struct https_request *rq, struct https_answer *out, struct result *r)
{
    memset(out, 0, sizeof *out);
    result_set(r, RC_UNAVAILABLE, _("%s: this smtpfwd was built without HTTPS (libcurl)"),
               rq->purpose);
    return -1;
}

#endif
