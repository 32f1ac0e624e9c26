/*
 * https.h - one HTTPS exchange through libcurl (curl-dl.h, loaded on
 * first use), the transport shared by OAuth2 (oauth2-http.c: a form
 * POST to a token endpoint) and --configure (autoconfig.c: a GET of an
 * autoconfig document).
 *
 * The policy is the same for every caller and not negotiable: https://
 * URLs only (no other protocol, no redirects, so never a redirect to
 * http://), the peer's certificate and host name always verified against
 * the caller's trust file or libcurl's CA bundle, one timeout for the
 * whole exchange, a cap on the size of the answer's body, no signals.
 *
 * Errors (class of r, the message starting with the URL): the URL is not
 * https:// -> RC_CONFIG; libcurl cannot be loaded -> RC_LOCALTEMP (with
 * the caller's purpose); the certificate fails verification ->
 * RC_NOPERM; the trust file cannot be used (or there is no CA bundle) ->
 * RC_CONFIG; the body is over the cap -> RC_PROTOCOL; no answer in time,
 * the name does not resolve, the connection or the handshake broken ->
 * RC_TEMPFAIL; out of memory -> RC_OSERR. An HTTP status is not an
 * error here: the caller judges it.
 *
 * Only with HAVE_LIBCURL (without it, https_fetch fails with
 * RC_UNAVAILABLE).
 */
#ifndef SMTPFWD_HTTPS_H
#define SMTPFWD_HTTPS_H

#include <stdbool.h>
#include <stddef.h>

#include "result.h"
#include "util.h"

/* What to fetch. Strings are not owned. */
struct https_request {
    const char *url;              /* https:// only */
    const char *post_body;        /* form body of a POST, or NULL for a GET */
    const char *const *headers;   /* "Name: value" lines, NULL-terminated; may be NULL */
    const char *trust_file;       /* CA file to trust instead of libcurl's bundle, or NULL */
    const char *trust_setting;    /* the setting that names trust_file, for messages
                                     ("oauth2_tls_trust_file"), or NULL */
    const char *purpose;          /* translated, for a libcurl that cannot be loaded
                                     ("cannot fetch an OAuth2 token") */
    const char *log_prefix;       /* -v lines: "PREFIX: GET URL", "PREFIX: HTTP 200" */
    int timeout_s;                /* whole exchange; <= 0: 30 seconds */
    size_t max_body;              /* bytes; 0: 1 MiB */
    bool secret;                  /* the body holds secrets: grown buffers are wiped */
};

/* What came back: the HTTP status and the body (NUL-terminated, len
 * bytes; may hold NUL bytes). Freed (wiped when the request was secret)
 * by https_answer_free. */
struct https_answer {
    long status;
    struct buf body;
    bool secret;
    bool unreachable;     /* on failure: the host name did not resolve or nothing
                             listened (RC_TEMPFAIL all the same; a caller probing
                             for an optional server may take it as "none there") */
};

/* Make the exchange. Returns 0 with *out filled (any HTTP status), or
 * -1 with r set (see the classes above) and *out empty but for
 * unreachable. */
int https_fetch(const struct https_request *rq, struct https_answer *out, struct result *r);

void https_answer_free(struct https_answer *a);

/* s percent-encoded for a URL query or a form (RFC 3986: every octet
 * but ALPHA, DIGIT, "-", ".", "_" and "~" as %XX). Pure; the caller
 * frees (secret_free when s is a secret). */
char *https_escape(const char *s);

#endif
