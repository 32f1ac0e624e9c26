/*
 * unistring-dl.h - Unicode normalization (NFC) of addresses through
 * libunistring, loaded at run time only when a string has a non-ASCII
 * octet.
 *
 * smtpfwd is not linked against libunistring. unistring_nfc() passes an
 * ASCII string through without loading anything; otherwise it dlopen()s
 * LIBUNISTRING_SONAME (found by configure: libunistring.so.2) through
 * dl_load() once and calls u8_normalize(UNINORM_NFC, ...). Without
 * HAVE_LIBUNISTRING (configure --without-libunistring) every string is
 * passed through unchanged.
 *
 * Must not: know what an address is (envelope.c decides what is
 * normalized and when, after address_validate_envelope has refused
 * octets that are not UTF-8 with its own clearer message).
 */
#ifndef SMTPFWD_UNISTRING_DL_H
#define SMTPFWD_UNISTRING_DL_H

#include <stdbool.h>

#include "result.h"

/* The NFC form of the NUL-terminated UTF-8 string s (RFC 6530 and RFC
 * 6532 ask for NFC in addresses), newly allocated (caller frees). An
 * ASCII string is copied as it is without loading the library. NULL with
 * r set: RC_LOCALTEMP when libunistring cannot be loaded ("cannot
 * normalize ...: cannot load the libunistring library ..."), RC_DATAERR
 * when s is not valid UTF-8, RC_OSERR when memory runs out. what is the text named in those messages
 * (e.g. the address). */
char *unistring_nfc(const char *s, const char *what, struct result *r);

/* True once libunistring has been loaded in this process (tests). */
bool unistring_dl_loaded(void);

/* The file name loaded (LIBUNISTRING_SONAME), or NULL when built
 * without libunistring; for messages and tests. */
const char *unistring_dl_soname(void);

#endif
