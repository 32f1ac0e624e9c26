/*
 * secret-netrc.c - ~/.netrc as a password source (see secret.h for
 * secret_netrc_find, secret-int.h for secret_netrc_lookup).
 *
 * Owns: the netrc tokenizer (quoted tokens, comments, macdef bodies),
 * the choice between machine and default entries, and reading the file.
 * Must not: fail a delivery because of the file (a file that cannot be
 * used is a warning), or keep the file's text unwiped.
 */
#include <config.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "i18n.h"
#include "log.h"
#include "secret.h"
#include "secret-int.h"
#include "util.h"

#define NETRC_MAX_SIZE ((size_t)1024 * 1024) /* a larger ~/.netrc is ignored */

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

/* See secret-int.h. */
char *secret_netrc_lookup(const char *path, const char *host, const char *user)
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
        log_debug(1, _("using the password for %s at %s from %s"), secret_or_none(user), host, path);
        if (st.st_mode & (S_IRWXG | S_IRWXO))
            log_warning(_("%s holds a password and others can read it; "
                          "make it private with: chmod 600 %s"), path, path);
    }
    return pw;
}
