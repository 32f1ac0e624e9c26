/*
 * sasl.c - SMTP authentication (see sasl.h): the mechanism table, the
 * choice of a mechanism, and client sessions. GNU SASL does the
 * mechanisms it has (PLAIN, LOGIN, CRAM-MD5, DIGEST-MD5, SCRAM-*(-PLUS),
 * EXTERNAL, GSSAPI, NTLM); XOAUTH2 and OAUTHBEARER (which GNU SASL does
 * not provide) are built here: they are one initial response each.
 *
 * Owns: the one GNU SASL context (created on first use, released at
 * exit), the property callback that hands GNU SASL the user, password,
 * service, host name, realm and channel binding data of the session
 * asking, and the wiping of every buffer that held a credential.
 *
 * Must not: log anything (smtp.c writes the masked transcript), keep a
 * copy of a password beyond sasl_finish(), or speak SMTP.
 */
#include <config.h>

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_LIBGSASL
# include "gsasl-dl.h"    /* GNU SASL is loaded on first use, see sasl_context */
#endif

#include "i18n.h"
#include "sasl.h"
#include "util.h"

/* Everything smtpfwd knows about a mechanism, in one place: the
 * configuration check (sasl_auth_values), the choice for "auth on"
 * (auto_rank), the SMTP client (initial response, pipelining) and the
 * delivery (whether a password is needed) all read this table. */
struct sasl_mech {
    const char *name;       /* as on the wire and in the AUTH capability */
    const char *value;      /* the `auth` value that forces it */
    bool initial;           /* may send an initial response on the AUTH line */
    bool pipelinable;       /* one step, all in the initial response: AUTH may lead
                               the first message's pipelined group */
    bool needs_password;    /* needs a password (or a token given as one) */
    bool reveals;           /* sends the password or a bearer token readably: only
                               under TLS unless allow_plaintext_auth */
    bool needs_cb;          /* -PLUS: needs channel binding data */
    bool mutual;            /* the server proves itself before 235 (GNU SASL checks) */
    bool builtin;           /* implemented here, not by GNU SASL */
    int auto_rank;          /* "auth on": 1 = strongest candidate; 0 = never chosen */
};

enum sasl_mech_id {
    SASL_PLAIN, SASL_LOGIN, SASL_CRAM_MD5, SASL_SCRAM_SHA_1, SASL_SCRAM_SHA_1_PLUS,
    SASL_SCRAM_SHA_256, SASL_SCRAM_SHA_256_PLUS, SASL_EXTERNAL, SASL_GSSAPI,
    SASL_OAUTHBEARER, SASL_XOAUTH2, SASL_NTLM, SASL_DIGEST_MD5,
    SASL_NMECHS
};

/* In the order `auth` lists them (smtprc.5); the "auth on" order is
 * auto_rank (sasl.h). */
