/*
 * secret.c - where a password comes from (see secret.h for the order):
 * the account's `password`, `passwordeval`, the Secret Service keyring
 * (secret-keyring.c), ~/.netrc (secret-netrc.c), and a prompt on
 * /dev/tty (secret-prompt.c); and the SOCKS5 proxy user's password
 * (proxy_password, proxy_passwordeval, ~/.netrc), through the same code.
 *
 * Owns: the order of the sources, running the passwordeval command, and
 * secret_guard_process(), which keeps the process's memory out of core
 * files and debuggers. Every buffer that held a password is wiped before
 * it is freed. Must not: log a password, or reach a source the caller
 * did not ask for (secret_lookup's sources).
 */
#include <config.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "smtprc.h"
#include "i18n.h"
#include "log.h"
#include "secret.h"
#include "secret-int.h"
#include "util.h"

#define EVAL_MAX_OUTPUT (64 * 1024)      /* passwordeval output cap */

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
/* The lookup                                                          */

char *secret_lookup(const struct account *a, unsigned sources, const char *netrc_path,
                    struct result *r)
{
    if ((sources & SECRET_SRC_PASSWORD) && a->password)
        return xstrdup(a->password);
    if ((sources & SECRET_SRC_EVAL) && a->passwordeval)
        return secret_passwordeval(a->passwordeval, r);
    if ((sources & SECRET_SRC_KEYRING) && a->host && a->user) {
        char *pw = secret_keyring_lookup(a);
        if (pw)
            return pw;
    }
    if ((sources & SECRET_SRC_NETRC) && a->host) {
        char *path = netrc_path ? xstrdup(netrc_path)
                                : util_expand_home("~/.netrc");
        char *pw = secret_netrc_lookup(path, a->host, a->user);
        free(path);
        if (pw)
            return pw;
    }
    if (sources & SECRET_SRC_PROMPT) {
        char *pw;
        if (secret_prompt_password(a, &pw, r))
            return pw;
        log_debug(1, _("no terminal to ask for a password"));
    }
    result_set(r, RC_CONFIG,
               _("no password for account %s (user %s at %s); set \"password\" or "
                 "\"passwordeval\", or store one with: smtpfwd --store-password %s"),
               secret_or_none(a->name), secret_or_none(a->user), secret_or_none(a->host), secret_or_none(a->name));
    return NULL;
}

char *secret_get_password(const struct account *a, struct result *r)
{
    return secret_lookup(a, SECRET_SRC_ALL, NULL, r);
}

char *secret_get_proxy_password(const struct account *a, struct result *r)
{
    if (a->proxy_password)
        return xstrdup(a->proxy_password);
    if (a->proxy_passwordeval)
        return secret_passwordeval(a->proxy_passwordeval, r);
    if (a->proxy_host) {
        char *path = util_expand_home("~/.netrc");
        char *pw = secret_netrc_lookup(path, a->proxy_host, a->proxy_user);
        free(path);
        if (pw)
            return pw;
    }
    result_set(r, RC_CONFIG,
               _("no password for proxy user %s of account %s (SOCKS5 proxy %s); set "
                 "\"proxy_password\" or \"proxy_passwordeval\""),
               secret_or_none(a->proxy_user), secret_or_none(a->name),
               secret_or_none(a->proxy_host));
    return NULL;
}
