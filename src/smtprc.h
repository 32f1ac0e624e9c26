/*
 * smtprc.h - the ~/.smtprc parser: msmtprc syntax and semantics, account
 * inheritance and selection, the permission check for files that hold a
 * password, and the aliases file.
 *
 * Syntax (as msmtp): one command per line, "command argument"; '#' starts
 * a comment outside quotes when it begins a word (at the start of the
 * line or after whitespace: `password ab#cd` keeps its '#', as in msmtp);
 * arguments may be double-quoted with \" and \\ escapes (a quoted
 * argument must be the whole argument); an empty argument is written "";
 * trailing whitespace and a CR before the LF are dropped; other control
 * characters are refused. `defaults` starts a block whose
 * settings apply to every account defined after it; `account NAME` starts
 * an account that starts from the current defaults; `account NAME : P1, P2`
 * also copies every setting made in P1 then P2 (in order) before its own;
 * `account default : NAME` makes "default" an alias-like copy of NAME.
 * `eval CMD` runs CMD with /bin/sh (no stdin) and parses its standard
 * output as configuration lines in place of the eval line.
 * Boolean arguments: on/off (also "" = on for msmtp compatibility).
 *
 * Lookup order: the system file SYSCONFDIR/smtprc is read first if it
 * exists (it only provides defaults and accounts; the environment
 * variable SMTPFWD_SYSCONF, when set, names the system file to read
 * instead, and an empty value means "no system file": used by the tests
 * for isolation). Each file starts with fresh defaults; an account in the
 * user file replaces a system account of the same name. Then -C FILE if given,
 * else ~/.smtprc, else $XDG_CONFIG_HOME/smtpfwd/config (or
 * ~/.config/smtpfwd/config). "~" is $HOME, as in msmtp (util_home():
 * the user database only when HOME is unset, empty or not absolute).
 *
 * msmtp's command-line options that stand for commands (--port=,
 * --tls=off, -X FILE, ...) arrive as struct config_setting and are applied
 * by config_apply_settings() to the chosen account, after selection and
 * inheritance, with the same validation as the file's commands; errors
 * then name the option and have class RC_USAGE (exit 64). With --host no
 * file is read at all: config_from_settings() builds the one account.
 *
 * `domain` expands %H and %C to this host's name (fully qualified when
 * the resolver knows it) and must then be a valid EHLO argument.
 * `tls_fingerprint` takes hex pairs with ':' or one run of hex digits
 * (SHA-256 or SHA-1, optionally after "sha256:"/"sha1:") and is stored as
 * "AB:CD:...".
 *
 * Errors name FILE:LINE and have class RC_CONFIG (exit 78). A user file
 * that holds a `password` and is readable by group/others or owned by
 * another user is refused (RC_CONFIG), checked with fstat on the open fd.
 * A password that only comes from `eval` output does not count; errors
 * inside eval output are reported at the line of the `eval`.
 */
#ifndef SMTPFWD_SMTPRC_H
#define SMTPFWD_SMTPRC_H

#include <stdbool.h>
#include <stdio.h>
#include "result.h"

/* Tri-state for set_*_header commands: auto (add when missing), on, off. */
enum hdr_mode { HDR_AUTO = 0, HDR_ON, HDR_OFF };

/* Queue modes (the spool: queue.h). */
enum queue_mode { QUEUE_ON_FAILURE = 0, QUEUE_OFF, QUEUE_ALWAYS };

struct account {
    char *name;
    char *file;                  /* where it was defined */
    int line;

    /* connection */
    char *host;                  /* NULL = not set (error at delivery) */
    int port;                    /* 0 = default (587, or 465 with tls on + starttls off, 25 with tls off) */
    char *source_ip;
    char *proxy_host;            /* SOCKS5 proxy (socks.h); NULL: connect directly */
    int proxy_port;              /* 0 = 1080 (config_proxy_port) */
    char *proxy_user;            /* RFC 1929 username; NULL: no proxy authentication */
    char *proxy_password;        /* secret: wiped on free */
    char *proxy_passwordeval;
    char *socket;                /* local socket path instead of host */
    int timeout;                 /* seconds; 0 = RFC 5321 defaults */
    char *protocol;              /* "smtp" (default) or "lmtp" */
    char *domain;                /* EHLO argument; NULL = "localhost" (msmtp) */

