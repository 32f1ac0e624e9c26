/*
 * intake.h - turning a message's bytes into a struct message (message.h):
 * a private temporary file in canonical form, made before any connection.
 * The bytes come from standard input (intake_read) or from anywhere else
 * in pieces (intake_begin / intake_feed / intake_end: an SMTP DATA or
 * BDAT stream); both give the same message for the same bytes.
 *
 * Canonical form (doc/ARCHITECTURE.md contract 3): every line ends in CRLF (bare
 * CR, bare LF and CRLF all become CRLF), NUL bytes are dropped (counted
 * for a warning), a final line without newline gets one. Dot-stuffing is
 * NOT applied here (smtp.c does it on the wire).
 *
 * The header section (up to the first empty line; a first line that is
 * not a header ends it) is scanned: Bcc and Resent-Bcc are removed with
 * their continuation lines when remove_bcc is set; recipients for -t are
 * collected from To/Cc/Bcc or, if the message has Resent-* headers, from
 * the Resent-To/Resent-Cc/Resent-Bcc of the first (topmost) Resent block;
 * From, Date and Message-ID are added at the end of the header section
 * when missing and asked for.
 *
 * A header field over 1 MiB (with its continuation lines) or a header
 * section over 16 MiB refuses the message with RC_DATAERR, unless the
 * field is one that is removed anyway (Bcc/Resent-Bcc with remove_bcc,
 * To/Cc/Bcc with undisclosed and without collect_rcpts): that one is
 * dropped whole. A limit never turns header fields into body.
 *
 * When stdin is a terminal and dot_ends is set, a line holding a single
 * "." ends the message (sendmail without -i); from a pipe, never.
 */
#ifndef SMTPFWD_INTAKE_H
#define SMTPFWD_INTAKE_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>
#include "message.h"
#include "result.h"

/* Size of one read() from the input. Exposed so tests can place a CR at
 * the exact end of a block. */
#define INTAKE_BLOCK_SIZE (256 * 1024)

struct intake_opts {
    bool dot_ends;            /* a lone "." line ends input (tty without -i) */
    bool remove_bcc;          /* remove Bcc:, Resent-Bcc: */
    bool undisclosed;         /* replace To:, Cc: and Bcc: with one
                                 "To: undisclosed-recipients:;" (-t still reads them) */
    bool collect_rcpts;       /* -t: collect header recipients */
    const char *add_from;     /* full From header value to add if missing, or NULL */
    bool force_from;          /* set_from_header on: replace an existing From */
    bool add_date;            /* add Date: if missing */
    const char *msgid_domain; /* add Message-ID: <random@msgid_domain> if missing; NULL = don't */
    bool force_7bit;          /* -B 7BIT: the message is marked to go as 7-bit ASCII
                                 at every delivery (message.force_7bit) */
    const char *tmpdir;       /* where the temporary file lives; NULL = $TMPDIR or /tmp */
    size_t field_max;         /* octets of one header field; 0 = 1 MiB (tests set less) */
    size_t header_max;        /* octets of the header section; 0 = 16 MiB (tests set less) */
};

/* One message being read; made by intake_begin(), ended by intake_end()
 * or intake_abort(). */
struct intake;

/* Start a message with the options o (NULL: all off; o and its strings
 * must outlive the context). Creates the temporary file now; when that
 * fails, the failure (RC_CANTCREAT) is kept for intake_end() and the
 * input is still taken, so that the caller reads to its end. Never
 * returns NULL; the caller ends the context with intake_end() or
 * intake_abort(). */
struct intake *intake_begin(const struct intake_opts *o);

/* Take the next n octets of the message (raw: any line ends, NULs,
 * dot-stuffing already undone by an SMTP server). Chunk boundaries are
 * the caller's choice and never change the result: feeding a message in
 * one piece or one octet at a time gives the same file and facts.
 * Returns true while the message wants more input, false once it has
 * ended (the lone "." line with dot_ends); later octets are ignored.
 * After a failure (a limit, a write error) it keeps returning true and
 * ignores what it is fed, so that the caller still reads to the end of
 * its input; the failure comes from intake_end(). */
bool intake_feed(struct intake *in, const void *p, size_t n);

/* End of input: complete the last line and the header section, write
 * the file out, and free in. Returns 0 with *m filled (the caller frees
 * it with message_free()), or -1 with r set and *m empty (fd -1):
 * RC_IOERR/RC_CANTCREAT for local failures, RC_DATAERR for a header that
 * cannot be parsed when collecting recipients or that is over a limit. */
int intake_end(struct intake *in, struct message *m, struct result *r);

/* Give up on the message (its input failed): free in and the file. When
 * intake had failed already, that failure is moved to r (when r is not
 * NULL), so that a failure set after this call does not hide the first
 * cause. in may be NULL. */
void intake_abort(struct intake *in, struct result *r);

/* Read all of in_fd into a new message: intake_begin(), intake_feed()
 * for every INTAKE_BLOCK_SIZE read, intake_end(). Returns 0, or -1 with r
 * set as intake_end() does, or RC_IOERR when reading fails (unless
 * intake had failed before). Always reads to the end of input (or the
 * lone "." on a tty) even when it fails earlier. */
int intake_read(int in_fd, const struct intake_opts *o, struct message *m, struct result *r);

/* Read in_fd to its end and throw it away, unless it is a terminal
 * (doc/ARCHITECTURE.md, contract 7: a caller that fails before reading
 * the message still takes the whole input, so that the writer never dies
 * of SIGPIPE and learns of the failure from the exit status). */
void intake_drain(int in_fd);

/* Format an RFC 5322 date for now (or for t) in local time, with English
 * day and month names whatever the locale; caller frees. */
char *intake_date_now(void);
char *intake_date(time_t t);

#endif
