/*
 * test-sasl.c - unit tests for sasl.[ch]: the mechanism choice matrix,
 * exact client responses of PLAIN, LOGIN, CRAM-MD5, EXTERNAL, XOAUTH2 and
 * OAUTHBEARER, and full SCRAM-SHA-256(-PLUS) exchanges against a GNU SASL
 * server session in the same process.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#ifdef HAVE_LIBGSASL
# include <gsasl.h>
#endif

#include "sasl.h"
#include "tap.h"

/* The SCRAM iteration count is read before GNU SASL sees the challenge. */
static void test_scram_iterations_parse(void)
{
    static const struct {
        const char *b64;
        int rc;
        unsigned long long it;
        const char *what;
    } cases[] = {
        { "cj1hYmMscz1jMkZzZEE9PSxpPTQwOTY=", 1, 4096, "i=4096 read" },
        { "cj1hYmMscz1jMkZzZEE9PSxpPTEwMDAwMDAwMA==", 1, 100000000, "i=100000000 read" },
        { "cj1hYmMscz1jMkZzZEE9PSxpPTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5", 1, ~0ULL,
          "a 23-digit count saturates instead of wrapping" },
        { "cj1hYmMscz1jMkZzZEE9PQ==", 0, 0, "no i= attribute: 0" },
        { "cj1hYmMscz1jMkZzZEE9PSxpPTEyeA==", 0, 0, "i=12x (not digits): 0" },
        { "dj1jMmxuYm1GMGRYSmw=", 0, 0, "server-final-message (v=): 0" },
        { "aT0xMDAwMDE=", 1, 100001, "i= first" },
        { "aT0xMDAwMDAscj14", 1, 100000, "i= followed by more attributes" },
        { "!!!!", -1, 0, "not base64: -1" },
        { "cj1h=mMs", -1, 0, "padding in the middle: -1" },
        { "cj1", -1, 0, "length not a multiple of 4: -1" },
        { "", -1, 0, "empty: -1" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned long long it = 12345;
        int rc = sasl_scram_iterations(cases[i].b64, &it);
        tap_ok(rc == cases[i].rc && it == cases[i].it, cases[i].what);
        if (rc != cases[i].rc || it != cases[i].it)
            printf("#   got rc %d, %llu\n", rc, it);
    }
}

static int contains(const char *s, const char *sub)
{
    return s && strstr(s, sub) != NULL;
}

#ifdef HAVE_LIBGSASL

static void choose(const char *conf, const char *mechs, bool tls, bool cb, bool allow,
                   const char *want, enum result_class want_cls, const char *what)
{
    struct result r = RESULT_INIT;
    const char *got = sasl_choose(conf, mechs, tls, cb, allow, &r);
    tap_str(got, want, what);
    tap_int(r.cls, want ? RC_OK : want_cls, what);
    if (!want)
        tap_ok(r.msg && *r.msg, "  ... with a message");
    result_clear(&r);
}

static void test_choose(void)
{
    const char *all = "PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256 SCRAM-SHA-256-PLUS "
                      "SCRAM-SHA-1-PLUS";
    choose("on", NULL, true, true, false, NULL, RC_UNAVAILABLE, "no AUTH -> unavailable");
    choose("on", "  ", true, true, false, NULL, RC_UNAVAILABLE, "empty AUTH -> unavailable");
    choose("plain", NULL, true, false, false, NULL, RC_UNAVAILABLE,
           "forced, no AUTH -> unavailable");
    choose("on", all, true, true, false, "SCRAM-SHA-256-PLUS", 0, "on + binding -> -PLUS");
    choose("on", all, true, false, false, "SCRAM-SHA-256", 0, "on, no binding -> SCRAM-SHA-256");
    choose("on", "SCRAM-SHA-1 SCRAM-SHA-1-PLUS PLAIN", true, true, false, "SCRAM-SHA-1-PLUS", 0,
           "on -> SCRAM-SHA-1-PLUS");
    choose("on", "SCRAM-SHA-256-PLUS", true, false, false, NULL, RC_UNAVAILABLE,
           "only -PLUS offered, no binding -> unavailable");
    choose("on", "plain login", true, false, false, "PLAIN", 0, "lowercase offer, TLS -> PLAIN");
    choose("on", "LOGIN CRAM-MD5", true, false, false, "CRAM-MD5", 0, "CRAM-MD5 before LOGIN");
    choose("on", "LOGIN", true, false, false, "LOGIN", 0, "LOGIN with TLS");
    choose("on", "PLAIN LOGIN CRAM-MD5", false, false, false, "CRAM-MD5", 0,
           "no TLS -> CRAM-MD5, not PLAIN");
    choose("on", "PLAIN LOGIN CRAM-MD5", false, false, true, "CRAM-MD5", 0,
           "no TLS, plaintext allowed -> still the safe one first");
    choose("on", "PLAIN LOGIN", false, false, false, NULL, RC_CONFIG,
           "no TLS, only PLAIN/LOGIN -> config error");
    {
        struct result r = RESULT_INIT;
        (void)sasl_choose("on", "PLAIN LOGIN", false, false, false, &r);
        tap_ok(contains(r.msg, "allow_plaintext_auth"), "  ... naming allow_plaintext_auth");
        result_clear(&r);
    }
    choose("on", "LOGIN PLAIN", false, false, true, "PLAIN", 0,
           "no TLS, allowed -> PLAIN");
    choose("on", "GSSAPI XOAUTH2 FOO", true, false, false, NULL, RC_UNAVAILABLE,
           "on never picks GSSAPI/XOAUTH2");
    choose("on", "XPLAIN PLAINX LOGIN2 SCRAM-SHA-256X", true, true, false, NULL,
           RC_UNAVAILABLE, "no substring matches");
    choose("plain", "PLAIN", false, false, false, NULL, RC_CONFIG,
           "forced PLAIN without TLS -> config error");
    {
        struct result r = RESULT_INIT;
        (void)sasl_choose("login", "LOGIN", false, false, false, &r);
        tap_ok(contains(r.msg, "allow_plaintext_auth") && contains(r.msg, "LOGIN"),
               "  ... names the mechanism and allow_plaintext_auth");
        result_clear(&r);
    }
    choose("plain", "PLAIN", false, false, true, "PLAIN", 0, "forced PLAIN, allowed");
    choose("login", "PLAIN CRAM-MD5", true, false, false, NULL, RC_UNAVAILABLE,
           "forced LOGIN not offered");
    choose("cram-md5", "PLAIN CRAM-MD5", false, false, false, "CRAM-MD5", 0,
           "forced CRAM-MD5 without TLS is fine");
    choose("scram-sha-256-plus", all, true, false, false, NULL, RC_UNAVAILABLE,
           "forced -PLUS without binding");
    choose("scram-sha-256-plus", all, true, true, false, "SCRAM-SHA-256-PLUS", 0,
           "forced -PLUS with binding");
    choose("scram-sha-1", all, true, true, false, "SCRAM-SHA-1", 0, "forced SCRAM-SHA-1");
    choose("xoauth2", "XOAUTH2 PLAIN", true, false, false, "XOAUTH2", 0, "forced XOAUTH2");
    choose("xoauth2", "XOAUTH2", false, false, false, NULL, RC_CONFIG,
           "XOAUTH2 reveals a token: refused without TLS");
    choose("oauthbearer", "OAUTHBEARER", true, false, false, "OAUTHBEARER", 0,
           "forced OAUTHBEARER");
    choose("external", "EXTERNAL PLAIN", true, false, false, "EXTERNAL", 0, "forced EXTERNAL");
    choose("bogus", "PLAIN", true, false, false, NULL, RC_CONFIG, "unknown mechanism");
}

static void test_initial(void)
{
    tap_ok(sasl_has_initial_response("PLAIN"), "PLAIN has an initial response");
    tap_ok(sasl_has_initial_response("EXTERNAL"), "EXTERNAL has an initial response");
    tap_ok(sasl_has_initial_response("SCRAM-SHA-256"), "SCRAM has an initial response");
    tap_ok(sasl_has_initial_response("SCRAM-SHA-1-PLUS"), "SCRAM-PLUS has an initial response");
    tap_ok(sasl_has_initial_response("XOAUTH2"), "XOAUTH2 has an initial response");
    tap_ok(sasl_has_initial_response("OAUTHBEARER"), "OAUTHBEARER has an initial response");
    tap_ok(sasl_has_initial_response("GSSAPI"), "GSSAPI has an initial response");
    tap_ok(!sasl_has_initial_response("LOGIN"), "LOGIN has none");
    tap_ok(!sasl_has_initial_response("CRAM-MD5"), "CRAM-MD5 has none");
    tap_ok(!sasl_has_initial_response("FOO"), "unknown has none");
    tap_ok(!sasl_has_initial_response(NULL), "NULL has none");
    tap_ok(sasl_reveals_password("PLAIN") && sasl_reveals_password("LOGIN")
           && sasl_reveals_password("XOAUTH2") && !sasl_reveals_password("CRAM-MD5")
           && !sasl_reveals_password("SCRAM-SHA-256"), "sasl_reveals_password");
}

static struct sasl_session *start(const char *mech, const char *user, const char *pw)
{
    struct sasl_creds c = { .user = user, .password = pw, .service = "smtp",
                            .hostname = "mx.example.com" };
    struct result r = RESULT_INIT;
    struct sasl_session *s = sasl_start(mech, &c, &r);
    if (!s)
        printf("# sasl_start %s: %s\n", mech, r.msg ? r.msg : "?");
    result_clear(&r);
    return s;
}

/* One step; returns the response (caller frees) and stores the rc. */
static char *step(struct sasl_session *s, const char *in, int *rc, struct result *r)
{
    char *out = NULL;
    *rc = sasl_step(s, in, &out, r);
    return out;
}

static void test_simple(void)
{
    struct result r = RESULT_INIT;
    int rc;
    char *out;

    struct sasl_session *s = start("PLAIN", "user", "pass");
    tap_ok(s != NULL, "PLAIN starts");
    out = step(s, "", &rc, &r);
    tap_int(rc, 0, "PLAIN is done after the initial response");
    tap_str(out, "AHVzZXIAcGFzcw==", "PLAIN initial response bytes");
    secret_free(out);
    out = step(s, "Zm9v", &rc, &r);
    tap_int(rc, -1, "PLAIN: a challenge after completion fails");
    tap_int(r.cls, RC_PROTOCOL, "  ... as a protocol error");
    tap_ok(out == NULL, "  ... with no response");
    result_clear(&r);
    tap_int(sasl_check_success(s, &r), 0, "PLAIN: 235 is fine");
    sasl_finish(s);

    s = start("LOGIN", "user", "pass");
    out = step(s, "VXNlcm5hbWU6", &rc, &r);
    tap_int(rc, 1, "LOGIN: more after the user name");
    tap_str(out, "dXNlcg==", "LOGIN user name");
    secret_free(out);
    out = step(s, "UGFzc3dvcmQ6", &rc, &r);
    tap_int(rc, 0, "LOGIN: done after the password");
    tap_str(out, "cGFzcw==", "LOGIN password");
    secret_free(out);
    sasl_finish(s);

    s = start("CRAM-MD5", "tim", "tanstaaftanstaaf");
    out = step(s, "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+", &rc, &r);
    tap_int(rc, 0, "CRAM-MD5 done in one step");
    tap_str(out, "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw",
            "CRAM-MD5 response (RFC 2195 example)");
    secret_free(out);
    sasl_finish(s);

    s = start("CRAM-MD5", "tim", "x");
    out = step(s, "!!not base64!!", &rc, &r);
    tap_int(rc, -1, "CRAM-MD5: garbage challenge fails");
    tap_int(r.cls, RC_PROTOCOL, "  ... as a protocol error");
    result_clear(&r);
    secret_free(out);
    sasl_finish(s);

    s = start("EXTERNAL", "user", NULL);
    out = step(s, "", &rc, &r);
    tap_int(rc, 0, "EXTERNAL done at once");
    tap_str(out, "", "EXTERNAL: empty initial response");
    secret_free(out);
    sasl_finish(s);

    s = start("XOAUTH2", "u@example.com", "tok");
    out = step(s, "", &rc, &r);
    tap_int(rc, 0, "XOAUTH2 initial response is all");
    tap_str(out, "dXNlcj11QGV4YW1wbGUuY29tAWF1dGg9QmVhcmVyIHRvawEB",
            "XOAUTH2 initial response bytes");
    secret_free(out);
    out = step(s, "eyJzdGF0dXMiOiI0MDEifQ==", &rc, &r);
    tap_int(rc, 0, "XOAUTH2 error challenge answered");
    tap_str(out, "", "  ... with an empty line");
    secret_free(out);
    out = step(s, "eyJzdGF0dXMiOiI0MDEifQ==", &rc, &r);
    tap_int(rc, -1, "XOAUTH2: a second error challenge is a protocol error");
    tap_int(r.cls, RC_PROTOCOL, "  ... RC_PROTOCOL");
    result_clear(&r);
    sasl_finish(s);

    s = start("OAUTHBEARER", "u@example.com", "tok");
    out = step(s, "", &rc, &r);
    tap_str(out, "bixhPXVAZXhhbXBsZS5jb20sAWhvc3Q9bXguZXhhbXBsZS5jb20BYXV0aD1CZWFyZXIgdG9rAQE=",
            "OAUTHBEARER initial response bytes (RFC 7628)");
    secret_free(out);
    out = step(s, "eyJzdGF0dXMiOiI0MDEifQ==", &rc, &r);
    tap_str(out, "AQ==", "OAUTHBEARER error challenge answered with %x01");
    secret_free(out);
    sasl_finish(s);

    struct sasl_creds nouser = { .user = NULL, .password = "tok" };
    tap_ok(sasl_start("XOAUTH2", &nouser, &r) == NULL && r.cls == RC_CONFIG,
           "XOAUTH2 without a user -> config error");
    result_clear(&r);
    tap_ok(sasl_start("NOPE", &nouser, &r) == NULL && r.cls != RC_OK,
           "unknown mechanism cannot start");
    result_clear(&r);
    struct sasl_creds nocb = { .user = "u", .password = "p" };
    tap_ok(sasl_start("SCRAM-SHA-256-PLUS", &nocb, &r) == NULL && r.cls == RC_UNAVAILABLE,
           "-PLUS without binding data cannot start");
    result_clear(&r);
}

/* ---- SCRAM against a GNU SASL server in the same process ---- */

struct srv {
    const char *password;
    const char *cb64;       /* server's view of the binding (base64) */
};

static int srv_callback(Gsasl *ctx, Gsasl_session *gs, Gsasl_property prop)
{
    (void)ctx;
    struct srv *v = gsasl_session_hook_get(gs);
    switch (prop) {
    case GSASL_PASSWORD:
        return gsasl_property_set(gs, prop, v->password);
    case GSASL_CB_TLS_EXPORTER:
    case GSASL_CB_TLS_UNIQUE:
        if (!v->cb64)
            return GSASL_NO_CALLBACK;
        return gsasl_property_set(gs, prop, v->cb64);
    default:
        return GSASL_NO_CALLBACK;
    }
}

/* Run mech between our client and a GNU SASL server. Returns 1 when both
 * sides succeed, 0 when the server refused, -1 when our client refused
 * (client_cls set). tamper flips one byte of the server's last message. */
static int scram_exchange(const char *mech, const char *cpw, const char *spw,
                          const unsigned char *ccb, const char *cbtype, const char *scb64,
                          bool tamper, enum result_class *client_cls, bool *early_235_refused)
{
    Gsasl *ctx;
    Gsasl_session *ss;
    gsasl_init(&ctx);
    gsasl_callback_set(ctx, srv_callback);
    struct srv v = { spw, scb64 };
    if (gsasl_server_start(ctx, mech, &ss) != GSASL_OK) {
        gsasl_done(ctx);
        return -2;
    }
    gsasl_session_hook_set(ss, &v);

    struct sasl_creds c = { .user = "alice", .password = cpw, .service = "smtp",
                            .hostname = "localhost", .cb_data = ccb,
                            .cb_len = ccb ? 32 : 0, .cb_type = cbtype };
    struct result r = RESULT_INIT;
    struct sasl_session *cs = sasl_start(mech, &c, &r);
    int outcome = -1;
    if (!cs) {
        *client_cls = r.cls;
        goto out;
    }
    char *challenge = xstrdup("");
    for (int round = 0; round < 5; round++) {
        char *resp = NULL;
        int crc = sasl_step(cs, challenge, &resp, &r);
        free(challenge);
        challenge = NULL;
        if (crc < 0) {
            *client_cls = r.cls;
            outcome = -1;
            break;
        }
        char *srv_out = NULL;
        int src = gsasl_step64(ss, resp, &srv_out);
        secret_free(resp);
        if (src == GSASL_OK) {
            /* The server would now say 235 (after its final message, if
             * any, went out as a 334 and was answered). */
            if (srv_out && *srv_out) {
                if (early_235_refused) {
                    struct result er = RESULT_INIT;
                    *early_235_refused = sasl_check_success(cs, &er) == -1
                                         && er.cls == RC_PROTOCOL;
                    result_clear(&er);
                }
                if (tamper) {
                    /* Change one character of the signature in
                     * "v=SIGNATURE" to another valid base64 character, so
                     * the message stays well-formed and only the proof is
                     * wrong (a malformed message is a protocol error). */
                    char *plain = NULL, *again = NULL;
                    size_t plen = 0, alen = 0;
                    if (gsasl_base64_from(srv_out, strlen(srv_out), &plain, &plen) == GSASL_OK
                        && plen > 4) {
                        char *ch = &plain[plen / 2];
                        *ch = *ch == 'A' ? 'B' : 'A';
                        if (gsasl_base64_to(plain, plen, &again, &alen) == GSASL_OK) {
                            gsasl_free(srv_out);
                            srv_out = again;
                        }
                    }
                    gsasl_free(plain);
                }
                crc = sasl_step(cs, srv_out, &resp, &r);
                secret_free(resp);
                if (crc != 0) {
                    *client_cls = r.cls;
                    gsasl_free(srv_out);
                    outcome = -1;
                    break;
                }
            }
            gsasl_free(srv_out);
            outcome = sasl_check_success(cs, &r) == 0 ? 1 : -1;
            break;
        }
        if (src != GSASL_NEEDS_MORE) {
            gsasl_free(srv_out);
            outcome = 0;
            break;
        }
        challenge = xstrdup(srv_out ? srv_out : "");
        gsasl_free(srv_out);
    }
    free(challenge);
    sasl_finish(cs);
out:
    result_clear(&r);
    gsasl_finish(ss);
    gsasl_done(ctx);
    return outcome;
}

static void test_scram(void)
{
    enum result_class cls = RC_OK;
    bool early = false;
    unsigned char cb[32], cb2[32];
    for (int i = 0; i < 32; i++) {
        cb[i] = (unsigned char)(i * 7 + 1);
        cb2[i] = (unsigned char)(i * 7 + 2);
    }
    /* base64 of cb, computed by the same encoder GNU SASL uses */
    char *cb64 = NULL, *cb2_64 = NULL;
    size_t l;
    gsasl_base64_to((const char *)cb, 32, &cb64, &l);
    gsasl_base64_to((const char *)cb2, 32, &cb2_64, &l);

    tap_int(scram_exchange("SCRAM-SHA-256", "secret", "secret", NULL, NULL, NULL, false, &cls,
                           &early), 1, "SCRAM-SHA-256 succeeds with the right password");
    tap_ok(early, "  ... and 235 before the server's proof would have been refused");
    tap_int(scram_exchange("SCRAM-SHA-1", "secret", "secret", NULL, NULL, NULL, false, &cls,
                           NULL), 1, "SCRAM-SHA-1 succeeds");
    tap_int(scram_exchange("SCRAM-SHA-256", "wrong", "secret", NULL, NULL, NULL, false, &cls,
                           NULL), 0, "SCRAM-SHA-256: the server refuses a wrong password");
    cls = RC_OK;
    tap_int(scram_exchange("SCRAM-SHA-256", "secret", "secret", NULL, NULL, NULL, true, &cls,
                           NULL), -1, "SCRAM-SHA-256: a forged server signature is refused");
    tap_int(cls, RC_NOPERM, "  ... as an authentication failure");
    tap_int(scram_exchange("SCRAM-SHA-256-PLUS", "secret", "secret", cb, "tls-exporter", cb64,
                           false, &cls, NULL), 1,
            "SCRAM-SHA-256-PLUS with tls-exporter binding succeeds");
    tap_int(scram_exchange("SCRAM-SHA-256-PLUS", "secret", "secret", cb, "tls-unique", cb64,
                           false, &cls, NULL), 1,
            "SCRAM-SHA-256-PLUS with tls-unique binding succeeds");
    tap_int(scram_exchange("SCRAM-SHA-256-PLUS", "secret", "secret", cb, "tls-exporter",
                           cb2_64, false, &cls, NULL), 0,
            "SCRAM-SHA-256-PLUS: different binding data (a man in the middle) fails");
    tap_int(scram_exchange("SCRAM-SHA-1-PLUS", "secret", "secret", cb, "tls-unique", cb64,
                           false, &cls, NULL), 1, "SCRAM-SHA-1-PLUS succeeds");
    gsasl_free(cb64);
    gsasl_free(cb2_64);
}

/* The client-first-message's nonce, then a server-first-message with
 * iteration count it, through sasl_step. Returns sasl_step's result. */
static int scram_with_iterations(unsigned long iters, enum result_class *cls)
{
    struct result r = RESULT_INIT;
    struct sasl_creds creds = { .user = "alice", .password = "secret", .service = "smtp" };
    struct sasl_session *s = sasl_start("SCRAM-SHA-256", &creds, &r);
    char *out = NULL;
    int rc = -2;
    if (s && sasl_step(s, "", &out, &r) == 1) {
        char *cf = NULL;
        size_t cfl = 0;
        gsasl_base64_from(out, strlen(out), &cf, &cfl);    /* not NUL-terminated */
        char first[256] = "";
        if (cf && cfl < sizeof first)
            memcpy(first, cf, cfl);
        const char *nonce = strstr(first, ",r=");
        char msg[512];
        snprintf(msg, sizeof msg, "r=%sSERVER,s=c2FsdHNhbHQ=,i=%lu", nonce ? nonce + 3 : "",
                 iters);
        char *b64 = NULL;
        size_t bl;
        gsasl_base64_to(msg, strlen(msg), &b64, &bl);
        free(out);
        out = NULL;
        rc = sasl_step(s, b64, &out, &r);
        gsasl_free(b64);
        gsasl_free(cf);
    }
    *cls = r.cls;
    free(out);
    result_clear(&r);
    sasl_finish(s);
    return rc;
}

static void test_scram_iteration_cap(void)
{
    enum result_class cls;
    tap_int(scram_with_iterations(4096, &cls), 1, "SCRAM: 4096 iterations are computed");
    tap_int(scram_with_iterations(SASL_SCRAM_MAX_ITERATIONS, &cls), 1,
            "SCRAM: the cap itself is accepted");
    tap_int(scram_with_iterations(SASL_SCRAM_MAX_ITERATIONS + 1, &cls), -1,
            "SCRAM: one iteration more than the cap is refused");
    tap_int(cls, RC_NOPERM, "  ... as an authentication failure (77)");
    tap_int(scram_with_iterations(4000000000UL, &cls), -1,
            "SCRAM: 4 billion iterations refused at once");
}

int main(void)
{
    test_choose();
    test_initial();
    test_simple();
    test_scram();
    test_scram_iteration_cap();
    test_scram_iterations_parse();
    return tap_done();
}

#else /* !HAVE_LIBGSASL */

int main(void)
{
    struct result r = RESULT_INIT;
    tap_ok(sasl_choose("on", "PLAIN", true, false, false, &r) == NULL, "no GNU SASL: refused");
    tap_int(r.cls, RC_UNAVAILABLE, "  ... as unavailable");
    tap_ok(contains(r.msg, "GNU SASL"), "  ... saying why");
    result_clear(&r);
    tap_ok(sasl_has_initial_response("PLAIN"), "initial responses are still known");
    test_scram_iterations_parse();
    return tap_done();
}

#endif
