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
 * (RC_CONFIG: "no password for account X; set password, passwordeval, or
 * store one with smtpfwd --store-password X") or a source failed. */
char *secret_get_password(const struct account *a, struct result *r);

/* --store-password: read a password from the terminal (twice, no echo)
 * and store it in the keyring for the account's host/user. */
int secret_store_password(const struct account *a, struct result *r);

/* --forget-password: remove it from the keyring. */
int secret_forget_password(const struct account *a, struct result *r);

#endif
