/*
 * smtprc-syntax.c - the msmtprc syntax (see smtprc.h): splitting a line
 * into a command and its argument (double quotes with \" and \\
 * escapes, comments, CRLF), refusing control characters, `defaults`
 * blocks, `account NAME [: PARENT, ...]`, and `eval` (the command's
 * output parsed as if it stood in place of the line, nested at most
 * MAX_EVAL_DEPTH deep); every other command is a setting handed to
 * config_setting_apply() (smtprc-parse.c, which owns the command table,
 * the values and account memory).
 *
 * Must not: open files (smtprc.c does), know any setting by name, or
 * leave an argument buffer unwiped (it may hold a password).
 */
#include <config.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "smtprc-parse.h"
#include "i18n.h"
#include "util.h"

#define MAX_TEXT_SIZE (4L * 1024 * 1024)   /* eval output larger than this is refused */
#define MAX_EVAL_DEPTH 8

static int parse_text(struct parse_ctx *c, const char *text, size_t len, int fixed_line,
                      struct result *r);

/* `account NAME [: PARENT, ...]` */
static int cmd_account(struct parse_ctx *c, int line, const char *arg, struct result *r)
{
    const char *colon = strchr(arg, ':');
    size_t nlen = colon ? (size_t)(colon - arg) : strlen(arg);
    while (nlen > 0 && (arg[nlen - 1] == ' ' || arg[nlen - 1] == '\t'))
        nlen--;
    if (nlen == 0) {
        result_set(r, RC_CONFIG, _("%s:%d: command \"%s\" needs an argument"), c->file, line,
                   "account");
        return -1;
    }
    char *name = xstrndup(arg, nlen);
    if (strchr(name, ',')) {
        result_set(r, RC_CONFIG, _("%s:%d: invalid account name \"%s\""), c->file, line, name);
        free(name);
        return -1;
    }
    size_t old = config_find_index(c->cfg, name);
    if (old != SIZE_MAX && strcmp(c->cfg->accounts[old]->file, c->file) == 0) {
        result_set(r, RC_CONFIG, _("%s:%d: account \"%s\" defined twice (first at line %d)"),
                   c->file, line, name, c->cfg->accounts[old]->line);
        free(name);
        return -1;
    }

    struct account *a = config_account_copy(c->defaults);
    a->name = name;
    a->file = xstrdup(c->file);
    a->line = line;
    if (colon) {
        const char *p = colon + 1;
        for (;;) {
            size_t n = strcspn(p, ",");
            const char *s = p, *e = p + n;
            while (s < e && (*s == ' ' || *s == '\t'))
                s++;
            while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            char *parent = xstrndup(s, (size_t)(e - s));
            const struct account *pa = *parent ? config_find(c->cfg, parent) : NULL;
            if (!pa) {
                if (*parent)
                    result_set(r, RC_CONFIG, _("%s:%d: unknown parent account \"%s\""), c->file,
                               line, parent);
                else
                    result_set(r, RC_CONFIG, _("%s:%d: empty parent account name"), c->file,
                               line);
                free(parent);
                config_account_free(a);
                return -1;
            }
            free(parent);
            config_account_inherit(a, pa);
            if (p[n] == '\0')
                break;
            p += n + 1;
        }
    }
    if (old != SIZE_MAX) {
        /* an account of the user file replaces the system file's */
        config_account_free(c->cfg->accounts[old]);
        memmove(&c->cfg->accounts[old], &c->cfg->accounts[old + 1],
                (c->cfg->naccounts - old - 1) * sizeof(struct account *));
        c->cfg->naccounts--;
    }
    c->cfg->accounts = xrealloc(c->cfg->accounts,
                                (c->cfg->naccounts + 1) * sizeof(struct account *));
    c->cfg->accounts[c->cfg->naccounts++] = a;
    c->cur = a;
    return 0;
}

