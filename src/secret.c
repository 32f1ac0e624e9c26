/*
 * secret.c - where a password comes from (see secret.h for the order):
 * the account's `password`, `passwordeval`, the Secret Service keyring
 * through libsecret, ~/.netrc, and a prompt on /dev/tty; and the
 * --store-password / --forget-password keyring operations.
 *
 * It owns running the passwordeval command, the netrc tokenizer, the
 * no-echo terminal prompt (the terminal is restored even when a signal
 * arrives during the prompt) and every libsecret/GLib call of the
 * program: nothing of libsecret is touched unless a lookup reaches the
 * keyring. libsecret (and with it GLib, GIO, GObject) is not linked into
 * the program: it is loaded with dlopen() the first time the keyring is
 * reached, so that runs that never need it do not pay for loading it. Every buffer that held a password is wiped before it is freed.
 * It never logs a password, and secret_guard_process() keeps the
 * process's memory out of core files and debuggers.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#if HAVE_LIBSECRET
# include <libsecret/secret.h>
#endif

#include "smtprc.h"
#include "dl.h"
#include "i18n.h"
#include "log.h"
#include "secret.h"
#include "util.h"

#define EVAL_MAX_OUTPUT (64 * 1024)      /* passwordeval output cap */
#define NETRC_MAX_SIZE ((size_t)1024 * 1024) /* a larger ~/.netrc is ignored */
#define PASSWORD_LINE_MAX 4096           /* terminal / stdin password line */

static const char *or_none(const char *s)
{
    return s ? s : _("(none)");
}

/* ------------------------------------------------------------------ */
/* the process                                                         */