    /* envelope and headers */
    char *from;                  /* envelope-from, may contain %U %H %C %M */
    char *from_full_name;
    bool allow_from_override;    /* default on: -f overrides from */
    char *dsn_notify;            /* "off" or list, NULL = unset */
    char *dsn_return;            /* "off", "headers", "full", NULL = unset */
    enum hdr_mode set_from_header;
    enum hdr_mode set_date_header;   /* HDR_ON treated as HDR_AUTO */
    enum hdr_mode set_msgid_header;  /* HDR_ON treated as HDR_AUTO */
    char *set_to_header;             /* msmtp: not supported -> NULL */
    bool remove_bcc_headers;     /* default on */
    bool undisclosed_recipients; /* default off */
    char *aliases;               /* aliases file path (~ expanded) */

    /* authentication */
    char *auth;                  /* "off" (default), "on", or a mechanism name (lowercase) */
    char *user;
    char *password;              /* secret: wiped on free */
    char *passwordeval;
    char *ntlmdomain;
    bool allow_plaintext_auth;   /* default off: PLAIN/LOGIN without TLS only when on */

    /* OAuth2 (oauth2.h): the bearer token of auth oauthbearer/xoauth2
     * comes from smtpfwd itself when oauth2_provider is set */
    char *oauth2_provider;       /* "gmail", "microsoft", "generic"; NULL = off (the token
                                    comes from the password sources, e.g. passwordeval) */
    char *oauth2_client_id;
    char *oauth2_client_secret;  /* secret: wiped on free */
    char *oauth2_client_secret_eval;
    char *oauth2_scope;          /* NULL = the provider's */
    char *oauth2_auth_endpoint;  /* NULL = the provider's */
    char *oauth2_token_endpoint; /* NULL = the provider's */
    char *oauth2_device_endpoint;/* NULL = the provider's */
    char *oauth2_tls_trust_file; /* CA file for the HTTPS endpoints; NULL/"system" = the system's */
    char *oauth2_token_store;    /* "auto" (NULL: keyring, else file), "keyring", "file" */

    /* TLS */
    bool tls;                    /* default ON (differs from msmtp) */
    bool tls_starttls;           /* default on */
    char *tls_trust_file;        /* "system" or path */
    char *tls_crl_file;
    char *tls_fingerprint;
    char *tls_key_file;
    char *tls_cert_file;
    bool tls_certcheck;          /* default on */
    char *tls_priorities;
    char *tls_host_override;
    int tls_min_dh_prime_bits;

    /* logging */
    char *logfile;
    char *logfile_time_format;
    char *syslog;                /* NULL = off; facility name like "LOG_MAIL" */

    /* spool */
    enum queue_mode queue;
    char *queue_dir;
    long queue_lifetime;         /* seconds; default 5 days */
    long queue_max_backoff;      /* seconds; default 1 hour */

    /* protocol */
    bool chunking;               /* default on: BDAT when the server offers CHUNKING
                                    and PIPELINING */
    bool tls_session_cache;      /* default on: resume TLS sessions across runs */

    /* failover (failover.h) */
    char *fallback;              /* "NAME[,NAME...]": accounts tried in turn when the
                                    smarthost fails for now before taking the message;
                                    NULL = none */

    /* filled in by smtprc.c */
    char *maildomain;            /* msmtp's obsolete `maildomain` (for %M); NULL = unset */
    unsigned long long set_mask; /* internal: which settings were set explicitly
                                    (by the defaults in force or a line); used for
                                    inheritance from parent accounts */
};

struct config {
    struct account **accounts;   /* owned, in definition order */
    size_t naccounts;
    char *user_file;             /* the user file that was read, or NULL */
    /* filled in by smtprc.c */
    char *system_file;           /* the system file that was read, or NULL */
};

/* Load configuration following the lookup order above. path is -C FILE
 * or NULL. A missing user file is not an error (the system file may
 * define accounts); a missing -C FILE is. Each account of a file is
 * checked once the file is read (settings that depend on each other: an
 * account with oauth2_provider needs auth oauthbearer or xoauth2, https://
 * endpoints with a host, one source of the client secret; RC_CONFIG
 * naming the account's FILE:LINE). Returns 0 or -1 with r set. */