static const struct sasl_mech sasl_mechs[SASL_NMECHS] = {
    [SASL_PLAIN] = { .name = "PLAIN", .value = "plain", .initial = true,
                     .pipelinable = true, .needs_password = true, .reveals = true,
                     .auto_rank = 5 },
    [SASL_LOGIN] = { .name = "LOGIN", .value = "login", .needs_password = true,
                     .reveals = true, .auto_rank = 7 },
    [SASL_CRAM_MD5] = { .name = "CRAM-MD5", .value = "cram-md5", .needs_password = true,
                        .auto_rank = 6 },
    [SASL_SCRAM_SHA_1] = { .name = "SCRAM-SHA-1", .value = "scram-sha-1", .initial = true,
                           .needs_password = true, .mutual = true, .auto_rank = 4 },
    [SASL_SCRAM_SHA_1_PLUS] = { .name = "SCRAM-SHA-1-PLUS", .value = "scram-sha-1-plus",
                                .initial = true, .needs_password = true, .needs_cb = true,
                                .mutual = true, .auto_rank = 2 },
    [SASL_SCRAM_SHA_256] = { .name = "SCRAM-SHA-256", .value = "scram-sha-256",
                             .initial = true, .needs_password = true, .mutual = true,
                             .auto_rank = 3 },
    [SASL_SCRAM_SHA_256_PLUS] = { .name = "SCRAM-SHA-256-PLUS", .value = "scram-sha-256-plus",
                                  .initial = true, .needs_password = true, .needs_cb = true,
                                  .mutual = true, .auto_rank = 1 },
    [SASL_EXTERNAL] = { .name = "EXTERNAL", .value = "external", .initial = true,
                        .pipelinable = true },
    [SASL_GSSAPI] = { .name = "GSSAPI", .value = "gssapi", .initial = true, .mutual = true },
    [SASL_OAUTHBEARER] = { .name = "OAUTHBEARER", .value = "oauthbearer", .initial = true,
                           .needs_password = true, .reveals = true, .builtin = true },
    [SASL_XOAUTH2] = { .name = "XOAUTH2", .value = "xoauth2", .initial = true,
                       .needs_password = true, .reveals = true, .builtin = true },
    [SASL_NTLM] = { .name = "NTLM", .value = "ntlm", .needs_password = true },
    [SASL_DIGEST_MD5] = { .name = "DIGEST-MD5", .value = "digest-md5",
                          .needs_password = true },
};
#define SASL_MAX_RANK 7

static const struct sasl_mech *sasl_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < SASL_NMECHS; i++)
        if (ascii_strcasecmp(sasl_mechs[i].name, name) == 0)
            return &sasl_mechs[i];
    return NULL;
}

/* The bool member at offset off of mech's row (any case); false for an
 * unknown mechanism or NULL. */
static bool sasl_flag(const char *mech, size_t off)
{
    const struct sasl_mech *m = sasl_find(mech);
    return m && *(const bool *)((const char *)m + off);
}

bool sasl_has_initial_response(const char *mech)
{
    return sasl_flag(mech, offsetof(struct sasl_mech, initial));
}

bool sasl_reveals_password(const char *mech)
{
    return sasl_flag(mech, offsetof(struct sasl_mech, reveals));
}

bool sasl_pipelinable(const char *mech)
{
    return sasl_flag(mech, offsetof(struct sasl_mech, pipelinable));
}

bool sasl_needs_channel_binding(const char *mech)
{
    return sasl_flag(mech, offsetof(struct sasl_mech, needs_cb));
}

bool sasl_needs_password(const char *auth)
{
    const struct sasl_mech *m = sasl_find(auth);
    return !m || m->needs_password;
}

const char *const *sasl_auth_values(void)
{
    static const char *values[SASL_NMECHS + 3];
    if (!values[0]) {
        size_t n = 0;
        values[n++] = "on";
        values[n++] = "off";
        for (size_t i = 0; i < SASL_NMECHS; i++)
            values[n++] = sasl_mechs[i].value;
        values[n] = NULL;
    }
    return values;
}

/* True if the space-separated list offers mech (any case). */
static bool sasl_offered(const char *list, const char *mech)
{
    size_t ml = strlen(mech);
    const char *p = list;
    while (p && *p) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *w = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if ((size_t)(p - w) == ml && ascii_strncasecmp(w, mech, ml) == 0)
            return true;
    }
    return false;
}

static bool sasl_list_empty(const char *list)
{
    if (!list)
        return true;
    for (; *list; list++)
        if (*list != ' ' && *list != '\t')
            return false;
    return true;
}

int sasl_scram_iterations(const char *challenge, unsigned long long *iterations)
{
    *iterations = 0;
    size_t n = challenge ? strlen(challenge) : 0;
    if (n == 0 || n % 4 != 0)
        return -1;
    size_t len = 0;
    char *msg = base64_decode(challenge, &len);
    int rc = msg ? 0 : -1;
    /* attr-val pairs separated by ','; "i=" is the iteration count. */
    for (size_t i = 0; rc == 0 && i < len;) {
        size_t e = i;
        while (e < len && msg[e] != ',')
            e++;
        if (e - i > 2 && msg[i] == 'i' && msg[i + 1] == '=') {
            unsigned long long it = 0;
            size_t k = i + 2;
            for (; k < e && msg[k] >= '0' && msg[k] <= '9'; k++) {
                if (it > (~0ULL - 9) / 10) {
                    it = ~0ULL;          /* saturate: absurd either way */
                    continue;
                }
                it = it * 10 + (unsigned)(msg[k] - '0');
            }
            if (k == e) {
                *iterations = it;
                rc = 1;
            }
            break;
        }
        i = e + 1;
    }
    secure_wipe(msg, len);
    free(msg);
    return rc;
}

