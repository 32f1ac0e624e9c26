/*
 * convert.h - making a message acceptable to the server in front of it,
 * at delivery time, without ever breaking a signature.
 *
 * The spool and the intake file keep the message as it came; each
 * delivery asks convert_for_server() for the data to send to this
 * server (after EHLO, so its capabilities are known):
 *
 *  - 8-bit octets where the server did not offer 8BITMIME (RFC 6152
 *    forbids sending them), or whenever -B 7BIT was given: the body is
 *    re-encoded. A message without MIME header fields gets MIME-Version,
 *    Content-Type: text/plain; charset=utf-8 (unknown-8bit when the
 *    octets are not valid UTF-8; us-ascii when they are all ASCII) and
 *    Content-Transfer-Encoding: quoted-printable; in a MIME message each
 *    leaf part that needs it is re-encoded, text parts as quoted-printable,
 *    anything else as base64, walking multipart bodies by their
 *    boundaries and message/rfc822 parts as messages of their own.
 *  - Lines over 998 octets (RFC 5322 2.1.1), whatever the server offers:
 *    the part is re-encoded the same way; a long header field is folded
 *    at whitespace (or encoded when it has none).
 *  - 8-bit octets in header fields where the server did not offer
 *    SMTPUTF8 (or that are not valid UTF-8, which RFC 6532 requires):
 *    RFC 2047 encoded-words for unstructured fields, display names and
 *    comments, RFC 2231 for MIME parameters, A-labels for domains; a
 *    non-ASCII local part cannot be converted: refused (RC_DATAERR).
 *  - Never a signature broken: a message with DKIM-Signature or
 *    ARC-Message-Signature, and a multipart/signed, multipart/encrypted
 *    or application/pkcs7-mime part, are sent as they are when they can
 *    be, and refused (RC_DATAERR, naming the signature and what would
 *    have to change) when they would need conversion.
 *
 * Nothing is read when the message facts say nothing can need
 * conversion (no 8-bit octet, no line over 998 octets): the common
 * path costs one test.
 */
#ifndef SMTPFWD_CONVERT_H
#define SMTPFWD_CONVERT_H

#include <stdbool.h>

#include "result.h"

struct message;

/* What the server in front of us takes. For -B 7BIT (message.force_7bit)
 * the caller passes both false: the message goes as pure 7-bit ASCII. */
struct convert_target {
    bool eightbitmime;        /* 8-bit octets may stay in the body (BODY=8BITMIME) */
    bool smtputf8;            /* UTF-8 may stay in header fields (SMTPUTF8) */
};

/* The data to send. */
struct convert_output {
    int fd;                   /* the message's own fd, or a new private temporary
                                 file (unlinked, 0600) when converted */
    long long offset;         /* where the data starts in fd */
    long long size;           /* octets to send */
    bool body_8bit;           /* 8-bit octets remain in the data sent, header
                                 fields included: declare BODY=8BITMIME */
    bool header_utf8;         /* UTF-8 remains in header fields: declare SMTPUTF8 */
    bool converted;           /* fd is a new file, closed by convert_output_free */
    char *summary;            /* what was changed, one line for -v and the log
                                 ("body re-encoded as quoted-printable, 2 header
                                 fields encoded"); NULL when nothing; owned */
};
#define CONVERT_OUTPUT_INIT { -1, 0, 0, false, false, false, NULL }

/* True when m may need converting for some server: an octet >= 0x80, a
 * line over 998 octets (or its longest line unknown), or force_7bit.
 * No I/O. */
bool convert_may_need(const struct message *m);

/* Fill *out with the data to send m to a server that takes what t says.
 * When nothing needs changing, out points at m's own file (converted
 * false; the facts body_8bit and header_utf8 still say what to
 * declare). Otherwise the converted message is written to a new private
 * temporary file in tmpdir (NULL: $TMPDIR or /tmp). Returns 0, or -1
 * with r set: RC_DATAERR when the message cannot be converted (a
 * signature, a non-ASCII local part, 8-bit octets in a field that has
 * no encoded form, a header line that cannot be folded, 8-bit octets in
 * a base64 part or a multipart preamble), the sentence naming why;
 * RC_CANTCREAT / RC_IOERR for the temporary file. */
int convert_for_server(const struct message *m, const struct convert_target *t,
                       const char *tmpdir, struct convert_output *out, struct result *r);

/* Release what out owns (the converted file, the summary); out is left
 * as CONVERT_OUTPUT_INIT. */
void convert_output_free(struct convert_output *out);

#endif
