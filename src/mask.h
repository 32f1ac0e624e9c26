/*
 * mask.h - hiding credentials in what a server sends back. A server (or
 * a man in the middle before STARTTLS) may quote the AUTH exchange in a
 * reply ("535 rejected: AUTH PLAIN AGFsaWNl..."); every reply line goes
 * through mask_apply() before it becomes text anywhere (the -v
 * transcript, error messages, log lines, syslog, the spool entry's last
 * error, bounces, --serverinfo).
 *
 * What is covered: every exact string registered with mask_add() (the
 * session registers each credential line it sends: the AUTH initial
 * response and every answer to a 334), and for a password registered
 * with mask_add_password(): the password itself, its base64 form alone
 * ("base64 of the password"), and the part of its base64 encoding that
 * depends on the password only, at each of the three alignments it can
 * have inside longer base64 data (after 0, 1 or 2 other bytes of the
 * same 3-byte group, as in "\0user\0password" of AUTH PLAIN). Strings
 * shorter than MASK_MIN_LEN are not registered (masking them would
 * garble every reply and they reveal next to nothing). Not covered: other
 * encodings (hex, quoted-printable, a different base64 alphabet), a
 * secret cut in two by the end of a line.
 */
#ifndef SMTPFWD_MASK_H
#define SMTPFWD_MASK_H

#include <stddef.h>

#define MASK_MIN_LEN 3          /* shorter strings are not masked */
#define MASK_TEXT "*****"       /* what replaces a secret (cut to its length) */

/* The strings to hide; owned, wiped by mask_list_free. */
struct mask_list {
    char **items;
    size_t n;
};
#define MASK_LIST_INIT { NULL, 0 }

/* Register one exact string (a copy is kept). Empty, short and already
 * registered strings are ignored. */
void mask_add(struct mask_list *m, const char *secret);

/* Register a password: itself, its base64 encoding, and its base64 core
 * at the three alignments (see above). NULL is ignored. */
void mask_add_password(struct mask_list *m, const char *password);

/* Replace, in text[0..len) and in place, every occurrence of a
 * registered string by MASK_TEXT cut to that string's length (so the
 * text never grows); the longest string wins where several start at the
 * same place. Returns the new length; text is NUL-terminated when it
 * shrank. Linear in len times the number of strings. */
size_t mask_apply(const struct mask_list *m, char *text, size_t len);

/* Wipe and free every string. */
void mask_list_free(struct mask_list *m);

#endif
