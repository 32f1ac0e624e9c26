/*
 * secret-prompt.c - passwords typed on the terminal: the prompt when no
 * other source has one, and the new password of --store-password (see
 * secret-int.h).
 *
 * Owns: /dev/tty, the no-echo mode and its restoration (also when
 * SIGINT, SIGQUIT, SIGTERM or SIGHUP arrives during the prompt: the
 * signal is raised again once the terminal is back), and reading one
 * password line (at most PASSWORD_LINE_MAX - 1 bytes). Must not: echo,
 * log or keep a password (every line buffer is wiped), or ask on a
 * terminal when standard input is not one for --store-password (a
 * script run from a terminal must not stop at a prompt).
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "smtprc.h"
#include "i18n.h"
#include "secret.h"
#include "secret-int.h"
#include "util.h"

#define PASSWORD_LINE_MAX 4096           /* terminal / stdin password line */

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
        return xasprintf(_("Password for %s at %s: "), a->user, secret_or_none(a->host));
    return xasprintf(_("Password for %s: "), secret_or_none(a->host));
}

bool secret_prompt_password(const struct account *a, char **pw, struct result *r)
{
    *pw = NULL;
    int tty = open_tty();
    if (tty < 0)
        return false;
    char *prompt = prompt_text(a);
    *pw = read_hidden_line(tty, prompt, r);
    free(prompt);
    close(tty);
    return true;
}

/* See secret-int.h. When standard input is a terminal: asked twice on
 * the terminal (/dev/tty, else standard input itself). Otherwise the first
 * line of standard input, without its newline (`printf '%s\n' pw | smtpfwd
 * --store-password ACCOUNT`), as secret-tool store does: a controlling
 * terminal elsewhere is never opened, so a script run from a terminal
 * does not stop at a prompt. */
char *secret_prompt_new_password(const struct account *a, struct result *r)
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
