/*
 * oauth2-http.c - the HTTPS exchange with an OAuth2 endpoint
 * (oauth2_post, see oauth2-int.h): one form POST through libcurl
 * (curl-dl.h, loaded on first use), its answer read into memory under a
 * size cap and handed to oauth2_parse_response.
 *
 * Owns: every libcurl call of the program; the transport policy (https
 * only, no redirects, the peer's certificate and host name always
 * verified against oauth2_tls_trust_file or libcurl's CA bundle, one
 * timeout for the whole exchange, no signals); what a transport failure
 * or an HTTP status means as a result class.
 *
 * Must not: show a form field or the answer's body (-v shows the URL and
 * the HTTP status only); leave the request body or the answer in freed
 * memory (both wiped).
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "i18n.h"
#include "log.h"
#include "oauth2.h"
#include "oauth2-int.h"
#include "result.h"
#include "util.h"
#if HAVE_LIBCURL
# include "curl-dl.h"
#endif

#define HTTP_TIMEOUT_DEFAULT 30          /* seconds for the whole exchange */
#define HTTP_MAX_ANSWER (1024 * 1024)    /* bytes of an answer's body */

#if HAVE_LIBCURL

/* The answer's body, read up to HTTP_MAX_ANSWER bytes. */
struct answer {
    struct buf body;
    bool too_big;
};

/* libcurl's write callback: grows the body, or stops the transfer
 * (returning less than given) past the cap. A buffer that grows is
 * wiped before its old memory is freed. */
static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
    struct answer *ans = arg;
    size_t len = size * n;
    if (len > HTTP_MAX_ANSWER - ans->body.len) {
        ans->too_big = true;
        return 0;
    }
    if (ans->body.len + len + 1 > ans->body.cap) {
        struct buf bigger = BUF_INIT;
        size_t want = ans->body.cap ? ans->body.cap * 2 : 4096;
        while (want < ans->body.len + len + 1)
            want *= 2;
        bigger.data = xmalloc(want);
        bigger.cap = want;
        if (ans->body.len)
            memcpy(bigger.data, ans->body.data, ans->body.len);
        bigger.len = ans->body.len;
        bigger.data[bigger.len] = '\0';
        secure_wipe(ans->body.data, ans->body.cap);
        buf_free(&ans->body);
        ans->body = bigger;
    }
    buf_append(&ans->body, data, len);
    return len;
}

/* The form: name=value pairs, values percent-encoded. Secret: wiped by
 * the caller. NULL when libcurl runs out of memory. */
static char *form_body(CURL *h, const struct oauth2_field *f, size_t nf)
{
    /* Every value escaped first, so the body is allocated once at its
     * size (a buffer that grew would leave pieces of it in freed
     * memory). */
    char **esc = xcalloc(nf ? nf : 1, sizeof *esc);
    size_t total = 1;
    bool ok = true;
    for (size_t i = 0; i < nf && ok; i++) {
        if (!f[i].value)
            continue;
        esc[i] = curl_easy_escape(h, f[i].value, 0);
        ok = esc[i] != NULL;
        if (ok)
            total += strlen(f[i].name) + 2 + strlen(esc[i]);
    }
    struct buf b = BUF_INIT;
    if (ok) {
        b.data = xmalloc(total);
        b.cap = total;
        b.data[0] = '\0';
    }
    for (size_t i = 0; i < nf; i++) {
        if (!esc[i])
            continue;
        if (ok) {
            if (b.len)
                buf_putc(&b, '&');
            buf_puts(&b, f[i].name);
            buf_putc(&b, '=');
            buf_puts(&b, esc[i]);
        }
        secure_wipe(esc[i], strlen(esc[i]));
        curl_free(esc[i]);
    }
    free(esc);
    return ok ? buf_steal(&b) : NULL;
}

/* The failure of a transfer as a result (the words escaped: they may
 * quote what a server sent). */
