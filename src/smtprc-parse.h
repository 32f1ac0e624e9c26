/*
 * smtprc-parse.h - private interface of the configuration module:
 * between smtprc.c (files, selection, --pretend listing, aliases),
 * smtprc-syntax.c (msmtprc syntax: lines, quoting, `defaults`,
 * `account`, `eval`) and smtprc-parse.c (the command table, validation,
 * account memory and inheritance, command-line settings). Not for other
 * modules: they use smtprc.h.
 */
#ifndef SMTPFWD_CONFIG_PARSE_H
#define SMTPFWD_CONFIG_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include "smtprc.h"
#include "result.h"

/* How a setting's argument is validated, stored and printed. */
enum config_ftype {
    CF_STR,        /* string; "" = unset (or error with CF_NEED_ARG) */
    CF_PATH,       /* string with ~ expansion */
    CF_TRUST,      /* path, or the word "system" */
    CF_SECRET,     /* password */
    CF_BOOL,       /* on/off, "" = on */
    CF_PORT,       /* 1..65535, "" = 0 (default) */
    CF_TIMEOUT,    /* "off" or seconds > 0 */
    CF_POSINT,     /* > 0, "" = 0 (unset) */
    CF_HDR3,       /* auto|on|off */
    CF_HDR2,       /* auto|off, "on" = auto */
    CF_CHOICE,     /* one of a word list, stored lowercase */
    CF_AUTH,       /* CF_CHOICE from sasl_auth_values(): on, off or a mechanism */
    CF_DSN_NOTIFY, /* off|never|success,failure,delay */
    CF_SYSLOG,     /* on|off|LOG_USER|LOG_MAIL|LOG_LOCAL0..7 */
    CF_FPR,        /* SHA-256/SHA-1 fingerprint, stored as "AB:CD:..." */
    CF_QUEUE,      /* off|on-failure|always */
    CF_DURATION,   /* N[smhd] */
    CF_EHLO,       /* EHLO argument: %H and %C expanded, then validated */
};

#define CF_NEED_ARG 1u
#define CF_CONNECTION 2u   /* how to reach and talk to the server (not recorded in a
                              spool entry) */

struct config_field {
    const char *name;
    enum config_ftype type;
    size_t off;
    unsigned flags;
    const char *const *choices;   /* CF_CHOICE */
    const char *empty;            /* CF_CHOICE: value stored for "" (NULL = unset) */
};

/* Every setting, in the order of doc/ARCHITECTURE.md's command list (the
 * --pretend order); the index of an entry is its bit in set_mask. */
extern const struct config_field config_fields[];
extern const size_t config_nfields;

/* Parse one file's text (len bytes, may contain no NUL) with fresh
 * defaults. *saw_password (may be NULL) tells whether a `password` line
 * appeared in the text itself (not in eval output). Returns 0 or -1 with
 * r set (RC_CONFIG, "FILE:LINE: ..."). */
int config_parse_file_text(struct config *cfg, const char *text, size_t len,
                           const char *filename, bool *saw_password, struct result *r);

/* config_parse_file_text() with flags. CONFIG_PARSE_NO_EVAL: an `eval`
 * line is an error ("FILE:LINE: command "eval" is not allowed here")
 * instead of running a command; for the fuzz target, which must never run
 * one. The program itself never sets it. */
#define CONFIG_PARSE_NO_EVAL 1u
int config_parse_text_flags(struct config *cfg, const char *text, size_t len,
                            const char *filename, unsigned flags, bool *saw_password,
                            struct result *r);

/* ---- between smtprc-syntax.c and smtprc-parse.c ---- */

/* The state of one parse: of a file's text (file set), or of settings
 * from the command line (file NULL, cur the account they change). */
struct parse_ctx {
    struct config *cfg;
    const char *file;           /* NULL: settings from the command line */
    struct account *defaults;   /* owned */
    struct account *cur;        /* defaults, an account in cfg, or NULL */
    bool saw_password;          /* a `password` line in the file itself */
    int depth;                  /* eval nesting */
    bool connection_set;        /* a CF_CONNECTION field was set */
    bool no_eval;               /* CONFIG_PARSE_NO_EVAL: refuse `eval` */
};

/* A new account with smtpfwd's defaults and nothing set (set_mask 0),
 * no name. Free with config_account_free(). */
struct account *config_account_new(void);
/* Free an account and every string it owns (the password wiped); NULL
 * is fine. */
void config_account_free(struct account *a);
/* dst takes every setting src has set explicitly (deep copies); its
 * set_mask gains src's. Used for `account NAME : PARENT`. */
void config_account_inherit(struct account *dst, const struct account *src);
/* A new account with the defaults and src's explicit settings (what a
 * `defaults` block gives a new account); no name. */
struct account *config_account_copy(const struct account *src);
/* The checks of settings that depend on each other, made on an account
 * once it is complete (config_load: after its file; after the
 * command-line settings). socket and proxy_host exclude each other, so
 * do proxy_password and proxy_passwordeval. For an account with
 * oauth2_provider: auth
 * must be oauthbearer or xoauth2 (the token is for those mechanisms
 * only), an OAuth2 endpoint that is set must be https:// with a host,
 * and oauth2_client_secret and oauth2_client_secret_eval exclude each
 * other. Returns 0 or -1 with r set: RC_CONFIG naming the account's
 * FILE:LINE, or RC_USAGE when command_line (the options made the account
 * wrong). oauth2_client_init (oauth2-int.h) refuses the same accounts
 * with the same sentences when a token is needed; this is the earlier
 * report, before anything is read or sent. */
int config_account_check(const struct account *a, bool command_line, struct result *r);
/* The index of the account named name in cfg, or SIZE_MAX. */
size_t config_find_index(const struct config *cfg, const char *name);

/* True when cmd is a setting: a command of the table or an obsolete
 * spelling msmtp still accepts. */
bool config_is_setting(const char *cmd);
/* Apply the setting cmd (a command of the table or an obsolete spelling)
 * with argument arg to c->cur; shown names it in messages (the command,
 * or the command-line option). Returns 1 when cmd is not a setting at
 * all (nothing done), else 0, or -1 with r set: "FILE:LINE: invalid ..."
 * (RC_CONFIG) for a file, the message alone (RC_USAGE) for the command
 * line. */
int config_setting_apply(struct parse_ctx *c, int line, const char *cmd, const char *shown,
                         const char *arg, struct result *r);

#endif
