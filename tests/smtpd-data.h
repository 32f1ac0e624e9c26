/*
 * smtpd-data.h - for tests/smtpd-script.c (the `check-data` directive):
 * what a strict server checks in one transaction's message data against
 * what the client declared (BODY=8BITMIME, SMTPUTF8) and what the EHLO
 * reply offered. It only reports what it finds, as event lines; judging
 * them is the case's (<expect-events>). Pure: no I/O.
 */
#ifndef SMTPFWD_TESTS_SMTPD_DATA_H
#define SMTPFWD_TESTS_SMTPD_DATA_H

#include <stdbool.h>
#include <stddef.h>

struct data_check {
    bool offered_8bitmime;    /* the EHLO reply listed 8BITMIME */
    bool offered_smtputf8;    /* ... SMTPUTF8 */
    bool body_8bitmime;       /* MAIL had BODY=8BITMIME */
    bool smtputf8;            /* MAIL had SMTPUTF8 */
    bool envelope_8bit;       /* an octet >= 0x80 in MAIL or RCPT */
    char *msg;                /* the message as sent, dot-stuffing undone */
    size_t len, cap;
    bool mid_line;            /* the stuffed data so far does not end in LF */
};

/* Called with each event found (one line, no line end). */
typedef void (*data_check_event)(const char *text);

/* The EHLO (or LHLO) reply that was sent (n octets). */
void data_check_ehlo(struct data_check *c, const char *reply, size_t n);

/* A MAIL command line (n octets, no line end): a new transaction. Events
 * for a parameter that was not offered: "MAIL: BODY=8BITMIME not
 * offered", "MAIL: SMTPUTF8 not offered". */
void data_check_mail(struct data_check *c, const char *line, size_t n, data_check_event ev);

/* A RCPT command line. */
void data_check_rcpt(struct data_check *c, const char *line, size_t n);

/* Message data as it arrives: dot-stuffed (DATA, without the final
 * ".\r\n") or as it is (BDAT chunks). */
void data_check_feed(struct data_check *c, const char *p, size_t n, bool stuffed);

/* The end of the message: the checks (README, `check-data`), then the
 * transaction is forgotten. Events, in this order:
 *   "DATA: 8-bit data without BODY=8BITMIME"
 *   "DATA: BODY=8BITMIME for 7-bit data"
 *   "DATA: 8-bit header field without SMTPUTF8"
 *   "DATA: header section not valid UTF-8"        (with SMTPUTF8)
 *   "DATA: SMTPUTF8 for an ASCII envelope and header"
 *   "DATA: line over 998 octets"                  (the message's line,
 *                                                  CRLF and stuffing not counted) */
void data_check_end(struct data_check *c, data_check_event ev);

/* Forget the transaction (RSET). */
void data_check_reset(struct data_check *c);

void data_check_free(struct data_check *c);

#endif