static void transfer_failed(const struct oauth2_client *cl, const char *url, CURLcode rc,
                            const char *detail, int timeout_s, const struct answer *ans,
                            struct result *r)
{
    struct buf d = BUF_INIT;
    buf_put_escaped(&d, detail && *detail ? detail : curl_easy_strerror(rc),
                    strlen(detail && *detail ? detail : curl_easy_strerror(rc)), ESCAPE_NAMED);
    switch (rc) {
    case CURLE_WRITE_ERROR:
        if (ans->too_big) {
            result_set(r, RC_PROTOCOL, _("%s: the answer is larger than %d KiB"), url,
                       HTTP_MAX_ANSWER / 1024);
            break;
        }
        result_set(r, RC_IOERR, _("%s: %s"), url, d.data);
        break;
    case CURLE_PEER_FAILED_VERIFICATION:
        result_set(r, RC_NOPERM, _("%s: the server's certificate failed verification: %s"), url,
                   d.data);
        break;
    case CURLE_SSL_CACERT_BADFILE:
        if (cl->trust_file)
            result_set(r, RC_CONFIG, _("%s: cannot use oauth2_tls_trust_file %s: %s"), url,
                       cl->trust_file, d.data);
        else
            result_set(r, RC_CONFIG,
                       _("%s: no CA certificates to verify the server with (%s); install the "
                         "ca-certificates package or set oauth2_tls_trust_file"), url, d.data);
        break;
    case CURLE_UNSUPPORTED_PROTOCOL:
        result_set(r, RC_CONFIG, _("%s: %s (only https:// endpoints are used)"), url, d.data);
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
static bool set_options(CURL *h, const struct oauth2_client *cl, const char *url,
                        const char *body, struct curl_slist *headers, int timeout_s,
                        char *errbuf, struct answer *ans, struct result *r)
{
    CURLcode rc = CURLE_OK;
#define SET(opt, val) do { if (rc == CURLE_OK) rc = curl_easy_setopt(h, opt, val); } while (0)
    SET(CURLOPT_URL, url);
    SET(CURLOPT_ERRORBUFFER, errbuf);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_POSTFIELDS, body);
    SET(CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    SET(CURLOPT_HTTPHEADER, headers);
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    SET(CURLOPT_TIMEOUT_MS, (long)timeout_s * 1000L);
    SET(CURLOPT_WRITEFUNCTION, on_data);
    SET(CURLOPT_WRITEDATA, ans);
    SET(CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
    if (cl->trust_file) {
        SET(CURLOPT_CAINFO, cl->trust_file);
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
        result_set(r, RC_LOCALTEMP, _("cannot fetch an OAuth2 token: libcurl refuses an option "
                                      "(%s)"), curl_easy_strerror(rc));
        return false;
    }
    return true;
}

int oauth2_post(const struct oauth2_client *cl, const char *url, const struct oauth2_field *f,
                size_t nf, bool device, int timeout_s, struct oauth2_response *out,
                struct result *r)
{
    memset(out, 0, sizeof *out);
    out->expires_in = -1;
    out->interval = -1;
    if (!ascii_startswith_ci(url, "https://")) {
        result_set(r, RC_CONFIG, _("%s: an OAuth2 endpoint must be an https:// URL"), url);
        return -1;
    }
    if (timeout_s <= 0)
        timeout_s = HTTP_TIMEOUT_DEFAULT;
    if (curl_dl_load(r) != 0)
        return -1;
    CURL *h = curl_easy_init();
    if (!h) {
        result_set(r, RC_LOCALTEMP, _("cannot fetch an OAuth2 token: libcurl cannot start"));
        return -1;
    }
    char *body = form_body(h, f, nf);
    struct curl_slist *headers = curl_slist_append(NULL, "Accept: application/json");
    struct curl_slist *more = headers ? curl_slist_append(headers,
        "Content-Type: application/x-www-form-urlencoded") : NULL;
    struct answer ans = { BUF_INIT, false };
    char errbuf[CURL_ERROR_SIZE] = "";
    int result = -1;
    if (!more || !body) {
        result_set(r, RC_OSERR, _("cannot fetch an OAuth2 token: out of memory"));
    } else if (set_options(h, cl, url, body, headers, timeout_s, errbuf, &ans, r)) {
        log_debug(1, _("oauth2: POST %s"), url);
        CURLcode rc = curl_easy_perform(h);
        long status = 0;
        if (rc != CURLE_OK) {
            transfer_failed(cl, url, rc, errbuf, timeout_s, &ans, r);
        } else if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK) {
            result_set(r, RC_PROTOCOL, _("%s: no HTTP status"), url);
        } else {
            log_debug(1, _("oauth2: HTTP %ld"), status);
            if (status >= 500 || status == 429) {
                result_set(r, RC_TEMPFAIL, _("%s: the server answered HTTP %ld; try again later"),
                           url, status);
            } else {
                struct result pr = RESULT_INIT;
                if (oauth2_parse_response(status, ans.body.data ? ans.body.data : "",
                                          ans.body.len, device, out, &pr) == 0)
                    result = 0;
                else
                    result_set(r, pr.cls, "%s: %s", url, pr.msg);
                result_clear(&pr);
            }
        }
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    secret_free(body);
    secure_wipe(ans.body.data, ans.body.cap);
    buf_free(&ans.body);
    return result;
}

#else /* !HAVE_LIBCURL */

int oauth2_post(const struct oauth2_client *cl, const char *url, const struct oauth2_field *f,
                size_t nf, bool device, int timeout_s, struct oauth2_response *out,
                struct result *r)
{
    (void)cl, (void)url, (void)f, (void)nf, (void)device, (void)timeout_s;
    memset(out, 0, sizeof *out);
    out->expires_in = -1;
    out->interval = -1;
    result_set(r, RC_UNAVAILABLE, _("this smtpfwd was built without OAuth2 support (libcurl)"));
    return -1;
}

#endif