#ifdef HAVE_LIBGSASL

struct sasl_session {
    const struct sasl_mech *mech;
    struct sasl_creds creds;    /* pointers not owned */
    char *cb64;                 /* base64 channel binding data, or NULL */
    Gsasl_session *gs;          /* NULL for the built-in mechanisms */
    int steps;                  /* calls of sasl_step so far */
    bool done;                  /* the client has said everything */
    bool error_answered;        /* built-in: the error challenge was answered */
};

static Gsasl *sasl_ctx;

static void sasl_ctx_done(void)
{
    if (sasl_ctx)
        gsasl_done(sasl_ctx);
    sasl_ctx = NULL;
}

static int sasl_callback(Gsasl *ctx, Gsasl_session *gs, Gsasl_property prop);

/* The library context, created once. NULL with r set on failure. */
static Gsasl *sasl_context(struct result *r)
{
    if (sasl_ctx)
        return sasl_ctx;
    if (gsasl_dl_load(r) != 0)
        return NULL;
    int rc = gsasl_init(&sasl_ctx);
    if (rc != GSASL_OK) {
        sasl_ctx = NULL;
        result_set(r, RC_SOFTWARE, _("cannot initialize GNU SASL: %s"), gsasl_strerror(rc));
        return NULL;
    }
    gsasl_callback_set(sasl_ctx, sasl_callback);
    atexit(sasl_ctx_done);
    return sasl_ctx;
}

/* Whether this build can run the mechanism as a client. */
static bool sasl_supported(Gsasl *ctx, const struct sasl_mech *m)
{
    return m->builtin || gsasl_client_support_p(ctx, m->name);
}

static int sasl_callback(Gsasl *ctx, Gsasl_session *gs, Gsasl_property prop)
{
    (void)ctx;
    struct sasl_session *s = gsasl_session_hook_get(gs);
    const char *v = NULL;
    if (!s)
        return GSASL_NO_CALLBACK;
    switch (prop) {
    case GSASL_AUTHID:
        v = s->creds.user;
        break;
    case GSASL_PASSWORD:
        v = s->creds.password;
        break;
    case GSASL_AUTHZID:
        v = s->creds.authzid;
        break;
    case GSASL_SERVICE:
        v = s->creds.service ? s->creds.service : "smtp";
        break;
    case GSASL_HOSTNAME:
        v = s->creds.hostname;
        break;
    case GSASL_REALM:
        v = s->creds.realm;
        break;
    case GSASL_CB_TLS_UNIQUE:
        if (s->cb64 && s->creds.cb_type && strcmp(s->creds.cb_type, "tls-unique") == 0)
            v = s->cb64;
        break;
    case GSASL_CB_TLS_EXPORTER:
        if (s->cb64 && s->creds.cb_type && strcmp(s->creds.cb_type, "tls-exporter") == 0)
            v = s->cb64;
        break;
    default:
        /* SAML/OpenID browser flows, QOP choices, ...: not ours. */
        break;
    }
    if (!v)
        return GSASL_NO_CALLBACK;
    return gsasl_property_set(gs, prop, v);
}

/* The "auth on" candidate of a rank (1 = strongest). */
static const struct sasl_mech *sasl_ranked(int rank)
{
    for (size_t i = 0; i < SASL_NMECHS; i++)
        if (sasl_mechs[i].auto_rank == rank)
            return &sasl_mechs[i];
    return NULL;
}

