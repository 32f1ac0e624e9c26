/*
 * fuzz-oauth2-response.c - fuzz target "oauth2-response": what an OAuth2
 * token or device endpoint answers (oauth2_parse_response), and the same
 * bytes as the JSON error report a mail server sends in its 334
 * challenge (oauth2_challenge_status, after base64).
 *
 * Input: one byte of flags (bit 0: a device endpoint's answer; bits 1-3:
 * the HTTP status, 200 400 401 302 500 429 201 404), then the body.
 *
 * Properties checked (abort() on violation), besides no crash and no leak:
 *   - an accepted answer without error has what it must: an access token
 *     (token endpoint) or device_code, user_code and verification_uri
 *     (device endpoint), and a 2xx status;
 *   - every token the answer gives is printable ASCII, without a byte
 *     that could end a line or a SASL field (CR, LF, NUL, ^A), and
 *     expires_in / interval are -1 or within ten years;
 *   - a refused answer leaves every member NULL (nothing half-parsed);
 *   - the same bytes twice give the same answer;
 *   - a 334 status is printable ASCII, or none.
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oauth2.h"
#include "result.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool printable(const char *s)
{
    if (!s)
        return true;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            return false;
    return true;
}

static bool same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const long statuses[] = { 200, 400, 401, 302, 500, 429, 201, 404 };
    if (size < 1 || size > 256 * 1024)
        return 0;
    bool device = data[0] & 1;
    long status = statuses[(data[0] >> 1) & 7];
    const char *body = (const char *)data + 1;
    size_t len = size - 1;

    struct oauth2_response a, b;
    struct result r = RESULT_INIT, r2 = RESULT_INIT;
    int rc = oauth2_parse_response(status, body, len, device, &a, &r);
    int rc2 = oauth2_parse_response(status, body, len, device, &b, &r2);
    if (rc != rc2 || r.cls != r2.cls)
        abort();
    if (rc == 0) {
        if (!a.error) {
            if (status < 200 || status > 299)
                abort();
            if (!device && !a.access_token)
                abort();
            if (device && (!a.device_code || !a.user_code || !a.verification_uri))
                abort();
        }
        const char *tokens[] = { a.access_token, a.refresh_token, a.device_code, a.user_code,
                                 a.error, a.verification_uri };
        for (size_t i = 0; i < sizeof tokens / sizeof tokens[0]; i++)
            if (!printable(tokens[i]) || (tokens[i] && !*tokens[i]))
                abort();
        if (a.expires_in < -1 || a.expires_in > 10LL * 366 * 24 * 3600 || a.interval < -1 ||
            a.interval > 10LL * 366 * 24 * 3600)
            abort();
        if (!same(a.access_token, b.access_token) || !same(a.refresh_token, b.refresh_token) ||
            !same(a.error, b.error) || !same(a.error_description, b.error_description) ||
            !same(a.device_code, b.device_code) || a.expires_in != b.expires_in)
            abort();
        oauth2_response_free(&a);
        oauth2_response_free(&b);
    } else {
        if (r.cls == RC_OK || a.access_token || a.refresh_token || a.error || a.device_code ||
            a.user_code || a.verification_uri || a.error_description)
            abort();
    }
    result_clear(&r);
    result_clear(&r2);

    char *b64 = base64_encode(body, len);
    char *st = oauth2_challenge_status(b64);
    if (st && (!*st || !printable(st)))
        abort();
    free(st);
    free(b64);
    return 0;
}
