/*
 * oauth2-http.c - the HTTPS exchange with an OAuth2 endpoint
 * (oauth2_post, see oauth2-int.h): one form POST through https.c (the
 * transport shared with --configure: https only, no redirects,
 * verification always on against oauth2_tls_trust_file or libcurl's CA
 * bundle, one timeout, a size cap), its answer handed to
 * oauth2_parse_response.
 *
 * Owns: the form body, what an HTTP status of a token endpoint means as
 * a result class.
 *
 * Must not: call libcurl (https.c does); show a form field or the
 * answer's body (-v shows the URL and the HTTP status only); leave the
 * request body or the answer in freed memory (both wiped).
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "https.h"
#include "i18n.h"
#include "oauth2.h"
#include "oauth2-int.h"
#include "result.h"
#include "util.h"

#if HAVE_LIBCURL

/* The form: name=value pairs, values percent-encoded. Secret: wiped by
 * the caller. */
static char *form_body(const struct oauth2_field *f, size_t nf)
{
    /* Every value escaped first, so the body is allocated once at its
     * size (a buffer that grew would leave pieces of it in freed
     * memory). */
    char **esc = xcalloc(nf ? nf : 1, sizeof *esc);
    size_t total = 1;
    for (size_t i = 0; i < nf; i++) {
        if (!f[i].value)
            continue;
        esc[i] = https_escape(f[i].value);
        total += strlen(f[i].name) + 2 + strlen(esc[i]);
    }
    struct buf b = BUF_INIT;
    b.data = xmalloc(total);
    b.cap = total;
    b.data[0] = '\0';
    for (size_t i = 0; i < nf; i++) {
        if (!esc[i])
            continue;
        if (b.len)
            buf_putc(&b, '&');
        buf_puts(&b, f[i].name);
        buf_putc(&b, '=');
        buf_puts(&b, esc[i]);
        secret_free(esc[i]);
    }
    free(esc);
    return buf_steal(&b);
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
    char *body = form_body(f, nf);
    static const char *const headers[] = {
        "Accept: application/json",
        "Content-Type: application/x-www-form-urlencoded",
        NULL,
    };
    const struct https_request rq = {
        .url = url,
        .post_body = body,
        .headers = headers,
        .trust_file = cl->trust_file,
        .trust_setting = "oauth2_tls_trust_file",
        .purpose = _("cannot fetch an OAuth2 token"),
        .log_prefix = "oauth2",
        .timeout_s = timeout_s,
        .secret = true,
    };
    struct https_answer ans;
    int result = -1;
    if (https_fetch(&rq, &ans, r) == 0) {
        long status = ans.status;
        if (status >= 500 || status == 429) {
            result_set(r, RC_TEMPFAIL, _("%s: the server answered HTTP %ld; try again later"),
                       url, status);
        } else {
            struct result pr = RESULT_INIT;
            if (oauth2_parse_response(status, ans.body.data, ans.body.len, device, out,
                                      &pr) == 0)
                result = 0;
            else
                result_set(r, pr.cls, "%s: %s", url, pr.msg);
            result_clear(&pr);
        }
        https_answer_free(&ans);
    }
    secret_free(body);
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
