/*
 * util.c - allocation that cannot fail, growable buffers, secret wiping,
 * ASCII helpers, write_all, random bytes, and facts about the user and
 * host taken from the system databases. Nothing here knows about mail.
 */
#include <config.h>

#include <errno.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <netdb.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef HAVE_SYS_RANDOM_H
# include <sys/random.h>
#endif

#include "i18n.h"
#include "util.h"

static void out_of_memory(void)
{
    static const char msg[] = "smtpfwd: out of memory\n";
    (void)!write(2, msg, sizeof msg - 1);
    _exit(71);
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        out_of_memory();
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        out_of_memory();
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        out_of_memory();
    return q;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = xmalloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *xvasprintf(const char *fmt, va_list ap)
{
    va_list aq;
    va_copy(aq, ap);
    /* gcc's -Wformat-truncation reports a "null format string" here under
     * -fsanitize=undefined; the format is never NULL. */
#if defined __GNUC__ && !defined __clang__
# pragma GCC diagnostic push
# pragma GCC diagnostic ignored "-Wformat-truncation"
#endif
    int n = vsnprintf(NULL, 0, fmt, aq);
#if defined __GNUC__ && !defined __clang__
# pragma GCC diagnostic pop
#endif
    va_end(aq);
    if (n < 0)
        out_of_memory();
    char *p = xmalloc((size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = xvasprintf(fmt, ap);
    va_end(ap);
    return p;
}

static void buf_grow(struct buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

void buf_append(struct buf *b, const void *data, size_t n)
{
    buf_grow(b, n);
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void buf_puts(struct buf *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

void buf_putc(struct buf *b, char c)
{
    buf_append(b, &c, 1);
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = xvasprintf(fmt, ap);
    va_end(ap);
    buf_puts(b, s);
    free(s);
}

static bool escape_byte(unsigned char c, unsigned flags)
{
    if (c < 0x20 || c == 0x7f)
        return true;
    if (c == '\\')
        return (flags & ESCAPE_BACKSLASH) != 0;
    return c >= 0x80 && (flags & ESCAPE_8BIT) != 0;
}

void buf_put_escaped(struct buf *b, const void *data, size_t n, unsigned flags)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = data, *end = p + n;
    while (p < end) {
        /* A slice at a time, with room for the worst case (every byte
         * escaped, four out) reserved once and written in place. */
        size_t k = (size_t)(end - p) < 4096 ? (size_t)(end - p) : 4096;
        buf_grow(b, 4 * k);
        char *o = b->data + b->len;
        for (const unsigned char *stop = p + k; p < stop; p++) {
            if (!escape_byte(*p, flags)) {
                *o++ = (char)*p;
            } else if (*p == '\\') {
                *o++ = '\\';
                *o++ = '\\';
            } else if ((flags & ESCAPE_NAMED) && (*p == '\r' || *p == '\n' || *p == '\t')) {
                *o++ = '\\';
                *o++ = *p == '\r' ? 'r' : *p == '\n' ? 'n' : 't';
            } else {
                *o++ = '\\';
                *o++ = 'x';
                *o++ = hex[*p >> 4];
                *o++ = hex[*p & 15];
            }
        }
        b->len = (size_t)(o - b->data);
        b->data[b->len] = '\0';
    }
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void buf_free(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *buf_steal(struct buf *b)
{
    char *p = b->data ? b->data : xstrdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void secure_wipe(void *p, size_t n)
{
    if (!p || !n)
        return;
#ifdef HAVE_EXPLICIT_BZERO
    explicit_bzero(p, n);
#else
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
#endif
}

void secret_free(char *s)
{
    if (!s)
        return;
    secure_wipe(s, strlen(s));
    free(s);
}

int util_read_file(const char *path, size_t max, bool secret, struct file_data *out)
{
    *out = (struct file_data)FILE_DATA_INIT;
    out->secret = secret;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return READ_FILE_ERRNO;
    if (fstat(fd, &out->st) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return READ_FILE_ERRNO;
    }
    if (!S_ISREG(out->st.st_mode)) {
        close(fd);
        return READ_FILE_NOT_REGULAR;
    }
    if (out->st.st_size < 0 || (unsigned long long)out->st.st_size > max) {
        close(fd);
        return READ_FILE_TOO_BIG;
    }
    /* One allocation, from the size fstat() gave, never reallocated: a
     * file that has grown since (one probe byte more can be read) is
     * refused rather than read in pieces. */
    out->size = (size_t)out->st.st_size + 1;
    out->data = xmalloc(out->size);
    int rc = 0;
    for (;;) {
        size_t room = out->size - 1 - out->len;
        char probe;
        char *dst = room ? out->data + out->len : &probe;
        ssize_t n = read(fd, dst, room ? room : 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = READ_FILE_ERRNO;
            break;
        }
        if (n == 0)
            break;
        if (!room) {
            probe = 0;
            rc = READ_FILE_CHANGED;
            break;
        }
        out->len += (size_t)n;
    }
    int e = errno;
    close(fd);
    if (rc != 0) {
        util_file_free(out);
        out->secret = secret;
        errno = e;
        return rc;
    }
    out->data[out->len] = '\0';
    return 0;
}

char *util_read_file_error(const char *path, int rc, int err, size_t max)
{
    switch (rc) {
    case READ_FILE_NOT_REGULAR:
        return xasprintf(_("%s: not a regular file (a FIFO, device or directory cannot be "
                           "read); name a regular file"), path);
    case READ_FILE_TOO_BIG:
        return xasprintf(_("%s: larger than %zu KiB, more than such a file can be; "
                           "is it the right file?"), path, max / 1024);
    case READ_FILE_CHANGED:
        return xasprintf(_("%s: changed while it was being read; try again"), path);
    default:
        return xasprintf(_("cannot read %s: %s"), path, strerror(err));
    }
}

void util_file_wipe(struct file_data *f)
{
    secure_wipe(f->data, f->size);
}

void util_file_free(struct file_data *f)
{
    if (f->secret)
        util_file_wipe(f);
    free(f->data);
    f->data = NULL;
    f->len = f->size = 0;
}

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

char *base64_encode(const void *data, size_t n)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *in = data;
    char *out = xmalloc((n + 2) / 3 * 4 + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

int base64_digit_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

char *base64_decode(const char *in, size_t *len)
{
    size_t total = strlen(in), n = total;
    while (n && in[n - 1] == '=' && total - n < 2)
        n--;
    size_t pad = total - n;
    if (n % 4 == 1 || (pad && (n + pad) % 4 != 0))
        return NULL;
    char *out = xmalloc(n / 4 * 3 + 3);
    size_t o = 0;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        int d = base64_digit_value(in[i]);
        if (d < 0) {
            free(out);
            return NULL;
        }
        v = (v << 6) | (unsigned)d;
        if (i % 4 == 3) {
            out[o++] = (char)(v >> 16);
            out[o++] = (char)(v >> 8);
            out[o++] = (char)v;
            v = 0;
        }
    }
    if (n % 4 == 2) {
        out[o++] = (char)(v >> 4);
    } else if (n % 4 == 3) {
        out[o++] = (char)(v >> 10);
        out[o++] = (char)(v >> 2);
    }
    out[o] = '\0';
    *len = o;
    return out;
}

int hex_digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long utf8_decode(const char *p, size_t avail, size_t *len)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t n;
    long cp, min;
    *len = 1;
    if (u[0] < 0x80)
        return u[0];
    if (u[0] >= 0xc2 && u[0] <= 0xdf) {
        n = 2, cp = u[0] & 0x1f, min = 0x80;
    } else if (u[0] >= 0xe0 && u[0] <= 0xef) {
        n = 3, cp = u[0] & 0x0f, min = 0x800;
    } else if (u[0] >= 0xf0 && u[0] <= 0xf4) {
        n = 4, cp = u[0] & 0x07, min = 0x10000;
    } else {
        return -1;
    }
    for (size_t i = 1; i < n; i++) {
        if (i >= avail || (u[i] & 0xc0) != 0x80)
            return -1;
        cp = (cp << 6) | (u[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return -1;
    *len = n;
    return cp;
}

bool ascii_only(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            return false;
    return true;
}

void ascii_lower(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

int ascii_strcasecmp(const char *a, const char *b)
{
    for (;; a++, b++) {
        int ca = lower((unsigned char)*a), cb = lower((unsigned char)*b);
        if (ca != cb || !ca)
            return ca - cb;
    }
}

int ascii_strncasecmp(const char *a, const char *b, size_t n)
{
    for (; n; n--, a++, b++) {
        int ca = lower((unsigned char)*a), cb = lower((unsigned char)*b);
        if (ca != cb || !ca)
            return ca - cb;
    }
    return 0;
}

bool ascii_startswith_ci(const char *s, const char *prefix)
{
    return ascii_strncasecmp(s, prefix, strlen(prefix)) == 0;
}

int util_replace_file(const char *path, const void *data, size_t len, mode_t mode)
{
    char *tmp = xasprintf("%s.XXXXXX", path);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        free(tmp);
        return -1;
    }
    bool ok = fchmod(fd, mode) == 0 && write_all(fd, data, len) == 0 && fsync(fd) == 0;
    int err = errno;
    if (close(fd) != 0 && ok) {
        ok = false;
        err = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = false;
        err = errno;
    }
    if (!ok) {
        (void)unlink(tmp);
        free(tmp);
        errno = err;
        return -1;
    }
    free(tmp);
    const char *slash = strrchr(path, '/');
    char *dir = !slash ? xstrdup(".") : slash == path ? xstrdup("/")
                                                     : xstrndup(path, (size_t)(slash - path));
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    free(dir);
    return 0;
}

int util_open_tmp(const char *dir, char **error)
{
    if (!dir || !*dir) {
        dir = getenv("TMPDIR");
        if (!dir || !*dir)
            dir = "/tmp";
    }
    int fd;
#ifdef O_TMPFILE
    fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
        int e = errno;
        if (error)
            *error = xasprintf(_("cannot create a temporary file in %s: %s"), dir, strerror(e));
        return -1;
    }
#endif
    char *path = xasprintf("%s/smtpfwd.XXXXXX", dir);
    mode_t old = umask(077);
    fd = mkostemp(path, O_CLOEXEC);
    umask(old);
    if (fd < 0) {
        int e = errno;
        if (error)
            *error = xasprintf(_("cannot create a temporary file in %s: %s"), dir, strerror(e));
    } else {
        unlink(path);
    }
    free(path);
    return fd;
}

int write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int run_command_output(const char *cmd, size_t max, struct buf *out, bool *too_big,
                       int *status)
{
    int fds[2];
    *too_big = false;
    *status = -1;
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        errno = e;
        return -1;
    }
    if (pid == 0) {
        /* dup2 clears O_CLOEXEC on the new descriptors. */
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(fds[1], 1) < 0)
            _exit(126);
        signal(SIGPIPE, SIG_DFL);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);

    buf_free(out);
    out->data = xmalloc(max + 1);
    out->cap = max + 1;
    out->data[0] = '\0';
    char tmp[4096];
    for (;;) {
        ssize_t n = read(fds[0], tmp, sizeof tmp);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (out->len + (size_t)n > max) {
            *too_big = true;
            break;
        }
        buf_append(out, tmp, (size_t)n);
    }
    secure_wipe(tmp, sizeof tmp);
    close(fds[0]);
    while (waitpid(pid, status, 0) < 0) {
        if (errno != EINTR) {
            *status = -1;
            break;
        }
    }
    return 0;
}

void random_bytes(void *buf, size_t n)
{
    unsigned char *p = buf;
#ifdef HAVE_GETRANDOM
    while (n) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        p += got;
        n -= (size_t)got;
    }
    if (!n)
        return;
#endif
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        while (n) {
            ssize_t got = read(fd, p, n);
            if (got <= 0)
                break;
            p += got;
            n -= (size_t)got;
        }
        close(fd);
    }
    /* Last resort: not cryptographic, only used for unique names. */
    while (n--)
        *p++ = (unsigned char)(rand() ^ getpid());
}

static const struct passwd *user_entry(void)
{
    static const struct passwd *pw;
    static bool looked;
    if (!looked) {
        looked = true;
        pw = getpwuid(getuid());
    }
    return pw;
}

const char *util_user_name(void)
{
    static char name[256];
    if (!name[0]) {
        const struct passwd *pw = user_entry();
        if (pw && pw->pw_name)
            snprintf(name, sizeof name, "%s", pw->pw_name);
        else
            snprintf(name, sizeof name, "%lu", (unsigned long)getuid());
    }
    return name;
}

/* The home directory of the user database entry, or NULL. */
static const char *user_db_home(void)
{
    const struct passwd *pw = user_entry();
    return pw && pw->pw_dir && pw->pw_dir[0] == '/' ? pw->pw_dir : NULL;
}

/* An absolute $HOME, or NULL. */
static const char *env_home(void)
{
    const char *h = getenv("HOME");
    return h && h[0] == '/' ? h : NULL;
}

const char *util_home(void)
{
    const char *h = env_home();
    if (!h)
        h = user_db_home();
    return h ? h : "/";
}

char *util_expand_home(const char *path)
{
    if (path[0] == '~' && (path[1] == '\0' || path[1] == '/')) {
        const char *home = util_home();
        size_t n = strlen(home);
        while (n > 1 && home[n - 1] == '/')
            n--;
        if (n == 1 && path[1] == '/')
            n = 0;          /* "/" + "/x", not "//x" */
        return xasprintf("%.*s%s", (int)n, home, path + 1);
    }
    return xstrdup(path);
}

const char *util_host_name(void)
{
    static char host[256];
    if (!host[0]) {
        if (gethostname(host, sizeof host - 1) != 0 || !host[0])
            snprintf(host, sizeof host, "localhost");
        host[sizeof host - 1] = '\0';
        if (!strchr(host, '.')) {
            struct addrinfo hints = { .ai_flags = AI_CANONNAME, .ai_family = AF_UNSPEC };
            struct addrinfo *res = NULL;
            if (getaddrinfo(host, NULL, &hints, &res) == 0 && res && res->ai_canonname
                && strchr(res->ai_canonname, '.'))
                snprintf(host, sizeof host, "%s", res->ai_canonname);
            if (res)
                freeaddrinfo(res);
        }
    }
    return host;
}

/* $VAR/smtpfwd when VAR holds an absolute path, else fallback/smtpfwd
 * under the home directory of the user database (not $HOME: cron and sudo
 * do not set it reliably, and the spool must not move with it); $HOME
 * only for a uid that has no entry. */
static char *xdg_dir(const char *var, const char *fallback)
{
    const char *xdg = getenv(var);
    if (xdg && xdg[0] == '/')
        return xasprintf("%s/smtpfwd", xdg);
    const char *home = user_db_home();
    if (!home)
        home = env_home();   /* a uid without an entry (containers) */
    if (home)
        return xasprintf("%s%s%s/smtpfwd", home, home[1] ? "/" : "", fallback);
    return NULL;
}

char *util_state_dir(void)
{
    return xdg_dir("XDG_STATE_HOME", ".local/state");
}

char *util_cache_dir(void)
{
    return xdg_dir("XDG_CACHE_HOME", ".cache");
}

char *util_data_dir(void)
{
    return xdg_dir("XDG_DATA_HOME", ".local/share");
}

int util_make_dirs(const char *path)
{
    if (mkdir(path, 0700) == 0 || errno == EEXIST)
        return 0;
    if (errno != ENOENT)
        return -1;
    char *copy = xstrdup(path);
    char *slash = strrchr(copy, '/');
    int rc = -1;
    if (slash && slash != copy) {
        *slash = '\0';
        if (util_make_dirs(copy) == 0)
            rc = (mkdir(path, 0700) == 0 || errno == EEXIST) ? 0 : -1;
    }
    int saved = errno;
    free(copy);
    errno = saved;
    return rc;
}

char *util_https_url_host(const char *url)
{
    if (!url || !ascii_startswith_ci(url, "https://"))
        return NULL;
    const char *p = url + 8;
    size_t n = strcspn(p, "/?#");
    const char *at = memchr(p, '@', n);
    if (at) {
        n -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    char *host;
    if (n && *p == '[') {
        const char *close = memchr(p, ']', n);
        if (!close || close == p + 1)
            return NULL;
        host = xstrndup(p + 1, (size_t)(close - p - 1));
    } else {
        const char *colon = memchr(p, ':', n);
        host = xstrndup(p, colon ? (size_t)(colon - p) : n);
    }
    if (!*host) {
        free(host);
        return NULL;
    }
    ascii_lower(host);
    return host;
}
