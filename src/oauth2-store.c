/*
 * oauth2-store.c - where OAuth2 tokens are kept (see oauth2-int.h): the
 * refresh token in the keyring (secret.h: attributes host = the token
 * endpoint's host, service = "oauth2", user) or in a file
 * $XDG_DATA_HOME/smtpfwd/oauth2/KEY, the access token in the cache
 * $XDG_CACHE_HOME/smtpfwd/oauth2/KEY, and the lock KEY.lock beside it
 * that serializes refreshes.
 *
 *   refresh token file: {"refresh_token": "...", "token_endpoint":
 *                        "https://...", "client_id": "...", "stored": N}
 *   cache file:         {"access_token": "...", "expires_at": N}
 *
 * Owns: the paths, the file formats, the checks before a file is read
 * (a regular file, not a symbolic link, owned by the user, mode 0600:
 * anything else is refused, never read), the atomic 0600 writes in 0700
 * directories, the choice between keyring and file (oauth2_token_store).
 *
 * Must not: talk to an endpoint; log a token; leave a token in freed
 * memory.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "i18n.h"
#include "log.h"
#include "oauth2.h"
#include "oauth2-int.h"
#include "result.h"
#include "secret.h"
#include "smtprc.h"
#include "util.h"

#define TOKEN_FILE_MAX (64 * 1024)
#define LOCK_WAIT_MS (120 * 1000)
#define KEYRING_SERVICE "oauth2"

bool oauth2_cache_fresh(long long expires_at, long long now)
{
    return expires_at - now >= OAUTH2_CACHE_MARGIN;
}

/* DIR/smtpfwd/oauth2/KEY of the data (refresh token) or cache
 * directory; NULL when there is no home directory (r set). */
static char *token_path(const struct oauth2_client *cl, bool cache, struct result *r)
{
    char *dir = cache ? util_cache_dir() : util_data_dir();
    if (!dir) {
        result_set(r, RC_CONFIG, _("no home directory for the OAuth2 token files; set %s"),
                   cache ? "XDG_CACHE_HOME" : "XDG_DATA_HOME");
        return NULL;
    }
    char *path = xasprintf("%s/oauth2/%s", dir, cl->key);
    free(dir);
    return path;
}

/* The directory of path, created 0700 when missing; refused when it is
 * not a directory of the user's own that nobody else may write. */
static int make_dir_of(const char *path, struct result *r)
{
    char *dir = xstrdup(path);
    *strrchr(dir, '/') = '\0';
    struct stat st;
    int rc = -1;
    if (util_make_dirs(dir) != 0)
        result_set(r, RC_CANTCREAT, _("cannot create %s: %s"), dir, strerror(errno));
    else if (lstat(dir, &st) != 0)
        result_set(r, RC_CANTCREAT, _("cannot use %s: %s"), dir, strerror(errno));
    else if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022))
        result_set(r, RC_CONFIG, _("%s must be a directory of yours that nobody else may "
                                   "write; run: chmod 700 %s"), dir, dir);
    else
        rc = 0;
    free(dir);
    return rc;
}

/* Read a token file whole, after checking what it is (lstat, then the
 * same file read). Returns 1 with *out (secret: util_file_free wipes
 * it), 0 when it does not exist, -1 with r set (RC_CONFIG). */
static int read_token_file(const char *path, struct file_data *out, struct result *r)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT)
            return 0;
        result_set(r, RC_CONFIG, _("cannot read %s: %s"), path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        result_set(r, RC_CONFIG, _("%s is not a regular file; remove it"), path);
        return -1;
    }
    if (st.st_uid != geteuid()) {
        result_set(r, RC_CONFIG, _("%s belongs to another user (uid %ld); remove it"), path,
                   (long)st.st_uid);
        return -1;
    }
    if ((st.st_mode & 07777) != 0600) {
        result_set(r, RC_CONFIG, _("%s has mode %04o, but a token file must have mode 0600; "
                                   "run: chmod 600 %s"), path, (unsigned)(st.st_mode & 07777),
                   path);
        return -1;
    }
    int rc = util_read_file(path, TOKEN_FILE_MAX, true, out);
    if (rc != 0) {
        char *why = util_read_file_error(path, rc, errno, TOKEN_FILE_MAX);
        result_set(r, RC_CONFIG, "%s", why);
        free(why);
        return -1;
    }
    if (out->st.st_dev != st.st_dev || out->st.st_ino != st.st_ino) {
        util_file_free(out);
        result_set(r, RC_CONFIG, _("%s changed while it was read; try again"), path);
        return -1;
    }
    return 1;
}

