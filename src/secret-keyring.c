/*
 * secret-keyring.c - the Secret Service keyring as a password source,
 * and --store-password / --forget-password (see secret.h, secret-int.h).
 *
 * Owns: every libsecret/GLib call of the program, with msmtp's schema
 * (attributes host, service=smtp, user), so a password stored for msmtp
 * or with secret-tool is found; the same schema with other services
 * (service=oauth2: OAuth2 refresh tokens) through secret_keyring_find /
 * _store / _clear. libsecret (and with it GLib, GIO,
 * GObject) is not linked into the program: it is loaded with dlopen()
 * the first time the keyring is reached, so that runs that never need it
 * do not pay for loading it. Without libsecret at build time the lookup
 * finds nothing and the store/forget operations say so.
 * Must not: touch libsecret unless a lookup or --store-password /
 * --forget-password reaches the keyring; log a password; fail a lookup
 * because the keyring is missing (that only skips the source).
 */
#include <config.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#if HAVE_LIBSECRET
# include <libsecret/secret.h>
#endif

#include "smtprc.h"
#include "dl.h"
#include "i18n.h"
#include "log.h"
#include "secret.h"
#include "secret-int.h"
#include "util.h"

#if HAVE_LIBSECRET

/* msmtp's schema: the same name and attributes, so that passwords stored
 * by msmtp or by `secret-tool store ... host H service smtp user U` are
 * found; DONT_MATCH_NAME so that items without xdg:schema match too. */
static const SecretSchema *keyring_schema(void)
{
    static const SecretSchema schema = {
        "de.marlam.msmtp.password", SECRET_SCHEMA_DONT_MATCH_NAME,
        {
            { "host", SECRET_SCHEMA_ATTRIBUTE_STRING },
            { "service", SECRET_SCHEMA_ATTRIBUTE_STRING },
            { "user", SECRET_SCHEMA_ATTRIBUTE_STRING },
            { NULL, 0 },
        },
        0, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    };
    return &schema;
}

/* The few libsecret/GLib functions used, looked up with dlsym() in
 * LIBSECRET_SONAME, found by configure (GLib's g_error_free comes in
 * with it). */
struct keyring_lib {
    gchar *(*lookup_sync)(const SecretSchema *, GCancellable *, GError **, ...);
    gboolean (*store_sync)(const SecretSchema *, const gchar *, const gchar *, const gchar *,
                           GCancellable *, GError **, ...);
    gboolean (*clear_sync)(const SecretSchema *, GCancellable *, GError **, ...);
    void (*password_free)(gchar *);
    void (*error_free)(GError *);
};

/* Loads libsecret on first use (dl_load). Returns NULL with r set
 * (RC_UNAVAILABLE, "PURPOSE: cannot load the libsecret library ...")
 * when it cannot be loaded; a later call tries again. The library stays
 * loaded until the process exits: no dlclose(), GLib keeps threads and
 * type registrations that must not be unmapped under them. */
static const struct keyring_lib *keyring_load(const char *purpose, struct result *r)
{
    static struct keyring_lib lib;
    static bool loaded;
    if (loaded)
        return &lib;
    const struct dl_lib l = { LIBSECRET_SONAME, "libsecret", purpose, RC_UNAVAILABLE };
    struct keyring_lib t = { NULL, NULL, NULL, NULL, NULL };
    const struct dl_sym syms[] = {
        { "secret_password_lookup_sync", (void **)&t.lookup_sync },
        { "secret_password_store_sync", (void **)&t.store_sync },
        { "secret_password_clear_sync", (void **)&t.clear_sync },
        { "secret_password_free", (void **)&t.password_free },
        { "g_error_free", (void **)&t.error_free },
    };
    if (!dl_load(&l, syms, sizeof syms / sizeof syms[0], r))
        return NULL;
    lib = t;
    loaded = true;
    return &lib;
}

/* The Secret Service connection libsecret opens stays until the process
 * exits: secret_service_disconnect() makes GIO drop objects that are still
 * in use by its D-Bus worker (reported as leaks by LeakSanitizer), while
 * keeping the connection leaves them reachable. smtpfwd is short-lived. */
int secret_keyring_find(const char *host, const char *service, const char *user, char **out,
                        struct result *r)
{
    *out = NULL;
    char *purpose = xasprintf(_("no keyring lookup for %s at %s"), user, host);
    const struct keyring_lib *lib = keyring_load(purpose, r);
    if (!lib) {
        free(purpose);
        return -1;
    }
    GError *err = NULL;
    gchar *pw = lib->lookup_sync(keyring_schema(), NULL, &err, "host", host, "service", service,
                                 "user", user, (char *)NULL);
    int rc = 0;
    if (err) {
        result_set(r, RC_UNAVAILABLE, "%s: %s", purpose, err->message);
        lib->error_free(err);
        rc = -1;
    } else if (pw) {
        *out = xstrdup(pw);
        rc = 1;
    }
    if (pw)
        lib->password_free(pw);   /* libsecret wipes it */
    free(purpose);
    return rc;
}

