/*
 * oauth2-json.c - reading and writing the JSON of OAuth2 (see oauth2.h,
 * oauth2-int.h): a token or device endpoint's answer
 * (oauth2_parse_response), the error report a mail server sends in its
 * 334 challenge (oauth2_challenge_status), and the helpers the token
 * files use (parse an object, a string or integer member, a JSON string
 * written out).
 *
 * Owns: every json-c call of the program (through json-dl.h, loaded on
 * first use), the rules for what an answer must hold (member types,
 * printable tokens, sane numbers), and wiping the strings json-c held.
 *
 * Must not: talk to a network or touch a file; log a token.
 */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "i18n.h"
#include "oauth2.h"
#include "oauth2-int.h"
#include "result.h"
#include "util.h"
#if HAVE_JSONC
# include "json-dl.h"
# include <printbuf.h>
#endif

/* What an answer may hold at most: longer strings or larger numbers are
 * not an endpoint's honest answer. */
#define JSON_MAX_DEPTH 32
#define MAX_LIFETIME (10LL * 366 * 24 * 3600)

void oauth2_json_put_string(struct buf *b, const char *s)
{
    buf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            buf_putc(b, '\\');
            buf_putc(b, (char)*p);
        } else if (*p < 0x20 || *p == 0x7f) {
            buf_printf(b, "\\u%04x", *p);
        } else {
            buf_putc(b, (char)*p);
        }
    }
    buf_putc(b, '"');
}

void oauth2_response_free(struct oauth2_response *resp)
{
    secret_free(resp->access_token);
    secret_free(resp->refresh_token);
    free(resp->error);
    free(resp->error_description);
    secret_free(resp->device_code);
    free(resp->user_code);
    free(resp->verification_uri);
    free(resp->verification_uri_complete);
    memset(resp, 0, sizeof *resp);
    resp->expires_in = -1;
    resp->interval = -1;
}

#if HAVE_JSONC

struct json_object *oauth2_json_parse(const char *text, size_t len)
{
    struct result lr = RESULT_INIT;
    if (len > INT32_MAX || json_dl_load(&lr) != 0) {
        result_clear(&lr);
        return NULL;
    }
    struct json_tokener *tok = json_tokener_new_ex(JSON_MAX_DEPTH);
    if (!tok)
        return NULL;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    struct json_object *o = json_tokener_parse_ex(tok, text, (int)len);
    bool ok = o && json_tokener_get_error(tok) == json_tokener_success &&
              json_object_get_type(o) == json_type_object;
    if (ok) {
        /* nothing but white space after the object */
        for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
            if (!strchr(" \t\r\n", text[i]))
                ok = false;
    }
    /* json-c's buffer of the last string it read may hold a token. */
    if (tok->pb && tok->pb->buf)
        secure_wipe(tok->pb->buf, (size_t)tok->pb->size);
    json_tokener_free(tok);
    if (!ok) {
        oauth2_json_free(o);
        return NULL;
    }
    return o;
}

void oauth2_json_free(struct json_object *o)
{
    if (!o)
        return;
    if (json_object_get_type(o) == json_type_object) {
        struct json_object_iterator it = json_object_iter_begin(o);
        struct json_object_iterator end = json_object_iter_end(o);
        for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
            struct json_object *v = json_object_iter_peek_value(&it);
            if (v && json_object_get_type(v) == json_type_string)
                secure_wipe((char *)json_object_get_string(v),
                            (size_t)json_object_get_string_len(v));
        }
    }
    json_object_put(o);
}

int oauth2_json_string(struct json_object *o, const char *name, char **out)
{
    struct json_object *v = NULL;
    *out = NULL;
    if (!json_object_object_get_ex(o, name, &v) || !v)
        return 0;
    if (json_object_get_type(v) != json_type_string)
        return -1;
    const char *s = json_object_get_string(v);
    size_t n = (size_t)json_object_get_string_len(v);
    if (strlen(s) != n)
        return -1;
    *out = xstrndup(s, n);
    return 1;
}

int oauth2_json_uint(struct json_object *o, const char *name, long long *out)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(o, name, &v) || !v)
        return 0;
    if (json_object_get_type(v) == json_type_int) {
        long long n = (long long)json_object_get_int64(v);
        if (n < 0)
            return -1;
        *out = n;
        return 1;
    }
    if (json_object_get_type(v) != json_type_string)
        return -1;
    const char *s = json_object_get_string(v);
    if (!*s || strlen(s) > 18 || strspn(s, "0123456789") != strlen(s))
        return -1;
    *out = strtoll(s, NULL, 10);
    return 1;
}

/* A token as RFC 6749 appendix A draws it: printable ASCII (VSCHAR) and
 * spaces, not empty. Anything else would reach a file or the SMTP
 * dialog unchecked. */
static bool printable_token(const char *s)
{
    if (!*s)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            return false;
    return true;
}

