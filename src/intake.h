/*
 * intake.h - reading the message from standard input into a private
 * temporary file, in canonical form, before any connection is made.
 *
 * Canonical form (doc/architecture.md contract 3): every line ends in CRLF (bare
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
#include "address.h"
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
    const char *tmpdir;       /* where the temporary file lives; NULL = $TMPDIR or /tmp */
    size_t field_max;         /* octets of one header field; 0 = 1 MiB (tests set less) */
    size_t header_max;        /* octets of the header section; 0 = 16 MiB (tests set less) */
};

struct message {
    int fd;                   /* unlinked private temporary file (0600), canonical */
    long long size;           /* bytes in the file */
    bool has_8bit;            /* a byte >= 0x80 anywhere */
    bool has_from, has_date, has_msgid;  /* as found in the input */
    size_t nul_dropped;       /* NUL bytes removed */
    size_t longest_line;      /* longest line in octets, without CRLF */
    struct addr_list rcpts;   /* -t recipients (Bcc ones included) */
    char *from_header;        /* first mailbox of the From: header, or NULL */
    char *sender_header;      /* first mailbox of Sender:, or NULL */
    long long offset;         /* where the message starts in fd (0 for intake;
                                 a queue entry's body_offset for a flush) */
};

/* Read all of in_fd into a new message. Returns 0, or -1 with r set:
 * RC_IOERR/RC_CANTCREAT for local failures, RC_DATAERR for a header that
 * cannot be parsed when collecting recipients or that is over a limit. Always reads to the end
 * of input (or the lone "." on a tty) even when it fails later. */
int intake_read(int in_fd, const struct intake_opts *o, struct message *m, struct result *r);

/* Where intake_read_from() gets its input: up to size octets into buf;
 * returns how many, 0 at the end of input, or -1 with errno set. */
typedef ssize_t (*intake_reader)(void *ctx, void *buf, size_t size);

/* intake_read() with the input from rd(ctx, ...) instead of a file
 * descriptor; each call's size is the caller's choice (tests and the
 * fuzz target feed odd-sized pieces through it). */
int intake_read_from(intake_reader rd, void *ctx, const struct intake_opts *o,
                     struct message *m, struct result *r);

/* Close the file and free everything. */
void intake_free(struct message *m);

/* Format an RFC 5322 date for now (or for t) in local time, with English
 * day and month names whatever the locale; caller frees. */
char *intake_date_now(void);
char *intake_date(time_t t);

#endif