/* Write text to path atomically (a 0600 file beside it, fsync'd, renamed
 * over it). */
static int write_token_file(const char *path, const struct buf *text, struct result *r)
{
    if (make_dir_of(path, r) != 0)
        return -1;
    if (util_replace_file(path, text->data, text->len, 0600) != 0) {
        result_set(r, RC_CANTCREAT, _("cannot write %s: %s"), path, strerror(errno));
        return -1;
    }
    return 0;
}

/* A token file's JSON: the string member name (a printable token) and
 * the integer member num_name. Returns 1 with *out (secret_free) and
 * *num, 0 when the file does not exist, -1 with r set. */
static int load_token_file(const char *path, const char *name, const char *num_name,
                           char **out, long long *num, struct result *r)
{
    struct file_data fd = FILE_DATA_INIT;
    *out = NULL;
    int rc = read_token_file(path, &fd, r);
    if (rc <= 0)
        return rc;
    struct json_object *o = fd.data ? oauth2_json_parse(fd.data, fd.len) : NULL;
    util_file_free(&fd);
    rc = -1;
    if (o && oauth2_json_string(o, name, out) > 0 && **out &&
        (!num_name || oauth2_json_uint(o, num_name, num) > 0))
        rc = 1;
    oauth2_json_free(o);
    if (rc < 0) {
        secret_free(*out);
        *out = NULL;
        result_set(r, RC_CONFIG, _("%s is not a valid OAuth2 token file (a JSON object with "
                                   "\"%s\"); remove it"), path, name);
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* the refresh token                                                   */

static const char *store_setting(const struct oauth2_client *cl)
{
    return cl->a->oauth2_token_store ? cl->a->oauth2_token_store : "auto";
}

/* The keyring item's host: the token endpoint's. */
static char *keyring_host(const struct oauth2_client *cl)
{
    return oauth2_url_host(cl->token_endpoint);
}

char *oauth2_refresh_token_load(const struct oauth2_client *cl, enum oauth2_store_kind *kind,
                                struct result *r)
{
    const struct account *a = cl->a;
    char *rt = NULL;
    struct result kr = RESULT_INIT;   /* why the keyring could not be asked */
    if (strcmp(store_setting(cl), "file") != 0) {
        char *host = keyring_host(cl);
        int found = secret_keyring_find(host, KEYRING_SERVICE, a->user, &rt, &kr);
        if (found < 0)
            log_debug(1, "%s", kr.msg);
        else
            result_clear(&kr);
        free(host);
        if (found > 0) {
            log_debug(1, _("oauth2: refresh token of account %s from the keyring"), a->name);
            *kind = OAUTH2_STORE_KEYRING;
            return rt;
        }
    }
    char *path = token_path(cl, false, r);
    if (!path) {
        result_clear(&kr);
        return NULL;
    }
    long long stored = 0;
    int rc = load_token_file(path, "refresh_token", NULL, &rt, &stored, r);
    if (rc == 0 && kr.cls != RC_OK)
        /* Typically cron, a systemd timer or ssh: no desktop session, so
         * no keyring, although --authorize stored the token there. */
        result_set(r, RC_NOPERM,
                   _("no OAuth2 refresh token for account %s (user %s): the keyring cannot be "
                     "reached from this run (%s) and %s does not exist; where runs without "
                     "the desktop session (cron, ssh) send mail, set \"oauth2_token_store "
                     "file\" and run: smtpfwd --authorize %s"),
                   a->name, a->user, kr.msg, path, a->name);
    else if (rc == 0)
        result_set(r, RC_NOPERM, _("no OAuth2 refresh token for account %s (user %s); run: "
                                   "smtpfwd --authorize %s"), a->name, a->user, a->name);
    result_clear(&kr);
    if (rc > 0) {
        log_debug(1, _("oauth2: refresh token of account %s from %s"), a->name, path);
        *kind = OAUTH2_STORE_FILE;
    }
    free(path);
    return rt;
}

static int save_to_file(const struct oauth2_client *cl, const char *rt, char **where,
                        struct result *r)
{
    char *path = token_path(cl, false, r);
    if (!path)
        return -1;
    struct buf b = BUF_INIT;
    buf_puts(&b, "{\"refresh_token\": ");
    oauth2_json_put_string(&b, rt);
    buf_puts(&b, ", \"token_endpoint\": ");
    oauth2_json_put_string(&b, cl->token_endpoint);
    buf_puts(&b, ", \"client_id\": ");
    oauth2_json_put_string(&b, cl->client_id);
    buf_printf(&b, ", \"stored\": %lld}\n", (long long)time(NULL));
    int rc = write_token_file(path, &b, r);
    secure_wipe(b.data, b.cap);
    buf_free(&b);
    if (rc == 0 && where)
        *where = path;
    else
        free(path);
    return rc;
}

int oauth2_refresh_token_save(const struct oauth2_client *cl, const char *rt,
                              enum oauth2_store_kind kind, char **where, struct result *r)
{
    if (where)
        *where = NULL;
    const char *setting = store_setting(cl);
    if (kind == OAUTH2_STORE_PER_SETTING && strcmp(setting, "file") == 0)
        kind = OAUTH2_STORE_FILE;
    if (kind != OAUTH2_STORE_FILE) {
        char *host = keyring_host(cl);
        char *label = xasprintf(_("smtpfwd OAuth2 refresh token for %s at %s"), cl->a->user,
                                host);
        struct result kr = RESULT_INIT;
        int rc = secret_keyring_store(host, KEYRING_SERVICE, cl->a->user, label, rt,
                                      _("cannot store the OAuth2 refresh token in the keyring"),
                                      &kr);
        free(label);
        free(host);
        if (rc == 0) {
            if (where)
                /* TRANSLATORS: completes "... is stored in %s." */
                *where = xstrdup(_("the keyring"));
            result_clear(&kr);
            return 0;
        }
        /* auto: the file when the keyring does not work */
        if (kind == OAUTH2_STORE_KEYRING || strcmp(setting, "keyring") == 0) {
            result_move(r, &kr);
            return -1;
        }
        log_debug(1, "%s", kr.msg);
        result_clear(&kr);
    }
    return save_to_file(cl, rt, where, r);
}

/* ------------------------------------------------------------------ */
/* the access token cache                                              */

char *oauth2_cache_get(const struct oauth2_client *cl, long long now, long long *expires_at,
                       struct result *r)
{
    char *path = token_path(cl, true, r);
    if (!path)
        return NULL;
    char *tok = NULL;
    long long exp = 0;
    struct result fr = RESULT_INIT;
    int rc = load_token_file(path, "access_token", "expires_at", &tok, &exp, &fr);
    if (rc < 0) {
        result_move(r, &fr);
    } else if (rc > 0 && !oauth2_cache_fresh(exp, now)) {
        log_debug(1, _("oauth2: the cached access token of account %s has expired"),
                  cl->a->name);
        secret_free(tok);
        tok = NULL;
    } else if (rc > 0) {
        *expires_at = exp;
    }
    free(path);
    return tok;
}

int oauth2_cache_put(const struct oauth2_client *cl, const char *token, long long expires_at,
                     struct result *r)
{
    char *path = token_path(cl, true, r);
    if (!path)
        return -1;
    struct buf b = BUF_INIT;
    buf_puts(&b, "{\"access_token\": ");
    oauth2_json_put_string(&b, token);
    buf_printf(&b, ", \"expires_at\": %lld}\n", expires_at);
    int rc = write_token_file(path, &b, r);
    secure_wipe(b.data, b.cap);
    buf_free(&b);
    free(path);
    return rc;
}

int oauth2_cache_lock(const struct oauth2_client *cl, struct result *r)
{
    char *path = token_path(cl, true, r);
    if (!path)
        return -1;
    char *lock = xasprintf("%s.lock", path);
    free(path);
    int fd = -1;
    if (make_dir_of(lock, r) == 0) {
        fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
        if (fd < 0)
            result_set(r, RC_CANTCREAT, _("cannot open the lock %s: %s"), lock,
                       strerror(errno));
    }
    long long deadline = clock_now_ms() + LOCK_WAIT_MS;
    while (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if ((errno != EWOULDBLOCK && errno != EINTR) || clock_ms_left(deadline) <= 0) {
            result_set(r, RC_TEMPFAIL, _("cannot take the lock %s: %s"), lock,
                       errno == EWOULDBLOCK ? _("another smtpfwd holds it") : strerror(errno));
            close(fd);
            fd = -1;
            break;
        }
        struct timespec pause = { 0, 50 * 1000 * 1000 };
        nanosleep(&pause, NULL);
    }
    free(lock);
    return fd;
}

void oauth2_cache_unlock(int fd)
{
    if (fd >= 0)
        close(fd);   /* releases the flock */
}