/* The members of an answer, with the type each must have. */
struct member {
    const char *name;
    char **str;            /* string member */
    long long *num;        /* or a non-negative integer member */
    bool token;            /* printable ASCII only */
};

int oauth2_parse_response(long http_status, const char *body, size_t len, bool device,
                          struct oauth2_response *out, struct result *r)
{
    memset(out, 0, sizeof *out);
    out->expires_in = -1;
    out->interval = -1;
    if (json_dl_load(r) != 0)
        return -1;
    struct json_object *o = oauth2_json_parse(body, len);
    if (!o) {
        result_set(r, RC_PROTOCOL, _("the answer (HTTP %ld) is not a JSON object"),
                   http_status);
        return -1;
    }
    char *verification_url = NULL;
    const struct member members[] = {
        { "access_token", &out->access_token, NULL, true },
        { "refresh_token", &out->refresh_token, NULL, true },
        { "expires_in", NULL, &out->expires_in, false },
        { "error", &out->error, NULL, true },
        { "error_description", &out->error_description, NULL, false },
        { "device_code", &out->device_code, NULL, true },
        { "user_code", &out->user_code, NULL, true },
        { "verification_uri", &out->verification_uri, NULL, true },
        { "verification_url", &verification_url, NULL, true },   /* Google's name */
        { "verification_uri_complete", &out->verification_uri_complete, NULL, true },
        { "interval", NULL, &out->interval, false },
    };
    const char *bad = NULL;
    for (size_t i = 0; i < sizeof members / sizeof members[0] && !bad; i++) {
        const struct member *m = &members[i];
        int got = m->str ? oauth2_json_string(o, m->name, m->str)
                         : oauth2_json_uint(o, m->name, m->num);
        if (got < 0 || (got > 0 && m->str && m->token && !printable_token(*m->str)) ||
            (got > 0 && m->num && *m->num > MAX_LIFETIME))
            bad = m->name;
    }
    oauth2_json_free(o);
    if (!bad && !out->verification_uri && verification_url) {
        out->verification_uri = verification_url;
        verification_url = NULL;
    }
    free(verification_url);
    if (bad) {
        result_set(r, RC_PROTOCOL, _("the answer (HTTP %ld) has an invalid \"%s\" member"),
                   http_status, bad);
    } else if (out->error) {
        return 0;
    } else if (http_status < 200 || http_status > 299) {
        result_set(r, RC_PROTOCOL, _("the answer is HTTP %ld without an \"error\" member"),
                   http_status);
    } else if (!device && !out->access_token) {
        result_set(r, RC_PROTOCOL, _("the answer (HTTP %ld) has no access_token"), http_status);
    } else if (device && (!out->device_code || !out->user_code || !out->verification_uri)) {
        result_set(r, RC_PROTOCOL, _("the answer (HTTP %ld) lacks device_code, user_code or "
                                     "verification_uri"), http_status);
    } else {
        return 0;
    }
    oauth2_response_free(out);
    return -1;
}

char *oauth2_challenge_status(const char *b64)
{
    struct result r = RESULT_INIT;
    size_t len;
    char *json = b64 ? base64_decode(b64, &len) : NULL;
    if (!json || json_dl_load(&r) != 0) {
        result_clear(&r);
        free(json);
        return NULL;
    }
    struct json_object *o = oauth2_json_parse(json, len);
    free(json);
    if (!o)
        return NULL;
    char *status = NULL;
    struct json_object *v = NULL;
    if (json_object_object_get_ex(o, "status", &v) && v) {
        if (json_object_get_type(v) == json_type_string) {
            if (oauth2_json_string(o, "status", &status) > 0 && !printable_token(status)) {
                free(status);
                status = NULL;
            }
        } else if (json_object_get_type(v) == json_type_int) {
            status = xasprintf("%lld", (long long)json_object_get_int64(v));
        }
    }
    oauth2_json_free(o);
    return status;
}

#else /* !HAVE_JSONC */

int oauth2_parse_response(long http_status, const char *body, size_t len, bool device,
                          struct oauth2_response *out, struct result *r)
{
    (void)http_status, (void)body, (void)len, (void)device;
    memset(out, 0, sizeof *out);
    out->expires_in = -1;
    out->interval = -1;
    result_set(r, RC_UNAVAILABLE, _("this smtpfwd was built without OAuth2 support (json-c)"));
    return -1;
}

char *oauth2_challenge_status(const char *b64)
{
    (void)b64;
    return NULL;
}

struct json_object *oauth2_json_parse(const char *text, size_t len)
{
    (void)text, (void)len;
    return NULL;
}

void oauth2_json_free(struct json_object *o)
{
    (void)o;
}

int oauth2_json_string(struct json_object *o, const char *name, char **out)
{
    (void)o, (void)name;
    *out = NULL;
    return -1;
}

int oauth2_json_uint(struct json_object *o, const char *name, long long *out)
{
    (void)o, (void)name, (void)out;
    return -1;
}

#endif