int config_load(const char *path, struct config **out, struct result *r);

/* The user file config_load would read without -C: ~/.smtprc when it
 * exists, else $XDG_CONFIG_HOME/smtpfwd/config when that exists, else
 * ~/.smtprc (where a new file goes). Caller frees. */
char *config_user_file_path(void);

/* Parse configuration text from a named source, as config_load parses
 * each file, without the checks of config_load (the permissions, the
 * settings that depend on each other): for the unit tests. */
int config_parse_string(struct config *cfg, const char *text, const char *filename,
                        struct result *r);
struct config *config_new(void);

/* Find an account by exact name, or NULL. */
const struct account *config_find(const struct config *cfg, const char *name);

/* Choose the account: by name (-a) if given; else the first account whose
 * `from` matches envelope_from (exact, case-insensitive in the domain;
 * glob with * and ?; or equal after removing a +detail from the local
 * part); else the account named "default". Returns NULL with r set
 * (RC_CONFIG) when nothing fits, saying why. */
const struct account *config_select(const struct config *cfg, const char *name,
                                    const char *envelope_from, struct result *r);

/* Print every setting of the account in "name = value" lines for
 * --pretend; the password is shown as "*****" when set. */
void config_print_account(FILE *out, const struct account *a);

/* The account names of a `fallback` value ("a, b,c": commas, blanks
 * around them ignored) as a new NULL-terminated array of new strings
 * (the caller frees each string, then the array), *n set;
 * NULL with *n = 0 for NULL or a value with an empty name. */
char **config_fallback_names(const char *value, size_t *n);

/* Check every account's `fallback`: each name must be an account of cfg
 * (an account naming itself is allowed and skipped at delivery). Made by
 * config_load once every file is read. Returns 0, or -1 with r set
 * (RC_CONFIG "FILE:LINE: account NAME: fallback ...": the line of the
 * account). */
int config_check_fallbacks(const struct config *cfg, struct result *r);

/* Effective port for the account (applies the defaults above). */
int config_port(const struct account *a);

/* Effective port of the account's SOCKS5 proxy: proxy_port, else 1080. */
int config_proxy_port(const struct account *a);

void config_free(struct config *cfg);

/* One setting given on the command line: the configuration command it
 * stands for (e.g. "tls_starttls", or an obsolete spelling such as
 * "keepbcc"), its argument ("" is the empty argument, which unsets a
 * string as in a file), and the option as the user wrote it (for
 * messages). The strings are not owned. */
struct config_setting {
    const char *command;
    const char *value;
    const char *option;
};

/* The name and file of the account config_from_settings() builds. */
#define CONFIG_COMMAND_LINE "(command line)"

/* Apply n settings in order to the account called name in cfg (it must
 * exist: the one config_select() chose). When one of them changes how to
 * reach the server (host, port, tls..., auth, user, domain, ...), the
 * account's queue becomes off for this run: a later flush would use the
 * file's settings. The account is then checked as config_load checks
 * one (a --auth= that does not fit its oauth2_provider, ...). Returns 0,
 * or -1 with r set: RC_USAGE "invalid --port \"x\" (expected ...)",
 * "account NAME, with the command-line options: ...". */
int config_apply_settings(struct config *cfg, const char *name, const struct config_setting *s,
                          size_t n, struct result *r);

/* A configuration of one account, CONFIG_COMMAND_LINE, made of the
 * defaults and the n settings only (msmtp's --host: no file is read). It
 * does not use the spool (queue off): a later flush could not know its
 * settings. Returns 0, or -1 with r set (RC_USAGE). */
int config_from_settings(const struct config_setting *s, size_t n, struct config **out,
                         struct result *r);

/* Aliases file (msmtp format): "local: addr, addr" lines, '#' comments,
 * "default: addr" as fallback. Looks up the local name (case-insensitive)
 * and APPENDS the expansion to out (a list of mailboxes). Returns 1 if
 * an alias (or default) applied, 0 if none, -1 with r set on read or
 * parse errors (RC_CONFIG with FILE:LINE). */
struct addr_list;
int config_alias_lookup(const char *aliases_file, const char *local,
                        struct addr_list *out, struct result *r);

#endif
