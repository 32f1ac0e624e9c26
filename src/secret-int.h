/*
 * secret-int.h - what the pieces of the password lookup share: secret.c
 * (the order of the sources, passwordeval, guarding the process),
 * secret-netrc.c, secret-prompt.c and secret-keyring.c. Not for other
 * modules: they use secret.h.
 */
#ifndef SMTPFWD_SECRET_INT_H
#define SMTPFWD_SECRET_INT_H

#include <stdbool.h>

#include "i18n.h"
#include "result.h"

struct account;

/* s, or "(none)" (translated) when it is NULL, for messages. */
static inline const char *secret_or_none(const char *s)
{
    return s ? s : _("(none)");
}

/* secret-netrc.c: read the netrc file at path (at most 1 MiB, a regular
 * file) and search it with secret_netrc_find. Returns the password
 * (caller secret_free()s it) or NULL: no file, no matching entry, or a
 * file that cannot be used (a warning, never an error). Warns when the
 * file that held the password can be read by others. */
char *secret_netrc_lookup(const char *path, const char *host, const char *user);

/* secret-prompt.c: ask for the account's password on the controlling
 * terminal (/dev/tty) without echo. Returns false when there is no
 * terminal (nothing asked, r untouched); else true, with *pw the
 * password (caller secret_free()s it) or NULL with r set: RC_USAGE
 * (interrupted, longer than 4095 bytes, end of input), RC_OSERR (the
 * terminal cannot be read). The terminal settings are restored and a
 * signal that arrived during the prompt is raised again afterwards. */
bool secret_prompt_password(const struct account *a, char **pw, struct result *r);

/* secret-prompt.c: the new password for --store-password: asked twice
 * on the terminal when standard input is one, else the first line of
 * standard input. Returns it (caller secret_free()s it) or NULL with r
 * set: RC_USAGE (no match, empty, too long, interrupted), RC_IOERR or
 * RC_OSERR (cannot read). */
char *secret_prompt_new_password(const struct account *a, struct result *r);

/* secret-keyring.c: the password for a->user at a->host (both set) in
 * the Secret Service keyring, through libsecret loaded on first use; or
 * NULL when there is none, no keyring, libsecret cannot be loaded, or
 * smtpfwd was built without it (-v says why). The caller secret_free()s
 * it. */
char *secret_keyring_lookup(const struct account *a);

#endif