/* Run cmd with /bin/sh -c, stdin from /dev/null; collect stdout. */
static int run_eval(struct parse_ctx *c, int line, const char *cmd, struct buf *out,
                    struct result *r)
{
    bool too_big;
    int status;
    if (run_command_output(cmd, MAX_TEXT_SIZE, out, &too_big, &status) != 0) {
        result_set(r, RC_OSERR, _("%s:%d: cannot run eval command \"%s\": %s"), c->file, line,
                   cmd, strerror(errno));
        return -1;
    }
    if (too_big) {
        result_set(r, RC_CONFIG, _("%s:%d: eval command \"%s\" printed too much output"),
                   c->file, line, cmd);
        return -1;
    }
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (status != -1 && WIFSIGNALED(status))
            result_set(r, RC_CONFIG, _("%s:%d: eval command \"%s\" was killed by signal %d"),
                       c->file, line, cmd, WTERMSIG(status));
        else
            result_set(r, RC_CONFIG, _("%s:%d: eval command \"%s\" failed with exit status %d"),
                       c->file, line, cmd, status == -1 ? -1 : WEXITSTATUS(status));
        return -1;
    }
    return 0;
}

static int cmd_eval(struct parse_ctx *c, int line, const char *arg, struct result *r)
{
    if (c->depth >= MAX_EVAL_DEPTH) {
        result_set(r, RC_CONFIG, _("%s:%d: eval nested too deeply"), c->file, line);
        return -1;
    }
    struct buf out = BUF_INIT;
    int rc = run_eval(c, line, arg, &out, r);
    if (rc == 0 && out.len && memchr(out.data, '\0', out.len)) {
        result_set(r, RC_CONFIG, _("%s:%d: output of eval command \"%s\" contains a NUL byte"),
                   c->file, line, arg);
        rc = -1;
    }
    if (rc == 0) {
        c->depth++;
        rc = parse_text(c, out.data ? out.data : "", out.len, line, r);
        c->depth--;
    }
    secure_wipe(out.data, out.len);
    buf_free(&out);
    return rc;
}

static int dispatch(struct parse_ctx *c, int line, const char *cmd, const char *arg,
                    struct result *r)
{
    if (strcmp(cmd, "defaults") == 0) {
        if (*arg) {
            result_set(r, RC_CONFIG, _("%s:%d: command \"%s\" does not take an argument"),
                       c->file, line, cmd);
            return -1;
        }
        c->cur = c->defaults;
        return 0;
    }
    if (strcmp(cmd, "account") == 0)
        return cmd_account(c, line, arg, r);
    if (strcmp(cmd, "eval") == 0) {
        if (!*arg) {
            result_set(r, RC_CONFIG, _("%s:%d: command \"%s\" needs an argument"), c->file,
                       line, cmd);
            return -1;
        }
        if (c->no_eval) {
            result_set(r, RC_CONFIG, _("%s:%d: command \"%s\" is not allowed here"), c->file,
                       line, cmd);
            return -1;
        }
        return cmd_eval(c, line, arg, r);
    }
    if (!config_is_setting(cmd)) {
        result_set(r, RC_CONFIG, _("%s:%d: unknown command \"%s\""), c->file, line, cmd);
        return -1;
    }
    if (!c->cur) {
        result_set(r, RC_CONFIG,
                   _("%s:%d: command \"%s\" must follow an \"account\" or \"defaults\" line"),
                   c->file, line, cmd);
        return -1;
    }
    return config_setting_apply(c, line, cmd, cmd, arg, r);
}

/* Split one line into command and argument. Returns 1 for a command,
 * 0 for an empty/comment line, -1 on error (r set). *cmd and *arg are
 * allocated; *arg is wiped by the caller. */
