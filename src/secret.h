/*
 * secret.h - where a password comes from, in this order: the account's
 * `password`; `passwordeval` (run with /bin/sh, no stdin; non-zero exit
 * or empty output is RC_CONFIG naming the command; one trailing newline
 * removed); the Secret Service keyring through libsecret, looked up by
 * the attributes host, service=smtp, user (what msmtp and secret-tool
 * use, so a password stored for msmtp is found); ~/.netrc (machine HOST
 * login USER password P); a prompt on the terminal (/dev/tty) when there
 * is one. The keyring is loaded only when a lookup reaches it.
 * Returned passwords are wiped by secret_free().
 */
#ifndef SMTPFWD_SECRET_H
#define SMTPFWD_SECRET_H

#include "result.h"

struct account;

/* The password for the account; NULL with r set when none can be found
 * (RC_CONFIG: "no password for account X (user U at HOST); set
 * "password" or "passwordeval", or store one with: smtpfwd
 * --store-password X") or a source failed. */
char *secret_get_password(const struct account *a, struct result *r);

/* The password for the account's SOCKS5 proxy user (proxy_user): the
 * account's `proxy_password`, else `proxy_passwordeval` (run as
 * secret_passwordeval() runs passwordeval), else ~/.netrc (machine
 * PROXY_HOST login PROXY_USER). NULL with r set when none is found
 * (RC_CONFIG) or the command failed. The caller secret_free()s it. */
char *secret_get_proxy_password(const struct account *a, struct result *r);

/* Keep this process's memory out of core files and away from debuggers
 * of the same user (RLIMIT_CORE 0, PR_SET_DUMPABLE 0) from here to its
 * end: called before anything reads a password, a token or a TLS
 * session secret. Cannot fail in a way that matters (best effort). */
void secret_guard_process(void);

/* --store-password: read a password from the terminal (twice, no echo)
 * and store it in the keyring for the account's host/user. */
int secret_store_password(const struct account *a, struct result *r);

/* --forget-password: remove it from the keyring. */
int secret_forget_password(const struct account *a, struct result *r);

/* ---- The keyring as a store of other secrets (secret-keyring.c) ----
 * Items of msmtp's schema (attributes host, service, user), e.g. the
 * OAuth2 refresh token of an account (service "oauth2"). libsecret is
 * loaded on first use. */

/* Look up the secret of user at host for service. Returns 1 with *out
 * set (caller secret_free()s it), 0 when the keyring holds none (*out
 * NULL), -1 with r set (RC_UNAVAILABLE: libsecret cannot be loaded,
 * there is no Secret Service, built without keyring support). */
int secret_keyring_find(const char *host, const char *service, const char *user, char **out,
                        struct result *r);

/* Store (or replace) the secret of user at host for service, under
 * label. Returns 0, or -1 with r set (RC_UNAVAILABLE, "PURPOSE: why"). */
int secret_keyring_store(const char *host, const char *service, const char *user,
                         const char *label, const char *secret, const char *purpose,
                         struct result *r);

/* Remove it. Returns 1 when removed, 0 when there was none, -1 with r
 * set (RC_UNAVAILABLE, "PURPOSE: why"). */
int secret_keyring_clear(const char *host, const char *service, const char *user,
                         const char *purpose, struct result *r);

/* ---- The pieces, for --pretend, the unit tests and the fuzz target ----
 * (secret_lookup, secret_passwordeval: secret.c; secret_netrc_find:
 * secret-netrc.c) */

/* The password sources, as bits for secret_lookup(). */
enum secret_source {
    SECRET_SRC_PASSWORD = 1 << 0,   /* the account's `password` */
    SECRET_SRC_EVAL     = 1 << 1,   /* `passwordeval` */
    SECRET_SRC_KEYRING  = 1 << 2,   /* libsecret (nothing when built without it) */
    SECRET_SRC_NETRC    = 1 << 3,   /* the netrc file */
    SECRET_SRC_PROMPT   = 1 << 4,   /* /dev/tty */
    SECRET_SRC_ALL      = 0x1f,
};

/* secret_get_password() restricted to the given sources, reading
 * netrc_path instead of ~/.netrc when it is not NULL. secret_get_password
 * is secret_lookup(a, SECRET_SRC_ALL, NULL, r). The caller frees the
 * result with secret_free(). */
char *secret_lookup(const struct account *a, unsigned sources, const char *netrc_path,
                    struct result *r);

/* Run a passwordeval command: /bin/sh -c CMD, stdin /dev/null, stderr
 * passed through, stdout read fully (at most 64 KiB). One trailing "\n"
 * or "\r\n" is removed. Returns the password (caller secret_free()s it),
 * or NULL with r set: RC_CONFIG when the command fails (exit status,
 * signal), prints nothing or prints too much; RC_OSERR when it cannot be
 * started. */
char *secret_passwordeval(const char *cmd, struct result *r);

/* Search the text of a netrc file for the password of user at host:
 * tokens machine NAME, default, login NAME, password P, account A,
 * macdef NAME (its body, up to an empty line, is skipped); a token may be
 * double-quoted ("a b", with \" and \\ escapes); '#' where a keyword is
 * expected starts a comment to the end of the line. An entry matches when
 * its machine equals host (ASCII case-insensitive) and its login equals
 * user or it has no login (user NULL matches any login); a `default`
 * entry is used only when no machine entry matches. Returns the password
 * (caller secret_free()s it) or NULL when no entry matches. */
char *secret_netrc_find(const char *text, const char *host, const char *user);

#endif