const char *sasl_choose(const char *configured, const char *server_mechs, bool tls,
                        bool have_channel_binding, bool allow_plaintext_auth,
                        struct result *r)
{
    if (sasl_list_empty(server_mechs)) {
        result_set(r, RC_UNAVAILABLE, _("the server does not offer authentication"));
        return NULL;
    }
    /* GNU SASL is loaded only when a mechanism of its own may be used:
     * "auth on" (every candidate is one), or a configured one that is
     * not built in here. */
    Gsasl *ctx = NULL;
    if (!configured || ascii_strcasecmp(configured, "on") == 0) {
        ctx = sasl_context(r);
        if (!ctx)
            return NULL;
        /* First pass: what keeps the password secret on this connection;
         * second pass (no TLS, explicitly allowed): PLAIN and LOGIN. */
        bool blocked = false;
        for (int pass = 0; pass < 2; pass++) {
            for (int rank = 1; rank <= SASL_MAX_RANK; rank++) {
                const struct sasl_mech *m = sasl_ranked(rank);
                if (!sasl_offered(server_mechs, m->name) || !sasl_supported(ctx, m))
                    continue;
                if (m->needs_cb && !have_channel_binding)
                    continue;
                if (m->reveals && !tls && pass == 0) {
                    blocked = true;
                    continue;
                }
                if (pass == 1 && !m->reveals)
                    continue;
                return m->name;
            }
            if (tls || !allow_plaintext_auth)
                break;
        }
        if (blocked) {
            result_set(r, RC_CONFIG,
                       _("the server offers only authentication mechanisms that send the "
                         "password in clear text (%s), and the connection is not encrypted; "
                         "use TLS, or set \"allow_plaintext_auth on\" for the account"),
                       server_mechs);
            return NULL;
        }
        result_set(r, RC_UNAVAILABLE,
                   _("none of the server's authentication mechanisms (%s) is supported; "
                     "choose one with \"auth METHOD\""), server_mechs);
        return NULL;
    }

    const struct sasl_mech *m = sasl_find(configured);
    if (!m) {
        result_set(r, RC_CONFIG, _("unknown authentication mechanism \"%s\""), configured);
        return NULL;
    }
    if (m->reveals && !tls && !allow_plaintext_auth) {
        result_set(r, RC_CONFIG,
                   _("refusing to use the %s mechanism without TLS: it reveals the password; "
                     "use TLS, or set \"allow_plaintext_auth on\" for the account"), m->name);
        return NULL;
    }
    if (!m->builtin && !(ctx = sasl_context(r)))
        return NULL;
    if (!sasl_supported(ctx, m)) {
        result_set(r, RC_UNAVAILABLE,
                   _("the authentication mechanism %s is not supported by this build of "
                     "GNU SASL"), m->name);
        return NULL;
    }
    if (m->needs_cb && !have_channel_binding) {
        result_set(r, RC_UNAVAILABLE,
                   _("the authentication mechanism %s needs TLS channel binding, which this "
                     "connection does not provide"), m->name);
        return NULL;
    }
    if (!sasl_offered(server_mechs, m->name)) {
        result_set(r, RC_UNAVAILABLE,
                   _("the server does not offer the authentication mechanism %s (it offers: "
                     "%s)"), m->name, server_mechs);
        return NULL;
    }
    return m->name;
}

