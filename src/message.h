/*
 * message.h - a message ready to send: the canonical message file and
 * what is known about it (size, 8-bit and line facts, header facts).
 *
 * intake.[ch] makes one from a byte stream (standard input, or an SMTP
 * DATA/BDAT stream); queue.c and flush.c make one from a spool entry;
 * deliver, bounce and queue only read it. This header holds the struct,
 * its release and the one rule of what starts a header field (shared by
 * intake, which decides where the header section ends, and convert,
 * which must read the same fields), and nothing else, so that a module
 * that only needs the message does not depend on how it was read.
 */
#ifndef SMTPFWD_MESSAGE_H
#define SMTPFWD_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include "address.h"

struct message {
    int fd;                   /* unlinked private temporary file (0600), canonical */
    long long size;           /* bytes in the file */
    bool has_8bit;            /* a byte >= 0x80 anywhere */
    bool has_from, has_date, has_msgid;  /* as found in the input */
    size_t nul_dropped;       /* NUL bytes removed */
    size_t longest_line;      /* longest line in octets, without CRLF; SIZE_MAX
                                 when unknown (a spool entry that does not say) */
    bool force_7bit;          /* -B 7BIT: sent as 7-bit ASCII whatever the server
                                 offers (convert.h) */
    struct addr_list rcpts;   /* -t recipients (Bcc ones included) */
    char *from_header;        /* first mailbox of the From: header, or NULL */
    char *sender_header;      /* first mailbox of Sender:, or NULL */
    long long offset;         /* where the message starts in fd (0 for intake;
                                 a queue entry's body_offset for a flush) */
};

/* Close the file (when fd >= 0) and free what m owns; m is left empty
 * with fd -1, so that a second call does nothing. m may be NULL. */
void message_free(struct message *m);

/* The length of the field name when s[0..n) starts a header field:
 * printable ASCII without blanks up to the colon, blanks before the
 * colon tolerated (RFC 5322 obs-optional); else 0. */
size_t message_field_name_len(const char *s, size_t n);

#endif