static int split_line(struct parse_ctx *c, int line, const char *s, size_t len, char **cmd,
                      struct buf *arg, struct result *r)
{
    const char *end = s + len;
    for (const char *p = s; p < end; p++) {
        unsigned char ch = (unsigned char)*p;
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
            result_set(r, RC_CONFIG, _("%s:%d: control character in line"), c->file, line);
            return -1;
        }
    }
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    if (s == end || *s == '#')
        return 0;
    const char *ce = s;
    while (ce < end && *ce != ' ' && *ce != '\t')
        ce++;
    *cmd = xstrndup(s, (size_t)(ce - s));
    s = ce;
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    /* The argument may be a password: its buffer is sized once for the
     * longest it can be, so that growing it leaves no copy in freed
     * memory (the caller wipes it). */
    arg->data = xmalloc((size_t)(end - s) + 1);
    arg->cap = (size_t)(end - s) + 1;
    buf_puts(arg, "");
    if (s < end && *s == '"') {
        s++;
        bool closed = false;
        while (s < end) {
            if (*s == '\\' && s + 1 < end && (s[1] == '"' || s[1] == '\\')) {
                buf_putc(arg, s[1]);
                s += 2;
            } else if (*s == '"') {
                closed = true;
                s++;
                break;
            } else {
                buf_putc(arg, *s++);
            }
        }
        if (!closed) {
            result_set(r, RC_CONFIG, _("%s:%d: unterminated quoted argument of command \"%s\""),
                       c->file, line, *cmd);
            return -1;
        }
        while (s < end && (*s == ' ' || *s == '\t'))
            s++;
        if (s < end && *s != '#') {
            result_set(r, RC_CONFIG, _("%s:%d: unexpected text after the quoted argument of command \"%s\""),
                       c->file, line, *cmd);
            return -1;
        }
        return 1;
    }
    /* unquoted: a '#' after whitespace starts a comment */
    const char *ae = s;
    while (ae < end && !(*ae == '#' && (ae == s || ae[-1] == ' ' || ae[-1] == '\t')))
        ae++;
    while (ae > s && (ae[-1] == ' ' || ae[-1] == '\t'))
        ae--;
    buf_append(arg, s, (size_t)(ae - s));
    return 1;
}

/* Parse text; fixed_line > 0 means every line reports that line number
 * (output of eval). */
static int parse_text(struct parse_ctx *c, const char *text, size_t len, int fixed_line,
                      struct result *r)
{
    const char *p = text, *end = text + len;
    int lineno = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        size_t ll = (size_t)(le - p);
        if (ll > 0 && p[ll - 1] == '\r')
            ll--;
        lineno++;
        int line = fixed_line > 0 ? fixed_line : lineno;
        char *cmd = NULL;
        struct buf arg = BUF_INIT;
        int rc = split_line(c, line, p, ll, &cmd, &arg, r);
        if (rc > 0)
            rc = dispatch(c, line, cmd, arg.data, r);
        free(cmd);
        secure_wipe(arg.data, arg.cap);
        buf_free(&arg);
        if (rc < 0)
            return -1;
        p = nl ? nl + 1 : end;
    }
    return 0;
}

int config_parse_file_text(struct config *cfg, const char *text, size_t len,
                           const char *filename, bool *saw_password, struct result *r)
{
    return config_parse_text_flags(cfg, text, len, filename, 0, saw_password, r);
}

int config_parse_text_flags(struct config *cfg, const char *text, size_t len,
                            const char *filename, unsigned flags, bool *saw_password,
                            struct result *r)
{
    struct parse_ctx c = { cfg, filename, config_account_new(), NULL, false, 0, false,
                           (flags & CONFIG_PARSE_NO_EVAL) != 0 };
    int rc = parse_text(&c, text, len, 0, r);
    config_account_free(c.defaults);
    if (saw_password)
        *saw_password = c.saw_password;
    return rc;
}

int config_parse_string(struct config *cfg, const char *text, const char *filename,
                        struct result *r)
{
    return config_parse_file_text(cfg, text, strlen(text), filename, NULL, r);
}