struct sasl_session *sasl_start(const char *mech, const struct sasl_creds *creds,
                                struct result *r)
{
    const struct sasl_mech *m = sasl_find(mech);
    if (!m) {
        result_set(r, RC_UNAVAILABLE, _("unknown authentication mechanism \"%s\""),
                   mech ? mech : "");
        return NULL;
    }
    struct sasl_session *s = xcalloc(1, sizeof *s);
    s->mech = m;
    s->creds = *creds;
    if (m->needs_cb) {
        if (!creds->cb_data || !creds->cb_len || !creds->cb_type) {
            result_set(r, RC_UNAVAILABLE,
                       _("the authentication mechanism %s needs TLS channel binding, which "
                         "this connection does not provide"), m->name);
            free(s);
            return NULL;
        }
        s->cb64 = base64_encode(creds->cb_data, creds->cb_len);
    }
    if (m->builtin) {
        if (!creds->user || !creds->password) {
            result_set(r, RC_CONFIG, _("AUTH %s needs a user and a token (the password)"),
                       m->name);
            sasl_finish(s);
            return NULL;
        }
        return s;
    }
    Gsasl *ctx = sasl_context(r);    /* loads GNU SASL: not for the built-in ones */
    if (!ctx) {
        sasl_finish(s);
        return NULL;
    }
    int rc = gsasl_client_start(ctx, m->name, &s->gs);
    if (rc != GSASL_OK) {
        s->gs = NULL;
        result_set(r, RC_UNAVAILABLE, _("cannot start AUTH %s: %s"), m->name,
                   gsasl_strerror(rc));
        sasl_finish(s);
        return NULL;
    }
    gsasl_session_hook_set(s->gs, s);
    return s;
}

/* The initial response of the built-in bearer-token mechanisms. */
static char *sasl_bearer_response(const struct sasl_session *s)
{
    struct buf b = BUF_INIT;
    if (strcmp(s->mech->name, "XOAUTH2") == 0) {
        buf_printf(&b, "user=%s\001auth=Bearer %s\001\001", s->creds.user,
                   s->creds.password);
    } else {
        /* RFC 7628: gs2-header (no channel binding, authzid = user), then
         * the key/value pairs. */
        buf_printf(&b, "n,a=%s,\001", s->creds.user);
        if (s->creds.hostname)
            buf_printf(&b, "host=%s\001", s->creds.hostname);
        buf_printf(&b, "auth=Bearer %s\001\001", s->creds.password);
    }
    char *out = base64_encode(b.data, b.len);
    secure_wipe(b.data, b.cap);
    buf_free(&b);
    return out;
}

static int sasl_step_builtin(struct sasl_session *s, const char *in, char **out,
                             struct result *r)
{
    if (s->steps == 0 && (!in || !*in)) {
        *out = sasl_bearer_response(s);
        s->done = true;
        return 0;
    }
    if (s->steps > 0 && !s->error_answered) {
        /* The server's 334 carries an error report (JSON); the client
         * answers with an empty response (XOAUTH2) or %x01 (RFC 7628
         * 3.2.3) and the server then sends its 5xx. */
        *out = xstrdup(strcmp(s->mech->name, "XOAUTH2") == 0 ? "" : "AQ==");
        s->error_answered = true;
        return 0;
    }
    result_set(r, RC_PROTOCOL, _("the server sent an unexpected challenge during AUTH %s"),
               s->mech->name);
    return -1;
}

