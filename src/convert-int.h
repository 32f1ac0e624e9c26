/*
 * convert-int.h - private to convert*.c: the pieces of the conversion
 * that are pure functions on memory, shared between the MIME walker
 * (convert.c, convert-mime.c) and the encoders (convert-encode.c,
 * convert-header.c). Each one is unit-tested and fuzzed on its own.
 */
#ifndef SMTPFWD_CONVERT_INT_H
#define SMTPFWD_CONVERT_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "convert.h"
#include "result.h"
#include "util.h"

/* RFC 5322 2.1.1: octets of a line, without its CRLF. */
#define CONVERT_LINE_MAX 998

/* ---- convert-encode.c: body encodings and character checks ---------- */

/* Quoted-printable (RFC 2045 6.7) of one line of text (n octets, no line
 * end in it): appended to out with soft line breaks ("=" CRLF) so that
 * no encoded line has more than 76 characters, then the line's CRLF.
 * Encoded: '=', octets >= 0x80, control octets other than TAB, and a
 * space or TAB that ends the line; an "=XX" is never split. */
void convert_qp_line(struct buf *out, const char *line, size_t n);

/* Base64 (RFC 2045 6.8) of n octets, appended to out as lines of 76
 * characters, each ending in CRLF. A body given in pieces must be cut
 * at multiples of 57 octets (each piece but the last), so that the
 * lines are the same as in one piece. */
void convert_base64(struct buf *out, const void *p, size_t n);

/* True when p[0..n) is well-formed UTF-8 (RFC 3629: no overlong form, no
 * surrogate, nothing above U+10FFFF). */
bool convert_utf8_valid(const char *p, size_t n);

/* ---- convert-header.c: one header field --------------------------- */

/* One header field of a message or of a MIME part: field[0..n) is the
 * whole field as it is in the message (name, colon, value, its folded
 * lines joined by CRLF), without its final CRLF. It needs changing when
 * it has 8-bit octets and either smtputf8 is false or they are not
 * valid UTF-8, or when one of its lines is over CONVERT_LINE_MAX octets.
 * Appends to out the field as it must be sent, ending in CRLF: as it is
 * (returns 0), or rewritten (returns 1): unstructured fields (Subject,
 * Comments, X-*, any field not known to be structured) as RFC 2047
 * encoded-words; address fields (From, To, Cc, Bcc, Reply-To, Sender,
 * the Resent-* ones, ...) with display names, group names and comments
 * as encoded-words and domains as A-labels, their structure kept;
 * Content-Type and Content-Disposition parameters as RFC 2231; long
 * lines folded at whitespace (lines of at most 78 characters where the
 * text allows, never more than CONVERT_LINE_MAX). Returns -1 with r set
 * (RC_DATAERR, naming the field) when it cannot be: an address with a
 * non-ASCII local part, 8-bit octets in a field without an encoded form
 * (Message-ID, In-Reply-To, References, Date, ...), a line that has no
 * place to fold; nothing is appended then. */
int convert_header_field(struct buf *out, const char *field, size_t n, bool smtputf8,
                         struct result *r);

#endif