int secret_keyring_store(const char *host, const char *service, const char *user,
                         const char *label, const char *secret, const char *purpose,
                         struct result *r)
{
    const struct keyring_lib *lib = keyring_load(purpose, r);
    if (!lib)
        return -1;
    GError *err = NULL;
    /* Storing replaces only an item of this schema; one stored by
     * secret-tool (another schema) would stay beside it, and a lookup,
     * which matches both, could return the old secret. The item is the
     * attributes' only one afterwards. */
    (void)lib->clear_sync(keyring_schema(), NULL, &err, "host", host, "service", service, "user",
                          user, (char *)NULL);
    if (err) {
        lib->error_free(err);
        err = NULL;
    }
    gboolean ok = lib->store_sync(keyring_schema(), SECRET_COLLECTION_DEFAULT, label, secret, NULL,
                                  &err, "host", host, "service", service, "user", user,
                                  (char *)NULL);
    int rc = 0;
    if (!ok || err) {
        result_set(r, RC_UNAVAILABLE, "%s: %s", purpose, err ? err->message : _("unknown error"));
        rc = -1;
    }
    if (err)
        lib->error_free(err);
    return rc;
}

int secret_keyring_clear(const char *host, const char *service, const char *user,
                         const char *purpose, struct result *r)
{
    const struct keyring_lib *lib = keyring_load(purpose, r);
    if (!lib)
        return -1;
    GError *err = NULL;
    gboolean removed = lib->clear_sync(keyring_schema(), NULL, &err, "host", host, "service",
                                       service, "user", user, (char *)NULL);
    if (err) {
        result_set(r, RC_UNAVAILABLE, "%s: %s", purpose, err->message);
        lib->error_free(err);
        return -1;
    }
    return removed ? 1 : 0;
}

/* When libsecret cannot be loaded or there is no Secret Service, the
 * keyring is skipped, as when there is no D-Bus session. */
char *secret_keyring_lookup(const struct account *a)
{
    struct result lr = RESULT_INIT;
    char *pw;
    int found = secret_keyring_find(a->host, "smtp", a->user, &pw, &lr);
    if (found < 0)
        log_debug(1, "%s", lr.msg);
    else if (found)
        log_debug(1, _("using the password for %s at %s from the keyring"), a->user, a->host);
    else
        log_debug(1, _("no password for %s at %s in the keyring"), a->user, a->host);
    result_clear(&lr);
    return pw;
}

/* Storing or removing the password of a->user at a->host needs both:
 * RC_CONFIG when one is missing (the keyring entry is looked up by
 * both). */
static int keyring_account_check(const struct account *a, struct result *r)
{
    if (!a->host) {
        result_set(r, RC_CONFIG, _("account %s has no host: the keyring entry needs one"),
                   secret_or_none(a->name));
        return -1;
    }
    if (!a->user) {
        result_set(r, RC_CONFIG, _("account %s has no user: the keyring entry needs one"),
                   secret_or_none(a->name));
        return -1;
    }
    return 0;
}

int secret_store_password(const struct account *a, struct result *r)
{
    const char *purpose = _("cannot store the password in the keyring");
    if (keyring_account_check(a, r) != 0 || !keyring_load(purpose, r))
        return -1;
    char *pw = secret_prompt_new_password(a, r);
    if (!pw)
        return -1;
    char *label = xasprintf(_("smtpfwd password for %s at %s"), a->user, a->host);
    int rc = secret_keyring_store(a->host, "smtp", a->user, label, pw, purpose, r);
    secret_free(pw);
    free(label);
    return rc;
}

int secret_forget_password(const struct account *a, struct result *r)
{
    if (keyring_account_check(a, r) != 0)
        return -1;
    int rc = secret_keyring_clear(a->host, "smtp", a->user,
                                  _("cannot remove the password from the keyring"), r);
    if (rc == 0)
        log_warning(_("the keyring holds no password for %s at %s"), a->user, a->host);
    return rc < 0 ? -1 : 0;
}

#else /* !HAVE_LIBSECRET */

int secret_keyring_find(const char *host, const char *service, const char *user, char **out,
                        struct result *r)
{
    (void)service;
    *out = NULL;
    result_set(r, RC_UNAVAILABLE, _("no keyring lookup for %s at %s: this smtpfwd was built "
                                    "without keyring support"), user, host);
    return -1;
}

int secret_keyring_store(const char *host, const char *service, const char *user,
                         const char *label, const char *secret, const char *purpose,
                         struct result *r)
{
    (void)host, (void)service, (void)user, (void)label, (void)secret;
    result_set(r, RC_UNAVAILABLE, _("%s: this smtpfwd was built without keyring support"),
               purpose);
    return -1;
}

int secret_keyring_clear(const char *host, const char *service, const char *user,
                         const char *purpose, struct result *r)
{
    (void)host, (void)service, (void)user;
    result_set(r, RC_UNAVAILABLE, _("%s: this smtpfwd was built without keyring support"),
               purpose);
    return -1;
}

char *secret_keyring_lookup(const struct account *a)
{
    (void)a;
    return NULL;
}

int secret_store_password(const struct account *a, struct result *r)
{
    (void)a;
    result_set(r, RC_UNAVAILABLE, _("this smtpfwd was built without keyring support"));
    return -1;
}

int secret_forget_password(const struct account *a, struct result *r)
{
    (void)a;
    result_set(r, RC_UNAVAILABLE, _("this smtpfwd was built without keyring support"));
    return -1;
}

#endif