int sasl_step(struct sasl_session *s, const char *in, char **out, struct result *r)
{
    *out = NULL;
    if (!s) {
        result_set(r, RC_SOFTWARE, _("internal error: no SASL session"));
        return -1;
    }
    if (s->mech->builtin) {
        int rc = sasl_step_builtin(s, in, out, r);
        s->steps++;
        return rc;
    }
    if (s->done) {
        result_set(r, RC_PROTOCOL,
                   _("the server sent another challenge after AUTH %s was complete"),
                   s->mech->name);
        return -1;
    }
    unsigned long long iterations;
    if (strncmp(s->mech->name, "SCRAM-", 6) == 0 && in && *in
        && sasl_scram_iterations(in, &iterations) == 1
        && iterations > SASL_SCRAM_MAX_ITERATIONS) {
        /* Checked before GNU SASL computes anything: the count sets how
         * long the client hashes the password, and the server chooses it. */
        result_set(r, RC_NOPERM,
                   _("AUTH %s refused: the server asks for %llu iterations of the password "
                     "hash, more than the %d this program accepts (a server may do that to "
                     "make its clients burn CPU time)"),
                   s->mech->name, iterations, SASL_SCRAM_MAX_ITERATIONS);
        return -1;
    }
    char *o = NULL;
    int rc = gsasl_step64(s->gs, in ? in : "", &o);
    s->steps++;
    if (rc == GSASL_OK || rc == GSASL_NEEDS_MORE) {
        *out = xstrdup(o ? o : "");
        if (o) {
            secure_wipe(o, strlen(o));
            gsasl_free(o);
        }
        if (rc == GSASL_OK)
            s->done = true;
        return rc == GSASL_OK ? 0 : 1;
    }
    if (o) {
        secure_wipe(o, strlen(o));
        gsasl_free(o);
    }
    switch (rc) {
    case GSASL_AUTHENTICATION_ERROR:
        result_set(r, RC_NOPERM,
                   _("AUTH %s failed: the server could not prove that it knows the password "
                     "(%s)"), s->mech->name, gsasl_strerror(rc));
        break;
    case GSASL_NO_AUTHID:
    case GSASL_NO_PASSWORD:
    case GSASL_NO_AUTHZID:
    case GSASL_NO_HOSTNAME:
    case GSASL_NO_SERVICE:
        result_set(r, RC_CONFIG, _("AUTH %s cannot proceed: %s"), s->mech->name,
                   gsasl_strerror(rc));
        break;
    case GSASL_NO_CB_TLS_UNIQUE:
    case GSASL_NO_CB_TLS_EXPORTER:
        result_set(r, RC_UNAVAILABLE, _("AUTH %s cannot proceed: %s"), s->mech->name,
                   gsasl_strerror(rc));
        break;
    case GSASL_GSSAPI_INIT_SEC_CONTEXT_ERROR:
    case GSASL_GSSAPI_IMPORT_NAME_ERROR:
    case GSASL_GSSAPI_ACQUIRE_CRED_ERROR:
        result_set(r, RC_NOPERM, _("AUTH %s failed: %s"), s->mech->name, gsasl_strerror(rc));
        break;
    default:
        result_set(r, RC_PROTOCOL, _("the server sent an invalid AUTH %s challenge: %s"),
                   s->mech->name, gsasl_strerror(rc));
        break;
    }
    return -1;
}

int sasl_check_success(const struct sasl_session *s, struct result *r)
{
    if (!s || s->done || s->mech->builtin)
        return 0;
    if (s->mech->mutual) {
        result_set(r, RC_PROTOCOL,
                   _("the server accepted AUTH %s before proving that it knows the "
                     "password"), s->mech->name);
        return -1;
    }
    return 0;
}

void sasl_finish(struct sasl_session *s)
{
    if (!s)
        return;
    if (s->gs)
        gsasl_finish(s->gs);
    secret_free(s->cb64);
    secure_wipe(s, sizeof *s);
    free(s);
}

#else /* !HAVE_LIBGSASL */

struct sasl_session {
    int unused;
};

const char *sasl_choose(const char *configured, const char *server_mechs, bool tls,
                        bool have_channel_binding, bool allow_plaintext_auth,
                        struct result *r)
{
    (void)configured;
    (void)server_mechs;
    (void)tls;
    (void)have_channel_binding;
    (void)allow_plaintext_auth;
    (void)sasl_offered;
    (void)sasl_list_empty;
    result_set(r, RC_UNAVAILABLE,
               _("authentication is not available: smtpfwd was built without GNU SASL; "
                 "set \"auth off\" or rebuild with libgsasl"));
    return NULL;
}

struct sasl_session *sasl_start(const char *mech, const struct sasl_creds *creds,
                                struct result *r)
{
    (void)mech;
    (void)creds;
    result_set(r, RC_UNAVAILABLE,
               _("authentication is not available: smtpfwd was built without GNU SASL"));
    return NULL;
}

int sasl_step(struct sasl_session *s, const char *in, char **out, struct result *r)
{
    (void)s;
    (void)in;
    *out = NULL;
    result_set(r, RC_UNAVAILABLE,
               _("authentication is not available: smtpfwd was built without GNU SASL"));
    return -1;
}

int sasl_check_success(const struct sasl_session *s, struct result *r)
{
    (void)s;
    (void)r;
    return 0;
}

void sasl_finish(struct sasl_session *s)
{
    free(s);
}

#endif /* HAVE_LIBGSASL */
