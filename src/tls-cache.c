/*
 * tls-cache.c - TLS sessions kept across runs (see tls-cache.h).
 *
 * Owns: the cache key and file name, the file format (a magic line, then
 * GnuTLS' session data), the checks on a kept file before it is offered,
 * and writing it atomically. Must not: report an error (a cache failure
 * only costs a full handshake), offer a file that another user could
 * have written, or decide anything about verification (tls.c does).
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gnutls-dl.h"
#include "i18n.h"
#include "log.h"
#include "tls.h"
#include "tls-cache.h"
#include "util.h"

#define TLS_CACHE_MAGIC "smtpfwd-tls-session 1\n"
#define TLS_CACHE_MAX (64 * 1024)
/* Our own bound on top of the ticket lifetime the server chose. */
#define TLS_CACHE_MAX_AGE (24 * 3600)

static void tls_key_add(struct buf *k, const char *s)
{
    buf_puts(k, s ? s : "");
    buf_putc(k, '\0');
}

/* A file's identity and age, so that a replaced trust file or client
 * certificate gives another key. */
static void tls_key_add_file(struct buf *k, const char *path)
{
    struct stat st;
    tls_key_add(k, path);
    if (path && *path && stat(path, &st) == 0)
        buf_printf(k, "%llu:%llu:%lld:%lld.%09ld", (unsigned long long)st.st_dev,
                   (unsigned long long)st.st_ino, (long long)st.st_size,
                   (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    buf_putc(k, '\0');
}

/* The key covers the verification policy: a session verified under one
 * is never resumed under another (other trust file, CRL, pin, host name,
 * client certificate, priorities). */
char *tls_cache_path(const struct tls_config *cfg, const char *peer)
{
    if (!cfg->session_cache)
        return NULL;
    char *cache = util_cache_dir();
    if (!cache)
        return NULL;
    struct buf k = BUF_INIT;
    tls_key_add(&k, "smtpfwd-tls-session-key 1");
    tls_key_add(&k, peer);
    tls_key_add(&k, cfg->host);
    tls_key_add(&k, cfg->certcheck ? "certcheck" : "nocertcheck");
    tls_key_add_file(&k, cfg->trust_file);
    tls_key_add_file(&k, cfg->crl_file);
    tls_key_add(&k, cfg->fingerprint);
    tls_key_add_file(&k, cfg->cert_file);
    tls_key_add_file(&k, cfg->key_file);
    tls_key_add(&k, cfg->priorities);
    buf_printf(&k, "%d", cfg->min_dh_prime_bits);
    unsigned char d[32];
    char *path = NULL;
    if (gnutls_hash_fast(GNUTLS_DIG_SHA256, k.data, k.len, d) == 0) {
        char hex[41];
        for (int i = 0; i < 20; i++)
            snprintf(hex + 2 * i, 3, "%02x", d[i]);
        path = xasprintf("%s/tls-sessions/%s", cache, hex);
    }
    buf_free(&k);
    free(cache);
    return path;
}

bool tls_cache_offer(gnutls_session_t s, const char *path)
{
    if (!path)
        return false;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return false;
    struct stat st;
    bool ok = false;
    size_t ml = sizeof TLS_CACHE_MAGIC - 1;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()
        || (st.st_mode & 077) != 0 || st.st_size <= (off_t)ml || st.st_size > TLS_CACHE_MAX
        || time(NULL) - st.st_mtime > TLS_CACHE_MAX_AGE || time(NULL) < st.st_mtime) {
        log_debug(2, _("not using the cached TLS session %s (ownership, mode, size or age)"),
                  path);
        close(fd);
        return false;
    }
    size_t n = (size_t)st.st_size;
    unsigned char *data = xmalloc(n);
    ssize_t got = read(fd, data, n);
    close(fd);
    if (got == (ssize_t)n && memcmp(data, TLS_CACHE_MAGIC, ml) == 0) {
        gnutls_datum_t d = { data + ml, (unsigned)(n - ml) };
        ok = gnutls_session_set_data(s, d.data, d.size) == 0;
    }
    if (!ok)
        log_debug(2, _("not using the cached TLS session %s (unreadable or invalid)"),
                  path);
    secure_wipe(data, n);
    free(data);
    return ok;
}

/* Keep the session for the next run when the server gave us something
 * to resume with (a TLS 1.3 ticket, or a TLS 1.2 ticket or session id);
 * drop a cached one the server no longer accepts. Best effort: any
 * failure only costs the next run a full handshake. */
void tls_cache_store(gnutls_session_t s, const char *path, bool offered)
{
    if (!path)
        return;
    bool resumed = gnutls_session_is_resumed(s) != 0;
    bool ticket = (gnutls_session_get_flags(s) & GNUTLS_SFLAGS_SESSION_TICKET) != 0;
    bool tls13 = gnutls_protocol_get_version(s) == GNUTLS_TLS1_3;
    bool fresh = ticket || (!tls13 && !resumed);
    if (!fresh) {
        if (offered && !resumed)
            (void)unlink(path);
        return;
    }
    gnutls_datum_t d = { NULL, 0 };
    if (gnutls_session_get_data2(s, &d) < 0 || !d.data || d.size == 0
        || d.size > TLS_CACHE_MAX - 64) {
        gnutls_free(d.data);
        return;
    }
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    *slash = '\0';
    char *tmp = xasprintf("%s.%ld.tmp", path, (long)getpid());
    int fd = -1;
    if (util_make_dirs(dir) == 0)
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && write_all(fd, TLS_CACHE_MAGIC, sizeof TLS_CACHE_MAGIC - 1) == 0
              && write_all(fd, d.data, d.size) == 0;
    if (fd >= 0 && close(fd) != 0)
        ok = false;
    if (ok && rename(tmp, path) != 0)
        ok = false;
    if (!ok) {
        log_debug(2, _("cannot keep the TLS session in %s: %s"), path, strerror(errno));
        if (fd >= 0)
            (void)unlink(tmp);
    }
    secure_wipe(d.data, d.size);
    gnutls_free(d.data);
    free(tmp);
    free(dir);
}