void secret_guard_process(void)
{
    /* No core file, whatever the soft limit was: the limit covers the
     * case where the system dumps non-dumpable processes anyway
     * (fs.suid_dumpable 2). Lowering limits never needs privileges. */
    struct rlimit none = { 0, 0 };
    setrlimit(RLIMIT_CORE, &none);
    /* Not dumpable: no core, and no ptrace or /proc/PID/mem access by
     * other processes of the same user. Reset by execve(), so the
     * programs smtpfwd runs (passwordeval) are not affected. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* ------------------------------------------------------------------ */
/* passwordeval                                                        */

/* Strip one trailing "\n" or "\r\n" in place. */
static void strip_one_newline(struct buf *b)
{
    if (b->len && b->data[b->len - 1] == '\n') {
        b->data[--b->len] = '\0';
        if (b->len && b->data[b->len - 1] == '\r')
            b->data[--b->len] = '\0';
    }
}

char *secret_passwordeval(const char *cmd, struct result *r)
{
    struct buf out = BUF_INIT;
    bool too_big;
    int status;
    if (run_command_output(cmd, EVAL_MAX_OUTPUT, &out, &too_big, &status) != 0) {
        result_set(r, RC_OSERR, _("cannot run passwordeval command \"%s\": %s"), cmd,
                   strerror(errno));
        return NULL;
    }

    char *pw = NULL;
    if (too_big) {
        result_set(r, RC_CONFIG, _("passwordeval command \"%s\" printed more than %d KiB"), cmd,
                   EVAL_MAX_OUTPUT / 1024);
    } else if (status == -1) {
        result_set(r, RC_OSERR, _("passwordeval command \"%s\": cannot get its exit status"),
                   cmd);
    } else if (WIFSIGNALED(status)) {
        result_set(r, RC_CONFIG, _("passwordeval command \"%s\" failed (killed by signal %d)"),
                   cmd, WTERMSIG(status));
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        result_set(r, RC_CONFIG, _("passwordeval command \"%s\" failed (exit status %d)"), cmd,
                   WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    } else if (out.len == 0) {
        result_set(r, RC_CONFIG, _("passwordeval command \"%s\" printed nothing"), cmd);
    } else {
        strip_one_newline(&out);
        if (out.len == 0)
            result_set(r, RC_CONFIG, _("passwordeval command \"%s\" printed an empty line"),
                       cmd);
        else if (strlen(out.data) != out.len)
            result_set(r, RC_CONFIG, _("passwordeval command \"%s\" printed a NUL byte"), cmd);
        else
            pw = xstrdup(out.data);
    }
    secure_wipe(out.data, out.cap);
    buf_free(&out);
    return pw;
}

/* ------------------------------------------------------------------ */
/* netrc                                                               */

struct netrc_lexer {
    const char *p;         /* the next character to read */
};

static bool netrc_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Next token into *tok (cleared first); false at the end of the text.
 * comment_ok: a '#' starting an unquoted token starts a comment. */
static bool netrc_token(struct netrc_lexer *lx, struct buf *tok, bool comment_ok)
{
    buf_reset(tok);
    for (;;) {
        while (*lx->p && netrc_space(*lx->p))
            lx->p++;
        if (!*lx->p)
            return false;
        if (comment_ok && *lx->p == '#') {
            while (*lx->p && *lx->p != '\n')
                lx->p++;
            continue;
        }
        break;
    }
    if (*lx->p == '"') {
        lx->p++;
        while (*lx->p && *lx->p != '"') {
            if (*lx->p == '\\' && lx->p[1])
                lx->p++;
            buf_putc(tok, *lx->p++);
        }
        if (*lx->p == '"')
            lx->p++;
    } else {
        while (*lx->p && !netrc_space(*lx->p))
            buf_putc(tok, *lx->p++);
    }
    return true;
}

/* Skip the rest of the macdef line and its body, which ends at an empty
 * line (or the end of the text). */
static void netrc_skip_macdef(struct netrc_lexer *lx)
{
    while (*lx->p && *lx->p != '\n')
        lx->p++;
    while (*lx->p == '\n') {
        lx->p++;
        if (*lx->p == '\n' || (*lx->p == '\r' && lx->p[1] == '\n') || !*lx->p) {
            return;
        }
        while (*lx->p && *lx->p != '\n')
            lx->p++;
    }
}

struct netrc_entry {
    bool active;           /* inside a machine/default entry */
    bool is_default;
    bool machine_ok;
    char *login;
    char *password;
};

static void netrc_entry_clear(struct netrc_entry *e)
{
    free(e->login);
    secret_free(e->password);
    memset(e, 0, sizeof *e);
}

/* Does the finished entry match? */
static bool netrc_entry_matches(const struct netrc_entry *e, const char *user)
{
    if (!e->active || !e->password || (!e->machine_ok && !e->is_default))
        return false;
    return !user || !e->login || strcmp(e->login, user) == 0;
}

char *secret_netrc_find(const char *text, const char *host, const char *user)
{
    if (!text)
        return NULL;
    struct netrc_lexer lx = { text };
    /* A token is never longer than the text: allocate once, so that no
     * reallocation leaves a copy of a password behind. */
    size_t cap = strlen(text) + 1;
    struct buf tok = { xmalloc(cap), 0, cap };
    tok.data[0] = '\0';
    struct netrc_entry e = { 0 };
    char *found = NULL, *fallback = NULL;

    for (;;) {
        bool more = netrc_token(&lx, &tok, true);
        bool starts_entry = more && (strcmp(tok.data, "machine") == 0
                                     || strcmp(tok.data, "default") == 0);
        if (!more || starts_entry) {
            if (netrc_entry_matches(&e, user)) {
                if (e.machine_ok) {
                    found = e.password;
                    e.password = NULL;
                } else if (!fallback) {
                    fallback = e.password;
                    e.password = NULL;
                }
            }
            netrc_entry_clear(&e);
            if (found || !more)
                break;
            e.active = true;
            if (strcmp(tok.data, "default") == 0) {
                e.is_default = true;
            } else {
                if (!netrc_token(&lx, &tok, false))
                    break;
                e.machine_ok = host && ascii_strcasecmp(tok.data, host) == 0;
            }
            continue;
        }
        if (strcmp(tok.data, "login") == 0 || strcmp(tok.data, "password") == 0
            || strcmp(tok.data, "account") == 0) {
            bool is_login = tok.data[0] == 'l', is_password = tok.data[0] == 'p';
            if (!netrc_token(&lx, &tok, false))
                break;
            if (is_login && e.active) {
                free(e.login);
                e.login = xstrdup(tok.data);
            } else if (is_password && e.active) {
                secret_free(e.password);
                e.password = xstrdup(tok.data);
            }
            continue;
        }
        if (strcmp(tok.data, "macdef") == 0) {
            netrc_skip_macdef(&lx);
            continue;
        }
        /* Unknown token: ignored. */
    }
    netrc_entry_clear(&e);
    secure_wipe(tok.data, tok.cap);
    buf_free(&tok);
    if (found) {
        secret_free(fallback);
        return found;
    }
    return fallback;
}

/* Read the netrc file and search it. Returns the password or NULL (no
 * file, unreadable file: a warning, never an error). */
static char *netrc_lookup(const char *path, const char *host, const char *user)
{
    struct file_data text;
    int rc = util_read_file(path, NETRC_MAX_SIZE, true, &text);
    if (rc == READ_FILE_ERRNO && (errno == ENOENT || errno == ENOTDIR)) {
        log_debug(1, _("no %s"), path);
        return NULL;
    }
    if (rc != 0) {
        char *msg = util_read_file_error(path, rc, errno, NETRC_MAX_SIZE);
        log_warning(_("ignoring the netrc file: %s"), msg);
        free(msg);
        return NULL;
    }
    char *pw = NULL;
    if (strlen(text.data) == text.len)
        pw = secret_netrc_find(text.data, host, user);
    else
        log_warning(_("ignoring %s: it contains a NUL byte"), path);
    struct stat st = text.st;
    util_file_free(&text);
    if (pw) {
        log_debug(1, _("using the password for %s at %s from %s"), or_none(user), host, path);
        if (st.st_mode & (S_IRWXG | S_IRWXO))
            log_warning(_("%s holds a password and others can read it; "
                          "make it private with: chmod 600 %s"), path, path);
    }
    return pw;
}

/* ------------------------------------------------------------------ */
/* The terminal                                                        */

/* The signal caught while the terminal is in no-echo mode. A signal
 * handler can only talk through a static variable: it is set by the
 * handler and read and reset by read_hidden_line only. */
static volatile sig_atomic_t prompt_signal;

static void prompt_on_signal(int sig)
{
    prompt_signal = sig;
}

static const int prompt_signals[] = { SIGINT, SIGQUIT, SIGTERM, SIGHUP };
#define NPROMPT_SIGNALS (sizeof prompt_signals / sizeof prompt_signals[0])

/* Read one line from fd into line (size PASSWORD_LINE_MAX), without the
 * newline. Returns the length, -1 at end of file before any newline with
 * nothing read, -2 when interrupted by a signal (prompt_signal set),
 * -3 when too long, -4 on a read error. With wait_mask, the prompt's
 * signals are blocked by the caller and only let through while ppoll()
 * waits (with wait_mask in force), so a signal that arrives just before a
 * read cannot be missed and leave the read blocked. */
static long read_line_fd(int fd, char *line, const sigset_t *wait_mask)
{
    size_t len = 0;
    bool too_long = false, got_any = false;
    for (;;) {
        char c;
        if (wait_mask) {
            if (prompt_signal)
                return -2;
            struct pollfd pfd = { .fd = fd, .events = POLLIN };
            if (ppoll(&pfd, 1, NULL, wait_mask) < 0) {
                if (errno == EINTR)
                    continue;
                return -4;
            }
        }
        ssize_t n = read(fd, &c, 1);
        if (n < 0 && errno == EINTR) {
            if (prompt_signal)
                return -2;
            continue;
        }
        if (n < 0)
            return -4;
        if (n == 0)
            break;
        got_any = true;
        if (c == '\n')
            break;
        if (len + 1 < PASSWORD_LINE_MAX)
            line[len++] = c;
        else
            too_long = true;
    }
    line[len] = '\0';
    if (len && line[len - 1] == '\r')
        line[--len] = '\0';
    if (too_long)
        return -3;
    if (!got_any)
        return -1;
    return (long)len;
}

/* Print prompt on the terminal fd and read a line without echo. The
 * terminal settings and signal dispositions are restored before
 * returning; a signal that arrived meanwhile is raised again afterwards
 * (with the caller's disposition back in place). */
static char *read_hidden_line(int tty, const char *prompt, struct result *r)
{
    struct termios saved, quiet;
    if (tcgetattr(tty, &saved) != 0) {
        result_set(r, RC_OSERR, _("cannot read a password from the terminal: %s"),
                   strerror(errno));
        return NULL;
    }
    struct sigaction old[NPROMPT_SIGNALS];
    bool installed[NPROMPT_SIGNALS];
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = prompt_on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;   /* no SA_RESTART: read() must return EINTR */
    prompt_signal = 0;
    sigset_t block, orig;
    sigemptyset(&block);
    for (size_t i = 0; i < NPROMPT_SIGNALS; i++)
        sigaddset(&block, prompt_signals[i]);
    sigprocmask(SIG_BLOCK, &block, &orig);
    for (size_t i = 0; i < NPROMPT_SIGNALS; i++) {
        installed[i] = false;
        if (sigaction(prompt_signals[i], NULL, &old[i]) == 0 && old[i].sa_handler != SIG_IGN)
            installed[i] = sigaction(prompt_signals[i], &sa, NULL) == 0;
    }

    quiet = saved;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
    quiet.c_lflag |= ICANON;
    /* Echo off first, then the prompt: what is typed after the prompt
     * appears is never echoed nor flushed away. */
    int set = tcsetattr(tty, TCSAFLUSH, &quiet);
    (void)write_all(tty, prompt, strlen(prompt));

    char line[PASSWORD_LINE_MAX];
    long n = set == 0 ? read_line_fd(tty, line, &orig) : -4;
    int read_errno = errno;

    if (set == 0)
        tcsetattr(tty, TCSAFLUSH, &saved);
    (void)write_all(tty, "\n", 1);
    for (size_t i = 0; i < NPROMPT_SIGNALS; i++)
        if (installed[i])
            sigaction(prompt_signals[i], &old[i], NULL);
    sigprocmask(SIG_SETMASK, &orig, NULL);
    int sig = prompt_signal;
    prompt_signal = 0;

    char *pw = NULL;
    if (n >= 0)
        pw = xstrdup(line);
    secure_wipe(line, sizeof line);
    if (sig) {
        raise(sig);   /* the caller's disposition decides (default: die) */
        result_set(r, RC_USAGE, _("the password prompt was interrupted"));
    } else if (n == -3) {
        result_set(r, RC_USAGE, _("the password is longer than %d bytes"),
                   PASSWORD_LINE_MAX - 1);
    } else if (n == -1) {
        result_set(r, RC_USAGE, _("no password entered (end of input on the terminal)"));
    } else if (n < 0) {
        result_set(r, RC_OSERR, _("cannot read a password from the terminal: %s"),
                   strerror(read_errno));
    }
    return pw;
}

/* Open the controlling terminal, or return -1. */
static int open_tty(void)
{
    return open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
}

static char *prompt_text(const struct account *a)
{
    if (a->user)
        return xasprintf(_("Password for %s at %s: "), a->user, or_none(a->host));
    return xasprintf(_("Password for %s: "), or_none(a->host));
}

/* ------------------------------------------------------------------ */
/* The keyring                                                         */

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
 * keeping the connection leaves them reachable. smtpfwd is short-lived.
 * When libsecret cannot be loaded the keyring is skipped, as when there is
 * no D-Bus session. */
static char *keyring_lookup(const struct account *a)
{
    struct result lr = RESULT_INIT;
    char *purpose = xasprintf(_("no keyring lookup for %s at %s"), a->user, a->host);
    const struct keyring_lib *lib = keyring_load(purpose, &lr);
    free(purpose);
    if (!lib) {
        log_debug(1, "%s", lr.msg);
        result_clear(&lr);
        return NULL;
    }
    GError *err = NULL;
    gchar *pw = lib->lookup_sync(keyring_schema(), NULL, &err, "host", a->host,
                                 "service", "smtp", "user", a->user, (char *)NULL);
    char *copy = NULL;
    if (err) {
        log_debug(1, _("no keyring lookup for %s at %s: %s"), a->user, a->host, err->message);
        lib->error_free(err);
    } else if (pw) {
        log_debug(1, _("using the password for %s at %s from the keyring"), a->user, a->host);
        copy = xstrdup(pw);
    } else {
        log_debug(1, _("no password for %s at %s in the keyring"), a->user, a->host);
    }
    if (pw)
        lib->password_free(pw);
    return copy;
}
#endif

/* ------------------------------------------------------------------ */
/* The lookup                                                          */

char *secret_lookup(const struct account *a, unsigned sources, const char *netrc_path,
                    struct result *r)
{
    if ((sources & SECRET_SRC_PASSWORD) && a->password)
        return xstrdup(a->password);
    if ((sources & SECRET_SRC_EVAL) && a->passwordeval)
        return secret_passwordeval(a->passwordeval, r);
#if HAVE_LIBSECRET
    if ((sources & SECRET_SRC_KEYRING) && a->host && a->user) {
        char *pw = keyring_lookup(a);
        if (pw)
            return pw;
    }
#endif
    if ((sources & SECRET_SRC_NETRC) && a->host) {
        char *path = netrc_path ? xstrdup(netrc_path)
                                : util_expand_home("~/.netrc");
        char *pw = netrc_lookup(path, a->host, a->user);
        free(path);
        if (pw)
            return pw;
    }
    if (sources & SECRET_SRC_PROMPT) {
        int tty = open_tty();
        if (tty >= 0) {
            char *prompt = prompt_text(a);
            char *pw = read_hidden_line(tty, prompt, r);
            free(prompt);
            close(tty);
            return pw;
        }
        log_debug(1, _("no terminal to ask for a password"));
    }
    result_set(r, RC_CONFIG,
               _("no password for account %s (user %s at %s); set \"password\" or "
                 "\"passwordeval\", or store one with: smtpfwd --store-password %s"),
               or_none(a->name), or_none(a->user), or_none(a->host), or_none(a->name));
    return NULL;
}

char *secret_get_password(const struct account *a, struct result *r)
{
    return secret_lookup(a, SECRET_SRC_ALL, NULL, r);
}

/* ------------------------------------------------------------------ */
/* --store-password, --forget-password                                 */

#if HAVE_LIBSECRET
static int keyring_account_ok(const struct account *a, struct result *r)
{
    if (!a->host) {
        result_set(r, RC_CONFIG, _("account %s has no host: the keyring entry needs one"),
                   or_none(a->name));
        return -1;
    }
    if (!a->user) {
        result_set(r, RC_CONFIG, _("account %s has no user: the keyring entry needs one"),
                   or_none(a->name));
        return -1;
    }
    return 0;
}

/* The new password. When standard input is a terminal: asked twice on
 * the terminal (/dev/tty, else standard input itself). Otherwise the first
 * line of standard input, without its newline (`printf '%s\n' pw | smtpfwd
 * --store-password ACCOUNT`), as secret-tool store does: a controlling
 * terminal elsewhere is never opened, so a script run from a terminal
 * does not stop at a prompt. */
static char *read_new_password(const struct account *a, struct result *r)
{
    if (isatty(0)) {
        int tty = open_tty();
        bool own = tty >= 0;
        if (!own)
            tty = 0;
        char *prompt = prompt_text(a);
        char *pw = read_hidden_line(tty, prompt, r);
        free(prompt);
        char *again = pw ? read_hidden_line(tty, _("Retype the password: "), r) : NULL;
        if (own)
            close(tty);
        if (pw && again && strcmp(pw, again) != 0)
            result_set(r, RC_USAGE, _("the passwords do not match; nothing stored"));
        if (pw && (!again || strcmp(pw, again) != 0)) {
            secret_free(pw);
            pw = NULL;
        }
        secret_free(again);
        if (pw && !*pw) {
            result_set(r, RC_USAGE, _("empty password; nothing stored"));
            secret_free(pw);
            pw = NULL;
        }
        return pw;
    }
    char line[PASSWORD_LINE_MAX];
    long n = read_line_fd(0, line, NULL);
    char *pw = n > 0 ? xstrdup(line) : NULL;
    secure_wipe(line, sizeof line);
    if (n == -3)
        result_set(r, RC_USAGE, _("the password is longer than %d bytes"), PASSWORD_LINE_MAX - 1);
    else if (n < -1)
        result_set(r, RC_IOERR, _("cannot read the password from standard input"));
    else if (!pw)
        result_set(r, RC_USAGE, _("empty password on standard input; nothing stored"));
    return pw;
}

int secret_store_password(const struct account *a, struct result *r)
{
    if (keyring_account_ok(a, r) != 0)
        return -1;
    const struct keyring_lib *lib =
        keyring_load(_("cannot store the password in the keyring"), r);
    if (!lib)
        return -1;
    char *pw = read_new_password(a, r);
    if (!pw)
        return -1;
    char *label = xasprintf(_("smtpfwd password for %s at %s"), a->user, a->host);
    GError *err = NULL;
    gboolean ok = lib->store_sync(keyring_schema(), SECRET_COLLECTION_DEFAULT, label, pw, NULL,
                                  &err, "host", a->host, "service", "smtp", "user", a->user,
                                  (char *)NULL);
    secret_free(pw);
    free(label);
    int rc = 0;
    if (!ok || err) {
        result_set(r, RC_UNAVAILABLE, _("cannot store the password in the keyring: %s"),
                   err ? err->message : _("unknown error"));
        rc = -1;
    }
    if (err)
        lib->error_free(err);
    return rc;
}

int secret_forget_password(const struct account *a, struct result *r)
{
    if (keyring_account_ok(a, r) != 0)
        return -1;
    const struct keyring_lib *lib =
        keyring_load(_("cannot remove the password from the keyring"), r);
    if (!lib)
        return -1;
    GError *err = NULL;
    gboolean removed = lib->clear_sync(keyring_schema(), NULL, &err, "host", a->host, "service",
                                       "smtp", "user", a->user, (char *)NULL);
    int rc = 0;
    if (err) {
        result_set(r, RC_UNAVAILABLE, _("cannot remove the password from the keyring: %s"),
                   err->message);
        lib->error_free(err);
        rc = -1;
    } else if (!removed) {
        log_warning(_("the keyring holds no password for %s at %s"), a->user, a->host);
    }
    return rc;
}

#else /* !HAVE_LIBSECRET */

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
